"""UAV123 / UAV20L in the official raw layout.

``<root>/data_seq/UAV123/<folder>/000001.jpg`` (6 digits), ground truth ``<root>/anno/UAV123/<seq>.txt``
(``NaN,NaN,NaN,NaN`` rows where the target is out of view), attributes ``<root>/anno/UAV123/att/<seq>.txt``
(one line of 12 comma-separated 0/1 flags in `UAV_ATTRIBUTES` order). Several UAV123 sequences are cut
out of one long folder (`SUBSEQUENCES`, inclusive 1-based frame ranges, eval-reference.md 4.2).
UAV20L: ``anno/UAV20L/<seq>.txt`` over the whole folder ``data_seq/UAV123/<seq>``.
"""
from __future__ import annotations

import os


from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient, read_flags

__all__ = ["UAV_ATTRIBUTES", "SUBSEQUENCES", "read_uav"]

UAV_ATTRIBUTES = (
    "Scale Variation", "Aspect Ratio Change", "Low Resolution", "Fast Motion", "Full Occlusion",
    "Partial Occlusion", "Out-of-View", "Background Clutter", "Illumination Variation",
    "Viewpoint Change", "Camera Motion", "Similar Object",
)

# sequence -> (folder, first frame, last frame)
SUBSEQUENCES: dict[str, tuple[str, int, int]] = {}
_RANGES = {
    "bird1": [(1, 253), (775, 1477), (1573, 2437)],
    "car1": [(1, 751), (751, 1627), (1627, 2629)],
    "car6": [(1, 487), (487, 1807), (1807, 2953), (2953, 3925), (3925, 4861)],
    "car8": [(1, 1357), (1357, 2575)],
    "car16": [(1, 415), (415, 1993)],
    "group1": [(1, 1333), (1333, 2515), (2515, 3925), (3925, 4873)],
    "group2": [(1, 907), (907, 1771), (1771, 2683)],
    "group3": [(1, 1567), (1567, 2827), (2827, 4369), (4369, 5527)],
    "person2": [(1, 1189), (1189, 2623)],
    "person4": [(1, 1501), (1501, 2743)],
    "person5": [(1, 877), (877, 2101)],
    "person7": [(1, 1249), (1249, 2065)],
    "person8": [(1, 1075), (1075, 1525)],
    "person12": [(1, 601), (601, 1621)],
    "person14": [(1, 847), (847, 1813), (1813, 2923)],
    "person17": [(1, 1501), (1501, 2347)],
    "person19": [(1, 1243), (1243, 2791), (2791, 4357)],
    "truck4": [(1, 577), (577, 1261)],
    "uav1": [(1, 1555), (1555, 2377), (2473, 3469)],
}
for _folder, _parts in _RANGES.items():
    for _k, (_a, _b) in enumerate(_parts, 1):
        SUBSEQUENCES[f"{_folder}_{_k}"] = (_folder, _a, _b)


def _frame_paths(folder: str, start: int, end: int) -> list[str]:
    return [os.path.join(folder, f"{i:06d}.jpg") for i in range(start, end + 1)]


def read_uav(root: str, name: str = "UAV123") -> Dataset:
    """UAV123 (``name='UAV123'``) or UAV20L (``name='UAV20L'``) from the raw layout."""
    subset = "UAV20L" if name.upper() == "UAV20L" else "UAV123"
    anno_dir = os.path.join(root, "anno", subset)
    if not os.path.isdir(anno_dir):
        raise BenchmarkError(f"{anno_dir}: annotation folder not found (expected <root>/anno/{subset}/<seq>.txt)")
    data_dir = os.path.join(root, "data_seq", "UAV123")
    sequences = []
    for fname in sorted(f for f in os.listdir(anno_dir) if f.endswith(".txt")):
        seq = fname[:-4]
        gt_path = os.path.join(anno_dir, fname)
        gt = read_boxes_lenient(gt_path)
        if subset == "UAV123" and seq in SUBSEQUENCES:
            folder, start, end = SUBSEQUENCES[seq]
        else:
            folder, start, end = seq, 1, len(gt)
        if len(gt) != end - start + 1:
            raise BenchmarkError(f"{gt_path}: {len(gt)} rows, but {seq} covers frames {start}-{end} "
                                 f"({end - start + 1} frames) of {folder}")
        folder_path = os.path.join(data_dir, folder)
        if not os.path.isdir(folder_path):
            raise BenchmarkError(f"{folder_path}: image folder of {seq} not found")
        attrs: tuple[str, ...] = ()
        att_path = os.path.join(anno_dir, "att", fname)
        if os.path.isfile(att_path):
            flags = read_flags(att_path)
            if len(flags) != len(UAV_ATTRIBUTES):
                raise BenchmarkError(f"{att_path}:1: expected {len(UAV_ATTRIBUTES)} 0/1 flags, got {len(flags)}")
            attrs = tuple(a for a, f in zip(UAV_ATTRIBUTES, flags) if f)
        sequences.append(Sequence(seq, gt, _frame_paths(folder_path, start, end), attrs))
    if not sequences:
        raise BenchmarkError(f"{anno_dir}: no annotation files")
    has_att = os.path.isdir(os.path.join(anno_dir, "att"))
    return Dataset(name, sequences, "uav", root, list(UAV_ATTRIBUTES) if has_att else [])
