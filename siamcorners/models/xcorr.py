"""Depthwise cross-correlation (official ``pysot/core/xcorr.py:xcorr_depthwise``): every channel of the search map
is correlated with the same channel of the template kernel, no padding, as one grouped convolution."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["xcorr_depthwise", "xcorr_depthwise_multi"]


def xcorr_depthwise(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W), kernel (B, C, h, w) -> (B, C, H - h + 1, W - w + 1)."""
    if x.dim() != 4 or kernel.dim() != 4 or x.shape[:2] != kernel.shape[:2]:
        raise ValueError(f"xcorr_depthwise: x (B,C,H,W) and kernel (B,C,h,w) must agree on B and C, "
                         f"got {tuple(x.shape)} and {tuple(kernel.shape)}")
    b, c, h, w = x.shape
    out = F.conv2d(x.reshape(1, b * c, h, w), kernel.reshape(b * c, 1, *kernel.shape[2:]), groups=b * c)
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


def xcorr_depthwise_multi(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """One search map against K template kernels in one grouped conv.

    x (B, C, H, W), kernels (B, K, C, h, w) -> (B, K, C, H - h + 1, W - w + 1); slice k equals
    ``xcorr_depthwise(x, kernels[:, k])``.
    """
    if x.dim() != 4 or kernels.dim() != 5 or x.shape[0] != kernels.shape[0] or x.shape[1] != kernels.shape[2]:
        raise ValueError(f"xcorr_depthwise_multi: x (B,C,H,W) and kernels (B,K,C,h,w) must agree on B and C, "
                         f"got {tuple(x.shape)} and {tuple(kernels.shape)}")
    b, c, h, w = x.shape
    k = kernels.shape[1]
    weight = kernels.transpose(1, 2).reshape(b * c * k, 1, *kernels.shape[3:])  # group (b, c) holds its K kernels
    out = F.conv2d(x.reshape(1, b * c, h, w), weight, groups=b * c)  # (1, B*C*K, H', W')
    return out.reshape(b, c, k, out.shape[-2], out.shape[-1]).transpose(1, 2)
