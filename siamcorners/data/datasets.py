"""Builder of the training dataset from the config tree (the only place that reads ``cfg.DATASET``)."""
from __future__ import annotations

import os
from typing import Mapping, Optional

from siamcorners.data.augmentation import Augmentation
from siamcorners.data.pair_dataset import TrainPairDataset
from siamcorners.data.sources import CropSource, SyntheticSource
from siamcorners.data.stills import StillSource

__all__ = ["build_source", "build_train_dataset", "TrainPairDataset"]


def _resolve(path: str, data_root: Optional[str]) -> str:
    if not path or os.path.isabs(path):
        return path
    return os.path.join(data_root or os.getcwd(), path)


def build_source(name: str, spec: Mapping, data_root: Optional[str] = None, exemplar_size: int = 127,
                 context_amount: float = 0.5):
    """One source from its ``DATASET.SOURCES.<name>`` entry; relative paths are taken from ``data_root``
    (default: the working directory)."""
    if name == "SYNTHETIC":
        return SyntheticSource(name, seed=spec["SEED"], videos=spec["VIDEOS"], frames=spec["FRAMES"],
                               image_size=spec["IMAGE_SIZE"], frame_range=spec["FRAME_RANGE"],
                               num_use=spec["NUM_USE"], exemplar_size=exemplar_size,
                               context_amount=context_amount)
    if name in ("STILLS", "PROCEDURAL"):  # two folders of stills (e.g. photos, dead leaves), each with its NUM_USE
        if not spec["ROOT"]:
            raise ValueError(f"DATASET.SOURCES.{name}: ROOT (the image folder) must be set")
        return StillSource(name, _resolve(spec["ROOT"], data_root), seed=spec["SEED"], num_use=spec["NUM_USE"],
                           paste=spec["PASTE"], canvas=spec["CANVAS"], blur=spec["BLUR"],
                           appearance=spec["APPEARANCE"], exemplar_size=exemplar_size,
                           context_amount=context_amount)
    if not spec["ROOT"] or not spec["ANNO"]:
        raise ValueError(f"DATASET.SOURCES.{name}: ROOT and ANNO must be set")
    return CropSource(name, _resolve(spec["ROOT"], data_root), _resolve(spec["ANNO"], data_root),
                      frame_range=spec["FRAME_RANGE"], num_use=spec["NUM_USE"],
                      exemplar_size=exemplar_size, context_amount=context_amount)


def _augmentation(spec: Mapping, brightness: float, contrast: float) -> Augmentation:
    return Augmentation(shift=spec["SHIFT"], scale=spec["SCALE"], blur=spec["BLUR"], flip=spec["FLIP"],
                        color=spec["COLOR"], brightness=brightness, contrast=contrast)


def build_train_dataset(cfg: Mapping, epoch: int = 0, data_root: Optional[str] = None) -> TrainPairDataset:
    """The epoch's ``TrainPairDataset`` (``DATASET.VIDEOS_PER_EPOCH`` items) over ``DATASET.NAMES``."""
    ds, track = cfg["DATASET"], cfg["TRACK"]
    sources = [build_source(name, ds["SOURCES"][name], data_root, track["EXEMPLAR_SIZE"], track["CONTEXT_AMOUNT"])
               for name in ds["NAMES"]]
    heat, label = cfg["HEATMAP"], cfg["LABEL"]
    return TrainPairDataset(
        sources,
        length=ds["VIDEOS_PER_EPOCH"],
        seed=cfg["SEED"],
        epoch=epoch,
        template_aug=_augmentation(ds["TEMPLATE"], ds["BRIGHTNESS"], ds["CONTRAST"]),
        search_aug=_augmentation(ds["SEARCH"], ds["BRIGHTNESS"], ds["CONTRAST"]),
        neg=ds["NEG"],
        neg_labels=ds["NEG_LABELS"],
        gray=ds["GRAY"],
        exemplar_size=track["EXEMPLAR_SIZE"],
        search_size=track["INSTANCE_SIZE"],
        target_kwargs=dict(size=heat["SIZE"], stride=heat["STRIDE"], origin=heat["ORIGIN"],
                           truncate=heat["TRUNCATE"], sigma=label["SIGMA"], min_overlap=label["GAUSSIAN_IOU"],
                           min_scale=label["MIN_SCALE"]),
        template_kwargs=dict(fill=tuple(ds["TEMPLATE_FILL_VALUE"]), outline=ds["TEMPLATE_OUTLINE"],
                             fraction=track["TEMPLATE_FRACTION"]),
    )
