"""Frame sources for running a tracker: a video file, a folder of images, or a camera.

Usage::

    with open_source("video.mp4") as frames:      # or "path/to/img_folder", or 0 / "0" for a webcam
        for frame in frames:                      # (H, W, 3) uint8 BGR
            ...

Every source yields 3-channel BGR uint8 frames (grayscale images are expanded) and reports ``name``,
``fps`` and ``num_frames`` (None when unknown: cameras, some video containers). Problems are reported
as :class:`FrameSourceError` naming the path: a missing path, a file OpenCV cannot decode, a folder
without images, an unreadable image inside a folder, a camera that cannot be opened.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Iterable, Iterator

import cv2
import numpy as np

__all__ = ["FrameSourceError", "FrameSource", "VideoFileSource", "ImageFolderSource", "CameraSource",
           "IterableSource", "IMAGE_EXTENSIONS", "list_image_files", "open_source", "groundtruth_init_box",
           "groundtruth_boxes", "groundtruth_file",
           "read_image", "jpeg_is_truncated"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class FrameSourceError(ValueError):
    """A frame source cannot be opened or read; the message names the path or camera."""


_WARNED_TRUNCATED: set[str] = set()


def jpeg_is_truncated(path: str) -> bool:
    """True for a ``.jpg`` / ``.jpeg`` file without its end-of-image marker in the last bytes (a cut copy:
    libjpeg decodes it with a grey lower part and prints a warning that does not name the file)."""
    if not path.lower().endswith((".jpg", ".jpeg")):
        return False
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64))
            tail = f.read()
    except OSError:
        return False
    return b"\xff\xd9" not in tail


def read_image(path: str) -> np.ndarray | None:
    """``cv2.imread(path, IMREAD_COLOR)``, warning once per file (naming it) when a JPEG is truncated but decodes
    (a file that does not decode at all is the caller's error, without the warning)."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is not None and path not in _WARNED_TRUNCATED and jpeg_is_truncated(path):
        _WARNED_TRUNCATED.add(path)
        print(f"warning: {path}: truncated JPEG (no end-of-image marker); its missing part decodes as grey",
              file=sys.stderr)
    return image


class FrameSource:
    """Iterable of (H, W, 3) uint8 BGR frames; use as a context manager to release the device or file."""

    name: str = ""
    fps: float = 30.0
    num_frames: int | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying file or device (idempotent)."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CaptureSource(FrameSource):
    """Shared reading loop of video files and cameras (``cv2.VideoCapture``)."""

    def __init__(self, capture: cv2.VideoCapture, what: str):
        self._cap = capture
        self._what = what
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise FrameSourceError(f"{what}: opened but no frame could be read (empty, truncated or not a video "
                                   f"OpenCV can decode)")
        self._first: np.ndarray | None = first
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if np.isfinite(fps) and 1.0 <= fps <= 240.0 else 30.0
        self.frame_size = (first.shape[0], first.shape[1])  # (H, W)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._cap is None:
            raise FrameSourceError(f"{self._what}: source already closed")
        if self._first is not None:
            first, self._first = self._first, None
            yield _as_bgr(first)
        while self._cap is not None:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return
            yield _as_bgr(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _is_text_file(path: str) -> bool:
    """The file starts with 4 KiB of UTF-8 text without NUL bytes (no video container does; y4m's text header is
    followed by raw frames and recognised by its signature)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if not head or b"\0" in head or head.startswith(b"YUV4MPEG2"):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # only a character cut at the 4 KiB boundary
    return True


class VideoFileSource(_CaptureSource):
    """Frames of a video file, in order; single pass."""

    def __init__(self, path: str):
        if not os.path.isfile(path):
            raise FrameSourceError(f"{path}: video file not found")
        if _is_text_file(path):  # FFmpeg's tty demuxer "plays" any text file as frames of characters
            raise FrameSourceError(f"{path}: a text file, not a video (give a video file, an image folder or a "
                                   f"camera index)")
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            cap.release()
            raise FrameSourceError(f"{path}: cannot open as a video (unknown format or not a video file)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        super().__init__(cap, path)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.num_frames = count if count > 0 else None


class CameraSource(_CaptureSource):
    """Live frames of camera ``index`` (endless; stop iterating to end)."""

    def __init__(self, index: int):
        cap = cv2.VideoCapture(int(index))
        if not cap.isOpened():
            cap.release()
            raise FrameSourceError(f"camera {index}: cannot open (no camera with this index, or no access)")
        super().__init__(cap, f"camera {index}")
        self.name = f"camera{index}"


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_image_files(folder: str) -> list[str]:
    """Image files of ``folder`` in natural order (``2.jpg`` before ``10.jpg``); no sub-folders."""
    names = [n for n in os.listdir(folder)
             if n.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, n))]
    return [os.path.join(folder, n) for n in sorted(names, key=_natural_key)]


class ImageFolderSource(FrameSource):
    """The images of a folder in natural order; an OTB sequence folder (with ``img/``) is accepted too."""

    def __init__(self, folder: str, fps: float = 30.0):
        if not os.path.isdir(folder):
            raise FrameSourceError(f"{folder}: image folder not found")
        files = list_image_files(folder)
        if not files and os.path.isdir(os.path.join(folder, "img")):
            files = list_image_files(os.path.join(folder, "img"))
        if not files:
            raise FrameSourceError(f"{folder}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        self.folder = folder
        self.files = files
        self.name = os.path.basename(os.path.normpath(folder))
        self.num_frames = len(files)
        self.fps = float(fps)

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.files:
            image = read_image(path)
            if image is None:
                raise FrameSourceError(f"{path}: not a readable image")
            yield image


class IterableSource(FrameSource):
    """Wrap in-memory frames (a list, a generator, a ``SyntheticVideo``) as a source."""

    def __init__(self, frames: Iterable[np.ndarray], name: str = "frames", fps: float = 30.0,
                 num_frames: int | None = None):
        self._frames = frames
        self.name = name
        self.fps = float(fps)
        self.num_frames = num_frames if num_frames is not None else (
            len(frames) if hasattr(frames, "__len__") else None)

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self._frames:
            yield _as_bgr(frame)


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR view or copy of a frame ((H, W) and (H, W, 1) grayscale are expanded)."""
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def open_source(source: str | int) -> FrameSource:
    """A camera (int or digit string), an image folder, or a video file, chosen by what ``source`` is."""
    if isinstance(source, (int, np.integer)) or (isinstance(source, str) and source.strip().isdigit()
                                                  and not os.path.exists(source)):
        return CameraSource(int(source))
    source = os.path.expanduser(str(source))
    if os.path.isdir(source):
        return ImageFolderSource(source)
    if os.path.isfile(source):
        return VideoFileSource(source)
    raise FrameSourceError(f"{source}: no such video file, image folder or camera index")


def groundtruth_file(source: str | int) -> str | None:
    """``groundtruth_rect.txt`` of an OTB sequence folder (or beside an ``img/`` folder given directly); None when
    the source has no such file."""
    if not isinstance(source, str) or not os.path.isdir(source):
        return None
    folder = os.path.normpath(source)
    for candidate in (folder, os.path.dirname(folder)):
        path = os.path.join(candidate, "groundtruth_rect.txt")
        if candidate and os.path.isfile(path) and (candidate == folder or os.path.basename(folder) == "img"):
            return path
    return None


def _box_row(path: str, lineno: int, line: str) -> list[float]:
    fields = re.split(r"\s*,\s*|\s+", line.strip().lstrip("\ufeff"))  # the ground-truth rule of benchmarks/textio.py
    try:
        box = [float(v) for v in fields]
    except ValueError:
        raise FrameSourceError(f"{path}:{lineno}: expected 4 numbers 'x,y,w,h', got {line.strip()!r}") from None
    if len(box) != 4:
        raise FrameSourceError(f"{path}:{lineno}: expected 4 numbers 'x,y,w,h', got {line.strip()!r}")
    return box


def groundtruth_init_box(source: str | int) -> list[float] | None:
    """First ``x, y, w, h`` row of ``groundtruth_rect.txt`` in an OTB sequence folder (or beside an ``img/``
    folder given directly); None when the source has no such file."""
    path = groundtruth_file(source)
    if path is None:
        return None
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if not first.strip().lstrip("\ufeff"):
        raise FrameSourceError(f"{path}:1: blank first line; expected the first frame's box 'x,y,w,h'")
    return _box_row(path, 1, first)


def groundtruth_boxes(source: str | int) -> np.ndarray | None:
    """Every ``x, y, w, h`` row of an OTB sequence folder's ``groundtruth_rect.txt`` -> (N, 4) float64 (NaN
    allowed); None when the source has none. A malformed row is an error naming the file and line."""
    path = groundtruth_file(source)
    if path is None:
        return None
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return np.asarray([_box_row(path, i, line) for i, line in enumerate(lines, 1)], dtype=np.float64).reshape(-1, 4)
