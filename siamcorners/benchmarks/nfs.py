"""NfS (Need for Speed) at 30 fps ("NFS30") in the official raw layout.

``<root>/<seq>/30/<seq>.txt`` and the images ``<root>/<seq>/30/<seq>/*.jpg`` (sorted). Annotation lines
are whitespace separated; columns 2-5 are left, top, right, bottom (other columns ignored); the box is
``w = right - left``, ``h = bottom - top``. The 30 fps annotation may hold rows at the 240 fps rate: when
``#rows / #images`` is within 1 of 8, every 8th row starting with the first is kept; then a difference of
exactly one frame is resolved by trimming both to the shorter (eval-reference.md 4.4).
"""
from __future__ import annotations

import os

import numpy as np

from .sequence import BenchmarkError, Dataset, Sequence
from .textio import annotation_rows

__all__ = ["read_nfs", "read_nfs_annotation"]


def read_nfs_annotation(path: str) -> np.ndarray:
    """NfS annotation file -> (N, 4) float64 ``x, y, w, h`` (a blank line before the last row is an error)."""
    rows = []
    for lineno, fields in annotation_rows(path):
        line = " ".join(fields)
        if len(fields) < 5:
            raise BenchmarkError(f"{path}:{lineno}: expected at least 5 columns, got {len(fields)}: {line!r}")
        try:
            left, top, right, bottom = (float(f) for f in fields[1:5])
        except ValueError:
            raise BenchmarkError(f"{path}:{lineno}: columns 2-5 must be numbers: {line!r}") from None
        rows.append([left, top, right - left, bottom - top])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _align(gt: np.ndarray, frames: list[str], path: str) -> tuple[np.ndarray, list[str]]:
    n_img = len(frames)
    if n_img and abs(len(gt) / n_img - 8) <= 1:
        gt = gt[0::8]
    if abs(len(gt) - n_img) == 1:
        n = min(len(gt), n_img)
        gt, frames = gt[:n], frames[:n]
    if len(gt) != len(frames):
        raise BenchmarkError(f"{path}: {len(gt)} annotation rows do not match {len(frames)} images")
    return gt, frames


def read_nfs(root: str, name: str = "NFS30", fps: int = 30) -> Dataset:
    """Every ``<seq>/<fps>/`` under ``root`` (sorted)."""
    if not os.path.isdir(root):
        raise BenchmarkError(f"{root}: dataset root not found")
    sequences = []
    for seq in sorted(os.listdir(root)):
        base = os.path.join(root, seq, str(fps))
        if not os.path.isdir(base):
            continue
        anno = os.path.join(base, f"{seq}.txt")
        img_dir = os.path.join(base, seq)
        if not os.path.isdir(img_dir):
            raise BenchmarkError(f"{img_dir}: image folder not found")
        frames = sorted(os.path.join(img_dir, f) for f in os.listdir(img_dir) if f.lower().endswith(".jpg"))
        gt, frames = _align(read_nfs_annotation(anno), frames, anno)
        sequences.append(Sequence(seq, gt, frames))
    if not sequences:
        raise BenchmarkError(f"{root}: no NfS sequences (<seq>/{fps}/<seq>.txt)")
    return Dataset(name, sequences, "nfs", root)
