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
