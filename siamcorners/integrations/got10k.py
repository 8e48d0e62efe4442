"""The got10k toolkit (``pip install got10k``), both ways.

``GOT10kTracker``: SiamCorners as a ``got10k.trackers.Tracker``, so every got10k experiment runs it::

    from got10k.experiments import ExperimentGOT10k
    from siamcorners.integrations.got10k import GOT10kTracker

    tracker = GOT10kTracker("experiments/siamcorners_r50/config.yaml", "snapshot/checkpoint_e19.pth")
    e = ExperimentGOT10k("/data/GOT-10k", subset="val", result_dir="results", report_dir="reports")
    e.run(tracker)
    e.report([tracker.name])

``Got10kTrackerAdapter``: a user's got10k tracker behind our runner protocol (``init(frame_bgr, box)``,
``track(frame_bgr) -> {"bbox", "score"}``); ``tools/test.py --tracker-factory module:callable`` wraps any
got10k tracker it gets with it (:func:`as_runner_tracker`).

got10k 0.1.3 (the PyPI release) imports ``six`` without declaring it (requirements.txt declares it), and its
``ExperimentVOT`` fails on today's NumPy (``np.NaN``, a ragged array in ``report``): importing this module
patches that one got10k module (:func:`patch_got10k_numpy`); nothing else is changed. Tested with got10k 0.1.3,
NumPy 2.4.6, Pillow 13.0.0, Shapely 2.2.0, matplotlib 3.11.2.
"""
from __future__ import annotations

import math
import os
import sys
import types
from typing import Any, Mapping, Sequence, Union

import numpy as np

from .common import build_tracker, default_tracker_name, resolve_config
from .images import bgr_to_pil, to_bgr
from .regions import init_box, init_rule_from_cfg

try:
    from got10k.trackers import Tracker as _Got10kTracker
except ImportError as e:  # got10k is a runtime dependency (requirements.txt); say so when it is missing
    raise ImportError(f"siamcorners.integrations.got10k needs the got10k toolkit: pip install got10k six ({e})") \
        from e

__all__ = ["GOT10kTracker", "Got10kTrackerAdapter", "as_runner_tracker", "is_got10k_tracker",
           "patch_got10k_numpy"]


def patch_got10k_numpy() -> bool:
    """Make got10k 0.1.3's ``ExperimentVOT`` work with NumPy >= 1.24 / 2, touching only that module.

    Two things in ``got10k.experiments.vot`` break on today's NumPy: ``np.NaN`` (removed in NumPy 2; written for
    failure / skipped frames in ``run_supervised`` / ``run_realtime`` and in ``report``), and ``report``'s
    ``np.array([poly_iou(a, b) if len(a) > 1 else np.NaN ...])``, which mixes the (1,) arrays ``poly_iou``
    returns for single boxes with scalars (a ragged array: an error since NumPy 1.24; older NumPy kept the
    numbers). The module's ``np`` name becomes a module object that forwards to numpy and adds ``NaN``, and its
    ``poly_iou`` name a wrapper that returns a float for a single pair of regions, as those NumPy versions
    read it. numpy and ``got10k.utils.metrics`` are untouched. Returns True when the module was patched.
    """
    try:
        import got10k.experiments.vot as vot_experiment
    except ImportError:
        return False
    if getattr(vot_experiment, "_siamcorners_patched", False):
        return False
    if not hasattr(np, "NaN"):
        compat = types.ModuleType("numpy", "numpy plus the NaN alias, for got10k.experiments.vot (NumPy 2)")
        compat.__getattr__ = lambda name: getattr(np, name)  # PEP 562 module __getattr__
        compat.NaN = np.nan
        vot_experiment.np = compat
    poly_iou = vot_experiment.poly_iou

    def poly_iou_scalar(polys1, polys2, bound=None):
        ious = poly_iou(polys1, polys2, bound=bound)
        return float(ious[0]) if np.ndim(polys1) == 1 else ious

    vot_experiment.poly_iou = poly_iou_scalar
    vot_experiment._siamcorners_patched = True
    return True


patch_got10k_numpy()


class GOT10kTracker(_Got10kTracker):
    """SiamCorners as a got10k tracker: ``init(image, box)``, ``update(image) -> box``.

    Args:
        cfg: experiment config path (YAML) or a loaded config (``siamcorners.config.load_config``).
        snapshot: checkpoint in our format (``tools/convert_checkpoint.py`` converts official ones).
        name: tracker name (results / reports folder); default the snapshot's file name without extension,
            the name ``tools/test.py`` gives its results folder.
        device: "cpu", "cuda", "cuda:N" or "auto"; default ``cfg.DEVICE``.
        opts: config overrides ``KEY VALUE ...`` applied to a config file.
        init_rule: how the box got10k hands over becomes the init box: "raw" (as it is) or "pysot" (+0.5 px,
            pysot's rule); default ``cfg.TEST.INIT_BOX`` where the config has it (the rule ``tools/test.py``
            follows), else "raw".

    Images are PIL images (got10k converts them to RGB; grayscale is expanded), image paths, or RGB uint8
    arrays; boxes are 0-based ``[x, y, w, h]``. The tracker is deterministic, so got10k runs one repetition.
    """

    def __init__(self, cfg: Union[str, os.PathLike, Mapping], snapshot: Union[str, os.PathLike],
                 name: str | None = None, device: str | None = None, opts: Sequence[str] = (),
                 init_rule: str | None = None):
        super().__init__(name=name or default_tracker_name(snapshot), is_deterministic=True)
        cfg = resolve_config(cfg, opts)
        self.tracker = build_tracker(cfg, snapshot, device=device)
        self.init_rule = init_rule or init_rule_from_cfg(cfg)
        init_box([0, 0, 1, 1], self.init_rule)  # validates the rule now, not at the first video
        self.score = float("nan")  # score of the last update

    def init(self, image: Any, box: Sequence[float]) -> None:
        self.tracker.init(to_bgr(image), init_box(box, self.init_rule).tolist())
        self.score = float("nan")

    def update(self, image: Any) -> np.ndarray:
        out = self.tracker.track(to_bgr(image))
        self.score = out["score"]
        return np.asarray(out["bbox"], dtype=np.float64)  # (4,) x, y, w, h


class Got10kTrackerAdapter:
    """A got10k tracker behind the test runner's protocol (frames are BGR arrays there, PIL RGB in got10k)."""

    def __init__(self, tracker: Any):
        self.tracker = tracker

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        self.tracker.init(bgr_to_pil(frame), np.asarray(box, dtype=np.float64))

    def track(self, frame: np.ndarray) -> dict:
        box = np.asarray(self.tracker.update(bgr_to_pil(frame)), dtype=np.float64).reshape(-1)
        score = getattr(self.tracker, "score", None)
        return {"bbox": box.tolist(), "score": float(score) if isinstance(score, (int, float)) else math.nan}


def is_got10k_tracker(obj: Any) -> bool:
    """True for an instance of ``got10k.trackers.Tracker`` (checked only when got10k is imported already)."""
    mod = sys.modules.get("got10k.trackers")
    return mod is not None and isinstance(obj, mod.Tracker)


def as_runner_tracker(obj: Any) -> Any:
    """A tracker for the test runner: a got10k tracker wrapped in :class:`Got10kTrackerAdapter` (our own
    :class:`GOT10kTracker` unwrapped to its SiamCorners tracker), anything else returned as it is."""
    if isinstance(obj, Got10kTrackerAdapter):
        return obj
    if isinstance(obj, GOT10kTracker):  # ours: skip the PIL round trip
        return obj.tracker
    return Got10kTrackerAdapter(obj) if is_got10k_tracker(obj) else obj
