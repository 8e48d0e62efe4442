"""Per-level corner head (reference section 3, official ``pysot/models/corners/cornerNet.py:corners_head``).

For one level, with template features z (B, K, C, 7, 7) and search features x (B, C, 31, 31)::

    kernel_θ = kernel_θ_conv(z_θ)                    # 1x1 conv-BN-ReLU per boundary θ in t, l, b, r (template side)
    f_θ      = xcorr_depthwise(search_conv(x), kernel_θ)        # (B, C, 25, 25); search_conv only if SEARCH_CONV
    tl       = tl_pool(f_t, f_l);  br = br_pool(f_b, f_r)       # corner pooling (MCP or OCP)
    tl_heat, tl_off = tl_heat_head(tl), tl_off_head(tl)          # (B,1,25,25) logits, (B,2,25,25) offsets (x, y)
    br_heat, br_off = ...

Template-side work (:meth:`CornerHead.prepare_templates`) runs once per template; :meth:`CornerHead.forward_search`
runs per search crop.

Switches (config ``MODEL.HEAD``):

* ``templates="four"``: four boundary templates (FRT), K = 4 in order top, left, bottom, right;
  ``"unified"`` (OUT ablation): one template (the whole-box crop), K = 1; its single correlation map feeds both
  corner-pool inputs.
* ``offsets=False``: no offset heads; the offsets returned are zeros.
* ``corner_pool`` "mcp" / "ocp", ``head_bn`` / ``head_last_kernel`` (prediction-head form), ``search_conv``
  (a 1x1 conv-BN-ReLU on the search branch before the correlation, as in the paper's Fig. 2).

Official state-dict key -> ours (level N): ``conv_kernel_θ.N.0`` -> ``kernel_θ.conv``, ``conv_kernel_θ.N.1`` ->
``kernel_θ.bn``; ``tl_modules.N`` -> ``tl_pool``; ``tl_heats.N`` -> ``tl_heat``; ``tl_offs.N`` -> ``tl_off``
(and the br counterparts).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .corner_pool import ConvBNReLU, CornerPool, PredictionHead
from .xcorr import xcorr_depthwise_multi

__all__ = ["CornerHead", "PredictionHead", "BOUNDARIES"]

BOUNDARIES = ("t", "l", "b", "r")


class CornerHead(nn.Module):
    """Corner head for one backbone level."""

    def __init__(self, channels: int = 256, pool_channels: int = 128, corner_pool: str = "mcp",
                 templates: str = "four", offsets: bool = True, search_conv: bool = False, head_bn: bool = False,
                 head_last_kernel: int = 1, heat_bias_init: float = -2.19, pool_impl: str = "cummax",
                 pool_tie_rule: str = "official"):
        super().__init__()
        if templates not in ("four", "unified"):
            raise ValueError(f"CornerHead templates must be 'four' or 'unified', got {templates!r}")
        self.templates = templates
        self.offsets = offsets
        self.names = BOUNDARIES if templates == "four" else ("z",)
        for name in self.names:
            setattr(self, f"kernel_{name}", ConvBNReLU(1, channels, channels))
        self.search_conv = ConvBNReLU(1, channels, channels) if search_conv else None
        pool_args = dict(channels=channels, pool_channels=pool_channels, variant=corner_pool,
                         pool_impl=pool_impl, tie_rule=pool_tie_rule)
        self.tl_pool = CornerPool(corner="tl", **pool_args)
        self.br_pool = CornerPool(corner="br", **pool_args)
        head_args = dict(in_channels=channels, mid_channels=channels, with_bn=head_bn, last_kernel=head_last_kernel)
        self.tl_heat = PredictionHead(out_channels=1, bias_init=heat_bias_init, **head_args)
        self.br_heat = PredictionHead(out_channels=1, bias_init=heat_bias_init, **head_args)
        if offsets:
            self.tl_off = PredictionHead(out_channels=2, **head_args)
            self.br_off = PredictionHead(out_channels=2, **head_args)

    @property
    def num_templates(self) -> int:
        """K: 4 boundary templates (t, l, b, r) or 1 unified template."""
        return len(self.names)

    def prepare_templates(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, K, C, h, w) neck features of the K templates -> correlation kernels (B, K, C, h, w)."""
        if z.dim() != 5 or z.shape[1] != self.num_templates:
            raise ValueError(f"CornerHead({self.templates}): template features must be "
                             f"(B, {self.num_templates}, C, h, w), got {tuple(z.shape)}")
        return torch.stack([getattr(self, f"kernel_{n}")(z[:, k]) for k, n in enumerate(self.names)], dim=1)

    def forward_search(self, x: torch.Tensor, kernels: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, C, H, W) search features, kernels (B, K, C, h, w) from :meth:`prepare_templates` ->
        ``tl_heat``/``br_heat`` (B, 1, H-h+1, W-w+1) logits, ``tl_off``/``br_off`` (B, 2, ., .)."""
        if self.search_conv is not None:
            x = self.search_conv(x)
        return self.forward_maps(xcorr_depthwise_multi(x, kernels))

    def forward_maps(self, maps: torch.Tensor) -> dict[str, torch.Tensor]:
        """maps (B, K, C, H, W): correlation maps of the K templates (order t, l, b, r) -> output dict
        (see :meth:`forward_search`)."""
        if maps.dim() != 5 or maps.shape[1] != self.num_templates:
            raise ValueError(f"CornerHead({self.templates}): maps must be (B, {self.num_templates}, C, H, W), "
                             f"got {tuple(maps.shape)}")
        if self.templates == "four":
            f_t, f_l, f_b, f_r = maps.unbind(1)
            tl, br = self.tl_pool(f_t, f_l), self.br_pool(f_b, f_r)  # (B, C, 25, 25) each
        else:
            f = maps[:, 0]
            tl, br = self.tl_pool(f), self.br_pool(f)
        out = {"tl_heat": self.tl_heat(tl), "br_heat": self.br_heat(br)}
        if self.offsets:
            out["tl_off"], out["br_off"] = self.tl_off(tl), self.br_off(br)
        else:
            zeros = tl.new_zeros(tl.shape[0], 2, tl.shape[2], tl.shape[3])  # (B, 2, 25, 25)
            out["tl_off"], out["br_off"] = zeros, zeros.clone()
        return out

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """z (B, K, C, h, w) template features, x (B, C, H, W) search features -> output dict (see forward_search)."""
        return self.forward_search(x, self.prepare_templates(z))
