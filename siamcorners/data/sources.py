"""Training sources (pysot "sub-datasets"): where template/search frames of one video come from.

A crop source reads the standard pre-cropped layout::

    {root}/{video}/{frame:06d}.{track}.x.jpg         # 511x511 crop centred on the target (par_crop rule)
    anno.json: {video: {track: {"000000": [x1, y1, x2, y2] or [w, h], ...}}}

The synthetic source renders ``siamcorners.data.synthetic`` videos and cuts the same 511-style crop on the
fly. Boxes in a 511 crop follow the official rule (reference 4.1 ``_get_bbox``): the target is centred at
(w//2, h//2) of the crop with its size scaled by 127 / s_z, s_z = sqrt((w + p)(h + p)), p = (w + h) / 2.
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from siamcorners.data.crops import get_subwindow
from siamcorners.data.synthetic import make_video
from siamcorners.data.frames import read_image

__all__ = ["BadEntry", "Target", "CropSource", "SyntheticSource", "crop_box", "instance_context_size"]

log = logging.getLogger(__name__)

_MAX_LISTED = 10  # bad entries reported one by one per source before only the count is logged


class BadEntry(Exception):
    """A training entry that cannot be used (missing/unreadable image, empty box); the message names it."""


@dataclass(frozen=True)
class Target:
    """One annotated frame of one track: enough to load the 511 crop and its box."""
    video: str
    track: str
    frame: int


def crop_box(image_hw: Tuple[int, int], anno: Sequence[float], exemplar_size: int = 127,
             context_amount: float = 0.5) -> np.ndarray:
    """Target box (x1, y1, x2, y2) inside a 511 crop from its annotation ([x1,y1,x2,y2] or [w,h])."""
    if len(anno) == 4:
        w, h = anno[2] - anno[0], anno[3] - anno[1]
    elif len(anno) == 2:
        w, h = anno
    else:
        raise ValueError(f"box annotation must have 2 or 4 values, got {list(anno)!r}")
    p = context_amount * (w + h)
    s_z = math.sqrt((w + p) * (h + p))
    w, h = w * exemplar_size / s_z, h * exemplar_size / s_z
    cx, cy = image_hw[1] // 2, image_hw[0] // 2
    return np.array([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dtype=np.float64)


def instance_context_size(w: float, h: float, context_amount: float = 0.5, exemplar_size: int = 127,
                          instance_size: int = 511) -> float:
    """Side in image pixels of the ``instance_size`` crop around a w x h target (par_crop rule)."""
    p = context_amount * (w + h)
    return math.sqrt((w + p) * (h + p)) * instance_size / exemplar_size


def _box_ok(anno) -> bool:
    if not isinstance(anno, (list, tuple)) or len(anno) not in (2, 4):
        return False
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in anno):
        return False
    if len(anno) == 4:
        return anno[2] - anno[0] > 0 and anno[3] - anno[1] > 0
    return anno[0] > 0 and anno[1] > 0


class _Source:
    """Shared sampling (pysot SubDataset): tracks -> sorted annotated frame numbers."""

    name: str
    frame_range: int
    num_use: int
    videos: List[str]
    tracks: List[Dict[str, List[int]]]  # per video: track -> sorted frame numbers
    num_filtered: int = 0  # entries dropped at load time (empty/invalid boxes)

    @property
    def num_videos(self) -> int:
        return len(self.videos)

    def pick(self, rng: np.random.Generator) -> np.ndarray:
        """NUM_USE video indices: reshuffled passes over all videos (-1: each video once)."""
        n = self.num_videos
        use = n if self.num_use == -1 else int(self.num_use)
        if n == 0 or use <= 0:
            return np.zeros(0, dtype=np.int64)
        reps = -(-use // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[:use].astype(np.int64)

    def track_frames(self, video_index: int) -> Dict[str, List[int]]:
        """track -> sorted usable frame numbers of one video."""
        return self.tracks[video_index]

    def positive_pair(self, video_index: int, rng: np.random.Generator) -> Tuple[Target, Target]:
        """Template frame uniform over the track; search within +-FRAME_RANGE positions of it."""
        video = self.videos[video_index]
        tracks = self.track_frames(video_index)
        track = sorted(tracks)[int(rng.integers(len(tracks)))]
        frames = tracks[track]
        t = int(rng.integers(len(frames)))
        lo, hi = max(t - self.frame_range, 0), min(t + self.frame_range, len(frames) - 1) + 1
        s = int(rng.integers(lo, hi))
        return Target(video, track, frames[t]), Target(video, track, frames[s])

    def random_target(self, rng: np.random.Generator, video_index: Optional[int] = None) -> Target:
        """A random frame of a random track of ``video_index`` (random video when None)."""
        if video_index is None:
            video_index = int(rng.integers(self.num_videos))
        video = self.videos[video_index]
        tracks = self.track_frames(video_index)
        track = sorted(tracks)[int(rng.integers(len(tracks)))]
        frames = tracks[track]
        return Target(video, track, frames[int(rng.integers(len(frames)))])


class CropSource(_Source):
    """A pysot crop511 dataset (VID, YouTube-BB, COCO, DET, GOT-10k, LaSOT, or anything prepared alike)."""

    def __init__(self, name: str, root: str, anno: str, frame_range: int, num_use: int,
                 exemplar_size: int = 127, context_amount: float = 0.5):
        self.name, self.root, self.anno = name, root, anno
        self.frame_range, self.num_use = int(frame_range), int(num_use)
        self.exemplar_size, self.context_amount = exemplar_size, context_amount
        if not os.path.isfile(anno):
            raise FileNotFoundError(f"{name}: annotation file not found: {anno}")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{name}: crop root not found: {root}")
        try:
            with open(anno, "r", encoding="utf-8") as f:
                meta = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{anno}: line {e.lineno}: invalid JSON: {e.msg}") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{anno}: top level must map video -> track -> frame -> box")
        self.boxes: Dict[Tuple[str, str, int], List[float]] = {}
        self.videos, self.tracks = [], []
        self.num_filtered = 0
        for video in sorted(meta):
            tracks_in = meta[video]
            if not isinstance(tracks_in, dict):
                raise ValueError(f"{anno}: video {video!r} must map track -> frame -> box")
            tracks: Dict[str, List[int]] = {}
            for track, frames_in in tracks_in.items():
                if not isinstance(frames_in, dict):
                    raise ValueError(f"{anno}: video {video!r} track {track!r} must map frame -> box")
                frames = []
                for key, box in frames_in.items():
                    if not key.isdigit():
                        continue
                    if not _box_ok(box):
                        self._report_filtered(f"{anno}: video {video!r} track {track!r} frame {key!r}: "
                                              f"empty or invalid box {box!r}")
                        continue
                    frames.append(int(key))
                    self.boxes[(video, track, int(key))] = [float(v) for v in box]
                if frames:
                    tracks[track] = sorted(frames)
            if tracks:
                self.videos.append(video)
                self.tracks.append(tracks)
        if self.num_filtered > _MAX_LISTED:
            log.warning("%s: %d entries with empty boxes skipped in total (%s)", name, self.num_filtered, anno)
        if not self.videos:
            raise ValueError(f"{anno}: no usable video (every box empty or no frames)")

    def _report_filtered(self, message: str) -> None:
        self.num_filtered += 1
        if self.num_filtered <= _MAX_LISTED:
            log.warning("%s: skipped: %s", self.name, message)

    def image_path(self, target: Target) -> str:
        return os.path.join(self.root, target.video, f"{target.frame:06d}.{target.track}.x.jpg")

    def load(self, target: Target) -> Tuple[np.ndarray, np.ndarray]:
        """-> (511 crop (H, W, 3) uint8 BGR, box (4,) x1y1x2y2 in it); raises BadEntry naming the file."""
        path = self.image_path(target)
        image = read_image(path)  # warns, naming the file, when a JPEG is truncated
        if image is None:
            raise BadEntry(f"{self.name}: missing or unreadable image {path}")
        box = crop_box(image.shape[:2], self.boxes[(target.video, target.track, target.frame)],
                       self.exemplar_size, self.context_amount)
        return image, box


class SyntheticSource(_Source):
    """Seeded synthetic videos (``siamcorners.data.synthetic.make_video``), one track each.

    Video ``k`` is ``make_video((seed, k), frames, image_size)`` for k < videos: the videos of
    ``write_otb_dataset(seed=seed)``, so evaluate on another dataset seed. Frames where the target is
    absent are never sampled. The 511 crop is cut on the fly (mean padding).
    """

    def __init__(self, name: str, seed: int, videos: int, frames: int, image_size: Sequence[int],
                 frame_range: int, num_use: int, exemplar_size: int = 127, instance_size: int = 511,
                 context_amount: float = 0.5, cache_videos: int = 128):
        if videos < 1 or frames < 1:
            raise ValueError(f"{name}: synthetic source needs videos >= 1 and frames >= 1, got {videos}, {frames}")
        self.name, self.seed, self.num_frames = name, int(seed), int(frames)
        self.image_size = tuple(int(v) for v in image_size)
        self.frame_range, self.num_use = int(frame_range), int(num_use)
        self.exemplar_size, self.instance_size, self.context_amount = exemplar_size, instance_size, context_amount
        self.videos = [f"synthetic_{k:06d}" for k in range(int(videos))]
        self._index = {name: k for k, name in enumerate(self.videos)}
        self.tracks = []
        self.num_filtered = 0
        self._cache_size = int(cache_videos)
        self._cache: "OrderedDict[str, object]" = OrderedDict()

    def track_frames(self, video_index: int) -> Dict[str, List[int]]:
        """{"00": frames where the target is present} (renders the video's geometry, cached)."""
        present = np.flatnonzero(~np.asarray(self._video(self.videos[video_index]).absent, dtype=bool))
        if len(present) == 0:
            raise BadEntry(f"{self.name}: {self.videos[video_index]}: the target is absent in every frame")
        return {"00": present.tolist()}

    def _video(self, name: str):
        video = self._cache.get(name)
        if video is None:
            video = make_video((self.seed, self._index[name]), self.num_frames, self.image_size)
            self._cache[name] = video
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(name)
        return video

    def __getstate__(self):  # DataLoader workers start with an empty video cache
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state

    def load(self, target: Target) -> Tuple[np.ndarray, np.ndarray]:
        """-> (511 crop (511, 511, 3) uint8 BGR centred on the target, box (4,) x1y1x2y2 in it)."""
        video = self._video(target.video)
        frame = video.frame(target.frame)
        x, y, w, h = (float(v) for v in np.asarray(video.gt)[target.frame])
        if not (w > 0 and h > 0):
            raise BadEntry(f"{self.name}: {target.video} frame {target.frame}: empty box {[x, y, w, h]}")
        center = (x + (w - 1) / 2, y + (h - 1) / 2)
        side = instance_context_size(w, h, self.context_amount, self.exemplar_size, self.instance_size)
        avg = frame.mean(axis=(0, 1))
        crop = get_subwindow(frame, center, self.instance_size, round(side), avg)
        return crop, crop_box(crop.shape[:2], (w, h), self.exemplar_size, self.context_amount)
