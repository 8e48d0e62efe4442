"""MobileNetV2 backbone with the dilated geometry of pysot's ``siamrpn_mobilev2_l234_dwxcorr`` (the light
real-time profile, ``experiments/siamcorners_mobilev2``), and the mapping of torchvision ImageNet weights onto it.

Geometry at width multiplier ``w`` (pysot uses 1.4; torchvision's ImageNet ``mobilenet_v2`` file is 1.0):

* ``layer0`` (stem): 3x3 conv stride 2, **padding 0**, BN, ReLU6 -> ``int(32 w)`` channels;
* ``layer1`` .. ``layer7``: stages of inverted-residual blocks (expansion t, channels c, blocks n, stride s,
  dilation d) = (1,16,1,1,1) (6,24,2,2,1) (6,32,3,2,1) (6,64,4,1,2) (6,96,3,1,2) (6,160,3,1,4) (6,320,1,1,4),
  ``int(c w)`` output channels. The first block of a stage whose dilation grows uses half of it; a stride-2
  depthwise conv has padding 0, the others padding = dilation. Every block has a 1x1 expansion conv, also when
  t = 1 (pysot's layout; torchvision leaves it out there);
* total stride 8 as the dilated ResNet: a 127x127 template gives 15x15 maps and a 255x255 search crop 31x31, so
  the neck's 7x7 template crop and the 25x25 correlation maps are unchanged.

Levels 3, 4, 5 (``MODEL.LEVELS``) are the outputs of ``layer3``, ``layer5``, ``layer7`` (pysot's used layers
[3, 5, 7]) with ``int(32 w)``, ``int(96 w)``, ``int(320 w)`` channels: 44/134/448 at w = 1.4, 32/96/320 at 1.0.
Only the stages up to the deepest requested level are built and run.

State-dict names: ``layer{i}.{block}.conv.{k}`` (k = 0 expansion conv, 1 BN, 3 depthwise conv, 4 BN, 6 projection
conv, 7 BN), stem ``layer0.0`` / ``layer0.1``, so a pysot-format backbone file loads by name.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from .backbone import LevelBackbone

__all__ = ["InvertedResidual", "DilatedMobileNetV2", "MOBILENET_LEVEL_TO_LAYER", "map_torchvision_mobilenet_v2"]

MOBILENET_LEVEL_TO_LAYER = {3: 3, 4: 5, 5: 7}
# (expansion t, channels c, blocks n, stride s, dilation d) of layer1 .. layer7
_STAGES = ((1, 16, 1, 1, 1), (6, 24, 2, 2, 1), (6, 32, 3, 2, 1), (6, 64, 4, 1, 2), (6, 96, 3, 1, 2),
           (6, 160, 3, 1, 4), (6, 320, 1, 1, 4))
# torchvision block sub-module -> ours (t = 1 block: depthwise, BN, projection, BN; others with the expansion first)
_TV_T1 = {"conv.0.0": "conv.3", "conv.0.1": "conv.4", "conv.1": "conv.6", "conv.2": "conv.7"}
_TV_BLOCK = {"conv.0.0": "conv.0", "conv.0.1": "conv.1", "conv.1.0": "conv.3", "conv.1.1": "conv.4",
             "conv.2": "conv.6", "conv.3": "conv.7"}


class InvertedResidual(nn.Module):
    """1x1 expansion (BN, ReLU6) -> 3x3 depthwise (stride, dilation; BN, ReLU6) -> 1x1 projection (BN), plus the
    input when stride is 1 and the channel count is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int, dilation: int = 1):
        super().__init__()
        mid = cin * expansion
        padding = dilation if dilation > 1 else (0 if stride == 2 else 1)
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, padding, dilation=dilation, groups=mid, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, cin, H, W) -> (N, cout, H', W')
        return x + self.conv(x) if self.residual else self.conv(x)


class DilatedMobileNetV2(LevelBackbone):
    """MobileNetV2 with stride 8 (see the module docstring); forward returns the maps of the requested levels."""

    def __init__(self, levels: Sequence[int] = (3, 4, 5), width_mult: float = 1.4):
        super().__init__()
        levels = [int(lv) for lv in levels]
        if not levels or any(lv not in MOBILENET_LEVEL_TO_LAYER for lv in levels):
            raise ValueError(f"backbone levels must be a non-empty subset of [3, 4, 5], got {levels!r}")
        if width_mult <= 0:
            raise ValueError(f"MobileNetV2 width multiplier must be > 0, got {width_mult}")
        self.levels = levels
        self.width_mult = float(width_mult)
        self.num_layers = MOBILENET_LEVEL_TO_LAYER[max(levels)]
        cin = int(32 * width_mult)
        self.layer0 = nn.Sequential(nn.Conv2d(3, cin, 3, 2, 0, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(inplace=True))
        layer_channels = {0: cin}
        last_dilation = 1
        for i, (t, c, n, s, d) in enumerate(_STAGES[: self.num_layers], start=1):
            cout = int(c * width_mult)
            first_dilation = d if d == last_dilation else max(d // 2, 1)
            blocks = [InvertedResidual(cin, cout, s, t, first_dilation)]
            blocks += [InvertedResidual(cout, cout, 1, t, d) for _ in range(1, n)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            layer_channels[i] = cin = cout
            last_dilation = d
        self.out_channels_by_level = {lv: layer_channels[layer] for lv, layer in MOBILENET_LEVEL_TO_LAYER.items()
                                      if layer <= self.num_layers}
        self.out_channels = [self.out_channels_by_level[lv] for lv in levels]
        self._init_weights()

    def forward(self, x: torch.Tensor, on_level: Optional[Callable[[int], None]] = None) -> list[torch.Tensor]:
        """x (N, 3, H, W) -> one map per level: (N, C_l, 15, 15) for H = W = 127, 31x31 for 255.

        ``on_level(level)`` is called right after each level's map is computed (stage timing)."""
        x = self.layer0(x)
        by_level: dict[int, torch.Tensor] = {}
        layer_to_level = {layer: lv for lv, layer in MOBILENET_LEVEL_TO_LAYER.items()}
        for i in range(1, self.num_layers + 1):
            x = getattr(self, f"layer{i}")(x)
            if i in layer_to_level:
                by_level[layer_to_level[i]] = x
                if on_level is not None:
                    on_level(layer_to_level[i])
        return [by_level[lv] for lv in self.levels]

    def map_pretrained(self, src: Mapping[str, torch.Tensor], path: str) -> tuple[dict, dict]:
        """Hook of :func:`~siamcorners.models.backbone.load_pretrained_backbone`: a torchvision ``mobilenet_v2``
        state dict (prefix ``features.`` already stripped) is renamed to ours (see
        :func:`map_torchvision_mobilenet_v2`); a pysot-format file passes unchanged."""
        if "1.conv.0.0.weight" not in src:
            return dict(src), {}
        return map_torchvision_mobilenet_v2(src, self, path)


def _block_names(num_layers: int) -> list[str]:
    """Our block prefixes in torchvision's ``features`` order: features.1 -> layer1.0, features.2 -> layer2.0, ..."""
    return [f"layer{i}.{b}" for i, (_, _, n, _, _) in enumerate(_STAGES[:num_layers], start=1) for b in range(n)]


def map_torchvision_mobilenet_v2(src: Mapping[str, torch.Tensor], backbone: DilatedMobileNetV2,
                                 path: str) -> tuple[dict, dict]:
    """Rename a torchvision ``mobilenet_v2`` state dict (keys without ``features.``) to ``backbone``'s names.

    Returns ``(renamed, adapted)``: ``renamed`` holds every tensor under our name (tensors we have no place for, the
    last 1x1 conv ``features.18`` and the classifier, keep their torchvision name and are reported unexpected);
    ``adapted`` holds tensors we derive exactly rather than copy:

    * ``layer0.0.weight``: the stem kernel with its input channels reversed, because torchvision's weights expect
      RGB and our crops are BGR (the ImageNet mean/std go in ``MODEL.INPUT``, in BGR order, 0..255 units);
    * ``layer1.0.conv.0/1``: the expansion conv + BN that pysot's t = 1 block has and torchvision's lacks, set to an
      identity (the stem's ReLU6 output is already in [0, 6], so the following ReLU6 changes nothing; exact while
      that BN is in eval mode).

    Width: torchvision publishes ImageNet weights for width 1.0 only; a 1.4 backbone (pysot's) has other channel
    counts and cannot take them, which is an error here rather than a silent partial copy.
    """
    stem = src.get("0.0.weight")
    own_stem = backbone.layer0[0].weight
    if stem is None or stem.shape != own_stem.shape:
        found = f"width {stem.shape[0] / 32:g} (stem {tuple(stem.shape)})" if stem is not None else "no stem"
        raise ValueError(
            f"{path}: torchvision mobilenet_v2 weights of {found} do not fit MODEL.BACKBONE.WIDTH_MULT "
            f"{backbone.width_mult:g} (stem {tuple(own_stem.shape)}); "
            f"torchvision's ImageNet file is width 1.0: set MODEL.BACKBONE.WIDTH_MULT 1.0, or give a pysot-format "
            f"backbone file of width {backbone.width_mult:g}")
    blocks = _block_names(backbone.num_layers)
    renamed: dict[str, torch.Tensor] = {}
    for key, value in src.items():
        m = re.fullmatch(r"(\d+)\.(.+)", key)
        new = None
        if m and m.group(1) == "0" and m.group(2).startswith(("0.", "1.")):
            new = "layer0." + m.group(2)
        elif m and 1 <= int(m.group(1)) <= len(blocks):
            index, rest = int(m.group(1)), m.group(2)
            table = _TV_T1 if index == 1 else _TV_BLOCK
            sub = re.fullmatch(r"(conv\.\d+(?:\.\d+)?)\.(\w+)", rest)
            if sub and sub.group(1) in table:
                new = f"{blocks[index - 1]}.{table[sub.group(1)]}.{sub.group(2)}"
        renamed[new if new is not None else ("features." + key if m else key)] = value
    adapted = {"layer0.0.weight": renamed.pop("layer0.0.weight").flip(1)}
    first = backbone.layer1[0].conv
    if isinstance(first[0], nn.Conv2d) and first[0].in_channels == first[0].out_channels:
        c = first[0].out_channels
        adapted["layer1.0.conv.0.weight"] = torch.eye(c).view(c, c, 1, 1)
        adapted["layer1.0.conv.1.weight"] = torch.ones(c)
        adapted["layer1.0.conv.1.bias"] = torch.zeros(c)
        adapted["layer1.0.conv.1.running_mean"] = torch.zeros(c)
        adapted["layer1.0.conv.1.running_var"] = torch.full((c,), 1.0 - first[1].eps)
    return renamed, adapted

