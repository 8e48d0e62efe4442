"""Heat-map panels (issue 16: make it visible): TensorBoard images during training and tools/demo.py --heatmaps."""
import glob
import os

import cv2
import numpy as np
import pytest
import torch

from siamcorners.config import load_config
from siamcorners.engine.trainer import Trainer
from siamcorners.models.checkpoint import load_checkpoint
from siamcorners.engine.visualize import heat_overlay

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")


@pytest.mark.parametrize("stride, origin", [(10.2, 0.0), (8.0, 31.0)])
def test_heat_overlay_puts_a_cell_where_the_heat_geometry_says(stride, origin):
    heat = np.zeros((25, 25), np.float32)
    heat[7, 5] = 1.0  # cell x 5, y 7
    search = np.full((255, 255, 3), 128, np.uint8)
    over = heat_overlay(search, heat, stride, origin).astype(int)
    redness = over[..., 2] - over[..., 0]  # JET: hot = red
    y, x = np.unravel_index(np.argmax(redness), redness.shape)
    assert abs(x - (origin + stride * 5)) <= 1 and abs(y - (origin + stride * 7)) <= 1


def _train(tmp_path, every):
    cfg = load_config(TINY, ["OUTPUT_DIR", str(tmp_path), "TRAIN.EPOCHS", "1", "DATASET.VIDEOS_PER_EPOCH", "4",
                             "TRAIN.BATCH_SIZE", "2", "TRAIN.NUM_WORKERS", "0",
                             "TRAIN.IMAGE_SUMMARY_ITERS", str(every)])
    trainer = Trainer(cfg, progress=False)
    try:
        assert trainer.train()["iterations"] == 2
    finally:
        trainer.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "logs"), size_guidance={"images": 0})
    events.Reload()
    return events


def test_training_writes_image_summaries_of_fixed_pairs(tmp_path):
    events = _train(tmp_path, 1)
    tags = events.Tags()["images"]
    assert sorted(tags) == ["pairs/0", "pairs/1", "pairs/2", "pairs/3"]
    first, second = events.Images("pairs/0")
    assert (first.step, second.step) == (1, 2)
    # template grid | search | L4 pred TL, BR | target TL, BR; a 16-px label strip above each 255-px cell
    assert (first.width, first.height) == (6 * 255, 255 + 16)
    a = cv2.imdecode(np.frombuffer(first.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    b = cv2.imdecode(np.frombuffer(second.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    search, targets = slice(255, 510), slice(4 * 255, 6 * 255)
    assert np.array_equal(a[:, search], b[:, search]) and np.array_equal(a[:, targets], b[:, targets])  # same pair
    assert not np.array_equal(a[:, 510:1020], b[:, 510:1020])  # the prediction changed with the step


def test_image_summaries_off_and_they_do_not_change_training(tmp_path):
    assert _train(tmp_path / "off", 0).Tags()["images"] == []
    _train(tmp_path / "on", 1)
    off = load_checkpoint(str(tmp_path / "off" / "snapshot" / "checkpoint_e1.pth"))["model"]
    on = load_checkpoint(str(tmp_path / "on" / "snapshot" / "checkpoint_e1.pth"))["model"]
    assert off.keys() == on.keys() and all(torch.equal(off[k], on[k]) for k in off)  # BN statistics included


def test_demo_heatmaps_writes_a_panel_per_frame(tmp_path, capsys):
    from siamcorners.cli import demo

    folder = tmp_path / "panels"
    assert demo.main(["--frames", "4", "--out", "", "--threads", "1", "--heatmaps", str(folder)]) == 0
    plain = capsys.readouterr().out
    paths = sorted(glob.glob(str(folder / "*.png")))
    assert [os.path.basename(p) for p in paths] == [f"{i:06d}.png" for i in range(4)]
    init, tracked = cv2.imread(paths[0]), cv2.imread(paths[-1])
    assert init.shape == (255 + 16, 2 * 255, 3)            # templates (and an empty search cell) at init
    assert tracked.shape == (255 + 16, 4 * 255, 3)         # template | search | L4 pred TL | L4 pred BR
    assert "wrote 4 heat-map panels" in plain
    # the panels do not change the tracking: same IoU line as a run without them
    assert demo.main(["--frames", "4", "--out", "", "--gif", str(tmp_path / "a.gif"), "--threads", "1"]) == 0
    iou = [line for line in capsys.readouterr().out.splitlines() if line.startswith("mean IoU")]
    assert iou and iou[0] in plain


def test_demo_heatmaps_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    from siamcorners.cli import demo

    (tmp_path / "taken").write_text("x")
    assert demo.main(["--frames", "3", "--out", "", "--heatmaps", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --heatmaps") and "is a file" in err
