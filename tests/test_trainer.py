import os

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from siamcorners.config import get_default_config, load_config, merge_opts
from siamcorners.engine.optim import build_optimizer, rebuild_optimizer
from siamcorners.engine.trainer import (NonFiniteLossError, Trainer, find_resume_checkpoint, measure_train_step,
                                        resume_iteration)
from siamcorners.models.backbone import build_backbone
from siamcorners.models.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")


class FakeModel(nn.Module):
    """backbone / neck / head like SiamCorners; regresses two statistics of the image."""

    def __init__(self, nan_at_call: int = -1):
        super().__init__()
        self.backbone = build_backbone("resnet18_small", [3], width=4)  # (B, 8, h, w)
        self.neck = nn.Conv2d(8, 8, 1)
        self.head = nn.Linear(8, 2)
        self.nan_at_call, self.calls = nan_at_call, 0

    def forward(self, batch):
        self.calls += 1
        feat = self.neck(self.backbone(batch["search"])[0]).mean((2, 3))  # (B, 8)
        mse = ((self.head(feat) - batch["target"]) ** 2).mean()
        if self.calls == self.nan_at_call:
            mse = mse * float("nan")
        return {"total": mse, "mse": mse}


class FakeDataset(Dataset):
    """Items drawn from the *global* RNGs, so only per-item seeding makes them reproducible."""

    def __init__(self, length: int):
        self.length = length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        img = torch.rand(3, 24, 24) * float(np.random.uniform(0.5, 1.5))
        return {"search": img, "target": torch.stack([img.mean(), img[0].std()]),
                "skipped": torch.tensor(0)}


def fake_cfg(tmp_path, *opts):
    cfg = get_default_config()
    merge_opts(cfg, ["OUTPUT_DIR", str(tmp_path), "DEVICE", "cpu", "TRAIN.EPOCHS", "2", "TRAIN.BATCH_SIZE", "4",
                     "TRAIN.NUM_WORKERS", "0", "TRAIN.BASE_LR", "0.05", "TRAIN.BACKBONE_EPOCH", "1",
                     "TRAIN.WARMUP.ENABLED", "false", "TRAIN.LR.START_LR", "0.05", "TRAIN.LR.END_LR", "0.01",
                     "TRAIN.CHECKPOINT_ITERS", "2", "TRAIN.PRINT_FREQ", "3", "DATASET.VIDEOS_PER_EPOCH", "24",
                     "MODEL.BACKBONE.TRAIN_LAYERS", "[layer1, layer2]", *opts])
    return cfg.freeze()


def run(cfg, model=None, resume="", callback=None):
    torch.manual_seed(0)  # the same initial weights in every run
    trainer = Trainer(cfg, model=model or FakeModel(), dataset_builder=lambda c, e: FakeDataset(
        c.DATASET.VIDEOS_PER_EPOCH), resume=resume, progress=False, step_callback=callback)
    try:
        return trainer, trainer.train()
    finally:
        trainer.close()


def weights(path):
    return load_checkpoint(path)["model"]


@pytest.mark.floor
def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _, summary = run(fake_cfg(a))
    assert not summary["stopped"] and summary["iterations"] == 12
    # killed 3 iterations into epoch 2: the last mid-epoch checkpoint is at iteration 2, one step is redone
    _, summary = run(fake_cfg(b, "TRAIN.STOP_AFTER_ITERS", "9"))
    assert summary["stopped"]
    assert not (b / "snapshot" / "checkpoint_e2.pth").exists()
    last = find_resume_checkpoint(str(b / "snapshot"))
    assert os.path.basename(last) == "last.pth"
    ckpt = load_checkpoint(last)
    assert (ckpt["epoch"], ckpt["scheduler"]["iteration"]) == (1, 2)
    # resumed with a DataLoader worker: items do not depend on the process that makes them
    _, summary = run(fake_cfg(b, "TRAIN.NUM_WORKERS", "1"), resume="auto")
    assert summary["iterations"] == 4
    wa, wb = weights(a / "snapshot" / "checkpoint_e2.pth"), weights(b / "snapshot" / "checkpoint_e2.pth")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ca = load_checkpoint(str(a / "snapshot" / "checkpoint_e2.pth"))
    cb = load_checkpoint(str(b / "snapshot" / "checkpoint_e2.pth"))
    assert ca["scheduler"]["global_step"] == cb["scheduler"]["global_step"] == 12
    assert ca["optimizer"]["param_groups"] == cb["optimizer"]["param_groups"]


def test_outputs_of_a_run(tmp_path):
    seen = []
    _, summary = run(fake_cfg(tmp_path), callback=lambda t, e, i, v: seen.append(
        (e, i, v["total"], t.optimizer.param_groups[-1]["lr"])))
    assert [(e, i) for e, i, _, _ in seen] == [(e, i) for e in range(2) for i in range(6)]
    assert all(np.isfinite(v) for _, _, v, _ in seen)
    assert [lr for e, _, _, lr in seen if e == 0] == pytest.approx([0.05] * 6)
    assert [lr for e, _, _, lr in seen if e == 1] == pytest.approx([0.01] * 6)
    snap = tmp_path / "snapshot"
    assert (snap / "checkpoint_e1.pth").exists() and (snap / "checkpoint_e2.pth").exists()
    assert load_checkpoint(str(snap / "checkpoint_e1.pth"))["epoch"] == 1
    assert (tmp_path / "config.resolved.yaml").exists()
    log = (tmp_path / "logs" / "train.log").read_text()
    assert "epoch 2 iter 6/6" in log and "lr" in log
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "logs"))
    assert not [f for f in os.listdir(snap) if ".tmp." in f]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = fake_cfg(tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"epoch 0 iteration 4 .*last\.pth"):
        run(cfg, model=FakeModel(nan_at_call=5))
    ckpt = load_checkpoint(str(tmp_path / "snapshot" / "last.pth"))
    assert (ckpt["epoch"], ckpt["scheduler"]["iteration"]) == (0, 4)
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert not (tmp_path / "snapshot" / "checkpoint_e1.pth").exists()


def test_backbone_unfreezes_at_backbone_epoch():
    cfg = get_default_config()
    merge_opts(cfg, ["TRAIN.BACKBONE_EPOCH", "1", "MODEL.BACKBONE.TRAIN_LAYERS", "[layer2]",
                     "TRAIN.BACKBONE_LR_MULT", "0.1"])
    model = FakeModel().train()
    opt = build_optimizer(model, cfg, 0)
    assert [g["name"] for g in opt.param_groups] == ["neck", "head"]
    assert not any(p.requires_grad for p in model.backbone.parameters())
    model.train()
    assert not any(m.training for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d))

    loss = model({"search": torch.rand(2, 3, 24, 24), "target": torch.zeros(2, 2)})["total"]
    loss.backward()
    opt.step()
    opt = rebuild_optimizer(opt, model, cfg, 1)
    assert [g["name"] for g in opt.param_groups] == ["backbone", "neck", "head"]
    assert opt.param_groups[0]["lr_mult"] == pytest.approx(0.1)
    assert {id(p) for p in opt.param_groups[0]["params"]} == {id(p) for p in model.backbone.layer2.parameters()}
    assert all(opt.state[p]["momentum_buffer"] is not None for p in model.neck.parameters())
    model.train()
    bn_modes = {name.split(".")[0]: m.training for name, m in model.backbone.named_modules()
                if isinstance(m, nn.BatchNorm2d)}
    assert bn_modes == {"bn1": False, "layer1": False, "layer2": True}


def test_paper_profile_unfreezes_the_whole_backbone_stem_included():
    """#9: after the warm-up the paper trains the whole network: conv1, bn1 and layer1 too, BN in train mode."""
    paper = load_config(os.path.join(ROOT, "experiments", "siamcorners_r50", "config.yaml"))
    cfg = get_default_config()
    merge_opts(cfg, ["MODEL.BACKBONE.TRAIN_LAYERS", str(paper.MODEL.BACKBONE.TRAIN_LAYERS),
                     "TRAIN.BACKBONE_EPOCH", str(paper.TRAIN.BACKBONE_EPOCH)])
    model = FakeModel()
    opt = build_optimizer(model, cfg, paper.TRAIN.BACKBONE_EPOCH - 1)
    assert [g["name"] for g in opt.param_groups] == ["neck", "head"]  # warm-up: the backbone is frozen
    opt = rebuild_optimizer(opt, model, cfg, paper.TRAIN.BACKBONE_EPOCH)
    backbone = {id(p) for p in opt.param_groups[0]["params"]}
    assert opt.param_groups[0]["name"] == "backbone"
    assert backbone == {id(p) for p in model.backbone.parameters()}  # conv1, bn1, layer1, ...
    model.train()
    assert all(m.training for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d))
    # the official layers leave the stem and layer1 frozen, their BN in eval mode
    official = get_default_config()
    merge_opts(official, ["TRAIN.BACKBONE_EPOCH", "0"])
    model = FakeModel()
    opt = build_optimizer(model, official, 0)
    assert {id(p) for p in opt.param_groups[0]["params"]} == {id(p) for p in model.backbone.layer2.parameters()}
    model.train()
    assert not model.backbone.bn1.training and not model.backbone.layer1[0].bn1.training


def test_bad_train_layer_and_small_dataset_give_clear_errors(tmp_path):
    cfg = get_default_config()
    merge_opts(cfg, ["TRAIN.BACKBONE_EPOCH", "0", "MODEL.BACKBONE.TRAIN_LAYERS", "[layer9]"])
    with pytest.raises(ValueError, match="TRAIN_LAYERS.*layer9"):
        build_optimizer(FakeModel(), cfg, 0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        run(fake_cfg(tmp_path, "DATASET.VIDEOS_PER_EPOCH", "3"))


def test_resume_rejects_a_model_only_checkpoint(tmp_path):
    trainer, _ = run(fake_cfg(tmp_path / "a", "TRAIN.EPOCHS", "1"))
    trainer.export_model(str(tmp_path / "model.pth"))
    with pytest.raises(ValueError, match="not a training checkpoint"):
        run(fake_cfg(tmp_path / "b"), resume=str(tmp_path / "model.pth"))


class RecordingDataset(FakeDataset):
    """FakeDataset that records which items are made (TRAIN.NUM_WORKERS 0: in this process)."""

    def __init__(self, length: int, seen: list):
        super().__init__(length)
        self.seen = seen

    def __getitem__(self, i):
        self.seen.append(int(i))
        return super().__getitem__(i)


def _rewrite_progress(path, **progress):
    raw = torch.load(path, weights_only=True)
    raw["scheduler"].update(progress)
    torch.save(raw, path)


@pytest.mark.floor
def test_mid_epoch_resume_by_another_number_of_processes_trains_each_sample_once(tmp_path):
    """A last.pth written by 2 processes after 3 steps of 2 pairs each (12 samples) resumed by one process: it
    continues after those 12 samples of the epoch, instead of at its own iteration 3 (6 samples: 6 repeated)."""
    from torch.utils.data import DistributedSampler

    opts = ("TRAIN.EPOCHS", "1", "TRAIN.BATCH_SIZE", "2", "TRAIN.CHECKPOINT_ITERS", "3")
    run(fake_cfg(tmp_path, *opts, "TRAIN.STOP_AFTER_ITERS", "4"))
    last = str(tmp_path / "snapshot" / "last.pth")
    assert load_checkpoint(last)["scheduler"]["iteration"] == 3
    _rewrite_progress(last, world_size=2, batch_size=2)  # what rank 0 of a 2-process run writes there
    trained = set()
    for rank in (0, 1):  # the items the 2 ranks made in their 3 steps of 2
        sampler = DistributedSampler(range(24), num_replicas=2, rank=rank, seed=fake_cfg(tmp_path).SEED,
                                     drop_last=True)
        trained |= set(list(sampler)[:6])
    seen: list = []
    torch.manual_seed(0)
    trainer = Trainer(fake_cfg(tmp_path, *opts), model=FakeModel(), resume=last, progress=False,
                      dataset_builder=lambda c, e: RecordingDataset(c.DATASET.VIDEOS_PER_EPOCH, seen))
    try:
        assert trainer.start_iter == 6
        trainer.train()
    finally:
        trainer.close()
    assert not trained & set(seen) and trained | set(seen) == set(range(24)) and len(seen) == 12
    assert "written by 2 process(es) after 3 iterations of 2 pairs (12 samples of epoch 1); 1 process(es) of 2 " \
           "pairs continue at iteration 6, no sample repeated" in (tmp_path / "logs" / "train.log").read_text()


@pytest.mark.floor
def test_resume_with_fewer_visible_gpus_than_rng_states_says_so(tmp_path, fake_gpus):
    """A checkpoint of a process that saw 2 GPUs resumed where 1 is visible: GPU 0's generator is restored and the
    log says the other was not (it was an IndexError traceback from torch.cuda.set_rng_state_all)."""
    run(fake_cfg(tmp_path, "TRAIN.EPOCHS", "1"))
    path = str(tmp_path / "snapshot" / "checkpoint_e1.pth")
    raw = torch.load(path, weights_only=True)
    raw["rng"]["cuda"] = [torch.full((16,), i, dtype=torch.uint8) for i in (7, 8)]
    torch.save(raw, path)
    gpus = fake_gpus(1)
    trainer = Trainer(fake_cfg(tmp_path, "TRAIN.EPOCHS", "2"), model=FakeModel(), resume=path, progress=False,
                      dataset_builder=lambda c, e: FakeDataset(c.DATASET.VIDEOS_PER_EPOCH))
    trainer.close()
    assert list(gpus.rng) == [0] and int(gpus.rng[0][0]) == 7
    assert ("the checkpoint holds the CUDA RNG states of 2 GPU(s) and this process sees 1: restored 1 of them"
            in (tmp_path / "logs" / "train.log").read_text())


@pytest.mark.parametrize("saved, now, expected", [
    ((3, 2, 2), (1, 2), (6, 0)),    # official per-process batch, 2 GPUs -> 1
    ((3, 2, 2), (1, 4), (3, 0)),    # total batch 4 split over 2 -> 1: the same iteration
    ((3, 1, 2), (2, 2), (1, 2)),    # 6 samples, steps of 4: continue after 4, train 2 again
    ((5, 4, 3), (3, 3), (6, 6)),    # 60 samples, steps of 9: 54 done, 6 again
])
def test_resume_iteration_converts_the_samples_done(saved, now, expected):
    assert resume_iteration(*saved, *now) == expected


def test_measure_train_step_reports_time(tmp_path):
    out = measure_train_step(fake_cfg(tmp_path), iters=2, warmup=1, device="cpu", model=FakeModel(),
                             dataset_builder=lambda c, e: FakeDataset(8))
    assert out["ms_per_step"] > 0 and out["batch_size"] == 4 and out["iters"] == 2


@pytest.mark.floor
def test_tiny_config_learns_a_fixed_batch(tmp_path):
    """16 SGD steps on one fixed batch of 4 pairs (one iteration per epoch, constant lr) fit it.

    Exactly one batch: a 4-item dataset and batch 4, so every step sees the same pairs and BatchNorm the same
    statistics. The lr is the tiny config's warm-up start (0.004): at its peak 0.02 without the warm-up,
    momentum SGD from scratch overshoots on a single batch and the loss jumps by 2-3x on some steps (which step
    depends on float rounding, i.e. the torch build and thread count)."""
    cfg = load_config(TINY, ["OUTPUT_DIR", str(tmp_path), "TRAIN.BATCH_SIZE", "4", "TRAIN.NUM_WORKERS", "0",
                             "TRAIN.EPOCHS", "16", "TRAIN.WARMUP.ENABLED", "false", "TRAIN.BASE_LR", "0.004",
                             "TRAIN.LR.START_LR", "0.004", "TRAIN.LR.END_LR", "0.004",
                             "TRAIN.CHECKPOINT_ITERS", "0", "TRAIN.PRINT_FREQ", "100"])
    from siamcorners.data.datasets import build_train_dataset
    fixed = [build_train_dataset(cfg, 0)[i] for i in range(4)]

    class Fixed(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return fixed[i]

    seen = []
    trainer = Trainer(cfg, dataset_builder=lambda c, e: Fixed(), progress=False,
                      step_callback=lambda t, e, i, v: seen.append(v))
    try:
        trainer.train()
    finally:
        trainer.close()
    totals = [v["total"] for v in seen]
    assert len(totals) == 16 and all(np.isfinite(totals))
    assert {"total", "focal", "offset"} <= set(seen[0])
    # measured: 5.95 -> 0.63, falling at every step; no learning keeps it at 5.95
    assert totals[-1] < 0.4 * totals[0] and np.mean(totals[-4:]) < 0.5 * totals[0]
    assert np.mean(totals[8:12]) < np.mean(totals[4:8]) < np.mean(totals[:4])


@pytest.mark.slow
def test_train_tool_stopped_mid_epoch_and_resumed_matches_an_uninterrupted_run(tmp_path):
    import subprocess
    import sys

    def train(out, args=(), opts=()):
        cmd = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--cfg", TINY, "--no-progress", *args,
               "--opts", "OUTPUT_DIR", str(out), "MODEL.BACKBONE.WIDTH", "4", "TRAIN.BATCH_SIZE", "2",
               "TRAIN.EPOCHS", "2", "DATASET.VIDEOS_PER_EPOCH", "8", "TRAIN.CHECKPOINT_ITERS", "3", *opts]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    train(tmp_path / "full")
    # 4 iterations per epoch; stopped at epoch 2 iteration 2, the last checkpoint is last.pth at epoch 1 iteration 3
    train(tmp_path / "cut", opts=("TRAIN.STOP_AFTER_ITERS", "6"))
    ckpt = load_checkpoint(str(tmp_path / "cut" / "snapshot" / "last.pth"))
    assert (ckpt["epoch"], ckpt["scheduler"]["iteration"]) == (0, 3)
    assert not (tmp_path / "cut" / "snapshot" / "checkpoint_e2.pth").exists()
    train(tmp_path / "cut", args=("--resume", "auto"))
    wa = weights(tmp_path / "full" / "snapshot" / "checkpoint_e2.pth")
    wb = weights(tmp_path / "cut" / "snapshot" / "checkpoint_e2.pth")
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.mark.slow
def test_tiny_config_training_is_bit_reproducible(tmp_path):
    """The quickstart's claim: the same command gives the same weights on the same machine and torch build with
    the same TRAIN.NUM_THREADS, whatever the number of DataLoader workers (every item is seeded by its index)."""
    def train(out, workers):
        cfg = load_config(TINY, ["OUTPUT_DIR", str(out), "MODEL.BACKBONE.WIDTH", "4", "TRAIN.BATCH_SIZE", "2",
                                 "TRAIN.EPOCHS", "1", "DATASET.VIDEOS_PER_EPOCH", "6", "TRAIN.CHECKPOINT_ITERS", "0",
                                 "DATASET.SOURCES.SYNTHETIC.VIDEOS", "4", "DATASET.SOURCES.SYNTHETIC.NUM_USE", "4",
                                 "DATASET.SOURCES.SYNTHETIC.FRAMES", "12", "TRAIN.NUM_WORKERS", str(workers)])
        trainer = Trainer(cfg, progress=False)
        try:
            trainer.train()
        finally:
            trainer.close()
        return weights(out / "snapshot" / "checkpoint_e1.pth")

    first, again, no_worker = train(tmp_path / "a", 1), train(tmp_path / "b", 1), train(tmp_path / "c", 0)
    assert first.keys() == again.keys() == no_worker.keys()
    for k in first:
        assert torch.equal(first[k], again[k]), k
        assert torch.equal(first[k], no_worker[k]), k
    # the runs trained: the weights moved away from the seeded initialisation
    torch.manual_seed(load_config(TINY).SEED)
    from siamcorners.models import build_model
    start = build_model(load_config(TINY, ["MODEL.BACKBONE.WIDTH", "4"])).state_dict()
    assert any(not torch.equal(start[k], first[k]) for k in first if first[k].is_floating_point())
