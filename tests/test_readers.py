"""Benchmark readers on tiny fake trees in each dataset's official layout (and pysot JSON files),
plus the real OTB sequence shared/data/otb_mini/Dudek."""
import json
import os
import re
import shutil
import zipfile

import cv2
import numpy as np
import pytest

from siamcorners.benchmarks import BenchmarkError, load_dataset
from siamcorners.benchmarks.results import layout_for, make_submission_zip, read_result, write_result


def _touch_images(folder, numbers, fmt="{:04d}.jpg"):
    os.makedirs(folder, exist_ok=True)
    for i in numbers:
        open(os.path.join(folder, fmt.format(i)), "wb").close()


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _rows(n, sep=",", start=1.0):
    return "".join(sep.join(str(v) for v in (start + i, 2.0, 30.0, 40.0)) + "\n" for i in range(n))


# ----------------------------------------------------------------------------------------- OTB
@pytest.fixture
def otb_root(tmp_path):
    root = tmp_path / "OTB100"
    _touch_images(root / "Jogging" / "img", range(1, 6))
    _write(str(root / "Jogging" / "groundtruth_rect.1.txt"), _rows(5))
    _write(str(root / "Jogging" / "groundtruth_rect.2.txt"), _rows(5, start=50.0))
    _touch_images(root / "Human4" / "img", range(1, 4))
    _write(str(root / "Human4" / "groundtruth_rect.1.txt"), "")
    _write(str(root / "Human4" / "groundtruth_rect.2.txt"), _rows(3))
    _touch_images(root / "David" / "img", range(1, 771))
    _write(str(root / "David" / "groundtruth_rect.txt"), _rows(471, sep="\t"))
    _touch_images(root / "Board" / "img", range(1, 4), "{:05d}.jpg")
    _write(str(root / "Board" / "groundtruth_rect.txt"), _rows(3, sep=" "))
    gray = np.full((24, 32), 90, np.uint8)
    os.makedirs(root / "Gray" / "img")
    for i in (1, 2):
        cv2.imwrite(str(root / "Gray" / "img" / f"{i:04d}.jpg"), gray)
    _write(str(root / "Gray" / "groundtruth_rect.txt"), _rows(2))
    return str(root)


def test_otb_raw_layout_quirks(otb_root):
    ds = load_dataset("OTB100", otb_root)
    assert ds.names == ["Board", "David", "Gray", "Human4-2", "Jogging-1", "Jogging-2"]
    assert ds["Jogging-2"].gt[0, 0] == 50.0 and ds["Jogging-1"].gt[0, 0] == 1.0
    david = ds["David"]
    assert len(david) == 471 and david.frames[0].endswith("0300.jpg") and david.frames[-1].endswith("0770.jpg")
    assert ds["Board"].frames[0].endswith("00001.jpg") and ds["Board"].gt.shape == (3, 4)
    frame = ds["Gray"].frame(1)  # grayscale file -> 3-channel BGR
    assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame[..., 0], frame[..., 2])


def test_otb_partly_annotated_sequence_cut_and_renumbered_uses_its_images(tmp_path):
    """A David folder holding only its 471 annotated frames renumbered 1..471 (shared/data/real) is read as is,
    not refused for lacking images 472..770 of the official range 300..770."""
    root = tmp_path / "real"
    _touch_images(root / "David" / "img", range(1, 472))
    _write(str(root / "David" / "groundtruth_rect.txt"), _rows(471))
    david = load_dataset("OTB100", str(root))["David"]
    assert len(david) == 471 and david.frames[0].endswith("0001.jpg") and david.frames[-1].endswith("0471.jpg")
    _touch_images(root / "David" / "img", range(472, 475))  # neither the official range nor one image per row
    with pytest.raises(BenchmarkError, match="image number 475 missing"):
        load_dataset("OTB100", str(root))


def test_otb_trimmed_copy_and_mismatch(tmp_path):
    root = tmp_path / "otb"
    _touch_images(root / "Dudek" / "img", range(1, 4))
    _write(str(root / "Dudek" / "groundtruth_rect.txt"), _rows(10))
    with pytest.warns(UserWarning, match="trimmed copy"):
        ds = load_dataset("OTB100", str(root), trimmed=True)
    assert ds["Dudek"].gt.shape == (3, 4) and len(ds["Dudek"]) == 3
    _touch_images(root / "Dudek" / "img", range(1, 12))  # now more images than rows: an error
    with pytest.raises(BenchmarkError, match="groundtruth_rect.txt: 10 ground-truth rows but 11 images"):
        load_dataset("OTB100", str(root), trimmed=True)


# OTB100's 98 folders (Jogging and Skating2 hold two targets, Human4 one of two): eval-reference.md 4.1
OTB100_FOLDERS = (
    "Basketball Biker Bird1 Bird2 BlurBody BlurCar1 BlurCar2 BlurCar3 BlurCar4 BlurFace BlurOwl Board Bolt Bolt2 Box "
    "Boy Car1 Car2 Car24 Car4 CarDark CarScale ClifBar Coke Couple Coupon Crossing Crowds Dancer Dancer2 David David2 "
    "David3 Deer Diving Dog Dog1 Doll DragonBaby Dudek FaceOcc1 FaceOcc2 Fish FleetFace Football Football1 Freeman1 "
    "Freeman3 Freeman4 Girl Girl2 Gym Human2 Human3 Human4 Human5 Human6 Human7 Human8 Human9 Ironman Jogging Jump "
    "Jumping KiteSurf Lemming Liquor Man Matrix Mhyang MotorRolling MountainBike Panda RedTeam Rubik Shaking Singer1 "
    "Singer2 Skater Skater2 Skating1 Skating2 Skiing Soccer Subway Surfer Suv Sylvester Tiger1 Tiger2 Toy Trans "
    "Trellis Twinnings Vase Walking Walking2 Woman").split()
OTB100_VIDEOS = sorted([f for f in OTB100_FOLDERS if f not in ("Jogging", "Skating2", "Human4")]
                       + ["Jogging-1", "Jogging-2", "Skating2-1", "Skating2-2", "Human4-2"])
PARTIAL = {"David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
           "Diving": (1, 215), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397)}


def _otb_folder(root, name, n_images=3, n_rows=None, two_targets=False):
    _touch_images(os.path.join(root, name, "img"), range(1, n_images + 1))
    rows = _rows(n_images if n_rows is None else n_rows)
    if two_targets:
        _write(os.path.join(root, name, "groundtruth_rect.1.txt"), rows)
        _write(os.path.join(root, name, "groundtruth_rect.2.txt"), _rows(n_images, start=50.0))
    elif name == "Human4":
        _write(os.path.join(root, name, "groundtruth_rect.1.txt"), "")
        _write(os.path.join(root, name, "groundtruth_rect.2.txt"), rows)
    else:
        _write(os.path.join(root, name, "groundtruth_rect.txt"), rows)


def test_otb_root_prepared_the_pysot_way_reads_the_official_100(tmp_path):
    """pysot's README copies Jogging and Skating2 to Jogging-1/-2 and Skating2-1/-2 beside the originals (each copy
    holds both gt files): the raw reader must give the 100 official videos, not 108."""
    root = str(tmp_path / "OTB100")
    for name in OTB100_FOLDERS:
        start, end = PARTIAL.get(name, (1, 6 if name == "Tiger1" else 3))
        _otb_folder(root, name, end, end - start + 1, two_targets=name in ("Jogging", "Skating2"))
    for copy in ("Jogging-1", "Jogging-2", "Skating2-1", "Skating2-2"):
        shutil.copytree(os.path.join(root, copy.split("-")[0]), os.path.join(root, copy))
    ds = load_dataset("OTB100", root, fmt="raw")
    assert ds.names == OTB100_VIDEOS and len(ds) == 100
    assert ds["Jogging-2"].gt[0, 0] == 50.0 and ds["Jogging-1"].gt[0, 0] == 1.0
    assert os.path.basename(os.path.dirname(os.path.dirname(ds["Skating2-2"].frames[0]))) == "Skating2-2"


def test_otb_tiger1_starts_at_frame_6(tmp_path):
    """Tiger1: frames 6-354 with gt rows 6-354 (349), as pysot's OTB100.json; a pysot result of 349 rows scores."""
    from siamcorners.benchmarks import Benchmark

    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Tiger1", 354)
    seq = load_dataset("OTB100", root)["Tiger1"]
    assert len(seq) == 349 and seq.gt.shape == (349, 4)
    assert seq.frames[0].endswith("0006.jpg") and seq.frames[-1].endswith("0354.jpg")
    assert seq.gt[0, 0] == 6.0 and seq.gt[-1, 0] == 354.0  # _rows: row i has x = i
    results = tmp_path / "results" / "OTB100" / "pysot_tracker"
    _write(str(results / "Tiger1.txt"), _rows(349, start=6.0))
    (ev,) = Benchmark("OTB100", root, str(tmp_path / "results")).evaluate()
    assert ev.per_video["Tiger1"]["success_auc"] == pytest.approx(20 / 21)  # every IoU 1: all thresholds but 1


def test_otb_image_folder_shorter_than_ground_truth_is_an_error(tmp_path):
    """An interrupted download (3 of 5 images) names the video; the trimmed-copy rule applies only when asked for."""
    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Dudek", 3, 5)
    with pytest.raises(BenchmarkError, match=r"^Dudek: 3 images in .*Dudek.img but 5 ground-truth rows .*"
                                             r"--trimmed-copy"):
        load_dataset("OTB100", root)
    with pytest.warns(UserWarning, match="trimmed copy"):
        assert len(load_dataset("OTB100", root, trimmed=True)["Dudek"]) == 3


def test_otb_stray_image_of_the_same_number_is_an_error(tmp_path):
    """A stray 3.png beside 0003.jpg must not replace frame 3."""
    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Dudek", 5)
    cv2.imwrite(os.path.join(root, "Dudek", "img", "3.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(BenchmarkError, match=r"Dudek.img: 0003\.jpg and 3\.png are both image number 3"):
        load_dataset("OTB100", root)


def test_malformed_ground_truth_names_file_and_line(tmp_path):
    root = tmp_path / "otb"
    _touch_images(root / "Car" / "img", range(1, 3))
    _write(str(root / "Car" / "groundtruth_rect.txt"), "1,2,3,4\n1,2,x,4\n")
    with pytest.raises(BenchmarkError, match=r"groundtruth_rect.txt:2: not a number"):
        load_dataset("OTB100", str(root))
    _write(str(root / "Car" / "groundtruth_rect.txt"), "1,2,3,4\n1,2,3\n")
    with pytest.raises(BenchmarkError, match=r"groundtruth_rect.txt:2: expected 4 numbers"):
        load_dataset("OTB100", str(root))


def test_real_dudek_sequence(shared_data_dir):
    root = os.path.join(shared_data_dir, "otb_mini")
    ds = load_dataset("OTB100", root, fmt="raw")
    seq = ds["Dudek"]
    with open(os.path.join(root, "Dudek", "groundtruth_rect.txt")) as f:
        first = [float(v) for v in f.readline().replace("\t", ",").split(",")]
    assert seq.gt[0].tolist() == first
    assert len(seq) == len(seq.gt) == len(os.listdir(os.path.join(root, "Dudek", "img")))
    frame = seq.frame(0)  # Dudek is stored as grayscale JPEG
    assert frame.ndim == 3 and frame.shape[2] == 3
    assert np.array_equal(frame[..., 0], frame[..., 1])


# ----------------------------------------------------------------------------------------- UAV
def test_uav123_subsequences_nan_rows_and_attributes(tmp_path):
    root = tmp_path / "UAV123"
    os.makedirs(root / "data_seq" / "UAV123" / "bird1")
    os.makedirs(root / "data_seq" / "UAV123" / "boat1")
    gt = _rows(703).splitlines()
    gt[3] = "NaN,NaN,NaN,NaN"
    _write(str(root / "anno" / "UAV123" / "bird1_2.txt"), "\n".join(gt) + "\n")
    _write(str(root / "anno" / "UAV123" / "boat1.txt"), _rows(4))
    _write(str(root / "anno" / "UAV123" / "att" / "bird1_2.txt"), "1,0,0,1,0,0,1,0,0,0,0,1\n")
    _write(str(root / "anno" / "UAV123" / "att" / "boat1.txt"), "0,0,0,0,0,0,0,0,0,0,1,0\n")
    ds = load_dataset("UAV123", str(root))
    bird = ds["bird1_2"]
    assert len(bird) == 703 and bird.frames[0].endswith(os.path.join("bird1", "000775.jpg"))
    assert bird.frames[-1].endswith("001477.jpg")
    assert np.isnan(bird.gt[3]).all()
    assert bird.attributes == ("Scale Variation", "Fast Motion", "Out-of-View", "Similar Object")
    assert ds.attribute_videos("Camera Motion") == ["boat1"]
    assert len(ds.attribute_names) == 12
    _write(str(root / "anno" / "UAV123" / "bird1_2.txt"), _rows(700))
    with pytest.raises(BenchmarkError, match="bird1_2.txt: 700 rows, but bird1_2 covers frames 775-1477"):
        load_dataset("UAV123", str(root))


def test_uav20l_uses_whole_folders(tmp_path):
    root = tmp_path / "UAV"
    os.makedirs(root / "data_seq" / "UAV123" / "bird1")
    _write(str(root / "anno" / "UAV20L" / "bird1.txt"), _rows(3000))
    ds = load_dataset("UAV20L", str(root))
    assert len(ds["bird1"]) == 3000 and ds["bird1"].frames[0].endswith("000001.jpg")


# --------------------------------------------------------------------------------------- LaSOT
def _lasot_video(root, name, n, absent_at=()):
    folder = root / name.rsplit("-", 1)[0] / name
    _write(str(folder / "groundtruth.txt"), _rows(n))
    occ = ["0"] * n
    oov = ["0"] * n
    for i in absent_at:
        (occ if i % 2 else oov)[i] = "1"
    _write(str(folder / "full_occlusion.txt"), ",".join(occ) + "\n")
    _write(str(folder / "out_of_view.txt"), ",".join(oov) + "\n")
    _write(str(folder / "nlp.txt"), "a thing\n")


def test_lasot_test_split_absent_frames_and_truncation(tmp_path):
    from siamcorners.benchmarks.lasot import lasot_test_names

    names = lasot_test_names()
    assert len(names) == 280 and len(set(n.rsplit("-", 1)[0] for n in names)) == 70
    root = tmp_path / "LaSOT"
    _lasot_video(root, "airplane-1", 6, absent_at=(2, 3))
    _lasot_video(root, "monkey-17", 2300)
    _write(str(root / "testing_set.txt"), "airplane-1\nmonkey-17\n")
    _write(str(root / "att" / "airplane-1.txt"), "1,0,0,0,0,0,0,0,0,0,0,0,0,1\n")
    ds = load_dataset("LaSOT", str(root))
    assert ds.names == ["airplane-1", "monkey-17"]
    air = ds["airplane-1"]
    assert air.absent.tolist() == [False, False, True, True, False, False]
    assert air.frames[0].endswith(os.path.join("airplane-1", "img", "00000001.jpg"))
    assert air.attributes == ("IV", "ARC")
    assert len(ds["monkey-17"].gt) == 2260 and len(ds["monkey-17"]) == 2260
    assert ds["monkey-17"].frames[-1].endswith("00002260.jpg") and len(ds["monkey-17"].absent) == 2260


def test_lasot_flag_length_mismatch_is_an_error(tmp_path):
    root = tmp_path / "LaSOT"
    _lasot_video(root, "cat-1", 5)
    _write(str(root / "cat" / "cat-1" / "out_of_view.txt"), "0,0,0\n")
    _write(str(root / "testing_set.txt"), "cat-1\n")
    with pytest.raises(BenchmarkError, match="out_of_view.txt: 3 flags but 5"):
        load_dataset("LaSOT", str(root))


# ----------------------------------------------------------------------------------------- NfS
def _nfs_line(i):
    left, top = 10 + i, 20
    return f"{i} {left} {top} {left + 30} {top + 40} {i} 0 0 0 \"person\"\n"


def test_nfs30_reads_240fps_rows_and_trims_by_one(tmp_path):
    root = tmp_path / "NFS"
    _touch_images(root / "Gymnastics" / "30" / "Gymnastics", range(1, 11), "{:05d}.jpg")
    _write(str(root / "Gymnastics" / "30" / "Gymnastics.txt"), "".join(_nfs_line(i) for i in range(80)))
    _touch_images(root / "bee" / "30" / "bee", range(1, 6), "{:05d}.jpg")
    _write(str(root / "bee" / "30" / "bee.txt"), "".join(_nfs_line(i) for i in range(6)))
    ds = load_dataset("NFS30", str(root))
    g = ds["Gymnastics"]
    assert g.gt.shape == (10, 4)
    assert g.gt[1].tolist() == [18.0, 20.0, 30.0, 40.0]  # every 8th row; w = right - left
    assert ds["bee"].gt.shape == (5, 4) and len(ds["bee"]) == 5


# ---------------------------------------------------------------------------------- TrackingNet
def test_trackingnet_test_first_frame_only_and_numeric_frame_order(tmp_path):
    root = tmp_path / "TrackingNet"
    _touch_images(root / "TEST" / "frames" / "seqA", range(0, 12), "{}.jpg")
    _write(str(root / "TEST" / "anno" / "seqA.txt"), "1,2,30,40\n")
    ds = load_dataset("TrackingNet", str(root))
    seq = ds["seqA"]
    assert seq.gt.shape == (1, 4) and not seq.has_full_gt and not ds.scored_locally
    assert [os.path.basename(f) for f in seq.frames[8:12]] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg"]


# ------------------------------------------------------------------------------------- GOT-10k
def _got_seq(base, name, n, cover):
    _touch_images(base / name, range(1, n + 1), "{:08d}.jpg")
    _write(str(base / name / "groundtruth.txt"), _rows(n))
    _write(str(base / name / "cover.label"), "".join(f"{c}\n" for c in cover))
    _write(str(base / name / "absence.label"), "".join(f"{int(c == 0)}\n" for c in cover))
    _write(str(base / name / "meta_info.ini"), "[METAINFO]\nobject_class: cat\nresolution: (640, 360)\n")


def test_got10k_val_and_test(tmp_path):
    root = tmp_path / "GOT-10k"
    _got_seq(root / "val", "GOT-10k_Val_000001", 4, [8, 0, 3, 8])
    _write(str(root / "val" / "list.txt"), "GOT-10k_Val_000001\n")
    val = load_dataset("GOT-10k-val", str(root))
    seq = val["GOT-10k_Val_000001"]
    assert seq.visible.tolist() == [True, False, True, True] and seq.resolution == (640, 360)
    assert len(seq) == 4 and val.scored_locally
    os.makedirs(root / "test" / "GOT-10k_Test_000001")
    _touch_images(root / "test" / "GOT-10k_Test_000001", range(1, 4), "{:08d}.jpg")
    _write(str(root / "test" / "GOT-10k_Test_000001" / "groundtruth.txt"), "1,2,3,4\n")
    _write(str(root / "test" / "list.txt"), "GOT-10k_Test_000001\n")
    test = load_dataset("GOT-10k-test", str(root / "test"))
    assert test["GOT-10k_Test_000001"].gt.shape == (1, 4) and len(test["GOT-10k_Test_000001"]) == 3
    assert not test.scored_locally


# ------------------------------------------------------------------------------------ pysot JSON
def test_pysot_json_with_attributes_and_lasot_absent(tmp_path):
    meta = {
        "Basketball": {"video_dir": "Basketball", "init_rect": [1, 2, 3, 4],
                       "img_names": ["Basketball/img/0001.jpg", "Basketball/img/0002.jpg"],
                       "gt_rect": [[1, 2, 3, 4], [2, 2, 3, 4]], "attr": ["IV", "OCC"]},
        "Biker": {"video_dir": "Biker", "init_rect": [1, 2, 3, 4], "img_names": ["Biker/img/0001.jpg"],
                  "gt_rect": [[1, 2, 3, 4]], "attr": ["OCC"]},
    }
    _write(str(tmp_path / "OTB100.json"), json.dumps(meta))
    ds = load_dataset("OTB100", str(tmp_path))  # JSON found -> used, in the file's key order
    assert ds.names == ["Basketball", "Biker"]
    assert ds.attribute_videos("OCC") == ["Basketball", "Biker"] and ds.attribute_names == ["IV", "OCC"]
    assert ds["Basketball"].frames[1] == os.path.join(str(tmp_path), "Basketball/img/0002.jpg")
    lasot = {"cat-1": {"video_dir": "cat/cat-1", "init_rect": [1, 2, 3, 4],
                       "img_names": [f"cat/cat-1/img/{i:08d}.jpg" for i in range(1, 4)],
                       "gt_rect": [[1, 2, 3, 4]] * 3, "absent": [1, 0, 1]}}
    _write(str(tmp_path / "LaSOT.json"), json.dumps(lasot))
    ds = load_dataset("LaSOT", str(tmp_path))
    assert ds["cat-1"].absent.tolist() == [False, True, False]
    meta["Biker"]["gt_rect"] = [[1, 2, 3]]
    _write(str(tmp_path / "OTB100.json"), json.dumps(meta))
    with pytest.raises(BenchmarkError, match=r"OTB100.json: video 'Biker': gt_rect\[0\]"):
        load_dataset("OTB100", str(tmp_path))


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(BenchmarkError, match="unknown dataset 'VOT2042'"):
        load_dataset("VOT2042", str(tmp_path))
    with pytest.raises(BenchmarkError, match="dataset root not found"):
        load_dataset("OTB100", str(tmp_path / "nope"))


# ------------------------------------------------------------------------------------ result I/O
def test_result_files_round_trip_and_strict_parsing(tmp_path):
    boxes = np.array([[1.5, 2.25, 30.0, 40.125], [np.nan, np.nan, np.nan, np.nan]])
    path = write_result(layout_for("otb"), str(tmp_path / "trk"), "Car", boxes, [0.1, 0.2])
    back = read_result(path)
    assert np.array_equal(back, boxes, equal_nan=True)
    assert os.path.isfile(tmp_path / "trk" / "times" / "Car_time.txt")
    assert not [f for f in os.listdir(tmp_path / "trk") if f.endswith(".tmp")]
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3,4\n\n1,2,3,4\n")
    with pytest.raises(BenchmarkError, match=r"bad.txt:2: expected 4 comma-separated"):
        read_result(str(bad))
    bad.write_text("1,2,3,4\n1\t2\t3\t4\n")
    with pytest.raises(BenchmarkError, match=r"bad.txt:2:"):
        read_result(str(bad))


def test_submission_zips(tmp_path):
    got = str(tmp_path / "GOT-10k-test" / "trk")
    write_result(layout_for("got10k"), got, "GOT-10k_Test_000001", np.ones((3, 4)), [0.1] * 3)
    z = make_submission_zip(got, "got10k", ["GOT-10k_Test_000001"])
    assert sorted(zipfile.ZipFile(z).namelist()) == ["GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt",
                                                     "GOT-10k_Test_000001/GOT-10k_Test_000001_time.txt"]
    tn = str(tmp_path / "TrackingNet" / "trk")
    write_result(layout_for("trackingnet"), tn, "seqA", np.ones((3, 4)), [0.1] * 3)
    assert zipfile.ZipFile(make_submission_zip(tn, "trackingnet", ["seqA"])).namelist() == ["seqA.txt"]
    with pytest.raises(BenchmarkError, match="seqB.txt: result missing"):
        make_submission_zip(tn, "trackingnet", ["seqA", "seqB"])


# ------------------------------------------------------------------ OTB: edge cases and whole error messages
def test_otb_list_images_of_a_missing_folder_names_it(tmp_path):
    from siamcorners.benchmarks.otb import list_images

    missing = str(tmp_path / "Dudek" / "img")
    with pytest.raises(BenchmarkError, match=r"^" + re.escape(missing) + r": image folder not found$"):
        list_images(missing)


def test_otb_partly_annotated_folder_of_only_its_annotated_images_keeps_their_numbers(tmp_path):
    """A David folder holding just images 300-770 (471, one per gt row, but not numbered 1..471) is the official
    range, not a renumbered copy."""
    root = tmp_path / "otb"
    _touch_images(root / "David" / "img", range(300, 771))
    _write(str(root / "David" / "groundtruth_rect.txt"), _rows(471))
    david = load_dataset("OTB100", str(root))["David"]
    assert len(david) == 471 and david.frames[0].endswith("0300.jpg") and david.frames[-1].endswith("0770.jpg")


def test_otb_partly_annotated_sequence_with_the_wrong_row_count_names_the_range(tmp_path):
    root = tmp_path / "otb"
    _touch_images(root / "David" / "img", range(1, 771))
    gt_path = str(root / "David" / "groundtruth_rect.txt")
    _write(gt_path, _rows(400))
    with pytest.raises(BenchmarkError, match=r"^" + re.escape(gt_path) +
                       r": David expects 471 rows for images 300-770, found 400$"):
        load_dataset("OTB100", str(root))
    _write(gt_path, _rows(471))
    os.remove(root / "David" / "img" / "0770.jpg")           # the last image of the range
    with pytest.raises(BenchmarkError, match=r"^" + re.escape(str(root / "David" / "img")) +
                       r": image number 770 missing \(needed for frames 300-770\)$"):
        load_dataset("OTB100", str(root))


def test_otb_complete_folder_read_with_trimmed_allowed_gives_no_warning(tmp_path):
    import warnings

    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Dudek", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seq = load_dataset("OTB100", root, trimmed=True)["Dudek"]
    assert len(seq) == 4 and seq.gt.shape == (4, 4)


def test_otb_error_messages_are_whole_and_name_the_file(tmp_path):
    from siamcorners.benchmarks.otb import read_otb

    def raises(message, root, **kw):
        with pytest.raises(BenchmarkError) as err:
            read_otb(str(root), **kw)
        assert str(err.value) == message

    raises(f"{tmp_path / 'nope'}: dataset root not found", tmp_path / "nope")
    empty = tmp_path / "empty"
    os.makedirs(empty / "notes")                                   # a folder without img/ is not a sequence
    raises(f"{empty}: no OTB sequence folders (<Seq>/img/ + groundtruth_rect.txt)", empty)
    root = tmp_path / "otb"
    _touch_images(root / "Dudek" / "img", range(1, 4))
    raises(f"{root / 'Dudek'}: no groundtruth_rect.txt", root)
    gt_path = root / "Dudek" / "groundtruth_rect.txt"
    _write(str(gt_path), "\n\n")
    raises(f"{gt_path}: empty ground truth", root)
    _write(str(gt_path), _rows(5))
    raises(f"Dudek: 3 images in {root / 'Dudek' / 'img'} but 5 ground-truth rows in {gt_path}: the image folder is "
           f"incomplete (an interrupted download or copy?); for a copy of the first images on purpose give "
           f"--trimmed-copy", root)
    _write(str(gt_path), _rows(2))
    raises(f"{gt_path}: 2 ground-truth rows but 3 images in {root / 'Dudek' / 'img'}", root)
    _write(str(gt_path), _rows(3))
    os.remove(root / "Dudek" / "img" / "0002.jpg")
    _touch_images(root / "Dudek" / "img", [4])
    raises(f"{root / 'Dudek' / 'img'}: image number 2 missing (needed for frames 1-3)", root)
    _touch_images(root / "Dudek" / "img", [2])
    cv2.imwrite(str(root / "Dudek" / "img" / "2.png"), np.zeros((8, 8, 3), np.uint8))
    raises(f"{root / 'Dudek' / 'img'}: 0002.jpg and 2.png are both image number 2; remove the one that does not "
           f"belong to the video", root)


# ------------------------------------------------------------------ UAV / LaSOT: whole error messages, switches
def _raises_whole(message, fn, *args, **kw):
    with pytest.raises(BenchmarkError) as err:
        fn(*args, **kw)
    assert str(err.value) == message


def test_uav_error_messages_are_whole_and_name_the_file(tmp_path):
    from siamcorners.benchmarks.uav import read_uav

    root = tmp_path / "UAV"
    anno = root / "anno" / "UAV123"
    _raises_whole(f"{anno}: annotation folder not found (expected <root>/anno/UAV123/<seq>.txt)", read_uav, str(root))
    _raises_whole(f"{root / 'anno' / 'UAV20L'}: annotation folder not found (expected <root>/anno/UAV20L/<seq>.txt)",
                  read_uav, str(root), "UAV20L")
    os.makedirs(anno / "att")
    _raises_whole(f"{anno}: no annotation files", read_uav, str(root))
    _write(str(anno / "bird1_2.txt"), _rows(700))
    _raises_whole(f"{anno / 'bird1_2.txt'}: 700 rows, but bird1_2 covers frames 775-1477 (703 frames) of bird1",
                  read_uav, str(root))
    _write(str(anno / "bird1_2.txt"), _rows(703))
    _raises_whole(f"{root / 'data_seq' / 'UAV123' / 'bird1'}: image folder of bird1_2 not found", read_uav, str(root))
    os.makedirs(root / "data_seq" / "UAV123" / "bird1")
    _write(str(anno / "att" / "bird1_2.txt"), "1,0,0,1,0,0,1,0,0,0,0\n")
    _raises_whole(f"{anno / 'att' / 'bird1_2.txt'}:1: expected 12 0/1 flags, got 11", read_uav, str(root))


def test_uav_without_attribute_files_has_no_attribute_names_and_uav20l_ignores_the_uav123_cuts(tmp_path):
    from siamcorners.benchmarks.uav import read_uav

    root = tmp_path / "UAV"
    os.makedirs(root / "data_seq" / "UAV123" / "car1")
    _write(str(root / "anno" / "UAV123" / "car1_2.txt"), _rows(877))      # frames 751-1627 of car1
    _write(str(root / "anno" / "UAV20L" / "car1_2.txt"), _rows(5))         # UAV20L: a whole folder of that name
    ds = read_uav(str(root))
    assert (ds.name, ds.kind, ds.root) == ("UAV123", "uav", str(root))
    assert ds.attribute_names == [] and ds["car1_2"].attributes == ()
    assert ds["car1_2"].frames[0].endswith(os.path.join("car1", "000751.jpg"))
    os.makedirs(root / "data_seq" / "UAV123" / "car1_2")
    ds = read_uav(str(root), "uav20l")
    assert ds.name == "uav20l" and len(ds["car1_2"]) == 5
    assert ds["car1_2"].frames[0].endswith(os.path.join("car1_2", "000001.jpg"))


def test_lasot_error_messages_are_whole_and_name_the_file(tmp_path):
    from siamcorners.benchmarks.lasot import read_lasot

    root = tmp_path / "LaSOT"
    _raises_whole(f"{root}: dataset root not found", read_lasot, str(root))
    _lasot_video(root, "cat-1", 5)
    _write(str(root / "testing_set.txt"), "\n  \n")
    _raises_whole(f"{root / 'testing_set.txt'}: empty video list", read_lasot, str(root))
    _write(str(root / "testing_set.txt"), "cat-1\ncat-2\n")
    _raises_whole(f"{root / 'cat' / 'cat-2'}: LaSOT video folder not found", read_lasot, str(root))
    _write(str(root / "cat" / "cat-1" / "full_occlusion.txt"), "0,0,0,0\n")
    _raises_whole(f"{root / 'cat' / 'cat-1' / 'full_occlusion.txt'}: 4 flags but 5 ground-truth rows in "
                  f"{root / 'cat' / 'cat-1' / 'groundtruth.txt'}", read_lasot, str(root), videos=["cat-1"])
    _write(str(root / "cat" / "cat-1" / "full_occlusion.txt"), "0,0,0,0,0\n")
    _write(str(root / "att" / "cat-1.txt"), "1,0,0\n")
    _raises_whole(f"{root / 'att' / 'cat-1.txt'}:1: expected 14 0/1 flags, got 3", read_lasot, str(root),
                  videos=["cat-1"])


def test_lasot_given_videos_split_file_order_and_attribute_names(tmp_path):
    from siamcorners.benchmarks.lasot import LASOT_ATTRIBUTES, read_lasot

    root = tmp_path / "LaSOT"
    for name in ("cat-1", "cat-3", "bear-2"):
        _lasot_video(root, name, 3, absent_at=(1,))
    _write(str(root / "testing_set.txt"), " cat-3 \ncat-1\n\nbear-2\n")
    ds = read_lasot(str(root))
    assert (ds.name, ds.kind, ds.root) == ("LaSOT", "lasot", str(root))
    assert ds.names == ["cat-3", "cat-1", "bear-2"] and ds.attribute_names == []   # the file's order, stripped
    assert ds["cat-1"].absent.tolist() == [False, True, False] and ds["cat-1"].attributes == ()
    assert [os.path.relpath(f, str(root)) for f in ds["cat-1"].frames] == [
        os.path.join("cat", "cat-1", "img", f"0000000{i}.jpg") for i in (1, 2, 3)]
    assert read_lasot(str(root), videos=["bear-2"]).names == ["bear-2"]
    _write(str(root / "att" / "bear-2.txt"), ",".join(["0"] * 13 + ["1"]) + "\n")
    ds = read_lasot(str(root), "LaSOT-sub", videos=["cat-1", "bear-2"])
    assert ds.name == "LaSOT-sub" and ds.attribute_names == list(LASOT_ATTRIBUTES)
    assert ds["bear-2"].attributes == ("ARC",) and ds["cat-1"].attributes == ()


def test_otb_trimmed_tiger1_copies_never_become_empty(tmp_path):
    """Tiger1 leaves out its first 5 frames (GT_OMIT); a trimmed copy of 6 images keeps image 6 alone, one of only
    5 images keeps all 5 rather than becoming a sequence without frames."""
    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Tiger1", 6, 354)
    with pytest.warns(UserWarning, match="trimmed copy"):
        seq = load_dataset("OTB100", root, trimmed=True)["Tiger1"]
    assert [os.path.basename(f) for f in seq.frames] == ["0006.jpg"] and seq.gt[:, 0].tolist() == [6.0]
    os.remove(os.path.join(root, "Tiger1", "img", "0006.jpg"))
    with pytest.warns(UserWarning, match="trimmed copy"):
        seq = load_dataset("OTB100", root, trimmed=True)["Tiger1"]
    assert len(seq) == 5 and seq.gt[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_otb_one_byte_target_file_is_read_not_skipped(tmp_path):
    """Only an empty (0-byte) target file is skipped (Human4's ``.1``); a truncated one of one character is an error
    naming it, not a target silently left out."""
    root = tmp_path / "OTB100"
    _otb_folder(str(root), "Human4", 3)
    _write(str(root / "Human4" / "groundtruth_rect.1.txt"), "7")
    with pytest.raises(BenchmarkError, match=r"^" + re.escape(str(root / "Human4" / "groundtruth_rect.1.txt")) +
                       r":1: expected 4 numbers, got 1: '7'$"):
        load_dataset("OTB100", str(root))


def test_otb_pysot_copy_of_a_folder_whose_name_has_a_dash(tmp_path):
    """``<name>-<k>`` is split at the last dash: a copy ``Car-Chase-2`` of a two-target folder ``Car-Chase`` is its
    second target alone."""
    root = tmp_path / "OTB100"
    _otb_folder(str(root), "Car-Chase", 3, two_targets=True)
    shutil.copytree(root / "Car-Chase", root / "Car-Chase-2")
    ds = load_dataset("OTB100", str(root))
    assert ds.names == ["Car-Chase-1", "Car-Chase-2"]
    assert ds["Car-Chase-2"].gt[0, 0] == 50.0 and ds["Car-Chase-1"].gt[0, 0] == 1.0
    assert os.path.basename(os.path.dirname(os.path.dirname(ds["Car-Chase-2"].frames[0]))) == "Car-Chase-2"


def test_read_otb_defaults_are_otb100_and_no_trimmed_copies(tmp_path):
    from siamcorners.benchmarks.otb import read_otb

    root = str(tmp_path / "OTB100")
    _otb_folder(root, "Dudek", 3, 5)
    with pytest.raises(BenchmarkError, match="the image folder is incomplete"):
        read_otb(root)                                     # trimmed copies only when asked for
    _otb_folder(root, "Dudek", 5)
    ds = read_otb(root)
    assert (ds.name, ds.kind, ds.root) == ("OTB100", "otb", root)


def test_otb_one_pysot_copy_beside_its_original_and_a_one_frame_sequence(tmp_path):
    """Only Jogging-1 copied the pysot way: Jogging-1 comes from the copy, Jogging-2 still from the original folder;
    a ground truth of one row is a one-frame sequence."""
    root = tmp_path / "OTB100"
    _otb_folder(str(root), "Jogging", 3, two_targets=True)
    shutil.copytree(root / "Jogging", root / "Jogging-1")
    _otb_folder(str(root), "Car", 1)
    ds = load_dataset("OTB100", str(root))
    assert sorted(ds.names) == ["Car", "Jogging-1", "Jogging-2"]
    assert ds["Jogging-2"].gt[0, 0] == 50.0 and "Jogging-1" + os.sep in ds["Jogging-1"].frames[0]
    assert os.path.basename(os.path.dirname(os.path.dirname(ds["Jogging-2"].frames[0]))) == "Jogging"
    assert len(ds["Car"]) == 1 and ds["Car"].gt.tolist() == [[1.0, 2.0, 30.0, 40.0]]
def test_strict_result_parsing_names_the_line_with_a_non_number(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3,4\n1,2,x,4\n")
    with pytest.raises(BenchmarkError) as e:
        read_result(str(bad))
    assert str(e.value) == f"{bad}:2: not a number in '1,2,x,4'"


def test_atomic_write_goes_through_a_hidden_temporary_beside_the_file(tmp_path, monkeypatch):
    """The temporary is `.<name>.<random>.tmp` in the target's folder: the pattern test.py's cleanup of a killed
    writer deletes (engine/tester.py), and on the same file system, so the final rename is atomic."""
    import fnmatch

    from siamcorners.benchmarks import textio

    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((src, dst, sorted(os.listdir(tmp_path / "out"))))
        real_replace(src, dst)

    monkeypatch.setattr(textio.os, "replace", replace)
    target = tmp_path / "out" / "Car.txt"
    textio.atomic_write_text(str(target), "1,2,3,4\n")
    ((src, dst, listing),) = seen
    assert dst == str(target) and os.path.dirname(src) == str(tmp_path / "out")
    assert fnmatch.fnmatchcase(os.path.basename(src), ".Car.txt.*.tmp") and listing == [os.path.basename(src)]
    assert sorted(os.listdir(tmp_path / "out")) == ["Car.txt"] and target.read_text() == "1,2,3,4\n"


@pytest.mark.parametrize("mask, mode", [(0o002, 0o664), (0o027, 0o640)])
def test_umask_is_read_without_changing_it_and_gives_the_open_mode(mask, mode, monkeypatch):
    """Reading the umask must not set it, even for a moment (threads may create files meanwhile): /proc is read
    where it exists; without /proc it is set and put back at once. A new file gets 0o666 less the umask."""
    from siamcorners.benchmarks import textio

    def no_proc(path, *args, **kwargs):
        raise FileNotFoundError(path)

    old = os.umask(mask)
    try:
        if os.path.isfile("/proc/self/status"):
            with monkeypatch.context() as m:
                m.setattr(textio.os, "umask", lambda *a: pytest.fail("os.umask called although /proc is readable"))
                assert textio.process_umask() == mask and textio.new_file_mode() == mode
        with monkeypatch.context() as m:
            m.setattr(textio, "open", no_proc, raising=False)
            assert textio.process_umask() == mask and textio.new_file_mode() == mode
        assert os.umask(mask) == mask  # put back
    finally:
        os.umask(old)


def test_atomic_write_failure_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    """A full disk while writing: the OSError names the file the user asked for (not the temporary), keeps its
    errno and text, and no temporary is left; an earlier file of the same name is untouched. Other errors pass
    through as they are, the temporary removed too."""
    import errno

    from siamcorners.benchmarks import textio

    target = tmp_path / "Car.txt"
    target.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(textio.os, "fsync", full)
    with pytest.raises(OSError) as e:
        textio.atomic_write_text(str(target), "1,2,3,4\n")
    assert (e.value.errno, e.value.strerror, e.value.filename) == (errno.ENOSPC, "No space left on device",
                                                                   str(target))
    assert os.listdir(tmp_path) == ["Car.txt"] and target.read_text() == "old\n"
    other = OSError(errno.EIO, "Input/output error", "/dev/sdz")  # names its own file: kept as it is

    def broken(fd):
        raise other

    monkeypatch.setattr(textio.os, "fsync", broken)
    with pytest.raises(OSError) as e:
        textio.atomic_write_text(str(target), "1,2,3,4\n")
    assert e.value is other and os.listdir(tmp_path) == ["Car.txt"]

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(textio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        textio.atomic_write_text(str(target), "1,2,3,4\n")
    assert os.listdir(tmp_path) == ["Car.txt"] and target.read_text() == "old\n"


def test_strict_reader_default_columns_empty_file_and_flag_errors(tmp_path):
    from siamcorners.benchmarks.textio import read_boxes_strict, read_flags

    path = tmp_path / "r.txt"
    path.write_text("1,2,3,4\n5,6,7,8\n")
    assert read_boxes_strict(str(path)).tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]  # 4 columns by default
    path.write_text("")
    empty = read_boxes_strict(str(path))
    assert empty.shape == (0, 4) and empty.dtype == np.float64
    assert read_boxes_strict(str(path), 2).shape == (0, 2)
    flags = tmp_path / "out_of_view.txt"
    flags.write_text("")
    none = read_flags(str(flags))
    assert none.shape == (0,) and none.dtype == np.int64  # (N,) int64, also when N is 0
    flags.write_text("0,1,0\n1,x\n")
    with pytest.raises(BenchmarkError) as e:
        read_flags(str(flags))
    assert str(e.value) == f"{flags}:2: not a number: 'x'"


# ------------------------------------------------------------------------ reader details: GOT-10k, NfS, TrackingNet
def _message(call):
    with pytest.raises(BenchmarkError) as e:
        call()
    return str(e.value)


def test_got10k_resolution_line_and_its_errors(tmp_path):
    from siamcorners.benchmarks.got10k import read_resolution

    ini = tmp_path / "meta_info.ini"
    ini.write_text("[METAINFO]\nurl: http://x\nresolutions: (1, 2)\n  resolution : (1920.0, 1080)\n")
    assert read_resolution(str(ini)) == (1920, 1080) and all(type(v) is int for v in read_resolution(str(ini)))
    for bad in ("1920x1080", "1920:1080", "(1920,)", "None", "(1920, 'x')"):
        ini.write_text(f"[METAINFO]\nresolution: {bad}\n")
        assert _message(lambda: read_resolution(str(ini))) == \
            f"{ini}:2: resolution must look like (W, H): {'resolution: ' + bad!r}"
    ini.write_text("[METAINFO]\nobject_class: cat\nresolution\n")
    assert _message(lambda: read_resolution(str(ini))) == f"{ini}: no 'resolution:' line"


def test_got10k_reader_layout_order_defaults_and_errors(tmp_path):
    from siamcorners.benchmarks.got10k import read_got10k

    root = tmp_path / "GOT-10k"
    val = root / "val"
    _got_seq(val, "GOT-10k_Val_000002", 3, [1, 0, 8])
    _got_seq(val, "GOT-10k_Val_000001", 2, [8, 8])
    open(val / "GOT-10k_Val_000002" / "00000004.JPG", "wb").close()  # upper-case extension: a frame too
    _write(str(val / "list.txt"), "GOT-10k_Val_000002\n\n  GOT-10k_Val_000001  \n")  # list order, blanks ignored
    ds = read_got10k(str(root))
    assert (ds.name, ds.kind, ds.root, ds.scored_locally) == ("GOT-10k-val", "got10k", str(root), True)
    assert ds.names == ["GOT-10k_Val_000002", "GOT-10k_Val_000001"]
    seq = ds["GOT-10k_Val_000002"]
    assert seq.gt[:, 0].tolist() == [1, 2, 3] and seq.visible.tolist() == [True, False, True] and seq.has_full_gt
    assert seq.resolution == (640, 360)
    folder = val / "GOT-10k_Val_000002"
    assert seq.frames == [str(folder / f) for f in ("00000001.jpg", "00000002.jpg", "00000003.jpg", "00000004.JPG")]
    assert read_got10k(str(val), "val", "mine").names == ds.names and read_got10k(str(val), "val", "mine").name == "mine"
    test = root / "test"
    _touch_images(test / "GOT-10k_Test_000001", range(1, 4), "{:08d}.jpg")
    _write(str(test / "GOT-10k_Test_000001" / "groundtruth.txt"), _rows(3))  # only the first row is published
    _write(str(test / "list.txt"), "GOT-10k_Test_000001\n")
    t = read_got10k(str(root), "test")
    seq = t["GOT-10k_Test_000001"]
    assert t.name == "GOT-10k-test" and not t.scored_locally and not seq.has_full_gt
    assert seq.gt.tolist() == [[1, 2, 30, 40]] and seq.visible is None and seq.resolution is None
    # errors name the file
    cover, gt = val / "GOT-10k_Val_000001" / "cover.label", val / "GOT-10k_Val_000001" / "groundtruth.txt"
    _write(str(cover), "8\n8\n8\n")
    assert _message(lambda: read_got10k(str(root))) == f"{cover}: 3 labels but 2 rows in {gt}"
    _write(str(gt), "")
    assert _message(lambda: read_got10k(str(root))) == f"{gt}: no box"
    _write(str(val / "list.txt"), "\n  \n")
    assert _message(lambda: read_got10k(str(root))) == f"{val / 'list.txt'}: empty sequence list"
    _write(str(test / "list.txt"), "GOT-10k_Test_000002\n")
    gt2 = test / "GOT-10k_Test_000002" / "groundtruth.txt"
    _write(str(gt2), _rows(1))
    seq = read_got10k(str(root), "test")["GOT-10k_Test_000002"]
    shutil.rmtree(test / "GOT-10k_Test_000002")
    assert _message(lambda: read_got10k(str(root), "test")) == f"{gt2}: file not found"
    assert _message(lambda: seq.frames) == f"{test / 'GOT-10k_Test_000002'}: sequence folder not found"


def _nfs_seq(root, name, n_images, n_rows, fps=30):
    base = root / name / str(fps)
    _touch_images(base / name, range(1, n_images + 1), "{:05d}.jpg")
    _write(str(base / f"{name}.txt"), "".join(_nfs_line(i) for i in range(n_rows)))
    return base / f"{name}.txt"


@pytest.mark.parametrize("n_rows, kept", [(10, 10), (11, 10), (9, 9), (70, 9), (72, 9), (73, 10), (80, 10),
                                          (81, 10), (88, 10), (89, None), (90, None), (12, None), (69, None),
                                          (91, None), (8, None)])
def test_nfs_rows_at_the_240fps_rate_and_one_frame_trim(tmp_path, n_rows, kept):
    """10 images: rows / images within 1 of 8 -> every 8th row from the first; then one row or image too many
    is trimmed; anything else is an error naming the annotation (eval-reference.md 4.4)."""
    from siamcorners.benchmarks.nfs import read_nfs

    anno = _nfs_seq(tmp_path / "NFS", "bee", 10, n_rows)
    if kept is None:
        subsampled = len(range(0, n_rows, 8)) if abs(n_rows / 10 - 8) <= 1 else n_rows
        assert _message(lambda: read_nfs(str(tmp_path / "NFS"))) == \
            f"{anno}: {subsampled} annotation rows do not match 10 images"
        return
    seq = read_nfs(str(tmp_path / "NFS"))["bee"]
    step = 8 if n_rows >= 70 else 1
    assert len(seq) == len(seq.gt) == kept
    assert seq.gt[:, 0].tolist() == [10.0 + step * i for i in range(kept)]  # _nfs_line(i): left = 10 + i
    assert seq.frames[-1].endswith(f"{kept:05d}.jpg")


def test_nfs_annotation_columns_layout_and_errors(tmp_path):
    from siamcorners.benchmarks.nfs import read_nfs, read_nfs_annotation

    path = tmp_path / "a.txt"
    path.write_text("7 10 20 40.5 60\n8 11 21 41 61 0 0 0 \"person\"\n")
    assert read_nfs_annotation(str(path)).tolist() == [[10, 20, 30.5, 40], [11, 21, 30, 40]]
    path.write_text("7 10 20 40 60\n8 11 21 41\n")
    assert _message(lambda: read_nfs_annotation(str(path))) == \
        f"{path}:2: expected at least 5 columns, got 4: '8 11 21 41'"
    path.write_text("7 10 20 x 60\n")
    assert _message(lambda: read_nfs_annotation(str(path))) == f"{path}:1: columns 2-5 must be numbers: '7 10 20 x 60'"
    root = tmp_path / "NFS"
    assert _message(lambda: read_nfs(str(root))) == f"{root}: dataset root not found"
    (root / "only240" / "240").mkdir(parents=True)  # no 30 fps folder: not a sequence
    (root / "notes.txt").write_text("x")
    assert _message(lambda: read_nfs(str(root))) == f"{root}: no NfS sequences (<seq>/30/<seq>.txt)"
    shutil.rmtree(root / "only240")
    _nfs_seq(root, "bee", 3, 3)
    open(root / "bee" / "30" / "bee" / "00004.JPG", "wb").close()
    open(root / "bee" / "30" / "bee" / "00000.png", "wb").close()
    _write(str(root / "bee" / "30" / "bee.txt"), "".join(_nfs_line(i) for i in range(4)))
    ds = read_nfs(str(root))
    assert (ds.name, ds.kind, ds.root, ds.names) == ("NFS30", "nfs", str(root), ["bee"])
    img = root / "bee" / "30" / "bee"
    assert ds["bee"].frames == [str(img / f) for f in ("00001.jpg", "00002.jpg", "00003.jpg", "00004.JPG")]
    _nfs_seq(root, "ant", 2, 2, fps=240)
    assert read_nfs(str(root), "NFS240", fps=240).names == ["ant"] and read_nfs(str(root), "X").name == "X"
    shutil.rmtree(img)
    assert _message(lambda: read_nfs(str(root))) == f"{img}: image folder not found"


def test_trackingnet_reader_layout_order_and_errors(tmp_path):
    from siamcorners.benchmarks.trackingnet import read_trackingnet

    root = tmp_path / "TrackingNet"
    anno = root / "TEST" / "anno"
    assert _message(lambda: read_trackingnet(str(root))) == \
        f"{anno}: annotation folder not found (expected <root>/TEST/anno/<seq>.txt)"
    anno.mkdir(parents=True)
    (anno / "readme.md").write_text("x")
    assert _message(lambda: read_trackingnet(str(root))) == f"{anno}: no annotation files"
    _write(str(anno / "beta_clip_long.txt"), _rows(3))
    _write(str(anno / "alpha_clip.txt"), _rows(2, start=7.0))
    frames = root / "TEST" / "frames" / "alpha_clip"
    _touch_images(frames, [10, 2, 1, 0], "{}.jpg")
    _touch_images(frames, [3], "{}.JPG")
    _touch_images(frames, [4], "{}.png")
    _touch_images(frames, [0], "x{}.jpg")
    ds = read_trackingnet(str(root))
    assert (ds.name, ds.kind, ds.root, ds.scored_locally) == ("TrackingNet", "trackingnet", str(root), False)
    assert ds.names == ["alpha_clip", "beta_clip_long"]
    seq = ds["alpha_clip"]
    assert seq.gt.tolist() == [[7, 2, 30, 40]] and not seq.has_full_gt
    assert seq.frames == [str(frames / f) for f in ("0.jpg", "1.jpg", "2.jpg", "3.JPG", "10.jpg")]
    assert read_trackingnet(str(root / "TEST"), "mine").names == ["alpha_clip", "beta_clip_long"]
    missing = root / "TEST" / "frames" / "beta_clip_long"
    assert _message(lambda: ds["beta_clip_long"].frames) == f"{missing}: frame folder not found"
    train = root / "TRAIN_0" / "anno"
    _write(str(train / "gamma_0.txt"), _rows(3))
    full = read_trackingnet(str(root), split="TRAIN_0")
    assert full.scored_locally and full["gamma_0"].has_full_gt and full["gamma_0"].gt.shape == (3, 4)
    _write(str(anno / "beta_clip_long.txt"), "")
    assert _message(lambda: read_trackingnet(str(root))) == f"{anno / 'beta_clip_long.txt'}: no box"


def test_lenient_reader_messages_show_the_row(tmp_path):
    from siamcorners.benchmarks.textio import read_boxes_lenient

    gt = tmp_path / "groundtruth_rect.txt"
    gt.write_text("1,2,3,4\n1\t2  3\n")
    assert _message(lambda: read_boxes_lenient(str(gt))) == f"{gt}:2: expected 4 numbers, got 3: '1 2 3'"
    gt.write_text("1,2,3,4\n1 2\tx,4\n")
    assert _message(lambda: read_boxes_lenient(str(gt))) == f"{gt}:2: not a number in '1,2,x,4'"
    gt.write_text("")
    empty = read_boxes_lenient(str(gt))
    assert empty.shape == (0, 4) and empty.dtype == np.float64


def test_text_files_with_a_bom_or_a_bad_byte_and_missing_files(tmp_path):
    """A UTF-8 BOM (Windows editors) is dropped; a byte that is not UTF-8 gives the reader's one-line error for
    that row, not a decode traceback; a missing file is named."""
    from siamcorners.benchmarks.textio import read_boxes_lenient, read_text

    gt = tmp_path / "groundtruth_rect.txt"
    gt.write_bytes(b"\xef\xbb\xbf1,2,30,40\n2,2,30,40\n")
    assert read_boxes_lenient(str(gt))[:, 0].tolist() == [1, 2]
    gt.write_bytes(b"1,2,30,40\n2,2,3\xe90,40\n")
    assert _message(lambda: read_boxes_lenient(str(gt))) == f"{gt}:2: not a number in '2,2,3\ufffd0,40'"
    missing = tmp_path / "nope.txt"
    assert _message(lambda: read_text(str(missing))) == f"{missing}: file not found"
