"""CUDA code paths that need no GPU kernel, run on a CPU with a faked ``torch.cuda`` (conftest ``fake_gpus``): which
GPU a process selects, the TF32 flags of tracking, and how ``tools/test.py`` takes ``--device`` and ``--gpus``."""
import os
import textwrap

import cv2
import numpy as np
import pytest
import torch

from siamcorners.cli import test as test_tool
from siamcorners.config import load_config
from siamcorners.engine.tester import SiamCornersFactory
from siamcorners.models import build_model
from siamcorners.tracker import SiamCornersTracker

pytestmark = pytest.mark.floor  # also run with the minimum versions (CI's floor step, pytest.ini)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CFG = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
TINY_MODEL = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "model.pth")


# ------------------------------------------------------------------------------ one process on cuda:N
@pytest.fixture
def modules_stay_put(monkeypatch, fake_gpus):
    """Two fake GPUs; ``nn.Module.to`` records ("to", device) in the same call list instead of moving anything."""
    gpus = fake_gpus(2)

    def to(self, *args, **kwargs):
        gpus.calls.append(("to", str(args[0] if args else kwargs.get("device"))))
        return self

    monkeypatch.setattr(torch.nn.Module, "to", to)
    return gpus


def test_tracker_on_cuda_1_selects_gpu_1_before_any_cuda_work(modules_stay_put):
    """tools/test.py's worker builds its tracker with SiamCornersFactory: cuda:1 becomes the current device before
    the model moves, so nothing opens a second context on GPU 0 (set_device used to run only under torchrun)."""
    SiamCornersFactory(TINY_CFG, TINY_MODEL)("cuda:1")
    calls = modules_stay_put.calls
    assert calls and calls[0] == ("set_device", 1), calls
    assert ("to", "cuda:1") in calls


def test_training_process_on_cuda_1_selects_gpu_1(fake_gpus, monkeypatch):
    from siamcorners.engine.distributed import init_distributed

    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    gpus = fake_gpus(2)
    info = init_distributed("cuda:1")
    assert (info.world_size, str(info.device)) == (1, "cuda:1")
    assert gpus.calls == [("set_device", 1)]


# ------------------------------------------------------------------------------ TF32
@pytest.fixture
def tf32_flags():
    """The process-wide TF32 flags, restored after the test (torch 2.3's cuBLAS flag object does not monkeypatch)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("tf32", [False, True])
def test_building_a_tracker_sets_tf32_as_configured(tf32, tf32_flags):
    """INFERENCE.TF32 (default false): cuDNN allows TF32 by default, which can move boxes on a GPU."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not tf32
    opts = ["DEVICE", "cpu"] + (["INFERENCE.TF32", "true"] if tf32 else [])
    cfg = load_config(TINY_CFG, opts)
    SiamCornersTracker(build_model(cfg), cfg)
    assert torch.backends.cuda.matmul.allow_tf32 is tf32
    assert torch.backends.cudnn.allow_tf32 is tf32
    assert load_config(TINY_CFG).INFERENCE.TF32 is False  # the default


# ------------------------------------------------------------------------------ tools/test.py --device / --gpus
DEVICE_LOGGER = textwrap.dedent('''
    import os
    import time

    class Still:
        def init(self, frame, box):
            self.box = list(box)
        def track(self, frame):
            return {"bbox": self.box, "score": 1.0}

    def on(device):
        """Logs the device each tracker is built for to $DEVICE_LOG, then waits (30 s at most) until $DEVICE_WAIT
        trackers were built: a worker cannot finish every video before the others have started."""
        log = os.environ["DEVICE_LOG"]
        with open(log, "a") as f:
            f.write(f"{device}\\n")
        deadline = time.time() + 30
        while time.time() < deadline and len(open(log).read().split()) < int(os.environ.get("DEVICE_WAIT", "1")):
            time.sleep(0.05)
        return Still()
''')


@pytest.fixture
def device_logger(tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "device_logger.py").write_text(DEVICE_LOGGER)
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), ROOT, os.environ.get("PYTHONPATH", "")]))
    log = tmp_path / "devices.log"
    monkeypatch.setenv("DEVICE_LOG", str(log))
    data = tmp_path / "otb"
    for k, video in enumerate(("Alpha", "Beta", "Gamma")):
        os.makedirs(data / video / "img")
        for i in range(1, 4):
            cv2.imwrite(str(data / video / "img" / f"{i:04d}.jpg"), np.full((20, 24, 3), 40 * k, np.uint8))
        (data / video / "groundtruth_rect.txt").write_text("3,4,10,8\n" * 3)

    def run(*flags):
        rc = test_tool.main(["--tracker-factory", "device_logger:on", "--dataset", "OTB100", "--dataset-root",
                             str(data), "--out", str(tmp_path / "res"), "--no-progress", "--overwrite", *flags])
        devices = log.read_text().split() if log.exists() else []
        if log.exists():
            log.unlink()
        return rc, devices

    return run


def test_test_tool_takes_device(device_logger, fake_gpus, capsys):
    """--device as in train.py, demo.py and the VOT server (it was an argparse error)."""
    fake_gpus(2)
    assert device_logger("--device", "cuda:1") == (0, ["cuda:1"])
    assert device_logger("--device", "cuda") == (0, ["cuda"])
    assert device_logger("--device", "gpu") == (2, [])
    err = capsys.readouterr().err
    assert "error: --device gpu: not a device" in err and "Traceback" not in err
    assert device_logger("--device", "cuda:0", "--gpus", "0,1")[0] == 2
    assert "error: --device cuda:0 and --gpus 0,1: give one of them" in capsys.readouterr().err
    assert test_tool.main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "OTB100", "--dataset-root",
                           "nowhere", "--device", "cuda:7"]) == 2
    assert "error: --device cuda:7: no such GPU (PyTorch sees 2" in capsys.readouterr().err


def test_gpus_without_workers_runs_one_worker_per_gpu(device_logger, fake_gpus, capsys, monkeypatch):
    """--gpus 0,1 with the default worker count used GPU 0 only; now one worker per listed GPU (a worker builds its
    tracker once, on the device it takes)."""
    fake_gpus(2)
    monkeypatch.setenv("DEVICE_WAIT", "2")
    rc, devices = device_logger("--gpus", "0,1")
    assert rc == 0 and sorted(devices) == ["cuda:0", "cuda:1"]
    assert "--gpus 0,1: 2 workers, one per GPU" in capsys.readouterr().out


def test_fewer_workers_than_gpus_warns_which_stay_idle(device_logger, fake_gpus, capsys):
    fake_gpus(3)
    assert device_logger("--gpus", "0,1,2", "--workers", "1") == (0, ["cuda:0"])
    assert "warning: --workers 1 with --gpus 0,1,2: cuda:1, cuda:2 stay idle" in capsys.readouterr().err
