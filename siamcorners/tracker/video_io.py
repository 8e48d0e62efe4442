"""Running a tracker over a frame source with visible output: box drawing, video / GIF writers, an optional
window, mouse box selection, and the loop that ties them together (used by ``tools/demo.py``).

Usage::

    with open_source("video.mp4") as frames, AnnotatedWriter("out.mp4", gif_path="out.gif", fps=frames.fps) as w:
        run = track_frames(tracker, frames, init_box=[x, y, w, h], writer=w)
    print(run.fps)
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

__all__ = ["parse_box", "draw_track", "AnnotatedWriter", "display_available", "select_box", "Viewer",
           "TrackRun", "track_frames"]

PRED_COLOR = (0, 215, 255)     # BGR amber: tracker output
GT_COLOR = (0, 200, 0)         # BGR green: ground truth, when known


def parse_box(text: str) -> list[float]:
    """``"x,y,w,h"`` (commas or spaces) -> 4 floats; ValueError with the offending text otherwise."""
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        box = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"box must be 4 numbers 'x,y,w,h', got {text!r}") from None
    if len(box) != 4 or not all(np.isfinite(box)):
        raise ValueError(f"box must be 4 finite numbers 'x,y,w,h', got {text!r}")
    return box


def _rect(box: Sequence[float]) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y, w, h = (float(v) for v in box)
    return (int(round(x)), int(round(y))), (int(round(x + w)) - 1, int(round(y + h)) - 1)


def draw_track(frame: np.ndarray, box: Sequence[float] | None, score: float | None = None,
               gt: Sequence[float] | None = None, text: str | None = None, legend: bool = False) -> np.ndarray:
    """A BGR copy of ``frame`` with the tracker box (amber), the ground truth (green, when given) and a
    caption (``text`` and the score); with ``legend`` a key in the bottom-left corner says which colour is the
    prediction and which the ground truth. The input frame is never modified."""
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    thick = max(1, int(round(min(out.shape[:2]) / 240)))
    if gt is not None and np.all(np.isfinite(gt)) and gt[2] > 0 and gt[3] > 0:
        cv2.rectangle(out, *_rect(gt), GT_COLOR, thick, cv2.LINE_AA)
    if box is not None and np.all(np.isfinite(box)):
        cv2.rectangle(out, *_rect(box), PRED_COLOR, thick + 1, cv2.LINE_AA)
    caption = " ".join(s for s in (text, None if score is None else f"score {score:.2f}") if s)
    if caption:
        scale = 0.4 * thick
        (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(out, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
        cv2.putText(out, caption, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    if legend:
        _draw_legend(out, [("prediction", PRED_COLOR)] + ([("ground truth", GT_COLOR)] if gt is not None else []),
                     0.4 * thick)
    return out


def _draw_legend(out: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]], scale: float) -> None:
    """A colour swatch and a label per entry, stacked upwards from the bottom-left corner (drawn in place)."""
    y = out.shape[0] - 4
    for label, color in reversed(entries):
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = y - th - base - 2
        cv2.rectangle(out, (0, top), (th + tw + 10, y + 2), (0, 0, 0), -1)
        cv2.rectangle(out, (3, top + 2), (3 + th, top + 2 + th), color, -1)
        cv2.putText(out, label, (th + 7, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        y = top - 1


def _gif_palette(frames: Sequence[np.ndarray]):
    """One 256-colour palette (a Pillow "P" image) for a GIF's RGB frames: median cut over up to 8 frames spread
    over the video, plus a strip of the box colours so the prediction and ground truth keep their exact colours."""
    from PIL import Image

    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int)]
    w = max(f.shape[1] for f in picks)
    rows = [np.pad(f, ((0, 0), (0, w - f.shape[1]), (0, 0))) for f in picks]
    for bgr in (PRED_COLOR, GT_COLOR):  # (h, w, 3) RGB strips
        rows.append(np.full((max(8, picks[0].shape[0] // 8), w, 3), bgr[::-1], np.uint8))
    return Image.fromarray(np.concatenate(rows)).quantize(colors=256, method=Image.Quantize.MEDIANCUT)


class AnnotatedWriter:
    """Writes frames to an MP4 (OpenCV ``mp4v``) and/or an animated GIF (Pillow).

    Files appear atomically when the writer is closed: frames go to a temporary file beside the target,
    which is renamed on :meth:`close`; an error inside a ``with`` block discards them (Ctrl-C keeps
    what was written). The GIF is kept small (bag.avi, 196 frames of 480x360 at 25 fps: 4.7 MB instead of 22 MB): frames
    downscaled to ``gif_max_side`` pixels, every k-th frame so it plays at most ``gif_max_fps`` (at the video's
    speed), one 256-colour palette for all frames without dithering (unchanged pixels stay equal from frame to
    frame, which GIF compresses well), at most ``gif_max_frames`` frames.
    """

    def __init__(self, video_path: str | None = None, gif_path: str | None = None, fps: float = 30.0,
                 gif_max_side: int = 320, gif_max_frames: int = 600, gif_max_fps: float = 12.5):
        if not video_path and not gif_path:
            raise ValueError("AnnotatedWriter needs a video path, a GIF path, or both")
        if gif_path:
            try:
                from PIL import Image  # noqa: F401  (Pillow comes with matplotlib)
            except ImportError:
                raise ValueError(f"{gif_path}: GIF output needs Pillow (pip install pillow)") from None
        for path in (video_path, gif_path):
            folder = os.path.dirname(os.path.abspath(path)) if path else None
            if folder and not os.path.isdir(folder):
                raise ValueError(f"{path}: output folder {folder} does not exist")
        self.video_path, self.gif_path = video_path, gif_path
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.gif_max_side, self.gif_max_frames = int(gif_max_side), int(gif_max_frames)
        self.gif_step = max(1, math.ceil(self.fps / gif_max_fps - 1e-9))  # keep every gif_step-th frame
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # (W, H)
        self._tmp_video: str | None = None
        self._gif_frames: list[np.ndarray] = []
        self._gif_truncated = False
        self._closed = False

    def _tmp_name(self, path: str) -> str:
        folder, base = os.path.split(os.path.abspath(path))
        stem, ext = os.path.splitext(base)
        return os.path.join(folder, f".{stem}.tmp{os.getpid()}{ext}")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame; all frames must have the first frame's size."""
        if self._closed:
            raise ValueError("AnnotatedWriter is closed")
        h, w = frame.shape[:2]
        if self._size is None:
            self._size = (w, h)
            if self.video_path:
                self._tmp_video = self._tmp_name(self.video_path)
                self._writer = cv2.VideoWriter(self._tmp_video, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                if not self._writer.isOpened():
                    self._writer = None
                    raise OSError(f"{self.video_path}: OpenCV cannot create a video with codec mp4v "
                                  f"(try a .mp4 or .avi name)")
        elif (w, h) != self._size:
            raise ValueError(f"frame {self.frames_written}: size {w}x{h} differs from the first frame's "
                             f"{self._size[0]}x{self._size[1]}")
        if self._writer is not None:
            self._writer.write(np.ascontiguousarray(frame))
        if self.gif_path and self.frames_written % self.gif_step == 0:
            if len(self._gif_frames) < self.gif_max_frames:
                scale = min(1.0, self.gif_max_side / max(h, w))
                small = frame if scale == 1.0 else cv2.resize(frame, (max(1, round(w * scale)),
                                                                      max(1, round(h * scale))),
                                                              interpolation=cv2.INTER_AREA)
                self._gif_frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
            elif not self._gif_truncated:
                self._gif_truncated = True
                warnings.warn(f"{self.gif_path}: GIF limited to its first {self.gif_max_frames} frames",
                              stacklevel=2)
        self.frames_written += 1

    def close(self, discard: bool = False) -> None:
        """Finish the files (rename the temporary video, encode the GIF); ``discard`` drops them instead."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.release()
        if self._tmp_video and os.path.exists(self._tmp_video):
            if discard or self.frames_written == 0:
                os.remove(self._tmp_video)
            else:
                os.replace(self._tmp_video, self.video_path)
        if self.gif_path and self._gif_frames and not discard:
            from PIL import Image

            palette = _gif_palette(self._gif_frames)
            images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
                      for f in self._gif_frames]
            tmp = self._tmp_name(self.gif_path)
            try:
                images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0,
                               duration=max(20, int(round(1000 * self.gif_step / self.fps))))
                os.replace(tmp, self.gif_path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        self._gif_frames = []

    def __enter__(self) -> "AnnotatedWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(discard=exc_type is not None and not issubclass(exc_type, KeyboardInterrupt))


def display_available() -> bool:
    """True when OpenCV can open a window here (a GUI build of OpenCV and, on Linux, a display)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow("siamcorners", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("siamcorners")
        return True
    except cv2.error:
        return False


def select_box(frame: np.ndarray, window: str = "select the target, then press ENTER") -> list[float]:
    """Let the user draw the initial box with the mouse (``cv2.selectROI``); RuntimeError without a display
    or when the selection is cancelled / empty."""
    if not display_available():
        raise RuntimeError("no display available to draw the initial box: pass it as --init x,y,w,h")
    x, y, w, h = cv2.selectROI(window, frame, showCrosshair=True, fromCenter=False)
    cv2.destroyWindow(window)
    if w <= 0 or h <= 0:
        raise RuntimeError("no box selected (selection cancelled or empty): draw a box or pass --init x,y,w,h")
    return [float(x), float(y), float(w), float(h)]


class Viewer:
    """A window showing the annotated frames; ``show`` returns False when the user presses q or Esc."""

    def __init__(self, title: str = "SiamCorners"):
        if not display_available():
            raise RuntimeError("no display available: --show needs a desktop session and an OpenCV build "
                               "with GUI support (opencv-python, not opencv-python-headless)")
        self.title = title

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(self.title, frame)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        cv2.destroyWindow(self.title)


@dataclass
class TrackRun:
    """Result of :func:`track_frames`."""

    boxes: np.ndarray        # (N, 4) x, y, w, h per frame (frame 0: the init box)
    scores: np.ndarray       # (N,) tracker score (frame 0: 1.0)
    tracker_seconds: float   # time spent in init + track
    total_seconds: float     # wall time of the whole loop (reading, drawing, writing included)

    @property
    def fps(self) -> float:
        """Tracker speed: frames per second of init + track calls (pysot convention)."""
        return len(self.boxes) / self.tracker_seconds if self.tracker_seconds > 0 else float("inf")

    @property
    def overall_fps(self) -> float:
        return len(self.boxes) / self.total_seconds if self.total_seconds > 0 else float("inf")


def track_frames(tracker: Any, frames: Iterable[np.ndarray], init_box: Sequence[float] | None,
                 writer: AnnotatedWriter | None = None, viewer: Viewer | None = None,
                 gt: np.ndarray | None = None, max_frames: int | None = None) -> TrackRun:
    """Initialise ``tracker`` on the first frame (with ``init_box``, or a mouse-drawn box when it is None),
    track the rest, and draw / write / show each annotated frame. ``gt`` (N, 4), when known, is drawn too.
    Stops at ``max_frames`` frames or when the viewer is closed."""
    boxes, scores = [], []
    spent = 0.0
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        if max_frames is not None and i >= max_frames:
            break
        if i == 0:
            box = list(init_box) if init_box is not None else select_box(frame)
            t0 = time.perf_counter()
            tracker.init(frame, box)
            spent += time.perf_counter() - t0
            score = 1.0
        else:
            t0 = time.perf_counter()
            out = tracker.track(frame)
            spent += time.perf_counter() - t0
            box, score = [float(v) for v in out["bbox"]], float(out["score"])
        boxes.append(box)
        scores.append(score)
        if writer is not None or viewer is not None:
            gt_box = gt[i] if gt is not None and i < len(gt) else None
            shown = draw_track(frame, box, None if i == 0 else score, gt_box, text=f"#{i + 1}",
                               legend=True)
            if writer is not None:
                writer.write(shown)
            if viewer is not None and not viewer.show(shown):
                break
    if not boxes:
        raise ValueError("the frame source yielded no frames")
    return TrackRun(np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(scores, dtype=np.float64),
                    spent, time.perf_counter() - start)
