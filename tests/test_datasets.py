import faulthandler
import json
import logging
import os

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from siamcorners.config import get_default_config
from siamcorners.data.augmentation import Augmentation
from siamcorners.data.datasets import build_train_dataset
from siamcorners.data.pair_dataset import TrainPairDataset
from siamcorners.data.sources import CropSource, crop_box
from siamcorners.data.targets import corner_targets
from siamcorners.data.workers import init_data_worker
from siamcorners.engine.profiling.throughput import write_fake_crop_dataset

SHAPES = {"template": (4, 3, 127, 127), "search": (3, 255, 255), "tl_heat": (1, 25, 25), "br_heat": (1, 25, 25),
          "tl_off": (2,), "br_off": (2,), "tl_ind": (), "br_ind": (), "valid": (), "no_target": (),
          "skipped": ()}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("crop"))
    return write_fake_crop_dataset(out, videos=3, frames=4, tracks=2, seed=1)


def _cfg(paths, **changes):
    cfg = get_default_config()
    cfg.DATASET.NAMES = ["VID"]
    cfg.DATASET.SOURCES.VID.ROOT = paths["root"]
    cfg.DATASET.SOURCES.VID.ANNO = paths["anno"]
    cfg.DATASET.VIDEOS_PER_EPOCH = 24
    for key, value in changes.items():
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = value
    return cfg


def _worker_init_reporting_stalls(worker_id):
    # a worker still running after 90 s prints its stack (in the test's captured stderr) and exits, so the loader
    # fails at once naming the dead worker instead of waiting for its 120 s timeout with nothing to show
    faulthandler.dump_traceback_later(90, exit=True)
    init_data_worker(worker_id)


class _OpenCVThreads(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        warped = cv2.warpAffine(np.full((600, 600, 3), index, np.uint8), np.float32([[1, 0, 1], [0, 1, 1]]),
                                (511, 511))
        return cv2.getNumThreads(), int(warped[100, 100, 0])


def test_training_workers_run_opencv_on_their_own_thread():
    """A forked worker never uses OpenCV's thread pool, whose threads stay behind in the parent."""
    cv2.warpAffine(np.zeros((600, 600, 3), np.uint8), np.float32([[1, 0, 1], [0, 1, 1]]), (511, 511))
    parent = cv2.getNumThreads()
    loader = DataLoader(_OpenCVThreads(), batch_size=None, num_workers=2, timeout=60,
                        worker_init_fn=init_data_worker)
    assert [(int(n), int(v)) for n, v in loader] == [(1, 0), (1, 1)]  # getNumThreads() is 1 after setNumThreads(0)
    assert cv2.getNumThreads() == parent  # the parent keeps its own setting


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.floor
def test_items_follow_the_training_contract(fake):
    ds = build_train_dataset(_cfg(fake), epoch=0)
    assert len(ds) == 24
    item = ds[5]
    assert {k: tuple(v.shape) for k, v in item.items()} == SHAPES
    for k in ("template", "search", "tl_heat", "br_heat", "tl_off", "br_off", "valid", "no_target"):
        assert item[k].dtype == torch.float32, k
    assert item["tl_ind"].dtype == torch.int64 and item["br_ind"].dtype == torch.int64
    assert item["tl_heat"].max() == 1.0 and item["valid"] == 1.0
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["template"].shape == (4, 4, 3, 127, 127) and batch["tl_ind"].shape == (4,)


@pytest.mark.floor
def test_deterministic_per_seed_epoch_index_whatever_the_worker(fake):
    cfg = _cfg(fake)
    ds = build_train_dataset(cfg, epoch=0)
    direct = [ds[i] for i in range(6)]
    again = build_train_dataset(cfg, epoch=0)
    assert all(_equal(direct[i], again[i]) for i in range(6))
    # forked workers started as in training, right after OpenCV's thread pool ran here in the parent
    loader = DataLoader(torch.utils.data.Subset(ds, range(6)), batch_size=1, num_workers=2, timeout=120,
                        worker_init_fn=_worker_init_reporting_stalls)
    for i, batch in enumerate(loader):
        assert _equal({k: v[0] for k, v in batch.items()}, direct[i])
    other_epoch = build_train_dataset(cfg, epoch=1)
    assert not all(_equal(direct[i], other_epoch[i]) for i in range(6))
    cfg.SEED = cfg.SEED + 1
    other_seed = build_train_dataset(cfg, epoch=0)
    assert not all(_equal(direct[i], other_seed[i]) for i in range(6))


def _official_crop_box(img_h, img_w, anno):
    """The official ``_get_bbox`` (reference 4.1) written out: centre (img_w // 2, img_h // 2), size * 127 / s_z."""
    w, h = (anno[2] - anno[0], anno[3] - anno[1]) if len(anno) == 4 else anno
    s_z = np.sqrt((w + 0.5 * (w + h)) * (h + 0.5 * (w + h)))
    w, h = w * 127 / s_z, h * 127 / s_z
    cx, cy = img_w // 2, img_h // 2
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_crop_box_hand_values():
    # w, h = 60, 40: p = 50, s_z = sqrt(110 * 90) = sqrt(9900); 511 crop centre = 255 (not 255.5)
    half_w, half_h = 30 * 127 / np.sqrt(9900), 20 * 127 / np.sqrt(9900)   # 38.2919..., 25.5279...
    np.testing.assert_allclose(crop_box((511, 511), [60, 40]), [255 - half_w, 255 - half_h, 255 + half_w, 255 + half_h],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(crop_box((511, 511), [100, 7, 160, 47]), crop_box((511, 511), [60, 40]), atol=1e-12)
    assert abs(half_w - 38.29194) < 1e-5
    # an even-sized, non-square crop: centre (w // 2, h // 2) = (200, 150) for a 300 x 400 (h x w) image
    np.testing.assert_allclose(crop_box((300, 400), [60, 40]), [200 - half_w, 150 - half_h, 200 + half_w, 150 + half_h],
                               atol=1e-9)


def test_labels_match_the_search_box_without_augmentation(fake):
    off = {"SHIFT": 0, "SCALE": 0.0, "BLUR": 0.0, "FLIP": 0.0, "COLOR": 0.0}
    cfg = _cfg(fake, **{"DATASET.NEG": 0.0, "DATASET.SEARCH": dict(off), "DATASET.TEMPLATE": dict(off)})
    ds = build_train_dataset(cfg, epoch=0)
    source = ds.sources[0]
    item = ds[0]
    # every crop of the fake dataset has the target centred at (511 // 2, 511 // 2) = (255, 255) with its size
    # scaled by 127 / s_z (official _get_bbox, restated in _official_crop_box); the 255 search crop of an
    # unaugmented item is the centre of the 511 crop, so it is shifted by (511 - 255) / 2 = 128
    # with GRAY = NEG = 0 the item's generator goes straight to the pair choice
    video = int(ds._pick_video[0])
    _, search = source.positive_pair(video, np.random.default_rng([cfg.SEED, 0, 0]))
    box = _official_crop_box(511, 511, source.boxes[(search.video, search.track, search.frame)]) - 128
    expected = corner_targets(box[None])
    for k in ("tl_heat", "br_heat", "tl_off", "br_off", "tl_ind", "br_ind"):
        np.testing.assert_array_equal(item[k].numpy(), expected[k][0], err_msg=k)
    # the templates hold half the target each on the constant canvas (87, 135, 123)
    top = item["template"][0].numpy()
    assert np.array_equal(top[:, 5, 5], [87.0, 135.0, 123.0])
    assert not np.array_equal(top[:, 55, 63], [87.0, 135.0, 123.0])
    assert np.array_equal(top[:, 120, 63], [87.0, 135.0, 123.0])  # below the box: canvas


def test_negative_pairs_with_empty_labels_train_the_heat_maps_towards_zero(fake):
    """NEG_LABELS none: a negative pair is an all-background target that still contributes a focal loss."""
    from siamcorners.models.losses import corner_loss

    cfg = _cfg(fake, **{"DATASET.NEG": 1.0, "DATASET.NEG_LABELS": "none"})
    batch = next(iter(DataLoader(build_train_dataset(cfg, epoch=0), batch_size=2)))
    assert batch["tl_heat"].sum() == 0 and batch["br_heat"].sum() == 0
    assert batch["valid"].tolist() == [1.0, 1.0] and batch["no_target"].tolist() == [1.0, 1.0]
    logits = {k: torch.zeros(2, 1, 25, 25, requires_grad=True) for k in ("tl_heat", "br_heat")}
    offsets = {k: torch.zeros(2, 2, 25, 25, requires_grad=True) for k in ("tl_off", "br_off")}
    losses = corner_loss([{**logits, **offsets}], batch)
    assert losses["focal"].item() > 1.0 and losses["offset"].item() == 0
    losses["total"].backward()
    for k, v in logits.items():
        assert torch.all(v.grad > 0), k  # a gradient step lowers every corner score
    assert all(v.grad.abs().sum() == 0 for v in offsets.values())
    # official labelling: the same negative pair is labelled on the search image's own target
    cfg = _cfg(fake, **{"DATASET.NEG": 1.0, "DATASET.NEG_LABELS": "search"})
    item = build_train_dataset(cfg, epoch=0)[0]
    assert item["tl_heat"].max() == 1.0 and item["valid"] == 1.0 and item["no_target"] == 0


def test_bad_entries_are_reported_skipped_and_counted(fake, tmp_path, caplog):
    paths = write_fake_crop_dataset(str(tmp_path), videos=2, frames=3, tracks=1, seed=2)
    with open(paths["anno"], encoding="utf-8") as f:
        anno = json.load(f)
    anno["video_000"]["00"]["000001"] = [10.0, 10.0, 10.0, 40.0]  # empty box
    with open(paths["anno"], "w", encoding="utf-8") as f:
        json.dump(anno, f)
    missing = os.path.join(paths["root"], "video_001", "000002.00.x.jpg")
    os.remove(missing)
    cfg = _cfg(paths, **{"DATASET.VIDEOS_PER_EPOCH": 40})
    with caplog.at_level(logging.WARNING):
        ds = build_train_dataset(cfg, epoch=0)
        assert ds.num_filtered == 1
        assert any("train.json" in r.getMessage() and "000001" in r.getMessage() for r in caplog.records)
        items = [ds[i] for i in range(len(ds))]
    skipped = sum(int(it["skipped"]) for it in items)
    assert skipped > 0 and ds.num_skipped == skipped
    assert any(missing in r.getMessage() for r in caplog.records)
    assert all(it["search"].shape == (3, 255, 255) for it in items)


def test_synthetic_source():
    cfg = get_default_config()
    cfg.DATASET.VIDEOS_PER_EPOCH = 4
    cfg.DATASET.SOURCES.SYNTHETIC.VIDEOS = 3
    cfg.DATASET.SOURCES.SYNTHETIC.FRAMES = 12
    ds = build_train_dataset(cfg, epoch=0)
    item = ds[0]
    assert {k: tuple(v.shape) for k, v in item.items()} == SHAPES
    assert _equal(item, build_train_dataset(cfg, epoch=0)[0])
    assert item["tl_heat"].max() == 1.0


def test_relative_paths_and_clear_errors(fake, tmp_path):
    root = os.path.dirname(fake["root"])
    cfg = _cfg({"root": "crop511", "anno": "train.json"})
    assert len(build_train_dataset(cfg, 0, data_root=root).sources[0].videos) == 3
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        CropSource("VID", fake["root"], str(tmp_path / "nowhere.json"), 100, -1)
    bad = tmp_path / "bad.json"
    bad.write_text('{"v": {"00": {"000000": [1, 2, 3, 4]}')
    with pytest.raises(ValueError, match="bad.json: line 1"):
        CropSource("VID", fake["root"], str(bad), 100, -1)
    bad.write_text('{"v": [1, 2]}')
    with pytest.raises(ValueError, match="bad.json: video 'v'"):
        CropSource("VID", fake["root"], str(bad), 100, -1)


def test_num_use_and_frame_range(fake):
    source = CropSource("VID", fake["root"], fake["anno"], frame_range=1, num_use=7)
    assert len(source.pick(np.random.default_rng(0))) == 7
    assert sorted(CropSource("VID", fake["root"], fake["anno"], 1, -1).pick(np.random.default_rng(0))) == [0, 1, 2]
    rng = np.random.default_rng(0)
    for _ in range(50):
        t, s = source.positive_pair(1, rng)
        assert t.video == s.video and t.track == s.track and abs(t.frame - s.frame) <= 1


def test_dataset_rejects_bad_settings(fake):
    source = CropSource("VID", fake["root"], fake["anno"], 100, -1)
    with pytest.raises(ValueError, match="neg_labels"):
        TrainPairDataset([source], 4, seed=0, neg_labels="zero")
    with pytest.raises(ValueError, match="at least one source"):
        TrainPairDataset([], 4, seed=0)
    assert "shift=4" in repr(Augmentation(shift=4))


def test_throughput_counts_the_measured_samples(fake):
    from siamcorners.engine.profiling.throughput import measure_throughput

    ds = build_train_dataset(_cfg(fake, **{"DATASET.VIDEOS_PER_EPOCH": 16}), epoch=0)
    r = measure_throughput(ds, num_samples=8, num_workers=0, batch_size=4)
    assert r["samples"] == 8 and r["samples_per_s"] > 0 and r["samples_per_s_per_worker"] == r["samples_per_s"]
    with pytest.raises(ValueError, match="too small"):
        measure_throughput(ds, num_samples=8, num_workers=0, batch_size=4, warmup=16)
