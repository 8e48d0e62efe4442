"""OTB100 (OTB2015) in its official raw layout: ``<root>/<Seq>/img/0001.jpg`` + ``groundtruth_rect*.txt``.

Quirks handled (eval-reference.md 4.1):

* two-target folders: ``Jogging`` and ``Skating2`` carry ``groundtruth_rect.1.txt`` / ``.2.txt`` and give
  the sequences ``Jogging-1``, ``Jogging-2``, ``Skating2-1``, ``Skating2-2`` (pysot names); ``Human4``
  has an empty ``.1`` file and gives ``Human4-2``;
* sequences whose ground truth covers only part of the images (`FRAME_RANGES`, 1-based inclusive
  image numbers: David, Football1, Freeman3, Freeman4, Diving, BlurCar1/3/4);
* grayscale frames are expanded to 3-channel BGR when read;
* ground-truth delimiters vary (comma, tab, spaces);
* image names are numbers of any width (Board uses 5 digits) with .jpg or .png.

A folder of a partly annotated sequence that holds exactly one image per ground-truth row, numbered 1..N (a copy
cut to the annotated range and renumbered, such as ``shared/data/real/David``), uses its images as they are.

Trimmed copies: when a folder holds fewer images than its ground-truth file has rows (a subset such as
``shared/data/otb_mini`` made by copying the first K images next to the official
``groundtruth_rect.txt``), and the images are exactly 1..K, the ground truth is cut to K rows and a
warning is printed. Any other mismatch between images and rows is an error.

Raw OTB has no attribute files; use the pysot ``OTB100.json`` for per-attribute results.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient

__all__ = ["FRAME_RANGES", "read_otb", "list_images", "OTB_ATTRIBUTES"]

OTB_ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")

FRAME_RANGES: dict[str, tuple[int, int]] = {
    "David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
    "Diving": (1, 215), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397),
}

_IMAGE = re.compile(r"^(\d+)\.(jpg|jpeg|png|bmp)$", re.IGNORECASE)


def list_images(folder: str) -> dict[int, str]:
    """Numbered image files of a folder: {frame number: path}."""
    if not os.path.isdir(folder):
        raise BenchmarkError(f"{folder}: image folder not found")
    out: dict[int, str] = {}
    for name in os.listdir(folder):
        m = _IMAGE.match(name)
        if m:
            out[int(m.group(1))] = os.path.join(folder, name)
    return out


def _gt_files(folder: str) -> list[tuple[str, str]]:
    """(suffix, path) for each non-empty ground-truth file: ("", single) or ("1", ...), ("2", ...)."""
    single = os.path.join(folder, "groundtruth_rect.txt")
    multi = sorted(f for f in os.listdir(folder) if re.match(r"^groundtruth_rect\.(\d+)\.txt$", f))
    if multi:
        files = [(f.split(".")[1], os.path.join(folder, f)) for f in multi]
        return [(k, p) for k, p in files if os.path.getsize(p) > 0]
    if os.path.isfile(single):
        return [("", single)]
    return []


def _frames_for(name: str, folder: str, gt_path: str, n_gt: int, gt: np.ndarray,
                range_key: str) -> tuple[list[str], np.ndarray]:
    images = list_images(os.path.join(folder, "img"))
    renumbered = len(images) == n_gt and sorted(images) == list(range(1, n_gt + 1))
    if range_key in FRAME_RANGES and not renumbered:
        start, end = FRAME_RANGES[range_key]
        if n_gt != end - start + 1:
            raise BenchmarkError(f"{gt_path}: {name} expects {end - start + 1} rows for images "
                                 f"{start}-{end}, found {n_gt}")
    else:
        start, end = 1, n_gt
        if len(images) < n_gt and sorted(images) == list(range(1, len(images) + 1)) and images:
            warnings.warn(f"{name}: {len(images)} images but {n_gt} ground-truth rows in {gt_path}; "
                          f"treating the folder as a trimmed copy and using the first {len(images)} rows",
                          stacklevel=3)
            end = len(images)
            gt = gt[:end]
        elif len(images) != n_gt:
            raise BenchmarkError(f"{gt_path}: {n_gt} ground-truth rows but {len(images)} images "
                                 f"in {os.path.join(folder, 'img')}")
    missing = [i for i in range(start, end + 1) if i not in images]
    if missing:
        raise BenchmarkError(f"{os.path.join(folder, 'img')}: image number {missing[0]} missing "
                             f"(needed for frames {start}-{end})")
    return [images[i] for i in range(start, end + 1)], gt


def read_otb(root: str, name: str = "OTB100", kind: str = "otb") -> Dataset:
    """Every sequence folder under ``root`` (sorted), in the official OTB layout."""
    if not os.path.isdir(root):
        raise BenchmarkError(f"{root}: dataset root not found")
    sequences = []
    for folder_name in sorted(os.listdir(root)):
        folder = os.path.join(root, folder_name)
        if not os.path.isdir(os.path.join(folder, "img")):
            continue
        files = _gt_files(folder)
        if not files:
            raise BenchmarkError(f"{folder}: no groundtruth_rect.txt")
        for suffix, gt_path in files:
            seq_name = f"{folder_name}-{suffix}" if suffix else folder_name
            gt = read_boxes_lenient(gt_path)
            if len(gt) == 0:
                raise BenchmarkError(f"{gt_path}: empty ground truth")
            frames, gt = _frames_for(seq_name, folder, gt_path, len(gt), gt, folder_name)
            sequences.append(Sequence(seq_name, gt, frames))
    if not sequences:
        raise BenchmarkError(f"{root}: no OTB sequence folders (<Seq>/img/ + groundtruth_rect.txt)")
    return Dataset(name, sequences, kind, root)
