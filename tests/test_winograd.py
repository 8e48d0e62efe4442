"""Winograd F(4x4, 3x3) convolution (INFERENCE.WINOGRAD) equals the direct convolution up to float rounding."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from siamcorners.config import load_config
from siamcorners.models import build_model
from siamcorners.models.runtime import InferenceSettings, InferenceSiamCorners
from siamcorners.models.runtime.winograd import (MIN_CHANNEL_PRODUCT, WinogradConv2d, use_winograd,
                                                  winograd_conv3x3, winograd_weights)

REL_TOL = 5e-5  # of the output's largest magnitude (float32 rounding of the transforms; measured ~1e-5)


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("size,dilation,batch", [(31, 1, 1), (31, 2, 1), (31, 4, 2), (25, 1, 3), (16, 2, 1),
                                                 (7, 3, 2), (1, 1, 1), (5, 4, 1), (15, 2, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_direct_convolution(size, dilation, batch, with_bias):
    g = torch.Generator().manual_seed(size * 10 + dilation)
    x = torch.randn(batch, 24, size, size + 2, generator=g)  # non-square on purpose
    w = torch.randn(40, 24, 3, 3, generator=g) * 0.1
    b = torch.randn(40, generator=g) if with_bias else None
    ref = F.conv2d(x, w, b, padding=dilation, dilation=dilation)
    out = winograd_conv3x3(x, winograd_weights(w), b, dilation)
    assert out.shape == ref.shape and out.is_contiguous()
    assert _rel_err(out, ref) < REL_TOL



@pytest.mark.parametrize("size,dilation,batch", [(31, 1, 1), (31, 2, 1), (31, 4, 2), (25, 1, 3), (7, 3, 2),
                                                 (1, 1, 1), (5, 4, 1), (15, 2, 4)])
def test_export_form_equals_direct_convolution(size, dilation, batch):
    """What the ONNX export traces (one stride-4 convolution cuts and transforms the tiles, one transpose puts
    phases, tiles and channels back) is the same convolution."""
    g = torch.Generator().manual_seed(size * 10 + dilation + 1)
    x = torch.randn(batch, 24, size, size + 2, generator=g)
    w = torch.randn(40, 24, 3, 3, generator=g) * 0.1
    b = torch.randn(40, generator=g)
    u = winograd_weights(w)
    traced = torch.jit.trace(lambda t: winograd_conv3x3(t, u, b, dilation), x, check_trace=False)
    assert "aten::_convolution" in str(traced.graph)  # the graph form (the eager form has no convolution)
    ref = F.conv2d(x, w, b, padding=dilation, dilation=dilation)
    out = traced(x)
    assert out.shape == ref.shape
    assert _rel_err(out, ref) < REL_TOL


def test_export_form_runs_in_onnx_runtime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    g = torch.Generator().manual_seed(3)
    conv = nn.Conv2d(32, 48, 3, padding=2, dilation=2, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(48, 32, 3, 3, generator=g) * 0.1)
    layer = WinogradConv2d(conv).eval()
    x = torch.randn(1, 32, 31, 31, generator=g)
    path = str(tmp_path / "wino.onnx")
    kw = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    with torch.no_grad():
        torch.onnx.export(layer, (x,), path, opset_version=17, **kw)
        ref = conv(x)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    assert _rel_err(out, ref) < REL_TOL

def test_keeps_channels_last_layout():
    x = torch.randn(1, 16, 13, 13).contiguous(memory_format=torch.channels_last)
    w = torch.randn(8, 16, 3, 3)
    out = winograd_conv3x3(x, winograd_weights(w), None, 2)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert _rel_err(out, F.conv2d(x, w, padding=2, dilation=2)) < REL_TOL


def test_weight_transform_reproduces_the_filter():
    """U = G g G^T is the filter's values at the interpolation points: rows 0 and 5 (points 0 and inf) of G pick
    g's first and last taps, so U[0, 0] = g[0, 0] / 16 and U[35] = g[2, 2]."""
    w = torch.randn(3, 2, 3, 3)
    u = winograd_weights(w)
    assert u.shape == (36, 3, 2)
    torch.testing.assert_close(u[0], w[:, :, 0, 0] / 16)
    torch.testing.assert_close(u[35], w[:, :, 2, 2])


def test_layer_falls_back_where_it_does_not_apply():
    conv = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
    layer = WinogradConv2d(conv)
    x64 = torch.randn(1, 8, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(layer.double()(x64), conv.double()(x64))  # float64: the ordinary convolution
    with pytest.raises(ValueError, match="3x3, stride 1"):
        WinogradConv2d(nn.Conv2d(8, 8, 3, stride=2, padding=1))
    with pytest.raises(ValueError, match="does not fit"):
        winograd_conv3x3(torch.randn(1, 5, 8, 8), winograd_weights(torch.randn(4, 6, 3, 3)))


@pytest.mark.floor
def test_autocast_check_works_with_the_torch_floor_api(monkeypatch):
    """torch 2.3, the declared floor, has ``torch.is_autocast_enabled()`` without a device argument (a TypeError
    when given "cpu") and ``torch.is_autocast_cpu_enabled()``: the layer runs, and honours CPU autocast, with both."""
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    layer = WinogradConv2d(conv)
    x = torch.randn(1, 16, 12, 12)
    monkeypatch.setattr(torch, "is_autocast_enabled", lambda: False)  # torch 2.3's signature
    monkeypatch.setattr(torch, "is_autocast_cpu_enabled", lambda: False)
    with torch.no_grad():
        out, ref = layer(x), conv(x)
        assert not torch.equal(out, ref) and _rel_err(out, ref) < REL_TOL  # the Winograd products ran
        monkeypatch.setattr(torch, "is_autocast_cpu_enabled", lambda: True)
        assert torch.equal(layer(x), ref)  # under CPU autocast: the ordinary convolution


def test_use_winograd_picks_the_large_same_padded_convs():
    model = nn.Sequential(nn.Conv2d(512, 1024, 3, padding=2, dilation=2),   # replaced
                          nn.Conv2d(1024, 128, 3, padding=1),               # 2^17: below the threshold
                          nn.Conv2d(128, 4096, 3, padding=0),               # not 'same' padded
                          nn.Conv2d(4096, 128, 1))
    assert use_winograd(model) == 1 and isinstance(model[0], WinogradConv2d)
    assert [type(m) for m in model[1:]] == [nn.Conv2d] * 3
    assert 512 * 512 >= MIN_CHANNEL_PRODUCT > 256 * 256  # layer 4's 3x3 convs in, layer 3's and the head's out


@pytest.mark.slow
def test_official_backbone_downsample_convs():
    """On the official ResNet-50 profile the switch replaces the two dilated downsample convs and layer 4's 3x3
    convs, and the backbone's outputs stay equal up to rounding (random weights)."""
    torch.manual_seed(0)
    model = build_model(load_config(opts=["DEVICE", "cpu"])).eval()
    fast = InferenceSiamCorners(model, InferenceSettings(fold_bn=True, winograd=True))
    replaced = [n for n, m in fast.model.named_modules() if isinstance(m, WinogradConv2d)]
    assert replaced == ["backbone.layer3.0.downsample.0", "backbone.layer4.0.conv2", "backbone.layer4.0.downsample.0",
                        "backbone.layer4.1.conv2", "backbone.layer4.2.conv2"]
    x = torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        ref = model.backbone(model._normalize(x))
        out = fast.model.backbone(fast.model._normalize(x))
    for o, r in zip(out, ref):
        assert _rel_err(o, r) < 1e-4
