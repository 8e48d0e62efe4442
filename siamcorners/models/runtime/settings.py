"""The ``INFERENCE`` settings of a tracking run (how the network is run; see :mod:`siamcorners.models.runtime`)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Mapping, Optional

import torch

__all__ = ["InferenceSettings", "AMP_MODES", "BACKENDS", "StageHook", "set_tf32"]

AMP_MODES = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}
BACKENDS = ("torch", "onnxruntime")
StageHook = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class InferenceSettings:
    """The ``INFERENCE`` keys, lower-case. ``InferenceSettings()`` (every switch off but ``precompute_template``)
    is the plain eager model; the config defaults switch the exact optimisations on (``config.py``)."""

    precompute_template: bool = True
    fold_bn: bool = False
    batch_branches: bool = False
    sparse_offsets: bool = False
    channels_last: bool = False
    winograd: bool = False
    winograd_head: bool = False
    amp: str = "off"
    compile: bool = False
    device_crop: bool = False
    backend: str = "torch"
    onnx_dir: str = ""
    onnx_cache: str = ""
    tensorrt: bool = False
    int8: bool = False
    int8_calibration: int = 32
    tf32: bool = False

    def __post_init__(self):
        if self.amp not in AMP_MODES:
            raise ValueError(f"config key 'INFERENCE.AMP' must be one of {list(AMP_MODES)}, got {self.amp!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"config key 'INFERENCE.BACKEND' must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.int8 and self.backend != "onnxruntime":
            raise ValueError("config key 'INFERENCE.INT8' needs INFERENCE.BACKEND onnxruntime")
        if self.tensorrt and self.backend != "onnxruntime":
            raise ValueError("config key 'INFERENCE.TENSORRT' needs INFERENCE.BACKEND onnxruntime")

    @classmethod
    def from_cfg(cls, cfg: Mapping) -> "InferenceSettings":
        """From the full config tree (``cfg["INFERENCE"]``; missing keys keep their defaults)."""
        section = cfg.get("INFERENCE", {}) or {}
        return cls(**{f.name: section[f.name.upper()] for f in fields(cls) if f.name.upper() in section})

    @property
    def changes_model(self) -> bool:
        """True when the eager model needs the optimised wrapper (any model-side switch of the torch backend)."""
        return (not self.precompute_template or self.fold_bn or self.batch_branches or self.sparse_offsets
                or self.channels_last or self.winograd or self.winograd_head or self.amp != "off"
                or self.compile)


def set_tf32(enabled: bool) -> None:
    """TF32 for CUDA matmuls and cuDNN convolutions on or off (``INFERENCE.TF32``; process-wide torch flags, no
    effect on a CPU). cuDNN allows TF32 by default, so without this a GPU would track with 10-bit mantissas."""
    torch.backends.cuda.matmul.allow_tf32 = bool(enabled)
    torch.backends.cudnn.allow_tf32 = bool(enabled)
