"""Run a tracker over a benchmark and write its results in the benchmark's standard layout.

    python tools/test.py --cfg experiments/siamcorners_r50/config.yaml --snapshot snapshot/checkpoint_e19.pth \\
        --dataset OTB100 --dataset-root /data/OTB100 [--videos Basketball,Dudek] [--workers 4 | --gpus 0,1] \\
        [--shard 0/8] [--batch-videos 8]

Results: ``<out>/<dataset>/<tracker>/<video>.txt`` (+ ``times/``); GOT-10k ``<video>/<video>_001.txt`` and
``<video>_time.txt``; for GOT-10k test and TrackingNet a ready-to-upload ``<tracker>.zip`` once every video
is done. ``<out>`` defaults to ``cfg.OUTPUT_DIR/cfg.TEST.RESULTS_DIR``; ``<tracker>`` to the snapshot name.
Finished videos are skipped, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.benchmarks import Benchmark, BenchmarkError, DATASET_NAMES, load_dataset
from siamcorners.config import ConfigError
from siamcorners.engine.tester import (ImportedFactory, SiamCornersFactory, parse_shard,
                                       track_batched_runner, track_sequential)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", help="experiment config (YAML)")
    p.add_argument("--snapshot", help="checkpoint to test (default: cfg.TEST.SNAPSHOT)")
    p.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--dataset-root", required=True, help="dataset folder (raw layout or with <NAME>.json)")
    p.add_argument("--format", default="auto", choices=["auto", "json", "raw"], help="annotation source")
    p.add_argument("--videos", help="comma-separated video names to run (default: all)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--gpus", help="comma-separated GPU ids; workers are spread over them")
    p.add_argument("--shard", default="0/1", help="i/N: run every N-th video starting at i (job arrays)")
    p.add_argument("--tracker-name", help="results sub-folder (default: snapshot file name)")
    p.add_argument("--tracker-factory", help="package.module:callable(device) -> tracker, instead of SiamCorners")
    p.add_argument("--out", help="results root (default: cfg.OUTPUT_DIR/cfg.TEST.RESULTS_DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--onnx", metavar="DIR", help="run the ONNX export DIR (tools/export.py) in ONNX Runtime")
    p.add_argument("--batch-videos", type=int, default=1, metavar="K",
                   help="track K videos in lock-step with one batched forward per step (SiamCorners tracker)")
    return p.parse_args(argv)


def _devices(args, cfg) -> list[str]:
    if args.gpus:
        return [f"cuda:{g.strip()}" for g in args.gpus.split(",") if g.strip()]
    device = cfg.DEVICE if cfg is not None else "cpu"
    if device == "auto":
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return [device]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = None
        if args.onnx:  # the INFERENCE.BACKEND / ONNX_DIR overrides; the export is checked against the snapshot below
            from siamcorners.models.runtime.onnx_export import backend_opts, check_export
            args.opts = list(args.opts) + backend_opts(args.onnx)
        if args.cfg:
            from siamcorners.config import load_config
            cfg = load_config(args.cfg, args.opts)
        if args.tracker_factory:
            factory = ImportedFactory(args.tracker_factory)
            default_name = args.tracker_factory.rpartition(":")[2]
        else:
            if cfg is None:
                raise BenchmarkError("--cfg is required (or --tracker-factory)")
            snapshot = args.snapshot or cfg.TEST.SNAPSHOT
            if not snapshot:
                raise BenchmarkError("--snapshot is required (cfg.TEST.SNAPSHOT is empty)")
            if not os.path.isfile(snapshot):
                raise BenchmarkError(f"{snapshot}: snapshot not found")
            if args.onnx:
                check_export(args.onnx, cfg, snapshot)
            factory = SiamCornersFactory(args.cfg, snapshot, args.opts)
            default_name = os.path.splitext(os.path.basename(snapshot))[0]
        if args.out:
            out = args.out
        elif cfg is not None:
            out = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.RESULTS_DIR)
        else:
            raise BenchmarkError("--out is required without --cfg")
        dataset = load_dataset(args.dataset, args.dataset_root, args.format)
        videos = [v.strip() for v in args.videos.split(",") if v.strip()] if args.videos else None
        if args.batch_videos < 1:
            raise BenchmarkError(f"--batch-videos must be >= 1, got {args.batch_videos}")
        batched = dict(runner=track_batched_runner, videos_per_chunk=args.batch_videos) if args.batch_videos > 1 \
            else dict(runner=track_sequential)
        bench = Benchmark(dataset, results_dir=os.path.join(out, dataset.name))
        name = args.tracker_name or default_name
        if cfg is not None:  # the resolved config beside the tracker's results folder
            from siamcorners.config import save_config
            save_config(cfg, os.path.join(out, dataset.name, f"{name}.config.yaml"))
        bench.run(factory, name, videos=videos, workers=args.workers,
                  devices=_devices(args, cfg), shard=parse_shard(args.shard), progress=not args.no_progress, **batched)
    except (BenchmarkError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
