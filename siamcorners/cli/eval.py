"""Score tracker results with the pysot-toolkit OPE conventions (or the got10k toolkit's).

examples:
    python tools/eval.py --dataset OTB100 --dataset-root /data/OTB100 --results results/OTB100 \\
        [--trackers a,b] [--protocol pysot|got10k] [--on-mismatch error|truncate] [--json scores.json] \\
        [--latex table.tex]
    python tools/eval.py --tracker_path ./results --dataset OTB100 --num 4 --tracker_prefix model -s   # pysot style

Prints a ranked table (Success AUC / Norm Precision @0.20 / Precision @20 px; GOT-10k: AO / SR0.5 / SR0.75)
and writes results.md, results.csv, results.json and plots (PNG + PDF, overall and per attribute) into
``--report-dir`` (default ``reports/<dataset>``). Without ``--dataset-root`` the pysot layout
``testing_dataset/<NAME>`` is used when it exists. Errors are one line (exit code 2); --debug shows the traceback.
Results whose ``<tracker>.fingerprint.json`` (written by tools/test.py) records another ground truth for a video
than the dataset scored here are refused (results of another dataset under the same video names); results without
that record are scored as before. An eval holds its report folder while it runs: another eval writing there with
other inputs is refused, one with the same inputs waits for it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from siamcorners.benchmarks import Benchmark, BenchmarkError, DATASET_NAMES
from siamcorners.benchmarks.report import format_latex
from siamcorners.benchmarks.textio import atomic_write_text
from siamcorners.cli.common import UserError, add_common_args, check_output_dir, check_output_file, run_guarded
from siamcorners.engine.claims import claim


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", "-d", required=True, help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--dataset-root", help="dataset folder (raw layout or with <NAME>.json; default: "
                                          "testing_dataset/<NAME> when it exists, as in pysot)")
    p.add_argument("--format", default="auto", choices=["auto", "json", "raw"], help="annotation source")
    p.add_argument("--trimmed-copy", action="store_true", help="OTB-layout image folders may hold only the first K "
                   "images of a video (a trimmed copy): use the first K ground-truth rows (else an error)")
    p.add_argument("--results", "--tracker_path", "-p", dest="results", default="results",
                   help="folder of tracker folders (results/ or results/<dataset>/; default: results); "
                        "--tracker_path/-p is pysot's name")
    p.add_argument("--trackers", help="comma-separated tracker folders (default: all)")
    p.add_argument("--tracker_prefix", "--tracker-prefix", "-t", default="",
                   help="only the tracker folders whose name starts with this (pysot)")
    p.add_argument("--num", "-n", type=int, default=1, help="worker processes, one tracker each (pysot)")
    p.add_argument("--show_video_level", "--show-video-level", "-s", action="store_true",
                   help="also print a per-video table (pysot)")
    p.add_argument("--protocol", choices=["pysot", "got10k"], help="default: pysot (got10k for GOT-10k)")
    p.add_argument("--on-mismatch", default="error", choices=["error", "truncate"],
                   help="result length != ground truth: error, or cut both to the shorter")
    p.add_argument("--report-dir", help="where results.md/.csv/.json and plots go (default reports/<dataset>)")
    p.add_argument("--json", help="also write the JSON scores here")
    p.add_argument("--latex", metavar="FILE", help="also write the ranked table here as a booktabs LaTeX table")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    add_common_args(p)
    return p.parse_args(argv)


def _has_files(folder: str) -> bool:
    return any(files for _, _, files in os.walk(folder))


def select_trackers(bench: Benchmark, results: str, names: str | None, prefix: str) -> list[str]:
    """The tracker folders to score: ``--trackers`` (in that order) or all, filtered by ``--tracker_prefix``;
    a folder without any file is an error naming it."""
    folder = bench._results(results)
    available = bench.trackers(results)
    chosen = [t.strip() for t in names.split(",") if t.strip()] if names else available
    if prefix:
        chosen = [t for t in chosen if t.startswith(prefix)]
        if not chosen:
            raise UserError(f"{folder}: no tracker folder starts with --tracker_prefix {prefix!r} "
                            f"(found: {', '.join(available) or 'none'})")
    if not chosen:
        raise BenchmarkError(f"{folder}: no tracker folders to evaluate")
    empty = [t for t in chosen if os.path.isdir(os.path.join(folder, t)) and not _has_files(os.path.join(folder, t))]
    if empty:
        others = [t for t in chosen if t not in empty]
        hint = f"--trackers {','.join(others)}" if others else "--trackers NAME[,NAME...]"
        raise UserError(f"{os.path.join(folder, empty[0])}: tracker folder has no result files"
                        f"{f' (also empty: {len(empty) - 1} more)' if len(empty) > 1 else ''}; "
                        f"choose the trackers to evaluate with {hint}")
    return chosen


def check_groundtruth(bench: Benchmark, results: str, names: list[str]) -> None:
    """Refuse a tracker whose fingerprint records another ground truth than ``bench``'s for a video it has (where
    tools/test.py recorded one; older results carry no record and are scored as before)."""
    from siamcorners.engine.fingerprint import dataset_fingerprint, groundtruth_differences
    from siamcorners.engine.run_dirs import fingerprint_path

    folder = bench._results(results)
    mine = None
    for name in names:
        try:
            with open(fingerprint_path(folder, name), "r", encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError):
            continue
        recorded = saved.get("dataset") if isinstance(saved, dict) else None
        if not isinstance(recorded, dict) or not isinstance(recorded.get("groundtruth"), dict):
            continue
        mine = mine or dataset_fingerprint(bench.dataset)
        changed = groundtruth_differences(recorded["groundtruth"], mine["groundtruth"])
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise UserError(f"{os.path.join(folder, name)}: results were tracked on {recorded.get('root')} whose "
                            f"ground truth differs from {mine['root']}'s in {len(changed)} video(s) "
                            f"({', '.join(changed[:3])}{more}); they belong to another dataset with the same video "
                            f"names: score them with --dataset-root {recorded.get('root')}, or track this dataset")


def _setup_differences(old, new) -> list[str]:
    return [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _ignore_sigint() -> None:  # Ctrl-C reaches the parent, which reports it once
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _evaluate_one(job):
    from siamcorners.benchmarks.evaluation import evaluate_tracker

    dataset, path, name, protocol, on_mismatch = job
    return evaluate_tracker(dataset, path, name, protocol, on_mismatch)


def evaluate(bench: Benchmark, results: str, names: list[str], protocol, on_mismatch: str, workers: int):
    """Score the trackers, ``workers`` processes at a time (pysot's ``--num``)."""
    if workers <= 1 or len(names) <= 1:
        return bench.evaluate(names, results, protocol=protocol, on_mismatch=on_mismatch)
    from concurrent.futures import ProcessPoolExecutor

    folder = bench._results(results)
    for name in names:
        if not os.path.isdir(os.path.join(folder, name)):
            raise BenchmarkError(f"{os.path.join(folder, name)}: tracker folder not found")
    jobs = [(bench.dataset, os.path.join(folder, n), n, protocol, on_mismatch) for n in names]
    with ProcessPoolExecutor(min(workers, len(names)), initializer=_ignore_sigint) as pool:
        return list(pool.map(_evaluate_one, jobs))


def video_table(evals) -> str:
    """Per-video scores (pysot's ``--show_video_level``): success AUC and precision of each tracker."""
    from siamcorners.benchmarks.report import rank

    evals = rank(evals)
    got10k = evals[0].protocol == "got10k"
    keys = ("ao", "sr50") if got10k else ("success_auc", "precision")
    heads = ("AO", "SR0.5") if got10k else ("Success", "Prec.")
    width = max(12, *(len(e.tracker) for e in evals))
    name_w = max(5, *(len(v) for v in evals[0].videos))
    lines = [f"{'':{name_w}s} " + " ".join(f"{e.tracker:^{width}s}" for e in evals),
             f"{'Video':{name_w}s} " + " ".join(f"{heads[0]:>{width // 2}s}{heads[1]:>{width - width // 2}s}"
                                                 for _ in evals)]
    for video in evals[0].videos:
        cells = []
        for e in evals:
            row = e.per_video.get(video, {})
            a, b = (row.get(k) for k in keys)
            fa = "-" if a is None else f"{a:.3f}"
            fb = "-" if b is None else f"{b:.3f}"
            cells.append(f"{fa:>{width // 2}s}{fb:>{width - width // 2}s}")
        lines.append(f"{video:{name_w}s} " + " ".join(cells))
    return "\n".join(lines)


def _run(args) -> int:
    from siamcorners.cli.test import default_dataset_root

    report_dir = args.report_dir
    if args.report_dir:
        check_output_dir(args.report_dir, "--report-dir")
    if args.json:
        check_output_file(args.json, "--json")
    if args.latex:
        check_output_file(args.latex, "--latex")
    root = args.dataset_root
    if root is None:
        root = default_dataset_root(args.dataset)
        if root is None:
            raise UserError(f"--dataset-root is required: testing_dataset/{args.dataset} (pysot's default) "
                            f"does not exist in {os.getcwd()}")
        print(f"dataset root: {root} (default testing_dataset/<NAME>; give --dataset-root to change it)")
    if args.num < 1:
        raise UserError(f"--num must be >= 1, got {args.num}")
    bench = Benchmark(args.dataset, root, args.results, fmt=args.format, trimmed=args.trimmed_copy)
    report_dir = report_dir or os.path.join("reports", bench.dataset.name)
    check_output_dir(report_dir, "report folder")
    trackers = select_trackers(bench, args.results, args.trackers, args.tracker_prefix)
    check_groundtruth(bench, args.results, trackers)
    setup = {"dataset": bench.dataset.name, "dataset root": os.path.realpath(root),
             "results": os.path.realpath(bench._results(args.results)), "trackers": trackers,
             "protocol": args.protocol, "on mismatch": args.on_mismatch, "plots": not args.no_plots}
    with claim(report_dir, "report", setup, f"report folder {report_dir}", wait=True,
               describe=_setup_differences, how="give another --report-dir"):
        return _score_and_report(args, bench, trackers, report_dir)


def _score_and_report(args, bench: Benchmark, trackers: list[str], report_dir: str) -> int:
    evals = evaluate(bench, args.results, trackers, args.protocol, args.on_mismatch, args.num)
    print(f"{bench.dataset.name}: {len(bench.dataset)} videos, {evals[0].protocol} protocol")
    print(bench.table(evals))
    if args.show_video_level:
        print(video_table(evals))
    paths = bench.save_report(evals, report_dir, plots=not args.no_plots)
    plots = f"; {len(paths['plots'])} plot files in {os.path.join(report_dir, 'plots')}" if "plots" in paths else ""
    print(f"reports written to {report_dir}: {paths['md']}, {paths['csv']}, {paths['json']}{plots}")
    if args.json:
        atomic_write_text(args.json, json.dumps(bench.to_json(evals), indent=1))
        print(f"json: {args.json}")
    if args.latex:
        caption = f"{bench.dataset.name} ({evals[0].protocol} protocol)"
        atomic_write_text(args.latex, format_latex(evals, caption=caption))
        print(f"latex: {args.latex}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda: _run(args), args, tool="eval", argv=argv,
                       resume_hint=lambda: "no report was written")


if __name__ == "__main__":
    sys.exit(main())
