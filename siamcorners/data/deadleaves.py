"""Procedural images with natural-image statistics: 1/f ("pink") noise and the dead-leaves model.

* ``power_law_noise``: a Gaussian random field whose power spectrum falls as ``1 / f**exponent`` (natural photos:
  exponent about 2, i.e. amplitude about 1/f).
* ``noise_image``: a colour image made of such fields (luminance at full resolution, smoother chroma).
* ``dead_leaves_image``: opaque discs and rotated rectangles ("leaves") of random colours, with a power-law size
  distribution ``p(r) ~ r**-alpha`` (alpha 3: scale invariant), falling on top of each other; a leaf may carry a
  1/f texture. Occlusion, sharp edges and scale invariance make its statistics close to those of natural images.

Pure functions of a ``numpy.random.Generator``: the same generator state gives the same image. Images are
(H, W, 3) uint8 BGR, like ``cv2.imread``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np

__all__ = ["power_law_noise", "noise_image", "dead_leaves_image", "power_law_radii"]


@lru_cache(maxsize=8)
def _log_frequency(shape: Tuple[int, int]) -> np.ndarray:
    """(H, W // 2 + 1) float32 log of the radial frequency (cycles / px) of an rfft2 half-spectrum; +inf at f = 0."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = np.inf
    log_f = np.log(f).astype(np.float32)
    log_f.setflags(write=False)
    return log_f


def power_law_noise(rng: np.random.Generator, shape: Tuple[int, int], exponent: float = 2.0) -> np.ndarray:
    """-> (H, W) float32 field, zero mean, unit standard deviation, power spectrum ~ 1 / f**exponent.

    The half-spectrum is drawn directly (complex Gaussian times the amplitude f**(-exponent / 2)), so one
    inverse FFT makes a field."""
    shape = (int(shape[0]), int(shape[1]))
    amplitude = np.exp(np.float32(-exponent / 2.0) * _log_frequency(shape))  # (H, W // 2 + 1), 0 at f = 0
    spectrum = rng.standard_normal(amplitude.shape + (2,), dtype=np.float32)  # (H, W // 2 + 1, 2): re, im
    spectrum *= amplitude[..., None]
    field = np.fft.irfft2(spectrum.view(np.complex64)[..., 0], s=shape).astype(np.float32)  # (H, W)
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def _random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) float32 colours in [0, 255]: uniform RGB pulled towards its grey by a random saturation."""
    colours = rng.uniform(0.0, 255.0, size=(n, 3)).astype(np.float32)
    grey = colours.mean(axis=1, keepdims=True)
    saturation = rng.uniform(0.0, 1.0, size=(n, 1)).astype(np.float32)
    return grey + saturation * (colours - grey)


def noise_image(rng: np.random.Generator, size: Tuple[int, int] = (512, 512), exponent: float = 2.0,
                chroma: float = 0.5) -> np.ndarray:
    """-> (H, W, 3) uint8 colour 1/f noise: a full-resolution luminance field plus two chroma fields made at a
    quarter of the resolution (colour varies more slowly than brightness in photos), scaled by up to ``chroma``."""
    h, w = int(size[0]), int(size[1])
    small = (max(8, h // 4), max(8, w // 4))
    fields = np.empty((h, w, 3), np.float32)  # luminance, chroma 1, chroma 2
    fields[..., 0] = power_law_noise(rng, (h, w), exponent)
    for k in (1, 2):
        fields[..., k] = cv2.resize(power_law_noise(rng, small, exponent), (w, h), interpolation=cv2.INTER_LINEAR)
    basis = rng.standard_normal((3, 3))
    basis[:, 0] = 1.0
    axes = np.linalg.qr(basis)[0][:, 1:].T  # (2, 3) random chroma axes, orthogonal to grey (1, 1, 1) and each other
    mix = np.vstack([np.ones(3), rng.uniform(0.0, chroma) * axes]) * rng.uniform(25.0, 55.0)  # (3, 3)
    colour = fields.reshape(-1, 3) @ mix.astype(np.float32) + rng.uniform(70.0, 185.0, size=3).astype(np.float32)
    return np.clip(colour, 0, 255).astype(np.uint8).reshape(h, w, 3)


def power_law_radii(rng: np.random.Generator, n: int, r_min: float, r_max: float, alpha: float = 3.0) -> np.ndarray:
    """(n,) radii drawn from p(r) ~ r**-alpha on [r_min, r_max] (inverse CDF; alpha != 1)."""
    u = rng.random(n)
    a = 1.0 - alpha
    return (r_min ** a + u * (r_max ** a - r_min ** a)) ** (1.0 / a)


@lru_cache(maxsize=4)
def _grid_index(h: int, w: int) -> np.ndarray:
    """(H, W) int32 flat index of pixel (y, x) in an image of width 2 W (the 2 x 2 tiled texture)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.int32)
    index = yy * (2 * w) + xx
    index.setflags(write=False)
    return index


def _mean_square(r_min: float, r_max: float, alpha: float) -> float:
    """E[r**2] for p(r) ~ r**-alpha on [r_min, r_max]."""
    def integral(p: float) -> float:  # integral of r**p over [r_min, r_max]
        return float(np.log(r_max / r_min)) if abs(p + 1) < 1e-9 else (r_max ** (p + 1) - r_min ** (p + 1)) / (p + 1)
    return integral(2.0 - alpha) / integral(-alpha)


def dead_leaves_image(rng: np.random.Generator, size: Tuple[int, int] = (512, 512), r_min: float = 4.0,
                      r_max: float | None = None, alpha: float = 3.0, coverage: float = 4.0,
                      max_leaves: int = 6000, rect_prob: float = 0.4, texture_prob: float = 0.5,
                      blur_max: float = 1.0) -> np.ndarray:
    """-> (H, W, 3) uint8 dead-leaves image.

    Leaves (discs, or rotated rectangles with probability ``rect_prob``) of radius ~ r**-alpha on [r_min, r_max]
    (default r_max: half the shorter side) are painted back to front until the expected number of leaves over a
    pixel is ``coverage`` (at most ``max_leaves``); the background is one more leaf. A leaf is textured with
    probability ``texture_prob``: its colour is modulated by a window of a 1/f field at a random offset. The
    image is finally blurred with a Gaussian of sigma U(0, ``blur_max``) px (camera optics)."""
    h, w = int(size[0]), int(size[1])
    r_max = float(r_max if r_max is not None else min(h, w) / 2)
    area = 1.44 * h * w  # leaf centres fall in the image widened by 10 % on each side
    n = int(min(max_leaves, np.ceil(coverage * area / (np.pi * _mean_square(r_min, r_max, alpha)))))
    radii = power_law_radii(rng, n, r_min, r_max, alpha)
    centres = rng.uniform((-0.1 * w, -0.1 * h), (1.1 * w, 1.1 * h), size=(n, 2))
    is_rect = rng.random(n) < rect_prob
    angles = rng.uniform(0.0, np.pi, n)
    aspects = np.exp(rng.uniform(-0.8, 0.8, n))
    half = np.stack([radii * np.sqrt(aspects), radii / np.sqrt(aspects)], 1)  # (n, 2) rectangle half sides
    cos, sin = np.cos(angles), np.sin(angles)
    unit = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)  # (4, 2)
    local = unit[None] * half[:, None, :]  # (n, 4, 2)
    corners = np.stack([local[..., 0] * cos[:, None] - local[..., 1] * sin[:, None],
                        local[..., 0] * sin[:, None] + local[..., 1] * cos[:, None]], -1) + centres[:, None, :]
    shift = 4  # sub-pixel bits for cv2 drawing
    corners_fixed = np.rint(corners * (1 << shift)).astype(np.int32)  # (n, 4, 2)
    centres_fixed = np.rint(centres * (1 << shift)).astype(np.int64).tolist()
    radii_fixed = np.maximum(np.rint(radii * (1 << shift)), 1).astype(np.int64).tolist()

    label = np.zeros((h, w), np.int32)  # 0: background, leaf i: i + 1
    for i in range(n):
        if is_rect[i]:
            cv2.fillConvexPoly(label, corners_fixed[i], i + 1, lineType=cv2.LINE_8, shift=shift)
        else:
            cv2.circle(label, tuple(centres_fixed[i]), radii_fixed[i], i + 1, thickness=-1, lineType=cv2.LINE_8,
                       shift=shift)

    texture = power_law_noise(rng, (h, w), rng.uniform(1.0, 2.5))  # (H, W)
    tiled = np.tile(texture, (2, 2)).ravel()  # (2H * 2W,): a window at any offset needs no wrap-around
    colours = _random_colours(rng, n + 1)  # (n + 1, 3); label 0, the background, is one more (huge) leaf
    amplitude = np.where(rng.random(n + 1) < texture_prob, rng.uniform(0.1, 0.45, n + 1), 0.0).astype(np.float32)
    offsets = (rng.integers(0, h, n + 1) * (2 * w) + rng.integers(0, w, n + 1)).astype(np.int32)  # (n + 1,)
    shade = 1.0 + amplitude[label] * tiled[_grid_index(h, w) + offsets[label]]  # (H, W)
    image = colours[label]  # (H, W, 3)
    image *= shade[..., None]
    sigma = rng.uniform(0.0, blur_max)
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    return np.clip(image, 0, 255).astype(np.uint8)
