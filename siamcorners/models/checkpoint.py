"""Our checkpoint format, and conversion of the official SiamCorners state dict.

A checkpoint is a ``torch.save``-d dict readable with ``torch.load(weights_only=True)``::

    {"format": "siamcorners-checkpoint", "version": 1, "model": state_dict, "config": plain dict or None,
     "epoch": int or None, "optimizer": state dict or None, "scheduler": state dict or None,
     "rng": dict or None, "code_version": "0.1.0"}

Official layout (reference section 10) -> ours::

    backbone.*                                    -> backbone.*  (same names)
    neck.downsample{2,3,4}.downsample.0 / .1      -> neck.layers.{0,1,2}.conv / .bn
    corner_mods_head.conv_kernel_θ.N.0 / .1       -> heads.N.kernel_θ.conv / .bn          (θ in t, l, b, r)
    corner_mods_head.X_modules.N.p1_conv1         -> heads.N.X_pool.vert_branch           (X in tl, br)
        p2_conv1 -> horiz_branch, p_conv1 -> merge_conv, p_bn1 -> merge_bn, conv1/bn1 -> shortcut_b.0/.1,
        conv1_/bn1_ -> shortcut_a.0/.1, conv2 -> out_conv
    corner_mods_head.X_heats.N.0 / .1             -> heads.N.X_heat.conv / .out
    corner_mods_head.X_offs.N.0 / .1              -> heads.N.X_off.conv / .out
    corner_mods_head.conv_kernel_θ_.*             -> dropped (24 alias keys of conv_kernel_θ.2, reference §3.6)

The official model has all three levels, so a converted state dict fits ``MODEL.LEVELS: [3, 4, 5]``.
:func:`export_official_state_dict` is the inverse (ours -> official names, alias keys added): a model of the official
profile, trained or seeded here, then loads into the official code (``tools/convert_checkpoint.py --to-official``).
"""
from __future__ import annotations

import errno
import os
import random
import re
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    "CheckpointError",
    "check_finite_weights",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "load_state_dict_checked",
    "convert_official_state_dict",
    "export_official_state_dict",
    "capture_rng_state",
    "restore_rng_state",
]

CHECKPOINT_FORMAT = "siamcorners-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit the model; the message names the file."""


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, list):
        return [_to_plain(v) for v in obj]
    return obj


def _state(obj: Any) -> Any:
    return obj.state_dict() if hasattr(obj, "state_dict") else obj


# ------------------------------------------------------------------------------------------------ rng
def capture_rng_state() -> dict:
    """Python, NumPy and torch (CPU + CUDA) generator states, as weights_only-loadable values."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping) -> str:
    """Inverse of :func:`capture_rng_state` (missing entries are left alone).

    The CUDA generators are restored one per visible device, as many as fit: a checkpoint of a process that saw
    more GPUs (or fewer, or none) than this one is not an error. Returns one line saying what was not restored
    ("" when everything was)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    return _restore_cuda_rng(list(state.get("cuda") or ()))


def _restore_cuda_rng(saved: list) -> str:
    """Set the RNG state of visible CUDA device i to ``saved[i]`` for the devices both have; the mismatch as a line."""
    if not saved:
        return ""
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for index, device_state in enumerate(saved[:visible]):
        torch.cuda.set_rng_state(device_state, index)
    if len(saved) == visible:
        return ""
    return (f"the checkpoint holds the CUDA RNG states of {len(saved)} GPU(s) and this process sees {visible}: "
            f"restored {min(len(saved), visible)} of them (random numbers drawn on the other GPUs do not continue "
            f"the saved run)")


# ------------------------------------------------------------------------------------------------ save / load
def save_checkpoint(path: str, model: nn.Module | Mapping[str, torch.Tensor], config: Mapping | None = None,
                    epoch: int | None = None, optimizer: Any = None, scheduler: Any = None,
                    rng: Mapping | None = None) -> None:
    """Write a checkpoint atomically (temporary file in the same folder, then ``os.replace``).

    ``model``/``optimizer``/``scheduler`` may be objects with ``state_dict()`` or state dicts already."""
    from .. import __version__

    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    model_state = _state(model)
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "config": _to_plain(config) if config is not None else None,
        "epoch": epoch,
        "optimizer": _state(optimizer) if optimizer is not None else None,
        "scheduler": _state(scheduler) if scheduler is not None else None,
        "rng": dict(rng) if rng is not None else None,
        "code_version": __version__,
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.filename in (None, tmp):  # name the checkpoint, not the temporary file (removed below)
            raise OSError(e.errno, e.strerror, path) from e
        raise
    except RuntimeError as e:  # torch.save reports a short write on a full disk as "unexpected pos ..."
        if _disk_full(folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path) from e
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _disk_full(folder: str) -> bool:
    """Less than 1 MiB left on the file system of ``folder`` (a write there failed for want of space)."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)


def _read(path: str, map_location: Any) -> Any:
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read checkpoint (truncated, corrupt or not a torch weights file): "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def _looks_official(obj: Any) -> bool:
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    return isinstance(sd, Mapping) and any("corner_mods_head." in str(k) for k in sd)


def load_checkpoint(path: str, model: nn.Module | None = None, strict: bool = True,
                    map_location: Any = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``torch.load(weights_only=True)``).

    With ``model``, its weights are loaded: with ``strict`` any missing / unexpected / shape-mismatched key is a
    :class:`CheckpointError` listing them; with ``strict=False`` the matching tensors are loaded and the rest is
    reported. The returned dict gains ``load_report`` = {"missing", "unexpected", "mismatched"} (lists of names).
    """
    obj = _read(path, map_location)
    if not isinstance(obj, Mapping) or obj.get("format") != CHECKPOINT_FORMAT:
        hint = (" It looks like an official SiamCorners checkpoint: convert it with "
                "tools/convert_checkpoint.py first." if _looks_official(obj) else "")
        raise CheckpointError(f"{path}: not a SiamCorners checkpoint (no format={CHECKPOINT_FORMAT!r} entry).{hint}")
    if not isinstance(obj.get("version"), int) or obj["version"] > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {obj.get('version')!r} is newer than this code "
                              f"supports ({CHECKPOINT_VERSION})")
    state = obj.get("model")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: checkpoint has no 'model' state dict")
    check_finite_weights(state, path)
    ckpt = dict(obj)
    if model is not None:
        ckpt["load_report"] = load_state_dict_checked(model, state, strict, source=path)
    return ckpt


def check_finite_weights(state: Mapping[str, Any], source: str) -> None:
    """CheckpointError naming ``source`` and the first tensor holding NaN or inf values (a diverged training run
    would otherwise track with every box collapsed, exit 0)."""
    bad = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
           and not bool(torch.isfinite(v).all())]
    if bad:
        n = int((~torch.isfinite(state[bad[0]])).sum())
        more = f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else ""
        raise CheckpointError(f"{source}: tensor {bad[0]!r} holds {n} NaN/inf values{more}: the weights are broken "
                              f"(a diverged training run?); use an earlier checkpoint")


def load_state_dict_checked(model: nn.Module, state: Mapping[str, torch.Tensor], strict: bool = True,
                            source: str = "<state dict>") -> dict[str, list[str]]:
    """Load ``state`` into ``model``; report (and with ``strict`` refuse) missing / unexpected / mismatched keys."""
    own = model.state_dict()
    report = {
        "missing": [k for k in own if k not in state],
        "unexpected": [k for k in state if k not in own],
        "mismatched": [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                       for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)],
    }
    problems = [f"{name} ({len(v)}): {', '.join(v[:8])}{' ...' if len(v) > 8 else ''}"
                for name, v in report.items() if v]
    if strict and problems:
        raise CheckpointError(f"{source}: checkpoint does not match the model; " + "; ".join(problems)
                              + " (use strict=False to load the matching tensors only)")
    good = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(good, strict=False)
    if problems:
        print(f"{source}: loaded {len(good)} tensors; " + "; ".join(problems))
    return report


# ------------------------------------------------------------------------------------------------ conversion
_POOL_PARTS = {
    "p1_conv1": "vert_branch", "p2_conv1": "horiz_branch", "p_conv1": "merge_conv", "p_bn1": "merge_bn",
    "conv1": "shortcut_b.0", "bn1": "shortcut_b.1", "conv1_": "shortcut_a.0", "bn1_": "shortcut_a.1",
    "conv2": "out_conv",
}
_ALIAS = re.compile(r"^corner_mods_head\.conv_kernel_[tlbr]_\.")
_RULES = [
    (re.compile(r"^backbone\.(.+)$"), lambda m: f"backbone.{m[1]}"),
    (re.compile(r"^neck\.downsample([234])\.downsample\.([01])\.(.+)$"),
     lambda m: f"neck.layers.{int(m[1]) - 2}.{'conv' if m[2] == '0' else 'bn'}.{m[3]}"),
    (re.compile(r"^corner_mods_head\.conv_kernel_([tlbr])\.(\d+)\.([01])\.(.+)$"),
     lambda m: f"heads.{m[2]}.kernel_{m[1]}.{'conv' if m[3] == '0' else 'bn'}.{m[4]}"),
    (re.compile(r"^corner_mods_head\.(tl|br)_modules\.(\d+)\."
                r"(p1_conv1|p2_conv1|p_conv1|p_bn1|conv1_|bn1_|conv1|bn1|conv2)\.(.+)$"),
     lambda m: f"heads.{m[2]}.{m[1]}_pool.{_POOL_PARTS[m[3]]}.{m[4]}"),
    (re.compile(r"^corner_mods_head\.(tl|br)_(heats|offs)\.(\d+)\.([01])\.(.+)$"),
     lambda m: f"heads.{m[3]}.{m[1]}_{'heat' if m[2] == 'heats' else 'off'}.{'conv' if m[4] == '0' else 'out'}.{m[5]}"),
]


def convert_official_state_dict(sd: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Official state dict (raw, or the {'epoch', 'state_dict', 'optimizer'} dict of the official train.py) ->
    (our state dict, report). The report holds ``converted`` (count), ``dropped_alias`` (the conv_kernel_θ_ keys),
    ``unknown`` (keys no rule maps; left out) and ``epoch`` (when present)."""
    epoch = None
    if isinstance(sd, Mapping) and isinstance(sd.get("state_dict"), Mapping):
        epoch = sd.get("epoch")
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise CheckpointError(f"convert_official_state_dict: expected a state dict, got {type(sd).__name__}")
    ours: dict[str, torch.Tensor] = {}
    report: dict[str, Any] = {"converted": 0, "dropped_alias": [], "unknown": [], "epoch": epoch}
    for key, value in sd.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if _ALIAS.match(name):
            report["dropped_alias"].append(name)
            continue
        for pattern, rename in _RULES:
            m = pattern.match(name)
            if m:
                ours[rename(m)] = value
                report["converted"] += 1
                break
        else:
            report["unknown"].append(name)
    return ours, report


_EXPORT_RULES = [
    (re.compile(r"^backbone\.(.+)$"), lambda m: f"backbone.{m[1]}"),
    (re.compile(r"^neck\.layers\.([012])\.(conv|bn)\.(.+)$"),
     lambda m: f"neck.downsample{int(m[1]) + 2}.downsample.{'0' if m[2] == 'conv' else '1'}.{m[3]}"),
    (re.compile(r"^heads\.(\d+)\.kernel_([tlbr])\.(conv|bn)\.(.+)$"),
     lambda m: f"corner_mods_head.conv_kernel_{m[2]}.{m[1]}.{'0' if m[3] == 'conv' else '1'}.{m[4]}"),
    (re.compile(r"^heads\.(\d+)\.(tl|br)_pool\.(" + "|".join(re.escape(v) for v in _POOL_PARTS.values())
                + r")\.(.+)$"),
     lambda m: f"corner_mods_head.{m[2]}_modules.{m[1]}.{_OFFICIAL_PART[m[3]]}.{m[4]}"),
    (re.compile(r"^heads\.(\d+)\.(tl|br)_(heat|off)\.(conv|out)\.(.+)$"),
     lambda m: f"corner_mods_head.{m[2]}_{'heats' if m[3] == 'heat' else 'offs'}.{m[1]}."
               f"{'0' if m[4] == 'conv' else '1'}.{m[5]}"),
]
_OFFICIAL_PART = {v: k for k, v in _POOL_PARTS.items()}


def export_official_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict (official profile: ResNet-50, ``MODEL.LEVELS [3, 4, 5]``, no paper-only layers) -> the official
    state dict, including the 24 ``conv_kernel_θ_`` alias keys the official train.py saves (copies of level 2).
    A key with no official counterpart (e.g. ``SEARCH_CONV`` or ``HEAD_BN`` layers) is a :class:`CheckpointError`.
    ``convert_official_state_dict(export_official_state_dict(sd))[0]`` equals ``sd``."""
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        for pattern, rename in _EXPORT_RULES:
            m = pattern.match(key)
            if m:
                out[rename(m)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"export_official_state_dict: {len(unknown)} keys have no official counterpart "
                              f"(is this the official profile?): {', '.join(unknown[:8])}")
    for key in [k for k in out if re.match(r"^corner_mods_head\.conv_kernel_[tlbr]\.2\.", k)]:
        prefix, rest = key.split(".2.", 1)
        out[f"{prefix}_.{rest}"] = out[key]
    return out
