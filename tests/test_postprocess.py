"""Tracker post-processing functions against hand-computed values (paper eqs. 8-10, reference §7.3)."""
import math

import numpy as np
import pytest

from siamcorners.tracker import postprocess as pp


def test_heat_to_crop_official_and_stride8_geometry():
    boxes = np.array([[1.0, 2.0, 3.0, 4.5]])
    np.testing.assert_allclose(pp.heat_to_crop(boxes, 10.2), [[10.2, 20.4, 30.6, 45.9]])
    np.testing.assert_allclose(pp.heat_to_crop(boxes, 8.0, 31.0), [[39.0, 47.0, 55.0, 67.0]])


def test_crop_to_image_official_floor_mapping():
    # / scale_z 0.5 -> (20, 40, 81, 91): W = 61, H = 51, CX = 20 + floor(30.5) = 50, CY = 40 + floor(25.5) = 65;
    # S = floor((200.4 + 1) / 2) = 100 -> cx = 50 - 100 + 100, cy = 65 - 100 + 50
    out = pp.crop_to_image_official(np.array([[10.0, 20.0, 40.5, 45.5]]), 0.5, 200.4, (100.0, 50.0))
    np.testing.assert_allclose(out, [[50.0, 15.0, 61.0, 51.0]])


def test_crop_to_image_exact_inverts_the_resize():
    # crop side 100 -> instance 200 (scale 0.5); centre (60, 40): origin floor(60 - 50.5 + 0.5) = 10, -10
    # x1 = 10 + 20.5 * 0.5 - 0.5 = 19.75, W = 20; y1 = -10 + 10.25 - 0.5 = -0.25, H = 40
    out = pp.crop_to_image_exact(np.array([[20.0, 20.0, 60.0, 100.0]]), 100, 200, (60.0, 40.0))
    np.testing.assert_allclose(out, [[29.75, 19.75, 20.0, 40.0]])


def test_sz_and_change():
    np.testing.assert_allclose(pp.sz(np.array([10.0, -2.0]), np.array([20.0, 4.0])), [math.sqrt(875.0), 0.0])
    np.testing.assert_allclose(pp.change(np.array([2.0, 0.5, 0.0])), [2.0, 2.0, 1e4])


def test_scale_ratio_penalty_forms_and_scale_bug():
    cand = np.array([[40.0, 10.0], [20.0, 10.0]])
    prev = (20.0, 10.0)
    # sz(40, 10) = sqrt(65 * 35) = sqrt(2275); sz(20, 10) = sqrt(875); sz(10, 5) = sqrt(218.75); r_c = 2
    s_bug = math.sqrt(2275 / 218.75)
    s_ok = math.sqrt(2275 / 875)
    s_bug_same = math.sqrt(875 / 218.75)
    got = pp.scale_ratio_penalty(cand, prev, 0.5, 0.04, "siamrpn", scale_bug=True)
    np.testing.assert_allclose(got, [math.exp(-(2 * s_bug - 1) * 0.04), math.exp(-(s_bug_same - 1) * 0.04)])
    got = pp.scale_ratio_penalty(cand, prev, 0.5, 0.04, "siamrpn", scale_bug=False)
    np.testing.assert_allclose(got, [math.exp(-(2 * s_ok - 1) * 0.04), 1.0])
    got = pp.scale_ratio_penalty(cand, prev, 0.5, 0.04, "paper", scale_bug=False)
    np.testing.assert_allclose(got, [math.exp(-0.04 * 2 * s_ok), math.exp(-0.04)])
    with pytest.raises(ValueError, match="penalty form"):
        pp.scale_ratio_penalty(cand, prev, 0.5, 0.04, "other")


def test_variation_degree_half_and_sum():
    cand = np.array([[13.0, 6.0, 25.0, 18.0], [10.0, 10.0, 20.0, 20.0]])
    # |dcx| + |dcy| = 3 + 4, |dw| + |dh| = 5 + 2
    np.testing.assert_allclose(pp.variation_degree(cand, (10, 10), (20, 20), "half"), [7.0, 0.0])
    np.testing.assert_allclose(pp.variation_degree(cand, (10, 10), (20, 20), "sum"), [14.0, 0.0])


def test_rank_window_official_and_any_length():
    w45 = pp.rank_window(45, 90)
    np.testing.assert_array_equal(w45, np.hanning(90)[:45])
    np.testing.assert_allclose(w45[:3], [0.0, 0.00125, 0.00498], atol=1e-5)
    assert np.all(np.diff(w45) > 0)
    half = np.hanning(90)[:45]
    np.testing.assert_allclose(pp.rank_window(3, 90), [half[0], half[22], half[44]])
    w15 = pp.rank_window(15, 90)
    assert w15.shape == (15,) and np.all(np.diff(w15) > 0) and w15[-1] == half[-1]


def test_ranked_hanning_by_hand():
    pscore = np.array([0.5, 0.5, 0.5])
    variation = np.array([1.0, 3.0, 2.0])
    # descending variation: candidate 1, 2, 0 -> window 0, 0.5, 1
    out, order = pp.ranked_hanning(pscore, variation, np.array([0.0, 0.5, 1.0]), 0.1)
    assert order.tolist() == [1, 2, 0]
    np.testing.assert_allclose(out, [0.55, 0.45, 0.5])
    np.testing.assert_array_equal(pscore, [0.5, 0.5, 0.5])


def test_ranked_hanning_any_candidate_count():
    rng = np.random.default_rng(0)
    for n in (1, 7, 15, 90):
        out, order = pp.ranked_hanning(rng.random(n), rng.random(n), pp.rank_window(n, 90), 0.011)
        assert out.shape == (n,) and sorted(order.tolist()) == list(range(n))


def test_smooth_size_by_hand():
    center, size, lr = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 0.5, 0.8, 0.5)
    assert lr == pytest.approx(0.2)
    np.testing.assert_allclose(size, [104.0, 48.0])
    np.testing.assert_allclose(center, [70.0, 80.0])   # official: centre not smoothed
    center, _, _ = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 0.5, 0.8, 0.5, smooth_center=True)
    np.testing.assert_allclose(center, [54.0, 64.0])
    _, size, lr = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 0.5, -1.0, 0.5)
    assert lr == 0.0 and size.tolist() == [100.0, 50.0]


def test_clip_box_by_hand():
    center, size = pp.clip_box((-5.0, 300.0), (5.0, 1000.0), (240, 320), 10)
    np.testing.assert_allclose(center, [0.0, 240.0])
    np.testing.assert_allclose(size, [10.0, 240.0])
    center, size = pp.clip_box((100.0, 50.0), (30.0, 40.0), (240, 320), 10)
    np.testing.assert_allclose(center, [100.0, 50.0])
    np.testing.assert_allclose(size, [30.0, 40.0])


def test_smooth_size_without_rate_clip_extrapolates_for_a_rejected_pair():
    """Official (TRACK.NO_VALID_PAIR official): a rejected pair (score -1) gives rate penalty * -1 * lr < 0."""
    center, size, lr = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 0.5, -1.0, 0.5, clip_rate=False)
    assert lr == -0.25
    assert size.tolist() == [95.0, 52.5]              # 100 * 1.25 - 120 * 0.25, 50 * 1.25 - 40 * 0.25
    assert center.tolist() == [70.0, 80.0]


def test_clip_box_maps_nan_and_inf_like_the_official_clip():
    """max(low, min(v, high)) with Python's min/max: NaN -> the lower bound, +-inf -> the nearest bound."""
    nan, inf = float("nan"), float("inf")
    center, size = pp.clip_box((nan, inf), (nan, -inf), (240, 320), 10)
    assert center.tolist() == [0.0, 240.0] and size.tolist() == [10.0, 10.0]
    center, size = pp.clip_box((-inf, 5.0), (inf, 20.0), (240, 320), 10)
    assert center.tolist() == [0.0, 5.0] and size.tolist() == [320.0, 20.0]
