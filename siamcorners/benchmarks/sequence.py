"""The common `Sequence` / `Dataset` interface every benchmark reader returns.

A `Sequence` knows its name, frame paths, ground truth and attributes; frames are read from disk
only when asked for (`seq.frame(i)`, iteration), so building a whole dataset costs no image I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence as _Seq

import numpy as np

from ..data.frames import read_image

__all__ = ["BenchmarkError", "Sequence", "Dataset", "read_frame"]


class BenchmarkError(ValueError):
    """Missing or malformed benchmark data; the message names the file (and line) at fault."""


def read_frame(path: str) -> np.ndarray:
    """A frame as a (H, W, 3) uint8 BGR array; grayscale files are expanded to three channels."""
    image = read_image(path)  # warns, naming the file, when a JPEG is truncated
    if image is None:
        raise BenchmarkError(f"{path}: frame missing or not a readable image")
    return image  # (H, W, 3)


@dataclass
class Sequence:
    """One video of a benchmark.

    gt: (N, 4) float64 ``x, y, w, h`` rows (may contain NaN rows). For server-evaluated test splits
    (TrackingNet TEST, GOT-10k test) it holds only the first frame's box, so ``len(gt) == 1``.
    absent: (N,) bool, True where the target is absent and the frame is not scored (LaSOT), or None.
    visible: (N,) bool, GOT-10k ``cover.label > 0`` (frames scored by the GOT-10k protocol), or None.
    resolution: image (W, H) where the protocol clips boxes to it (GOT-10k), or None.
    full_gt: False for test splits that publish only the first box.
    init_region: the first frame's annotation as published when it is not an ``x, y, w, h`` box (an 8-value
    polygon, e.g. VOT), or None; the test runner turns it into the init box (``regions.init_box_from_region``).
    """

    name: str
    gt: np.ndarray
    frames_source: list[str] | Callable[[], list[str]]
    attributes: tuple[str, ...] = ()
    absent: np.ndarray | None = None
    visible: np.ndarray | None = None
    resolution: tuple[int, int] | None = None
    full_gt: bool = True
    meta: dict = field(default_factory=dict)
    init_region: np.ndarray | None = None

    @property
    def frames(self) -> list[str]:
        """Frame paths in temporal order (listed on first use)."""
        if callable(self.frames_source):
            self.frames_source = list(self.frames_source())
        return self.frames_source

    @property
    def init_box(self) -> np.ndarray:
        """The first frame's ``x, y, w, h`` box (the box a tracker is initialised with)."""
        return self.gt[0]

    @property
    def first_region(self) -> np.ndarray:
        """The first frame's annotation as published: ``init_region`` (4 or 8 values) or ``init_box``."""
        return self.init_region if self.init_region is not None else self.init_box

    @property
    def has_full_gt(self) -> bool:
        """False for test splits that publish only the first frame's box."""
        return self.full_gt

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a (H, W, 3) uint8 BGR image."""
        return read_frame(self.frames[index])

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.frames:
            yield read_frame(path)


class Dataset:
    """An ordered collection of sequences plus the attribute map used for per-attribute results.

    The order is the evaluation order (a pysot JSON's key order, otherwise sorted names), which fixes
    the floating-point summation order of the averages.
    """

    def __init__(self, name: str, sequences: _Seq[Sequence], kind: str, root: str = "",
                 attribute_names: _Seq[str] | None = None, scored_locally: bool = True):
        self.name = name
        self.kind = kind            # reader family: otb, uav, lasot, nfs, trackingnet, got10k, synthetic
        self.root = root
        self.sequences = list(sequences)
        self.scored_locally = scored_locally
        self._index = {s.name: i for i, s in enumerate(self.sequences)}
        if len(self._index) != len(self.sequences):
            raise BenchmarkError(f"{root}: duplicate sequence names in {name}")
        if attribute_names is None:
            seen: dict[str, None] = {}
            for s in self.sequences:
                for a in s.attributes:
                    seen.setdefault(a, None)
            attribute_names = list(seen)
        self.attribute_names = list(attribute_names)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, key: int | str) -> Sequence:
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"{self.name} has no sequence {key!r}")
            return self.sequences[self._index[key]]
        return self.sequences[key]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sequences]

    def attribute_videos(self, attribute: str) -> list[str]:
        """Names of the sequences tagged with ``attribute``."""
        return [s.name for s in self.sequences if attribute in s.attributes]

    def subset(self, names: _Seq[str]) -> "Dataset":
        """A dataset restricted to ``names`` (kept in dataset order); unknown names are an error."""
        missing = [n for n in names if n not in self._index]
        if missing:
            raise BenchmarkError(f"{self.name}: unknown video(s) {', '.join(missing[:5])}")
        wanted = set(names)
        return Dataset(self.name, [s for s in self.sequences if s.name in wanted], self.kind, self.root,
                       self.attribute_names, self.scored_locally)
