import os

import pytest
import torch
import torch.nn.functional as F

from siamcorners.config import load_config
from siamcorners.models import SiamCorners, build_model
from siamcorners.models.heads import CornerHead
from siamcorners.models.neck import AdjustNeck
from siamcorners.models.xcorr import xcorr_depthwise, xcorr_depthwise_multi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.NECK.OUT_CHANNELS", "16",
         "MODEL.HEAD.CHANNELS", "16", "MODEL.HEAD.POOL_CHANNELS", "8"]


def small_cfg(*opts):
    return load_config(None, opts=SMALL + [str(o) for o in opts])


def make_batch(b=2, k=4, size=25):
    heat = torch.zeros(b, 1, size, size)
    tl_ind, br_ind = torch.tensor([5 * size + 6, 3 * size + 2])[:b], torch.tensor([20 * size + 18, 12 * size + 9])[:b]
    tl_heat, br_heat = heat.clone(), heat.clone()
    tl_heat.view(b, -1)[torch.arange(b), tl_ind] = 1
    br_heat.view(b, -1)[torch.arange(b), br_ind] = 1
    return {"template": torch.rand(b, k, 3, 127, 127) * 255, "search": torch.rand(b, 3, 255, 255) * 255,
            "tl_heat": tl_heat, "br_heat": br_heat, "tl_off": torch.rand(b, 2), "br_off": torch.rand(b, 2),
            "tl_ind": tl_ind, "br_ind": br_ind, "valid": torch.ones(b)}


def run_track(model, z, x):
    with torch.no_grad():
        model.template(z)
        return model.track(x)


def check_outputs(outs, levels, b=1):
    assert len(outs) == levels
    for out in outs:
        assert tuple(out["tl_heat"].shape) == tuple(out["br_heat"].shape) == (b, 1, 25, 25)
        assert tuple(out["tl_off"].shape) == tuple(out["br_off"].shape) == (b, 2, 25, 25)
        assert all(torch.isfinite(v).all() for v in out.values())


# ------------------------------------------------------------------------------------------ building blocks
def test_xcorr_depthwise_matches_per_channel_correlation():
    x, kernel = torch.randn(2, 3, 11, 9), torch.randn(2, 3, 4, 3)
    out = xcorr_depthwise(x, kernel)
    assert out.shape == (2, 3, 8, 7)
    for b in range(2):
        for c in range(3):
            ref = F.conv2d(x[b:b + 1, c:c + 1], kernel[b:b + 1, c:c + 1])[0, 0]
            torch.testing.assert_close(out[b, c], ref)
    kernels = torch.randn(2, 4, 3, 4, 3)
    multi = xcorr_depthwise_multi(x, kernels)
    assert multi.shape == (2, 4, 3, 8, 7)
    for k in range(4):
        torch.testing.assert_close(multi[:, k], xcorr_depthwise(x, kernels[:, k]))
    with pytest.raises(ValueError, match="agree"):
        xcorr_depthwise(x, torch.randn(2, 4, 3, 3))


def test_neck_crops_templates_to_official_centre_slice():
    neck = AdjustNeck([8, 16], out_channels=4).eval()
    z = [torch.randn(1, 8, 15, 15), torch.randn(1, 16, 15, 15)]
    x = [torch.randn(1, 8, 31, 31), torch.randn(1, 16, 31, 31)]
    out_z, out_x = neck(z), neck(x)
    assert [tuple(f.shape) for f in out_z] == [(1, 4, 7, 7)] * 2
    assert [tuple(f.shape) for f in out_x] == [(1, 4, 31, 31)] * 2
    torch.testing.assert_close(out_z[0], neck.layers[0](z[0])[..., 4:11, 4:11])


# ------------------------------------------------------------------------------------------ ResNet-50 profiles
def test_official_profile_parameter_count():
    model = build_model(load_config(os.path.join(ROOT, "experiments/siamcorners_r50_official/config.yaml")))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == 63_974_482
    assert (count(model.backbone), count(model.neck), count(model.heads)) == (45_528_128, 919_040, 17_527_314)


@pytest.mark.parametrize("profile", ["siamcorners_r50_official", "siamcorners_r50"])
def test_r50_profiles_track_shapes(profile):
    model = build_model(load_config(os.path.join(ROOT, "experiments", profile, "config.yaml"))).eval()
    outs = run_track(model, torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255)
    check_outputs(outs, 3)


# ------------------------------------------------------------------------------------------ model API (small)
def test_track_uses_cached_templates_and_broadcasts_batch_one():
    model = build_model(small_cfg()).eval()
    with pytest.raises(RuntimeError, match="template"):
        model.track(torch.rand(1, 3, 255, 255))
    z, x = torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    outs = run_track(model, z, x)
    check_outputs(outs, 3, b=2)
    with torch.no_grad():
        again = model.track(x[1:])
    for a, b in zip(outs, again):
        torch.testing.assert_close(a["tl_heat"][1:], b["tl_heat"], rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match=r"\(B, 4, 3, H, W\)"):
        model.template(torch.rand(1, 3, 3, 127, 127))


def test_batched_templates_equal_separate_groups():
    """One batched backbone call (eval BN) and per-group calls (training BN) give the official per-image maps."""
    model = build_model(small_cfg())
    z = torch.rand(2, 4, 3, 127, 127) * 255
    model.eval()
    batched = model.template_features(z)
    per_template = [model.neck(model.backbone(z[:, k])) for k in range(4)]
    for lv, f in enumerate(batched):
        torch.testing.assert_close(f, torch.stack([p[lv] for p in per_template], dim=1), atol=1e-4, rtol=1e-4)
    model.train()
    grouped = model.template_features(z)
    for lv, f in enumerate(grouped):
        for k in range(4):
            ref = model.neck(model.backbone(z[:, k]))[lv]  # train-mode BN: statistics of this group only
            torch.testing.assert_close(f[:, k], ref, atol=1e-4, rtol=1e-4)


def test_input_normalisation_inside_model():
    mean, std = [100.0, 110.0, 120.0], [50.0, 60.0, 70.0]
    cfg = small_cfg("MODEL.INPUT.NORMALIZE", "true", "MODEL.INPUT.MEAN", str(mean), "MODEL.INPUT.STD", str(std))
    normalising = build_model(cfg).eval()
    plain = build_model(small_cfg()).eval()
    plain.load_state_dict(normalising.state_dict())
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    z, x = torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    out = run_track(normalising, z, x)
    ref = run_track(plain, (z - m.unsqueeze(1)) / s.unsqueeze(1), (x - m) / s)
    torch.testing.assert_close(out[0]["tl_heat"], ref[0]["tl_heat"])
    assert "mean" not in normalising.state_dict()


@pytest.mark.parametrize("levels", [[4], [3, 5], [5, 4, 3]])
def test_levels_subset(levels):
    model = build_model(small_cfg("MODEL.LEVELS", str(levels))).eval()
    assert len(model.heads) == len(levels)
    outs = run_track(model, torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255)
    check_outputs(outs, len(levels))


def test_offsets_off_returns_zero_offsets_and_no_offset_loss():
    model = build_model(small_cfg("MODEL.HEAD.OFFSETS", "false"))
    assert not any(".tl_off." in k or ".br_off." in k for k in model.state_dict())
    model.eval()
    outs = run_track(model, torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255)
    check_outputs(outs, 3)
    assert all(o["tl_off"].abs().sum() == 0 and o["br_off"].abs().sum() == 0 for o in outs)
    model.train()
    losses = model(make_batch())
    assert losses["offset"] == 0 and torch.isfinite(losses["total"])


def test_ocp_variant_has_single_shortcut():
    model = build_model(small_cfg("MODEL.HEAD.CORNER_POOL", "ocp")).eval()
    keys = model.state_dict().keys()
    assert not any("shortcut_b" in k for k in keys) and any("shortcut_a" in k for k in keys)
    check_outputs(run_track(model, torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255), 3)


def test_unified_template():
    """One whole-box template feeds both corner-pool inputs: it equals the four-template network given the same
    template four times with the same kernel weights, and differs from it on four different templates."""
    torch.manual_seed(0)
    unified = build_model(small_cfg("MODEL.HEAD.TEMPLATES", "unified")).eval()
    state = unified.state_dict()
    assert not any("kernel_t" in k for k in state) and any("kernel_z" in k for k in state)
    four = build_model(small_cfg()).eval()
    shared = {k: v for k, v in state.items() if "kernel_z" not in k}
    for b in ("t", "l", "b", "r"):
        shared.update({k.replace("kernel_z", f"kernel_{b}"): v for k, v in state.items() if "kernel_z" in k})
    four.load_state_dict(shared)
    x = torch.rand(1, 3, 255, 255) * 255
    z = torch.rand(1, 3, 127, 127) * 255
    a = run_track(unified, z, x)
    check_outputs(a, 3)
    torch.testing.assert_close(run_track(unified, z.unsqueeze(1), x)[0]["br_heat"], a[0]["br_heat"])
    same = run_track(four, z.unsqueeze(1).expand(1, 4, 3, 127, 127), x)
    different = run_track(four, torch.rand(1, 4, 3, 127, 127) * 255, x)
    for level in range(3):  # logits of order 50 (random weights, raw 0..255 input): float32 summation order
        for key in ("tl_heat", "br_heat", "tl_off", "br_off"):
            scale = float(a[level][key].abs().max())
            torch.testing.assert_close(a[level][key], same[level][key], rtol=0, atol=1e-5 * scale)
            assert (different[level][key] - a[level][key]).abs().max() > 1e-2 * scale
    with pytest.raises(ValueError, match=r"\(B, 1, 3, H, W\)"):
        unified.template(torch.rand(1, 4, 3, 127, 127))


def test_paper_head_switches():
    model = build_model(small_cfg("MODEL.HEAD.SEARCH_CONV", "true", "MODEL.HEAD.HEAD_BN", "true",
                                  "MODEL.HEAD.HEAD_LAST_KERNEL", "3")).eval()
    head = model.heads[0]
    assert head.search_conv is not None and head.tl_heat.out.kernel_size == (3, 3)
    assert isinstance(head.tl_heat.conv.bn, torch.nn.BatchNorm2d)
    check_outputs(run_track(model, torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255), 3)


def test_heat_bias_initialised():
    model = build_model(small_cfg())
    assert all(torch.allclose(h.tl_heat.out.bias, torch.tensor(-2.19)) for h in model.heads)


def test_training_forward_gives_finite_losses_and_gradients():
    model = build_model(small_cfg()).train()
    losses = model(make_batch())
    assert {"total", "focal", "offset"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    torch.testing.assert_close(losses["total"], losses["focal"] + losses["offset"])
    losses["total"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    for part in (model.backbone, model.neck, model.heads):
        assert sum(p.grad.abs().sum() for p in part.parameters()) > 0
    with pytest.raises(KeyError, match="tl_ind"):
        model({k: v for k, v in make_batch().items() if k != "tl_ind"})


def test_build_model_returns_siamcorners_on_cpu():
    model = build_model(small_cfg())
    assert isinstance(model, SiamCorners) and isinstance(model.heads[0], CornerHead)
    assert all(p.device.type == "cpu" for p in model.parameters())
