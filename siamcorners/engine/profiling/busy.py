"""Tracking speed on a busy machine (``tools/benchmark.py busy``, issue 10 §3): FPS with the default thread choice
(:mod:`siamcorners.engine.threads`) while ``hogs`` CPU-bound processes run, against one thread and against torch's
own default (one thread per core), interleaved in the same run.

The thread choice is made the way a tool makes it at start-up, after the hogs have started; each configuration
tracks the same synthetic video with the same model in rotating order over ``rounds`` rounds.
"""
from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from typing import Any, Callable, Mapping, Sequence

import torch

from ..threads import available_cores, choose_threads, system_load
from .speed import machine_info, tracking_run

__all__ = ["busy_benchmark", "busy_markdown", "BUSY_BEGIN", "BUSY_END"]

BUSY_BEGIN = "<!-- busy:begin (written by tools/benchmark.py busy) -->"
BUSY_END = "<!-- busy:end -->"


def _hog(seconds: float) -> None:
    """A CPU-bound process (pure Python arithmetic) for at most ``seconds``."""
    end, x = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        for i in range(10000):
            x = (x * 31 + i) % 1000003


def busy_benchmark(cfg_path: str, snapshot: str | None = None, opts: Sequence[str] = (), hogs: int = 2,
                   frames: int = 60, warmup: int = 5, rounds: int = 3, settle_s: float = 2.0,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """FPS (1 / median frame time, median over rounds) of the default thread choice, 1 thread and torch's default
    (``os.cpu_count()``-like) while ``hogs`` busy processes run; ratios against 1 thread per round."""
    from ...config import load_config
    from ...data.synthetic import make_video
    from ...models import build_model
    from ...models.checkpoint import load_checkpoint
    from ...tracker import SiamCornersTracker

    cfg = load_config(cfg_path, list(opts) + ["DEVICE", "cpu"])
    model = build_model(cfg)
    if snapshot:
        load_checkpoint(snapshot, model=model)
    video = make_video((2021, 10), num_frames=frames, image_size=(360, 480))
    fr, box = [video.frame(i) for i in range(len(video))], video.gt[0].tolist()
    tracker = SiamCornersTracker(model.eval(), cfg, device="cpu")
    torch_default = torch.get_num_threads()
    idle_load = system_load()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hog, args=(3600.0,), daemon=True) for _ in range(hogs)]
    for p in procs:
        p.start()
    try:
        time.sleep(settle_s)
        choice = choose_threads(available_cores(), system_load(), 1)
        log(f"{hogs} busy processes running; default choice: {choice.describe()}")
        configs = {"default (thread policy)": choice.threads, "--threads 1": 1,
                   f"torch default ({torch_default} threads)": torch_default}
        times: dict[str, list[float]] = {k: [] for k in configs}
        names = list(configs)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                torch.set_num_threads(configs[name])
                times[name].append(tracking_run(tracker, fr, box, warmup)["median_s"])
            log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {1 / t[-1]:.1f} FPS" for n, t in times.items()))
        load_during = system_load()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()
        torch.set_num_threads(torch_default)
    one = times["--threads 1"]
    rows = [{"name": n, "threads": configs[n], "fps": 1.0 / statistics.median(t),
             "ratio_vs_1": statistics.median(a / b for a, b in zip(one, t))} for n, t in times.items()]
    return {"rows": rows, "choice": choice.describe(), "hogs": hogs, "frames": frames, "warmup": warmup,
            "rounds": rounds, "load_before": idle_load, "load_during": load_during, "cores": available_cores(),
            "machine": machine_info("cpu"), "cfg": cfg_path, "snapshot": snapshot or "random weights"}


def busy_markdown(r: Mapping[str, Any], command: str) -> str:
    """The ``docs/benchmarks.md`` section for a :func:`busy_benchmark` result."""
    m = r["machine"]
    lines = [
        "## Tracking speed on a busy machine (`tools/benchmark.py busy`)",
        "",
        f"Machine: {m['cpu']}; {r['cores']:g} cores available to the process; torch {m['torch']}. Load before the "
        f"run {r['load_before']:.1f}, during it {r['load_during']:.1f} (with {r['hogs']} CPU-bound processes started "
        f"by the benchmark).",
        "",
        f"Command: `{command}`",
        "",
        f"Model: `{r['cfg']}` ({r['snapshot']}), one synthetic 480x360 video of {r['frames']} frames, median frame "
        f"time after {r['warmup']} warm-up frames, {r['rounds']} interleaved rounds. Ratio = median over rounds of "
        f"the per-round speed against `--threads 1` (goal for the default: >= 0.80).",
        "",
        f"Default choice here: {r['choice']}.",
        "",
        "| threads | FPS | ratio vs --threads 1 |",
        "|---|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['name']} | {row['fps']:.1f} | {row['ratio_vs_1']:.2f}x |")
    lines.append("")
    return "\n".join(lines)
