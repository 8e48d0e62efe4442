"""tools/eval.py, the Benchmark API and tools/benchmark.py: exact scores, ranking, JSON schema, reports,
plots, length-mismatch policy, the got10k protocol against the got10k toolkit's own report code,
and the real OTB sequence Dudek end to end (tools/test.py -> tools/eval.py)."""
import csv
import importlib.util
import json
import os

import numpy as np
import pytest

from siamcorners.benchmarks import Benchmark, load_dataset
from siamcorners.benchmarks import metrics as M
from siamcorners.benchmarks.results import layout_for, write_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(name):
    if name in ("train", "test", "eval", "demo"):  # programs that live in siamcorners/cli/
        return importlib.import_module(f"siamcorners.cli.{name}")
    spec = importlib.util.spec_from_file_location(f"tool_{name}", os.path.join(ROOT, "tools", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _gt(n, x0=10.0):
    return np.array([[x0 + i, 20.0 + i, 30.0, 40.0] for i in range(n)])


@pytest.fixture
def otb_json(tmp_path):
    """An OTB100.json with three videos and attributes, plus three trackers' results."""
    gts = {"Basketball": _gt(8), "Biker": _gt(5, 50.0), "Car": _gt(6, 5.0)}
    gts["Car"][2] = np.nan
    attrs = {"Basketball": ["IV", "OCC"], "Biker": ["OCC"], "Car": ["FM"]}
    meta = {v: {"video_dir": v, "init_rect": g[0].tolist(),
                "img_names": [f"{v}/img/{i:04d}.jpg" for i in range(len(g))],
                "gt_rect": [r.tolist() for r in g], "attr": attrs[v]} for v, g in gts.items()}
    data = tmp_path / "data"
    data.mkdir()
    (data / "OTB100.json").write_text(json.dumps(meta))
    results = tmp_path / "results" / "OTB100"
    rng = np.random.default_rng(0)
    preds = {"perfect": {}, "noisy": {}, "lost": {}}
    for v, g in gts.items():
        clean = np.where(np.isnan(g), 1.0, g)
        preds["perfect"][v] = clean
        preds["noisy"][v] = clean + rng.normal(0, 4, g.shape)
        lost = clean + [25.0, 0.0, 0.0, 0.0]
        lost[1] = np.nan
        preds["lost"][v] = lost
    for t, per in preds.items():
        for v, p in per.items():
            write_result(layout_for("otb"), str(results / t), v, p)
    return str(data), str(tmp_path / "results"), gts, preds


def test_eval_tool_scores_ranking_json_and_reports(otb_json, tmp_path, capsys):
    data, results, gts, preds = otb_json
    report = str(tmp_path / "report")
    js = str(tmp_path / "scores.json")
    rc = _tool("eval").main(["--dataset", "OTB100", "--dataset-root", data, "--results", results,
                             "--report-dir", report, "--json", js])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.index("perfect") < out.index("noisy") < out.index("lost")
    with open(js) as f:
        scores = json.load(f)
    assert list(scores) == ["perfect", "noisy", "lost"]
    names = list(gts)
    for t in scores:
        expected = M.pysot_scores(M.pysot_curves([gts[v] for v in names], [preds[t][v] for v in names]))
        entry = scores[t]
        assert set(entry) == {"success_auc", "precision", "norm_precision", "per_video", "per_attribute"}
        for k in ("success_auc", "precision", "norm_precision"):
            assert entry[k] == expected[k]                      # full precision through JSON
        assert set(entry["per_video"]) == set(names)
        assert set(entry["per_attribute"]) == {"IV", "OCC", "FM"}
        assert entry["per_attribute"]["OCC"]["num_videos"] == 2
        occ = M.pysot_scores(M.pysot_curves([gts[v] for v in ("Basketball", "Biker")],
                                            [preds[t][v] for v in ("Basketball", "Biker")]))
        assert entry["per_attribute"]["OCC"]["success_auc"] == occ["success_auc"]
    # the perfect tracker: 20/21 on the valid frames, the NaN gt row fails success and hits precision
    car = scores["perfect"]["per_video"]["Car"]
    assert car["success_auc"] == pytest.approx(20 / 21 * 5 / 6, abs=1e-15) and car["precision"] == 1.0
    with open(os.path.join(report, "results.json")) as f:
        assert json.load(f) == scores
    with open(os.path.join(report, "results.csv")) as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["tracker", "scope", "num_videos"] and rows[1][:2] == ["perfect", "ALL"]
    assert float(rows[1][3]) == scores["perfect"]["success_auc"]
    md = open(os.path.join(report, "results.md")).read()
    assert f"| 1 | perfect | {scores['perfect']['success_auc']:.3f} |" in md
    plots = os.listdir(os.path.join(report, "plots"))
    for stem in ("success_ALL", "precision_ALL", "norm_precision_ALL", "success_OCC", "precision_FM"):
        assert f"{stem}.png" in plots and f"{stem}.pdf" in plots


def test_tracker_subset_and_benchmark_api(otb_json):
    data, results, gts, _ = otb_json
    bench = Benchmark("OTB100", data, results)
    assert bench.trackers() == ["lost", "noisy", "perfect"]
    evals = bench.evaluate(["noisy", "lost"])
    assert [e.tracker for e in evals] == ["noisy", "lost"]
    assert "Success" in bench.table(evals) and set(bench.to_json(evals)) == {"noisy", "lost"}


def test_length_mismatch_is_an_error_unless_truncating(otb_json, tmp_path, capsys):
    data, results, gts, preds = otb_json
    path = os.path.join(results, "OTB100", "noisy", "Biker.txt")
    with open(path, "a") as f:
        f.write("1,2,3,4\n")
    args = ["--dataset", "OTB100", "--dataset-root", data, "--results", results, "--trackers", "noisy",
            "--report-dir", str(tmp_path / "r"), "--no-plots", "--json", str(tmp_path / "s.json")]
    assert _tool("eval").main(args) == 2
    assert "Biker.txt: 6 result rows but the ground truth of Biker has 5" in capsys.readouterr().err
    assert _tool("eval").main(args + ["--on-mismatch", "truncate"]) == 0
    with open(tmp_path / "s.json") as f:
        biker = json.load(f)["noisy"]["per_video"]["Biker"]
    one = M.pysot_scores(M.pysot_curves([gts["Biker"]], [preds["noisy"]["Biker"]]))
    assert biker["success_auc"] == one["success_auc"]


def test_missing_result_file_and_server_only_datasets(otb_json, tmp_path, capsys):
    data, results, _, _ = otb_json
    os.remove(os.path.join(results, "OTB100", "lost", "Car.txt"))
    rc = _tool("eval").main(["--dataset", "OTB100", "--dataset-root", data, "--results", results,
                             "--report-dir", str(tmp_path / "r"), "--no-plots"])
    assert rc == 2 and "Car.txt: result file missing" in capsys.readouterr().err
    tn = tmp_path / "TrackingNet" / "TEST"
    os.makedirs(tn / "anno")
    (tn / "anno" / "a.txt").write_text("1,2,3,4\n")
    rc = _tool("eval").main(["--dataset", "TrackingNet", "--dataset-root", str(tmp_path / "TrackingNet"),
                             "--results", results, "--no-plots"])
    assert rc == 2 and "evaluation server" in capsys.readouterr().err


def test_lasot_absent_frames_count_as_failures(tmp_path):
    gt = _gt(4)
    meta = {"cat-1": {"video_dir": "cat/cat-1", "init_rect": gt[0].tolist(),
                      "img_names": [f"cat/cat-1/img/{i:08d}.jpg" for i in range(1, 5)],
                      "gt_rect": gt.tolist(), "absent": [1, 1, 0, 1]}}
    (tmp_path / "LaSOT.json").write_text(json.dumps(meta))
    write_result(layout_for("lasot"), str(tmp_path / "res" / "perfect"), "cat-1", gt)
    e = Benchmark("LaSOT", str(tmp_path), str(tmp_path / "res")).evaluate()[0]
    assert e.scores["success_auc"] == pytest.approx(20 / 21 * 3 / 4, abs=1e-15)
    assert e.scores["precision"] == 0.75 and e.scores["norm_precision"] == 0.75
    # monkey-17: a longer result is cut to the ground truth (pysot-toolkit / LaSOT toolkit rule)
    meta["monkey-17"] = dict(meta["cat-1"], absent=[1, 1, 1, 1])
    (tmp_path / "LaSOT.json").write_text(json.dumps(meta))
    write_result(layout_for("lasot"), str(tmp_path / "res" / "perfect"), "monkey-17", _gt(6))
    e = Benchmark("LaSOT", str(tmp_path), str(tmp_path / "res")).evaluate()[0]
    assert e.per_video["monkey-17"]["success_auc"] == pytest.approx(20 / 21, abs=1e-15)


class _FakeGot10kDataset(list):
    def __init__(self, items, names):
        super().__init__(items)
        self.seq_names = names


def test_got10k_protocol_equals_the_got10k_otb_report(otb_json, tmp_path):
    from got10k.experiments import ExperimentOTB

    data, results, gts, _ = otb_json
    gts = {v: np.where(np.isnan(g), 5.0, g) for v, g in gts.items()}   # got10k OTB has no NaN rule to compare
    names = list(gts)
    meta = json.loads(open(os.path.join(data, "OTB100.json")).read())
    for v in names:
        meta[v]["gt_rect"] = gts[v].tolist()
    (tmp_path / "OTB100.json").write_text(json.dumps(meta))
    exp = object.__new__(ExperimentOTB)
    exp.dataset = _FakeGot10kDataset([(None, gts[v]) for v in names], names)
    exp.result_dir = os.path.join(results, "OTB100")
    exp.report_dir = str(tmp_path / "got10k_reports")
    exp.nbins_iou, exp.nbins_ce = 21, 51
    exp.plot_curves = lambda tracker_names: None
    theirs = exp.report(["noisy", "lost"])
    ours = {e.tracker: e for e in Benchmark("OTB100", str(tmp_path), results).evaluate(
        ["noisy", "lost"], protocol="got10k")}
    for t in ("noisy", "lost"):
        assert ours[t].scores["success_auc"] == theirs[t]["overall"]["success_score"]
        assert ours[t].scores["precision"] == theirs[t]["overall"]["precision_score"]
        assert ours[t].scores["success_rate"] == theirs[t]["overall"]["success_rate"]


def test_got10k_val_ao_equals_the_got10k_report(tmp_path):
    from got10k.experiments import ExperimentGOT10k

    rng = np.random.default_rng(5)
    base = tmp_path / "GOT-10k" / "val"
    names = ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    items = []
    for k, name in enumerate(names):
        n = 10 + 5 * k
        gt = np.abs(rng.normal(100, 40, (n, 4))) + 10
        cover = rng.integers(0, 9, n)
        os.makedirs(base / name)
        (base / name / "groundtruth.txt").write_text("".join(",".join(repr(float(v)) for v in r) + "\n" for r in gt))
        (base / name / "cover.label").write_text("".join(f"{c}\n" for c in cover))
        (base / name / "meta_info.ini").write_text("[METAINFO]\nresolution: (160, 120)\n")
        write_result(layout_for("got10k"), str(tmp_path / "res" / "trk"), name, gt + rng.normal(0, 8, gt.shape),
                     np.full(n, 0.01))
        items.append((None, gt, {"cover": cover, "resolution": "(160, 120)"}))
    (base / "list.txt").write_text("\n".join(names) + "\n")
    ours = Benchmark("GOT-10k-val", str(tmp_path / "GOT-10k"), str(tmp_path / "res")).evaluate()[0]

    class ByName(_FakeGot10kDataset):
        def __getitem__(self, key):
            return list.__getitem__(self, names.index(key) if isinstance(key, str) else key)

    exp = object.__new__(ExperimentGOT10k)
    exp.dataset = ByName(items, names)
    exp.subset, exp.result_dir, exp.report_dir = "val", str(tmp_path / "res"), str(tmp_path / "rep")
    exp.plot_curves = lambda files, tracker_names: None
    theirs = exp.report(["trk"])["trk"]["overall"]
    assert ours.scores["ao"] == theirs["ao"] and ours.scores["sr50"] == theirs["sr"]
    assert np.array_equal(ours.curves["success"][0], theirs["succ_curve"])


def test_dudek_end_to_end_with_tools(shared_data_dir, tmp_path, monkeypatch, capsys):
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / "dudek_fake.py").write_text(
        "import numpy as np\n"
        "class Jitter:\n"
        "    def init(self, frame, box):\n"
        "        assert frame.shape[2] == 3\n"
        "        self.box, self.k = np.asarray(box, float), 0\n"
        "    def track(self, frame):\n"
        "        self.k += 1\n"
        "        off = [3.0 * (self.k % 3), -2.0 * (self.k % 2), 4.0, 0.0]\n"
        "        return {'bbox': (self.box + off).tolist(), 'score': 1.0}\n"
        "def make(device):\n"
        "    return Jitter()\n")
    monkeypatch.syspath_prepend(str(mod_dir))
    root = os.path.join(shared_data_dir, "otb_mini")
    out = str(tmp_path / "results")
    assert _tool("test").main(["--dataset", "OTB100", "--dataset-root", root, "--tracker-factory", "dudek_fake:make",
                               "--tracker-name", "jitter", "--out", out, "--no-progress"]) == 0
    report = str(tmp_path / "report")
    assert _tool("eval").main(["--dataset", "OTB100", "--dataset-root", root, "--results", out,
                               "--report-dir", report, "--json", str(tmp_path / "s.json")]) == 0
    assert "jitter" in capsys.readouterr().out
    seq = load_dataset("OTB100", root)["Dudek"]
    pred = np.loadtxt(os.path.join(out, "OTB100", "jitter", "Dudek.txt"), delimiter=",")
    # without --cfg a tracker starts from the pysot-toolkit init box (x, y + 0.5 px) and frame 0 holds that box
    assert pred.shape == (len(seq.gt), 4) and np.array_equal(pred[0], seq.gt[0] + [0.5, 0.5, 0, 0])
    expected = M.pysot_scores(M.pysot_curves([seq.gt], [pred]))
    with open(tmp_path / "s.json") as f:
        assert json.load(f)["jitter"]["success_auc"] == expected["success_auc"]
    for stem in ("success_ALL", "precision_ALL", "norm_precision_ALL"):
        assert os.path.getsize(os.path.join(report, "plots", f"{stem}.png")) > 1000


def test_benchmark_tool_eval_subcommand(capsys):
    assert _tool("benchmark").main(["eval", "--videos", "3", "--frames", "40", "--trackers", "2"]) == 0
    out = capsys.readouterr().out
    assert "evaluation of 2 trackers x 3 videos x 40 frames" in out
