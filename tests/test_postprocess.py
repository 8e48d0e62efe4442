"""Tracker post-processing functions against hand-computed values (paper eqs. 8-10, reference §7.3)."""
import math
import warnings

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


def test_crop_to_image_exact_reads_x_and_y_of_each_corner():
    # crop side 100 -> instance 200 (scale 0.5), centre (60, 40): origin (10, -10). Corners (20, 40) - (60, 100):
    # x1 = 10 + 20.5 * 0.5 - 0.5 = 19.75, W = 40 * 0.5 = 20; y1 = -10 + 40.5 * 0.5 - 0.5 = 9.75, H = 60 * 0.5 = 30
    out = pp.crop_to_image_exact(np.array([[20.0, 40.0, 60.0, 100.0]]), 100, 200, (60.0, 40.0))
    np.testing.assert_allclose(out, [[29.75, 24.75, 20.0, 30.0]])


def test_float32_inputs_are_computed_in_float64():
    """float32 boxes (a network's detections as they are) give the float64 values of the formulas, written out
    here in Python floats, not float32 roundings (about 1e-7 relative)."""
    b32 = np.array([[1.1, 2.3, 3.7, 4.9]], dtype=np.float32)
    u = [float(v) for v in b32[0]]
    got = pp.heat_to_crop(b32, 10.2, 0.5)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got[0], [0.5 + 10.2 * v for v in u], rtol=1e-14)
    c32 = np.array([[11.3, 23.9, 37.1, 49.7]], dtype=np.float32)
    x1, y1, x2, y2 = (float(v) for v in c32[0])
    # official: b = crop / 0.3, S = floor((200.4 + 1) / 2) = 100, centre (100, 50)
    b0, b1, b2, b3 = x1 / 0.3, y1 / 0.3, x2 / 0.3, y2 / 0.3
    w, h = b2 - b0, b3 - b1
    got = pp.crop_to_image_official(c32, 0.3, 200.4, (100.0, 50.0))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got[0], [b0 + math.floor(w / 2) - 100 + 100, b1 + math.floor(h / 2) - 100 + 50, w, h],
                               rtol=1e-14)
    # exact: side 100 -> instance 255, centre (60, 40): origin (10, -10)
    s = 100 / 255
    w, h = (x2 - x1) * s, (y2 - y1) * s
    got = pp.crop_to_image_exact(c32, 100, 255, (60.0, 40.0))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got[0], [10 + (x1 + 0.5) * s - 0.5 + w / 2, -10 + (y1 + 0.5) * s - 0.5 + h / 2, w, h],
                               rtol=1e-14)
    # penalty of a (30.1, 7.3) candidate against (20, 10) at scale_z 0.5: r_c = change(2 / (W / H))
    wh32 = np.array([[30.1, 7.3]], dtype=np.float32)
    cw, ch = (float(v) for v in wh32[0])

    def sz(a, b):
        return math.sqrt((a + (a + b) / 2) * (b + (a + b) / 2))

    ratio = sz(cw, ch) / sz(10.0, 5.0)
    r = 2.0 / (cw / ch)
    s_c, r_c = max(ratio, 1 / ratio), max(r, 1 / r)
    got = pp.scale_ratio_penalty(wh32, (20.0, 10.0), 0.5, 0.04, "siamrpn", scale_bug=True)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [math.exp(-(r_c * s_c - 1) * 0.04)], rtol=1e-13)
    got = pp.variation_degree(np.array([[13.1, 6.2, 25.3, 18.4]], dtype=np.float32), (10.5, 9.0), (20.0, 17.0))
    assert got.dtype == np.float64
    pscore = np.array([0.3, 0.7], dtype=np.float32)
    got, _ = pp.ranked_hanning(pscore, np.array([1.0, 2.0]), np.array([0.25, 0.5]), 0.011)
    assert got.dtype == np.float64
    p0, p1 = (float(v) for v in pscore)
    np.testing.assert_allclose(got, [p0 * 0.989 + 0.5 * 0.011, p1 * 0.989 + 0.25 * 0.011], rtol=1e-14)


def test_smooth_size_float32_and_integer_states_give_float64_states():
    prev_c, prev_s = np.array([50.3, 60.7], dtype=np.float32), np.array([100.1, 50.3], dtype=np.float32)
    cand_c, cand_s = np.array([70.9, 80.1], dtype=np.float32), np.array([120.7, 40.9], dtype=np.float32)
    pc, ps, cc, cs = ([float(v) for v in a] for a in (prev_c, prev_s, cand_c, cand_s))
    # rate = 0.7 * 0.9 * 0.39 (official TRACK.LR) = 0.2457
    center, size, rate = pp.smooth_size(prev_c, prev_s, cand_c, cand_s, 0.7, 0.9, 0.39, smooth_center=True)
    assert rate == 0.7 * 0.9 * 0.39
    assert center.dtype == size.dtype == np.float64
    np.testing.assert_allclose(size, [ps[i] * (1 - rate) + cs[i] * rate for i in range(2)], rtol=1e-14)
    np.testing.assert_allclose(center, [pc[i] * (1 - rate) + cc[i] * rate for i in range(2)], rtol=1e-14)
    center, _, _ = pp.smooth_size(prev_c, prev_s, cand_c, cand_s, 0.7, 0.9, 0.39)
    assert center.dtype == np.float64 and center.tolist() == cc
    center, size, _ = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 0.5, 0.8, 0.5)
    assert center.dtype == size.dtype == np.float64 and center.tolist() == [70.0, 80.0]


def test_smooth_size_clips_a_rate_above_one():
    # 1.0 * 0.9 * 2.0 = 1.8 -> 1: the state takes the candidate's size
    _, size, rate = pp.smooth_size((50, 60), (100, 50), (70, 80), (120, 40), 1.0, 0.9, 2.0)
    assert rate == 1.0 and size.tolist() == [120.0, 40.0]


def test_smooth_size_of_a_huge_penalty_is_quiet():
    """A rejected pair's penalty may be huge (official, TRACK.NO_VALID_PAIR official): 1e300 * -1 * 1e10 overflows
    to rate -inf and the unclipped size is inf - inf = NaN, with no RuntimeWarning; clipped, the rate is 0."""
    args = ((50.0, 60.0), (100.0, 50.0), (70.0, 80.0), (120.0, 40.0), np.float64(1e300), np.float64(-1.0), 1e10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        center, size, rate = pp.smooth_size(*args, clip_rate=False)
        assert rate == -math.inf and np.isnan(size).all() and center.tolist() == [70.0, 80.0]
        _, size, rate = pp.smooth_size(*args)
        assert rate == 0.0 and size.tolist() == [100.0, 50.0]


def test_degenerate_candidates_are_penalised_without_warnings():
    """A pair with br_y == tl_y (kept by the decoder) is a zero-height candidate: W / H = inf, r_c = change(0 -> 1e-4)
    = 1e4. W = H = 0 gives NaN (0 / 0); a huge box overflows sz to inf and gets penalty 0. No RuntimeWarning."""
    cand = np.array([[40.0, 0.0], [0.0, 0.0], [1e200, 1e200]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pp.scale_ratio_penalty(cand, (20.0, 10.0), 0.5, 0.04, "siamrpn", scale_bug=False)
        # sz(40, 0) = sqrt(60 * 20), sz(20, 10) = sqrt(875)
        np.testing.assert_allclose(got, [math.exp(-(1e4 * math.sqrt(1200 / 875) - 1) * 0.04), math.nan, 0.0])
        assert pp.change(np.array([1e-310])).tolist() == [math.inf]   # 1 / a subnormal ratio overflows


def test_defaults_are_the_official_settings():
    """Official: penalty exp(-(r_c s_c - 1) k) with the scale_z unit bug, the half variation, np.hanning(90), and
    _bbox_clip's minimum size 10 (reference section 7.3)."""
    cand = np.array([[40.0, 10.0], [20.0, 10.0]])
    s_bug, s_bug_same = math.sqrt(2275 / 218.75), math.sqrt(875 / 218.75)   # as test_scale_ratio_penalty_forms...
    np.testing.assert_allclose(pp.scale_ratio_penalty(cand, (20.0, 10.0), 0.5, 0.04),
                               [math.exp(-(2 * s_bug - 1) * 0.04), math.exp(-(s_bug_same - 1) * 0.04)])
    np.testing.assert_array_equal(pp.rank_window(45), np.hanning(90)[:45])
    center, size = pp.clip_box((0.5, 0.5), (4.0, 200.0), (240, 320))
    assert center.tolist() == [0.5, 0.5] and size.tolist() == [10.0, 200.0]


def test_variation_degree_reads_x_and_y_of_each_and_defaults_to_half():
    cand = np.array([[13.0, 6.0, 27.0, 18.0]])
    # centre (10, 2), size (20, 30): |13 - 10| + |6 - 2| = 7, |27 - 20| + |18 - 30| = 19 -> half 13, sum 26
    np.testing.assert_allclose(pp.variation_degree(cand, (10.0, 2.0), (20.0, 30.0)), [13.0])
    np.testing.assert_allclose(pp.variation_degree(cand, (10.0, 2.0), (20.0, 30.0), "sum"), [26.0])
    with pytest.raises(ValueError, match=r"^variation form must be 'half' or 'sum', got 'other'$"):
        pp.variation_degree(cand, (10.0, 2.0), (20.0, 30.0), "other")


def test_rank_window_short_windows_and_a_bad_count():
    # np.hanning(4) = [0, 0.75, 0.75, 0]: the half [0, 0.75] resampled onto 3 ranks
    np.testing.assert_allclose(pp.rank_window(3, 4), [0.0, 0.375, 0.75])
    # 0 to 3 points: a half of at most one point, and np.hanning(M)[0] = 0 for M >= 2 -> zero weights
    for size in (0, 1, 2, 3):
        assert pp.rank_window(3, size).tolist() == [0.0, 0.0, 0.0], size
    with pytest.raises(ValueError, match=r"^need at least one candidate, got 0$"):
        pp.rank_window(0, 90)


def test_ranked_hanning_ties_among_45_candidates_keep_the_reverse_of_a_stable_sort():
    variation = np.array([0.0, 1.0, 2.0] * 15)
    _, order = pp.ranked_hanning(np.zeros(45), variation, pp.rank_window(45, 90), 0.011)
    # descending variation; equal variations: the later candidate first
    assert order.tolist() == [i for v in (2, 1, 0) for i in range(44, -1, -1) if i % 3 == v]
