"""Write a synthetic tracking benchmark in OTB layout (``<out>/<video>/img/0001.jpg``, ``groundtruth_rect.txt``).

    python tools/make_synthetic.py --out data/synthetic --videos 20 --seed 1
    python tools/make_synthetic.py --out data/synth_hard --videos 10 --seed 2 --frames 150 --size 360x480 \\
        --set occlusion=1.0 --set out_of_view=0.5 --set rotation=45

Re-running the same command resumes an interrupted write (complete videos are skipped). Ground-truth rows
``0,0,0,0`` mark frames where the target is out of view (see ``siamcorners/data/synthetic.py``).
"""
from __future__ import annotations

import argparse
import os
import sys

import yaml
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.data.synthetic import SyntheticParams, write_otb_dataset  # noqa: E402


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size expects HxW such as 240x320, got {text!r}") from None
    return h, w


def _knob(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set expects KNOB=VALUE such as rotation=30, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    knob_names = ", ".join(SyntheticParams.__dataclass_fields__)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--videos", type=int, required=True, help="number of videos")
    parser.add_argument("--seed", type=int, required=True, help="dataset seed (video k uses seed (SEED, k))")
    parser.add_argument("--frames", type=int, default=60, help="frames per video (default 60)")
    parser.add_argument("--size", type=_size, default=(240, 320), help="frame size HxW (default 240x320)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    parser.add_argument("--set", dest="knobs", type=_knob, action="append", default=[],
                        metavar="KNOB=VALUE", help=f"difficulty knob, repeatable; knobs: {knob_names}")
    args = parser.parse_args(argv)
    bar = tqdm(total=args.videos, unit="video", desc=os.path.basename(os.path.normpath(args.out)))
    skipped = 0

    def progress(name: str, was_skipped: bool) -> None:
        nonlocal skipped
        skipped += int(was_skipped)
        bar.set_postfix_str(name + (" (exists)" if was_skipped else ""))
        bar.update(1)

    try:
        names = write_otb_dataset(args.out, args.videos, args.seed, num_frames=args.frames, image_size=args.size,
                                  jpeg_quality=args.quality, on_video=progress, **dict(args.knobs))
    except (ValueError, TypeError, OSError) as e:
        bar.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    bar.close()
    print(f"{len(names)} videos in {args.out} ({skipped} already complete)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
