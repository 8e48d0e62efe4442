#!/usr/bin/env python
"""Export a SiamCorners snapshot's template and search branches as ONNX graphs (+ meta.json).

The program lives in ``siamcorners/cli/export.py`` (also installed as ``siamcorners-export``)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.cli.export import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
