"""Parsing of annotation / result text files and atomic writes.

Two parsers, matching the two conventions of the toolkits:

* `read_boxes_lenient` for ground truth: comma, tab or space separated (OTB mixes all three);
* `read_boxes_strict` for tracker results: the pysot-toolkit rule, fields split on ',' only and each
  parsed as a float (``nan`` allowed, surrounding spaces allowed); a blank line, a trailing comma or
  a tab/space-separated row is an error naming the file and the line.
"""
from __future__ import annotations

import os
import re
import tempfile
from typing import Iterable

import numpy as np

from .sequence import BenchmarkError

__all__ = ["annotation_rows", "read_boxes_lenient", "read_boxes_strict", "read_flags", "read_text",
           "atomic_write_text", "atomic_write_bytes", "format_boxes", "new_file_mode"]

_SPLIT = re.compile(r"\s*,\s*|\s+")  # one comma (with optional spaces around it) or a run of whitespace


def read_text(path: str) -> str:
    if not os.path.isfile(path):
        raise BenchmarkError(f"{path}: file not found")
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read()


def annotation_rows(path: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every row of an annotation file, one row per frame.

    Fields are separated by a comma (spaces around it allowed) or by whitespace. Blank lines at the end of
    the file are ignored; a blank line before a row is an error naming the file and line (skipping it
    would shift every later row by one frame), and so is an empty field (``1,,2``, a trailing comma).
    """
    lines = read_text(path).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            raise BenchmarkError(f"{path}:{lineno}: blank line inside the annotation; every line is one frame, "
                                 f"so the rows after it would shift by one frame (write NaN,NaN,NaN,NaN for a "
                                 f"frame without a box, or delete the line)")
        fields = _SPLIT.split(text)
        if "" in fields:
            raise BenchmarkError(f"{path}:{lineno}: empty field in {text!r}")
        rows.append((lineno, fields))
    return rows


def read_boxes_lenient(path: str, columns: int = 4) -> np.ndarray:
    """Rows of ``columns`` numbers separated by commas and/or whitespace -> (N, columns) float64.

    ``NaN`` is allowed. A row with a different count, a blank line before the last row or an empty field
    is an error naming the file and the line (see `annotation_rows`).
    """
    rows = []
    for lineno, fields in annotation_rows(path):
        if len(fields) != columns:
            raise BenchmarkError(f"{path}:{lineno}: expected {columns} numbers, got {len(fields)}: "
                                 f"{' '.join(fields)!r}")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise BenchmarkError(f"{path}:{lineno}: not a number in {','.join(fields)!r}") from None
    return np.asarray(rows, dtype=np.float64).reshape(-1, columns)  # (N, columns)


def _strict_line(path: str, lineno: int, line: str, columns: int) -> list[float]:
    fields = line.split(",")
    if len(fields) != columns:
        raise BenchmarkError(f"{path}:{lineno}: expected {columns} comma-separated numbers, "
                             f"got {len(fields)} field(s): {line!r}")
    try:
        return [float(f) for f in fields]
    except ValueError:
        raise BenchmarkError(f"{path}:{lineno}: not a number in {line!r}") from None


def read_boxes_strict(path: str, columns: int = 4) -> np.ndarray:
    """A result file with the pysot-toolkit parsing rule -> (N, columns) float64."""
    lines = read_text(path).splitlines()
    if not lines:
        return np.zeros((0, columns), dtype=np.float64)
    joined = ",".join(lines)
    fields = joined.split(",")
    if len(fields) == columns * len(lines):
        try:
            values = np.array([float(f) for f in fields], dtype=np.float64)
            return values.reshape(len(lines), columns)  # (N, columns)
        except ValueError:
            pass
    for lineno, line in enumerate(lines, 1):  # slow path: find the offending line
        _strict_line(path, lineno, line, columns)
    raise BenchmarkError(f"{path}: malformed result file")


def read_flags(path: str) -> np.ndarray:
    """0/1 flags separated by commas, whitespace or newlines (LaSOT, UAV123, GOT-10k labels) -> (N,) int64.

    A blank line before the last flag or an empty field is an error naming the file and line."""
    out = []
    for lineno, fields in annotation_rows(path):
        for f in fields:
            try:
                out.append(int(float(f)))
            except ValueError:
                raise BenchmarkError(f"{path}:{lineno}: not a number: {f!r}") from None
    return np.asarray(out, dtype=np.int64)


def format_boxes(boxes: Iterable[Iterable[float]]) -> str:
    """One ``x,y,w,h`` line per box, shortest round-trip float text (exactly what was computed)."""
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in boxes)


def process_umask() -> int:
    """The process umask (read from /proc, else by setting it and putting it back at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits ``open()`` gives a new file: 0o666 less the process umask (mkstemp uses 0o600)."""
    return 0o666 & ~process_umask()


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The file gets the permissions of a plain ``open()`` under the user's umask."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
