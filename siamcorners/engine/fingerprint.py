"""Fingerprints: what a results folder or a training run directory was made with, and what differs.

A *tracking* fingerprint covers everything that changes a box (`tracking_fingerprint`):

* the config keys that tracking reads, as whole sections (`BOX_SECTIONS`: MODEL, HEATMAP, DECODE, TRACK,
  TEST, INFERENCE) minus the keys listed in `NOT_BOX_KEYS` (training-only keys, file locations, and the
  ``INFERENCE`` switches that compute the same boxes up to float rounding: template precomputation, BN
  folding, batched branches, sparse offsets, channels-last, Winograd, compile). ``INFERENCE.AMP`` (lower precision) and
  ``INFERENCE.DEVICE_CROP`` (another resize implementation) change boxes and stay in. A key added to one of
  these sections later is part of the fingerprint unless it is added to `NOT_BOX_KEYS`: refusing a resume
  by mistake costs a flag, mixing results by mistake costs a paper. ``DEVICE`` is left out (CPU and GPU
  workers may fill one folder; they differ only in float rounding, like ``INFERENCE.COMPILE``);
* the weights: a SHA-256 of the loaded model tensors (names, dtypes, shapes, bytes), so ``last.pth`` and an
  exported copy of the same weights match while a retrained or converted-again model does not;
* the code of the tracker path: a SHA-256 per source file of `TRACKER_CODE` (models/ without the training-only
  losses and the checkpoint I/O, tracker/ without the demo drawing, the crops, frame decoding and the test
  runner), so an edit to any of them is named in the refusal, plus the package version.

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
from typing import Any, Mapping

__all__ = ["BOX_SECTIONS", "NOT_BOX_KEYS", "NOT_TRAINING_KEYS", "TRACKER_CODE", "box_config", "code_digests",
           "differences", "factory_fingerprint", "flatten", "state_digest", "tracking_fingerprint",
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
