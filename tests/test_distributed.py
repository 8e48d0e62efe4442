"""``torchrun --nproc_per_node 2`` on CPU (gloo) with the tiny config; this file is also the worker script."""
import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")


def _opts(out_dir):
    return ["OUTPUT_DIR", out_dir, "DEVICE", "cpu", "TRAIN.EPOCHS", "2", "TRAIN.BATCH_SIZE", "4",
            "TRAIN.BATCH_SIZE_MODE", "total",
            "TRAIN.NUM_WORKERS", "0", "DATASET.VIDEOS_PER_EPOCH", "12", "TRAIN.CHECKPOINT_ITERS", "0",
            "TRAIN.PRINT_FREQ", "1", "MODEL.BACKBONE.WIDTH", "4"]


def _worker(out_dir):
    """Run under torchrun: train, and after every step check that all ranks hold the same weights."""
    import torch
    import torch.distributed as dist

    from siamcorners.config import load_config
    from siamcorners.engine.trainer import Trainer

    torch.set_num_threads(1)
    cfg = load_config(TINY, _opts(out_dir))
    checks = []

    def same_weights(trainer, epoch, it, losses):
        flat = torch.cat([p.detach().reshape(-1) for p in trainer.model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, flat)
        checks.append({"epoch": epoch, "iteration": it, "equal": all(torch.equal(gathered[0], g) for g in gathered),
                       "grad_params": sum(p.grad is not None for p in trainer.model.parameters()),
                       "batch_size": trainer.batch_size})

    trainer = Trainer(cfg, progress=False, step_callback=same_weights)
    try:
        trainer.train()
    finally:
        trainer.close()
    with open(os.path.join(out_dir, f"checks_rank{dist.get_rank()}.json"), "w") as f:
        json.dump({"world_size": dist.get_world_size(), "checks": checks}, f)
    dist.destroy_process_group()


class _Recorded:
    """A training dataset that appends the index of every item made to ``path`` (TRAIN.NUM_WORKERS 0: made in the
    training process itself)."""

    def __init__(self, dataset, path):
        self.dataset, self.path = dataset, path

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        with open(self.path, "a") as f:
            f.write(f"{index}\n")
        return self.dataset[index]


def _resume_opts(out_dir):
    """Official per-process batches of 2, 16 items: 4 steps per epoch with 2 processes, 8 with one."""
    return _opts(out_dir) + ["TRAIN.BATCH_SIZE_MODE", "per_process", "TRAIN.BATCH_SIZE", "2", "TRAIN.EPOCHS", "1",
                             "DATASET.VIDEOS_PER_EPOCH", "16", "TRAIN.CHECKPOINT_ITERS", "1"]


def _train_recorded(out_dir, opts, seen_file):
    from siamcorners.config import load_config
    from siamcorners.data.datasets import build_train_dataset
    from siamcorners.engine.trainer import Trainer

    trainer = Trainer(load_config(TINY, opts), resume="auto", progress=False,
                      dataset_builder=lambda c, e: _Recorded(build_train_dataset(c, e), seen_file))
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer


def _stop_worker(out_dir):
    """Run under torchrun: 2 of the 4 steps of the epoch, then stop (last.pth holds iteration 2)."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    _train_recorded(out_dir, _resume_opts(out_dir) + ["TRAIN.STOP_AFTER_ITERS", "2"],
                    os.path.join(out_dir, f"seen_rank{rank}.txt"))
    dist.destroy_process_group()


def test_single_process_needs_no_launcher(monkeypatch):
    import torch

    from siamcorners.engine.distributed import all_reduce_mean, init_distributed, loss_scale_for_reduce, wrap_model

    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_distributed("cpu")
    assert (info.rank, info.world_size, info.distributed, info.backend) == (0, 1, False, "")
    model = torch.nn.Linear(2, 2)
    assert wrap_model(model, info) is model
    assert all_reduce_mean({"total": torch.tensor(1.5), "lr": 0.1}, info) == {"total": 1.5, "lr": 0.1}
    # official "sum": DDP averages over ranks, so the loss is scaled by the world size
    assert loss_scale_for_reduce("sum", 4) == 4.0 and loss_scale_for_reduce("mean", 4) == 1.0
    with pytest.raises(ValueError, match="GRAD_REDUCE"):
        loss_scale_for_reduce("max", 2)
    with pytest.raises(ValueError, match="SYNC_BN"):
        wrap_model(model, info.__class__(0, 0, 2, torch.device("cpu"), "gloo"), sync_bn=True)


@pytest.mark.parametrize("world, expected", [(1, 58), (2, 29), (29, 2), (58, 1)])
def test_total_batch_is_split_over_the_processes(world, expected):
    from siamcorners.engine.distributed import per_process_batch_size

    assert per_process_batch_size(58, "total", world) == expected
    assert per_process_batch_size(58, "per_process", world) == 58  # official: 58 on each process


@pytest.mark.parametrize("world", [3, 4, 8, 59])
def test_total_batch_that_does_not_divide_names_the_keys(world):
    from siamcorners.config import ConfigError
    from siamcorners.engine.distributed import per_process_batch_size

    with pytest.raises(ConfigError, match=rf"TRAIN\.BATCH_SIZE=58 with TRAIN\.BATCH_SIZE_MODE 'total'.* {world} proc"):
        per_process_batch_size(58, "total", world)


@pytest.mark.slow
def test_torchrun_two_processes_keep_ranks_in_sync_and_resume_in_one_process(tmp_path):
    out = str(tmp_path)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           os.path.abspath(__file__), out]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        with open(tmp_path / f"checks_rank{rank}.json") as f:
            record = json.load(f)
        assert record["world_size"] == 2
        # a total batch of 4: 2 pairs per rank; 12 items / (2 per rank x 2 ranks) = 3 steps per epoch, 2 epochs
        assert [(c["epoch"], c["iteration"]) for c in record["checks"]] == [(e, i) for e in range(2) for i in range(3)]
        assert all(c["equal"] and c["grad_params"] > 0 and c["batch_size"] == 2 for c in record["checks"])

    import torch

    from siamcorners.config import load_config
    from siamcorners.engine.trainer import Trainer
    from siamcorners.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(str(tmp_path / "snapshot" / "checkpoint_e2.pth"))
    assert ckpt["scheduler"]["world_size"] == 2 and ckpt["epoch"] == 2
    # one more epoch in a single process, continuing from the 2-process checkpoint
    cfg = load_config(TINY, _opts(out) + ["TRAIN.EPOCHS", "3"])
    trainer = Trainer(cfg, resume="auto", progress=False)
    try:
        assert (trainer.start_epoch, trainer.start_iter) == (2, 0)
        for k, v in trainer.model.state_dict().items():
            assert torch.equal(v, ckpt["model"][k]), k
        summary = trainer.train()
    finally:
        trainer.close()
    assert summary["iterations"] == 3  # 12 items / the total batch of 4 in one process
    assert load_checkpoint(str(tmp_path / "snapshot" / "checkpoint_e3.pth"))["epoch"] == 3


@pytest.mark.slow
def test_mid_epoch_checkpoint_of_two_processes_resumed_by_one_trains_each_item_once(tmp_path):
    """2 processes (gloo) stop after 2 of their 4 steps; one process resumes the epoch from last.pth. The 2 x 2 x 2
    items done are not trained again and none is skipped (one process continues at its iteration 4, not 2)."""
    out = str(tmp_path)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port; 127.0.0.1, not localhost: a machine without /etc/hosts has none
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2", "--master_addr",
           "127.0.0.1", "--master_port", str(port), os.path.abspath(__file__), "stop", out]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    before = [int(i) for rank in (0, 1) for i in (tmp_path / f"seen_rank{rank}.txt").read_text().split()]
    assert len(before) == len(set(before)) == 8

    from siamcorners.models.checkpoint import load_checkpoint

    last = load_checkpoint(str(tmp_path / "snapshot" / "last.pth"))["scheduler"]
    assert (last["iteration"], last["world_size"], last["batch_size"]) == (2, 2, 2)
    trainer = _train_recorded(out, _resume_opts(out), str(tmp_path / "seen_resumed.txt"))
    after = [int(i) for i in (tmp_path / "seen_resumed.txt").read_text().split()]
    assert not set(before) & set(after) and sorted(before + after) == list(range(16))
    assert load_checkpoint(trainer.last_good)["epoch"] == 1
    assert "continue at iteration 4, no sample repeated" in (tmp_path / "logs" / "train.log").read_text()


if __name__ == "__main__":
    if sys.argv[1] == "stop":
        _stop_worker(sys.argv[2])
    else:
        _worker(sys.argv[1])
