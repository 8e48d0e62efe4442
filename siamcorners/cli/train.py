"""Train SiamCorners.

    python tools/train.py --cfg experiments/siamcorners_tiny_synthetic/config.yaml
    python tools/train.py --cfg CONFIG --opts TRAIN.EPOCHS 5 TRAIN.BATCH_SIZE 16 --resume auto
    torchrun --nproc_per_node 2 tools/train.py --cfg experiments/siamcorners_r50/config.yaml

Outputs go to OUTPUT_DIR (default: the config file's folder): snapshot/checkpoint_eN.pth, snapshot/last.pth,
logs/train.log, TensorBoard scalars in logs/, config.resolved.yaml. ``--resume auto`` continues from the most
advanced checkpoint in the snapshot folder (or starts fresh when there is none).
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.config import ConfigError, load_config
from siamcorners.engine.distributed import cleanup_distributed
from siamcorners.engine.threads import apply_threads
from siamcorners.engine.trainer import NonFiniteLossError, Trainer
from siamcorners.models.checkpoint import CheckpointError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", required=True, help="experiment config YAML")
    p.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE",
                   help="config overrides, e.g. TRAIN.EPOCHS 5 TRAIN.BASE_LR 0.01")
    p.add_argument("--resume", default="", help="training checkpoint to continue from, or 'auto'")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: the config's DEVICE)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads per process (default: TRAIN.NUM_THREADS, else chosen from the free cores, "
                        "the current load and the DataLoader workers, printed)")
    p.add_argument("--export", default="", help="after training, also write the model weights only to this path")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        opts = list(args.opts)
        if args.device:
            opts += ["DEVICE", args.device]
        cfg = load_config(args.cfg, opts)
        trainer = Trainer(cfg, resume=args.resume, progress=not args.no_progress)
        if args.threads > 0 or cfg.TRAIN.NUM_THREADS == 0:
            per_rank = 1 + cfg.TRAIN.NUM_WORKERS  # the main process and its DataLoader workers
            apply_threads(args.threads, workers=int(os.environ.get("LOCAL_WORLD_SIZE", "1")) * per_rank)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
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
    finally:
        trainer.close()
        cleanup_distributed(trainer.info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
