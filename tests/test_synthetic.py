import os

import cv2
import numpy as np
import pytest

from siamcorners.data.synthetic import clip_polygon_box, make_video, write_otb_dataset

GREEN = (0, 255, 0)
# a solid green target on a gray background: the only chroma in the frame is the target's
SOLID = dict(background="gray", target_color=GREEN, distractors=0, illumination=0.0, noise=0.0)


def green_box(frame):
    """[x1, y1, x2, y2] of the pixels more than half covered by the green target, or None."""
    f = frame.astype(np.int32)
    mask = (f[..., 1] - f[..., 2]) > 127          # G - R = 255 * coverage on a gray background
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None, mask
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float), mask


def corners(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h])


def test_same_seed_same_video_in_any_frame_order():
    a = make_video(7, num_frames=20, image_size=(96, 128))
    b = make_video(7, num_frames=20, image_size=(96, 128))
    np.testing.assert_array_equal(a.gt, b.gt)
    late_first = b.frame(15)
    np.testing.assert_array_equal(a.frame(0), b.frame(0))
    np.testing.assert_array_equal(a.frame(15), late_first)
    assert a.attributes == b.attributes


def test_different_seeds_differ():
    a = make_video(1, num_frames=10, image_size=(96, 128))
    b = make_video(2, num_frames=10, image_size=(96, 128))
    c = make_video((1, 0), num_frames=10, image_size=(96, 128))
    assert not np.allclose(a.gt, b.gt)
    assert np.abs(a.frame(0).astype(int) - b.frame(0).astype(int)).mean() > 10
    assert not np.allclose(a.gt, c.gt)


def test_video_shape_and_types():
    v = make_video(3, num_frames=12, image_size=(100, 140))
    assert len(v) == 12 and v.gt.shape == (12, 4) and v.gt.dtype == np.float64
    frame = v.frame(5)
    assert frame.shape == (100, 140, 3) and frame.dtype == np.uint8
    assert len(v.frames) == 12 and len(list(v)) == 12
    assert v.absent.shape == (12,) and v.occlusion.shape == (12,)
    assert set(v.attributes) >= {"IV", "SV", "OCC", "OV", "IPR", "BC"}
    with pytest.raises(IndexError, match="out of range"):
        v.frame(12)


@pytest.mark.parametrize("seed", range(6))
def test_gt_matches_drawn_target(seed):
    # rotation, scale/aspect change, camera pan and leave-and-re-enter all on
    v = make_video(seed, num_frames=90, image_size=(120, 160), rotation=40.0, scale_change=0.5,
                   out_of_view=1.0, occlusion=0.0, **SOLID)
    h, w = v.image_size
    checked = 0
    for i in range(len(v)):
        box, mask = green_box(v.frame(i))
        if v.absent[i]:
            assert not mask.any(), f"frame {i}: absent target is drawn"
            np.testing.assert_array_equal(v.gt[i], 0.0)
            continue
        assert box is not None, f"frame {i}: target with gt {v.gt[i]} not drawn"
        np.testing.assert_allclose(box, corners(v.gt[i]), atol=1.0, err_msg=f"seed {seed} frame {i}")
        x1, y1, x2, y2 = corners(v.gt[i])
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        checked += 1
    assert checked > 30


def test_first_frame_shows_whole_target():
    for seed in range(10):
        v = make_video(seed, num_frames=5, image_size=(120, 160), out_of_view=1.0, target_size=(0.3, 0.4))
        x, y, w, h = v.gt[0]
        assert not v.absent[0] and x > 0 and y > 0 and x + w < 160 and y + h < 120


def test_target_leaves_and_reenters():
    v = make_video(4, num_frames=120, image_size=(120, 160), out_of_view=1.0, **SOLID)
    assert v.attributes["OV"] and v.absent.any() and not v.absent.all()
    np.testing.assert_array_equal(v.gt[v.absent], 0.0)
    assert (~v.absent[np.flatnonzero(v.absent).min():]).any()      # comes back after leaving
    # frames around an exit are clipped to the image: gt touches the border while the target is partly out
    touching = [(v.gt[i, 0] == 0 or v.gt[i, 1] == 0 or corners(v.gt[i])[2] == 160 or corners(v.gt[i])[3] == 120)
                for i in np.flatnonzero(~v.absent)]
    assert any(touching)


def test_without_out_of_view_target_never_absent():
    for seed in range(5):
        assert not make_video(seed, num_frames=60, image_size=(96, 128), out_of_view=0.0).absent.any()


def test_occluder_hides_part_of_target_but_gt_keeps_full_box():
    clear = make_video(11, num_frames=120, image_size=(120, 160), occlusion=0.0, **SOLID)
    occluded = make_video(11, num_frames=120, image_size=(120, 160), occlusion=1.0, **SOLID)
    np.testing.assert_array_equal(clear.gt, occluded.gt)       # occlusion does not change the gt
    frames = np.flatnonzero(occluded.occlusion > 0.2)
    assert occluded.attributes["OCC"] and len(frames) > 0 and not clear.attributes["OCC"]
    for i in frames:
        _, seen = green_box(occluded.frame(i))
        _, full = green_box(clear.frame(i))
        assert 0 < seen.sum() < full.sum()                      # partly hidden, never fully
        assert not (seen & ~full).any()


def test_illumination_changes_brightness():
    flat = make_video(5, num_frames=60, image_size=(96, 128), illumination=0.0, noise=0.0)
    lit = make_video(5, num_frames=60, image_size=(96, 128), illumination=0.4, noise=0.0)
    ratio = [lit.frame(i).mean() / flat.frame(i).mean() for i in range(0, 60, 6)]
    assert max(ratio) - min(ratio) > 0.1


def test_distractors_look_like_the_target():
    knobs = {**SOLID, "distractors": 3, "occlusion": 0.0}
    seed = next(s for s in range(20) if make_video(s, 3, (120, 160), **knobs).attributes["BC"])
    busy = make_video(seed, 3, (120, 160), **knobs)
    plain = make_video(seed, 3, (120, 160), **{**knobs, "distractors": 0})
    np.testing.assert_array_equal(busy.gt, plain.gt)          # distractors do not move the target
    a, b = busy.frame(0).astype(np.int32), plain.frame(0).astype(np.int32)
    added = np.abs(a - b).max(axis=2) > 60
    assert added.sum() > 100
    greenness = a[..., 1] - np.maximum(a[..., 0], a[..., 2])
    assert np.median(greenness[added]) > 100                  # the added objects are green like the target


def test_sample_pair_within_range_and_present():
    v = make_video(4, num_frames=120, image_size=(96, 128), out_of_view=1.0)
    assert v.absent.any()
    rng = np.random.default_rng(0)
    for _ in range(50):
        t, s = v.sample_pair(rng, frame_range=10)
        assert abs(t - s) <= 10 and not v.absent[t] and not v.absent[s]


def test_bad_knobs_are_named():
    with pytest.raises(TypeError, match="rotaton.*did you mean 'rotation'"):
        make_video(0, rotaton=3)
    with pytest.raises(ValueError, match="occlusion"):
        make_video(0, occlusion=1.5)
    with pytest.raises(ValueError, match="image_size"):
        make_video(0, image_size=(10, 10))
    with pytest.raises(ValueError, match="seed"):
        make_video(-1)


def test_clip_polygon_box():
    square = np.array([[10, 10], [30, 10], [30, 20], [10, 20]], float)
    np.testing.assert_allclose(clip_polygon_box(square, 100, 100), [10, 10, 20, 10])
    np.testing.assert_allclose(clip_polygon_box(square - 15, 100, 100), [0, 0, 15, 5])   # edges to the border
    assert clip_polygon_box(square + 200, 100, 100) is None


def _read_gt(path):
    with open(path) as f:
        return np.array([[float(v) for v in line.split(",")] for line in f if line.strip()])


def test_write_otb_dataset_layout(tmp_path):
    names = write_otb_dataset(str(tmp_path), 2, seed=3, num_frames=70, image_size=(64, 96), out_of_view=1.0)
    assert names == ["synthetic_0001", "synthetic_0002"]
    for k, name in enumerate(names):
        video = make_video((3, k), 70, (64, 96), out_of_view=1.0)
        vdir = tmp_path / name
        images = sorted(os.listdir(vdir / "img"))
        assert images == [f"{i:04d}.jpg" for i in range(1, 71)]
        assert cv2.imread(str(vdir / "img" / "0001.jpg")).shape == (64, 96, 3)
        gt = _read_gt(vdir / "groundtruth_rect.txt")
        np.testing.assert_allclose(gt, video.gt, atol=0.006)
        absent = np.loadtxt(vdir / "absent.txt", dtype=int)
        np.testing.assert_array_equal(absent.astype(bool), video.absent)
        lines = (vdir / "groundtruth_rect.txt").read_text().splitlines()
        assert all(line == "0,0,0,0" for line, a in zip(lines, absent) if a)
        assert not [f for f in os.listdir(vdir) if ".tmp" in f]


def test_write_otb_dataset_resumes(tmp_path):
    calls = []
    write_otb_dataset(str(tmp_path), 2, seed=1, num_frames=6, image_size=(48, 64))
    # interrupted while writing video 2: its meta.json (written last) and a frame are missing
    os.remove(tmp_path / "synthetic_0002" / "meta.json")
    os.remove(tmp_path / "synthetic_0002" / "img" / "0004.jpg")
    first = (tmp_path / "synthetic_0001" / "img" / "0001.jpg").stat().st_mtime_ns
    write_otb_dataset(str(tmp_path), 3, seed=1, num_frames=6, image_size=(48, 64),
                      on_video=lambda name, skipped: calls.append((name, skipped)))
    assert calls == [("synthetic_0001", True), ("synthetic_0002", False), ("synthetic_0003", False)]
    assert (tmp_path / "synthetic_0001" / "img" / "0001.jpg").stat().st_mtime_ns == first
    assert (tmp_path / "synthetic_0002" / "img" / "0004.jpg").is_file()
    # other parameters: videos are rendered again, stale extra frames removed
    calls.clear()
    write_otb_dataset(str(tmp_path), 1, seed=1, num_frames=4, image_size=(48, 64),
                      on_video=lambda name, skipped: calls.append((name, skipped)))
    assert calls == [("synthetic_0001", False)]
    assert sorted(os.listdir(tmp_path / "synthetic_0001" / "img")) == [f"{i:04d}.jpg" for i in range(1, 5)]


def test_benchmark_reader_reads_written_dataset(tmp_path):
    registry = pytest.importorskip("siamcorners.benchmarks.registry")
    write_otb_dataset(str(tmp_path), 2, seed=5, num_frames=8, image_size=(48, 64))
    dataset = registry.load_dataset("synthetic", str(tmp_path))
    assert dataset.names == ["synthetic_0001", "synthetic_0002"]
    seq = dataset["synthetic_0002"]
    assert len(seq) == 8
    np.testing.assert_allclose(seq.gt, make_video((5, 1), 8, (48, 64)).gt, atol=0.006)
    assert seq.frame(0).shape == (48, 64, 3)


def test_make_synthetic_tool(tmp_path, capsys):
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("make_synthetic", os.path.join(root, "tools", "make_synthetic.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "synth"
    assert tool.main(["--out", str(out), "--videos", "1", "--seed", "2", "--frames", "3", "--size", "48x64",
                      "--set", "rotation=0"]) == 0
    assert sorted(os.listdir(out / "synthetic_0001" / "img")) == ["0001.jpg", "0002.jpg", "0003.jpg"]
    assert tool.main(["--out", str(out), "--videos", "1", "--seed", "2", "--set", "rotaton=0"]) == 2
    assert "unknown synthetic knob 'rotaton'" in capsys.readouterr().err
