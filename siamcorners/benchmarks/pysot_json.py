"""The pysot-toolkit annotation files ``<root>/<NAME>.json`` (OTB100, UAV123, UAV20L, LaSOT, NFS30, ...).

One object per video: ``video_dir``, ``init_rect`` [x,y,w,h], ``img_names`` (relative to the dataset
root), ``gt_rect`` (one [x,y,w,h] per frame), ``attr`` (tags; OTB/UAV), and for LaSOT ``absent`` (one
value per frame; pysot scores the frames whose value is 1 and keeps the others in the denominator).
As in pysot-toolkit the evaluation takes the ground truth only from the JSON, in the file's key order.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .sequence import BenchmarkError, Dataset, Sequence

__all__ = ["read_pysot_json", "KIND_OF"]

KIND_OF = {"OTB": "otb", "UAV": "uav", "LASOT": "lasot", "NFS": "nfs", "GOT": "got10k", "TRACKINGNET": "trackingnet"}


def _kind(name: str) -> str:
    upper = name.upper()
    for prefix, kind in KIND_OF.items():
        if upper.startswith(prefix):
            return kind
    return "otb"


def read_pysot_json(root: str, name: str, path: str | None = None) -> Dataset:
    """Read ``<root>/<name>.json`` (or ``path``)."""
    path = path or os.path.join(root, f"{name}.json")
    if not os.path.isfile(path):
        raise BenchmarkError(f"{path}: pysot annotation file not found")
    try:
        with open(path, "r", encoding="utf-8") as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(meta, dict) or not meta:
        raise BenchmarkError(f"{path}: expected a non-empty object of videos")
    sequences = []
    for video, info in meta.items():
        where = f"{path}: video {video!r}"
        if not isinstance(info, dict):
            raise BenchmarkError(f"{where}: expected an object")
        for key in ("img_names", "gt_rect"):
            if key not in info:
                raise BenchmarkError(f"{where}: missing key {key!r}")
        rows = info["gt_rect"]
        if not isinstance(rows, list):
            raise BenchmarkError(f"{where}: 'gt_rect' must be a list of [x, y, w, h] rows")
        bad = next((i for i, r in enumerate(rows) if not isinstance(r, list) or len(r) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)), None)
        if bad is not None:
            raise BenchmarkError(f"{where}: gt_rect[{bad}] (frame {bad + 1}) must be 4 numbers [x, y, w, h], "
                                 f"got {rows[bad]!r}")
        gt = np.asarray(rows, dtype=np.float64).reshape(-1, 4)  # (N, 4)
        img_names = info["img_names"]
        if len(img_names) != len(gt):
            raise BenchmarkError(f"{where}: {len(img_names)} img_names but {len(gt)} gt_rect rows")
        absent = None
        if "absent" in info:
            flags = np.asarray(info["absent"])
            if flags.shape != (len(gt),):
                raise BenchmarkError(f"{where}: 'absent' must have one value per frame ({len(gt)}), "
                                     f"got shape {flags.shape}")
            absent = flags != 1  # (N,) True = not scored
        attrs = info.get("attr", [])
        if not isinstance(attrs, list):
            raise BenchmarkError(f"{where}: 'attr' must be a list of tags")
        frames = [os.path.join(root, p) for p in img_names]
        sequences.append(Sequence(str(video), gt, frames, tuple(attrs), absent=absent))
    attribute_names = sorted({a for s in sequences for a in s.attributes})
    return Dataset(name, sequences, _kind(name), root, attribute_names)
