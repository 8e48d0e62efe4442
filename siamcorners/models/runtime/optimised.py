"""Tracking-time optimisations of a :class:`SiamCorners` model, each behind one switch (config ``INFERENCE``).

    settings = InferenceSettings.from_cfg(cfg)
    fast = InferenceSiamCorners(model, settings)      # a deep copy of the (eval-mode) model, optimised
    fast.template(z)                                  # z (B, K, 3, 127, 127), as SiamCorners.template
    outs = fast.track(x)                              # same contract as SiamCorners.track (dense maps)
    det = fast.detect(x, topk, nms_kernel, num_pairs) # (B, L * num_pairs, 5) candidates, as decode_corners

Switches (each gives the same boxes as the plain model up to float rounding; ``tests/test_speed_switches.py``):

* ``PRECOMPUTE_TEMPLATE`` (on by default, as the plain model does): the template branch (backbone, neck and the
  kernel 1x1 convs) runs once in :meth:`template`; off = it reruns on every search crop (a reference point);
* ``FOLD_BN``: every eval-mode BatchNorm directly after a convolution is folded into that convolution;
* ``BATCH_BRANCHES``: the TL and BR corner-pool modules and heads of *all levels* run as grouped convolutions,
  one call per layer, and the directional pools of a kind run once over all levels (needs equal level shapes,
  the official "mcp" + "four"-template head; other heads fall back to per-module calls);
* ``SPARSE_OFFSETS``: :meth:`detect` evaluates the offset heads only at the ``topk`` decoded corners of each
  heat map (the only cells decoding reads), as an im2col matrix product (needs ``HEAD_LAST_KERNEL`` 1);
* ``CHANNELS_LAST``: backbone and neck weights and activations in channels-last memory format (the head's
  25x25 maps and the depthwise correlation were measured faster in the default layout on CPU);
* ``WINOGRAD``: the large 3x3 convolutions (the backbone's dilated downsample convolutions) run as Winograd
  F(4x4, 3x3) matrix products on float32 CPU inputs (:mod:`.winograd`; the ordinary convolution elsewhere);
* ``WINOGRAD_HEAD``: the 3x3 convolutions of the corner pools and heat heads too (not with ``BATCH_BRANCHES``);
* ``AMP`` "fp16" / "bf16": autocast of the search branch, outputs cast back to float32 (not exact: the speed
  benchmark measures the box difference);
* ``COMPILE``: ``torch.compile`` of the search network (no per-stage timing then).

``DEVICE_CROP`` is read by the tracker (see :mod:`siamcorners.data.device_crops`).

Per-stage timing: when ``stage_hook`` is set (a callable taking a stage name), it is called at the end of each
stage: ``template`` (only without PRECOMPUTE_TEMPLATE), ``conv3``, ``conv4``, ``conv5`` (backbone up to that
level), ``neck``, ``xcorr``, ``corner_pool``, ``heat``, ``offsets``.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..decode import _nms, decode_corners
from ..pools import directional_pool
from ..siamcorners import SiamCorners
from ..xcorr import xcorr_depthwise_multi
from .settings import AMP_MODES, InferenceSettings, StageHook
from .winograd import use_winograd

__all__ = ["InferenceSettings", "InferenceSiamCorners", "fold_batchnorm", "fold_conv_bn", "AMP_MODES"]

_CONV_BN_PAIRS = (("conv", "bn"), ("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"), ("merge_conv", "merge_bn"))


# ------------------------------------------------------------------------------------------------ BN folding
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode ``bn`` into ``conv`` in place: conv'(x) == bn(conv(x)) (a bias is added if needed)."""
    if bn.training:
        raise ValueError("fold_conv_bn: the BatchNorm must be in eval mode (running statistics)")
    scale = torch.rsqrt(bn.running_var + bn.eps)  # (Cout,)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    with torch.no_grad():
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        conv.weight.mul_(scale.reshape(-1, 1, 1, 1).to(conv.weight.dtype))
        conv.bias = nn.Parameter((bias * scale + shift).to(conv.weight.dtype), requires_grad=False)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d (attribute pairs ``conv``/``bn``, ``convN``/``bnN``,
    ``merge_conv``/``merge_bn`` and adjacent items of an ``nn.Sequential``) and replace it by ``nn.Identity``.

    In place; the module must be in eval mode. Returns the number of folded layers."""
    folded = 0
    for m in list(module.modules()):
        for conv_name, bn_name in _CONV_BN_PAIRS:
            conv, bn = getattr(m, conv_name, None), getattr(m, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fold_conv_bn(conv, bn)
                setattr(m, bn_name, nn.Identity())
                folded += 1
        if isinstance(m, nn.Sequential):
            for i in range(len(m) - 1):
                if isinstance(m[i], nn.Conv2d) and isinstance(m[i + 1], nn.BatchNorm2d):
                    fold_conv_bn(m[i], m[i + 1])
                    m[i + 1] = nn.Identity()
                    folded += 1
    return folded


# --------------------------------------------------------------------------------------- grouped layers
class _GroupedConv:
    """Several (conv [, bn]) layers with equal shapes run as one grouped convolution (+ one eval BN)."""

    def __init__(self, convs: Sequence[nn.Conv2d], bns: Sequence[nn.Module]):
        c0 = convs[0]
        for c in convs:
            if c.weight.shape != c0.weight.shape or c.padding != c0.padding or c.groups != 1 \
                    or c.stride != (1, 1) or c.dilation != (1, 1):
                raise ValueError("_GroupedConv: convolutions must have equal shapes, stride 1 and no groups")
        self.groups = len(convs)
        self.padding = c0.padding
        self.weight = torch.cat([c.weight.detach() for c in convs])  # (G * Cout, Cin, k, k)
        biases = [c.bias.detach() if c.bias is not None else None for c in convs]
        self.bias = None if all(b is None for b in biases) else torch.cat(
            [b if b is not None else c.weight.new_zeros(c.weight.shape[0]) for b, c in zip(biases, convs)])
        self.bn = None
        real = [b for b in bns if isinstance(b, nn.BatchNorm2d)]
        if real:
            if len(real) != len(bns):
                raise ValueError("_GroupedConv: either every or no layer has a BatchNorm")
            self.bn = [torch.cat([getattr(b, n).detach() for b in real])
                       for n in ("running_mean", "running_var", "weight", "bias")]
            self.eps = real[0].eps

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # (B, G * Cin, H, W) -> (B, G * Cout, H, W)
        if self.weight.shape[2:] == (1, 1):  # grouped 1x1 convs hit a slow CPU path: one batched matmul instead
            b, _, h, w = x.shape
            g, (cout, cin) = self.groups, (self.weight.shape[0] // self.groups, self.weight.shape[1])
            y = torch.matmul(self.weight.reshape(g, cout, cin), x.reshape(b, g, cin, h * w))  # (B, G, Cout, H*W)
            y = y.reshape(b, g * cout, h, w)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1, 1)
        else:
            y = F.conv2d(x, self.weight, self.bias, padding=self.padding, groups=self.groups)
        if self.bn is not None:
            y = F.batch_norm(y, self.bn[0], self.bn[1], self.bn[2], self.bn[3], False, 0.0, self.eps)
        return y


def _cbr(layers: Sequence[nn.Module]) -> _GroupedConv:
    """Group ConvBNReLU-like modules (``.conv``, ``.bn``)."""
    return _GroupedConv([m.conv for m in layers], [m.bn for m in layers])


def _proj(layers: Sequence[nn.Sequential]) -> _GroupedConv:
    """Group 1x1 conv + BN projections (``nn.Sequential(conv, bn)``)."""
    return _GroupedConv([m[0] for m in layers], [m[1] for m in layers])


class _BatchedHeads:
    """All levels' MCP corner-pool modules and prediction heads as grouped convolutions.

    Group order: level-major; within a level the branch convs are (tl vert, tl horiz, br vert, br horiz), the
    shortcuts (tl a, tl b, br a, br b), everything else (tl, br)."""

    def __init__(self, heads: Sequence[nn.Module]):
        pools = [(h.tl_pool, h.br_pool) for h in heads]
        self.branch = _cbr([m for tl, br in pools for m in (tl.vert_branch, tl.horiz_branch,
                                                              br.vert_branch, br.horiz_branch)])
        self.merge = _GroupedConv([m.merge_conv for p in pools for m in p], [m.merge_bn for p in pools for m in p])
        self.shortcut = _proj([s for tl, br in pools for s in (tl.shortcut_a, tl.shortcut_b,
                                                                br.shortcut_a, br.shortcut_b)])
        self.out = _cbr([m.out_conv for p in pools for m in p])
        self.heat_mid = _cbr([m.conv for h in heads for m in (h.tl_heat, h.br_heat)])
        self.heat_out = _GroupedConv([m.out for h in heads for m in (h.tl_heat, h.br_heat)], [nn.Identity()] * 2)
        self.offsets = heads[0].offsets
        if self.offsets:
            self.off_mid = _cbr([m.conv for h in heads for m in (h.tl_off, h.br_off)])
            self.off_out = _GroupedConv([m.out for h in heads for m in (h.tl_off, h.br_off)], [nn.Identity()] * 2)
        tl, br = pools[0]
        self.impls = (tl.vert_pool.impl, tl.horiz_pool.impl, br.vert_pool.impl, br.horiz_pool.impl)
        self.levels = len(heads)

    def corner_features(self, maps: torch.Tensor) -> torch.Tensor:
        """maps (B, L, 4, C, H, W) correlation maps (t, l, b, r) -> corner-pool outputs (B, L * 2 * C, H, W)."""
        b, nl, _, c, h, w = maps.shape
        f_t, f_l, f_b, f_r = maps.unbind(2)  # (B, L, C, H, W) each
        branch_in = torch.stack([f_l, f_t, f_r, f_b], dim=2).reshape(b, nl * 4 * c, h, w)
        a = F.relu(self.branch(branch_in), inplace=True).contiguous()  # NCHW: the slices below stay views
        a = a.reshape(b, nl, 4, -1, h, w)
        p = a.shape[3]
        pooled = []
        for i, (direction, impl) in enumerate(zip(("top", "left", "bottom", "right"), self.impls)):
            pooled.append(directional_pool(a[:, :, i].reshape(b, nl * p, h, w), direction, impl))
        merge_in = torch.stack([pooled[0] + pooled[1], pooled[2] + pooled[3]], dim=1)  # (B, 2, L*P, H, W)
        merge_in = merge_in.reshape(b, 2, nl, p, h, w).transpose(1, 2).reshape(b, nl * 2 * p, h, w)
        m = self.merge(merge_in).contiguous().reshape(b, nl, 2, c, h, w)
        sc = self.shortcut(maps.reshape(b, nl * 4 * c, h, w)).reshape(b, nl, 2, 2, c, h, w)  # [a, b] per corner
        s = F.relu(m + sc[:, :, :, 1] + sc[:, :, :, 0])
        return F.relu(self.out(s.reshape(b, nl * 2 * c, h, w)), inplace=True)

    def heat(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, L * 2 * C, H, W) -> heat logits (B, L * 2, H, W), channel 2l + (0 tl, 1 br)."""
        return self.heat_out(F.relu(self.heat_mid(feats), inplace=True))

    def dense_offsets(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, L * 2 * C, H, W) -> offsets (B, L * 2 * 2, H, W), channels (2l + corner) * 2 + (x, y)."""
        return self.off_out(F.relu(self.off_mid(feats), inplace=True))


# ------------------------------------------------------------------------------------------------ wrapper
class InferenceSiamCorners(nn.Module):
    """A SiamCorners model for tracking with the :class:`InferenceSettings` switches applied."""

    def __init__(self, model: SiamCorners, settings: InferenceSettings = InferenceSettings()):
        super().__init__()
        if not isinstance(model, SiamCorners):
            raise TypeError(f"InferenceSiamCorners wraps a SiamCorners model, got {type(model).__name__}")
        self.settings = settings
        model = copy.deepcopy(model).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        if settings.fold_bn:
            fold_batchnorm(model)
        if settings.winograd:  # after folding: the transformed weights are built from the folded ones
            use_winograd(model)
        if settings.channels_last:  # backbone and neck only: the 25x25 head is faster NCHW on CPU (measured)
            model.backbone.to(memory_format=torch.channels_last)
            model.neck.to(memory_format=torch.channels_last)
        self.model = model
        self.levels = model.levels
        self.offsets = model.offsets
        heads = list(model.heads)
        h0 = heads[0]
        self.batched = None
        if settings.batch_branches and h0.templates == "four" and h0.tl_pool.variant == "mcp" \
                and h0.search_conv is None:
            self.batched = _BatchedHeads(heads)
        if settings.winograd_head and self.batched is None:  # the grouped layers read the convs' weights
            for head in heads:  # not the offset heads: SPARSE_OFFSETS reads their weights
                for part in (head.tl_pool, head.br_pool, head.tl_heat, head.br_heat):
                    use_winograd(part, min_channel_product=1)
        self.sparse = settings.sparse_offsets and self.offsets and h0.tl_off.out.kernel_size == (1, 1)
        self.amp_dtype = AMP_MODES[settings.amp]
        self.stage_hook: StageHook = None
        self._kernels: list[torch.Tensor] | None = None
        self._z: torch.Tensor | None = None
        self._network = torch.compile(self._search_network, dynamic=False) if settings.compile \
            else self._search_network

    def _apply(self, fn, recurse=True):
        """``.to(...)`` / ``.half()`` etc.: the grouped layers are plain tensors, so they are rebuilt."""
        super()._apply(fn, recurse)
        if self.batched is not None:
            self.batched = _BatchedHeads(list(self.model.heads))
        return self

    # ------------------------------------------------------------------------------------- helpers
    def _tick(self, name: str) -> None:
        if self.stage_hook is not None:
            self.stage_hook(name)

    def _autocast(self, device: torch.device):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.amp_dtype)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if self.settings.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _backbone(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The backbone forward of :class:`DilatedResNet`, with a stage tick at each returned level."""
        return self.model.backbone(x, on_level=lambda level: self._tick(f"conv{level}"))

    def template_kernels(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z (B, K, 3, 127, 127) -> per level correlation kernels (B, K, C, 7, 7)."""
        m = self.model
        with torch.no_grad():
            z = m._as_templates(z)
            feats = m.template_features(z)
            return [head.prepare_templates(f).contiguous() for head, f in zip(m.heads, feats)]

    # ------------------------------------------------------------------------------------- network
    def _search_network(self, x: torch.Tensor, kernels: Sequence[torch.Tensor]):
        """x (B, 3, 255, 255), kernels per level (B, K, C, h, w) -> (heat (B, L, 2, H, W) logits,
        corner features (B, L, 2, C, H, W))."""
        m = self.model
        feats = m.neck(self._backbone(m._normalize(self._prepare(x))))  # per level (B, C, 31, 31)
        if self.settings.channels_last:  # oneDNN's depthwise correlation is several times slower channels-last
            feats = [f.contiguous() for f in feats]
        self._tick("neck")
        b = x.shape[0]
        kernels = [k.expand(b, *k.shape[1:]) if k.shape[0] == 1 and b > 1 else k for k in kernels]
        if kernels[0].shape[0] != b:
            raise ValueError(f"InferenceSiamCorners: templates have batch {kernels[0].shape[0]} but the search "
                             f"has {b}")
        if self.batched is not None:
            maps = torch.stack([xcorr_depthwise_multi(f, k) for f, k in zip(feats, kernels)], dim=1)
            self._tick("xcorr")
            corner = self.batched.corner_features(maps.reshape(b, len(feats), *maps.shape[2:]))
            self._tick("corner_pool")
            heat = self.batched.heat(corner)
            self._tick("heat")
            nl, hh, ww = len(feats), heat.shape[-2], heat.shape[-1]
            return heat.reshape(b, nl, 2, hh, ww), corner.reshape(b, nl, 2, -1, hh, ww)
        maps = []
        for head, f, k in zip(m.heads, feats, kernels):
            if head.search_conv is not None:
                f = head.search_conv(f)
            maps.append(xcorr_depthwise_multi(f, k))  # (B, K, C, 25, 25)
        self._tick("xcorr")
        corner = []
        for head, mp in zip(m.heads, maps):
            if head.templates == "four":
                f_t, f_l, f_b, f_r = mp.unbind(1)
                corner.append(torch.stack([head.tl_pool(f_t, f_l), head.br_pool(f_b, f_r)], dim=1))
            else:
                corner.append(torch.stack([head.tl_pool(mp[:, 0]), head.br_pool(mp[:, 0])], dim=1))
        self._tick("corner_pool")
        heat = [torch.stack([head.tl_heat(c[:, 0]), head.br_heat(c[:, 1])], dim=1) for head, c in zip(m.heads, corner)]
        self._tick("heat")
        return torch.stack(heat, dim=1)[:, :, :, 0], torch.stack(corner, dim=1)

    def _dense_offsets(self, corner: torch.Tensor) -> torch.Tensor:
        """corner (B, L, 2, C, H, W) -> offsets (B, L, 2, 2, H, W)."""
        b, nl, _, c, h, w = corner.shape
        if not self.offsets:
            return corner.new_zeros(b, nl, 2, 2, h, w)
        if self.batched is not None:
            return self.batched.dense_offsets(corner.reshape(b, nl * 2 * c, h, w)).reshape(b, nl, 2, 2, h, w)
        return torch.stack([torch.stack([head.tl_off(cr[:, 0]), head.br_off(cr[:, 1])], dim=1)
                            for head, cr in zip(self.model.heads, corner.unbind(1))], dim=1)

    def _sparse_offsets(self, corner: torch.Tensor, inds: torch.Tensor) -> torch.Tensor:
        """Offsets only at flat cell indices inds (B, L, 2, k) of the corner features (B, L, 2, C, H, W) ->
        (B, L, 2, 2, k), equal to the dense offset maps read at those cells."""
        b, nl, _, c, h, w = corner.shape
        heads = [m for head in self.model.heads for m in (head.tl_off, head.br_off)]  # L * 2, level-major
        k = heads[0].conv.conv.kernel_size[0]
        pad = k // 2
        padded = F.pad(corner.reshape(b * nl * 2, c, h, w), (pad, pad, pad, pad))  # (B*L*2, C, H+2p, W+2p)
        ys, xs = torch.div(inds, w, rounding_mode="floor"), inds % w  # (B, L, 2, k)
        d = torch.arange(k, device=inds.device)
        rows = (ys.reshape(b * nl * 2, -1, 1, 1) + d.view(1, 1, k, 1)).expand(-1, -1, k, k)  # (N, k, kh, kw)
        cols = (xs.reshape(b * nl * 2, -1, 1, 1) + d.view(1, 1, 1, k)).expand(-1, -1, k, k)
        n_idx = torch.arange(b * nl * 2, device=inds.device).view(-1, 1, 1, 1).expand_as(rows)
        patches = padded.permute(0, 2, 3, 1)[n_idx, rows, cols]  # (B*L*2, topk, kh, kw, C)
        topk = inds.shape[-1]
        patches = patches.permute(0, 1, 4, 2, 3).reshape(b, nl * 2, topk, c * k * k)  # (B, L*2, topk, C*k*k)
        out = []
        for g, head in enumerate(heads):
            conv = head.conv.conv
            mid = F.linear(patches[:, g], conv.weight.reshape(conv.weight.shape[0], -1), conv.bias)
            if isinstance(head.conv.bn, nn.BatchNorm2d):
                bn = head.conv.bn
                mid = F.batch_norm(mid.reshape(-1, mid.shape[-1]), bn.running_mean, bn.running_var, bn.weight,
                                   bn.bias, False, 0.0, bn.eps).reshape(mid.shape)
            mid = F.relu(mid)
            out.append(F.linear(mid, head.out.weight[:, :, 0, 0], head.out.bias))  # (B, topk, 2)
        return torch.stack(out, dim=1).reshape(b, nl, 2, topk, 2).transpose(3, 4)

    def _kernels_now(self) -> list[torch.Tensor]:
        if self.settings.precompute_template:
            if self._kernels is None:
                raise RuntimeError("InferenceSiamCorners.track: call template(z) first")
            return self._kernels
        if self._z is None:
            raise RuntimeError("InferenceSiamCorners.track: call template(z) first")
        return self.template_kernels(self._z)

    # ------------------------------------------------------------------------------------- public API
    def template(self, z: torch.Tensor) -> None:
        """Cache the templates z (B, K, 3, 127, 127): their kernels (PRECOMPUTE_TEMPLATE) or the crops."""
        if self.settings.precompute_template:
            self._kernels = self.template_kernels(z)
        else:
            self._z = z.clone()

    @torch.no_grad()
    def heat_and_features(self, x: torch.Tensor, kernels: Sequence[torch.Tensor] | None = None):
        """x (B, 3, 255, 255) -> (heat logits (B, L, 2, H, W) float32, corner features (B, L, 2, C, H, W))."""
        if kernels is None:
            kernels = self._kernels_now()
            if not self.settings.precompute_template:
                self._tick("template")
        with self._autocast(x.device):
            heat, corner = self._network(x, kernels)
        return heat.float(), corner

    @torch.no_grad()
    def track(self, x: torch.Tensor, kernels: Sequence[torch.Tensor] | None = None) -> list[dict[str, torch.Tensor]]:
        """Same contract as :meth:`SiamCorners.track` (dense offset maps; zeros without offset heads)."""
        heat, corner = self.heat_and_features(x, kernels)
        return self.maps_from(heat, corner)

    @torch.no_grad()
    def maps_from(self, heat: torch.Tensor, corner: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """heat (B, L, 2, H, W), corner features (B, L, 2, C, H, W) -> the per-level dicts of :meth:`track`."""
        with self._autocast(heat.device):
            off = self._dense_offsets(corner).float()
        return [{"tl_heat": heat[:, i, 0:1], "br_heat": heat[:, i, 1:2], "tl_off": off[:, i, 0],
                 "br_off": off[:, i, 1]} for i in range(heat.shape[1])]

    @torch.no_grad()
    def detect(self, x: torch.Tensor, topk: int = 12, nms_kernel: int = 1, num_pairs: int = 15,
               kernels: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, 3, 255, 255) -> candidates (B, L * num_pairs, 5) [x1, y1, x2, y2, score] in heat units, level
        by level, exactly as ``decode_corners`` on each level of :meth:`track` (all levels in one call)."""
        heat, corner = self.heat_and_features(x, kernels)
        return self.detect_from(heat, corner, topk, nms_kernel, num_pairs)

    @torch.no_grad()
    def detect_from(self, heat: torch.Tensor, corner: torch.Tensor, topk: int = 12, nms_kernel: int = 1,
                    num_pairs: int = 15) -> torch.Tensor:
        """heat logits (B, L, 2, H, W) float32 and corner features (B, L, 2, C, H, W) -> candidates
        (B, L * num_pairs, 5): offsets (sparse with SPARSE_OFFSETS) and decoding of every level."""
        b, nl, _, h, w = heat.shape
        if self.sparse:
            scores = _nms(torch.sigmoid(heat.reshape(b * nl * 2, 1, h, w)), nms_kernel)
            inds = torch.topk(scores.reshape(b * nl * 2, h * w), topk).indices.reshape(b, nl, 2, topk)
            with self._autocast(heat.device):
                vals = self._sparse_offsets(corner, inds).float()  # (B, L, 2, 2, topk)
            off = heat.new_zeros(b, nl, 2, 2, h * w)
            off.scatter_(4, inds.unsqueeze(3).expand(b, nl, 2, 2, topk), vals)
            off = off.reshape(b * nl, 2, 2, h, w)
        else:
            with self._autocast(heat.device):
                off = self._dense_offsets(corner).float().reshape(b * nl, 2, 2, h, w)
        self._tick("offsets")
        heat = heat.reshape(b * nl, 2, 1, h, w)
        det = decode_corners(heat[:, 0], heat[:, 1], off[:, 0], off[:, 1], topk, nms_kernel, num_pairs)
        return det.reshape(b, nl * num_pairs, 5)

    def forward(self, x: torch.Tensor) -> list[dict[str, Any]]:  # noqa: D401 - alias of track
        return self.track(x)
