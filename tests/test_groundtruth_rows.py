"""Ground-truth rows stay on their frames: a blank or malformed row is an error naming the file and line in
every reader (skipping it would shift every later row by one frame)."""
import json
import os

import numpy as np
import pytest

from siamcorners.benchmarks import BenchmarkError, load_dataset
from siamcorners.benchmarks.textio import read_boxes_lenient, read_flags
from siamcorners.data.frames import FrameSourceError, groundtruth_init_box


def _write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def _touch(folder, numbers, fmt):
    os.makedirs(folder, exist_ok=True)
    for i in numbers:
        open(os.path.join(folder, fmt.format(i)), "wb").close()


ROWS = "".join(f"{i + 1},2,30,40\n" for i in range(6))
BLANK_AT_3 = "1,2,30,40\n2,2,30,40\n\n3,2,30,40\n4,2,30,40\n5,2,30,40\n"


def test_trailing_blank_lines_are_fine_and_rows_keep_their_frames(tmp_path):
    gt = read_boxes_lenient(_write(tmp_path / "gt.txt", ROWS + "\n \n"))
    assert gt[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    gt = read_boxes_lenient(_write(tmp_path / "gt2.txt", "1, 2, 30, 40\n2\t2\t30\t40\nNaN,NaN,NaN,NaN\n"))
    assert gt.shape == (3, 4) and np.isnan(gt[2]).all()


@pytest.mark.parametrize("text, line, what", [
    (BLANK_AT_3, 3, "blank line inside the annotation"),
    ("\n" + ROWS, 1, "blank line inside the annotation"),
    ("1,2,30,40\n2,2,,30,40\n", 2, "empty field"),
    ("1,2,30,40\n2,2,30,40,\n", 2, "empty field"),
])
def test_blank_or_malformed_row_names_file_and_line(tmp_path, text, line, what):
    path = _write(tmp_path / "groundtruth_rect.txt", text)
    with pytest.raises(BenchmarkError, match=rf"groundtruth_rect\.txt:{line}: {what}"):
        read_boxes_lenient(path)


def test_otb_trimmed_copy_with_a_blank_line_is_an_error_not_a_shift(tmp_path):
    root = tmp_path / "otb"
    _touch(root / "Dudek" / "img", range(1, 5), "{:04d}.jpg")  # a trimmed copy: 4 images, 5 rows
    _write(root / "Dudek" / "groundtruth_rect.txt", BLANK_AT_3)
    with pytest.raises(BenchmarkError, match=r"Dudek/groundtruth_rect\.txt:3: blank line"):
        load_dataset("OTB100", str(root), fmt="raw")


def test_uav_and_trackingnet_rows(tmp_path):
    root = tmp_path / "UAV123"
    _write(root / "anno" / "UAV123" / "bike1.txt", BLANK_AT_3)
    os.makedirs(root / "data_seq" / "UAV123" / "bike1")
    with pytest.raises(BenchmarkError, match=r"bike1\.txt:3: blank line"):
        load_dataset("UAV123", str(root))
    tn = tmp_path / "TrackingNet"
    _write(tn / "TEST" / "anno" / "seqA.txt", "\n1,2,30,40\n")
    with pytest.raises(BenchmarkError, match=r"seqA\.txt:1: blank line"):
        load_dataset("TrackingNet", str(tn))


def test_lasot_ground_truth_and_flags(tmp_path):
    root = tmp_path / "LaSOT"
    folder = root / "cat" / "cat-1"
    _write(root / "testing_set.txt", "cat-1\n")
    _write(folder / "groundtruth.txt", ROWS)
    _write(folder / "full_occlusion.txt", "0,0,0,0,0,0\n")
    _write(folder / "out_of_view.txt", "0,0,,0,0,0\n")
    with pytest.raises(BenchmarkError, match=r"out_of_view\.txt:1: empty field"):
        load_dataset("LaSOT", str(root))
    _write(folder / "out_of_view.txt", "0,0,0,0,0,0\n")
    _write(folder / "groundtruth.txt", BLANK_AT_3 + "6,2,30,40\n")
    with pytest.raises(BenchmarkError, match=r"groundtruth\.txt:3: blank line"):
        load_dataset("LaSOT", str(root))


def test_got10k_cover_labels_and_flags(tmp_path):
    base = tmp_path / "GOT-10k" / "val"
    seq = base / "GOT-10k_Val_000001"
    _write(base / "list.txt", "GOT-10k_Val_000001\n")
    _write(seq / "groundtruth.txt", ROWS[:40])
    _write(seq / "meta_info.ini", "resolution: (640, 360)\n")
    _write(seq / "cover.label", "8\n8\n\n0\n8\n")  # 4 labels for 4 rows, but the blank line shifts them
    assert len(read_boxes_lenient(str(seq / "groundtruth.txt"))) == 4
    with pytest.raises(BenchmarkError, match=r"cover\.label:3: blank line"):
        load_dataset("GOT-10k-val", str(tmp_path / "GOT-10k"))
    assert read_flags(_write(tmp_path / "f.txt", "1\n0\n1\n\n")).tolist() == [1, 0, 1]


def test_nfs_blank_line(tmp_path):
    root = tmp_path / "NFS"
    _touch(root / "bee" / "30" / "bee", range(1, 5), "{:05d}.jpg")
    lines = [f"{i} {10 + i} 20 {40 + i} 60 0 0 0 \"person\"" for i in range(4)]
    _write(root / "bee" / "30" / "bee.txt", "\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    with pytest.raises(BenchmarkError, match=r"bee\.txt:3: blank line"):
        load_dataset("NFS30", str(root))


@pytest.mark.parametrize("row", [["1", 2, 3, 4], [1, None, 3, 4], [1, 2, True, 4]])
def test_pysot_json_non_numbers_name_video_and_frame(tmp_path, row):
    meta = {"Biker": {"video_dir": "Biker", "init_rect": [1, 2, 3, 4],
                      "img_names": ["Biker/img/0001.jpg", "Biker/img/0002.jpg"], "gt_rect": [[1, 2, 3, 4], row]}}
    _write(tmp_path / "OTB100.json", json.dumps(meta))
    with pytest.raises(BenchmarkError, match=r"OTB100\.json: video 'Biker': gt_rect\[1\] \(frame 2\) must be 4 "
                                             r"numbers"):
        load_dataset("OTB100", str(tmp_path))


def test_demo_init_box_from_groundtruth(tmp_path):
    folder = tmp_path / "Car"
    os.makedirs(folder / "img")
    _write(folder / "groundtruth_rect.txt", "1, 2,30\t40\n")
    assert groundtruth_init_box(str(folder)) == [1.0, 2.0, 30.0, 40.0]
    _write(folder / "groundtruth_rect.txt", "\n1,2,30,40\n")
    with pytest.raises(FrameSourceError, match=r"groundtruth_rect\.txt:1: blank first line"):
        groundtruth_init_box(str(folder / "img"))
    _write(folder / "groundtruth_rect.txt", "1,,2,30,40\n")
    with pytest.raises(FrameSourceError, match=r"groundtruth_rect\.txt:1: expected 4 numbers"):
        groundtruth_init_box(str(folder))
