import math

import numpy as np
import pytest
import torch

from siamcorners.config import get_default_config, merge_opts
from siamcorners.engine.lr_scheduler import EpochLRScheduler, build_lr_scheduler, schedule_values

# reference section 8.3: the official per-epoch values, epochs 0-19
OFFICIAL_LRS = [0.001, 0.00137973, 0.00190365, 0.00262653, 0.0036239, 0.005, 0.00424171, 0.00359843,
                0.0030527, 0.00258974, 0.00219699, 0.0018638, 0.00158114, 0.00134135, 0.00113792,
                0.000965349, 0.000818947, 0.000694748, 0.000589384, 0.0005]


def test_official_schedule_matches_reference_values():
    sched = build_lr_scheduler(get_default_config().TRAIN)
    assert len(sched) == 20
    np.testing.assert_allclose(sched.lrs, OFFICIAL_LRS, rtol=1e-5)


def test_apply_sets_group_lrs_with_multiplier():
    sched = build_lr_scheduler(get_default_config().TRAIN)
    w = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    opt = torch.optim.SGD([{"params": [w[0]], "lr_mult": 0.1}, {"params": [w[1]], "lr_mult": 1.0}], lr=1.0)
    base = sched.apply(opt, 7)
    assert base == pytest.approx(0.00359843, rel=1e-5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.000359843, rel=1e-5)
    assert opt.param_groups[1]["lr"] == pytest.approx(0.00359843, rel=1e-5)
    assert sched.lr_at(25) == sched.lrs[-1]


def test_state_dict_round_trip():
    a = build_lr_scheduler(get_default_config().TRAIN)
    a.apply(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), 4)
    b = build_lr_scheduler(get_default_config().TRAIN)
    b.load_state_dict(a.state_dict())
    assert b.last_epoch == 4 and b.lrs == a.lrs


@pytest.mark.parametrize("kind", ["log", "step", "cos", "linear"])
def test_main_schedules_start_at_start_lr_and_decrease(kind):
    lrs = schedule_values(10, kind, 0.01, 0.001)
    assert lrs[0] == pytest.approx(0.01)
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))
    if kind in ("log", "linear"):
        assert lrs[-1] == pytest.approx(0.001)


def test_cos_and_linear_values():
    assert schedule_values(4, "cos", 1.0, 0.0) == pytest.approx(
        [0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    assert schedule_values(3, "linear", 0.3, 0.1) == pytest.approx([0.3, 0.2, 0.1])


def test_step_schedule_with_step_two_holds_each_value_two_epochs():
    lrs = schedule_values(4, "step", 0.01, 0.0025, main_step=2)
    assert lrs == pytest.approx([0.01, 0.01, 0.005, 0.005])


def test_linear_warmup_then_main():
    lrs = schedule_values(5, "log", 0.01, 0.001, warmup=True, warmup_type="linear", warmup_epochs=2,
                          warmup_start=0.001, warmup_end=0.005)
    assert lrs[:2] == pytest.approx([0.001, 0.005])
    assert lrs[2:] == pytest.approx(np.logspace(-2, -3, 3))


def test_warmup_longer_than_training_is_truncated():
    cfg = get_default_config()
    merge_opts(cfg, ["TRAIN.EPOCHS", "3"])
    assert build_lr_scheduler(cfg.TRAIN).lrs == pytest.approx(OFFICIAL_LRS[:3], rel=1e-5)


def test_bad_values_raise_clear_errors():
    with pytest.raises(ValueError, match="TRAIN.LR"):
        schedule_values(3, "log", 0.0, 0.001)
    with pytest.raises(ValueError, match="empty"):
        EpochLRScheduler([])


def test_step_schedule_follows_pysot_step_scheduler_when_epochs_are_not_a_multiple_of_step():
    # pysot StepScheduler: mult = (end / start) ** (1 / (epochs // step)), lr_e = start * mult ** (e // step)
    # 5 epochs, step 2: 5 // 2 = 2 steps, mult = 0.25 ** (1 / 2) = 0.5
    assert schedule_values(5, "step", 0.01, 0.0025, main_step=2) == pytest.approx(
        [0.01, 0.01, 0.005, 0.005, 0.0025], rel=1e-12)
    # 3 epochs, step 2: one step (3 // 2 = 1), mult = 0.25 itself, reached at epoch 2
    assert schedule_values(3, "step", 0.01, 0.0025, main_step=2) == pytest.approx([0.01, 0.01, 0.0025], rel=1e-12)


def test_one_epoch_schedule_and_a_main_schedule_left_without_epochs():
    assert schedule_values(1, "log", 0.01, 0.001) == pytest.approx([0.01])
    # official warm-up of 5 epochs in 6: the last epoch is the main schedule's first value
    assert schedule_values(6, "log", 0.005, 0.0005, warmup=True, warmup_epochs=5, warmup_start=0.001,
                           warmup_end=0.005)[5] == pytest.approx(0.005)
    # warm-up as long as training: the main schedule has no epoch, so none of its values is computed or checked
    assert schedule_values(2, "step", 0.0, 0.0, main_step=0, warmup=True, warmup_type="linear", warmup_epochs=2,
                           warmup_start=0.001, warmup_end=0.002) == pytest.approx([0.001, 0.002])


@pytest.mark.parametrize("kind", ["log", "step"])
def test_log_and_step_schedules_refuse_a_zero_end_lr(kind):
    with pytest.raises(ValueError, match=r"TRAIN\.LR: a '%s' schedule needs positive START_LR and END_LR" % kind):
        schedule_values(4, kind, 0.01, 0.0, main_step=2)
    with pytest.raises(ValueError, match=r"TRAIN\.LR\.STEP must be >= 1, got 0"):
        schedule_values(4, "step", 0.01, 0.001, main_step=0)
    with pytest.raises(ValueError, match=r"^the lr schedule is empty: TRAIN\.EPOCHS must be >= 1$"):
        EpochLRScheduler([])


def test_lr_at_epoch_zero_and_before_is_the_first_value():
    sched = EpochLRScheduler([0.3, 0.2, 0.1])
    assert [sched.lr_at(e) for e in (-2, 0, 1, 2, 5)] == [0.3, 0.3, 0.2, 0.1, 0.1]


def test_a_group_without_lr_mult_gets_the_base_lr_and_state_before_any_epoch():
    sched = EpochLRScheduler([0.3, 0.2])
    assert sched.state_dict() == {"lrs": [0.3, 0.2], "last_epoch": -1}   # nothing applied yet (PyTorch's -1)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert sched.apply(opt, 1) == 0.2 and opt.param_groups[0]["lr"] == 0.2
    assert sched.state_dict() == {"lrs": [0.3, 0.2], "last_epoch": 1}
    assert repr(sched) == "EpochLRScheduler(0.3, 0.2)"


def test_build_reads_the_step_and_warm_up_type_keys_of_the_config():
    cfg = get_default_config()
    merge_opts(cfg, ["TRAIN.EPOCHS", "6", "TRAIN.LR.TYPE", "step", "TRAIN.LR.STEP", "2", "TRAIN.LR.START_LR", "0.04",
                     "TRAIN.LR.END_LR", "0.01", "TRAIN.WARMUP.EPOCHS", "2", "TRAIN.WARMUP.TYPE", "step",
                     "TRAIN.WARMUP.STEP", "2", "TRAIN.WARMUP.START_LR", "0.001", "TRAIN.WARMUP.END_LR", "0.004"])
    # warm-up: 2 epochs, step 2 -> one step: both epochs 0.001; main: 4 epochs, step 2, mult 0.5: 0.04 0.04 0.02 0.02
    assert build_lr_scheduler(cfg.TRAIN).lrs == pytest.approx([0.001, 0.001, 0.04, 0.04, 0.02, 0.02], rel=1e-12)
    merge_opts(cfg, ["TRAIN.WARMUP.TYPE", "linear"])
    assert build_lr_scheduler(cfg.TRAIN).lrs[:2] == pytest.approx([0.001, 0.004], rel=1e-12)


def test_build_without_step_keys_steps_every_epoch():
    # a TRAIN mapping without the STEP keys (they are optional in build_lr_scheduler): one step per epoch
    train = {"EPOCHS": 4, "LR": {"TYPE": "step", "START_LR": 0.08, "END_LR": 0.01},
             "WARMUP": {"ENABLED": True, "TYPE": "step", "EPOCHS": 2, "START_LR": 0.01, "END_LR": 0.04}}
    # warm-up: mult = 4 ** (1 / 2) = 2: 0.01, 0.02; main: 2 epochs, mult = (1 / 8) ** (1 / 2): 0.08, 0.08 / sqrt(8)
    assert build_lr_scheduler(train).lrs == pytest.approx([0.01, 0.02, 0.08, 0.08 / math.sqrt(8)], rel=1e-12)


def test_step_schedule_steps_every_epoch_by_default_and_errors_name_their_key():
    # STEP 1: mult = (0.01 / 0.16) ** (1 / 4) = 0.5
    assert schedule_values(4, "step", 0.16, 0.01) == pytest.approx([0.16, 0.08, 0.04, 0.02], rel=1e-12)
    with pytest.raises(ValueError, match=r"^TRAIN\.LR\.TYPE must be one of 'step', 'log', 'linear', 'cos', got 'exp'$"):
        schedule_values(3, "exp", 0.01, 0.001)
    with pytest.raises(ValueError, match=r"^TRAIN\.WARMUP: a 'log' schedule needs positive START_LR and END_LR"):
        schedule_values(3, "log", 0.01, 0.001, warmup=True, warmup_type="log", warmup_epochs=2, warmup_start=0.0,
                        warmup_end=0.01)


def test_a_disabled_warm_up_is_neither_used_nor_checked():
    linear = pytest.approx([0.3, 0.2, 0.1], rel=1e-12)
    assert schedule_values(3, "linear", 0.3, 0.1, warmup_epochs=2, warmup_start=0.01, warmup_end=0.02) == linear
    assert schedule_values(3, "linear", 0.3, 0.1, warmup=False, warmup_type="step", warmup_epochs=2,
                           warmup_start=0.0, warmup_end=0.0) == linear   # a 'step' warm-up from 0 would be refused
    assert schedule_values(3, "linear", 0.3, 0.1, warmup=True) == linear   # enabled, but 0 warm-up epochs


def test_warm_up_defaults_step_one_and_zero_learning_rates():
    # official warm-up (type step, STEP 1 by default): 0.001 * 5 ** (e / 5), e = 0..4
    assert schedule_values(6, "log", 0.005, 0.0005, warmup=True, warmup_epochs=5, warmup_start=0.001,
                           warmup_end=0.005)[:5] == pytest.approx(OFFICIAL_LRS[:5], rel=1e-5)
    assert schedule_values(3, "log", 0.01, 0.001, warmup=True, warmup_type="linear", warmup_epochs=2) == \
        pytest.approx([0.0, 0.0, 0.01], rel=1e-12)
