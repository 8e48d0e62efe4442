"""Template/search training pairs from several sources, with augmentation, boundary templates and targets.

Sampling follows pysot's ``TrkDataset`` (reference 4.1, 4.6): each epoch concatenates every source's
NUM_USE picks, shuffles them and repeats the list up to the epoch length; an item is a positive pair from its
video, or with probability ``neg`` a template from its video and a search frame from a random video of a
random source. Everything random in item ``i`` of epoch ``e`` comes from a generator seeded by
``(seed, e, i)``, so an item does not depend on the worker that makes it.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Mapping, Optional, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from siamcorners.data.augmentation import Augmentation
from siamcorners.data.crops import training_boundary_templates
from siamcorners.data.sources import BadEntry, Target
from siamcorners.data.targets import corner_targets

__all__ = ["TrainPairDataset"]

log = logging.getLogger(__name__)


class TrainPairDataset(Dataset):
    """Items (dict of tensors)::

        template  # (4, 3, 127, 127) float32 BGR 0..255, boundary templates top, left, bottom, right
        search    # (3, 255, 255) float32 BGR
        tl_heat, br_heat  # (1, 25, 25) float32
        tl_off, br_off    # (2,) float32, heat units, x first
        tl_ind, br_ind    # () int64, flat y * size + x
        valid             # () float32
        no_target         # () float32, 1 for a negative pair with NEG_LABELS "none": empty heat maps, no offsets
        skipped           # () int64, bad entries met (and skipped) while making this item

    ``num_skipped`` counts bad entries met in this process; the per-item ``skipped`` lets a trainer sum
    them across DataLoader workers.
    """

    def __init__(self, sources: Sequence, length: int, seed: int, epoch: int = 0,
                 template_aug: Optional[Augmentation] = None, search_aug: Optional[Augmentation] = None,
                 neg: float = 0.0, neg_labels: str = "search", gray: float = 0.0,
                 exemplar_size: int = 127, search_size: int = 255,
                 target_kwargs: Optional[Mapping] = None, template_kwargs: Optional[Mapping] = None,
                 max_retries: int = 20):
        if not sources:
            raise ValueError("TrainPairDataset needs at least one source")
        if neg_labels not in ("search", "none"):
            raise ValueError(f"neg_labels must be 'search' or 'none', got {neg_labels!r}")
        self.sources = list(sources)
        self.length, self.seed, self.epoch = int(length), int(seed), int(epoch)
        self.template_aug = template_aug or Augmentation()
        self.search_aug = search_aug or Augmentation()
        self.neg, self.neg_labels, self.gray = float(neg), neg_labels, float(gray)
        self.exemplar_size, self.search_size = int(exemplar_size), int(search_size)
        self.target_kwargs = dict(target_kwargs or {})
        self.template_kwargs = dict(template_kwargs or {})
        self.max_retries = int(max_retries)
        self.num_skipped = 0
        self._pick_source, self._pick_video = self._make_pick()

    @property
    def num_filtered(self) -> int:
        """Entries with empty boxes dropped when the annotation files were read."""
        return sum(getattr(s, "num_filtered", 0) for s in self.sources)

    def _make_pick(self):
        rng = np.random.default_rng([self.seed, self.epoch, 0x5EED])
        src, vid = [], []
        for k, source in enumerate(self.sources):
            picks = source.pick(rng)
            src.append(np.full(len(picks), k, dtype=np.int32))
            vid.append(picks.astype(np.int32))
        src, vid = np.concatenate(src), np.concatenate(vid)
        if len(src) == 0:
            raise ValueError("no source contributes any video (check NUM_USE)")
        order = rng.permutation(len(src))
        reps = -(-self.length // len(src))
        order = np.tile(order, reps)[: self.length]
        return src[order], vid[order]

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the pick list for another epoch without re-reading the sources."""
        self.epoch = int(epoch)
        self._pick_source, self._pick_video = self._make_pick()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        source_index, video = int(self._pick_source[index]), int(self._pick_video[index])
        skipped = 0
        errors: List[str] = []
        for _ in range(self.max_retries):
            try:
                item = self._make(source_index, video, rng)
                item["skipped"] = torch.tensor(skipped, dtype=torch.int64)
                return item
            except BadEntry as e:
                skipped += 1
                self.num_skipped += 1
                errors.append(str(e))
                log.warning("skipped bad entry: %s", e)
                source_index = int(rng.integers(len(self.sources)))
                video = int(rng.integers(self.sources[source_index].num_videos))
        raise RuntimeError(f"item {index}: {self.max_retries} bad entries in a row, last: {errors[-3:]}")

    def _choose(self, source_index: int, video: int, rng: np.random.Generator):
        source = self.sources[source_index]
        neg = bool(self.neg) and self.neg > rng.random()
        if neg:
            template = (source, source.random_target(rng, video))
            other = self.sources[int(rng.integers(len(self.sources)))]
            search = (other, other.random_target(rng))
        else:
            t, s = source.positive_pair(video, rng)
            template, search = (source, t), (source, s)
        return neg, template, search

    def _make(self, source_index: int, video: int, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        gray = bool(self.gray) and self.gray > rng.random()
        neg, (t_src, t_tgt), (s_src, s_tgt) = self._choose(source_index, video, rng)
        t_img, t_box = _load(t_src, t_tgt)
        s_img, s_box = _load(s_src, s_tgt)
        template, t_box = self.template_aug(t_img, t_box, self.exemplar_size, rng, gray=gray)
        search, s_box = self.search_aug(s_img, s_box, self.search_size, rng, gray=gray)
        templates = training_boundary_templates(template, t_box, **self.template_kwargs)  # (4, 127, 127, 3)
        targets = corner_targets(s_box[None], **self.target_kwargs)
        item = {k: torch.as_tensor(v[0]) for k, v in targets.items()}
        empty = neg and self.neg_labels == "none"
        if empty:  # background everywhere: the focal loss trains both maps towards 0, no offset loss
            for k in ("tl_heat", "br_heat", "tl_off", "br_off", "tl_ind", "br_ind"):
                item[k] = torch.zeros_like(item[k])
            item["valid"] = torch.ones_like(item["valid"])
        item["no_target"] = torch.tensor(float(empty), dtype=torch.float32)
        item["template"] = torch.from_numpy(np.ascontiguousarray(
            np.asarray(templates, dtype=np.float32).transpose(0, 3, 1, 2)))
        item["search"] = torch.from_numpy(np.ascontiguousarray(search.transpose(2, 0, 1), dtype=np.float32))
        return item


def _load(source, target: Target):
    try:
        return source.load(target)
    except BadEntry:
        raise
    except (OSError, cv2.error) as e:
        raise BadEntry(f"{source.name}: {target}: {e}") from None
