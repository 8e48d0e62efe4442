"""Real-video comparison (``tools/benchmark.py realvideo``, issue 16 §7): our model, OpenCV's classic trackers and a
box that never moves, tracked over one OTB-layout folder and scored side by side by our evaluator (one-pass, pysot
protocol: success AUC, precision at 20 px) with each tracker's FPS.

OpenCV trackers work in 0-based pixels on integer rectangles: they get the first ground-truth row shifted by -1 px
(rounded), and their output is shifted back by +1 px; when ``update`` reports a lost target the last box is kept
(the convention of ``../shared/data/real/README.md``'s reference numbers). The box that never moves and the OpenCV
trackers start from the ground-truth row as given; our model starts as ``tools/test.py`` starts it (the config's
``TEST.INIT_BOX`` and ``TEST.FIRST_FRAME_BOX``). Frame decoding is not timed (as in ``tools/test.py``).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ...benchmarks import metrics as M
from ...benchmarks.otb import read_otb
from ...benchmarks.sequence import BenchmarkError, Dataset
from ..tester import RunConventions, track_video
from .speed import machine_info

__all__ = ["OpenCVTracker", "StaticBox", "opencv_tracker_factories", "realvideo_benchmark", "realvideo_markdown",
           "REALVIDEO_BEGIN", "REALVIDEO_END", "OURS", "STATIC"]

REALVIDEO_BEGIN = "<!-- realvideo:begin (written by tools/benchmark.py realvideo) -->"
REALVIDEO_END = "<!-- realvideo:end -->"
OURS = "SiamCorners"
STATIC = "static box"


class StaticBox:
    """A box that never moves: every frame reports the init box."""

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        self.box = [float(v) for v in box]

    def track(self, frame: np.ndarray) -> dict:
        return {"bbox": list(self.box), "score": 1.0}


class OpenCVTracker:
    """An OpenCV tracker (``cv2.TrackerMIL_create`` ...) behind the test runner's ``init`` / ``track`` interface.

    ``init`` gets a 1-based ``x, y, w, h`` box (OTB convention); OpenCV gets it shifted by -1 px and rounded, and its
    output is shifted back by +1 px. A lost target (``update`` returns False) keeps the last box."""

    def __init__(self, create: Callable[[], Any]):
        self.create = create

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        x, y, w, h = (float(v) for v in box)
        rect = (int(round(x - 1)), int(round(y - 1)), max(1, int(round(w))), max(1, int(round(h))))
        self.tracker = self.create()
        self.tracker.init(frame, rect)
        self.box = [rect[0] + 1.0, rect[1] + 1.0, float(rect[2]), float(rect[3])]

    def track(self, frame: np.ndarray) -> dict:
        ok, rect = self.tracker.update(frame)
        if ok:
            self.box = [float(rect[0]) + 1.0, float(rect[1]) + 1.0, float(rect[2]), float(rect[3])]
        return {"bbox": list(self.box), "score": 1.0 if ok else 0.0}


def opencv_tracker_factories() -> dict[str, Callable[[], Any]]:
    """OpenCV trackers this installation has: MIL (opencv-python), CSRT and KCF (opencv-contrib, main or legacy
    namespace), in that order."""
    import cv2

    legacy = getattr(cv2, "legacy", None)
    found: dict[str, Callable[[], Any]] = {}
    for name in ("MIL", "CSRT", "KCF"):
        create = getattr(cv2, f"Tracker{name}_create", None) or getattr(legacy, f"Tracker{name}_create", None)
        if create is not None:
            found[f"OpenCV {name}"] = create
    return found


@dataclass
class _Entry:
    name: str
    make: Callable[[], Any]
    conventions: RunConventions


def _entries(cfg_path: str, snapshot: str, opts: Sequence[str], trackers: Sequence[str] | None,
             device: str, others: Sequence[tuple[str, str, str]] = ()) -> list[_Entry]:
    from ...config import load_config
    from ..tester import SiamCornersFactory

    raw = RunConventions("raw", "init")
    opencv = opencv_tracker_factories()
    entries = [_Entry(STATIC, StaticBox, raw)]
    entries += [_Entry(name, (lambda c=create: OpenCVTracker(c)), raw) for name, create in opencv.items()]
    for label, other_cfg, other_snapshot in others:  # other SiamCorners models, with their own configs as given
        entries.append(_Entry(label, lambda c=other_cfg, m=other_snapshot: SiamCornersFactory(c, m, ())(device),
                              RunConventions.from_cfg(load_config(other_cfg))))
    cfg = load_config(cfg_path, list(opts))
    entries.append(_Entry(OURS, lambda: SiamCornersFactory(cfg_path, snapshot, opts)(device),
                          RunConventions.from_cfg(cfg)))
    if trackers:
        picked = []
        for t in trackers:
            key = t.strip().lower()
            match = [e for e in entries if key in (e.name.lower(), e.name.split()[-1].lower())
                     or (key, e.name) in (("ours", OURS), ("static", STATIC))]
            if not match:
                raise BenchmarkError(f"--trackers: {t!r} is not available here; choose from "
                                     f"{', '.join(x.name for x in entries)} (CSRT/KCF need opencv-contrib)")
            picked.append(match[0])
        entries = picked
    return entries


def realvideo_benchmark(dataset_root: str, cfg_path: str, snapshot: str, opts: Sequence[str] = (),
                        trackers: Sequence[str] | None = None, videos: Sequence[str] | None = None,
                        device: str = "cpu", log: Callable[[str], None] = print,
                        others: Sequence[tuple[str, str, str]] = ()) -> dict[str, Any]:
    """Track every sequence of the OTB-layout ``dataset_root`` with each tracker and score it (pysot OPE).

    ``others``: more SiamCorners models as ``(label, config, weights)``, each run with its own config (``opts``
    apply to ours only); their rows come after the OpenCV trackers, before ours.

    Returns ``{"rows": [{"tracker", "success_auc", "precision", "fps", "frames", "seconds", "per_video"}], ...}``
    (``per_video``: name -> success AUC, precision, FPS and frame size [w, h])
    in the order static box, OpenCV trackers, ours (or the order of ``trackers``)."""
    dataset: Dataset = read_otb(dataset_root, name=os.path.basename(os.path.normpath(dataset_root)) or "real")
    if videos:
        dataset = dataset.subset(list(videos))
    entries = _entries(cfg_path, snapshot, opts, trackers, device, others)
    rows = []
    for entry in entries:
        tracker = entry.make()
        preds, video_seconds = [], []
        for seq in dataset:
            boxes, times = track_video(tracker, seq, entry.conventions.init_rule)
            boxes[0] = entry.conventions.first_line(boxes[0])
            preds.append(boxes)
            video_seconds.append(float(np.sum(times)))
            log(f"  {entry.name:16s} {seq.name:14s} {len(boxes):5d} frames "
                f"{len(boxes) / max(video_seconds[-1], 1e-9):7.1f} FPS")
        rows.append(_score(entry.name, dataset, preds, video_seconds))
        log(f"{entry.name}: success AUC {rows[-1]['success_auc']:.3f}, precision@20 {rows[-1]['precision']:.3f}, "
            f"{rows[-1]['fps']:.1f} FPS")
    return {"rows": rows, "dataset_root": dataset_root, "videos": dataset.names,
            "frames": [len(s) for s in dataset], "cfg": cfg_path, "snapshot": snapshot, "opts": list(opts),
            "others": [list(o) for o in others],
            "machine": machine_info(device), "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC")}


def _score(name: str, dataset: Dataset, preds: list[np.ndarray], video_seconds: list[float]) -> dict[str, Any]:
    gts = [s.gt for s in dataset]
    curves = M.pysot_curves(gts, preds)
    scores = M.pysot_scores(curves)
    per_video = {}
    for i, seq in enumerate(dataset):
        one = M.pysot_scores({k: v[i:i + 1] for k, v in curves.items()})
        h, w = seq.frame(0).shape[:2]
        per_video[seq.name] = {"success_auc": one["success_auc"], "precision": one["precision"],
                               "fps": len(preds[i]) / video_seconds[i] if video_seconds[i] > 0 else float("nan"),
                               "frame_size": [w, h]}
    frames, seconds = sum(len(p) for p in preds), sum(video_seconds)
    return {"tracker": name, "success_auc": scores["success_auc"], "precision": scores["precision"],
            "fps": frames / seconds if seconds > 0 else float("nan"), "frames": frames, "seconds": seconds,
            "per_video": per_video}


def realvideo_markdown(r: Mapping[str, Any], command: str, machine_note: str = "") -> str:
    """The ``docs/benchmarks.md`` section for a :func:`realvideo_benchmark` result (headline and per-video tables)."""
    m = r["machine"]
    n_frames = sum(r["frames"])
    lines = [
        "## Real video (`tools/benchmark.py realvideo`)",
        "",
        f"{len(r['videos'])} sequences ({n_frames} frames) of `{r['dataset_root']}`, one-pass evaluation from "
        f"the first-frame box, scored by `siamcorners.benchmarks` (pysot protocol: success AUC, precision at 20 px, "
        f"averaged over sequences). Our model: `{r['cfg']}` with `{r['snapshot']}`"
        + "".join(f"; {label}: `{c}` with `{m}`" for label, c, m in r.get("others", ())) +
        f". OpenCV trackers get the first "
        f"box shifted by -1 px (0-based) and their output shifted back; a lost target keeps its last box. FPS = "
        f"frames / tracker time (decoding excluded), all trackers in the same run.",
        "",
        f"Machine: {m['cpu']}; torch {m['torch']} ({m['torch_threads']} threads), OpenCV {m['opencv']}"
        f"{'; ' + machine_note if machine_note else ''}. Date: {r['date']}.",
        "",
        f"Command: `{command}`",
        "",
        "| tracker | success AUC | precision@20px | FPS |",
        "|---|---:|---:|---:|",
    ]
    for row in r["rows"]:
        fps = "—" if row["tracker"] == STATIC else f"{row['fps']:.1f}"
        lines.append(f"| {row['tracker']} | {row['success_auc']:.3f} | {row['precision']:.3f} | {fps} |")
    lines += ["", "Success AUC per sequence:", "",
              "| sequence | frames | " + " | ".join(row["tracker"] for row in r["rows"]) + " |",
              "|---|---:|" + "---:|" * len(r["rows"])]
    for name, n in zip(r["videos"], r["frames"]):
        lines.append(f"| {name} | {n} | " + " | ".join(f"{row['per_video'][name]['success_auc']:.3f}"
                                                      for row in r["rows"]) + " |")
    lines.append("")
    return "\n".join(lines)
