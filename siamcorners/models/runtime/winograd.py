"""Winograd F(4x4, 3x3) convolution in plain PyTorch (config ``INFERENCE.WINOGRAD``).

A 3x3 convolution computes each 4x4 block of outputs from a 6x6 block of inputs with 144 multiplications per
input/output channel pair; Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms for Convolutional Neural
Networks", CVPR 2016) needs 36: transform the input tiles (``B^T d B``) and the weights (``G g G^T``, once), multiply
them position by position -- for all channels that is 36 matrix products ``(Cout, Cin) @ (Cin, tiles)`` -- and
transform back (``A^T m A``). The result equals the direct convolution up to float rounding (relative error about
1e-5 of the output's range in float32; ``tests/test_winograd.py``).

A dilated convolution (the dilated ResNet-50 of the official profile has them in layers 3 and 4) is first split
into its d x d phases (every d-th row and column, zero-padded to a multiple of d): on each phase it is an ordinary
3x3 convolution, so the same transform applies, and the phases are interleaved back afterwards.

It pays only where the matrix products dominate: on this project's 2-core CPU the backbone's dilated 3x3
downsample convolutions (1024 -> 2048 and 512 -> 1024 channels on 31x31 maps) run about 2x faster and layer 4's
512-channel ones about 1.5x, while the 256-channel ones (layer 3, the head's on 25x25 maps) gain nothing,
hence :data:`MIN_CHANNEL_PRODUCT`. On CUDA, under autocast or for non-float32 inputs the layer runs the ordinary
convolution (cuDNN chooses its own algorithms).
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["winograd_weights", "winograd_conv3x3", "WinogradConv2d", "use_winograd", "MIN_CHANNEL_PRODUCT"]

M = 4  # output tile
A = M + 2  # input tile
# F(4x4, 3x3) transforms (interpolation points 0, 1, -1, 2, -2, inf)
_BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
_G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
_AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

MIN_CHANNEL_PRODUCT = 512 * 512  # Cin * Cout from which use_winograd replaces a 3x3 convolution (measured)
WINOGRAD_GRAPH = 2  # the form the ONNX export traces (:func:`_winograd_graph`); the export cache key includes it


def _cpu_autocast_enabled() -> bool:
    """Whether CPU autocast is on: ``torch.is_autocast_enabled("cpu")`` from torch 2.4 (which deprecates
    ``torch.is_autocast_cpu_enabled()``); torch 2.3, the declared floor, has only the latter."""
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch 2.3: is_autocast_enabled() takes no device
        return torch.is_autocast_cpu_enabled()


@functools.lru_cache(maxsize=16)
def _kron(which: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The input ("BT") or output ("AT") transform of a flattened tile, built once per dtype and device."""
    t = torch.tensor(_BT if which == "BT" else _AT, dtype=torch.float64)
    return torch.kron(t, t).to(device=device, dtype=dtype)  # (rows^2, cols^2)


def winograd_weights(weight: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """3x3 weights (Cout, Cin, 3, 3) -> transformed weights U (36, Cout, Cin), computed in float64 (``chunk``
    output channels at a time), returned in the weight's dtype."""
    if weight.dim() != 4 or tuple(weight.shape[2:]) != (3, 3):
        raise ValueError(f"winograd_weights: expected (Cout, Cin, 3, 3) weights, got {tuple(weight.shape)}")
    g = torch.tensor(_G, dtype=torch.float64, device=weight.device)  # (6, 3)
    co, ci = weight.shape[:2]
    u = torch.empty(A * A, co, ci, dtype=weight.dtype, device=weight.device)
    for s in range(0, co, chunk):
        w = weight[s:s + chunk].detach().double()  # (c, Cin, 3, 3)
        uc = g @ w @ g.T  # (c, Cin, 6, 6)
        u[:, s:s + chunk] = uc.permute(2, 3, 0, 1).reshape(A * A, -1, ci).to(weight.dtype)
    return u


def _winograd_same(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Undilated 3x3 convolution, stride 1, padding 1: x (N, Cin, H, W), u (36, Cout, Cin) -> (N, Cout, H, W)."""
    n, ci, h, w = (int(v) for v in x.shape)
    th, tw = (h + M - 1) // M, (w + M - 1) // M  # output tiles per column / row
    xp = F.pad(x, (1, tw * M + 1 - w, 1, th * M + 1 - h))  # (N, Cin, th*4+2, tw*4+2)
    tiles = xp.unfold(2, A, M).unfold(3, A, M)  # (N, Cin, th, tw, 6, 6) view
    d = tiles.permute(4, 5, 1, 0, 2, 3).reshape(A * A, -1)  # (36, Cin * N * th * tw)
    v = (_kron("BT", x.dtype, x.device) @ d).view(A * A, ci, n * th * tw)  # input transform
    co = int(u.shape[1])
    m = v.new_empty(A * A, co, v.shape[2])
    for p in range(A * A):  # one matrix product per position: faster than one bmm here (measured)
        torch.mm(u[p], v[p], out=m[p])
    y = (_kron("AT", x.dtype, x.device) @ m.view(A * A, -1)).view(M * M, co, n * th * tw)  # output transform
    if bias is not None:
        y += bias.view(1, co, 1)
    y = y.view(M, M, co, n, th, tw).permute(3, 4, 0, 5, 1, 2).reshape(n, th * M, tw * M, co)  # NHWC
    return y[:, :h, :w].permute(0, 3, 1, 2)  # (N, Cout, H, W), a view with channels-last strides


def _winograd_graph(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None, dilation: int) -> torch.Tensor:
    """:func:`winograd_conv3x3` as the ONNX export traces it: x (N, Cin, H, W), u (36, Cout, Cin) -> (N, Cout, H, W).

    ONNX has no Unfold, and ONNX Runtime runs strided Slice and many-axis Transpose nodes on one thread, slowly.
    So the tiles are cut and input-transformed by one convolution of every channel plane with the 36 rows of
    ``B^T (x) B^T`` as 6x6 filters at stride 4, and the d x d phases, the 4x4 output tiles and the channels are put
    back in place by a single transpose (measured in ONNX Runtime on the AVX-512 CPU: the two backbone
    downsample convolutions take 115 instead of 140 ms per frame)."""
    n, c, h, w = (int(v) for v in x.shape)  # static ints when traced
    d = int(dilation)
    hp, wp = (h + d - 1) // d * d, (w + d - 1) // d * d
    ph, pw = hp // d, wp // d  # phase size
    th, tw = (ph + M - 1) // M, (pw + M - 1) // M  # output tiles per phase column / row
    phases = F.pad(x, (0, wp - w, 0, hp - h)).reshape(n, c, ph, d, pw, d)
    phases = phases.permute(0, 3, 5, 1, 2, 4).reshape(n * d * d * c, 1, ph, pw)  # every (phase, channel) plane
    phases = F.pad(phases, (1, tw * M + 1 - pw, 1, th * M + 1 - ph))  # (N*d*d*Cin, 1, th*4+2, tw*4+2)
    filters = _kron("BT", x.dtype, x.device).view(A * A, 1, A, A)
    v = F.conv2d(phases, filters, stride=M)  # (N*d*d*Cin, 36, th, tw): transformed tiles
    t = n * d * d * th * tw
    v = v.view(n * d * d, c, A * A, th * tw).permute(2, 1, 0, 3).reshape(A * A, c, t)  # (36, Cin, T)
    co = int(u.shape[1])
    m = torch.bmm(u, v)  # (36, Cout, T): the 36 channel products
    y = (_kron("AT", x.dtype, x.device) @ m.view(A * A, -1)).view(M * M, co, t)  # (16, Cout, T) output transform
    if bias is not None:
        y = y + bias.view(1, co, 1)
    # (row, col in tile, Cout, N, phase row, phase col, tile row, tile col) -> (N, Cout, H', W')
    y = y.view(M, M, co, n, d, d, th, tw).permute(3, 2, 6, 0, 4, 7, 1, 5).reshape(n, co, th * M * d, tw * M * d)
    return y[:, :, :h, :w]


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None,
                     dilation: int = 1) -> torch.Tensor:
    """``F.conv2d(x, w, bias, padding=dilation, dilation=dilation)`` for 3x3 weights ``w`` given as
    ``u = winograd_weights(w)``: x (N, Cin, H, W) -> (N, Cout, H, W), contiguous in x's memory format."""
    if x.dim() != 4 or u.dim() != 3 or u.shape[0] != A * A or u.shape[2] != x.shape[1]:
        raise ValueError(f"winograd_conv3x3: input {tuple(x.shape)} does not fit weights {tuple(u.shape)}")
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() \
        else torch.contiguous_format
    if torch.jit.is_tracing():  # the ONNX export: a graph of few, large operators
        return _winograd_graph(x, u, bias, dilation)
    if dilation == 1:
        return _winograd_same(x, u, bias).contiguous(memory_format=fmt)
    n, c, h, w = (int(v) for v in x.shape)
    d = dilation
    hp, wp = (h + d - 1) // d * d, (w + d - 1) // d * d
    phases = F.pad(x, (0, wp - w, 0, hp - h)).reshape(n, c, hp // d, d, wp // d, d)
    phases = phases.permute(0, 3, 5, 1, 2, 4).reshape(n * d * d, c, hp // d, wp // d)  # (N*d*d, C, hp/d, wp/d)
    y = _winograd_same(phases, u, bias)  # (N*d*d, Cout, hp/d, wp/d), NHWC memory
    co = int(y.shape[1])
    y = y.permute(0, 2, 3, 1).reshape(n, d, d, hp // d, wp // d, co).permute(0, 3, 1, 4, 2, 5)
    return y.reshape(n, hp, wp, co)[:, :h, :w].permute(0, 3, 1, 2).contiguous(memory_format=fmt)


def _eligible(conv: nn.Module, min_channel_product: int) -> bool:
    return (type(conv) is nn.Conv2d and conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.groups == 1
            and conv.dilation[0] == conv.dilation[1] and conv.padding == conv.dilation
            and conv.padding_mode == "zeros" and conv.in_channels * conv.out_channels >= min_channel_product)


class WinogradConv2d(nn.Module):
    """A 3x3, stride-1, 'same'-padded ``nn.Conv2d`` run with :func:`winograd_conv3x3` on float32 CPU inputs (the
    wrapped convolution otherwise). Built from the convolution's current weights (fold BN first)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not _eligible(conv, 0):
            raise ValueError(f"WinogradConv2d needs a 3x3, stride 1, groups 1, 'same' padded Conv2d, got {conv}")
        self.conv = conv
        self.dilation = conv.dilation[0]
        self.register_buffer("u", winograd_weights(conv.weight), persistent=False)  # (36, Cout, Cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, Cin, H, W) -> (N, Cout, H, W)
        if x.device.type != "cpu" or x.dtype != torch.float32 or self.u.dtype != torch.float32 \
                or _cpu_autocast_enabled() or self.u.device != x.device:
            return self.conv(x)
        return winograd_conv3x3(x, self.u, self.conv.bias, self.dilation)

    def extra_repr(self) -> str:
        return f"F(4x4, 3x3), dilation={self.dilation}"


def use_winograd(model: nn.Module, min_channel_product: int = MIN_CHANNEL_PRODUCT) -> int:
    """Replace (in place) every eligible 3x3 convolution of ``model`` with ``Cin * Cout >= min_channel_product``
    by a :class:`WinogradConv2d`; returns how many were replaced. Convolutions whose weights are not on the CPU
    stay (no transformed weights in GPU memory: cuDNN has its own fast algorithms). The transformed weights take
    4x the memory of the 3x3 weights (about 0.5 GB for the official ResNet-50)."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if _eligible(child, min_channel_product) and child.weight.device.type == "cpu":
                setattr(parent, name, WinogradConv2d(child))
                count += 1
    return count
