"""Batched multi-video tracking: K videos in lock-step, one batched network forward per step.

    results = track_batched(tracker, [(frames_a, box_a), (frames_b, box_b), ...])   # [(boxes, times), ...]

Each video keeps its own tracker state (a shallow copy of ``tracker``: crops, post-processing and the state
update are the single-video code); only the network runs batched: the templates of all videos in one call at
init, then at every step the search crops of the videos that still have frames in one call (videos may have
different lengths and frame sizes). Per-video results equal one-at-a-time tracking up to float rounding of
batched convolutions (``tests/test_batched_tracking.py``).

``frames`` is anything with ``len()`` and indexing that returns (H, W, 3) uint8 BGR or (H, W) frames.
Frame 0's box is the init box. A frame's time is the step's wall time divided by the videos in the step.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Sequence

import numpy as np
import torch

from .tracker import SiamCornersTracker

__all__ = ["track_batched"]


@torch.inference_mode()
def track_batched(tracker: SiamCornersTracker,
                  videos: Sequence[tuple[Any, Sequence[float]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Track every (frames, init box [x, y, w, h]) in lock-step -> per video (boxes (N, 4), seconds (N,))."""
    if not videos:
        return []
    model = tracker.model  # the runtime (models/runtime/): template_kernels + detect(..., kernels=)
    slots = [copy.copy(tracker) for _ in videos]
    lengths = [len(frames) for frames, _ in videos]
    boxes = [np.zeros((n, 4), dtype=np.float64) for n in lengths]
    times = [np.zeros(n, dtype=np.float64) for n in lengths]

    start = time.perf_counter()
    z = torch.cat([slot.template_input(frames[0], list(box)) for slot, (frames, box) in zip(slots, videos)])
    kernels = model.template_kernels(z)  # per level (V, K, C, 7, 7)
    if not tracker.settings.precompute_template:
        kernels = None
    init_s = (time.perf_counter() - start) / len(videos)
    for v, (_, box) in enumerate(videos):
        boxes[v][0] = box
        times[v][0] = init_s

    for step in range(1, max(lengths)):
        start = time.perf_counter()
        active = [v for v in range(len(videos)) if step < lengths[v]]
        inputs = [slots[v].search_input(videos[v][0][step]) for v in active]
        x = torch.cat([x_ for x_, _ in inputs])  # (A, 3, 255, 255)
        idx = torch.tensor(active, device=x.device)
        step_kernels = [k.index_select(0, idx) for k in kernels] if kernels is not None else \
            model.template_kernels(z.index_select(0, idx))
        det = model.detect(x, slots[0].topk, slots[0].nms_kernel, slots[0].num_pairs, kernels=step_kernels)
        det = det.double().cpu().numpy()  # (A, N, 5)
        for j, v in enumerate(active):
            out = slots[v]._update(det[j], *inputs[j][1])
            boxes[v][step] = out["bbox"]
        dt = (time.perf_counter() - start) / len(active)
        for v in active:
            times[v][step] = dt
    return list(zip(boxes, times))
