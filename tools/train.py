#!/usr/bin/env python
"""Train SiamCorners.

The program lives in ``siamcorners/cli/train.py`` (also installed as ``siamcorners-train``)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
