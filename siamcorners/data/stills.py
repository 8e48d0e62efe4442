"""Training pairs from still photos (a folder of images, e.g. the photos PyPI packages ship).

Two kinds of pair, drawn per pair (probability ``paste`` for the second):

* **crop** (pysot's COCO/DET way): the target is a random region of one photo (the most textured of a few
  random candidates); template and search are the same 511 crop around it, so the pair's motion, scale change
  and blur come from the template/search augmentation alone.
* **paste**: a region of one photo (the target) is pasted onto a ``canvas`` cut from another photo, at two poses
  (template frame 0, search frame 1) that differ by a random motion and scale change; the background pans with a
  camera motion, and frame 1 may be motion-blurred. The label is the pasted rectangle.

Everything about pair ``k`` of photo ``v`` is drawn from a generator seeded by ``(seed, v, k)``: a ``Target``
carries ``k`` in its ``track`` field and the frame (0 template, 1 search) in ``frame``, so a pair renders the
same in any worker and order. Boxes are ``[x, y, w, h]``, 0-based continuous pixels, as ``synthetic.py``.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from siamcorners.data.crops import get_subwindow
from siamcorners.data.frames import read_image
from siamcorners.data.sources import BadEntry, Target, _Source, crop_box, instance_context_size

__all__ = ["IMAGE_EXTENSIONS", "StillSource", "list_images"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_CANDIDATES = 6              # random region candidates per target; the most textured one is kept
_TARGET_SIDE = (0.08, 0.45)  # target side as a fraction of the photo's (crop) or canvas's (paste) shorter side
_MIN_SIDE = 8                # px: smallest target side


def list_images(root: str, name: str = "STILLS") -> List[str]:
    """Image files under ``root`` (any depth), sorted; a missing or image-less folder is a one-line error."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"DATASET.SOURCES.{name}.ROOT: image folder not found: {root}")
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        paths += [os.path.join(dirpath, f) for f in sorted(filenames) if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not paths:
        raise ValueError(f"DATASET.SOURCES.{name}.ROOT: no image ({', '.join(IMAGE_EXTENSIONS)}) in {root} "
                         f"(tools/prepare/stills.py collects the photos that installed packages ship, "
                         f"tools/prepare/deadleaves.py writes procedural images)")
    return sorted(paths)


class StillSource(_Source):
    """Pairs cut from still photos; ``videos`` are the photo paths relative to ``root``, one track each."""

    def __init__(self, name: str, root: str, seed: int, num_use: int, paste: float = 0.5,
                 canvas: Sequence[int] = (360, 480), blur: float = 0.3, exemplar_size: int = 127,
                 instance_size: int = 511, context_amount: float = 0.5, cache_images: int = 64,
                 appearance: float = 0.0):
        if not 0.0 <= paste <= 1.0 or not 0.0 <= blur <= 1.0 or not 0.0 <= appearance <= 1.0:
            raise ValueError(f"DATASET.SOURCES.{name}: PASTE, BLUR and APPEARANCE must be in [0, 1], got {paste}, "
                             f"{blur}, {appearance}")
        if len(canvas) != 2 or min(canvas) < 64:
            raise ValueError(f"DATASET.SOURCES.{name}.CANVAS must be [height, width], both >= 64, got {list(canvas)}")
        self.name, self.root, self.seed = name, root, int(seed)
        self.frame_range, self.num_use = 1, int(num_use)
        self.paste, self.blur, self.appearance = float(paste), float(blur), float(appearance)
        self.canvas = (int(canvas[0]), int(canvas[1]))
        self.exemplar_size, self.instance_size, self.context_amount = exemplar_size, instance_size, context_amount
        self.videos = [os.path.relpath(p, root) for p in list_images(root, name)]
        self._index = {v: k for k, v in enumerate(self.videos)}
        self.tracks = []
        self.num_filtered = 0
        self._cache_size = int(cache_images)
        self._cache: "OrderedDict[int, Tuple[np.ndarray, np.ndarray]]" = OrderedDict()

    def __getstate__(self):  # DataLoader workers start with an empty image cache
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state

    # ------------------------------------------------------------------ sampling (Target = photo, pair k, frame)
    def track_frames(self, video_index: int) -> Dict[str, List[int]]:
        return {"0": [0, 1]}

    def positive_pair(self, video_index: int, rng: np.random.Generator) -> Tuple[Target, Target]:
        k = str(int(rng.integers(2 ** 31)))
        video = self.videos[video_index]
        return Target(video, k, 0), Target(video, k, 1)

    def random_target(self, rng: np.random.Generator, video_index: Optional[int] = None) -> Target:
        if video_index is None:
            video_index = int(rng.integers(self.num_videos))
        return Target(self.videos[video_index], str(int(rng.integers(2 ** 31))), 0)

    # ------------------------------------------------------------------ rendering
    def _photo(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """(image (H, W, 3) uint8 BGR, integral image (H+1, W+1) of its gradient magnitude)."""
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        path = os.path.join(self.root, self.videos[index])
        image = read_image(path)
        if image is None:
            raise BadEntry(f"{self.name}: missing or unreadable image {path}")
        if image.shape[0] < 2 * _MIN_SIDE or image.shape[1] < 2 * _MIN_SIDE:
            raise BadEntry(f"{self.name}: image {path} is smaller than {2 * _MIN_SIDE} px")
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        grad = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        hit = (image, cv2.integral(grad, sdepth=cv2.CV_64F))
        self._cache[index] = hit
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return hit

    @staticmethod
    def _region(rng: np.random.Generator, hw: Tuple[int, int], integral: np.ndarray) -> Tuple[int, int, int, int]:
        """The most textured of a few random regions (x, y, w, h) in whole pixels of an image of size hw."""
        h_img, w_img = hw
        best, best_score = None, -1.0
        for _ in range(_CANDIDATES):
            side = rng.uniform(*_TARGET_SIDE) * min(h_img, w_img)
            aspect = np.exp(rng.uniform(-0.6, 0.6))
            w = int(np.clip(round(side * np.sqrt(aspect)), _MIN_SIDE, w_img))
            h = int(np.clip(round(side / np.sqrt(aspect)), _MIN_SIDE, h_img))
            x, y = int(rng.integers(0, w_img - w + 1)), int(rng.integers(0, h_img - h + 1))
            score = (integral[y + h, x + w] - integral[y, x + w] - integral[y + h, x] + integral[y, x]) / (w * h)
            if score > best_score:
                best, best_score = (x, y, w, h), score
        return best

    def frame(self, target: Target) -> Tuple[np.ndarray, np.ndarray]:
        """-> (frame (H, W, 3) uint8 BGR, target box (4,) [x, y, w, h]) of one frame of one pair."""
        index = self._index.get(target.video)
        if index is None:
            raise BadEntry(f"{self.name}: unknown photo {target.video!r}")
        rng = np.random.default_rng([self.seed, index, int(target.track)])
        paste = self.paste > rng.random()
        image, integral = self._photo(index)
        region = self._region(rng, image.shape[:2], integral)
        if not paste:
            return image, np.asarray(region, dtype=np.float64)
        return self._paste_frame(rng, image, region, index, target.frame)

    def _paste_frame(self, rng: np.random.Generator, image: np.ndarray, region: Tuple[int, int, int, int],
                     index: int, frame: int) -> Tuple[np.ndarray, np.ndarray]:
        ch, cw = self.canvas
        others = [i for i in range(self.num_videos) if i != index] or [index]
        bg_photo, _ = self._photo(others[int(rng.integers(len(others)))])
        # background: a window of the other photo, resized to (canvas + pan margin); frame 1 pans in it
        margin = int(0.1 * min(ch, cw))
        bh, bw = bg_photo.shape[:2]
        zoom = rng.uniform(0.5, 1.0)
        wh, ww = max(2, int(bh * zoom)), max(2, int(bw * zoom))
        y0, x0 = int(rng.integers(0, bh - wh + 1)), int(rng.integers(0, bw - ww + 1))
        background = cv2.resize(bg_photo[y0:y0 + wh, x0:x0 + ww], (cw + 2 * margin, ch + 2 * margin),
                                interpolation=cv2.INTER_LINEAR)
        pan = rng.integers(-margin, margin + 1, size=2)
        # target poses: size on the canvas, position, then motion and scale change to frame 1
        rx, ry, rw, rh = region
        side = rng.uniform(*_TARGET_SIDE) * min(ch, cw)
        f = side / np.sqrt(rw * rh)
        scale = np.exp(rng.normal(0.0, 0.1))
        motion = rng.normal(0.0, 0.08 * min(ch, cw), size=2)
        blur = self.blur > rng.random()
        blur_len = int(rng.integers(3, 12))
        change = self._appearance_change(rng) if self.appearance > 0 else None
        if frame == 1:
            f *= scale
        w = int(np.clip(round(rw * f), _MIN_SIDE, cw - 2))
        h = int(np.clip(round(rh * f), _MIN_SIDE, ch - 2))
        cx0, cy0 = rng.uniform(0.25, 0.75) * cw, rng.uniform(0.25, 0.75) * ch
        cx, cy = (cx0 + motion[0], cy0 + motion[1]) if frame == 1 else (cx0, cy0)
        x = int(np.clip(round(cx - w / 2), 0, cw - w))
        y = int(np.clip(round(cy - h / 2), 0, ch - h))
        ox, oy = (margin + pan) if frame == 1 else (margin, margin)
        canvas = background[oy:oy + ch, ox:ox + cw].copy()
        if frame == 1 and change is not None:
            patch = self._changed_patch(image, region, change)
        else:
            patch = image[ry:ry + rh, rx:rx + rw]
        canvas[y:y + h, x:x + w] = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
        if frame == 1 and blur:
            angle = rng.uniform(0, np.pi)
            kernel = np.zeros((blur_len, blur_len), np.float32)
            c = (blur_len - 1) / 2
            d = np.array([np.cos(angle), np.sin(angle)]) * c
            p0, p1 = np.rint(c - d).astype(int), np.rint(c + d).astype(int)
            cv2.line(kernel, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 1.0)
            canvas = cv2.filter2D(canvas, -1, kernel / kernel.sum())
        return canvas, np.array([x, y, w, h], dtype=np.float64)

    def _appearance_change(self, rng: np.random.Generator) -> Optional[Dict[str, np.ndarray]]:
        """With probability APPEARANCE, how the target looks different in the search frame: the view (the cut
        moves by N(0, 0.08) of its size and rescales by e^N(0, 0.08) per axis), an in-plane rotation N(0, 12 deg)
        of its content, and its light (gain e^N(0, 0.15), offset N(0, 10), colour gains e^N(0, 0.05)). All draws
        are made whether or not the change applies, so both frames of a pair see the same random sequence."""
        draws = {"apply": rng.random() < self.appearance, "shift": rng.normal(0.0, 0.08, 2),
                 "zoom": np.exp(rng.normal(0.0, 0.08, 2)), "angle": rng.normal(0.0, 12.0),
                 "gain": np.exp(rng.normal(0.0, 0.15)), "offset": rng.normal(0.0, 10.0),
                 "colour": np.exp(rng.normal(0.0, 0.05, 3))}
        return draws if draws["apply"] else None

    @staticmethod
    def _changed_patch(image: np.ndarray, region: Tuple[int, int, int, int],
                       change: Dict[str, np.ndarray]) -> np.ndarray:
        """The target region (x, y, w, h) of ``image`` as seen after ``change`` -> (h, w, 3) uint8."""
        rx, ry, rw, rh = region
        cx = rx + (rw - 1) / 2 + change["shift"][0] * rw
        cy = ry + (rh - 1) / 2 + change["shift"][1] * rh
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(change["angle"]), 1.0)  # rotation about the centre
        m[:, :2] = m[:, :2] / change["zoom"][None, :]  # ... of a window zoomed per axis
        m[:, 2] = np.array([(rw - 1) / 2, (rh - 1) / 2]) - m[:, :2] @ np.array([cx, cy])  # centre -> patch centre
        patch = cv2.warpAffine(image, m, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        lit = patch.astype(np.float32) * (change["gain"] * change["colour"])[None, None, :] + change["offset"]
        return np.clip(lit, 0, 255).astype(np.uint8)

    def load(self, target: Target) -> Tuple[np.ndarray, np.ndarray]:
        """-> (511 crop (511, 511, 3) uint8 BGR centred on the target, box (4,) x1y1x2y2 in it)."""
        image, (x, y, w, h) = self.frame(target)
        center = (x + (w - 1) / 2, y + (h - 1) / 2)
        side = instance_context_size(w, h, self.context_amount, self.exemplar_size, self.instance_size)
        crop = get_subwindow(image, center, self.instance_size, round(side), image.mean(axis=(0, 1)))
        return crop, crop_box(crop.shape[:2], (w, h), self.exemplar_size, self.context_amount)
