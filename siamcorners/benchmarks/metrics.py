"""One-pass evaluation (OPE) metrics, vectorised over all frames of all videos.

Pure functions. The default convention reproduces pysot-toolkit (StrangerZhang/pysot-toolkit
``ope_benchmark.py`` / ``statistics.py``) bit for bit (eval-reference.md section 1):

* continuous IoU without the +1 pixel convention and without an epsilon (union 0 gives NaN);
* a frame's ground truth is valid for IoU only if all four numbers are > 0; invalid frames score
  IoU -1 (failure at every threshold) but stay in the denominator;
* centres ``x + (w - 1) / 2``; for (normalised) precision a frame is valid only if both gt centre
  coordinates are > 0, invalid frames get distance -1 and count as **hits** at every threshold;
* success: fraction of frames with IoU **>** t, t = 0, 0.05, ..., 1 (21 values), AUC = mean of the
  (videos x 21) curve matrix; precision: fraction with distance **<=** t px, t = 0..50, reported at 20 px;
  normalised precision: centres divided by gt (w, h) + 1e-16, t = 0, 0.01, ..., 0.5, reported at 0.20;
* frames not scored (LaSOT absent frames) stay in the denominator and fail both success and precision;
* the first frame is scored as written; NaN predictions fail everywhere.

`got10k_*` functions reproduce the got10k toolkit's conventions (frame 0 replaced by gt, NaN-row
removal for UAV/LaSOT, GOT-10k AO / SR over frames 1..N-1 with image-bounded boxes).
"""
from __future__ import annotations

from typing import Sequence as _Seq

import numpy as np

__all__ = [
    "SUCCESS_THRESHOLDS", "PRECISION_THRESHOLDS", "NORM_PRECISION_THRESHOLDS",
    "overlap_ratio", "box_centers", "pysot_frame_scores", "curve_counts", "pysot_curves",
    "pysot_scores", "normalized_center_error", "got10k_curves", "got10k_scores", "got10k_ao",
]

SUCCESS_THRESHOLDS = np.arange(0, 1.05, 0.05)           # (21,) pysot's thresholds, bit for bit
PRECISION_THRESHOLDS = np.arange(0, 51, 1)              # (51,) pixels
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, 1) / 100   # (51,)
PRECISION_INDEX = 20                                    # 20 px / 0.20


def overlap_ratio(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """pysot IoU of (N, 4) ``x, y, w, h`` rows -> (N,), clamped to [0, 1]; NaN where the union is 0."""
    left = np.maximum(gt[:, 0], pred[:, 0])
    right = np.minimum(gt[:, 0] + gt[:, 2], pred[:, 0] + pred[:, 2])
    top = np.maximum(gt[:, 1], pred[:, 1])
    bottom = np.minimum(gt[:, 1] + gt[:, 3], pred[:, 1] + pred[:, 3])
    inter = np.maximum(0, right - left) * np.maximum(0, bottom - top)
    union = gt[:, 2] * gt[:, 3] + pred[:, 2] * pred[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.maximum(np.minimum(1, iou), 0)  # (N,)


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """Centres with the -1 convention: (N, 4) -> (N, 2)."""
    return np.array([boxes[:, 0] + (boxes[:, 2] - 1) / 2, boxes[:, 1] + (boxes[:, 3] - 1) / 2]).T


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(np.power(a - b, 2), axis=1))


def pysot_frame_scores(gt: np.ndarray, pred: np.ndarray, scored: np.ndarray | None = None,
                       strict_border: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame IoU, centre distance and normalised distance with pysot's validity rules.

    gt, pred: (N, 4). scored: (N,) bool or None (False = absent frame: fails everything).
    strict_border: the OTB rule (all four gt numbers > 0); False = STVIR/pysot ``toolkit/`` (w, h > 0).
    Returns iou (N,) with -1 for invalid gt, dist (N,) and norm_dist (N,) with -1 for invalid gt
    (a hit) and +inf for unscored frames (a miss); NaN predictions give NaN (a miss).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.full(len(gt), -1.0)
        valid = np.sum((gt > 0) if strict_border else (gt[:, 2:] > 0), axis=1) == (4 if strict_border else 2)
        iou[valid] = overlap_ratio(gt[valid], pred[valid])

        gt_c, pred_c = box_centers(gt), box_centers(pred)
        dist = np.full(len(gt), -1.0)
        valid = np.sum(gt_c > 0, axis=1) == 2
        dist[valid] = _distance(gt_c[valid], pred_c[valid])

        wh = gt[:, 2:4] + 1e-16
        gt_n, pred_n = gt_c / wh, pred_c / wh
        norm = np.full(len(gt), -1.0)
        valid = np.sum(gt_n > 0, axis=1) == 2
        norm[valid] = _distance(gt_n[valid], pred_n[valid])
    if scored is not None:
        iou[~scored] = -1.0
        dist[~scored] = np.inf
        norm[~scored] = np.inf
    return iou, dist, norm


def curve_counts(values: np.ndarray, lengths: _Seq[int], thresholds: np.ndarray, strict: bool) -> np.ndarray:
    """Per-video counts of frames passing each threshold, without an (N, T) intermediate.

    values: (N,) frames of all videos concatenated; lengths: frames per video (sum N).
    strict=True counts ``value > t`` (NaN never passes); False counts ``value <= t`` (NaN never passes).
    Returns (V, T) int64.
    """
    n_thr = len(thresholds)
    video = np.repeat(np.arange(len(lengths)), lengths)
    values = np.where(np.isnan(values), -np.inf if strict else np.inf, values)
    k = np.searchsorted(thresholds, values, side="left")  # number of thresholds < value
    hist = np.bincount(video * (n_thr + 1) + k, minlength=len(lengths) * (n_thr + 1))
    hist = hist.reshape(len(lengths), n_thr + 1)
    if strict:   # value > t_j  <=>  j < k
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return np.cumsum(hist, axis=1)[:, :n_thr]  # value <= t_j  <=>  j >= k


def pysot_curves(gts: _Seq[np.ndarray], preds: _Seq[np.ndarray],
                 scored: _Seq[np.ndarray | None] | None = None, strict_border: bool = True) -> dict[str, np.ndarray]:
    """Per-video curves of a tracker: success (V, 21), precision (V, 51), norm_precision (V, 51).

    gts[i], preds[i]: (N_i, 4) of equal length; scored[i]: (N_i,) bool or None.
    """
    lengths = [len(g) for g in gts]
    gt = np.concatenate(gts).reshape(-1, 4) if gts else np.zeros((0, 4))
    pred = np.concatenate(preds).reshape(-1, 4) if preds else np.zeros((0, 4))
    mask = None
    if scored is not None and any(s is not None for s in scored):
        mask = np.concatenate([np.ones(n, bool) if s is None else s for s, n in zip(scored, lengths)])
    iou, dist, norm = pysot_frame_scores(gt, pred, mask, strict_border)
    n = np.asarray(lengths, dtype=np.float64)[:, None]
    return {
        "success": curve_counts(iou, lengths, SUCCESS_THRESHOLDS, strict=True) / n,
        "precision": curve_counts(dist, lengths, PRECISION_THRESHOLDS, strict=False) / n,
        "norm_precision": curve_counts(norm, lengths, NORM_PRECISION_THRESHOLDS, strict=False) / n,
    }


def pysot_scores(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """Success AUC, precision @20 px and normalised precision @0.20 from (V, T) curves, as pysot averages them."""
    return {
        "success_auc": float(np.mean(np.ascontiguousarray(curves["success"]))),
        "precision": float(np.mean(curves["precision"], axis=0)[PRECISION_INDEX]),
        "norm_precision": float(np.mean(curves["norm_precision"], axis=0)[PRECISION_INDEX]),
    }


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """got10k (git) normalised centre error: centre offsets divided by max(1, gt w/h) -> (N,)."""
    offset = box_centers(pred) - box_centers(gt)
    return np.sqrt(np.sum(np.power(offset / np.maximum(np.array([[1.0, 1.0]]), gt[:, 2:]), 2), axis=-1))


def got10k_curves(gts: _Seq[np.ndarray], preds: _Seq[np.ndarray], drop_nan_gt: bool) -> dict[str, np.ndarray]:
    """got10k ExperimentOTB (``drop_nan_gt=False``) / UAV123 / LaSOT (``True``) per-video curves.

    Frame 0 of each prediction is replaced by the gt; IoU/centre error from the got10k package.
    Returns success (V, 21), precision (V, 51), norm_precision (V, 51) (LaSOT convention).
    """
    from got10k.utils.metrics import center_error, rect_iou

    thr_iou = np.linspace(0, 1, 21)[np.newaxis, :]
    thr_ce = np.arange(0, 51)[np.newaxis, :]
    thr_nce = np.linspace(0, 0.5, 51)[np.newaxis, :]
    out: dict[str, list] = {"success": [], "precision": [], "norm_precision": []}
    for gt, pred in zip(gts, preds):
        pred = np.array(pred, dtype=np.float64)
        gt = np.array(gt, dtype=np.float64)
        pred[0] = gt[0]
        if drop_nan_gt:
            keep = ~np.any(np.isnan(gt), axis=1)
            gt, pred = gt[keep], pred[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            ious = np.asarray(rect_iou(pred, gt), float)[:, np.newaxis]
            ce = np.asarray(center_error(pred, gt), float)[:, np.newaxis]
            nce = normalized_center_error(pred, gt)[:, np.newaxis]
            out["success"].append(np.mean(np.greater(ious, thr_iou), axis=0))
            out["precision"].append(np.mean(np.less_equal(ce, thr_ce), axis=0))
            out["norm_precision"].append(np.mean(np.less_equal(nce, thr_nce), axis=0))
    return {k: np.array(v).reshape(len(gts), -1) for k, v in out.items()}


def got10k_scores(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """got10k report: AUC = mean of the sequence-averaged curve, precision @20 px, success rate @0.5,
    normalised precision = mean of the 0..0.5 curve (ExperimentLaSOT)."""
    succ = np.mean(curves["success"], axis=0)
    prec = np.mean(curves["precision"], axis=0)
    norm = np.mean(curves["norm_precision"], axis=0)
    return {"success_auc": float(np.mean(succ)), "precision": float(prec[PRECISION_INDEX]),
            "norm_precision": float(np.mean(norm)), "success_rate": float(succ[10])}


def got10k_ao(gts: _Seq[np.ndarray], preds: _Seq[np.ndarray], visible: _Seq[np.ndarray],
              resolutions: _Seq[tuple[int, int]]) -> dict:
    """GOT-10k val scoring: IoU of frames 1..N-1 clipped to the image, kept where visible.

    Returns ao, sr50, sr75 over all kept frames of all videos (frame-weighted), the 101-point success
    curve, and per-video ao / sr50 / sr75 lists (NaN for a video with no visible frame).
    """
    from got10k.utils.metrics import rect_iou

    per_video = []
    for gt, pred, vis, res in zip(gts, preds, visible, resolutions):
        iou = rect_iou(np.array(pred[1:], dtype=np.float64), np.array(gt[1:], dtype=np.float64), bound=res)
        per_video.append(np.asarray(iou)[np.asarray(vis)[1:]])
    ious = np.concatenate(per_video) if per_video else np.zeros(0)
    curve = np.mean(np.greater(ious[:, None], np.linspace(0, 1, 101)[None, :]), axis=0)

    def stats(x: np.ndarray) -> tuple[float, float, float]:
        if len(x) == 0:
            return float("nan"), float("nan"), float("nan")
        return float(np.mean(x)), float(np.mean(x > 0.5)), float(np.mean(x > 0.75))

    ao, sr50, sr75 = stats(ious)
    videos = [stats(x) for x in per_video]
    return {"ao": ao, "sr50": sr50, "sr75": sr75, "success_curve": curve,
            "video_ao": [v[0] for v in videos], "video_sr50": [v[1] for v in videos],
            "video_sr75": [v[2] for v in videos]}
