"""Our tracker against pysot's SiamRPN++ ResNet-50 the way a user runs both (``tools/benchmark.py speed --sections
pysot --pysot DIR``): both trackers track the same video normally, frame after frame (pysot's state is *not* put
back on the initial box), in interleaved rounds, and the FPS ratio is reported per round (its spread) as well as its
median.

Per round and tracker: FPS = timed frames / their total ``track`` time (frames after ``warmup`` untimed ones; what
a user's run reports), plus the median frame time. A round's ratio is our FPS / pysot's FPS in that round; rounds run
in rotating order so that a drift of a shared machine hits every tracker alike. Our boxes are compared with the
plain eager tracker's (the optimisations are exact up to float rounding).

``with_reset=True`` adds a second pysot row whose state is put back on the initial box before every frame (what the
goal rows of :func:`~siamcorners.engine.profiling.speed.frame_goal_rows` did before this comparison existed), timed in
the same rounds, so the run shows what the reset changes: with random weights pysot's box drifts to the clip limits
when it tracks normally, which changes the size of the region its search crop is cut from (then resized to
255 x 255), never the network's cost.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .speed import (GOAL_PYSOT_SPEEDUP, PLAIN_OPTS, _conditioned_model, backend_opts, box_agreement,
                    load_video_frames, machine_info)

__all__ = ["PYSOT_BEGIN", "PYSOT_END", "PYSOT_RUNTIMES", "PYSOT_NAME", "PYSOT_RESET_NAME", "user_run",
           "pysot_comparison", "pysot_markdown"]

PYSOT_BEGIN = "<!-- speed-pysot:begin (written by tools/benchmark.py speed --sections pysot) -->"
PYSOT_END = "<!-- speed-pysot:end -->"
PYSOT_RUNTIMES = {"default": "default (torch)", "onnxruntime": "onnxruntime", "plain": "plain eager",
                  "winograd-head": "default + WINOGRAD_HEAD"}
PYSOT_NAME = "pysot SiamRPN++ r50"
PYSOT_RESET_NAME = "pysot SiamRPN++ r50, reset to the initial box every frame"
INIT_BOX = [200.0, 120.0, 80.0, 100.0]  # bag.avi's target in its first frame, as the other speed sections


def user_run(tracker: Any, frames: Sequence[np.ndarray], init_box: Sequence[float], warmup: int = 2) -> dict[str, Any]:
    """Track ``frames`` as a user's loop does (init on frame 0, then ``track`` on each frame). Returns ``fps`` =
    timed frames / their total time (frames after ``warmup``), ``median_s`` (median frame time), the boxes (N, 4)."""
    if len(frames) < warmup + 2:
        raise ValueError(f"user_run: need at least {warmup + 2} frames, got {len(frames)}")
    tracker.init(frames[0], list(init_box))
    boxes, times = [list(init_box)], []
    for frame in frames[1:]:
        t0 = time.perf_counter()
        out = tracker.track(frame)
        times.append(time.perf_counter() - t0)
        boxes.append(list(out["bbox"]))
    timed = times[warmup:]
    return {"fps": len(timed) / sum(timed), "median_s": statistics.median(timed),
            "boxes": np.asarray(boxes, dtype=np.float64)}


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": list(values)}


def pysot_comparison(pysot_dir: str, video: str, cfg_path: str | None = None, opts: Sequence[str] = (),
                     device: str = "cpu", frames: int = 20, warmup: int = 2, rounds: int = 3,
                     runtimes: Sequence[str] = ("default", "onnxruntime"), with_reset: bool = False,
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Our trackers (``runtimes``: keys of PYSOT_RUNTIMES) and pysot's SiamRPN++ r50 (random weights) on the first
    ``frames`` frames of ``video``, ``rounds`` interleaved rounds. Per tracker: FPS per round and its median; per
    runtime of ours: the FPS ratio against pysot per round (median, min, max), and the largest box difference from
    the plain eager tracker (tracked once, untimed, when ``plain`` is not among ``runtimes``). ``with_reset``: also
    pysot reset to the initial box every frame (its FPS ratio to the normally tracking pysot per round)."""
    from ...config import load_config
    from ...tracker import SiamCornersTracker
    from .pysot_reference import PysotTracker

    unknown = [k for k in runtimes if k not in PYSOT_RUNTIMES]
    if unknown:
        raise ValueError(f"unknown runtime(s) {unknown} for the pysot comparison; choose from "
                         f"{', '.join(PYSOT_RUNTIMES)}")
    if not os.path.isfile(video):
        raise ValueError(f"{video}: video not found (the pysot comparison tracks a real video; --video FILE)")
    dev = torch.device(device)
    fr = load_video_frames(video, frames)
    if len(fr) < warmup + 2:
        raise ValueError(f"{video}: {len(fr)} frames, the comparison needs at least {warmup + 2}")
    base = list(opts) + ["DEVICE", str(dev)]
    cfg = load_config(cfg_path, base)
    torch.manual_seed(0)
    model = _conditioned_model(cfg, fr, INIT_BOX, dev)
    out: dict[str, Any] = {"machine": machine_info(dev), "device": str(dev), "cfg": cfg_path or "<defaults>",
                           "opts": list(opts), "video": os.path.basename(video), "frames": len(fr), "warmup": warmup,
                           "rounds": rounds, "with_reset": with_reset, "goal": GOAL_PYSOT_SPEEDUP}
    with tempfile.TemporaryDirectory(prefix="siamcorners-onnx-") as cache:
        table = backend_opts(cache)
        names = [PYSOT_RUNTIMES[k] for k in runtimes]
        log(f"pysot comparison on {dev}: {out['video']}, {len(fr)} frames, {rounds} interleaved rounds")
        trackers: dict[str, Any] = {n: SiamCornersTracker(model, load_config(cfg_path, base + table[n]), device=dev)
                                    for n in names}
        trackers[PYSOT_NAME] = PysotTracker(pysot_dir, dev)
        if with_reset:
            trackers[PYSOT_RESET_NAME] = PysotTracker(pysot_dir, dev, reset=True)
        order0 = list(trackers)
        fps: dict[str, list[float]] = {n: [] for n in order0}
        med: dict[str, list[float]] = {n: [] for n in order0}
        boxes: dict[str, np.ndarray] = {}
        for r in range(rounds):
            log(f"  round {r + 1}/{rounds}")
            for n in order0[r % len(order0):] + order0[:r % len(order0)]:
                res = user_run(trackers[n], fr, INIT_BOX, warmup)
                fps[n].append(res["fps"])
                med[n].append(res["median_s"])
                boxes.setdefault(n, res["boxes"])
        plain = boxes.get(PYSOT_RUNTIMES["plain"])
        if plain is None:
            plain_tracker = SiamCornersTracker(model, load_config(cfg_path, base + PLAIN_OPTS), device=dev)
            plain = user_run(plain_tracker, fr, INIT_BOX, warmup)["boxes"]
    rows: dict[str, Any] = {}
    for n in order0:
        row: dict[str, Any] = {"fps": _spread(fps[n]), "median_frame_s": statistics.median(med[n])}
        if n != PYSOT_NAME:
            row["vs_pysot"] = _spread([a / b for a, b in zip(fps[n], fps[PYSOT_NAME])])
        if n in names:
            row["max_abs_px"] = box_agreement(plain, boxes[n])["max_abs_px"]
        rows[n] = row
    out["rows"] = rows
    out["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return out


def pysot_markdown(r: Mapping[str, Any], command: str, load_note: str = "") -> str:
    """The ``docs/benchmarks.md`` section of :func:`pysot_comparison`."""
    m = r["machine"]
    lines = [
        "## Against pysot's SiamRPN++ ResNet-50, as a user runs both (`tools/benchmark.py speed --sections pysot`)",
        "",
        f"Machine: {m['cpu']}; torch threads {m['torch_threads']} (ONNX Runtime intra-op threads: the same); GPU: "
        f"{m['gpu']}. Versions: Python {m['python']}, torch {m['torch']}, numpy {m['numpy']}, OpenCV {m['opencv']}."
        + (f" Load: {load_note}." if load_note else ""),
        "",
        f"Command: `{command}` (DIR: a clone of STVIR/pysot, `pip install yacs`)",
        "",
        f"{r['video']}: {r['frames']} frames (init on frame 0, {r['warmup']} untimed warm-up frames, "
        f"{r['frames'] - 1 - r['warmup']} timed), both trackers with random weights (ours conditioned to a trained "
        f"model's output range), pysot tracking normally as a user runs it (its state is not reset)"
        + (", plus pysot reset to the initial box before every frame (`--pysot-reset`)" if r["with_reset"] else "")
        + f"; {r['rounds']} interleaved rounds. FPS = timed frames / their "
        f"total time; ratio = our FPS / pysot's FPS in the same round.",
        "",
        f"| tracker | FPS (median of rounds) | FPS per round | vs pysot: median | vs pysot: per round (min-max) | "
        f"max box diff vs plain eager (px) |",
        "|---|---:|---|---:|---|---:|",
    ]
    for name, row in r["rows"].items():
        per_round = ", ".join(f"{v:.2f}" for v in row["fps"]["rounds"])
        if "vs_pysot" in row:
            v = row["vs_pysot"]
            vs = f"**{v['median']:.2f}x**"
            spread = f"{', '.join(f'{x:.2f}' for x in v['rounds'])} ({v['min']:.2f}-{v['max']:.2f})"
            diff = f"{row['max_abs_px']:.2g}" if "max_abs_px" in row else "n/a"
        else:
            vs, spread, diff = "1.00x", "", "n/a"
        lines.append(f"| {name} | {row['fps']['median']:.2f} | {per_round} | {vs} | {spread} | {diff} |")
    lines += ["", f"Goal (issue 12 / 18): the documented CPU setting (ONNX Runtime) >= {r['goal']:.2f}x pysot's FPS."]
    return "\n".join(lines) + "\n"
