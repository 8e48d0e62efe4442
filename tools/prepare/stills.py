"""Gather the photos that installed PyPI packages ship into one folder (config source DATASET.SOURCES.STILLS).

    pip install -r requirements/realdata.txt          # the packages (or: pip install -e .[realdata])
    python tools/prepare/stills.py --out training_dataset/stills [--packages matplotlib,skimage,sklearn]

Nothing is downloaded; packages that are not installed are skipped. SOURCES.txt in --out lists each photo with
its package, version and licence note.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli.common import run_guarded  # noqa: E402
from siamcorners.data.package_photos import collect_photos  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="training_dataset/stills", help="output folder")
    p.add_argument("--packages", default="", help="comma-separated import names (default: all known)")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    args = p.parse_args(argv)

    def body() -> int:
        packages = [s for s in args.packages.split(",") if s] or None
        copied = collect_photos(args.out, packages)
        print(f"{len(copied)} photos in {args.out} (see {os.path.join(args.out, 'SOURCES.txt')})")
        return 0 if copied else 2

    return run_guarded(body, args, "tools/prepare/stills.py", argv)


if __name__ == "__main__":
    sys.exit(main())
