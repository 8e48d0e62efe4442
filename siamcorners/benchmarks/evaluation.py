"""Score one tracker's result folder on a dataset: load results, apply the length policy, compute curves."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import metrics as M
from .results import find_result_file, layout_for, read_result
from .sequence import BenchmarkError, Dataset

__all__ = ["TrackerEvaluation", "evaluate_tracker", "default_protocol", "PROTOCOLS"]

PROTOCOLS = ("pysot", "got10k")


def default_protocol(dataset: Dataset) -> str:
    return "got10k" if dataset.kind == "got10k" else "pysot"


@dataclass
class TrackerEvaluation:
    """Scores of one tracker. ``curves`` hold (V, T) arrays in dataset order, ``thresholds`` their x axes."""

    tracker: str
    dataset: str
    protocol: str
    videos: list[str]
    curves: dict[str, np.ndarray]
    thresholds: dict[str, np.ndarray]
    scores: dict[str, float | None]
    per_video: dict[str, dict[str, float | None]]
    per_attribute: dict[str, dict] = field(default_factory=dict)
    attribute_index: dict[str, list[int]] = field(default_factory=dict)  # attribute -> rows of the curves

    @property
    def success_auc(self) -> float:
        return self.scores["success_auc"]

    def to_json(self) -> dict:
        """The ``--json`` schema: headline scores, ``per_video`` and ``per_attribute`` (full float precision)."""
        return {**self.scores, "per_video": self.per_video, "per_attribute": self.per_attribute}


def _load(dataset: Dataset, tracker_dir: str, on_mismatch: str):
    layout = layout_for(dataset.kind)
    gts, preds, scored = [], [], []
    for seq in dataset:
        path = find_result_file(layout, tracker_dir, seq.name, dataset.kind)
        if path is None:
            raise BenchmarkError(f"{layout.box_file(tracker_dir, seq.name)}: result file missing "
                                 f"for video {seq.name}")
        pred = read_result(path)
        gt, mask, vis = seq.gt, seq.absent, seq.visible
        if len(pred) != len(gt):
            if dataset.kind == "lasot" and seq.name == "monkey-17" and len(pred) > len(gt):
                pred = pred[:len(gt)]  # pysot-toolkit / LaSOT toolkit rule
            elif on_mismatch == "truncate":
                n = min(len(pred), len(gt))
                pred, gt = pred[:n], gt[:n]
                mask = None if mask is None else mask[:n]
                vis = None if vis is None else vis[:n]
            else:
                raise BenchmarkError(f"{path}: {len(pred)} result rows but the ground truth of {seq.name} has "
                                     f"{len(gt)} (use --on-mismatch truncate to cut both to the shorter)")
        if len(gt) == 0:
            raise BenchmarkError(f"{path}: empty result for {seq.name}")
        gts.append(gt)
        preds.append(pred)
        scored.append((None if mask is None else ~mask, vis))
    return gts, preds, scored


def _nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def evaluate_tracker(dataset: Dataset, tracker_dir: str, tracker: str | None = None,
                     protocol: str | None = None, on_mismatch: str = "error") -> TrackerEvaluation:
    """Score ``tracker_dir`` (one tracker's folder) on every video of ``dataset``."""
    if not dataset.scored_locally:
        raise BenchmarkError(f"{dataset.name} publishes only first-frame annotations; it is scored by its "
                             f"evaluation server (upload the zip written by tools/test.py)")
    protocol = protocol or default_protocol(dataset)
    if protocol not in PROTOCOLS:
        raise BenchmarkError(f"unknown protocol {protocol!r}; choose pysot or got10k")
    if on_mismatch not in ("error", "truncate"):
        raise BenchmarkError(f"on_mismatch must be error or truncate, got {on_mismatch!r}")
    tracker = tracker or os.path.basename(os.path.normpath(tracker_dir))
    gts, preds, extra = _load(dataset, tracker_dir, on_mismatch)
    names = dataset.names

    if protocol == "got10k" and dataset.kind == "got10k":
        for seq in dataset:
            if seq.visible is None or seq.resolution is None:
                raise BenchmarkError(f"{seq.name}: GOT-10k scoring needs cover.label and meta_info.ini")
        r = M.got10k_ao(gts, preds, [e[1] for e in extra], [s.resolution for s in dataset])
        scores = {"success_auc": r["ao"], "precision": None, "norm_precision": None,
                  "ao": r["ao"], "sr50": r["sr50"], "sr75": r["sr75"]}
        per_video = {n: {"success_auc": _nan_to_none(a), "ao": _nan_to_none(a), "sr50": _nan_to_none(s5),
                         "sr75": _nan_to_none(s7), "precision": None, "norm_precision": None}
                     for n, a, s5, s7 in zip(names, r["video_ao"], r["video_sr50"], r["video_sr75"])}
        return TrackerEvaluation(tracker, dataset.name, protocol, names,
                                 {"success": r["success_curve"][None, :]},
                                 {"success": np.linspace(0, 1, 101)}, scores, per_video)

    if protocol == "pysot":
        curves = M.pysot_curves(gts, preds, [e[0] for e in extra])
        summarize = M.pysot_scores
        thresholds = {"success": M.SUCCESS_THRESHOLDS, "precision": M.PRECISION_THRESHOLDS,
                      "norm_precision": M.NORM_PRECISION_THRESHOLDS}
    else:
        curves = M.got10k_curves(gts, preds, drop_nan_gt=dataset.kind in ("uav", "lasot"))
        summarize = M.got10k_scores
        thresholds = {"success": np.linspace(0, 1, 21), "precision": np.arange(0, 51),
                      "norm_precision": np.linspace(0, 0.5, 51)}
    scores = summarize(curves)
    per_video = {}
    for i, name in enumerate(names):
        one = summarize({k: v[i:i + 1] for k, v in curves.items()})
        per_video[name] = {k: _nan_to_none(v) for k, v in one.items()}
    per_attribute, attribute_index = {}, {}
    for attr in dataset.attribute_names:
        idx = [i for i, s in enumerate(dataset) if attr in s.attributes]
        if idx:
            sub = summarize({k: v[idx] for k, v in curves.items()})
            per_attribute[attr] = {**sub, "num_videos": len(idx)}
            attribute_index[attr] = idx
    return TrackerEvaluation(tracker, dataset.name, protocol, names, curves, thresholds, scores,
                             per_video, per_attribute, attribute_index)
