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
from siamcorners.engine.trainer import Trainer

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
    def __init__(self):
        super().__init__()
        self.backbone = _Backbone(W0[0])
        self.neck = _Scalar(W0[1])
        self.head = _Scalar(W0[2])

    def weights(self):
        return [self.backbone.layer1.w.item(), self.neck.w.item(), self.head.w.item()]

    def forward(self, batch):
        total = (C[0] * self.backbone.layer1.w + C[1] * self.neck.w + C[2] * self.head.w).sum()
        return {"total": total + 0 * batch["search"].sum()}


class _Items(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"search": torch.zeros(1, dtype=torch.float64), "skipped": torch.tensor(0)}


def _train(tmp_path, *opts):
    cfg = get_default_config()
    merge_opts(cfg, ["OUTPUT_DIR", str(tmp_path), "DEVICE", "cpu", "TRAIN.NUM_WORKERS", "0", "TRAIN.BATCH_SIZE", "2",
                     "TRAIN.EPOCHS", "3", "TRAIN.START_EPOCH", "1", "TRAIN.STOP_AFTER_ITERS", "2",
                     "TRAIN.CHECKPOINT_ITERS", "0", "TRAIN.BACKBONE_EPOCH", "0",
                     "MODEL.BACKBONE.TRAIN_LAYERS", "[layer1]", "TRAIN.BACKBONE_LR_MULT", "0.1",
                     "TRAIN.WARMUP.ENABLED", "true", "TRAIN.WARMUP.TYPE", "step", "TRAIN.WARMUP.EPOCHS", "2",
                     "TRAIN.WARMUP.START_LR", "0.01", "TRAIN.WARMUP.END_LR", "0.04",
                     "TRAIN.LR.START_LR", "0.5", "TRAIN.LR.END_LR", "0.25",
                     "TRAIN.MOMENTUM", "0.9", "TRAIN.WEIGHT_DECAY", "0.1", "TRAIN.GRAD_CLIP", "6.5", *opts])
    model = LinearLoss()
    lrs = []
    trainer = Trainer(cfg.freeze(), model=model, dataset_builder=lambda c, e: _Items(), progress=False,
                      step_callback=lambda t, e, i, losses: lrs.append([g["lr"] for g in t.optimizer.param_groups]))
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
