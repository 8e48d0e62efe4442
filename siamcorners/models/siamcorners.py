"""The SiamCorners model: shared backbone + neck for the templates and the search crop, one corner head per level.

API (docs/design.md "Model API")::

    model = build_model(cfg)                    # on CPU; the caller moves it
    model.template(z)                           # z (B, K, 3, 127, 127) raw BGR 0..255; caches correlation kernels
    outs = model.track(x)                       # x (B, 3, 255, 255) -> one dict per level (cfg.MODEL.LEVELS order)
    losses = model(batch)                       # training: dict of scalar losses with "total", "focal", "offset"

K = 4 boundary templates in order top, left, bottom, right (``MODEL.HEAD.TEMPLATES: four``), or K = 1 whole-box
template (``unified``; a (B, 3, 127, 127) tensor is accepted too).

Batch-norm statistics: the official code runs the backbone and the neck once per image group (t, l, b, r, search).
Here the K templates go through the backbone in one batched call whenever no backbone BN layer is in training mode
(always the case in the official profile, whose backbone stays frozen), which gives identical results; if some
backbone BN does train, the groups run separately so that batch statistics stay per group as in the official code.
The neck (cheap) always runs per group.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn

from .backbone import LevelBackbone, build_backbone
from .heads import CornerHead
from .losses import corner_loss
from .neck import AdjustNeck

__all__ = ["SiamCorners", "build_model", "TARGET_KEYS"]

TARGET_KEYS = ("tl_heat", "br_heat", "tl_off", "br_off", "tl_ind", "br_ind", "valid")
OPTIONAL_TARGET_KEYS = ("no_target",)  # (B,) 1 = negative pair with empty heat maps (losses.corner_loss)


class SiamCorners(nn.Module):
    """Backbone (``backbone``), neck (``neck``) and one :class:`CornerHead` per level (``heads.{i}``)."""

    def __init__(self, backbone: LevelBackbone, neck: AdjustNeck, heads: Sequence[CornerHead],
                 levels: Sequence[int], normalize: bool = False, mean: Sequence[float] = (0.0, 0.0, 0.0),
                 std: Sequence[float] = (1.0, 1.0, 1.0), loss_args: Mapping[str, Any] | None = None):
        super().__init__()
        if not (len(levels) == len(heads) == len(neck.layers)):
            raise ValueError(f"SiamCorners: {len(levels)} levels, {len(neck.layers)} neck layers and "
                             f"{len(heads)} heads must agree")
        self.backbone = backbone
        self.neck = neck
        self.heads = nn.ModuleList(heads)
        self.levels = list(levels)
        self.num_templates = heads[0].num_templates
        self.offsets = heads[0].offsets
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.loss_args = dict(loss_args or {})
        self._kernels: list[torch.Tensor] | None = None

    # ------------------------------------------------------------------------------------------- features
    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.normalize else x

    def _backbone_bn_training(self) -> bool:
        return any(m.training for m in self.backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))

    def _as_templates(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 4 and self.num_templates == 1:
            z = z.unsqueeze(1)
        if z.dim() != 5 or z.shape[1] != self.num_templates or z.shape[2] != 3:
            raise ValueError(f"SiamCorners.template: expected z of shape (B, {self.num_templates}, 3, H, W), "
                             f"got {tuple(z.shape)}")
        return z

    def template_features(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z (B, K, 3, 127, 127) -> per level neck features (B, K, C, 7, 7)."""
        z = self._as_templates(z)
        b, k = z.shape[:2]
        z = self._normalize(z.flatten(0, 1))  # (B*K, 3, 127, 127)
        if k > 1 and self._backbone_bn_training():
            groups = [self.backbone(z.view(b, k, *z.shape[1:])[:, i]) for i in range(k)]
        else:
            feats = self.backbone(z)  # per level (B*K, C_l, 15, 15)
            groups = [[f.view(b, k, *f.shape[1:])[:, i] for f in feats] for i in range(k)]
        per_group = [self.neck(g) for g in groups]  # K lists of per-level (B, C, 7, 7)
        return [torch.stack([per_group[i][lv] for i in range(k)], dim=1) for lv in range(len(self.levels))]

    def search_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (B, 3, 255, 255) -> per level neck features (B, C, 31, 31)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"SiamCorners: expected search x of shape (B, 3, H, W), got {tuple(x.shape)}")
        return self.neck(self.backbone(self._normalize(x)))

    def _kernels_for(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [head.prepare_templates(f) for head, f in zip(self.heads, self.template_features(z))]

    def _heads(self, x: torch.Tensor, kernels: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        feats = self.search_features(x)
        if kernels[0].shape[0] == 1 and x.shape[0] > 1:
            kernels = [k.expand(x.shape[0], *k.shape[1:]) for k in kernels]
        elif kernels[0].shape[0] != x.shape[0]:
            raise ValueError(f"SiamCorners: templates have batch {kernels[0].shape[0]} but the search has "
                             f"{x.shape[0]}")
        return [head.forward_search(f, k) for head, f, k in zip(self.heads, feats, kernels)]

    # ------------------------------------------------------------------------------------------- public API
    def template(self, z: torch.Tensor) -> None:
        """Cache the correlation kernels of the templates z (B, K, 3, 127, 127) for later :meth:`track` calls."""
        self._kernels = self._kernels_for(z)

    def track(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """x (B, 3, 255, 255) -> per level {"tl_heat", "br_heat": (B,1,25,25) logits, "tl_off", "br_off": (B,2,25,25)}.

        A cached template batch of 1 is broadcast over the search batch."""
        if self._kernels is None:
            raise RuntimeError("SiamCorners.track: call template(z) first")
        return self._heads(x, self._kernels)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Training step: ``batch`` holds ``template`` (B,K,3,127,127), ``search`` (B,3,255,255) and the targets
        ``tl_heat``, ``br_heat`` (B,1,25,25), ``tl_off``, ``br_off`` (B,2), ``tl_ind``, ``br_ind`` (B,) int64,
        ``valid`` (B,), optionally ``no_target`` (B,) -> dict of scalar losses (``total``, ``focal``,
        ``offset``, ...)."""
        missing = [k for k in ("template", "search") + TARGET_KEYS if k not in batch]
        if missing:
            raise KeyError(f"SiamCorners.forward: batch is missing {missing} (has {sorted(batch)})")
        outputs = self._heads(batch["search"], self._kernels_for(batch["template"]))
        if not self.offsets:  # no offset heads: no offset loss
            outputs = [{**o, "tl_off": None, "br_off": None} for o in outputs]
        targets = {k: batch[k] for k in TARGET_KEYS + OPTIONAL_TARGET_KEYS if k in batch}
        return corner_loss(outputs, targets, **self.loss_args)


def build_model(cfg: Mapping) -> SiamCorners:
    """Build the model described by ``cfg.MODEL`` (loss settings from ``cfg.LOSS``), on CPU.

    ``MODEL.BACKBONE.PRETRAINED`` is *not* loaded here (the training engine calls
    :func:`siamcorners.models.backbone.load_pretrained_backbone`), so building never touches the disk.
    """
    m = cfg["MODEL"]
    levels = list(m["LEVELS"])
    bb = m["BACKBONE"]
    backbone = build_backbone(bb["TYPE"], levels, bb["WIDTH"], bb["WIDTH_MULT"], bb["DEPTH"])
    if bb["FROZEN_BN"]:
        backbone.frozen_bn = True
    neck_cfg = m["NECK"]
    neck = AdjustNeck(backbone.out_channels, neck_cfg["OUT_CHANNELS"], neck_cfg["CENTER_SIZE"], neck_cfg["CROP_BELOW"])
    h = m["HEAD"]
    heads = [CornerHead(channels=h["CHANNELS"], pool_channels=h["POOL_CHANNELS"], corner_pool=h["CORNER_POOL"],
                        templates=h["TEMPLATES"], offsets=h["OFFSETS"], search_conv=h["SEARCH_CONV"],
                        head_bn=h["HEAD_BN"], head_last_kernel=h["HEAD_LAST_KERNEL"],
                        heat_bias_init=h["HEAT_BIAS_INIT"], pool_impl=h["POOL_IMPL"],
                        pool_tie_rule=h["POOL_TIE_RULE"])
             for _ in levels]
    loss = cfg["LOSS"]
    loss_args = dict(alpha=loss["ALPHA"], beta=loss["BETA"], offset_weight=loss["OFFSET_WEIGHT"],
                     focal_norm=loss["FOCAL_NORM"], offset_norm=loss["OFFSET_NORM"],
                     level_reduction=loss["LEVEL_REDUCTION"])
    inp = m["INPUT"]
    model = SiamCorners(backbone, neck, heads, levels, inp["NORMALIZE"], inp["MEAN"], inp["STD"], loss_args)
    return model.train(model.training)
