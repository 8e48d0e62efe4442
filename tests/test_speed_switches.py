"""Every INFERENCE speed switch gives the boxes of the plain model on real frames (bag.avi)."""
import os

import numpy as np
import pytest
import torch

from siamcorners.config import ConfigError, load_config
from siamcorners.data.crops import search_crop
from siamcorners.data.device_crops import search_crop_device
from siamcorners.engine.profiling.speed import (PLAIN_OPTS, box_agreement, conditioned_random_model, load_video_frames,
                                               pick_agreement, tracking_run)
from siamcorners.models import build_model
from siamcorners.models.runtime import EagerRuntime, InferenceSettings, InferenceSiamCorners, fold_batchnorm
from siamcorners.models.runtime.winograd import WinogradConv2d, use_winograd
from siamcorners.tracker import SiamCornersTracker

SMALL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "16", "MODEL.NECK.OUT_CHANNELS", "64",
         "MODEL.HEAD.CHANNELS", "64", "MODEL.HEAD.POOL_CHANNELS", "32", "DEVICE", "cpu"]
PLAIN = SMALL + PLAIN_OPTS  # every switch off: the plain model
BOX = [200, 120, 80, 100]  # the bag in bag.avi frame 0
EXACT_TOL_PX = 1e-2        # float rounding only (BN folding, grouped convs, memory format, summation order)
EXACT_SWITCHES = {
    "no-precompute": ["INFERENCE.PRECOMPUTE_TEMPLATE", "false"],
    "fold-bn": ["INFERENCE.FOLD_BN", "true"],
    "batch-branches": ["INFERENCE.BATCH_BRANCHES", "true"],
    "sparse-offsets": ["INFERENCE.SPARSE_OFFSETS", "true"],
    "channels-last": ["INFERENCE.CHANNELS_LAST", "true"],
    "winograd": ["INFERENCE.WINOGRAD", "true"],
    "winograd-head": ["INFERENCE.WINOGRAD_HEAD", "true"],
    "pool-logstep": ["MODEL.HEAD.POOL_IMPL", "logstep"],
    "device-crop": ["INFERENCE.DEVICE_CROP", "true"],
}
ALL_EXACT = [v for opts in EXACT_SWITCHES.values() for v in opts if opts[0] != "INFERENCE.PRECOMPUTE_TEMPLATE"]


@pytest.fixture(scope="module")
def frames(shared_data_dir):
    return load_video_frames(os.path.join(shared_data_dir, "bag.avi"), 6)


def _conditioned(opts, frames):
    torch.manual_seed(0)
    cfg = load_config(opts=opts)
    model = build_model(cfg)
    probe = SiamCornersTracker(model, cfg)
    z = probe.template_input(frames[0], BOX)
    x, _ = probe.search_input(frames[0])
    return conditioned_random_model(model, z, x), cfg


@pytest.fixture(scope="module")
def small(frames):
    model, cfg = _conditioned(PLAIN, frames)
    base = tracking_run(SiamCornersTracker(model, cfg), frames, BOX, warmup=0)["boxes"]
    return model, base


@pytest.mark.parametrize("name", list(EXACT_SWITCHES) + ["all"])
def test_switch_gives_baseline_boxes(name, small, frames):
    model, base = small
    opts = PLAIN + (ALL_EXACT if name == "all" else EXACT_SWITCHES[name])
    tracker = SiamCornersTracker(model, load_config(opts=opts))
    boxes = tracking_run(tracker, frames, BOX, warmup=0)["boxes"]
    assert box_agreement(base, boxes)["max_abs_px"] < EXACT_TOL_PX
    if name not in ("device-crop", "pool-logstep"):
        assert isinstance(tracker.model, InferenceSiamCorners)  # the switch really reached the model


@pytest.mark.floor
def test_default_config_is_exact_and_optimised(small, frames):
    """As shipped, the exact switches are on (config comment) and the boxes are the plain model's."""
    model, base = small
    tracker = SiamCornersTracker(model, load_config(opts=SMALL))
    s = tracker.model.settings
    assert isinstance(tracker.model, InferenceSiamCorners) and s.fold_bn and s.sparse_offsets and s.winograd
    assert box_agreement(base, tracking_run(tracker, frames, BOX, warmup=0)["boxes"])["max_abs_px"] < EXACT_TOL_PX
    assert isinstance(SiamCornersTracker(model, load_config(opts=PLAIN)).model, EagerRuntime)


def test_winograd_on_every_conv_gives_baseline_boxes(small, frames):
    """The small model has no convolution above the WINOGRAD threshold, so here every 3x3 'same' convolution
    of the backbone (incl. the dilated ones), the corner pools and the heat heads is switched to Winograd (the
    offset heads stay: SPARSE_OFFSETS reads their weights): the boxes stay the plain model's."""
    model, base = small
    tracker = SiamCornersTracker(model, load_config(opts=SMALL))
    net = tracker.model.model
    parts = [net.backbone] + [m for h in net.heads for m in (h.tl_pool, h.br_pool, h.tl_heat, h.br_heat)]
    assert sum(use_winograd(p, min_channel_product=1) for p in parts) > 20
    assert any(isinstance(m, WinogradConv2d) and m.dilation > 1 for m in tracker.model.modules())
    assert box_agreement(base, tracking_run(tracker, frames, BOX, warmup=0)["boxes"])["max_abs_px"] < EXACT_TOL_PX


def test_winograd_head_switch_reaches_the_head_convs(small):
    """INFERENCE.WINOGRAD_HEAD: the corner pools' and heat heads' 3x3 convs become Winograd layers, the offset heads
    (read by SPARSE_OFFSETS) and the backbone (below the WINOGRAD threshold in the small model) stay; with
    BATCH_BRANCHES (grouped layers built from the convs' weights) the head stays as it is."""
    model, _ = small
    fast = SiamCornersTracker(model, load_config(opts=SMALL + ["INFERENCE.WINOGRAD_HEAD", "true"])).model
    head = fast.model.heads[0]
    wino = [m for m in (head.tl_pool.out_conv.conv, head.tl_pool.merge_conv, head.br_pool.vert_branch.conv,
                        head.tl_heat.conv.conv)]
    assert all(isinstance(m, WinogradConv2d) for m in wino)
    assert not isinstance(head.tl_off.conv.conv, WinogradConv2d)
    assert not any(isinstance(m, WinogradConv2d) for m in fast.model.backbone.modules())
    plain_head = SiamCornersTracker(model, load_config(opts=SMALL)).model.model.heads[0]
    assert not any(isinstance(m, WinogradConv2d) for m in plain_head.modules())  # off by default
    batched = SiamCornersTracker(model, load_config(opts=SMALL + ["INFERENCE.WINOGRAD_HEAD", "true",
                                                                  "INFERENCE.BATCH_BRANCHES", "true"])).model
    assert batched.batched is not None and not any(isinstance(m, WinogradConv2d) for m in batched.model.heads.modules())


def test_baseline_boxes_move(small):
    """The conditioned random model really tracks (boxes change), so the comparisons above are not vacuous."""
    _, base = small
    assert np.abs(np.diff(base, axis=0)).max() > 1.0


def test_wrapper_track_contract_and_offsets(small, frames):
    model, _ = small
    cfg = load_config(opts=SMALL)
    tracker = SiamCornersTracker(model, cfg)
    z = tracker.template_input(frames[0], BOX)
    x, _ = tracker.search_input(frames[1])
    with torch.no_grad():
        model.template(z)
        ref = model.track(x)
        fast = InferenceSiamCorners(model, InferenceSettings(fold_bn=True, batch_branches=True, sparse_offsets=True))
        fast.template(z)
        out = fast.track(x)
        assert len(out) == len(ref) == 3
        for o, r in zip(out, ref):
            for key in ("tl_heat", "br_heat", "tl_off", "br_off"):
                assert o[key].shape == r[key].shape
                torch.testing.assert_close(o[key], r[key], rtol=1e-4, atol=1e-4)
        assert fast.detect(x).shape == (1, 45, 5)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the caller's model is untouched


def test_fold_batchnorm_removes_every_bn(small):
    model, _ = small
    fast = InferenceSiamCorners(model, InferenceSettings(fold_bn=True))
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert n_bn > 50
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.model.modules())
    assert fold_batchnorm(fast.model) == 0


def test_device_crop_is_bit_identical_to_opencv(frames):
    rng = np.random.default_rng(0)
    frame = frames[3]
    gray = frame[:, :, 1].copy()
    avg = frame.mean(axis=(0, 1))
    for side in list(rng.integers(20, 900, size=12)) + [255]:
        center = rng.uniform(-50, 530, size=2)
        for img in (frame, gray):
            ref = search_crop(img, center, int(side), avg, 255).transpose(2, 0, 1)[None].astype(np.float32)
            out = search_crop_device(img, center, int(side), avg, 255, "cpu")
            assert out.shape == (1, 3, 255, 255) and out.dtype == torch.float32
            np.testing.assert_array_equal(out.numpy(), ref)


def test_amp_bf16_is_close_and_tracks(small, frames):
    """bf16 autocast is not exact: the heat maps agree to bf16 precision and tracking stays valid."""
    model, _ = small
    tracker = SiamCornersTracker(model, load_config(opts=SMALL))
    z = tracker.template_input(frames[0], BOX)
    x, _ = tracker.search_input(frames[1])
    with torch.no_grad():
        model.template(z)
        ref = model.track(x)
        amp = InferenceSiamCorners(model, InferenceSettings(amp="bf16"))
        amp.template(z)
        out = amp.track(x)
    for o, r in zip(out, ref):
        assert o["tl_heat"].dtype == torch.float32
        scale = float(r["tl_heat"].abs().max())
        assert float((o["tl_heat"] - r["tl_heat"]).abs().max()) < 0.1 * scale
    boxes = tracking_run(SiamCornersTracker(model, load_config(opts=SMALL + ["INFERENCE.AMP", "bf16"])),
                         frames[:3], BOX, warmup=0)["boxes"]
    assert np.all(np.isfinite(boxes)) and np.all(boxes[:, 2:] > 0)


def test_bad_amp_value_names_the_key():
    with pytest.raises(ValueError, match="INFERENCE.AMP"):
        InferenceSettings.from_cfg(load_config(opts=SMALL + ["INFERENCE.AMP", "fp8"]))
    with pytest.raises(ConfigError, match="INFERENCE.FOLD_BN"):
        load_config(opts=["INFERENCE.FOLD_BN", "3"])


@pytest.mark.slow
def test_compile_gives_baseline_boxes(small, frames):
    model, base = small
    tracker = SiamCornersTracker(model, load_config(opts=SMALL + ["INFERENCE.COMPILE", "true"]))
    boxes = tracking_run(tracker, frames[:4], BOX, warmup=0)["boxes"]
    assert box_agreement(base[:4], boxes)["max_abs_px"] < EXACT_TOL_PX


@pytest.mark.slow
def test_official_resnet50_all_exact_switches(frames):
    """The official ResNet-50 profile (random weights): all exact switches together give the baseline boxes."""
    model, cfg = _conditioned(["DEVICE", "cpu"] + PLAIN_OPTS, frames)
    base = tracking_run(SiamCornersTracker(model, cfg), frames[:4], BOX, warmup=0)["boxes"]
    fast = tracking_run(SiamCornersTracker(model, load_config(opts=["DEVICE", "cpu"] + ALL_EXACT)), frames[:4], BOX,
                        warmup=0)["boxes"]
    assert np.abs(np.diff(base, axis=0)).max() > 1.0
    assert box_agreement(base, fast)["max_abs_px"] < EXACT_TOL_PX


def test_pick_agreement_tells_a_rounding_tie_from_another_network(small, frames):
    """The speed benchmark's explanation of parted boxes: same state each frame, compare scores, picks, ranks."""
    model, _ = small
    plain = load_config(opts=PLAIN)
    same = pick_agreement(SiamCornersTracker(model, plain), SiamCornersTracker(model, plain), frames, BOX)
    assert same == {"max_score_diff": 0.0, "pick_frames": [], "rank_frames": [], "frames": len(frames) - 1}
    folded = pick_agreement(SiamCornersTracker(model, plain),
                            SiamCornersTracker(model, load_config(opts=PLAIN + ALL_EXACT)), frames, BOX)
    assert 0 < folded["max_score_diff"] < 1e-3 and folded["pick_frames"] == []
    other = build_model(plain)  # another network: its scores are not the plain model's
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(1.5)
    moved = pick_agreement(SiamCornersTracker(model, plain), SiamCornersTracker(other, plain), frames, BOX)
    assert moved["max_score_diff"] > 1e-2


def test_parted_boxes_are_explained_in_the_speed_section():
    from siamcorners.engine.profiling.speed import _parted_notes

    pick = {"max_score_diff": 1.8e-05, "pick_frames": [5], "rank_frames": [3, 5, 7], "frames": 9}
    r = {"table": [{"name": "baseline", "videos": {"v": {"max_abs_px": 0.0}}},
                   {"name": "FOLD_BN", "videos": {"v": {"max_abs_px": 33.3, "pick": pick}}}]}
    (note,) = _parted_notes(r)
    assert note.startswith("FOLD_BN, v: boxes part from the baseline's by up to 33 px")
    assert "differ by at most 1.8e-05" in note and "at 1 of 9 frames (5)" in note and "swap ranks" in note
    pick["rank_frames"] = [3]  # a pick that changed without a rank swap gets no rank explanation
    assert "swap ranks" not in _parted_notes(r)[0]
    pick["rank_frames"], pick["max_score_diff"] = [5], 0.2  # nor scores that differ beyond rounding
    assert "swap ranks" not in _parted_notes(r)[0] and "differ by at most 0.2" in _parted_notes(r)[0]
