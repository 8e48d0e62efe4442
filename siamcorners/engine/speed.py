"""Speed measurements (``tools/benchmark.py speed``): the paper's Table IV component breakdown, end-to-end
tracking FPS per optimisation switch against the plain baseline *in the same run*, batched multi-video FPS and
peak memory.

Timing rules: every measurement runs warm-up frames first and reports medians over frames; on CUDA the stage
boundaries are CUDA events (read after the frame), on CPU ``time.perf_counter``. The component breakdown
runs the tracker with a stage hook (``SiamCornersTracker.stage_hook``; the model side is
:class:`~siamcorners.models.inference.InferenceSiamCorners`, which with every switch off computes what the plain
model computes). Stages: ``crop`` (crop + upload), ``template`` (only when templates are not precomputed),
``conv3``/``conv4``/``conv5`` (backbone up to that level), ``neck``, ``xcorr``, ``corner_pool``, ``heat``,
``offsets``, ``decode`` (incl. the device->host copy), ``post`` (NumPy post-processing).

Random weights are fine for timing; :func:`conditioned_random_model` rescales them so that the network's
outputs are in a trained model's range (tracking then behaves like a tracker, not a saturated map).
"""
from __future__ import annotations

import copy
import os
import platform
import statistics
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ["STAGES", "HEAD_STAGES", "BACKBONE_STAGES", "StageClock", "conditioned_random_model",
           "profile_components", "tracking_run", "batched_tracking_run", "peak_memory", "reset_peak_memory",
           "machine_info", "box_agreement", "load_video_frames"]

STAGES = ("crop", "template", "conv3", "conv4", "conv5", "neck", "xcorr", "corner_pool", "heat", "offsets",
          "decode", "post")
BACKBONE_STAGES = ("conv3", "conv4", "conv5")
HEAD_STAGES = ("xcorr", "corner_pool", "heat", "offsets", "decode", "post")  # corner head + decoding + post


class StageClock:
    """Per-frame stage timer: ``start()``, then ``clock(stage)`` at each stage end, then ``finish()`` ->
    {stage: seconds}. CUDA events on a CUDA device (no synchronisation between stages), perf_counter on CPU."""

    def __init__(self, device: torch.device | str):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self._marks: list[tuple[str, Any]] = []

    def _now(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record(torch.cuda.current_stream(self.device))
            return ev
        return time.perf_counter()

    def start(self) -> None:
        self._marks = [("", self._now())]

    def __call__(self, stage: str) -> None:
        self._marks.append((stage, self._now()))

    def finish(self) -> dict[str, float]:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        out: dict[str, float] = {}
        for (_, a), (name, b) in zip(self._marks[:-1], self._marks[1:]):
            dt = a.elapsed_time(b) / 1e3 if self.cuda else b - a
            out[name] = out.get(name, 0.0) + dt
        return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------- model / data
def conditioned_random_model(model: nn.Module, z: torch.Tensor, x: torch.Tensor, heat_std: float = 1.5,
                             offset_std: float = 0.2) -> nn.Module:
    """Make a randomly initialised SiamCorners behave numerically like a trained one (in place, returned in eval
    mode): BatchNorm running statistics are set from one pass over templates z (B, K, 3, 127, 127) and a search
    crop x (B, 3, 255, 255), and the last heat / offset convolutions are scaled so that heat logits vary with
    standard deviation ``heat_std`` around the initial bias and offsets with ``offset_std`` (heat cells)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
    model.train()
    with torch.no_grad():
        model.template(z)
        model.track(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()
    with torch.no_grad():
        model.template(z)
        outs = model.track(x)
        for head, o in zip(model.heads, outs):
            for corner in ("tl", "br"):
                heat = getattr(head, f"{corner}_heat").out
                std = float((o[f"{corner}_heat"] - heat.bias.view(1, -1, 1, 1)).std())
                heat.weight.mul_(heat_std / max(std, 1e-12))
                if head.offsets:
                    off = getattr(head, f"{corner}_off").out
                    std = float(o[f"{corner}_off"].std())
                    off.weight.mul_(offset_std / max(std, 1e-12))
                    off.bias.zero_()
    model._kernels = None
    return model


def load_video_frames(path: str, max_frames: int) -> list[np.ndarray]:
    """The first ``max_frames`` frames (H, W, 3) uint8 BGR of a video file (error naming the file if unreadable)."""
    import cv2

    cap = cv2.VideoCapture(path)
    frames = []
    try:
        while len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"{path}: no frames could be read")
    return frames


# ------------------------------------------------------------------------------------------------ memory
def reset_peak_memory(device: torch.device | str) -> None:
    """Reset the peak-memory counter: CUDA allocator peak, or the process peak RSS (Linux ``clear_refs``)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_memory(device: torch.device | str) -> tuple[float, str]:
    """(MiB, what): CUDA ``max_memory_allocated`` or the process peak RSS (``VmHWM``, else ``ru_maxrss``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20, "CUDA allocated"
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024, "process peak RSS"
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS (not reset)"


# ------------------------------------------------------------------------------------------- measurement
def profile_components(tracker: Any, frames: Sequence[np.ndarray], init_box: Sequence[float],
                       warmup: int = 2) -> dict[str, float]:
    """Median seconds per stage over ``frames[1 + warmup:]`` (plus ``"frame"``: median sum of the stages).

    ``tracker`` is a SiamCornersTracker whose model is an InferenceSiamCorners (for the model stages)."""
    if len(frames) < warmup + 2:
        raise ValueError(f"profile_components: need at least {warmup + 2} frames, got {len(frames)}")
    clock = StageClock(tracker.device)
    tracker.stage_hook = clock
    if hasattr(tracker.model, "stage_hook"):
        tracker.model.stage_hook = clock
    per_frame: list[dict[str, float]] = []
    try:
        tracker.init(frames[0], list(init_box))
        for i, frame in enumerate(frames[1:]):
            _sync(tracker.device)
            clock.start()
            tracker.track(frame)
            times = clock.finish()
            if i >= warmup:
                per_frame.append(times)
    finally:
        tracker.stage_hook = None
        if hasattr(tracker.model, "stage_hook"):
            tracker.model.stage_hook = None
    stages = [s for s in STAGES if s in per_frame[0]]
    out = {s: statistics.median(t[s] for t in per_frame) for s in stages}
    out["frame"] = statistics.median(sum(t.values()) for t in per_frame)
    return out


def tracking_run(tracker: Any, frames: Sequence[np.ndarray], init_box: Sequence[float],
                 warmup: int = 2) -> dict[str, Any]:
    """Track ``frames``; returns the median seconds per tracked frame after ``warmup`` frames (``"median_s"``),
    ``"fps"`` (1 / median), the init time and all boxes (N, 4) (for agreement checks)."""
    if len(frames) < warmup + 2:
        raise ValueError(f"tracking_run: need at least {warmup + 2} frames, got {len(frames)}")
    device = torch.device(tracker.device)
    boxes = [list(init_box)]
    _sync(device)
    t0 = time.perf_counter()
    tracker.init(frames[0], list(init_box))
    _sync(device)
    init_s = time.perf_counter() - t0
    times = []
    for frame in frames[1:]:
        t0 = time.perf_counter()
        out = tracker.track(frame)  # ends with a device->host copy: synchronous
        times.append(time.perf_counter() - t0)
        boxes.append(out["bbox"])
    med = statistics.median(times[warmup:])
    return {"median_s": med, "fps": 1.0 / med, "init_s": init_s, "boxes": np.asarray(boxes, dtype=np.float64)}


def batched_tracking_run(tracker: Any, videos: Sequence[tuple[Sequence[np.ndarray], Sequence[float]]],
                         batch: int) -> dict[str, Any]:
    """Track the videos (frames, init box) with :func:`siamcorners.tracker.batched.track_batched` in chunks of
    ``batch`` (batch 1 = one at a time); returns total seconds, frames, FPS and each video's boxes."""
    from ..tracker.batched import track_batched

    t0 = time.perf_counter()
    results = []
    for i in range(0, len(videos), batch):
        results += track_batched(tracker, videos[i:i + batch])
    seconds = time.perf_counter() - t0
    frames = sum(len(b) for b, _ in results)
    return {"seconds": seconds, "frames": frames, "fps": frames / seconds, "boxes": [b for b, _ in results]}


def box_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Agreement of two box tracks (N, 4) [x, y, w, h]: max |difference| in pixels and the minimum IoU."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    iou = inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)
    return {"max_abs_px": float(np.max(np.abs(a - b))), "min_iou": float(np.min(iou))}


def machine_info(device: torch.device | str) -> dict[str, str]:
    """CPU model, core count, torch threads, GPU name and library versions."""
    import cv2

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none used"
    return {"cpu": f"{cpu}, {os.cpu_count()} cores", "torch_threads": str(torch.get_num_threads()),
            "gpu": gpu, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "platform": platform.platform()}
