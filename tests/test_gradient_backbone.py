"""The fixed-feature ("gradient") backbone of the CPU real-video model: geometry, cell pooling, orientation bins."""
import math

import pytest
import torch
import torch.nn.functional as F

from siamcorners.config import feature_side, load_config
from siamcorners.models.backbone import build_backbone
from siamcorners.models.gradient_backbone import (BINS, FIXED_CHANNELS, GradientBackbone, GradientHistogramFront,
                                                  gradient_feature_side)
from siamcorners.models.siamcorners import build_model


def _tent_kernel() -> torch.Tensor:
    t = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 1], dtype=torch.float64) / 64
    return t[:, None] * t[None, :]  # (15, 15), sums to 1


@pytest.mark.parametrize("side", [127, 255, 100, 135, 303])
def test_feature_side_matches_the_resnet_geometry_and_the_model(side):
    # the ResNets' stride-8 maps: 127 -> 15, 255 -> 31; the neck, labels and decoding assume this geometry
    assert gradient_feature_side(side) == feature_side("resnet18_small", side)
    out = GradientBackbone(levels=[4], width=4, depth=1).eval()(torch.zeros(1, 3, side, side))[0]
    assert out.shape == (1, FIXED_CHANNELS + 4, gradient_feature_side(side), gradient_feature_side(side))


def test_cells_are_the_15x15_tent_window_at_stride_8():
    x = torch.randn(2, 5, 63, 47, dtype=torch.float64)
    got = GradientHistogramFront._tent_pool(GradientHistogramFront._tent_pool(x, 3), 2)
    want = F.conv2d(x, _tent_kernel().expand(5, 1, 15, 15), stride=8, groups=5)
    assert got.shape == want.shape == (2, 5, 7, 5)
    assert torch.allclose(got, want, atol=1e-12)


def test_cell_i_is_centred_on_pixel_8i_plus_7():
    # as the ResNets (stem 7x7/2, max-pool 3x3/2 pad 1, 3x3/2 conv): cell i sees pixels 8i .. 8i+14, centre 8i+7
    for i in (0, 3, 14):
        x = torch.zeros(1, 1, 1, 127, dtype=torch.float64)
        x[..., 8 * i + 7] = 1.0
        cells = GradientHistogramFront._tent_pool(x, 3)[0, 0, 0]
        assert int(cells.argmax()) == i
        assert float(cells[i]) == pytest.approx(8 / 64)
        assert float(cells.sum()) == pytest.approx(8 / 64)  # the centre tap belongs to one cell only


def _ramp(angle: float, side: int = 127) -> torch.Tensor:
    """An image whose brightness grows along direction ``angle`` (radians, x right, y down)."""
    y, x = torch.meshgrid(torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32),
                          indexing="ij")
    lum = 0.02 * (x * math.cos(angle) + y * math.sin(angle))
    return lum.expand(1, 3, side, side).contiguous()


@pytest.mark.parametrize("k", [0, 3, 5, 8])
def test_a_ramp_fills_the_bin_of_its_gradient_direction(k):
    angle = 2 * math.pi * k / BINS
    feats = GradientHistogramFront()(_ramp(angle))[0]  # (27, 15, 15)
    for scale in range(2):
        hist = feats[3 + scale * BINS: 3 + (scale + 1) * BINS, 7, 7]
        assert int(hist.argmax()) == k
        opposite = (k + BINS // 2) % BINS  # signed bins: the reverse gradient is another bin
        assert float(hist[opposite]) == pytest.approx(0.0, abs=1e-6)


def test_histograms_do_not_change_with_image_contrast():
    # block normalisation: doubling the contrast of a textured image leaves the oriented-gradient cells unchanged
    torch.manual_seed(0)
    img = F.avg_pool2d(torch.rand(1, 1, 135, 135), 9, stride=1).expand(1, 3, 127, 127).contiguous()
    front = GradientHistogramFront()
    a = front(img)[0, 3:]
    b = front(2 * img)[0, 3:]
    assert torch.allclose(a, b, rtol=0.01, atol=1e-3)


def test_colour_cells_are_luminance_and_opponent_channels():
    img = torch.zeros(1, 3, 127, 127)
    img[:, 0] = 1.0  # pure red, flat: no gradients
    feats = GradientHistogramFront()(img)[0, :, 7, 7]
    assert feats[:3].tolist() == pytest.approx([1 / 3, 0.5, 0.25])
    assert float(feats[3:].abs().max()) < 1e-3


def test_the_front_has_no_parameters_and_only_mix_learns():
    bb = GradientBackbone(levels=[4], width=8, depth=2)
    assert list(bb.front.parameters()) == [] and bb.front.state_dict() == {}
    assert {n.split(".")[0] for n, _ in bb.named_parameters()} == {"mix"}
    x = torch.rand(2, 3, 127, 127, requires_grad=True)
    bb(x)[0].sum().backward()
    assert all(p.grad is not None for p in bb.mix.parameters())


def test_built_from_the_config():
    cfg = load_config(opts=["MODEL.BACKBONE.TYPE", "gradient", "MODEL.BACKBONE.WIDTH", "16", "MODEL.BACKBONE.DEPTH",
                            "3", "MODEL.LEVELS", "[4]", "MODEL.BACKBONE.TRAIN_LAYERS", "[mix]"])
    model = build_model(cfg)
    assert isinstance(model.backbone, GradientBackbone)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.backbone.mix) == 3
    assert model.backbone.out_channels == [FIXED_CHANNELS + 16]
    assert isinstance(build_backbone("gradient", [4], 5, depth=1), GradientBackbone)


def test_depth_zero_is_the_fixed_features_alone():
    """DEPTH 0: the backbone returns the fixed gradient/colour maps unchanged (only the neck and head learn)."""
    bb = GradientBackbone(levels=[4], width=16, depth=0)
    assert bb.out_channels == [FIXED_CHANNELS] and list(bb.parameters()) == []
    x = torch.rand(1, 3, 127, 127)
    out = bb(x)[0]
    assert out.shape == (1, FIXED_CHANNELS, 15, 15)
    assert torch.equal(out, bb.front(x))
    cfg = load_config(opts=["MODEL.BACKBONE.TYPE", "gradient", "MODEL.BACKBONE.DEPTH", "0", "MODEL.LEVELS", "[4]",
                            "MODEL.BACKBONE.TRAIN_LAYERS", "[mix]"])
    model = build_model(cfg)
    assert model.backbone.out_channels == [FIXED_CHANNELS]
    with pytest.raises(ValueError, match="depth >= 0"):
        GradientBackbone(levels=[4], width=16, depth=-1)
