"""The shipped models (experiments/siamcorners_tiny_synthetic/model.pth, the quickstart's, and
experiments/siamcorners_cpu/model.pth, the demo's default) score what their READMEs say on a small held-out set, so a
regression anywhere on the tracking path (crops, network, decoding, post-processing, result files, metrics) shows up
in CI.

The set is the first 4 videos of the README's held-out set (``make_synthetic.py --videos 20 --seed 1``: video k is
``make_video((1, k))``), tracked and scored with the README's commands (tools/test.py, tools/eval.py). The README
states their success AUC and the tolerance (float rounding of another torch / OpenCV build); a tracker that
stops following the target falls to the static box's level (about 0.2) and fails by far.
"""
import json
import os

import pytest

from siamcorners.benchmarks import Benchmark
from siamcorners.cli import test as test_tool
from siamcorners.data.synthetic import write_otb_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
README_AUC_4 = 0.463        # experiments/siamcorners_tiny_synthetic/README.md, "CI check" row
TOLERANCE = 0.03            # ditto


def test_readme_states_the_checked_number():
    with open(os.path.join(EXPERIMENT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert f"| first 4 videos of `--videos 20 --seed 1` (CI check, tolerance ±{TOLERANCE}) | **{README_AUC_4:.3f}**" in text


def _held_out_auc(experiment: str, tmp_path, capsys) -> float:
    """Success AUC of ``experiment``'s model.pth on the first 4 videos of the README's held-out set."""
    data = str(tmp_path / "heldout")
    write_otb_dataset(data, 4, seed=1)
    rc = test_tool.main(["--cfg", os.path.join(experiment, "config.yaml"), "--snapshot",
                         os.path.join(experiment, "model.pth"), "--tracker-name", "shipped", "--dataset", "synthetic",
                         "--dataset-root", data, "--out", str(tmp_path / "results"), "--no-progress",
                         "--threads", "1"])
    assert rc == 0, capsys.readouterr().err
    bench = Benchmark("synthetic", data, str(tmp_path / "results" / "synthetic"))
    (evaluation,) = bench.evaluate(["shipped"])
    print(json.dumps(evaluation.per_video, indent=1))  # shown when the test fails
    return evaluation.scores["success_auc"]


def test_shipped_tiny_model_scores_its_readme_auc_on_held_out_videos(tmp_path, capsys):
    assert _held_out_auc(EXPERIMENT, tmp_path, capsys) == pytest.approx(README_AUC_4, abs=TOLERANCE)

CPU_EXPERIMENT = os.path.join(ROOT, "experiments", "siamcorners_cpu")
CPU_AUC_4 = 0.530           # experiments/siamcorners_cpu/README.md, CI check rows
CPU_AUC_FREEMAN1 = 0.373


def test_cpu_readme_states_the_checked_numbers():
    with open(os.path.join(CPU_EXPERIMENT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert f"| first 4 videos of `--videos 20 --seed 1` (CI check, tolerance ±{TOLERANCE}) | **{CPU_AUC_4:.3f}** |" in text
    assert f"tolerance ±{TOLERANCE}) | **{CPU_AUC_FREEMAN1:.3f}** |" in text


def test_shipped_cpu_model_scores_its_readme_auc_on_held_out_videos(tmp_path, capsys):
    assert _held_out_auc(CPU_EXPERIMENT, tmp_path, capsys) == pytest.approx(CPU_AUC_4, abs=TOLERANCE)

def test_shipped_cpu_model_scores_its_readme_auc_on_a_real_sequence(shared_data_dir):
    from siamcorners.engine.profiling.realvideo import realvideo_benchmark
    from siamcorners.engine.threads import apply_threads

    real = os.path.join(shared_data_dir, "real")
    if not os.path.isdir(os.path.join(real, "Freeman1")):
        pytest.skip(f"real sequences not found in {real}")
    apply_threads(1)
    r = realvideo_benchmark(real, os.path.join(CPU_EXPERIMENT, "config.yaml"),
                            os.path.join(CPU_EXPERIMENT, "model.pth"), trackers=["ours"], videos=["Freeman1"],
                            log=lambda line: None)
    assert r["rows"][0]["success_auc"] == pytest.approx(CPU_AUC_FREEMAN1, abs=TOLERANCE)
