import math
import re

import numpy as np
import pytest
import torch

from siamcorners.models.losses import (corner_loss, focal_loss, focal_loss_per_map, gather_offsets, normalise_focal,
                                      offset_loss)

pytestmark = pytest.mark.floor  # also run with the minimum versions (CI's floor step, pytest.ini)

LEVELS = 3


def fixture_case(d, s):
    """Predictions (with grad) and targets of loss.npz batch `s`, in our contract's layout."""
    outputs = []
    for level in range(LEVELS):
        outputs.append({name: torch.tensor(d[f"{s}_pred_{name}_{level}"], requires_grad=True)
                        for name in ("tl_heat", "br_heat", "tl_off", "br_off")})
    targets = {
        "tl_heat": torch.tensor(d[f"{s}_label_tl_heats"]),
        "br_heat": torch.tensor(d[f"{s}_label_br_heats"]),
        "tl_off": torch.tensor(d[f"{s}_label_tl_regrs"][:, 0]),  # (B, 1, 2) -> (B, 2)
        "br_off": torch.tensor(d[f"{s}_label_br_regrs"][:, 0]),
        "tl_ind": torch.tensor(d[f"{s}_label_tl_tags"][:, 0]),  # (B, 1) -> (B,)
        "br_ind": torch.tensor(d[f"{s}_label_br_tags"][:, 0]),
        "valid": torch.tensor(d[f"{s}_label_tag_masks"][:, 0].astype(np.float32)),
    }
    return outputs, targets


@pytest.mark.parametrize("s", ["a", "b"])
def test_matches_official_loss_values_parts_and_gradients(parity, s):
    d = parity("loss.npz")
    outputs, targets = fixture_case(d, s)
    losses = corner_loss(outputs, targets)
    for ours, theirs in (("total", "total"), ("focal", "focal"), ("offset", "offs")):
        np.testing.assert_allclose(losses[ours].item(), d[f"{s}_loss_{theirs}"], rtol=2e-5)
    for ci, c in enumerate(("tl", "br")):
        for level in range(LEVELS):
            np.testing.assert_allclose(losses[f"focal_{c}_{level}"].item(), d[f"{s}_parts_focal"][ci, level],
                                       rtol=2e-5)
            np.testing.assert_allclose(losses[f"offset_{c}_{level}"].item(), d[f"{s}_parts_off"][ci, level],
                                       rtol=2e-5)
    losses["total"].backward()
    for level, out in enumerate(outputs):
        for name, tensor in out.items():
            np.testing.assert_allclose(tensor.grad.numpy(), d[f"{s}_grad_{name}_{level}"], rtol=0, atol=1e-6)


def test_batch_without_positives_is_not_normalised(parity):
    d = parity("loss.npz")
    outputs, targets = fixture_case(d, "b")
    assert (targets["tl_heat"] == 1).sum() == 0  # the fixture's designed case
    loss_sum, num_pos = focal_loss(outputs[0]["tl_heat"], targets["tl_heat"])
    assert num_pos.item() == 0
    assert torch.equal(normalise_focal(loss_sum, num_pos), loss_sum)


def test_focal_loss_hand_computed():
    logits = torch.tensor([0.0, 2.0, -1.0, 30.0]).view(1, 1, 2, 2)
    target = torch.tensor([1.0, 0.5, 0.0, 0.0]).view(1, 1, 2, 2)
    loss_sum, num_pos = focal_loss(logits, target, alpha=2.0, beta=4.0)
    p = [0.5, 1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0)), 1 - 1e-4]  # the last one is clamped
    expected = -((1 - p[0]) ** 2 * math.log(p[0])
                 + 0.5 ** 4 * p[1] ** 2 * math.log(1 - p[1])
                 + p[2] ** 2 * math.log(1 - p[2])
                 + p[3] ** 2 * math.log(1 - p[3]))
    assert num_pos.item() == 1
    assert loss_sum.item() == pytest.approx(expected, rel=1e-4)  # float32 log(1 - p) near the clamp
    # masking the sample removes its contribution
    masked, _ = focal_loss(logits, target, mask=torch.zeros(1, 1, 1, 1))
    assert masked.item() == 0


def test_gather_offsets_reads_flat_index_x_first():
    off = torch.zeros(2, 2, 5, 5)
    off[0, :, 3, 1] = torch.tensor([0.25, 0.75])  # y=3, x=1 -> 16
    off[1, :, 0, 4] = torch.tensor([-0.5, 0.5])   # y=0, x=4 -> 4
    got = gather_offsets(off, torch.tensor([16, 4]))
    assert torch.equal(got, torch.tensor([[0.25, 0.75], [-0.5, 0.5]]))


def synthetic_batch(num_levels=2, with_offsets=True):
    g = torch.Generator().manual_seed(1)
    b = 3
    outputs = []
    for _ in range(num_levels):
        out = {"tl_heat": torch.randn(b, 1, 25, 25, generator=g), "br_heat": torch.randn(b, 1, 25, 25, generator=g)}
        if with_offsets:
            out["tl_off"] = torch.rand(b, 2, 25, 25, generator=g)
            out["br_off"] = torch.rand(b, 2, 25, 25, generator=g)
        outputs.append(out)
    tl_heat = torch.zeros(b, 1, 25, 25)
    br_heat = torch.zeros(b, 1, 25, 25)
    tl_heat.view(b, -1)[torch.arange(b), torch.tensor([30, 40, 50])] = 1
    br_heat.view(b, -1)[torch.arange(2), torch.tensor([400, 500])] = 1  # sample 2's br corner is off the map
    targets = {"tl_heat": tl_heat, "br_heat": br_heat, "tl_off": torch.rand(b, 2, generator=g),
               "br_off": torch.rand(b, 2, generator=g), "tl_ind": torch.tensor([30, 40, 50]),
               "br_ind": torch.tensor([400, 500, 624]), "valid": torch.ones(b)}
    return outputs, targets


def test_level_reduction_and_missing_offsets():
    outputs, targets = synthetic_batch()
    mean = corner_loss(outputs, targets)
    total = corner_loss(outputs, targets, level_reduction="sum")
    assert total["total"].item() == pytest.approx(2 * mean["total"].item(), rel=1e-6)
    assert mean["total"].item() == pytest.approx(mean["focal"].item() + mean["offset"].item(), rel=1e-6)
    no_off = corner_loss([{k: v for k, v in o.items() if "heat" in k} for o in outputs], targets)
    assert no_off["offset"].item() == 0
    assert no_off["focal"].item() == pytest.approx(mean["focal"].item(), rel=1e-6)
    weighted = corner_loss(outputs, targets, offset_weight=0.5)
    assert weighted["offset"].item() == pytest.approx(0.5 * mean["offset"].item(), rel=1e-6)


def test_paper_normalisers():
    outputs, targets = synthetic_batch(num_levels=1)
    code = corner_loss(outputs, targets)
    paper = corner_loss(outputs, targets, focal_norm="num_pos_per_level", offset_norm="num_pos")
    # all-ones valid mask: the focal normaliser is the same peak count
    assert paper["focal"].item() == pytest.approx(code["focal"].item(), rel=1e-6)
    # tl: all 3 corners on the map -> sum / 3 (code: sum / (3 + 1e-4))
    assert paper["offset_tl_0"].item() == pytest.approx(code["offset_tl_0"].item() * (3 + 1e-4) / 3, rel=1e-6)
    # br: the off-map corner of sample 2 is left out and the sum is divided by the 2 on-map corners
    pred = gather_offsets(outputs[0]["br_off"], targets["br_ind"])
    per_obj = torch.nn.functional.smooth_l1_loss(pred, targets["br_off"], reduction="none").sum(1)
    assert paper["offset_br_0"].item() == pytest.approx(per_obj[:2].sum().item() / 2, rel=1e-6)
    # a masked-out sample's peak no longer counts towards the focal normaliser
    targets["valid"] = torch.tensor([1.0, 1.0, 0.0])
    masked = corner_loss(outputs, targets, focal_norm="num_pos_per_level")
    loss_sum, _ = focal_loss(outputs[0]["tl_heat"], targets["tl_heat"], mask=targets["valid"].view(-1, 1, 1, 1))
    assert masked["focal_tl_0"].item() == pytest.approx(loss_sum.item() / 2, rel=1e-6)


def test_bad_arguments_name_the_key():
    outputs, targets = synthetic_batch()
    with pytest.raises(ValueError, match="focal_norm"):
        corner_loss(outputs, targets, focal_norm="k")
    del targets["valid"]
    with pytest.raises(KeyError, match="valid"):
        corner_loss(outputs, targets)
    outputs, targets = synthetic_batch()
    targets["tl_ind"] = targets["tl_ind"].view(3, 1)
    with pytest.raises(ValueError, match="tl_ind"):
        corner_loss(outputs, targets)


def test_per_heatmap_focal_normaliser_differs_from_the_batch_count():
    """Paper eq. 1 per heat map (K = that map's corners) against the code's batch count of positives."""
    outputs, targets = synthetic_batch(num_levels=1)
    code = corner_loss(outputs, targets)
    paper = corner_loss(outputs, targets, focal_norm="per_heatmap")
    per_map, k = focal_loss_per_map(outputs[0]["br_heat"], targets["br_heat"])
    assert k.tolist() == [1.0, 1.0, 0.0]  # sample 2's br corner is off the map
    # code: the three maps' sums over the batch's 2 positives; paper: the mean of S_0/1, S_1/1, S_2/max(1, 0)
    assert code["focal_br_0"].item() == pytest.approx(per_map.sum().item() / 2, rel=1e-6)
    assert paper["focal_br_0"].item() == pytest.approx(per_map.sum().item() / 3, rel=1e-6)
    assert paper["focal_br_0"].item() < 0.9 * code["focal_br_0"].item()
    # with one corner on every map the two readings agree (tl)
    assert paper["focal_tl_0"].item() == pytest.approx(code["focal_tl_0"].item(), rel=1e-6)
    # a sample left out by the valid mask is left out of the mean as well
    targets["valid"] = torch.tensor([1.0, 0.0, 1.0])
    masked = corner_loss(outputs, targets, focal_norm="per_heatmap")
    assert masked["focal_br_0"].item() == pytest.approx((per_map[0] + per_map[2]).item() / 2, rel=1e-6)


def test_paper_profile_loss_adds_levels_and_uses_both_paper_normalisers():
    outputs, targets = synthetic_batch(num_levels=3)
    targets["br_heat"].view(3, -1)[1, 500] = 0  # a second sample without a br peak: unequal counts per sample
    code = corner_loss(outputs, targets)
    paper = corner_loss(outputs, targets, focal_norm="per_heatmap", offset_norm="num_pos", level_reduction="sum")
    expected_focal = expected_offset = 0.0
    for level in range(3):
        for c in ("tl", "br"):
            per_map, k = focal_loss_per_map(outputs[level][f"{c}_heat"], targets[f"{c}_heat"])
            expected_focal += (per_map / k.clamp(min=1)).mean().item()
            pred = gather_offsets(outputs[level][f"{c}_off"], targets[f"{c}_ind"])
            per_obj = torch.nn.functional.smooth_l1_loss(pred, targets[f"{c}_off"], reduction="none").sum(1)
            on_map = k.eq(1)
            expected_offset += per_obj[on_map].mean().item()
    assert paper["focal"].item() == pytest.approx(expected_focal, rel=1e-5)
    assert paper["offset"].item() == pytest.approx(expected_offset, rel=1e-5)
    # the code's value: the same parts under its own normalisers, divided by the 3 levels
    assert code["total"].item() == pytest.approx(
        sum(code[f"{p}_{c}_{lv}"].item() for p in ("focal", "offset") for c in ("tl", "br") for lv in range(3)) / 3,
        rel=1e-5)
    # no division by the number of levels, and a value the code's settings do not give
    paper_mean = corner_loss(outputs, targets, focal_norm="per_heatmap", offset_norm="num_pos")
    assert paper["total"].item() == pytest.approx(3 * paper_mean["total"].item(), rel=1e-6)
    assert abs(paper["total"].item() - code["total"].item()) > 0.2 * code["total"].item()


@pytest.mark.parametrize("norms", [dict(), dict(focal_norm="per_heatmap", offset_norm="num_pos"),
                                   dict(focal_norm="num_pos_per_level")], ids=["code", "paper", "per-level"])
def test_negative_pair_trains_both_heat_maps_towards_zero_without_offset_loss(norms):
    """DATASET.NEG_LABELS none: an empty target with ``no_target`` = 1 is an all-negative focal term."""
    outputs, targets = synthetic_batch(num_levels=1)
    for key in ("tl_heat", "br_heat", "tl_off", "br_off", "tl_ind", "br_ind"):
        targets[key][2] = 0
    targets["no_target"] = torch.tensor([0.0, 0.0, 1.0])
    out = {k: v.clone().requires_grad_(True) for k, v in outputs[0].items()}
    losses = corner_loss([out], targets, **norms)
    losses["total"].backward()
    for c in ("tl", "br"):
        grad = out[f"{c}_heat"].grad[2]
        # gradient descent lowers every logit of the negative sample's maps: loss grows with the score
        assert torch.all(grad > 0), c
        assert out[f"{c}_off"].grad[2].abs().sum() == 0  # no offset loss for it
    # the positives' offset terms are normalised by the 2 samples that have corners
    alone = corner_loss([{k: v[:2] for k, v in outputs[0].items()}],
                        {k: v[:2] for k, v in targets.items()}, **norms)
    assert losses["offset_tl_0"].item() == pytest.approx(alone["offset_tl_0"].item(), rel=1e-4)
    if norms.get("offset_norm", "num_objects") == "num_objects":
        # without the flag the empty sample counts as an object whose offset is trained at index 0
        del targets["no_target"]
        flagless = corner_loss(outputs, targets, **norms)
        assert flagless["offset_tl_0"].item() != pytest.approx(losses["offset_tl_0"].item(), rel=1e-3)


def _amp_case():
    """synthetic_batch with logits of +-12 (background cells at +12: sigmoid = 1 - 6e-6) and offsets that fp16 holds
    exactly, so the fp16 / bf16 inputs carry the same values as the float32 ones."""
    outputs, targets = synthetic_batch(num_levels=2)
    for out in outputs:
        for c in ("tl", "br"):
            out[f"{c}_heat"] = torch.where(out[f"{c}_heat"] > 0, 12.0, -12.0)
            out[f"{c}_off"] = torch.round(out[f"{c}_off"] * 8) / 8
    return outputs, targets


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("norms", [dict(), dict(focal_norm="per_heatmap", offset_norm="num_pos"),
                                   dict(focal_norm="num_pos_per_level")], ids=["code", "paper", "per-level"])
def test_reduced_precision_outputs_give_the_float32_loss(dtype, norms):
    """AMP: the heat logits reach the loss as fp16 (bf16). In fp16 the clamp bound 1 - 1e-4 is 1.0, so log(1 - p) of a
    background cell at logit 12 was -inf and the loss inf; every loss computes in float32 and returns float32."""
    outputs, targets = _amp_case()
    ref = corner_loss(outputs, targets, **norms)
    assert math.isfinite(ref["total"].item()) and ref["total"].item() > 0
    low = [{k: v.to(dtype).requires_grad_(True) for k, v in out.items()} for out in outputs]
    losses = corner_loss(low, targets, **norms)
    for key, value in ref.items():
        assert losses[key].dtype == torch.float32, key
        assert losses[key].item() == pytest.approx(value.item(), rel=1e-6, abs=1e-7), key
    losses["total"].backward()
    assert all(torch.isfinite(t.grad).all() for out in low for t in out.values())
    # each loss function on its own
    logits, target = low[0]["tl_heat"].detach(), targets["tl_heat"]
    for half, full in ((focal_loss(logits, target), focal_loss(logits.float(), target)),
                       (focal_loss_per_map(logits, target), focal_loss_per_map(logits.float(), target))):
        for h, f in zip(half, full):
            assert h.dtype == torch.float32 and torch.equal(h, f)
    off = low[0]["tl_off"].detach()
    args = (targets["tl_off"], targets["tl_ind"], targets["valid"], torch.tensor(3.0))
    half = offset_loss(off, *args)
    assert half.dtype == torch.float32 and torch.equal(half, offset_loss(off.float(), *args))


def _hand_focal(logits, target, alpha=2.0, beta=4.0):
    """-[sum_{y=1} (1-p)^a log p + sum_{y<1} (1-y)^b p^a log(1-p)] with p = clamp(sigmoid, 1e-4, 1 - 1e-4)."""
    total = 0.0
    for x, y in zip(logits, target):
        p = min(max(1 / (1 + math.exp(-x)), 1e-4), 1 - 1e-4)
        total += (1 - p) ** alpha * math.log(p) if y == 1 else (1 - y) ** beta * p ** alpha * math.log(1 - p)
    return -total


def test_focal_losses_default_to_alpha_2_beta_4_and_read_soft_targets_per_map():
    """CornerNet's alpha = 2, beta = 4 (the paper, eq. 1) as defaults; per map, the (1 - y)^beta weight of
    Gaussian (soft) negatives."""
    logits = [[0.0, 2.0, -1.0, 0.5], [1.5, -0.5, 0.25, -2.0]]
    target = [[1.0, 0.5, 0.0, 0.25], [0.75, 1.0, 1.0, 0.125]]
    lt = torch.tensor(logits).view(2, 1, 2, 2)
    tt = torch.tensor(target).view(2, 1, 2, 2)
    loss_sum, num_pos = focal_loss(lt, tt)
    assert num_pos.item() == 3
    assert loss_sum.item() == pytest.approx(_hand_focal(logits[0], target[0]) + _hand_focal(logits[1], target[1]),
                                            rel=1e-6)
    per_map, k = focal_loss_per_map(lt, tt)
    assert k.tolist() == [1.0, 2.0]
    assert per_map.tolist() == pytest.approx([_hand_focal(logits[0], target[0]), _hand_focal(logits[1], target[1])],
                                             rel=1e-6)


def test_half_precision_targets_give_the_float32_loss_of_their_values():
    """A soft target held in fp16 (1229 / 4096: 1 - y is not an fp16 number) is computed in float32."""
    y = 1229 / 4096
    target = torch.tensor([y], dtype=torch.float16).view(1, 1, 1, 1)
    logits = torch.zeros(1, 1, 1, 1)
    expected = _hand_focal([0.0], [y])   # p = 0.5: -(1 - y)^4 * 0.25 * log(0.5)
    loss_sum, _ = focal_loss(logits, target)
    assert loss_sum.dtype == torch.float32 and loss_sum.item() == pytest.approx(expected, rel=1e-6)
    per_map, _ = focal_loss_per_map(logits, target)
    assert per_map.dtype == torch.float32 and per_map.item() == pytest.approx(expected, rel=1e-6)


def test_shape_errors_are_one_line_and_name_both_shapes():
    a, b = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match=r"^focal_loss: logits \(1, 1, 2, 2\) and target \(1, 1, 3, 3\) differ$"):
        focal_loss(a, b)
    with pytest.raises(ValueError,
                       match=r"^focal_loss_per_map: logits \(1, 1, 2, 2\) and target \(1, 1, 3, 3\) differ$"):
        focal_loss_per_map(a, b)


def test_gather_offsets_clamps_indices_off_the_map_and_takes_any_integer_type():
    """Official: a corner off the map has its flat index clamped into [0, H*W - 1]. Indices of any integer type (here
    int16, which torch.gather refuses) are read as int64."""
    off = torch.arange(2 * 2 * 25, dtype=torch.float32).view(2, 2, 5, 5)   # value = flat position in the tensor
    # sample 0: index -3 -> 0 (values 0, 25); sample 1: index 31 -> 24 (values 50 + 24, 75 + 24)
    assert gather_offsets(off, torch.tensor([-3, 31])).tolist() == [[0.0, 25.0], [74.0, 99.0]]
    assert gather_offsets(off, torch.tensor([7, 26], dtype=torch.int16)).tolist() == [[7.0, 32.0], [74.0, 99.0]]


def test_offset_loss_of_float64_targets_and_weights_is_float32():
    """Targets and masks built in float64 (NumPy's default) give the float32 loss of a float32 offset map."""
    off = torch.zeros(2, 2, 5, 5)
    off[0, :, 1, 2] = torch.tensor([0.25, 1.5])    # index 7
    target = torch.tensor([[0.5, 0.0], [0.1, 0.2]], dtype=torch.float64)
    weight = torch.tensor([1.0, 0.0], dtype=torch.float64)   # sample 1 masked out
    # SmoothL1(beta 1): |0.25 - 0.5| = 0.25 -> 0.5 * 0.25^2 = 0.03125; |1.5 - 0| = 1.5 -> 1.5 - 0.5 = 1.0; / 2
    loss = offset_loss(off, target, torch.tensor([7, 3]), weight, torch.tensor(2.0))
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(1.03125 / 2, rel=1e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gather_offsets_moves_cpu_indices_to_the_map_device():
    off = torch.arange(50, dtype=torch.float32).view(1, 2, 5, 5).cuda()
    assert gather_offsets(off, torch.tensor([7])).tolist() == [[7.0, 32.0]]


def test_offset_targets_follow_the_outputs_device():
    """With offset heads, the offset targets and weights move to the outputs' device too (the meta device stands in
    for a GPU: smooth_l1_loss refuses a meta prediction with a CPU target, as CUDA does)."""
    outputs, targets = synthetic_batch(num_levels=1)
    assert outputs[0]["tl_off"] is not None and targets["tl_off"].device.type == "cpu"
    meta = [{k: v.to("meta") for k, v in out.items()} for out in outputs]
    losses = corner_loss(meta, targets)
    assert losses["offset"].device.type == "meta" and losses["total"].device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_corner_loss_on_cuda_outputs_with_every_target_on_the_cpu():
    """The trainer moves its batch first, but a user's loop may not: every target (offsets included) follows the
    outputs' device, and the value is the CPU one."""
    outputs, targets = synthetic_batch(num_levels=1)
    cpu = corner_loss(outputs, targets)
    gpu = corner_loss([{k: v.cuda() for k, v in out.items()} for out in outputs], targets)
    assert gpu["total"].device.type == "cuda"
    assert gpu["total"].item() == pytest.approx(cpu["total"].item(), rel=1e-5)
    assert gpu["offset"].item() == pytest.approx(cpu["offset"].item(), rel=1e-5)


def test_probability_floor_of_a_positive_far_below_zero():
    """Official clamp: p = max(sigmoid(-30), 1e-4), so a missed corner costs (1 - 1e-4)^2 * -log(1e-4), not 30."""
    loss_sum, _ = focal_loss(torch.full((1, 1, 1, 1), -30.0), torch.ones(1, 1, 1, 1))
    assert loss_sum.item() == pytest.approx(-(1 - 1e-4) ** 2 * math.log(1e-4), rel=1e-6)


@pytest.mark.parametrize("key,shape", [("tl_off", (3, 1)), ("br_off", (3, 1)), ("tl_ind", (3, 1)),
                                       ("br_ind", (3, 1)), ("valid", (3, 1)), ("no_target", (2,))])
def test_each_target_of_the_wrong_shape_is_named(key, shape):
    outputs, targets = synthetic_batch(num_levels=1)
    targets[key] = torch.zeros(shape)
    expected = "(3, 2)" if key.endswith("_off") else "(3,)"
    with pytest.raises(ValueError, match=rf"^corner_loss: targets\['{key}'\] has shape {re.escape(str(shape))}, "
                                         rf"expected {re.escape(expected)}$"):
        corner_loss(outputs, targets)


def test_option_and_input_errors_are_whole_one_line_messages():
    outputs, targets = synthetic_batch(num_levels=2)
    with pytest.raises(ValueError, match=r"^corner_loss: offset_norm must be one of \('num_objects', 'num_pos'\), "
                                         r"got 'k'$"):
        corner_loss(outputs, targets, offset_norm="k")
    with pytest.raises(ValueError, match=r"^corner_loss: level_reduction must be one of \('mean', 'sum'\), got 'k'$"):
        corner_loss(outputs, targets, level_reduction="k")
    with pytest.raises(ValueError, match=r"^corner_loss: outputs is empty \(expected one dict per level\)$"):
        corner_loss([], targets)
    outputs[1]["br_heat"] = torch.zeros(3, 1, 24, 24)
    with pytest.raises(ValueError, match=r"^corner_loss: outputs\[1\]\['br_heat'\] has shape \(3, 1, 24, 24\), "
                                         r"targets\['br_heat'\] \(3, 1, 25, 25\)$"):
        corner_loss(outputs, targets)
    del targets["tl_heat"]
    with pytest.raises(KeyError, match=r"corner_loss: targets lack key 'tl_heat'"):
        corner_loss(outputs, targets)


def _two_samples():
    """B = 2 maps of 2 x 2 with soft negatives; sample 1 is masked out (valid 0). tl: 2 peaks in sample 0, 1 in
    sample 1; br: 1 peak in each. One level without offset heads."""
    logits = {"tl": [[0.0, 2.0, -1.0, 0.5], [1.5, -0.5, 0.25, -2.0]],
              "br": [[0.3, -0.7, 1.2, 0.0], [-1.0, 0.4, 0.0, 2.5]]}
    target = {"tl": [[1.0, 1.0, 0.5, 0.0], [1.0, 0.25, 0.0, 0.0]],
              "br": [[0.0, 0.5, 1.0, 0.0], [0.0, 0.0, 0.125, 1.0]]}
    outputs = [{f"{c}_heat": torch.tensor(logits[c]).view(2, 1, 2, 2) for c in ("tl", "br")}]
    targets = {f"{c}_heat": torch.tensor(target[c]).view(2, 1, 2, 2) for c in ("tl", "br")}
    targets.update(tl_off=torch.zeros(2, 2), br_off=torch.zeros(2, 2), tl_ind=torch.tensor([0, 0]),
                   br_ind=torch.tensor([2, 3]), valid=torch.tensor([1.0, 0.0]))
    return outputs, targets, logits, target


def test_focal_normalisers_by_hand_with_alpha_and_beta():
    """alpha 1.5, beta 3 reach every focal form. Sample 0 only (valid), divided by: the code's count of every
    target peak of the batch, masked or not (tl 3, br 2); the level's count inside the mask (tl 2, br 1); each
    map's own count (tl 2, br 1), averaged over the 1 valid sample."""
    outputs, targets, logits, target = _two_samples()
    f_tl, f_br = (_hand_focal(logits[c][0], target[c][0], 1.5, 3.0) for c in ("tl", "br"))
    for norm, expected in (("num_pos", f_tl / 3 + f_br / 2), ("num_pos_per_level", f_tl / 2 + f_br / 1),
                           ("per_heatmap", f_tl / 2 + f_br / 1)):
        losses = corner_loss(outputs, targets, alpha=1.5, beta=3.0, focal_norm=norm)
        assert losses["focal"].item() == pytest.approx(expected, rel=1e-6), norm
        assert losses["offset"].item() == 0


@pytest.mark.parametrize("norms", [dict(), dict(focal_norm="per_heatmap", offset_norm="num_pos"),
                                   dict(focal_norm="num_pos_per_level")], ids=["code", "paper", "per-level"])
def test_targets_on_another_device_are_moved_to_the_outputs(norms):
    """The loss is computed on the outputs' device with target maps, masks and flags given on the CPU. PyTorch's
    meta device stands in for a GPU here: it refuses to mix with CPU tensors, as CUDA does."""
    outputs, targets, _, _ = _two_samples()
    targets["no_target"] = torch.zeros(2)
    meta = [{k: v.to("meta") for k, v in out.items()} for out in outputs]
    losses = corner_loss(meta, targets, **norms)
    assert losses["total"].device.type == "meta"


def test_targets_built_in_float64_give_the_official_float32_loss(parity):
    """Targets as NumPy builds them (float64 maps, masks and flags) give the official fixture's loss, in float32."""
    d = parity("loss.npz")
    outputs, targets = fixture_case(d, "a")
    for key in ("tl_heat", "br_heat", "tl_off", "br_off", "valid"):
        targets[key] = targets[key].double()
    targets["no_target"] = torch.zeros(targets["valid"].shape[0], dtype=torch.float64)
    losses = corner_loss(outputs, targets)
    for ours, theirs in (("total", "total"), ("focal", "focal"), ("offset", "offs")):
        assert losses[ours].dtype == torch.float32, ours
        np.testing.assert_allclose(losses[ours].item(), d[f"a_loss_{theirs}"], rtol=2e-5)


def test_float64_targets_give_the_float32_loss_by_hand():
    """The same without the fixture: float64 maps, mask and flags, float32 outputs with offset heads (zero offsets
    against zero targets: offset loss 0) -> the float32 focal loss of the code's normaliser (tl 3, br 2 peaks)."""
    outputs, targets, logits, target = _two_samples()
    outputs[0].update(tl_off=torch.zeros(2, 2, 2, 2), br_off=torch.zeros(2, 2, 2, 2))
    for key in ("tl_heat", "br_heat", "tl_off", "br_off", "valid"):
        targets[key] = targets[key].double()
    targets["no_target"] = torch.zeros(2, dtype=torch.float64)
    losses = corner_loss(outputs, targets)
    f_tl, f_br = (_hand_focal(logits[c][0], target[c][0]) for c in ("tl", "br"))
    for key in ("total", "focal", "offset"):
        assert losses[key].dtype == torch.float32, key
    assert losses["total"].item() == pytest.approx(f_tl / 3 + f_br / 2, rel=1e-6)
    assert losses["offset"].item() == 0
