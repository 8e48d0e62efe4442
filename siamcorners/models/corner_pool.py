"""Corner-pooling modules and the per-corner prediction head.

``CornerPool(variant="mcp")`` is the paper's *modified corner pooling* (eqs. 5-6), as the official
``pysot/models/atts/utils.py:corner_pool`` computes it. For the top-left corner, with f_a = the map of the TOP
boundary template and f_b = the map of the LEFT one::

    pool_v = TopPool(vert_branch(f_b))            # official p1_conv1: the LEFT map goes into the vertical pool
    pool_h = LeftPool(horiz_branch(f_a))          # official p2_conv1: the TOP map goes into the horizontal pool
    s      = merge_bn(merge_conv(pool_v + pool_h))  # official p_conv1, p_bn1 (no ReLU)
    out    = out_conv(relu(s + shortcut_b(f_b) + shortcut_a(f_a)))   # official conv1/bn1, conv1_/bn1_, conv2

The bottom-right module is the same with f_a = BOTTOM map, f_b = RIGHT map, BottomPool and RightPool.

``variant="ocp"`` is CornerNet's *original corner pooling* (the paper's Table III ablation): both pools run on
one unified map u = f_a + f_b (u = f_a when f_b is None), i.e.::

    out = out_conv(relu(merge_bn(merge_conv(Pv(vert_branch(u)) + Ph(horiz_branch(u)))) + shortcut_a(u)))

It has a single shortcut (``shortcut_a``) and no ``shortcut_b``.

Official state-dict key -> ours (per module): p1_conv1 -> vert_branch, p2_conv1 -> horiz_branch,
p_conv1 -> merge_conv, p_bn1 -> merge_bn, conv1/bn1 -> shortcut_b.0/.1, conv1_/bn1_ -> shortcut_a.0/.1,
conv2 -> out_conv. Heads: X_heats.L.0 -> conv, X_heats.L.1 -> out.
"""
from typing import Optional

import torch
from torch import nn

from .pools import BottomPool, LeftPool, RightPool, TopPool

__all__ = ["ConvBNReLU", "CornerPool", "PredictionHead"]

CORNERS = ("tl", "br")
VARIANTS = ("mcp", "ocp")


class ConvBNReLU(nn.Module):
    """k x k conv (stride 1, 'same' padding; bias only without BN) -> BN (or identity) -> ReLU."""

    def __init__(self, k: int, cin: int, cout: int, with_bn: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=not with_bn)
        self.bn = nn.BatchNorm2d(cout) if with_bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, H, W)
        return self.relu(self.bn(self.conv(x)))


def _projection(channels: int) -> nn.Sequential:
    """1x1 conv (no bias) + BN, no ReLU: the shortcut of the corner-pool module."""
    return nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))


class CornerPool(nn.Module):
    """Modified (``"mcp"``) or original (``"ocp"``) corner pooling for one corner type ("tl" or "br")."""

    def __init__(self, channels: int = 256, pool_channels: int = 128, corner: str = "tl", variant: str = "mcp",
                 pool_impl: str = "cummax", tie_rule: str = "official"):
        super().__init__()
        if corner not in CORNERS:
            raise ValueError(f"CornerPool corner must be one of {CORNERS}, got {corner!r}")
        if variant not in VARIANTS:
            raise ValueError(f"CornerPool variant must be one of {VARIANTS}, got {variant!r}")
        self.corner = corner
        self.variant = variant
        vert_pool, horiz_pool = (TopPool, LeftPool) if corner == "tl" else (BottomPool, RightPool)
        self.vert_branch = ConvBNReLU(3, channels, pool_channels)
        self.vert_pool = vert_pool(pool_impl, tie_rule)
        self.horiz_branch = ConvBNReLU(3, channels, pool_channels)
        self.horiz_pool = horiz_pool(pool_impl, tie_rule)
        self.merge_conv = nn.Conv2d(pool_channels, channels, 3, padding=1, bias=False)
        self.merge_bn = nn.BatchNorm2d(channels)
        if variant == "mcp":
            self.shortcut_b = _projection(channels)
        self.shortcut_a = _projection(channels)
        self.relu = nn.ReLU(inplace=True)
        self.out_conv = ConvBNReLU(3, channels, channels)

    def pooled(self, f_a: torch.Tensor, f_b: torch.Tensor) -> torch.Tensor:
        """pool_v + pool_h before merge_conv. f_a, f_b: (B, C, H, W) -> (B, P, H, W)."""
        return self.vert_pool(self.vert_branch(f_b)) + self.horiz_pool(self.horiz_branch(f_a))

    def forward(self, f_a: torch.Tensor, f_b: Optional[torch.Tensor] = None) -> torch.Tensor:
        """f_a: top (tl) / bottom (br) map (B, C, H, W); f_b: left (tl) / right (br) map (B, C, H, W).

        For "mcp", f_b=None uses f_a for both maps. Returns (B, C, H, W)."""
        if f_b is not None and f_b.shape != f_a.shape:
            raise ValueError(f"CornerPool({self.corner}): f_a {tuple(f_a.shape)} and f_b {tuple(f_b.shape)} differ")
        if self.variant == "ocp":
            u = f_a if f_b is None else f_a + f_b  # (B, C, H, W)
            s = self.merge_bn(self.merge_conv(self.pooled(u, u))) + self.shortcut_a(u)
        else:
            f_b = f_a if f_b is None else f_b
            s = self.merge_bn(self.merge_conv(self.pooled(f_a, f_b))) + self.shortcut_b(f_b) + self.shortcut_a(f_a)
        return self.out_conv(self.relu(s))

    def extra_repr(self) -> str:
        return f"corner={self.corner!r}, variant={self.variant!r}"


class PredictionHead(nn.Module):
    """3x3 conv (+BN when with_bn; bias otherwise) -> ReLU -> Conv2d(mid, out, last_kernel) with bias.

    The official heat/offset heads are ``with_bn=False, last_kernel=1``; heat heads use ``bias_init=-2.19``."""

    def __init__(self, in_channels: int = 256, out_channels: int = 1, mid_channels: int = 256,
                 with_bn: bool = False, last_kernel: int = 1, bias_init: Optional[float] = None):
        super().__init__()
        if last_kernel < 1 or last_kernel % 2 == 0:
            raise ValueError(f"PredictionHead last_kernel must be a positive odd integer, got {last_kernel}")
        self.conv = ConvBNReLU(3, in_channels, mid_channels, with_bn=with_bn)
        self.out = nn.Conv2d(mid_channels, out_channels, last_kernel, padding=last_kernel // 2, bias=True)
        if bias_init is not None:
            nn.init.constant_(self.out.bias, bias_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, out, H, W)
        return self.out(self.conv(x))
