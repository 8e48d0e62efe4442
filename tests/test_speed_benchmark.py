"""The speed benchmark's pieces: stage breakdown, markdown section handling, the `speed` subcommand."""
import importlib.util
import os
import sys

import numpy as np
import pytest
import torch

from siamcorners.config import load_config
from test_pysot_reference import FAKE as FAKE_PYSOT
from siamcorners.data.synthetic import make_video
from siamcorners.engine.profiling.speed import (BACKBONE_STAGES, SECTION_BEGIN, SECTION_END, StageClock,
                                      conditioned_random_model, cpu_has_bf16_unit, machine_info, profile_components,
                                      write_markdown_section)
from siamcorners.models import build_model
from siamcorners.models.runtime import InferenceSettings, InferenceSiamCorners
from siamcorners.tracker import SiamCornersTracker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.NECK.OUT_CHANNELS", "32",
        "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16", "DEVICE", "cpu"]


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def video():
    v = make_video(3, num_frames=5, image_size=(200, 260))
    return [v.frame(i) for i in range(len(v))], v.gt[0].tolist()


def test_stage_clock_sums_repeated_stages():
    """Each stage gets the time since the previous mark; a stage met twice in a frame gets the sum of both."""
    clock = StageClock("cpu")
    ticks = iter([10.0, 11.0, 13.5, 17.5, 17.75])
    clock._now = lambda: next(ticks)  # a fake clock: marks at 10, 11, 13.5, 17.5, 17.75 s
    clock.start()
    clock("a")  # 1.0
    clock("b")  # 2.5
    clock("a")  # 4.0
    clock("c")  # 0.25
    assert clock.finish() == {"a": 5.0, "b": 2.5, "c": 0.25}
    # the real clock
    clock = StageClock("cpu")
    clock.start()
    clock("a")
    clock("b")
    clock("a")
    times = clock.finish()
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


@pytest.mark.parametrize("settings", [InferenceSettings(), InferenceSettings(precompute_template=False),
                                      InferenceSettings(batch_branches=True, sparse_offsets=True)],
                         ids=["plain", "template-per-frame", "batched-sparse"])
def test_profile_components_covers_every_stage(video, settings):
    frames, box = video
    torch.manual_seed(0)
    cfg = load_config(opts=TINY)
    model = build_model(cfg)
    tracker = SiamCornersTracker(model, cfg)
    tracker.model = InferenceSiamCorners(model, settings)
    times = profile_components(tracker, frames, box, warmup=1)
    expected = {"crop", "conv3", "conv4", "conv5", "neck", "xcorr", "corner_pool", "heat", "offsets", "decode",
                "post", "frame"} | ({"template"} if not settings.precompute_template else set())
    assert set(times) == expected
    assert times["frame"] >= sum(times[s] for s in BACKBONE_STAGES)
    assert tracker.stage_hook is None and tracker.model.stage_hook is None  # hooks removed afterwards


def test_conditioned_random_model_output_range(video):
    frames, box = video
    torch.manual_seed(0)
    cfg = load_config(opts=TINY)
    model = build_model(cfg)
    probe = SiamCornersTracker(model, cfg)
    z = probe.template_input(frames[0], box)
    x, _ = probe.search_input(frames[1])
    conditioned_random_model(model, z, x)
    assert not model.training
    with torch.no_grad():
        model.template(z)
        out = model.track(x)[0]
        heat = out["tl_heat"] - model.heads[0].tl_heat.out.bias.view(1, -1, 1, 1)
    assert 0.3 < float(heat.std()) < 5.0
    assert float(out["tl_off"].abs().max()) < 3.0


def test_markdown_section_replaced_in_place(tmp_path):
    path = str(tmp_path / "benchmarks.md")
    with open(path, "w") as f:
        f.write("# Benchmarks\n\n## Evaluation\n\nnumbers\n")
    write_markdown_section(path, "## Tracking speed\n\nfirst")
    write_markdown_section(path, "## Tracking speed\n\nsecond")
    text = _read(path)
    assert text.count(SECTION_BEGIN) == 1 and text.count(SECTION_END) == 1
    assert "## Evaluation\n\nnumbers" in text and "second" in text and "first" not in text
    with open(path, "a") as f:
        f.write("\n## Later section\n")
    write_markdown_section(path, "## Tracking speed\n\nthird")
    text = _read(path)
    assert "## Later section" in text and "third" in text and "second" not in text


def test_machine_line_names_the_vector_unit():
    # two VMs with the same CPU model name ran the same backbone 4x apart: the record must say which kernels ran
    cpu = machine_info("cpu")["cpu"]
    assert cpu.endswith(f"{os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()} kernels"), cpu


@pytest.mark.slow
def test_speed_subcommand_writes_its_section(tmp_path, shared_data_dir):
    spec = importlib.util.spec_from_file_location("benchmark_tool", os.path.join(ROOT, "tools", "benchmark.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / "benchmarks.md")
    rc = tool.main(["speed", "--opts"] + TINY[:-2] + ["--device", "cpu", "--threads", "0", "--frames", "4",
                    "--warmup", "1", "--batch-videos", "2", "--rounds", "2", "--sections", "switches",
                    "--video", os.path.join(shared_data_dir, "bag.avi"), "--out", out])
    assert rc == 0
    text = _read(out)
    for needle in ("Component breakdown", "bag.avi", "synthetic", "baseline", "optimised", "FOLD_BN",
                   "Batched multi-video", "not measured", "share of the backbone"):
        assert needle in text
    assert not np.isnan(float(text.split("| baseline | ")[1].split(" ")[0]))
    # bf16 autocast is timed only where the CPU does bf16 arithmetic; elsewhere the section says why it is missing
    emulated = cpu_has_bf16_unit() is False
    assert ("| AMP bf16 |" in text) != emulated and ("AMP bf16 is not timed here" in text) == emulated


@pytest.mark.slow
def test_speed_goal_and_precision_sections(tmp_path, shared_data_dir):
    """The issue-12 rows: frame vs plain backbone for eager / default / ONNX Runtime / bf16 / int8 and the
    held-out AUC of the tiny model, written in their own section beside the switches section."""
    pytest.importorskip("onnxruntime")
    spec = importlib.util.spec_from_file_location("benchmark_tool", os.path.join(ROOT, "tools", "benchmark.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / "benchmarks.md")
    write_markdown_section(out, "## Tracking speed\n\nswitches table")
    pysot = tmp_path / "pysot"  # a stand-in pysot checkout (tests/test_pysot_reference.py) for the --pysot row
    for rel, src in FAKE_PYSOT.items():
        (pysot / rel).parent.mkdir(parents=True, exist_ok=True)
        (pysot / rel).write_text(src)
    rc = tool.main(["speed", "--opts"] + TINY[:-2] + ["--threads", "0", "--frames", "4", "--warmup", "1",
                    "--rounds", "1", "--sections", "goal,precision", "--heldout-videos", "1",
                    "--heldout", str(tmp_path / "heldout"), "--json", "--pysot", str(pysot),
                    "--video", os.path.join(shared_data_dir, "bag.avi"), "--out", out])
    for name in [m for m in sys.modules if m == "pysot" or m.startswith("pysot.")]:
        del sys.modules[name]
    assert rc == 0
    text = _read(out)
    assert "switches table" in text  # the other section stays
    for needle in ("Plain eager backbone on the search crop", "| default (torch) |", "| onnxruntime |",
                   "| int8 (onnxruntime) |", "| bf16 (torch AMP) |", "success AUC", "vs onnxruntime",
                   "| pysot SiamRPN++ r50 (reference) |"):
        assert needle in text
    vs_pysot = text.split("| default (torch) | ")[1].split("\n")[0].split(" | ")[4]
    median, spread = vs_pysot.split(" ", 1)  # "1.23x (1.13-1.30)": median of the rounds' ratios (min-max)
    assert median.endswith("x") and float(median[:-1]) >= 0  # the stand-in tracks in no time
    low, high = (float(v) for v in spread.strip("()").split("-"))
    assert low <= float(median[:-1]) <= high
    ratio = float(text.split("| default (torch) | ")[1].split("**")[1].rstrip("x"))
    assert 0 < ratio < 100
    assert tool.main(["speed", "--sections", "goal,nope"]) == 2
