import os

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SIAMCORNERS_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))


@pytest.fixture(scope="session")
def reference_dir():
    """shared/reference/ beside the checkout (parity fixtures, official state-dict layout)."""
    path = os.path.join(SHARED, "reference")
    if not os.path.isdir(path):
        pytest.skip(f"reference data not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_data_dir():
    """shared/data/ beside the checkout (OTB Dudek frames, bag.avi)."""
    path = os.path.join(SHARED, "data")
    if not os.path.isdir(path):
        pytest.skip(f"shared test data not found at {path}")
    return path


@pytest.fixture(scope="session")
def parity(reference_dir):
    def load(name):
        return np.load(os.path.join(reference_dir, "parity", name))
    return load


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)


class FakeGpus:
    """``torch.cuda`` as a process that sees ``count`` GPUs finds it, for CPU tests of the CUDA code paths that need no
    kernels: ``calls`` records ``("set_device", index)`` and ``("set_rng_state", index)`` in order (and a test may
    append its own events); the setters fail past the last device as the real ones do."""

    def __init__(self, monkeypatch, count: int):
        self.count = count
        self.calls: list = []
        self.rng: dict = {}  # device index -> the state set
        for name, value in (("is_available", lambda: True), ("device_count", lambda: count),
                            ("set_device", self.set_device), ("set_rng_state", self.set_rng_state),
                            ("set_rng_state_all", self.set_rng_state_all),
                            ("get_rng_state_all", lambda: [torch.full((16,), i, dtype=torch.uint8)
                                                           for i in range(count)])):
            monkeypatch.setattr(torch.cuda, name, value)

    @staticmethod
    def index(device) -> int:
        if isinstance(device, int):
            return device
        device = torch.device(device)
        return 0 if device.index is None else device.index

    def set_device(self, device) -> None:
        index = self.index(device)
        if index >= self.count:
            raise RuntimeError("CUDA error: invalid device ordinal")
        self.calls.append(("set_device", index))

    def set_rng_state(self, state, device="cuda") -> None:
        index = self.index(device)
        if index >= self.count:
            raise IndexError("list index out of range")  # torch.cuda.default_generators[index]
        self.calls.append(("set_rng_state", index))
        self.rng[index] = state

    def set_rng_state_all(self, states) -> None:  # the real one: set_rng_state(state, i) for each saved state
        for i, state in enumerate(states):
            self.set_rng_state(state, i)


@pytest.fixture
def fake_gpus(monkeypatch):
    """``fake_gpus(count) -> FakeGpus``: torch.cuda pretends ``count`` GPUs are visible for the rest of the test."""
    return lambda count: FakeGpus(monkeypatch, count)
