"""`tools/benchmark.py gpu-check`: exit 2 without CUDA; its checks run here on the CPU (gloo instead of NCCL, the
CPU provider of ONNX Runtime) so that their code is exercised before a GPU ever runs them."""
import importlib.util
import os

import pytest
import torch

from siamcorners.engine.profiling import gpu_check as gc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU = torch.device("cpu")
TINY_OPTS = ("MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.LEVELS", "[4]",
             "MODEL.NECK.OUT_CHANNELS", "32", "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16")


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


@pytest.mark.slow
def test_checks_run_on_the_cpu_and_render():
    results = {
        "amp_train_step": gc.check_amp_train_step(CPU, batch=2, iters=1, warmup=0, cfg_path=gc.TINY_CFG),
        "amp_trainer": gc.check_amp_trainer(CPU),
        "nccl_ddp_step": gc.check_nccl_ddp_step(CPU),
        "cuda_events": gc.check_cuda_events(CPU),
        "device_crop": gc.check_device_crop(CPU),
        "onnxruntime": gc.check_onnxruntime(CPU, wanted=("CPUExecutionProvider",), opts=TINY_OPTS),
    }
    for name, res in results.items():
        assert res["ok"] is True, (name, res["detail"])
    assert "backend gloo" in results["nccl_ddp_step"]["detail"]
    assert "max |GPU - CPU| = 0 " in results["device_crop"]["detail"]
    assert "CPUExecutionProvider (session uses CPUExecutionProvider)" in results["onnxruntime"]["detail"]
    results["onnxruntime_gpu"] = gc.check_onnxruntime(CPU, wanted=("NoSuchExecutionProvider",))
    assert results["onnxruntime_gpu"]["ok"] is None and "skipped" in results["onnxruntime_gpu"]["detail"]
    results["broken"] = {"ok": False, "detail": "RuntimeError: example"}
    report = {"machine": {"gpu": "test GPU", "cpu": "test CPU", "torch": torch.__version__}, "device": "cpu",
              "results": results, "gpu_memory_gib": 1.0, "cuda": None, "cudnn": None}
    text = gc.gpu_markdown(report, "python tools/benchmark.py gpu-check")
    assert "| nccl_ddp_step | pass |" in text and "| onnxruntime_gpu | skipped |" in text
    assert "| broken | **FAIL** | RuntimeError: example |" in text
