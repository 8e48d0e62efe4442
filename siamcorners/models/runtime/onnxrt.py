"""The ``onnxruntime`` backend (``INFERENCE.BACKEND: onnxruntime``): the exported graphs run in ONNX Runtime.

    rt = OnnxRuntimeBackend(model, settings, export_dir)   # export_dir: from tools/export.py, or a cache folder
    rt.template(z); det = rt.detect(x, topk, nms_kernel, num_pairs)   # the runtime interface

The template graph runs once per init, the search graph once per frame (per video when batched); the offset heads
(sparse at the decoded corners, or dense) and decoding run in PyTorch on the graph's outputs, through the same
code as the optimised eager runtime, so the boxes equal the eager tracker's up to float rounding.

Sessions are created on first use with ``intra_op_num_threads`` = ``torch.get_num_threads()`` at that moment (the
thread count the calling tool chose, e.g. one per worker process of ``tools/test.py --workers``) and one inter-op
thread. On a CPU device they run on ONNX Runtime's CPU execution provider; on ``cuda:N`` on its CUDA execution
provider (``INFERENCE.TENSORRT``: TensorRT's, engines cached in ``<export>/tensorrt/``) with ``device_id`` N. A
session that does not run on the provider asked for (a CPU-only build, CUDA/TensorRT libraries that do not load:
ONNX Runtime then falls back to the CPU with a warning) is a :class:`ProviderError`, never a silent CPU run.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from ..siamcorners import SiamCorners
from .onnx_export import ExportError, read_meta
from .optimised import InferenceSiamCorners
from .settings import InferenceSettings, StageHook

__all__ = ["OnnxRuntimeBackend", "ProviderError", "session_options", "providers_for", "open_session",
           "TENSORRT_CACHE"]

TENSORRT_CACHE = "tensorrt"  # sub-folder of an export folder: TensorRT engines built from its graphs


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("INFERENCE.BACKEND onnxruntime needs the onnx extra: pip install "
                          "'siamcorners[onnx]' (or pip install -r requirements/onnx.txt)") from None
    return onnxruntime


def session_options(threads: int | None = None):
    """ONNX Runtime session options: all graph optimisations, ``threads`` intra-op threads (default: the current
    torch thread count), one inter-op thread, sequential execution, no spinning of idle threads."""
    ort = _ort()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = int(threads if threads is not None else torch.get_num_threads())
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no busy-waiting of ORT's threads after a run: the offsets and decoding that follow run in torch's threads
    # on the same cores (measured: the offsets took 60 ms instead of 9 with spinning on, 2-core CPU)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


class ProviderError(RuntimeError):
    """ONNX Runtime cannot run the graphs on the execution provider the device asks for (one line: device, provider,
    what ONNX Runtime has or runs instead, what to do)."""


def providers_for(device: torch.device | str, tensorrt: bool = False,
                  export_dir: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Execution providers with their options, most preferred first: ``cpu`` -> CPU; ``cuda:N`` -> CUDA (with
    ``tensorrt``: TensorRT, then CUDA for the nodes TensorRT does not take), ``device_id`` N, then CPU for the
    nodes no GPU provider takes. TensorRT engines are cached in ``<export_dir>/tensorrt/`` (built once per export;
    the cache key includes the graph, so the fp32 and int8 graphs of one folder keep their own engines)."""
    device = torch.device(device)
    if device.type == "cpu":
        if tensorrt:
            raise ProviderError("INFERENCE.TENSORRT needs a CUDA device (DEVICE cuda or cuda:N), got cpu")
        return [("CPUExecutionProvider", {})]
    if device.type != "cuda":
        raise ProviderError(f"INFERENCE.BACKEND onnxruntime runs on cpu or cuda devices, got {device}")
    gpu: dict[str, Any] = {"device_id": device.index if device.index is not None else 0}
    chain: list[tuple[str, dict[str, Any]]] = []
    if tensorrt:
        cache = os.path.join(export_dir or ".", TENSORRT_CACHE)
        chain.append(("TensorrtExecutionProvider", {**gpu, "trt_engine_cache_enable": True,
                                                    "trt_engine_cache_path": cache}))
    return chain + [("CUDAExecutionProvider", dict(gpu)), ("CPUExecutionProvider", {})]


def open_session(path: str, device: torch.device | str, tensorrt: bool = False, export_dir: str | None = None,
                 threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` of the graph ``path`` on ``device`` (see :func:`providers_for`); raises
    :class:`ProviderError` when the build lacks the provider, or when the session runs on another one."""
    ort = _ort()
    chain = providers_for(device, tensorrt, export_dir if export_dir is not None else os.path.dirname(path))
    wanted = chain[0][0]
    available = ort.get_available_providers()
    where = f"INFERENCE.BACKEND onnxruntime on {torch.device(device)}"
    if wanted not in available:
        hint = ("a build of onnxruntime-gpu with TensorRT, or INFERENCE.TENSORRT false" if tensorrt else
                "pip install onnxruntime-gpu (in place of onnxruntime), or DEVICE cpu")
        raise ProviderError(f"{where}: ONNX Runtime {ort.__version__} has no {wanted} (it has "
                            f"{', '.join(available)}); {hint}")
    if wanted == "TensorrtExecutionProvider":
        os.makedirs(chain[0][1]["trt_engine_cache_path"], exist_ok=True)
    try:
        session = ort.InferenceSession(path, session_options(threads), providers=[p for p, _ in chain],
                                       provider_options=[o for _, o in chain])
    except Exception as e:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...) are not exported
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{path}: ONNX Runtime cannot load this graph ({type(e).__name__}: {reason}); "
                          f"the export is damaged: export again with tools/export.py") from None
    used = session.get_providers()
    if not used or used[0] != wanted:
        raise ProviderError(f"{where}: {os.path.basename(path)} runs on {used[0] if used else 'no provider'}, not "
                            f"the {wanted} asked for (ONNX Runtime could not load it and fell back; its warning above "
                            f"says why, usually CUDA/cuDNN{'/TensorRT' if tensorrt else ''} libraries of other "
                            f"versions than onnxruntime-gpu {ort.__version__} needs)")
    return session


class OnnxRuntimeBackend:
    """Runs a :class:`SiamCorners` model's exported graphs (``export_dir``, checked against the model's weights).

    ``search_file`` selects the search graph file of the folder (``search.onnx``, or the int8 graph)."""

    def __init__(self, model: SiamCorners, settings: InferenceSettings, export_dir: str,
                 search_file: str | None = None):
        if not isinstance(model, SiamCorners):
            raise TypeError(f"the onnxruntime backend needs a SiamCorners model, got {type(model).__name__}")
        self.meta = read_meta(export_dir, model)
        self.export_dir = export_dir
        self.search_file = search_file or self.meta["graphs"]["search"]["file"]
        self.device = next(model.parameters()).device
        self.settings = settings
        # offsets + decoding of the graph's outputs (the same code as the optimised eager runtime)
        self.post = InferenceSiamCorners(model, InferenceSettings(fold_bn=True, sparse_offsets=settings.sparse_offsets))
        self.levels = model.levels
        self._template_sess = None
        self._search_sess = None
        self._kernels: np.ndarray | None = None  # (B, L, K, C, 7, 7)

    @property
    def stage_hook(self) -> StageHook:
        """Stage timing callback (``network``, then ``offsets`` from the PyTorch part)."""
        return self.post.stage_hook

    @stage_hook.setter
    def stage_hook(self, hook: StageHook) -> None:
        self.post.stage_hook = hook

    # ------------------------------------------------------------------------------------- sessions
    def _sessions(self):
        if self._search_sess is None:
            self._template_sess, self._search_sess = (
                open_session(os.path.join(self.export_dir, name), self.device, self.settings.tensorrt, self.export_dir)
                for name in ("template.onnx", self.search_file))
        return self._template_sess, self._search_sess

    @staticmethod
    def _np(t: torch.Tensor) -> np.ndarray:
        return t.detach().to("cpu", torch.float32).contiguous().numpy()

    # ------------------------------------------------------------------------------------- runtime interface
    def template_kernels(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z (B, K, 3, 127, 127) -> per level correlation kernels (B, K, C, 7, 7) (on the model's device)."""
        tmpl, _ = self._sessions()
        kernels = tmpl.run(None, {"templates": self._np(z)})[0]  # (B, L, K, C, 7, 7)
        return list(torch.from_numpy(kernels).to(self.device).unbind(1))

    def template(self, z: torch.Tensor) -> None:
        """Run the template graph once and keep its kernels for :meth:`detect`."""
        tmpl, _ = self._sessions()
        self._kernels = tmpl.run(None, {"templates": self._np(z)})[0]

    def heat_and_features(self, x: torch.Tensor, kernels: Sequence[torch.Tensor] | None = None):
        """x (B, 3, 255, 255) -> heat (B, L, 2, H, W), corner features (B, L, 2, C, H, W) (torch, model device).
        One search-graph call per sample (the graph's batch is 1)."""
        _, search = self._sessions()
        if kernels is None:
            if self._kernels is None:
                raise RuntimeError("OnnxRuntimeBackend: call template(z) first")
            k = self._kernels
        else:
            k = self._np(torch.stack(list(kernels), dim=1))
        xs = self._np(x)
        if k.shape[0] == 1 and xs.shape[0] > 1:
            k = np.broadcast_to(k, (xs.shape[0],) + k.shape[1:])
        if k.shape[0] != xs.shape[0]:
            raise ValueError(f"OnnxRuntimeBackend: templates have batch {k.shape[0]} but the search has {xs.shape[0]}")
        outs = [search.run(None, {"search": xs[i:i + 1], "kernels": np.ascontiguousarray(k[i:i + 1])})
                for i in range(xs.shape[0])]
        heat = torch.from_numpy(np.concatenate([o[0] for o in outs])).to(self.device)
        corner = torch.from_numpy(np.concatenate([o[1] for o in outs])).to(self.device)
        self.post._tick("network")
        return heat, corner

    @torch.no_grad()
    def track(self, x: torch.Tensor, kernels: Sequence[torch.Tensor] | None = None) -> list[dict[str, Any]]:
        """Same contract as :meth:`SiamCorners.track` (dense offset maps)."""
        return self.post.maps_from(*self.heat_and_features(x, kernels))

    @torch.no_grad()
    def detect(self, x: torch.Tensor, topk: int = 12, nms_kernel: int = 1, num_pairs: int = 15,
               kernels: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, 3, 255, 255) -> candidates (B, L * num_pairs, 5), as the eager runtimes."""
        heat, corner = self.heat_and_features(x, kernels)
        return self.post.detect_from(heat, corner, topk, nms_kernel, num_pairs)
