"""Shared logic of the ``tools/prepare/`` scripts: the par_crop rule, parallel resumable cropping, JSON output.

Output layout (what :class:`siamcorners.data.sources.CropSource` reads)::

    {out}/crop511/{video}/{frame:06d}.{track:02d}.x.jpg   # instance crop, target centred, mean padding
    {out}/{json_name}: {video: {"{track:02d}": {"{frame:06d}": [x1, y1, x2, y2]}}}   # boxes in raw-image pixels

Crop rule (pysot ``par_crop``): context s_z = sqrt((w + p)(h + p)), p = 0.5 (w + h); the instance crop
covers s_x = s_z * 511 / 127 image pixels centred on the box centre and is warped to 511 x 511
(``cv2.warpAffine``, border = the image's per-channel mean).
"""
from __future__ import annotations

import errno
import json
import logging
import math
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from siamcorners.data.workers import opencv_on_calling_thread

__all__ = ["FrameJob", "VideoJob", "crop_instance", "crop_video", "prepare_dataset", "write_json_atomic",
           "build_annotations", "CONTEXT_AMOUNT", "EXEMPLAR_SIZE", "INSTANCE_SIZE"]

log = logging.getLogger(__name__)

CONTEXT_AMOUNT = 0.5
EXEMPLAR_SIZE = 127
INSTANCE_SIZE = 511


@dataclass
class FrameJob:
    """One raw image and the objects to crop from it: ``objects`` = [(track, [x1, y1, x2, y2]), ...].

    ``normalized``: the boxes are fractions of the image width/height (YouTube-BB), scaled when read.
    """
    image: str
    frame: int
    objects: List[Tuple[int, List[float]]] = field(default_factory=list)
    normalized: bool = False


@dataclass
class VideoJob:
    """All frames of one output video (a video, or one still image for COCO/DET)."""
    video: str
    frames: List[FrameJob] = field(default_factory=list)


def crop_instance(image: np.ndarray, box: Sequence[float], instance_size: int = INSTANCE_SIZE,
                  exemplar_size: int = EXEMPLAR_SIZE, context_amount: float = CONTEXT_AMOUNT,
                  padding: Optional[Sequence[float]] = None) -> np.ndarray:
    """(H, W, 3) uint8 image + box [x1, y1, x2, y2] -> (instance_size, instance_size, 3) uint8 crop."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    p = context_amount * (w + h)
    s_x = math.sqrt((w + p) * (h + p)) * instance_size / exemplar_size
    a = (instance_size - 1) / s_x
    mapping = np.array([[a, 0.0, -a * (cx - s_x / 2)], [0.0, a, -a * (cy - s_x / 2)]], dtype=np.float64)
    if padding is None:
        padding = image.mean(axis=(0, 1))
    return cv2.warpAffine(image, mapping, (instance_size, instance_size), borderMode=cv2.BORDER_CONSTANT,
                          borderValue=tuple(float(v) for v in padding))


def _crop_path(crop_root: str, video: str, frame: int, track: int) -> str:
    return os.path.join(crop_root, video, f"{frame:06d}.{track:02d}.x.jpg")


def _imwrite_atomic(path: str, image: np.ndarray) -> None:
    tmp = f"{path[:-4]}.tmp{os.getpid()}.jpg"
    try:
        if not cv2.imwrite(tmp, image):
            raise OSError(errno.EIO, "cv2.imwrite failed (disk full or not writable?)", path)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def crop_video(job: VideoJob, crop_root: str, instance_size: int = INSTANCE_SIZE):
    """Write the crops of one video, skipping crops that already exist.

    Returns (written, skipped_existing, failures, scaled) with failures = [(frame, track, reason)] and
    scaled = {(frame, track): pixel box} for frames with normalised boxes.
    """
    written = existing = 0
    failures: List[Tuple[int, int, str]] = []
    scaled: Dict[Tuple[int, int], List[float]] = {}
    os.makedirs(os.path.join(crop_root, job.video), exist_ok=True)
    for fj in job.frames:
        todo = [(t, b) for t, b in fj.objects if not os.path.exists(_crop_path(crop_root, job.video, fj.frame, t))]
        existing += len(fj.objects) - len(todo)
        if not todo and not fj.normalized:
            continue
        image = cv2.imread(fj.image, cv2.IMREAD_COLOR)
        if image is None:
            failures += [(fj.frame, t, f"missing or unreadable image {fj.image}") for t, _ in fj.objects]
            continue
        if fj.normalized:
            h, w = image.shape[:2]
            for t, b in fj.objects:
                scaled[(fj.frame, t)] = [b[0] * w, b[1] * h, b[2] * w, b[3] * h]
            todo = [(t, scaled[(fj.frame, t)]) for t, _ in todo]
        padding = image.mean(axis=(0, 1)) if todo else None
        for track, box in todo:
            crop = crop_instance(image, box, instance_size, padding=padding)
            _imwrite_atomic(_crop_path(crop_root, job.video, fj.frame, track), crop)
            written += 1
    return written, existing, failures, scaled


def _init_crop_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which reports it once
    opencv_on_calling_thread()


def _crop_video_star(args):
    return args[0].video, crop_video(*args)


def write_json_atomic(data, path: str) -> None:
    """Write JSON to ``path`` through a temporary file and ``os.replace``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_annotations(jobs: Iterable[VideoJob], drop: Optional[Dict[str, set]] = None,
                      scaled: Optional[Dict[str, Dict]] = None) -> Dict:
    """{video: {track: {frame: box}}} from the jobs, leaving out (frame, track) pairs listed in ``drop``
    and taking pixel boxes of normalised frames from ``scaled[video][(frame, track)]``."""
    drop = drop or {}
    scaled = scaled or {}
    anno: Dict[str, Dict[str, Dict[str, List[float]]]] = {}
    for job in jobs:
        bad = drop.get(job.video, set())
        for fj in job.frames:
            for track, box in fj.objects:
                if (fj.frame, track) in bad:
                    continue
                if fj.normalized:
                    box = scaled[job.video][(fj.frame, track)]
                anno.setdefault(job.video, {}).setdefault(f"{track:02d}", {})[f"{fj.frame:06d}"] = \
                    [float(v) for v in box]
    return anno


def prepare_dataset(jobs: List[VideoJob], out_dir: str, json_name: str = "train.json", workers: int = 1,
                    instance_size: int = INSTANCE_SIZE, desc: str = "crop") -> Dict[str, int]:
    """Crop every job into ``{out_dir}/crop511`` (in parallel, resumable) and write ``{out_dir}/{json_name}``.

    Frames whose image is missing are reported, counted and left out of the JSON. Returns counts.
    """
    crop_root = os.path.join(out_dir, "crop511")
    os.makedirs(crop_root, exist_ok=True)
    totals = {"videos": len(jobs), "written": 0, "existing": 0, "failed": 0}
    drop: Dict[str, set] = {}
    scaled: Dict[str, Dict] = {}
    tasks = [(job, crop_root, instance_size) for job in jobs]
    if workers > 1 and len(tasks) > 1:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_crop_worker)
        try:
            results = list(tqdm(pool.map(_crop_video_star, tasks, chunksize=max(1, len(tasks) // (workers * 16))),
                                total=len(tasks), desc=desc, unit="video"))
        except BaseException:  # Ctrl-C / an error: no new videos; workers finish the one they crop (atomic files)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    else:
        results = [_crop_video_star(t) for t in tqdm(tasks, desc=desc, unit="video")]
    for video, (written, existing, failures, video_scaled) in results:
        scaled[video] = video_scaled
        totals["written"] += written
        totals["existing"] += existing
        for frame, track, reason in failures:
            totals["failed"] += 1
            drop.setdefault(video, set()).add((frame, track))
            log.warning("%s: skipped %s frame %d track %d: %s", desc, video, frame, track, reason)
    write_json_atomic(build_annotations(jobs, drop, scaled), os.path.join(out_dir, json_name))
    return totals
