"""How a tracking frame is computed: the ways of running a SiamCorners network, behind one small interface.

    runtime = build_runtime(model, cfg)              # from the INFERENCE keys (the tracker calls this)
    runtime.template(z)                              # z (B, K, 3, 127, 127): once per init
    det = runtime.detect(x, topk, nms_kernel, num_pairs)   # x (B, 3, 255, 255) -> (B, L * num_pairs, 5)
    maps = runtime.track(x)                          # the dense per-level maps (SiamCorners.track contract)
    kernels = runtime.template_kernels(z)            # explicit per-video kernels (batched tracking):
    det = runtime.detect(x, ..., kernels=kernels)    #   detect(x, ..., kernels=...) uses them instead
    runtime.stage_hook = callable(stage name)        # stage timing (engine/profiling/speed.py)

Implementations (each gives the plain model's boxes up to float rounding, except AMP and INT8):

* :class:`EagerRuntime` (``eager.py``): the plain model, ``model.track`` + ``decode_corners`` per level;
* :class:`InferenceSiamCorners` (``optimised.py``): optimised eager PyTorch (BN folding, sparse offsets,
  channels-last, grouped branches, AMP, compile: one ``INFERENCE`` switch each);
* :class:`OnnxRuntimeBackend` (``onnxrt.py``): the graphs of ``onnx_export.py`` in ONNX Runtime (fp32, or int8
  from ``quantize.py``), with offsets and decoding in PyTorch.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Any, Mapping

from ..siamcorners import SiamCorners
from .eager import EagerRuntime
from .optimised import InferenceSiamCorners, fold_batchnorm, fold_conv_bn
from .settings import AMP_MODES, BACKENDS, InferenceSettings, StageHook

__all__ = ["build_runtime", "EagerRuntime", "InferenceSiamCorners", "InferenceSettings", "AMP_MODES", "BACKENDS",
           "StageHook", "fold_batchnorm", "fold_conv_bn", "onnx_cache_dir", "ensure_export", "export_winograd"]


def onnx_cache_dir(settings: InferenceSettings) -> str:
    """``INFERENCE.ONNX_CACHE``, or ``$XDG_CACHE_HOME/siamcorners/onnx`` (default ``~/.cache/siamcorners/onnx``)."""
    if settings.onnx_cache:
        return os.path.expanduser(settings.onnx_cache)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "siamcorners", "onnx")


def export_winograd(model: SiamCorners, settings: InferenceSettings) -> bool:
    """Whether an export for ``settings`` uses Winograd convolutions: ``INFERENCE.WINOGRAD`` on a CPU model and no
    int8 graph (int8 Winograd transforms lose too much precision; GPUs run their own convolutions faster)."""
    return bool(settings.winograd and not settings.int8 and next(model.parameters()).device.type == "cpu")


def ensure_export(model: SiamCorners, settings: InferenceSettings, cfg: Mapping | None = None) -> str:
    """The export folder the onnxruntime backend runs: ``INFERENCE.ONNX_DIR`` (checked against the weights), or a
    cache folder named by a hash of the weights and the MODEL config, exported on first use (plus the int8 search
    graph when ``INFERENCE.INT8``)."""
    from .onnx_export import FORMAT_VERSION, export_onnx, read_meta, weights_sha256
    from .winograd import WINOGRAD_GRAPH

    if settings.onnx_dir:
        folder = settings.onnx_dir
        read_meta(folder, model)
    else:
        model_cfg = json.dumps(cfg["MODEL"], sort_keys=True, default=str) if cfg is not None else ""
        winograd = export_winograd(model, settings)
        wino = f"winograd={winograd}" + (f"/{WINOGRAD_GRAPH}" if winograd else "")  # a newer graph form: new entry
        key = hashlib.sha256(f"{FORMAT_VERSION}|{weights_sha256(model)}|{model_cfg}|{wino}"
                             .encode()).hexdigest()[:16]
        folder = os.path.join(onnx_cache_dir(settings), key)
        try:
            read_meta(folder, model)
        except ValueError:
            track = cfg["TRACK"] if cfg is not None else {}
            if os.path.isdir(folder):  # stale or broken entry
                shutil.rmtree(folder, ignore_errors=True)
            export_onnx(model, folder, cfg, track.get("EXEMPLAR_SIZE", 127), track.get("INSTANCE_SIZE", 255),
                        overwrite=False, winograd=winograd)
    if settings.int8:
        from .quantize import ensure_int8

        ensure_int8(folder, model, cfg, settings.int8_calibration)
    return folder


def build_runtime(model: Any, cfg: Mapping | None = None, settings: InferenceSettings | None = None) -> Any:
    """The runtime the ``INFERENCE`` keys of ``cfg`` (or ``settings``) ask for; ``model`` is on its device, in
    eval mode. A model that is not a :class:`SiamCorners` (any object with ``template``/``track``) runs eagerly."""
    settings = settings if settings is not None else InferenceSettings.from_cfg(cfg or {})
    if not isinstance(model, SiamCorners):
        return EagerRuntime(model)
    if settings.backend == "onnxruntime":
        from .onnxrt import OnnxRuntimeBackend
        from .quantize import INT8_FILE

        folder = ensure_export(model, settings, cfg)
        return OnnxRuntimeBackend(model, settings, folder, INT8_FILE if settings.int8 else None)
    if settings.changes_model:
        return InferenceSiamCorners(model, settings)
    return EagerRuntime(model)
