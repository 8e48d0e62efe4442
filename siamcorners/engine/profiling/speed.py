"""Speed measurements (``tools/benchmark.py speed``): the paper's Table IV component breakdown, end-to-end
tracking FPS per optimisation switch against the plain baseline *in the same run*, batched multi-video FPS and
peak memory.

Timing rules: every measurement runs warm-up frames first and reports medians over frames; on CUDA the stage
boundaries are CUDA events (read after the frame), on CPU ``time.perf_counter``. The component breakdown
runs the tracker with a stage hook (``SiamCornersTracker.stage_hook``; the model side is
:class:`~siamcorners.models.runtime.InferenceSiamCorners`, which with every switch off computes what the plain
model computes). Stages: ``crop`` (crop + upload), ``template`` (only when templates are not precomputed),
``conv3``/``conv4``/``conv5`` (backbone up to that level), ``neck``, ``xcorr``, ``corner_pool``, ``heat``,
``offsets``, ``decode`` (incl. the device->host copy), ``post`` (NumPy post-processing).

Random weights are fine for timing; :func:`conditioned_random_model` rescales them so that the network's
outputs are in a trained model's range (tracking then behaves like a tracker, not a saturated map).
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ["STAGES", "HEAD_STAGES", "BACKBONE_STAGES", "StageClock", "conditioned_random_model",
           "profile_components", "tracking_run", "batched_tracking_run", "peak_memory", "reset_peak_memory",
           "machine_info", "box_agreement", "load_video_frames", "run_speed_benchmark", "speed_markdown",
           "write_markdown_section"]

STAGES = ("crop", "template", "conv3", "conv4", "conv5", "neck", "xcorr", "corner_pool", "heat", "network",
          "offsets", "decode", "post")  # "network": a whole ONNX Runtime search graph (backbone..heat)
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
    from ...tracker.batched import track_batched

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


def pick_agreement(reference: Any, other: Any, frames: Sequence[np.ndarray], box: Sequence[float]) -> dict[str, Any]:
    """Why two trackers' boxes part: both track ``frames`` with ``other`` put back on ``reference``'s state before
    every frame, so each frame compares the networks on the same crop. Returns the largest candidate-score
    difference (``inf`` when the candidate lists differ in length), the frames (1-based) whose pick differs by more
    than 0.05 px, and the frames whose ranking of penalised scores differs (the ranked Hanning window weights
    candidates by rank, so two candidates tied to float rounding that swap ranks can change the pick)."""
    reference.init(frames[0], box)
    other.init(frames[0], box)
    worst, picks, ranks = 0.0, [], []
    for k, frame in enumerate(frames[1:], start=1):
        other.center, other.size = reference.center.copy(), reference.size.copy()
        reference.track(frame)
        other.track(frame)
        a, b = reference.debug, other.debug
        if len(a["score"]) != len(b["score"]):
            worst = float("inf")
            continue
        worst = max(worst, float(np.max(np.abs(a["score"] - b["score"]), initial=0.0)))
        if np.max(np.abs(a["cand_cxcywh"][a["best_idx"]] - b["cand_cxcywh"][b["best_idx"]])) > 0.05:
            picks.append(k)
        if not np.array_equal(a["rank_order"], b["rank_order"]):
            ranks.append(k)
    return {"max_score_diff": worst, "pick_frames": picks, "rank_frames": ranks, "frames": len(frames) - 1}


def _cpuinfo_field(key: str) -> str | None:
    """The value of the first ``key`` line of /proc/cpuinfo (Linux), None where there is none."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info(device: torch.device | str) -> dict[str, str]:
    """CPU model, core count, torch threads, GPU name and library versions."""
    import cv2

    cpu = _cpuinfo_field("model name") or platform.processor() or "unknown"
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none used"
    # the vector unit torch dispatches to (AVX2 / AVX512 ...): VMs that report the same model name differ several-fold
    return {"cpu": f"{cpu}, {os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()} kernels",
            "torch_threads": str(torch.get_num_threads()),
            "gpu": gpu, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "platform": platform.platform()}


def cpu_has_bf16_unit() -> bool | None:
    """True when the CPU advertises bf16 arithmetic (``avx512_bf16`` / ``amx_bf16`` in /proc/cpuinfo), False when it
    does not (autocast then emulates bf16, many times slower than fp32), None when the flags cannot be read."""
    flags = _cpuinfo_field("flags")
    return None if flags is None else bool(set(flags.split()) & {"avx512_bf16", "amx_bf16"})


# ------------------------------------------------------------------------------------ the speed benchmark
SWITCH_ROWS: dict[str, list[str]] = {
    "template recomputed per frame": ["INFERENCE.PRECOMPUTE_TEMPLATE", "false"],
    "FOLD_BN": ["INFERENCE.FOLD_BN", "true"],
    "BATCH_BRANCHES": ["INFERENCE.BATCH_BRANCHES", "true"],
    "SPARSE_OFFSETS": ["INFERENCE.SPARSE_OFFSETS", "true"],
    "POOL_IMPL logstep": ["MODEL.HEAD.POOL_IMPL", "logstep"],
    "CHANNELS_LAST": ["INFERENCE.CHANNELS_LAST", "true"],
    "WINOGRAD": ["INFERENCE.WINOGRAD", "true"],
    "WINOGRAD_HEAD": ["INFERENCE.WINOGRAD_HEAD", "true"],
    "DEVICE_CROP": ["INFERENCE.DEVICE_CROP", "true"],
}
PARTED_PX = 0.05  # an exact switch whose boxes differ from the baseline's by more than this is examined
ROUNDING_SCORE_DIFF = 1e-3  # candidate scores (sigmoid, in [0, 1]) this close on the same crop: float rounding
EXACT_SWITCHES = ("FOLD_BN", "BATCH_BRANCHES", "SPARSE_OFFSETS", "POOL_IMPL logstep", "CHANNELS_LAST", "WINOGRAD",
                  "WINOGRAD_HEAD", "DEVICE_CROP")
# the optimised profile = the shipped defaults: the exact switches that remove work (BN passes, the dense offset heads,
# multiplications); BATCH_BRANCHES and DEVICE_CROP save kernel launches / transfers, which matter on a GPU, not a CPU;
# CHANNELS_LAST was measured slower on the 2-core CPU
OPTIMISED = ("FOLD_BN", "SPARSE_OFFSETS", "WINOGRAD")
TABLE_IV = (("crop", "crop + upload"), ("template", "template branch (per frame)"), ("conv3", "C3 (stem..conv3)"),
            ("conv4", "C4"), ("conv5", "C5"), ("neck", "neck"), ("xcorr", "xcorr"),
            ("corner_pool", "Cor (corner pooling)"), ("heat", "heat heads"), ("offsets", "Off (offsets)"),
            ("decode", "Dec (decoding + copy)"), ("post", "Pos (post-processing)"))


def _conditioned_model(cfg: Mapping, frames: Sequence[np.ndarray], box: Sequence[float], device: torch.device):
    from ...models import build_model
    from ...tracker import SiamCornersTracker

    model = build_model(cfg)
    probe = SiamCornersTracker(model, cfg, device=device)
    z = probe.template_input(frames[0], box)
    x, _ = probe.search_input(frames[0])
    return conditioned_random_model(model, z, x)


def _stage_tracker(model: nn.Module, cfg: Mapping, settings, device: torch.device):
    """A tracker whose model is always an InferenceSiamCorners (stage ticks), with the given settings."""
    from ...models.runtime import InferenceSiamCorners
    from ...tracker import SiamCornersTracker

    tracker = SiamCornersTracker(model, cfg, device=device)
    tracker.model = InferenceSiamCorners(model, settings)
    return tracker


def _synthetic_videos(count: int, frames: int, seed: int = 2021) -> list[tuple[list[np.ndarray], list[float]]]:
    from ...data.synthetic import make_video

    sizes = [(360, 480), (240, 320), (480, 640), (300, 400)]
    out = []
    for k in range(count):
        v = make_video((seed, k), num_frames=max(2, frames - k), image_size=sizes[k % len(sizes)])
        out.append(([v.frame(i) for i in range(len(v))], v.gt[0].tolist()))
    return out


def _interleaved(names: Sequence[str], make_tracker: Callable[[str], Any],
                 videos: Mapping[str, tuple[Sequence[np.ndarray], Sequence[float]]], rounds: int, warmup: int,
                 device: torch.device, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Track every video with every configuration, ``rounds`` times in rotating order (so slow drifts of a
    shared machine hit all configurations alike). Per configuration and video: the per-round medians
    (``"rounds_s"``), the boxes of round 0 and the peak memory of its first round."""
    out: dict[str, dict[str, Any]] = {n: {"rounds_s": {v: [] for v in videos}, "boxes": {}} for n in names}
    for r in range(rounds):
        order = list(names[r % len(names):]) + list(names[:r % len(names)])
        log(f"  round {r + 1}/{rounds}")
        for name in order:
            tracker = make_tracker(name)
            if r == 0:
                reset_peak_memory(device)
            for v, (fr, box) in videos.items():
                res = tracking_run(tracker, fr, box, warmup)
                out[name]["rounds_s"][v].append(res["median_s"])
                out[name]["boxes"].setdefault(v, res["boxes"])
            if r == 0:
                out[name]["peak_mib"], out[name]["peak_kind"] = peak_memory(device)
            del tracker
    return out


def _ratio(res: Mapping[str, Any], base: Mapping[str, Any], video: str) -> float:
    """Median over rounds of baseline time / configuration time (> 1: faster than the baseline)."""
    return statistics.median(b / t for b, t in zip(base["rounds_s"][video], res["rounds_s"][video]))


def run_speed_benchmark(cfg_path: str | None, opts: Sequence[str] = (), device: str = "cpu",
                        real_video: str | None = None, frames: int = 10, warmup: int = 2,
                        batch_videos: int = 4, compile_row: bool = False, rounds: int = 3,
                        log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole speed benchmark in one run (numbers are comparable only within one run):

    * phase 1: the plain baseline and each switch alone, interleaved over ``rounds`` rounds; FPS = 1 / median
      frame time, ratio = median over rounds of the per-round speed-up against the baseline, box agreement with
      the baseline, peak memory;
    * phase 2: the optimised profile (``OPTIMISED`` switches together) against the baseline, interleaved again;
    * the Table IV breakdown of the baseline ("before") and of the optimised profile ("after"), alternated over
      two rounds, stage medians averaged;
    * batched multi-video FPS (``batch_videos`` synthetic videos of different sizes/lengths) vs one at a time.
    """
    from ...config import load_config
    from ...models.runtime import InferenceSettings
    from ...tracker import SiamCornersTracker

    dev = torch.device(device)
    base_opts = PLAIN_OPTS + list(opts) + ["DEVICE", str(dev)]  # baseline = every switch off (not the defaults)
    cfg = load_config(cfg_path, base_opts)
    videos: dict[str, tuple[list[np.ndarray], list[float]]] = {}
    if real_video and os.path.isfile(real_video):
        videos[os.path.basename(real_video)] = (load_video_frames(real_video, frames), [200.0, 120.0, 80.0, 100.0])
    videos["synthetic 480x360"] = _synthetic_videos(1, frames)[0]
    first = next(iter(videos.values()))
    torch.manual_seed(0)
    model = _conditioned_model(cfg, first[0], first[1], dev)
    amp = "fp16" if dev.type == "cuda" else "bf16"
    rows = {"baseline": [], **SWITCH_ROWS}
    notes = []
    if dev.type == "cuda" or cpu_has_bf16_unit() is not False:
        rows[f"AMP {amp}"] = ["INFERENCE.AMP", amp]
    else:  # emulated bf16 ran ~130x slower than fp32 on an AVX2 CPU: hours for this table, and no news
        notes.append("AMP bf16 is not timed here: this CPU has no bf16 unit (no avx512_bf16 / amx_bf16 flag), so "
                     "autocast emulates bf16 at many times the fp32 cost; `--sections goal` times it on a few frames.")
    if compile_row:
        rows["COMPILE"] = ["INFERENCE.COMPILE", "true"]
    cfgs = {name: load_config(cfg_path, base_opts + extra) for name, extra in rows.items()}

    log(f"speed benchmark on {dev}: {len(videos)} videos x {frames} frames, warm-up {warmup}, {rounds} rounds")
    results = _interleaved(list(rows), lambda n: SiamCornersTracker(model, cfgs[n], device=dev), videos, rounds,
                           warmup, dev, log)
    faster = [n for n in OPTIMISED if n in rows]
    optimised_opts = [o for n in faster for o in rows[n]]
    cfgs["optimised"] = opt_cfg = load_config(cfg_path, base_opts + optimised_opts)
    log(f"  phase 2: optimised = {', '.join(faster) or 'no switch was faster'}")
    phase2 = _interleaved(["baseline", "optimised"], lambda n: SiamCornersTracker(model, cfgs[n], device=dev),
                          videos, rounds, warmup, dev, log)
    results["optimised"] = phase2["optimised"]

    table = []
    for name, res in results.items():
        base = phase2["baseline"] if name == "optimised" else results["baseline"]
        row = {"name": name, "peak_mib": res["peak_mib"], "peak_kind": res["peak_kind"], "videos": {}}
        for v in videos:
            agree = box_agreement(results["baseline"]["boxes"][v], res["boxes"][v])
            row["videos"][v] = {"fps": 1.0 / statistics.median(res["rounds_s"][v]), "ratio": _ratio(res, base, v),
                                **agree}
        table.append(row)
    for row in table:  # an exact switch whose boxes part from the baseline's: same network, or not?
        name = row["name"]
        if name not in EXACT_SWITCHES and name != "optimised":
            continue
        for v, agree in row["videos"].items():
            if agree["max_abs_px"] > PARTED_PX:
                frames_v, box_v = videos[v]
                agree["pick"] = pick_agreement(SiamCornersTracker(model, cfg, device=dev),
                                               SiamCornersTracker(model, cfgs[name], device=dev), frames_v, box_v)

    log("  Table IV breakdown ...")
    fr, box = first
    settings = {"before": (cfg, InferenceSettings()), "after": (opt_cfg, InferenceSettings.from_cfg(opt_cfg))}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(2):
        for key, (c, st) in settings.items():
            runs[key].append(profile_components(_stage_tracker(model, c, st, dev), fr, box, warmup))
    breakdown = {key: {s: sum(r[s] for r in rs) / len(rs) for s in rs[0]} for key, rs in runs.items()}
    for b in breakdown.values():
        b["backbone"] = sum(b[s] for s in BACKBONE_STAGES)
        b["head_decode_post"] = sum(b.get(s, 0.0) for s in HEAD_STAGES)
        b["share_of_backbone"] = b["head_decode_post"] / b["backbone"]
        b["share_of_frame"] = b["head_decode_post"] / b["frame"]

    log(f"  batched tracking, {batch_videos} videos ...")
    bvids = _synthetic_videos(batch_videos, frames)
    batched = {}
    for label, c in (("baseline", cfg), ("optimised", opt_cfg)):
        tracker = SiamCornersTracker(model, c, device=dev)
        one = batched_tracking_run(tracker, bvids, 1)
        many = batched_tracking_run(tracker, bvids, batch_videos)
        diff = max(box_agreement(a, b)["max_abs_px"] for a, b in zip(one["boxes"], many["boxes"]))
        batched[label] = {"fps_1": one["fps"], "fps_k": many["fps"], "ratio": many["fps"] / one["fps"],
                          "max_abs_px": diff, "frames": one["frames"]}
    return {"machine": machine_info(dev), "device": str(dev), "frames": frames, "warmup": warmup, "rounds": rounds,
            "videos": list(videos), "table": table, "optimised": faster, "optimised_opts": optimised_opts,
            "breakdown": breakdown, "notes": notes,
            "batched": batched, "batch_videos": batch_videos, "cfg": cfg_path or "<defaults>", "opts": list(opts)}


def speed_markdown(r: Mapping[str, Any], command: str) -> str:
    """The ``docs/benchmarks.md`` speed section for a :func:`run_speed_benchmark` result."""
    m = r["machine"]
    cpu_run = r["device"] == "cpu"
    lines = [
        "## Tracking speed (`tools/benchmark.py speed`)",
        "",
        f"Machine: {m['cpu']}; torch threads {m['torch_threads']}; GPU: {m['gpu']}. Versions: Python {m['python']}, "
        f"torch {m['torch']}, numpy {m['numpy']}, OpenCV {m['opencv']} ({m['platform']}).",
        "",
        f"Command: `{command}`",
        "",
        f"Model: `{r['cfg']}` {' '.join(r['opts'])} (official ResNet-50 profile unless overridden), random weights "
        f"conditioned to a trained model's output range, batch 1. Frame times are medians over "
        f"{r['frames'] - 1 - r['warmup']} tracked frames after {r['warmup']} warm-up frames; the configurations run "
        f"interleaved in {r['rounds']} rounds, FPS = 1 / median over rounds, ratio = median over rounds of the "
        f"per-round speed-up against the baseline of this one run.",
        "",
        "### Component breakdown (Table IV style), ms per frame (stage medians, mean of two alternated runs)",
        "",
        "| component | before (all switches off) | after (optimised) |",
        "|---|---:|---:|",
    ]
    before, after = r["breakdown"]["before"], r["breakdown"]["after"]
    for key, label in TABLE_IV:
        if key in before or key in after:
            lines.append(f"| {label} | {before.get(key, 0) * 1e3:.1f} | {after.get(key, 0) * 1e3:.1f} |")
    lines += [
        f"| **frame (sum)** | **{before['frame'] * 1e3:.1f}** | **{after['frame'] * 1e3:.1f}** |",
        f"| backbone on the search crop (C3+C4+C5) | {before['backbone'] * 1e3:.1f} | {after['backbone'] * 1e3:.1f} |",
        f"| corner head + decoding + post-processing (xcorr, Cor, heat, Off, Dec, Pos) | "
        f"{before['head_decode_post'] * 1e3:.1f} | {after['head_decode_post'] * 1e3:.1f} |",
        f"| ... as a share of the backbone's time (goal < 25%) | {before['share_of_backbone']:.1%} | "
        f"{after['share_of_backbone']:.1%} |",
        f"| ... as a share of the frame time | {before['share_of_frame']:.1%} | {after['share_of_frame']:.1%} |",
        "",
        f"Optimised profile = the shipped defaults, the exact switches that remove work on any device: "
        f"{', '.join(r['optimised']) or 'none'} (its FPS ratio is from a second interleaved comparison with the "
        f"baseline; BATCH_BRANCHES and DEVICE_CROP save kernel launches and transfers, a GPU matter). In config "
        f"terms: `--opts {' '.join(r.get('optimised_opts', []))}`.",
        "",
        "### End-to-end tracking FPS per switch (same run; FPS and ratio are separate medians over the rounds, so "
        "a ratio can disagree with the FPS columns by the round-to-round noise, a few per cent here)",
        "",
        "| switch | " + " | ".join(f"{v} FPS (ratio)" for v in r["videos"]) +
        " | max box diff vs baseline (px) | min IoU vs baseline | peak memory (MiB) |",
        "|---|" + "---:|" * len(r["videos"]) + "---:|---:|---:|",
    ]
    for row in r["table"]:
        cells = [f"{row['videos'][v]['fps']:.2f} ({row['videos'][v]['ratio']:.2f}x)" for v in r["videos"]]
        diff = max(row["videos"][v]["max_abs_px"] for v in r["videos"])
        iou = min(row["videos"][v]["min_iou"] for v in r["videos"])
        lines.append(f"| {row['name']} | " + " | ".join(cells) + f" | {diff:.2g} | {iou:.4f} | {row['peak_mib']:.0f} |")
    kind = r["table"][0]["peak_kind"]
    lines += [
        "",
        f"Peak memory: {kind}, reset before each row's first round where the platform allows it (on the CPU it "
        "includes memory the allocator kept from earlier rows, and every row adds an optimised copy of the model: "
        "compare with care). Exact switches agree with the "
        "baseline to float rounding; AMP is not exact (its box difference is the measured accuracy cost; with "
        "random weights a small numeric change can make the tracker pick another candidate).",
        *[line for note in r.get("notes", []) + _parted_notes(r) for line in ("", note)],
        "",
        f"### Batched multi-video tracking ({r['batch_videos']} synthetic videos of different sizes and lengths)",
        "",
        "| model | one video at a time FPS | batched FPS | ratio | max box diff (px) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, b in r["batched"].items():
        lines.append(f"| {label} | {b['fps_1']:.2f} | {b['fps_k']:.2f} | {b['ratio']:.2f}x | {b['max_abs_px']:.2g} |")
    gpu_note = "not measured (no GPU was available to this run)" if cpu_run else "measured above"
    lines += [
        "",
        "### GPU",
        "",
        f"| GPU rows | single-video FPS | batched FPS | Table IV breakdown |",
        "|---|---|---|---|",
        f"| CUDA | {gpu_note} | {gpu_note} | {gpu_note} |",
        "",
        "### Closing note",
        "",
        _closing_note(r),
        "",
    ]
    return "\n".join(lines)


def _parted_notes(r: Mapping[str, Any]) -> list[str]:
    """One sentence per exact switch and video whose boxes parted from the baseline's (see pick_agreement)."""
    notes = []
    for row in r["table"]:
        for v, agree in row["videos"].items():
            pick = agree.get("pick")
            if pick is None:
                continue
            same_rank_flip = (pick["pick_frames"] and set(pick["pick_frames"]) <= set(pick["rank_frames"])
                              and pick["max_score_diff"] <= ROUNDING_SCORE_DIFF)
            notes.append(
                f"{row['name']}, {v}: boxes part from the baseline's by up to {agree['max_abs_px']:.2g} px. Put back "
                f"on the baseline's state before every frame, the two networks' candidate scores differ by at most "
                f"{pick['max_score_diff']:.2g}; the pick differs at {len(pick['pick_frames'])} of {pick['frames']} "
                f"frames ({', '.join(map(str, pick['pick_frames'])) or 'none'})"
                + (", each one where the ranking of penalised scores differs: candidates tied to float rounding swap "
                   "ranks and the ranked Hanning window (official post-processing) turns the swap into another pick, "
                   "after which the trajectories follow different states." if same_rank_flip else "."))
    return notes


def _closing_note(r: Mapping[str, Any]) -> str:
    before, after = r["breakdown"]["before"], r["breakdown"]["after"]
    opt = next(row for row in r["table"] if row["name"] == "optimised")
    ratios = ", ".join(f"{v}: {opt['videos'][v]['ratio']:.2f}x" for v in r["videos"])
    b = r["batched"]["optimised"]
    return (f"In this run the optimised profile tracked at {ratios} the baseline's FPS; corner head + decoding + "
            f"post-processing took {before['share_of_backbone']:.1%} of the backbone's search-crop time before and "
            f"{after['share_of_backbone']:.1%} after (goal < 25%); batched tracking of {r['batch_videos']} videos ran "
            f"at {b['ratio']:.2f}x the one-at-a-time FPS on {r['device']}.")


SECTION_BEGIN = "<!-- speed:begin (written by tools/benchmark.py speed) -->"
SECTION_END = "<!-- speed:end -->"


def write_markdown_section(path: str, text: str, begin: str = SECTION_BEGIN, end: str = SECTION_END) -> None:
    """Replace (or append) the section of ``path`` between the markers ``begin`` / ``end`` (default: the speed
    section), atomically; other sections stay."""
    old = ""
    if os.path.isfile(path):
        with open(path, "r", encoding="utf-8") as f:
            old = f.read()
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "# Benchmarks\n\n") + block
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)


# ------------------------------------------------------ issue 12: the frame-time goal, backends, reduced precision
# Each configuration is a list of config overrides on top of the profile; "plain" = every INFERENCE switch off.
PLAIN_OPTS = ["INFERENCE.FOLD_BN", "false", "INFERENCE.SPARSE_OFFSETS", "false", "INFERENCE.CHANNELS_LAST", "false",
              "INFERENCE.WINOGRAD", "false", "INFERENCE.WINOGRAD_HEAD", "false", "INFERENCE.BATCH_BRANCHES", "false",
              "INFERENCE.COMPILE", "false", "INFERENCE.DEVICE_CROP", "false", "INFERENCE.BACKEND", "torch"]  # (AMP stays at its default "off")
WINOGRAD_HEAD_OPTS = ["INFERENCE.WINOGRAD_HEAD", "true"]  # issue 18 candidate: the head's 3x3 convs as Winograd too
GOAL_FRAME_RATIO = 1.05  # issue 12: whole default frame <= 1.05x the plain eager backbone on the search crop
GOAL_PYSOT_SPEEDUP = 1.25  # issue 12: the shipped tracker's FPS >= 1.25x pysot's SiamRPN++ r50 on the same machine
PYSOT_ROW = "pysot SiamRPN++ r50 (reference)"


def backend_opts(cache_dir: str) -> dict[str, list[str]]:
    """The ways of running the network the goal and precision rows compare (config overrides)."""
    ort = ["INFERENCE.BACKEND", "onnxruntime", "INFERENCE.ONNX_CACHE", cache_dir]
    return {"plain eager": PLAIN_OPTS, "default (torch)": [], "default + WINOGRAD_HEAD": WINOGRAD_HEAD_OPTS,
            "onnxruntime": ort,
            "bf16 (torch AMP)": ["INFERENCE.AMP", "bf16"], "int8 (onnxruntime)": ort + ["INFERENCE.INT8", "true"]}


def backbone_time(model: nn.Module, crops: Sequence[torch.Tensor], warmup: int = 2) -> float:
    """Median seconds of the plain eager backbone (``model.backbone``, input normalisation included) on each
    search crop x (1, 3, 255, 255): the reference the frame-time goal is measured against."""
    times = []
    with torch.inference_mode():
        for x in crops:
            _sync(x.device)
            t0 = time.perf_counter()
            model.backbone(model._normalize(x))
            _sync(x.device)
            times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:] if len(times) > warmup + 1 else times)


def search_crops(tracker: Any, frames: Sequence[np.ndarray], init_box: Sequence[float]) -> list[torch.Tensor]:
    """The search crops (1, 3, 255, 255) a tracker cuts from ``frames[1:]`` while tracking them."""
    crops = []
    tracker.init(frames[0], list(init_box))
    for frame in frames[1:]:
        x, _ = tracker.search_input(frame)
        crops.append(x)
        tracker.track(frame)
    return crops


def frame_goal_rows(model: nn.Module, cfg_path: str | None, opts: Sequence[str], device: torch.device,
                    frames: Sequence[np.ndarray], init_box: Sequence[float], names: Sequence[str], cache_dir: str,
                    rounds: int = 3, warmup: int = 2, log: Callable[[str], None] = print,
                    pysot_dir: str | None = None, pysot_reset: bool = False) -> dict[str, Any]:
    """Whole-frame time (crop -> box) of each way of running the network (``names`` from :func:`backend_opts`)
    against the plain eager backbone on the same search crops, interleaved over ``rounds`` in one run.

    Per name: median frame seconds, ``ratio`` = median over rounds of frame time / backbone time of that round
    (the goal: <= GOAL_FRAME_RATIO for the profile as shipped), FPS, box agreement with the plain eager tracker,
    and the stage breakdown of one extra run. With ``pysot_dir`` (a pysot checkout) pysot's SiamRPN++ ResNet-50
    tracker is timed in the same rounds (row :data:`PYSOT_ROW`; no boxes or stages), tracking normally (``pysot_reset``:
    put back on the initial box before every frame)."""
    from ...config import load_config
    from ...models.runtime import InferenceSettings, InferenceSiamCorners
    from ...tracker import SiamCornersTracker

    base = list(opts) + ["DEVICE", str(device)]
    table = backend_opts(cache_dir)
    cfgs = {n: load_config(cfg_path, base + table[n]) for n in names}
    log("  building the runtimes (ONNX export / int8 calibration on first use) ...")
    trackers: dict[str, Any] = {n: SiamCornersTracker(model, cfgs[n], device=device) for n in names}
    if pysot_dir:
        from .pysot_reference import PysotTracker

        trackers[PYSOT_ROW] = PysotTracker(pysot_dir, device, reset=pysot_reset)
        names = [*names, PYSOT_ROW]
    plain = copy_eval(model)
    crops = search_crops(SiamCornersTracker(model, load_config(cfg_path, base + PLAIN_OPTS), device=device),
                         frames, init_box)
    per_round: dict[str, list[float]] = {n: [] for n in ["backbone", *names]}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    boxes: dict[str, np.ndarray] = {}
    for r in range(rounds):
        log(f"  frame goal round {r + 1}/{rounds}")
        bb = backbone_time(plain, crops, warmup)
        per_round["backbone"].append(bb)
        order = list(names[r % len(names):]) + list(names[:r % len(names)])
        for n in order:
            res = tracking_run(trackers[n], frames, init_box, warmup)
            per_round[n].append(res["median_s"])
            ratios[n].append(res["median_s"] / bb)
            if n != PYSOT_ROW:
                boxes.setdefault(n, res["boxes"])
    ref = boxes.get("plain eager", next(iter(boxes.values())))
    rows = {}
    for n in names:
        if n == PYSOT_ROW:
            rows[n] = {"frame_s": statistics.median(per_round[n]), "fps": 1.0 / statistics.median(per_round[n]),
                       "ratio": statistics.median(ratios[n]), "stages": {}, "max_abs_px": float("nan")}
            continue
        stage_tracker = trackers[n]
        if n == "plain eager":  # the eager runtime has no stage ticks: its optimised form with every switch off
            stage_tracker = SiamCornersTracker(model, cfgs[n], device=device)
            stage_tracker.model = InferenceSiamCorners(model, InferenceSettings())
        stages = profile_components(stage_tracker, frames, init_box, warmup)
        rows[n] = {"frame_s": statistics.median(per_round[n]), "fps": 1.0 / statistics.median(per_round[n]),
                   "ratio": statistics.median(ratios[n]), "stages": stages, **box_agreement(ref, boxes[n])}
    if PYSOT_ROW in rows:  # speed-up against pysot: median over rounds of the per-round FPS ratio, and its spread
        for n in names:
            per = [p / t for p, t in zip(per_round[PYSOT_ROW], per_round[n])]
            rows[n]["vs_pysot"], rows[n]["vs_pysot_range"] = statistics.median(per), (min(per), max(per))
    return {"backbone_s": statistics.median(per_round["backbone"]), "rows": rows, "rounds": rounds,
            "goal": GOAL_FRAME_RATIO, "pysot_reset": pysot_reset}


def copy_eval(model: nn.Module) -> nn.Module:
    """An eval-mode deep copy (timing references must not share state with the trackers' models)."""
    import copy

    return copy.deepcopy(model).eval()


def heldout_auc(tracker: Any, videos: Sequence[Any]) -> dict[str, float]:
    """Success AUC (pysot OPE convention) and FPS of ``tracker`` over benchmark Sequences (frame 0 = init)."""
    from ...benchmarks.metrics import pysot_curves, pysot_scores
    from ..tester import track_video

    preds, gts, frames, seconds = [], [], 0, 0.0
    for seq in videos:
        boxes, times = track_video(tracker, seq)
        preds.append(boxes)
        gts.append(np.asarray(seq.gt, dtype=np.float64))
        frames += len(times) - 1
        seconds += float(np.sum(times[1:]))
    return {"success_auc": pysot_scores(pysot_curves(gts, preds))["success_auc"], "fps": frames / seconds}


def precision_rows(tiny_cfg: str, tiny_snapshot: str, data_dir: str, num_videos: int, cache_dir: str,
                   seed: int = 1, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Success AUC and FPS of the shipped tiny model on the held-out synthetic set (``num_videos`` videos of
    ``seed``, written under ``data_dir`` as tools/quickstart.py does) for fp32 torch (the default), bf16 autocast,
    ONNX Runtime fp32 and int8; the change of each reduced precision against its fp32 counterpart."""
    from ...benchmarks import load_dataset
    from ...config import load_config
    from ...data.synthetic import write_otb_dataset
    from ...models import build_model
    from ...models.checkpoint import load_checkpoint
    from ...tracker import SiamCornersTracker

    write_otb_dataset(data_dir, num_videos, seed=seed)
    videos = list(load_dataset("synthetic", data_dir, "auto").sequences)
    table = backend_opts(cache_dir)
    out: dict[str, Any] = {}
    for name in ("default (torch)", "bf16 (torch AMP)", "onnxruntime", "int8 (onnxruntime)"):
        log(f"  held-out AUC: {name}")
        cfg = load_config(tiny_cfg, table[name] + ["DEVICE", "cpu"])
        model = build_model(cfg)
        load_checkpoint(tiny_snapshot, model=model)
        out[name] = heldout_auc(SiamCornersTracker(model.eval(), cfg, device="cpu"), videos)
    for low, ref in (("bf16 (torch AMP)", "default (torch)"), ("int8 (onnxruntime)", "onnxruntime")):
        out[low]["auc_change"] = out[low]["success_auc"] - out[ref]["success_auc"]
        out[low]["fps_ratio"] = out[low]["fps"] / out[ref]["fps"]
        out[low]["against"] = ref
    return {"videos": len(videos), "seed": seed, "rows": out, "cfg": tiny_cfg, "snapshot": tiny_snapshot}


RUNTIME_BEGIN = "<!-- speed-runtime:begin (written by tools/benchmark.py speed) -->"
RUNTIME_END = "<!-- speed-runtime:end -->"
RUNTIME_KEYS = {"plain": "plain eager", "default": "default (torch)", "onnxruntime": "onnxruntime",
                "bf16": "bf16 (torch AMP)", "int8": "int8 (onnxruntime)"}  # tools/benchmark.py speed --runtimes


def run_runtime_benchmark(cfg_path: str | None, opts: Sequence[str] = (), device: str = "cpu",
                          real_video: str | None = None, frames: int = 10, warmup: int = 2, rounds: int = 3,
                          sections: Sequence[str] = ("goal", "precision"), tiny_cfg: str | None = None,
                          tiny_snapshot: str | None = None, heldout_dir: str | None = None, heldout_videos: int = 20,
                          runtimes: Sequence[str] = tuple(RUNTIME_KEYS), log: Callable[[str], None] = print,
                          pysot_dir: str | None = None, pysot_reset: bool = False) -> dict[str, Any]:
    """The issue-12 rows in one run: ``goal`` (plain eager backbone vs the whole frame of the plain eager, default
    and ONNX Runtime trackers, plus the bf16 / int8 FPS on the profile) and ``precision`` (success AUC of the
    tiny model on the held-out synthetic set in fp32, bf16 and int8). ``runtimes``: keys of RUNTIME_KEYS timed
    in the goal rows; ``pysot_dir``: a pysot checkout whose SiamRPN++ r50 tracker is timed beside them. ONNX exports
    go to a temporary folder."""
    import tempfile

    from ...config import load_config

    dev = torch.device(device)
    out: dict[str, Any] = {"machine": machine_info(dev), "device": str(dev), "cfg": cfg_path or "<defaults>",
                           "opts": list(opts), "frames": frames, "warmup": warmup, "sections": list(sections)}
    with tempfile.TemporaryDirectory(prefix="siamcorners-onnx-") as cache:
        if "goal" in sections:
            if real_video and os.path.isfile(real_video):
                name, fr, box = os.path.basename(real_video), load_video_frames(real_video, frames), \
                    [200.0, 120.0, 80.0, 100.0]
            else:
                (fr, box), name = _synthetic_videos(1, frames)[0], "synthetic 480x360"
            cfg = load_config(cfg_path, list(opts) + ["DEVICE", str(dev)])
            torch.manual_seed(0)
            model = _conditioned_model(cfg, fr, box, dev)
            log(f"runtime benchmark on {dev}: {name}, {frames} frames, {rounds} rounds")
            unknown = [k for k in runtimes if k not in RUNTIME_KEYS]
            if unknown:
                raise ValueError(f"unknown runtime(s) {unknown}; choose from {', '.join(RUNTIME_KEYS)}")
            names = [RUNTIME_KEYS[k] for k in runtimes]
            out["goal"] = frame_goal_rows(model, cfg_path, opts, dev, fr, box, names, cache, rounds, warmup, log,
                                         pysot_dir, pysot_reset)
            out["goal"]["video"] = name
        if "precision" in sections:
            if not (tiny_cfg and tiny_snapshot and os.path.isfile(tiny_snapshot)):
                raise ValueError(f"precision rows: tiny model {tiny_snapshot!r} not found")
            heldout = heldout_dir or os.path.join(cache, "heldout")
            out["precision"] = precision_rows(tiny_cfg, tiny_snapshot, heldout, heldout_videos, cache, log=log)
    return out


def runtime_markdown(r: Mapping[str, Any], command: str) -> str:
    """The ``docs/benchmarks.md`` section for :func:`run_runtime_benchmark`."""
    m = r["machine"]
    lines = [
        "## How a frame is computed: eager, ONNX Runtime, reduced precision (`tools/benchmark.py speed`)",
        "",
        f"Machine: {m['cpu']}; torch threads {m['torch_threads']} (ONNX Runtime intra-op threads: the same); GPU: "
        f"{m['gpu']}. Versions: Python {m['python']}, torch {m['torch']}.",
        "",
        f"Command: `{command}`",
        "",
    ]
    if "goal" in r:
        g = r["goal"]
        lines += [
            f"### Whole frame vs the plain eager backbone ({r['cfg']} {' '.join(r['opts'])}, random weights "
            f"conditioned to a trained model's range, {g['video']}, {r['frames'] - 1 - r['warmup']} timed frames, "
            f"{g['rounds']} interleaved rounds)",
            "",
            f"Plain eager backbone on the search crop (the reference): **{g['backbone_s'] * 1e3:.1f} ms** (median). "
            f"Goal (issue 12): the whole frame as shipped <= {g['goal']:.2f}x that.",
            "",
            "| way of running the network | frame (crop -> box) ms | FPS | frame / plain backbone | "
            "max box diff vs plain eager (px) | FPS vs pysot SiamRPN++ r50 | stages (ms) |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for name, row in g["rows"].items():
            stages = ", ".join(f"{k} {v * 1e3:.1f}" for k, v in row["stages"].items() if k != "frame")
            diff = "n/a" if name == PYSOT_ROW else f"{row['max_abs_px']:.2g}"
            vs = "not run (--pysot DIR)"
            if "vs_pysot" in row:
                lo, hi = row.get("vs_pysot_range", (row["vs_pysot"], row["vs_pysot"]))
                vs = f"{row['vs_pysot']:.2f}x ({lo:.2f}-{hi:.2f})"
            lines.append(f"| {name} | {row['frame_s'] * 1e3:.1f} | {row['fps']:.2f} | **{row['ratio']:.3f}x** | "
                         f"{diff} | {vs} | {stages} |")
        rows = g["rows"]
        if PYSOT_ROW in rows:
            how = ("its state put back on the initial box before each frame so both crop regions of the same size"
                   if g.get("pysot_reset") else "tracking normally, as a user runs it")
            lines += ["", f"pysot's SiamRPN++ ResNet-50 tracker (`--pysot`: a pysot checkout, random weights, {how}) "
                          f"ran in the same rounds; FPS vs pysot: median over rounds of the per-round ratio (min-max "
                          f"over rounds). Goal (issue 12): the shipped tracker >= {GOAL_PYSOT_SPEEDUP:.2f}x its FPS; "
                          f"`--sections pysot` measures it as a user runs both."]
        if {"plain eager", "default (torch)", "onnxruntime"} <= set(rows):
            ort = rows["onnxruntime"]["frame_s"]
            lines += ["", f"ONNX Runtime vs eager in this run: {rows['default (torch)']['frame_s'] / ort:.2f}x the "
                          f"default (optimised eager) FPS, {rows['plain eager']['frame_s'] / ort:.2f}x the plain "
                          f"eager FPS."]
        lines += ["", "bf16 and int8 boxes differ (not exact; with random weights a small numeric change can make the "
                      "tracker pick another candidate): their accuracy cost is the AUC change below."]
    if "precision" in r:
        p = r["precision"]
        lines += [
            "",
            f"### Reduced precision: success AUC on the held-out synthetic set ({p['videos']} videos, seed "
            f"{p['seed']}, as tools/quickstart.py) with the shipped tiny model (`{p['snapshot']}`)",
            "",
            "| precision | success AUC | AUC change | FPS (tiny model) | FPS ratio |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in p["rows"].items():
            change = f"{row['auc_change']:+.3f} vs {row['against']}" if "auc_change" in row else ""
            ratio = f"{row['fps_ratio']:.2f}x" if "fps_ratio" in row else ""
            lines.append(f"| {name} | {row['success_auc']:.3f} | {change} | {row['fps']:.1f} | {ratio} |")
        lines += ["", "FPS ratios that matter for the ResNet-50 profile are in the frame table above (bf16 against "
                      "the default torch frame, int8 against the onnxruntime frame)."]
    return "\n".join(lines) + "\n"
