"""Export a snapshot as ONNX graphs for the onnxruntime backend, TensorRT or any ONNX runtime.

    python tools/export.py --cfg experiments/siamcorners_r50/config.yaml --snapshot model.pth --out export/r50 \\
        [--int8 [--calibration 32]]

Writes ``template.onnx`` (templates -> correlation kernels), ``search.onnx`` (search crop + kernels -> per-level
heat maps and corner features) and ``meta.json`` (inputs/outputs, the MODEL config, the weights hash that
detects a stale export); ``--int8`` adds ``search_int8.onnx`` calibrated on synthetic training pairs. Track with
it: ``tools/test.py ... --onnx export/r50`` (or ``--opts INFERENCE.BACKEND onnxruntime INFERENCE.ONNX_DIR ...``).
Graph layout and the TensorRT path: ``siamcorners/models/runtime/onnx_export.py``, README "Speed".
With ``INFERENCE.WINOGRAD`` (the default) the search graph computes its two largest convolutions as Winograd
matrix products, which is faster in ONNX Runtime on a CPU; for TensorRT or a GPU export with
``--opts INFERENCE.WINOGRAD false``. ``--int8`` exports without them.
"""
from __future__ import annotations

import argparse
import os
import sys

from siamcorners.config import ConfigError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", required=True, help="experiment config (YAML)")
    p.add_argument("--snapshot", required=True, help="checkpoint to export")
    p.add_argument("--out", required=True, help="output folder: a new or empty one, or an earlier export's folder "
                                                "(replaced); a folder holding other files is refused")
    p.add_argument("--opts", nargs="*", default=[], help="config overrides KEY VALUE ...")
    p.add_argument("--int8", action="store_true", help="also write the int8 search graph (ONNX Runtime)")
    p.add_argument("--calibration", type=int, default=None, metavar="N",
                   help="calibration pairs for --int8 (default: INFERENCE.INT8_CALIBRATION)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch

        from siamcorners.config import load_config
        from siamcorners.models import build_model
        from siamcorners.models.checkpoint import load_checkpoint
        from siamcorners.models.runtime.onnx_export import check_export_target, export_onnx

        check_export_target(args.out)
        cfg = load_config(args.cfg, args.opts)
        if not os.path.isfile(args.snapshot):
            raise FileNotFoundError(f"{args.snapshot}: snapshot not found")
        model = build_model(cfg)
        load_checkpoint(args.snapshot, model=model)
        model.eval()
        winograd = bool(cfg.INFERENCE.WINOGRAD) and not args.int8
        with torch.no_grad():
            meta = export_onnx(model, args.out, cfg, cfg.TRACK.EXEMPLAR_SIZE, cfg.TRACK.INSTANCE_SIZE,
                               winograd=winograd)
        print(f"exported {args.snapshot} to {args.out}: template.onnx, search.onnx, meta.json "
              f"(weights sha256 {meta['weights_sha256'][:12]}; Winograd convolutions "
              f"{'on: for ONNX Runtime on a CPU' if winograd else 'off'})")
        if args.int8:
            from siamcorners.models.runtime.quantize import ensure_int8

            n = args.calibration if args.calibration is not None else cfg.INFERENCE.INT8_CALIBRATION
            print(f"int8: {ensure_int8(args.out, model, cfg, n)} (calibrated on {n} synthetic training pairs)")
    except (ConfigError, FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
