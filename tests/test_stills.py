"""The STILLS training source (issue 16): pairs cut from / pasted between still photos, with labels checked by hand."""
import os

import cv2
import numpy as np
import pytest

from siamcorners.config import load_config
from siamcorners.data.datasets import build_source, build_train_dataset
from siamcorners.data.package_photos import collect_photos
from siamcorners.data.sources import Target, crop_box, instance_context_size
from siamcorners.data.stills import StillSource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_CFG = os.path.join(ROOT, "experiments", "siamcorners_cpu", "config.yaml")


def _flat_photos(folder) -> None:
    """Two flat photos: one black, one white (a pasted target is then the only non-background colour)."""
    folder.mkdir()
    cv2.imwrite(str(folder / "black.png"), np.zeros((200, 300, 3), np.uint8))
    cv2.imwrite(str(folder / "white.png"), np.full((240, 260, 3), 255, np.uint8))


def _ramp_photo(folder) -> None:
    """A photo whose pixel (x, y) is (x, y, 0) in B, G, R: the crop's centre tells where it was cut."""
    folder.mkdir()
    y, x = np.mgrid[0:250, 0:250]
    cv2.imwrite(str(folder / "ramp.png"), np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8))


def test_pasted_target_is_exactly_the_label_box(tmp_path):
    _flat_photos(tmp_path / "photos")
    source = StillSource("STILLS", str(tmp_path / "photos"), seed=3, num_use=-1, paste=1.0, blur=0.0,
                         canvas=(120, 160))
    rng = np.random.default_rng(0)
    moved = 0
    for k in range(12):
        template, search = source.positive_pair(k % 2, rng)
        boxes = []
        for target in (template, search):
            frame, box = source.frame(target)
            assert frame.shape == (120, 160, 3)
            background = 0 if target.video == "white.png" else 255   # the target photo is never the background
            ys, xs = np.nonzero((frame != background).any(-1))
            x, y, w, h = box
            assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (x, y, w, h)
            boxes.append(box)
        moved += not np.array_equal(boxes[0], boxes[1])
    assert moved >= 10   # template and search poses differ (motion / scale change)


def test_cropped_target_box_maps_to_the_photo_region(tmp_path):
    _ramp_photo(tmp_path / "photos")
    source = StillSource("STILLS", str(tmp_path / "photos"), seed=0, num_use=-1, paste=0.0)
    rng = np.random.default_rng(1)
    for _ in range(5):
        template, search = source.positive_pair(0, rng)
        crop, box = source.load(template)
        crop2, box2 = source.load(search)
        assert np.array_equal(crop, crop2) and np.array_equal(box, box2)   # the pysot COCO way: one crop
        _, (x, y, w, h) = source.frame(template)
        assert 0 <= x and x + w <= 250 and 0 <= y and y + h <= 250 and min(w, h) >= 8
        b, g, _ = crop[255, 255].astype(float)  # the crop's centre is the region's centre in the photo
        assert abs(b - (x + (w - 1) / 2)) <= 1.0 and abs(g - (y + (h - 1) / 2)) <= 1.0
        side = instance_context_size(w, h)
        assert np.allclose(box, crop_box((511, 511), (w, h)))
        tol = 2.0 + side / 511   # pysot subwindow rounding (~1 photo px), the edge half-pixel, one crop pixel
        for cx, cy, px, py in ((box[0], box[1], x, y), (box[2], box[3], x + w - 1, y + h - 1)):
            b, g, _ = crop[int(np.clip(round(cy), 0, 510)), int(np.clip(round(cx), 0, 510))].astype(float)
            assert abs(b - px) <= tol and abs(g - py) <= tol   # the label's corners are the region's corners


def test_pairs_are_deterministic_per_seed(tmp_path):
    _flat_photos(tmp_path / "photos")
    (tmp_path / "photos" / "ramp").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "ramp" / "r.png"),
                (np.random.default_rng(5).random((150, 170, 3)) * 255).astype(np.uint8))
    make = lambda seed: StillSource("STILLS", str(tmp_path / "photos"), seed=seed, num_use=-1)  # noqa: E731
    a, b, c = make(7), make(7), make(8)
    assert a.videos == ["black.png", "ramp/r.png", "white.png"]
    different = 0
    for k in range(8):
        target = Target("ramp/r.png", str(1000 + k), k % 2)
        (ia, ba), (ib, bb), (ic, bc) = a.load(target), b.load(target), c.load(target)
        assert np.array_equal(ia, ib) and np.array_equal(ba, bb)
        different += not (ia.shape == ic.shape and np.array_equal(ia, ic))
    assert different >= 6


def test_train_dataset_mixes_stills_and_is_reproducible(tmp_path):
    _flat_photos(tmp_path / "photos")
    cfg = load_config(CPU_CFG, ["DATASET.SOURCES.STILLS.ROOT", str(tmp_path / "photos"),
                                "DATASET.VIDEOS_PER_EPOCH", "8", "DATASET.SOURCES.SYNTHETIC.VIDEOS", "2",
                                "DATASET.SOURCES.SYNTHETIC.NUM_USE", "4", "DATASET.SOURCES.STILLS.NUM_USE", "4"])
    first, second = build_train_dataset(cfg), build_train_dataset(cfg)
    assert [s.name for s in first.sources] == ["SYNTHETIC", "STILLS"]
    assert sorted(first._pick_source.tolist()) == [0] * 4 + [1] * 4
    for i in range(8):
        x, y = first[i], second[i]
        assert x["search"].shape == (3, 255, 255) and x["template"].shape == (4, 3, 127, 127)
        assert all(np.array_equal(x[k].numpy(), y[k].numpy()) for k in x)


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "DATASET.SOURCES.STILLS.ROOT: image folder not found: {p}"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("x")), "DATASET.SOURCES.STILLS.ROOT: no image"),
])
def test_bad_image_folder_is_a_one_line_error_naming_it(tmp_path, make, expected):
    folder = tmp_path / "photos"
    make(folder)
    spec = load_config(CPU_CFG, ["DATASET.SOURCES.STILLS.ROOT", str(folder)]).DATASET.SOURCES.STILLS
    with pytest.raises((FileNotFoundError, ValueError)) as e:
        build_source("STILLS", spec)
    message = str(e.value)
    assert message.startswith(expected.format(p=folder)) and str(folder) in message and "\n" not in message


def test_train_cli_names_a_missing_image_folder(tmp_path, capsys):
    from siamcorners.cli import train
    rc = train.main(["--cfg", CPU_CFG, "--no-progress", "--threads", "1", "--opts", "OUTPUT_DIR",
                     str(tmp_path / "run"), "DATASET.SOURCES.STILLS.ROOT", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("error: ") and str(tmp_path / "nowhere") in err[-1]


def test_collect_photos_copies_package_images_with_sources(tmp_path):
    pytest.importorskip("matplotlib")
    copied = collect_photos(str(tmp_path / "stills"), ["matplotlib"])
    assert copied == [str(tmp_path / "stills" / "matplotlib" / "grace_hopper.jpg")]  # not the logo, not clip-art
    assert cv2.imread(copied[0]).shape == (600, 512, 3)
    listing = (tmp_path / "stills" / "SOURCES.txt").read_text()
    assert "matplotlib/grace_hopper.jpg\tmatplotlib==" in listing and "public domain" in listing
    assert "logo2.png" not in listing and "Minduka" not in listing
    with pytest.raises(ValueError, match="unknown photo package 'pillow'"):
        collect_photos(str(tmp_path / "other"), ["pillow"])


def test_appearance_change_alters_the_search_target_only(tmp_path):
    """APPEARANCE: in pasted pairs the search frame's target is the region seen changed (view, rotation, light);
    the template frame, the label boxes and everything outside the search target are those of the same pair with
    the change left out; a region moved by half its width (shift 0.5), turned 180 degrees or lit differently is what
    the patch shows."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng_img = np.random.default_rng(2)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), (rng_img.random((220, 260, 3)) * 255).astype(np.uint8))
    class Unchanged(StillSource):   # the same random draws, the change itself left out
        @staticmethod
        def _changed_patch(image, region, change):
            x, y, w, h = region
            return image[y:y + h, x:x + w]

    plain = Unchanged("STILLS", str(folder), seed=4, num_use=-1, paste=1.0, blur=0.0, appearance=1.0)
    changed = StillSource("STILLS", str(folder), seed=4, num_use=-1, paste=1.0, blur=0.0, appearance=1.0)
    differs = 0
    for k in range(6):
        t0, t1 = Target("a.png", str(50 + k), 0), Target("a.png", str(50 + k), 1)
        (f0, b0), (g0, c0) = plain.frame(t0), changed.frame(t0)
        (f1, b1), (g1, c1) = plain.frame(t1), changed.frame(t1)
        assert np.array_equal(b0, c0) and np.array_equal(b1, c1)   # the labels do not move
        x, y, w, h = (int(v) for v in c1)
        assert np.array_equal(f0, g0)                               # the template frame is untouched
        outside = np.ones(f1.shape[:2], bool)
        outside[y:y + h, x:x + w] = False
        assert np.array_equal(f1[outside], g1[outside])             # only the target changes in the search frame
        differs += not np.array_equal(f1[y:y + h, x:x + w], g1[y:y + h, x:x + w])
    assert differs == 6
    image = cv2.imread(str(folder / "a.png"))
    identity = {"shift": np.zeros(2), "zoom": np.ones(2), "angle": 0.0, "gain": 1.0, "offset": 0.0,
                "colour": np.ones(3)}
    assert np.array_equal(StillSource._changed_patch(image, (40, 30, 81, 61), identity), image[30:91, 40:121])
    turned = StillSource._changed_patch(image, (40, 30, 81, 61), {**identity, "angle": 180.0})
    assert np.array_equal(turned, image[30:91, 40:121][::-1, ::-1])
    moved = StillSource._changed_patch(image, (40, 30, 80, 60), {**identity, "shift": np.array([0.5, 0.0])})
    assert np.array_equal(moved, image[30:90, 80:160])
    lit = StillSource._changed_patch(image, (40, 30, 80, 60), {**identity, "gain": 0.5, "offset": 10.0})
    want = np.clip(image[30:90, 40:120].astype(np.float32) * 0.5 + 10.0, 0, 255).astype(np.uint8)
    assert np.array_equal(lit, want)
    with pytest.raises(ValueError, match="APPEARANCE"):
        StillSource("STILLS", str(folder), seed=0, num_use=-1, appearance=1.5)


def _fake_package(tmp_path, monkeypatch, files):
    """A fake installed 'skimage' whose data folder holds ``files`` {name: image}; returns its folder."""
    import siamcorners.data.package_photos as pp
    folder = tmp_path / "site" / "skimage" / "data"
    folder.mkdir(parents=True)
    for name, image in files.items():
        cv2.imwrite(str(folder / name), image)
    monkeypatch.setattr(pp, "_package_dir", lambda module: str(folder.parent) if module == "skimage" else None)
    monkeypatch.setattr(pp.importlib.metadata, "version", lambda dist: "9.9")
    return folder


def test_collect_photos_selects_listed_photos_by_kind_and_colour(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    colour, grey = (rng.random((80, 90, 3)) * 255).astype(np.uint8), (rng.random((70, 100)) * 255).astype(np.uint8)
    _fake_package(tmp_path, monkeypatch, {"chelsea.png": colour, "camera.png": grey, "ihc.png": colour,
                                          "logo.png": colour, "rocket.jpg": colour[:40]})  # rocket: too small
    out = tmp_path / "stills"
    names = lambda paths: sorted(os.path.basename(p) for p in paths)  # noqa: E731
    assert names(collect_photos(str(out), ["skimage"])) == ["camera.png", "chelsea.png"]
    rows = [r.split("\t") for r in (out / "SOURCES.txt").read_text().splitlines() if not r.startswith("#")]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("skimage/camera.png", "scikit-image==9.9", "scene", "grey 70x100"),
        ("skimage/chelsea.png", "scikit-image==9.9", "scene", "colour 80x90")]
    assert "CC0" in rows[0][4] and "skimage.data.camera()" in rows[0][4]
    assert names(collect_photos(str(out), ["skimage"], ["scene", "science"], gray=False)) == ["chelsea.png", "ihc.png"]
    with pytest.raises(ValueError, match="unknown photo kind 'people'"):
        collect_photos(str(out), ["skimage"], ["people"])


def test_collect_photos_removes_only_its_own_stale_files(tmp_path, monkeypatch):
    image = (np.random.default_rng(1).random((80, 90, 3)) * 255).astype(np.uint8)
    _fake_package(tmp_path, monkeypatch, {"chelsea.png": image, "camera.png": image[..., 0]})
    out = tmp_path / "stills"
    collect_photos(str(out), ["skimage"])
    (out / "mine.jpg").write_bytes(b"user photo")
    (out / "skimage" / "mine.png").write_bytes(b"user photo")
    collect_photos(str(out), ["skimage"], gray=False)   # camera.png (grey, ours) is no longer selected
    assert sorted(os.listdir(out / "skimage")) == ["chelsea.png", "mine.png"]
    assert (out / "mine.jpg").read_bytes() == b"user photo"
    assert "camera.png" not in (out / "SOURCES.txt").read_text()


def test_prepare_stills_tool_names_a_bad_package_or_kind_in_one_line(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location("prepare_stills", os.path.join(ROOT, "tools", "prepare", "stills.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for args, expected in ((["--packages", "pillow"], "unknown photo package 'pillow'"),
                           (["--kinds", "people"], "unknown photo kind 'people'")):
        rc = tool.main(["--out", str(tmp_path / "stills")] + args)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0]
    assert not (tmp_path / "stills").exists()
