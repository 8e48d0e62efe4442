"""Directional running-max pools of corner pooling (CornerNet / SiamCorners).

For x of shape (B, C, H, W):

- ``top_pool``:    out[i, j] = max_{i' >= i} x[i', j]   (scan starts at the bottom row H-1)
- ``bottom_pool``: out[i, j] = max_{i' <= i} x[i', j]   (scan starts at the top row 0)
- ``left_pool``:   out[i, j] = max_{j' >= j} x[i, j']   (scan starts at the right column W-1)
- ``right_pool``:  out[i, j] = max_{j' <= j} x[i, j']   (scan starts at the left column 0)

Forward implementations (identical values):

- ``impl="cummax"``: ``torch.cummax`` (with flips for top/left);
- ``impl="logstep"``: ceil(log2 L) shifted element-wise maxima with doubling steps (the algorithm of the
  official C++ extension, written without in-place updates).

Gradient tie rules (they differ only where several inputs tie for the maximum of a pooled range):

- ``tie_rule="official"``: the official C++ backward. Each output sends its whole gradient to one input, found by
  a scan from the pool's starting edge that replaces the running maximum only on a strictly greater value, so
  ties go to the tied element nearest the starting edge (farthest from the output).
- ``tie_rule="cummax"``: what autograd through ``torch.cummax`` gives: ties go to the tied element nearest the
  output position.

NaN inputs are not supported (the official extension does not define them either).
"""
from typing import Dict, Tuple

import torch
from torch import nn

__all__ = [
    "DIRECTIONS",
    "directional_pool",
    "pool_source_index",
    "top_pool",
    "bottom_pool",
    "left_pool",
    "right_pool",
    "TopPool",
    "BottomPool",
    "LeftPool",
    "RightPool",
]

# direction -> (pooled dim of a (B, C, H, W) tensor, True when the scan starts at the high-index edge)
DIRECTIONS: Dict[str, Tuple[int, bool]] = {
    "top": (2, True),
    "bottom": (2, False),
    "left": (3, True),
    "right": (3, False),
}
IMPLS = ("cummax", "logstep")
TIE_RULES = ("official", "cummax")


def _check(x: torch.Tensor, direction: str, impl: str, tie_rule: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"pool direction must be one of {tuple(DIRECTIONS)}, got {direction!r}")
    if impl not in IMPLS:
        raise ValueError(f"pool impl must be one of {IMPLS}, got {impl!r}")
    if tie_rule not in TIE_RULES:
        raise ValueError(f"pool tie_rule must be one of {TIE_RULES}, got {tie_rule!r}")
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{direction}_pool expects a (B, C, H, W) tensor, got {shape}")
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{direction}_pool expects H, W >= 1, got {tuple(x.shape)}")


def _scan_logstep(x: torch.Tensor, dim: int, reverse: bool, op=torch.maximum) -> torch.Tensor:
    """Inclusive running ``op`` (max or min) along ``dim`` by ceil(log2 L) doubling shifted steps.

    reverse=False scans from index 0 upward (prefix), reverse=True from index L-1 downward (suffix)."""
    length = x.shape[dim]
    out = x
    step = 1
    while step < length:
        if reverse:
            body = op(out.narrow(dim, 0, length - step), out.narrow(dim, step, length - step))
            out = torch.cat([body, out.narrow(dim, length - step, step)], dim)
        else:
            body = op(out.narrow(dim, step, length - step), out.narrow(dim, 0, length - step))
            out = torch.cat([out.narrow(dim, 0, step), body], dim)
        step *= 2
    return out


def _pool_values(x: torch.Tensor, direction: str, impl: str) -> torch.Tensor:
    dim, reverse = DIRECTIONS[direction]
    if impl == "logstep":
        return _scan_logstep(x, dim, reverse)
    if reverse:
        return torch.cummax(x.flip(dim), dim).values.flip(dim)
    return torch.cummax(x, dim).values


def _source_index(x: torch.Tensor, out: torch.Tensor, direction: str, tie_rule: str) -> torch.Tensor:
    """Index along the pooled axis of the input each output takes its value (and gradient) from.

    Walking in scan order, the source moves to position k where k "takes over" the running max: for the
    official strict scan where the running max strictly increases at k, for the cummax (>=) scan wherever
    x[k] reaches the running max. The source of an output is the last take-over at or before it in scan order."""
    dim, reverse = DIRECTIONS[direction]
    length = x.shape[dim]
    shape = [1] * x.dim()
    shape[dim] = length
    positions = torch.arange(length, device=x.device).view(shape).expand(x.shape)  # int64
    if tie_rule == "official":
        if reverse:  # previous in scan order is k + 1
            previous = torch.cat([out.narrow(dim, 1, length - 1), out.narrow(dim, length - 1, 1)], dim)
        else:  # previous in scan order is k - 1
            previous = torch.cat([out.narrow(dim, 0, 1), out.narrow(dim, 0, length - 1)], dim)
        takes_over = out > previous
    else:
        takes_over = x == out
    if reverse:
        candidates = torch.where(takes_over, positions, torch.full_like(positions, length - 1))
        return _scan_logstep(candidates, dim, reverse=True, op=torch.minimum)
    candidates = torch.where(takes_over, positions, torch.zeros_like(positions))
    return _scan_logstep(candidates, dim, reverse=False, op=torch.maximum)


class _DirectionalPoolFunction(torch.autograd.Function):
    """Running max with an explicit single-winner backward (see the module docstring for the tie rules)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, direction: str, impl: str, tie_rule: str) -> torch.Tensor:
        out = _pool_values(x, direction, impl)
        ctx.direction = direction
        ctx.tie_rule = tie_rule
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, out = ctx.saved_tensors
        dim, _ = DIRECTIONS[ctx.direction]
        source = _source_index(x, out, ctx.direction, ctx.tie_rule)
        grad_in = torch.zeros_like(x).scatter_add_(dim, source, grad_out.contiguous())
        return grad_in, None, None, None


def pool_source_index(x: torch.Tensor, direction: str, tie_rule: str = "official") -> torch.Tensor:
    """For each output element, the index along the pooled axis (H for top/bottom, W for left/right) of the input
    element that the gradient goes to under ``tie_rule``. x: (B, C, H, W) -> int64 (B, C, H, W)."""
    _check(x, direction, "cummax", tie_rule)
    with torch.no_grad():
        out = _pool_values(x, direction, "cummax")
        return _source_index(x, out, direction, tie_rule)


def directional_pool(x: torch.Tensor, direction: str, impl: str = "cummax",
                     tie_rule: str = "official") -> torch.Tensor:
    """Running max of x (B, C, H, W) in ``direction`` ("top", "bottom", "left", "right") -> (B, C, H, W)."""
    _check(x, direction, impl, tie_rule)
    if tie_rule == "cummax" and impl == "cummax":
        return _pool_values(x, direction, impl)  # plain autograd through torch.cummax
    if not torch.is_grad_enabled() or not x.requires_grad:
        return _pool_values(x, direction, impl)
    return _DirectionalPoolFunction.apply(x, direction, impl, tie_rule)


def top_pool(x: torch.Tensor, impl: str = "cummax", tie_rule: str = "official") -> torch.Tensor:
    """out[..., i, j] = max over rows i' >= i of x[..., i', j]. x: (B, C, H, W)."""
    return directional_pool(x, "top", impl, tie_rule)


def bottom_pool(x: torch.Tensor, impl: str = "cummax", tie_rule: str = "official") -> torch.Tensor:
    """out[..., i, j] = max over rows i' <= i of x[..., i', j]. x: (B, C, H, W)."""
    return directional_pool(x, "bottom", impl, tie_rule)


def left_pool(x: torch.Tensor, impl: str = "cummax", tie_rule: str = "official") -> torch.Tensor:
    """out[..., i, j] = max over columns j' >= j of x[..., i, j']. x: (B, C, H, W)."""
    return directional_pool(x, "left", impl, tie_rule)


def right_pool(x: torch.Tensor, impl: str = "cummax", tie_rule: str = "official") -> torch.Tensor:
    """out[..., i, j] = max over columns j' <= j of x[..., i, j']. x: (B, C, H, W)."""
    return directional_pool(x, "right", impl, tie_rule)


class _DirectionalPool(nn.Module):
    direction = ""

    def __init__(self, impl: str = "cummax", tie_rule: str = "official"):
        super().__init__()
        if impl not in IMPLS:
            raise ValueError(f"pool impl must be one of {IMPLS}, got {impl!r}")
        if tie_rule not in TIE_RULES:
            raise ValueError(f"pool tie_rule must be one of {TIE_RULES}, got {tie_rule!r}")
        self.impl = impl
        self.tie_rule = tie_rule

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H, W)
        return directional_pool(x, self.direction, self.impl, self.tie_rule)

    def extra_repr(self) -> str:
        return f"impl={self.impl!r}, tie_rule={self.tie_rule!r}"


class TopPool(_DirectionalPool):
    """Max over rows below and including each row (running max from the bottom edge upward)."""
    direction = "top"


class BottomPool(_DirectionalPool):
    """Max over rows above and including each row (running max from the top edge downward)."""
    direction = "bottom"


class LeftPool(_DirectionalPool):
    """Max over columns right of and including each column (running max from the right edge leftward)."""
    direction = "left"


class RightPool(_DirectionalPool):
    """Max over columns left of and including each column (running max from the left edge rightward)."""
    direction = "right"
