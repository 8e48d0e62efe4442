"""Ground-truth regions -> init boxes (TEST.INIT_BOX), and the test runner applying them."""
import math

import numpy as np
import pytest

from siamcorners.benchmarks import Dataset, Sequence
from siamcorners.benchmarks.regions import axis_aligned_region, init_box_from_region
from siamcorners.engine.tester import RunConventions, run_benchmark


def test_pysot_rule_shifts_xywh_rows_by_half_a_pixel():
    assert axis_aligned_region([123, 87, 132, 176]) == (189.0, 175.0, 132.0, 176.0)
    assert init_box_from_region([123, 87, 132, 176], "pysot") == [123.5, 87.5, 132.0, 176.0]
    assert init_box_from_region([123, 87, 132, 176], "raw") == [123.0, 87.0, 132.0, 176.0]


def test_vot_style_polygon_of_an_axis_aligned_box_gives_the_box_back():
    """pysot's VOT test turns x, y, w, h into the polygon (x, y), (x, y+h-1), (x+w-1, y+h-1), (x+w-1, y);
    the area-preserving rule (scale 1, +1 px) then returns the original box."""
    x, y, w, h = 10.0, 20.0, 30.0, 12.0
    poly = [x, y, x, y + h - 1, x + w - 1, y + h - 1, x + w - 1, y]
    assert init_box_from_region(poly, "pysot") == pytest.approx([x, y, w, h], abs=1e-12)
    assert init_box_from_region(poly, "raw") == [x, y, w - 1, h - 1]


def test_rotated_polygon_keeps_its_area_in_an_axis_aligned_box():
    a = 20.0                              # a square of side a turned by 45 degrees around (50, 40)
    d = a / math.sqrt(2)
    poly = [50, 40 - d, 50 + d, 40, 50, 40 + d, 50 - d, 40]
    cx, cy, w, h = axis_aligned_region(poly)
    assert (cx, cy) == pytest.approx((50.0, 40.0))
    assert (w - 1) * (h - 1) == pytest.approx(a * a)   # min-max box 2d x 2d scaled by sqrt(1/2)
    assert init_box_from_region(poly, "pysot") == pytest.approx([50 - (w - 1) / 2, 40 - (h - 1) / 2, w, h])
    assert init_box_from_region(poly, "raw") == pytest.approx([50 - d, 40 - d, 2 * d, 2 * d])


@pytest.mark.parametrize("region, rule, match", [([1, 2, 3], "pysot", "4 values"), ([1, 2, 3, 4], "middle", "rule"),
                                                 ([0, 0, 0, 5, 0, 9, 0, 2], "pysot", "degenerate")])
def test_bad_regions_are_clear_errors(region, rule, match):
    with pytest.raises(ValueError, match=match):
        init_box_from_region(region, rule)


class _RecordInit:
    def __init__(self):
        self.inits = []

    def init(self, frame, box):
        self.inits.append(list(box))
        self.box = list(box)

    def track(self, frame):
        return {"bbox": self.box, "score": 1.0}


def _dataset(tmp_path, init_region=None):
    import cv2
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i:04d}.jpg"))
        cv2.imwrite(paths[-1], np.full((60, 80, 3), 90, np.uint8))
    gt = np.tile([10.0, 20.0, 30.0, 12.0], (3, 1))
    return Dataset("OTB100", [Sequence("v", gt, paths, init_region=init_region)], "otb", str(tmp_path))


@pytest.mark.parametrize("rule", ["pysot", "raw"])
def test_runner_initialises_from_the_polygon_region(tmp_path, rule):
    poly = np.array([10, 20, 10, 31, 39, 31, 39, 20], dtype=np.float64)
    tracker = _RecordInit()
    run_benchmark(_dataset(tmp_path, poly), lambda device: tracker, str(tmp_path / "res"), progress=False,
                  log=lambda s: None, conventions=RunConventions(rule, "init"))
    assert tracker.inits == [init_box_from_region(poly, rule)]
    lines = np.loadtxt(tmp_path / "res" / "v.txt", delimiter=",")
    assert lines[0].tolist() == init_box_from_region(poly, rule)


def test_runner_init_rule_and_official_first_line(tmp_path):
    """The official test.py example of reference §9.1: init [200.5, 150.5, 60, 40] leaves the list as
    [20.5, 30.5, 80.5, 70.5] (box corners in its 99-px template patch), which is what it writes for frame 0."""
    assert RunConventions("pysot", "official").first_line([200.5, 150.5, 60, 40]) == [20.5, 30.5, 80.5, 70.5]
    tracker = _RecordInit()
    run_benchmark(_dataset(tmp_path), lambda device: tracker, str(tmp_path / "res"), progress=False,
                  log=lambda s: None, conventions=RunConventions("pysot", "official"))
    assert tracker.inits == [[10.5, 20.5, 30.0, 12.0]]
    lines = np.loadtxt(tmp_path / "res" / "v.txt", delimiter=",")
    assert lines[0].tolist() == RunConventions("pysot", "official").first_line([10.5, 20.5, 30.0, 12.0]) != lines[1].tolist()
    assert lines[1].tolist() == [10.5, 20.5, 30.0, 12.0]
