"""The plain eager model behind the runtime interface (``INFERENCE`` switches all off, ``BACKEND: torch``)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ..decode import decode_corners
from ..siamcorners import SiamCorners
from .settings import StageHook

__all__ = ["EagerRuntime"]


class EagerRuntime:
    """Runs ``model.track`` and decodes every level with ``decode_corners``. ``model`` is a :class:`SiamCorners`
    or any object with ``template(z)`` and ``track(x) -> [per-level dict]`` (batched kernels need SiamCorners)."""

    def __init__(self, model: Any):
        self.model = model
        self.stage_hook: StageHook = None

    @torch.no_grad()
    def template(self, z: torch.Tensor) -> None:
        """Cache the templates z (B, K, 3, 127, 127)."""
        self.model.template(z)

    @torch.no_grad()
    def template_kernels(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z (B, K, 3, 127, 127) -> per level correlation kernels (B, K, C, 7, 7)."""
        if not isinstance(self.model, SiamCorners):
            raise TypeError(f"template kernels need a SiamCorners model, got {type(self.model).__name__}")
        return self.model._kernels_for(z)

    @torch.no_grad()
    def track(self, x: torch.Tensor, kernels: Sequence[torch.Tensor] | None = None) -> list[dict[str, torch.Tensor]]:
        """x (B, 3, 255, 255) -> per level dense maps (``SiamCorners.track`` contract)."""
        if kernels is None:
            return self.model.track(x)
        if not isinstance(self.model, SiamCorners):
            raise TypeError(f"explicit kernels need a SiamCorners model, got {type(self.model).__name__}")
        return self.model._heads(x, kernels)

    @torch.no_grad()
    def detect(self, x: torch.Tensor, topk: int = 12, nms_kernel: int = 1, num_pairs: int = 15,
               kernels: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, 3, 255, 255) -> candidates (B, L * num_pairs, 5) [x1, y1, x2, y2, score] in heat units."""
        outputs = self.track(x, kernels)
        dets = [decode_corners(o["tl_heat"], o["br_heat"], o.get("tl_off"), o.get("br_off"), topk, nms_kernel,
                               num_pairs) for o in outputs]  # (B, P, 5) each
        return torch.cat(dets, dim=1)
