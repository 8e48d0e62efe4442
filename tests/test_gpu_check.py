"""`tools/benchmark.py gpu-check` on a CPU machine: exit 2 without CUDA; with the GPU-only parts faked, a failing
row fails the command (rc 1, the row named) and torch's thread count is restored; every pass rule (the ``judge_*``
functions) rejects what its row must catch; the real rows run on the CPU and do not pass there (a CPU stand-in
proves nothing about a GPU)."""
import importlib.util
import math
import os

import numpy as np
import pytest
import torch

from siamcorners.engine.profiling import gpu_check as gc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU = torch.device("cpu")
TINY_OPTS = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.LEVELS", "[4]",
             "MODEL.NECK.OUT_CHANNELS", "32", "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16"]


def _tool():
    spec = importlib.util.spec_from_file_location("benchmark_tool", os.path.join(ROOT, "tools", "benchmark.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: gpu-check would run for real")
def test_gpu_check_without_cuda_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "benchmarks.md"
    assert _tool().main(["gpu-check", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CUDA device") and "nothing was run" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.fixture
def fake_gpu(monkeypatch):
    """The GPU-only parts of the runner faked: the device check and the GPU description."""
    monkeypatch.setattr(gc, "_require_cuda", lambda device: torch.device("cpu"))
    monkeypatch.setattr(gc, "_gpu_info", lambda dev: {
        "machine": {"gpu": "fake GPU", "cpu": "test CPU", "torch": torch.__version__},
        "gpu_memory_gib": 80.0, "cuda": "12.x", "cudnn": 90000})
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _lowers_threads(ctx):
    torch.set_num_threads(1)  # as the Trainer does with TRAIN.NUM_THREADS 1
    return gc.ok("threads lowered")


def _raises(ctx):
    raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore lines")


def test_a_failing_row_fails_the_command_and_is_named(fake_gpu, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gc, "ROWS", [("good", lambda ctx: gc.ok("checked 50 steps")), ("threads", _lowers_threads),
                                     ("one_gpu", lambda ctx: gc.skip("1 CUDA device visible")),
                                     ("amp_training", lambda ctx: gc.fail("the GradScaler's scale collapsed")),
                                     ("crashes", _raises), ("last", lambda ctx: gc.ok("still ran"))])
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\n{gc.GPU_BEGIN}\nold\n{gc.GPU_END}\n")
    assert _tool().main(["gpu-check", "--out", str(out), "--video", ""]) == 1
    err = capsys.readouterr().err
    assert "gpu-check: row amp_training FAILED: the GradScaler's scale collapsed" in err
    assert "gpu-check: row crashes FAILED: RuntimeError: CUDA error: an illegal memory access was encountered" in err
    assert "2 of 6 rows failed: amp_training, crashes" in err and "good" not in err and "one_gpu" not in err
    assert torch.get_num_threads() == 2                     # restored after the row that lowered it
    text = out.read_text()
    assert "| amp_training | **FAIL** | the GradScaler's scale collapsed |" in text
    assert "| one_gpu | skipped | 1 CUDA device visible |" in text and "| last | pass | still ran |" in text
    assert "old" not in text

    monkeypatch.setattr(gc, "ROWS", [("good", lambda ctx: gc.ok("fine")), ("one_gpu", lambda ctx: gc.skip("why"))])
    assert _tool().main(["gpu-check", "--video", ""]) == 0   # skips do not fail the command
    assert "FAILED" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the pass rules
def _amp(**changes):
    m = {"device": "cuda:0", "steps": 50, "losses": [2.0 - 0.01 * i for i in range(50)], "scales": [65536.0] * 50,
         "initial_scale": 65536.0, "conv_dtypes": {torch.float16, torch.float32}, "loss_fp32": 0.8100,
         "loss_amp": 0.8104, "error": None}
    m.update(changes)
    return gc.judge_amp_training(m)


@pytest.mark.parametrize("changes, words", [
    ({}, None),
    ({"device": "cpu"}, "not a CUDA device"),
    ({"conv_dtypes": {torch.float32}}, "AMP was not active"),
    ({"losses": [1.0] * 20 + [math.inf] + [1.0] * 29}, "loss inf at AMP step 21"),
    ({"error": "non-finite loss at epoch 0 iteration 3 (total=inf)", "losses": [1.0] * 3}, "stopped after 3 of 50"),
    ({"losses": [1.0] * 10, "scales": [65536.0] * 10}, "only 10 of 50"),
    ({"scales": [65536.0 / 2 ** (i + 1) for i in range(50)]}, "lowered its scale on 50 of 50"),
    ({"scales": [65536.0] * 45 + [2.0 ** 9] * 5}, None),                  # one big drop (tested next: collapse)
    ({"scales": [2.0 ** (15 - i) for i in range(5)] + [2.0 ** 9] * 45}, "lowered its scale on 6"),
    ({"loss_amp": 0.9, "loss_fp32": 0.81}, "relative difference"),
    ({"loss_amp": math.inf}, "relative difference"),
])
def test_amp_training_rule(changes, words):
    row = _amp(**changes)
    if changes == {"scales": [65536.0] * 45 + [2.0 ** 9] * 5}:
        assert row.status == "fail" and "collapsed: 65536 -> 512" in row.reason
    elif words is None:
        assert row.status == "ok", row.reason
        assert "50 fp16 AMP steps" in row.reason and "lowered on 0 steps" in row.reason
    else:
        assert row.status == "fail" and words in row.reason, row.reason


def _resume(**changes):
    first = {"losses": [3.0, 2.9], "start": (0, 0), "scale": 65536.0, "end_scale": 65536.0,
             "state_devices": [], "amp": True}
    resumed = {"losses": [2.8, 2.7], "start": (0, 2), "scale": 65536.0, "end_scale": 65536.0,
               "state_devices": ["cuda"], "amp": True}
    straight = {"losses": [3.0, 2.9, 2.8000001, 2.7], "start": (0, 0), "scale": 65536.0, "end_scale": 65536.0,
                "state_devices": [], "amp": True}
    resumed.update(changes)
    return gc.judge_resume({"device": "cuda:0", "first": first, "resumed": resumed, "straight": straight})


@pytest.mark.parametrize("changes, words", [
    ({}, None), ({"amp": False}, "AMP was not active"), ({"start": (0, 0)}, "expected (0, 2)"),
    ({"scale": 32768.0}, "scale after resume 32768.0 != saved 65536.0"),
    ({"state_devices": ["cpu"]}, "optimizer state after resume on ['cpu']"),
    ({"losses": [2.8, 2.6]}, "relative difference"), ({"losses": [2.8]}, "made 1 steps"),
])
def test_resume_rule(changes, words):
    row = _resume(**changes)
    assert (row.status == "ok") if words is None else (row.status == "fail" and words in row.reason), row.reason


def _ranks(**changes):
    steps = [{"epoch": e, "iteration": i, "loss": 1.0, "equal": True, "backbone_grads": 20 * e}
             for e in (0, 1) for i in (0, 1)]
    records = [{"rank": r, "backend": "nccl", "loss_scale": 2.0, "sync_bn": 12, "steps": [dict(s) for s in steps]}
               for r in (0, 1)]
    for key, value in changes.items():
        if key == "step":
            records[1]["steps"][value[0]].update(value[1])
        else:
            records[1][key] = value
    return gc.judge_nccl(records)


@pytest.mark.parametrize("changes, words", [
    ({}, None), ({"backend": "gloo"}, "not nccl"), ({"sync_bn": 0}, "no SyncBatchNorm"),
    ({"loss_scale": 1.0}, "GRAD_REDUCE sum"), ({"step": (3, {"equal": False})}, "weights differ"),
    ({"step": (2, {"backbone_grads": 0})}, "re-wrap"), ({"step": (0, {"backbone_grads": 3})}, "re-wrap"),
    ({"step": (1, {"loss": math.nan})}, "non-finite"),
])
def test_nccl_rule(changes, words):
    row = _ranks(**changes)
    assert (row.status == "ok") if words is None else (row.status == "fail" and words in row.reason), row.reason
    assert gc.judge_nccl([]).status == "fail"


@pytest.mark.parametrize("changes, words", [
    ({}, None), ({"device": "cpu"}, "not a CUDA device"), ({"dtypes": {torch.float32}}, "never in torch.float16"),
    ({"diffs": [0.0] * 8 + [5.0] * 2}, "on 80 %"), ({"finite": False}, "non-finite"), ({"diffs": []}, "no frame"),
    ({"precision": "bf16", "diffs": [1.5] * 10}, None), ({"diffs": [1.5] * 10}, "on 0 %"),
])
def test_box_agreement_rule(changes, words):
    m = {"device": "cuda:0", "what": "INFERENCE.AMP fp16", "precision": "fp16", "diffs": [0.01] * 9 + [3.0],
         "finite": True, "dtypes": {torch.float16, torch.float32}, "want_dtype": torch.float16, **changes}
    row = gc.judge_box_agreement(m)
    assert (row.status == "ok") if words is None else (row.status == "fail" and words in row.reason), row.reason
    ort = {"device": "cuda:1", "what": "onnxruntime backend", "diffs": [0.0], "finite": True,
           "runs_on": "CPUExecutionProvider", "want_runs_on": "CUDAExecutionProvider"}
    assert "sessions run on CPUExecutionProvider" in gc.judge_box_agreement(ort).reason


def test_workers_and_speed_rules():
    good = {"device": "cuda:0", "devices": ["cuda:0"], "videos": 4, "error": None, "max_diff": 0.0}
    assert gc.judge_workers(good).status == "ok"
    for bad, words in (({"max_diff": 0.3}, "differ by 0.3"), ({"max_diff": math.nan}, "differ"),
                       ({"error": "worker 2 of 2 (device cuda:0) could not build its tracker: ..."}, "worker 2")):
        row = gc.judge_workers({**good, **bad})
        assert row.status == "fail" and words in row.reason
    speed = {"device": "cuda:0", "fps": {"baseline / bag.avi": 80.0, "batched optimised": 150.0}, "gpu_fps": 90.0,
             "cpu_fps": 2.0, "markdown": "## speed"}
    assert gc.judge_speed(speed).status == "ok" and "45.0x" in gc.judge_speed(speed).reason
    assert gc.judge_speed({**speed, "gpu_fps": 5.0}).status == "fail"                  # 2.5x < the floor
    row = gc.judge_speed({**speed, "fps": {"baseline / bag.avi": math.nan}})
    assert row.status == "fail" and "baseline / bag.avi" in row.reason and row.markdown == "## speed"


# ------------------------------------------------------------------- the real rows on the CPU: never a pass
@pytest.mark.slow
def test_real_rows_run_on_the_cpu_and_do_not_pass_there(tmp_path):
    ctx = gc.CheckContext(CPU, None, frames=6, rounds=1, amp_steps=2, amp_profile=TINY_OPTS, tmp=str(tmp_path))
    amp = gc.measure_amp_training(ctx)
    assert len(amp["losses"]) == 2 and all(math.isfinite(v) for v in amp["losses"])
    assert amp["conv_dtypes"] == {torch.float32}           # the Trainer runs no AMP on a CPU ...
    assert "AMP was not active" in gc.judge_amp_training({**amp, "device": "cuda:0"}).reason  # ... and it is seen
    assert "not a CUDA device" in gc.judge_amp_training(amp).reason
    resume = gc.measure_resume(ctx)
    assert tuple(resume["resumed"]["start"]) == (0, 2) and len(resume["straight"]["losses"]) == 4
    assert "AMP was not active" in gc.judge_resume({**resume, "device": "cuda:0"}).reason
    workers = gc.measure_test_workers(ctx)                 # real worker processes; the factory refuses the CPU
    assert "runs on cpu, not a CUDA device" in workers["error"] and "worker" in workers["error"]
    for row in (gc.row_device_crop(ctx), gc.row_cuda_events(gc.CheckContext(CPU))):
        assert row.status == "fail" and "not a CUDA device" in row.reason, row
    assert gc.row_nccl(ctx).status == "skip" and "needs 2" in gc.row_nccl(ctx).reason
    bf16 = gc.measure_amp_tracking(ctx, "bf16")            # CPU autocast does run bf16: numbers, but no pass
    assert torch.bfloat16 in bf16["dtypes"] and np.all(np.isfinite(bf16["diffs"]))
    assert gc.judge_box_agreement(bf16).status == "fail"


@pytest.mark.slow
def test_onnxruntime_row_runs_our_backend_and_does_not_pass_on_the_cpu(tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    seen = {}
    judge = gc.judge_box_agreement
    monkeypatch.setattr(gc, "judge_box_agreement", lambda m: seen.update(m) or judge(m))
    row = gc.row_onnxruntime(gc.CheckContext(CPU, None, frames=6, tmp=str(tmp_path)))
    assert row.status == "fail" and "not a CUDA device" in row.reason
    assert seen["runs_on"] == "CPUExecutionProvider" != seen["want_runs_on"]     # the session that really ran
    assert len(seen["diffs"]) == 9 and max(seen["diffs"]) < 0.05 and seen["finite"]  # eager boxes
