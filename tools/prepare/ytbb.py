"""YouTube-BB -> crop511 + train.json, from the detection csv and the frames decoded by the official downloader
({frames}/{class_id}/{youtube_id}_{timestamp_ms}_{class_id}_{object_id}.jpg).

    python tools/prepare/ytbb.py --csv yt_bb_detection_train.csv --frames youtube_bb/yt_bb_detection_train \
        --out training_dataset/yt_bb [--workers 8]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_ytbb, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--csv", required=True, help="yt_bb_detection_train.csv")
    p.add_argument("--frames", required=True, help="folder of decoded frames (<class_id>/<ytid>_<ms>_<cls>_<obj>.jpg)")


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, lambda a: read_ytbb(a.csv, a.frames)))
