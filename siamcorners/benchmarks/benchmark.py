"""`Benchmark`: the Python API behind ``tools/test.py`` and ``tools/eval.py``.

Example (a notebook)::

    bench = Benchmark("OTB100", "/data/OTB100", results_dir="results/OTB100")
    bench.run(my_tracker_factory, "mytracker")          # writes results/OTB100/mytracker/<video>.txt
    evals = bench.evaluate()                            # every tracker folder in results_dir
    print(bench.table(evals)); bench.save_report(evals, "reports/OTB100")
"""
from __future__ import annotations

import os
from typing import Sequence as _Seq

from .evaluation import TrackerEvaluation, evaluate_tracker
from .plots import plot_all
from .registry import load_dataset
from .report import format_console, to_json, write_reports
from .results import list_trackers
from .sequence import BenchmarkError, Dataset

__all__ = ["Benchmark"]


class Benchmark:
    """A dataset plus a results folder (``<results>/<tracker>/...``)."""

    def __init__(self, dataset: Dataset | str, root: str | None = None, results_dir: str | None = None,
                 fmt: str = "auto", trimmed: bool = False):
        if isinstance(dataset, str):
            if root is None:
                raise BenchmarkError(f"{dataset}: a dataset root is needed")
            dataset = load_dataset(dataset, root, fmt, trimmed)
        self.dataset = dataset
        self.results_dir = results_dir

    def _results(self, results_dir: str | None) -> str:
        folder = results_dir or self.results_dir
        if folder is None:
            raise BenchmarkError("no results folder given")
        nested = os.path.join(folder, self.dataset.name)  # accept results/ as well as results/<dataset>/
        return nested if os.path.isdir(nested) else folder

    def trackers(self, results_dir: str | None = None) -> list[str]:
        return list_trackers(self._results(results_dir))

    def run(self, tracker_factory, tracker_name: str, results_dir: str | None = None, **kwargs):
        """Run a tracker over the dataset (see `siamcorners.engine.tester.run_benchmark`)."""
        from ..engine.tester import run_benchmark

        folder = results_dir or self.results_dir
        if folder is None:
            raise BenchmarkError("no results folder given")
        return run_benchmark(self.dataset, tracker_factory, os.path.join(folder, tracker_name), **kwargs)

    def evaluate(self, trackers: _Seq[str] | None = None, results_dir: str | None = None,
                 protocol: str | None = None, on_mismatch: str = "error") -> list[TrackerEvaluation]:
        """Score each tracker folder (all of them when ``trackers`` is None)."""
        folder = self._results(results_dir)
        names = list(trackers) if trackers else list_trackers(folder)
        if not names:
            raise BenchmarkError(f"{folder}: no tracker folders to evaluate")
        out = []
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.isdir(path):
                raise BenchmarkError(f"{path}: tracker folder not found")
            out.append(evaluate_tracker(self.dataset, path, name, protocol, on_mismatch))
        return out

    @staticmethod
    def table(evaluations: _Seq[TrackerEvaluation]) -> str:
        return format_console(evaluations)

    @staticmethod
    def to_json(evaluations: _Seq[TrackerEvaluation]) -> dict:
        return to_json(evaluations)

    def save_report(self, evaluations: _Seq[TrackerEvaluation], folder: str, plots: bool = True) -> dict:
        """results.md / .csv / .json and (optionally) the plots under ``folder/plots``."""
        paths = write_reports(evaluations, folder, f"{self.dataset.name} ({evaluations[0].protocol} protocol)")
        if plots:
            paths["plots"] = plot_all(evaluations, os.path.join(folder, "plots"))
        return paths

