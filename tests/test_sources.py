"""Training sources (data/sources.py) against hand values and pysot's published rules (reference 4.1): the box in a
511 crop, the annotation reader's filtering and messages, NUM_USE / FRAME_RANGE sampling, the synthetic source."""
import json
import logging
import math
import os
import pickle
import re

import cv2
import numpy as np
import pytest

import siamcorners.data.sources as sources
from siamcorners.data.crops import get_subwindow
from siamcorners.data.sources import BadEntry, CropSource, SyntheticSource, Target, crop_box, instance_context_size
from siamcorners.data.synthetic import make_video


def _write(tmp_path, anno, images=()):
    """An annotation file and a crop root; ``images``: (video, frame, track) crops written as 511 x 511 JPEGs."""
    root = tmp_path / "crop511"
    root.mkdir(exist_ok=True)
    for video, frame, track in images:
        (root / video).mkdir(exist_ok=True)
        cv2.imwrite(str(root / video / f"{frame:06d}.{track}.x.jpg"), np.full((511, 511, 3), 90, np.uint8))
    path = tmp_path / "train.json"
    path.write_text(json.dumps(anno))
    return str(root), str(path)


# ------------------------------------------------------------------------------------- the box rule
def test_crop_box_context_exemplar_size_and_centre_by_hand():
    # w, h = 60, 40 at context 0.25: p = 25, s_z = sqrt(85 * 65) = sqrt(5525); exemplar 100
    half_w, half_h = 30 * 100 / math.sqrt(5525), 20 * 100 / math.sqrt(5525)          # 40.3604..., 26.9069...
    assert abs(half_w - 40.36036) < 1e-5
    box = crop_box((511, 511), [10, 20, 70, 60], exemplar_size=100, context_amount=0.25)
    assert box.dtype == np.float64 and box.shape == (4,)
    np.testing.assert_allclose(box, [255 - half_w, 255 - half_h, 255 + half_w, 255 + half_h], rtol=0, atol=1e-9)
    # an odd crop: centre (401 // 2, 301 // 2) = (200, 150), not (200.5, 150.5)
    np.testing.assert_allclose(crop_box((301, 401), (60, 40), 100, 0.25),
                               [200 - half_w, 150 - half_h, 200 + half_w, 150 + half_h], rtol=0, atol=1e-9)
    # a square target: s_z = 2 w, so it measures 127 / 2 = 63.5 px whatever its size (reference 4.1)
    np.testing.assert_allclose(crop_box((511, 511), [7, 7]), [223.25, 223.25, 286.75, 286.75], rtol=0, atol=1e-12)
    # a float32 annotation gives a float64 box as well (NumPy 2 would keep float32 arithmetic float32)
    box32 = crop_box((511, 511), np.array([60, 40], dtype=np.float32), 100, 0.25)
    assert box32.dtype == np.float64
    np.testing.assert_allclose(box32, [255 - half_w, 255 - half_h, 255 + half_w, 255 + half_h], rtol=1e-6)


@pytest.mark.parametrize("anno", [[1, 2, 3], [1, 2, 3, 4, 5], []])
def test_crop_box_names_a_box_of_another_length(anno):
    with pytest.raises(ValueError, match="^" + re.escape(f"box annotation must have 2 or 4 values, got {anno!r}") + "$"):
        crop_box((511, 511), anno)


def test_instance_context_size_by_hand():
    # w, h = 60, 40: s_z = sqrt(110 * 90) = 99.4987..., scaled by 511 / 127
    assert instance_context_size(60, 40) == pytest.approx(99.498743710662 * 511 / 127, rel=1e-14)
    # context 0.25, exemplar 100, instance 300: sqrt(85 * 65) * 3
    assert instance_context_size(60, 40, 0.25, 100, 300) == pytest.approx(74.33034373659252 * 3, rel=1e-14)


# ------------------------------------------------------------------------------ the annotation reader
BAD = {"000002": [10, 10, 10, 40], "000003": [10, 10, 50, 10], "000004": [0, 5], "000005": [5, 0],
       "000006": [5, -1], "000007": [1, 2, 3], "000008": [1, 2, 3, 4, 5], "000009": [1, "2", 3, 4],
       "000010": [float("nan"), 5], "000011": [float("inf"), 5], "000012": {"w": 5, "h": 5}, "000013": 5,
       "000014": [], "000015": [30, 20, 10, 40]}   # 14 empty or invalid boxes


def test_reader_keeps_valid_boxes_and_reports_each_dropped_one(tmp_path, caplog):
    # kept: boxes of any positive size, sub-pixel ones too, and a box whose y1 lies right of its x2
    frames = {"000000": [10, 10, 50, 40], "000001": [30, 20], "100": [1, 1, 4, 3], "20": [2.5, 1e-3],
              "000016": [10, 50, 40, 60], "000017": [0.5, 2], "000018": [1, 1, 1.5, 1.25], "meta": [5, 5], **BAD}
    anno = {"b_video": {"00": frames, "01": {"000007": [1, 2, 3]}},   # a track with no usable box is left out
            "a_video": {"03": {"000004": [8, 9]}},
            "c_video": {"00": {"x": [1, 2]}, "01": dict(BAD)}}        # a video with no usable box is left out
    root, path = _write(tmp_path, anno)
    with caplog.at_level(logging.WARNING, logger="siamcorners.data.sources"):
        source = CropSource("VID", root, path, frame_range=5, num_use=-1)
    assert source.videos == ["a_video", "b_video"] and source.num_videos == 2
    # frame numbers read as numbers and sorted as numbers; keys that are not frame numbers ("meta") ignored
    assert source.tracks == [{"03": [4]}, {"00": [0, 1, 16, 17, 18, 20, 100]}]
    assert source.track_frames(1) == {"00": [0, 1, 16, 17, 18, 20, 100]}
    assert source.boxes == {("a_video", "03", 4): [8.0, 9.0], ("b_video", "00", 0): [10.0, 10.0, 50.0, 40.0],
                            ("b_video", "00", 1): [30.0, 20.0], ("b_video", "00", 100): [1.0, 1.0, 4.0, 3.0],
                            ("b_video", "00", 20): [2.5, 0.001], ("b_video", "00", 16): [10.0, 50.0, 40.0, 60.0],
                            ("b_video", "00", 17): [0.5, 2.0], ("b_video", "00", 18): [1.0, 1.0, 1.5, 1.25]}
    assert all(type(v) is float for box in source.boxes.values() for v in box)
    assert source.num_filtered == 2 * len(BAD) + 1
    # the first 10 are named one by one (file, video, track, frame, box), then only the total
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"VID: skipped: {path}: video 'b_video' track '00' frame '000002': empty or invalid box " \
                          "[10, 10, 10, 40]"
    assert len([m for m in messages if m.startswith("VID: skipped: ")]) == 10
    assert messages[-1] == f"VID: 29 entries with empty boxes skipped in total ({path})"
    assert len(messages) == 11


def test_reader_logs_no_total_for_up_to_10_dropped_boxes(tmp_path, caplog):
    bad = dict(list(BAD.items())[:10])
    root, path = _write(tmp_path, {"v": {"00": {"000000": [4, 4], **bad}}})
    with caplog.at_level(logging.WARNING, logger="siamcorners.data.sources"):
        assert CropSource("VID", root, path, 5, -1).num_filtered == 10
    assert [r.getMessage().startswith("VID: skipped: ") for r in caplog.records] == [True] * 10


def test_reader_errors_name_the_file_and_the_entry(tmp_path):
    root, path = _write(tmp_path, {"v": {"00": {"000000": [4, 4]}}})

    def error(anno_path, match, kind=ValueError, root=root):
        with pytest.raises(kind, match="^" + re.escape(match) + "$"):
            CropSource("VID", root, str(anno_path), 5, -1)

    error(tmp_path / "nowhere.json", f"VID: annotation file not found: {tmp_path / 'nowhere.json'}", FileNotFoundError)
    error(path, f"VID: crop root not found: {tmp_path / 'none'}", FileNotFoundError, root=str(tmp_path / "none"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"v": {"00": {\n  "000000": [1, 2, 3, 4],\n  "000001" [1, 2]}}}')
    error(bad, f"{bad}: line 3: invalid JSON: Expecting ':' delimiter")
    bad.write_text("[1, 2]")
    error(bad, f"{bad}: top level must map video -> track -> frame -> box")
    bad.write_text('{"v": [1, 2]}')
    error(bad, f"{bad}: video 'v' must map track -> frame -> box")
    bad.write_text('{"v": {"00": [1, 2]}}')
    error(bad, f"{bad}: video 'v' track '00' must map frame -> box")
    bad.write_text('{"v": {"00": {"000000": [0, 4]}}, "w": {}}')
    error(bad, f"{bad}: no usable video (every box empty or no frames)")


# ------------------------------------------------------------------------------------------ sampling
def _source(tmp_path, frame_range=2, num_use=-1, videos=3, frames=(0, 10, 20, 30, 40, 50), tracks=("00",)):
    anno = {f"v{k}": {t: {f"{f:06d}": [20, 30] for f in frames} for t in tracks} for k in range(videos)}
    root, path = _write(tmp_path, anno)
    return CropSource("VID", root, path, frame_range=frame_range, num_use=num_use)


def test_pick_is_num_use_indices_from_reshuffled_passes_over_the_videos(tmp_path):
    rng = np.random.default_rng(0)
    every = _source(tmp_path, num_use=-1).pick(rng)        # -1: each video once
    assert every.dtype == np.int64 and sorted(every.tolist()) == [0, 1, 2]
    seven = [_source(tmp_path, num_use=7).pick(rng) for _ in range(20)]
    for p in seven:   # pysot SubDataset.shuffle: whole shuffled passes, cut at NUM_USE
        assert p.dtype == np.int64 and len(p) == 7
        assert sorted(p[:3].tolist()) == sorted(p[3:6].tolist()) == [0, 1, 2] and 0 <= p[6] <= 2
    assert len({tuple(p[:3]) for p in seven}) > 1 and len({tuple(p[3:6]) for p in seven}) > 1  # reshuffled
    assert sorted(_source(tmp_path, num_use=3).pick(rng).tolist()) == [0, 1, 2]
    assert sorted(_source(tmp_path, num_use=2).pick(rng).tolist()) in ([0, 1], [0, 2], [1, 2])
    assert len(_source(tmp_path, num_use=1).pick(rng)) == 1
    assert _source(tmp_path, num_use=3, videos=1).pick(rng).tolist() == [0, 0, 0]   # one video, three passes
    assert _source(tmp_path, num_use=-1, videos=1).pick(rng).tolist() == [0]
    for num_use in (0, -2):
        none = _source(tmp_path, num_use=num_use).pick(rng)
        assert none.dtype == np.int64 and none.shape == (0,)


def test_positive_pair_search_frame_within_frame_range_positions_of_the_template(tmp_path):
    # annotated frames 0, 10, ..., 50: FRAME_RANGE counts positions in the sorted list, not frame numbers
    source = _source(tmp_path, frame_range=2, tracks=("00", "01"))
    rng = np.random.default_rng(1)
    seen = {}
    for _ in range(3000):
        t, s = source.positive_pair(1, rng)
        assert t.video == s.video == "v1" and t.track == s.track
        seen[(t.track, t.frame // 10, s.frame // 10)] = seen.get((t.track, t.frame // 10, s.frame // 10), 0) + 1
    pairs = {(a, b) for a in range(6) for b in range(6) if abs(a - b) <= 2}
    assert {(a, b) for _, a, b in seen} == pairs   # every pair within 2 positions, edges included, no other
    assert {track for track, _, _ in seen} == {"00", "01"}
    # template frame uniform over the track: each of the 6 about 1/6 of the draws
    counts = np.bincount([a for (_, a, _), n in seen.items() for _ in range(n)], minlength=6)
    assert counts.min() > 3000 / 6 * 0.8
    same = _source(tmp_path, frame_range=0)
    assert all(t == s for t, s in (same.positive_pair(0, rng) for _ in range(50)))


def test_random_target_covers_videos_tracks_and_frames(tmp_path):
    source = _source(tmp_path, videos=3, frames=(3, 7), tracks=("00", "01"))
    rng = np.random.default_rng(2)
    anywhere = {source.random_target(rng) for _ in range(400)}
    assert anywhere == {Target(f"v{k}", t, f) for k in range(3) for t in ("00", "01") for f in (3, 7)}
    in_video_2 = {source.random_target(rng, 2) for _ in range(200)}
    assert in_video_2 == {Target("v2", t, f) for t in ("00", "01") for f in (3, 7)}
    assert {source.random_target(rng, 0).video for _ in range(50)} == {"v0"}


# --------------------------------------------------------------------------------------------- loading
def test_crop_source_loads_the_pysot_file_name_and_the_box_at_its_own_context(tmp_path):
    root, path = _write(tmp_path, {"vid7": {"02": {"000012": [10, 20, 70, 60]}, "03": {"000012": [5, 5]}}},
                        images=[("vid7", 12, "02")])
    source = CropSource("GOT", root, path, 5, -1, exemplar_size=100, context_amount=0.25)
    target = Target("vid7", "02", 12)
    assert source.image_path(target) == os.path.join(root, "vid7", "000012.02.x.jpg")
    image, box = source.load(target)
    assert image.shape == (511, 511, 3) and image.dtype == np.uint8
    half_w, half_h = 30 * 100 / math.sqrt(5525), 20 * 100 / math.sqrt(5525)   # as in the hand test above
    np.testing.assert_allclose(box, [255 - half_w, 255 - half_h, 255 + half_w, 255 + half_h], rtol=0, atol=1e-9)
    # the official exemplar 127 and context 0.5 by default: (60, 40) -> half sides 38.29..., 25.53...
    _, box = CropSource("GOT", root, path, 5, -1).load(target)
    half_w, half_h = 30 * 127 / math.sqrt(9900), 20 * 127 / math.sqrt(9900)
    np.testing.assert_allclose(box, [255 - half_w, 255 - half_h, 255 + half_w, 255 + half_h], rtol=0, atol=1e-9)
    missing = os.path.join(root, "vid7", "000012.03.x.jpg")
    with pytest.raises(BadEntry, match="^" + re.escape(f"GOT: missing or unreadable image {missing}") + "$"):
        source.load(Target("vid7", "03", 12))


# ------------------------------------------------------------------------------------ synthetic source
def _synthetic(**kw):
    args = dict(seed=0, videos=6, frames=60, image_size=(96, 128), frame_range=5, num_use=-1)
    args.update(kw)
    return SyntheticSource("SYN", **args)


def test_synthetic_videos_are_the_dataset_videos_and_absent_frames_are_never_sampled():
    source = _synthetic()
    assert source.videos == [f"synthetic_{k:06d}" for k in range(6)] and source.num_videos == 6
    assert source.num_filtered == 0          # nothing is read from a file, so nothing is dropped
    # video 5 of dataset seed 0 at 96 x 128: the target leaves the frame at frames 27-37
    video = make_video((0, 5), 60, (96, 128))
    assert np.flatnonzero(video.absent).tolist() == list(range(27, 38))
    assert source.track_frames(5) == {"00": [f for f in range(60) if not 27 <= f <= 37]}
    assert source.track_frames(0) == {"00": list(range(60))}
    rng = np.random.default_rng(3)
    assert not {t.frame for t in (source.random_target(rng, 5) for _ in range(300))} & set(range(27, 38))
    with pytest.raises(BadEntry, match=r"^SYN: synthetic_000005 frame 30: empty box \[0.0, 0.0, 0.0, 0.0\]$"):
        source.load(Target("synthetic_000005", "00", 30))
    for videos, frames in ((0, 5), (3, 0)):
        with pytest.raises(ValueError, match="^" + re.escape(
                f"SYN: synthetic source needs videos >= 1 and frames >= 1, got {videos}, {frames}") + "$"):
            _synthetic(videos=videos, frames=frames)


def test_synthetic_video_where_the_target_is_always_absent_is_a_bad_entry(monkeypatch):
    class Gone:
        absent = np.ones(60, dtype=bool)

    monkeypatch.setattr(sources, "make_video", lambda *args, **kwargs: Gone())
    with pytest.raises(BadEntry, match="^SYN: synthetic_000002: the target is absent in every frame$"):
        _synthetic().track_frames(2)


def _hand_box(w, h, size, exemplar, context):
    p = context * (w + h)
    s_z = math.sqrt((w + p) * (h + p))
    c = size // 2
    return [c - w * exemplar / s_z / 2, c - h * exemplar / s_z / 2, c + w * exemplar / s_z / 2,
            c + h * exemplar / s_z / 2], s_z * size / exemplar


@pytest.mark.parametrize("sizes", [{}, {"exemplar_size": 100, "instance_size": 300, "context_amount": 0.25}])
def test_synthetic_crop_is_centred_on_the_target_at_the_official_context(sizes):
    source = _synthetic(**sizes)
    exemplar, instance, context = (sizes.get("exemplar_size", 127), sizes.get("instance_size", 511),
                                   sizes.get("context_amount", 0.5))
    video = make_video((0, 5), 60, (96, 128))
    for f in (3, 20, 44, 59):
        x, y, w, h = video.gt[f].tolist()
        crop, box = source.load(Target("synthetic_000005", "00", f))
        assert crop.shape == (instance, instance, 3) and crop.dtype == np.uint8
        expected_box, side = _hand_box(w, h, instance, exemplar, context)
        np.testing.assert_allclose(box, expected_box, rtol=0, atol=1e-9)
        # OTB centre convention (x + (w - 1) / 2), a side of round(s_z * instance / exemplar), mean padding
        frame = video.frame(f)
        want = get_subwindow(frame, (x + (w - 1) / 2, y + (h - 1) / 2), instance, round(side),
                             frame.mean(axis=(0, 1)))
        np.testing.assert_array_equal(crop, want, err_msg=f"frame {f}")


def test_synthetic_video_cache_keeps_the_recently_used_videos_and_is_not_pickled(monkeypatch):
    built = []

    def counting(seed, *args, **kwargs):
        built.append(seed[1])
        return make_video(seed, *args, **kwargs)

    monkeypatch.setattr(sources, "make_video", counting)
    source = _synthetic(cache_videos=2, frames=8)
    for k in (0, 1, 0, 2, 0):      # least recently used first out: 2 evicts 1, not 0
        source.track_frames(k)
    assert built == [0, 1, 2]
    source.track_frames(1)
    assert built == [0, 1, 2, 1]
    # DataLoader workers get the source without its rendered videos, and the source keeps them
    copy = pickle.loads(pickle.dumps(source))
    assert len(pickle.dumps(source)) < 2000
    copy.track_frames(0)
    assert built == [0, 1, 2, 1, 0]
    source.track_frames(0)
    source.track_frames(1)
    assert built == [0, 1, 2, 1, 0]


def test_synthetic_source_of_one_video_of_one_frame_and_the_default_cache_of_128_videos(monkeypatch):
    one = _synthetic(videos=1, frames=1, image_size=[64, 48])
    assert one.videos == ["synthetic_000000"] and one.image_size == (64, 48)
    assert one.track_frames(0) == {"00": [0]} and np.asarray(make_video((0, 0), 1, (64, 48)).absent).tolist() == [False]
    crop, _ = one.load(Target("synthetic_000000", "00", 0))
    assert crop.shape == (511, 511, 3)
    built = []

    class Present:
        absent = np.zeros(1, dtype=bool)

    def counting(seed, frames, image_size):
        built.append(seed[1])
        return Present()

    monkeypatch.setattr(sources, "make_video", counting)
    source = _synthetic(videos=130, frames=1)
    for k in range(128):
        source.track_frames(k)
    source.track_frames(0)                   # still cached: 128 videos are kept
    assert built == list(range(128))
    source.track_frames(128)                 # the 129th evicts the least recently used, video 1
    source.track_frames(0)
    assert built == list(range(129))
    source.track_frames(1)
    assert built == [*range(129), 1]


def test_annotation_file_is_read_as_utf8_whatever_the_locale(tmp_path):
    """pysot's JSON files are UTF-8; under a plain C (ASCII) locale the reader must still take non-ASCII names."""
    import subprocess
    import sys

    root, path = _write(tmp_path, {"vidéo_ü": {"00": {"000000": [4, 4]}}})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"vidéo_ü": {"00": {"000000": [4, 4]}}}, f, ensure_ascii=False)
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sources.__file__))))
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8",
               PYTHONPATH=package_parent)
    code = ("import locale, sys; from siamcorners.data.sources import CropSource; "
            f"print(locale.getpreferredencoding(False), CropSource('VID', {root!r}, {path!r}, 5, -1).videos)")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, encoding="utf-8",
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    encoding, videos = run.stdout.strip().split(" ", 1)
    assert encoding.lower() != "utf-8"        # the child really runs under a non-UTF-8 locale
    assert videos == "['vidéo_ü']"
