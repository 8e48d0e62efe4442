"""``tools/benchmark.py gpu-check``: every CUDA path a researcher's first GPU run takes, each row asserting what it
claims, and the GPU rows of ``docs/benchmarks.md``.

A row is a function ``row(ctx) -> Row`` (status ``ok`` / ``fail`` / ``skip`` and a one-line reason with its
numbers); it *measures* on the GPU and hands the numbers to a pure ``judge_*`` function, so that the pass rules are
tested on the CPU (``tests/test_gpu_check.py``). A row that did not run on a CUDA device fails: a CPU stand-in never
counts. Every row runs even when an earlier one failed; the command exits 1 naming the failing rows.

Rows (the tolerances are the module constants below):

* ``amp_training`` - :class:`~siamcorners.engine.trainer.Trainer` with ``TRAIN.AMP`` (fp16 autocast + GradScaler),
  ResNet-50 profile, ``AMP_STEPS`` steps on one real batch of 8 training pairs (our data pipeline on the synthetic
  source): autocast produced fp16, every loss finite, the scaler lowered its scale on at most ``MAX_SCALE_DROPS``
  steps and ends >= ``MIN_SCALE``, and the batch's AMP loss equals its fp32 loss within ``AMP_LOSS_RTOL``;
* ``resume`` - an AMP run of the tiny profile stopped after 2 steps (mid-epoch ``last.pth``) and resumed on the GPU:
  starts at iteration 2 with the saved GradScaler scale and the optimizer state on the GPU, and its next 2 losses
  equal an uninterrupted run's within ``RESUME_RTOL``;
* ``nccl_2rank`` - with >= 2 visible GPUs, 2 NCCL ranks of the Trainer with ``TRAIN.SYNC_BN``,
  ``TRAIN.GRAD_REDUCE sum`` and the backbone unfreezing at epoch 1 (DDP re-wrapped): SyncBatchNorm in the model,
  loss scale 2, weights equal on both ranks after every step, backbone gradients only after the unfreeze;
  skipped (with the reason) on one GPU;
* ``cuda_events`` - the speed benchmark's CUDA-event clock within [0.5, 1.05] of synchronised wall time;
* ``device_crop`` - the GPU search crop within 1 grey level of the CPU crop;
* ``amp_fp16_tracking`` / ``amp_bf16_tracking`` - ``INFERENCE.AMP fp16`` / ``bf16`` against fp32 on the shipped
  tiny model, every frame on the same search crop (the fp32 tracker's state): autocast ran in that dtype, all
  boxes finite, within ``BOX_TOL_PX`` (fp16 1 px, bf16 2 px) of fp32 on >= ``BOX_AGREE_SHARE`` (90 %) of the frames;
* ``onnxruntime`` - our backend (``INFERENCE.BACKEND onnxruntime``, export on first use) on the GPU: its sessions
  run on ONNX Runtime's CUDA provider, boxes within 1 px of eager fp32 as above; skipped without onnxruntime-gpu;
* ``tensorrt`` - the same with ``INFERENCE.TENSORRT`` (engines cached beside the export); skipped when ONNX
  Runtime has no TensorRT provider or the TensorRT libraries are not found;
* ``test_workers`` - ``run_benchmark`` (what ``tools/test.py --workers 2 --gpus ...`` runs): 2 worker processes
  build the tiny tracker on the GPU(s) and write the same boxes as one process, within ``WORKERS_TOL_PX``;
* ``speed`` - the tracking speed benchmark on CUDA (its markdown is the GPU speed section), every FPS finite and
  > 0, and the default ResNet-50 tracker on the GPU >= ``GPU_SPEEDUP_FLOOR`` x the same tracker on this machine's
  CPU (same frames).

Time (estimate from the work done, not measured yet): about 4 minutes on one H100 (speed ~2 min, the two test
workers and the ONNX export ~1 min, the rest seconds); TensorRT adds its engine builds (minutes, once per export).
"""
from __future__ import annotations

import copy
import ctypes.util
import importlib.util
import json
import math
import os
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

__all__ = ["NoCudaError", "Row", "CheckContext", "ROWS", "run_gpu_check", "failed_rows", "gpu_markdown",
           "GPU_BEGIN", "GPU_END", "judge_amp_training", "judge_resume", "judge_nccl", "judge_box_agreement", "judge_workers", "judge_speed"]

GPU_BEGIN = "<!-- gpu:begin (written by tools/benchmark.py gpu-check) -->"
GPU_END = "<!-- gpu:end -->"
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TINY_DIR = os.path.join(_ROOT, "experiments", "siamcorners_tiny_synthetic")
TINY_CFG = os.path.join(TINY_DIR, "config.yaml")
TINY_MODEL = os.path.join(TINY_DIR, "model.pth")

AMP_STEPS = 50           # AMP training steps on one batch
MAX_SCALE_DROPS = 5      # GradScaler halvings allowed in them (each = a skipped step: inf/NaN gradients)
MIN_SCALE = 2.0 ** 10    # the scale may not collapse below this (it starts at 2 ** 16)
AMP_LOSS_RTOL = 0.02     # |AMP loss - fp32 loss| / |fp32 loss| on the same batch and weights
RESUME_RTOL = 1e-3       # resumed losses vs an uninterrupted run (cuDNN backward is not bit-deterministic)
BOX_TOL_PX = {"fp16": 1.0, "bf16": 2.0, "fp32": 1.0}  # vs eager fp32, same crop: box within this (pixels) ...
BOX_AGREE_SHARE = 0.9    # ... on at least this share of the frames (a near-tie of two candidates may flip a pick).
# Calibrated with CPU autocast on the tiny model, bag.avi + 2 synthetic videos, 56 frames: fp16 100 % within 1 px
# (median 0.003, max 0.99 px), bf16 96 % within 1 px (median 0.03, 90th percentile 0.94, max 4.5 px).
WORKERS_TOL_PX = 0.05    # worker processes vs one process, same device and code
GPU_SPEEDUP_FLOOR = 3.0  # default R50 tracker: GPU FPS / CPU FPS of the same machine, same frames


class NoCudaError(RuntimeError):
    """No usable CUDA device: the check cannot run here."""


@dataclass(frozen=True)
class Row:
    """One row's verdict: ``status`` "ok", "fail" or "skip"; ``reason`` what was checked (numbers), or why not."""

    status: str
    reason: str
    markdown: str | None = None


def ok(reason: str, markdown: str | None = None) -> Row:
    return Row("ok", reason, markdown)


def fail(reason: str, markdown: str | None = None) -> Row:
    return Row("fail", reason, markdown)


def skip(reason: str) -> Row:
    return Row("skip", reason)


@dataclass
class CheckContext:
    """What the rows share: the device, the speed part's video/frames/rounds, and sizes a CPU test may shrink."""

    dev: torch.device
    video: str | None = None
    frames: int = 30
    rounds: int = 3
    amp_steps: int = AMP_STEPS
    amp_profile: list[str] = field(default_factory=list)  # config overrides of the amp_training model (R50: none)
    tmp: str = ""


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


def _gpu_info(dev: torch.device) -> dict[str, Any]:
    from .speed import machine_info

    memory = torch.cuda.get_device_properties(dev).total_memory / 2 ** 30
    return {"machine": machine_info(dev), "gpu_memory_gib": memory,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg(path: str | None, opts: Sequence[str]):
    from ...config import load_config

    return load_config(path, list(opts))


def _not_cuda(device: str) -> str | None:
    if str(device).startswith("cuda"):
        return None
    return f"ran on {device}, not a CUDA device: a CPU stand-in proves nothing"


def _conv_dtypes(model: torch.nn.Module) -> tuple[set, list]:
    """Forward hooks on every Conv2d of ``model`` collecting their output dtypes (what autocast made of them)."""
    seen: set = set()
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.add(o.dtype)) for m in model.modules()
             if isinstance(m, torch.nn.Conv2d)]
    return seen, hooks


# ------------------------------------------------------------------------------------------- amp_training
class _Repeated(torch.utils.data.Dataset):
    """``items`` over and over, ``length`` in all (one real batch, every step)."""

    def __init__(self, items: list, length: int):
        self.items, self.length = items, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        return self.items[i % len(self.items)]


def judge_amp_training(m: Mapping[str, Any]) -> Row:
    """``m``: device, steps (asked), losses and scales (after each step), initial_scale, conv_dtypes (convolution
    outputs under the Trainer's autocast), loss_fp32 / loss_amp (same batch and weights), error (a stop, or None)."""
    bad = _not_cuda(m["device"])
    if bad:
        return fail(bad)
    if torch.float16 not in m["conv_dtypes"]:
        return fail(f"AMP was not active: the convolutions produced {sorted(map(str, m['conv_dtypes']))} under the "
                    f"Trainer's autocast (TRAIN.AMP true should give torch.float16)")
    if m.get("error"):
        return fail(f"training stopped after {len(m['losses'])} of {m['steps']} AMP steps: {m['error']}")
    losses, scales = list(m["losses"]), list(m["scales"])
    if len(losses) < m["steps"]:
        return fail(f"only {len(losses)} of {m['steps']} AMP steps ran")
    if not all(math.isfinite(v) for v in losses):
        k = next(i for i, v in enumerate(losses) if not math.isfinite(v))
        return fail(f"loss {losses[k]} at AMP step {k + 1} of {len(losses)}")
    history = [m["initial_scale"]] + scales
    drops = sum(b < a for a, b in zip(history, history[1:]))
    if drops > MAX_SCALE_DROPS:
        return fail(f"the GradScaler lowered its scale on {drops} of {len(scales)} steps (> {MAX_SCALE_DROPS}: "
                    f"inf/NaN gradients, those steps were skipped); scale {history[0]:g} -> {history[-1]:g}")
    if history[-1] < MIN_SCALE:
        return fail(f"the GradScaler's scale collapsed: {history[0]:g} -> {history[-1]:g} (< {MIN_SCALE:g})")
    rel = abs(m["loss_amp"] - m["loss_fp32"]) / max(abs(m["loss_fp32"]), 1e-12)
    if not math.isfinite(rel) or rel > AMP_LOSS_RTOL:
        return fail(f"AMP loss {m['loss_amp']:.6g} vs fp32 {m['loss_fp32']:.6g} on the same batch and weights: "
                    f"relative difference {rel:.3g} > {AMP_LOSS_RTOL}")
    return ok(f"{len(losses)} fp16 AMP steps on one batch of 8: losses finite ({losses[0]:.4f} -> {losses[-1]:.4f}), "
              f"GradScaler scale {history[0]:g} -> {history[-1]:g} (lowered on {drops} steps, <= {MAX_SCALE_DROPS} "
              f"allowed); AMP vs fp32 loss on the batch: {rel:.2g} relative (<= {AMP_LOSS_RTOL})")


def measure_amp_training(ctx: CheckContext) -> dict[str, Any]:
    from ...data.datasets import build_train_dataset
    from ..distributed import unwrap_model
    from ..trainer import NonFiniteLossError, Trainer

    with tempfile.TemporaryDirectory(dir=ctx.tmp or None) as tmp:
        cfg = _cfg(None, ["DEVICE", str(ctx.dev), "OUTPUT_DIR", tmp,
                          "DATASET.NAMES", "[SYNTHETIC]", "TRAIN.AMP", "true", "TRAIN.BATCH_SIZE", "8",
                          "TRAIN.EPOCHS", "1", "TRAIN.NUM_WORKERS", "0", "TRAIN.CHECKPOINT_ITERS", "0",
                          "TRAIN.STOP_AFTER_ITERS", str(ctx.amp_steps), "TRAIN.PRINT_FREQ", "1000"]
                   + list(ctx.amp_profile))
        source = build_train_dataset(cfg, 0)
        items = [source[i] for i in range(8)]  # one real batch: pairs, heat maps, offsets from our data pipeline
        losses: list[float] = []
        scales: list[float] = []
        trainer = Trainer(cfg, progress=False,
                          dataset_builder=lambda c, e: _Repeated(items, 8 * ctx.amp_steps),
                          step_callback=lambda t, e, i, v: (losses.append(float(v["total"])),
                                                            scales.append(float(t.scaler.get_scale()))))
        try:
            model = unwrap_model(trainer.model)
            batch = {k: v.to(ctx.dev) for k, v in torch.utils.data.default_collate(items).items() if k != "skipped"}
            ref = copy.deepcopy(model).train()  # the fp32 / AMP loss pair on a copy (BN statistics stay untouched)
            with torch.no_grad():
                loss_fp32 = float(ref(batch)["total"])
                with torch.autocast(device_type=ctx.dev.type, dtype=torch.float16, enabled=trainer.amp):
                    loss_amp = float(ref(batch)["total"])
            del ref
            seen, hooks = _conv_dtypes(model)
            initial = float(trainer.scaler.get_scale()) if trainer.scaler.is_enabled() else 1.0
            error = None
            try:
                trainer.train()
            except NonFiniteLossError as e:
                error = str(e).splitlines()[0]
            for h in hooks:
                h.remove()
        finally:
            trainer.close()
    return {"device": str(ctx.dev), "steps": ctx.amp_steps, "losses": losses, "scales": scales,
            "initial_scale": initial, "conv_dtypes": seen, "loss_fp32": loss_fp32,
            "loss_amp": loss_amp, "error": error}


def row_amp_training(ctx: CheckContext) -> Row:
    return judge_amp_training(measure_amp_training(ctx))


# ------------------------------------------------------------------------------------------------ resume
def _resume_opts(dev: torch.device, out: str, stop: int) -> list[str]:
    return ["DEVICE", str(dev), "OUTPUT_DIR", out, "TRAIN.AMP", "true", "TRAIN.EPOCHS", "1", "TRAIN.BATCH_SIZE", "4",
            "DATASET.VIDEOS_PER_EPOCH", "32", "TRAIN.NUM_WORKERS", "0", "TRAIN.CHECKPOINT_ITERS", "2",
            "TRAIN.STOP_AFTER_ITERS", str(stop), "TRAIN.PRINT_FREQ", "1000"]


def _train_losses(cfg, resume: str = "") -> dict[str, Any]:
    from ..trainer import Trainer

    losses: list[float] = []
    trainer = Trainer(cfg, resume=resume, progress=False,
                      step_callback=lambda t, e, i, v: losses.append(float(v["total"])))
    try:
        start = (trainer.start_epoch, trainer.start_iter)
        scale = float(trainer.scaler.get_scale()) if trainer.scaler.is_enabled() else None
        devices = sorted({v.device.type for st in trainer.optimizer.state.values() for v in st.values()
                          if torch.is_tensor(v)})
        trainer.train()
        end_scale = float(trainer.scaler.get_scale()) if trainer.scaler.is_enabled() else None
        amp = trainer.amp
    finally:
        trainer.close()
    return {"losses": losses, "start": start, "scale": scale, "end_scale": end_scale, "state_devices": devices,
            "amp": amp}


def judge_resume(m: Mapping[str, Any]) -> Row:
    """``m``: device, first / resumed / straight (runs of :func:`_train_losses`: 2 steps, 2 more resumed from the
    first's ``last.pth``, 4 uninterrupted)."""
    bad = _not_cuda(m["device"])
    if bad:
        return fail(bad)
    first, resumed, straight = m["first"], m["resumed"], m["straight"]
    if not resumed["amp"]:
        return fail("TRAIN.AMP was not active in the resumed run (no GradScaler state to restore)")
    if tuple(resumed["start"]) != (0, 2):
        return fail(f"resumed at epoch/iteration {tuple(resumed['start'])}, expected (0, 2) from the mid-epoch "
                    f"last.pth")
    if resumed["scale"] != first["end_scale"]:
        return fail(f"GradScaler scale after resume {resumed['scale']} != saved {first['end_scale']}")
    if resumed["state_devices"] != ["cuda"]:
        return fail(f"optimizer state after resume on {resumed['state_devices'] or 'nothing'}, expected cuda")
    a, b = np.asarray(resumed["losses"], float), np.asarray(straight["losses"][2:4], float)
    if a.shape != (2,) or b.shape != (2,):
        return fail(f"resumed run made {a.size} steps, the uninterrupted run {len(straight['losses'])} (need 2 and 4)")
    rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
    if not np.all(np.isfinite(a)) or rel > RESUME_RTOL:
        return fail(f"resumed losses {a.round(6).tolist()} vs uninterrupted {b.round(6).tolist()}: relative "
                    f"difference {rel:.3g} > {RESUME_RTOL}")
    return ok(f"tiny profile with AMP: stopped after 2 steps, resumed on the GPU at iteration 2 with the saved "
              f"GradScaler scale ({resumed['scale']:g}) and optimizer state on cuda; steps 3-4 equal an "
              f"uninterrupted run's to {rel:.2g} relative (<= {RESUME_RTOL})")


def measure_resume(ctx: CheckContext) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=ctx.tmp or None) as tmp:
        run, ref = os.path.join(tmp, "run"), os.path.join(tmp, "straight")
        first = _train_losses(_cfg(TINY_CFG, _resume_opts(ctx.dev, run, 2)))
        resumed = _train_losses(_cfg(TINY_CFG, _resume_opts(ctx.dev, run, 2)), resume="auto")
        straight = _train_losses(_cfg(TINY_CFG, _resume_opts(ctx.dev, ref, 4)))
    return {"device": str(ctx.dev), "first": first, "resumed": resumed, "straight": straight}


def row_resume(ctx: CheckContext) -> Row:
    return judge_resume(measure_resume(ctx))


# -------------------------------------------------------------------------------------------- nccl_2rank
def _nccl_opts(out: str) -> list[str]:
    return ["DEVICE", "cuda", "OUTPUT_DIR", out, "TRAIN.EPOCHS", "2", "TRAIN.BATCH_SIZE", "4",
            "DATASET.VIDEOS_PER_EPOCH", "16", "TRAIN.NUM_WORKERS", "0", "TRAIN.CHECKPOINT_ITERS", "0",
            "TRAIN.SYNC_BN", "true", "TRAIN.GRAD_REDUCE", "sum", "TRAIN.BACKBONE_EPOCH", "1",
            "TRAIN.PRINT_FREQ", "1000"]


def _nccl_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank of the 2-rank job (``torch.multiprocessing.spawn``): the Trainer as under torchrun."""
    import torch.distributed as dist

    from ..distributed import unwrap_model
    from ..trainer import Trainer

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    steps = []

    def check(trainer, epoch, it, losses):
        model = unwrap_model(trainer.model)
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        backbone = [p.grad for p in model.backbone.parameters()]
        steps.append({"epoch": epoch, "iteration": it, "loss": float(losses["total"]),
                      "equal": all(torch.equal(gathered[0], g) for g in gathered),
                      "backbone_grads": sum(g is not None and bool(g.abs().sum() > 0) for g in backbone)})

    trainer = Trainer(_cfg(TINY_CFG, _nccl_opts(out)), progress=False, step_callback=check)
    try:
        trainer.train()
        record = {"rank": rank, "backend": trainer.info.backend, "loss_scale": trainer.loss_scale,
                  "sync_bn": sum(isinstance(m, torch.nn.SyncBatchNorm) for m in trainer.ddp.modules()),
                  "steps": steps}
    finally:
        trainer.close()
        if dist.is_initialized():
            dist.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)


def judge_nccl(records: Sequence[Mapping[str, Any]]) -> Row:
    """``records``: one per rank from :func:`_nccl_worker`."""
    if len(records) != 2:
        return fail(f"{len(records)} of 2 ranks reported")
    for r in records:
        where = f"rank {r['rank']}"
        if r["backend"] != "nccl":
            return fail(f"{where}: process group backend {r['backend']!r}, not nccl")
        if r["sync_bn"] < 1:
            return fail(f"{where}: no SyncBatchNorm in the wrapped model (TRAIN.SYNC_BN true)")
        if r["loss_scale"] != 2.0:
            return fail(f"{where}: loss scale {r['loss_scale']} for GRAD_REDUCE sum over 2 ranks, expected 2")
        epochs = sorted({s["epoch"] for s in r["steps"]})
        if epochs != [0, 1]:
            return fail(f"{where}: steps in epochs {epochs}, expected 0 and 1")
        unsynced = [(s["epoch"], s["iteration"]) for s in r["steps"] if not s["equal"]]
        if unsynced:
            return fail(f"{where}: weights differ between the ranks after steps {unsynced}")
        if not all(math.isfinite(s["loss"]) for s in r["steps"]):
            return fail(f"{where}: non-finite loss")
        frozen = [s for s in r["steps"] if s["epoch"] == 0 and s["backbone_grads"]]
        unfrozen = [s for s in r["steps"] if s["epoch"] == 1 and not s["backbone_grads"]]
        if frozen or unfrozen:
            return fail(f"{where}: backbone gradients before the unfreeze epoch or none after it (re-wrap)")
    n = len(records[0]["steps"])
    return ok(f"2 NCCL ranks, SyncBN ({records[0]['sync_bn']} layers), GRAD_REDUCE sum (loss x2), backbone "
              f"unfrozen at epoch 1 and DDP re-wrapped: weights equal on both ranks after all {n} steps")


def row_nccl(ctx: CheckContext) -> Row:
    import torch.distributed as dist
    import torch.multiprocessing as tmp_mp

    count = torch.cuda.device_count() if ctx.dev.type == "cuda" else 0
    if count < 2:
        return skip(f"{count} CUDA device(s) visible: the 2-rank NCCL job (SyncBN, GRAD_REDUCE sum, unfreeze "
                    f"re-wrap) needs 2")
    if not dist.is_nccl_available():
        return fail("this torch build has no NCCL")
    with tempfile.TemporaryDirectory(dir=ctx.tmp or None) as out:
        tmp_mp.spawn(_nccl_worker, args=(2, _free_port(), out), nprocs=2, join=True)
        records = []
        for rank in range(2):
            with open(os.path.join(out, f"rank{rank}.json")) as f:
                records.append(json.load(f))
    return judge_nccl(records)


# ------------------------------------------------------------------------------- cuda_events, device_crop
def row_cuda_events(ctx: CheckContext) -> Row:
    """The speed benchmark's CUDA-event stage clock against synchronised wall time on the same work."""
    from .speed import StageClock

    dev = ctx.dev
    bad = _not_cuda(str(dev))
    if bad:  # 20 GFLOP-sized matmuls are seconds on a GPU, minutes on a small CPU
        return fail(bad)
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
    text = (f"20 matmuls 2048^2: events {stages['matmul'] * 1e3:.2f} ms, wall {wall * 1e3:.2f} ms (ratio "
            f"{ratio:.2f}, [0.5, 1.05] accepted)")
    return ok(text) if 0.5 <= ratio <= 1.05 else fail(text)


def row_device_crop(ctx: CheckContext) -> Row:
    from ...data.crops import search_crop
    from ...data.device_crops import search_crop_device

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (360, 480, 3), dtype=np.uint8)
    avg = frame.reshape(-1, 3).mean(0)
    worst = 0.0
    cases = [((240.0, 180.0), 200), ((30.0, 20.0), 300), ((470.0, 350.0), 180), ((240.0, 180.0), 255)]
    for center, side in cases:
        cpu = search_crop(frame, center, side, avg, 255).astype(np.float32)  # (255, 255, 3)
        gpu = search_crop_device(frame, center, side, avg, 255, ctx.dev)[0].permute(1, 2, 0).cpu().numpy()
        worst = max(worst, float(np.abs(cpu - gpu).max()))
    text = f"{len(cases)} windows (inside, corners, unscaled): max |GPU - CPU| = {worst:.2g} grey levels (<= 1)"
    bad = _not_cuda(str(ctx.dev))
    return fail(bad) if bad else (ok(text) if worst <= 1.0 else fail(text))


# ----------------------------------------------------------------------- tracking: AMP, bf16, ORT, TensorRT
def _tiny_model(dev: torch.device):
    from ...models import build_model
    from ...models.checkpoint import load_checkpoint

    model = build_model(_cfg(TINY_CFG, []))
    load_checkpoint(TINY_MODEL, model=model)
    return model.to(dev).eval()


def _check_videos(video: str | None, frames: int) -> list[tuple[list[np.ndarray], list[float]]]:
    """bag.avi (when there) and two synthetic videos of the tiny model's kind."""
    from .speed import _synthetic_videos, load_video_frames

    videos = []
    if video and os.path.isfile(video):
        videos.append((load_video_frames(video, frames), [200.0, 120.0, 80.0, 100.0]))
    return videos + _synthetic_videos(2, frames)


def same_crop_box_diffs(reference: Any, other: Any, videos) -> tuple[np.ndarray, bool]:
    """Per frame, ``other`` put back on ``reference``'s state and both tracking it: max |box difference| (pixels)
    of each frame, and whether every box of ``other`` was finite."""
    diffs, finite = [], True
    for frames, box in videos:
        reference.init(frames[0], box)
        other.init(frames[0], box)
        for frame in frames[1:]:
            other.center, other.size = reference.center.copy(), reference.size.copy()
            a = np.asarray(reference.track(frame)["bbox"], float)
            b = np.asarray(other.track(frame)["bbox"], float)
            finite = finite and bool(np.all(np.isfinite(b)))
            diffs.append(float(np.max(np.abs(a - b))))
    return np.asarray(diffs), finite


def judge_box_agreement(m: Mapping[str, Any]) -> Row:
    """``m``: device, what (e.g. "INFERENCE.AMP fp16"), precision (a key of ``BOX_TOL_PX``, default fp32), diffs (per
    frame, px), finite; optionally dtypes / want_dtype (convolution output dtypes seen / the one autocast must have
    produced) and runs_on / want_runs_on (ONNX Runtime's provider)."""
    bad = _not_cuda(m["device"])
    if bad:
        return fail(bad)
    if "want_dtype" in m and m["want_dtype"] not in m.get("dtypes", ()):
        return fail(f"{m['what']}: the convolutions ran in {sorted(map(str, m.get('dtypes', ())))}, never in "
                    f"{m['want_dtype']}")
    if "want_runs_on" in m and m.get("runs_on") != m["want_runs_on"]:
        return fail(f"{m['what']}: sessions run on {m.get('runs_on')}, not {m['want_runs_on']}")
    diffs = np.asarray(m["diffs"], float)
    if diffs.size == 0:
        return fail(f"{m['what']}: no frame was compared")
    if not m["finite"] or not np.all(np.isfinite(diffs)):
        return fail(f"{m['what']}: non-finite boxes")
    tol = BOX_TOL_PX[m.get("precision", "fp32")]
    share = float(np.mean(diffs <= tol))
    text = (f"{m['what']} vs eager fp32, same crop on {diffs.size} frames: within {tol:g} px on "
            f"{100 * share:.0f} % (>= {100 * BOX_AGREE_SHARE:.0f} % required), median {np.median(diffs):.3g} px, "
            f"max {diffs.max():.3g} px")
    return ok(text) if share >= BOX_AGREE_SHARE else fail(text)


def _tracker(model, dev: torch.device, opts: Sequence[str]):
    from ...tracker import SiamCornersTracker

    return SiamCornersTracker(model, _cfg(TINY_CFG, ["DEVICE", str(dev)] + list(opts)), device=str(dev))


def measure_amp_tracking(ctx: CheckContext, amp: str) -> dict[str, Any]:
    model = _tiny_model(ctx.dev)
    videos = _check_videos(ctx.video, min(ctx.frames, 30))
    reference = _tracker(model, ctx.dev, [])
    other = _tracker(model, ctx.dev, ["INFERENCE.AMP", amp])
    seen, hooks = _conv_dtypes(other.model if isinstance(other.model, torch.nn.Module) else model)
    try:
        diffs, finite = same_crop_box_diffs(reference, other, videos)
    finally:
        for h in hooks:
            h.remove()
    want = {"fp16": torch.float16, "bf16": torch.bfloat16}[amp]
    return {"device": str(ctx.dev), "what": f"INFERENCE.AMP {amp} (tiny model)", "precision": amp, "diffs": diffs,
            "finite": finite, "dtypes": seen, "want_dtype": want}


def row_amp_tracking(ctx: CheckContext, amp: str) -> Row:
    return judge_box_agreement(measure_amp_tracking(ctx, amp))


def _ort_row(ctx: CheckContext, tensorrt: bool) -> Row:
    try:
        import onnxruntime as ort
    except ImportError:
        return skip("onnxruntime not installed (pip install onnxruntime-gpu)")
    from ...models.runtime.onnxrt import ProviderError

    wanted = "TensorrtExecutionProvider" if tensorrt else "CUDAExecutionProvider"
    if wanted not in ort.get_available_providers():
        return skip(f"ONNX Runtime {ort.__version__} has no {wanted} ({', '.join(ort.get_available_providers())})")
    if tensorrt and ctypes.util.find_library("nvinfer") is None and importlib.util.find_spec("tensorrt") is None:
        return skip("TensorRT libraries not found (no libnvinfer, no tensorrt package)")
    model = _tiny_model(ctx.dev)
    videos = _check_videos(ctx.video, min(ctx.frames, 30))
    with tempfile.TemporaryDirectory(dir=ctx.tmp or None) as cache:
        opts = ["INFERENCE.BACKEND", "onnxruntime", "INFERENCE.ONNX_CACHE", cache, "INFERENCE.WINOGRAD", "false",
                "INFERENCE.TENSORRT", str(tensorrt).lower()]
        try:
            other = _tracker(model, ctx.dev, opts)
            diffs, finite = same_crop_box_diffs(_tracker(model, ctx.dev, []), other, videos)
        except ProviderError as e:
            return fail(str(e))
        runs_on = other.model._search_sess.get_providers()[0]
        engines = sum(len(files) for folder, _, files in os.walk(cache)
                      if os.path.basename(folder) == "tensorrt") if tensorrt else None
    m = {"device": str(ctx.dev), "what": f"onnxruntime backend, {wanted} (tiny model)", "diffs": diffs,
         "finite": finite, "runs_on": runs_on, "want_runs_on": wanted}
    row = judge_box_agreement(m)
    if tensorrt and row.status == "ok" and not engines:
        return fail("TensorRT ran but wrote no engine into <export>/tensorrt/ (trt_engine_cache_enable)")
    return row


def row_onnxruntime(ctx: CheckContext) -> Row:
    return _ort_row(ctx, tensorrt=False)


def row_tensorrt(ctx: CheckContext) -> Row:
    return _ort_row(ctx, tensorrt=True)


# ------------------------------------------------------------------------------------------- test_workers
class _DeviceCheckedFactory:
    """The tiny SiamCorners tracker factory of ``tools/test.py``, refusing a tracker whose model is not on the
    device it was given (picklable for the worker processes)."""

    def __init__(self, opts: Sequence[str]):
        from ..tester import SiamCornersFactory

        self.inner = SiamCornersFactory(TINY_CFG, TINY_MODEL, list(opts))

    def __call__(self, device: str):
        tracker = self.inner(device)
        net = tracker.model
        params = list(net.parameters()) if isinstance(net, torch.nn.Module) else []
        where = params[0].device if params else torch.device(tracker.device)
        if where.type != "cuda" or torch.device(device).type != "cuda":
            raise RuntimeError(f"the tracker for {device} runs on {where}, not a CUDA device")
        return tracker


def judge_workers(m: Mapping[str, Any]) -> Row:
    """``m``: device, devices (of the workers), videos, error (WorkerError line or None), max_diff (px, workers vs
    one process)."""
    bad = _not_cuda(m["device"])
    if bad:
        return fail(bad)
    if m.get("error"):
        return fail(m["error"])
    if not math.isfinite(m["max_diff"]) or m["max_diff"] > WORKERS_TOL_PX:
        return fail(f"2 worker processes vs one process: boxes differ by {m['max_diff']:.3g} px "
                    f"(> {WORKERS_TOL_PX})")
    return ok(f"2 worker processes on {', '.join(m['devices'])} tracked {m['videos']} videos: boxes equal one "
              f"process's to {m['max_diff']:.2g} px (<= {WORKERS_TOL_PX})")


def measure_test_workers(ctx: CheckContext) -> dict[str, Any]:
    from ...benchmarks import load_dataset
    from ...benchmarks.results import read_result
    from ...data.synthetic import write_otb_dataset
    from ..tester import WorkerError, run_benchmark

    devices = ([f"cuda:{i}" for i in range(torch.cuda.device_count())] if ctx.dev.type == "cuda"
               else [str(ctx.dev)])
    factory = _DeviceCheckedFactory(["DEVICE", str(ctx.dev)])
    with tempfile.TemporaryDirectory(dir=ctx.tmp or None) as tmp:
        names = write_otb_dataset(os.path.join(tmp, "data"), 4, seed=7, num_frames=20, image_size=(240, 320))
        ds = load_dataset("synthetic", os.path.join(tmp, "data"))
        error = None
        try:
            run_benchmark(ds, factory, os.path.join(tmp, "two"), workers=2, devices=devices, progress=False,
                          log=lambda s: None, threads=1)
            run_benchmark(ds, factory, os.path.join(tmp, "one"), workers=1, devices=[str(ctx.dev)], progress=False,
                          log=lambda s: None)
            diff = max(float(np.max(np.abs(read_result(os.path.join(tmp, "two", f"{v}.txt"))
                                           - read_result(os.path.join(tmp, "one", f"{v}.txt"))))) for v in names)
        except (WorkerError, RuntimeError) as e:
            error, diff = str(e).splitlines()[0], float("nan")
    return {"device": str(ctx.dev), "devices": devices[:2], "videos": len(names), "error": error, "max_diff": diff}


def row_test_workers(ctx: CheckContext) -> Row:
    return judge_workers(measure_test_workers(ctx))


# ------------------------------------------------------------------------------------------------- speed
def judge_speed(m: Mapping[str, Any]) -> Row:
    """``m``: device, fps (name -> FPS of every speed-benchmark row and video), gpu_fps / cpu_fps (default tracker,
    same frames), markdown."""
    bad = _not_cuda(m["device"])
    if bad:
        return fail(bad)
    broken = [k for k, v in m["fps"].items() if not (math.isfinite(v) and v > 0)]
    if broken or not m["fps"]:
        return fail(f"FPS not measured (non-finite or <= 0): {', '.join(broken) or 'no rows'}", m.get("markdown"))
    ratio = m["gpu_fps"] / m["cpu_fps"] if m["cpu_fps"] > 0 else float("nan")
    text = (f"{len(m['fps'])} FPS values finite; default R50 tracker {m['gpu_fps']:.1f} FPS on the GPU vs "
            f"{m['cpu_fps']:.2f} on this machine's CPU: {ratio:.1f}x (>= {GPU_SPEEDUP_FLOOR:g}x required; the paper "
            f"reports 42 FPS)")
    return (ok if math.isfinite(ratio) and ratio >= GPU_SPEEDUP_FLOOR else fail)(text, m.get("markdown"))


def row_speed(ctx: CheckContext) -> Row:
    from ...tracker import SiamCornersTracker
    from .speed import _conditioned_model, load_video_frames, run_speed_benchmark, speed_markdown, tracking_run

    r = run_speed_benchmark(None, [], str(ctx.dev), ctx.video, frames=ctx.frames, warmup=2, batch_videos=4,
                            rounds=ctx.rounds)
    fps = {f"{row['name']} / {v}": row["videos"][v]["fps"] for row in r["table"] for v in r["videos"]}
    fps.update({f"batched {k}": b["fps_k"] for k, b in r["batched"].items()})
    if ctx.video and os.path.isfile(ctx.video):
        frames, box = load_video_frames(ctx.video, 8), [200.0, 120.0, 80.0, 100.0]
    else:
        from .speed import _synthetic_videos
        frames, box = _synthetic_videos(1, 8)[0]
    cfg = _cfg(None, ["DEVICE", "cpu"])
    torch.manual_seed(0)
    model = _conditioned_model(cfg, frames, box, torch.device("cpu"))
    gpu_model = copy.deepcopy(model)
    cpu_fps = tracking_run(SiamCornersTracker(model, cfg, device="cpu"), frames[:5], box, warmup=1)["fps"]
    gpu_cfg = _cfg(None, ["DEVICE", str(ctx.dev)])
    gpu_fps = tracking_run(SiamCornersTracker(gpu_model, gpu_cfg, device=str(ctx.dev)), frames, box, warmup=2)["fps"]
    return judge_speed({"device": str(ctx.dev), "fps": fps, "gpu_fps": gpu_fps, "cpu_fps": cpu_fps,
                        "markdown": speed_markdown(r, "python tools/benchmark.py gpu-check")})


# ------------------------------------------------------------------------------------------------ runner
ROWS: list[tuple[str, Callable[[CheckContext], Row]]] = [
    ("amp_training", row_amp_training),
    ("resume", row_resume),
    ("nccl_2rank", row_nccl),
    ("cuda_events", row_cuda_events),
    ("device_crop", row_device_crop),
    ("amp_fp16_tracking", lambda ctx: row_amp_tracking(ctx, "fp16")),
    ("amp_bf16_tracking", lambda ctx: row_amp_tracking(ctx, "bf16")),
    ("onnxruntime", row_onnxruntime),
    ("tensorrt", row_tensorrt),
    ("test_workers", row_test_workers),
    ("speed", row_speed),
]


def run_gpu_check(device: str = "cuda", video: str | None = None, frames: int = 30, rounds: int = 3,
                  log: Callable[[str], None] = print, debug: bool = False,
                  rows: Sequence[tuple[str, Callable[[CheckContext], Row]]] | None = None) -> dict[str, Any]:
    """Run every row of ``rows`` (default :data:`ROWS`; see the module docstring); raises :class:`NoCudaError`
    when there is no GPU. torch's CPU thread count is restored after every row (the Trainer sets
    ``TRAIN.NUM_THREADS``)."""
    dev = _require_cuda(device)
    ctx = CheckContext(dev, video, frames, rounds)
    threads = torch.get_num_threads()
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, fn in (ROWS if rows is None else rows):
            log(f"[gpu-check] {name} ...")
            t0 = time.perf_counter()
            try:
                row = fn(ctx)
            except Exception as e:  # one failing path must not hide the others
                text = str(e).strip().splitlines()[0] if str(e).strip() else ""
                row = fail(f"{type(e).__name__}: {text}")
                if debug:
                    traceback.print_exc()
            finally:
                torch.set_num_threads(threads)
            results[name] = {"status": row.status, "detail": row.reason, "markdown": row.markdown,
                             "seconds": time.perf_counter() - t0}
            log(f"[gpu-check] {name}: {row.status.upper()} ({results[name]['seconds']:.0f} s) {row.reason}")
    finally:
        torch.set_num_threads(threads)
    return {"device": str(dev), "results": results, **_gpu_info(dev)}


def failed_rows(r: Mapping[str, Any]) -> list[str]:
    """Names of the rows of a :func:`run_gpu_check` result that failed."""
    return [n for n, res in r["results"].items() if res["status"] == "fail"]


def gpu_markdown(r: Mapping[str, Any], command: str) -> str:
    """The GPU section of ``docs/benchmarks.md`` for a :func:`run_gpu_check` result."""
    m = r["machine"]
    total = sum(res.get("seconds", 0.0) for res in r["results"].values())
    lines = [
        "## GPU (`tools/benchmark.py gpu-check`)",
        "",
        f"GPU: {m['gpu']} ({r['gpu_memory_gib']:.0f} GiB), CUDA {r['cuda']}, cuDNN {r['cudnn']}; CPU {m['cpu']}; "
        f"torch {m['torch']}.",
        "",
        f"Command: `{command}` ({total:.0f} s in all)",
        "",
        "| row | result | what was checked (numbers) | seconds |",
        "|---|---|---|---:|",
    ]
    for name, res in r["results"].items():
        status = {"ok": "pass", "fail": "**FAIL**", "skip": "skipped"}[res["status"]]
        lines.append(f"| {name} | {status} | {res['detail']} | {res.get('seconds', 0.0):.0f} |")
    speed = r["results"].get("speed", {}).get("markdown")
    if speed:
        demoted = "\n".join(("#" + line) if line.startswith("#") else line for line in speed.splitlines())
        lines += ["", demoted]
    lines.append("")
    return "\n".join(lines)
