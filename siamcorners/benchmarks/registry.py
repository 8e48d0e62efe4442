"""Dataset names -> readers. `load_dataset("OTB100", root)` picks the pysot JSON when ``<root>/OTB100.json``
exists (``fmt="auto"``), otherwise the official raw layout."""
from __future__ import annotations

import os

from .got10k import read_got10k
from .lasot import read_lasot
from .nfs import read_nfs
from .otb import read_otb
from .pysot_json import read_pysot_json
from .sequence import BenchmarkError, Dataset
from .synthetic import read_synthetic
from .trackingnet import read_trackingnet
from .uav import read_uav

__all__ = ["DATASET_NAMES", "canonical_name", "load_dataset"]

DATASET_NAMES = ("OTB100", "UAV123", "UAV20L", "LaSOT", "NFS30", "TrackingNet", "GOT-10k-val",
                 "GOT-10k-test", "synthetic")
_JSON_OK = {"OTB100", "UAV123", "UAV20L", "LaSOT", "NFS30"}
_ALIASES = {
    "otb100": "OTB100", "otb2015": "OTB100", "otb": "OTB100",
    "uav123": "UAV123", "uav20l": "UAV20L", "lasot": "LaSOT", "nfs30": "NFS30", "nfs": "NFS30",
    "trackingnet": "TrackingNet", "got-10k-val": "GOT-10k-val", "got10k-val": "GOT-10k-val",
    "got-10k-test": "GOT-10k-test", "got10k-test": "GOT-10k-test", "synthetic": "synthetic",
}


def canonical_name(name: str) -> str:
    """The canonical spelling of a dataset name (case-insensitive, a few aliases)."""
    key = name.strip().lower()
    if key not in _ALIASES:
        raise BenchmarkError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    return _ALIASES[key]


def load_dataset(name: str, root: str, fmt: str = "auto", trimmed: bool = False) -> Dataset:
    """Read a benchmark. ``fmt``: "auto" (pysot JSON if present), "json" or "raw". ``trimmed``: OTB-layout image
    folders may be trimmed copies (the first K images; `siamcorners.benchmarks.otb`)."""
    name = canonical_name(name)
    if fmt not in ("auto", "json", "raw"):
        raise BenchmarkError(f"fmt must be auto, json or raw, got {fmt!r}")
    if not os.path.isdir(root):
        raise BenchmarkError(f"{root}: dataset root not found")
    json_path = os.path.join(root, f"{name}.json")
    if fmt == "json" or (fmt == "auto" and os.path.isfile(json_path)):
        if name not in _JSON_OK:
            raise BenchmarkError(f"{name}: no pysot JSON reader (read the raw layout instead)")
        return read_pysot_json(root, name, json_path)
    if name == "OTB100":
        return read_otb(root, name, trimmed=trimmed)
    if name in ("UAV123", "UAV20L"):
        return read_uav(root, name)
    if name == "LaSOT":
        return read_lasot(root, name)
    if name == "NFS30":
        return read_nfs(root, name)
    if name == "TrackingNet":
        return read_trackingnet(root, name)
    if name.startswith("GOT-10k"):
        return read_got10k(root, name.rsplit("-", 1)[1], name)
    return read_synthetic(root, trimmed=trimmed)
