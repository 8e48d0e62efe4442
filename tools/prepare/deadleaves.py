"""Write procedural training images with natural-image statistics (dead leaves, 1/f colour noise) into a folder
for a stills training source (DATASET.SOURCES.PROCEDURAL.ROOT or DATASET.SOURCES.STILLS.ROOT).

    python tools/prepare/deadleaves.py --out training_dataset/procedural --count 1000 [--seed 0] [--size 512]
        [--noise-fraction 0.25] [--quality 92]

Image i depends only on (--seed, i) and the settings, so the folder is reproducible; a rerun (after Ctrl-C, or
with a larger --count) writes only the missing images. The folder must be new, empty, or made by this tool with the
same settings (GENERATOR.json); nothing in it is deleted.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from siamcorners.cli import stop_quietly_while_starting  # noqa: E402

stop_quietly_while_starting()
from siamcorners.cli.common import run_guarded  # noqa: E402
from siamcorners.data.procedural_stills import write_procedural_stills  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="training_dataset/procedural", help="output folder")
    p.add_argument("--count", type=int, default=1000, help="number of images (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed (default %(default)s)")
    p.add_argument("--size", type=int, default=512, help="image side in px (default %(default)s)")
    p.add_argument("--noise-fraction", type=float, default=0.25,
                   help="fraction of pure 1/f noise images; the rest are dead leaves (default %(default)s)")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality (default %(default)s)")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    args = p.parse_args(argv)
    done = [0]

    def body() -> int:
        def progress(index: int) -> None:
            done[0] = index + 1
            if done[0] % 100 == 0 or done[0] == args.count:
                print(f"{done[0]}/{args.count} images", file=sys.stderr, flush=True)

        written = write_procedural_stills(args.out, args.count, args.seed, args.size, args.noise_fraction,
                                          args.quality, progress)
        print(f"{args.count} images in {args.out} ({len(written)} written now)")
        return 0

    return run_guarded(body, args, "tools/prepare/deadleaves.py", argv,
                       resume_hint=lambda: f"{done[0]} of {args.count} images are in {args.out}",
                       extra_errors=(ValueError,))


if __name__ == "__main__":
    sys.exit(main())
