"""GOT-10k val / test: ``<root>/<split>/list.txt``, ``<root>/<split>/<seq>/00000001.jpg``, ``groundtruth.txt``.

Val also has ``cover.label`` (visible-ratio bin per frame, 0 = invisible; the GOT-10k protocol scores only
frames with cover > 0) and ``meta_info.ini`` (``resolution: (W, H)``; boxes are clipped to the image).
Test publishes only the first box. ``root`` may be the GOT-10k root or the split folder itself.
"""
from __future__ import annotations

import ast
import os


from .sequence import BenchmarkError, Dataset, Sequence
from .textio import read_boxes_lenient, read_flags, read_text

__all__ = ["read_got10k", "read_resolution"]


def read_resolution(path: str) -> tuple[int, int]:
    """``resolution: (W, H)`` from a ``meta_info.ini``."""
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        key, sep, value = line.partition(":")
        if sep and key.strip() == "resolution":
            try:
                w, h = ast.literal_eval(value.strip())
                return int(w), int(h)
            except (ValueError, SyntaxError, TypeError):
                raise BenchmarkError(f"{path}:{lineno}: resolution must look like (W, H): {line!r}") from None
    raise BenchmarkError(f"{path}: no 'resolution:' line")


def _frames(folder: str):
    def listing() -> list[str]:
        if not os.path.isdir(folder):
            raise BenchmarkError(f"{folder}: sequence folder not found")
        return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".jpg"))
    return listing


def read_got10k(root: str, split: str = "val", name: str | None = None) -> Dataset:
    base = root if os.path.basename(os.path.normpath(root)) == split else os.path.join(root, split)
    list_file = os.path.join(base, "list.txt")
    names = [s.strip() for s in read_text(list_file).splitlines() if s.strip()]
    if not names:
        raise BenchmarkError(f"{list_file}: empty sequence list")
    full = split != "test"
    sequences = []
    for seq in names:
        folder = os.path.join(base, seq)
        gt_path = os.path.join(folder, "groundtruth.txt")
        gt = read_boxes_lenient(gt_path)
        if len(gt) == 0:
            raise BenchmarkError(f"{gt_path}: no box")
        visible = resolution = None
        if full:
            cover_path = os.path.join(folder, "cover.label")
            cover = read_flags(cover_path)
            if len(cover) != len(gt):
                raise BenchmarkError(f"{cover_path}: {len(cover)} labels but {len(gt)} rows in {gt_path}")
            visible = cover > 0  # (N,)
            resolution = read_resolution(os.path.join(folder, "meta_info.ini"))
        else:
            gt = gt[:1]
        sequences.append(Sequence(seq, gt, _frames(folder), visible=visible, resolution=resolution,
                                  full_gt=full))
    return Dataset(name or f"GOT-10k-{split}", sequences, "got10k", root, scored_locally=full)
