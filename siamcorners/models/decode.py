"""Heat maps -> candidate boxes (the official per-level ``pysot/models/utils.py:_decode``; reference section 6).

For each sample: sigmoid both heat maps, keep local maxima of a ``nms_kernel`` max-pool (kernel 1 = identity, as
in the official code), take the top ``topk`` positions of each map, add the offsets read at each corner's own cell,
form all topk x topk (tl, br) pairs with score (s_tl + s_br) / 2, set the score to -1 when br_x < tl_x or
br_y < tl_y (on the offset-adjusted coordinates) and keep the ``num_pairs`` best pairs.

Ties (equal scores, e.g. the -1 of rejected pairs) are ordered as ``torch.topk`` orders them, exactly like the
official code; on the CPU this reproduces the official output. Another device's ``torch.topk`` may order ties
differently.
"""
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["decode_corners", "decode_corners_full"]


def _check(tl_heat: torch.Tensor, br_heat: torch.Tensor, tl_off: Optional[torch.Tensor],
           br_off: Optional[torch.Tensor], topk: int, nms_kernel: int, num_pairs: int) -> None:
    if tl_heat.dim() != 4 or tl_heat.shape[1] != 1 or br_heat.shape != tl_heat.shape:
        raise ValueError(f"decode_corners: heat maps must both be (B, 1, H, W), got {tuple(tl_heat.shape)} and "
                         f"{tuple(br_heat.shape)}")
    b, _, h, w = tl_heat.shape
    for name, off in (("tl_off", tl_off), ("br_off", br_off)):
        if off is not None and tuple(off.shape) != (b, 2, h, w):
            raise ValueError(f"decode_corners: {name} must be {(b, 2, h, w)}, got {tuple(off.shape)}")
    if (tl_off is None) != (br_off is None):
        raise ValueError("decode_corners: give both tl_off and br_off, or neither")
    if not 1 <= topk <= h * w:
        raise ValueError(f"decode_corners: topk must be in [1, {h * w}], got {topk}")
    if not 1 <= num_pairs <= topk * topk:
        raise ValueError(f"decode_corners: num_pairs must be in [1, topk**2 = {topk * topk}], got {num_pairs}")
    if nms_kernel < 1 or nms_kernel % 2 == 0:
        raise ValueError(f"decode_corners: nms_kernel must be a positive odd integer, got {nms_kernel}")


def _nms(heat: torch.Tensor, kernel: int) -> torch.Tensor:
    """Zero every score that is not the maximum of its kernel x kernel neighbourhood. heat: (B, 1, H, W)."""
    if kernel == 1:
        return heat
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=(kernel - 1) // 2)
    return heat * (hmax == heat).to(heat.dtype)


def _top_corners(heat: torch.Tensor, off: Optional[torch.Tensor], topk: int):
    """Top-k corners of a (B, 1, H, W) score map -> scores, xs, ys, each (B, K); offsets added when given."""
    b, _, h, w = heat.shape
    scores, inds = torch.topk(heat.reshape(b, h * w), topk)  # (B, K)
    ys = torch.div(inds, w, rounding_mode="floor").to(heat.dtype)
    xs = (inds % w).to(heat.dtype)
    if off is not None:
        gathered = off.reshape(b, 2, h * w).gather(2, inds.unsqueeze(1).expand(b, 2, topk))  # (B, 2, K)
        xs = xs + gathered[:, 0]
        ys = ys + gathered[:, 1]
    return scores, xs, ys


def decode_corners_full(tl_heat: torch.Tensor, br_heat: torch.Tensor, tl_off: Optional[torch.Tensor] = None,
                        br_off: Optional[torch.Tensor] = None, topk: int = 12, nms_kernel: int = 1,
                        num_pairs: int = 15) -> torch.Tensor:
    """Official rows: tl_heat, br_heat (B, 1, H, W) logits; tl_off, br_off (B, 2, H, W) or None ->
    (B, num_pairs, 8) [x1, y1, x2, y2, score, tl_score, br_score, 0] in heat units, by descending score."""
    _check(tl_heat, br_heat, tl_off, br_off, topk, nms_kernel, num_pairs)
    b = tl_heat.shape[0]
    tl_scores, tl_xs, tl_ys = _top_corners(_nms(torch.sigmoid(tl_heat), nms_kernel), tl_off, topk)
    br_scores, br_xs, br_ys = _top_corners(_nms(torch.sigmoid(br_heat), nms_kernel), br_off, topk)
    shape = (b, topk, topk)  # [sample, tl corner, br corner]
    x1 = tl_xs.unsqueeze(2).expand(shape)
    y1 = tl_ys.unsqueeze(2).expand(shape)
    x2 = br_xs.unsqueeze(1).expand(shape)
    y2 = br_ys.unsqueeze(1).expand(shape)
    s_tl = tl_scores.unsqueeze(2).expand(shape)
    s_br = br_scores.unsqueeze(1).expand(shape)
    scores = (s_tl + s_br) / 2
    scores = torch.where((x2 < x1) | (y2 < y1), torch.full_like(scores, -1.0), scores)
    rows = torch.stack([x1, y1, x2, y2, scores, s_tl, s_br, torch.zeros_like(scores)], dim=3)  # (B, K, K, 8)
    rows = rows.reshape(b, topk * topk, 8)
    _, order = torch.topk(scores.reshape(b, topk * topk), num_pairs)  # (B, num_pairs)
    return rows.gather(1, order.unsqueeze(2).expand(b, num_pairs, 8))


def decode_corners(tl_heat: torch.Tensor, br_heat: torch.Tensor, tl_off: Optional[torch.Tensor] = None,
                   br_off: Optional[torch.Tensor] = None, topk: int = 12, nms_kernel: int = 1,
                   num_pairs: int = 15) -> torch.Tensor:
    """tl_heat, br_heat (B, 1, H, W) logits; tl_off, br_off (B, 2, H, W) or None ->
    (B, num_pairs, 5) [x1, y1, x2, y2, score] in heat units; rejected pairs score -1."""
    return decode_corners_full(tl_heat, br_heat, tl_off, br_off, topk, nms_kernel, num_pairs)[..., :5]
