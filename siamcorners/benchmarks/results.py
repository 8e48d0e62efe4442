"""Tracker result files: layouts, atomic writing, reading, submission zips.

Layouts under ``<results>/<dataset>/<tracker>/`` (eval-reference.md section 5):

* OPE datasets and TrackingNet: ``<video>.txt`` (one ``x,y,w,h`` line per frame, frame 0 included),
  times in ``times/<video>_time.txt``;
* GOT-10k: ``<video>/<video>_001.txt`` and ``<video>/<video>_time.txt`` (seconds per frame, ``%.8f``).

A video is complete when its box file exists: every file is written atomically and the box file last.
"""
from __future__ import annotations

import io
import os
import zipfile
from typing import Iterable

import numpy as np

from .sequence import BenchmarkError
from .textio import atomic_write_bytes, atomic_write_text, format_boxes, read_boxes_strict

__all__ = ["ResultLayout", "layout_for", "write_result", "read_result", "find_result_file",
           "list_trackers", "make_submission_zip", "OTB_FALLBACK_NAMES"]

# pysot-toolkit OTB loader: names tried when <video>.txt is absent (then the first letter lower-cased)
OTB_FALLBACK_NAMES = {
    "FleetFace": "fleetface", "Jogging-1": "jogging_1", "Jogging-2": "jogging_2",
    "Skating2-1": "skating2_1", "Skating2-2": "skating2_2", "FaceOcc1": "faceocc1",
    "FaceOcc2": "faceocc2", "Human4-2": "human4_2",
}


class ResultLayout:
    """Where the files of one video live inside a tracker folder."""

    def __init__(self, kind: str):
        self.kind = kind

    def box_file(self, tracker_dir: str, video: str) -> str:
        if self.kind == "got10k":
            return os.path.join(tracker_dir, video, f"{video}_001.txt")
        return os.path.join(tracker_dir, f"{video}.txt")

    def time_file(self, tracker_dir: str, video: str) -> str:
        if self.kind == "got10k":
            return os.path.join(tracker_dir, video, f"{video}_time.txt")
        return os.path.join(tracker_dir, "times", f"{video}_time.txt")

    def is_done(self, tracker_dir: str, video: str) -> bool:
        return os.path.isfile(self.box_file(tracker_dir, video))


def layout_for(kind: str) -> ResultLayout:
    return ResultLayout("got10k" if kind == "got10k" else "ope")


def write_result(layout: ResultLayout, tracker_dir: str, video: str, boxes: np.ndarray,
                 times: Iterable[float] | None = None) -> str:
    """Write a video's boxes (N, 4) and per-frame times atomically; the box file goes last. Returns its path."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if times is not None:
        text = "".join(f"{float(t):.8f}\n" for t in times)
        atomic_write_text(layout.time_file(tracker_dir, video), text)
    path = layout.box_file(tracker_dir, video)
    atomic_write_text(path, format_boxes(boxes))
    return path


def find_result_file(layout: ResultLayout, tracker_dir: str, video: str, kind: str) -> str | None:
    """The box file of ``video``, with pysot's OTB fall-back names; None when absent."""
    path = layout.box_file(tracker_dir, video)
    if os.path.isfile(path):
        return path
    if kind == "otb":
        alt = OTB_FALLBACK_NAMES.get(video, video[:1].lower() + video[1:])
        path = os.path.join(tracker_dir, f"{alt}.txt")
        if os.path.isfile(path):
            return path
    return None


def read_result(path: str) -> np.ndarray:
    """A result file (pysot parsing rule) -> (N, 4) float64."""
    return read_boxes_strict(path, 4)


def list_trackers(results_dir: str) -> list[str]:
    """Tracker folders inside a results folder (sorted; hidden folders skipped)."""
    if not os.path.isdir(results_dir):
        raise BenchmarkError(f"{results_dir}: results folder not found")
    return sorted(d for d in os.listdir(results_dir)
                  if not d.startswith((".", "_")) and os.path.isdir(os.path.join(results_dir, d)))


def make_submission_zip(tracker_dir: str, kind: str, videos: Iterable[str], zip_path: str | None = None) -> str:
    """Zip a tracker's results for an evaluation server (atomically) and return the zip path.

    GOT-10k: the ``<video>/`` folders (``_001.txt`` and ``_time.txt``) at the zip root.
    TrackingNet: one ``<video>.txt`` per video at the zip root. A missing video is an error.
    """
    tracker_dir = os.path.normpath(tracker_dir)
    zip_path = zip_path or tracker_dir + ".zip"
    layout = layout_for(kind)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for video in videos:
            box = layout.box_file(tracker_dir, video)
            if not os.path.isfile(box):
                raise BenchmarkError(f"{box}: result missing; cannot build the submission zip")
            if kind == "got10k":
                zf.write(box, f"{video}/{os.path.basename(box)}")
                t = layout.time_file(tracker_dir, video)
                if os.path.isfile(t):
                    zf.write(t, f"{video}/{os.path.basename(t)}")
            else:
                zf.write(box, f"{video}.txt")
    atomic_write_bytes(zip_path, buffer.getvalue())
    return zip_path
