"""Whole benchmark lookup tables checked against their public sources, not one entry each.

Sources (independent of our code):
* OTB100: the 98 folder names of got10k's ``datasets/otb.py`` (tb100 = tb50 + the other 49), the partial
  ground-truth ranges of eval-reference.md 4.1, and pysot-toolkit's sequence names (Jogging-1/-2,
  Skating2-1/-2, Human4-2; eval-reference.md 4.1) transcribed below;
* UAV123 / UAV20L: got10k's ``datasets/uav123.json`` (123 + 20 sequences with folder and frame range);
* LaSOT: got10k's ``datasets/lasot.json`` (``test``: the 280 protocol-II videos).
got10k is a declared dependency (requirements.txt), so its data files are there wherever the suite runs.
"""
import importlib.util
import json
import os

import numpy as np
import pytest

from siamcorners.benchmarks import load_dataset
from siamcorners.benchmarks.lasot import TEST_SPLIT, lasot_test_names
from siamcorners.benchmarks.otb import FRAME_RANGES
from siamcorners.benchmarks.uav import SUBSEQUENCES

# eval-reference.md 4.1: 1-based inclusive image numbers covered by the ground truth
OTB_RANGES = {"David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
              "Diving": (1, 215), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397)}

# got10k datasets/otb.py __tb100_seqs (98 folders), transcribed
OTB_FOLDERS = """
Bird2 BlurCar1 BlurCar3 BlurCar4 Board Bolt2 Boy Car2 Car24 Coke Coupon Crossing Dancer Dancer2 David2 David3
Dog Dog1 Doll FaceOcc1 FaceOcc2 Fish FleetFace Football1 Freeman1 Freeman3 Girl2 Gym Human2 Human5 Human7 Human8
Jogging KiteSurf Lemming Man Mhyang MountainBike Rubik Singer1 Skater Skater2 Subway Suv Tiger1 Toy Trans
Twinnings Vase
Basketball Biker Bird1 BlurBody BlurCar2 BlurFace BlurOwl Bolt Box Car1 Car4 CarDark CarScale ClifBar Couple
Crowds David Deer Diving DragonBaby Dudek Football Freeman4 Girl Human3 Human4 Human6 Human9 Ironman Jump Jumping
Liquor Matrix MotorRolling Panda RedTeam Shaking Singer2 Skating1 Skating2 Skiing Soccer Surfer Sylvester Tiger2
Trellis Walking Walking2 Woman
""".split()
# pysot-toolkit OTB100.json names of the multi-target folders (eval-reference.md 4.1)
OTB_SPLIT_NAMES = {"Jogging": ["Jogging-1", "Jogging-2"], "Skating2": ["Skating2-1", "Skating2-2"],
                   "Human4": ["Human4-2"]}


def _got10k_data(name):
    spec = importlib.util.find_spec("got10k")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("got10k is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} not found")
    return path


# ----------------------------------------------------------------------------------------------- OTB
def test_otb_frame_ranges_are_the_published_table():
    assert FRAME_RANGES == OTB_RANGES


def test_otb_folder_list_matches_got10k():
    path = _got10k_data("otb.py")
    with open(path) as f:
        text = f.read()
    for name in OTB_FOLDERS:
        assert f"'{name}'" in text, name
    assert len(set(OTB_FOLDERS)) == 98


def _write_otb_tree(root, folders):
    for folder in folders:
        start, end = OTB_RANGES.get(folder, (1, 2))
        n_images = end if folder in OTB_RANGES else 2
        img = root / folder / "img"
        os.makedirs(img)
        for i in range(1, n_images + 1):
            open(img / f"{i:04d}.jpg", "wb").close()
        rows = "".join(f"{10 + i},20,30,40\n" for i in range(end - start + 1))
        if folder in ("Jogging", "Skating2"):
            (root / folder / "groundtruth_rect.1.txt").write_text(rows)
            (root / folder / "groundtruth_rect.2.txt").write_text(rows)
        elif folder == "Human4":
            (root / folder / "groundtruth_rect.1.txt").write_text("")
            (root / folder / "groundtruth_rect.2.txt").write_text(rows)
        else:
            (root / folder / "groundtruth_rect.txt").write_text(rows)


def test_otb100_tree_gives_the_100_pysot_sequences_with_their_frame_ranges(tmp_path):
    root = tmp_path / "OTB100"
    _write_otb_tree(root, OTB_FOLDERS)
    ds = load_dataset("OTB100", str(root))
    expected = sorted(n for f in OTB_FOLDERS for n in OTB_SPLIT_NAMES.get(f, [f]))
    assert len(expected) == 100
    assert sorted(ds.names) == expected
    for folder, (start, end) in OTB_RANGES.items():
        seq = ds[folder]
        assert len(seq) == len(seq.gt) == end - start + 1, folder
        assert os.path.basename(seq.frames[0]) == f"{start:04d}.jpg", folder
        assert os.path.basename(seq.frames[-1]) == f"{end:04d}.jpg", folder
        assert seq.gt[0, 0] == 10.0  # row 1 of the file belongs to image `start`


def test_otb_blurcar1_is_read_from_image_247(tmp_path):
    root = tmp_path / "OTB100"
    _write_otb_tree(root, ["BlurCar1"])
    seq = load_dataset("OTB100", str(root))["BlurCar1"]
    assert len(seq) == 742
    assert seq.frames[0].endswith(os.path.join("img", "0247.jpg"))
    assert seq.frames[-1].endswith(os.path.join("img", "0988.jpg"))


# ----------------------------------------------------------------------------------------------- UAV
def test_uav123_subsequences_are_got10k_table():
    with open(_got10k_data("uav123.json")) as f:
        table = json.load(f)
    uav123 = table["UAV123"]
    assert len(uav123) == 123 and len(table["UAV20L"]) == 20
    cut = {name: (v["folder_name"], v["start_frame"], v["end_frame"]) for name, v in uav123.items()
           if v["folder_name"] != name or v["start_frame"] != 1}
    # every cut sequence, and only those, is in SUBSEQUENCES with the same folder and range
    assert {k: v for k, v in SUBSEQUENCES.items() if k in cut} == cut
    for name, (folder, start, end) in SUBSEQUENCES.items():
        assert name in uav123, name
        ref = uav123[name]
        assert (folder, start, end) == (ref["folder_name"], ref["start_frame"], ref["end_frame"]), name
    # UAV20L: the whole folders, from frame 1
    for name, v in table["UAV20L"].items():
        assert v["folder_name"] == name and v["start_frame"] == 1, name


def test_uav123_reader_maps_every_sequence_to_its_folder_and_frames(tmp_path):
    with open(_got10k_data("uav123.json")) as f:
        uav123 = json.load(f)["UAV123"]
    root = tmp_path / "UAV123"
    for name, v in uav123.items():
        os.makedirs(root / "data_seq" / "UAV123" / v["folder_name"], exist_ok=True)
        n = v["end_frame"] - v["start_frame"] + 1
        path = root / "anno" / "UAV123" / f"{name}.txt"
        os.makedirs(path.parent, exist_ok=True)
        path.write_text("1,2,3,4\n" * n)
    ds = load_dataset("UAV123", str(root))
    assert sorted(ds.names) == sorted(uav123)
    for name, v in uav123.items():
        seq = ds[name]
        assert len(seq) == v["end_frame"] - v["start_frame"] + 1, name
        assert seq.frames[0].endswith(os.path.join(v["folder_name"], f"{v['start_frame']:06d}.jpg")), name
        assert seq.frames[-1].endswith(os.path.join(v["folder_name"], f"{v['end_frame']:06d}.jpg")), name


# --------------------------------------------------------------------------------------------- LaSOT
def test_lasot_test_split_is_got10k_list():
    with open(_got10k_data("lasot.json")) as f:
        test = json.load(f)["test"]
    assert len(test) == 280
    assert sorted(lasot_test_names()) == sorted(test)
    assert len(TEST_SPLIT) == 70 and all(len(v) == 4 for v in TEST_SPLIT.values())
    assert np.all([n.rsplit("-", 1)[0] in TEST_SPLIT for n in test])
