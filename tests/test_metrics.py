"""OPE metrics: hand-built cases with known answers (pysot-toolkit conventions, eval-reference.md section 1),
a literal re-statement of pysot's per-video loops, and agreement with the got10k package where the two
conventions agree."""
import numpy as np
import pytest

from siamcorners.benchmarks import metrics as M


def _scores(gts, preds, scored=None, **kw):
    return M.pysot_scores(M.pysot_curves(gts, preds, scored, **kw))


def _boxes(n, box=(10.0, 20.0, 30.0, 40.0)):
    return np.tile(np.asarray(box, dtype=np.float64), (n, 1))


def test_perfect_tracker_scores_20_over_21():
    gt = _boxes(50)
    s = _scores([gt], [gt.copy()])
    assert s["success_auc"] == 20 / 21  # IoU = 1 is never > 1.0
    assert s["precision"] == 1.0 and s["norm_precision"] == 1.0


def test_thresholds_are_pysots():
    assert np.array_equal(M.SUCCESS_THRESHOLDS, np.arange(0, 1.05, 0.05))
    assert len(M.SUCCESS_THRESHOLDS) == 21 and M.SUCCESS_THRESHOLDS[-1] == 1.0
    assert np.array_equal(M.NORM_PRECISION_THRESHOLDS, np.arange(0, 51) / 100)


def test_iou_is_continuous_without_plus_one():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]])
    pred = np.array([[5.0, 0.0, 10.0, 10.0]])
    assert M.overlap_ratio(gt, pred)[0] == 50 / 150


def test_iou_zero_fails_even_at_threshold_zero_and_empty_union_is_nan():
    gt = np.array([[10.0, 10.0, 10.0, 10.0], [10.0, 10.0, 0.0, 0.0]])
    pred = np.array([[30.0, 30.0, 10.0, 10.0], [10.0, 10.0, 0.0, 0.0]])
    iou = M.overlap_ratio(gt, pred)
    assert iou[0] == 0.0 and np.isnan(iou[1])
    curve = M.pysot_curves([gt[:1]], [pred[:1]])["success"][0]
    assert curve[0] == 0.0


def test_nan_ground_truth_rows_fail_success_but_hit_precision():
    gt = _boxes(4)
    gt[1] = np.nan
    pred = _boxes(4) + [3.0, 0.0, 0.0, 0.0]  # 3 px off: IoU 27/33, inside 20 px
    s = _scores([gt], [pred])
    iou = 27 / 33
    expected_curve = np.where(M.SUCCESS_THRESHOLDS < iou, 3 / 4, 0.0)
    assert s["success_auc"] == pytest.approx(expected_curve.mean(), abs=1e-15)
    assert s["precision"] == 1.0  # the NaN row counts as a hit, in the denominator


def test_zero_rows_and_border_rows():
    gt = _boxes(4)
    gt[0] = 0.0                       # "0,0,0,0": absent in OTB/UAV style
    gt[1] = [0.0, 20.0, 30.0, 40.0]   # target touching the left border
    pred = _boxes(4)
    pred[1] = gt[1]
    curves = M.pysot_curves([gt], [pred])
    # success: both rows are failures (x = 0 fails the all-four-positive rule), 2 of 4 frames pass t < 1
    assert curves["success"][0, 0] == 0.5
    # precision: row 0 is invalid -> hit; row 1 is scored normally (perfect) -> hit
    assert curves["precision"][0, 0] == 1.0
    # STVIR/pysot toolkit variant: only w, h > 0 are required, the border row is scored
    relaxed = M.pysot_curves([gt], [pred], strict_border=False)
    assert relaxed["success"][0, 0] == 0.75


def test_nan_prediction_fails_everywhere():
    gt = _boxes(4)
    pred = gt.copy()
    pred[2] = np.nan
    curves = M.pysot_curves([gt], [pred])
    assert curves["success"][0, 0] == 0.75
    assert curves["precision"][0, -1] == 0.75 and curves["norm_precision"][0, -1] == 0.75


def test_precision_threshold_is_inclusive_at_20_px():
    gt = _boxes(2)
    pred = gt + [[20.0, 0, 0, 0], [20.5, 0, 0, 0]]
    curve = M.pysot_curves([gt], [pred])["precision"][0]
    assert curve[20] == 0.5 and curve[19] == 0.0 and curve[21] == 1.0


def test_normalized_precision_divides_by_gt_size():
    gt = _boxes(1, (10.0, 10.0, 100.0, 50.0))
    pred = gt + [[15.0, 0.0, 0.0, 0.0]]   # 0.15 of the width
    s = _scores([gt], [pred])
    assert s["norm_precision"] == 1.0
    pred = gt + [[0.0, 15.0, 0.0, 0.0]]   # 0.30 of the height
    assert _scores([gt], [pred])["norm_precision"] == 0.0


def test_first_frame_is_scored_as_written():
    gt = _boxes(2)
    pred = gt.copy()
    pred[0] = [200.0, 200.0, 30.0, 40.0]
    curves = M.pysot_curves([gt], [pred])
    assert curves["success"][0, 0] == 0.5 and curves["precision"][0, 20] == 0.5


def test_absent_frames_stay_in_the_denominator_and_fail():
    gt = _boxes(4)
    pred = gt.copy()
    scored = np.array([True, True, False, False])
    curves = M.pysot_curves([gt], [pred], [scored])
    assert curves["success"][0, 0] == 0.5
    assert curves["precision"][0, 50] == 0.5 and curves["norm_precision"][0, 50] == 0.5


def test_videos_weigh_the_same_regardless_of_length():
    short, long_ = _boxes(2), _boxes(100)
    miss = short + [100.0, 100.0, 0, 0]
    s = _scores([short, long_], [miss, long_.copy()])
    assert s["success_auc"] == pytest.approx(0.5 * 20 / 21, abs=1e-15)
    assert s["precision"] == 0.5


def _pysot_iou(g, p):
    """pysot-toolkit ``overlap_ratio`` for one frame, restated from its published formula (eval-reference.md 1.1):
    continuous edges x + w, no +1, no epsilon, clamped to [0, 1] (np.maximum/np.minimum propagate NaN as pysot's do)."""
    left, right = np.maximum(g[0], p[0]), np.minimum(g[0] + g[2], p[0] + p[2])
    top, bottom = np.maximum(g[1], p[1]), np.minimum(g[1] + g[3], p[1] + p[3])
    inter = np.maximum(0, right - left) * np.maximum(0, bottom - top)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (g[2] * g[3] + p[2] * p[3] - inter)
    return np.maximum(np.minimum(1, iou), 0)


def _pysot_center(b):
    """pysot-toolkit ``convert_bb_to_center``: (x + (w - 1) / 2, y + (h - 1) / 2) (eval-reference.md 1.3)."""
    return np.array([b[0] + (b[2] - 1) / 2, b[1] + (b[3] - 1) / 2])


def _pysot_loops(gt, pred, n_frame):
    """pysot-toolkit's success_overlap / success_error, restated frame by frame and threshold by threshold from
    its published formulas (eval-reference.md 1.2-1.5); none of our metric functions is called."""
    iou = np.full(len(gt), -1.0)
    for i, (g, p) in enumerate(zip(gt, pred)):
        if np.sum(g > 0) == 4:
            iou[i] = _pysot_iou(g, p)
    succ = np.array([np.sum(iou > t) / float(n_frame) for t in np.arange(0, 1.05, 0.05)])

    def err(gc, pc, thr):
        d = np.full(len(gc), -1.0)
        for i in range(len(gc)):
            if np.sum(gc[i] > 0) == 2:
                d[i] = np.sqrt(np.sum(np.power(gc[i] - pc[i], 2)))
        return np.array([np.sum(d <= t) / float(n_frame) for t in thr])

    gc = np.array([_pysot_center(b) for b in gt])
    pc = np.array([_pysot_center(b) for b in pred])
    wh = gt[:, 2:4] + 1e-16
    return succ, err(gc, pc, np.arange(0, 51, 1)), err(gc / wh, pc / wh, np.arange(0, 51, 1) / 100)


def test_vectorised_curves_equal_pysot_loops_bit_for_bit():
    rng = np.random.default_rng(1)
    gts, preds = [], []
    for _ in range(25):
        n = int(rng.integers(3, 150))
        gt = np.abs(rng.normal(60, 30, (n, 4)))
        gt[rng.random(n) < 0.1] = np.nan
        gt[rng.random(n) < 0.1, 0] = 0.0
        gt[rng.random(n) < 0.05] = 0.0
        gt[rng.random(n) < 0.05, ::2] = [0.0, 1.0]   # x = 0, w = 1: centre x 0 under the -1 rule (invalid)
        pred = gt + rng.normal(0, 8, (n, 4))
        pred[rng.random(n) < 0.05] = np.nan
        pred[rng.random(n) < 0.05, 2] = -5.0
        gts.append(gt)
        preds.append(pred)
    curves = M.pysot_curves(gts, preds)
    for i, (gt, pred) in enumerate(zip(gts, preds)):
        succ, prec, norm = _pysot_loops(gt, pred, len(gt))
        assert np.array_equal(curves["success"][i], succ)
        assert np.array_equal(curves["precision"][i], prec)
        assert np.array_equal(curves["norm_precision"][i], norm)
    s = M.pysot_scores(curves)
    assert s["success_auc"] == np.mean([_pysot_loops(g, p, len(g))[0] for g, p in zip(gts, preds)])


def _clean_case(seed=2):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(6):
        n = int(rng.integers(20, 80))
        gt = np.abs(rng.normal(80, 20, (n, 4))) + 5
        pred = gt + rng.normal(0, 6, (n, 4))
        pred[0] = gt[0]
        gts.append(gt)
        preds.append(pred)
    return gts, preds


def test_agrees_with_got10k_metric_functions_on_clean_data():
    from got10k.experiments import ExperimentOTB
    from got10k.utils.metrics import center_error, rect_iou

    gts, preds = _clean_case()
    exp = object.__new__(ExperimentOTB)
    exp.nbins_iou, exp.nbins_ce = 21, 51
    ours = M.pysot_curves(gts, preds)
    for i, (gt, pred) in enumerate(zip(gts, preds)):
        succ, prec = exp._calc_curves(rect_iou(pred, gt), center_error(pred, gt))
        assert np.array_equal(ours["success"][i], succ)
        assert np.array_equal(ours["precision"][i], prec)
    theirs = M.got10k_scores(M.got10k_curves(gts, preds, drop_nan_gt=False))
    mine = M.pysot_scores(ours)
    assert mine["success_auc"] == pytest.approx(theirs["success_auc"], abs=1e-15)
    assert mine["precision"] == theirs["precision"]


def test_got10k_mode_reproduces_uav123_nan_row_removal():
    from got10k.experiments import ExperimentUAV123

    gts, preds = _clean_case(3)
    gts[1][5:9] = np.nan
    exp = object.__new__(ExperimentUAV123)
    exp.nbins_iou, exp.nbins_ce = 21, 51
    ours = M.got10k_curves(gts, preds, drop_nan_gt=True)
    for i, (gt, pred) in enumerate(zip(gts, preds)):
        b = pred.copy()
        b[0] = gt[0]
        succ, prec = exp._calc_curves(*exp._calc_metrics(b, gt))
        assert np.array_equal(ours["success"][i], succ) and np.array_equal(ours["precision"][i], prec)
    # where the conventions differ: pysot keeps NaN rows in the denominator as precision hits
    gt = _boxes(4)
    gt[2:] = np.nan
    pred = _boxes(4) + [30.0, 0, 0, 0]
    pred[0] = gt[0]
    assert M.pysot_scores(M.pysot_curves([gt], [pred]))["precision"] == 0.75
    assert M.got10k_scores(M.got10k_curves([gt], [pred], drop_nan_gt=True))["precision"] == 0.5


def test_normalized_center_error_divides_by_at_least_one():
    gt = np.array([[10.0, 10.0, 0.5, 4.0]])
    pred = np.array([[12.0, 10.0, 0.5, 4.0]])
    assert M.normalized_center_error(pred, gt)[0] == 2.0
    # got10k: offsets / max(1, w_gt) and / max(1, h_gt), each side on its own (a flat box: h 0.5 -> 1)
    gt = np.array([[10.0, 10.0, 4.0, 0.5], [10.0, 10.0, 1.5, 1.5]])
    pred = np.array([[10.0, 12.0, 4.0, 0.5], [13.0, 14.0, 1.5, 1.5]])
    err = M.normalized_center_error(pred, gt)
    assert err[0] == 2.0 and err[1] == pytest.approx(np.hypot(2.0, 8 / 3), rel=1e-15)


def test_got10k_ao_skips_frame_zero_and_invisible_frames():
    gt = _boxes(4)
    pred = gt.copy()
    pred[0] = [500.0, 500.0, 5.0, 5.0]     # frame 0 ignored
    pred[3] = [100.0, 100.0, 5.0, 5.0]     # invisible -> ignored
    r = M.got10k_ao([gt], [pred], [np.array([1, 1, 1, 0]) > 0], [(640, 480)])
    assert r["ao"] == pytest.approx(1.0) and r["sr50"] == 1.0 and r["sr75"] == 1.0


def test_curve_counts_matches_broadcast_comparison():
    rng = np.random.default_rng(4)
    values = rng.random(300) * 1.2 - 0.1
    values[::17] = np.nan
    values[::23] = -1.0
    lengths = [100, 50, 150]
    split = np.split(values, np.cumsum(lengths)[:-1])
    thr = M.SUCCESS_THRESHOLDS
    strict = M.curve_counts(values, lengths, thr, strict=True)
    loose = M.curve_counts(values, lengths, thr, strict=False)
    for i, v in enumerate(split):
        assert np.array_equal(strict[i], (v[:, None] > thr).sum(0))
        assert np.array_equal(loose[i], (v[:, None] <= thr).sum(0))


def test_centres_use_the_minus_one_convention():
    # hand values: x + (w - 1) / 2, y + (h - 1) / 2
    assert M.box_centers(np.array([[10.0, 20.0, 30.0, 40.0]])).tolist() == [[24.5, 39.5]]
    # the convention decides validity (eval-reference.md 1.3 / 1.5): gt x = 0, w = 1 has centre x 0 -> not > 0 ->
    # the frame is invalid for precision and counts as a hit, however far the prediction is
    gt = np.array([[0.0, 10.0, 1.0, 20.0], [5.0, 10.0, 1.0, 20.0]])
    pred = np.array([[100.0, 10.0, 1.0, 20.0], [105.0, 10.0, 1.0, 20.0]])
    _, dist, norm = M.pysot_frame_scores(gt, pred)
    assert dist.tolist() == [-1.0, 100.0] and norm.tolist() == [-1.0, 100.0 / (1.0 + 1e-16)]
    curves = M.pysot_curves([gt], [pred])
    assert curves["precision"][0, 20] == 0.5 and curves["norm_precision"][0, 20] == 0.5
    # same for y: y = 0, h = 1
    _, dist, _ = M.pysot_frame_scores(np.array([[10.0, 0.0, 20.0, 1.0]]), np.array([[10.0, 90.0, 20.0, 1.0]]))
    assert dist.tolist() == [-1.0]


def test_got10k_ao_per_video_curve_thresholds_and_image_bound_by_hand():
    """GOT-10k val scoring (eval-reference.md 2.6) on hand-made frames: IoU of frames 1..N-1 after clipping both
    boxes to the image, kept where visible; AO = mean, SR = fraction strictly above 0.5 / 0.75, a 101-point '>'
    curve; per video the same numbers, NaN for a video with no visible frame."""
    square = [0.0, 0.0, 10.0, 10.0]
    gt_a = np.array([square] * 5 + [[90.0, 0.0, 10.0, 10.0]])
    pred_a = np.array([[50.0, 50.0, 5.0, 5.0],     # frame 0: never scored
                       square,                     # IoU 1
                       [5.0, 0.0, 10.0, 10.0],     # 50 / 150 = 1/3
                       [0.0, 0.0, 10.0, 5.0],      # 50 / 100 = 0.5 (not > 0.5)
                       [0.0, 0.0, 10.0, 7.5],      # 75 / 100 = 0.75 (not > 0.75)
                       [90.0, 0.0, 20.0, 10.0]])   # clipped at the image width 100 -> IoU 1 (0.5 unclipped)
    gt_b, pred_b = np.array([square] * 3), np.array([square] * 3)            # frames 1, 2 invisible
    gt_c, pred_c = np.array([square] * 2), np.array([square] * 2)            # exactly one scored frame
    visible = [np.ones(6, bool), np.array([True, False, False]), np.array([True, True])]
    r = M.got10k_ao([gt_a, gt_b, gt_c], [pred_a, pred_b, pred_c], visible, [(100, 80)] * 3)
    ious = np.array([1.0, 1 / 3, 0.5, 0.75, 1.0, 1.0])
    assert r["ao"] == pytest.approx(ious.mean(), abs=1e-12)
    assert r["sr50"] == pytest.approx(4 / 6) and r["sr75"] == pytest.approx(3 / 6)
    curve = np.asarray(r["success_curve"])
    assert curve.shape == (101,)
    assert curve[0] == 1.0 and curve[50] == pytest.approx(4 / 6) and curve[75] == pytest.approx(3 / 6)
    assert curve[34] == pytest.approx(5 / 6) and curve[100] == 0.0
    np.testing.assert_allclose(r["video_ao"][0], ious[:5].mean())
    assert r["video_sr50"][0] == pytest.approx(3 / 5) and r["video_sr75"][0] == pytest.approx(2 / 5)
    assert all(np.isnan(r[k][1]) for k in ("video_ao", "video_sr50", "video_sr75"))
    assert (r["video_ao"][2], r["video_sr50"][2], r["video_sr75"][2]) == (1.0, 1.0, 1.0)
    # no visible frame anywhere: NaN scores, no error
    empty = M.got10k_ao([gt_b], [pred_b], [visible[1]], [(100, 80)])
    assert all(np.isnan(empty[k]) for k in ("ao", "sr50", "sr75"))


def test_got10k_normalised_precision_curve_is_0_to_0_5_in_51_steps():
    gt = _boxes(3, (10.0, 10.0, 100.0, 50.0))
    pred = gt + [[0, 0, 0, 0], [15.0, 0, 0, 0], [0, 30.0, 0, 0]]  # normalised errors 0, 0.15, 0.6
    curve = M.got10k_curves([gt], [pred], drop_nan_gt=False)["norm_precision"][0]
    assert curve.shape == (51,)
    assert curve[0] == pytest.approx(1 / 3) and curve[14] == pytest.approx(1 / 3)    # t = 0.14
    assert curve[20] == pytest.approx(2 / 3) and curve[50] == pytest.approx(2 / 3)   # t = 0.2, 0.5


def test_got10k_scores_by_hand():
    """got10k's report (eval-reference.md 2.2, 2.4): AUC = mean of the sequence-averaged 21-point curve, precision
    at 20 px, success rate at index 10 (IoU > 0.5), normalised precision = mean of the whole 0..0.5 curve."""
    curves = {"success": np.array([[1.0] * 11 + [0.0] * 10, [0.5] * 21]),
              "precision": np.array([np.arange(51) / 50, np.zeros(51)]),
              "norm_precision": np.array([np.ones(51), [0.0] * 25 + [1.0] * 26])}
    s = M.got10k_scores(curves)
    assert sorted(s) == ["norm_precision", "precision", "success_auc", "success_rate"]
    assert s["success_auc"] == pytest.approx((11 * 0.75 + 10 * 0.25) / 21, abs=1e-15)
    assert s["success_rate"] == 0.75                       # index 11 (IoU > 0.55) would be 0.25
    assert s["precision"] == pytest.approx(0.2, abs=1e-15)  # (20 / 50 + 0) / 2
    assert s["norm_precision"] == pytest.approx(77 / 102, abs=1e-15)
    assert all(type(v) is float for v in s.values())


def _iou_by_hand(g, p):
    """Continuous IoU of two x, y, w, h boxes in Python floats (eval-reference.md 2.1, boxes inside the image)."""
    iw = min(g[0] + g[2], p[0] + p[2]) - max(g[0], p[0])
    ih = min(g[1] + g[3], p[1] + p[3]) - max(g[1], p[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    return inter / (g[2] * g[3] + p[2] * p[3] - inter)


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
def test_got10k_ao_of_float32_boxes_is_computed_in_float64_and_of_no_video_is_nan():
    """The toolkit reads result files as float64: float32 boxes (a tracker's own arrays) give the IoU of their values
    computed in float64, not float32 arithmetic (off by ~1e-8 here)."""
    gt = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.2, 10.3, 20.7], [3.3, 1.7, 7.1, 9.9]], np.float32)
    pred = np.array([[0.0, 0.0, 1.0, 1.0], [0.3, 0.1, 10.1, 20.9], [2.9, 2.3, 7.7, 9.1]], np.float32)
    expected = [_iou_by_hand([float(v) for v in g], [float(v) for v in p]) for g, p in zip(gt[1:], pred[1:])]
    r = M.got10k_ao([gt], [pred], [np.ones(3, bool)], [(100, 80)])
    assert r["ao"] == pytest.approx(np.mean(expected), rel=0, abs=1e-14)
    # swapped roles: the float32 array is the ground truth this time
    r = M.got10k_ao([gt], [pred.astype(np.float64)], [np.ones(3, bool)], [(100, 80)])
    assert r["ao"] == pytest.approx(np.mean(expected), rel=0, abs=1e-14)
    empty = M.got10k_ao([], [], [], [])
    assert all(np.isnan(empty[k]) for k in ("ao", "sr50", "sr75")) and empty["video_ao"] == []


def test_got10k_frame_zero_becomes_the_gt_box_exactly_for_integer_predictions_and_float32_gt():
    """got10k replaces frame 0 of the result by the gt (eval-reference.md 2.2): an integer result array must not
    truncate the gt box it receives (IoU 1 and centre error 0 on frame 0)."""
    gt = np.array([[10.5, 20.5, 30.5, 40.5], [10.0, 20.0, 30.0, 40.0], [10.0, 20.0, 30.0, 40.0]])
    pred = np.array([[0, 0, 1, 1], [10, 20, 30, 40], [10, 20, 30, 40]], dtype=np.int64)
    curves = M.got10k_curves([gt], [pred], drop_nan_gt=False)
    assert curves["success"][0].tolist() == [1.0] * 20 + [0.0]   # IoU 1 > t for every t < 1
    assert curves["precision"][0].tolist() == [1.0] * 51
    assert curves["norm_precision"][0].tolist() == [1.0] * 51
    # float32 ground truth (a tracker's own arrays): frame 0 and a perfect frame are exact hits, as in float64
    gt32 = np.array([[10.1, 20.3, 30.7, 40.9], [11.3, 19.7, 30.1, 41.3]], np.float32)
    curves = M.got10k_curves([gt32], [gt32.astype(np.float64)], drop_nan_gt=False)
    assert curves["precision"][0, 0] == 1.0 and curves["norm_precision"][0, 0] == 1.0


def test_frame_scores_default_to_the_otb_border_rule_and_mark_invalid_frames_minus_one():
    """pysot_frame_scores' documented outputs (eval-reference.md 1.5): by default a gt with x = 0 or y = 0 is invalid
    for IoU (all four numbers must be > 0) and gets IoU -1; the STVIR variant needs only w, h > 0."""
    gt = np.array([[0.0, 10.0, 10.0, 10.0], [5.0, 0.0, 10.0, 10.0], [5.0, 5.0, 10.0, 10.0], [np.nan] * 4,
                   [5.0, 5.0, 0.0, 10.0], [5.0, 5.0, 0.5, 10.0]])
    pred = np.array([[0.0, 10.0, 10.0, 10.0], [5.0, 0.0, 10.0, 5.0], [10.0, 5.0, 10.0, 10.0], [5.0, 5.0, 1.0, 1.0],
                     [5.0, 5.0, 10.0, 10.0], [5.0, 5.0, 0.5, 5.0]])
    iou, _, _ = M.pysot_frame_scores(gt, pred)
    assert iou.tolist() == [-1.0, -1.0, 50 / 150, -1.0, -1.0, 0.5]
    iou, _, _ = M.pysot_frame_scores(gt, pred, strict_border=False)
    assert iou.tolist() == [1.0, 0.5, 50 / 150, -1.0, -1.0, 0.5]   # w = 0 stays invalid, w = 0.5 is scored
    # precision validity: both gt centres > 0, so a centre of 0.5 (x = 0, w = 2) is scored
    _, dist, _ = M.pysot_frame_scores(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[3.0, 4.0, 2.0, 2.0]]))
    assert dist.tolist() == [5.0]


def test_frame_scores_of_absent_frames():
    """LaSOT absent frames (scored False) fail everything: IoU -1, distances +inf (eval-reference.md 1.9); the other
    frames keep their scores."""
    gt = _boxes(4)
    pred = gt + [[0.0, 0, 0, 0], [3.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 0, 0]]
    iou, dist, norm = M.pysot_frame_scores(gt, pred, np.array([True, True, True, False]))
    assert iou.tolist() == [1.0, 27 / 33, 36 / 44, -1.0]
    assert dist.tolist() == [0.0, 3.0, 4.0, np.inf] and norm[3] == np.inf
    assert norm[:3] == pytest.approx([0.0, 3.0 / 30, 4.0 / 40], rel=1e-14, abs=1e-15)


def test_curves_of_no_video_are_empty():
    curves = M.pysot_curves([], [])
    assert {k: v.shape for k, v in curves.items()} == {"success": (0, 21), "precision": (0, 51),
                                                      "norm_precision": (0, 51)}


def test_absent_flags_of_some_videos_only():
    """A video without absent flags (None) next to one with them: only the flagged frames fail."""
    gt = _boxes(4)
    curves = M.pysot_curves([gt, gt], [gt.copy(), gt.copy()], [None, np.array([True, False, True, True])])
    assert curves["success"][:, 0].tolist() == [1.0, 0.75] and curves["precision"][:, 0].tolist() == [1.0, 0.75]


def test_empty_union_is_nan_without_a_warning():
    """Two empty boxes (a lost target written as 0,0,0,0) give IoU NaN quietly: evaluation prints no RuntimeWarning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iou = M.overlap_ratio(np.array([[10.0, 10.0, 0.0, 0.0]]), np.array([[10.0, 10.0, 0.0, 0.0]]))
    assert np.isnan(iou).tolist() == [True]


def test_an_infinite_ground_truth_number_fails_quietly():
    """An ``inf`` in an annotation (float() reads it) makes that frame fail, with no RuntimeWarning from either
    protocol (both silence invalid arithmetic on purpose)."""
    import warnings

    gt = np.array([[10.0, 20.0, 30.0, 40.0], [10.0, 20.0, np.inf, 40.0], [np.inf, 20.0, 30.0, 40.0]])
    pred = np.array([[10.0, 20.0, 30.0, 40.0]] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iou, dist, _ = M.pysot_frame_scores(gt, pred)
        curves = M.got10k_curves([gt], [pred], drop_nan_gt=False)
    assert iou[0] == 1.0 and iou[1] == 0.0 and dist[0] == 0.0 and dist[1:].tolist() == [np.inf, np.inf]
    assert curves["success"][0, 0] == pytest.approx(1 / 3) and curves["precision"][0, 50] == pytest.approx(1 / 3)
