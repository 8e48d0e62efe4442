"""int8 search graph (``INFERENCE.INT8``): ONNX Runtime static quantisation calibrated on training crops.

    ensure_int8(export_dir, model, cfg, n)   # writes export_dir/search_int8.onnx once (recorded in meta.json)

Calibration data: ``n`` (template, search) training pairs of the built-in synthetic source (``DATASET.SOURCES.
SYNTHETIC`` of ``cfg``, the training seed, with the training augmentation), never the held-out videos; the search
graph's inputs are each pair's search crop and the kernels of its templates (template graph, float32). QDQ format,
per-channel int8 weights, uint8 activations, MinMax calibration. Not exact: ``tools/benchmark.py speed --precision``
reports its FPS ratio and success-AUC change.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterator, Mapping

import numpy as np

from ..siamcorners import SiamCorners
from .onnx_export import META_FILE, read_meta

__all__ = ["ensure_int8", "calibration_pairs", "INT8_FILE"]

INT8_FILE = "search_int8.onnx"


def calibration_pairs(cfg: Mapping | None, n: int, num_templates: int = 4) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``n`` training pairs (templates (1, K, 3, 127, 127), search (1, 3, 255, 255)) float32 of the synthetic
    source, with ``cfg``'s augmentation and crop settings (the defaults tree when None)."""
    from ...config import get_default_config
    from ...data.datasets import build_train_dataset

    base = get_default_config()
    if cfg is not None:
        for key in ("DATASET", "TRACK", "HEATMAP", "LABEL", "SEED"):
            if key in cfg:
                base[key] = cfg[key]
    base = {**base, "DATASET": {**base["DATASET"], "NAMES": ["SYNTHETIC"], "VIDEOS_PER_EPOCH": n, "NEG": 0.0}}
    dataset = build_train_dataset(base)
    for i in range(n):
        item = dataset[i]
        yield item["template"][:num_templates].numpy()[None], item["search"].numpy()[None]


class _Reader:
    """onnxruntime CalibrationDataReader over the search graph's inputs."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def ensure_int8(export_dir: str, model: SiamCorners, cfg: Mapping | None, n: int) -> str:
    """Write ``search_int8.onnx`` into ``export_dir`` (calibrated on ``n`` pairs) unless it is there for the same
    ``n``; returns its path. Needs ``onnxruntime``."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if n < 1:
        raise ValueError(f"config key 'INFERENCE.INT8_CALIBRATION' must be >= 1, got {n}")
    meta = read_meta(export_dir, model)
    out = os.path.join(export_dir, INT8_FILE)
    if meta.get("int8", {}).get("calibration_pairs") == n and os.path.isfile(out):
        return out
    from .onnxrt import session_options

    tmpl = ort.InferenceSession(os.path.join(export_dir, meta["graphs"]["template"]["file"]), session_options(),
                                providers=["CPUExecutionProvider"])
    feeds = []
    for z, x in calibration_pairs(cfg, n, model.num_templates):
        kernels = tmpl.run(None, {"templates": z})[0]
        feeds.append({"search": x, "kernels": kernels})
    tmp = f"{out}.tmp.{os.getpid()}"
    quantize_static(os.path.join(export_dir, meta["graphs"]["search"]["file"]), tmp, _Reader(feeds),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.MinMax)
    os.replace(tmp, out)
    meta["int8"] = {"file": INT8_FILE, "calibration_pairs": n, "source": "synthetic training pairs",
                    "format": "QDQ, per-channel int8 weights, uint8 activations, MinMax"}
    _write_meta(export_dir, meta)
    return out


def _write_meta(export_dir: str, meta: Mapping[str, Any]) -> None:
    path = os.path.join(export_dir, META_FILE)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, path)
