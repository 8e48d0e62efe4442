"""Convert an official SiamCorners checkpoint (``checkpoint_eN.pth`` of the official train.py, or a bare state dict)
into our checkpoint format, checking that it loads into our model without missing or unexpected keys.

    python tools/convert_checkpoint.py OFFICIAL.pth OURS.pth [--config experiments/siamcorners_r50_official/config.yaml]

The other way, ``--to-official``: our checkpoint (official profile) -> a ``{'epoch', 'state_dict', 'optimizer'}``
file with the official names (alias keys included) that the official code's ``load_pretrain`` reads.

    python tools/convert_checkpoint.py --to-official OURS.pth OFFICIAL.pth
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.config import ConfigError, load_config  # noqa: E402
from siamcorners.models import build_model  # noqa: E402
from siamcorners.models.checkpoint import (CheckpointError, convert_official_state_dict,  # noqa: E402
                                           export_official_state_dict, load_checkpoint, load_state_dict_checked,
                                           save_checkpoint)

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "experiments", "siamcorners_r50_official", "config.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", help="official checkpoint (.pth); with --to-official: our checkpoint")
    parser.add_argument("output", help="our checkpoint to write; with --to-official: the official file")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="model config the weights must fit "
                        "(default: the official profile)")
    parser.add_argument("--to-official", action="store_true", help="convert our checkpoint to the official layout")
    args = parser.parse_args(argv)
    if args.to_official:
        return _to_official(args.official, args.output)
    try:
        cfg = load_config(args.config)
        try:
            official = torch.load(args.official, map_location="cpu", weights_only=True)
        except Exception as e:
            raise CheckpointError(f"{args.official}: cannot read official checkpoint: "
                                  f"{type(e).__name__}: {e}") from None
        state, report = convert_official_state_dict(official)
        if report["unknown"]:
            raise CheckpointError(f"{args.official}: {len(report['unknown'])} keys have no mapping: "
                                  f"{', '.join(report['unknown'][:8])}")
        model = build_model(cfg)
        load_state_dict_checked(model, state, strict=True, source=args.official)
        save_checkpoint(args.output, model, config=cfg, epoch=report["epoch"])
    except (CheckpointError, ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"converted {report['converted']} tensors (dropped {len(report['dropped_alias'])} alias keys) "
          f"from {args.official} -> {args.output}")
    return 0


def _to_official(ours: str, output: str) -> int:
    try:
        ckpt = load_checkpoint(ours)
        state = export_official_state_dict(ckpt["model"])
        folder = os.path.dirname(os.path.abspath(output))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(output)}.tmp.{os.getpid()}")
        torch.save({"epoch": ckpt.get("epoch") or 0, "state_dict": state, "optimizer": {}}, tmp)
        os.replace(tmp, output)
    except (CheckpointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(state)} tensors with the official names from {ours} -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
