"""Corner losses: focal loss on the corner heat maps and SmoothL1 loss on the sub-cell offsets.

Official semantics (``pysot/models/loss.py:corner_loss``; reference section 5), for each corner type c in {tl, br}
and each level l, with y the target heat map, v the valid mask and p = clamp(sigmoid(logit), 1e-4, 1 - 1e-4):

    FL[c, l]  = -[ sum_{y=1} v (1-p)^alpha log p + sum_{y<1} v (1-y)^beta p^alpha log(1-p) ] / N
    Off[c, l] = sum_b v_b * SmoothL1_{beta=1}(o_hat_b - o_b) summed over x and y / D
    focal = sum FL / L,  offset = offset_weight * sum Off / L,  total = focal + offset   ("mean" level reduction)

Normalisers (switches for the paper profile, PAPER≠CODE #5 and #6):

- ``focal_norm="num_pos"`` (code): N = number of target entries exactly equal to 1 in the whole batch for that
  corner type; when N = 0 the division is skipped (FL = -sum over negatives).
- ``focal_norm="num_pos_per_level"``: N = max(1, K), with K the number of target peaks (entries == 1) of that
  level's batch map that lie inside the valid mask. Samples masked out do not count, and there is no separate
  un-normalised branch. All levels share one target map, so with an all-ones mask this is ``"num_pos"``.
- ``focal_norm="per_heatmap"`` (paper eq. 1 read per heat map, docs/design.md "Paper readings"): each sample's
  heat map is one eq. 1 sum divided by its own K = max(1, number of its target peaks), and the batch value is
  the mean of these over the counted samples (valid mask). A sample whose corner is off the map (or a
  negative pair) keeps its un-normalised all-negative sum instead of being folded into the batch count.
- ``offset_norm="num_objects"`` (code): the sum runs over all valid objects, including corners that fall outside
  the map (whose flat index was clamped), and D = sum(v) + 1e-4, i.e. about B.
- ``offset_norm="num_pos"`` (paper eq. 3, 1/K sum over the K corners): the sum runs only over valid objects whose
  corner lies on the map (the target heat at its index equals 1), and D = max(1, K).

``level_reduction="mean"`` divides the level sums by the number of levels (code); ``"sum"`` does not (paper
eq. 4 adds the terms of the three independent levels).

Negative pairs (``DATASET.NEG_LABELS: none``): the optional target ``no_target`` (B,) marks samples whose search
crop holds no labelled target. Their heat maps are all background, so the focal term pushes every cell of
both maps towards 0; they get no offset loss and do not count in the offset normaliser.
The probability clamp and its zero gradient outside [1e-4, 1 - 1e-4] follow the official code (no log-sigmoid).

Precision: every function takes fp16, bf16 or fp32 inputs (what a forward under AMP autocast hands over) and computes
and returns float32 (float64 inputs stay float64). In fp16 or bf16 the clamp bound 1 - 1e-4 rounds to 1.0, so a
background cell with a logit above ~8 would give log(1 - p) = -inf and an infinite loss.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = ["PROB_EPS", "clamped_sigmoid", "focal_loss", "focal_loss_per_map", "normalise_focal", "gather_offsets",
           "offset_loss", "corner_loss"]

PROB_EPS = 1e-4
FOCAL_NORMS = ("num_pos", "num_pos_per_level", "per_heatmap")
OFFSET_NORMS = ("num_objects", "num_pos")
LEVEL_REDUCTIONS = ("mean", "sum")
CORNER_TYPES = ("tl", "br")


def _loss_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype a loss is computed in: float32 for fp16/bf16/fp32 inputs, float64 for float64."""
    return torch.promote_types(t.dtype, torch.float32)


def _full(t: torch.Tensor) -> torch.Tensor:
    """``t`` in its loss dtype (:func:`_loss_dtype`): reduced-precision activations widened, no copy otherwise."""
    return t.to(_loss_dtype(t))


def clamped_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """clamp(sigmoid(logits), 1e-4, 1 - 1e-4), not in place, in float32 (float64 for float64 logits)."""
    return torch.clamp(torch.sigmoid(_full(logits)), min=PROB_EPS, max=1 - PROB_EPS)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0,
               mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Un-normalised corner focal loss of one heat map.

    logits, target: (B, 1, H, W); mask: broadcastable to them (e.g. (B, 1, 1, 1)) or None.
    Returns (loss_sum, num_pos): loss_sum = -[sum_pos + sum_neg] (a scalar >= 0) and num_pos = number of target
    entries == 1 (float scalar, not masked, as in the official code)."""
    if logits.shape != target.shape:
        raise ValueError(f"focal_loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    p = clamped_sigmoid(logits)
    target = target.to(p.dtype)
    pos = target.eq(1)
    neg = target.lt(1)
    pos_term = torch.log(p) * torch.pow(1 - p, alpha)
    neg_term = torch.log(1 - p) * torch.pow(p, alpha) * torch.pow(1 - target, beta)
    if mask is not None:
        pos_term = pos_term * mask
        neg_term = neg_term * mask
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    pos_sum = torch.where(pos, pos_term, zero).sum()
    neg_sum = torch.where(neg, neg_term, zero).sum()
    return -(pos_sum + neg_sum), pos.sum().to(p.dtype)


def focal_loss_per_map(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0,
                       beta: float = 4.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Corner focal loss of each heat map separately.

    logits, target: (B, 1, H, W). Returns (loss (B,), num_pos (B,)): loss_b = -[sum_pos + sum_neg] over sample b's
    map and num_pos_b = its number of target entries == 1."""
    if logits.shape != target.shape:
        raise ValueError(f"focal_loss_per_map: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    p = clamped_sigmoid(logits)
    target = target.to(p.dtype)
    pos = target.eq(1)
    pos_term = torch.log(p) * torch.pow(1 - p, alpha)
    neg_term = torch.log(1 - p) * torch.pow(p, alpha) * torch.pow(1 - target, beta)
    terms = torch.where(pos, pos_term, torch.where(target.lt(1), neg_term, torch.zeros_like(p)))
    return -terms.flatten(1).sum(1), pos.flatten(1).sum(1).to(p.dtype)


def normalise_focal(loss_sum: torch.Tensor, num_pos: torch.Tensor) -> torch.Tensor:
    """Official rule: loss_sum / num_pos, or loss_sum itself when num_pos == 0 (no host sync)."""
    return torch.where(num_pos > 0, loss_sum / num_pos.clamp(min=1), loss_sum)


def gather_offsets(off_map: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """Offsets read at flat indices: off_map (B, 2, H, W), ind (B,) int64 y*W+x (clamped to the map) -> (B, 2)."""
    b, c, h, w = off_map.shape
    ind = ind.to(device=off_map.device, dtype=torch.long).clamp(0, h * w - 1)
    return off_map.reshape(b, c, h * w).gather(2, ind.view(b, 1, 1).expand(b, c, 1)).squeeze(2)


def offset_loss(off_map: torch.Tensor, target: torch.Tensor, ind: torch.Tensor, weight: torch.Tensor,
                normaliser: torch.Tensor) -> torch.Tensor:
    """sum_b SmoothL1_{beta=1}(weight_b * o_hat_b, weight_b * o_b) over x, y, divided by ``normaliser``.

    off_map (B, 2, H, W); target (B, 2) x first; ind (B,) flat index; weight (B,) object weights (the valid mask)."""
    off_map = _full(off_map)
    w = weight.to(device=off_map.device, dtype=off_map.dtype).view(-1, 1)
    pred = gather_offsets(off_map, ind)  # (B, 2)
    target = target.to(device=off_map.device, dtype=off_map.dtype)  # (B, 2), on the outputs' device like the rest
    return F.smooth_l1_loss(pred * w, target * w, reduction="sum", beta=1.0) / normaliser


def _check_targets(targets: Dict[str, torch.Tensor], batch: int) -> None:
    for key in ("tl_heat", "br_heat", "tl_off", "br_off", "tl_ind", "br_ind", "valid"):
        if key not in targets:
            raise KeyError(f"corner_loss: targets lack key {key!r}")
    for key, shape in (("tl_off", (batch, 2)), ("br_off", (batch, 2)), ("tl_ind", (batch,)),
                       ("br_ind", (batch,)), ("valid", (batch,)), ("no_target", (batch,))):
        if key in targets and tuple(targets[key].shape) != shape:
            raise ValueError(f"corner_loss: targets[{key!r}] has shape {tuple(targets[key].shape)}, "
                             f"expected {shape}")


def corner_loss(outputs: Sequence[Dict[str, torch.Tensor]], targets: Dict[str, torch.Tensor],
                alpha: float = 2.0, beta: float = 4.0, offset_weight: float = 1.0, focal_norm: str = "num_pos",
                offset_norm: str = "num_objects", level_reduction: str = "mean") -> Dict[str, torch.Tensor]:
    """Total corner loss over levels.

    outputs: one dict per level with "tl_heat", "br_heat" (B, 1, H, W) logits and optionally "tl_off", "br_off"
    (B, 2, H, W) (missing or None -> no offset loss). targets: "tl_heat", "br_heat" (B, 1, H, W); "tl_off",
    "br_off" (B, 2) x first; "tl_ind", "br_ind" (B,) int64 flat y*W+x; "valid" (B,) float; optionally
    "no_target" (B,) float, 1 for a negative pair with empty heat maps (no offset loss).
    Returns scalars: "total", "focal", "offset" and the per-part terms "focal_<c>_<l>", "offset_<c>_<l>"
    (c in tl/br, l the level position) before the level reduction."""
    if focal_norm not in FOCAL_NORMS:
        raise ValueError(f"corner_loss: focal_norm must be one of {FOCAL_NORMS}, got {focal_norm!r}")
    if offset_norm not in OFFSET_NORMS:
        raise ValueError(f"corner_loss: offset_norm must be one of {OFFSET_NORMS}, got {offset_norm!r}")
    if level_reduction not in LEVEL_REDUCTIONS:
        raise ValueError(f"corner_loss: level_reduction must be one of {LEVEL_REDUCTIONS}, got {level_reduction!r}")
    if len(outputs) == 0:
        raise ValueError("corner_loss: outputs is empty (expected one dict per level)")
    batch = targets["tl_heat"].shape[0] if "tl_heat" in targets else -1
    _check_targets(targets, batch)

    ref = _full(outputs[0]["tl_heat"])  # device and loss dtype (float32 under AMP)
    valid = targets["valid"].to(device=ref.device, dtype=ref.dtype)  # (B,)
    mask = valid.view(-1, 1, 1, 1)
    no_target = targets.get("no_target")
    has_corner = valid if no_target is None else valid * (1 - no_target.to(device=ref.device, dtype=ref.dtype))
    parts: Dict[str, torch.Tensor] = {}
    focal_total = ref.new_zeros(())
    offset_total = ref.new_zeros(())
    for c in CORNER_TYPES:
        heat_t = targets[f"{c}_heat"].to(device=ref.device, dtype=ref.dtype)  # (B, 1, H, W)
        ind = targets[f"{c}_ind"].to(ref.device)
        if offset_norm == "num_objects":
            off_weight, off_norm = has_corner, has_corner.sum() + 1e-4
        else:
            on_map = gather_offsets(heat_t, ind).squeeze(1).eq(1).to(ref.dtype)  # (B,)
            off_weight = has_corner * on_map
            off_norm = off_weight.sum().clamp(min=1)
        for level, out in enumerate(outputs):
            logits = out[f"{c}_heat"]
            if logits.shape != heat_t.shape:
                raise ValueError(f"corner_loss: outputs[{level}][{c + '_heat'!r}] has shape "
                                 f"{tuple(logits.shape)}, targets[{c + '_heat'!r}] {tuple(heat_t.shape)}")
            if focal_norm == "per_heatmap":
                per_map, k = focal_loss_per_map(logits, heat_t, alpha, beta)  # (B,), (B,)
                fl = (valid * per_map / k.clamp(min=1)).sum() / valid.sum().clamp(min=1)
            else:
                loss_sum, num_pos = focal_loss(logits, heat_t, alpha, beta, mask)
                if focal_norm == "num_pos":
                    fl = normalise_focal(loss_sum, num_pos)
                else:
                    k = (heat_t.eq(1).to(ref.dtype) * mask).sum()
                    fl = loss_sum / k.clamp(min=1)
            off_map = out.get(f"{c}_off")
            if off_map is None:
                off = ref.new_zeros(())
            else:
                off = offset_loss(off_map, targets[f"{c}_off"], ind, off_weight, off_norm)
            parts[f"focal_{c}_{level}"] = fl
            parts[f"offset_{c}_{level}"] = off
            focal_total = focal_total + fl
            offset_total = offset_total + off
    divisor = float(len(outputs)) if level_reduction == "mean" else 1.0
    focal = focal_total / divisor
    offset = offset_weight * offset_total / divisor
    return {"total": focal + offset, "focal": focal, "offset": offset, **parts}
