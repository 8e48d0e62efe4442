"""ILSVRC DET -> crop511 + train.json (each image one single-frame video).

    python tools/prepare/det.py --root ILSVRC2015 --out training_dataset/det [--workers 8]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_det, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="ILSVRC folder (Annotations/DET, Data/DET)")
    p.add_argument("--split", default="train", help="DET split (default train)")


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, lambda a: read_det(a.root, a.split)))
