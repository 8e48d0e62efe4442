"""A folder of procedural still images (dead leaves and 1/f noise, ``deadleaves.py``) for a stills training source.

Layout::

    {out}/GENERATOR.json                # what made the folder: version, seed, size, noise fraction, quality, count
    {out}/deadleaves_000000.jpg, {out}/noise_000001.jpg, ...   # image i, kind in its name

Image ``i`` is drawn from ``numpy.random.default_rng([seed, i])`` alone, so it is the same in any run and for any
count: a rerun (after an interruption, or with a larger count) writes only the missing images. Each image is
written to a temporary file and renamed. The folder must be new, empty, or one this module wrote with the same
settings; nothing else in it is touched, nothing is deleted.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from siamcorners.data.deadleaves import dead_leaves_image, noise_image

__all__ = ["MANIFEST", "VERSION", "image_name", "render", "write_procedural_stills"]

MANIFEST = "GENERATOR.json"
VERSION = 1  # bump when an image's pixels for the same settings change


def _kind(rng: np.random.Generator, noise_fraction: float) -> str:
    return "noise" if rng.random() < noise_fraction else "deadleaves"


def image_name(seed: int, index: int, noise_fraction: float) -> str:
    """File name of image ``index`` (its kind is the first draw of its generator)."""
    return f"{_kind(np.random.default_rng([seed, index]), noise_fraction)}_{index:06d}.jpg"


def render(seed: int, index: int, size: int, noise_fraction: float) -> Tuple[str, np.ndarray]:
    """-> (file name, (size, size, 3) uint8 BGR image) of image ``index``: 1/f colour noise (spectral exponent
    U(1.6, 2.4)) with probability ``noise_fraction``, else a dead-leaves image."""
    rng = np.random.default_rng([seed, index])
    kind = _kind(rng, noise_fraction)
    if kind == "noise":
        image = noise_image(rng, (size, size), exponent=rng.uniform(1.6, 2.4))
    else:
        image = dead_leaves_image(rng, (size, size))
    return f"{kind}_{index:06d}.jpg", image


def _settings(seed: int, size: int, noise_fraction: float, quality: int) -> Dict[str, object]:
    return {"generator": "siamcorners.data.procedural_stills", "version": VERSION, "seed": int(seed),
            "size": int(size), "noise_fraction": float(noise_fraction), "quality": int(quality)}


def _check_folder(out_dir: str, settings: Dict[str, object], count: int) -> None:
    """A one-line error unless ``out_dir`` is new, empty, or ours with the same settings and at most ``count``
    images."""
    if not os.path.exists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise NotADirectoryError(f"{out_dir}: not a folder")
    manifest = os.path.join(out_dir, MANIFEST)
    if not os.path.isfile(manifest):
        if os.listdir(out_dir):
            raise FileExistsError(f"{out_dir}: folder is not empty and has no {MANIFEST} (not made by this tool); "
                                  f"choose a new or empty folder")
        return
    try:
        with open(manifest, encoding="utf-8") as f:
            old = json.load(f)
        old_count = int(old["count"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{manifest}: unreadable ({type(e).__name__}: {e}); choose a new folder") from None
    differ = [f"{k} {old.get(k)!r} (asked {v!r})" for k, v in settings.items() if old.get(k) != v]
    if differ:
        raise ValueError(f"{out_dir} holds images made with other settings: {', '.join(differ)}; "
                         f"choose a new folder or the same settings")
    if count < old_count:
        raise ValueError(f"{out_dir} holds {old_count} images; count {count} would leave some of them unlisted: "
                         f"ask for at least {old_count} or choose a new folder")


def _write_json_atomic(path: str, data: Dict[str, object]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def write_procedural_stills(out_dir: str, count: int, seed: int = 0, size: int = 512, noise_fraction: float = 0.25,
                            quality: int = 92, progress: Optional[Callable[[int], None]] = None) -> List[str]:
    """Write images ``0 .. count - 1`` that ``out_dir`` lacks; returns the paths written by this call.
    ``progress(i)`` is called after each image index (written or already there)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if size < 64:
        raise ValueError(f"size must be >= 64 px, got {size}")
    if not 0.0 <= noise_fraction <= 1.0:
        raise ValueError(f"noise fraction must be in [0, 1], got {noise_fraction}")
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in [1, 100], got {quality}")
    settings = _settings(seed, size, noise_fraction, quality)
    _check_folder(out_dir, settings, count)
    os.makedirs(out_dir, exist_ok=True)
    _write_json_atomic(os.path.join(out_dir, MANIFEST), {**settings, "count": int(count)})
    written = []
    for index in range(count):
        path = os.path.join(out_dir, image_name(seed, index, noise_fraction))
        if not os.path.isfile(path):
            name, image = render(seed, index, size, noise_fraction)
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            if not ok:
                raise OSError(f"{path}: JPEG encoding failed")
            with open(path + ".tmp", "wb") as f:
                f.write(data.tobytes())
            os.replace(path + ".tmp", path)
            written.append(path)
        if progress is not None:
            progress(index)
    return written
