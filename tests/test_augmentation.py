import numpy as np
import pytest

from siamcorners.data.augmentation import Augmentation, motion_blur_kernel


def _image(seed=0, size=511):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_identity_is_the_centre_crop():
    img = _image()
    out, box = Augmentation()(img, [200.0, 210.0, 300.0, 320.0], 255, np.random.default_rng(0))
    assert out.shape == (255, 255, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, img[128:383, 128:383].astype(np.float32))
    np.testing.assert_allclose(box, [72.0, 82.0, 172.0, 192.0])


def test_same_seed_same_output_other_seed_differs():
    aug = Augmentation(shift=64, scale=0.18, blur=0.5, flip=0.5, color=1.0, brightness=0.2, contrast=0.2)
    img, box = _image(), [200.0, 210.0, 300.0, 320.0]
    a = aug(img, box, 255, np.random.default_rng(7))
    b = aug(img, box, 255, np.random.default_rng(7))
    c = aug(img, box, 255, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("seed", range(5))
def test_shift_scale_box_follows_the_pixels(seed):
    img = np.zeros((511, 511, 3), np.uint8)
    x1, y1, x2, y2 = 190, 220, 330, 300
    img[y1:y2, x1:x2] = 255  # pixels [x1, x2) -> continuous box [x1, x2]
    out, box = Augmentation(shift=64, scale=0.18)(img, [x1, y1, x2, y2], 255, np.random.default_rng(seed))
    ys, xs = np.nonzero(out[:, :, 0] > 127)
    # the output pixel centre k samples source point k * scale + origin; allow one pixel of rounding
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], box, atol=1.5)
    assert abs((box[0] + box[2]) / 2 - 127) <= 64 / 0.82 + 1


def test_flip_mirrors_image_and_box():
    img, box = _image(1), [150.0, 200.0, 260.0, 330.0]
    plain = Augmentation(shift=20, scale=0.1, color=1.0)(img, box, 255, np.random.default_rng(3))
    flipped = Augmentation(shift=20, scale=0.1, color=1.0, flip=1.0)(img, box, 255, np.random.default_rng(3))
    np.testing.assert_array_equal(flipped[0], plain[0][:, ::-1])
    b = plain[1]
    np.testing.assert_allclose(flipped[1], [254 - b[2], b[1], 254 - b[0], b[3]])


def test_color_is_a_constant_offset_per_channel():
    img = _image(2)
    plain, _ = Augmentation()(img, [200, 200, 300, 300], 255, np.random.default_rng(0))
    col, _ = Augmentation(color=1.0)(img, [200, 200, 300, 300], 255, np.random.default_rng(0))
    diff = (col - plain).reshape(-1, 3)
    assert np.ptp(diff, axis=0).max() < 1e-3 and np.abs(diff[0]).max() > 1e-3


def test_gray_gives_equal_channels():
    out, _ = Augmentation(shift=10)(_image(3), [200, 200, 300, 300], 127, np.random.default_rng(0), gray=True)
    assert out.shape == (127, 127, 3)
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 1])
    np.testing.assert_array_equal(out[:, :, 1], out[:, :, 2])


def test_motion_blur_spreads_along_a_cross():
    img = np.zeros((511, 511, 3), np.uint8)
    img[255, 255] = 255
    out, _ = Augmentation(blur=1.0)(img, [200, 200, 300, 300], 255, np.random.default_rng(4))
    k = motion_blur_kernel(np.random.default_rng(0))
    assert k.shape[0] % 2 == 1 and 5 <= k.shape[0] <= 45 and k.sum() == pytest.approx(1.0, abs=1e-6)
    ys, xs = np.nonzero(out[:, :, 0] > 1e-3)
    assert len(ys) > 1 and np.all((ys == 127) | (xs == 127))


def test_brightness_contrast_is_affine_and_bounded():
    img = _image(5)
    plain, _ = Augmentation()(img, [200, 200, 300, 300], 255, np.random.default_rng(0))
    out, _ = Augmentation(brightness=0.2, contrast=0.2)(img, [200, 200, 300, 300], 255, np.random.default_rng(0))
    a, b = np.polyfit(plain.ravel(), out.ravel(), 1)
    assert 0.8 - 1e-6 <= a <= 1.2 + 1e-6 and not (a == pytest.approx(1.0) and b == pytest.approx(0.0, abs=1e-3))
    np.testing.assert_allclose(out, a * plain + b, atol=1e-2)


def test_rejects_non_bgr_image():
    with pytest.raises(ValueError, match="BGR"):
        Augmentation()(np.zeros((511, 511), np.uint8), [1, 1, 5, 5], 255, np.random.default_rng(0))
