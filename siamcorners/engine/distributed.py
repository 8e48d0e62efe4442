"""Process-group setup for ``torchrun`` and the helpers the training loop needs (reference section 8.1).

A single process (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) needs no launcher and
creates no process group. Under ``torchrun`` the rank, local rank and world size come from the
environment; the backend is NCCL on CUDA and gloo on CPU. Either way a ``cuda:N`` device becomes the current
CUDA device before any CUDA work (``tracker.use_device``), so a process on GPU N opens no context on GPU 0.

Gradient reduction: DistributedDataParallel averages gradients ("mean"). The official code sums them
("sum"); :func:`loss_scale_for_reduce` gives the factor (the world size) to multiply the loss by so
the averaged gradient equals the sum.

Batch size: :func:`per_process_batch_size` reads ``TRAIN.BATCH_SIZE`` per process (official: 58 on each of
N GPUs) or as the total over all processes (paper: "a batch size of 58" in all).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.distributed as dist
from torch import nn

from siamcorners.config import ConfigError
from siamcorners.tracker.tracker import use_device

__all__ = [
    "DistInfo",
    "all_reduce_mean",
    "barrier",
    "cleanup_distributed",
    "init_distributed",
    "is_main_process",
    "loss_scale_for_reduce",
    "per_process_batch_size",
    "resolve_device",
    "unwrap_model",
    "wrap_model",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str = ""          # "" when no process group was created

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; under torchrun a bare
    ``"cuda"``/``"auto"`` picks ``cuda:LOCAL_RANK``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {spec!r} requested (DEVICE / --device) but CUDA is not available")
        return torch.device(spec if ":" in spec else f"cuda:{local_rank}")
    if spec == "cpu":
        return torch.device("cpu")
    raise ValueError(f"DEVICE must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device: str = "auto") -> DistInfo:
    """Read RANK / LOCAL_RANK / WORLD_SIZE and create the process group when WORLD_SIZE > 1."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    dev = use_device(resolve_device(device, local_rank))  # cuda:N current before any CUDA work (no context on GPU 0)
    if world <= 1:
        return DistInfo(0, 0, 1, dev, "")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, local_rank, world, dev, backend)


def cleanup_distributed(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def wrap_model(model: nn.Module, info: DistInfo, sync_bn: bool = False) -> nn.Module:
    """DistributedDataParallel for world size > 1 (optionally with SyncBatchNorm); the model itself otherwise.

    The model must already be on ``info.device``. Parameters with ``requires_grad=False`` at wrap time are
    not synchronised, so re-wrap after the backbone unfreezes.
    """
    if not info.distributed:
        return model
    if sync_bn:
        if info.device.type != "cuda":
            raise ValueError("TRAIN.SYNC_BN needs CUDA devices (SyncBatchNorm does not run on CPU/gloo)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, output_device=ids[0] if ids else None)


def unwrap_model(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def loss_scale_for_reduce(grad_reduce: str, world_size: int) -> float:
    """Factor on the loss so that DDP's averaged gradient becomes the requested reduction."""
    if grad_reduce == "mean":
        return 1.0
    if grad_reduce == "sum":
        return float(world_size)
    raise ValueError(f"TRAIN.GRAD_REDUCE must be 'mean' or 'sum', got {grad_reduce!r}")


def per_process_batch_size(batch_size: int, mode: str, world_size: int) -> int:
    """Pairs each process takes per step: ``batch_size`` itself ("per_process") or ``batch_size / world_size``
    ("total"; ConfigError naming the keys when it does not divide)."""
    if batch_size < 1 or world_size < 1:
        raise ConfigError(f"TRAIN.BATCH_SIZE={batch_size} over {world_size} process(es): both must be >= 1")
    if mode == "per_process":
        return batch_size
    if mode == "total":
        if batch_size % world_size:
            raise ConfigError(
                f"TRAIN.BATCH_SIZE={batch_size} with TRAIN.BATCH_SIZE_MODE 'total' does not divide over "
                f"{world_size} processes ({batch_size} % {world_size} = {batch_size % world_size}); launch a "
                f"number of processes that divides it, or change TRAIN.BATCH_SIZE")
        return batch_size // world_size
    raise ConfigError(f"TRAIN.BATCH_SIZE_MODE must be 'per_process' or 'total', got {mode!r}")


def all_reduce_mean(values: Mapping[str, float | torch.Tensor], info: DistInfo) -> dict[str, float]:
    """Average scalars across ranks with one collective and one host transfer; returns floats."""
    keys = list(values)
    tensors = [values[k] for k in keys if torch.is_tensor(values[k])]
    home = tensors[0].device if tensors else torch.device("cpu")
    t = torch.stack([values[k].detach().reshape(()).to(home, torch.float64) if torch.is_tensor(values[k])
                     else torch.tensor(float(values[k]), dtype=torch.float64, device=home) for k in keys])
    if info.distributed:
        t = t.to(info.device if info.backend == "nccl" else torch.device("cpu"))
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t = t / info.world_size
    return {k: float(v) for k, v in zip(keys, t.tolist())}
