"""A light backbone for CPU training that starts from fixed, hand-designed image features.

Deep backbones trained from scratch on a CPU learn only what the training images show (issue 16: synthetic video
and a few photos), so their features do not carry over to real footage. The classic real-video trackers (KCF,
DSST, CSRT) work with *fixed* features instead: histograms of oriented gradients and colour, normalised for local
contrast. This backbone computes such features with plain convolutions (no parameters, nothing to overfit) and
lets a few learned 3x3 convolutions mix them; the fixed features are passed on beside the learned ones, so the
neck always sees them.

Fixed front end (``front``), per pixel, on the normalised RGB crop:

* colour: luminance and two opponent channels ``(R - G) / 2`` and ``(R + G - 2B) / 4``;
* for each of ``len(SIGMAS)`` smoothing scales (Gaussian sigma 0.7 and 2.0 px): the luminance gradient by central
  differences, its magnitude compressed by a square root, soft-binned into ``BINS`` signed orientations
  (``max(0, cos(theta - theta_k))^2`` weights);
* cell pooling with a 15x15 triangular window at stride 8 (two box filters of 8), so a 127x127 crop gives 15x15
  maps and 255x255 gives 31x31 — the same geometry as the stride-8 ResNets (cell ``i`` centred on pixel
  ``8 i + 7``);
* contrast normalisation of each scale's histograms by the root mean energy of the 3x3 cells around them
  (HOG's block normalisation), clipped at ``CLIP``.

Learned part (``mix``): ``depth`` blocks of 3x3 conv (``width`` channels), BN, ReLU on the fixed maps. The output of
every requested level is ``cat(fixed, mixed)``: ``27 + width`` channels (one map, returned for each level asked);
with ``depth`` 0 the fixed maps alone (27 channels): then only the neck and the head learn.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbone import LevelBackbone

__all__ = ["GradientHistogramFront", "GradientBackbone", "gradient_feature_side"]

BINS = 12                 # signed orientation bins per scale
SIGMAS = (0.7, 2.0)       # Gaussian smoothing before the gradient, px
CELL = 8                  # stride of the cell grid (the ResNets' total stride)
CLIP = 0.5                # clip of the normalised histogram values
COLOUR_CHANNELS = 3
FIXED_CHANNELS = COLOUR_CHANNELS + BINS * len(SIGMAS)


def gradient_feature_side(input_side: int) -> int:
    """Side of the cell grid for an ``input_side`` crop: two box filters of 8 (stride 1, then stride 8)."""
    n = input_side - CELL + 1
    return (n - CELL) // CELL + 1 if n >= CELL else 0


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()  # (2r+1,)


class GradientHistogramFront(nn.Module):
    """Fixed oriented-gradient and colour cell features: (N, 3, H, W) -> (N, FIXED_CHANNELS, H', W').

    Written with element-wise operations on strided views rather than convolutions: oneDNN's convolutions with
    1-3 channels or a 15x15 depthwise window are several times slower on CPU than the same arithmetic done
    directly."""

    def __init__(self):
        super().__init__()
        self.register_buffer("rgb_to_colour", torch.tensor([[1 / 3, 1 / 3, 1 / 3], [0.5, -0.5, 0.0],
                                                            [0.25, 0.25, -0.5]]), persistent=False)
        for i, sigma in enumerate(SIGMAS):
            self.register_buffer(f"gauss{i}", _gaussian_kernel(sigma), persistent=False)
        angles = torch.arange(BINS, dtype=torch.float32) * (2 * math.pi / BINS)
        self.register_buffer("bin_directions", torch.stack([torch.cos(angles), torch.sin(angles)]),
                             persistent=False)  # (2, BINS)

    @staticmethod
    def _tent_pool(x: torch.Tensor, dim: int) -> torch.Tensor:
        """Tent window of 15 taps ((1..8..1)/64) at stride 8 along ``dim``: n -> (n - 15) // 8 + 1 samples.

        Cell ``i`` covers samples ``8 i .. 8 i + 14``; it is computed as 15 strided slices (each 1/8 of ``x``)."""
        n = x.size(dim)
        cells = (n - 2 * CELL + 1) // CELL + 1
        index = [slice(None)] * x.dim()
        out = None
        for tap in range(2 * CELL - 1):
            weight = (tap + 1 if tap < CELL else 2 * CELL - 1 - tap) / CELL ** 2
            index[dim] = slice(tap, tap + CELL * (cells - 1) + 1, CELL)
            part = x[tuple(index)]
            out = part * weight if out is None else out.add_(part, alpha=weight)
        return out

    @staticmethod
    def _filter_1d(x: torch.Tensor, kernel: torch.Tensor, dim: int) -> torch.Tensor:
        """Same-size filtering along ``dim`` with edge replication, as a sum of shifted copies."""
        r = kernel.numel() // 2
        n = x.size(dim)
        idx = torch.arange(-r, n + r, device=x.device).clamp(0, n - 1)
        padded = x.index_select(dim, idx)
        taps = kernel.tolist()
        out = padded.narrow(dim, 0, n) * taps[0]
        for k in range(1, len(taps)):
            out.add_(padded.narrow(dim, k, n), alpha=taps[k])
        return out

    def _orientation_histogram(self, lum: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        lum = self._filter_1d(self._filter_1d(lum, kernel, 1), kernel, 2)  # (N, H, W)
        x = F.pad(lum.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
        gx = 0.5 * (x[:, 1:-1, 2:] - x[:, 1:-1, :-2])
        gy = 0.5 * (x[:, 2:, 1:-1] - x[:, :-2, 1:-1])
        # relu(cos(theta - theta_k))^2 * sqrt(|g|) = relu(<g, d_k>)^2 * |g|^-1.5 = relu(<g |g|^-0.75, d_k>)^2
        scale = (gx * gx + gy * gy + 1e-12) ** -0.375
        g = torch.stack([gx * scale, gy * scale], -1)  # (N, H, W, 2)
        projected = torch.relu(g @ self.bin_directions)  # (N, H, W, BINS)
        weights = projected * projected
        hist = self._tent_pool(self._tent_pool(weights, 2), 1).permute(0, 3, 1, 2)  # (N, BINS, H', W')
        energy = F.avg_pool2d((hist * hist).sum(1, keepdim=True), 3, stride=1, padding=1, count_include_pad=False)
        return torch.clamp(hist / torch.sqrt(energy + 1e-4), max=CLIP)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N, 27, H', W')
        colour = torch.einsum("nchw,kc->nkhw", x, self.rgb_to_colour)  # (N, 3, H, W)
        feats = [self._tent_pool(self._tent_pool(colour, 3), 2)]
        for i in range(len(SIGMAS)):
            feats.append(self._orientation_histogram(colour[:, 0], getattr(self, f"gauss{i}")))
        return torch.cat(feats, 1)


class GradientBackbone(LevelBackbone):
    """Fixed gradient/colour cell features (:class:`GradientHistogramFront`) + ``depth`` learned 3x3 conv blocks;
    returns ``cat(fixed, learned)`` for every requested level (see the module docstring)."""

    def __init__(self, levels: Sequence[int] = (4,), width: int = 32, depth: int = 2):
        super().__init__()
        levels = [int(lv) for lv in levels]
        if not levels or any(lv not in (3, 4, 5) for lv in levels):
            raise ValueError(f"backbone levels must be a non-empty subset of [3, 4, 5], got {levels!r}")
        if width < 1 or depth < 0:
            raise ValueError(f"gradient backbone width must be >= 1 and depth >= 0, got {width}, {depth}")
        self.levels = levels
        self.front = GradientHistogramFront()
        blocks: list[nn.Module] = []
        cin = FIXED_CHANNELS
        for _ in range(depth):
            blocks += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            cin = width
        self.mix = nn.Sequential(*blocks)
        # depth 0: the fixed features alone (only the neck and head learn)
        self.out_channels = [FIXED_CHANNELS + (width if depth else 0)] * len(levels)
        self._init_weights()

    def forward(self, x: torch.Tensor, on_level: Optional[Callable[[int], None]] = None) -> list[torch.Tensor]:
        """x (N, 3, H, W) -> [(N, 27 + width, H', W')] * len(levels) (27 with depth 0); 127 -> 15x15, 255 -> 31x31."""
        fixed = self.front(x)
        out = torch.cat([fixed, self.mix(fixed)], 1) if len(self.mix) else fixed
        if on_level is not None:
            for lv in self.levels:
                on_level(lv)
        return [out for _ in self.levels]
