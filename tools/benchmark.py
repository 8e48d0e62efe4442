#!/usr/bin/env python
"""Performance measurements. Subcommands:

    python tools/benchmark.py eval [--videos 280 --frames 2500 --trackers 10]   # evaluation time
    python tools/benchmark.py data [--samples 128 --workers 0,1,2]               # training data loading
    python tools/benchmark.py train --cfg CONFIG [--iters 10]                     # training step time
    python tools/benchmark.py speed [--cfg CONFIG] [--device cpu] [--threads 2]   # tracking speed -> docs/benchmarks.md
        [--sections switches,goal,precision]      # per-switch FPS; frame vs backbone, ONNX Runtime; bf16/int8
        [--sections pysot --pysot DIR]            # ours vs pysot SiamRPN++ r50 as a user runs both, per round
        [--mobilenet]                             # + MobileNetV2 vs ResNet-50 FPS in the same run
    python tools/benchmark.py busy [--hogs 2] [--out docs/benchmarks.md]           # thread choice on a busy machine
    python tools/benchmark.py gpu-check [--out docs/benchmarks.md]                # CUDA paths (rc 1: a row failed)
    python tools/benchmark.py realvideo --dataset-root DIR [--cfg C --snapshot M]  # ours, OpenCV MIL/CSRT, static
        [--out docs/benchmarks.md] [--json-out FILE]                              # success AUC, precision@20, FPS
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli.common import add_common_args, add_opts_arg, run_guarded, shown_path  # noqa: E402


def _eval(args: argparse.Namespace) -> int:
    from siamcorners.engine.profiling.eval_timing import time_eval

    r = time_eval(args.videos, args.frames, args.trackers, args.repeats, args.tmp)
    print(f"evaluation of {r['trackers']} trackers x {r['videos']} videos x {r['frames_per_video']} frames "
          f"(pysot protocol, result files read from disk): {r['eval_seconds']:.2f} s "
          f"[{os.cpu_count()} CPUs; generating the files took {r['generate_seconds']:.1f} s]")
    if args.json:
        print(json.dumps(r))
    return 0


def _data(args: argparse.Namespace) -> int:
    from siamcorners.config import load_config
    from siamcorners.engine.profiling.throughput import data_benchmark

    cfg = load_config(args.cfg, freeze=False) if args.cfg else None
    workers = [int(w) for w in args.workers.split(",")]
    rows = data_benchmark(args.samples, workers, args.batch_size, cfg)
    print(f"{'source':10s} {'workers':>7s} {'samples/s':>10s} {'per worker':>10s}   [{os.cpu_count()} CPUs]")
    for r in rows:
        print(f"{r['source']:10s} {int(r['num_workers']):7d} {r['samples_per_s']:10.1f} {r['samples_per_s_per_worker']:10.1f}")
    if args.json:
        print(json.dumps(rows))
    return 0


def _train(args: argparse.Namespace) -> int:
    from siamcorners.config import load_config
    from siamcorners.engine.trainer import measure_train_step

    cfg = load_config(args.cfg, args.opts)
    r = measure_train_step(cfg, iters=args.iters, warmup=args.warmup, device=args.device)
    print(f"training step ({args.cfg}, batch {r['batch_size']}, {r['device']}): mean {r['ms_per_step']:.1f} ms, "
          f"median {r['ms_per_step_median']:.1f} ms, {r['samples_per_s']:.1f} samples/s "
          f"(data loading excluded) [{os.cpu_count()} CPUs]")
    if args.json:
        print(json.dumps(r))
    return 0


def _speed(args: argparse.Namespace) -> int:
    import torch

    from siamcorners.engine.profiling.speed import run_speed_benchmark, speed_markdown, write_markdown_section

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    video = args.video if args.video is not None else os.path.join(os.path.dirname(root), "shared", "data", "bag.avi")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    sections = [x.strip() for x in args.sections.split(",") if x.strip() and x.strip() != "none"]
    unknown = [x for x in sections if x not in SPEED_SECTIONS + ("pysot",)]
    if unknown:
        print(f"error: --sections: unknown {unknown}; choose from {', '.join(SPEED_SECTIONS + ('pysot',))}",
              file=sys.stderr)
        return 2
    if "pysot" in sections and not args.pysot:
        print("error: --sections pysot needs --pysot DIR (a clone of github.com/STVIR/pysot)", file=sys.stderr)
        return 2
    command = " ".join(["python", "tools/benchmark.py"] + args.argv)
    frames = args.frames if args.frames is not None else 10
    results = {}
    if "switches" in sections:
        r = run_speed_benchmark(args.cfg, args.opts, device, video, frames, args.warmup, args.batch_videos,
                                args.compile, args.rounds)
        results["switches"] = r
        _emit(speed_markdown(r, command), args.out, write_markdown_section)
    if "pysot" in sections:
        from siamcorners.engine.profiling.pysot_speed import PYSOT_BEGIN, PYSOT_END, pysot_comparison, pysot_markdown

        runtimes = [x.strip() for x in (args.runtimes or "default,onnxruntime").split(",") if x.strip()]
        r = results["pysot"] = pysot_comparison(args.pysot, video, args.cfg, args.opts, device,
                                                args.frames if args.frames is not None else 20, args.warmup,
                                                args.rounds, runtimes, with_reset=args.pysot_reset)
        _emit(pysot_markdown(r, command, args.machine_note), args.out, write_markdown_section, begin=PYSOT_BEGIN,
              end=PYSOT_END)
    runtime = [x for x in sections if x in ("goal", "precision")]
    if runtime:
        try:
            results["runtime"] = _runtime_rows(args, device, video, runtime, command, root)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.mobilenet:
        from siamcorners.engine.profiling.profiles import (MOBILENET_PROFILES, PROFILES_BEGIN, PROFILES_END,
                                                           compare_profiles, profiles_markdown)

        reference = (f"ResNet-50 ({args.cfg or 'official profile, defaults'})", args.cfg, args.opts)
        p = results["profiles"] = compare_profiles([reference] + MOBILENET_PROFILES, device, video, frames,
                                                   args.warmup, args.rounds)
        text = profiles_markdown(p, command)
        print(text)
        if args.out:
            write_markdown_section(args.out, text, PROFILES_BEGIN, PROFILES_END)
    if args.json:
        print(json.dumps(results, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return 0


SPEED_SECTIONS = ("switches", "goal", "precision")  # the default; "pysot" (needs --pysot DIR) on request


def _emit(text: str, out: str | None, write, **markers) -> None:
    print(text)
    if out:
        write(out, text, **markers)
        print(f"written to {out}")


def _runtime_rows(args: argparse.Namespace, device: str, video: str, sections: list, command: str, root: str):
    """Issue-12 rows: whole frame vs plain backbone, eager vs ONNX Runtime, bf16/int8 FPS and AUC change."""
    from siamcorners.engine.profiling.speed import (RUNTIME_BEGIN, RUNTIME_END, run_runtime_benchmark, runtime_markdown,
                                                    write_markdown_section)

    tiny = shown_path(os.path.join(root, "experiments", "siamcorners_tiny_synthetic"))  # short names in the docs
    runtimes = args.runtimes or "plain,default,onnxruntime,bf16,int8"
    r = run_runtime_benchmark(args.cfg, args.opts, device, video, args.frames if args.frames is not None else 10,
                              args.warmup, args.rounds, sections, os.path.join(tiny, "config.yaml"),
                              os.path.join(tiny, "model.pth"), args.heldout, args.heldout_videos,
                              [x.strip() for x in runtimes.split(",") if x.strip()], pysot_dir=args.pysot,
                              pysot_reset=args.pysot_reset)
    _emit(runtime_markdown(r, command), args.out, write_markdown_section, begin=RUNTIME_BEGIN, end=RUNTIME_END)
    return r


def _busy(args: argparse.Namespace) -> int:
    from siamcorners.engine.profiling.busy import BUSY_BEGIN, BUSY_END, busy_benchmark, busy_markdown
    from siamcorners.engine.profiling.speed import write_markdown_section

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tiny = os.path.join(root, "experiments", "siamcorners_tiny_synthetic")
    cfg = args.cfg or os.path.join(tiny, "config.yaml")
    snapshot = args.snapshot if args.snapshot is not None else (os.path.join(tiny, "model.pth") if not args.cfg else "")
    cfg, snapshot = os.path.relpath(cfg), os.path.relpath(snapshot) if snapshot else None  # short names in the docs
    r = busy_benchmark(cfg, snapshot, args.opts, args.hogs, args.frames, args.warmup, args.rounds)
    text = busy_markdown(r, " ".join(["python", "tools/benchmark.py"] + args.argv))
    print(text)
    if args.out:
        write_markdown_section(args.out, text, BUSY_BEGIN, BUSY_END)
        print(f"written to {args.out}")
    return 0


def _gpu_check(args: argparse.Namespace) -> int:
    from siamcorners.engine.profiling.gpu_check import (GPU_BEGIN, GPU_END, NoCudaError, failed_rows, gpu_markdown,
                                                        run_gpu_check)
    from siamcorners.engine.profiling.speed import write_markdown_section

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    video = args.video if args.video is not None else os.path.join(os.path.dirname(root), "shared", "data", "bag.avi")
    try:
        r = run_gpu_check(args.device, video, args.frames, args.rounds, debug=args.debug)
    except NoCudaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = gpu_markdown(r, " ".join(["python", "tools/benchmark.py"] + args.argv))
    print(text)
    if args.out:
        write_markdown_section(args.out, text, GPU_BEGIN, GPU_END)
        print(f"written to {args.out}")
    failed = failed_rows(r)
    for name in failed:
        print(f"gpu-check: row {name} FAILED: {r['results'][name]['detail']}", file=sys.stderr)
    if failed:
        print(f"gpu-check: {len(failed)} of {len(r['results'])} rows failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _realvideo(args: argparse.Namespace) -> int:
    from siamcorners.benchmarks.textio import atomic_write_text
    from siamcorners.cli.checks import check_snapshot_fits
    from siamcorners.cli.common import check_output_file
    from siamcorners.config import load_config
    from siamcorners.engine.profiling.realvideo import REALVIDEO_BEGIN, REALVIDEO_END, realvideo_benchmark, \
        realvideo_markdown
    from siamcorners.engine.profiling.speed import write_markdown_section
    from siamcorners.engine.threads import apply_threads

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shipped = os.path.join(root, "experiments", "siamcorners_cpu")
    cfg = args.cfg or os.path.join(shipped, "config.yaml")
    snapshot = args.snapshot or (os.path.join(shipped, "model.pth") if not args.cfg else "")
    if not snapshot:
        print("error: --snapshot: the weights of --cfg are needed (a model.pth or checkpoint)", file=sys.stderr)
        return 2
    others = []
    for item in args.also:
        label, sep, folder = item.partition("=")
        paths = [os.path.join(folder, "config.yaml"), os.path.join(folder, "model.pth")]
        missing = [p for p in paths if not os.path.isfile(p)]
        if not sep or not label.strip() or missing:
            print(f"error: --also {item!r}: expected LABEL=EXPERIMENT_FOLDER with config.yaml and model.pth in it"
                  + (f" (missing: {', '.join(missing)})" if sep and missing else ""), file=sys.stderr)
            return 2
        check_snapshot_fits(load_config(paths[0]), paths[0], paths[1])
        others.append((label.strip(), shown_path(paths[0]), shown_path(paths[1])))
    for path, what in ((args.out, "--out"), (args.json_out, "--json-out")):
        if path:
            check_output_file(path, what)
    check_snapshot_fits(load_config(cfg, args.opts), cfg, snapshot)  # before minutes of OpenCV tracking
    apply_threads(args.threads)
    trackers = [t for t in args.trackers.split(",") if t.strip()] if args.trackers else None
    videos = [v for v in args.videos.split(",") if v.strip()] if args.videos else None
    r = realvideo_benchmark(args.dataset_root, shown_path(cfg), shown_path(snapshot), args.opts, trackers, videos,
                            others=others)
    _emit(realvideo_markdown(r, shlex.join(["python", "tools/benchmark.py"] + args.argv), args.machine_note),
          args.out, write_markdown_section, begin=REALVIDEO_BEGIN, end=REALVIDEO_END)
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(r, indent=1) + "\n")
        print(f"written to {args.json_out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="SiamCorners performance measurements")
    add_common_args(p)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("eval", help="time tools/eval.py's metrics on a generated LaSOT-sized result set")
    e.add_argument("--videos", type=int, default=280, help="videos per generated tracker (default 280, LaSOT test)")
    e.add_argument("--frames", type=int, default=2500, help="frames per video (default 2500)")
    e.add_argument("--trackers", type=int, default=10, help="generated trackers to score (default 10)")
    e.add_argument("--repeats", type=int, default=1, help="timed repetitions; the best is reported (default 1)")
    e.add_argument("--tmp", help="folder for the generated files (default: system temp)")
    e.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    e.set_defaults(func=_eval)
    d = sub.add_parser("data", help="training-data throughput (synthetic and crop511 sources)")
    d.add_argument("--cfg", help="config whose augmentation/targets are used (default: the defaults tree)")
    d.add_argument("--samples", type=int, default=128, help="training samples to load per setting (default 128)")
    d.add_argument("--workers", default="0,1,2", help="comma-separated DataLoader worker counts")
    d.add_argument("--batch-size", type=int, default=8, help="DataLoader batch size (default 8)")
    d.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    d.set_defaults(func=_data)
    t = sub.add_parser("train", help="training step time (forward, backward, clip, SGD)")
    t.add_argument("--cfg", required=True, help="experiment config whose model and batch size are timed")
    add_opts_arg(t)
    t.add_argument("--iters", type=int, default=10, help="timed training steps (default 10)")
    t.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    t.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    t.set_defaults(func=_train)
    s = sub.add_parser("speed", help="tracking speed: Table IV breakdown, FPS per switch, batched FPS, memory")
    s.add_argument("--cfg", default=None, help="model profile (default: the defaults tree = official ResNet-50)")
    add_opts_arg(s)
    s.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    s.add_argument("--threads", type=int, default=2, help="torch CPU threads (0 = leave as is)")
    s.add_argument("--video", help="real video (default: ../shared/data/bag.avi beside the repository, if present)")
    s.add_argument("--frames", type=int, default=None, help="frames per video (incl. init and warm-up; default 10, "
                                                            "20 for --sections pysot)")
    s.add_argument("--warmup", type=int, default=2, help="untimed frames after init (default 2)")
    s.add_argument("--batch-videos", type=int, default=4, help="videos tracked in lock-step for the batched "
                                                                 "row (default 4)")
    s.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of every configuration")
    s.add_argument("--compile", action="store_true", help="also measure INFERENCE.COMPILE (slow to compile)")
    s.add_argument("--sections", default=",".join(SPEED_SECTIONS),
                   help="comma-separated: switches (FPS per INFERENCE switch, Table IV, batched), goal (whole frame "
                        "vs the plain eager backbone; eager vs ONNX Runtime; bf16/int8 FPS), precision (bf16/int8 "
                        "success-AUC change of the tiny model on the held-out synthetic set), or none (e.g. with "
                        "--mobilenet alone)")
    s.add_argument("--runtimes", default=None,
                   help="ways of running the network timed in the goal rows (comma-separated; default plain,default,"
                        "onnxruntime,bf16,int8) and in the pysot section (default default,onnxruntime)")
    s.add_argument("--pysot", default=None, metavar="DIR",
                   help="a pysot checkout (github.com/STVIR/pysot; needs 'pip install yacs'): its SiamRPN++ ResNet-50 "
                        "tracker (random weights) is timed beside ours in the goal rows and the pysot section, "
                        "tracking normally as a user runs it")
    s.add_argument("--pysot-reset", action="store_true",
                   help="goal rows: put pysot's state back on the initial box before every frame (both trackers "
                        "then cut regions of the same size; the set-up before issue 18); pysot section: time such a "
                        "reset pysot too, beside the normally tracking one")
    s.add_argument("--machine-note", default="", help="how busy the machine was, for the pysot section's markdown "
                                                      "(e.g. 'idle, load < 0.5')")
    s.add_argument("--heldout", default=None, help="held-out synthetic set folder (default: a temporary one)")
    s.add_argument("--heldout-videos", type=int, default=20, help="held-out videos for the precision rows")
    s.add_argument("--out", default=None, help="markdown file whose speed sections are replaced (docs/benchmarks.md)")
    s.add_argument("--mobilenet", action="store_true",
                   help="also compare the light real-time profile (experiments/siamcorners_mobilev2, widths 1.0 and "
                        "1.4) with the --cfg profile, interleaved in the same run (its own section of --out)")
    s.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    s.set_defaults(func=_speed, argv=list(argv) if argv is not None else sys.argv[1:])
    b = sub.add_parser("busy", help="tracking FPS of the default thread choice vs --threads 1 while CPU-bound "
                                    "processes run (issue 10)")
    b.add_argument("--cfg", help="model config (default: the tiny synthetic model with its model.pth)")
    b.add_argument("--snapshot", help="weights (default: model.pth of the tiny model; '' = random weights)")
    b.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE", help="config overrides")
    b.add_argument("--hogs", type=int, default=2, help="CPU-bound processes running during the measurement")
    b.add_argument("--frames", type=int, default=60, help="frames of the synthetic video")
    b.add_argument("--warmup", type=int, default=5, help="warm-up frames not timed")
    b.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of every configuration")
    b.add_argument("--out", default=None, help="markdown file whose busy section is replaced (docs/benchmarks.md)")
    b.set_defaults(func=_busy, argv=list(argv) if argv is not None else sys.argv[1:])
    g = sub.add_parser("gpu-check", help="check every CUDA path once, each row asserting what it claims (AMP "
                                         "training, resume, 2-rank NCCL, CUDA events, device crops, fp16/bf16 "
                                         "tracking, ONNX Runtime CUDA/TensorRT, test.py workers, speed) -> GPU rows; "
                                         "exit 1 naming the failed rows")
    g.add_argument("--device", default="cuda", help="CUDA device (cuda or cuda:N)")
    g.add_argument("--video", help="real video (default: ../shared/data/bag.avi beside the repository, if present)")
    g.add_argument("--frames", type=int, default=30, help="frames per video of the speed part")
    g.add_argument("--rounds", type=int, default=3, help="interleaved repetitions in the speed part")
    g.add_argument("--out", default=None, help="markdown file whose GPU section is replaced (docs/benchmarks.md)")
    g.add_argument("--debug", action="store_true", help="print the traceback of a failing check")
    g.set_defaults(func=_gpu_check, argv=list(argv) if argv is not None else sys.argv[1:])
    r = sub.add_parser("realvideo", help="track an OTB-layout folder with our model, OpenCV MIL (CSRT/KCF with "
                                         "opencv-contrib) and a static box; success AUC, precision@20, FPS")
    r.add_argument("--dataset-root", required=True, help="OTB-layout folder: <seq>/img/0001.jpg ... + "
                                                         "<seq>/groundtruth_rect.txt")
    r.add_argument("--cfg", help="our model's config (default: experiments/siamcorners_cpu, the real-video CPU "
                   "model, with its model.pth)")
    r.add_argument("--snapshot", help="our model's weights (default with no --cfg: experiments/siamcorners_cpu/"
                   "model.pth)")
    r.add_argument("--also", action="append", default=[], metavar="LABEL=EXPERIMENT_FOLDER",
                   help="another SiamCorners model to compare, from a folder with config.yaml and model.pth, e.g. "
                   "--also 'tiny model=experiments/siamcorners_tiny_synthetic' (repeatable; --opts do not apply)")
    add_opts_arg(r)
    r.add_argument("--trackers", default="", help="comma-separated subset, e.g. static,MIL,ours (default: all "
                                                   "available)")
    r.add_argument("--videos", default="", help="comma-separated sequence names (default: every sequence)")
    r.add_argument("--threads", type=int, default=0, help="torch threads (0 = chosen from free cores and load)")
    r.add_argument("--machine-note", default="", help="a note on the machine for the markdown (e.g. '2 shared, "
                                                      "busy cores')")
    r.add_argument("--out", default=None, help="markdown file whose realvideo section is replaced "
                                               "(docs/benchmarks.md)")
    r.add_argument("--json-out", default=None, help="write the numbers (per video too) as JSON to this file")
    r.set_defaults(func=_realvideo, argv=list(argv) if argv is not None else sys.argv[1:])
    args = p.parse_args(argv)
    return run_guarded(lambda: args.func(args), args, tool="benchmark", argv=argv,
                       extra_errors=(ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
