"""Dilated ResNet backbones with the official SiamCorners geometry, and pretrained-weight loading.

Geometry (reference section 2.1, identical for both types):

* stem: 7x7 conv stride 2 **padding 0**, BN, ReLU, 3x3 max-pool stride 2 padding 1;
* layer1 stride 1; layer2 stride 2 with a **3x3, padding 0** first conv and a 3x3 stride-2 downsample;
  layer3 dilation 2 and layer4 dilation 4 (their first block and downsample use half the dilation);
* total stride 8: a 127x127 template gives 15x15 maps, a 255x255 search crop gives 31x31 maps.

Types:

* ``"resnet50"``: Bottleneck blocks [3, 4, 6, 3], outputs of layer2/3/4 have 512/1024/2048 channels
  (45,528,128 parameters with all four layers);
* ``"resnet18_small"``: BasicBlock blocks [2, 2, 2, 2] with stem width ``w`` (e.g. 16 or 32), layer widths
  w, 2w, 4w, 8w, so layer2/3/4 give ``[2w, 4w, 8w]`` channels. For fast CPU experiments only; no
  pretrained weights exist for it.

Levels 3, 4, 5 ("conv3/conv4/conv5" of the paper) are the outputs of layer2, layer3, layer4. Only the layers
up to the deepest requested level are built and run.

State-dict names follow torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ...).
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Mapping, Optional, Sequence

import torch
import torch.nn as nn

__all__ = [
    "Bottleneck",
    "BasicBlock",
    "DilatedResNet",
    "LevelBackbone",
    "build_backbone",
    "load_pretrained_backbone",
    "freeze_bn",
    "set_trainable",
    "LEVEL_TO_LAYER",
]

LEVEL_TO_LAYER = {3: "layer2", 4: "layer3", 5: "layer4"}
_LAYER_INDEX = {"layer1": 1, "layer2": 2, "layer3": 3, "layer4": 4}


def _conv3x3(cin: int, cout: int, stride: int = 1, padding: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=padding, dilation=dilation, bias=False)


def _block_conv_args(stride: int, dilation: int, first: bool, has_downsample: bool) -> tuple[int, int]:
    """(padding, dilation) of the strided/dilated 3x3 conv of a block (official rule)."""
    if first and has_downsample and dilation > 1:
        dilation = dilation // 2
        return dilation, dilation
    if stride == 2:
        return 0, dilation
    return dilation, dilation


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride, dilation) -> 1x1 (x4), BN after each; ReLU after the first two and after the add."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, first: bool = False):
        super().__init__()
        padding, dil = _block_conv_args(stride, dilation, first, downsample is not None)
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, padding, dil)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class BasicBlock(nn.Module):
    """3x3 (stride, dilation) -> 3x3, BN after each, ReLU after the first and after the add."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, first: bool = False):
        super().__init__()
        padding, dil = _block_conv_args(stride, dilation, first, downsample is not None)
        self.conv1 = _conv3x3(cin, planes, stride, padding, dil)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, 1, dilation, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class LevelBackbone(nn.Module):
    """A backbone whose forward(x, on_level=None) returns one map per paper level (``levels``, ``out_channels``),
    with BatchNorm freezing that ``train()`` honours (``frozen_bn``, ``trainable_layers``; see :func:`freeze_bn`,
    :func:`set_trainable`). Implemented by :class:`DilatedResNet` and ``mobilenet.DilatedMobileNetV2``."""

    def __init__(self):
        super().__init__()
        self.frozen_bn = False
        self.trainable_layers: list[str] | None = None  # None = everything trains

    def train(self, mode: bool = True) -> "LevelBackbone":
        """Like ``nn.Module.train``, but BN layers that are frozen (``frozen_bn``, or outside the trainable
        layers set by :func:`set_trainable`) stay in eval mode."""
        super().train(mode)
        if mode:
            for name, child in self.named_children():
                if self.frozen_bn or (self.trainable_layers is not None and name not in self.trainable_layers):
                    for m in child.modules():
                        if isinstance(m, nn.modules.batchnorm._BatchNorm):
                            m.eval()
        return self

    def _init_weights(self) -> None:
        """He init of the convolutions (fan-out), BN as identity; pretrained weights are loaded over it."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


class DilatedResNet(LevelBackbone):
    """ResNet with stride 8 (layer3/4 dilated); forward returns the maps of the requested levels.

    ``levels`` are paper levels 3/4/5 (layer2/3/4 outputs), returned in the given order.
    """

    def __init__(self, block: type, layers: Sequence[int], levels: Sequence[int] = (3, 4, 5), width: int = 64):
        super().__init__()
        levels = [int(lv) for lv in levels]
        if not levels or any(lv not in LEVEL_TO_LAYER for lv in levels):
            raise ValueError(f"backbone levels must be a non-empty subset of [3, 4, 5], got {levels!r}")
        self.levels = levels
        self.num_layers = max(levels) - 1  # layer2 for level 3, ..., layer4 for level 5

        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        specs = [(width, 1, 1), (width * 2, 2, 1), (width * 4, 1, 2), (width * 8, 1, 4)]
        self.out_channels_by_level: dict[int, int] = {}
        for i, (planes, stride, dilation) in enumerate(specs[: self.num_layers], start=1):
            setattr(self, f"layer{i}", self._make_layer(block, planes, layers[i - 1], stride, dilation))
            if i >= 2:
                self.out_channels_by_level[i + 1] = planes * block.expansion
        del self.inplanes
        self.out_channels = [self.out_channels_by_level[lv] for lv in levels]
        self._init_weights()

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
        cout = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != cout:
            if stride == 1 and dilation == 1:
                conv = nn.Conv2d(self.inplanes, cout, 1, stride=1, bias=False)
            else:
                dd = max(dilation // 2, 1)
                pad = dd if dilation > 1 else 0
                conv = nn.Conv2d(self.inplanes, cout, 3, stride=stride, padding=pad, dilation=dd, bias=False)
            downsample = nn.Sequential(conv, nn.BatchNorm2d(cout))
        blocks_ = [block(self.inplanes, planes, stride, dilation, downsample, first=True)]
        self.inplanes = cout
        blocks_ += [block(cout, planes, 1, dilation) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor, on_level: Optional[Callable[[int], None]] = None) -> list[torch.Tensor]:
        """x (N, 3, H, W) -> one map per level, e.g. (N, C_l, 15, 15) for H = W = 127, 31x31 for 255.

        ``on_level(level)`` is called right after each level's map is computed (stage timing)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        by_level: dict[int, torch.Tensor] = {}
        for i in range(1, self.num_layers + 1):
            x = getattr(self, f"layer{i}")(x)
            if i + 1 in LEVEL_TO_LAYER:
                by_level[i + 1] = x
                if on_level is not None:
                    on_level(i + 1)
        return [by_level[lv] for lv in self.levels]


def build_backbone(type: str = "resnet50", levels: Sequence[int] = (3, 4, 5), width: int = 64,
                   width_mult: float = 1.4, depth: int = 2) -> LevelBackbone:
    """``type`` "resnet50" (official, ``width`` ignored), "resnet18_small" (BasicBlock, stem width ``width``),
    "mobilenetv2" (pysot's dilated MobileNetV2, channel multiplier ``width_mult``; see :mod:`.mobilenet`) or
    "gradient" (fixed oriented-gradient/colour cells + ``depth`` learned conv blocks of ``width`` channels; see
    :mod:`.gradient_backbone`)."""
    if type == "gradient":
        from .gradient_backbone import GradientBackbone

        return GradientBackbone(levels, width, depth)
    if type == "mobilenetv2":
        from .mobilenet import DilatedMobileNetV2

        return DilatedMobileNetV2(levels, width_mult)
    if type == "resnet50":
        return DilatedResNet(Bottleneck, [3, 4, 6, 3], levels, width=64)
    if type == "resnet18_small":
        if width < 1:
            raise ValueError(f"resnet18_small width must be >= 1, got {width}")
        return DilatedResNet(BasicBlock, [2, 2, 2, 2], levels, width=width)
    raise ValueError(f"unknown backbone type {type!r}; expected 'resnet50', 'resnet18_small', 'mobilenetv2' or "
                     f"'gradient'")


def freeze_bn(module: nn.Module) -> None:
    """Keep every BatchNorm of ``module`` in eval mode from now on (running statistics stop updating)."""
    if isinstance(module, LevelBackbone):
        module.frozen_bn = True
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def set_trainable(backbone: LevelBackbone, layers: Iterable[str]) -> None:
    """Only the named top-level children (e.g. ``["layer2", "layer3", "layer4"]``) get gradients; the BN layers of
    the others stay in eval mode (as the official ``build_opt_lr``). ``[]`` freezes the whole backbone."""
    layers = list(layers)
    children = dict(backbone.named_children())
    unknown = [n for n in layers if n not in children]
    if unknown:
        raise ValueError(f"set_trainable: unknown backbone layer(s) {unknown}; available: {sorted(children)}")
    backbone.trainable_layers = layers
    for name, child in children.items():
        for p in child.parameters():
            p.requires_grad_(name in layers)
    backbone.train(backbone.training)


# ----------------------------------------------------------------------------------------- pretrained loading
_PREFIXES = ("module.", "features.", "backbone.")


MIN_PRETRAINED_FRACTION = 0.5  # a pretrained file must fill at least half of the backbone's weight tensors


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path}: pretrained backbone file not found (MODEL.BACKBONE.PRETRAINED). Two formats load: pysot's "
            f"ImageNet 'resnet50.model' (from the pysot model zoo, STVIR/pysot MODEL_ZOO.md) or torchvision's "
            f"ResNet-50 weights, e.g. torch.save(torchvision.models.resnet50(weights='IMAGENET1K_V1').state_dict(), "
            f"'{path}') on a machine with internet; set MODEL.BACKBONE.PRETRAINED '' to train from scratch")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated / foreign / pickled objects refused by weights_only
        raise ValueError(f"{path}: cannot read pretrained backbone weights ({type(e).__name__}: {e})") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict of tensors (got {type(obj).__name__})")
    return dict(obj)


def _strip_prefixes(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


def load_pretrained_backbone(backbone: nn.Module, path: str, verbose: bool = True) -> dict[str, list[str]]:
    """Copy weights from a local pysot ``resnet50.model`` or torchvision ImageNet ResNet-50 state dict (or, for a
    MobileNetV2 backbone, a torchvision ``mobilenet_v2`` state dict, renamed by its ``map_pretrained`` hook).

    Every tensor whose name and shape match is copied exactly. A 1x1 downsample kernel (torchvision) going into
    one of our 3x3 downsample convs is placed at the kernel centre, zeros elsewhere ("adapted"). Tensors the hook
    derives (MobileNetV2: stem channel order, identity expansion) are "adapted" too. Prefixes
    ``module.`` / ``features.`` / ``backbone.`` are stripped. Returns (and prints) a report with the lists
    ``loaded``, ``adapted``, ``missing`` (ours, not in the file; ``num_batches_tracked`` ignored),
    ``unexpected`` (in the file, not ours) and ``mismatched`` (same name, incompatible shape: left as is).
    """
    src = _strip_prefixes(_read_state_dict(path))
    derived: dict[str, torch.Tensor] = {}  # tensors a backbone's hook derives (reported as adapted)
    if hasattr(backbone, "map_pretrained"):
        src, derived = backbone.map_pretrained(src, path)
    own = backbone.state_dict()
    report: dict[str, list[str]] = {"loaded": [], "adapted": [], "missing": [], "unexpected": [], "mismatched": []}
    new_state = {}
    for name, target in own.items():
        if name in derived and derived[name].shape == target.shape:
            new_state[name] = derived[name].to(target.dtype)
            report["adapted"].append(name)
            continue
        if name not in src:
            if not name.endswith("num_batches_tracked"):
                report["missing"].append(name)
            continue
        value = src[name]
        if value.shape == target.shape:
            new_state[name] = value.to(target.dtype)
            report["loaded"].append(name)
        elif (value.dim() == 4 and target.dim() == 4 and value.shape[:2] == target.shape[:2]
              and value.shape[2:] == (1, 1) and target.shape[2] % 2 == 1 and target.shape[3] % 2 == 1):
            kernel = torch.zeros_like(target)
            kernel[:, :, target.shape[2] // 2, target.shape[3] // 2] = value[:, :, 0, 0].to(target.dtype)
            new_state[name] = kernel
            report["adapted"].append(name)
        else:
            report["mismatched"].append(f"{name}: file {tuple(value.shape)} vs model {tuple(target.shape)}")
    report["unexpected"] = [k for k in src if k not in own]
    if not new_state:
        raise ValueError(f"{path}: no tensor matches the backbone (file keys start with "
                         f"{sorted(src)[:3]}, model keys with {sorted(own)[:3]})")
    weights = [k for k in own if not k.endswith("num_batches_tracked")]
    used = [k for k in report["loaded"] + report["adapted"] if not k.endswith("num_batches_tracked")]
    if len(used) < MIN_PRETRAINED_FRACTION * len(weights):
        bad = report["mismatched"][:2] or report["missing"][:2]
        raise ValueError(f"{path}: only {len(used)} of the backbone's {len(weights)} weight tensors match "
                         f"({len(report['mismatched'])} shape-mismatched, {len(report['missing'])} missing; e.g. "
                         f"{'; '.join(bad)}): the file is for another backbone than this config's "
                         f"(MODEL.BACKBONE.TYPE, WIDTH, WIDTH_MULT); give MODEL.BACKBONE.PRETRAINED a file for it, "
                         f"or '' to train from scratch")
    backbone.load_state_dict(new_state, strict=False)
    if verbose:
        print(f"pretrained backbone {path}: loaded {len(report['loaded'])}, adapted "
              f"{len(report['adapted'])}, missing {len(report['missing'])}, unexpected {len(report['unexpected'])}, "
              f"shape-mismatched {len(report['mismatched'])}")
        for key in ("adapted", "missing", "unexpected", "mismatched"):
            if report[key]:
                print(f"  {key}: {', '.join(report[key][:10])}{' ...' if len(report[key]) > 10 else ''}")
    return report
