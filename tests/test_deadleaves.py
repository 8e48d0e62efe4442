"""Procedural stills (issue 16): 1/f noise and dead-leaves images have natural-image statistics, are seeded, and
their folder is reproducible, resumable and never loses a user's file."""
import importlib.util
import json
import os
import signal

import cv2
import numpy as np
import pytest

from siamcorners.config import load_config
from siamcorners.data.datasets import build_train_dataset
from siamcorners.data.deadleaves import dead_leaves_image, noise_image, power_law_noise, power_law_radii
from siamcorners.data.procedural_stills import MANIFEST, render, write_procedural_stills

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPU_CFG = os.path.join(ROOT, "experiments", "siamcorners_cpu", "config.yaml")


def _spectral_slope(image: np.ndarray) -> float:
    """Slope of log(radially averaged power) against log(spatial frequency), frequencies 4 .. N/2 - 8 cycles."""
    image = image.astype(np.float64) - image.mean()
    h, w = image.shape
    power = np.abs(np.fft.fft2(image)) ** 2
    radius = np.rint(np.hypot(*np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij"))).astype(int)
    ks = np.arange(4, min(h, w) // 2 - 8)
    mean_power = np.bincount(radius.ravel(), power.ravel())[ks] / np.bincount(radius.ravel())[ks]
    return float(np.polyfit(np.log(ks), np.log(mean_power), 1)[0])


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize("exponent", [2.0, 1.0])
def test_power_law_noise_has_the_asked_spectral_slope(exponent):
    rng = np.random.default_rng(0)
    slopes = [_spectral_slope(power_law_noise(rng, (256, 192), exponent)) for _ in range(3)]
    assert abs(np.mean(slopes) + exponent) < 0.1
    field = power_law_noise(rng, (64, 80), exponent)
    assert field.shape == (64, 80) and field.dtype == np.float32
    assert abs(field.mean()) < 1e-4 and abs(field.std() - 1) < 1e-4


def test_colour_noise_and_dead_leaves_have_natural_spectra():
    rng = np.random.default_rng(1)
    noise = noise_image(rng, (256, 256))
    assert noise.shape == (256, 256, 3) and noise.dtype == np.uint8
    assert abs(_spectral_slope(_grey(noise)) + 2.0) < 0.2                     # 1/f amplitude, after clipping
    assert np.abs(noise.astype(int) - noise[..., :1]).mean() > 1              # coloured, not grey
    leaves = [dead_leaves_image(rng, (256, 256), blur_max=0.0) for _ in range(3)]
    assert -2.6 < np.mean([_spectral_slope(_grey(im)) for im in leaves]) < -1.7  # natural photos: about -2
    assert all(len(np.unique(im.reshape(-1, 3), axis=0)) > 1000 for im in leaves)  # many leaves, textures


def test_leaf_radii_follow_the_power_law():
    radii = power_law_radii(np.random.default_rng(2), 200000, 4.0, 256.0, alpha=3.0)
    assert radii.min() >= 4.0 and radii.max() <= 256.0
    for r in (8.0, 16.0, 64.0):  # CDF of p(r) ~ r^-3 on [4, 256]: (4^-2 - r^-2) / (4^-2 - 256^-2)
        assert abs(np.mean(radii <= r) - (4.0 ** -2 - r ** -2) / (4.0 ** -2 - 256.0 ** -2)) < 0.005


def test_images_are_reproducible_per_seed_and_index():
    for make in (lambda s: dead_leaves_image(np.random.default_rng(s), (96, 128)),
                 lambda s: noise_image(np.random.default_rng(s), (96, 128))):
        assert make(5).shape == (96, 128, 3)
        assert np.array_equal(make(5), make(5)) and not np.array_equal(make(5), make(6))
    name, image = render(3, 7, 96, 0.5)
    assert render(3, 7, 96, 0.5)[0] == name and np.array_equal(render(3, 7, 96, 0.5)[1], image)
    assert not np.array_equal(render(3, 8, 96, 0.5)[1], image)
    kinds = {render(0, i, 64, 0.5)[0].split("_")[0] for i in range(12)}
    assert kinds == {"noise", "deadleaves"}


def _files(folder) -> dict:
    return {f: (folder / f).read_bytes() for f in sorted(os.listdir(folder))}


def test_folder_is_reproducible_and_a_rerun_writes_only_missing_images(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    written = write_procedural_stills(str(a), 4, seed=1, size=64, noise_fraction=0.5)
    assert len(written) == 4 and sorted(os.listdir(a)) == sorted([MANIFEST] + [os.path.basename(p) for p in written])
    write_procedural_stills(str(b), 6, seed=1, size=64, noise_fraction=0.5)
    first = _files(a)
    assert all(_files(b)[f] == data for f, data in first.items() if f != MANIFEST)  # count does not change images
    assert json.loads(first[MANIFEST])["seed"] == 1 and json.loads(first[MANIFEST])["count"] == 4
    os.remove(written[2])                                   # as if interrupted before it was written
    assert write_procedural_stills(str(a), 4, seed=1, size=64, noise_fraction=0.5) == [written[2]]
    assert _files(a) == first and not [f for f in os.listdir(a) if f.endswith(".tmp")]
    assert len(write_procedural_stills(str(a), 6, seed=1, size=64, noise_fraction=0.5)) == 2


@pytest.mark.parametrize("change, message", [
    (dict(seed=2), "seed 1 (asked 2)"), (dict(size=96), "size 64 (asked 96)"),
    (dict(count=2), "holds 3 images"),
])
def test_folder_of_other_settings_is_refused_and_kept(tmp_path, change, message):
    folder = tmp_path / "p"
    write_procedural_stills(str(folder), 3, seed=1, size=64)
    (folder / "mine.jpg").write_bytes(b"user file")
    before = _files(folder)
    kwargs = {**dict(count=3, seed=1, size=64), **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_procedural_stills(str(folder), **kwargs)
    assert _files(folder) == before


def test_folder_with_foreign_files_is_refused_untouched(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "000000.jpg").write_bytes(b"user photo")
    with pytest.raises(FileExistsError, match="not empty and has no GENERATOR.json"):
        write_procedural_stills(str(folder), 2, size=64)
    assert _files(folder) == {"000000.jpg": b"user photo"}


def _tool():
    """tools/prepare/deadleaves.py loaded in this process (the Ctrl-C handlers it sets while starting restored)."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    spec = importlib.util.spec_from_file_location("prepare_deadleaves",
                                                  os.path.join(ROOT, "tools", "prepare", "deadleaves.py"))
    tool = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(tool)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return tool


def test_tool_errors_are_one_line_and_make_nothing(tmp_path, capsys):
    deadleaves = _tool()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    for args, expected in ((["--count", "0"], "count must be >= 1"),
                           (["--noise-fraction", "2"], "noise fraction must be in [0, 1]"),
                           (["--out", str(tmp_path / "full")], "not empty and has no GENERATOR.json")):
        out = str(tmp_path / "new") if "--out" not in args else None
        rc = deadleaves.main((["--out", out] if out else []) + args)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("error: ") and expected in err[0]
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path / "full") == ["notes.txt"]
    assert deadleaves.main(["--out", str(tmp_path / "ok"), "--count", "2", "--size", "64"]) == 0
    assert "2 images in" in capsys.readouterr().out and len(os.listdir(tmp_path / "ok")) == 3


def test_procedural_source_trains_beside_the_photos(tmp_path):
    write_procedural_stills(str(tmp_path / "procedural"), 3, size=128)
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "p.png"), (np.random.default_rng(0).random((150, 200, 3)) * 255)
                .astype(np.uint8))
    cfg = load_config(CPU_CFG, ["DATASET.NAMES", "[STILLS, PROCEDURAL]", "DATASET.VIDEOS_PER_EPOCH", "6",
                                "DATASET.SOURCES.STILLS.ROOT", str(tmp_path / "photos"),
                                "DATASET.SOURCES.STILLS.NUM_USE", "2",
                                "DATASET.SOURCES.PROCEDURAL.ROOT", str(tmp_path / "procedural"),
                                "DATASET.SOURCES.PROCEDURAL.NUM_USE", "4"])
    dataset = build_train_dataset(cfg)
    assert [s.name for s in dataset.sources] == ["STILLS", "PROCEDURAL"]
    assert sorted(dataset._pick_source.tolist()) == [0] * 2 + [1] * 4
    assert len(dataset.sources[1].videos) == 3
    item = dataset[int(np.flatnonzero(dataset._pick_source == 1)[0])]
    assert item["search"].shape == (3, 255, 255)
