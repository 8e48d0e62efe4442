"""Neck: per-level 1x1 conv + BN (no ReLU) bringing every backbone level to the same width, plus the template
centre crop (reference section 2.2, official ``AdjustAllLayer``).

Maps narrower than ``crop_below`` (the 15x15 template maps) are centre-cropped to ``center_size`` (7x7, the
official slice ``[4:11]``, i.e. start ``(W - center_size) // 2``); the 31x31 search maps pass unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

__all__ = ["AdjustLayer", "AdjustNeck", "center_crop"]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size), rows/cols ``[(H - size) // 2, ... + size)``."""
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top:top + size, left:left + size]


class AdjustLayer(nn.Module):
    """1x1 conv (no bias) + BN for one level (official ``neck.downsampleK.downsample.{0,1}``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, Cin, H, W) -> (N, Cout, H, W)
        return self.bn(self.conv(x))


class AdjustNeck(nn.Module):
    """One :class:`AdjustLayer` per level (``layers.{i}``, i = position in ``in_channels``)."""

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256, center_size: int = 7,
                 crop_below: int = 20):
        super().__init__()
        if center_size < 1:
            raise ValueError(f"AdjustNeck center_size must be >= 1, got {center_size}")
        self.center_size = center_size
        self.crop_below = crop_below
        self.layers = nn.ModuleList(AdjustLayer(c, out_channels) for c in in_channels)

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """feats: one (N, C_i, H, W) per level -> (N, out_channels, H', W') each (7x7 for templates)."""
        if len(feats) != len(self.layers):
            raise ValueError(f"AdjustNeck expects {len(self.layers)} levels, got {len(feats)}")
        out = []
        for layer, f in zip(self.layers, feats):
            y = layer(f)
            if y.shape[-1] < self.crop_below:
                y = center_crop(y, self.center_size)
            out.append(y)
        return out
