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
