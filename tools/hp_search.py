#!/usr/bin/env python
"""Search tracker hyper-parameters: one tracker per setting, scored with our metrics and ranked.

The program lives in ``siamcorners/cli/hp_search.py`` (also installed as ``siamcorners-hp-search``)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()  # before the slow imports below
from siamcorners.cli.hp_search import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
