"""Frames handed over by the toolkits (PIL images of any mode, paths, RGB arrays) -> the tracker's BGR arrays."""
import cv2
import numpy as np
import pytest
from PIL import Image

from siamcorners.integrations.images import bgr_to_pil, to_bgr


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)


def test_rgb_pil_array_and_path_give_the_same_bgr(tmp_path, rgb):
    bgr = rgb[:, :, ::-1]
    np.testing.assert_array_equal(to_bgr(Image.fromarray(rgb)), bgr)
    np.testing.assert_array_equal(to_bgr(rgb), bgr)
    path = str(tmp_path / "f.png")
    cv2.imwrite(path, np.ascontiguousarray(bgr))
    np.testing.assert_array_equal(to_bgr(path), bgr)
    out = to_bgr(rgb)
    assert out.flags["C_CONTIGUOUS"] and out.dtype == np.uint8 and out.shape == (6, 7, 3)


def test_other_modes_are_converted_like_got10k_does(rgb):
    gray = Image.fromarray(rgb).convert("L")
    np.testing.assert_array_equal(to_bgr(gray), np.repeat(np.asarray(gray)[:, :, None], 3, axis=2))
    rgba = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]))
    np.testing.assert_array_equal(to_bgr(rgba), rgb[:, :, ::-1])
    palette = Image.fromarray(rgb).convert("P")
    np.testing.assert_array_equal(to_bgr(palette), np.asarray(palette.convert("RGB"))[:, :, ::-1])
    np.testing.assert_array_equal(to_bgr(np.asarray(gray)), to_bgr(gray))


def test_bgr_to_pil_round_trips(rgb):
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    im = bgr_to_pil(bgr)
    assert im.mode == "RGB" and im.size == (7, 6)
    np.testing.assert_array_equal(to_bgr(im), bgr)
    assert bgr_to_pil(bgr[:, :, 0]).mode == "RGB"


def test_bad_frames_say_what_is_wrong(tmp_path, rgb):
    with pytest.raises(ValueError, match="missing.png: frame missing"):
        to_bgr(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="must be uint8"):
        to_bgr(rgb.astype(np.float32))
    with pytest.raises(TypeError, match="PIL image, an image path or a uint8 array"):
        to_bgr([1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        to_bgr(np.zeros((2, 3, 5), np.uint8))
