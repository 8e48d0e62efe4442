"""TrackingNet TEST split: ``<root>/TEST/frames/<seq>/0.jpg, 1.jpg, ...`` and ``<root>/TEST/anno/<seq>.txt``.

The TEST annotation holds only the first frame's box (scoring is done by the evaluation server).
Frames are numbered from 0 without padding and sorted numerically. ``root`` may also be the TEST folder.
"""
from __future__ import annotations

import os
import re

from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient

__all__ = ["read_trackingnet"]

_NUM = re.compile(r"^(\d+)\.jpg$", re.IGNORECASE)


def _frames(folder: str):
    def listing() -> list[str]:
        if not os.path.isdir(folder):
            raise BenchmarkError(f"{folder}: frame folder not found")
        numbered = sorted((int(m.group(1)), f) for f in os.listdir(folder) if (m := _NUM.match(f)))
        return [os.path.join(folder, f) for _, f in numbered]
    return listing


def read_trackingnet(root: str, name: str = "TrackingNet", split: str = "TEST") -> Dataset:
    base = root if os.path.basename(os.path.normpath(root)) == split else os.path.join(root, split)
    anno_dir = os.path.join(base, "anno")
    if not os.path.isdir(anno_dir):
        raise BenchmarkError(f"{anno_dir}: annotation folder not found (expected <root>/{split}/anno/<seq>.txt)")
    sequences = []
    for fname in sorted(f for f in os.listdir(anno_dir) if f.endswith(".txt")):
        seq = fname[:-4]
        path = os.path.join(anno_dir, fname)
        gt = read_boxes_lenient(path)
        if len(gt) == 0:
            raise BenchmarkError(f"{path}: no box")
        full = split != "TEST"
        sequences.append(Sequence(seq, gt if full else gt[:1], _frames(os.path.join(base, "frames", seq)),
                                  full_gt=full))
    if not sequences:
        raise BenchmarkError(f"{anno_dir}: no annotation files")
    return Dataset(name, sequences, "trackingnet", root, scored_locally=split != "TEST")
