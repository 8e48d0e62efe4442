"""Track one object and write an annotated video.

    python tools/demo.py                                      # built-in synthetic video + the shipped CPU model
    python tools/demo.py --source clip.mp4 --init 120,80,40,60 --out clip_tracked.mp4 --gif clip.gif
    python tools/demo.py --source path/to/frames/ --init 120,80,40,60
    python tools/demo.py --source 0 --show                    # webcam 0, initial box drawn with the mouse
    python tools/demo.py --source clip.mp4 --init 120,80,40,60 --heatmaps panels/   # + heat maps, one PNG a frame
    python tools/demo.py --cfg experiments/siamcorners_r50/config.yaml --snapshot model.pth --source clip.mp4

--source is a video file, an image folder (an OTB sequence folder: its first ground-truth box is used
when --init is absent) or a camera index. Without --init the box is drawn with the mouse, which needs a
display. Prints the tracker speed (FPS of init + track calls) and, on the synthetic video or an OTB sequence folder
(its ``groundtruth_rect.txt``), the mean IoU with the ground truth.
The annotated video shows the prediction in amber and, when known, the ground truth in green (a legend says so).
Errors are one line (exit code 2); --debug shows the Python traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
from typing import Sequence

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout

from siamcorners.benchmarks.metrics import overlap_ratio
from siamcorners.cli.common import (UserError, add_common_args, add_opts_arg, check_device, check_output_dir,
                                    check_output_file, check_threads, join_negative_values, run_guarded)
from siamcorners.cli.checks import check_snapshot_fits
from siamcorners.config import load_config
from siamcorners.data.frames import (IterableSource, groundtruth_boxes, groundtruth_file, groundtruth_init_box,
                                     open_source)
from siamcorners.data.synthetic import make_video
from siamcorners.engine.threads import apply_threads
from siamcorners.engine.visualize import HeatmapDumper
from siamcorners.models import build_model
from siamcorners.models.checkpoint import load_checkpoint
from siamcorners.tracker import SiamCornersTracker
from siamcorners.tracker.video_io import (AnnotatedWriter, Viewer, display_available, parse_box,
                                          track_frames)

# the real-video model trained on a CPU (issue 16; experiments/siamcorners_cpu/README.md)
DEFAULT_CFG = os.path.join(ROOT, "experiments", "siamcorners_cpu", "config.yaml")
DEFAULT_SNAPSHOT = os.path.join(ROOT, "experiments", "siamcorners_cpu", "model.pth")
DEMO_SEED = 20210  # synthetic demo videos are make_video((DEMO_SEED, --seed)): never used in training
SYNTHETIC_NOTE = ("note: this model was trained on synthetic videos only; for real video train or convert a "
                  "ResNet-50 model, see README.md (sections Train and Official checkpoints)")
DEFAULT_MODEL_NOTE = ("note: the default model (experiments/siamcorners_cpu) tracks real footage only a little better "
                      "than a synthetic-only model (success AUC 0.160 against OpenCV MIL's 0.264 on 7 real sequences, "
                      "its README); for real video train or convert a ResNet-50 model, see README.md (sections Train "
                      "and Official checkpoints)")


def _no_weights(snapshot: str, cfg_path: str) -> int:
    rel = os.path.relpath(cfg_path, ROOT) if cfg_path.startswith(ROOT) else cfg_path
    print(f"error: no trained weights available: {snapshot} does not exist.\n"
          f"  Train them with:\n"
          f"      python tools/train.py --cfg {rel}\n"
          f"  or pass an existing checkpoint with --snapshot PATH.", file=sys.stderr)
    return 2


def _snapshot_for(args: argparse.Namespace, cfg_path: str, cfg) -> str:
    if args.snapshot:
        return args.snapshot
    if cfg is not None and cfg.TEST.SNAPSHOT:
        snap = cfg.TEST.SNAPSHOT
        return snap if os.path.isabs(snap) else os.path.join(cfg.OUTPUT_DIR, snap)
    return os.path.join(os.path.dirname(os.path.abspath(cfg_path)), "model.pth")


def _same_file(path: str, source: str) -> bool:
    """Whether ``path`` names the file ``source`` (also through another spelling or a link)."""
    if os.path.exists(path) and os.path.exists(source):
        return os.path.samefile(path, source)
    return os.path.realpath(path) == os.path.realpath(source)


def _trained_on_synthetic_only(cfg) -> bool:
    return [str(n).upper() for n in cfg.DATASET.NAMES] == ["SYNTHETIC"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", help="video file, image folder or camera index (default: a synthetic video)")
    parser.add_argument("--init", help="initial box x,y,w,h in pixels of the first frame (default: drawn with "
                                       "the mouse, or the ground truth of an OTB folder / the synthetic video)")
    parser.add_argument("--cfg", help=f"experiment config (default: {os.path.relpath(DEFAULT_CFG, ROOT)})")
    parser.add_argument("--snapshot", help="checkpoint (default: TEST.SNAPSHOT of the config, else model.pth "
                                           "beside the config)")
    parser.add_argument("--out", default="demo.mp4", help="annotated video to write (default demo.mp4); --out '' "
                                                          "writes no video, then --gif or --show must be given")
    parser.add_argument("--gif", help="also write an animated GIF here")
    parser.add_argument("--show", action="store_true", help="show the tracking in a window (q or Esc stops)")
    parser.add_argument("--heatmaps", metavar="DIR", help="also write one PNG per frame into DIR: templates, search "
                                                         "crop with the chosen box and the predicted corner heat maps")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: DEVICE of the config)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (default: chosen from the free cores and the current load, printed)")
    parser.add_argument("--seed", type=int, default=0, help="which synthetic video when --source is absent")
    parser.add_argument("--frames", type=int, default=120, help="length of the synthetic video (default 120)")
    add_opts_arg(parser)
    add_common_args(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(join_negative_values(argv, ["--init"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args), args, tool="demo", argv=argv, extra_errors=(ValueError, RuntimeError))


def _sequence_groundtruth(path: str, source) -> np.ndarray | None:
    """The ground truth of an OTB sequence folder, one row per image (drawn in green, scored by IoU); None when
    there is none, or (with a warning) when its rows do not match the images one to one."""
    gt = groundtruth_boxes(path)
    if gt is None:
        return None
    images = getattr(source, "num_frames", None)
    if images != len(gt):
        print(f"warning: ground truth not drawn and no IoU: {groundtruth_file(path)} has {len(gt)} rows for "
              f"{images} images (a missing frame, or an annotation that starts at a later frame)", file=sys.stderr)
        return None
    return gt


def _run(args: argparse.Namespace) -> int:
    cfg_path = args.cfg or DEFAULT_CFG
    if args.cfg is None and not args.snapshot and not os.path.isfile(DEFAULT_SNAPSHOT):
        return _no_weights(DEFAULT_SNAPSHOT, cfg_path)
    cfg = load_config(cfg_path, args.opts)
    snapshot = _snapshot_for(args, cfg_path, cfg)
    if not os.path.isfile(snapshot):
        return _no_weights(snapshot, cfg_path)
    if not args.out and not args.gif and not args.show and not args.heatmaps:
        raise ValueError("nothing to output: give --out, --gif, --show or --heatmaps")
    check_threads(args.threads)
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {args.max_frames}")
    for flag, path in (("--out", args.out), ("--gif", args.gif)):
        if path:
            check_output_file(path, flag)
            if args.source is not None and _same_file(path, args.source):
                raise UserError(f"{flag} {path} is the --source video itself: writing it would destroy the input; "
                                f"give another {flag} name")
    if args.heatmaps:
        check_output_dir(args.heatmaps, "--heatmaps")
    check_device(args.device or cfg.DEVICE, "--device" if args.device else "DEVICE")
    if _trained_on_synthetic_only(cfg):
        print(SYNTHETIC_NOTE)
    elif args.cfg is None:
        print(DEFAULT_MODEL_NOTE)

    check_snapshot_fits(cfg, cfg_path, snapshot)  # one line naming the config that fits, instead of a key list
    apply_threads(args.threads)
    model = build_model(cfg)
    load_checkpoint(snapshot, model=model)
    heat_model = copy.deepcopy(model) if args.heatmaps else None  # eager copy: the runtime may fold BN in place
    tracker = SiamCornersTracker(model, cfg, device=args.device)
    if heat_model is not None:
        tracker = HeatmapDumper(tracker, heat_model.to(tracker.device), args.heatmaps, cfg.MODEL.LEVELS,
                                cfg.HEATMAP.STRIDE, cfg.HEATMAP.ORIGIN)

    with contextlib.ExitStack() as stack:
        gt = None
        if args.source is None:
            video = make_video((DEMO_SEED, args.seed), num_frames=args.frames,
                               name=f"synthetic_demo_{args.seed}")
            source = IterableSource(video, name=video.name, fps=30.0)
            init_box = parse_box(args.init) if args.init else video.gt[0].tolist()
            gt = video.gt
        else:
            source = stack.enter_context(open_source(args.source))
            init_box = parse_box(args.init) if args.init else groundtruth_init_box(args.source)
            if args.init is None and init_box is not None:
                print(f"initial box from {args.source} ground truth: {init_box}")
            gt = _sequence_groundtruth(args.source, source)
        if init_box is None and not display_available():
            raise ValueError("no initial box: pass --init x,y,w,h (drawing it with the mouse needs a display)")
        viewer = None
        if args.show:
            if display_available():
                viewer = Viewer(f"SiamCorners - {source.name}")
                stack.callback(viewer.close)
            else:
                print("warning: no display available, --show ignored", file=sys.stderr)
        writer = None
        if args.out or args.gif:
            writer = stack.enter_context(AnnotatedWriter(args.out or None, args.gif, fps=source.fps))
        run = track_frames(tracker, source, init_box, writer, viewer, gt, args.max_frames)

    n = len(run.boxes)
    if heat_model is not None:
        print(f"{source.name}: {n} frames, tracker and heat-map panels {run.fps:.1f} FPS on {tracker.tracker.device}")
    else:
        print(f"{source.name}: {n} frames, tracker {run.fps:.1f} FPS on {tracker.device} "
              f"({run.overall_fps:.1f} FPS including reading, drawing and writing)")
    if gt is not None:
        present = gt[:n, 2] > 0
        iou = overlap_ratio(gt[:n][present], run.boxes[present])
        print(f"mean IoU with the ground truth over {int(present.sum())} frames with the target in view: "
              f"{np.nanmean(iou):.3f}")
    for path in (args.out, args.gif):
        if path:
            print(f"wrote {path}")
    if heat_model is not None:
        print(f"wrote {len(tracker.written)} heat-map panels to {args.heatmaps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
