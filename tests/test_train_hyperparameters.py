"""Training hyper-parameters reach the optimiser: weight decay, momentum, gradient clipping, warm-up and the per-group
learning rates, checked on real Trainer steps against SGD written out by hand.

The model's loss is linear in its three weights (one each in backbone, neck and head), so every step's gradient is
the same known vector c and the weights after two steps follow from PyTorch's documented SGD and
clip_grad_norm_ formulas alone:
  clip:      g = c * min(1, GRAD_CLIP / (|c| + 1e-6))
  SGD:       d = g + WEIGHT_DECAY * w;  buf = d (first step) or MOMENTUM * buf + d;  w -= lr_group * buf
  lr_group:  warm-up value of the epoch (step type: START_LR * (END_LR / START_LR) ** (e / EPOCHS)) x lr_mult,
             lr_mult = BACKBONE_LR_MULT for the backbone, 1 for neck and head.
"""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from siamcorners.config import get_default_config, merge_opts
from siamcorners.engine.trainer import NonFiniteLossError, Trainer

C = (3.0, 4.0, 12.0)     # d loss / d (backbone, neck, head) weight; |C| = 13
W0 = (1.0, -2.0, 0.5)    # initial weights


class _Scalar(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([value], dtype=torch.float64))


class _Backbone(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.layer1 = _Scalar(value)


class LinearLoss(nn.Module):
    """``head_calls``: the head's term is in the loss only in the first calls (later steps leave it without a
    gradient); ``extra``: besides ``total``, the entries a model may return that are not logged scalars."""

    def __init__(self, head_calls=None, extra=None, w0=W0):
        super().__init__()
        self.backbone = _Backbone(w0[0])
        self.neck = _Scalar(w0[1])
        self.head = _Scalar(w0[2])
        self.head_calls, self.extra, self.calls = head_calls, extra or {}, 0
        self.matmul_dtypes = []  # the dtype of a float32 matmul in each forward: float16 under autocast

    def weights(self):
        return [self.backbone.layer1.w.item(), self.neck.w.item(), self.head.w.item()]

    def forward(self, batch):
        self.calls += 1
        self.matmul_dtypes.append(torch.mm(torch.ones(1, 1), torch.ones(1, 1)).dtype)
        total = (C[0] * self.backbone.layer1.w + C[1] * self.neck.w).sum()
        if self.head_calls is None or self.calls <= self.head_calls:
            total = total + C[2] * self.head.w.sum()
        return {"total": total + 0 * batch["search"].sum(), **self.extra}


class _Items(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"search": torch.zeros(1, dtype=torch.float64), "name": f"pair {i}", "skipped": torch.tensor(0)}


def _train(tmp_path, *opts, model=None, seen=None):
    """Train; returns the final weights and each step's group lrs (``seen``: each step's logged losses)."""
    cfg = get_default_config()
    merge_opts(cfg, ["OUTPUT_DIR", str(tmp_path), "DEVICE", "cpu", "TRAIN.NUM_WORKERS", "0", "TRAIN.BATCH_SIZE", "2",
                     "TRAIN.EPOCHS", "3", "TRAIN.START_EPOCH", "1", "TRAIN.STOP_AFTER_ITERS", "2",
                     "TRAIN.CHECKPOINT_ITERS", "0", "TRAIN.BACKBONE_EPOCH", "0",
                     "MODEL.BACKBONE.TRAIN_LAYERS", "[layer1]", "TRAIN.BACKBONE_LR_MULT", "0.1",
                     "TRAIN.WARMUP.ENABLED", "true", "TRAIN.WARMUP.TYPE", "step", "TRAIN.WARMUP.EPOCHS", "2",
                     "TRAIN.WARMUP.START_LR", "0.01", "TRAIN.WARMUP.END_LR", "0.04",
                     "TRAIN.LR.START_LR", "0.5", "TRAIN.LR.END_LR", "0.25",
                     "TRAIN.MOMENTUM", "0.9", "TRAIN.WEIGHT_DECAY", "0.1", "TRAIN.GRAD_CLIP", "6.5", *opts])
    model = model or LinearLoss()
    lrs = []

    def record(trainer, epoch, it, losses):
        lrs.append([g["lr"] for g in trainer.optimizer.param_groups])
        if seen is not None:
            seen.append(dict(losses))

    trainer = Trainer(cfg.freeze(), model=model, dataset_builder=lambda c, e: _Items(), progress=False,
                      step_callback=record)
    try:
        trainer.train()
    finally:
        trainer.close()
    return model.weights(), lrs


def _by_hand(lr, lr_mults, momentum, weight_decay, clip, steps=2):
    norm = math.sqrt(sum(c * c for c in C))
    scale = min(1.0, clip / (norm + 1e-6)) if clip > 0 else 1.0
    out = []
    for c, w, mult in zip(C, W0, lr_mults):
        buf = None
        for _ in range(steps):
            d = c * scale + weight_decay * w
            buf = d if buf is None else momentum * buf + d
            w = w - lr * mult * buf
        out.append(w)
    return out


def test_two_steps_follow_sgd_with_every_hyper_parameter(tmp_path):
    weights, lrs = _train(tmp_path)
    warm_lr = 0.01 * (0.04 / 0.01) ** (1 / 2)  # epoch 1 of a 2-epoch step warm-up: 0.02
    assert lrs == [pytest.approx([warm_lr * 0.1, warm_lr, warm_lr], rel=1e-12)] * 2
    expected = _by_hand(warm_lr, (0.1, 1.0, 1.0), momentum=0.9, weight_decay=0.1, clip=6.5)
    assert weights == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # each hyper-parameter moves the result (so the comparison above sees all of them)
    for other in (_by_hand(warm_lr, (0.1, 1.0, 1.0), 0.0, 0.1, 6.5), _by_hand(warm_lr, (0.1, 1.0, 1.0), 0.9, 0.0, 6.5),
                  _by_hand(warm_lr, (0.1, 1.0, 1.0), 0.9, 0.1, 0.0), _by_hand(warm_lr, (1.0, 1.0, 1.0), 0.9, 0.1, 6.5),
                  _by_hand(0.5, (0.1, 1.0, 1.0), 0.9, 0.1, 6.5)):
        assert weights != pytest.approx(other, rel=1e-6)


def test_no_clipping_below_the_limit_and_main_schedule_after_warm_up(tmp_path):
    # GRAD_CLIP 20 > |C| = 13: gradients untouched; warm-up off: the main log schedule 0.5 -> 0.25 over 3 epochs
    weights, lrs = _train(tmp_path, "TRAIN.GRAD_CLIP", "20.0", "TRAIN.WARMUP.ENABLED", "false",
                          "TRAIN.MOMENTUM", "0.5", "TRAIN.WEIGHT_DECAY", "0.01")
    lr = 0.5 * (0.25 / 0.5) ** (1 / 2)  # logspace(0.5, 0.25, 3)[1]
    assert lrs[0] == pytest.approx([lr * 0.1, lr, lr], rel=1e-12)
    assert weights == pytest.approx(_by_hand(lr, (0.1, 1.0, 1.0), 0.5, 0.01, 20.0), rel=1e-9, abs=1e-12)


def _by_hand_steps(lrs, momentum, weight_decay, clip, mult=0.1, backbone=None, head=None, loss_scale=1.0):
    """SGD over steps with lr ``lrs[k]`` at step k; ``backbone[k]`` / ``head[k]`` False: that weight has no gradient
    at step k (frozen, or not in the loss): it is left out of the clipping norm and SGD does not move it."""
    w, buf = list(W0), [None, None, None]
    grad = [loss_scale * c for c in C]
    for k, lr in enumerate(lrs):
        active = [backbone is None or backbone[k], True, head is None or head[k]]
        norm = math.sqrt(sum(g * g for g, a in zip(grad, active) if a))
        scale = min(1.0, clip / (norm + 1e-6)) if clip > 0 else 1.0
        for i in range(3):
            if active[i]:
                d = grad[i] * scale + weight_decay * w[i]
                buf[i] = d if buf[i] is None else momentum * buf[i] + d
                w[i] -= lr * (mult if i == 0 else 1.0) * buf[i]
    return w


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_backbone_unfreezes_at_backbone_epoch_and_keeps_the_momentum_of_neck_and_head(tmp_path):
    """3 epochs of 2 steps, BACKBONE_EPOCH 1: in epoch 0 only neck and head train (the clipping norm is theirs,
    |(4, 12)|); from epoch 1 the backbone joins at BASE_LR x 0.1 with a new momentum buffer, while neck and head
    carry theirs on. The per-group lrs also reach TensorBoard (lr/<group> at each epoch's first step), with the
    gradient norm before clipping."""
    weights, lrs = _train(tmp_path, "TRAIN.START_EPOCH", "0", "TRAIN.STOP_AFTER_ITERS", "0",
                          "TRAIN.BACKBONE_EPOCH", "1", "TRAIN.WARMUP.ENABLED", "false")
    epoch_lr = [0.5 * (0.25 / 0.5) ** (e / 2) for e in range(3)]  # logspace(0.5, 0.25, 3)
    assert lrs == [pytest.approx([epoch_lr[0]] * 2, rel=1e-12)] * 2 + \
        [pytest.approx([0.1 * lr, lr, lr], rel=1e-12) for lr in epoch_lr[1:] for _ in range(2)]
    step_lr = [lr for lr in epoch_lr for _ in range(2)]
    expected = _by_hand_steps(step_lr, 0.9, 0.1, 6.5, backbone=[False] * 2 + [True] * 4)
    assert weights == pytest.approx(expected, rel=1e-9, abs=1e-12)
    for other in (_by_hand_steps(step_lr, 0.9, 0.1, 6.5),                               # never frozen
                  _by_hand_steps(step_lr, 0.9, 0.1, 6.5, backbone=[False] * 4 + [True] * 2)):  # unfrozen late
        assert weights != pytest.approx(other, rel=1e-6)
    log = [line.split(" ", 2)[2] for line in (tmp_path / "logs" / "train.log").read_text().splitlines()]  # no time
    assert log[log.index("epoch 2/3: backbone layers ['layer1'] unfrozen (TRAIN.BACKBONE_EPOCH 1)") + 1] == \
        "epoch 2/3: lr 0.353553, 2 iterations of 2 x 1 process(es)"
    scalars = _scalars(tmp_path / "logs")
    assert scalars["lr/backbone"] == [(2, pytest.approx(0.1 * epoch_lr[1])), (4, pytest.approx(0.1 * epoch_lr[2]))]
    for group in ("neck", "head"):
        assert scalars[f"lr/{group}"] == [(s, pytest.approx(lr)) for s, lr in zip((0, 2, 4), epoch_lr)]
    assert scalars["grad_norm"] == [(1, pytest.approx(math.sqrt(160))), (2, pytest.approx(math.sqrt(160)))] + \
        [(s, pytest.approx(13.0)) for s in (3, 4, 5, 6)]


@pytest.mark.parametrize("clip", [0.5, 0.0])
def test_clipping_below_one_and_switched_off_by_zero(tmp_path, clip):
    """GRAD_CLIP 0.5 scales the gradient to norm 0.5; GRAD_CLIP 0 leaves it alone (and logs no gradient norm)."""
    weights, lrs = _train(tmp_path, "TRAIN.GRAD_CLIP", str(clip))
    warm_lr = 0.01 * (0.04 / 0.01) ** (1 / 2)
    assert weights == pytest.approx(_by_hand_steps([warm_lr] * 2, 0.9, 0.1, clip), rel=1e-9, abs=1e-12)
    assert weights != pytest.approx(_by_hand_steps([warm_lr] * 2, 0.9, 0.1, 6.5), rel=1e-6)
    assert ("grad_norm" in _scalars(tmp_path / "logs")) == (clip > 0)


def test_step_logs_scalar_losses_and_leaves_a_parameter_without_gradient_alone(tmp_path):
    """Every one-element tensor the model returns is averaged and logged (others are not); a parameter that the
    loss does not reach in a step (the head, from step 2 on) gets no gradient, so SGD moves it neither by weight
    decay nor by momentum, and it is not in the clipping norm (|(3, 4)| = 5 < 6.5 at step 2)."""
    seen = []
    extra = {"focal": torch.tensor([2.5]), "per_level": torch.tensor([1.0, 2.0]), "name": "pair 0"}
    weights, _ = _train(tmp_path, model=LinearLoss(head_calls=1, extra=extra), seen=seen)
    # the first step's loss is C . W0 = 3 - 8 + 6 = 1; the second's is C[:2] . the weights after step 1
    assert [sorted(v) for v in seen] == [["focal", "total"]] * 2
    assert seen[0] == {"total": pytest.approx(1.0, rel=1e-12), "focal": 2.5}
    warm_lr = 0.01 * (0.04 / 0.01) ** (1 / 2)
    after_one = _by_hand_steps([warm_lr], 0.9, 0.1, 6.5)
    assert seen[1]["total"] == pytest.approx(C[0] * after_one[0] + C[1] * after_one[1], rel=1e-6)  # float32
    expected = _by_hand_steps([warm_lr] * 2, 0.9, 0.1, 6.5, head=[True, False])
    assert weights == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert weights[2] == pytest.approx(after_one[2], rel=1e-12)


def test_a_non_finite_loss_stops_before_the_update_with_a_whole_message(tmp_path):
    model = LinearLoss(extra={"focal": torch.tensor(12.3456789)}, w0=(1.0, float("nan"), 0.5))
    with pytest.raises(NonFiniteLossError) as info:
        _train(tmp_path, model=model)
    assert str(info.value) == (
        "non-finite loss at epoch 1 iteration 0 (total=nan, focal=12.35); training stopped before this update. "
        "Last good checkpoint: none (no checkpoint was written yet). Lower TRAIN.BASE_LR / TRAIN.LR or check the "
        "data.")
    assert model.backbone.layer1.w.item() == W0[0] and model.head.w.item() == W0[2]


def test_a_model_without_a_total_loss_is_named(tmp_path):
    class NoTotal(LinearLoss):
        def forward(self, batch):
            out = super().forward(batch)
            return {"focal": out.pop("total"), "offset": torch.tensor(0.0)}

    with pytest.raises(KeyError) as info:
        _train(tmp_path, model=NoTotal())
    assert info.value.args == ("the model returned losses ['focal', 'offset']; the training contract needs 'total'",)


def test_the_loss_is_scaled_for_the_gradient_reduction_and_amp_stays_off_on_cpu(tmp_path, monkeypatch):
    """The loss is multiplied by ``loss_scale_for_reduce``'s factor before backward (under DDP with GRAD_REDUCE sum:
    the world size, so that DDP's averaged gradient becomes the sum): a factor 2 doubles every gradient (no clipping
    here); the logged loss is the model's own. TRAIN.AMP on a CPU run: no autocast, a float32 matmul stays float32."""
    import siamcorners.engine.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "loss_scale_for_reduce", lambda reduce, world: 2.0)
    seen, model = [], LinearLoss()
    weights, _ = _train(tmp_path, "TRAIN.GRAD_CLIP", "0", "TRAIN.AMP", "true", model=model, seen=seen)
    warm_lr = 0.01 * (0.04 / 0.01) ** (1 / 2)
    assert weights == pytest.approx(_by_hand_steps([warm_lr] * 2, 0.9, 0.1, 0.0, loss_scale=2.0), rel=1e-9)
    assert weights != pytest.approx(_by_hand_steps([warm_lr] * 2, 0.9, 0.1, 0.0), rel=1e-6)
    assert seen[0]["total"] == pytest.approx(1.0, rel=1e-12)
    assert model.matmul_dtypes == [torch.float32] * 2


def test_batch_tensors_move_to_the_training_device_and_other_entries_pass_through():
    from siamcorners.engine.trainer import _to_device

    out = _to_device({"search": torch.ones(2, 3), "name": ["pair 0", "pair 1"]}, torch.device("meta"))
    assert out["search"].device.type == "meta" and out["search"].shape == (2, 3)
    assert out["name"] == ["pair 0", "pair 1"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="TRAIN.AMP's GradScaler runs on CUDA only")
def test_amp_on_cuda_clips_the_unscaled_gradient(tmp_path):
    """With AMP the loss is scaled (65536 at first) before backward; the gradients are unscaled before clipping, so
    the two steps are the same SGD as without AMP (a clip of the scaled gradient would leave steps ~65536 x too
    small)."""
    weights, _ = _train(tmp_path, "DEVICE", "cuda", "TRAIN.AMP", "true")
    warm_lr = 0.01 * (0.04 / 0.01) ** (1 / 2)
    assert weights == pytest.approx(_by_hand_steps([warm_lr] * 2, 0.9, 0.1, 6.5), rel=1e-9, abs=1e-12)
