"""Frames as the third-party toolkits hand them over -> the (H, W, 3) uint8 BGR arrays the tracker takes.

got10k passes PIL images converted to RGB (``Tracker.track``), or file paths (``ExperimentVOT(read_image=False)``);
grayscale ('L'), palette ('P') and RGBA images are converted to RGB first, as ``Tracker.track`` does.
Numpy arrays are taken as RGB (the got10k convention), 2-D arrays as grayscale.
"""
from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

__all__ = ["to_bgr", "bgr_to_pil"]


def to_bgr(image: Any) -> np.ndarray:
    """PIL image / image path / RGB or grayscale uint8 array -> contiguous (H, W, 3) uint8 BGR array."""
    if isinstance(image, (str, os.PathLike)):
        frame = cv2.imread(os.fspath(image), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"{os.fspath(image)}: frame missing or not a readable image")
        return frame                                           # (H, W, 3) BGR
    if not isinstance(image, np.ndarray):
        mode = getattr(image, "mode", None)
        if mode is None:
            raise TypeError(f"expected a PIL image, an image path or a uint8 array, got {type(image).__name__}")
        if mode != "RGB":
            image = image.convert("RGB")
        image = np.asarray(image)                              # (H, W, 3) RGB
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype} with shape {image.shape}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.ascontiguousarray(np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2))
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    return np.ascontiguousarray(image[:, :, 2::-1])            # RGB(A) -> BGR


def bgr_to_pil(frame: np.ndarray):
    """(H, W, 3) uint8 BGR (or (H, W) grayscale) -> PIL RGB image."""
    from PIL import Image

    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        frame = np.repeat(frame.reshape(frame.shape[0], frame.shape[1], 1), 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(frame[:, :, 2::-1]))   # (H, W, 3) RGB
