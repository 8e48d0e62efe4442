"""Gather the photos that installed PyPI packages ship into one folder (config source DATASET.SOURCES.STILLS).

    pip install -r requirements/realdata.txt          # the packages (or: pip install -e .[realdata])
    python tools/prepare/stills.py --out training_dataset/stills [--packages matplotlib,skimage,sklearn]
        [--kinds scene,texture[,science]] [--colour-only]

Nothing is downloaded; packages that are not installed are skipped. Only real photos whose licence the package
states are copied (the list: siamcorners/data/package_photos.py). SOURCES.txt in --out lists each photo with its
package, version, kind, size and licence note; files of an earlier run that the new selection leaves out are
removed, nothing else in --out is touched.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli.common import run_guarded  # noqa: E402
from siamcorners.data.package_photos import DEFAULT_KINDS, KINDS, collect_photos  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="training_dataset/stills", help="output folder")
    p.add_argument("--packages", default="", help="comma-separated import names (default: all known)")
    p.add_argument("--kinds", default=",".join(DEFAULT_KINDS),
                   help=f"comma-separated photo kinds out of {','.join(KINDS)} (default: %(default)s)")
    p.add_argument("--colour-only", action="store_true", help="leave out grey-level photos")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    args = p.parse_args(argv)

    def body() -> int:
        packages = [s for s in args.packages.split(",") if s] or None
        kinds = [s for s in args.kinds.split(",") if s]
        copied = collect_photos(args.out, packages, kinds, gray=not args.colour_only)
        print(f"{len(copied)} photos in {args.out} (see {os.path.join(args.out, 'SOURCES.txt')})")
        return 0 if copied else 2

    return run_guarded(body, args, "tools/prepare/stills.py", argv, extra_errors=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
