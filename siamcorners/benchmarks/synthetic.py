"""The synthetic benchmark written by `siamcorners.data.synthetic.write_otb_dataset`.

OTB layout (``<video>/img/0001.jpg``, ``<video>/groundtruth_rect.txt`` with comma-separated ``x,y,w,h``);
frames where the target is fully out of view carry ``0,0,0,0``, which the pysot rules score like OTB's
invalid rows (a success failure, a precision hit). Per-video attributes come from ``<video>/meta.json``
(``"attributes": {"IV": true, ...}``) when present.
"""
from __future__ import annotations

import json
import os

from .otb import OTB_ATTRIBUTES, read_otb
from .sequence import BenchmarkError, Dataset

__all__ = ["read_synthetic"]


def read_synthetic(root: str, name: str = "synthetic", trimmed: bool = False) -> Dataset:
    base = read_otb(root, name, kind="synthetic", trimmed=trimmed)
    for seq in base:
        meta_path = os.path.join(root, seq.name, "meta.json")
        if not os.path.isfile(meta_path):
            continue
        try:
            with open(meta_path, "r", encoding="utf-8") as f:
                attrs = json.load(f).get("attributes", {})
        except (json.JSONDecodeError, AttributeError) as e:
            raise BenchmarkError(f"{meta_path}: cannot read attributes: {e}") from None
        if not isinstance(attrs, dict):
            raise BenchmarkError(f"{meta_path}: 'attributes' must map names to true/false")
        seq.attributes = tuple(a for a, on in attrs.items() if on)
    used = {a for s in base for a in s.attributes}
    order = [a for a in OTB_ATTRIBUTES if a in used] + sorted(used - set(OTB_ATTRIBUTES))
    return Dataset(name, base.sequences, "synthetic", root, order)
