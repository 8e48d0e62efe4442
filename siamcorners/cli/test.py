"""Run a tracker over a benchmark and write its results in the benchmark's standard layout.

examples:
    python tools/test.py --cfg experiments/siamcorners_r50/config.yaml --snapshot snapshot/checkpoint_e19.pth \\
        --dataset OTB100 --dataset-root /data/OTB100 [--videos Basketball,Dudek] [--workers 4 | --gpus 0,1] \\
        [--shard 0/8] [--batch-videos 8] [--device cuda:1]
    python tools/test.py --config config.yaml --snapshot model.pth --dataset OTB100      # pysot style:
        # the dataset root defaults to testing_dataset/OTB100 (pysot's layout, OTB100.json included)
    python tools/test.py --cfg CONFIG --dataset OTB100 --video Dudek --vis               # one video, shown

Results: ``<out>/<dataset>/<tracker>/<video>.txt`` (+ ``times/``); GOT-10k ``<video>/<video>_001.txt`` and
``<video>_time.txt``; for GOT-10k test and TrackingNet a ready-to-upload ``<tracker>.zip`` once every video
is done. ``<out>`` defaults to ``cfg.OUTPUT_DIR/cfg.TEST.RESULTS_DIR``; ``<tracker>`` to the snapshot name.
Finished videos are skipped, so an interrupted run (Ctrl-C) resumes where it stopped with the same command.
Errors are one line (exit code 2); --debug shows the Python traceback.
``<tracker>.fingerprint.json`` records the config, weights, tracker code, device type (cpu/cuda) and dataset
(root, ground truth) the results were made with; a run with another fingerprint is refused (use another
``--tracker-name``, or ``--overwrite``). A run holds its results folder (an OS lock) while it runs: another setup
is refused meanwhile, ``--overwrite`` too, and a run of the same setup shares it, tracking only the videos no other
run is tracking.

The init box and frame 0's line follow ``cfg.TEST.INIT_BOX`` and ``cfg.TEST.FIRST_FRAME_BOX`` (official profile:
the official test.py's +0.5 px init rule and its frame-0 line); a ``--tracker-factory`` run without ``--cfg``
uses the pysot-toolkit conventions (init rule "pysot", frame 0 = the init box).
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.benchmarks import Benchmark, BenchmarkError, DATASET_NAMES, load_dataset
from siamcorners.cli.common import (UserError, add_common_args, add_opts_arg, check_device, check_output_dir,
                                    check_threads, run_guarded)
from siamcorners.engine.fingerprint import (dataset_fingerprint, device_type, factory_fingerprint,
                                            tracking_fingerprint)
from siamcorners.engine.run_dirs import check_tracker_name, claim_results_folder, tracker_video_locks
from siamcorners.engine.tester import (ImportedFactory, RunConventions, SiamCornersFactory, parse_shard,
                                       track_batched_runner, track_sequential)
from siamcorners.engine.threads import apply_threads


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", "--config", dest="cfg", help="experiment config (YAML); --config is an alias (pysot)")
    p.add_argument("--snapshot", help="checkpoint to test (default: cfg.TEST.SNAPSHOT)")
    add_opts_arg(p)
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--dataset-root", help="dataset folder (raw layout or with <NAME>.json; default: "
                                          "testing_dataset/<NAME> when it exists, as in pysot)")
    p.add_argument("--format", default="auto", choices=["auto", "json", "raw"], help="annotation source")
    p.add_argument("--trimmed-copy", action="store_true", help="OTB-layout image folders may hold only the first K "
                   "images of a video (a trimmed copy): use the first K ground-truth rows (else an error)")
    p.add_argument("--videos", help="comma-separated video names to run (default: all)")
    p.add_argument("--video", action="append", default=[], metavar="NAME",
                   help="run only this video (pysot's flag; may be repeated; adds to --videos)")
    p.add_argument("--vis", action="store_true", help="show the frames and boxes while tracking (needs a display; "
                                                      "one process, one video at a time)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel worker processes (default: one per GPU of --gpus, else 1)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: DEVICE of the config; cpu for a "
                                    "--tracker-factory without --cfg)")
    p.add_argument("--gpus", help="comma-separated GPU ids, e.g. 0,1: one worker per GPU (--workers N spreads N "
                                  "workers over them); instead of --device")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per worker process (default: chosen from the free cores and the current load, printed)")
    p.add_argument("--shard", default="0/1", help="i/N: run every N-th video starting at i (job arrays)")
    p.add_argument("--tracker-name", help="results sub-folder (default: snapshot file name)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete this tracker's existing results first (needed when they were made with another "
                        "config, snapshot or code)")
    p.add_argument("--tracker-factory", help="package.module:callable(device) -> tracker (ours or a got10k Tracker), "
                   "instead of SiamCorners")
    p.add_argument("--out", help="results root (default: cfg.OUTPUT_DIR/cfg.TEST.RESULTS_DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--onnx", metavar="DIR", help="run the ONNX export DIR (tools/export.py) in ONNX Runtime")
    p.add_argument("--batch-videos", type=int, default=1, metavar="K",
                   help="track K videos in lock-step with one batched forward per step (SiamCorners tracker)")
    add_common_args(p)
    return p.parse_args(argv)


def _devices(args, cfg) -> list[str]:
    if args.gpus:
        if args.device:
            raise UserError(f"--device {args.device} and --gpus {args.gpus}: give one of them")
        devices = [f"cuda:{g.strip()}" for g in args.gpus.split(",") if g.strip()]
        for d in devices:
            check_device(d, "--gpus")
        return devices
    device = args.device or (cfg.DEVICE if cfg is not None else "cpu")
    what = "--device" if args.device else "DEVICE"
    check_device(device, what)
    if device == "auto":
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return [device]


def _workers(args, devices: list[str]) -> int:
    """``--workers``, by default one per GPU of ``--gpus`` (else 1); fewer workers than GPUs leaves GPUs idle,
    which is said in a warning."""
    if args.workers is None:
        if args.gpus and len(devices) > 1:
            print(f"--gpus {args.gpus}: {len(devices)} workers, one per GPU (--workers N to change)")
        return len(devices) if args.gpus else 1
    if args.gpus and args.workers < len(devices):
        idle = devices[max(args.workers, 1):]
        print(f"warning: --workers {args.workers} with --gpus {args.gpus}: {', '.join(idle)} stay idle "
              f"(leave --workers out for one worker per GPU)", file=sys.stderr)
    return args.workers


def default_dataset_root(name: str) -> str | None:
    """pysot's layout: ``testing_dataset/<NAME>`` in the working directory, when it exists."""
    from siamcorners.benchmarks.registry import canonical_name

    for candidate in dict.fromkeys((name, canonical_name(name))):
        path = os.path.join("testing_dataset", candidate)
        if os.path.isdir(path):
            return path
    return None


def dataset_root(args) -> str:
    if args.dataset_root:
        return args.dataset_root
    root = default_dataset_root(args.dataset)
    if root is None:
        raise UserError(f"--dataset-root is required: testing_dataset/{args.dataset} (pysot's default) "
                        f"does not exist in {os.getcwd()}")
    print(f"dataset root: {root} (default testing_dataset/<NAME>; give --dataset-root to change it)")
    return root


def _kept(dataset, tracker_dir: str) -> str:
    from siamcorners.cli.checks import finished_videos

    done = finished_videos(dataset, tracker_dir)
    return (f"{done} of {len(dataset)} videos have finished result files in {tracker_dir} "
            f"(kept; unfinished videos are re-run)")


def _run(args) -> int:
    if args.tracker_name is not None:  # before any work: --overwrite deletes <out>/<dataset>/<this name>
        check_tracker_name(args.tracker_name)
    cfg = None
    check_threads(args.threads)
    if args.onnx:  # the INFERENCE.BACKEND / ONNX_DIR overrides; the export is checked against the snapshot below
        from siamcorners.models.runtime.onnx_export import backend_opts, check_export
        args.opts = list(args.opts) + backend_opts(args.onnx)
    if args.device:
        check_device(args.device, "--device")  # before the config, so that a bad value is named as given
    if args.cfg:
        from siamcorners.config import load_config
        cfg = load_config(args.cfg, args.opts + (["DEVICE", args.device] if args.device else []))
    devices = _devices(args, cfg)
    if args.tracker_factory:
        factory = ImportedFactory(args.tracker_factory)
        default_name = args.tracker_factory.rpartition(":")[2]
        fingerprint = factory_fingerprint(args.tracker_factory)
    else:
        if cfg is None:
            raise BenchmarkError("--cfg is required (or --tracker-factory)")
        snapshot = args.snapshot or cfg.TEST.SNAPSHOT
        if not snapshot:
            raise BenchmarkError("--snapshot is required (cfg.TEST.SNAPSHOT is empty)")
        if not os.path.isfile(snapshot):
            raise BenchmarkError(f"{snapshot}: snapshot not found")
        from siamcorners.cli.checks import check_snapshot_fits
        check_snapshot_fits(cfg, args.cfg, snapshot)
        if args.onnx:
            check_export(args.onnx, cfg, snapshot)
        factory = SiamCornersFactory(args.cfg, snapshot, args.opts)
        default_name = os.path.splitext(os.path.basename(snapshot))[0]
        fingerprint = tracking_fingerprint(cfg, snapshot)
    if args.out:
        out = args.out
    elif cfg is not None:
        out = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.RESULTS_DIR)
    else:
        raise BenchmarkError("--out is required without --cfg")
    check_output_dir(out, "--out" if args.out else "results folder (cfg.OUTPUT_DIR/cfg.TEST.RESULTS_DIR)")
    dataset = load_dataset(args.dataset, dataset_root(args), args.format, args.trimmed_copy)
    videos = [v.strip() for v in args.videos.split(",") if v.strip()] if args.videos else []
    videos += [v for v in args.video if v not in videos]
    if args.batch_videos < 1:
        raise BenchmarkError(f"--batch-videos must be >= 1, got {args.batch_videos}")
    batched = dict(runner=track_batched_runner, videos_per_chunk=args.batch_videos) if args.batch_videos > 1 \
        else dict(runner=track_sequential)
    workers = _workers(args, devices)
    if args.vis:
        from siamcorners.cli.checks import VisFactory, vis_display_problem
        problem = vis_display_problem()
        if problem:
            print(f"warning: --vis ignored: {problem}", file=sys.stderr)
        else:
            factory, workers, batched = VisFactory(factory), 1, dict(runner=track_sequential)
    name = args.tracker_name or default_name
    tracker_dir = os.path.join(out, dataset.name, name)
    check_output_dir(tracker_dir, "results folder")
    bench = Benchmark(dataset, results_dir=os.path.join(out, dataset.name))
    print(f"tracker {name}: results go to {tracker_dir}")
    # the fingerprint and resolved config beside the tracker's results folder (a folder never mixes setups),
    # held for the run's life
    fingerprint = dict(fingerprint, device=device_type(devices), dataset=dataset_fingerprint(dataset))
    dataset_dir = os.path.join(out, dataset.name)
    held = claim_results_folder(dataset_dir, name, fingerprint, cfg, overwrite=args.overwrite)
    threads = apply_threads(args.threads, workers=workers).threads
    conventions = RunConventions.from_cfg(cfg) if cfg is not None else RunConventions()
    try:
        summary = bench.run(factory, name, videos=videos or None, workers=workers, threads=threads,
                            conventions=conventions, devices=devices,
                            video_locks=tracker_video_locks(dataset_dir, name),
                            shard=parse_shard(args.shard), progress=not args.no_progress, **batched)
    except KeyboardInterrupt:
        from siamcorners.cli.common import ToolInterrupted
        raise ToolInterrupted(_kept(dataset, tracker_dir)) from None
    except OSError as e:  # a full disk: say what was kept (run_guarded prints the line)
        e.kept = _kept(dataset, tracker_dir)
        raise
    finally:
        held.release()
    busy = len(summary["videos_busy"])
    print(f"results of tracker {name}: {tracker_dir} ({summary['videos_run']} videos run, "
          f"{summary['videos_skipped']} already done"
          f"{f', {busy} being tracked by another run of the same setup' if busy else ''})")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args), args, tool="test", argv=argv)


if __name__ == "__main__":
    sys.exit(main())
