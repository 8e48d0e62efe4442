"""GOT-10k -> crop511 + train.json (frames marked in absence.label are skipped).

    python tools/prepare/got10k.py --root GOT-10k --out training_dataset/got10k [--workers 8]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.data.prepare import read_got10k, run_cli  # noqa: E402


def add_args(p):
    p.add_argument("--root", required=True, help="GOT-10k folder (train/<seq>/...)")
    p.add_argument("--split", default="train", help="split folder (default train)")


if __name__ == "__main__":
    sys.exit(run_cli(__doc__, add_args, lambda a: read_got10k(a.root, a.split)))
