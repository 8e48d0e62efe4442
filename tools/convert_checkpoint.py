"""Convert an official SiamCorners checkpoint (``checkpoint_eN.pth`` of the official train.py, or a bare state dict)
into our checkpoint format, checking that it loads into our model without missing or unexpected keys.

    python tools/convert_checkpoint.py OFFICIAL.pth OURS.pth [--cfg experiments/siamcorners_r50_official/config.yaml]

``--config`` is an alias of ``--cfg``. Errors are one line (exit code 2); --debug shows the Python traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli.common import add_common_args, check_output_file, run_guarded  # noqa: E402
from siamcorners.config import load_config  # noqa: E402
from siamcorners.models import build_model  # noqa: E402
from siamcorners.models.checkpoint import (CHECKPOINT_FORMAT, CheckpointError,  # noqa: E402
                                           convert_official_state_dict, load_state_dict_checked, save_checkpoint)

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "experiments", "siamcorners_r50_official", "config.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", help="official checkpoint (.pth)")
    parser.add_argument("output", help="our checkpoint to write")
    parser.add_argument("--cfg", "--config", dest="cfg", default=DEFAULT_CONFIG,
                        help="model config the weights must fit (default: the official profile); --config: alias")
    add_common_args(parser)
    args = parser.parse_args(argv)
    return run_guarded(lambda: _convert(args), args, tool="convert_checkpoint", argv=argv)


def _convert(args) -> int:
    cfg = load_config(args.cfg)
    check_output_file(args.output, "output")
    if not os.path.isfile(args.official):
        raise CheckpointError(f"{args.official}: checkpoint file not found")
    try:
        official = torch.load(args.official, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{args.official}: cannot read official checkpoint: "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if isinstance(official, dict) and official.get("format") == CHECKPOINT_FORMAT:
        raise CheckpointError(f"{args.official}: already a SiamCorners checkpoint in this project's format "
                              f"(nothing to convert); pass it to --snapshot directly")
    state, report = convert_official_state_dict(official)
    if report["unknown"]:
        raise CheckpointError(f"{args.official}: {len(report['unknown'])} keys have no mapping: "
                              f"{', '.join(report['unknown'][:8])}")
    model = build_model(cfg)
    load_state_dict_checked(model, state, strict=True, source=args.official)
    save_checkpoint(args.output, model, config=cfg, epoch=report["epoch"])
    print(f"converted {report['converted']} tensors (dropped {len(report['dropped_alias'])} alias keys) "
          f"from {args.official} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
