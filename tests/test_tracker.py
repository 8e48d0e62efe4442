"""The online tracker: official parity with the network replaced (tracker_steps.npz), real frames, bad input."""
import glob
import os
import re

import cv2
import numpy as np
import pytest
import torch

from siamcorners.config import load_config
from siamcorners.models.decode import decode_corners_full
from siamcorners.models.siamcorners import build_model
from siamcorners.tracker import SiamCornersTracker

MAP_KEYS = ("tl_heat", "br_heat", "tl_off", "br_off")
SMALL_MODEL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "16",
               "MODEL.NECK.OUT_CHANNELS", "32", "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16",
               "DEVICE", "cpu"]


class StoredMapsModel:
    """Stands in for the network: ``track`` returns the stored official maps of the next frame."""

    def __init__(self, steps):
        self.steps = steps
        self.frame = 0
        self.templates = None

    def template(self, z):
        self.templates = z

    def track(self, x):
        assert x.shape == (1, 3, 255, 255) and x.dtype == torch.float32
        f = self.frame
        self.frame += 1
        return [{k: torch.from_numpy(self.steps[f"net_{k}"][f, level])[None] for k in MAP_KEYS}
                for level in range(self.steps["net_tl_heat"].shape[1])]


@pytest.fixture(scope="module")
def steps(reference_dir):
    with np.load(os.path.join(reference_dir, "parity", "tracker_steps.npz")) as d:
        return {k: d[k] for k in d.files}


def _run_stored(steps, opts=()):
    cfg = load_config(opts=["DEVICE", "cpu", *opts])
    model = StoredMapsModel(steps)
    tracker = SiamCornersTracker(model, cfg)
    h, w = steps["image_hw"].tolist()
    frame = np.full((h, w, 3), 128, np.uint8)
    tracker.init(frame, steps["init_box_xywh"].tolist())
    assert model.templates.shape == (1, 4, 3, 127, 127)
    outs, debugs = [], []
    for f in range(steps["out_bbox_xywh"].shape[0]):
        outs.append(tracker.track(frame))
        debugs.append(tracker.debug)
    return tracker, outs, debugs


# ------------------------------------------------------------------------------ official parity
def test_decode_matches_official_rows(steps):
    for f in range(steps["decode"].shape[0]):
        for level in range(steps["decode"].shape[1]):
            maps = [torch.from_numpy(steps[f"net_{k}"][f, level])[None] for k in MAP_KEYS]
            rows = decode_corners_full(*maps, topk=12, nms_kernel=1, num_pairs=15)
            np.testing.assert_allclose(rows[0].numpy(), steps["decode"][f, level], rtol=0, atol=1e-5)


@pytest.mark.floor
def test_tracker_steps_match_official(steps):
    tracker, outs, debugs = _run_stored(steps)
    for f, (out, dbg) in enumerate(zip(outs, debugs)):
        msg = f"frame {f}"
        np.testing.assert_allclose(out["bbox"], steps["out_bbox_xywh"][f], rtol=0, atol=1e-3, err_msg=msg)
        assert out["score"] == pytest.approx(steps["out_best_score"][f], abs=1e-6), msg
        assert dbg["best_idx"] == steps["dbg_best_idx"][f], msg
        np.testing.assert_allclose(dbg["cand_cxcywh"], steps["dbg_cand_cxcywh"][f], rtol=0, atol=1e-3, err_msg=msg)
        np.testing.assert_allclose(dbg["score"], steps["dbg_cand_score"][f], rtol=0, atol=1e-6, err_msg=msg)
        np.testing.assert_allclose(dbg["penalty"], steps["dbg_penalty"][f], rtol=0, atol=1e-5, err_msg=msg)
        # exactly tied variations are ordered differently by the official unstable argsort (README: atol 5e-4)
        np.testing.assert_allclose(dbg["pscore"], steps["dbg_pscore"][f], rtol=0, atol=5e-4, err_msg=msg)
        assert dbg["lr"] == pytest.approx(steps["dbg_lr"][f], abs=1e-6), msg
        assert dbg["scale_z"] == pytest.approx(steps["dbg_scale_z"][f], abs=1e-6), msg
        assert dbg["crop_size"] == steps["dbg_crop_size"][f], msg
        assert dbg["s_half"] == steps["dbg_s_half"][f], msg
    # frame 5 of the fixture: the chosen centre x = 339.2 is clipped to the image width
    x, _, w, _ = outs[-1]["bbox"]
    assert x + w / 2 == pytest.approx(float(steps["image_hw"][1]))


def test_variation_sum_ranks_like_half(steps):
    _, half, _ = _run_stored(steps)
    _, summed, _ = _run_stored(steps, ["TRACK.VARIATION", "sum"])
    np.testing.assert_allclose([o["bbox"] for o in summed], [o["bbox"] for o in half], rtol=0, atol=1e-9)


def _first_frame(steps, opts=()):
    _, outs, debugs = _run_stored(steps, opts)
    return outs[0], debugs[0]


def _change(r):
    return np.maximum(r, 1.0 / r)


def _sz(w, h):
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def test_paper_switches_move_the_first_frame_the_documented_way(steps):
    """Frame 1 starts from the same state and maps in every run, so each switch's effect is isolated."""
    out, off = _first_frame(steps)
    w, h = steps["init_box_xywh"][2:].tolist()
    cand = off["cand_cxcywh"]
    valid = np.isfinite(off["penalty"]) & (off["score"] > 0)
    r_c = _change((w / h) / (cand[:, 2] / cand[:, 3]))
    # #3 penalty form: exp(-k rc sc) = exp(-(rc sc - 1) k) * exp(-k): every candidate is penalised e^-0.04 more
    _, form = _first_frame(steps, ["TRACK.PENALTY_FORM", "paper"])
    np.testing.assert_allclose(form["penalty"][valid], off["penalty"][valid] * np.exp(-0.04), rtol=1e-12)
    # #3 unit fix: the scale change is measured against the previous size in image pixels, not x scale_z
    _, fix = _first_frame(steps, ["TRACK.PENALTY_SCALE_BUG", "false"])
    scale_z = off["scale_z"]
    assert abs(scale_z - 1) > 0.1  # the fixture's case: the two units differ
    s_img = _change(_sz(cand[:, 2], cand[:, 3]) / _sz(w, h))
    s_bug = _change(_sz(cand[:, 2], cand[:, 3]) / _sz(w * scale_z, h * scale_z))
    np.testing.assert_allclose(fix["penalty"][valid], np.exp(-(r_c * s_img - 1) * 0.04)[valid], rtol=1e-9)
    np.testing.assert_allclose(off["penalty"][valid], np.exp(-(r_c * s_bug - 1) * 0.04)[valid], rtol=1e-9)
    # ... so a candidate that keeps the previous size is penalised less than with the bug
    same_size = valid & (s_img < s_bug)
    assert same_size.any()
    assert np.all(fix["penalty"][same_size] > off["penalty"][same_size])
    # #16 (not a paper disagreement; the paper smooths the size only): the centre moves by the same rate
    smooth_out, smooth = _first_frame(steps, ["TRACK.SMOOTH_CENTER", "true"])
    prev = np.array(steps["init_box_xywh"][:2]) + (np.array([w, h]) - 1) / 2
    jump = cand[off["best_idx"], :2]
    centre = np.array(smooth_out["bbox"][:2]) + np.array(smooth_out["bbox"][2:]) / 2
    np.testing.assert_allclose(centre, prev + smooth["lr"] * (jump - prev), atol=1e-6)
    assert np.linalg.norm(centre - prev) < np.linalg.norm(jump - prev)
    # exact crop->image mapping: the same candidates to within a pixel
    _, exact = _first_frame(steps, ["TRACK.BOX_MAPPING", "exact"])
    diff = np.abs(exact["cand_cxcywh"] - cand)[valid]
    assert 0 < diff.max() < 1.0


def test_template_switches_reach_the_model(steps):
    frame = np.full((240, 320, 3), 128, np.uint8)
    box = [100, 80, 60, 50]
    seen = {}
    for name, opts in {"official": [],
                       "paper": ["TRACK.TEMPLATE_FILL", "constant", "TRACK.TEMPLATE_FILL_VALUE", "[1, 2, 3]",
                                 "TRACK.TEMPLATE_OUTLINE", "false"]}.items():
        model = StoredMapsModel(steps)
        SiamCornersTracker(model, load_config(opts=["DEVICE", "cpu", *opts])).init(frame, box)
        seen[name] = model.templates[0].permute(0, 2, 3, 1).numpy()  # (4, 127, 127, 3) BGR
    # official: mean-colour canvas (128) with the red outline blended in by the resize
    assert np.all(seen["official"][:, 0, 0] == 128)
    assert np.any(seen["official"][..., 2] > 128) and np.any(seen["official"][..., 0] < 128)
    # paper: constant canvas, no outline: only the kept grey region and the constant remain
    assert np.all(seen["paper"][:, 0, 0] == [1, 2, 3])
    # a pixel in the box's top-left quarter: kept by the top and left templates, canvas in the other two
    np.testing.assert_array_equal(seen["paper"][:, 45, 40], [[128] * 3, [128] * 3, [1, 2, 3], [1, 2, 3]])
    # only blends of (1, 2, 3) and grey 128: no red (R > 128) and no blue channel below the constant's 1
    assert np.all(seen["paper"][..., 2] <= 128) and np.all(seen["paper"][..., 0] >= 1)


# -------------------------------------------------------------------------------- real frames
@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    cfg = load_config(opts=SMALL_MODEL)
    return build_model(cfg), cfg


def _assert_box_in_image(out, image_hw):
    h_img, w_img = image_hw
    x, y, w, h = out["bbox"]
    assert np.all(np.isfinite(out["bbox"])) and np.isfinite(out["score"])
    assert 0 < w <= w_img and 0 < h <= h_img
    assert 0 <= x + w / 2 <= w_img and 0 <= y + h / 2 <= h_img  # centre inside the frame


def _track_sequence(tracker, frames, box):
    frames_before = [f.copy() for f in frames]
    box_before = list(box)
    tracker.init(frames[0], box)
    outs = [tracker.track(f) for f in frames[1:]]
    for out in outs:
        _assert_box_in_image(out, frames[0].shape[:2])
    for f, before in zip(frames, frames_before):
        np.testing.assert_array_equal(f, before)
    assert box == box_before
    return outs


def test_dudek_grayscale_frames(shared_data_dir, small_model):
    model, cfg = small_model
    seq = os.path.join(shared_data_dir, "otb_mini", "Dudek")
    paths = sorted(glob.glob(os.path.join(seq, "img", "*.jpg")))[:6]
    frames = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in paths]
    assert frames[0].ndim == 2  # the OTB Dudek frames are grayscale
    with open(os.path.join(seq, "groundtruth_rect.txt")) as f:
        x, y, w, h = (float(v) for v in f.readline().replace("\t", ",").split(","))
    box = [x - 1, y - 1, w, h]  # OTB is 1-based
    _track_sequence(SiamCornersTracker(model, cfg), frames, box)
    colour = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in frames[:3]]
    gray_out = _track_sequence(SiamCornersTracker(model, cfg), frames[:3], box)
    colour_out = _track_sequence(SiamCornersTracker(model, cfg), colour, box)
    np.testing.assert_allclose([o["bbox"] for o in gray_out], [o["bbox"] for o in colour_out], atol=1e-4)


@pytest.mark.floor
def test_bag_video_colour_frames(shared_data_dir, small_model):
    model, cfg = small_model
    cap = cv2.VideoCapture(os.path.join(shared_data_dir, "bag.avi"))
    frames = []
    while len(frames) < 8:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 8 and frames[0].shape[2] == 3
    _track_sequence(SiamCornersTracker(model, cfg), frames, [200, 120, 80, 100])
    # a box touching the frame corner and a box larger than the frame
    _track_sequence(SiamCornersTracker(model, cfg), frames[:3], [0, 0, 30, 40])
    h, w = frames[0].shape[:2]
    _track_sequence(SiamCornersTracker(model, cfg), frames[:3], [-20, -10, w + 40, h + 20])


def test_unified_template_model(shared_data_dir):
    torch.manual_seed(0)
    cfg = load_config(opts=SMALL_MODEL + ["MODEL.HEAD.TEMPLATES", "unified", "MODEL.LEVELS", "[4]"])
    frame = np.random.default_rng(0).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    tracker = SiamCornersTracker(build_model(cfg), cfg)
    # the unified path crops one whole-box exemplar; the four-template path cuts four boundary images
    from siamcorners.data.crops import exemplar_crop

    z = tracker.template_input(frame, [40, 30, 50, 40])
    assert tuple(z.shape) == (1, 1, 3, 127, 127)
    expected = exemplar_crop(frame, [40, 30, 50, 40])
    np.testing.assert_array_equal(z[0, 0].permute(1, 2, 0).numpy(), expected)
    four_cfg = load_config(opts=SMALL_MODEL + ["MODEL.LEVELS", "[4]"])
    four = SiamCornersTracker(build_model(four_cfg), four_cfg).template_input(frame, [40, 30, 50, 40])
    assert tuple(four.shape) == (1, 4, 3, 127, 127)
    assert not any(torch.equal(four[0, k], z[0, 0]) for k in range(4))
    outs = _track_sequence(tracker, [frame, frame], [40, 30, 50, 40])
    assert tracker.debug["cand_cxcywh"].shape == (15, 4)  # one level x 15 pairs
    _assert_box_in_image(outs[0], frame.shape[:2])


# ------------------------------------------------------------------------------------ bad input
@pytest.fixture()
def stored_tracker(steps):
    return SiamCornersTracker(StoredMapsModel(steps), load_config(opts=["DEVICE", "cpu"]))


@pytest.mark.parametrize("box, match", [
    ([10, 10, 0, 20], "w or h <= 0"),
    ([10, 10, 20, -3], "w or h <= 0"),
    ([400, 10, 20, 20], "outside"),
    ([10, -50, 20, 20], "outside"),
    ([10, 10, 20], "4 numbers"),
])
def test_bad_init_box(stored_tracker, box, match):
    with pytest.raises(ValueError, match=match):
        stored_tracker.init(np.zeros((240, 320, 3), np.uint8), box)


@pytest.mark.parametrize("frame, match", [
    (np.zeros((240, 320, 3), np.float32), "uint8"),
    (np.zeros((240, 320, 2), np.uint8), "shape"),
    (np.zeros((240,), np.uint8), "shape"),
    ("frame.jpg", "numpy array"),
])
def test_bad_frames(stored_tracker, frame, match):
    with pytest.raises(ValueError, match=match):
        stored_tracker.init(frame, [10, 10, 20, 20])
    stored_tracker.init(np.zeros((240, 320, 3), np.uint8), [10, 10, 20, 20])
    with pytest.raises(ValueError, match=match):
        stored_tracker.track(frame)


def test_track_before_init_and_bad_device(steps):
    cfg = load_config(opts=["DEVICE", "cpu"])
    with pytest.raises(RuntimeError, match="before init"):
        SiamCornersTracker(StoredMapsModel(steps), cfg).track(np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="device"):
        SiamCornersTracker(StoredMapsModel(steps), cfg, device="tpu:7")


# ---------------------------------------------------------------------------- devices and settings
def test_resolve_device_auto_cpu_cuda_and_bad_names(monkeypatch):
    from siamcorners.tracker.tracker import resolve_device

    for available, auto in ((False, "cpu"), (True, "cuda")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        assert resolve_device("auto") == torch.device(auto) and resolve_device(None) == torch.device(auto)
        assert resolve_device("cpu") == torch.device("cpu")
        assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)   # CUDA "available" here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^device 'cuda:1' requested but CUDA is not available$"):
        resolve_device("cuda:1")
    for bad in ("tpu:7", 3.5, "gpu"):
        with pytest.raises(ValueError, match=r"^invalid device " + repr(bad).replace(".", r"\.") +
                           r" \(use 'auto', 'cpu', 'cuda' or 'cuda:N'\)$"):
            resolve_device(bad)


def test_use_device_makes_an_indexed_cuda_device_current(monkeypatch):
    from siamcorners.tracker.tracker import use_device

    current = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    for device in (torch.device("cpu"), torch.device("cuda"), torch.device("meta")):
        assert use_device(device) is device
    assert current == []
    assert use_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert current == [torch.device("cuda", 1)]


@pytest.mark.parametrize("key, value, choices", [
    ("PENALTY_FORM", "siamfc", ["siamrpn", "paper"]), ("VARIATION", "max", ["half", "sum"]),
    ("BOX_MAPPING", "pysot", ["official", "exact"]), ("TEMPLATE_FILL", "zero", ["mean", "constant"]),
    ("NO_VALID_PAIR", "skip", ["official", "hold"])])
def test_a_config_not_checked_by_load_config_is_checked_here(key, value, choices):
    from siamcorners.config import get_default_config

    cfg = get_default_config()
    cfg.DEVICE = "cpu"
    cfg.TRACK[key] = value
    with pytest.raises(ValueError, match="^" + re.escape(f"config key 'TRACK.{key}' must be one of {choices}, "
                                                         f"got {value!r}") + "$"):
        SiamCornersTracker(_injected_net(), cfg)


def test_model_goes_to_the_device_in_eval_mode_and_the_stages_are_reported():
    torch.manual_seed(0)
    cfg = load_config(opts=SMALL_MODEL)
    model = build_model(cfg).train()
    tracker = SiamCornersTracker(model, cfg)
    assert not any(m.training for m in model.modules())
    assert tracker.device == torch.device("cpu")   # from cfg.DEVICE
    stored = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu"]))
    stages = []
    stored.stage_hook = stages.append
    frame = np.full((240, 320, 3), 128, np.uint8)
    stored.init(frame, [100, 80, 60, 50])
    assert stages == []
    stored.track(frame)
    stored.track(frame)
    assert stages == ["crop", "decode", "post"] * 2


# ------------------------------------------------------------------------ frames without a valid pair
def _injected_net():
    """A stand-in network whose ``track`` returns the injected maps of tests/fixtures/official_parity.py (frames 2, 4,
    5: every pair rejected); ``.op`` is that module."""
    from fixtures import official_parity as op   # tests/fixtures (tests/ is on sys.path under pytest)

    net = op.InjectedNet(op.injected_maps())
    net.op = op
    return net


def _run_injected(mode):
    model = _injected_net()
    tracker = SiamCornersTracker(model, load_config(opts=["DEVICE", "cpu", "TRACK.NO_VALID_PAIR", mode]))
    frame = model.op.injected_frame()
    tracker.init(frame, list(model.op.INJECTED_INIT))
    states = [(tracker.center.copy(), tracker.size.copy())]
    outs, debugs = [], []
    for _ in range(6):
        outs.append(tracker.track(frame))
        debugs.append(tracker.debug)
        states.append((tracker.center.copy(), tracker.size.copy()))
    return outs, debugs, states


def test_hold_keeps_the_state_exactly_when_every_pair_is_rejected():
    official, official_dbg, official_states = _run_injected("official")
    held, held_dbg, held_states = _run_injected("hold")
    rejected = [1, 3, 4]                    # 0-based track calls whose pairs are all rejected (score -1)
    for f in range(6):
        assert (held[f]["score"] == -1) == (f in rejected) == np.all(held_dbg[f]["score"] == -1)
        if f in rejected:
            # hold: no move at all (centre, size, rate 0) and the previous box reported again
            np.testing.assert_array_equal(held_states[f + 1][0], held_states[f][0])
            np.testing.assert_array_equal(held_states[f + 1][1], held_states[f][1])
            assert held_dbg[f]["lr"] == 0.0
            if f > 0:
                assert held[f]["bbox"] == held[f - 1]["bbox"]
            # official: the argmax of the rejected pairs is taken and the size extrapolates (rate < 0)
            assert official_dbg[f]["lr"] < 0
            assert not np.array_equal(official_states[f + 1][1], official_states[f][1])
        else:
            assert held_dbg[f]["lr"] > 0
    # the two modes agree until the first frame without a valid pair, and the centre is the official one
    assert held[0] == official[0]
    x, y, w, h = official[0]["bbox"]
    np.testing.assert_allclose(official_states[1][0], [x + w / 2, y + h / 2], rtol=0, atol=1e-9)


def _change(r):
    return np.maximum(r, 1.0 / r)


def test_every_tracking_setting_reaches_its_step():
    """Non-default TRACK / DECODE / HEATMAP values, frame 1 of the injected maps, against the steps of reference
    §7.3 written out (the decoder and the Hanning ranking taken from their own modules, tested on their own)."""
    from siamcorners.models.decode import decode_corners_full
    from siamcorners.tracker import postprocess as pp

    opts = ["TRACK.CONTEXT_AMOUNT", "0.3", "TRACK.PENALTY_K", "0.1", "TRACK.WINDOW_INFLUENCE", "0.3", "TRACK.LR", "0.7",
            "TRACK.HANNING_SIZE", "40", "TRACK.MIN_SIZE", "90", "DECODE.TOPK", "5", "DECODE.NMS_KERNEL", "3",
            "DECODE.NUM_PAIRS", "7", "HEATMAP.STRIDE", "9.0", "HEATMAP.ORIGIN", "4.0"]
    model = _injected_net()
    tracker = SiamCornersTracker(model, load_config(opts=["DEVICE", "cpu", *opts]))
    frame = model.op.injected_frame()
    x0, y0, w0, h0 = model.op.INJECTED_INIT
    tracker.init(frame, [x0, y0, w0, h0])
    out = tracker.track(frame)
    dbg = tracker.debug
    # search region at context 0.3
    p = 0.3 * (w0 + h0)
    s_z = np.sqrt((w0 + p) * (h0 + p))
    scale_z, s_x = 127 / s_z, s_z * 255 / 127
    assert dbg["scale_z"] == pytest.approx(scale_z, rel=1e-14) and dbg["crop_size"] == round(s_x)
    assert dbg["s_half"] == int(np.floor((s_x + 1) / 2))
    # 5 corners per map with a 3 x 3 NMS, 7 pairs per level
    det = np.concatenate([decode_corners_full(*[torch.from_numpy(model.maps[k][0, lv])[None] for k in MAP_KEYS],
                                              topk=5, nms_kernel=3, num_pairs=7)[0, :, :5].double().numpy()
                          for lv in range(3)])
    np.testing.assert_allclose(dbg["score"], det[:, 4], rtol=0, atol=1e-6)
    # heat cells -> crop pixels (stride 9, origin 4) -> image (official floor mapping)
    b = (4.0 + 9.0 * det[:, :4]) / scale_z
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    centre0 = np.array([x0 + (w0 - 1) / 2, y0 + (h0 - 1) / 2])
    s_half = np.floor((s_x + 1) / 2)
    cand = np.stack([b[:, 0] + np.floor(w / 2) - s_half + centre0[0], b[:, 1] + np.floor(h / 2) - s_half + centre0[1],
                     w, h], axis=1)
    np.testing.assert_allclose(dbg["cand_cxcywh"], cand, rtol=1e-6, atol=1e-4)
    # penalty exp(-(r_c s_c - 1) k), k = 0.1, with the official scale comparison
    sz = lambda a, c: np.sqrt((a + (a + c) / 2) * (c + (a + c) / 2))   # noqa: E731
    with np.errstate(all="ignore"):
        r_c = _change((w0 / h0) / (cand[:, 2] / cand[:, 3]))
        s_c = _change(sz(cand[:, 2], cand[:, 3]) / sz(w0 * scale_z, h0 * scale_z))
        penalty = np.exp(-(r_c * s_c - 1) * 0.1)
    valid = det[:, 4] > 0
    assert valid.sum() >= 5
    np.testing.assert_allclose(dbg["penalty"][valid], penalty[valid], rtol=1e-5)
    # ranking window: the first half of np.hanning(40), influence 0.3
    variation = 0.5 * np.abs(cand[:, :2] - centre0).sum(1) + 0.5 * np.abs(cand[:, 2:] - [w0, h0]).sum(1)
    pscore, _ = pp.ranked_hanning(dbg["penalty"] * dbg["score"], variation, pp.rank_window(21, 40), 0.3)
    np.testing.assert_allclose(dbg["pscore"], pscore, rtol=1e-6, atol=1e-6)
    best = dbg["best_idx"]
    assert best == int(np.argmax(dbg["pscore"]))
    # size rate penalty * score * 0.7; the centre jumps to the candidate; sides at least MIN_SIZE 90
    rate = dbg["penalty"][best] * dbg["score"][best] * 0.7
    assert dbg["lr"] == pytest.approx(rate, rel=1e-12) and 0 < rate < 1
    size = np.maximum(np.array([w0, h0]) * (1 - rate) + dbg["cand_cxcywh"][best, 2:] * rate, 90.0)
    assert size.min() == 90.0   # the minimum is in use
    centre = dbg["cand_cxcywh"][best, :2]
    np.testing.assert_allclose(out["bbox"], [*(centre - size / 2), *size], rtol=0, atol=1e-9)
    assert out["score"] == dbg["score"][best]
    assert set(dbg) == {"cand_cxcywh", "score", "penalty", "pscore", "rank_order", "best_idx", "lr", "scale_z",
                        "crop_size", "s_half"}
    np.testing.assert_array_equal(dbg["rank_order"], np.argsort(variation, kind="stable")[::-1])  # largest first


def test_tf32_switch_is_applied_when_the_tracker_is_built(monkeypatch):
    seen = []
    import siamcorners.tracker.tracker as tracker_module

    monkeypatch.setattr(tracker_module, "set_tf32", seen.append)
    for on in (True, False):
        SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "INFERENCE.TF32", str(on).lower()]))
    assert seen == [True, False]


def test_the_model_is_moved_to_the_trackers_device():
    torch.manual_seed(0)
    cfg = load_config(opts=SMALL_MODEL + ["INFERENCE.FOLD_BN", "false", "INFERENCE.SPARSE_OFFSETS", "false",
                                          "INFERENCE.WINOGRAD", "false"])
    model = build_model(cfg)
    tracker = SiamCornersTracker(model, cfg, device="meta")   # PyTorch's shape-only device stands in for a GPU
    assert tracker.device == torch.device("meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}


@pytest.mark.parametrize("unified", [False, True])
def test_template_crop_settings_reach_the_templates(unified):
    from siamcorners.data.crops import boundary_templates, exemplar_crop

    frame = np.random.default_rng(4).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = [40, 30, 50, 36]
    opts = ["DEVICE", "cpu", "TRACK.CONTEXT_AMOUNT", "0.3", "TRACK.TEMPLATE_FRACTION", "0.3", "TRACK.EXEMPLAR_SIZE",
            "127", "MODEL.HEAD.TEMPLATES", "unified" if unified else "four"]
    z = SiamCornersTracker(_injected_net(), load_config(opts=opts)).template_input(frame, box)
    avg = frame.mean(axis=(0, 1))
    if unified:
        want = exemplar_crop(frame, box, avg, context_amount=0.3)[None]
    else:
        want = boundary_templates(frame, box, avg, context_amount=0.3, fraction=0.3)
    assert z.shape == (1, len(want), 3, 127, 127)
    np.testing.assert_array_equal(z[0].permute(0, 2, 3, 1).numpy(), want)


def test_messages_name_the_init_box_and_a_track_before_init():
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu"]))
    with pytest.raises(RuntimeError, match=r"^SiamCornersTracker\.track called before init$"):
        tracker.track(np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match=r"^init box \[x, y, w, h\] = \[10\.0, 10\.0, 0\.0, 20\.0\] has w or h <= 0$"):
        tracker.init(np.zeros((240, 320, 3), np.uint8), [10, 10, 0, 20])


def test_a_sub_pixel_target_gets_a_one_pixel_search_window():
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu"]))
    frame = np.full((240, 320, 3), 128, np.uint8)
    tracker.init(frame, [100, 100, 0.2, 0.2])     # s_z = 0.4 px, s_x = 0.8 px: rounds to 1, not 0
    x, geometry = tracker.search_input(frame)
    assert geometry[4] == 1 and tuple(x.shape) == (1, 3, 255, 255)


def test_device_crop_gives_the_host_crop():
    frame = np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    crops = []
    for on in ("false", "true"):
        tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "INFERENCE.DEVICE_CROP", on]))
        tracker.init(frame, [100, 70, 50, 40])       # the window runs over the right and bottom edges: padding
        crops.append(tracker.search_input(frame[::-1].copy())[0])
    assert crops[0].dtype == crops[1].dtype == torch.float32
    torch.testing.assert_close(crops[1], crops[0], rtol=0, atol=1.0)
    assert (crops[1] - crops[0]).abs().mean() < 0.05


def test_hold_skips_non_finite_candidates_and_official_takes_numpys_argmax():
    """tracker/batched.py hands each video's candidates to ``_update``: a NaN or infinite candidate never wins
    with NO_VALID_PAIR hold; the official rule keeps NumPy's argmax, where the first NaN wins."""
    frame = np.full((240, 320, 3), 128, np.uint8)
    det = np.array([[np.nan, 10.0, 14.0, 16.0, 0.9],     # NaN corner, best score
                    [10.0, 10.0, 14.0, 15.0, 0.5],       # the only finite candidate
                    [9.0, 10.0, np.inf, 15.0, 0.8]])     # infinite corner
    results = {}
    for mode in ("official", "hold"):
        tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "TRACK.NO_VALID_PAIR", mode]))
        tracker.init(frame, [100, 80, 60, 50])
        _, geometry = tracker.search_input(frame)
        with np.errstate(invalid="ignore"):
            out = tracker._update(det.copy(), *geometry)
        results[mode] = (out, dict(tracker.debug), tracker.center.copy(), tracker.size.copy())
    out, dbg, center, size = results["hold"]
    assert dbg["best_idx"] == 1 and out["score"] == 0.5
    assert dbg["pscore"][0] == -np.inf and dbg["pscore"][2] == -np.inf
    assert dbg["pscore"].dtype == np.float64 and dbg["pscore"][1] == results["official"][1]["pscore"][1]
    np.testing.assert_array_equal(center, dbg["cand_cxcywh"][1, :2])
    assert np.all(np.isfinite(size)) and 0 < dbg["lr"] < 1
    assert results["official"][1]["best_idx"] == 0 and np.isnan(results["official"][1]["pscore"][0])
    # official: the NaN x and width go through _bbox_clip's max(low, min(v, high)), which gives the lower bounds
    _, dbg, center, size = results["official"]
    assert np.isnan(dbg["cand_cxcywh"][0, 0]) and np.isnan(dbg["cand_cxcywh"][0, 2])
    assert center[0] == 0.0 and size[0] == 10.0 and np.isfinite(center[1]) and np.isfinite(size[1])


def test_hold_clips_the_size_rate_of_a_rejected_pair_that_wins_the_ranking():
    """With a strong window a rejected pair (score -1) close to the previous box can outrank a valid one far away:
    "hold" clips its rate penalty * -1 * LR to 0 (the size stays), the official rule lets the size extrapolate."""
    frame = np.full((240, 320, 3), 128, np.uint8)
    rates = {}
    for mode in ("official", "hold"):
        tracker = SiamCornersTracker(_injected_net(), load_config(
            opts=["DEVICE", "cpu", "TRACK.NO_VALID_PAIR", mode, "TRACK.WINDOW_INFLUENCE", "0.9"]))
        tracker.init(frame, [100, 80, 60, 50])
        _, geometry = tracker.search_input(frame)
        half = 0.45 * tracker.size * geometry[2]          # 0.9 x the previous box at the crop centre, heat units
        near = np.r_[127 - half, 127 + half] / 10.2
        det = np.array([[1.0, 1.0, 3.0, 2.0, 0.3], [*near, -1.0]])
        size_before = tracker.size.copy()
        tracker._update(det, *geometry)
        assert tracker.debug["best_idx"] == 1
        rates[mode] = (tracker.debug["lr"], tracker.size, size_before)
    lr, size, before = rates["hold"]
    assert lr == 0.0
    np.testing.assert_array_equal(size, before)
    assert rates["official"][0] < 0 and np.all(rates["official"][1] > before)


def test_hold_takes_a_valid_pair_of_score_zero():
    """Only rejected pairs (score -1) make "hold" keep the state; a valid pair whose score underflowed to 0 is
    still taken: the centre jumps to it (rate 0 keeps the size)."""
    frame = np.full((240, 320, 3), 128, np.uint8)
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "TRACK.NO_VALID_PAIR", "hold"]))
    tracker.init(frame, [100, 80, 60, 50])
    _, geometry = tracker.search_input(frame)
    before = tracker.center.copy()
    out = tracker._update(np.array([[9.0, 9.0, 14.0, 13.0, 0.0], [10.0, 10.0, 12.0, 12.0, -1.0]]), *geometry)
    assert tracker.debug["best_idx"] == 0 and out["score"] == 0.0 and tracker.debug["lr"] == 0.0
    np.testing.assert_array_equal(tracker.center, tracker.debug["cand_cxcywh"][0, :2])
    assert not np.array_equal(tracker.center, before)


def test_hold_keeps_the_state_when_every_candidate_is_non_finite():
    frame = np.full((240, 320, 3), 128, np.uint8)
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "TRACK.NO_VALID_PAIR", "hold"]))
    tracker.init(frame, [100, 80, 60, 50])
    _, geometry = tracker.search_input(frame)
    before = (tracker.center.copy(), tracker.size.copy())
    det = np.array([[np.nan, 10.0, 14.0, 16.0, 0.9], [9.0, 10.0, np.inf, 15.0, 0.8]])
    with np.errstate(invalid="ignore"):
        out = tracker._update(det, *geometry)
    np.testing.assert_array_equal(tracker.center, before[0])
    np.testing.assert_array_equal(tracker.size, before[1])
    # the held centre (100 + 59 / 2, 80 + 49 / 2) reported as cx - w / 2 (the official half-pixel shift)
    np.testing.assert_allclose(out["bbox"], [99.5, 79.5, 60, 50], rtol=0, atol=1e-12)


@pytest.mark.parametrize("device_crop", ["false", "true"])
def test_search_crop_is_made_on_the_trackers_device(device_crop):
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "INFERENCE.DEVICE_CROP",
                                                                    device_crop]), device="meta")
    frame = np.full((120, 160, 3), 90, np.uint8)
    assert tracker.template_input(frame, [40, 30, 50, 36]).device.type == "meta"
    x, _ = tracker.search_input(frame)
    assert x.device.type == "meta" and tuple(x.shape) == (1, 3, 255, 255) and x.dtype == torch.float32


@pytest.mark.parametrize("device_crop", ["false", "true"])
def test_instance_size_sets_the_search_crop_size(device_crop):
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "TRACK.INSTANCE_SIZE", "287",
                                                                    "INFERENCE.DEVICE_CROP", device_crop]))
    frame = np.full((120, 160, 3), 90, np.uint8)
    tracker.init(frame, [40, 30, 50, 36])
    x, geometry = tracker.search_input(frame)
    assert tuple(x.shape) == (1, 3, 287, 287)
    # s_x = s_z * 287 / 127 with s_z = sqrt((50 + 43) (36 + 43))
    assert geometry[3] == pytest.approx(np.sqrt(93 * 79) * 287 / 127, rel=1e-14)


@pytest.mark.parametrize("device_crop", ["false", "true"])
def test_search_padding_is_the_first_frames_mean_colour(device_crop):
    """Official avg_chans: the search crop is padded with the init frame's mean, not the current frame's."""
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "INFERENCE.DEVICE_CROP",
                                                                    device_crop]))
    first = np.zeros((120, 160, 3), np.uint8)
    first[:, :80] = (200, 100, 40)                   # mean colour (100, 50, 20)
    tracker.init(first, [100, 70, 50, 40])            # the window runs over the right and bottom edges
    x, _ = tracker.search_input(np.full((120, 160, 3), 7, np.uint8))
    assert x[0, :, -1, -1].tolist() == [100.0, 50.0, 20.0] and x[0, :, 127, 127].tolist() == [7.0, 7.0, 7.0]


@pytest.mark.parametrize("templates, k", [("four", 4), ("unified", 1)])
def test_exemplar_size_sets_the_template_size(templates, k):
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu", "TRACK.EXEMPLAR_SIZE", "111",
                                                                    "MODEL.HEAD.TEMPLATES", templates]))
    z = tracker.template_input(np.full((120, 160, 3), 90, np.uint8), [40, 30, 50, 36])
    assert tuple(z.shape) == (1, k, 3, 111, 111)


def test_the_configs_device_is_used_unless_the_caller_names_one():
    from siamcorners.config import to_dict

    cfg = to_dict(load_config(opts=["DEVICE", "cpu"]))
    cfg["DEVICE"] = "meta"                   # PyTorch's shape-only device stands in for a GPU (not a config choice)
    assert SiamCornersTracker(_injected_net(), cfg).device == torch.device("meta")    # DEVICE read from the config
    assert SiamCornersTracker(_injected_net(), cfg, device="cpu").device == torch.device("cpu")  # the argument wins
    plain = dict(cfg)
    del plain["DEVICE"]                      # a plain mapping without DEVICE (an integration's own tree): "auto"
    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert SiamCornersTracker(_injected_net(), plain).device == auto


def test_a_new_tracker_has_no_state_and_an_empty_debug_record():
    tracker = SiamCornersTracker(_injected_net(), load_config(opts=["DEVICE", "cpu"]))
    assert tracker.center is None and tracker.size is None and tracker.avg is None and tracker.debug == {}
