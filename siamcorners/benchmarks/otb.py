"""OTB100 (OTB2015) in its official raw layout: ``<root>/<Seq>/img/0001.jpg`` + ``groundtruth_rect*.txt``.

Quirks handled (eval-reference.md 4.1):

* two-target folders: ``Jogging`` and ``Skating2`` carry ``groundtruth_rect.1.txt`` / ``.2.txt`` and give
  the sequences ``Jogging-1``, ``Jogging-2``, ``Skating2-1``, ``Skating2-2`` (pysot names); ``Human4``
  has an empty ``.1`` file and gives ``Human4-2``. A root prepared the pysot way also holds copies of the
  two folders named ``Jogging-1``, ``Jogging-2``, ``Skating2-1``, ``Skating2-2`` (both gt files in each): a
  folder ``<name>-<k>`` with ``groundtruth_rect.<k>.txt`` is the sequence ``<name>-<k>`` alone, and the
  original folder's sequence of that name is not read twice (98 folders + 4 copies -> the official 100);
* sequences whose ground truth covers only part of the images (`FRAME_RANGES`, 1-based inclusive
  image numbers: David, Football1, Freeman3, Freeman4, Diving, BlurCar1/3/4);
* ``Tiger1``: its first 5 frames are left out (`GT_OMIT`): frames 6-354 with ground-truth rows 6-354
  (349 rows), as pysot's ``OTB100.json`` and the OTB toolkit (``initOmit``) do;
* grayscale frames are expanded to 3-channel BGR when read;
* ground-truth delimiters vary (comma, tab, spaces);
* image names are numbers of any width (Board uses 5 digits) with .jpg or .png; two files of one number
  (``0003.jpg`` and a stray ``3.png``) are an error naming both.

A folder of a partly annotated sequence that holds exactly one image per ground-truth row, numbered 1..N (a copy
cut to the annotated range and renumbered, such as ``shared/data/real/David``), uses its images as they are.

An image folder with fewer images than its ground truth has rows (an interrupted download or copy) is an
error naming the video. Trimmed copies, only when asked for (``trimmed=True``, ``--trimmed-copy`` of
tools/test.py and tools/eval.py): a folder holding exactly the images 1..K of a video next to its official
``groundtruth_rect.txt`` (a subset made by copying the first K images) uses the first K rows, with a
warning. Any other mismatch between images and rows is an error.

Raw OTB has no attribute files; use the pysot ``OTB100.json`` for per-attribute results.
"""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient

__all__ = ["FRAME_RANGES", "GT_OMIT", "read_otb", "list_images", "OTB_ATTRIBUTES"]

OTB_ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")

FRAME_RANGES: dict[str, tuple[int, int]] = {
    "David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
    "Diving": (1, 215), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397),
}

GT_OMIT: dict[str, int] = {"Tiger1": 5}  # leading frames (and their gt rows) the OTB toolkit leaves out

_IMAGE = re.compile(r"^(\d+)\.(jpg|jpeg|png|bmp)$", re.IGNORECASE)


def list_images(folder: str) -> dict[int, str]:
    """Numbered image files of a folder: {frame number: path}."""
    if not os.path.isdir(folder):
        raise BenchmarkError(f"{folder}: image folder not found")
    out: dict[int, str] = {}
    for name in sorted(os.listdir(folder)):
        m = _IMAGE.match(name)
        if m:
            number = int(m.group(1))
            if number in out:
                raise BenchmarkError(f"{folder}: {os.path.basename(out[number])} and {name} are both image "
                                     f"number {number}; remove the one that does not belong to the video")
            out[number] = os.path.join(folder, name)
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
                range_key: str, trimmed: bool = False) -> tuple[list[str], np.ndarray]:
    images = list_images(os.path.join(folder, "img"))
    img_dir = os.path.join(folder, "img")
    renumbered = len(images) == n_gt and sorted(images) == list(range(1, n_gt + 1))
    if range_key in FRAME_RANGES and not renumbered:
        start, end = FRAME_RANGES[range_key]
        if n_gt != end - start + 1:
            raise BenchmarkError(f"{gt_path}: {name} expects {end - start + 1} rows for images "
                                 f"{start}-{end}, found {n_gt}")
    else:
        start, end = 1, n_gt
        if trimmed and len(images) < n_gt and sorted(images) == list(range(1, len(images) + 1)) and images:
            warnings.warn(f"{name}: {len(images)} images but {n_gt} ground-truth rows in {gt_path}; "
                          f"a trimmed copy (asked for): using the first {len(images)} rows", stacklevel=3)
            end = len(images)
            gt = gt[:end]
        elif len(images) < n_gt:
            raise BenchmarkError(f"{name}: {len(images)} images in {img_dir} but {n_gt} ground-truth rows in "
                                 f"{gt_path}: the image folder is incomplete (an interrupted download or copy?); "
                                 f"for a copy of the first images on purpose give --trimmed-copy")
        elif len(images) != n_gt:
            raise BenchmarkError(f"{gt_path}: {n_gt} ground-truth rows but {len(images)} images "
                                 f"in {img_dir}")
        omit = GT_OMIT.get(range_key, 0)
        if omit and end > omit:
            start, gt = omit + 1, gt[omit:end]
    missing = [i for i in range(start, end + 1) if i not in images]
    if missing:
        raise BenchmarkError(f"{os.path.join(folder, 'img')}: image number {missing[0]} missing "
                             f"(needed for frames {start}-{end})")
    return [images[i] for i in range(start, end + 1)], gt


def _pysot_copy(folder_name: str, files: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """A pysot-prepared copy of a two-target folder (``Jogging-1`` holding ``groundtruth_rect.1.txt``, usually with
    the other target's file too): its own target only."""
    base, dash, k = folder_name.rpartition("-")
    if not dash or not base or not k.isdigit():
        return None
    own = [(suffix, path) for suffix, path in files if suffix == k]
    return own or None


def read_otb(root: str, name: str = "OTB100", kind: str = "otb", trimmed: bool = False) -> Dataset:
    """Every sequence folder under ``root`` (sorted), in the official OTB layout. ``trimmed``: accept trimmed
    copies (module docstring)."""
    if not os.path.isdir(root):
        raise BenchmarkError(f"{root}: dataset root not found")
    folders = [f for f in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, f, "img"))]
    sequences = []
    for folder_name in folders:
        folder = os.path.join(root, folder_name)
        files = _gt_files(folder)
        if not files:
            raise BenchmarkError(f"{folder}: no groundtruth_rect.txt")
        copy = _pysot_copy(folder_name, files)
        for suffix, gt_path in files if copy is None else copy:
            seq_name = folder_name if copy is not None or not suffix else f"{folder_name}-{suffix}"
            if copy is None and suffix and seq_name in folders:
                continue  # its pysot copy (folder ``<name>-<k>``) is read instead
            gt = read_boxes_lenient(gt_path)
            if len(gt) == 0:
                raise BenchmarkError(f"{gt_path}: empty ground truth")
            frames, gt = _frames_for(seq_name, folder, gt_path, len(gt), gt, folder_name.rpartition("-")[0]
                                     if copy is not None else folder_name, trimmed)
            sequences.append(Sequence(seq_name, gt, frames))
    if not sequences:
        raise BenchmarkError(f"{root}: no OTB sequence folders (<Seq>/img/ + groundtruth_rect.txt)")
    return Dataset(name, sequences, kind, root)
