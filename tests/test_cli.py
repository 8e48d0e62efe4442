"""The command-line programs as a user meets them: one-line errors (rc 2, tracebacks only with --debug) checked
before the work starts, Ctrl-C / SIGTERM / SIGKILL behaviour, the pysot-style flags, help texts and the demo's
legend and model note (issue 10 §2 and §4, issue 11 §3)."""
import argparse
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest
import torch

from siamcorners.cli import common
from siamcorners.config import load_config
from siamcorners.models import build_model
from siamcorners.models.checkpoint import save_checkpoint

from fixtures.cli import interrupt_line  # tests/fixtures (tests/ is on sys.path under pytest)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CFG = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
TINY_MODEL = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "model.pth")

FAKE = textwrap.dedent('''
    import time
    import numpy as np

    class Slow:
        def init(self, frame, box):
            self.box = np.asarray(box, float)
        def track(self, frame):
            time.sleep(0.2)
            return {"bbox": self.box.tolist(), "score": 1.0}

    def slow(device):
        return Slow()
''')


def tool(name):
    if name in ("train", "test", "eval", "demo"):
        return importlib.import_module(f"siamcorners.cli.{name}")
    spec = importlib.util.spec_from_file_location(f"cli_tool_{name}", os.path.join(ROOT, "tools", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def otb_tree(root, videos=("Alpha", "Beta"), n=4, first_box=None):
    for k, v in enumerate(videos):
        os.makedirs(os.path.join(root, v, "img"))
        for i in range(1, n + 1):
            img = np.full((64, 80, 3), 60 + 40 * k, np.uint8)
            cv2.rectangle(img, (20 + i, 20), (40 + i, 40), (250, 250, 250), -1)
            cv2.imwrite(os.path.join(root, v, "img", f"{i:04d}.jpg"), img)
        rows = [f"{20 + i},20,20,20\n" for i in range(n)]
        if first_box is not None and k == len(videos) - 1:
            rows[0] = first_box + "\n"
        with open(os.path.join(root, v, "groundtruth_rect.txt"), "w") as f:
            f.writelines(rows)
    return root


def one_error_line(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    mod_dir = tmp_path / "fakemods"
    mod_dir.mkdir()
    (mod_dir / "cli_fake_trackers.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mod_dir), ROOT, os.environ.get("PYTHONPATH", "")]))
    return str(mod_dir)


@pytest.fixture
def data(tmp_path):
    return otb_tree(str(tmp_path / "otb"))


def run_test(*extra, data, out):
    return tool("test").main(["--cfg", TINY_CFG, "--dataset", "OTB100", "--dataset-root", data, "--out", out,
                              "--no-progress", *extra])


# ------------------------------------------------------------------------------ test.py: one line, checked first
def _truncated(path):
    with open(TINY_MODEL, "rb") as f:
        blob = f.read()
    path.write_bytes(blob[: len(blob) // 3])


def _foreign(path):
    torch.save({"weights": torch.zeros(3)}, path)


def _non_tensor(path):
    torch.save({"format": "siamcorners-checkpoint", "version": 1, "model": {"a": argparse.Namespace()}}, path)


def _text(path):
    path.write_text("not a checkpoint\n")


@pytest.mark.parametrize("make", [_truncated, _foreign, _non_tensor, _text])
def test_bad_checkpoints_are_one_line(make, data, tmp_path, capsys):
    snap = tmp_path / "bad.pth"
    make(snap)
    assert run_test("--snapshot", str(snap), data=data, out=str(tmp_path / "res")) == 2
    one_error_line(capsys, "bad.pth")
    assert not os.path.exists(tmp_path / "res" / "OTB100" / "bad")       # refused before any tracking


def test_architecture_mismatch_names_the_config_that_fits(data, tmp_path, capsys):
    snap = str(tmp_path / "wide.pth")
    cfg = load_config(TINY_CFG, ["MODEL.NECK.OUT_CHANNELS", "16", "MODEL.HEAD.CHANNELS", "16"])
    save_checkpoint(snap, build_model(cfg), config=cfg)
    assert run_test("--snapshot", snap, data=data, out=str(tmp_path / "res")) == 2
    line = one_error_line(capsys, "wide.pth", "MODEL.NECK.OUT_CHANNELS 16", "--opts MODEL.NECK.OUT_CHANNELS 16")
    assert "strict=False" not in line
    # the other way round: weights of the tiny model tested with another model config name the tiny config
    snap2 = str(tmp_path / "tiny.pth")
    tiny = load_config(TINY_CFG)
    save_checkpoint(snap2, build_model(tiny), config=tiny)
    assert tool("test").main(["--cfg", TINY_CFG, "--opts", "MODEL.NECK.OUT_CHANNELS", "16", "MODEL.HEAD.CHANNELS",
                              "16", "--snapshot", snap2,
                              "--dataset", "OTB100", "--dataset-root", data, "--out", str(tmp_path / "r2"),
                              "--no-progress"]) == 2
    one_error_line(capsys, "--cfg experiments/siamcorners_tiny_synthetic/config.yaml")


def test_cuda_without_gpu_is_one_line(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = str(tmp_path / "res")
    assert run_test("--snapshot", TINY_MODEL, "--opts", "DEVICE", "cuda", data=data, out=out) == 2
    one_error_line(capsys, "DEVICE cuda", "no CUDA GPU")
    assert run_test("--snapshot", TINY_MODEL, "--gpus", "0,1", data=data, out=out) == 2
    one_error_line(capsys, "--gpus cuda:0")
    assert not os.path.exists(out)


def test_init_box_outside_the_image_names_the_video_before_tracking(tmp_path, capsys):
    data = otb_tree(str(tmp_path / "otb"), first_box="500,400,10,10")
    out = str(tmp_path / "res")
    assert run_test("--snapshot", TINY_MODEL, data=data, out=out) == 2
    one_error_line(capsys, "Beta", "outside")
    assert not os.path.exists(os.path.join(out, "OTB100", "model", "Alpha.txt"))   # nothing ran


def test_output_that_is_a_file_is_refused_before_tracking(data, tmp_path, capsys):
    blocker = tmp_path / "results_file"
    blocker.write_text("x")
    assert run_test("--snapshot", TINY_MODEL, data=data, out=str(blocker)) == 2
    one_error_line(capsys, "--out", "results_file", "is a file")
    assert run_test("--snapshot", TINY_MODEL, data=data, out=str(blocker / "sub")) == 2
    one_error_line(capsys, "results_file is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder cannot be made here")
def test_unwritable_output_is_refused(data, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert run_test("--snapshot", TINY_MODEL, data=data, out=str(ro / "res")) == 2
        one_error_line(capsys, "not writable")
    finally:
        ro.chmod(0o700)


def test_debug_shows_the_traceback(data, tmp_path, capsys):
    """--debug raises the very error the one-line message reports (its type, its text, where it was raised)."""
    import traceback

    from siamcorners.models.checkpoint import CheckpointError

    snap = tmp_path / "bad.pth"
    _text(snap)
    assert run_test("--snapshot", str(snap), data=data, out=str(tmp_path / "res")) == 2
    line = one_error_line(capsys, "bad.pth")
    with pytest.raises(CheckpointError) as e:
        run_test("--snapshot", str(snap), "--debug", data=data, out=str(tmp_path / "res"))
    assert line == f"error: {common.one_line(e.value)}"
    assert "error: " not in capsys.readouterr().err
    frames = traceback.extract_tb(e.value.__traceback__)
    assert any(f.filename.endswith(os.path.join("models", "checkpoint.py")) for f in frames)


# ------------------------------------------------------------------------------ test.py: first hour, pysot flags
def test_pysot_style_test_command(tmp_path, monkeypatch, capsys):
    """--config, --video, and the default dataset root testing_dataset/<NAME> (pysot's JSON layout)."""
    monkeypatch.chdir(tmp_path)
    root = otb_tree(str(tmp_path / "testing_dataset" / "OTB100"))
    meta = {}
    for v in ("Alpha", "Beta"):
        gt = np.loadtxt(os.path.join(root, v, "groundtruth_rect.txt"), delimiter=",").tolist()
        meta[v] = {"video_dir": v, "init_rect": gt[0], "img_names": [f"{v}/img/{i:04d}.jpg" for i in range(1, 5)],
                   "gt_rect": gt, "attr": []}
    with open(os.path.join(root, "OTB100.json"), "w") as f:
        json.dump(meta, f)
    rc = tool("test").main(["--config", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "OTB100",
                            "--video", "Beta", "--out", "results", "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "dataset root: testing_dataset/OTB100" in out
    tdir = os.path.join("results", "OTB100", "model")
    assert "tracker model" in out and tdir in out                   # where the results went, under which name
    assert sorted(f for f in os.listdir(tdir) if f.endswith(".txt")) == ["Beta.txt"]


def test_missing_default_root_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert tool("test").main(["--config", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "OTB100",
                              "--out", "res", "--no-progress"]) == 2
    one_error_line(capsys, "--dataset-root", "testing_dataset/OTB100")


def test_vis_without_display_says_so_and_tracks(data, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = str(tmp_path / "res")
    assert run_test("--snapshot", TINY_MODEL, "--vis", "--video", "Alpha", data=data, out=out) == 0
    assert "--vis ignored: no display" in capsys.readouterr().err
    assert os.path.isfile(os.path.join(out, "OTB100", "model", "Alpha.txt"))


def test_vis_shows_every_frame_when_a_display_exists(data, tmp_path, monkeypatch):
    from siamcorners.tracker import video_io

    shown = []

    class FakeViewer:
        def __init__(self, title):
            pass

        def show(self, frame):
            shown.append(frame.shape)
            return True

    monkeypatch.setattr(video_io, "display_available", lambda: True)
    monkeypatch.setattr(video_io, "Viewer", FakeViewer)
    assert run_test("--snapshot", TINY_MODEL, "--vis", "--video", "Alpha", data=data, out=str(tmp_path / "r")) == 0
    assert shown == [(64, 80, 3)] * 4


@pytest.mark.parametrize("name", ["test", "eval"])
def test_help_has_description_and_examples(name, capsys):
    with pytest.raises(SystemExit):
        tool(name).main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "python tools/" in out
    assert ("Run a tracker over a benchmark" if name == "test" else "Score tracker results") in out


def test_every_benchmark_option_has_help():
    import argparse as ap

    bench = tool("benchmark")
    seen = {}

    def capture(self, args=None, namespace=None):
        seen["parser"] = self
        raise SystemExit(0)

    orig = ap.ArgumentParser.parse_args
    ap.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            bench.main(["eval"])
    finally:
        ap.ArgumentParser.parse_args = orig
    subs = [a for a in seen["parser"]._actions if isinstance(a, ap._SubParsersAction)][0]
    missing = [f"{cmd} {a.option_strings}" for cmd, p in subs.choices.items() for a in p._actions
               if a.option_strings and a.help in (None, "") and "-h" not in a.option_strings]
    assert len(subs.choices) >= 4 and not missing, missing


# ------------------------------------------------------------------------------ interrupts and killed runs
def _wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and not os.path.exists(path):
        if proc.poll() is not None:
            raise AssertionError(f"the tool ended early: {proc.communicate()}")
        time.sleep(0.05)
    assert os.path.exists(path), f"{path} never appeared"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_test_run_says_what_was_kept_and_how_to_resume(sig, tmp_path, fake_module):
    data = otb_tree(str(tmp_path / "otb"), videos=("Alpha", "Beta", "Gamma"), n=6)
    out = str(tmp_path / "res")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "OTB100", "--dataset-root", data,
           "--tracker-factory", "cli_fake_trackers:slow", "--out", out, "--no-progress"]
    # a runner started in the background (nohup, `&` without job control) passes SIGINT on as ignored, and Python
    # then installs no KeyboardInterrupt handler: give the tool a terminal's default, as a user's shell would
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(os.path.join(out, "OTB100", "slow", "Alpha.txt"), proc)
    line = interrupt_line(proc, sig)
    assert "of 3 videos have finished result files" in line
    assert "resume with: python tools/test.py --dataset OTB100" in line


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read()
    except OSError:
        return ""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the worker processes")
def test_sigkill_of_test_with_workers_leaves_no_orphan_and_no_tmp(tmp_path, fake_module):
    data = otb_tree(str(tmp_path / "otb"), videos=("Alpha", "Beta", "Gamma", "Delta"), n=12)
    out = str(tmp_path / "res")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "OTB100", "--dataset-root", data,
           "--tracker-factory", "cli_fake_trackers:slow", "--out", out, "--no-progress", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    tdir = os.path.join(out, "OTB100", "slow")
    try:
        deadline = time.time() + 120
        workers = []
        while time.time() < deadline and len(workers) < 2:
            workers = [k for k in _children(proc.pid) if "spawn_main" in _cmdline(k)]
            time.sleep(0.1)
        assert len(workers) >= 2, "the worker processes never started"
        _wait_for(os.path.join(tdir, "Alpha.txt"), proc)          # the workers are tracking
        time.sleep(0.3)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if _alive(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, "worker processes outlived the killed test.py"
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(tdir) for f in files if f.endswith(".tmp")]
    assert not leftovers


def test_interrupt_and_sigterm_through_run_guarded(capsys):
    args = argparse.Namespace(debug=False)

    def body():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return 0

    assert common.run_guarded(body, args, tool="eval", argv=["-d", "OTB100"],
                              resume_hint=lambda: "no report was written") == 130
    err = capsys.readouterr().err
    assert "interrupted: no report was written; resume with: python tools/eval.py -d OTB100" in err
    assert signal.getsignal(signal.SIGTERM) is not common._raise_interrupt      # handler restored


def test_interrupted_training_names_the_checkpoint_and_the_resume_command(tmp_path, monkeypatch, capsys):
    from siamcorners.engine.trainer import Trainer

    def stop(self):
        self.save("checkpoint_e1.pth", 1, 0)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train", stop)
    rc = tool("train").main(["--cfg", TINY_CFG, "--no-progress", "--opts", "OUTPUT_DIR", str(tmp_path),
                             "TRAIN.NUM_WORKERS", "0"])
    assert rc == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith("interrupted:")][0]
    assert os.path.join(str(tmp_path), "snapshot", "checkpoint_e1.pth") in line
    assert line.endswith(f"--opts OUTPUT_DIR {tmp_path} TRAIN.NUM_WORKERS 0 --resume auto")


# ------------------------------------------------------------------------------ train.py
def test_train_output_locations_are_checked_before_training(tmp_path, capsys, monkeypatch):
    from siamcorners.engine.trainer import Trainer

    def no_training(self, *a, **k):
        raise AssertionError("the trainer was built before the output check")

    (tmp_path / "snapshot").write_text("a file where the snapshot folder goes")
    monkeypatch.setattr(Trainer, "__init__", no_training)
    assert tool("train").main(["--cfg", TINY_CFG, "--opts", "OUTPUT_DIR", str(tmp_path)]) == 2
    one_error_line(capsys, "snapshot", "is a file")
    out2 = tmp_path / "ok"
    assert tool("train").main(["--cfg", TINY_CFG, "--export", str(tmp_path / "snapshot" / "m.pth"),
                               "--opts", "OUTPUT_DIR", str(out2)]) == 2
    one_error_line(capsys, "--export")


def test_train_device_and_launcher_flags(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tool("train").main(["--cfg", TINY_CFG, "--device", "cuda", "--opts", "OUTPUT_DIR", str(tmp_path)]) == 2
    one_error_line(capsys, "--device cuda")
    for flag in (["--local_rank", "0"], ["--local-rank=1"]):          # torch.distributed.launch adds these
        args = tool("train").parse_args(["--cfg", TINY_CFG, *flag])
        assert args.local_rank in (0, 1)


def test_missing_pretrained_backbone_says_where_weights_come_from(tmp_path):
    from siamcorners.models.backbone import load_pretrained_backbone

    with pytest.raises(FileNotFoundError) as e:
        load_pretrained_backbone(build_model(load_config(TINY_CFG)).backbone, str(tmp_path / "resnet50.model"))
    text = str(e.value)
    assert "resnet50.model" in text and "pysot" in text and "torchvision" in text


# ------------------------------------------------------------------------------ one --opts behaviour
@pytest.mark.parametrize("name", ["train", "test", "demo"])
def test_opts_stop_at_the_next_flag(name):
    base = {"train": ["--cfg", TINY_CFG], "test": ["--dataset", "OTB100"], "demo": []}[name]
    args = tool(name).parse_args(base + ["--opts", "TRACK.PENALTY_K", "0.05", "--debug"])
    assert args.opts == ["TRACK.PENALTY_K", "0.05"] and args.debug


def test_benchmark_opts_like_the_others():
    bench = tool("benchmark")
    parsers = {}
    orig = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        parsers["p"] = self
        return orig(self, args, namespace)

    argparse.ArgumentParser.parse_args = capture
    try:
        try:
            bench.main(["speed", "--opts", "A", "1", "--help"])
        except SystemExit:
            pass
    finally:
        argparse.ArgumentParser.parse_args = orig
    ns = orig(parsers["p"], ["speed", "--opts", "A", "1", "--opts", "B", "2", "--frames", "3"])
    assert ns.opts == ["A", "1", "B", "2"] and ns.frames == 3


# ------------------------------------------------------------------------------ eval.py
def _results(tmp_path, trackers=("model_a", "model_b", "other")):
    data = otb_tree(str(tmp_path / "otb"))
    res = tmp_path / "results" / "OTB100"
    for k, t in enumerate(trackers):
        os.makedirs(res / t)
        for v in ("Alpha", "Beta"):
            gt = np.loadtxt(os.path.join(data, v, "groundtruth_rect.txt"), delimiter=",")
            np.savetxt(res / t / f"{v}.txt", gt + k, fmt="%.1f", delimiter=",")
    return data, str(tmp_path / "results")


def test_eval_output_locations_are_checked_before_scoring(tmp_path, capsys):
    data, results = _results(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    for extra, needle in ((["--report-dir", str(blocker)], "--report-dir"),
                          (["--json", str(blocker / "s.json")], "--json")):
        assert tool("eval").main(["--dataset", "OTB100", "--dataset-root", data, "--results", results,
                                  "--no-plots", *extra]) == 2
        captured = capsys.readouterr()
        assert "Success" not in captured.out                    # no table printed before the refusal
        assert needle in captured.err and "Traceback" not in captured.err


def test_eval_empty_tracker_folder_names_it_and_suggests_trackers(tmp_path, capsys):
    data, results = _results(tmp_path)
    os.makedirs(os.path.join(results, "OTB100", "empty_one"))
    assert tool("eval").main(["--dataset", "OTB100", "--dataset-root", data, "--results", results,
                              "--no-plots", "--report-dir", str(tmp_path / "rep")]) == 2
    one_error_line(capsys, "empty_one", "no result files", "--trackers model_a,model_b,other")


def test_pysot_style_eval_command(tmp_path, monkeypatch, capsys):
    data, results = _results(tmp_path)
    monkeypatch.chdir(tmp_path)
    os.makedirs("testing_dataset")
    os.rename(data, os.path.join("testing_dataset", "OTB100"))
    rc = tool("eval").main(["--tracker_path", "./results", "--dataset", "OTB100", "--num", "2",
                            "--tracker_prefix", "model", "--show_video_level", "--no-plots"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "dataset root: testing_dataset/OTB100" in out
    assert "model_a" in out and "model_b" in out and "other" not in out
    video_rows = [line for line in out.splitlines() if line.startswith(("Alpha", "Beta"))]
    assert len(video_rows) == 2                                   # -s: one row per video
    assert "reports written to reports/OTB100" in out
    assert os.path.isfile(os.path.join("reports", "OTB100", "results.md"))
    rc = tool("eval").main(["-p", "results", "-d", "OTB100", "-n", "1", "-t", "other", "-s", "--no-plots"])
    assert rc == 0 and "model_a" not in capsys.readouterr().out.split("dataset root")[1].split("reports written")[0]


# ------------------------------------------------------------------------------ demo.py
def test_demo_negative_init_opts_before_flags_legend_and_synthetic_note(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = tool("demo").main(["--init", "-20,-20,60,60", "--opts", "TRACK.PENALTY_K", "0.05", "--max-frames", "3",
                            "--out", "", "--gif", "d.gif", "--frames", "5"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "3 frames" in out                                        # --max-frames after --opts was honoured
    assert "the default model (experiments/siamcorners_cpu) tracks real footage only a little" in out
    assert "ResNet-50" in out
    assert os.path.isfile("d.gif") and not os.path.exists("demo.mp4")   # --out '' writes no video
    tiny = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
    assert tool("demo").main(["--cfg", tiny, "--max-frames", "2", "--out", "", "--gif", "t.gif", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert "trained on synthetic videos only" in out and "default model" not in out


def test_demo_help_explains_empty_out(capsys):
    with pytest.raises(SystemExit):
        tool("demo").main(["--help"])
    assert "--out '' writes no video" in " ".join(capsys.readouterr().out.split())


def test_legend_marks_prediction_and_ground_truth():
    from siamcorners.tracker.video_io import GT_COLOR, PRED_COLOR, draw_track

    frame = np.zeros((120, 160, 3), np.uint8)
    plain = draw_track(frame, [60, 20, 30, 30], gt=[62, 22, 30, 30])
    keyed = draw_track(frame, [60, 20, 30, 30], gt=[62, 22, 30, 30], legend=True)
    corner = keyed[70:, :60].reshape(-1, 3)
    assert not np.array_equal(plain[70:, :60], keyed[70:, :60])
    for color in (PRED_COLOR, GT_COLOR):
        assert (corner == color).all(axis=1).any()
    no_gt = draw_track(frame, [60, 20, 30, 30], legend=True)[70:, :60].reshape(-1, 3)
    assert not (no_gt == GT_COLOR).all(axis=1).any()


def test_demo_video_frames_carry_the_legend(tmp_path, monkeypatch):
    from siamcorners.tracker import video_io

    frames = []

    class Writer:
        def write(self, frame):
            frames.append(frame)

    class Still:
        def init(self, frame, box):
            self.box = box

        def track(self, frame):
            return {"bbox": self.box, "score": 1.0}

    images = [np.zeros((120, 160, 3), np.uint8)] * 2
    video_io.track_frames(Still(), images, [60, 20, 30, 30], writer=Writer(), gt=np.array([[62, 22, 30, 30]] * 2))
    corner = frames[1][70:, :60].reshape(-1, 3)
    assert (corner == video_io.GT_COLOR).all(axis=1).any() and (corner == video_io.PRED_COLOR).all(axis=1).any()


# ------------------------------------------------------------------------------ convert_checkpoint.py, JPEGs
def test_convert_checkpoint_on_our_format_says_so(tmp_path, capsys):
    rc = tool("convert_checkpoint").main([TINY_MODEL, str(tmp_path / "x.pth"), "--cfg", TINY_CFG])
    assert rc == 2
    one_error_line(capsys, "model.pth", "already a SiamCorners checkpoint")
    rc = tool("convert_checkpoint").main([TINY_MODEL, str(tmp_path / "x.pth"), "--config", TINY_CFG])
    assert rc == 2 and "already" in capsys.readouterr().err


def test_truncated_jpeg_warning_names_the_file(tmp_path, capfd):
    from siamcorners.benchmarks.sequence import read_frame

    path = tmp_path / "0001.jpg"
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    image = read_frame(str(path))
    assert image.shape == (64, 64, 3)
    err = capfd.readouterr().err
    assert f"{path}: truncated JPEG" in err
    good = tmp_path / "0002.jpg"
    good.write_bytes(buf.tobytes())
    read_frame(str(good))
    assert "0002.jpg" not in capfd.readouterr().err


def test_output_checks_and_negative_values():
    assert common.join_negative_values(["--init", "-20,-20,60,60", "--x", "-1"], ["--init"]) == \
        ["--init=-20,-20,60,60", "--x", "-1"]
    with pytest.raises(common.UserError, match="is a folder"):
        common.check_output_file(ROOT, "--json")
    with pytest.raises(common.UserError, match="is a file"):
        common.check_output_dir(os.path.join(TINY_CFG, "sub"), "--out")


# ------------------------------------------------------------------------------ coming from pysot: configs
OFFICIAL_CFG = {  # the keys of an official SiamCorners / pysot yacs config (values of reference §1.2)
    "META_ARC": "siamrpn_r50_l234_dwxcorr", "CUDA": True,
    "BACKBONE": {"TYPE": "resnet50", "KWARGS": {"used_layers": [2, 3, 4]}, "TRAIN_EPOCH": 30, "LAYERS_LR": 0.1,
                 "PRETRAINED": "pretrained_models/resnet50.model", "TRAIN_LAYERS": ["layer2", "layer3", "layer4"]},
    "ADJUST": {"ADJUST": True, "TYPE": "AdjustAllLayer",
               "KWARGS": {"in_channels": [512, 1024, 2048], "out_channels": [256, 256, 256]}},
    "TRACK": {"TYPE": "SiamCORNERTracker", "PENALTY_K": 0.04, "WINDOW_INFLUENCE": 0.011, "LR": 0.39},
    "TRAIN": {"EPOCH": 20, "BATCH_SIZE": 58, "CLS_WEIGHT": 1.0,
              "LR": {"TYPE": "log", "KWARGS": {"start_lr": 0.005, "end_lr": 0.0005}},
              "LR_WARMUP": {"TYPE": "step", "EPOCH": 5, "KWARGS": {"start_lr": 0.001, "end_lr": 0.005, "step": 1}}},
    "DATASET": {"NAMES": ["VID", "COCO"], "SEARCH": {"BLUR": 0.2}, "VID": {"FRAME_RANGE": 100},
                "NEW_THING": 1},
}


def test_translate_official_config(tmp_path, capsys):
    import yaml

    src = tmp_path / "config.yaml"
    src.write_text(yaml.safe_dump(OFFICIAL_CFG))
    out = tmp_path / "ours.yaml"
    assert tool("convert_checkpoint").main(["--translate-config", str(src), str(out)]) == 0
    captured = capsys.readouterr()
    assert "DATASET.NEW_THING" in captured.err                      # unknown keys are reported, not dropped silently
    cfg = load_config(str(out))
    assert list(cfg.MODEL.LEVELS) == [3, 4, 5] and cfg.MODEL.NECK.OUT_CHANNELS == 256
    assert cfg.TRACK.WINDOW_INFLUENCE == 0.011 and cfg.TRAIN.EPOCHS == 20 and cfg.TRAIN.BACKBONE_EPOCH == 30
    assert cfg.TRAIN.WARMUP.EPOCHS == 5 and cfg.TRAIN.LR.END_LR == 0.0005 and cfg.TRAIN.BACKBONE_LR_MULT == 0.1
    assert list(cfg.DATASET.NAMES) == ["VID", "COCO"] and cfg.DATASET.SOURCES.VID.FRAME_RANGE == 100
    assert cfg.MODEL.BACKBONE.PRETRAINED == "pretrained_models/resnet50.model" and cfg.DEVICE == "auto"


def test_benchmark_errors_are_one_line(capsys, tmp_path):
    assert tool("benchmark").main(["train", "--cfg", str(tmp_path / "missing.yaml")]) == 2
    one_error_line(capsys, "missing.yaml")


def test_demo_architecture_mismatch_is_one_line(tmp_path, capsys):
    rc = tool("demo").main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--out", str(tmp_path / "d.mp4"),
                            "--opts", "MODEL.NECK.OUT_CHANNELS", "16", "MODEL.HEAD.CHANNELS", "16"])
    assert rc == 2
    line = one_error_line(capsys, "model.pth", "--cfg experiments/siamcorners_tiny_synthetic/config.yaml")
    assert "strict=False" not in line and not os.path.exists(tmp_path / "d.mp4")
