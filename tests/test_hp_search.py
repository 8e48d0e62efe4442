"""tools/hp_search.py: search space parsing and validation, tracker names, random draws, ranking on synthetic
data with the shipped tiny model, resuming and sharding, the hp_search.json schema."""
import itertools
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from siamcorners.benchmarks import load_dataset
from siamcorners.benchmarks.evaluation import evaluate_tracker
from siamcorners.benchmarks.results import read_result
from siamcorners.config import ConfigError, get_default_config, load_config
from siamcorners.data.synthetic import write_otb_dataset
from siamcorners.engine.hp_search import (build_space, parse_search, select_settings, short_keys,
                                          tracker_name)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")


def _space(specs):
    return build_space(get_default_config(), parse_search(specs))


def test_parse_search_values_and_lists():
    space = parse_search(["TRACK.PENALTY_K=0.02,0.04", "MODEL.LEVELS=[3,4],[4]", "TRACK.PENALTY_FORM=siamrpn"])
    assert space == {"TRACK.PENALTY_K": ["0.02", "0.04"], "MODEL.LEVELS": ["[3,4]", "[4]"],
                     "TRACK.PENALTY_FORM": ["siamrpn"]}
    built = _space(["TRACK.PENALTY_K=1,0.5", "MODEL.LEVELS=[3,4],[4]"])
    # values as the config holds them: an int given for a float key becomes a float
    assert [v for v, _ in built["TRACK.PENALTY_K"]] == [1.0, 0.5]
    assert isinstance(built["TRACK.PENALTY_K"][0][0], float)
    assert [v for v, _ in built["MODEL.LEVELS"]] == [[3, 4], [4]]


@pytest.mark.parametrize("spec, words", [
    ("TRACK.PENALTY=0.1", ["TRACK.PENALTY", "PENALTY_K"]),      # unknown key, with a suggestion
    ("TRAK.LR=0.1", ["TRAK.LR", "TRACK"]),
    ("TRACK=0.1", ["'TRACK'", "section"]),                       # a section, not a value
    ("TRACK.PENALTY_K=abc", ["TRACK.PENALTY_K", "float"]),       # wrong type
    ("TRACK.PENALTY_FORM=siamrpn,exp", ["TRACK.PENALTY_FORM", "exp"]),  # not one of the choices
    ("TRACK.PENALTY_K", ["KEY=v1,v2"]),                          # no values
    ("TRACK.PENALTY_K=0.1,,0.2", ["empty value"]),
    ("TRACK.PENALTY_K=0.1,0.10", ["mean the same"]),
])
def test_bad_search_specs_name_the_key(spec, words):
    with pytest.raises(ConfigError) as e:
        _space([spec])
    for w in words:
        assert w in str(e.value)


def test_short_keys_and_safe_names():
    assert short_keys(["TRACK.LR", "TRACK.PENALTY_K"]) == {"TRACK.LR": "LR", "TRACK.PENALTY_K": "PENALTY_K"}
    assert short_keys(["TRACK.TEMPLATE_FILL_VALUE", "DATASET.TEMPLATE_FILL_VALUE"]) == {
        "TRACK.TEMPLATE_FILL_VALUE": "TRACK.TEMPLATE_FILL_VALUE",
        "DATASET.TEMPLATE_FILL_VALUE": "DATASET.TEMPLATE_FILL_VALUE"}
    assert tracker_name({"TRACK.PENALTY_K": 0.04, "TRACK.LR": 0.3}) == "PENALTY_K=0.04+LR=0.3"
    assert tracker_name({"MODEL.LEVELS": [3, 4], "MODEL.HEAD.OFFSETS": False}) == "LEVELS=3-4+OFFSETS=false"
    name = tracker_name({"OUTPUT_DIR": "a b/c:d,e"})
    assert name == "OUTPUT_DIR=a_b_c_d_e"
    long = tracker_name({"OUTPUT_DIR": "x" * 300})
    assert len(long) <= 120 and long != tracker_name({"OUTPUT_DIR": "x" * 299})
    # two values that sanitise to the same text still get distinct folders
    settings = select_settings(_space(["OUTPUT_DIR=a/b,a:b"]))
    assert len({s.name for s in settings}) == 2
    assert all(set(s.name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=+-")
               for s in settings)


def test_grid_order_and_random_draws_are_reproducible():
    space = _space(["TRACK.PENALTY_K=0.01,0.02,0.03", "TRACK.LR=0.1,0.2,0.3", "TRACK.WINDOW_INFLUENCE=0.1,0.2"])
    grid = select_settings(space)
    assert [tuple(s.params.values()) for s in grid] == list(itertools.product(
        [0.01, 0.02, 0.03], [0.1, 0.2, 0.3], [0.1, 0.2]))
    assert grid[0].opts == ["TRACK.PENALTY_K", "0.01", "TRACK.LR", "0.1", "TRACK.WINDOW_INFLUENCE", "0.1"]
    names = [s.name for s in grid]
    a = [s.name for s in select_settings(space, random_n=5, seed=0)]
    assert a == [s.name for s in select_settings(space, random_n=5, seed=0)]     # same seed, same draw
    assert len(set(a)) == 5 and set(a) <= set(names)                            # distinct grid points
    assert a == sorted(a, key=names.index)                                      # kept in grid order
    assert a != [s.name for s in select_settings(space, random_n=5, seed=1)]    # another seed, another draw
    assert [s.name for s in select_settings(space, random_n=100)] == names      # N >= grid: the whole grid
    with pytest.raises(ConfigError, match="--random"):
        select_settings(space, random_n=0)


# ------------------------------------------------------------------------------------ end to end
SEARCH = ["TRACK.PENALTY_K=0.0,0.5", "TRACK.WINDOW_INFLUENCE=0.011,0.9"]


@pytest.fixture
def synthetic_root(tmp_path):
    root = str(tmp_path / "syn")
    write_otb_dataset(root, 2, seed=5, num_frames=8, image_size=(120, 160))
    return root


def _run(capsys, root, out, *extra):
    from siamcorners.cli.hp_search import main

    torch.set_num_threads(1)
    rc = main(["--cfg", os.path.join(TINY, "config.yaml"), "--snapshot", os.path.join(TINY, "model.pth"),
               "--dataset", "synthetic", "--dataset-root", root, "--out", out, "--no-progress",
               "--search", *SEARCH, *extra])
    return rc, capsys.readouterr()


def _mtimes(folder):
    return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
            for d, _, files in os.walk(folder) for f in files if f.endswith(".txt")}


@pytest.mark.slow
def test_search_ranks_grid_resumes_and_shards(tmp_path, synthetic_root, capsys):
    out = str(tmp_path / "hp")
    results = os.path.join(out, "results", "synthetic")
    # shard 0/2 tracks settings 0 and 2 of the grid and ranks what is complete
    rc, cap = _run(capsys, synthetic_root, out, "--shard", "0/2")
    assert rc == 0, cap.err
    first = json.load(open(os.path.join(out, "hp_search.json")))
    assert sorted(r["tracker"] for r in first) == ["PENALTY_K=0.0+WINDOW_INFLUENCE=0.011",
                                                   "PENALTY_K=0.5+WINDOW_INFLUENCE=0.011"]
    assert "2 of 4 settings not complete" in cap.out
    rc, cap = _run(capsys, synthetic_root, out, "--shard", "1/2")
    assert rc == 0, cap.err
    before = _mtimes(results)
    assert len(before) == 4 * 2 * 2  # 4 settings x 2 videos x (boxes + times)

    # a full run finds every setting done: nothing is tracked again
    rc, cap = _run(capsys, synthetic_root, out)
    assert rc == 0, cap.err
    assert cap.out.count("done earlier") == 4
    assert _mtimes(results) == before

    data = json.load(open(os.path.join(out, "hp_search.json")))
    assert len(data) == 4
    assert {tuple(sorted(r["params"].items())) for r in data} == {
        (("TRACK.PENALTY_K", pk), ("TRACK.WINDOW_INFLUENCE", wi)) for pk in (0.0, 0.5) for wi in (0.011, 0.9)}
    for r in data:
        assert set(r) == {"params", "tracker", "success_auc", "precision", "norm_precision"}
        for k in ("success_auc", "precision", "norm_precision"):
            assert isinstance(r[k], float) and 0.0 <= r[k] <= 1.0
    aucs = [r["success_auc"] for r in data]
    assert aucs == sorted(aucs, reverse=True)
    # scored with our evaluator on each setting's results folder
    dataset = load_dataset("synthetic", synthetic_root)
    for r in data:
        ev = evaluate_tracker(dataset, os.path.join(results, r["tracker"]))
        assert r["success_auc"] == ev.scores["success_auc"] and r["precision"] == ev.scores["precision"]
    # each setting really ran with its values: resolved config beside it, and different boxes
    for r in data:
        cfg = load_config(os.path.join(results, r["tracker"] + ".config.yaml"))
        assert cfg.TRACK.PENALTY_K == r["params"]["TRACK.PENALTY_K"]
        assert cfg.TRACK.WINDOW_INFLUENCE == r["params"]["TRACK.WINDOW_INFLUENCE"]
    boxes = {r["tracker"]: read_result(os.path.join(results, r["tracker"], "synthetic_0001.txt")) for r in data}
    assert not np.allclose(boxes["PENALTY_K=0.0+WINDOW_INFLUENCE=0.011"], boxes["PENALTY_K=0.0+WINDOW_INFLUENCE=0.9"])
    # the printed table lists the settings in the JSON's order
    rows = [line for line in cap.out.splitlines() if line.startswith("| ") and not line.startswith("| Rank")]
    assert [row.split("|")[2].strip() + "/" + row.split("|")[3].strip() for row in rows] == [
        f"{r['params']['TRACK.PENALTY_K']}/{r['params']['TRACK.WINDOW_INFLUENCE']}" for r in data]

    # an interrupted setting (one video missing) resumes with just that video
    victim = os.path.join(results, data[-1]["tracker"], "synthetic_0002.txt")
    os.remove(victim)
    rc, cap = _run(capsys, synthetic_root, out)
    assert rc == 0, cap.err
    assert cap.out.count("done earlier") == 3 and "1 of 2 videos already done" in cap.out
    after = _mtimes(results)
    redone = {k for k in before if k.startswith(os.path.dirname(victim)) and "synthetic_0002" in k}
    assert len(redone) == 2 and all(after[k] != before[k] for k in redone)  # boxes and times rewritten
    assert {k: v for k, v in after.items() if k not in redone} == {k: v for k, v in before.items() if k not in redone}
    assert json.load(open(os.path.join(out, "hp_search.json"))) == data


def test_cli_errors_are_one_line(tmp_path, synthetic_root, capsys):
    from siamcorners.cli.hp_search import main

    base = ["--cfg", os.path.join(TINY, "config.yaml"), "--snapshot", os.path.join(TINY, "model.pth"),
            "--dataset", "synthetic", "--dataset-root", synthetic_root, "--out", str(tmp_path / "hp"), "--no-progress"]
    assert main(base + ["--search", "TRACK.PENALTY=0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "TRACK.PENALTY" in err and err.count("\n") == 1
    assert main(base + ["--search", "TRACK.LR=0.1", "--shard", "2/2"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(base[:2] + ["--snapshot", str(tmp_path / "none.pth")] + base[4:] + ["--search", "TRACK.LR=0.1"]) == 2
    assert "snapshot not found" in capsys.readouterr().err
    # a searched model key the snapshot does not fit: the checkpoint error, in one line
    assert main(base + ["--search", "MODEL.HEAD.POOL_CHANNELS=8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "model.pth" in err and err.count("\n") == 1
    assert not os.path.exists(tmp_path / "hp" / "hp_search.json")


@pytest.mark.slow
def test_workers_that_cannot_build_their_trackers_stop_the_search_with_one_line(tmp_path, synthetic_root):
    """Every worker fails (here: an ONNX export folder that does not exist); the search stops in seconds with one
    line instead of waiting forever for a worker (a real multi-process run, killed if it hangs)."""
    missing = str(tmp_path / "no_export")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "hp_search.py"), "--cfg", os.path.join(TINY, "config.yaml"),
           "--snapshot", os.path.join(TINY, "model.pth"), "--dataset", "synthetic", "--dataset-root", synthetic_root,
           "--out", str(tmp_path / "hp"), "--no-progress", "--search", "TRACK.PENALTY_K=0.04", "--workers", "2",
           "--opts", "INFERENCE.BACKEND", "onnxruntime", "INFERENCE.ONNX_DIR", missing]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("tools/hp_search.py --workers 2 still running after 300 s: it hangs")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(r"worker [12] of 2 \(device cpu\) could not build its tracker: ExportError: ", err), err
    assert f"{missing}: not an ONNX export folder" in err and "0 of 2 videos have finished result files" in err
    assert not os.path.exists(tmp_path / "hp" / "hp_search.json")


def test_ranking_table_and_json_on_got10k_scores():
    from siamcorners.engine.hp_search import SearchResult, format_ranking, rank_results, results_to_json

    space = _space(["TRACK.LR=0.3,0.4"])
    a, b = select_settings(space)
    got = {"success_auc": 0.5, "precision": None, "norm_precision": None, "ao": 0.5, "sr50": 0.6, "sr75": 0.2}
    ranked = rank_results([SearchResult(a, got), SearchResult(b, {**got, "success_auc": 0.7, "ao": 0.7})])
    assert [r.setting.name for r in ranked] == ["LR=0.4", "LR=0.3"]
    table = format_ranking(ranked, ["TRACK.LR"]).splitlines()
    assert table[1].split("|")[1:-1] == [" Rank ", " LR  ", " AO    ", " SR0.5 ", " SR0.75 "]
    assert table[3].replace(" ", "") == "|1|0.4|0.700|0.600|0.200|"
    data = results_to_json(ranked)
    assert data[0] == {"params": {"TRACK.LR": 0.4}, "tracker": "LR=0.4", "success_auc": 0.7, "precision": None,
                       "norm_precision": None, "ao": 0.7, "sr50": 0.6, "sr75": 0.2}
