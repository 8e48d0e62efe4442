"""COCO instances -> crop511 + train2017.json (each image one single-frame video, crowd boxes skipped).

    python tools/prepare/coco.py --root coco --out training_dataset/coco [--split train2017] [--workers 8]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_coco, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="COCO folder (annotations/instances_<split>.json, <split>/)")
    p.add_argument("--split", default="train2017", help="image split (default train2017)")


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, lambda a: read_coco(a.root, a.split), json_name="train2017.json"))
