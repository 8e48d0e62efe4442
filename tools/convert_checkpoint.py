"""Convert an official SiamCorners checkpoint (``checkpoint_eN.pth`` of the official train.py, or a bare state dict)
into our checkpoint format, checking that it loads into our model without missing or unexpected keys.

    python tools/convert_checkpoint.py OFFICIAL.pth OURS.pth [--cfg experiments/siamcorners_r50_official/config.yaml]

    python tools/convert_checkpoint.py --translate-config official/config.yaml ours.yaml   # official yacs config -> ours

``--config`` is an alias of ``--cfg``. Errors are one line (exit code 2); --debug shows the Python traceback.

The other way, ``--to-official``: our checkpoint (official profile only; others are refused) -> a ``{'epoch', 'state_dict', 'optimizer'}``
file with the official names (alias keys included) that the official code's ``load_pretrain`` reads.

    python tools/convert_checkpoint.py --to-official OURS.pth OFFICIAL.pth
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from siamcorners.cli.common import UserError, add_common_args, check_output_file, run_guarded  # noqa: E402
from siamcorners.config import load_config  # noqa: E402
from siamcorners.models import build_model  # noqa: E402
from siamcorners.models.checkpoint import (CHECKPOINT_FORMAT, CheckpointError,  # noqa: E402
                                           convert_official_state_dict, export_official_state_dict,
                                           load_checkpoint, load_state_dict_checked, save_checkpoint)

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "experiments", "siamcorners_r50_official", "config.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", help="official checkpoint (.pth); with --to-official: our checkpoint")
    parser.add_argument("output", help="our checkpoint to write; with --to-official: the official file")
    parser.add_argument("--cfg", "--config", dest="cfg", default=DEFAULT_CONFIG,
                        help="model config the weights must fit (default: the official profile); --config: alias")
    parser.add_argument("--translate-config", action="store_true",
                        help="OFFICIAL is an official/pysot config.yaml: write our config YAML to OUTPUT instead")
    parser.add_argument("--to-official", action="store_true", help="convert our checkpoint to the official layout")
    add_common_args(parser)
    args = parser.parse_args(argv)
    body = _translate if args.translate_config else _to_official if args.to_official else _convert

    def run() -> int:
        if os.path.abspath(args.official) == os.path.abspath(args.output) or (
                os.path.exists(args.output) and os.path.exists(args.official)
                and os.path.samefile(args.official, args.output)):
            raise UserError(f"output {args.output} is the input file; write to another file (the input is kept)")
        return body(args)

    return run_guarded(run, args, tool="convert_checkpoint", argv=argv)


def _translate(args) -> int:
    import yaml

    from siamcorners.cli.pysot_config import translate_official_config
    from siamcorners.config import ConfigError

    check_output_file(args.output, "output")
    try:
        with open(args.official, encoding="utf-8") as f:
            official = yaml.safe_load(f)
    except (UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{args.official}: not a readable YAML config: {str(e).splitlines()[0]}") from None
    if not isinstance(official, dict):
        raise ConfigError(f"{args.official}: expected a mapping of config keys")
    ours, dropped, unknown = translate_official_config(official)
    text = (f"# translated from {args.official} by tools/convert_checkpoint.py --translate-config\n"
            f"# keys not set here keep the defaults (the official values, siamcorners/config.py)\n"
            + yaml.safe_dump(ours, sort_keys=False))
    from siamcorners.benchmarks.textio import atomic_write_text

    atomic_write_text(args.output, text)
    try:
        load_config(args.output)
    except ConfigError as e:
        os.remove(args.output)
        raise ConfigError(f"{args.official}: translated config is not valid here: {e}") from None
    print(f"wrote {args.output}: {sum(1 for _ in _leaves(ours))} keys translated, {len(dropped)} pysot leftovers "
          f"dropped (not used by SiamCorners)")
    if unknown:
        print(f"warning: {len(unknown)} keys have no counterpart and were left out: {', '.join(unknown[:10])}",
              file=sys.stderr)
    return 0


def _leaves(node):
    for v in node.values():
        if isinstance(v, dict):
            yield from _leaves(v)
        else:
            yield v


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


def _to_official(args) -> int:
    from siamcorners.cli.checks import check_snapshot_fits

    check_output_file(args.output, "output")
    # the official code builds one architecture: refuse weights of another profile (tiny, paper, mobilenet)
    try:
        check_snapshot_fits(load_config(DEFAULT_CONFIG), DEFAULT_CONFIG, args.official)
    except UserError as e:
        reason = str(e).split("; use --cfg")[0]
        raise UserError(f"--to-official: the official code builds only the official profile "
                        f"(experiments/siamcorners_r50_official); {reason}") from None
    ckpt = load_checkpoint(args.official)
    state = export_official_state_dict(ckpt["model"])
    folder = os.path.dirname(os.path.abspath(args.output))
    tmp = os.path.join(folder, f".{os.path.basename(args.output)}.tmp.{os.getpid()}")
    try:
        torch.save({"epoch": ckpt.get("epoch") or 0, "state_dict": state, "optimizer": {}}, tmp)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {len(state)} tensors with the official names from {args.official} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
