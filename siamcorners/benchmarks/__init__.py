"""Benchmarks: dataset readers, result I/O, OPE metrics, reports and plots, and the `Benchmark` API."""
from .benchmark import Benchmark
from .evaluation import TrackerEvaluation, evaluate_tracker
from .registry import DATASET_NAMES, canonical_name, load_dataset
from .sequence import BenchmarkError, Dataset, Sequence

__all__ = ["Benchmark", "BenchmarkError", "DATASET_NAMES", "Dataset", "Sequence", "TrackerEvaluation",
           "canonical_name", "evaluate_tracker", "load_dataset"]
