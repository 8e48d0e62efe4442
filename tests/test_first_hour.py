"""The first hour from a fresh clone (issue 18 §8): test.py then eval.py with their defaults meet; eval finding
nothing says where test.py writes; ``quickstart.py --skip-train`` after a full run writes beside the trained
model's results and report, never over them."""
import importlib.util
import json
import os
import shutil

import pytest

from siamcorners.cli import eval as eval_cli
from siamcorners.cli import test as test_cli
from siamcorners.data.synthetic import write_otb_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A working directory laid out like the repository: experiments/<exp>/config.yaml, testing_dataset/<NAME>."""
    os.makedirs(tmp_path / "experiments" / "tiny")
    shutil.copy(os.path.join(TINY, "config.yaml"), tmp_path / "experiments" / "tiny" / "config.yaml")
    write_otb_dataset(str(tmp_path / "testing_dataset" / "synthetic"), 2, seed=4, num_frames=5, image_size=(120, 160))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_eval_with_its_defaults_scores_what_test_wrote_with_its_defaults(clone, capsys):
    """test.py wrote experiments/<exp>/results while eval.py looked only in ./results."""
    assert eval_cli.main(["--dataset", "synthetic", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "experiments/<exp>/results" in err and "--results" in err        # names where test.py writes
    assert test_cli.main(["--cfg", "experiments/tiny/config.yaml", "--snapshot", os.path.join(TINY, "model.pth"),
                          "--dataset", "synthetic", "--no-progress"]) == 0
    assert os.path.isdir(os.path.join("experiments", "tiny", "results", "synthetic", "model"))
    capsys.readouterr()
    assert eval_cli.main(["--dataset", "synthetic", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert f"results: {os.path.join('experiments', 'tiny', 'results', 'synthetic')}" in out
    assert "| model " in out
    # pysot's ./results wins when it exists, as before
    os.makedirs(os.path.join("results", "synthetic"))
    assert eval_cli.main(["--dataset", "synthetic", "--no-plots"]) == 2
    assert "results/synthetic: no tracker folders to evaluate" in capsys.readouterr().err


def test_eval_results_folder_not_found_says_where_test_writes(clone, capsys):
    assert eval_cli.main(["--dataset", "synthetic", "--no-plots", "--results", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "error: --results nowhere: results folder not found" in err and "cfg.OUTPUT_DIR" in err


def _quickstart():
    spec = importlib.util.spec_from_file_location("quickstart_tool", os.path.join(ROOT, "tools", "quickstart.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_quickstart_skip_train_writes_beside_the_trained_results(tmp_path, monkeypatch):
    """quickstart.py --skip-train after a full run deleted the trained model's results (40 files) and its report."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out, data = tmp_path / "run", str(tmp_path / "heldout")
    trained = out / "results" / "synthetic" / "siamcorners_tiny"
    os.makedirs(trained)
    (trained / "synthetic_0001.txt").write_text("1,2,3,4\n")            # stands for the trained model's results
    (out / "eval").mkdir()
    (out / "eval" / "eval.json").write_text('{"trained": 1}\n')
    before = {p: p.read_bytes() for p in (trained / "synthetic_0001.txt", out / "eval" / "eval.json")}
    qs = _quickstart()
    qs.main(["--skip-train", "--out", str(out), "--data", data, "--videos", "2"])
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(os.listdir(trained)) == ["synthetic_0001.txt"]
    shipped = out / "results" / "synthetic" / "siamcorners_tiny_shipped"
    assert sorted(f for f in os.listdir(shipped) if f.endswith(".txt")) == ["synthetic_0001.txt", "synthetic_0002.txt"]
    with open(out / "eval_shipped" / "eval.json") as f:
        assert set(json.load(f)) >= {"siamcorners_tiny_shipped", "static_box"}
    assert qs.tracker_and_report(False, "x.pth") == ("siamcorners_tiny", "eval")
    assert qs.tracker_and_report(True, "/w/other.pth") == ("siamcorners_tiny_other", "eval_other")
