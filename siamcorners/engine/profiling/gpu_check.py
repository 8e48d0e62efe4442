"""``tools/benchmark.py gpu-check``: every CUDA code path once, with a pass/fail line and a number each, and the GPU
rows of ``docs/benchmarks.md``.

Checks (each runs even when an earlier one failed; a failure is recorded with its one-line reason):

* ``amp_train_step`` — training step time with ``TRAIN.AMP`` (fp16 autocast + GradScaler) on the ResNet-50 profile,
  synthetic batches (:func:`siamcorners.engine.trainer.measure_train_step`), against fp32 in the same run;
* ``amp_trainer`` — two iterations of the real :class:`~siamcorners.engine.trainer.Trainer` loop with AMP on the
  tiny profile (data loader, scaler, checkpoint written);
* ``nccl_ddp_step`` — a one-process NCCL process group, the model wrapped in DistributedDataParallel, one
  forward/backward; its gradients must equal a plain step's (DDP averages over one rank: no change);
* ``cuda_events`` — the CUDA-event stage clock of the speed benchmark against synchronised wall time;
* ``device_crop`` — :func:`siamcorners.data.device_crops.search_crop_device` on the GPU against the CPU crop
  (inside and partly outside the frame);
* ``speed`` — the tracking speed benchmark on CUDA (CUDA-event stage timing, FPS per switch incl. AMP fp16 and
  DEVICE_CROP, batched multi-video tracking), rendered as the GPU speed section;
* ``onnxruntime`` — when ONNX Runtime offers the CUDA or TensorRT execution provider: the search branch (backbone +
  neck) exported to ONNX and run there, against eager CUDA outputs and time.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
import traceback
from typing import Any, Callable, Mapping

import numpy as np
import torch

__all__ = ["NoCudaError", "run_gpu_check", "gpu_markdown", "GPU_BEGIN", "GPU_END"]

GPU_BEGIN = "<!-- gpu:begin (written by tools/benchmark.py gpu-check) -->"
GPU_END = "<!-- gpu:end -->"
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TINY_CFG = os.path.join(_ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")


class NoCudaError(RuntimeError):
    """No usable CUDA device: the check cannot run here."""


def _require_cuda(device: str) -> torch.device:
    if not torch.cuda.is_available():
        raise NoCudaError(f"no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}, built "
                          f"with CUDA {torch.version.cuda or 'none'}); gpu-check needs a GPU, nothing was run")
    dev = torch.device(device)
    if dev.type != "cuda":
        raise NoCudaError(f"gpu-check needs a CUDA device, got {device!r}")
    index = dev.index if dev.index is not None else 0
    if index >= torch.cuda.device_count():
        raise NoCudaError(f"{device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return torch.device("cuda", index)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg(path: str | None, opts: list[str]):
    from ...config import load_config

    return load_config(path, opts)


SYNTHETIC_TRAIN = ["DATASET.NAMES", "[SYNTHETIC]", "DATASET.VIDEOS_PER_EPOCH", "64", "TRAIN.NUM_WORKERS", "0"]


# ------------------------------------------------------------------------------------------------- checks
def check_amp_train_step(dev: torch.device, batch: int = 8, iters: int = 5, cfg_path: str | None = None,
                         opts: tuple = (), warmup: int = 2) -> dict[str, Any]:
    from ..trainer import measure_train_step

    out = {}
    for amp in ("false", "true"):
        cfg = _cfg(cfg_path, SYNTHETIC_TRAIN + ["DEVICE", str(dev), "TRAIN.BATCH_SIZE", str(batch), "TRAIN.AMP", amp]
                   + list(opts))
        r = measure_train_step(cfg, iters=iters, warmup=warmup, device=str(dev))
        out["amp" if amp == "true" else "fp32"] = r["ms_per_step_median"]
    name = "ResNet-50 profile" if cfg_path is None else os.path.basename(os.path.dirname(cfg_path))
    return {"ok": True, "detail": f"{name}, batch {batch}: fp32 {out['fp32']:.1f} ms/step, "
                                  f"AMP fp16 {out['amp']:.1f} ms/step ({out['fp32'] / out['amp']:.2f}x)", **out}


def check_amp_trainer(dev: torch.device) -> dict[str, Any]:
    from ..trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = _cfg(TINY_CFG, ["OUTPUT_DIR", tmp, "DEVICE", str(dev), "TRAIN.AMP", "true", "TRAIN.EPOCHS", "1",
                              "TRAIN.BATCH_SIZE", "8", "DATASET.VIDEOS_PER_EPOCH", "16", "TRAIN.NUM_WORKERS", "0",
                              "TRAIN.CHECKPOINT_ITERS", "0"])
        seen: list[float] = []
        trainer = Trainer(cfg, progress=False, step_callback=lambda t, e, i, v: seen.append(float(v["total"])))
        try:
            trainer.train()
        finally:
            trainer.close()
        saved = sorted(os.listdir(os.path.join(tmp, "snapshot")))
    ok = len(seen) == 2 and all(np.isfinite(seen)) and any(n.endswith(".pth") for n in saved)
    return {"ok": ok, "detail": f"tiny profile, 2 iterations, losses {', '.join(f'{v:.3f}' for v in seen)}; "
                                f"snapshot: {', '.join(saved) or 'none'}"}


def _training_batch(cfg, dev: torch.device, batch: int) -> dict[str, torch.Tensor]:
    from torch.utils.data import DataLoader

    from ...data.datasets import build_train_dataset

    b = next(iter(DataLoader(build_train_dataset(cfg, 0), batch_size=batch, shuffle=False, num_workers=0)))
    b.pop("skipped", None)
    return {k: v.to(dev) for k, v in b.items()}


def check_nccl_ddp_step(dev: torch.device) -> dict[str, Any]:
    import torch.distributed as dist
    from torch import nn

    from ...models import build_model

    backend = "nccl" if dev.type == "cuda" else "gloo"  # gloo: the same code path checked on a CPU machine
    if backend == "nccl" and not dist.is_nccl_available():
        return {"ok": False, "detail": "this torch build has no NCCL"}
    cfg = _cfg(TINY_CFG, ["DEVICE", str(dev)] + SYNTHETIC_TRAIN)
    torch.manual_seed(0)
    plain = build_model(cfg).to(dev).train()
    ddp_model = build_model(cfg).to(dev).train()
    ddp_model.load_state_dict(plain.state_dict())
    batch = _training_batch(cfg, dev, 4)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    started = not dist.is_initialized()
    if started:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        ids = [dev.index] if dev.type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel(ddp_model, device_ids=ids, output_device=ids[0] if ids else None)
        _sync(dev)
        t0 = time.perf_counter()
        ddp(batch)["total"].backward()
        _sync(dev)
        step_ms = (time.perf_counter() - t0) * 1e3
        probe = torch.ones(1, device=dev)
        dist.all_reduce(probe)
        plain(batch)["total"].backward()
        diffs = [float((a.grad - b.grad).abs().max()) for a, b in zip(plain.parameters(), ddp_model.parameters())
                 if a.grad is not None and b.grad is not None]
    finally:
        if started:
            dist.destroy_process_group()
    diff = max(diffs) if diffs else float("nan")
    ok = bool(diffs) and diff <= 1e-3 and float(probe.item()) == 1.0
    return {"ok": ok, "detail": f"1 process, backend {backend}: forward+backward {step_ms:.1f} ms, all_reduce ok, "
                                f"max |grad(DDP) - grad(plain)| = {diff:.2g} over {len(diffs)} tensors"}


def check_cuda_events(dev: torch.device) -> dict[str, Any]:
    """The speed benchmark's CUDA-event stage clock against synchronised wall time on the same work."""
    from .speed import StageClock

    a = torch.randn(2048, 2048, device=dev)
    clock = StageClock(dev)
    for _ in range(3):  # warm-up, then the measured pass
        _sync(dev)
        t0 = time.perf_counter()
        clock.start()
        for _ in range(20):
            a = torch.tanh(a @ a) * 0.5
        clock("matmul")
        stages = clock.finish()  # synchronises
        wall = time.perf_counter() - t0
    ratio = stages["matmul"] / wall
    return {"ok": 0.5 <= ratio <= 1.05, "detail": f"20 matmuls 2048^2: events {stages['matmul'] * 1e3:.2f} ms, "
                                                  f"wall {wall * 1e3:.2f} ms (ratio {ratio:.2f})"}


def check_device_crop(dev: torch.device) -> dict[str, Any]:
    from ...data.crops import search_crop
    from ...data.device_crops import search_crop_device

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (360, 480, 3), dtype=np.uint8)
    avg = frame.reshape(-1, 3).mean(0)
    worst = 0.0
    cases = [((240.0, 180.0), 200), ((30.0, 20.0), 300), ((470.0, 350.0), 180), ((240.0, 180.0), 255)]
    for center, side in cases:
        cpu = search_crop(frame, center, side, avg, 255).astype(np.float32)  # (255, 255, 3)
        gpu = search_crop_device(frame, center, side, avg, 255, dev)[0].permute(1, 2, 0).cpu().numpy()
        worst = max(worst, float(np.abs(cpu - gpu).max()))
    return {"ok": worst <= 1.0, "detail": f"{len(cases)} windows (inside, corners, unscaled): max |GPU - CPU| = "
                                          f"{worst:.2g} grey levels (bit-identical on the CPU; <= 1 accepted)"}


def check_speed(dev: torch.device, video: str | None, frames: int, rounds: int, cfg_path: str | None = None,
                opts: tuple = (), warmup: int = 2, batch_videos: int = 4) -> dict[str, Any]:
    from .speed import run_speed_benchmark, speed_markdown

    r = run_speed_benchmark(cfg_path, list(opts), str(dev), video, frames=frames, warmup=warmup,
                            batch_videos=batch_videos, rounds=rounds)
    text = speed_markdown(r, "python tools/benchmark.py gpu-check")
    base = next(row for row in r["table"] if row["name"] == "baseline")
    fps = ", ".join(f"{v}: {base['videos'][v]['fps']:.1f} FPS" for v in r["videos"])
    b = r["batched"]["baseline"]
    return {"ok": True, "detail": f"baseline {fps}; batched x{r['batch_videos']}: {b['ratio']:.2f}x "
                                  f"(max box diff {b['max_abs_px']:.2g} px)", "markdown": text}


class _SearchBranch(torch.nn.Module):
    """Backbone + neck of a SiamCorners model: x (1, 3, 255, 255) -> per level (1, C, 31, 31)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return tuple(self.model.search_features(x))


def check_onnxruntime(dev: torch.device, wanted: tuple = ("TensorrtExecutionProvider", "CUDAExecutionProvider"),
                      opts: tuple = ()) -> dict[str, Any]:
    try:
        import onnxruntime as ort
    except ImportError:
        return {"ok": None, "detail": "onnxruntime not installed (extra `onnx`): skipped"}
    available = ort.get_available_providers()
    providers = [p for p in wanted if p in available]
    if not providers:
        return {"ok": None, "detail": f"ONNX Runtime {ort.__version__} has no CUDA/TensorRT provider "
                                      f"({', '.join(available)}; install onnxruntime-gpu): skipped"}
    from .speed import conditioned_random_model
    from ...models import build_model

    cfg = _cfg(None, ["DEVICE", str(dev)] + list(opts))
    torch.manual_seed(0)
    model = build_model(cfg)
    z, x = torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    model = conditioned_random_model(model, z, x).to(dev).eval()
    branch = _SearchBranch(model).eval()
    xd = x.to(dev)
    with torch.no_grad():
        eager = [t.float().cpu().numpy() for t in branch(xd)]
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(10):
            branch(xd)
        _sync(dev)
        eager_ms = (time.perf_counter() - t0) * 100
    details = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "search.onnx")
        torch.onnx.export(branch, (xd,), path, input_names=["search"],
                          output_names=[f"level{lv}" for lv in cfg.MODEL.LEVELS], opset_version=17, dynamo=False)
        for provider in providers:
            gpu = {"device_id": dev.index or 0}
            chain = [(provider, gpu if provider != "CPUExecutionProvider" else {})]
            if provider == "TensorrtExecutionProvider":
                chain.append(("CUDAExecutionProvider", gpu))
            try:
                sess = ort.InferenceSession(path, providers=[p for p, _ in chain],
                                            provider_options=[o for _, o in chain])
            except Exception as e:  # e.g. TensorRT libraries missing: report, try the next provider
                ok = False
                details.append(f"{provider}: session failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
                continue
            feed = {"search": x.numpy()}
            outs = sess.run(None, feed)
            t0 = time.perf_counter()
            for _ in range(10):
                sess.run(None, feed)
            ms = (time.perf_counter() - t0) * 100
            scale = max(float(np.abs(e).max()) for e in eager)
            err = max(float(np.abs(o - e).max()) for o, e in zip(outs, eager)) / max(scale, 1e-12)
            used = sess.get_providers()[0]
            ok = ok and used == provider and err <= 1e-2
            details.append(f"{provider} (session uses {used}): {ms:.2f} ms vs eager {eager_ms:.2f} ms, "
                           f"max error {err:.2g} of the output range")
    name = "ResNet-50" if not opts else cfg.MODEL.BACKBONE.TYPE
    return {"ok": ok, "detail": f"backbone+neck search branch, {name}: " + "; ".join(details)}


# ------------------------------------------------------------------------------------------------ runner
def run_gpu_check(device: str = "cuda", video: str | None = None, frames: int = 30, rounds: int = 3,
                  log: Callable[[str], None] = print, debug: bool = False) -> dict[str, Any]:
    """Run every check (see the module docstring); raises :class:`NoCudaError` when there is no GPU."""
    from .speed import machine_info

    dev = _require_cuda(device)
    checks: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("amp_train_step", lambda: check_amp_train_step(dev)),
        ("amp_trainer", lambda: check_amp_trainer(dev)),
        ("nccl_ddp_step", lambda: check_nccl_ddp_step(dev)),
        ("cuda_events", lambda: check_cuda_events(dev)),
        ("device_crop", lambda: check_device_crop(dev)),
        ("speed", lambda: check_speed(dev, video, frames, rounds)),
        ("onnxruntime", lambda: check_onnxruntime(dev)),
    ]
    results: dict[str, dict[str, Any]] = {}
    for name, fn in checks:
        log(f"[gpu-check] {name} ...")
        t0 = time.perf_counter()
        try:
            res = fn()
        except Exception as e:  # one failing path must not hide the others
            res = {"ok": False, "detail": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
            if debug:
                traceback.print_exc()
        res["seconds"] = time.perf_counter() - t0
        results[name] = res
        status = {True: "PASS", False: "FAIL", None: "SKIP"}[res["ok"]]
        log(f"[gpu-check] {name}: {status} ({res['seconds']:.0f} s) {res['detail']}")
    return {"machine": machine_info(dev), "device": str(dev), "results": results,
            "gpu_memory_gib": torch.cuda.get_device_properties(dev).total_memory / 2 ** 30,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def gpu_markdown(r: Mapping[str, Any], command: str) -> str:
    """The GPU section of ``docs/benchmarks.md`` for a :func:`run_gpu_check` result."""
    m = r["machine"]
    lines = [
        "## GPU (`tools/benchmark.py gpu-check`)",
        "",
        f"GPU: {m['gpu']} ({r['gpu_memory_gib']:.0f} GiB), CUDA {r['cuda']}, cuDNN {r['cudnn']}; CPU {m['cpu']}; "
        f"torch {m['torch']}.",
        "",
        f"Command: `{command}`",
        "",
        "| CUDA path | result | numbers |",
        "|---|---|---|",
    ]
    for name, res in r["results"].items():
        status = {True: "pass", False: "**FAIL**", None: "skipped"}[res["ok"]]
        lines.append(f"| {name} | {status} | {res['detail']} |")
    speed = r["results"].get("speed", {}).get("markdown")
    if speed:
        demoted = "\n".join(("#" + line) if line.startswith("#") else line for line in speed.splitlines())
        lines += ["", demoted]
    lines.append("")
    return "\n".join(lines)
