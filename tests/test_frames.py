import os
import shutil

import cv2
import numpy as np
import pytest

from siamcorners.data.frames import (CameraSource, FrameSourceError, ImageFolderSource, IterableSource,
                                     VideoFileSource, groundtruth_init_box, open_source)


@pytest.fixture(scope="module")
def bag(shared_data_dir):
    return os.path.join(shared_data_dir, "bag.avi")


@pytest.fixture(scope="module")
def dudek(shared_data_dir):
    return os.path.join(shared_data_dir, "otb_mini", "Dudek")


def test_video_file_frames(bag):
    with open_source(bag) as source:
        assert isinstance(source, VideoFileSource) and source.name == "bag"
        assert source.fps > 0
        frames = list(source)
    assert len(frames) == source.num_frames > 10
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    assert len({f.shape for f in frames}) == 1
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1   # real, changing content


def test_otb_folder_gray_frames_and_init_box(dudek):
    source = open_source(dudek)                   # the sequence folder: images are found in img/
    assert isinstance(source, ImageFolderSource) and source.num_frames == 20
    frames = list(source)
    assert len(frames) == 20 and frames[0].shape[2] == 3          # Dudek is grayscale on disk
    np.testing.assert_array_equal(frames[0][..., 0], frames[0][..., 1])
    np.testing.assert_array_equal(frames[3], cv2.imread(os.path.join(dudek, "img", "0004.jpg")))
    assert groundtruth_init_box(dudek) == [123.0, 87.0, 132.0, 176.0]
    assert groundtruth_init_box(os.path.join(dudek, "img")) == [123.0, 87.0, 132.0, 176.0]


def test_image_folder_natural_order(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 10, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path))
    assert [os.path.basename(p) for p in source.files] == ["1.png", "2.png", "10.png"]
    assert [int(f[0, 0, 0]) for f in source] == [1, 2, 10]
    assert groundtruth_init_box(str(tmp_path)) is None


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(FrameSourceError, match=f"{tmp_path}.*no image files"):
        open_source(str(tmp_path))


def test_unreadable_image_in_folder_is_named(tmp_path):
    cv2.imwrite(str(tmp_path / "0001.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "0002.jpg").write_bytes(b"not a jpeg")
    frames = iter(open_source(str(tmp_path)))
    next(frames)
    with pytest.raises(FrameSourceError, match="0002.jpg: not a readable image"):
        next(frames)


def test_unreadable_video_is_a_clear_error(tmp_path, bag):
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(FrameSourceError, match="garbage.avi"):
        open_source(str(garbage))
    truncated = tmp_path / "truncated.avi"
    with open(bag, "rb") as f:
        truncated.write_bytes(f.read(2000))
    with pytest.raises(FrameSourceError, match="truncated.avi"):
        open_source(str(truncated))


def test_missing_path_and_camera_errors(tmp_path):
    with pytest.raises(FrameSourceError, match="no such video file, image folder or camera"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(FrameSourceError, match="camera 99: cannot open"):
        CameraSource(99)


def test_close_is_idempotent(tmp_path, bag):
    copy = tmp_path / "clip.avi"
    shutil.copy(bag, copy)
    source = open_source(str(copy))
    first = next(iter(source))
    source.close()
    source.close()                                # idempotent
    assert first.shape[2] == 3


def test_iterable_source_expands_gray():
    frames = [np.full((6, 7), 5, np.uint8), np.full((6, 7, 1), 9, np.uint8)]
    out = list(IterableSource(frames, name="mem"))
    assert [f.shape for f in out] == [(6, 7, 3), (6, 7, 3)]
    assert out[1][0, 0].tolist() == [9, 9, 9]
