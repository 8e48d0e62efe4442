"""Train SiamCorners.

examples:
    python tools/train.py --cfg experiments/siamcorners_tiny_synthetic/config.yaml
    python tools/train.py --cfg CONFIG --opts TRAIN.EPOCHS 5 TRAIN.BATCH_SIZE 16 --resume auto
    torchrun --nproc_per_node 2 tools/train.py --cfg experiments/siamcorners_r50/config.yaml
    python -m torch.distributed.launch --nproc_per_node 2 tools/train.py --cfg CONFIG   # pysot style

Outputs go to OUTPUT_DIR (default: the config file's folder): snapshot/checkpoint_eN.pth, snapshot/last.pth,
logs/train.log, TensorBoard scalars in logs/, config.resolved.yaml. ``--resume auto`` continues from the most
advanced checkpoint in the snapshot folder (or starts fresh when there is none). Ctrl-C stops with the command
that resumes. Errors are one line (exit code 2); --debug shows the Python traceback.
A snapshot folder with checkpoints belongs to their run: a new run there is refused (use another
OUTPUT_DIR or ``--overwrite``), and so is resuming it with a config that changes training.
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.cli.common import (ToolInterrupted, add_common_args, add_opts_arg, check_device, check_output_dir,
                                    check_output_file, check_threads, command_line, run_guarded)
from siamcorners.config import load_config
from siamcorners.engine.distributed import cleanup_distributed
from siamcorners.engine.trainer import NonFiniteLossError, Trainer, find_resume_checkpoint
from siamcorners.engine.threads import apply_threads


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", "--config", dest="cfg", required=True, help="experiment config YAML (--config: alias)")
    add_opts_arg(p)
    p.add_argument("--resume", default="", help="training checkpoint to continue from, or 'auto'")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an OUTPUT_DIR that holds another run's checkpoints (deletes them)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: the config's DEVICE)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads per process (default: TRAIN.NUM_THREADS, else chosen from the free cores, "
                        "the current load and the DataLoader workers, printed)")
    p.add_argument("--export", default="", help="after training, also write the model weights only to this path")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--local_rank", "--local-rank", dest="local_rank", type=int, default=None,
                   help="set by torch.distributed.launch (LOCAL_RANK is used when set)")
    add_common_args(p)
    return p.parse_args(argv)


def check_outputs(cfg, export: str) -> None:
    """Every folder / file training writes can be written, checked before the first iteration."""
    out = cfg.OUTPUT_DIR or os.getcwd()
    check_output_dir(out, "OUTPUT_DIR")
    check_output_dir(os.path.join(out, cfg.TRAIN.SNAPSHOT_DIR), "snapshot folder (OUTPUT_DIR/TRAIN.SNAPSHOT_DIR)")
    check_output_dir(os.path.join(out, cfg.TRAIN.LOG_DIR), "log folder (OUTPUT_DIR/TRAIN.LOG_DIR)")
    if export:
        check_output_file(export, "--export")


def _saved(trainer: Trainer) -> str:
    last = trainer.last_good or find_resume_checkpoint(trainer.snapshot_dir)
    return f"last checkpoint saved: {last}" if last else "no checkpoint was saved yet"


def _run(args, argv) -> int:
    if args.local_rank is not None and "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    check_threads(args.threads)
    opts = list(args.opts)
    if args.device:
        opts += ["DEVICE", args.device]
    cfg = load_config(args.cfg, opts)
    check_device(cfg.DEVICE, "--device" if args.device else "DEVICE")
    check_outputs(cfg, args.export)
    trainer = Trainer(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if args.threads > 0 or cfg.TRAIN.NUM_THREADS == 0:
        per_rank = 1 + cfg.TRAIN.NUM_WORKERS  # the main process and its DataLoader workers
        apply_threads(args.threads, workers=int(os.environ.get("LOCAL_WORLD_SIZE", "1")) * per_rank)
    try:
        summary = trainer.train()
        if args.export and not summary["stopped"]:
            trainer.export_model(args.export)
            trainer.log.info("model weights written to %s", args.export)
        trainer.log.info("finished %d iterations in %.1f s; last checkpoint %s", summary["iterations"],
                         summary["seconds"], summary["last_checkpoint"])
    except NonFiniteLossError as e:
        trainer.log.error("%s", e)
        return 1
    except OSError as e:  # a full disk: say what was kept (run_guarded prints the line)
        e.kept = _saved(trainer)
        e.resume = command_line("train", argv, ("--resume", "auto"))
        raise
    except KeyboardInterrupt:  # run_guarded prints the line
        raise ToolInterrupted(_saved(trainer), command_line("train", argv, ("--resume", "auto"))) from None
    finally:
        trainer.close()
        cleanup_distributed(trainer.info)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args, argv), args, tool="train", argv=argv,
                       extra_errors=(FileNotFoundError, ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
