import re

import numpy as np
import pytest
import torch

from siamcorners.models.corner_pool import ConvBNReLU, CornerPool, PredictionHead

PREFIX = "corner_mods_head."
MODULE_KEYS = [  # official sub-module name -> ours
    ("p1_conv1.", "vert_branch."),
    ("p2_conv1.", "horiz_branch."),
    ("p_conv1.", "merge_conv."),
    ("p_bn1.", "merge_bn."),
    ("conv1_.", "shortcut_a.0."),
    ("bn1_.", "shortcut_a.1."),
    ("conv1.", "shortcut_b.0."),
    ("bn1.", "shortcut_b.1."),
    ("conv2.", "out_conv."),
]
HEAD_KEYS = [("0.conv.", "conv.conv."), ("1.", "out.")]


def official_to_ours(npz, prefix, table):
    """Sub-state-dict under `prefix` (float16 arrays cast to float32), with official names mapped to ours."""
    state = {}
    for key in npz.files:
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        for old, new in table:
            if rest.startswith(old):
                state[new + rest[len(old):]] = torch.from_numpy(npz[key].astype(np.float32))
                break
        else:
            raise KeyError(f"unmapped official key {key}")
    return state


def load_level0(npz, corner):
    pool = CornerPool(256, 128, corner=corner, variant="mcp").eval()
    heat = PredictionHead(256, 1).eval()
    off = PredictionHead(256, 2).eval()
    for module, prefix, table in [
        (pool, f"{PREFIX}{corner}_modules.0.", MODULE_KEYS),
        (heat, f"{PREFIX}{corner}_heats.0.", HEAD_KEYS),
        (off, f"{PREFIX}{corner}_offs.0.", HEAD_KEYS),
    ]:
        state = official_to_ours(npz, prefix, table)
        missing, unexpected = module.load_state_dict(state, strict=False)
        assert unexpected == []
        assert all(k.endswith("num_batches_tracked") for k in missing), missing
    return pool, heat, off


@pytest.mark.parametrize("corner,a_name,b_name", [("tl", "in_f_t", "in_f_l"), ("br", "in_f_b", "in_f_r")])
def test_matches_official_level0_modules(parity, corner, a_name, b_name):
    d = parity("corner_pool.npz")
    pool, heat, off = load_level0(d, corner)
    f_a = torch.from_numpy(d[a_name].astype(np.float32))  # (2, 256, 25, 25)
    f_b = torch.from_numpy(d[b_name].astype(np.float32))
    with torch.no_grad():
        out = pool(f_a, f_b)
        p1 = pool.vert_branch(f_b)
        p2 = pool.horiz_branch(f_a)
        dbg = {"p1_conv1": p1, "pool1": pool.vert_pool(p1), "p2_conv1": p2, "pool2": pool.horiz_pool(p2)}
        heads = {"heat": heat(out), "off": off(out)}
    np.testing.assert_allclose(out.numpy(), d[f"out_{corner}_pool_out"], rtol=0, atol=1e-4)
    for name, value in heads.items():
        np.testing.assert_allclose(value.numpy(), d[f"out_{corner}_{name}"], rtol=0, atol=1e-4)
    for name, value in dbg.items():
        np.testing.assert_allclose(value[0, :8].numpy(), d[f"dbg_{corner}_{name}"], rtol=0, atol=1e-4)


def test_official_keys_all_mapped_and_state_dict_names(parity):
    d = parity("corner_pool.npz")
    pool = CornerPool(corner="tl")
    ours = {k for k in pool.state_dict() if not k.endswith("num_batches_tracked")}
    mapped = set(official_to_ours(d, f"{PREFIX}tl_modules.0.", MODULE_KEYS))
    assert ours == mapped
    head = PredictionHead(256, 1)
    assert set(head.state_dict()) == {"conv.conv.weight", "conv.conv.bias", "out.weight", "out.bias"}
    assert set(official_to_ours(d, f"{PREFIX}tl_heats.0.", HEAD_KEYS)) == set(head.state_dict())


@pytest.mark.parametrize("variant", ["mcp", "ocp"])
@pytest.mark.parametrize("corner", ["tl", "br"])
def test_shapes_and_backward(variant, corner):
    pool = CornerPool(channels=8, pool_channels=4, corner=corner, variant=variant, pool_impl="logstep")
    f_a = torch.randn(2, 8, 11, 13, requires_grad=True)
    f_b = torch.randn(2, 8, 11, 13, requires_grad=True)
    out = pool(f_a, f_b)
    assert out.shape == (2, 8, 11, 13)
    assert (out >= 0).all()  # ends in ReLU
    out.sum().backward()
    assert f_a.grad.abs().sum() > 0 and f_b.grad.abs().sum() > 0
    assert all(p.grad is not None for p in pool.parameters())


def test_ocp_uses_one_unified_map_and_one_shortcut():
    pool = CornerPool(channels=8, pool_channels=4, corner="tl", variant="ocp").eval()
    assert not hasattr(pool, "shortcut_b") and hasattr(pool, "shortcut_a")
    f_a, f_b = torch.randn(1, 8, 9, 9), torch.randn(1, 8, 9, 9)
    with torch.no_grad():
        assert torch.allclose(pool(f_a, f_b), pool(f_a + f_b))
        # MCP treats the two maps differently: swapping them changes the output
        mcp = CornerPool(channels=8, pool_channels=4, corner="tl", variant="mcp").eval()
        assert not torch.allclose(mcp(f_a, f_b), mcp(f_b, f_a))


def test_pools_follow_corner_direction():
    """A single bright cell in the vertical branch spreads upward for tl (TopPool), downward for br."""
    for corner, rows in (("tl", slice(0, 5)), ("br", slice(4, 9))):
        pool = CornerPool(channels=1, pool_channels=1, corner=corner).eval()
        x = torch.zeros(1, 1, 9, 9)
        x[0, 0, 4, 4] = 1.0
        pooled = pool.vert_pool(x)
        expected = torch.zeros_like(x)
        expected[0, 0, rows, 4] = 1.0
        assert torch.equal(pooled, expected)


def test_conv_bn_relu_bias_rule_and_head_options():
    assert ConvBNReLU(3, 4, 5).conv.bias is None
    plain = ConvBNReLU(3, 4, 5, with_bn=False)
    assert plain.conv.bias is not None and isinstance(plain.bn, torch.nn.Identity)
    head = PredictionHead(8, 1, mid_channels=6, with_bn=True, last_kernel=3, bias_init=-2.19)
    assert head.conv.conv.bias is None and isinstance(head.conv.bn, torch.nn.BatchNorm2d)
    assert torch.allclose(head.out.bias, torch.tensor([-2.19]))
    assert head(torch.randn(2, 8, 7, 7)).shape == (2, 1, 7, 7)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="corner"):
        CornerPool(corner="tr")
    with pytest.raises(ValueError, match="variant"):
        CornerPool(variant="xcp")
    with pytest.raises(ValueError, match=re.escape("(1, 4, 5, 5)")):
        CornerPool(channels=4, pool_channels=2)(torch.zeros(1, 4, 5, 5), torch.zeros(1, 4, 6, 6))
