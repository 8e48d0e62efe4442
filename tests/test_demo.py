import importlib.util
import os

import cv2
import numpy as np
import pytest
import yaml

from siamcorners.tracker.video_io import AnnotatedWriter, draw_track, parse_box

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = {"DEVICE": "cpu",
        "MODEL": {"BACKBONE": {"TYPE": "resnet18_small", "WIDTH": 8}, "NECK": {"OUT_CHANNELS": 16},
                  "HEAD": {"CHANNELS": 16, "POOL_CHANNELS": 8}}}


@pytest.fixture(scope="module")
def demo():
    return importlib.import_module("siamcorners.cli.demo")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A randomly initialised small model: config file + checkpoint."""
    from siamcorners.config import load_config
    from siamcorners.models import build_model
    from siamcorners.models.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("tiny")
    cfg_path = folder / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    save_checkpoint(str(folder / "model.pth"), build_model(load_config(str(cfg_path))))
    return str(cfg_path), str(folder / "model.pth")


def read_video(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_demo_on_video_file(demo, tiny_model, shared_data_dir, tmp_path, capsys):
    cfg, snap = tiny_model
    out, gif = str(tmp_path / "out.mp4"), str(tmp_path / "out.gif")
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--source", os.path.join(shared_data_dir, "bag.avi"),
                    "--init", "300,120,100,160", "--max-frames", "3", "--out", out, "--gif", gif])
    assert rc == 0
    assert "FPS" in capsys.readouterr().out
    frames = read_video(out)
    assert len(frames) == 3 and frames[0].shape == (360, 480, 3)
    from PIL import Image
    assert Image.open(gif).n_frames == 2                                     # frames 0 and 2: 25 fps -> 12.5 in the GIF
    assert sorted(os.listdir(tmp_path)) == ["out.gif", "out.mp4"]           # no temporary files left


def test_demo_on_gray_otb_folder_uses_its_ground_truth(demo, tiny_model, shared_data_dir, tmp_path, capsys):
    cfg, snap = tiny_model
    out = str(tmp_path / "dudek.mp4")
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--source", os.path.join(shared_data_dir, "otb_mini", "Dudek"),
                    "--max-frames", "2", "--out", out])
    assert rc == 0
    assert "initial box from" in capsys.readouterr().out
    assert len(read_video(out)) == 2


def test_demo_without_source_tracks_a_synthetic_video(demo, tiny_model, tmp_path, monkeypatch, capsys):
    cfg, snap = tiny_model
    monkeypatch.setattr(demo, "DEFAULT_CFG", cfg)
    monkeypatch.setattr(demo, "DEFAULT_SNAPSHOT", snap)
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--frames", "3"]) == 0
    printed = capsys.readouterr().out
    assert "mean IoU" in printed and "wrote demo.mp4" in printed
    assert len(read_video(str(tmp_path / "demo.mp4"))) == 3


def test_demo_without_weights_says_how_to_train(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "DEFAULT_SNAPSHOT", str(tmp_path / "missing" / "model.pth"))
    monkeypatch.chdir(tmp_path)
    assert demo.main([]) != 0
    err = capsys.readouterr().err
    assert "no trained weights" in err
    assert "python tools/train.py --cfg experiments/siamcorners_cpu/config.yaml" in err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--source", "nope/missing.mp4", "--init", "1,1,5,5"], "no such video file"),
    (["--init", "1,2,3"], "'x,y,w,h', got '1,2,3'"),
    (["--init", "10,10,0,20"], "w or h <= 0"),
    (["--init", "5000,5000,10,10"], "outside"),
])
def test_demo_bad_input_is_a_clear_error(demo, tiny_model, shared_data_dir, tmp_path, args, message, capsys):
    cfg, snap = tiny_model
    if "--source" not in args:
        args = args + ["--source", os.path.join(shared_data_dir, "bag.avi")]
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--out", str(tmp_path / "o.mp4"), "--max-frames", "2"] + args)
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not os.listdir(tmp_path)                                       # nothing half-written


def test_demo_without_init_and_display_asks_for_init(demo, tiny_model, shared_data_dir, tmp_path, monkeypatch,
                                                     capsys):
    cfg, snap = tiny_model
    monkeypatch.setattr(demo, "display_available", lambda: False)
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--source", os.path.join(shared_data_dir, "bag.avi"),
                    "--out", str(tmp_path / "o.mp4")])
    assert rc == 2
    assert "pass --init x,y,w,h" in capsys.readouterr().err


def test_parse_box():
    assert parse_box("1, 2.5,3,4") == [1.0, 2.5, 3.0, 4.0]
    assert parse_box("1 2 3 4") == [1.0, 2.0, 3.0, 4.0]
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,nan"):
        with pytest.raises(ValueError, match="x,y,w,h"):
            parse_box(bad)


def test_draw_track_leaves_input_untouched():
    frame = np.full((40, 60, 3), 100, np.uint8)
    before = frame.copy()
    out = draw_track(frame, [10, 10, 20, 15], score=0.5, gt=[12, 12, 20, 15], text="#2")
    np.testing.assert_array_equal(frame, before)
    assert out.shape == frame.shape and (out != frame).any()
    assert draw_track(frame[..., 0], [1, 1, 5, 5]).shape == (40, 60, 3)


def test_writer_is_atomic_and_discards_on_error(tmp_path):
    path = str(tmp_path / "clip.mp4")
    with pytest.raises(RuntimeError):
        with AnnotatedWriter(path, fps=10) as writer:
            writer.write(np.zeros((32, 48, 3), np.uint8))
            raise RuntimeError("stop")
    assert not os.listdir(tmp_path)
    with AnnotatedWriter(path, fps=10) as writer:
        for i in range(4):
            writer.write(np.full((32, 48, 3), 60 * i, np.uint8))
            assert not os.path.exists(path)                              # appears only when complete
    assert len(read_video(path)) == 4
    with pytest.raises(ValueError, match="size"):
        with AnnotatedWriter(str(tmp_path / "b.mp4")) as writer:
            writer.write(np.zeros((32, 48, 3), np.uint8))
            writer.write(np.zeros((30, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="does not exist"):
        AnnotatedWriter(str(tmp_path / "no_dir" / "c.mp4"))


def test_demo_on_otb_folder_draws_the_ground_truth_and_prints_iou(demo, tiny_model, shared_data_dir, tmp_path,
                                                                  capsys):
    """Issue 18 §8: the README promises the ground truth in green and the IoU for an OTB sequence folder; only the
    first box was used."""
    import shutil

    from siamcorners.tracker.video_io import GT_COLOR

    cfg, snap = tiny_model
    out = str(tmp_path / "dudek.mp4")
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--source", os.path.join(shared_data_dir, "otb_mini", "Dudek"),
                    "--max-frames", "3", "--out", out])
    assert rc == 0
    assert "mean IoU with the ground truth over 3 frames" in capsys.readouterr().out
    last = read_video(out)[-1].astype(int)
    green = np.all(np.abs(last - np.array(GT_COLOR)) <= 40, axis=2)   # mp4 compression moves colours a little
    assert green.sum() > 200                                              # the ground-truth box and its legend swatch
    # a folder whose images do not match the ground truth rows one to one: no shifted ground truth, a warning
    seq = tmp_path / "Dudek"
    shutil.copytree(os.path.join(shared_data_dir, "otb_mini", "Dudek"), seq)
    os.remove(seq / "img" / "0010.jpg")
    rc = demo.main(["--cfg", cfg, "--snapshot", snap, "--source", str(seq), "--max-frames", "3", "--out", out])
    assert rc == 0
    captured = capsys.readouterr()
    assert "mean IoU" not in captured.out and "has 20 rows for 19 images" in captured.err


def test_gif_of_196_frames_is_a_few_megabytes(shared_data_dir, tmp_path):
    """Issue 18 §8: the demo's GIF of bag.avi (196 frames, 480x360, 25 fps) was 22 MB."""
    from PIL import Image

    cap = cv2.VideoCapture(os.path.join(shared_data_dir, "bag.avi"))
    gif = str(tmp_path / "bag.gif")
    with AnnotatedWriter(None, gif, fps=cap.get(cv2.CAP_PROP_FPS)) as writer:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(draw_track(frame, [200, 120, 80, 100], 0.9, [205, 118, 80, 100], text="#"))
    cap.release()
    assert writer.frames_written == 196
    im = Image.open(gif)
    assert im.n_frames == 98 and im.size == (320, 240) and im.info["duration"] == 80   # the video's speed
    assert os.path.getsize(gif) < 6e6
