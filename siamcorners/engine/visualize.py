"""What the network sees and answers, as images: templates, search crop and corner heat maps side by side.

One panel row per pair: the templates (four boundary templates in a 2x2 grid, or the unified one), the search
crop, then each predicted heat map (sigmoid of the logits, per level, top-left and bottom-right) and, in
training, the target heat maps, each laid over the grey search crop at its own geometry (heat cell ``(x, y)`` =
crop pixel ``ORIGIN + STRIDE * (x, y)``, ``cfg.HEATMAP``). Used by the trainer's TensorBoard image summaries
(``TRAIN.IMAGE_SUMMARY_ITERS``) and ``tools/demo.py --heatmaps``.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import torch

__all__ = ["heat_overlay", "template_grid", "heatmap_panel", "model_heatmaps", "pair_panels", "HeatmapDumper"]

CROP = 255         # panel cell side: the search crop's size
LABEL_HEIGHT = 16  # strip above each cell with its name


def _uint8_hwc(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """(3, H, W) or (H, W, 3) float / uint8 BGR -> (H, W, 3) uint8."""
    a = image.detach().float().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3:
        a = a.transpose(1, 2, 0)
    return np.ascontiguousarray(np.clip(a, 0, 255).astype(np.uint8))


def heat_overlay(search: np.ndarray, heat: np.ndarray, stride: float, origin: float) -> np.ndarray:
    """A (h, w) probability map in [0, 1] laid over the grey (H, W, 3) uint8 search crop at the heat geometry."""
    size = search.shape[1], search.shape[0]
    mapping = np.array([[stride, 0.0, origin], [0.0, stride, origin]], dtype=np.float64)  # cell -> crop pixel
    up = cv2.warpAffine(np.asarray(heat, np.float32), mapping, size, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    colour = cv2.applyColorMap(np.clip(up * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    grey = cv2.cvtColor(cv2.cvtColor(search, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    alpha = np.clip(up, 0.25, 1.0)[..., None] * 0.8
    return (grey * (1 - alpha) + colour * alpha).astype(np.uint8)


def template_grid(templates: Sequence[np.ndarray], side: int = CROP) -> np.ndarray:
    """Four (127, 127, 3) templates (top, left, bottom, right) as a 2x2 grid, or one template, scaled to ``side``."""
    if len(templates) == 4:
        half = side // 2
        tiles = [cv2.resize(t, (half, half), interpolation=cv2.INTER_AREA) for t in templates]
        grid = np.full((side, side, 3), 255, np.uint8)
        for k, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            grid[r * half:(r + 1) * half, c * half:(c + 1) * half] = tiles[k]
        return grid
    return cv2.resize(templates[0], (side, side), interpolation=cv2.INTER_LINEAR)


def _labelled(image: np.ndarray, label: str) -> np.ndarray:
    strip = np.full((LABEL_HEIGHT, image.shape[1], 3), 32, np.uint8)
    cv2.putText(strip, label, (3, LABEL_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([strip, image])


def heatmap_panel(templates: Sequence[np.ndarray], search: np.ndarray, heats: Mapping[str, np.ndarray],
                  stride: float, origin: float, box: Sequence[float] | None = None) -> np.ndarray:
    """One row: template grid | search crop (with ``box`` x1, y1, x2, y2 in crop pixels drawn) | one overlay per
    entry of ``heats`` (name -> (h, w) probabilities), labelled with its name and peak value. Returns (255 + 16, 255 * (2 + len(heats)), 3) uint8 BGR."""
    search = _uint8_hwc(search)
    shown = search.copy()
    if box is not None:
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(shown, (x1, y1), (x2, y2), (0, 191, 255), 2)
    cells = [_labelled(template_grid([_uint8_hwc(t) for t in templates]), "template"), _labelled(shown, "search")]
    cells += [_labelled(heat_overlay(search, h, stride, origin), f"{name}  max {float(np.max(h)):.2f}")
              for name, h in heats.items()]
    return np.hstack(cells)


def model_heatmaps(outputs: Sequence[Mapping[str, torch.Tensor]], levels: Sequence[int], index: int = 0
                   ) -> dict[str, np.ndarray]:
    """Predicted corner probabilities of item ``index`` per level: {"L4 pred TL": (25, 25), "L4 pred BR": ...}."""
    heats = {}
    for level, out in zip(levels, outputs):
        for corner in ("tl", "br"):
            logits = out[f"{corner}_heat"][index, 0].float()  # (25, 25)
            heats[f"L{level} pred {corner.upper()}"] = torch.sigmoid(logits).cpu().numpy()
    return heats


@torch.no_grad()
def pair_panels(model: Any, items: Mapping[str, torch.Tensor], levels: Sequence[int], stride: float,
                origin: float) -> list[np.ndarray]:
    """Panels of training pairs (a collated batch: ``template`` (B, K, 3, 127, 127), ``search`` (B, 3, 255, 255),
    ``tl_heat`` / ``br_heat`` (B, 1, 25, 25) targets): predictions of ``model`` in eval mode, then the targets.
    The train/eval flag of every module is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    device = next(model.parameters()).device
    model.eval()
    try:
        panels = []
        for i in range(items["search"].shape[0]):
            model.template(items["template"][i:i + 1].to(device))
            outputs = model.track(items["search"][i:i + 1].to(device))
            heats = model_heatmaps(outputs, levels)
            heats["target TL"] = items["tl_heat"][i, 0].float().cpu().numpy()
            heats["target BR"] = items["br_heat"][i, 0].float().cpu().numpy()
            panels.append(heatmap_panel(list(items["template"][i]), items["search"][i], heats, stride, origin))
        return panels
    finally:
        for m, training in modes:
            m.training = training


class HeatmapDumper:
    """A tracker wrapper (``init`` / ``track``) that writes one PNG panel per frame into ``folder``:
    ``000000.png`` the templates of the init frame, then per tracked frame its search crop with the chosen box
    and the predicted corner heat maps of ``model`` (an eager copy of the tracker's network, same weights)."""

    def __init__(self, tracker: Any, model: Any, folder: str, levels: Sequence[int], stride: float, origin: float):
        self.tracker, self.model, self.folder = tracker, model.eval(), folder
        self.levels, self.stride, self.origin = list(levels), float(stride), float(origin)
        self.index, self.templates, self.written = 0, None, []
        os.makedirs(folder, exist_ok=True)

    def _write(self, panel: np.ndarray) -> None:
        path = os.path.join(self.folder, f"{self.index:06d}.png")
        tmp = os.path.join(self.folder, f".{self.index:06d}.tmp.png")
        if not cv2.imwrite(tmp, panel):
            raise OSError(f"--heatmaps: cannot write {path}")
        os.replace(tmp, path)
        self.written.append(path)

    @torch.no_grad()
    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        self.tracker.init(frame, box)
        z = self.tracker.template_input(frame, box)  # the same templates (and state) init just set
        self.model.template(z.to(next(self.model.parameters()).device))
        self.templates = [_uint8_hwc(t) for t in z[0]]
        self.index = 0
        blank = np.zeros((CROP, CROP, 3), np.uint8)
        self._write(heatmap_panel(self.templates, blank, {}, self.stride, self.origin))

    @torch.no_grad()
    def track(self, frame: np.ndarray) -> dict:
        x, geometry = self.tracker.search_input(frame)  # the crop track() is about to use
        out = self.tracker.track(frame)
        outputs = self.model.track(x.to(next(self.model.parameters()).device))
        center, crop_side = geometry[0], geometry[4]
        bx, by, bw, bh = (float(v) for v in out["bbox"])
        a = CROP / crop_side  # image pixels -> crop pixels, the crop centred on the previous centre
        box = [(bx - center[0]) * a + CROP / 2, (by - center[1]) * a + CROP / 2,
               (bx + bw - center[0]) * a + CROP / 2, (by + bh - center[1]) * a + CROP / 2]
        self.index += 1
        self._write(heatmap_panel(self.templates, x[0], model_heatmaps(outputs, self.levels), self.stride,
                                  self.origin, box))
        return out
