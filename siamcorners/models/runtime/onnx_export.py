"""ONNX export of the two tracking branches (``tools/export.py``; the ``onnxruntime`` backend exports on first use).

Graphs (float32, opset 17, the TorchScript-based exporter: no extra dependency beyond ``onnx``)::

    template.onnx   templates (B, K, 3, 127, 127) raw BGR 0..255  ->  kernels (B, L, K, C, 7, 7)     (B dynamic)
    search.onnx     search (1, 3, 255, 255), kernels (1, L, K, C, 7, 7)
                        ->  heat (1, L, 2, 25, 25) logits [tl, br],  corner (1, L, 2, C, 25, 25) corner features
    meta.json       inputs/outputs, the MODEL config, the weights hash, versions

The search graph stops at the corner features: the offset heads run in PyTorch at the top-k decoded corners only
(``SPARSE_OFFSETS``, the only cells decoding reads) or densely from them. Its batch is 1 because the depthwise
correlation is a grouped convolution whose group count (batch x channels) ONNX fixes at export; batched tracking
runs it once per video. BN is folded into the convolutions and the directional pools export as their log-step
form (``torch.cummax`` has no standard ONNX operator), both exact up to float rounding.

``weights_sha256`` (over the state dict) and the MODEL config let a runtime detect a stale export.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import re
import shutil
import tempfile
import warnings
from typing import Any, Mapping

import torch
import torch.nn as nn

from ...config import ConfigError
from ..pools import BottomPool, LeftPool, RightPool, TopPool
from ..siamcorners import SiamCorners
from .optimised import InferenceSiamCorners
from .settings import InferenceSettings
from .winograd import use_winograd

__all__ = ["export_onnx", "weights_sha256", "read_meta", "check_export", "check_export_target", "backend_opts",
           "META_FILE", "OPSET", "FORMAT_VERSION", "EXPORT_FILES", "ExportError"]

META_FILE = "meta.json"
OPSET = 17
FORMAT_VERSION = 1
# the TorchScript-based exporter: torch >= 2.9 defaults to the dynamo one (dynamo=True, needs onnxscript); torch
# 2.3 (the declared floor) has no ``dynamo`` argument and only the TorchScript exporter
_TORCHSCRIPT = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


class ExportError(ConfigError):
    """An export folder (``INFERENCE.ONNX_DIR``, ``--onnx``) that is missing, unreadable or does not match the model."""


EXPORT_FILES = ("template.onnx", "search.onnx", META_FILE, "search_int8.onnx")  # every file an export writes
_OWN_TMP = re.compile(r"^(?:" + "|".join(re.escape(f) for f in EXPORT_FILES) + r")\.tmp\.\d+$")  # killed writers


def _is_export_meta(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "format" in meta and "weights_sha256" in meta and "graphs" in meta


def check_export_target(out_dir: str) -> bool:
    """Whether ``out_dir`` may receive an export, before any work: it is absent, an empty folder, or an export
    folder this tool wrote (its ``meta.json`` and nothing but export files); returns True when an old export will
    be replaced. Anything else (a file, a folder holding other files) is an ExportError: never delete what we did
    not write."""
    if not os.path.lexists(out_dir):
        return False
    if not os.path.isdir(out_dir) or os.path.islink(out_dir):
        raise ExportError(f"{out_dir}: exists and is not a folder; give a new folder name for the export")
    names = sorted(os.listdir(out_dir))
    if not names:
        return False
    others = [n for n in names if n not in EXPORT_FILES and not _OWN_TMP.match(n)]
    if others or not _is_export_meta(os.path.join(out_dir, META_FILE)):
        shown = ", ".join((others or names)[:4]) + (f" and {len(others or names) - 4} more"
                                                    if len(others or names) > 4 else "")
        what = "files that are not part of an export" if others else f"no {META_FILE} of an earlier export"
        raise ExportError(f"{out_dir}: folder holds {what} ({shown}); it is left as it is: give a new or empty "
                          f"folder, or an earlier export's folder, to replace")
    return True


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 over the state dict (names, shapes and float32 bytes, sorted by name): a stale export's detector."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().to("cpu", torch.float32).contiguous() if t.is_floating_point() else t.detach().cpu()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


EXPORT_WINOGRAD_MIN = 512 * 1024  # in ONNX Runtime only the two largest convs gain from Winograd (measured)


def _export_network(model: SiamCorners, winograd: bool = False) -> InferenceSiamCorners:
    """The network that is exported: BN folded, log-step pools, per-module head (a CPU copy); with ``winograd`` the
    convolutions with Cin * Cout >= EXPORT_WINOGRAD_MIN as Winograd F(4x4, 3x3) matrix products."""
    net = InferenceSiamCorners(copy.deepcopy(model).cpu().float(), InferenceSettings(fold_bn=True))
    if winograd:
        use_winograd(net.model, EXPORT_WINOGRAD_MIN)
    for m in net.model.modules():
        if isinstance(m, (TopPool, BottomPool, LeftPool, RightPool)):
            m.impl = "logstep"
    return net


class _TemplateGraph(nn.Module):
    def __init__(self, net: InferenceSiamCorners):
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, K, 3, 127, 127) -> (B, L, K, C, 7, 7)
        return torch.stack(self.net.template_kernels(z), dim=1)


class _SearchGraph(nn.Module):
    def __init__(self, net: InferenceSiamCorners):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, kernels: torch.Tensor):  # (1, 3, 255, 255), (1, L, K, C, 7, 7)
        heat, corner = self.net._search_network(x, list(kernels.unbind(1)))
        return heat, corner  # (1, L, 2, 25, 25), (1, L, 2, C, 25, 25)


def _io(name: str, t: torch.Tensor, dynamic_batch: bool = False) -> dict[str, Any]:
    shape: list[Any] = list(t.shape)
    if dynamic_batch:
        shape[0] = "batch"
    return {"name": name, "shape": shape, "dtype": "float32"}


def export_onnx(model: SiamCorners, out_dir: str, model_cfg: Mapping | None = None,
                exemplar_size: int = 127, instance_size: int = 255, overwrite: bool = True,
                winograd: bool = False) -> dict[str, Any]:
    """Write ``template.onnx``, ``search.onnx`` and ``meta.json`` for ``model`` into ``out_dir``: a new or empty
    folder, or an earlier export's folder, which is replaced as a whole (the files appear together or not at all);
    a folder holding anything else is refused before any work (`check_export_target`). With ``overwrite=False`` an
    ``out_dir`` that
    appeared meanwhile (another process exporting the same cache entry) is kept. ``winograd``: the search graph's
    two largest convolutions as Winograd matrix products (faster in ONNX Runtime on a CPU; for TensorRT / CUDA keep
    it off: their own convolutions are faster there). Returns the meta dict."""
    import onnx  # optional extra: requirements/onnx.txt

    if not isinstance(model, SiamCorners):
        raise TypeError(f"export_onnx needs a SiamCorners model, got {type(model).__name__}")
    check_export_target(out_dir)
    net = _export_network(model)
    k = model.num_templates
    z = torch.rand(1, k, 3, exemplar_size, exemplar_size) * 255
    x = torch.rand(1, 3, instance_size, instance_size) * 255
    tmpl = _TemplateGraph(net).eval()
    search = _SearchGraph(_export_network(model, winograd) if winograd else net).eval()
    with torch.no_grad():
        kernels = tmpl(z)
        heat, corner = search(x, kernels)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated in favour of one that
            warnings.simplefilter("ignore")  # needs onnxscript; its graphs are the same standard operators
            torch.onnx.export(tmpl, (z,), os.path.join(tmp, "template.onnx"), input_names=["templates"],
                              output_names=["kernels"], opset_version=OPSET, **_TORCHSCRIPT,
                              dynamic_axes={"templates": {0: "batch"}, "kernels": {0: "batch"}})
            torch.onnx.export(search, (x, kernels), os.path.join(tmp, "search.onnx"),
                              input_names=["search", "kernels"], output_names=["heat", "corner"],
                              opset_version=OPSET, **_TORCHSCRIPT)
        for name in ("template.onnx", "search.onnx"):
            onnx.checker.check_model(os.path.join(tmp, name))
        digests = {name: file_sha256(os.path.join(tmp, f"{name}.onnx")) for name in ("template", "search")}
        meta = {
            "format": FORMAT_VERSION,
            "weights_sha256": weights_sha256(model),
            "levels": list(model.levels),
            "num_templates": k,
            "offsets": bool(model.offsets),
            "opset": OPSET,
            "winograd": bool(winograd),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "graphs": {
                "template": {"file": "template.onnx", "sha256": digests["template"],
                             "inputs": [_io("templates", z, True)], "outputs": [_io("kernels", kernels, True)]},
                "search": {"file": "search.onnx", "sha256": digests["search"],
                           "inputs": [_io("search", x), _io("kernels", kernels)],
                           "outputs": [_io("heat", heat), _io("corner", corner)]},
            },
            "notes": "templates/search: raw BGR 0..255 float32 (normalisation inside); heat: logits per level "
                     "[tl, br]; corner: corner-pool features the offset heads read (run in PyTorch)",
            "config": {"MODEL": _plain(model_cfg["MODEL"])} if model_cfg is not None and "MODEL" in model_cfg
            else None,
        }
        with open(os.path.join(tmp, META_FILE), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        os.chmod(tmp, _new_folder_mode())  # mkdtemp makes it 0700; the export is an ordinary folder
        old = None
        if overwrite and check_export_target(out_dir):  # checked again: the folder may have changed meanwhile
            old = tempfile.mkdtemp(prefix=".export-old-", dir=parent)
            os.replace(out_dir, os.path.join(old, "export"))
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if old is not None:
                os.replace(os.path.join(old, "export"), out_dir)
                os.rmdir(old)
            if overwrite or not os.path.isdir(out_dir):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _new_folder_mode() -> int:
    """The permission bits ``os.makedirs`` gives a new folder: 0o777 less the process umask."""
    from ...benchmarks.textio import process_umask

    return 0o777 & ~process_umask()


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def read_meta(onnx_dir: str, model: SiamCorners | None = None) -> dict[str, Any]:
    """``meta.json`` of an export folder; with ``model``, check that the export was made from these weights
    (ExportError naming the folder otherwise)."""
    path = os.path.join(onnx_dir, META_FILE)
    if not os.path.isfile(path):
        raise ExportError(f"{onnx_dir}: not an ONNX export folder (no {META_FILE}; make one with tools/export.py)")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: unreadable ({e})") from None
    if meta.get("format") != FORMAT_VERSION:
        raise ExportError(f"{path}: export format {meta.get('format')!r}, this version reads {FORMAT_VERSION}; "
                          f"re-export with tools/export.py")
    for name in ("template", "search"):
        entry = meta["graphs"][name]
        file = os.path.join(onnx_dir, entry["file"])
        if not os.path.isfile(file):
            raise ExportError(f"{onnx_dir}: {entry['file']} is missing")
        if entry.get("sha256") and file_sha256(file) != entry["sha256"]:  # exports before the hash have none
            raise ExportError(f"{file}: not the graph this export wrote (its sha256 differs from {META_FILE}'s: "
                              f"copied from another export, or changed); export again with tools/export.py")
    if model is not None:
        digest = weights_sha256(model)
        if meta.get("weights_sha256") != digest:
            raise ExportError(f"{onnx_dir}: stale export: its weights hash {str(meta.get('weights_sha256'))[:12]} "
                              f"differs from the model's {digest[:12]}; re-export with tools/export.py")
    return meta


def backend_opts(onnx_dir: str) -> list[str]:
    """Config overrides that make the tracker run the export folder ``onnx_dir`` in ONNX Runtime."""
    return ["INFERENCE.BACKEND", "onnxruntime", "INFERENCE.ONNX_DIR", os.path.abspath(onnx_dir)]


def check_export(onnx_dir: str, cfg: Mapping, snapshot: str) -> None:
    """ExportError unless ``onnx_dir`` was exported from ``snapshot``'s weights and ONNX Runtime loads its graphs
    (``tools/test.py --onnx``)."""
    from ..checkpoint import load_checkpoint
    from ..siamcorners import build_model
    from .onnxrt import open_session

    model = build_model(cfg)
    load_checkpoint(snapshot, model=model)
    meta = read_meta(onnx_dir, model)
    for name in ("template", "search"):  # a damaged graph file: one line now, not a traceback in a worker later
        open_session(os.path.join(onnx_dir, meta["graphs"][name]["file"]), "cpu")
