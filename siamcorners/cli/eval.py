"""Score tracker results with the pysot-toolkit OPE conventions (or the got10k toolkit's).

    python tools/eval.py --dataset OTB100 --dataset-root /data/OTB100 --results results/OTB100 \\
        [--trackers a,b] [--protocol pysot|got10k] [--on-mismatch error|truncate] [--json scores.json] \\
        [--latex table.tex]

Prints a ranked table (Success AUC / Norm Precision @0.20 / Precision @20 px; GOT-10k: AO / SR0.5 / SR0.75)
and writes results.md, results.csv, results.json and plots (PNG + PDF, overall and per attribute) into
``--report-dir`` (default ``reports/<dataset>``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from siamcorners.benchmarks import Benchmark, BenchmarkError, DATASET_NAMES
from siamcorners.benchmarks.report import format_latex
from siamcorners.benchmarks.textio import atomic_write_text


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--dataset-root", required=True, help="dataset folder (raw layout or with <NAME>.json)")
    p.add_argument("--format", default="auto", choices=["auto", "json", "raw"], help="annotation source")
    p.add_argument("--results", required=True, help="folder of tracker folders (results/ or results/<dataset>/)")
    p.add_argument("--trackers", help="comma-separated tracker folders (default: all)")
    p.add_argument("--protocol", choices=["pysot", "got10k"], help="default: pysot (got10k for GOT-10k)")
    p.add_argument("--on-mismatch", default="error", choices=["error", "truncate"],
                   help="result length != ground truth: error, or cut both to the shorter")
    p.add_argument("--report-dir", help="where results.md/.csv/.json and plots go (default reports/<dataset>)")
    p.add_argument("--json", help="also write the JSON scores here")
    p.add_argument("--latex", metavar="FILE", help="also write the ranked table here as a booktabs LaTeX table")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        bench = Benchmark(args.dataset, args.dataset_root, args.results, fmt=args.format)
        trackers = [t.strip() for t in args.trackers.split(",") if t.strip()] if args.trackers else None
        evals = bench.evaluate(trackers, protocol=args.protocol, on_mismatch=args.on_mismatch)
        print(f"{bench.dataset.name}: {len(bench.dataset)} videos, {evals[0].protocol} protocol")
        print(bench.table(evals))
        report_dir = args.report_dir or os.path.join("reports", bench.dataset.name)
        paths = bench.save_report(evals, report_dir, plots=not args.no_plots)
        plots = f"; {len(paths['plots'])} plot files in {report_dir}/plots" if "plots" in paths else ""
        print(f"report: {paths['md']}, {paths['csv']}, {paths['json']}{plots}")
        if args.json:
            atomic_write_text(args.json, json.dumps(bench.to_json(evals), indent=1))
            print(f"json: {args.json}")
        if args.latex:
            caption = f"{bench.dataset.name} ({evals[0].protocol} protocol)"
            atomic_write_text(args.latex, format_latex(evals, caption=caption))
            print(f"latex: {args.latex}")
    except BenchmarkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
