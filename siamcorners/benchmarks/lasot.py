"""LaSOT test split (protocol II: 280 videos = 70 categories x 4) in the official raw layout.

``<root>/<category>/<category>-<k>/img/00000001.jpg`` (8 digits), ``groundtruth.txt`` (comma),
``full_occlusion.txt`` and ``out_of_view.txt`` (comma-separated 0/1 per frame). A frame with either flag
set is *absent*: pysot-toolkit drops it from scoring but keeps it in the denominator.
The split comes from ``<root>/testing_set.txt`` when present (one name per line, as shipped with LaSOT),
otherwise from `TEST_SPLIT`. ``monkey-17`` is cut to its first 2260 frames (the LaSOT toolkit evaluates
only those). Per-video attributes are read, when present, from ``<root>/att/<video>.txt``: one line of
14 comma-separated 0/1 flags in `LASOT_ATTRIBUTES` order (the LaSOT evaluation toolkit's ``annos/att``).
"""
from __future__ import annotations

import os

from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient, read_flags, read_text

__all__ = ["LASOT_ATTRIBUTES", "TEST_SPLIT", "TRUNCATED", "read_lasot", "lasot_test_names"]

LASOT_ATTRIBUTES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")

TRUNCATED = {"monkey-17": 2260}

# category -> video numbers of the test split
TEST_SPLIT: dict[str, tuple[int, ...]] = {
    "airplane": (1, 9, 13, 15),
    "basketball": (1, 6, 7, 11),
    "bear": (2, 4, 6, 17),
    "bicycle": (2, 7, 9, 18),
    "bird": (2, 3, 15, 17),
    "boat": (3, 4, 12, 17),
    "book": (3, 10, 11, 19),
    "bottle": (1, 12, 14, 18),
    "bus": (2, 5, 17, 19),
    "car": (2, 6, 9, 17),
    "cat": (1, 3, 18, 20),
    "cattle": (2, 7, 12, 13),
    "chameleon": (3, 6, 11, 20),
    "coin": (3, 6, 7, 18),
    "crab": (3, 6, 12, 18),
    "crocodile": (3, 4, 10, 14),
    "cup": (1, 4, 7, 17),
    "deer": (4, 8, 10, 14),
    "dog": (1, 7, 15, 19),
    "drone": (2, 7, 13, 15),
    "electricfan": (1, 10, 18, 20),
    "elephant": (1, 12, 16, 18),
    "flag": (2, 3, 5, 9),
    "fox": (2, 3, 5, 20),
    "frog": (3, 4, 9, 20),
    "gametarget": (1, 2, 7, 13),
    "gecko": (1, 5, 16, 19),
    "giraffe": (2, 10, 13, 15),
    "goldfish": (3, 7, 8, 10),
    "gorilla": (4, 6, 9, 13),
    "guitar": (3, 8, 10, 16),
    "hand": (2, 3, 9, 16),
    "hat": (1, 2, 5, 18),
    "helmet": (5, 11, 13, 19),
    "hippo": (1, 7, 9, 20),
    "horse": (1, 4, 12, 15),
    "kangaroo": (2, 5, 11, 14),
    "kite": (4, 6, 10, 15),
    "leopard": (1, 7, 16, 20),
    "licenseplate": (6, 12, 13, 15),
    "lion": (1, 5, 12, 20),
    "lizard": (1, 3, 6, 13),
    "microphone": (2, 6, 14, 16),
    "monkey": (3, 4, 9, 17),
    "motorcycle": (1, 3, 9, 18),
    "mouse": (1, 8, 9, 17),
    "person": (1, 5, 10, 12),
    "pig": (2, 10, 13, 18),
    "pool": (3, 7, 12, 15),
    "rabbit": (10, 13, 17, 19),
    "racing": (10, 15, 16, 20),
    "robot": (1, 5, 8, 19),
    "rubicCube": (1, 6, 14, 19),
    "sepia": (6, 8, 13, 16),
    "shark": (2, 3, 5, 6),
    "sheep": (3, 5, 7, 9),
    "skateboard": (3, 8, 16, 19),
    "spider": (14, 16, 18, 20),
    "squirrel": (8, 11, 13, 19),
    "surfboard": (4, 5, 8, 12),
    "swing": (10, 14, 17, 20),
    "tank": (6, 9, 14, 16),
    "tiger": (4, 6, 12, 18),
    "train": (1, 7, 11, 20),
    "truck": (3, 6, 7, 16),
    "turtle": (5, 8, 9, 16),
    "umbrella": (2, 9, 17, 19),
    "volleyball": (1, 13, 18, 19),
    "yoyo": (7, 15, 17, 19),
    "zebra": (10, 14, 16, 17),
}


def lasot_test_names() -> list[str]:
    """The 280 test videos, sorted by category then number."""
    return [f"{c}-{k}" for c in sorted(TEST_SPLIT) for k in TEST_SPLIT[c]]


def _split_names(root: str) -> list[str]:
    listed = os.path.join(root, "testing_set.txt")
    if os.path.isfile(listed):
        names = [line.strip() for line in read_text(listed).splitlines() if line.strip()]
        if not names:
            raise BenchmarkError(f"{listed}: empty video list")
        return names
    return lasot_test_names()


def read_lasot(root: str, name: str = "LaSOT", videos: list[str] | None = None) -> Dataset:
    """The LaSOT test split (or the given ``videos``) from the raw layout under ``root``."""
    if not os.path.isdir(root):
        raise BenchmarkError(f"{root}: dataset root not found")
    names = list(videos) if videos is not None else _split_names(root)
    sequences = []
    has_att = False
    for video in names:
        category = video.rsplit("-", 1)[0]
        folder = os.path.join(root, category, video)
        if not os.path.isdir(folder):
            raise BenchmarkError(f"{folder}: LaSOT video folder not found")
        gt_path = os.path.join(folder, "groundtruth.txt")
        gt = read_boxes_lenient(gt_path)
        flags = []
        for fname in ("full_occlusion.txt", "out_of_view.txt"):
            path = os.path.join(folder, fname)
            f = read_flags(path)
            if len(f) != len(gt):
                raise BenchmarkError(f"{path}: {len(f)} flags but {len(gt)} ground-truth rows in {gt_path}")
            flags.append(f)
        absent = (flags[0] != 0) | (flags[1] != 0)  # (N,)
        n = TRUNCATED.get(video, len(gt))
        gt, absent = gt[:n], absent[:n]
        attrs: tuple[str, ...] = ()
        att_path = os.path.join(root, "att", video + ".txt")
        if os.path.isfile(att_path):
            has_att = True
            a = read_flags(att_path)
            if len(a) != len(LASOT_ATTRIBUTES):
                raise BenchmarkError(f"{att_path}:1: expected {len(LASOT_ATTRIBUTES)} 0/1 flags, got {len(a)}")
            attrs = tuple(x for x, v in zip(LASOT_ATTRIBUTES, a) if v)
        img = os.path.join(folder, "img")
        frames = [os.path.join(img, f"{i:08d}.jpg") for i in range(1, len(gt) + 1)]
        sequences.append(Sequence(video, gt, frames, attrs, absent=absent))
    return Dataset(name, sequences, "lasot", root, list(LASOT_ATTRIBUTES) if has_att else [])
