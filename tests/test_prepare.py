"""Each tools/prepare script on a tiny fake dataset in that source's official raw layout."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from siamcorners.data.pair_dataset import TrainPairDataset
from siamcorners.data.prepare import crop_instance
from siamcorners.data.sources import CropSource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _jpg(path, seed, box=None, hw=(120, 160)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 200, hw + (3,), dtype=np.uint8)
    if box is not None:
        x1, y1, x2, y2 = (int(v) for v in box)
        img[y1:y2, x1:x2] = (30, 240, 250)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, img)


def _xml(path, objects, hw=(120, 160)):
    objs = "".join(
        f"<object>{'' if tid is None else f'<trackid>{tid}</trackid>'}<name>n01</name>"
        f"<bndbox><xmax>{b[2]}</xmax><xmin>{b[0]}</xmin><ymax>{b[3]}</ymax><ymin>{b[1]}</ymin></bndbox>"
        f"<occluded>0</occluded></object>" for tid, b in objects)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"<annotation><folder>x</folder><size><width>{hw[1]}</width><height>{hw[0]}</height></size>"
                f"{objs}</annotation>")


def make_vid(raw):
    n = 0
    for split, video in [("train", "ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000"),
                         ("val", "ILSVRC2015_val_00000000")]:
        for f in range(3):
            objs = [(0, [10 + 5 * f, 20, 60 + 5 * f, 70]), (3, [80, 30, 140, 100])]
            _xml(os.path.join(raw, "Annotations", "VID", split, video, f"{f:06d}.xml"), objs)
            _jpg(os.path.join(raw, "Data", "VID", split, video, f"{f:06d}.JPEG"), f, objs[0][1])
            n += 2
    return ["--root", raw], "train.json", 2, n


def make_det(raw):
    for k, name in enumerate(["n01/n01_1", "n01/n01_2", "extra/neg_3"]):
        objs = [] if name.startswith("extra") else [(None, [5, 5, 50, 60]), (None, [60, 40, 150, 110])]
        _xml(os.path.join(raw, "Annotations", "DET", "train", name + ".xml"), objs)
        _jpg(os.path.join(raw, "Data", "DET", "train", name + ".JPEG"), k)
    return ["--root", raw], "train.json", 2, 4


def make_coco(raw):
    images = [{"id": 1, "file_name": "000000000001.jpg"}, {"id": 7, "file_name": "000000000007.jpg"}]
    anns = [{"image_id": 1, "bbox": [10, 10, 40, 30], "iscrowd": 0},
            {"image_id": 1, "bbox": [60, 50, 50, 60], "iscrowd": 0},
            {"image_id": 7, "bbox": [0, 0, 100, 100], "iscrowd": 1},
            {"image_id": 7, "bbox": [20, 30, 0, 10], "iscrowd": 0}]
    os.makedirs(os.path.join(raw, "annotations"))
    with open(os.path.join(raw, "annotations", "instances_train2017.json"), "w") as f:
        json.dump({"images": images, "annotations": anns}, f)
    for k, im in enumerate(images):
        _jpg(os.path.join(raw, "train2017", im["file_name"]), k)
    return ["--root", raw], "train2017.json", 1, 2


def make_got10k(raw):
    n = 0
    for s in (1, 2):
        seq = os.path.join(raw, "train", f"GOT-10k_Train_{s:06d}")
        boxes = [[10 + 3 * i, 20, 40, 50] for i in range(4)]
        absent = [0, 0, 1, 0] if s == 1 else [0, 0, 0, 0]
        for i, (x, y, w, h) in enumerate(boxes):
            _jpg(os.path.join(seq, f"{i + 1:08d}.jpg"), i, [x, y, x + w, y + h])
        with open(os.path.join(seq, "groundtruth.txt"), "w") as f:
            f.write("\n".join(",".join(f"{v:.4f}" for v in b) for b in boxes) + "\n")
        with open(os.path.join(seq, "absence.label"), "w") as f:
            f.write("\n".join(str(a) for a in absent) + "\n")
        n += 4 - sum(absent)
    return ["--root", raw], "train.json", 2, n


def make_lasot(raw):
    for cls, k in [("airplane", 1), ("bear", 3)]:
        seq = os.path.join(raw, cls, f"{cls}-{k}")
        boxes = [[5 + 4 * i, 15, 50, 40] for i in range(4)]
        for i, (x, y, w, h) in enumerate(boxes):
            _jpg(os.path.join(seq, "img", f"{i + 1:08d}.jpg"), i, [x, y, x + w, y + h])
        with open(os.path.join(seq, "groundtruth.txt"), "w") as f:
            f.write("\n".join(",".join(str(v) for v in b) for b in boxes) + "\n")
        with open(os.path.join(seq, "full_occlusion.txt"), "w") as f:
            f.write("0,1,0,0" if cls == "airplane" else "0,0,0,0")
        with open(os.path.join(seq, "out_of_view.txt"), "w") as f:
            f.write("0,0,0,1" if cls == "bear" else "0,0,0,0")
    return ["--root", raw], "train.json", 2, 6


def make_ytbb(raw):
    rows = []
    for ts in (0, 1000, 2000):
        for obj, box in [(0, (0.1, 0.5, 0.2, 0.6)), (1, (0.55, 0.9, 0.3, 0.8))]:
            rows.append(["AAAAAAAAAAA", ts, 2, "bird", obj, "present" if (ts, obj) != (2000, 1) else "absent",
                         *box])
            _jpg(os.path.join(raw, "frames", "2", f"AAAAAAAAAAA_{ts}_2_{obj}.jpg"), ts + obj)
    rows.append(["BBBBBBBBBBB", 500, 5, "dog", 0, "present", 0.2, 0.7, 0.1, 0.9])
    _jpg(os.path.join(raw, "frames", "5", "BBBBBBBBBBB_500_5_0.jpg"), 9)
    csv = os.path.join(raw, "yt_bb_detection_train.csv")
    with open(csv, "w") as f:
        f.write("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return ["--csv", csv, "--frames", os.path.join(raw, "frames")], "train.json", 2, 6


SOURCES = {"vid": make_vid, "det": make_det, "coco": make_coco, "got10k": make_got10k, "lasot": make_lasot,
           "ytbb": make_ytbb}


def _run(script, args, out, workers=1):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "prepare", f"{script}.py"), *args, "--out", out,
           "--workers", str(workers)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _entries(anno):
    return [(v, t, f) for v, tracks in anno.items() for t, frames in tracks.items() for f in frames]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_prepare_script_output_loads(name, tmp_path):
    raw, out = str(tmp_path / "raw"), str(tmp_path / "out")
    args, json_name, videos, crops = SOURCES[name](raw)
    res = _run(name, args, out, workers=2 if name == "vid" else 1)
    assert res.returncode == 0, res.stderr
    with open(os.path.join(out, json_name)) as f:
        anno = json.load(f)
    entries = _entries(anno)
    assert len(anno) == videos and len(entries) == crops
    for v, t, f in entries:
        img = cv2.imread(os.path.join(out, "crop511", v, f"{f}.{t}.x.jpg"))
        assert img is not None and img.shape == (511, 511, 3)
        box = anno[v][t][f]
        assert len(box) == 4 and box[2] > box[0] and box[3] > box[1]
    source = CropSource(name, os.path.join(out, "crop511"), os.path.join(out, json_name), 100, -1)
    item = TrainPairDataset([source], 3, seed=0)[2]
    assert item["search"].shape == (3, 255, 255) and item["tl_heat"].max() == 1.0 and item["skipped"] == 0


def test_prepare_resumes_and_skips_missing_images(tmp_path):
    raw, out = str(tmp_path / "raw"), str(tmp_path / "out")
    args, json_name, _, crops = make_got10k(raw)
    first = _run("got10k", args, out)
    assert first.returncode == 0 and f"{crops} crops written" in first.stdout
    crop = os.path.join(out, "crop511", "GOT-10k_Train_000002", "000001.00.x.jpg")
    stamp = os.path.getmtime(crop)
    os.remove(os.path.join(out, "crop511", "GOT-10k_Train_000002", "000003.00.x.jpg"))
    os.remove(os.path.join(raw, "train", "GOT-10k_Train_000001", "00000002.jpg"))
    os.remove(os.path.join(out, "crop511", "GOT-10k_Train_000001", "000001.00.x.jpg"))
    second = _run("got10k", args, out)
    assert second.returncode == 0, second.stderr
    assert "1 crops written" in second.stdout and "1 skipped" in second.stdout
    assert "00000002.jpg" in second.stderr  # reported with the file
    assert os.path.getmtime(crop) == stamp
    with open(os.path.join(out, json_name)) as f:
        anno = json.load(f)
    assert len(_entries(anno)) == crops - 1 and "000001" not in anno["GOT-10k_Train_000001"]["00"]
    assert not [p for p in os.listdir(out) if ".tmp" in p]


def test_missing_image_left_out_of_json(tmp_path):
    raw, out = str(tmp_path / "raw"), str(tmp_path / "out")
    args, json_name, _, crops = make_lasot(raw)
    os.remove(os.path.join(raw, "bear", "bear-3", "img", "00000001.jpg"))
    res = _run("lasot", args, out)
    assert res.returncode == 0 and "bear-3 frame 0" in res.stderr
    with open(os.path.join(out, json_name)) as f:
        anno = json.load(f)
    assert "000000" not in anno["bear-3"]["00"] and len(_entries(anno)) == crops - 1


def test_bad_raw_annotation_is_a_clear_error(tmp_path):
    raw = str(tmp_path / "raw")
    make_got10k(raw)
    with open(os.path.join(raw, "train", "GOT-10k_Train_000001", "groundtruth.txt"), "a") as f:
        f.write("1,2,3\n")
    res = _run("got10k", ["--root", raw], str(tmp_path / "out"))
    assert res.returncode == 2 and "groundtruth.txt:5" in res.stderr and "Traceback" not in res.stderr


def test_crop_rule_centres_the_target():
    img = np.zeros((200, 300, 3), np.uint8)
    img[80:120, 100:180] = 255  # w 80, h 40 -> s_z = sqrt(140 * 100)
    crop = crop_instance(img, [100, 80, 180, 120])
    ys, xs = np.nonzero(crop[:, :, 0] > 127)
    scale = 511 / (np.sqrt(140 * 100) * 511 / 127)
    assert abs((xs.min() + xs.max()) / 2 - 255) <= 1 and abs((ys.min() + ys.max()) / 2 - 255) <= 1
    assert abs((xs.max() - xs.min() + 1) - 80 * scale) <= 2 and abs((ys.max() - ys.min() + 1) - 40 * scale) <= 2
