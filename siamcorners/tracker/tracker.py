"""The online SiamCorners tracker: boundary templates once, then search crop -> corners -> one box per frame.

Usage::

    tracker = SiamCornersTracker(model, cfg)          # device from cfg.DEVICE ("auto": cuda if available)
    tracker.init(frame0, [x, y, w, h])                # OTB convention, centre (x + (w-1)/2, y + (h-1)/2)
    out = tracker.track(frame1)                       # {"bbox": [x, y, w, h], "score": float}

Per frame: one host->device copy of the uint8 search crop, the network, corner decoding of every level on
the device, and one device->host copy of the (N, 5) candidates; the rest (reference §7.3) runs in NumPy.
The caller's frames and box are only read.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from ..data.crops import (boundary_templates, channel_average, check_box, check_frame, context_size,
                          exemplar_crop, search_crop)
from ..data.device_crops import search_crop_device
from ..models.runtime import InferenceSettings, build_runtime
from ..models.runtime.settings import set_tf32
from . import postprocess as pp

__all__ = ["SiamCornersTracker", "resolve_device", "use_device"]


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    """``"auto"``/None -> cuda if available else cpu; otherwise ``torch.device(device)`` (ValueError if invalid)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"invalid device {device!r} (use 'auto', 'cpu', 'cuda' or 'cuda:N')") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def use_device(device: torch.device) -> torch.device:
    """Make ``cuda:N`` this process's current CUDA device (``torch.cuda.set_device``), to be called before any CUDA
    work: otherwise whatever uses the current device (a stream, a cuBLAS/cuDNN handle, an argument-less
    ``torch.cuda.synchronize()``) opens a second context on GPU 0 beside the one on GPU N. Other devices are
    returned unchanged."""
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return device


class SiamCornersTracker:
    """Single-object tracker around a SiamCorners model (``model.template(z)``, ``model.track(x)``).

    All settings are read from ``cfg`` once here (``TRACK``, ``DECODE``, ``HEATMAP``,
    ``MODEL.HEAD.TEMPLATES``, ``DEVICE``, ``INFERENCE``); with ``TEMPLATES: unified`` one whole-box template
    is used. The model is moved to the device and put in eval mode; ``self.model`` is the runtime the ``INFERENCE``
    keys choose (:func:`~siamcorners.models.runtime.build_runtime`: eager, optimised eager or ONNX Runtime). After each ``track`` call,
    ``self.debug`` holds the intermediate arrays of that frame (candidates, penalty, pscore, ...).
    """

    def __init__(self, model: Any, cfg: Mapping, device: Union[str, torch.device, None] = None):
        t, dec, heat = cfg["TRACK"], cfg["DECODE"], cfg["HEATMAP"]
        self.exemplar_size = int(t["EXEMPLAR_SIZE"])
        self.instance_size = int(t["INSTANCE_SIZE"])
        self.context_amount = float(t["CONTEXT_AMOUNT"])
        self.penalty_k = float(t["PENALTY_K"])
        self.window_influence = float(t["WINDOW_INFLUENCE"])
        self.lr = float(t["LR"])
        self.hanning_size = int(t["HANNING_SIZE"])
        self.penalty_form = str(t["PENALTY_FORM"])
        self.penalty_scale_bug = bool(t["PENALTY_SCALE_BUG"])
        self.variation = str(t["VARIATION"])
        self.smooth_center = bool(t["SMOOTH_CENTER"])
        self.box_mapping = str(t["BOX_MAPPING"])
        self.template_fill = None if t["TEMPLATE_FILL"] == "mean" else tuple(float(v) for v in t["TEMPLATE_FILL_VALUE"])
        self.template_outline = bool(t["TEMPLATE_OUTLINE"])
        self.template_fraction = float(t["TEMPLATE_FRACTION"])
        self.min_size = float(t["MIN_SIZE"])
        self.no_valid_pair = str(t["NO_VALID_PAIR"])
        self.topk = int(dec["TOPK"])
        self.nms_kernel = int(dec["NMS_KERNEL"])
        self.num_pairs = int(dec["NUM_PAIRS"])
        self.stride = float(heat["STRIDE"])
        self.origin = float(heat["ORIGIN"])
        self.unified_template = cfg["MODEL"]["HEAD"]["TEMPLATES"] == "unified"
        for key, value, choices in (("TRACK.PENALTY_FORM", self.penalty_form, ("siamrpn", "paper")),
                                    ("TRACK.VARIATION", self.variation, ("half", "sum")),
                                    ("TRACK.BOX_MAPPING", self.box_mapping, ("official", "exact")),
                                    ("TRACK.TEMPLATE_FILL", t["TEMPLATE_FILL"], ("mean", "constant")),
                                    ("TRACK.NO_VALID_PAIR", self.no_valid_pair, ("official", "hold"))):
            if value not in choices:
                raise ValueError(f"config key {key!r} must be one of {list(choices)}, got {value!r}")
        self.device = use_device(resolve_device(device if device is not None else cfg.get("DEVICE", "auto")))
        self.settings = InferenceSettings.from_cfg(cfg)    # INFERENCE keys (models/runtime/)
        set_tf32(self.settings.tf32)
        if isinstance(model, torch.nn.Module):
            model.to(self.device)
            model.eval()
        self.model = build_runtime(model, cfg, self.settings)
        self.stage_hook: Optional[Any] = None  # callable(stage name) at each stage end (engine/profiling/speed.py timing)
        self._windows: Dict[int, np.ndarray] = {}
        self.center: Optional[np.ndarray] = None   # (2,) cx, cy in image pixels
        self.size: Optional[np.ndarray] = None     # (2,) w, h in image pixels
        self.avg: Optional[np.ndarray] = None      # (3,) init-frame mean colour (search padding)
        self.debug: Dict[str, Any] = {}

    # ---------------------------------------------------------------------------------- init
    @torch.inference_mode()
    def init(self, frame: np.ndarray, box_xywh: Sequence[float]) -> None:
        """Start tracking the box ``[x, y, w, h]`` (0-based pixels) in ``frame`` (H x W x 3 uint8 BGR or H x W)."""
        self.model.template(self.template_input(frame, box_xywh))

    def template_input(self, frame: np.ndarray, box_xywh: Sequence[float]) -> torch.Tensor:
        """Set the initial state from the box and return the templates z (1, K, 3, 127, 127) on the device
        (``init`` without the network; tracker/batched.py batches the network over videos)."""
        frame = check_frame(frame)
        x, y, w, h = check_box(box_xywh, frame.shape[:2], name="init box").tolist()
        self.avg = channel_average(frame)
        if self.unified_template:
            templates = exemplar_crop(frame, (x, y, w, h), self.avg, context_amount=self.context_amount,
                                      exemplar_size=self.exemplar_size)[None]  # (1, 127, 127, 3) uint8
        else:
            templates = boundary_templates(                   # (4, 127, 127, 3) uint8
                frame, (x, y, w, h), self.avg, context_amount=self.context_amount,
                exemplar_size=self.exemplar_size, fill=self.template_fill, outline=self.template_outline,
                fraction=self.template_fraction)
        z = torch.from_numpy(templates).to(self.device)
        z = z.permute(0, 3, 1, 2).float().unsqueeze(0)       # (1, K, 3, 127, 127), K = 4 or 1
        self.center = np.array([x + (w - 1) / 2, y + (h - 1) / 2])
        self.size = np.array([w, h])
        return z

    # --------------------------------------------------------------------------------- track
    @torch.inference_mode()
    def track(self, frame: np.ndarray) -> Dict[str, Any]:
        """Locate the target in ``frame``; returns ``{"bbox": [x, y, w, h], "score": float}``."""
        x, geometry = self.search_input(frame)
        det = self._detect(x)                                                          # (N, 5) heat units
        self._tick("decode")
        out = self._update(det, *geometry)
        self._tick("post")
        return out

    def search_input(self, frame: np.ndarray) -> tuple[torch.Tensor, tuple]:
        """The search crop x (1, 3, 255, 255) float on the device and the geometry ``_update`` needs
        (``track`` without the network; tracker/batched.py batches the network over videos)."""
        if self.center is None:
            raise RuntimeError("SiamCornersTracker.track called before init")
        frame = check_frame(frame)
        center, size = self.center, self.size
        s_z = context_size(size[0], size[1], self.context_amount)
        scale_z = self.exemplar_size / s_z
        s_x = s_z * (self.instance_size / self.exemplar_size)
        crop_side = max(int(round(s_x)), 1)
        if self.settings.device_crop:
            x = search_crop_device(frame, center, crop_side, self.avg, self.instance_size, self.device)
        else:
            crop = search_crop(frame, center, crop_side, self.avg, self.instance_size)  # (255, 255, 3) uint8
            x = torch.from_numpy(crop).to(self.device).permute(2, 0, 1).float().unsqueeze(0)  # (1, 3, 255, 255)
        self._tick("crop")
        return x, (center, size, scale_z, s_x, crop_side, frame.shape[:2])

    def _tick(self, stage: str) -> None:
        if self.stage_hook is not None:
            self.stage_hook(stage)

    def _detect(self, x: torch.Tensor) -> np.ndarray:
        """Network + decoding of every level; the only device->host copy of the frame."""
        det = self.model.detect(x, self.topk, self.nms_kernel, self.num_pairs)  # (1, N, 5)
        return det[0].double().cpu().numpy()                                     # (N, 5)

    def _window(self, n: int) -> np.ndarray:
        if n not in self._windows:
            self._windows[n] = pp.rank_window(n, self.hanning_size)
        return self._windows[n]

    def _update(self, det: np.ndarray, center: np.ndarray, size: np.ndarray, scale_z: float, s_x: float,
                crop_side: int, image_hw: Sequence[int]) -> Dict[str, Any]:
        """Candidates (N, 5) [x1, y1, x2, y2, score] in heat units -> new state and output (reference §7.3)."""
        boxes = pp.heat_to_crop(det[:, :4], self.stride, self.origin)                    # (N, 4) crop px
        if self.box_mapping == "official":
            cand = pp.crop_to_image_official(boxes, scale_z, s_x, center)                # (N, 4) cx cy w h
        else:
            cand = pp.crop_to_image_exact(boxes, crop_side, self.instance_size, center)
        score = det[:, 4]
        penalty = pp.scale_ratio_penalty(cand[:, 2:], size, scale_z, self.penalty_k, self.penalty_form,
                                         self.penalty_scale_bug)
        variation = pp.variation_degree(cand, center, size, self.variation)
        pscore, order = pp.ranked_hanning(penalty * score, variation, self._window(len(score)),
                                          self.window_influence)
        official = self.no_valid_pair == "official"
        if not official:
            pscore = np.where(np.isfinite(pscore) & np.all(np.isfinite(cand), axis=1), pscore, -np.inf)
        best = int(np.argmax(pscore))  # official: NumPy's argmax as is (a NaN would win, like in the official code)
        if not official and not np.any(score >= 0):  # "hold": every pair rejected -> keep the state
            new_center, new_size, rate = center, size, 0.0
        else:
            new_center, new_size, rate = pp.smooth_size(center, size, cand[best, :2], cand[best, 2:],
                                                        penalty[best], score[best], self.lr, self.smooth_center,
                                                        clip_rate=not official)
        if not official and not (np.all(np.isfinite(new_center)) and np.all(np.isfinite(new_size))):
            new_center, new_size = center, size
        new_center, new_size = pp.clip_box(new_center, new_size, image_hw, self.min_size)
        self.center, self.size = new_center, new_size
        self.debug = {"cand_cxcywh": cand, "score": score, "penalty": penalty, "pscore": pscore,
                      "rank_order": order, "best_idx": best, "lr": rate, "scale_z": scale_z,
                      "crop_size": crop_side, "s_half": int(np.floor((s_x + 1) / 2))}
        cx, cy = new_center.tolist()
        w, h = new_size.tolist()
        return {"bbox": [cx - w / 2, cy - h / 2, w, h], "score": float(score[best])}
