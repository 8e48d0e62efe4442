#!/usr/bin/env python
"""Performance measurements. Subcommands:

    python tools/benchmark.py eval [--videos 280 --frames 2500 --trackers 10]   # evaluation time
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _eval(args: argparse.Namespace) -> int:
    from siamcorners.benchmarks.timing import time_eval

    r = time_eval(args.videos, args.frames, args.trackers, args.repeats, args.tmp)
    print(f"evaluation of {r['trackers']} trackers x {r['videos']} videos x {r['frames_per_video']} frames "
          f"(pysot protocol, result files read from disk): {r['eval_seconds']:.2f} s "
          f"[{os.cpu_count()} CPUs; generating the files took {r['generate_seconds']:.1f} s]")
    if args.json:
        print(json.dumps(r))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="SiamCorners performance measurements")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("eval", help="time tools/eval.py's metrics on a generated LaSOT-sized result set")
    e.add_argument("--videos", type=int, default=280)
    e.add_argument("--frames", type=int, default=2500)
    e.add_argument("--trackers", type=int, default=10)
    e.add_argument("--repeats", type=int, default=1)
    e.add_argument("--tmp", help="folder for the generated files (default: system temp)")
    e.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    e.set_defaults(func=_eval)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
