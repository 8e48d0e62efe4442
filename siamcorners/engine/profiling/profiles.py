"""Tracking FPS of whole model profiles side by side in one run (``tools/benchmark.py speed --mobilenet``): the
light real-time profile (``experiments/siamcorners_mobilev2``, MobileNetV2) against the ResNet-50 profile.

Each profile is built with random weights conditioned to a trained model's output range
(:func:`.speed.conditioned_random_model`) and tracked with its own config as shipped; the profiles run interleaved
in rotating order over ``rounds`` rounds so that a drifting shared machine affects all alike. Per profile: FPS =
1 / median over rounds of the per-round median frame time, the speed ratio against the first profile (median over
rounds of the per-round ratio), the backbone's share of the frame (one stage-timed pass) and the parameter counts.
"""
from __future__ import annotations

import os
import statistics
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .speed import (BACKBONE_STAGES, conditioned_random_model, load_video_frames, machine_info, profile_components,
                    tracking_run)

__all__ = ["Profile", "MOBILENET_PROFILES", "compare_profiles", "profiles_markdown", "PROFILES_BEGIN", "PROFILES_END"]

Profile = tuple[str, "str | None", Sequence[str]]  # (label, config path or None = defaults, extra --opts)
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MOBILEV2_CFG = os.path.join(_ROOT, "experiments", "siamcorners_mobilev2", "config.yaml")
MOBILENET_PROFILES: list[Profile] = [
    ("MobileNetV2 x1.0 (experiments/siamcorners_mobilev2)", MOBILEV2_CFG, ()),
    ("MobileNetV2 x1.4 (pysot's width)", MOBILEV2_CFG, ("MODEL.BACKBONE.WIDTH_MULT", "1.4")),
]
PROFILES_BEGIN = "<!-- profiles:begin (written by tools/benchmark.py speed --mobilenet) -->"
PROFILES_END = "<!-- profiles:end -->"


def _build(profile: Profile, base_opts: Sequence[str], frames: Sequence[np.ndarray], box: Sequence[float],
           device: torch.device):
    from ...config import load_config
    from ...models import build_model
    from ...tracker import SiamCornersTracker

    label, path, opts = profile
    cfg = load_config(path, list(base_opts) + list(opts))
    torch.manual_seed(0)
    model = build_model(cfg)
    probe = SiamCornersTracker(model, cfg, device=device)
    z = probe.template_input(frames[0], box)
    x, _ = probe.search_input(frames[0])
    model = conditioned_random_model(model, z, x)
    params = {"total": sum(p.numel() for p in model.parameters()),
              "backbone": sum(p.numel() for p in model.backbone.parameters())}
    return cfg, model, params


def compare_profiles(profiles: Sequence[Profile], device: str = "cpu", real_video: str | None = None,
                     frames: int = 10, warmup: int = 2, rounds: int = 3, opts: Sequence[str] = (),
                     log: Callable[[str], None] = print) -> dict[str, Any]:
    """Track the same frames with every profile (the first is the reference), interleaved over ``rounds``.

    ``opts`` apply to every profile (after its own). The video is ``real_video`` when it exists, else a synthetic
    480x360 one. Returns ``{"rows": [...], "machine", "video", "frames", "warmup", "rounds", "device"}``.
    """
    from ...models.runtime import InferenceSettings
    from ...tracker import SiamCornersTracker
    from .speed import _stage_tracker, _synthetic_videos

    if len(profiles) < 2:
        raise ValueError("compare_profiles: give at least two profiles (the first is the reference)")
    dev = torch.device(device)
    base_opts = list(opts) + ["DEVICE", str(dev)]
    if real_video and os.path.isfile(real_video):
        name, fr, box = os.path.basename(real_video), load_video_frames(real_video, frames), [200.0, 120.0, 80.0, 100.0]
    else:
        (fr, box), name = _synthetic_videos(1, frames)[0], "synthetic 480x360"
    built = [_build(p, base_opts, fr, box, dev) for p in profiles]
    times: list[list[float]] = [[] for _ in profiles]
    log(f"profile comparison on {dev}: {len(profiles)} profiles x {len(fr)} frames of {name}, {rounds} rounds")
    for r in range(rounds):
        order = [(r + i) % len(profiles) for i in range(len(profiles))]
        for i in order:
            cfg, model, _ = built[i]
            times[i].append(tracking_run(SiamCornersTracker(model, cfg, device=dev), fr, box, warmup)["median_s"])
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{p[0]} {1e3 * t[-1]:.0f} ms" for p, t in zip(profiles, times)))
    rows = []
    for p, (cfg, model, params), t in zip(profiles, built, times):
        stages = profile_components(_stage_tracker(model, cfg, InferenceSettings.from_cfg(cfg), dev), fr, box, warmup)
        backbone = sum(stages.get(s, 0.0) for s in BACKBONE_STAGES)
        rows.append({"label": p[0], "cfg": p[1] or "<defaults>", "opts": list(p[2]),
                     "backbone_type": cfg.MODEL.BACKBONE.TYPE, "params": params,
                     "median_s": statistics.median(t), "fps": 1.0 / statistics.median(t), "rounds_s": t,
                     "ratio": statistics.median(a / b for a, b in zip(times[0], t)),
                     "backbone_s": backbone, "frame_s": stages["frame"]})
    return {"rows": rows, "machine": machine_info(dev), "video": name, "frames": len(fr), "warmup": warmup,
            "rounds": rounds, "device": str(dev), "opts": list(opts)}


def profiles_markdown(r: Mapping[str, Any], command: str) -> str:
    """The ``docs/benchmarks.md`` section for a :func:`compare_profiles` result."""
    m = r["machine"]
    ref = r["rows"][0]["label"]
    lines = [
        "## Model profiles side by side (`tools/benchmark.py speed --mobilenet`)",
        "",
        f"Machine: {m['cpu']}; torch threads {m['torch_threads']}; GPU: {m['gpu']}; torch {m['torch']}.",
        "",
        f"Command: `{command}`",
        "",
        f"Same run, same {r['frames']} frames of {r['video']} (median frame time after {r['warmup']} warm-up frames, "
        f"{r['rounds']} interleaved rounds), batch 1, random weights conditioned to a trained model's output range, "
        f"each profile with its config's settings. Ratio = median over rounds of the per-round speed-up against "
        f"{ref}.",
        "",
        "| profile | backbone | parameters (backbone) | ms / frame | FPS | ratio | backbone share of the frame |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['label']} | {row['backbone_type']} | {row['params']['total'] / 1e6:.1f} M "
                     f"({row['params']['backbone'] / 1e6:.1f} M) | {row['median_s'] * 1e3:.1f} | {row['fps']:.2f} | "
                     f"{row['ratio']:.2f}x | {row['backbone_s'] / row['frame_s']:.0%} |")
    lines.append("")
    return "\n".join(lines)
