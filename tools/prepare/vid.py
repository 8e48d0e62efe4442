"""ILSVRC2015 VID -> crop511 + train.json (both VID train and val annotations by default).

    python tools/prepare/vid.py --root ILSVRC2015 --out training_dataset/vid [--workers 8]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_vid, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="ILSVRC2015 folder (Annotations/VID, Data/VID)")
    p.add_argument("--splits", nargs="+", default=["train", "val"], help="VID splits to use")


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, lambda a: read_vid(a.root, a.splits)))
