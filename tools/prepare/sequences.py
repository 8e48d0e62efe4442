"""Your own annotated videos -> crop511 + train.json, for fine-tuning (config source DATASET.SOURCES.OWN).

    python tools/prepare/sequences.py --root my_videos --out training_dataset/own [--workers 2]

``--root`` holds sequence folders at any depth, each in the OTB layout (``<seq>/img/0001.jpg ...`` +
``groundtruth_rect.txt``, 1-based x,y,w,h) or the GOT-10k layout (``<seq>/00000001.jpg ...`` + ``groundtruth.txt``,
optional ``absence.label`` / ``cover.label``: absent or fully occluded frames are skipped). Re-running skips the crops
already written (resumable).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.data.prepare import read_sequences, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="folder of annotated sequences (OTB or GOT-10k layout)")


def main(argv=None) -> int:
    return run_cli(__doc__, add_args, lambda a: read_sequences(a.root), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
