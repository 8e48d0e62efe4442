"""`tools/benchmark.py realvideo`: our model, OpenCV trackers and a static box on an OTB-layout folder, scored by
our evaluator (issue 16 §7)."""
import importlib.util
import json
import os

import numpy as np
import pytest

from siamcorners.benchmarks.evaluation import evaluate_tracker
from siamcorners.benchmarks.otb import read_otb
from siamcorners.benchmarks.results import layout_for, write_result
from siamcorners.data.synthetic import write_otb_dataset
from siamcorners.engine.profiling.realvideo import OpenCVTracker, opencv_tracker_factories

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("benchmark_tool", os.path.join(ROOT, "tools", "benchmark.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def otb_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("real") / "otb")
    write_otb_dataset(root, 2, seed=5, num_frames=10, image_size=(120, 160))
    return root


class _FakeCV:
    """Records what OpenCV was given and answers ``update`` from a script of (ok, rect)."""

    def __init__(self, answers):
        self.answers, self.given = list(answers), None

    def init(self, frame, rect):
        self.given = rect

    def update(self, frame):
        return self.answers.pop(0)


def test_opencv_trackers_get_the_box_zero_based_and_keep_the_last_box_when_lost():
    fake = _FakeCV([(True, (20, 30, 11, 9)), (False, (0, 0, 0, 0)), (True, (22, 31, 12, 9))])
    t = OpenCVTracker(lambda: fake)
    frame = np.zeros((60, 80, 3), np.uint8)
    t.init(frame, [10.4, 20.6, 15.2, 8.0])
    assert fake.given == (9, 20, 15, 8)            # 1-based OTB box shifted by -1 px, integer rectangle
    assert t.track(frame)["bbox"] == [21.0, 31.0, 11.0, 9.0]   # output shifted back by +1 px
    lost = t.track(frame)
    assert lost["bbox"] == [21.0, 31.0, 11.0, 9.0] and lost["score"] == 0.0  # lost target: last box kept
    assert t.track(frame)["bbox"] == [23.0, 32.0, 12.0, 9.0]


def test_mil_is_found_in_opencv_python_and_contrib_trackers_when_present(monkeypatch):
    import cv2

    assert "OpenCV MIL" in opencv_tracker_factories()
    monkeypatch.setattr(cv2, "TrackerCSRT_create", lambda: "csrt", raising=False)  # as opencv-contrib provides it
    found = opencv_tracker_factories()
    assert list(found)[:2] == ["OpenCV MIL", "OpenCV CSRT"] and found["OpenCV CSRT"]() == "csrt"


def test_realvideo_subcommand_scores_every_tracker_with_our_evaluator(tool, otb_folder, tmp_path, capsys):
    md, js = str(tmp_path / "bench.md"), str(tmp_path / "rv.json")
    rc = tool.main(["realvideo", "--dataset-root", otb_folder, "--threads", "1", "--out", md, "--json-out", js])
    assert rc == 0
    with open(js) as f:
        r = json.load(f)
    names = [row["tracker"] for row in r["rows"]]
    assert names[0] == "static box" and "OpenCV MIL" in names and names[-1] == "SiamCorners"
    assert r["videos"] == ["synthetic_0001", "synthetic_0002"] and r["frames"] == [10, 10]
    for row in r["rows"]:
        assert 0.0 <= row["success_auc"] <= 1.0 and 0.0 <= row["precision"] <= 1.0 and row["frames"] == 20
        assert row["fps"] > 0 and set(row["per_video"]) == set(r["videos"])
        assert all(v["fps"] > 0 and v["frame_size"] == [160, 120] for v in row["per_video"].values())
    # the static box scored here equals tools/eval.py's score of the same boxes written as result files
    dataset = read_otb(otb_folder)
    tracker_dir = str(tmp_path / "results" / "static")
    for seq in dataset:
        boxes = np.repeat(seq.gt[:1], len(seq), axis=0)
        write_result(layout_for("otb"), tracker_dir, seq.name, boxes, np.zeros(len(seq)))
    expected = evaluate_tracker(dataset, tracker_dir).scores
    assert r["rows"][0]["success_auc"] == pytest.approx(expected["success_auc"], abs=1e-12)
    assert r["rows"][0]["precision"] == pytest.approx(expected["precision"], abs=1e-12)
    mil = r["rows"][names.index("OpenCV MIL")]
    assert mil["success_auc"] > r["rows"][0]["success_auc"]  # MIL follows the moving synthetic target
    text = open(md).read()
    assert "## Real video" in text and "| OpenCV MIL |" in text and "| synthetic_0002 | 10 |" in text
    assert "| static box |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--dataset-root", "{missing}"], "dataset root not found"),
    (["--dataset-root", "{otb}", "--trackers", "static,CSRTX"], "'CSRTX' is not available here"),
    (["--dataset-root", "{otb}", "--videos", "nope"], "unknown video(s) nope"),
    (["--dataset-root", "{otb}", "--cfg", os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic",
                                                       "config.yaml")], "--snapshot"),
    (["--dataset-root", "{otb}", "--snapshot", "{missing}"], "checkpoint file not found"),
    (["--dataset-root", "{otb}", "--also", "tiny"], "expected LABEL=EXPERIMENT_FOLDER"),
    (["--dataset-root", "{otb}", "--also", "tiny={missing}"], "missing: "),
])
def test_realvideo_bad_input_is_one_line(tool, otb_folder, tmp_path, capsys, args, message):
    args = [a.format(missing=str(tmp_path / "none"), otb=otb_folder) for a in args]
    assert tool.main(["realvideo"] + args) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err[-1].startswith("error:") and message in err[-1] and "Traceback" not in "".join(err)
    assert "success AUC" not in captured.out  # refused before any tracker ran


def test_other_models_get_their_own_rows_with_their_own_config(tool, otb_folder, tmp_path):
    js = str(tmp_path / "rv.json")
    tiny = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
    rc = tool.main(["realvideo", "--dataset-root", otb_folder, "--threads", "1", "--trackers", "static,tiny,ours",
                    "--also", f"tiny={tiny}", "--json-out", js, "--opts", "TRACK.WINDOW_INFLUENCE", "0.9"])
    assert rc == 0
    r = json.load(open(js))
    assert [row["tracker"] for row in r["rows"]] == ["static box", "tiny", "SiamCorners"]
    assert r["others"] == [["tiny", os.path.join("experiments", "siamcorners_tiny_synthetic", "config.yaml"),
                            os.path.join("experiments", "siamcorners_tiny_synthetic", "model.pth")]]
    # the default model is the real-video CPU model; the tiny model is another network: other boxes
    assert r["cfg"] == os.path.join("experiments", "siamcorners_cpu", "config.yaml")
    assert r["rows"][1]["per_video"] != r["rows"][2]["per_video"]
