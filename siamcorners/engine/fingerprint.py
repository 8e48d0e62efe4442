"""Fingerprints: what a results folder or a training run directory was made with, and what differs.

A *tracking* fingerprint covers everything that changes a box (`tracking_fingerprint`):

* the config keys that tracking reads, as whole sections (`BOX_SECTIONS`: MODEL, HEATMAP, DECODE, TRACK,
  TEST, INFERENCE) minus the keys listed in `NOT_BOX_KEYS` (training-only keys, file locations, and the
  ``INFERENCE`` switches that compute the same boxes up to float rounding: template precomputation, BN
  folding, batched branches, sparse offsets, channels-last, Winograd, compile). ``INFERENCE.AMP`` (lower precision) and
  ``INFERENCE.DEVICE_CROP`` (another resize implementation) change boxes and stay in. A key added to one of
  these sections later is part of the fingerprint unless it is added to `NOT_BOX_KEYS`: refusing a resume
  by mistake costs a flag, mixing results by mistake costs a paper. ``DEVICE`` itself is left out, but the
  *device type* the results are tracked on is in (``device``: ``cpu``, ``cuda``; `device_type`): cuDNN and TF32
  defaults and CUDA's ``topk`` tie order can move a box, so CPU and GPU results never share a folder;
* the weights: a SHA-256 of the loaded model tensors (names, dtypes, shapes, bytes), so ``last.pth`` and an
  exported copy of the same weights match while a retrained or converted-again model does not;
* the code of the tracker path: a SHA-256 per source file of `TRACKER_CODE` (models/ without the training-only
  losses and the checkpoint I/O, tracker/ without the demo drawing, the crops, frame decoding and the test
  runner), so an edit to any of them is named in the refusal, plus the package version.

The *dataset* the results were tracked on (`dataset_fingerprint`): its name, its root folder and a digest of
each video's ground truth (the rows, the published first region, the absent / visible flags), so a resume with
another ``--dataset-root`` holding the same video names is refused, and ``tools/eval.py`` refuses to score
results against ground truth other than the one they were tracked with.

Fingerprints written before a field existed lack it; a missing field compares as "(not recorded)" and differs
from any value, so such a folder is not resumed (``--overwrite`` or another ``--tracker-name``); eval scores it
as before (there is nothing to check it against).

A custom ``--tracker-factory`` is fingerprinted by its ``module:callable`` string and the SHA-256 of the module
file (`factory_fingerprint`); that module is the tracker's code.

A *training* fingerprint (`training_config`) is the resolved config minus `NOT_TRAINING_KEYS`: where files
are and how the run is executed or logged, none of which changes the weights a run produces, and
``TRAIN.EPOCHS``, so that a finished run can be extended (``--resume auto --opts TRAIN.EPOCHS 30``); a resume
point past ``TRAIN.EPOCHS`` is refused by the Trainer.
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
from typing import Any, Mapping, Sequence

__all__ = ["BOX_SECTIONS", "NOT_BOX_KEYS", "NOT_TRAINING_KEYS", "TRACKER_CODE", "box_config", "code_digests",
           "dataset_fingerprint", "device_type", "differences", "groundtruth_differences",
           "factory_fingerprint", "flatten", "state_digest", "tracking_fingerprint",
           "training_config", "weights_digest"]

FORMAT = "siamcorners-fingerprint"

BOX_SECTIONS = ("MODEL", "HEATMAP", "DECODE", "TRACK", "TEST", "INFERENCE")
NOT_BOX_KEYS = frozenset({
    "MODEL.BACKBONE.PRETRAINED",      # initial weights for training; tracking loads the snapshot
    "MODEL.BACKBONE.TRAIN_LAYERS", "MODEL.BACKBONE.FROZEN_BN", "MODEL.HEAD.HEAT_BIAS_INIT",
    "MODEL.HEAD.POOL_TIE_RULE",       # gradient only
    "TEST.SNAPSHOT",                  # covered by the weights digest
    "TEST.RESULTS_DIR",               # where results go
    "INFERENCE.PRECOMPUTE_TEMPLATE", "INFERENCE.FOLD_BN", "INFERENCE.BATCH_BRANCHES",
    "INFERENCE.SPARSE_OFFSETS", "INFERENCE.CHANNELS_LAST", "INFERENCE.COMPILE",  # same boxes up to rounding
    "INFERENCE.WINOGRAD",             # same boxes up to rounding (1e-5 relative in the two largest convs)
    "INFERENCE.WINOGRAD_HEAD",        # same boxes up to rounding (the head's 3x3 convs)
    "INFERENCE.BACKEND",              # ONNX Runtime fp32 = eager up to rounding (INT8 stays in: not exact)
    "INFERENCE.ONNX_DIR", "INFERENCE.ONNX_CACHE",  # where the exported graphs are
})
NOT_TRAINING_KEYS = frozenset({
    "NAME", "OUTPUT_DIR", "DEVICE",   # labels and places; a run may resume on another device
    "TRAIN.NUM_WORKERS",              # items are seeded by (SEED, epoch, index): workers do not change them
    "TRAIN.EPOCHS",                   # a run may be extended; the Trainer refuses a resume point past it
    "TRAIN.NUM_THREADS", "TRAIN.PRINT_FREQ", "TRAIN.RESUME", "TRAIN.CHECKPOINT_ITERS", "TRAIN.STOP_AFTER_ITERS",
    "TRAIN.SNAPSHOT_DIR", "TRAIN.LOG_DIR", "TRAIN.IMAGE_SUMMARY_ITERS",
    "TRAIN.PRETRAINED", "MODEL.BACKBONE.PRETRAINED",  # file locations; a resumed run loads its checkpoint
    "TEST", "INFERENCE",              # tracking only
})
_LOCATION_SUFFIXES = (".ROOT", ".ANNO")  # DATASET.SOURCES.<name>.ROOT / .ANNO: where the data lives

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACKER_CODE = ("models/*.py", "models/runtime/*.py", "tracker/*.py", "data/crops.py", "data/device_crops.py",
                "benchmarks/sequence.py",
                "engine/tester.py")
_NOT_TRACKER_CODE = ("models/losses.py", "models/checkpoint.py", "tracker/video_io.py")


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"A": {"B": 1}}`` -> ``{"A.B": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def _excluded(key: str, names: frozenset) -> bool:
    return any(key == n or key.startswith(n + ".") for n in names)


def box_config(cfg: Mapping) -> dict[str, Any]:
    """The flattened config keys that change a tracked box."""
    flat = flatten({s: cfg[s] for s in BOX_SECTIONS if s in cfg})
    return {k: v for k, v in flat.items() if not _excluded(k, NOT_BOX_KEYS)}


def training_config(cfg: Mapping) -> dict[str, Any]:
    """The flattened config keys that change what a training run produces (of ``DATASET.SOURCES`` only the sources
    in ``DATASET.NAMES``, without their locations: a source the run does not read changes nothing)."""
    used = tuple(f"DATASET.SOURCES.{name}." for name in (cfg.get("DATASET") or {}).get("NAMES") or ())
    return {k: v for k, v in flatten(cfg).items()
            if not _excluded(k, NOT_TRAINING_KEYS)
            and not (k.startswith("DATASET.SOURCES.") and (k.endswith(_LOCATION_SUFFIXES) or not k.startswith(used)))}


def state_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 of a state dict's tensors: names, dtypes, shapes and bytes, in name order."""
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        if not torch.is_tensor(t):
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_digest(path: str) -> str:
    """`state_digest` of the model weights of a SiamCorners checkpoint file (unreadable: BenchmarkError)."""
    from ..benchmarks.sequence import BenchmarkError
    from ..models.checkpoint import CheckpointError, load_checkpoint

    try:
        return state_digest(load_checkpoint(path)["model"])
    except CheckpointError as e:
        raise BenchmarkError(str(e)) from None


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def code_digests() -> dict[str, str]:
    """{``siamcorners/<file>``: SHA-256} of the source files on the tracker path (`TRACKER_CODE`)."""
    files = sorted({p for pattern in TRACKER_CODE for p in glob.glob(os.path.join(_PACKAGE, pattern))})
    skip = {os.path.join(_PACKAGE, p) for p in _NOT_TRACKER_CODE}
    return {"siamcorners/" + os.path.relpath(p, _PACKAGE).replace(os.sep, "/"): _file_digest(p)
            for p in files if p not in skip}


def tracking_fingerprint(cfg: Mapping, snapshot: str) -> dict[str, Any]:
    """The fingerprint of SiamCorners results made with ``cfg`` and the checkpoint ``snapshot``."""
    from .. import __version__

    return {"format": FORMAT, "tracker": "siamcorners", "version": __version__, "config": box_config(cfg),
            "weights": weights_digest(snapshot), "code": code_digests()}


def device_type(devices: Sequence[str]) -> str:
    """The device type(s) of a run: ``"cpu"``, ``"cuda"`` (any ``cuda:N``), or e.g. ``"cpu+cuda"``."""
    return "+".join(sorted({str(d).split(":")[0].strip() or "cpu" for d in devices})) or "cpu"


def _gt_digest(seq: Any) -> str:
    import numpy as np

    h = hashlib.sha256()
    for part in (seq.gt, getattr(seq, "init_region", None), getattr(seq, "absent", None),
                 getattr(seq, "visible", None)):
        if part is None:
            h.update(b"-")
            continue
        a = np.ascontiguousarray(np.asarray(part, dtype=np.float64))
        a = np.where(np.isnan(a), np.nan, a)  # one NaN bit pattern
        h.update(f"{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def dataset_fingerprint(dataset: Any) -> dict[str, Any]:
    """``{"name", "root", "groundtruth": {video: digest}}`` of a loaded benchmark `Dataset`."""
    root = getattr(dataset, "root", "") or ""
    return {"name": dataset.name, "root": os.path.realpath(root) if root else "",
            "groundtruth": {s.name: _gt_digest(s) for s in dataset}}


def groundtruth_differences(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Videos in both ``{video: digest}`` maps whose ground truth differs."""
    return [v for v in old if v in new and old[v] != new[v]]


def _names_short(names: Sequence[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _dataset_differences(old: Any, new: Any) -> list[str]:
    if old == new:
        return []
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        def show(d: Any) -> str:
            return f"{d.get('name')} at {d.get('root')}" if isinstance(d, Mapping) else "(not recorded)"

        return [f"dataset {show(old)} -> {show(new)}"]
    out = []
    if old.get("name") != new.get("name"):
        out.append(f"dataset {old.get('name')} -> {new.get('name')}")
    if old.get("root") != new.get("root"):
        out.append(f"dataset root {old.get('root')} -> {new.get('root')}")
    og, ng = old.get("groundtruth") or {}, new.get("groundtruth") or {}
    changed = groundtruth_differences(og, ng)
    if changed:
        out.append(f"ground truth differs in {len(changed)} video(s): {_names_short(changed)}")
    if set(og) != set(ng):
        gone, added = [v for v in og if v not in ng], [v for v in ng if v not in og]
        out.append("videos differ" + (f": {_names_short(gone)} gone" if gone else "")
                   + (f"{',' if gone else ':'} {_names_short(added)} new" if added else ""))
    return out


def factory_fingerprint(spec: str) -> dict[str, Any]:
    """The fingerprint of results made by ``--tracker-factory package.module:callable``."""
    module = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    origin = getattr(found, "origin", None)
    code = {module: _file_digest(origin)} if origin and os.path.isfile(origin) else {}
    return {"format": FORMAT, "tracker": "factory", "factory": spec, "code": code}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two fingerprints, one short phrase per item, e.g. ``TRACK.PENALTY_K 0.3 -> 0.04``."""
    out = []
    if old.get("tracker") != new.get("tracker") or old.get("factory") != new.get("factory"):
        out.append(f"tracker {old.get('factory') or old.get('tracker')} -> {new.get('factory') or new.get('tracker')}")
        if old.get("tracker") != new.get("tracker"):  # SiamCorners vs a custom factory: nothing else compares
            return out
    oc, nc = old.get("config") or {}, new.get("config") or {}
    missing = object()
    for key in sorted(set(oc) | set(nc)):
        a, b = oc.get(key, missing), nc.get(key, missing)
        if a != b:
            out.append(f"{key} {'(absent)' if a is missing else _short(a)} -> "
                       f"{'(absent)' if b is missing else _short(b)}")
    if ("device" in old or "device" in new) and old.get("device") != new.get("device"):
        out.append(f"device {old.get('device', '(not recorded)')} -> {new.get('device', '(not recorded)')}")
    if "dataset" in old or "dataset" in new:
        out += _dataset_differences(old.get("dataset"), new.get("dataset"))
    if old.get("weights") != new.get("weights"):
        out.append("weights differ")
    if old.get("version") != new.get("version"):
        out.append(f"siamcorners version {old.get('version')} -> {new.get('version')}")
    ocode, ncode = old.get("code") or {}, new.get("code") or {}
    changed = sorted(f for f in set(ocode) | set(ncode) if ocode.get(f) != ncode.get(f))
    if changed:
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        out.append("code differs: " + ", ".join(changed[:4]) + more)
    return out
