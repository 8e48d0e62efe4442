import math

import numpy as np
import pytest
import torch

from siamcorners.models.decode import decode_corners, decode_corners_full


def sig(v):
    return 1 / (1 + math.exp(-v))


def peaks(points, size=5, background=-10.0):
    """(1, 1, size, size) logit map with logits[y, x] = v for each (x, y, v)."""
    heat = torch.full((1, 1, size, size), background)
    for x, y, v in points:
        heat[0, 0, y, x] = v
    return heat


def test_matches_official_tracker_steps_decode(parity):
    d = parity("tracker_steps.npz")
    nets = [torch.from_numpy(d[f"net_{k}"]).flatten(0, 1) for k in ("tl_heat", "br_heat", "tl_off", "br_off")]
    out = decode_corners_full(*nets, topk=12, nms_kernel=1, num_pairs=15)  # 15 maps decoded as one batch
    np.testing.assert_allclose(out.view(5, 3, 15, 8).numpy(), d["decode"], rtol=0, atol=1e-5)
    short = decode_corners(*nets)
    assert short.shape == (15, 15, 5)
    assert torch.equal(short, out[..., :5])


def test_two_peaks_hand_computed():
    tl = peaks([(1, 1, 2.0), (4, 4, 1.0)])
    br = peaks([(3, 3, 2.0), (0, 0, 1.0)])
    tl_off = torch.zeros(1, 2, 5, 5)
    br_off = torch.zeros(1, 2, 5, 5)
    tl_off[0, :, 1, 1] = torch.tensor([0.25, 0.5])
    br_off[0, :, 3, 3] = torch.tensor([0.125, -0.25])
    out = decode_corners_full(tl, br, tl_off, br_off, topk=2, num_pairs=4)[0]
    assert out.shape == (4, 8)
    expected = torch.tensor([1.25, 1.5, 3.125, 2.75, sig(2.0), sig(2.0), sig(2.0), 0.0])
    assert torch.allclose(out[0], expected, atol=1e-6)
    # the other three pairs have br left of / above tl: rejected with score -1
    assert torch.equal(out[1:, 4], torch.full((3,), -1.0))
    # without offsets the same pair is returned at cell coordinates
    plain = decode_corners(tl, br, topk=2, num_pairs=1)[0, 0]
    assert torch.allclose(plain, torch.tensor([1.0, 1.0, 3.0, 3.0, sig(2.0)]), atol=1e-6)


def test_rejection_uses_offset_adjusted_coordinates():
    tl = peaks([(2, 1, 3.0)])
    br = peaks([(2, 3, 1.0)])  # same x cell as the tl corner
    tl_off = torch.zeros(1, 2, 5, 5)
    br_off = torch.zeros(1, 2, 5, 5)
    tl_off[0, 0, 1, 2] = 0.85
    br_off[0, 0, 3, 2] = 0.25
    assert decode_corners(tl, br, topk=1, num_pairs=1)[0, 0, 4] == pytest.approx((sig(3.0) + sig(1.0)) / 2)
    assert decode_corners(tl, br, tl_off, br_off, topk=1, num_pairs=1)[0, 0, 4] == -1


def test_nms_kernel_3_suppresses_a_neighbour():
    tl = peaks([(2, 2, 3.0), (3, 2, 2.5), (0, 4, 1.0)])
    br = peaks([(4, 4, 3.0)])
    no_nms = decode_corners_full(tl, br, topk=2, nms_kernel=1, num_pairs=2)[0]
    assert sorted(no_nms[:, 0].tolist()) == [2.0, 3.0]  # both neighbours kept
    nms = decode_corners_full(tl, br, topk=2, nms_kernel=3, num_pairs=2)[0]
    assert sorted(nms[:, 0].tolist()) == [0.0, 2.0]  # (3, 2) suppressed, the far peak takes its place
    assert nms[:, 5].tolist() == pytest.approx([sig(3.0), sig(1.0)])


def test_scores_sorted_and_pair_score_is_mean():
    g = torch.Generator().manual_seed(3)
    tl, br = torch.randn(4, 1, 25, 25, generator=g), torch.randn(4, 1, 25, 25, generator=g)
    tl_off, br_off = torch.rand(4, 2, 25, 25, generator=g), torch.rand(4, 2, 25, 25, generator=g)
    out = decode_corners_full(tl, br, tl_off, br_off, topk=12, num_pairs=30)
    assert out.shape == (4, 30, 8)
    assert (out[..., 4][:, :-1] >= out[..., 4][:, 1:]).all()
    valid = out[..., 4] >= 0
    assert valid.any() and (~valid).any()
    mean = (out[..., 5] + out[..., 6]) / 2
    assert torch.equal(out[..., 4][valid], mean[valid])
    assert ((out[..., 2] >= out[..., 0]) & (out[..., 3] >= out[..., 1]))[valid].all()
    assert ((out[..., 2] < out[..., 0]) | (out[..., 3] < out[..., 1]))[~valid].all()
    assert torch.equal(out[..., 7], torch.zeros(4, 30))


def test_batched_equals_one_sample_at_a_time_including_rejected_ties():
    g = torch.Generator().manual_seed(5)
    tl = torch.randn(3, 1, 25, 25, generator=g)
    br = torch.randn(3, 1, 25, 25, generator=g)
    out = decode_corners_full(tl, br, topk=12, num_pairs=144)  # every pair, so many -1 ties are ordered
    for i in range(3):
        assert torch.equal(out[i], decode_corners_full(tl[i:i + 1], br[i:i + 1], topk=12, num_pairs=144)[0])


def test_official_pair_layout_and_tie_order():
    """Same rows, in the same order, as the official algorithm: pairs laid out tl-major in a (K, K) grid,
    rejected entries overwritten with -1, then torch.topk over the flattened grid."""
    g = torch.Generator().manual_seed(11)
    tl, br = torch.randn(1, 1, 25, 25, generator=g), torch.randn(1, 1, 25, 25, generator=g)
    k = 12
    s_tl, i_tl = torch.topk(torch.sigmoid(tl).view(1, -1), k)
    s_br, i_br = torch.topk(torch.sigmoid(br).view(1, -1), k)
    x1, y1 = (i_tl % 25).float().view(1, k, 1).expand(1, k, k), (i_tl // 25).float().view(1, k, 1).expand(1, k, k)
    x2, y2 = (i_br % 25).float().view(1, 1, k).expand(1, k, k), (i_br // 25).float().view(1, 1, k).expand(1, k, k)
    scores = ((s_tl.view(1, k, 1) + s_br.view(1, 1, k)) / 2).clone()
    scores[x2 < x1] = -1
    scores[y2 < y1] = -1
    top, inds = torch.topk(scores.view(1, -1), k * k)
    boxes = torch.stack([x1, y1, x2, y2], dim=3).reshape(1, -1, 4)[0, inds[0]]
    out = decode_corners(tl, br, topk=k, num_pairs=k * k)[0]
    assert (top == -1).any()
    assert torch.equal(out[:, :4], boxes)
    assert torch.equal(out[:, 4], top[0])


def test_bad_arguments():
    heat = torch.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match="topk"):
        decode_corners(heat, heat, topk=26)
    with pytest.raises(ValueError, match="num_pairs"):
        decode_corners(heat, heat, topk=2, num_pairs=5)
    with pytest.raises(ValueError, match="nms_kernel"):
        decode_corners(heat, heat, topk=2, num_pairs=2, nms_kernel=2)
    with pytest.raises(ValueError, match="tl_off"):
        decode_corners(heat, heat, torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 5, 5), topk=2, num_pairs=2)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        decode_corners(torch.zeros(1, 2, 5, 5), heat, topk=2, num_pairs=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_on_distinct_scores(parity):
    d = parity("tracker_steps.npz")
    nets = [torch.from_numpy(d[f"net_{k}"]).flatten(0, 1) for k in ("tl_heat", "br_heat", "tl_off", "br_off")]
    out = decode_corners_full(*[t.cuda() for t in nets])
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().view(5, 3, 15, 8).numpy(), d["decode"], rtol=0, atol=1e-5)


def test_bad_arguments_messages_name_the_argument_and_the_shapes():
    """The whole one-line message: which argument, the shape it must have and the one it has."""
    heat = torch.zeros(1, 1, 5, 5)
    off, small = torch.zeros(1, 2, 5, 5), torch.zeros(1, 2, 4, 4)
    heats = r"^decode_corners: heat maps must both be \(B, 1, H, W\), got \({}\) and \({}\)$"
    with pytest.raises(ValueError, match=heats.format("1, 1, 5, 5", "1, 1, 4, 4")):
        decode_corners(heat, torch.zeros(1, 1, 4, 4), topk=2, num_pairs=2)   # br map of another size
    with pytest.raises(ValueError, match=heats.format("1, 2, 5, 5", "1, 2, 5, 5")):
        decode_corners(torch.zeros(1, 2, 5, 5), torch.zeros(1, 2, 5, 5), topk=2, num_pairs=2)   # two channels each
    with pytest.raises(ValueError, match=r"^decode_corners: tl_off must be \(1, 2, 5, 5\), got \(1, 2, 4, 4\)$"):
        decode_corners(heat, heat, small, off, topk=2, num_pairs=2)
    with pytest.raises(ValueError, match=r"^decode_corners: br_off must be \(1, 2, 5, 5\), got \(1, 2, 4, 4\)$"):
        decode_corners(heat, heat, off, small, topk=2, num_pairs=2)
    for tl_off, br_off in ((off, None), (None, off)):
        with pytest.raises(ValueError, match=r"^decode_corners: give both tl_off and br_off, or neither$"):
            decode_corners(heat, heat, tl_off, br_off, topk=2, num_pairs=2)
    with pytest.raises(ValueError, match=r"^decode_corners: topk must be in \[1, 25\], got 26$"):
        decode_corners(heat, heat, topk=26)
    with pytest.raises(ValueError, match=r"^decode_corners: num_pairs must be in \[1, topk\*\*2 = 4\], got 5$"):
        decode_corners(heat, heat, topk=2, num_pairs=5)


def test_topk_may_take_every_cell_of_the_map():
    """topk = H * W is allowed: on a 3 x 3 map all 81 (tl, br) pairs; br_x >= tl_x holds for 6 of the 9 column
    pairs and br_y >= tl_y for 6 of the 9 row pairs, so 36 pairs are kept and 45 rejected with -1."""
    tl = peaks([(0, 0, 3.0)], size=3)
    br = peaks([(2, 2, 2.0)], size=3)
    out = decode_corners(tl, br, topk=9, num_pairs=81)[0]
    assert out.shape == (81, 5)
    assert torch.allclose(out[0], torch.tensor([0.0, 0.0, 2.0, 2.0, (sig(3.0) + sig(2.0)) / 2]), atol=1e-6)
    assert int((out[:, 4] == -1).sum()) == 45


@pytest.mark.parametrize("decode", [decode_corners, decode_corners_full], ids=["decode_corners", "full"])
def test_defaults_are_the_official_12_corners_and_15_pairs(decode):
    """Official decoder defaults (reference section 6): top K = 12 corners per map, 15 pairs kept. 13 tl peaks of
    falling score and one br peak at (7, 7): the 12 best tl corners pair with it; the 13th tl corner (cell (0, 3),
    logit 3) is not among the K = 12, so no row starts there although its pair would score about 0.97."""
    tl = peaks([(i % 4, i // 4, 6.0 - 0.25 * i) for i in range(13)], size=8)
    br = peaks([(7, 7, 6.0)], size=8)
    out = decode(tl, br)[0]
    assert out.shape[0] == 15
    for i in range(12):
        assert out[i, :4].tolist() == [i % 4, i // 4, 7.0, 7.0]
        assert out[i, 4].item() == pytest.approx((sig(6.0 - 0.25 * i) + sig(6.0)) / 2, abs=1e-6)
    assert out[12:, 4].max().item() < 0.51   # a tl peak with a background br cell (or a rejected pair)
    assert not ((out[:, 0] == 0) & (out[:, 1] == 3)).any()
