"""SiamCorners as a TraX tracker for the VOT challenge toolkit (``pip install -e ".[vot]"``).

    python -m siamcorners.integrations.vot --cfg CFG --snapshot SNAP [--device cpu] [--opts KEY VALUE ...]

speaks TraX on stdin / stdout (rectangle or polygon regions, images as file paths); the VOT toolkit starts it
from a ``trackers.ini`` entry, which this command prints with ``--print-ini`` (absolute paths, this Python)::

    python -m siamcorners.integrations.vot --print-ini --cfg CFG --snapshot SNAP >> workspace/trackers.ini
    vot test SiamCorners                       # in the workspace: one generated sequence, nothing downloaded
    vot evaluate SiamCorners                   # the workspace's stack (e.g. vot2018)

Polygon initialisations become the axis-aligned box pysot uses (:func:`regions.polygon_to_xywh`), rectangles
follow ``cfg.TEST.INIT_BOX`` where the config has it (as ``tools/test.py`` does; else as given); the tracker
reports rectangles with the frame's score as the ``confidence`` property. Tested with vot-toolkit 0.9.0,
vot-trax 4.0.2 and attributee 0.1.9 (0.1.10 fails at import with vot-toolkit 0.9.0).
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import traceback
from typing import Any, Sequence

import numpy as np

from .common import build_tracker, resolve_config
from .images import to_bgr
from .regions import init_box, init_rule_from_cfg, polygon_to_xywh

__all__ = ["ini_entry", "trax_region_to_xywh", "serve", "main"]


def trax_region_to_xywh(region: Any, rule: str = "raw") -> np.ndarray:
    """A TraX region -> the init box ``[x, y, w, h]``: a rectangle under the init-box ``rule``
    (:func:`regions.init_box`); a 4-point polygon as pysot's axis-aligned box; any other polygon as the min-max
    box of its points."""
    from trax import Region

    if region.type == Region.RECTANGLE:
        return init_box(region.bounds(), rule)
    if region.type == Region.POLYGON:
        points = np.array([region.get(i) for i in range(region.size())], dtype=np.float64)  # (K, 2)
        if len(points) == 4:
            return polygon_to_xywh(points)
        lo, hi = points.min(axis=0), points.max(axis=0)
        return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    raise ValueError(f"unsupported TraX region type {region.type!r} (rectangle or polygon)")


def _frame(request: Any) -> np.ndarray:
    from trax import ImageChannel

    image = request.image.get(ImageChannel.COLOR)
    if image is None:
        raise ValueError(f"TraX request without a color image (channels: {sorted(request.image)})")
    return to_bgr(image.path())


def serve(tracker: Any, name: str = "SiamCorners", init_rule: str = "raw") -> None:
    """Answer TraX requests until the client quits: ``tracker`` has ``init(frame, box)`` and
    ``track(frame) -> {"bbox", "score"}`` on BGR frames; ``init_rule`` applies to rectangle regions."""
    from trax import Image, Rectangle, Region, Server, TraxStatus

    server = Server([Region.RECTANGLE, Region.POLYGON], [Image.PATH], tracker_name=name,
                    tracker_description="SiamCorners (PyTorch)", tracker_family="siamese")
    # not ``with Server``: its exit prints the Python traceback into the toolkit's log; here the client gets the
    # reason and the log one line (main)
    try:
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
                break
            frame = _frame(request)
            if request.type == TraxStatus.INITIALIZE:
                region, _ = request.objects[0]
                box = trax_region_to_xywh(region, init_rule)
                tracker.init(frame, box.tolist())
                bbox, score = box.tolist(), 1.0
            else:
                out = tracker.track(frame)
                bbox, score = out["bbox"], float(out["score"])
            server.status([(Rectangle.create(*(float(v) for v in bbox)), {"confidence": score})])
    except Exception as e:
        server.quit(reason=str(e))
        raise
    server.quit()


def ini_entry(cfg: str, snapshot: str, name: str = "SiamCorners", device: str | None = None,
              opts: Sequence[str] = (), python: str | None = None, timeout: int = 120, threads: int = 0) -> str:
    """The ``trackers.ini`` section that starts this tracker (absolute paths; PYTHONPATH reaches this copy)."""
    command = [python or sys.executable, "-m", "siamcorners.integrations.vot", "--cfg", os.path.abspath(cfg),
               "--snapshot", os.path.abspath(snapshot)]
    if device:
        command += ["--device", device]
    if threads:
        command += ["--threads", str(int(threads))]
    if name != "SiamCorners":
        command += ["--name", name]
    if opts:
        command += ["--opts", *opts]
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return "\n".join([
        f"[{name}]",
        f"label = {name}",
        "protocol = trax",
        f"command = {shlex.join(command)}",
        f"timeout = {int(timeout)}",
        f"env_PYTHONPATH = {package_root}{os.pathsep}$PYTHONPATH",
        "",
    ])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="SiamCorners as a TraX tracker for the VOT toolkit (or print its "
                                            "trackers.ini entry with --print-ini)")
    p.add_argument("--cfg", required=True, help="experiment config (YAML)")
    p.add_argument("--snapshot", required=True, help="checkpoint (our format)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: cfg.DEVICE)")
    p.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--print-ini", action="store_true", help="print the trackers.ini entry and exit")
    p.add_argument("--name", default="SiamCorners", help="tracker identifier in trackers.ini")
    p.add_argument("--timeout", type=int, default=120,
                   help="seconds the toolkit waits for an answer (--print-ini; model loading counts)")
    p.add_argument("--debug", action="store_true", help="on an error, also write the Python traceback to stderr")
    return p.parse_args(argv)


_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def check_print_ini(args: argparse.Namespace) -> None:
    """--print-ini writes only what the toolkit can run: a plain tracker name, a positive timeout, a config that
    loads and a snapshot that is one of our checkpoints fitting it (UserError naming what is wrong)."""
    from ..cli.checks import check_snapshot_fits
    from ..cli.common import UserError

    if not _NAME.fullmatch(args.name):
        raise UserError(f"--name {args.name!r}: use letters, digits, '_', '.' or '-' only (it is a trackers.ini "
                        f"section name)")
    if args.timeout <= 0:
        raise UserError(f"--timeout must be > 0 seconds, got {args.timeout}")
    for path, what in ((args.cfg, "config"), (args.snapshot, "snapshot")):
        if not os.path.isfile(path):
            raise UserError(f"{path}: {what} not found")
    cfg = resolve_config(args.cfg, args.opts)
    check_snapshot_fits(cfg, args.cfg, args.snapshot)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.print_ini:
        from ..cli.common import run_guarded

        def print_ini() -> int:
            check_print_ini(args)
            sys.stdout.write(ini_entry(args.cfg, args.snapshot, args.name, args.device, args.opts,
                                       timeout=args.timeout, threads=args.threads))
            return 0

        return run_guarded(print_ini, args, tool="vot", argv=argv)
    try:
        import trax  # noqa: F401
    except ImportError as e:
        print(f"error: the VOT integration needs vot-trax: pip install -e \".[vot]\" ({e})", file=sys.stderr)
        return 2
    if "TRAX" not in os.environ:
        print("note: started outside the VOT toolkit (no TRAX in the environment); run it from trackers.ini "
              "(--print-ini)", file=sys.stderr)
    stdout, sys.stdout = sys.stdout, sys.stderr  # stdout carries the TraX protocol: keep prints off it
    try:
        if args.threads > 0:
            import torch
            torch.set_num_threads(args.threads)
        cfg = resolve_config(args.cfg, args.opts)
        serve(build_tracker(cfg, args.snapshot, device=args.device), args.name, init_rule_from_cfg(cfg))
    except Exception as e:  # reach the toolkit's log as one line, not a traceback into the protocol stream
        if args.debug:
            traceback.print_exc()
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        sys.stdout = stdout
    return 0


if __name__ == "__main__":
    sys.exit(main())
