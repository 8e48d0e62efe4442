"""Search crop on the model's device (config ``INFERENCE.DEVICE_CROP``): torch twin of ``crops.search_crop``.

Only the part of the frame inside the crop window is copied to the device (as uint8); padding with the fill
colour, the bilinear resize and the float conversion happen there. The result is bit-identical to OpenCV's
``cv2.resize(..., INTER_LINEAR)`` on uint8 images, which this module reproduces in integer arithmetic:
11-bit fixed-point weights ``round((1 - f) * 2048)``, ``round(f * 2048)`` from the float32 source position
``f = (d + 0.5) * src / dst - 0.5`` (columns clamped to the border with weight 0, rows clamped by index),
a horizontal pass in int32 and the vertical pass ``((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from .crops import _fill_pixel, check_frame, subwindow_bounds

__all__ = ["search_crop_device", "resize_linear_u8", "linear_coefficients"]


@lru_cache(maxsize=256)
def linear_coefficients(src: int, dst: int, clamp: bool) -> tuple[np.ndarray, ...]:
    """OpenCV INTER_LINEAR taps for one axis: (index0, index1, weight0, weight1), each (dst,) int64,
    weights in 1/2048. ``clamp``: the column rule (border taps get weight 0); rows only clip the indices."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp:
        for mask, value in ((s < 0, 0), (s >= src - 1, src - 1)):
            f[mask] = 0
            s[mask] = value
    w0 = np.rint((np.float32(1) - f) * np.float32(2048)).astype(np.int64)
    w1 = np.rint(f * np.float32(2048)).astype(np.int64)
    return np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1), w0, w1


def resize_linear_u8(img: torch.Tensor, size: int) -> torch.Tensor:
    """img (C, H, W) integer tensor with values 0..255 -> (C, size, size) int32, equal to OpenCV's uint8
    ``cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)``."""
    _, h, w = img.shape
    dev = img.device
    x0, x1, a0, a1 = (torch.from_numpy(v).to(dev) for v in linear_coefficients(w, size, True))
    y0, y1, b0, b1 = (torch.from_numpy(v).to(dev) for v in linear_coefficients(h, size, False))
    src = img.to(torch.int32)
    d = src.index_select(2, x0) * a0.to(torch.int32) + src.index_select(2, x1) * a1.to(torch.int32)  # (C, H, size)
    d0 = d.index_select(1, y0) >> 4
    d1 = d.index_select(1, y1) >> 4
    b0 = b0.to(torch.int32).view(1, -1, 1)
    b1 = b1.to(torch.int32).view(1, -1, 1)
    return (((b0 * d0) >> 16) + ((b1 * d1) >> 16) + 2) >> 2


def search_crop_device(frame: np.ndarray, center: Sequence[float], side: int, avg: Sequence[float],
                       instance_size: int = 255, device: torch.device | str = "cpu") -> torch.Tensor:
    """frame (H, W, 3) uint8 BGR or (H, W) -> search crop (1, 3, instance_size, instance_size) float32 on
    ``device``, values 0..255 (the same window as :func:`siamcorners.data.crops.search_crop`)."""
    frame = check_frame(frame)
    side = int(side)
    if side < 1 or instance_size < 1:
        raise ValueError(f"crop side and output size must be >= 1, got side={side}, out_size={instance_size}")
    xmin, ymin, x0, x1, y0, y1, inside = subwindow_bounds(center, side, frame.shape[:2])
    device = torch.device(device)
    region = torch.from_numpy(np.ascontiguousarray(frame[y0:y1, x0:x1])).to(device, non_blocking=True)
    if region.dim() == 2:
        region = region.unsqueeze(2)  # (h, w, 1)
    region = region.permute(2, 0, 1)  # (C, h, w) uint8
    if not inside:
        pixel = torch.from_numpy(_fill_pixel(avg, region.shape[0], np.uint8)).to(device)
        patch = pixel.view(-1, 1, 1).expand(region.shape[0], side, side).clone()  # (C, side, side)
        if x0 < x1 and y0 < y1:
            patch[:, y0 - ymin:y1 - ymin, x0 - xmin:x1 - xmin] = region
        region = patch
    x = resize_linear_u8(region, instance_size) if side != instance_size else region
    x = x.float().unsqueeze(0)  # (1, C, S, S)
    if x.shape[1] == 1:
        x = x.expand(1, 3, instance_size, instance_size)
    return x.contiguous()
