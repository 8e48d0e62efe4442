import math

import numpy as np
import pytest

from siamcorners.data.targets import (corner_targets, draw_gaussian, gaussian_radius, gaussian_sigma,
                                      heat_ratio)


def test_matches_official_label_builder(parity):
    ref = parity("labels.npz")
    t = corner_targets(ref["box"])
    n = len(ref["box"])
    for ours, theirs in [("tl_heat", "tl_heats"), ("br_heat", "br_heats"), ("tl_off", "tl_regrs"),
                         ("br_off", "br_regrs")]:
        assert t[ours].dtype == np.float32
        np.testing.assert_allclose(t[ours], ref[theirs].reshape(t[ours].shape), atol=1e-6, rtol=0, err_msg=ours)
    np.testing.assert_array_equal(t["tl_ind"], ref["tl_tags"].reshape(n))
    np.testing.assert_array_equal(t["br_ind"], ref["br_tags"].reshape(n))
    assert t["tl_ind"].dtype == np.int64
    np.testing.assert_array_equal(t["valid"], ref["tag_masks"].reshape(n).astype(np.float32))
    assert t["tl_heat"].shape == (n, 1, 25, 25) and t["tl_off"].shape == (n, 2)


def test_radius_matches_official(parity):
    ref = parity("labels.npz")
    b = ref["box"]
    rho = heat_ratio(10.2)
    r = gaussian_radius(np.ceil(rho * (b[:, 3] - b[:, 1])), np.ceil(rho * (b[:, 2] - b[:, 0])))
    np.testing.assert_array_equal(np.maximum(0, np.trunc(r)).astype(np.int64), ref["radius"])


@pytest.mark.parametrize("cells, radius", [(5, 0), (7, 1), (10, 1), (16, 2), (25, 3)])
def test_radius_examples(cells, radius):
    assert int(gaussian_radius(cells, cells, 0.5)) == radius


def test_official_ratio_is_float64_25_over_255():
    assert heat_ratio(10.2) == 25 / 255
    assert heat_ratio(8) == 0.125
    # the float hazard of the official builder: 20.4 px sits in cell 1 with offset ~1, not cell 2
    t = corner_targets(np.array([[20.4, 10.2, 122.4, 91.8]]))
    row = int(10.2 * (25 / 255))
    assert t["tl_ind"][0] == row * 25 + 1
    assert t["tl_off"][0, 0] == pytest.approx(1.0, abs=1e-6)


def test_radius_zero_is_a_single_peak():
    # 17.6 x 13.4 px -> 2 x 2 cells -> r = 0
    t = corner_targets(np.array([[50.0, 60.0, 67.6, 73.4]]))
    heat = t["tl_heat"][0, 0]
    assert heat.sum() == 1.0 and heat[int(60 * 25 / 255), int(50 * 25 / 255)] == 1.0
    # the paper's sigma = r / 3 is 0 for r = 0: still exactly one positive cell
    t2 = corner_targets(np.array([[50.0, 60.0, 67.6, 73.4]]), sigma="radius")
    np.testing.assert_array_equal(t2["tl_heat"], t["tl_heat"])


@pytest.mark.parametrize("sigma, two_sigma_sq", [("diameter", 2 * (5 / 6) ** 2), ("radius", 2 * (2 / 3) ** 2)])
def test_radius_two_gaussian_by_hand(sigma, two_sigma_sq):
    # 16 x 16 cells (163.2 px) -> r = 2; tl corner at cell (5, 6) (x, y), far from the borders
    x1, y1 = 5 * 10.2 + 3.0, 6 * 10.2 + 3.0
    t = corner_targets(np.array([[x1, y1, x1 + 163.2, y1 + 163.2]]), sigma=sigma)
    heat = t["tl_heat"][0, 0].astype(np.float64)
    expected = np.zeros((25, 25))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            expected[6 + dy, 5 + dx] = math.exp(-(dx * dx + dy * dy) / two_sigma_sq)
    np.testing.assert_allclose(heat, expected, atol=1e-7, rtol=0)
    assert heat[6, 5] == 1.0 and heat[6, 8] == 0.0  # radius 2: nothing 3 cells away
    assert t["tl_ind"][0] == 6 * 25 + 5
    np.testing.assert_allclose(t["tl_off"][0], [3.0 / 10.2, 3.0 / 10.2], atol=1e-6)


def test_sigma_rules():
    assert gaussian_sigma(1, "diameter") == pytest.approx(0.5)
    assert gaussian_sigma(3, "radius") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_sigma(1, "width")


def test_draw_gaussian_matches_targets_and_clips():
    box = np.array([[2.0, 4.0, 160.0, 170.0]])  # r = 2 (parity case 9), tl near the map corner
    t = corner_targets(box)
    heat = np.zeros((25, 25), np.float32)
    draw_gaussian(heat, (0, 0), 2)
    np.testing.assert_array_equal(heat, t["tl_heat"][0, 0])
    # element-wise max with what is there already; a centre off the map leaves only its tail
    heat2 = np.full((25, 25), 0.5, np.float32)
    draw_gaussian(heat2, (3, 12), 1)
    assert heat2[12, 3] == 1.0 and heat2[12, 4] == 0.5 and heat2.sum() == pytest.approx(0.5 * 624 + 1.0)
    heat3 = np.zeros((25, 25), np.float32)
    draw_gaussian(heat3, (-1, 12), 1)
    assert heat3[12, 0] == pytest.approx(math.exp(-2.0), rel=1e-6) and heat3[:, 1:].max() == 0


def test_paper_geometry_stride8_origin31_floor():
    # cell x covers crop pixel 31 + 8 x: pixel 59 is cell 3.5; pixel 27 is cell -0.5 -> floor -1, offset 0.5
    box = np.array([[59.0, 27.0, 200.0, 180.0]])
    t = corner_targets(box, stride=8.0, origin=31.0, truncate=False, sigma="radius")
    np.testing.assert_allclose(t["tl_off"][0], [0.5, 0.5])
    assert t["tl_ind"][0] == 0  # row -1 * 25 + 3 clamps to 0
    t_trunc = corner_targets(box, stride=8.0, origin=31.0, truncate=True)
    np.testing.assert_allclose(t_trunc["tl_off"][0], [0.5, -0.5])
    np.testing.assert_allclose(t["br_off"][0], [(200 - 31) / 8 - 21, (180 - 31) / 8 - 18])
    assert t["br_ind"][0] == 18 * 25 + 21
    assert t["br_heat"][0, 0, 18, 21] == 1.0


def test_small_boxes_are_invalid_but_still_drawn():
    t = corner_targets(np.array([[100.0, 100.0, 115.9, 110.0], [100.0, 100.0, 116.0, 101.0]]))
    np.testing.assert_array_equal(t["valid"], [0.0, 1.0])
    assert t["tl_heat"][0].max() == 1.0


def test_batch_is_independent_per_row():
    boxes = np.array([[95.75, 95.75, 159.25, 159.25], [2.0, 4.0, 160.0, 170.0], [150.0, 60.0, 258.0, 130.0]])
    full = corner_targets(boxes)
    for i in range(len(boxes)):
        one = corner_targets(boxes[i:i + 1])
        for k in full:
            np.testing.assert_array_equal(full[k][i], one[k][0], err_msg=k)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        corner_targets(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        corner_targets(np.array([[0.0, 0.0, np.nan, 10.0]]))
    with pytest.raises(ValueError, match="2-D"):
        draw_gaussian(np.zeros((1, 25, 25)), (3, 3), 1)


# ------------------------------------------------- written from the mutation run (docs/testing.md)
def test_heat_ratio_takes_any_positive_stride_and_names_a_bad_one():
    assert heat_ratio(1.0) == 1.0 and heat_ratio(0.5) == 2.0
    for bad in (0, 0.0, -8.0):
        with pytest.raises(ValueError, match=rf"^heat-map stride must be > 0, got {bad!r}$"):
            heat_ratio(bad)


def _cornernet_ious(h, w, r):
    """IoU of an h x w box with the box whose two corners moved by r, in CornerNet's three cases."""
    same_way = (h - r) * (w - r) / (2 * h * w - (h - r) * (w - r))  # both corners shift the same way
    inward = (h - 2 * r) * (w - 2 * r) / (h * w)  # both corners move inside
    outward = h * w / ((h + 2 * r) * (w + 2 * r))  # both corners move outside
    return np.stack([same_way, inward, outward])


def test_radius_is_the_largest_that_keeps_the_overlap_in_all_three_cornernet_cases():
    # CornerNet (Law & Deng 2018, sec. 3.2): r is the largest shift of both corners for which the shifted box
    # still has IoU >= min_overlap with the box, whichever of the three ways the corners move; so every case
    # keeps IoU >= o and the tightest one is exactly o. Every box of 1..128 cells, overlaps 0.01..0.99.
    h, w = np.meshgrid(np.arange(1.0, 129.0), np.arange(1.0, 129.0), indexing="ij")
    for o in np.arange(1, 100) / 100:
        r = gaussian_radius(h, w, o)
        assert isinstance(r, np.ndarray) and r.shape == h.shape and np.all(np.isfinite(r)), o
        ious = _cornernet_ious(h, w, r)
        assert ious.min() >= o - 1e-9, o
        np.testing.assert_allclose(ious.min(axis=0), o, rtol=0, atol=1e-9, err_msg=str(o))
    # float32 sizes (the same whole numbers) are computed in float64 as well
    for o in (0.3, 0.7, 0.9):
        r = gaussian_radius(h.astype(np.float32), w.astype(np.float32), o)
        assert r.dtype == np.float64
        np.testing.assert_allclose(_cornernet_ious(h, w, r).min(axis=0), o, rtol=0, atol=1e-9, err_msg=str(o))
    # scalars give Python floats; a box of no cells has radius 0
    assert type(gaussian_radius(25, 25)) is float and type(gaussian_radius(0, 0)) is float
    assert gaussian_radius(0, 0) == 0.0 and gaussian_radius(0, 7) == 0.0


def test_sigma_defaults_to_the_official_diameter_rule_in_float64():
    assert gaussian_sigma(2) == 5 / 6 and type(gaussian_sigma(2)) is float
    # a float32 radius is a number like any other: (2 * 2 + 1) / 6 and 2 / 3 in float64
    assert gaussian_sigma(np.float32(2.0)) == 5 / 6 and gaussian_sigma(np.float32(2.0), "radius") == 2 / 3
    s = gaussian_sigma(np.array([0, 2], np.float32))
    assert s.dtype == np.float64 and s.tolist() == [1 / 6, 5 / 6]


def test_draw_gaussian_radius_zero_sigma_rule_and_untouched_cells():
    heat = np.zeros((9, 9), np.float32)
    draw_gaussian(heat, (3, 4), 0)
    assert heat[4, 3] == 1.0 and heat.sum() == 1.0
    # only the (2r+1)^2 window is compared with the Gaussian, even where the map holds less than 0
    heat = np.full((9, 9), -1.0, np.float32)
    draw_gaussian(heat, (5, 6), 1)
    expected = np.full((9, 9), -1.0)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            expected[6 + dy, 5 + dx] = math.exp(-(dx * dx + dy * dy) / (2 * 0.5 ** 2))  # sigma (2 * 1 + 1) / 6
    np.testing.assert_allclose(heat, expected, rtol=1e-6, atol=0)
    # the paper's sigma = r / 3 reaches the drawing
    heat = np.zeros((9, 9), np.float32)
    draw_gaussian(heat, (4, 4), 2, sigma="radius")
    assert heat[4, 6] == pytest.approx(math.exp(-4 / (2 * (2 / 3) ** 2)), rel=1e-6)
    assert heat[6, 6] == pytest.approx(math.exp(-8 / (2 * (2 / 3) ** 2)), rel=1e-6)
    # a centre far off the left (its row on the map) leaves the map as it was
    heat = np.zeros((25, 25), np.float32)
    draw_gaussian(heat, (-10, 12), 1)
    assert not heat.any()
    with pytest.raises(ValueError, match=r"^radius must be >= 0, got -1$"):
        draw_gaussian(heat, (3, 3), -1)


def test_paper_sigma_at_radius_zero_raises_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = corner_targets(np.array([[50.0, 60.0, 67.6, 73.4]]), sigma="radius")  # r = 0, sigma = 0
    assert t["tl_heat"].sum() == 1.0


def test_min_overlap_reaches_the_radius():
    # 250 px = 24.5 -> 25 cells square; CornerNet at IoU 0.7: (100 - sqrt(100^2 - 16 * 0.3 * 625)) / 8 = 2.04 -> r = 2
    # (at 0.5 it is 3); tl corner at pixel (55.0, 64.2): cell (5, 6)
    box = np.array([[55.0, 64.2, 305.0, 314.2]])
    heat = corner_targets(box, min_overlap=0.7)["tl_heat"][0, 0].astype(np.float64)
    expected = np.zeros((25, 25))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            expected[6 + dy, 5 + dx] = math.exp(-(dx * dx + dy * dy) / (2 * (5 / 6) ** 2))
    np.testing.assert_allclose(heat, expected, rtol=0, atol=1e-7)
    assert np.count_nonzero(corner_targets(box)["tl_heat"]) == 49  # r = 3 at the default 0.5


def test_a_box_too_large_for_a_finite_radius_gets_a_single_peak():
    # the radius of a 1e200-pixel box overflows (inf - inf) and is taken as 0
    with np.errstate(all="ignore"):
        t = corner_targets(np.array([[0.0, 0.0, 1e200, 1e200]]))
    expected = np.zeros((25, 25), np.float32)
    expected[0, 0] = 1.0
    np.testing.assert_array_equal(t["tl_heat"][0, 0], expected)
    assert not t["br_heat"].any() and t["br_ind"][0] == 624 and t["valid"][0] == 1.0


def test_longest_side_is_the_height_of_a_tall_box():
    # 10 px wide: valid when the height (integer pixels) reaches 16
    t = corner_targets(np.array([[100.0, 50.0, 110.0, 80.0], [100.0, 50.0, 110.0, 65.9], [100.0, 50.0, 110.0, 66.0]]))
    np.testing.assert_array_equal(t["valid"], [1.0, 0.0, 1.0])


def test_output_dtypes_are_the_documented_ones():
    t = corner_targets(np.array([[95.75, 95.75, 159.25, 159.25], [-12.6, -3.9, 60.2, 71.5]]))
    for k in ("tl_heat", "br_heat", "tl_off", "br_off", "valid"):
        assert t[k].dtype == np.float32, k
    assert t["tl_ind"].dtype == np.int64 and t["br_ind"].dtype == np.int64


def test_float32_boxes_are_computed_from_their_values_in_float64():
    # the float32 numbers nearest 20.4, 10.2, 122.4, 91.8 times the float64 rho = 25/255, truncated (parity README
    # section 3): in float64 20.3999996 px is cell 1 with offset 0.99999996; float32 arithmetic would round to 2.0
    box = np.array([[20.4, 10.2, 122.4, 91.8]], np.float32)
    t = corner_targets(box)
    rho = 25 / 255
    f = [float(v) * rho for v in box[0]]
    cells = [int(v) for v in f]
    assert cells == [1, 0, 12, 9]
    np.testing.assert_array_equal(t["tl_off"][0], np.float32([f[0] - cells[0], f[1] - cells[1]]))
    np.testing.assert_array_equal(t["br_off"][0], np.float32([f[2] - cells[2], f[3] - cells[3]]))
    assert t["tl_ind"][0] == 0 * 25 + 1 and t["br_ind"][0] == 9 * 25 + 12


def test_non_finite_box_message_is_one_line():
    with pytest.raises(ValueError, match=r"^boxes contain NaN or inf$"):
        corner_targets(np.array([[0.0, 0.0, np.inf, 10.0]]))
