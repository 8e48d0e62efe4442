"""The optimiser's parameter groups and the backbone freeze rule (engine/optim.py, reference section 8.2), without a
Trainer: backbone / neck / head groups by top-level name, lr = BASE_LR x lr_mult, SGD's momentum and weight decay,
FROZEN_BN, a wrapped model, and the errors.

The whole-step check that these values reach the weights is tests/test_train_hyperparameters.py."""
import re

import pytest
import torch
from torch import nn

from siamcorners.config import get_default_config, merge_opts
from siamcorners.engine.optim import backbone_trainable, build_optimizer, rebuild_optimizer, set_backbone_mode
from siamcorners.models.backbone import build_backbone


class Model(nn.Module):
    """backbone (ResNet-18 stem, layer1, layer2), neck, head and one more top-level part (the head's)."""

    def __init__(self):
        super().__init__()
        self.backbone = build_backbone("resnet18_small", [3], width=4)  # children conv1, bn1, ..., layer1, layer2
        self.neck = nn.Conv2d(8, 8, 1)
        self.head = nn.Linear(8, 2)
        self.xcorr = nn.Linear(2, 2)
        self.head.bias.requires_grad_(False)  # a parameter frozen by the model itself: in no group


def _cfg(*opts):
    cfg = get_default_config()
    merge_opts(cfg, ["TRAIN.BACKBONE_EPOCH", "2", "MODEL.BACKBONE.TRAIN_LAYERS", "[layer1, layer2]",
                     "TRAIN.BASE_LR", "0.2", "TRAIN.BACKBONE_LR_MULT", "0.1", "TRAIN.MOMENTUM", "0.8",
                     "TRAIN.WEIGHT_DECAY", "0.003", *opts])
    return cfg


def _ids(params):
    return [id(p) for p in params]


def _bn_modes(backbone):
    return {name: m.training for name, m in backbone.named_modules() if isinstance(m, nn.BatchNorm2d)}


@pytest.mark.parametrize("wrap", [False, True])
def test_groups_by_top_level_name_with_their_lr_momentum_and_weight_decay(wrap):
    model = Model()
    opt = build_optimizer(nn.DataParallel(model) if wrap else model, _cfg(), 2)  # a wrapper is read via .module
    assert isinstance(opt, torch.optim.SGD)
    assert [g["name"] for g in opt.param_groups] == ["backbone", "neck", "head"]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2, 0.2], rel=1e-12)
    assert [g["lr_mult"] for g in opt.param_groups] == pytest.approx([0.1, 1.0, 1.0], rel=1e-12)
    assert [g["momentum"] for g in opt.param_groups] == [0.8] * 3
    assert [g["weight_decay"] for g in opt.param_groups] == [0.003] * 3
    backbone = [*model.backbone.layer1.parameters(), *model.backbone.layer2.parameters()]
    assert _ids(opt.param_groups[0]["params"]) == _ids(backbone)  # the stem stays frozen
    assert _ids(opt.param_groups[1]["params"]) == _ids(model.neck.parameters())
    assert _ids(opt.param_groups[2]["params"]) == _ids([model.head.weight, *model.xcorr.parameters()])
    assert not any(p.requires_grad for p in [*model.backbone.conv1.parameters(), *model.backbone.bn1.parameters()])


def test_frozen_backbone_before_backbone_epoch_and_unfrozen_from_it():
    cfg = _cfg()
    assert [backbone_trainable(cfg.TRAIN, e) for e in (0, 1, 2, 3)] == [False, False, True, True]
    model = Model()
    opt = build_optimizer(model, cfg, 1)
    assert [g["name"] for g in opt.param_groups] == ["neck", "head"]
    assert not any(p.requires_grad for p in model.backbone.parameters())
    model.train()
    assert not any(_bn_modes(model.backbone).values())
    # one step, then epoch 2: the backbone joins, neck and head keep their momentum buffers (the same tensors)
    model.head(model.neck(torch.ones(1, 8, 1, 1)).flatten(1)).sum().backward()
    opt.step()
    buffers = {id(p): opt.state[p]["momentum_buffer"] for p in model.neck.parameters()}
    new = rebuild_optimizer(opt, model, cfg, 2)
    assert [g["name"] for g in new.param_groups] == ["backbone", "neck", "head"]
    assert all(new.state[p]["momentum_buffer"] is buffers[id(p)] for p in model.neck.parameters())
    assert not any(p in new.state for p in model.backbone.parameters())
    model.train()
    modes = _bn_modes(model.backbone)
    assert modes and all(modes[n] == n.startswith(("layer1", "layer2")) for n in modes)


def test_frozen_bn_keeps_every_backbone_batchnorm_in_eval_mode_while_its_layers_train():
    model = Model()
    opt = build_optimizer(model, _cfg("MODEL.BACKBONE.FROZEN_BN", "true"), 2)
    assert opt.param_groups[0]["name"] == "backbone"
    assert all(p.requires_grad for p in model.backbone.layer2.parameters())
    model.train()
    assert not any(_bn_modes(model.backbone).values())
    # set_backbone_mode's default: the BN of the layers that train follows model.train()
    model = Model()
    set_backbone_mode(model, ["layer2"], True)
    model.train()
    modes = _bn_modes(model.backbone)
    assert modes and all(modes[n] == n.startswith("layer2") for n in modes)


def test_train_layers_beyond_the_built_levels_are_skipped_and_unknown_ones_named():
    model = Model()  # built up to layer2 (level 3): layer3 and layer4 do not exist
    opt = build_optimizer(model, _cfg("MODEL.BACKBONE.TRAIN_LAYERS", "[layer2, layer3, layer4]"), 2)
    assert _ids(opt.param_groups[0]["params"]) == _ids(model.backbone.layer2.parameters())
    with pytest.raises(ValueError, match=r"^MODEL\.BACKBONE\.TRAIN_LAYERS: .*\['layer9'\]"):
        build_optimizer(Model(), _cfg("MODEL.BACKBONE.TRAIN_LAYERS", "[layer2, layer9]"), 2)


def test_errors_name_what_is_missing():
    class NoBackbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.neck = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="^" + re.escape(
            "NoBackbone has no 'backbone' submodule; the optimizer needs model.backbone, model.neck and the head")
            + "$"):
        build_optimizer(NoBackbone(), _cfg(), 2)

    class BackboneOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = build_backbone("resnet18_small", [3], width=4)

    with pytest.raises(ValueError, match="^" + re.escape(
            "no trainable parameters: check MODEL.BACKBONE.TRAIN_LAYERS and TRAIN.BACKBONE_EPOCH") + "$"):
        build_optimizer(BackboneOnly(), _cfg(), 1)
