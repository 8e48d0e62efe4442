"""Per-epoch learning-rate schedules: an optional warm-up followed by the main schedule.

The learning rate is constant within an epoch and changes at epoch boundaries (official behaviour,
reference section 8.3). With the official config the 20 values are a geometric warm-up
0.001 * 5^(e/5) for e = 0..4 followed by ``logspace(0.005, 0.0005, 15)``.

Each optimizer param group carries an ``lr_mult`` (1 for neck and head, ``BACKBONE_LR_MULT`` for the
backbone); :meth:`EpochLRScheduler.apply` sets ``group["lr"] = lr(epoch) * group["lr_mult"]``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["EpochLRScheduler", "build_lr_scheduler", "schedule_values"]


def _step_values(start_lr: float, end_lr: float, epochs: int, step: int) -> list[float]:
    """Geometric steps: ``start * mult ** (e // step)`` with ``mult = (end/start) ** (1 / (epochs // step))``.

    The end value itself is not reached inside the schedule (it is the first value after it).
    """
    n_steps = max(epochs // step, 1)
    mult = math.pow(end_lr / start_lr, 1.0 / n_steps)
    return [start_lr * math.pow(mult, e // step) for e in range(epochs)]


def _log_values(start_lr: float, end_lr: float, epochs: int) -> list[float]:
    return np.logspace(math.log10(start_lr), math.log10(end_lr), epochs).tolist()


def _linear_values(start_lr: float, end_lr: float, epochs: int) -> list[float]:
    return np.linspace(start_lr, end_lr, epochs).tolist()


def _cos_values(start_lr: float, end_lr: float, epochs: int) -> list[float]:
    return [end_lr + (start_lr - end_lr) * (1.0 + math.cos(math.pi * e / epochs)) * 0.5 for e in range(epochs)]


def _values(kind: str, start_lr: float, end_lr: float, epochs: int, step: int, key: str) -> list[float]:
    if epochs <= 0:
        return []
    if start_lr <= 0 or end_lr <= 0:
        if kind in ("log", "step"):
            raise ValueError(f"{key}: a {kind!r} schedule needs positive START_LR and END_LR, "
                             f"got {start_lr} and {end_lr}")
    if kind == "step":
        if step < 1:
            raise ValueError(f"{key}.STEP must be >= 1, got {step}")
        return _step_values(start_lr, end_lr, epochs, step)
    if kind == "log":
        return _log_values(start_lr, end_lr, epochs)
    if kind == "linear":
        return _linear_values(start_lr, end_lr, epochs)
    if kind == "cos":
        return _cos_values(start_lr, end_lr, epochs)
    raise ValueError(f"{key}.TYPE must be one of 'step', 'log', 'linear', 'cos', got {kind!r}")


def schedule_values(
    epochs: int,
    main_type: str,
    main_start: float,
    main_end: float,
    main_step: int = 1,
    warmup: bool = False,
    warmup_type: str = "step",
    warmup_epochs: int = 0,
    warmup_start: float = 0.0,
    warmup_end: float = 0.0,
    warmup_step: int = 1,
) -> list[float]:
    """The learning rate of every epoch ``0 .. epochs-1``: warm-up values then the main schedule."""
    n_warm = min(warmup_epochs, epochs) if warmup else 0
    warm = _values(warmup_type, warmup_start, warmup_end, warmup_epochs, warmup_step, "TRAIN.WARMUP") if n_warm else []
    main = _values(main_type, main_start, main_end, epochs - n_warm, main_step, "TRAIN.LR")
    return [float(v) for v in warm[:n_warm] + main]


class EpochLRScheduler:
    """Holds the per-epoch lr values and writes them into an optimizer's param groups."""

    def __init__(self, lrs: list[float]):
        if not lrs:
            raise ValueError("the lr schedule is empty: TRAIN.EPOCHS must be >= 1")
        self.lrs = list(lrs)
        self.last_epoch = -1

    def lr_at(self, epoch: int) -> float:
        """The base lr of ``epoch`` (epochs past the end keep the last value)."""
        return self.lrs[min(max(epoch, 0), len(self.lrs) - 1)]

    def apply(self, optimizer: torch.optim.Optimizer, epoch: int) -> float:
        """Set every group's lr to ``lr_at(epoch) * group['lr_mult']``; returns the base lr."""
        lr = self.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_mult", 1.0)
        self.last_epoch = epoch
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"lrs": list(self.lrs), "last_epoch": self.last_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the position; the values come from the config (a changed schedule is allowed on resume)."""
        self.last_epoch = int(state["last_epoch"])

    def __len__(self) -> int:
        return len(self.lrs)

    def __repr__(self) -> str:
        return f"EpochLRScheduler({', '.join(f'{v:.6g}' for v in self.lrs)})"


def build_lr_scheduler(train_cfg: Mapping[str, Any]) -> EpochLRScheduler:
    """From the ``cfg.TRAIN`` node: ``EPOCHS``, ``LR`` and ``WARMUP``."""
    lr, wu = train_cfg["LR"], train_cfg["WARMUP"]
    values = schedule_values(
        epochs=int(train_cfg["EPOCHS"]),
        main_type=lr["TYPE"], main_start=lr["START_LR"], main_end=lr["END_LR"], main_step=lr.get("STEP", 1),
        warmup=bool(wu["ENABLED"]), warmup_type=wu["TYPE"], warmup_epochs=int(wu["EPOCHS"]),
        warmup_start=wu["START_LR"], warmup_end=wu["END_LR"], warmup_step=wu.get("STEP", 1),
    )
    return EpochLRScheduler(values)
