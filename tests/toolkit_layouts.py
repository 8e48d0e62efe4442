"""Small local datasets in the layouts the third-party toolkits read (got10k's GOT-10k / OTB / UAV123 / NfS /
VOT / LaSOT / TrackingNet readers), built from the same source videos, so their experiment classes run offline.

A source video is ``(name, [frame paths], gt (N, 4) x, y, w, h)``.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
from PIL import Image

from siamcorners.benchmarks.otb import list_images
from siamcorners.benchmarks.textio import read_boxes_lenient
from siamcorners.data.synthetic import write_otb_dataset



def otb_folder_video(folder: str, name: str | None = None):
    """An OTB-layout folder (``img/*.jpg`` + ``groundtruth_rect.txt``) -> a source video, the ground truth cut
    to the frames present (shared/data/otb_mini keeps the full ground-truth file beside the first images)."""
    images = list_images(os.path.join(folder, "img"))
    frames = [images[k] for k in sorted(images)]
    gt = read_boxes_lenient(os.path.join(folder, "groundtruth_rect.txt"))[:len(frames)]
    return name or os.path.basename(folder), frames, gt


def synthetic_videos(out: str, count: int = 1, frames: int = 24, seed: int = 1):
    """``count`` colour synthetic videos (the tiny model's domain) written as JPEGs, as source videos."""
    names = write_otb_dataset(out, count, seed, num_frames=frames)
    return [otb_folder_video(os.path.join(out, n)) for n in names]


def _copy_frames(frames, dst: str, pattern: str) -> None:
    os.makedirs(dst, exist_ok=True)
    for i, src in enumerate(frames):
        shutil.copyfile(src, os.path.join(dst, pattern % (i + 1)))


def _write_boxes(path: str, gt: np.ndarray, delimiter: str = ",") -> None:
    np.savetxt(path, gt, fmt="%.4f", delimiter=delimiter)


def got10k_layout(root: str, videos, subset: str = "val") -> str:
    """``root/val/list.txt`` + ``root/val/<name>/00000001.jpg ... groundtruth.txt, cover/absence/cut_by_image
    .label, meta_info.ini`` (all frames fully visible)."""
    base = os.path.join(root, subset)
    for name, frames, gt in videos:
        d = os.path.join(base, name)
        _copy_frames(frames, d, "%08d.jpg")
        _write_boxes(os.path.join(d, "groundtruth.txt"), gt)
        n = len(gt)
        for label, value in (("cover", 8), ("absence", 0), ("cut_by_image", 0)):
            np.savetxt(os.path.join(d, f"{label}.label"), np.full(n, value), fmt="%d")
        w, h = Image.open(frames[0]).size
        with open(os.path.join(d, "meta_info.ini"), "w") as f:
            f.write(f"[METAINFO]\nurl: local\nresolution: ({w}, {h})\n")
    with open(os.path.join(base, "list.txt"), "w") as f:
        f.write("\n".join(v[0] for v in videos) + "\n")
    return root


def otb_layout(root: str, videos, all_names=()) -> str:
    """``root/<name>/img/0001.jpg`` + ``groundtruth_rect.txt``; an empty folder for every other name in
    ``all_names`` so got10k's OTB reader finds the benchmark complete and downloads nothing."""
    for name, frames, gt in videos:
        _copy_frames(frames, os.path.join(root, name, "img"), "%04d.jpg")
        _write_boxes(os.path.join(root, name, "groundtruth_rect.txt"), gt)
    for name in all_names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    return root


def uav123_layout(root: str, videos) -> str:
    """``root/data_seq/UAV123/<name>/000001.jpg`` + ``root/anno/UAV123/<name>.txt``."""
    for name, frames, gt in videos:
        _copy_frames(frames, os.path.join(root, "data_seq", "UAV123", name), "%06d.jpg")
        os.makedirs(os.path.join(root, "anno", "UAV123"), exist_ok=True)
        _write_boxes(os.path.join(root, "anno", "UAV123", f"{name}.txt"), gt)
    return root


def nfs_layout(root: str, videos, fps: int = 30) -> str:
    """``root/<name>/<fps>/<name>/00001.jpg`` + ``root/<name>/<fps>/<name>.txt`` (NfS rows: id x1 y1 x2 y2 ...)."""
    for name, frames, gt in videos:
        d = os.path.join(root, name, str(fps))
        _copy_frames(frames, os.path.join(d, name), "%05d.jpg")
        rows = [f"{i} {x:.4f} {y:.4f} {x + w:.4f} {y + h:.4f} 0 0 0 0 person false" for i, (x, y, w, h) in
                enumerate(gt)]
        with open(os.path.join(d, f"{name}.txt"), "w") as f:
            f.write("\n".join(rows) + "\n")
    return root


def vot_layout(root: str, videos, polygons: bool = False) -> str:
    """``root/list.txt`` + ``root/<name>/00000001.jpg`` + ``groundtruth.txt`` (rectangles, or their four
    corners as polygons) + per-frame tag files."""
    for name, frames, gt in videos:
        d = os.path.join(root, name)
        _copy_frames(frames, d, "%08d.jpg")
        if polygons:
            x, y, w, h = gt.T
            gt = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)
        _write_boxes(os.path.join(d, "groundtruth.txt"), gt)
        for tag in ("camera_motion", "illum_change", "occlusion", "size_change", "motion_change"):
            np.savetxt(os.path.join(d, f"{tag}.tag"), np.zeros(len(gt)), fmt="%d")
    with open(os.path.join(root, "list.txt"), "w") as f:
        f.write("\n".join(v[0] for v in videos) + "\n")
    return root
