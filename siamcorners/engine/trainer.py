"""The training loop (reference section 8, with the fixes listed below).

One process on CPU or one GPU needs no launcher; under ``torchrun`` every rank runs this loop with
DistributedDataParallel. Every value comes from the config given to :class:`Trainer`.

Differences from the official loop, on purpose:

* the sampler's ``set_epoch`` is called and every item is seeded by ``(SEED, epoch, index)``, so an
  item does not depend on the worker or rank that makes it and a resumed run sees the same data;
* ``--resume`` continues exactly: model, optimizer, lr schedule, AMP scaler, epoch, iteration inside the
  epoch and the RNG states are restored (the official resume restarts the data stream and keeps a stale lr);
  a mid-epoch checkpoint resumed by another number of processes continues after the samples already trained
  (:func:`resume_iteration`), and CUDA RNG states of more GPUs than are visible are restored as far as they fit;
* checkpoints are written atomically; besides ``checkpoint_eN.pth`` (the state after N epochs) a
  ``last.pth`` is written every ``TRAIN.CHECKPOINT_ITERS`` iterations inside an epoch;
* a non-finite loss stops the run with :class:`NonFiniteLossError` (the official loop skips the step
  silently); the checkpoints already written are the last good ones.

Outputs under ``OUTPUT_DIR``: ``config.resolved.yaml``, ``SNAPSHOT_DIR/`` (checkpoints),
``LOG_DIR/train.log`` (plain text) and TensorBoard scalars in ``LOG_DIR``, with images of four fixed pairs (templates,
search crop, predicted and target heat maps) every ``TRAIN.IMAGE_SUMMARY_ITERS`` iterations.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import random
import re
import sys
import time
import warnings
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from siamcorners.config import save_config, to_dict
from siamcorners.data.workers import init_data_worker
from siamcorners.engine.distributed import (
    DistInfo,
    all_reduce_mean,
    barrier,
    init_distributed,
    loss_scale_for_reduce,
    per_process_batch_size,
    resolve_device,
    unwrap_model,
    wrap_model,
)
from siamcorners.engine.lr_scheduler import build_lr_scheduler
from siamcorners.engine.run_dirs import check_resume_config, claim_run_directory, claim_training_run
from siamcorners.engine.optim import backbone_trainable, build_optimizer, rebuild_optimizer, set_backbone_mode
from siamcorners.models.backbone import load_pretrained_backbone
from siamcorners.models.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from siamcorners.tracker.tracker import use_device

__all__ = [
    "NonFiniteLossError",
    "Trainer",
    "find_resume_checkpoint",
    "measure_train_step",
    "resume_iteration",
    "seed_everything",
]

DatasetBuilder = Callable[[Mapping[str, Any], int], Dataset]
ModelBuilder = Callable[[Mapping[str, Any]], nn.Module]

_CKPT_RE = re.compile(r"checkpoint_e(\d+)\.pth$")
_PER_LEVEL_RE = re.compile(r"_\d+$")  # per-level losses go to TensorBoard only
LAST_NAME = "last.pth"
SUMMARY_PAIRS = 4  # training pairs shown in the TensorBoard image summaries


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the message names the epoch, iteration and last good checkpoint."""


# ------------------------------------------------------------------------------------------ seeding
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _item_seed(seed: int, epoch: int, index: int, stream: int = 0) -> int:
    """A 32-bit seed from (SEED, epoch, item index, stream); stream 0 = items, 1 = DataLoader of a rank."""
    return int(np.random.SeedSequence([seed % 2**32, epoch, index, stream]).generate_state(1)[0])


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed the global python/numpy/torch RNGs; in the main process their states are restored afterwards."""
    in_worker = torch.utils.data.get_worker_info() is not None
    saved = None if in_worker else (random.getstate(), np.random.get_state(), torch.get_rng_state())
    random.seed(seed)
    np.random.seed(seed)
    torch.random.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        if saved is not None:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])


class _SeededItems(Dataset):
    """Item ``i`` of epoch ``e`` is made with every global RNG seeded by ``(seed, e, i)``."""

    def __init__(self, dataset: Dataset, seed: int, epoch: int):
        self.dataset, self.seed, self.epoch = dataset, seed, epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        with _seeded(_item_seed(self.seed, self.epoch, index)):
            return self.dataset[index]


class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` that can start part-way through its epoch (``set_start(n)`` skips n items)."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.start = 0

    def set_start(self, start: int) -> None:
        self.start = int(start)

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return max(self.num_samples - self.start, 0)


# ------------------------------------------------------------------------------------------ checkpoints
def resume_iteration(iteration: int, saved_world: int, saved_batch: int, world: int, batch: int) -> tuple[int, int]:
    """Where a mid-epoch resume continues when the number of processes changed: (iteration, samples trained again).

    Every world size draws the same sample order for an epoch (``DistributedSampler``'s seeded permutation), and
    rank r takes every world-th entry from r, so ``iteration`` steps of ``saved_batch`` pairs on each of
    ``saved_world`` processes trained exactly the first ``iteration * saved_batch * saved_world`` entries. The
    resumed run skips whole steps of ``batch`` x ``world`` entries: it continues at the last step boundary at or
    before that point, so no sample is skipped and fewer than one step's samples are trained a second time."""
    done = iteration * saved_batch * saved_world
    step = batch * world
    start = done // step
    return start, done - start * step


def _progress(path: str) -> tuple[int, int]:
    """(epoch, iteration) of a training checkpoint, from its name when it is ``checkpoint_eN.pth``."""
    m = _CKPT_RE.search(os.path.basename(path))
    if m:
        return int(m.group(1)), 0
    ckpt = load_checkpoint(path)
    return int(ckpt.get("epoch") or 0), int((ckpt.get("scheduler") or {}).get("iteration", 0))


def find_resume_checkpoint(snapshot_dir: str, warn: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """The most advanced training checkpoint in ``snapshot_dir`` (``last.pth`` or ``checkpoint_eN.pth``).

    A file that cannot be read is skipped with a message naming it, given to ``warn`` (default:
    ``warnings.warn``)."""
    candidates = [p for p in glob.glob(os.path.join(snapshot_dir, "checkpoint_e*.pth")) if _CKPT_RE.search(p)]
    last = os.path.join(snapshot_dir, LAST_NAME)
    if os.path.isfile(last):
        candidates.append(last)
    best, best_key = None, (-1, -1)
    for path in candidates:
        try:
            key = _progress(path)
        except Exception as e:  # an unreadable file is not a resume point
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            (warn or warnings.warn)(f"--resume auto: skipped {path}: cannot be read ({reason})")
            continue
        if key > best_key:
            best, best_key = path, key
    return best


def _to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) if torch.is_tensor(v) else v for k, v in batch.items()}


def _default_dataset_builder(cfg: Mapping[str, Any], epoch: int) -> Dataset:
    from siamcorners.data.datasets import build_train_dataset
    return build_train_dataset(cfg, epoch)


def _default_model_builder(cfg: Mapping[str, Any]) -> nn.Module:
    from siamcorners.models import build_model
    return build_model(cfg)


class _TqdmHandler(logging.StreamHandler):
    """Console log lines printed above the tqdm progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm
        tqdm.write(self.format(record), file=sys.stderr)


# ------------------------------------------------------------------------------------------ trainer
class Trainer:
    """Builds everything from ``cfg`` and runs :meth:`train`.

    ``model`` / ``dataset_builder`` replace :func:`siamcorners.models.build_model` and
    :func:`siamcorners.data.build_train_dataset` (tests, custom data). ``resume`` is a checkpoint path,
    ``"auto"`` (the most advanced checkpoint in the snapshot folder, if any) or ``""`` (``TRAIN.RESUME``).
    A snapshot folder with checkpoints belongs to their run (`claim_run_directory`): a new run there is refused
    unless ``overwrite`` (which deletes that run's checkpoints and logs), a resumed one must have its config.
    ``step_callback(trainer, epoch, iteration, losses)`` runs after every optimizer step (losses averaged
    over ranks).
    """

    def __init__(self, cfg: Mapping[str, Any], model: Optional[nn.Module] = None,
                 dataset_builder: Optional[DatasetBuilder] = None, resume: str = "",
                 device: Optional[str] = None, progress: bool = True, overwrite: bool = False,
                 step_callback: Optional[Callable[["Trainer", int, int, Mapping[str, float]], None]] = None):
        self.cfg = cfg
        tc = cfg["TRAIN"]
        self.info: DistInfo = init_distributed(device or cfg["DEVICE"])
        self.device = self.info.device
        self.seed = int(cfg["SEED"])
        self.epochs = int(tc["EPOCHS"])
        self.batch_size = per_process_batch_size(int(tc["BATCH_SIZE"]), tc["BATCH_SIZE_MODE"],
                                                 self.info.world_size)  # pairs per process and step
        self.num_workers = int(tc["NUM_WORKERS"])
        self.grad_clip = float(tc["GRAD_CLIP"])
        self.print_freq = max(int(tc["PRINT_FREQ"]), 1)
        self.checkpoint_iters = int(tc["CHECKPOINT_ITERS"])
        self.stop_after = int(tc["STOP_AFTER_ITERS"])
        self.sync_bn = bool(tc["SYNC_BN"])
        self.loss_scale = loss_scale_for_reduce(tc["GRAD_REDUCE"], self.info.world_size)
        self.amp = bool(tc["AMP"]) and self.device.type == "cuda"
        self.train_layers = list(cfg["MODEL"]["BACKBONE"]["TRAIN_LAYERS"])
        self.frozen_bn = bool(cfg["MODEL"]["BACKBONE"]["FROZEN_BN"])
        out = cfg["OUTPUT_DIR"] or os.getcwd()
        self.output_dir = out
        self.snapshot_dir = os.path.join(out, tc["SNAPSHOT_DIR"])
        self.log_dir = os.path.join(out, tc["LOG_DIR"])
        self.progress = progress and self.info.is_main
        self.dataset_builder = dataset_builder or _default_dataset_builder
        self.step_callback = step_callback
        self.image_summary_iters = int(tc["IMAGE_SUMMARY_ITERS"])
        self._summary_pairs: Optional[dict[str, Any]] = None  # the fixed pairs of the image summaries

        label = "--resume" if resume else "TRAIN.RESUME"
        resume = resume or tc["RESUME"]
        skipped: list[str] = []
        if resume and resume != "auto" and not overwrite:  # before anything is created: a resume of another config
            check_resume_config(cfg, resume, label)
        # the run holds its folders (an OS lock, released by close() or when the process ends), then checks them
        self._claims = claim_training_run(cfg, out, [self.snapshot_dir, self.log_dir]) if self.info.is_main else []
        try:
            claim_run_directory(cfg, self.snapshot_dir, resume, overwrite,
                                find_checkpoint=lambda d: find_resume_checkpoint(d, warn=lambda m: None),
                                log_dir=self.log_dir, config_path=os.path.join(out, "config.resolved.yaml"),
                                is_main=self.info.is_main, log=print if self.info.is_main else (lambda m: None),
                                resume_label=label, check_resume=False)
            barrier(self.info)
            auto = resume == "auto"
            if auto:
                resume = find_resume_checkpoint(self.snapshot_dir, warn=skipped.append) or ""
            if int(tc["NUM_THREADS"]) > 0:
                torch.set_num_threads(int(tc["NUM_THREADS"]))
            seed_everything(self.seed)
            if self.device.type == "cuda":
                torch.backends.cudnn.benchmark = False
            self.model = (model if model is not None else _default_model_builder(cfg)).to(self.device)
            self.log = self._setup_logging()
            self.writer = self._setup_tensorboard()

            self.start_epoch, self.start_iter = int(tc["START_EPOCH"]), 0
            self.global_step = 0
            self.optim_epoch = self.start_epoch
            self.optimizer = build_optimizer(self.model, cfg, self.optim_epoch)
            self.scheduler = build_lr_scheduler(tc)
            self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
            self.last_good = ""
            if cfg["MODEL"]["BACKBONE"]["PRETRAINED"]:
                load_pretrained_backbone(unwrap_model(self.model).backbone, cfg["MODEL"]["BACKBONE"]["PRETRAINED"],
                                         verbose=self.info.is_main)
            if tc["PRETRAINED"]:
                self._load_pretrained(tc["PRETRAINED"])
            for message in skipped:
                self.log.warning("%s", message)
            if auto and not resume:
                self.log.info("--resume auto: no checkpoint in %s, starting from scratch", self.snapshot_dir)
            if resume:
                self._resume(resume)
            self.ddp = wrap_model(self.model, self.info, self.sync_bn)
            if self.info.is_main:
                save_config(cfg, os.path.join(out, "config.resolved.yaml"))
        except BaseException:
            self._release_claims()
            raise

    # -------------------------------------------------------------------------------- set-up helpers
    def _setup_logging(self) -> logging.Logger:
        log = logging.getLogger(f"siamcorners.train.{id(self)}")
        log.setLevel(logging.INFO if self.info.is_main else logging.WARNING)
        log.propagate = False
        if self.info.is_main:
            os.makedirs(self.log_dir, exist_ok=True)
            fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
            fh = logging.FileHandler(os.path.join(self.log_dir, "train.log"), encoding="utf-8")
            fh.setFormatter(fmt)
            sh = _TqdmHandler() if self.progress else logging.StreamHandler()
            sh.setFormatter(fmt)
            log.addHandler(fh)
            log.addHandler(sh)
        return log

    def _setup_tensorboard(self):
        if not self.info.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter(self.log_dir)

    def _release_claims(self) -> None:
        for c in self._claims:
            c.release()
        self._claims = []

    def close(self) -> None:
        """Close the logs and TensorBoard writer, then give up the run's folders."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        for h in list(self.log.handlers):
            h.close()
            self.log.removeHandler(h)
        self._release_claims()

    def _load_pretrained(self, path: str) -> None:
        ckpt = load_checkpoint(path, unwrap_model(self.model), strict=False)
        report = ckpt["load_report"]
        self.log.info("TRAIN.PRETRAINED %s: %d missing, %d unexpected, %d mismatched keys", path,
                      len(report["missing"]), len(report["unexpected"]), len(report["mismatched"]))

    def _resume(self, path: str) -> None:
        ckpt = load_checkpoint(path, unwrap_model(self.model), strict=True)
        progress = ckpt.get("scheduler") or {}
        if ckpt.get("optimizer") is None or "optim_epoch" not in progress:
            raise ValueError(f"--resume {path}: not a training checkpoint (no optimizer / progress state); "
                             "use TRAIN.PRETRAINED to start from a model-only checkpoint")
        self.optim_epoch = int(progress["optim_epoch"])
        self.optimizer = build_optimizer(self.model, self.cfg, self.optim_epoch)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(progress["lr"])
        if progress.get("amp_scaler") and self.amp:
            self.scaler.load_state_dict(progress["amp_scaler"])
        self.start_epoch, self.start_iter = int(ckpt["epoch"]), int(progress["iteration"])
        if self.start_epoch > self.epochs or (self.start_epoch == self.epochs and self.start_iter > 0):
            raise ValueError(f"--resume {path}: the checkpoint is at epoch {self.start_epoch}, past "
                             f"TRAIN.EPOCHS {self.epochs}; set TRAIN.EPOCHS >= {self.start_epoch} to continue that "
                             f"run, or start a new one in a new OUTPUT_DIR (or with --overwrite)")
        self.global_step = int(progress.get("global_step", 0))
        saved_world = int(progress.get("world_size") or self.info.world_size)
        if self.start_iter and saved_world != self.info.world_size:
            self._convert_position(path, saved_world, progress)
        if ckpt.get("rng"):
            note = restore_rng_state(ckpt["rng"])
            if note:
                self.log.warning("--resume %s: %s", path, note)
        self.last_good = path
        self.log.info("resumed from %s at epoch %d iteration %d", path, self.start_epoch, self.start_iter)

    def _convert_position(self, path: str, saved_world: int, progress: Mapping[str, Any]) -> None:
        """A mid-epoch checkpoint of another number of processes: continue after the samples it trained."""
        tc = self.cfg["TRAIN"]
        saved_batch = int(progress.get("batch_size")
                          or per_process_batch_size(int(tc["BATCH_SIZE"]), tc["BATCH_SIZE_MODE"], saved_world))
        start, again = resume_iteration(self.start_iter, saved_world, saved_batch, self.info.world_size,
                                        self.batch_size)
        done = self.start_iter * saved_batch * saved_world
        self.log.warning("--resume %s: written by %d process(es) after %d iterations of %d pairs (%d samples of epoch "
                         "%d); %d process(es) of %d pairs continue at iteration %d, %s", path, saved_world,
                         self.start_iter, saved_batch, done, self.start_epoch + 1, self.info.world_size,
                         self.batch_size, start,
                         f"training the last {again} of those samples again" if again else "no sample repeated")
        self.start_iter = start

    # -------------------------------------------------------------------------------- checkpoints
    def progress_state(self, iteration: int) -> dict[str, Any]:
        """Stored in the checkpoint's ``scheduler`` entry: lr schedule, position inside the epoch, AMP scaler."""
        return {
            "lr": self.scheduler.state_dict(),
            "iteration": iteration,
            "global_step": self.global_step,
            "optim_epoch": self.optim_epoch,
            "amp_scaler": self.scaler.state_dict() if self.amp else None,
            "world_size": self.info.world_size,
            "batch_size": self.batch_size,  # pairs per process and step: with world_size, the samples done
        }

    def save(self, name: str, epoch: int, iteration: int) -> str:
        """Training checkpoint after ``iteration`` iterations of ``epoch`` (rank 0 writes, atomically)."""
        path = os.path.join(self.snapshot_dir, name)
        if self.info.is_main:
            save_checkpoint(path, unwrap_model(self.model), config=to_dict(self.cfg), epoch=epoch,
                            optimizer=self.optimizer.state_dict(), scheduler=self.progress_state(iteration),
                            rng=capture_rng_state())
        barrier(self.info)
        self.last_good = path
        return path

    def export_model(self, path: str) -> None:
        """Model weights only (what the tracker loads), written atomically by rank 0."""
        if self.info.is_main:
            save_checkpoint(path, unwrap_model(self.model), config=to_dict(self.cfg), epoch=self.epochs)

    # -------------------------------------------------------------------------------- the loop
    def _loader(self, dataset: Dataset, epoch: int, start_iter: int) -> DataLoader:
        sampler = ResumableDistributedSampler(dataset, self.info.world_size, self.info.rank, self.seed)
        sampler.set_epoch(epoch)
        sampler.set_start(start_iter * self.batch_size)
        gen = torch.Generator().manual_seed(_item_seed(self.seed, epoch, self.info.rank, stream=1))
        return DataLoader(_SeededItems(dataset, self.seed, epoch), batch_size=self.batch_size, sampler=sampler,
                          num_workers=self.num_workers, pin_memory=self.device.type == "cuda", drop_last=True,
                          worker_init_fn=init_data_worker, generator=gen,
                          persistent_workers=False)

    def _begin_epoch(self, epoch: int) -> float:
        if backbone_trainable(self.cfg["TRAIN"], epoch) != backbone_trainable(self.cfg["TRAIN"], self.optim_epoch):
            self.optimizer = rebuild_optimizer(self.optimizer, self.model, self.cfg, epoch)
            self.optim_epoch = epoch
            self.ddp = wrap_model(self.model, self.info, self.sync_bn)
            self.log.info("epoch %d/%d: backbone layers %s unfrozen (TRAIN.BACKBONE_EPOCH %d)", epoch + 1, self.epochs,
                          self.train_layers, int(self.cfg["TRAIN"]["BACKBONE_EPOCH"]))
        else:
            set_backbone_mode(self.model, self.train_layers, backbone_trainable(self.cfg["TRAIN"], self.optim_epoch),
                              self.frozen_bn)
        lr = self.scheduler.apply(self.optimizer, epoch)
        self.ddp.train()
        if self.writer is not None:
            for i, g in enumerate(self.optimizer.param_groups):
                self.writer.add_scalar(f"lr/{g.get('name', i)}", g["lr"], self.global_step)
        return lr

    def _step(self, batch: Mapping[str, Any], epoch: int, it: int) -> tuple[dict[str, float], float]:
        batch = _to_device(batch, self.device)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            losses = self.ddp(batch)
        if "total" not in losses:
            raise KeyError(f"the model returned losses {sorted(losses)}; the training contract needs 'total'")
        logged = {k: v.detach().float() for k, v in losses.items() if torch.is_tensor(v) and v.numel() == 1}
        values = all_reduce_mean(logged, self.info)
        if not all(math.isfinite(v) for v in values.values()):
            where = self.last_good or "none (no checkpoint was written yet)"
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch} iteration {it} "
                f"({', '.join(f'{k}={v:.4g}' for k, v in values.items())}); training stopped before this update. "
                f"Last good checkpoint: {where}. Lower TRAIN.BASE_LR / TRAIN.LR or check the data.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["total"] * self.loss_scale).backward()
        grad_norm = float("nan")
        if self.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
            grad_norm = float(nn.utils.clip_grad_norm_(params, self.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return values, grad_norm

    def train(self) -> dict[str, Any]:
        """Run from the start (or resume) point to ``TRAIN.EPOCHS``; returns a summary.

        Stops early (``summary['stopped'] = True``) after ``TRAIN.STOP_AFTER_ITERS`` iterations of this run.
        """
        steps_this_run = 0
        t_start = time.time()
        last_values: dict[str, float] = {}
        if self.start_epoch >= self.epochs:
            self.log.info("nothing to train: the run starts at epoch %d of %d (%s)", self.start_epoch, self.epochs,
                          self.last_good or "TRAIN.START_EPOCH")
        try:
            for epoch in range(self.start_epoch, self.epochs):
                start_iter = self.start_iter if epoch == self.start_epoch else 0
                dataset = self.dataset_builder(self.cfg, epoch)
                iters = len(dataset) // (self.batch_size * self.info.world_size)
                if iters < 1:
                    raise ValueError(f"epoch {epoch}: the dataset has {len(dataset)} items, fewer than one batch "
                                     f"of {self.batch_size} x {self.info.world_size} process(es) (TRAIN.BATCH_SIZE="
                                     f"{self.cfg['TRAIN']['BATCH_SIZE']}, TRAIN.BATCH_SIZE_MODE "
                                     f"{self.cfg['TRAIN']['BATCH_SIZE_MODE']})")
                lr = self._begin_epoch(epoch)
                self.log.info("epoch %d/%d: lr %.6g, %d iterations of %d x %d process(es)%s", epoch + 1,
                              self.epochs, lr, iters, self.batch_size, self.info.world_size,
                              f", resuming at iteration {start_iter}" if start_iter else "")
                done, stopped, last_values = self._run_epoch(dataset, epoch, start_iter, iters, steps_this_run)
                steps_this_run += done
                if stopped:
                    self.log.info("stopped after %d iterations (TRAIN.STOP_AFTER_ITERS)", steps_this_run)
                    return self._summary(True, steps_this_run, t_start, last_values)
                path = self.save(f"checkpoint_e{epoch + 1}.pth", epoch + 1, 0)
                self.log.info("epoch %d done: saved %s", epoch + 1, path)
        finally:
            if self.writer is not None:
                self.writer.flush()
        return self._summary(False, steps_this_run, t_start, last_values)

    def _summary(self, stopped: bool, steps: int, t_start: float, values: Mapping[str, float]) -> dict[str, Any]:
        return {"stopped": stopped, "iterations": steps, "seconds": time.time() - t_start,
                "last_losses": dict(values), "last_checkpoint": self.last_good}

    def _run_epoch(self, dataset: Dataset, epoch: int, start_iter: int, iters: int,
                   steps_before: int) -> tuple[int, bool, dict[str, float]]:
        loader = self._loader(dataset, epoch, start_iter)
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=iters, initial=start_iter, desc=f"epoch {epoch + 1}/{self.epochs}", mininterval=2.0,
                       dynamic_ncols=True, leave=False)
        window: dict[str, float] = {}
        n_window, done, skipped = 0, 0, 0
        values: dict[str, float] = {}
        t_end = time.time()
        try:
            for it, batch in enumerate(loader, start=start_iter):
                t_data = time.time() - t_end
                if "skipped" in batch:
                    skipped += int(batch.pop("skipped").sum())
                values, grad_norm = self._step(batch, epoch, it)
                if self.device.type == "cuda" and (it + 1) % self.print_freq == 0:
                    torch.cuda.synchronize(self.device)
                t_step = time.time() - t_end
                t_end = time.time()
                self.global_step += 1
                done += 1
                self._log_step(values, grad_norm, t_data, t_step, epoch, it, iters, window)
                if self.writer is not None and self.image_summary_iters > 0 \
                        and self.global_step % self.image_summary_iters == 0:
                    self._image_summary()
                if self.step_callback is not None:
                    self.step_callback(self, epoch, it, values)
                n_window += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{values['total']:.4f}", refresh=False)
                if (it + 1) % self.print_freq == 0 or it + 1 == iters:
                    self._print(epoch, it, iters, window, n_window, t_step)
                    window, n_window = {}, 0
                if self.checkpoint_iters > 0 and (it + 1) % self.checkpoint_iters == 0 and it + 1 < iters:
                    self.save(LAST_NAME, epoch, it + 1)
                if self.stop_after > 0 and steps_before + done >= self.stop_after:
                    return done, True, values
        finally:
            if bar is not None:
                bar.close()
        if skipped:
            self.log.info("epoch %d: %d bad data entries were skipped (see the warnings above)", epoch + 1, skipped)
        if self.writer is not None:
            self.writer.add_scalar("data/skipped_entries", skipped, self.global_step)
        return done, False, values

    def _log_step(self, values: Mapping[str, float], grad_norm: float, t_data: float, t_step: float,
                  epoch: int, it: int, iters: int, window: dict[str, float]) -> None:
        for k, v in values.items():
            window[k] = window.get(k, 0.0) + v
        window["data_time"] = window.get("data_time", 0.0) + t_data
        window["step_time"] = window.get("step_time", 0.0) + t_step
        if self.writer is None:
            return
        step = self.global_step
        for k, v in values.items():
            self.writer.add_scalar(f"loss/{k}", v, step)
        self.writer.add_scalar("lr", self.optimizer.param_groups[-1]["lr"], step)
        self.writer.add_scalar("time/data", t_data, step)
        self.writer.add_scalar("time/step", t_step, step)
        if math.isfinite(grad_norm):
            self.writer.add_scalar("grad_norm", grad_norm, step)

    def _image_summary(self) -> None:
        """TensorBoard images ``pairs/<i>`` of SUMMARY_PAIRS fixed pairs (items 0.. of epoch 0): templates, search
        crop, predicted and target corner heat maps (``engine/visualize.py``)."""
        from torch.utils.data import default_collate

        from siamcorners.engine.visualize import pair_panels

        if self._summary_pairs is None:
            items = _SeededItems(self.dataset_builder(self.cfg, 0), self.seed, 0)
            batch = default_collate([items[i] for i in range(min(SUMMARY_PAIRS, len(items)))])
            batch.pop("skipped", None)
            self._summary_pairs = batch
        heat = self.cfg["HEATMAP"]
        panels = pair_panels(unwrap_model(self.model), self._summary_pairs, self.cfg["MODEL"]["LEVELS"],
                             float(heat["STRIDE"]), float(heat["ORIGIN"]))
        for i, panel in enumerate(panels):
            self.writer.add_image(f"pairs/{i}", np.ascontiguousarray(panel[..., ::-1]), self.global_step,
                                  dataformats="HWC")  # BGR -> RGB

    def _print(self, epoch: int, it: int, iters: int, window: Mapping[str, float], n: int, t_step: float) -> None:
        if n == 0:
            return
        avg = {k: v / n for k, v in window.items()}
        remaining = (self.epochs - epoch - 1) * iters + (iters - it - 1)
        eta = remaining * avg["step_time"]
        losses = " ".join(f"{k} {v:.4f}" for k, v in avg.items()
                          if k not in ("data_time", "step_time") and not _PER_LEVEL_RE.search(k))
        self.log.info("epoch %d iter %d/%d  %s  lr %.6g  data %.3fs step %.3fs  eta %s", epoch + 1, it + 1, iters,
                      losses, self.optimizer.param_groups[-1]["lr"], avg["data_time"], avg["step_time"],
                      time.strftime("%H:%M:%S", time.gmtime(eta)) if eta < 86400 else f"{eta / 3600:.1f}h")


# ------------------------------------------------------------------------------------------ benchmark
def measure_train_step(cfg: Mapping[str, Any], iters: int = 10, warmup: int = 3, device: str = "auto",
                       model: Optional[nn.Module] = None,
                       dataset_builder: Optional[DatasetBuilder] = None) -> dict[str, float]:
    """Time one training step (forward, backward, clip, SGD) on ready batches, excluding data loading.

    Returns ``{"ms_per_step", "ms_per_step_median", "samples_per_s", "batch_size", "iters"}``.
    """
    dev = use_device(resolve_device(device))
    if int(cfg["TRAIN"]["NUM_THREADS"]) > 0:
        torch.set_num_threads(int(cfg["TRAIN"]["NUM_THREADS"]))
    seed_everything(int(cfg["SEED"]))
    model = (model if model is not None else _default_model_builder(cfg)).to(dev)
    optimizer = build_optimizer(model, cfg, int(cfg["TRAIN"]["START_EPOCH"]))
    model.train()
    dataset = (dataset_builder or _default_dataset_builder)(cfg, 0)
    bs = int(cfg["TRAIN"]["BATCH_SIZE"])
    loader = DataLoader(dataset, batch_size=bs, shuffle=False, num_workers=0, drop_last=True)
    batches = []
    for b in loader:
        b.pop("skipped", None)
        batches.append(_to_device(b, dev))
        if len(batches) >= 2:
            break
    if not batches:
        raise ValueError(f"the dataset has fewer than TRAIN.BATCH_SIZE={bs} items")
    amp = bool(cfg["TRAIN"]["AMP"]) and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    clip = float(cfg["TRAIN"]["GRAD_CLIP"])
    times = []
    for i in range(warmup + iters):
        batch = batches[i % len(batches)]
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
            loss = model(batch)["total"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], clip)
        scaler.step(optimizer)
        scaler.update()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    ms = 1000.0 * float(np.mean(times))
    return {"ms_per_step": ms, "ms_per_step_median": 1000.0 * float(np.median(times)),
            "samples_per_s": bs / (ms / 1000.0), "batch_size": bs, "iters": iters, "device": str(dev)}
