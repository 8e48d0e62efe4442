"""The pysot comparison as a user runs both trackers (tools/benchmark.py speed --sections pysot, issue 18)."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from siamcorners.engine.profiling import pysot_speed
from siamcorners.engine.profiling.pysot_speed import PYSOT_NAME, pysot_comparison, pysot_markdown, user_run
from test_pysot_reference import FAKE as FAKE_PYSOT
from test_speed_benchmark import ROOT, TINY


class _Clocked:
    """A tracker whose track() takes the given seconds on a fake clock."""

    def __init__(self, clock, seconds):
        self.clock, self.seconds, self.calls = clock, list(seconds), 0

    def init(self, frame, box):
        self.clock.now += 100.0  # init is never timed

    def track(self, frame):
        self.clock.now += self.seconds[self.calls]
        self.calls += 1
        return {"bbox": [1.0, 2.0, 3.0, 4.0]}


class _Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_user_run_fps_is_timed_frames_over_their_time(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(pysot_speed.time, "perf_counter", clock)
    tracker = _Clocked(clock, [9.0, 9.0, 1.0, 2.0, 3.0])  # two warm-up frames, then 1 + 2 + 3 s
    r = user_run(tracker, [np.zeros((4, 4, 3), np.uint8)] * 6, [0, 0, 2, 2], warmup=2)
    assert r["fps"] == pytest.approx(3 / 6.0) and r["median_s"] == pytest.approx(2.0)
    assert r["boxes"].shape == (6, 4) and r["boxes"][0].tolist() == [0, 0, 2, 2]
    with pytest.raises(ValueError, match="at least 4 frames"):
        user_run(tracker, [np.zeros((4, 4, 3), np.uint8)] * 3, [0, 0, 2, 2], warmup=2)


@pytest.fixture()
def fake_pysot_dir(tmp_path):
    root = tmp_path / "pysot"
    for rel, src in FAKE_PYSOT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(src)
    yield root
    for name in [m for m in sys.modules if m == "pysot" or m.startswith("pysot.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p != str(root)]


def test_comparison_reports_each_rounds_ratio_and_box_agreement(fake_pysot_dir, shared_data_dir, monkeypatch):
    """Per round: our FPS / pysot's FPS of that round; the median and the min-max spread over rounds; the boxes
    of the default tracker equal the plain eager tracker's to float rounding."""
    fps_seen = iter([4.0, 2.0, 3.0, 1.0, 5.0, 2.5, 0.0])  # rounds 1..3 (round 2: pysot first), then the plain run
    real = pysot_speed.user_run

    def fake_run(tracker, frames, box, warmup):
        out = real(tracker, frames, box, warmup)
        out["fps"] = next(fps_seen)
        return out

    monkeypatch.setattr(pysot_speed, "user_run", fake_run)
    r = pysot_comparison(str(fake_pysot_dir), os.path.join(shared_data_dir, "bag.avi"), None, TINY[:-2], "cpu",
                         frames=4, warmup=1, rounds=3, runtimes=["default"], log=lambda s: None)
    row = r["rows"]["default (torch)"]
    # round 1: default 4 vs pysot 2; round 2 (rotated: pysot first): pysot 3, default 1; round 3: default 5, pysot 2.5
    assert row["vs_pysot"]["rounds"] == pytest.approx([2.0, 1 / 3, 2.0])
    assert row["vs_pysot"]["median"] == pytest.approx(2.0) and row["vs_pysot"]["min"] == pytest.approx(1 / 3)
    assert row["max_abs_px"] < 0.05
    assert r["rows"][PYSOT_NAME]["fps"]["rounds"] == pytest.approx([2.0, 3.0, 2.5]) and r["with_reset"] is False
    text = pysot_markdown(r, "python tools/benchmark.py speed --sections pysot --pysot DIR", "idle")
    assert "| default (torch) | 4.00 | 4.00, 1.00, 5.00 | **2.00x** | 2.00, 0.33, 2.00 (0.33-2.00) |" in text
    assert "tracking normally" in text and "Load: idle." in text
    with pytest.raises(ValueError, match="unknown runtime"):
        pysot_comparison(str(fake_pysot_dir), os.path.join(shared_data_dir, "bag.avi"), runtimes=["bf16"])


def test_benchmark_cli_pysot_section(fake_pysot_dir, shared_data_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("benchmark_tool", os.path.join(ROOT, "tools", "benchmark.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["speed", "--sections", "pysot"]) == 2  # no --pysot DIR: one line, exit 2
    out = str(tmp_path / "benchmarks.md")
    rc = tool.main(["speed", "--opts"] + TINY[:-2] + ["--threads", "0", "--frames", "4", "--warmup", "1",
                    "--rounds", "2", "--sections", "pysot", "--runtimes", "default", "--pysot", str(fake_pysot_dir), "--pysot-reset",
                    "--video", os.path.join(shared_data_dir, "bag.avi"), "--machine-note", "busy", "--out", out])
    assert rc == 0
    with open(out, encoding="utf-8") as f:
        text = f.read()
    assert pysot_speed.PYSOT_BEGIN in text and "| pysot SiamRPN++ r50 |" in text and "(min-max)" in text
    assert f"| {pysot_speed.PYSOT_RESET_NAME} |" in text and "Load: busy." in text


def test_goal_rows_show_the_ratio_spread_and_how_pysot_ran():
    from siamcorners.engine.profiling.speed import PYSOT_ROW, runtime_markdown

    machine = {"cpu": "a CPU", "torch_threads": "2", "gpu": "none used", "python": "3", "torch": "2"}
    rows = {"default (torch)": {"frame_s": 0.8, "fps": 1.25, "ratio": 0.9, "stages": {}, "max_abs_px": 0.001,
                                "vs_pysot": 1.2, "vs_pysot_range": (1.1, 1.3)},
            PYSOT_ROW: {"frame_s": 1.0, "fps": 1.0, "ratio": 1.1, "stages": {}, "max_abs_px": float("nan"),
                        "vs_pysot": 1.0, "vs_pysot_range": (1.0, 1.0)}}
    r = {"machine": machine, "cfg": "<defaults>", "opts": [], "frames": 8, "warmup": 2,
         "goal": {"backbone_s": 1.0, "rows": rows, "rounds": 3, "goal": 1.05, "video": "bag.avi",
                  "pysot_reset": False}}
    text = runtime_markdown(r, "python tools/benchmark.py speed --sections goal --pysot DIR")
    assert "| 1.20x (1.10-1.30) |" in text and "tracking normally, as a user runs it" in text
    r["goal"]["pysot_reset"] = True
    assert "put back on the initial box before each frame" in runtime_markdown(r, "cmd")
