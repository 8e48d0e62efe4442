"""Evaluation timing on a generated LaSOT-sized result set (``tools/benchmark.py eval``)."""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from ...benchmarks.evaluation import evaluate_tracker
from ...benchmarks.results import layout_for, write_result
from ...benchmarks.sequence import Dataset, Sequence

__all__ = ["make_eval_workload", "time_eval"]


def make_eval_workload(folder: str, videos: int = 280, frames: int = 2500, trackers: int = 10,
                       seed: int = 0) -> Dataset:
    """A LaSOT-like dataset in memory (random boxes, ~5% absent frames, 14 attributes) and
    ``trackers`` result folders written under ``folder`` (gt + noise, some NaN rows)."""
    rng = np.random.default_rng(seed)
    attrs = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")
    seqs = []
    for v in range(videos):
        xy = 100 + np.cumsum(rng.normal(0, 2, (frames, 2)), axis=0)
        wh = np.abs(40 + np.cumsum(rng.normal(0, 0.5, (frames, 2)), axis=0)) + 5
        gt = np.round(np.concatenate([xy, wh], axis=1), 2)  # (frames, 4)
        absent = rng.random(frames) < 0.05
        tags = tuple(a for a in attrs if rng.random() < 0.3)
        seqs.append(Sequence(f"video-{v}", gt, [], tags, absent=absent))
    dataset = Dataset("LaSOT-sized", seqs, "lasot", folder, list(attrs))
    layout = layout_for("lasot")
    for t in range(trackers):
        tdir = os.path.join(folder, f"tracker{t:02d}")
        for s in seqs:
            pred = s.gt + rng.normal(0, 2 + t, s.gt.shape)
            pred[rng.random(len(pred)) < 0.01] = np.nan
            write_result(layout, tdir, s.name, np.round(pred, 3))
    return dataset


def time_eval(videos: int = 280, frames: int = 2500, trackers: int = 10, repeats: int = 1,
              folder: str | None = None) -> dict:
    """Seconds to evaluate every tracker (reading the result files + all metrics + per-attribute)."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        t0 = time.perf_counter()
        dataset = make_eval_workload(tmp, videos, frames, trackers)
        generate = time.perf_counter() - t0
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for t in range(trackers):
                evaluate_tracker(dataset, os.path.join(tmp, f"tracker{t:02d}"), protocol="pysot")
            runs.append(time.perf_counter() - t0)
    return {"videos": videos, "frames_per_video": frames, "trackers": trackers,
            "generate_seconds": generate, "eval_seconds": min(runs), "eval_runs": runs,
            "cpu_count": os.cpu_count()}
