"""Training augmentation of one 511 crop into a template (127) or search (255) image.

Order (official, reference section 4.2): gray -> shift/scale crop (``cv2.warpAffine``, black border) ->
PCA colour offset -> [brightness/contrast, paper profile] -> motion blur -> horizontal flip.
Every random draw comes from the ``numpy.random.Generator`` passed in, so a sample is a pure function
of its generator's seed (the same in every DataLoader worker).
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

__all__ = ["Augmentation", "PCA_RGB_VAR", "shift_scale_crop", "motion_blur_kernel"]

# principal components of ImageNet RGB pixel colours, scaled by their eigenvalues (pysot's rgbVar)
PCA_RGB_VAR = np.array([[-0.55919361, 0.98062831, -0.41940627],
                        [1.72091413, 0.19879334, -1.82968581],
                        [4.64467907, 4.73710203, 4.88324118]], dtype=np.float32)

_BLUR_SIZES = np.arange(5, 46, 2)


def _uniform(rng: np.random.Generator) -> float:
    return float(rng.random() * 2.0 - 1.0)


def shift_scale_crop(image: np.ndarray, box: np.ndarray, size: int, shift: float, scale: float,
                     rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Cut a ``size x size`` crop around the image centre, randomly rescaled (per axis, by 1 +- ``scale``)
    and shifted (by +- ``shift`` px, kept inside the image); returns the crop and ``box`` (x1, y1, x2, y2)
    mapped into it."""
    im_h, im_w = image.shape[:2]
    cx, cy = im_w // 2, im_h // 2
    crop_w = crop_h = float(size - 1)
    sx_scale = sy_scale = 1.0
    if scale:
        sx_scale = min(1.0 + _uniform(rng) * scale, im_w / crop_w)
        sy_scale = min(1.0 + _uniform(rng) * scale, im_h / crop_h)
        crop_w, crop_h = crop_w * sx_scale, crop_h * sy_scale
    x1, y1 = cx - crop_w * 0.5, cy - crop_h * 0.5
    x2, y2 = cx + crop_w * 0.5, cy + crop_h * 0.5
    if shift:
        dx = _uniform(rng) * shift
        dy = _uniform(rng) * shift
        dx = max(-x1, min(im_w - 1 - x2, dx))
        dy = max(-y1, min(im_h - 1 - y2, dy))
        x1, x2, y1, y2 = x1 + dx, x2 + dx, y1 + dy, y2 + dy
    box = np.asarray(box, dtype=np.float64)
    out_box = (box - np.array([x1, y1, x1, y1])) / np.array([sx_scale, sy_scale, sx_scale, sy_scale])
    a = (size - 1) / (x2 - x1)
    b = (size - 1) / (y2 - y1)
    mapping = np.array([[a, 0.0, -a * x1], [0.0, b, -b * y1]], dtype=np.float64)
    crop = cv2.warpAffine(image, mapping, (size, size), borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, out_box


def motion_blur_kernel(rng: np.random.Generator) -> np.ndarray:
    """Random odd k in 5..45 and weight w ~ U(0, 1): w/k on the centre column plus (1-w)/k on the centre row."""
    k = int(rng.choice(_BLUR_SIZES))
    w = float(rng.random())
    kernel = np.zeros((k, k), dtype=np.float32)
    c = k // 2
    kernel[:, c] += w / k
    kernel[c, :] += (1.0 - w) / k
    return kernel


class Augmentation:
    """Shift/scale crop plus photometric and flip augmentation, each switched by its probability/amount.

    ``shift`` px, ``scale`` fraction, ``blur`` / ``flip`` / ``color`` probabilities; ``brightness`` (fraction
    of 255) and ``contrast`` (fraction) jitter amplitudes, 0 = off (the paper lists them, the official code
    never applies them).
    """

    def __init__(self, shift: float = 0.0, scale: float = 0.0, blur: float = 0.0, flip: float = 0.0,
                 color: float = 0.0, brightness: float = 0.0, contrast: float = 0.0):
        self.shift, self.scale = float(shift), float(scale)
        self.blur, self.flip, self.color = float(blur), float(flip), float(color)
        self.brightness, self.contrast = float(brightness), float(contrast)

    def __repr__(self) -> str:
        return (f"Augmentation(shift={self.shift}, scale={self.scale}, blur={self.blur}, flip={self.flip}, "
                f"color={self.color}, brightness={self.brightness}, contrast={self.contrast})")

    def __call__(self, image: np.ndarray, box, size: int, rng: np.random.Generator,
                 gray: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """``image`` (H, W, 3) uint8 BGR with the target ``box`` (x1, y1, x2, y2) ->
        ((size, size, 3) float32 BGR, box (4,) float64 in the output's pixels)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"augmentation expects an (H, W, 3) BGR image, got shape {image.shape}")
        if gray:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        crop, box = shift_scale_crop(image, box, size, self.shift, self.scale, rng)
        out = crop.astype(np.float32)
        if self.color > rng.random():
            offset = PCA_RGB_VAR @ rng.standard_normal(3).astype(np.float32)  # (3,) RGB
            out -= offset[::-1]  # BGR order
        if self.brightness or self.contrast:
            out = self._brightness_contrast(out, rng)
        if self.blur > rng.random():
            out = cv2.filter2D(out, -1, motion_blur_kernel(rng))
        if self.flip and self.flip > rng.random():
            out = np.ascontiguousarray(out[:, ::-1])
            width = out.shape[1]
            box = np.array([width - 1 - box[2], box[1], width - 1 - box[0], box[3]])
        return out, box

    def _brightness_contrast(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Contrast: scale about the image mean by 1 +- contrast; brightness: add +- brightness * 255."""
        alpha = 1.0 + _uniform(rng) * self.contrast
        beta = _uniform(rng) * self.brightness * 255.0
        mean = float(image.mean())
        return ((image - mean) * alpha + mean + beta).astype(np.float32)
