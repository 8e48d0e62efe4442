"""pysot's SiamRPN++ ResNet-50 tracker as a timing reference (``tools/benchmark.py speed --pysot DIR``).

The paper's speed claim is relative to SiamRPN++ (42 vs 35 FPS on one GPU). pysot is not a dependency of this
project: ``--pysot`` points at a checkout of https://github.com/STVIR/pysot, whose model and tracker are plain
PyTorch (they need ``yacs`` beside torch/numpy/OpenCV; none of its compiled toolkit code is used). Its network is
built from the checkout's ``experiments/siamrpn_r50_l234_dwxcorr/config.yaml`` with random weights (pysot's own
initialisation; no download) and timed frame by frame on the same frames, interleaved with our trackers.

By default the tracker tracks normally, frame after frame, as a user runs it. Random weights send an RPN tracker's
box anywhere (to the clip limits: 10 px or the frame's size), which changes the size of the region its search crop
is cut from, never the network's cost; ``reset=True`` puts the state back on the initial box before every frame, so
both trackers crop regions of the same size (``tools/benchmark.py speed --pysot-reset``). Its boxes are not compared
with ours.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["PysotTracker", "PYSOT_CONFIG"]

PYSOT_CONFIG = os.path.join("experiments", "siamrpn_r50_l234_dwxcorr", "config.yaml")


def _import_pysot(pysot_dir: str):
    marker = os.path.join(pysot_dir, "pysot", "core", "config.py")
    if not os.path.isfile(marker):
        raise ValueError(f"--pysot {pysot_dir}: not a pysot checkout ({marker} is missing); clone "
                         f"https://github.com/STVIR/pysot")
    path = os.path.abspath(pysot_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        config = importlib.import_module("pysot.core.config")
        builder = importlib.import_module("pysot.models.model_builder")
        trackers = importlib.import_module("pysot.tracker.tracker_builder")
    except ImportError as e:
        raise ValueError(f"--pysot {pysot_dir}: importing pysot failed ({e}); its model and tracker need "
                         f"'pip install yacs'") from None
    return config.cfg, builder.ModelBuilder, trackers.build_tracker


class PysotTracker:
    """pysot's SiamRPN++ tracker (``config`` relative to ``pysot_dir``) with random weights, behind the
    ``init(frame, box)`` / ``track(frame) -> {"bbox": ...}`` interface of our tracker (for :func:`tracking_run`);
    ``reset``: put its state back on the initial box before every frame instead of tracking normally."""

    def __init__(self, pysot_dir: str, device: str | torch.device = "cpu", config: str = PYSOT_CONFIG,
                 seed: int = 0, reset: bool = False):
        cfg, model_builder, build_tracker = _import_pysot(pysot_dir)
        cfg_file = config if os.path.isabs(config) else os.path.join(pysot_dir, config)
        if not os.path.isfile(cfg_file):
            raise ValueError(f"--pysot {pysot_dir}: config {cfg_file} not found")
        cfg.merge_from_file(cfg_file)
        self.device = torch.device(device)
        cfg.CUDA = self.device.type == "cuda"  # pysot moves its crops to the GPU only when this is set
        torch.manual_seed(seed)
        self.model = model_builder().eval().to(self.device)
        self.tracker = build_tracker(self.model)
        self.name = f"pysot {os.path.basename(os.path.dirname(cfg_file))}"
        self.reset = reset
        self._state: tuple[np.ndarray, np.ndarray] | None = None

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        with torch.no_grad():
            self.tracker.init(frame, list(box))
        self._state = (self.tracker.center_pos.copy(), self.tracker.size.copy())

    def track(self, frame: np.ndarray) -> dict[str, Any]:
        if self._state is None:
            raise RuntimeError("PysotTracker.track: call init first")
        if self.reset:
            self.tracker.center_pos, self.tracker.size = self._state[0].copy(), self._state[1].copy()
        with torch.no_grad(), np.errstate(all="ignore"):  # random weights: pysot divides by zero-sized boxes
            out = self.tracker.track(frame)
        return {"bbox": out["bbox"], "best_score": out.get("best_score")}
