"""Fine-tuning on your own videos (issue 16 §6): tools/prepare/sequences.py turns OTB- and GOT-10k-layout folders into
the crop511 layout, the OWN source reads it, and a tiny run fine-tunes the shipped model on it."""
import importlib.util
import json
import math
import os
import shutil

import cv2
import numpy as np
import torch

from siamcorners.config import load_config
from siamcorners.data.datasets import build_source
from siamcorners.data.synthetic import write_otb_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
BOX = (40, 50, 30, 20)  # 0-based x, y, w, h of the white target: pixels x 40..69, y 50..69


def _frame(shift: int) -> np.ndarray:
    image = np.full((160, 200, 3), 60, np.uint8)
    x, y, w, h = BOX
    image[y:y + h, x + shift:x + shift + w] = 255
    return image


def _hand_made(raw) -> None:
    """The same 4-frame clip (the target moves 2 px right per frame) in both layouts."""
    otb, got = raw / "clips" / "walk_otb", raw / "clips" / "walk_got"
    (otb / "img").mkdir(parents=True)
    got.mkdir(parents=True)
    x, y, w, h = BOX
    otb_rows, got_rows = [], []
    for i in range(4):
        cv2.imwrite(str(otb / "img" / f"{i + 1:04d}.jpg"), _frame(2 * i), [cv2.IMWRITE_JPEG_QUALITY, 100])
        cv2.imwrite(str(got / f"{i + 1:08d}.jpg"), _frame(2 * i), [cv2.IMWRITE_JPEG_QUALITY, 100])
        otb_rows.append(f"{x + 2 * i + 1},{y + 1},{w},{h}")   # OTB: 1-based pixels
        got_rows.append(f"{x + 2 * i},{y},{w},{h}")           # GOT-10k: 0-based
    (otb / "groundtruth_rect.txt").write_text("\n".join(otb_rows) + "\n")
    (got / "groundtruth.txt").write_text("\n".join(got_rows) + "\n")
    (got / "absence.label").write_text("0\n1\n0\n0\n")        # frame 1: absent
    (got / "cover.label").write_text("8\n8\n0\n8\n")          # frame 2: fully occluded


class _Ran:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _prepare(src, out, capsys, workers=2):
    """tools/prepare/sequences.py in this process (its command line, exit code and output)."""
    spec = importlib.util.spec_from_file_location("prepare_sequences",
                                                  os.path.join(ROOT, "tools", "prepare", "sequences.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    capsys.readouterr()
    try:
        rc = tool.main(["--root", str(src), "--out", str(out), "--workers", str(workers)])
    except SystemExit as e:
        rc = e.code
    captured = capsys.readouterr()
    return _Ran(rc, captured.out, captured.err)


def test_prepare_own_sequences_both_layouts_crops_and_boxes(tmp_path, capsys):
    _hand_made(tmp_path)
    out = tmp_path / "own"
    r = _prepare(tmp_path / "clips", out, capsys)
    assert r.returncode == 0, r.stderr
    assert "6 crops written" in r.stdout  # 4 OTB frames + 2 GOT-10k frames (absent and occluded ones skipped)
    anno = json.loads((out / "train.json").read_text())
    assert sorted(anno) == ["walk_got", "walk_otb"]
    assert sorted(anno["walk_got"]["00"]) == ["000000", "000003"]
    x, y, w, h = BOX
    for video in ("walk_otb", "walk_got"):  # both layouts give the same 0-based [x1, y1, x2, y2]
        assert anno[video]["00"]["000003"] == [x + 6, y, x + 6 + w, y + h]
    cfg = load_config(os.path.join(TINY, "config.yaml"), ["DATASET.SOURCES.OWN.ROOT", str(out / "crop511"),
                                                          "DATASET.SOURCES.OWN.ANNO", str(out / "train.json")])
    source = build_source("OWN", cfg.DATASET.SOURCES.OWN)
    assert source.videos == ["walk_got", "walk_otb"]
    # hand-computed geometry: s_z = sqrt((w + p)(h + p)), p = (w + h) / 2; the 511 crop shows s_z * 511 / 127 px
    p = 0.5 * (w + h)
    scale = 127 / math.sqrt((w + p) * (h + p))
    for video, frame in (("walk_otb", 3), ("walk_got", 0)):
        target = next(t for t in (source.random_target(np.random.default_rng(k), source.videos.index(video))
                                  for k in range(50)) if t.frame == frame)
        crop, box = source.load(target)
        assert crop.shape == (511, 511, 3)
        np.testing.assert_allclose(box, [255 - w * scale / 2, 255 - h * scale / 2, 255 + w * scale / 2,
                                         255 + h * scale / 2], atol=1e-9)
        ys, xs = np.nonzero(crop[..., 0] > 160)  # the white target in the crop
        assert abs(xs.min() - box[0]) <= 2.5 and abs(xs.max() + 1 - box[2]) <= 2.5
        assert abs(ys.min() - box[1]) <= 2.5 and abs(ys.max() + 1 - box[3]) <= 2.5
    again = _prepare(tmp_path / "clips", out, capsys, workers=1)  # resumable: nothing is cropped twice
    assert again.returncode == 0 and "0 crops written, 6 already there" in again.stdout


def test_prepare_own_sequences_bad_folder_is_one_line(tmp_path, capsys):
    _hand_made(tmp_path)
    os.remove(tmp_path / "clips" / "walk_otb" / "img" / "0004.jpg")
    r = _prepare(tmp_path / "clips", tmp_path / "own", capsys)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"error: {tmp_path / 'clips' / 'walk_otb' / 'groundtruth_rect.txt'}: 4 ground-truth "
                                f"rows but 3 numbered images in {tmp_path / 'clips' / 'walk_otb' / 'img'} (one row "
                                f"per image, in the images' number order)")
    r = _prepare(tmp_path / "nothing", tmp_path / "own", capsys)
    assert r.returncode == 2 and "sequence folder not found" in r.stderr


def test_fine_tune_the_shipped_model_on_own_videos(tmp_path, capsys):
    """Two synthetic clips, one in each layout -> prepare -> 2 iterations from the shipped tiny model."""
    clips = tmp_path / "clips"
    write_otb_dataset(str(clips), 2, seed=7, num_frames=8, image_size=(120, 160))
    got = clips / "synthetic_0002"  # rewrite the second clip in the GOT-10k layout
    rows = np.loadtxt(got / "groundtruth_rect.txt", delimiter=",") - [1, 1, 0, 0]
    for i, name in enumerate(sorted(os.listdir(got / "img"))):
        shutil.move(str(got / "img" / name), str(got / f"{i + 1:08d}.jpg"))
    os.rmdir(got / "img")
    os.remove(got / "groundtruth_rect.txt")
    np.savetxt(got / "groundtruth.txt", rows, fmt="%.2f", delimiter=",")
    out = tmp_path / "own"
    assert _prepare(clips, out, capsys).returncode == 0
    run = tmp_path / "run"
    from siamcorners.cli import train
    rc = train.main(["--cfg", os.path.join(TINY, "config.yaml"), "--no-progress", "--threads", "1",
                     "--export", str(run / "model.pth"), "--opts", "OUTPUT_DIR", str(run),
                     "DATASET.NAMES", "[OWN]", "DATASET.SOURCES.OWN.ROOT", str(out / "crop511"),
                     "DATASET.SOURCES.OWN.ANNO", str(out / "train.json"), "DATASET.VIDEOS_PER_EPOCH", "4",
                     "TRAIN.BATCH_SIZE", "2", "TRAIN.EPOCHS", "1", "TRAIN.NUM_WORKERS", "0",
                     "TRAIN.WARMUP.ENABLED", "false", "TRAIN.PRETRAINED", os.path.join(TINY, "model.pth")])
    assert rc == 0
    log = (run / "logs" / "train.log").read_text()
    assert "0 missing, 0 unexpected, 0 mismatched keys" in log and "finished 2 iterations" in log
    shipped = torch.load(os.path.join(TINY, "model.pth"), map_location="cpu", weights_only=False)["model"]
    tuned = torch.load(run / "model.pth", map_location="cpu", weights_only=False)["model"]
    weights = [k for k in shipped if k.endswith(".weight") and shipped[k].dim() == 4]  # convolutions
    assert any(not torch.equal(shipped[k], tuned[k]) for k in weights)  # trained ...
    for k in weights:  # ... from the shipped weights: two small steps stay near them
        assert torch.norm(tuned[k] - shipped[k]) < 0.1 * torch.norm(shipped[k]), k
