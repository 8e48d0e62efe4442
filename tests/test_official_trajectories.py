"""The official profile reproduces the official test path frame by frame (tests/data/official_trajectories.npz,
recorded from the official code by tests/fixtures/record_official_trajectories.py; see tests/data/README.md)."""
import os
import shutil

import numpy as np
import pytest
import torch

from siamcorners.benchmarks.results import read_result
from siamcorners.config import load_config
from siamcorners.tracker import SiamCornersTracker
from fixtures import official_parity as op  # tests/fixtures (tests/ is on sys.path under pytest)

ROOT = op.ROOT
FIXTURE = os.path.join(ROOT, "tests", "data", "official_trajectories.npz")
TOL_PX = 0.05


@pytest.fixture(scope="module")
def official():
    with np.load(FIXTURE) as d:
        return {k: d[k] for k in d.files}


def _run_injected(opts=()):
    maps = op.injected_maps()
    tracker = SiamCornersTracker(op.InjectedNet(maps), load_config(opts=["DEVICE", "cpu", *opts]))
    tracker.init(op.injected_frame(), list(op.INJECTED_INIT))
    outs, states = [], []
    for _ in range(maps["tl_heat"].shape[0]):
        outs.append(tracker.track(op.injected_frame()))
        states.append((tracker.center.copy(), tracker.size.copy()))
    return outs, states


@pytest.mark.floor
def test_injected_outputs_match_official_including_frames_without_a_valid_pair(official):
    outs, _ = _run_injected()
    scores = np.array([o["score"] for o in outs])
    np.testing.assert_array_equal(scores == -1, official["injected_best_score"] == -1)
    assert (scores == -1).sum() == 3  # frames 2, 4, 5: every pair of every level rejected
    np.testing.assert_allclose(scores, official["injected_best_score"], rtol=0, atol=1e-6)
    np.testing.assert_allclose([o["bbox"] for o in outs], official["injected_boxes"], rtol=0, atol=1e-3)


def test_no_valid_pair_official_extrapolates_and_hold_keeps_the_state(official):
    """With every pair rejected the official rate penalty * (-1) * LR is negative: the size moves away from
    the chosen (rejected) box; "hold" keeps the previous box instead and reports score -1."""
    outs, _ = _run_injected()
    held, held_states = _run_injected(["TRACK.NO_VALID_PAIR", "hold"])
    for f in (1, 3, 4):                       # 0-based track calls whose pairs are all rejected
        assert held[f]["score"] == -1
        assert held[f]["bbox"] == pytest.approx(held[f - 1]["bbox"])
        assert np.abs(np.subtract(outs[f]["bbox"], held[f]["bbox"])).max() > 1.0
    assert held[0]["bbox"] == pytest.approx(outs[0]["bbox"])  # identical until the first frame without a pair
    w_prev = outs[0]["bbox"][2]
    assert outs[1]["bbox"][2] > w_prev       # official: the box grows away from the rejected (negative) width


@pytest.mark.slow
def test_official_profile_reproduces_official_test_py_on_real_frames(official, shared_data_dir, tmp_path):
    """Seeded weights saved as an official checkpoint, converted with tools/convert_checkpoint.py and run through
    tools/test.py with the official profile: every line of Dudek.txt (20 frames) and bag.txt (30 bag.avi frames)
    equals what the official tools/test.py wrote (frame 0 included), within 0.05 px."""
    import importlib.util

    from siamcorners.cli import test as test_cli

    spec = importlib.util.spec_from_file_location("convert_checkpoint", os.path.join(ROOT, "tools", "convert_checkpoint.py"))
    convert_checkpoint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert_checkpoint)

    root = tmp_path / "otb"
    bag_paths = op.write_bag_sequence(shared_data_dir, str(root))
    if not np.array_equal(op.frame_digests(bag_paths), official["bag_frame_digest"]):
        pytest.skip("this OpenCV decodes/encodes bag.avi differently from the recording's; frames differ")
    shutil.copytree(os.path.join(shared_data_dir, "otb_mini", "Dudek"), root / "Dudek")
    assert np.array_equal(op.frame_digests(op.dudek_frames(shared_data_dir)), official["Dudek_frame_digest"])

    model, _ = op.seeded_official_model(shared_data_dir)
    official_ckpt, ours = str(tmp_path / "seeded_official.pth"), str(tmp_path / "seeded.pth")
    op.save_official_checkpoint(model, official_ckpt)
    del model
    assert convert_checkpoint.main([official_ckpt, ours]) == 0
    out = str(tmp_path / "results")
    rc = test_cli.main(["--cfg", op.OFFICIAL_CFG, "--snapshot", ours, "--opts", "DEVICE", "cpu",
                        "--dataset", "OTB100", "--dataset-root", str(root), "--out", out, "--no-progress"])
    assert rc == 0
    for name in ("Dudek", "bag"):
        boxes = read_result(os.path.join(out, "OTB100", "seeded", f"{name}.txt"))
        expected = official[f"{name}_boxes"]
        assert boxes.shape == expected.shape, name
        diff = np.abs(boxes - expected).max(axis=1)
        assert diff.max() <= TOL_PX, f"{name}: frames {np.nonzero(diff > TOL_PX)[0].tolist()} differ " \
                                     f"by up to {diff.max():.3f} px"
