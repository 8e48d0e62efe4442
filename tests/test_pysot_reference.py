"""The pysot timing reference (tools/benchmark.py speed --pysot DIR) drives a pysot checkout's own modules."""
import sys

import numpy as np
import pytest

from siamcorners.engine.profiling.pysot_reference import PYSOT_CONFIG, PysotTracker

FAKE = {
    "pysot/__init__.py": "",
    "pysot/core/__init__.py": "",
    "pysot/core/config.py": (
        "class _Cfg:\n"
        "    CUDA = True\n"
        "    merged = None\n"
        "    def merge_from_file(self, path):\n"
        "        self.merged = path\n"
        "cfg = _Cfg()\n"),
    "pysot/models/__init__.py": "",
    "pysot/models/model_builder.py": (
        "import torch\n"
        "class ModelBuilder(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = torch.nn.Parameter(torch.zeros(1))\n"),
    "pysot/tracker/__init__.py": "",
    "pysot/tracker/tracker_builder.py": (
        "import numpy as np\n"
        "class _T:\n"
        "    def __init__(self, model):\n"
        "        self.model = model\n"
        "        self.seen = []\n"
        "    def init(self, img, bbox):\n"
        "        self.center_pos = np.array([bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2])\n"
        "        self.size = np.array([bbox[2], bbox[3]], dtype=float)\n"
        "    def track(self, img):\n"
        "        self.seen.append((self.center_pos.copy(), self.size.copy()))\n"
        "        self.center_pos = self.center_pos - 50  # a random-weight RPN drifts away\n"
        "        self.size = self.size * 0.1\n"
        "        return {'bbox': [0.0, 0.0, 10.0, 10.0], 'best_score': 0.5}\n"
        "def build_tracker(model):\n"
        "    return _T(model)\n"),
    PYSOT_CONFIG: "META_ARC: siamrpn_r50_l234_dwxcorr\n",
}


@pytest.fixture()
def fake_pysot(tmp_path):
    for rel, text in FAKE.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    yield tmp_path
    for name in [m for m in sys.modules if m == "pysot" or m.startswith("pysot.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p != str(tmp_path)]


def test_tracks_normally_by_default(fake_pysot):
    """As a user runs pysot: each frame starts from the state the previous frame left (issue 18: the speed
    comparison the way a user would run it)."""
    t = PysotTracker(str(fake_pysot), "cpu")
    frame = np.zeros((240, 320, 3), np.uint8)
    t.init(frame, [100, 80, 40, 60])
    for _ in range(3):
        t.track(frame)
    centers = [c.tolist() for c, _ in t.tracker.seen]
    sizes = [s.tolist() for _, s in t.tracker.seen]
    assert centers == [[120, 110], [70, 60], [20, 10]]
    np.testing.assert_allclose(sizes, [[40, 60], [4, 6], [0.4, 0.6]])


def test_state_is_put_back_on_the_initial_box_every_frame_with_reset(fake_pysot):
    t = PysotTracker(str(fake_pysot), "cpu", reset=True)
    assert t.tracker.model is t.model and not t.model.training
    import pysot.core.config as c
    assert c.cfg.merged == str(fake_pysot / PYSOT_CONFIG) and c.cfg.CUDA is False  # CPU run: no .cuda() in pysot
    frame = np.zeros((240, 320, 3), np.uint8)
    t.init(frame, [100, 80, 40, 60])
    for _ in range(3):
        assert t.track(frame)["bbox"] == [0.0, 0.0, 10.0, 10.0]
    for center, size in t.tracker.seen:  # every frame cropped around the initial box, not the drifted one
        np.testing.assert_allclose(center, [120, 110])
        np.testing.assert_allclose(size, [40, 60])


def test_not_a_checkout_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a pysot checkout"):
        PysotTracker(str(tmp_path))


def test_track_before_init_is_a_clear_error(fake_pysot):
    with pytest.raises(RuntimeError, match="init first"):
        PysotTracker(str(fake_pysot)).track(np.zeros((4, 4, 3), np.uint8))
