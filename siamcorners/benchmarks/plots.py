"""Success / precision / normalised-precision plots in the conventional OPE style, as PNG and PDF.

Legend entries read ``Tracker [0.xxx]`` (AUC for success, the value at 20 px / 0.20 for the precision
plots), sorted best first. One set for the whole dataset and one per attribute.
"""
from __future__ import annotations

import itertools
import os
import re
import tempfile
from typing import Sequence as _Seq

import numpy as np

from . import metrics as M
from .evaluation import TrackerEvaluation
from .textio import new_file_mode

__all__ = ["plot_all", "plot_curve"]

_STYLES = ["-", "--", "-.", ":"]
_INFO = {
    "success": ("Overlap threshold", "Success rate", "Success plots of OPE", "lower left", (0, 1)),
    "precision": ("Location error threshold", "Precision", "Precision plots of OPE", "lower right", (0, 50)),
    "norm_precision": ("Location error threshold (normalized)", "Precision",
                       "Normalized Precision plots of OPE", "lower right", (0, 0.5)),
}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def plot_curve(entries: _Seq[tuple[str, np.ndarray, np.ndarray, float]], metric: str, title: str,
               path_stem: str) -> list[str]:
    """entries: (tracker, x (T,), y (T,), legend value). Writes ``<stem>.png`` and ``<stem>.pdf``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xlabel, ylabel, _, loc, xlim = _INFO[metric]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = itertools.product(_STYLES, colors)
    fig, ax = plt.subplots(figsize=(6, 6))
    ymax = 0.0
    for (name, x, y, value), (ls, color) in zip(sorted(entries, key=lambda e: -e[3]), styles):
        ax.plot(x, y, linestyle=ls, color=color, linewidth=2, label=f"{name} [{value:.3f}]")
        ymax = max(ymax, float(np.nanmax(y)) if len(y) else 0.0)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, ymax + 0.03 if ymax > 0 else 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.4)
    ax.legend(loc=loc, fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path_stem)), exist_ok=True)
    paths = []
    try:
        for ext in ("png", "pdf"):
            # a temporary name of this process only: two evaluations writing one report folder never share it
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path_stem)}.", suffix=f".tmp.{ext}",
                                       dir=os.path.dirname(os.path.abspath(path_stem)))
            os.close(fd)
            try:
                os.chmod(tmp, new_file_mode())
                fig.savefig(tmp, dpi=100 if ext == "png" else None, format=ext)
                os.replace(tmp, f"{path_stem}.{ext}")
            except OSError as e:
                raise OSError(e.errno, e.strerror, f"{path_stem}.{ext}") from e
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            paths.append(f"{path_stem}.{ext}")
    finally:
        plt.close(fig)
    return paths


_KEY = {"success": "success_auc", "precision": "precision", "norm_precision": "norm_precision"}


def _entries(evaluations, metric, rows=None):
    out = []
    for e in evaluations:
        if metric not in e.curves:
            continue
        curves = e.curves if rows is None else {k: v[rows(e)] for k, v in e.curves.items()}
        if len(curves[metric]) == 0:
            continue
        if "ao" in e.scores:
            value = e.scores["ao"]
        else:
            value = (M.pysot_scores if e.protocol == "pysot" else M.got10k_scores)(curves)[_KEY[metric]]
        out.append((e.tracker, e.thresholds[metric], np.mean(curves[metric], axis=0), value))
    return out


def plot_all(evaluations: _Seq[TrackerEvaluation], folder: str, attributes: bool = True) -> list[str]:
    """All plots of a dataset (ALL + each attribute) into ``folder``; returns the written paths."""
    if not evaluations:
        return []
    dataset = evaluations[0].dataset
    paths = []
    for metric, info in _INFO.items():
        entries = _entries(evaluations, metric)
        if entries:
            paths += plot_curve(entries, metric, f"{info[2]} on {dataset}", os.path.join(folder, f"{metric}_ALL"))
    if attributes:
        for attr in sorted({a for e in evaluations for a in e.attribute_index}):
            for metric, info in _INFO.items():
                entries = _entries(evaluations, metric, lambda e, a=attr: e.attribute_index.get(a, []))
                if entries:
                    n = len(evaluations[0].attribute_index.get(attr, []))
                    paths += plot_curve(entries, metric, f"{info[2]} - {attr} ({n})",
                                        os.path.join(folder, f"{metric}_{_safe(attr)}"))
    return paths
