"""Batched multi-video tracking (K videos in lock-step, one forward per step) equals one-at-a-time tracking."""
import os

import numpy as np
import pytest
import torch

from siamcorners.config import load_config
from siamcorners.data.synthetic import make_video
from siamcorners.engine.profiling.speed import conditioned_random_model, load_video_frames
from siamcorners.engine.tester import track_video
from siamcorners.models import build_model
from siamcorners.tracker import SiamCornersTracker
from siamcorners.tracker.batched import track_batched

SMALL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.NECK.OUT_CHANNELS", "32",
         "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16", "DEVICE", "cpu"]
TOL_PX = 1e-2  # batched convolutions round differently from batch-1 ones


class _Seq:
    """The minimal benchmark-sequence interface track_video needs."""

    def __init__(self, name, frames, box):
        self.name, self.frames, self.init_box = name, frames, box

    def frame(self, i):
        return self.frames[i]


@pytest.fixture(scope="module")
def videos(shared_data_dir):
    """Videos of different lengths and frame sizes, colour and grayscale."""
    bag = load_video_frames(os.path.join(shared_data_dir, "bag.avi"), 5)
    out = [(bag, [200.0, 120.0, 80.0, 100.0])]
    for k, (n, hw) in enumerate([(7, (240, 320)), (3, (180, 200)), (6, (300, 260))]):
        v = make_video((7, k), num_frames=n, image_size=hw)
        frames = [v.frame(i) for i in range(n)]
        if k == 1:
            frames = [f[:, :, 0].copy() for f in frames]  # grayscale video
        out.append((frames, v.gt[0].tolist()))
    return out


@pytest.fixture(scope="module")
def model_cfg(videos):
    torch.manual_seed(0)
    cfg = load_config(opts=SMALL)
    model = build_model(cfg)
    probe = SiamCornersTracker(model, cfg)
    frames, box = videos[0]
    z = probe.template_input(frames[0], box)
    x, _ = probe.search_input(frames[0])
    return conditioned_random_model(model, z, x), cfg


def _sequential(tracker, videos):
    return [track_video(tracker, _Seq(str(i), f, b), init_rule="raw")[0] for i, (f, b) in enumerate(videos)]


@pytest.mark.parametrize("opts", [[], ["INFERENCE.BATCH_BRANCHES", "true", "INFERENCE.SPARSE_OFFSETS", "true",
                                       "INFERENCE.FOLD_BN", "true", "INFERENCE.DEVICE_CROP", "true"]],
                         ids=["plain", "switches"])
def test_batched_equals_sequential(model_cfg, videos, opts):
    model, _ = model_cfg
    cfg = load_config(opts=SMALL + opts)
    seq = _sequential(SiamCornersTracker(model, cfg), videos)
    out = track_batched(SiamCornersTracker(model, cfg), videos)
    assert len(out) == len(videos)
    for (boxes, times), ref, (frames, box) in zip(out, seq, videos):
        assert boxes.shape == (len(frames), 4) and times.shape == (len(frames),)
        np.testing.assert_array_equal(boxes[0], box)
        np.testing.assert_allclose(boxes, ref, atol=TOL_PX, rtol=0)
        assert np.all(times > 0)
    assert max(np.abs(np.diff(r, axis=0)).max() for r in seq) > 1.0  # the boxes really move


def test_batch_order_and_chunking_do_not_matter(model_cfg, videos):
    model, cfg = model_cfg
    tracker = SiamCornersTracker(model, cfg)
    full = track_batched(tracker, videos)
    rev = track_batched(tracker, videos[::-1])[::-1]
    pairs = track_batched(tracker, videos[:2]) + track_batched(tracker, videos[2:])
    for (a, _), (b, _), (c, _) in zip(full, rev, pairs):
        np.testing.assert_allclose(a, b, atol=TOL_PX, rtol=0)
        np.testing.assert_allclose(a, c, atol=TOL_PX, rtol=0)
    assert track_batched(tracker, []) == []


def test_test_tool_batch_videos_matches_sequential(tmp_path):
    """``tools/test.py --batch-videos 3`` writes the same result files as the one-at-a-time run."""
    import importlib.util

    from siamcorners.benchmarks.results import read_result
    from siamcorners.data.synthetic import write_otb_dataset
    from siamcorners.models.checkpoint import save_checkpoint

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tool = importlib.import_module("siamcorners.cli.test")
    data = str(tmp_path / "synthetic")
    names = write_otb_dataset(data, 3, seed=5, num_frames=4, image_size=(120, 160))
    cfg_path = os.path.join(root, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
    torch.manual_seed(0)
    snapshot = str(tmp_path / "tiny_random.pth")
    save_checkpoint(snapshot, build_model(load_config(cfg_path)))
    outs = {}
    for k in (1, 3):
        out = str(tmp_path / f"results{k}")
        rc = tool.main(["--cfg", cfg_path, "--snapshot", snapshot, "--dataset", "synthetic", "--dataset-root", data,
                        "--out", out, "--no-progress", "--batch-videos", str(k)])
        assert rc == 0
        outs[k] = out
    for name in names:
        a, b = (read_result(os.path.join(outs[k], "synthetic", "tiny_random", f"{name}.txt")) for k in (1, 3))
        assert a.shape == (4, 4)
        np.testing.assert_allclose(a, b, atol=TOL_PX, rtol=0)
    assert tool.main(["--cfg", cfg_path, "--snapshot", snapshot, "--dataset", "synthetic", "--dataset-root", data,
                      "--out", str(tmp_path / "bad"), "--batch-videos", "0"]) == 2
