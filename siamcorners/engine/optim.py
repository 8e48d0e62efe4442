"""SGD param groups and the backbone freeze/unfreeze rule (reference section 8.2).

Before ``TRAIN.BACKBONE_EPOCH`` the whole backbone is frozen (no gradients, BatchNorm in eval mode);
from that epoch on, the layers named in ``MODEL.BACKBONE.TRAIN_LAYERS`` train with
``lr = BASE_LR * BACKBONE_LR_MULT`` and their BatchNorm layers in train mode (unless
``MODEL.BACKBONE.FROZEN_BN``). The neck and the head always train at ``BASE_LR``.

Each param group carries ``lr_mult``; the epoch lr scheduler multiplies its value by it.
The model must expose ``model.backbone`` and ``model.neck``; every other parameter belongs to the head.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn

from siamcorners.models.backbone import freeze_bn, set_trainable

__all__ = [
    "backbone_trainable",
    "build_optimizer",
    "param_groups",
    "rebuild_optimizer",
    "set_backbone_mode",
]

_RESNET_LAYERS = ("layer1", "layer2", "layer3", "layer4")


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(getattr(model, "module", None), nn.Module) else model


def _backbone(model: nn.Module) -> nn.Module:
    model = _unwrap(model)
    if not isinstance(getattr(model, "backbone", None), nn.Module):
        raise AttributeError(f"{type(model).__name__} has no 'backbone' submodule; the optimizer needs "
                             "model.backbone, model.neck and the head")
    return model.backbone


def backbone_trainable(train_cfg: Mapping[str, Any], epoch: int) -> bool:
    """True when the backbone's TRAIN_LAYERS train at ``epoch`` (epoch >= TRAIN.BACKBONE_EPOCH)."""
    return epoch >= int(train_cfg["BACKBONE_EPOCH"])


def set_backbone_mode(model: nn.Module, train_layers: Sequence[str], trainable: bool,
                      frozen_bn: bool = False) -> None:
    """Gradients and BatchNorm modes of the backbone (uses ``backbone.set_trainable`` / ``freeze_bn``).

    Frozen: no parameter gets gradients and every BN stays in eval mode. Trainable: ``train_layers``
    (top-level children such as ``layer2``) get gradients and their BN follows ``model.train()``, unless
    ``frozen_bn``. The backbone keeps this rule across later ``model.train()`` calls.
    """
    backbone = _backbone(model)
    built = dict(backbone.named_children())
    # layers beyond the deepest level in MODEL.LEVELS are not built: nothing to train there
    layers = [n for n in train_layers if n in built or n not in _RESNET_LAYERS]
    try:
        set_trainable(backbone, layers if trainable else [])
    except ValueError as e:
        raise ValueError(f"MODEL.BACKBONE.TRAIN_LAYERS: {e}") from None
    if frozen_bn:
        freeze_bn(backbone)


def param_groups(model: nn.Module, base_lr: float, backbone_lr_mult: float) -> list[dict[str, Any]]:
    """Three groups (backbone, neck, head) of the parameters that require gradients; empty groups dropped."""
    model = _unwrap(model)
    groups: dict[str, list[nn.Parameter]] = {"backbone": [], "neck": [], "head": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        part = name.split(".", 1)[0]
        groups[part if part in ("backbone", "neck") else "head"].append(p)
    mults = {"backbone": backbone_lr_mult, "neck": 1.0, "head": 1.0}
    return [{"params": ps, "name": k, "lr": base_lr * mults[k], "lr_mult": mults[k]}
            for k, ps in groups.items() if ps]


def build_optimizer(model: nn.Module, cfg: Mapping[str, Any], epoch: int) -> torch.optim.SGD:
    """Apply the freeze rule for ``epoch`` and return SGD over the trainable parameters."""
    tc, bc = cfg["TRAIN"], cfg["MODEL"]["BACKBONE"]
    set_backbone_mode(model, bc["TRAIN_LAYERS"], backbone_trainable(tc, epoch), bc["FROZEN_BN"])
    groups = param_groups(model, tc["BASE_LR"], tc["BACKBONE_LR_MULT"])
    if not groups:
        raise ValueError("no trainable parameters: check MODEL.BACKBONE.TRAIN_LAYERS and TRAIN.BACKBONE_EPOCH")
    return torch.optim.SGD(groups, lr=tc["BASE_LR"], momentum=tc["MOMENTUM"], weight_decay=tc["WEIGHT_DECAY"])


def rebuild_optimizer(old: torch.optim.Optimizer, model: nn.Module, cfg: Mapping[str, Any],
                      epoch: int) -> torch.optim.SGD:
    """New groups for ``epoch`` (e.g. the backbone unfreezes); momentum buffers of parameters kept."""
    new = build_optimizer(model, cfg, epoch)
    for p in _params(new.param_groups):
        if p in old.state:
            new.state[p] = old.state[p]
    return new


def _params(groups: Iterable[Mapping[str, Any]]) -> Iterable[nn.Parameter]:
    for g in groups:
        yield from g["params"]
