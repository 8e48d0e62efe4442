import numpy as np
import pytest
import torch

from siamcorners.models.pools import (
    BottomPool, LeftPool, RightPool, TopPool, bottom_pool, directional_pool, left_pool, pool_source_index,
    right_pool, top_pool,
)

DIRS = ("top", "bottom", "left", "right")
FUNCS = {"top": top_pool, "bottom": bottom_pool, "left": left_pool, "right": right_pool}
MODULES = {"top": TopPool, "bottom": BottomPool, "left": LeftPool, "right": RightPool}


def naive_pool(x: np.ndarray, direction: str, tie_rule: str):
    """Element loop: scan from the pool's starting edge, keep running max + argmax.
    official: replace only on '>'; cummax: replace on '>='. Returns (out, src)."""
    x = np.asarray(x)
    if direction in ("left", "right"):
        out, src = naive_pool(x.swapaxes(2, 3), {"left": "top", "right": "bottom"}[direction], tie_rule)
        return out.swapaxes(2, 3), src.swapaxes(2, 3)
    b, c, h, w = x.shape
    out = np.empty_like(x)
    src = np.empty(x.shape, dtype=np.int64)
    rows = range(h - 1, -1, -1) if direction == "top" else range(h)
    for n in range(b):
        for ch in range(c):
            for j in range(w):
                best, arg = None, None
                for i in rows:
                    v = x[n, ch, i, j]
                    if best is None or v > best or (tie_rule == "cummax" and v == best):
                        best, arg = v, i
                    out[n, ch, i, j] = best
                    src[n, ch, i, j] = arg
    return out, src


def naive_grad(src: np.ndarray, grad_out: np.ndarray, direction: str) -> np.ndarray:
    grad = np.zeros_like(grad_out)
    b, c, h, w = grad_out.shape
    for n in range(b):
        for ch in range(c):
            for i in range(h):
                for j in range(w):
                    k = src[n, ch, i, j]
                    if direction in ("top", "bottom"):
                        grad[n, ch, k, j] += grad_out[n, ch, i, j]
                    else:
                        grad[n, ch, i, k] += grad_out[n, ch, i, j]
    return grad


def tie_heavy(shape, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2, 3, shape, generator=g).float()
    cont = torch.randn(shape, generator=g)
    keep = torch.rand(shape, generator=g) < 0.3
    return torch.where(keep, cont, x)


@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("impl", ["cummax", "logstep"])
def test_official_fixture_bit_exact(parity, direction, impl):
    d = parity("directional_pools.npz")
    x = torch.tensor(d["x"], requires_grad=True)
    out = FUNCS[direction](x, impl=impl, tie_rule="official")
    out.backward(torch.tensor(d["grad_out"]))
    assert torch.equal(out.detach(), torch.tensor(d[f"out_{direction}"]))
    assert torch.equal(x.grad, torch.tensor(d[f"grad_{direction}"]))
    assert torch.equal(pool_source_index(x.detach(), direction), torch.tensor(d[f"src_{direction}"]))


@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("impl", ["cummax", "logstep"])
def test_cummax_tie_rule_matches_autograd_fixture(parity, direction, impl):
    d = parity("directional_pools.npz")
    x = torch.tensor(d["x"], requires_grad=True)
    FUNCS[direction](x, impl=impl, tie_rule="cummax").backward(torch.tensor(d["grad_out"]))
    assert torch.equal(x.grad, torch.tensor(d[f"grad_{direction}_cummax_autograd"]))
    # the two rules really differ on this tensor (it is built with many ties)
    assert not torch.equal(x.grad, torch.tensor(d[f"grad_{direction}"]))


@pytest.mark.parametrize("shape", [(2, 3, 5, 9), (1, 2, 8, 8), (1, 1, 1, 4), (2, 1, 13, 1)])
@pytest.mark.parametrize("direction", DIRS)
@pytest.mark.parametrize("tie_rule", ["official", "cummax"])
def test_matches_naive_loop_with_ties(shape, direction, tie_rule):
    x = tie_heavy(shape, seed=sum(shape))
    grad_out = torch.randint(-4, 5, shape).float() / 4
    ref_out, ref_src = naive_pool(x.numpy(), direction, tie_rule)
    ref_grad = naive_grad(ref_src, grad_out.numpy(), direction)
    assert torch.equal(pool_source_index(x, direction, tie_rule), torch.from_numpy(ref_src))
    for impl in ("cummax", "logstep"):
        xg = x.clone().requires_grad_(True)
        out = directional_pool(xg, direction, impl=impl, tie_rule=tie_rule)
        out.backward(grad_out)
        assert torch.equal(out.detach(), torch.from_numpy(ref_out))
        assert torch.equal(xg.grad, torch.from_numpy(ref_grad))


@pytest.mark.parametrize("direction", DIRS)
def test_gradient_without_ties_matches_finite_differences(direction):
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: directional_pool(t, direction, "logstep", "official"), (x,))


@pytest.mark.parametrize("direction", DIRS)
def test_modules_have_no_parameters_and_match_functions(direction):
    module = MODULES[direction](impl="logstep")
    assert list(module.parameters()) == [] and list(module.buffers()) == []
    assert module.state_dict() == {}
    x = tie_heavy((2, 3, 6, 7), seed=3)
    assert torch.equal(module(x), FUNCS[direction](x))


def test_bad_input_is_rejected_clearly():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        top_pool(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="impl"):
        left_pool(torch.zeros(1, 1, 2, 2), impl="scan")
    with pytest.raises(ValueError, match="tie_rule"):
        RightPool(tie_rule="random")
    with pytest.raises(ValueError, match="direction"):
        directional_pool(torch.zeros(1, 1, 2, 2), "up")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("direction", DIRS)
def test_cuda_matches_cpu(direction):
    x = tie_heavy((2, 3, 25, 25), seed=7)
    grad_out = torch.randint(-4, 5, x.shape).float() / 4
    results = []
    for device in ("cpu", "cuda"):
        xd = x.to(device).requires_grad_(True)
        out = FUNCS[direction](xd)
        out.backward(grad_out.to(device))
        results.append((out.detach().cpu(), xd.grad.cpu()))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
