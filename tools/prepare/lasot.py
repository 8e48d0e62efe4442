"""LaSOT -> crop511 + train.json (fully occluded and out-of-view frames are skipped).

    python tools/prepare/lasot.py --root LaSOTBenchmark --out training_dataset/lasot [--videos-file train.txt]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_lasot, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="LaSOT folder (<class>/<class>-N/img, groundtruth.txt, ...)")
    p.add_argument("--videos-file", default="", help="optional text file of sequence names to use (a split)")


def read(args):
    videos = None
    if args.videos_file:
        with open(args.videos_file, "r", encoding="utf-8") as f:
            videos = [line.strip() for line in f if line.strip()]
    return read_lasot(args.root, videos)


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, read))
