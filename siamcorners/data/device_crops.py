"""Search crop on the model's device (config ``INFERENCE.DEVICE_CROP``): torch twin of ``crops.search_crop``.

Only the part of the frame inside the crop window is copied to the device (as uint8); padding with the fill
colour, the bilinear resize and the float conversion happen there. The window geometry is the one of
:func:`siamcorners.data.crops.get_subwindow`; the resize is ``F.interpolate(mode="bilinear",
align_corners=False)`` (OpenCV ``INTER_LINEAR`` sampling), rounded to integers like OpenCV's uint8 output.
OpenCV interpolates uint8 images in fixed point, so a few pixels may differ by one grey level.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .crops import _fill_pixel, check_frame, subwindow_origin

__all__ = ["search_crop_device"]


def search_crop_device(frame: np.ndarray, center: Sequence[float], side: int, avg: Sequence[float],
                       instance_size: int = 255, device: torch.device | str = "cpu") -> torch.Tensor:
    """frame (H, W, 3) uint8 BGR or (H, W) -> search crop (1, 3, instance_size, instance_size) float32 on
    ``device``, values 0..255 (the same window as :func:`siamcorners.data.crops.search_crop`)."""
    frame = check_frame(frame)
    side = int(side)
    if side < 1 or instance_size < 1:
        raise ValueError(f"crop side and output size must be >= 1, got side={side}, out_size={instance_size}")
    img_h, img_w = frame.shape[:2]
    xmin, ymin = subwindow_origin(center, side)
    x0, x1 = max(xmin, 0), min(xmin + side, img_w)
    y0, y1 = max(ymin, 0), min(ymin + side, img_h)
    device = torch.device(device)
    inside = xmin >= 0 and ymin >= 0 and xmin + side <= img_w and ymin + side <= img_h
    region = torch.from_numpy(np.ascontiguousarray(frame[y0:y1, x0:x1])).to(device, non_blocking=True)
    if region.dim() == 2:
        region = region.unsqueeze(2)  # (h, w, 1)
    region = region.permute(2, 0, 1).float()  # (C, h, w)
    if not inside:
        pixel = torch.as_tensor(_fill_pixel(avg, region.shape[0], np.uint8), device=device).float()
        patch = pixel.view(-1, 1, 1).expand(region.shape[0], side, side).clone()  # (C, side, side)
        if x0 < x1 and y0 < y1:
            patch[:, y0 - ymin:y1 - ymin, x0 - xmin:x1 - xmin] = region
        region = patch
    x = region.unsqueeze(0)  # (1, C, side, side)
    if side != instance_size:
        x = F.interpolate(x, size=(instance_size, instance_size), mode="bilinear", align_corners=False)
        x = x.round_().clamp_(0, 255)
    if x.shape[1] == 1:
        x = x.expand(1, 3, instance_size, instance_size)
    return x.contiguous()
