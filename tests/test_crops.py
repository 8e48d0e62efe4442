"""Context crops and boundary templates: official parity (templates.npz) and hand-checked geometry."""
import re

import cv2
import numpy as np
import pytest

from siamcorners.data.crops import (
    TRAIN_TEMPLATE_FILL,
    boundary_regions,
    boundary_templates,
    channel_average,
    context_size,
    exemplar_crop,
    get_subwindow,
    search_crop,
    training_boundary_templates,
)

RED = np.array([0, 0, 255], np.uint8)


def _frame(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ official parity
@pytest.mark.parametrize("case", [0, 1, 2])
@pytest.mark.floor
def test_templates_and_search_match_official(parity, case):
    d = parity("templates.npz")
    image0, image1 = d[f"c{case}_image0"], d[f"c{case}_image1"]
    box = d[f"c{case}_init_box_xywh"]
    image0_before, image1_before, box_before = image0.copy(), image1.copy(), box.copy()

    avg = channel_average(image0)
    np.testing.assert_allclose(avg, d[f"c{case}_channel_average"], rtol=0, atol=1e-9)
    templates = boundary_templates(image0, box, avg)
    assert templates.shape == (4, 127, 127, 3) and templates.dtype == np.uint8
    assert np.abs(templates.astype(int) - d[f"c{case}_templates"]).max() <= 1

    x, y, w, h = box
    s_z = context_size(w, h, 0.5)
    assert round(s_z) == d[f"c{case}_s_z"]
    side = round(s_z * 255 / 127)
    assert side == d[f"c{case}_search_crop_size"]
    crop = search_crop(image1, (x + (w - 1) / 2, y + (h - 1) / 2), side, avg, 255)
    assert crop.shape == (255, 255, 3) and crop.dtype == np.uint8
    assert np.abs(crop.astype(int) - d[f"c{case}_search"]).max() <= 1

    # the official init drew its outline into the caller's frame (case 1); ours never writes
    np.testing.assert_array_equal(image0, image0_before)
    np.testing.assert_array_equal(image1, image1_before)
    np.testing.assert_array_equal(box, box_before)


def test_no_resize_keeps_pure_red_outline(parity):
    """Case C (s_z == 127): the outline survives unblurred, 94/94/32/32 red pixels in t/l/b/r."""
    d = parity("templates.npz")
    t = boundary_templates(d["c2_image0"], d["c2_init_box_xywh"])
    red = np.all(t == RED, axis=-1).sum(axis=(1, 2))
    assert red.tolist() == [94, 94, 32, 32]


# --------------------------------------------------------------------------------- sub-window
def test_subwindow_corner_padding_by_hand():
    frame = _frame(50, 60)
    # centre (4.5, 3.5), side 18: c = 9.5 -> xmin = floor(-4.5) = -5, ymin = floor(-5.5) = -6
    patch = get_subwindow(frame, (4.5, 3.5), 18, 18, (10.7, 20.2, 30.9))
    assert patch.shape == (18, 18, 3)
    np.testing.assert_array_equal(patch[6:, 5:], frame[0:12, 0:13])
    fill = np.array([10, 20, 30], np.uint8)  # truncated, like the official uint8 assignment
    assert np.all(patch[:6] == fill) and np.all(patch[:, :5] == fill)


def test_subwindow_inside_is_a_copy_and_resizes_bilinear():
    frame = _frame(40, 50)
    patch = get_subwindow(frame, (20.0, 15.0), 10, 10, (0, 0, 0))
    # c = 5.5 -> xmin = floor(15.0) = 15, ymin = floor(10.0) = 10
    np.testing.assert_array_equal(patch, frame[10:20, 15:25])
    patch[...] = 0
    assert frame[10:20, 15:25].any()
    big = get_subwindow(frame, (20.0, 15.0), 25, 10, (0, 0, 0))
    np.testing.assert_array_equal(big, cv2.resize(frame[10:20, 15:25], (25, 25), interpolation=cv2.INTER_LINEAR))


def test_subwindow_entirely_outside_is_fill():
    frame = _frame(20, 20)
    patch = get_subwindow(frame, (-100.0, -100.0), 8, 8, (1, 2, 3))
    assert np.all(patch == np.array([1, 2, 3], np.uint8))


# ------------------------------------------------------------------------- boundary templates
def test_templates_box_at_image_corner_by_hand():
    frame = _frame(50, 60, seed=1)
    before = frame.copy()
    # box (0, 0, 10, 8): centre (4.5, 3.5); p = 9, s_z = round(sqrt(19 * 17)) = 18;
    # xmin = -5, ymin = -6 -> box in the patch (5, 6)-(15, 14)
    t = boundary_templates(frame, [0, 0, 10, 8], exemplar_size=18)
    fill = np.floor(channel_average(frame)).astype(np.uint8)
    patch = np.empty((18, 18, 3), np.uint8)
    patch[...] = fill
    patch[6:, 5:] = frame[0:12, 0:13]
    patch[6, 5:16] = RED       # outline: top row, left column, right column, bottom row
    patch[6:15, 5] = RED
    patch[6:15, 15] = RED
    patch[14, 5:16] = RED
    regions = {0: (6, 10, 5, 15), 1: (6, 14, 5, 10), 2: (10, 14, 5, 15), 3: (6, 14, 10, 15)}
    for k, (r0, r1, c0, c1) in regions.items():
        expected = np.empty_like(patch)
        expected[...] = fill
        expected[r0:r1, c0:c1] = patch[r0:r1, c0:c1]
        np.testing.assert_array_equal(t[k], expected, err_msg=f"template {k}")
    np.testing.assert_array_equal(frame, before)


def test_templates_box_larger_than_image_by_hand():
    frame = _frame(30, 40, seed=2)
    # box (-10, -5, 60, 40): centre (19.5, 14.5); p = 50, s_z = round(sqrt(110 * 90)) = 99;
    # c = 50 -> xmin = -30, ymin = -35; box in the patch (20, 30)-(80, 70); image at rows 35..64, cols 30..69
    t = boundary_templates(frame, [-10, -5, 60, 40], exemplar_size=99, outline=False)
    fill = np.floor(channel_average(frame)).astype(np.uint8)
    patch = np.empty((99, 99, 3), np.uint8)
    patch[...] = fill
    patch[35:65, 30:70] = frame
    for k, (r0, r1, c0, c1) in enumerate([(30, 50, 20, 80), (30, 70, 20, 50), (50, 70, 20, 80), (30, 70, 50, 80)]):
        expected = np.empty_like(patch)
        expected[...] = fill
        expected[r0:r1, c0:c1] = patch[r0:r1, c0:c1]
        np.testing.assert_array_equal(t[k], expected, err_msg=f"template {k}")
    resized = boundary_templates(frame, [-10, -5, 60, 40])
    assert resized.shape == (4, 127, 127, 3)


def test_templates_one_pixel_wide_box_by_hand():
    frame = _frame(30, 40, seed=3)
    # box (10, 5, 1, 12): centre (10, 10.5); p = 6.5, s_z = round(sqrt(7.5 * 18.5)) = 12; xmin = 4, ymin = 4;
    # box in the patch (6, 1)-(7, 13), clipped to the 12-pixel patch
    t = boundary_templates(frame, [10, 5, 1, 12], exemplar_size=12, outline=False)
    fill = np.floor(channel_average(frame)).astype(np.uint8)
    assert np.all(t[1] == fill)  # left keeps cols [6, int(6.5)) = nothing
    np.testing.assert_array_equal(t[0][1:7, 6], frame[5:11, 10])   # top: rows [1, 7)
    np.testing.assert_array_equal(t[2][7:12, 6], frame[11:16, 10])  # bottom: rows [7, 13) -> [7, 12)
    np.testing.assert_array_equal(t[3][1:12, 6], frame[5:16, 10])   # right: col [6, 7)
    for k, n in enumerate([6, 0, 5, 11]):  # no pixel outside column 6 of the kept rows
        assert np.sum(np.any(t[k] != fill, axis=-1)) <= n
    outlined = boundary_templates(frame, [10, 5, 1, 12], exemplar_size=12)
    assert np.all(outlined[0][1:7, 6] == RED)  # the outline's left column covers the whole kept column


def test_paper_profile_constant_fill_without_outline():
    frame = _frame(60, 80, seed=4)
    t = boundary_templates(frame, [20, 15, 30, 20], exemplar_size=38, fill=(1, 2, 3), outline=False,
                           fraction=0.25)
    # s_z = round(sqrt(55 * 45)) = round(49.75) = 50 -> resized to 38; check the un-resized geometry instead
    t50 = boundary_templates(frame, [20, 15, 30, 20], exemplar_size=50, fill=(1, 2, 3), outline=False,
                             fraction=0.25)
    assert t.shape == (4, 38, 38, 3)
    assert not np.any(np.all(t50 == RED, axis=-1))
    # centre (34.5, 24.5), c = 25.5 -> xmin = 9, ymin = -1; box (11, 16)-(41, 36); top keeps rows [16, 21)
    np.testing.assert_array_equal(t50[0][16:21, 11:41], frame[15:20, 20:50])
    mask = np.ones((50, 50), bool)
    mask[16:21, 11:41] = False
    assert np.all(t50[0][mask] == np.array([1, 2, 3], np.uint8))


def test_grayscale_frame_equals_bgr_conversion():
    gray = np.random.default_rng(5).integers(0, 256, size=(40, 50), dtype=np.uint8)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(boundary_templates(gray, [5, 6, 20, 15]), boundary_templates(bgr, [5, 6, 20, 15]))
    avg = channel_average(gray)
    np.testing.assert_array_equal(search_crop(gray, (10, 12), 60, avg), search_crop(bgr, (10, 12), 60, avg))
    np.testing.assert_array_equal(exemplar_crop(gray, [5, 6, 20, 15]), exemplar_crop(bgr, [5, 6, 20, 15]))
    assert search_crop(gray, (10, 12), 60, avg).shape == (255, 255, 3)


def test_training_templates_constant_fill_outline_and_slices():
    template = np.random.default_rng(6).uniform(-20, 280, size=(127, 127, 3))
    before = template.copy()
    box = (20.5, 30.2, 90.7, 100.9)  # w = 70.2, h = 70.7
    t = training_boundary_templates(template, box)
    assert t.shape == (4, 127, 127, 3) and t.dtype == np.float32
    np.testing.assert_array_equal(template, before)
    src = template.copy()
    src[30, 20:91] = (0, 0, 255)
    src[30:101, 20] = (0, 0, 255)
    # top rows [30, int(30.2 + 35.35) = 65), cols [20, 90); bottom rows [int(100.9 - 35.35) = 65, 100)
    # left cols [20, int(20.5 + 35.1) = 55); right cols [int(90.7 - 35.1) = 55, 90)
    for k, (r0, r1, c0, c1) in enumerate([(30, 65, 20, 90), (30, 100, 20, 55), (65, 100, 20, 90), (30, 100, 55, 90)]):
        expected = np.empty_like(src)
        expected[...] = TRAIN_TEMPLATE_FILL
        expected[r0:r1, c0:c1] = src[r0:r1, c0:c1]
        np.testing.assert_allclose(t[k], expected.astype(np.float32), rtol=0, atol=0, err_msg=f"template {k}")


def test_boundary_regions_negative_coordinates_are_clipped():
    # official numpy would wrap the negative start; we keep the in-image part
    assert boundary_regions((-3.5, 2.0, 10.0, 12.0), 0.5, size=12)[0] == (2, 7, 0, 10)
    assert boundary_regions((-3.5, 2.0, 10.0, 12.0), 0.5)[0] == (2, 7, -3, 10)


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("box, match", [
    ([10, 10, 0, 5], "w or h <= 0"),
    ([10, 10, 5, -1], "w or h <= 0"),
    ([100, 10, 5, 5], "entirely outside"),
    ([-20, 10, 20, 5], "entirely outside"),
    ([1, 2, 3], "4 numbers"),
    ([1, 2, float("nan"), 3], "finite"),
])
def test_bad_boxes_raise_clear_errors(box, match):
    with pytest.raises(ValueError, match=match):
        boundary_templates(_frame(40, 50), box)


@pytest.mark.parametrize("frame, match", [
    (np.zeros((20, 20, 3), np.float32), "uint8"),
    (np.zeros((20, 20, 4), np.uint8), "shape"),
    (np.zeros((2, 20, 20, 3), np.uint8), "shape"),
    ([[0, 1], [2, 3]], "numpy array"),
])
def test_bad_frames_raise_clear_errors(frame, match):
    with pytest.raises(ValueError, match=match):
        boundary_templates(frame, [1, 1, 5, 5])


def test_training_templates_reject_bad_box():
    with pytest.raises(ValueError, match="w or h <= 0"):
        training_boundary_templates(np.zeros((127, 127, 3)), (10, 10, 10, 20))


# ------------------------------------------------- written from the mutation run (docs/testing.md)
def test_check_frame_messages_empty_frames_and_one_channel_frames():
    from siamcorners.data.crops import check_frame

    cases = [([[0, 1]], r"^frame must be a numpy array \(H x W x 3 uint8 BGR or H x W\), got list$"),
             (np.zeros((20, 20, 3), np.float32), r"^frame must have dtype uint8, got float32 with shape \(20, 20, 3\)$"),
             (np.zeros((20, 20, 4), np.uint8), r"^frame must have shape \(H, W, 3\) or \(H, W\), got \(20, 20, 4\)$"),
             (np.zeros((0, 5, 3), np.uint8), r"^frame is empty: shape \(0, 5, 3\)$"),
             (np.zeros((5, 0), np.uint8), r"^frame is empty: shape \(5, 0\)$")]
    for frame, match in cases:
        with pytest.raises(ValueError, match=match):
            check_frame(frame)
    with pytest.raises(ValueError, match=r"^image 3 must have dtype uint8"):
        check_frame(np.zeros((2, 2), np.int16), name="image 3")
    assert check_frame(np.zeros((1, 1, 3), np.uint8)).shape == (1, 1, 3)
    one = _frame(6, 7)[:, :, :1]
    np.testing.assert_array_equal(check_frame(one), one[:, :, 0])


def test_check_box_edges_and_whole_messages():
    from siamcorners.data.crops import check_box

    hw = (40, 50)  # H, W
    for ok in ([49.5, 10, 5, 5], [-4.5, 10, 5, 5], [10, 39.5, 5, 5], [10, -4.5, 5, 5], [10, 10, 0.5, 0.5],
               [-20, -10, 100, 80]):  # the last: exactly twice the frame
        np.testing.assert_array_equal(check_box(ok, hw), np.array(ok, np.float64))
    assert check_box([1, 2, 3, 4], hw).dtype == np.float64
    np.testing.assert_array_equal(check_box([[1, 2], [3, 4]], hw), [1.0, 2.0, 3.0, 4.0])
    out = "lies entirely outside the 50x40 (W x H) frame"
    for bad, msg in [([50, 10, 5, 5], f"box [x, y, w, h] = [50.0, 10.0, 5.0, 5.0] {out}"),
                     ([-5, 10, 5, 5], f"box [x, y, w, h] = [-5.0, 10.0, 5.0, 5.0] {out}"),
                     ([10, 40, 5, 5], f"box [x, y, w, h] = [10.0, 40.0, 5.0, 5.0] {out}"),
                     ([10, -5, 5, 5], f"box [x, y, w, h] = [10.0, -5.0, 5.0, 5.0] {out}"),
                     ([10, 10, 5, 0], "box [x, y, w, h] = [10.0, 10.0, 5.0, 0.0] has w or h <= 0"),
                     ("abc", "box must be 4 numbers [x, y, w, h], got 'abc'"),
                     ([-20, -10, 100.5, 80], "box [x, y, w, h] = [-20.0, -10.0, 100.5, 80.0] is too large for the "
                                             "50x40 (W x H) frame: w and h may be at most 2 times the frame's (100 x 80)"),
                     ([-20, -10, 100, 80.5], "box [x, y, w, h] = [-20.0, -10.0, 100.0, 80.5] is too large for the "
                                             "50x40 (W x H) frame: w and h may be at most 2 times the frame's (100 x 80)")]:
        with pytest.raises(ValueError) as e:
            check_box(bad, hw)
        assert str(e.value) == msg


def test_context_size_patch_box_and_regions_by_hand():
    from siamcorners.data.crops import template_patch_box

    assert context_size(10, 8) == np.sqrt(19 * 17)  # p = 0.5 * 18 = 9
    assert context_size(0.2, 0.2) == pytest.approx(0.4)  # (0.4)^2 = 0.16 < 1: no floor at 1
    # (0, 0, 10, 8): s_z = 18, origin (-5, -6); at context 0.25: p = 4.5, s_z = round(sqrt(14.5 * 12.5)) = 13,
    # c = 7 -> origin (floor(-2.0), floor(-3.0)) = (-2, -3)
    assert template_patch_box([0, 0, 10, 8]) == (5, 6, 15, 14)
    assert template_patch_box([0, 0, 10, 8], 0.25) == (2, 3, 12, 11)
    # a 0.5-pixel box: s_z = round(sqrt(1 * 1)) = 1, centre (-0.25, -0.25), c = 1 -> origin (-1, -1)
    assert template_patch_box([0, 0, 0.5, 0.5]) == (1, 1, 1.5, 1.5)
    assert boundary_regions((0, 0, 10, 8)) == ((0, 4, 0, 10), (0, 8, 0, 5), (4, 8, 0, 10), (0, 8, 5, 10))


def test_fill_pixel_clips_and_truncates_for_uint8_only():
    from siamcorners.data.crops import _fill_pixel

    fill = (300.0, -5.0, 0.9)
    px = _fill_pixel(fill, 3, np.uint8)
    assert px.dtype == np.uint8 and px.tolist() == [255, 0, 0]
    assert _fill_pixel(fill, 1, np.uint8).tolist() == [255]  # one-channel (grayscale) pixel: the first value
    pf = _fill_pixel(fill, 3, np.float32)
    assert pf.dtype == np.float32 and pf.tolist() == [300.0, -5.0, np.float32(0.9)]
    assert _fill_pixel(7.0, 3, np.uint8).tolist() == [7, 7, 7]


def test_subwindow_padding_on_every_side_and_out_of_range_fill():
    frame = _frame(20, 20, seed=7)
    # centre (18, 18), side 8: c = 4.5 -> origin (14, 14); columns / rows 20 and 21 are padding
    patch = get_subwindow(frame, (18.0, 18.0), 8, 8, (300, -5, 0))
    expected = np.empty((8, 8, 3), np.uint8)
    expected[...] = (255, 0, 0)  # clipped to uint8, then truncated
    expected[:6, :6] = frame[14:20, 14:20]
    np.testing.assert_array_equal(patch, expected)
    # over the right edge only (origin (14, 6)), over the bottom only (origin (6, 14))
    right = get_subwindow(frame, (18.0, 10.0), 8, 8, (1, 2, 3))
    assert right.shape == (8, 8, 3) and np.all(right[:, 6:] == np.array([1, 2, 3], np.uint8))
    np.testing.assert_array_equal(right[:, :6], frame[6:14, 14:20])
    bottom = get_subwindow(frame, (10.0, 18.0), 8, 8, (1, 2, 3))
    assert bottom.shape == (8, 8, 3) and np.all(bottom[6:] == np.array([1, 2, 3], np.uint8))
    np.testing.assert_array_equal(bottom[:6], frame[14:20, 6:14])
    # just above the frame (origin y -14, ending at -6) but overlapping its columns, and just left of it: all fill
    assert np.all(get_subwindow(frame, (10.0, -10.0), 8, 8, (1, 2, 3)) == np.array([1, 2, 3], np.uint8))
    assert np.all(get_subwindow(frame, (-10.0, 10.0), 8, 8, (1, 2, 3)) == np.array([1, 2, 3], np.uint8))
    # one-pixel windows and outputs; centre (5.25, 5.25), side 1: origin floor(4.75) = 4
    np.testing.assert_array_equal(get_subwindow(frame, (5.25, 5.25), 1, 1, (0, 0, 0)), frame[4:5, 4:5])
    one = get_subwindow(frame, (10.0, 10.0), 1, 4, (0, 0, 0))
    np.testing.assert_array_equal(one, cv2.resize(frame[8:12, 8:12], (1, 1), interpolation=cv2.INTER_LINEAR))
    for side, out in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match=rf"^crop side and output size must be >= 1, got side={side}, "
                                             rf"out_size={out}$"):
            get_subwindow(frame, (10.0, 10.0), out, side, (0, 0, 0))


def test_exemplar_crop_by_hand():
    frame = _frame(50, 60, seed=8)
    # box (20, 10, 9, 7): centre (24, 13), p = 8, s_z = round(sqrt(17 * 15)) = 16, c = 8.5 -> origin (16, 5)
    np.testing.assert_array_equal(exemplar_crop(frame, [20, 10, 9, 7], exemplar_size=16), frame[5:21, 16:32])
    np.testing.assert_array_equal(exemplar_crop(frame, [20, 10, 9, 7]),
                                  cv2.resize(frame[5:21, 16:32], (127, 127), interpolation=cv2.INTER_LINEAR))
    # context 0.25: p = 4, s_z = round(sqrt(13 * 11)) = 12, c = 6.5 -> origin (18, 7)
    np.testing.assert_array_equal(exemplar_crop(frame, [20, 10, 9, 7], context_amount=0.25, exemplar_size=12),
                                  frame[7:19, 18:30])
    # at the corner: box (0, 0, 10, 8) -> s_z 18, origin (-5, -6), padded with the frame mean (floored) or avg
    for avg, fill in ((None, np.floor(channel_average(frame))), ((1, 2, 3), (1, 2, 3))):
        expected = np.empty((18, 18, 3), np.uint8)
        expected[...] = fill
        expected[6:, 5:] = frame[0:12, 0:13]
        np.testing.assert_array_equal(exemplar_crop(frame, [0, 0, 10, 8], avg, exemplar_size=18), expected)
    # a 0.5-pixel box (4.5, 4.5, 0.5, 0.5): centre (4.25, 4.25), s_z = 1, c = 1 -> origin floor(3.75) = 3
    np.testing.assert_array_equal(exemplar_crop(frame, [4.5, 4.5, 0.5, 0.5], exemplar_size=1), frame[3:4, 3:4])


def test_boundary_templates_context_amount_and_a_tiny_box():
    frame = _frame(50, 60, seed=9)
    # box (20, 10, 9, 7) at context 0.25: s_z = 12, origin (18, 7) -> box in the patch (2, 3)-(11, 10)
    t = boundary_templates(frame, [20, 10, 9, 7], context_amount=0.25, exemplar_size=12, outline=False,
                           fill=(0, 0, 0))
    expected = np.zeros((12, 12, 3), np.uint8)
    expected[3:6, 2:11] = frame[10:13, 20:29]  # top: rows [3, int(3 + 3.5)) = [3, 6)
    np.testing.assert_array_equal(t[0], expected)
    # a 0.5-pixel box: s_z = 1, the pixel (3, 3); the box in the patch (1.5, 1.5)-(2, 2) keeps nothing
    tiny = boundary_templates(frame, [4.5, 4.5, 0.5, 0.5], exemplar_size=1, outline=False, fill=(9, 9, 9))
    assert tiny.shape == (4, 1, 1, 3) and np.all(tiny == 9)
    # an out-of-range canvas colour is clipped to uint8 like the padding
    t2 = boundary_templates(frame, [20, 10, 9, 7], exemplar_size=16, outline=False, fill=(300, -5, 0))
    assert t2[0][0, 0].tolist() == [255, 0, 0]


def test_cut_boundary_templates_defaults_and_clipped_negative_box():
    from siamcorners.data.crops import cut_boundary_templates

    patch = _frame(12, 12, seed=10)
    t = cut_boundary_templates(patch, (2, 2, 10, 10), (0, 0, 0))  # defaults: outline, fraction 0.5
    # the red outline (2, 2)-(10, 10) inclusive; top keeps rows [2, 6) x cols [2, 10)
    assert t[0][2, 2:10].tolist() == [[0, 0, 255]] * 8 and t[0][2, 10].tolist() == [0, 0, 0]
    assert not t[0][7:].any() and t[0][3:6, 3:10].tolist() == patch[3:6, 3:10].tolist()
    # a box starting left of the patch: top keeps rows [2, 7) x cols [0, 10), not a wrapped slice
    neg = cut_boundary_templates(patch, (-3.5, 2.0, 10.0, 12.0), (0, 0, 0), outline=False)
    expected = np.zeros_like(patch)
    expected[2:7, 0:10] = patch[2:7, 0:10]
    np.testing.assert_array_equal(neg[0], expected)


def test_training_templates_shapes_boxes_dtypes_and_switches():
    ok = np.zeros((9, 9), np.float32)
    assert training_boundary_templates(ok, (1, 1, 8, 8)).shape == (4, 9, 9, 3)  # grayscale square
    for bad in (np.zeros((9, 10, 3)), np.zeros((9, 9, 4)), np.zeros((9, 9, 3, 1)), np.zeros(9)):
        with pytest.raises(ValueError, match=rf"^template must be a square \(S, S, 3\) or \(S, S\) image, got shape "
                                             rf"{re.escape(str(bad.shape))}$"):
            training_boundary_templates(bad, (1, 1, 8, 8))
    tpl = np.zeros((9, 9, 3))
    for box in ((1, 2, 3), (1, 1, np.nan, 8), [[1, 1], [8, 8, 9]]):
        with pytest.raises(ValueError, match=r"^template box must be 4 finite numbers \[x1, y1, x2, y2\], got "):
            training_boundary_templates(tpl, box)
    for box in ((5, 1, 5, 8), (1, 5, 8, 5)):
        with pytest.raises(ValueError, match=rf"^template box \[x1, y1, x2, y2\] = "
                                             rf"{re.escape(str([float(v) for v in box]))} has w or h <= 0$"):
            training_boundary_templates(tpl, box)
    # w > y1 and h > x2 are fine: (0, 6, 4, 8) is 4 x 2, (0, 0, 8, 4) is 8 x 4
    assert training_boundary_templates(tpl, (0, 6, 4, 8)).shape == (4, 9, 9, 3)
    assert training_boundary_templates(tpl, [[0, 0], [8, 4]]).shape == (4, 9, 9, 3)
    # a uint8 template is taken as its float values: a fractional canvas colour is kept, not truncated
    u8 = np.full((9, 9, 3), 200, np.uint8)
    t = training_boundary_templates(u8, (1, 1, 8, 8), fill=(87.5, 300.0, -1.0), outline=False, fraction=0.25)
    assert t[0][0, 0].tolist() == [87.5, 300.0, -1.0]
    # outline off, fraction 0.25: top keeps rows [1, int(1 + 1.75)) = [1, 2)
    mask = np.zeros((9, 9), bool)
    mask[1:2, 1:8] = True
    assert np.all(t[0][mask] == 200) and np.all(t[0][~mask] == np.float32([87.5, 300.0, -1.0]))
