"""Every tool behaves the same (issue 18 §5): export.py, hp_search.py and tools/prepare/* give one-line errors
(rc 2), take --debug, end Ctrl-C / SIGTERM with one line and check their output locations first, like
test/train/eval; a full disk names the file, says what was kept and leaves no temporary file; two evaluations
writing one report folder do not share temporary plot names; ``OUTPUT_DIR ~/x`` is expanded."""
import argparse
import errno
import glob
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from siamcorners.cli import common
from siamcorners.cli.common import UserError
from siamcorners.config import load_config
from siamcorners.data.synthetic import write_otb_dataset
from siamcorners.models import build_model
from siamcorners.models.checkpoint import save_checkpoint

from fixtures.cli import ENV, ROOT, TINY_CFG, TINY_MODEL, interrupt_line, one_error_line  # noqa: F401


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ------------------------------------------------------------------------------------------------ export.py
def _export(*args):
    from siamcorners.cli import export

    return export.main(["--cfg", TINY_CFG, *args])


def _file_parent(tmp_path):
    (tmp_path / "a_file").write_text("x")
    return ["--snapshot", TINY_MODEL, "--out", str(tmp_path / "a_file" / "export")], "a_file is a file"


def _empty_snapshot(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    return ["--snapshot", str(tmp_path / "empty.pth"), "--out", str(tmp_path / "export")], "empty.pth"


def _other_profile(tmp_path):
    cfg = load_config(TINY_CFG, ["MODEL.NECK.OUT_CHANNELS", "16", "MODEL.HEAD.CHANNELS", "16"])
    save_checkpoint(str(tmp_path / "wide.pth"), build_model(cfg), config=cfg)
    return ["--snapshot", str(tmp_path / "wide.pth"), "--out", str(tmp_path / "export")], "wide.pth"


def _pickle_snapshot(tmp_path):
    evil = _Evil()
    evil.marker = str(tmp_path / "PWNED")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"model": evil}, f)
    return ["--snapshot", str(tmp_path / "evil.pth"), "--out", str(tmp_path / "export")], "evil.pth"


@pytest.mark.parametrize("case", [_file_parent, _empty_snapshot, _other_profile, _pickle_snapshot])
def test_export_errors_are_one_line_and_refused_before_writing(case, tmp_path, capsys):
    """Probe X02 (--out under a file), X04 (empty), X05 (other profile), X06 (pickle snapshot): tracebacks before."""
    args, needle = case(tmp_path)
    assert _export(*args) == 2
    one_error_line(capsys.readouterr().err, needle)
    assert not os.path.exists(tmp_path / "export") and not os.path.exists(tmp_path / "PWNED")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder cannot be made here")
def test_export_into_an_unwritable_folder_is_one_line(tmp_path, capsys):
    """Probe X03."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert _export("--snapshot", TINY_MODEL, "--out", str(ro / "export")) == 2
    finally:
        ro.chmod(0o700)
    one_error_line(capsys.readouterr().err, "not writable")


def test_export_takes_debug_and_opts_like_the_others(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UserError):
        _export("--snapshot", TINY_MODEL, "--out", str(tmp_path / "a_file" / "e"), "--debug", "--opts", "DEVICE",
                "cpu")


def test_damaged_onnx_graph_is_one_line(tmp_path, capsys):
    """Probe X13: a truncated search.onnx (meta.json intact) gave onnxruntime's traceback from inside tracking."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from siamcorners.cli import test as test_cli

    out = str(tmp_path / "export")
    assert _export("--snapshot", TINY_MODEL, "--out", out) == 0
    graph = os.path.join(out, "search.onnx")
    with open(graph, "r+b") as f:
        f.truncate(os.path.getsize(graph) // 2)
    data = str(tmp_path / "syn")
    write_otb_dataset(data, 1, seed=5, num_frames=4, image_size=(120, 160))
    capsys.readouterr()
    assert test_cli.main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "synthetic", "--dataset-root",
                          data, "--out", str(tmp_path / "res"), "--no-progress", "--onnx", out]) == 2
    one_error_line(capsys.readouterr().err, graph, "export again")


# ------------------------------------------------------------------------------------------------ hp_search.py
def _hp_args(tmp_path, out, values="0.02,0.04"):
    data = str(tmp_path / "syn")
    if not os.path.isdir(data):
        write_otb_dataset(data, 2, seed=3, num_frames=6, image_size=(120, 160))
    return ["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "synthetic", "--dataset-root", data,
            "--no-progress", "--out", out, "--search", f"TRACK.PENALTY_K={values}"]


def test_hp_search_output_under_a_file_and_debug(tmp_path, capsys):
    """Probe P06 (traceback) and P12 (--debug rejected)."""
    from siamcorners.cli import hp_search

    (tmp_path / "a_file").write_text("x")
    args = _hp_args(tmp_path, str(tmp_path / "a_file" / "hp"))
    assert hp_search.main(args) == 2
    one_error_line(capsys.readouterr().err, "--out", "a_file is a file")
    with pytest.raises(UserError):
        hp_search.main(args + ["--debug"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_hp_search_says_what_was_kept_and_how_to_resume(sig, tmp_path):
    """Probe H01 (Ctrl-C: KeyboardInterrupt traceback, rc -2) and H02 (SIGTERM: silent, rc -15)."""
    out = str(tmp_path / "hp")
    values = ",".join(f"0.{k:02d}" for k in range(1, 40))
    cmd = [sys.executable, os.path.join(ROOT, "tools", "hp_search.py"), *_hp_args(tmp_path, out, values)]
    # a terminal's default SIGINT (a background runner may pass SIGINT on as ignored)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = os.path.join(out, "results", "synthetic", "PENALTY_K=0.01", "synthetic_0001.txt")
    deadline = time.time() + 120
    while not os.path.exists(first) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    line = interrupt_line(proc, sig)
    assert os.path.join(out, "results", "synthetic") in line
    assert "resume with: python tools/hp_search.py --cfg" in line


# ------------------------------------------------------------------------------------------------ prepare
def _prepare(tmp_path, *extra):
    from siamcorners.data.prepare import read_got10k, run_cli

    def add_args(p):
        p.add_argument("--root", required=True)

    raw = tmp_path / "raw" / "train"
    raw.mkdir(parents=True, exist_ok=True)
    return run_cli("prepare got10k", add_args, lambda a: read_got10k(a.root, "train"),
                   argv=["--root", str(tmp_path / "raw"), "--workers", "1", *extra])


def test_prepare_output_under_a_file_and_bad_sizes_are_one_line(tmp_path, capsys):
    """Probe PR03b (--out under a file: NotADirectoryError traceback) and PR11b (--instance-size 0:
    ZeroDivisionError traceback)."""
    (tmp_path / "a_file").write_text("x")
    assert _prepare(tmp_path, "--out", str(tmp_path / "a_file" / "out")) == 2
    one_error_line(capsys.readouterr().err, "--out", "a_file is a file")
    assert _prepare(tmp_path, "--out", str(tmp_path / "out"), "--instance-size", "0") == 2
    one_error_line(capsys.readouterr().err, "--instance-size")
    with pytest.raises(UserError):
        _prepare(tmp_path, "--out", str(tmp_path / "a_file" / "out"), "--debug")


# ------------------------------------------------------------------------------------------------ disk full
FAKE = textwrap.dedent('''
    import numpy as np

    class Still:
        def init(self, frame, box):
            self.box = np.asarray(box, float)
        def track(self, frame):
            return {"bbox": self.box.tolist(), "score": 1.0}

    def still(device):
        return Still()
''')


@pytest.fixture
def still_tracker(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "alike_still_tracker.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    return "alike_still_tracker:still"


def _fail_fsync_after(monkeypatch, n_ok):
    """os.fsync raises ENOSPC after ``n_ok`` calls (a disk that fills up while files are written)."""
    real = os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > n_ok:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _tmp_files(folder):
    return [p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True) + glob.glob(
        os.path.join(folder, "**", ".*"), recursive=True) if ".tmp" in os.path.basename(p)]


def test_disk_full_while_testing_names_the_file_and_what_was_kept(tmp_path, still_tracker, monkeypatch, capsys):
    """Probe F10 / R26: only '[Errno 28] No space left on device' (no file, nothing about what was kept)."""
    from siamcorners.cli import test as test_cli

    data = str(tmp_path / "syn")
    write_otb_dataset(data, 3, seed=1, num_frames=4, image_size=(90, 120))
    out = str(tmp_path / "res")
    argv = ["--dataset", "synthetic", "--dataset-root", data, "--tracker-factory", still_tracker, "--out", out,
            "--no-progress"]
    fsyncs = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd) or real(fd))
    assert test_cli.main(argv) == 0           # count the writes of a whole run
    per_video = (len(fsyncs) - 2) // 3         # the fingerprint + config, then each video's files
    import shutil
    shutil.rmtree(out)
    _fail_fsync_after(monkeypatch, 2 + per_video)  # the second video's first file meets a full disk
    capsys.readouterr()
    assert test_cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err, "disk full while writing", "synthetic_0002",
                          "1 of 3 videos have finished result files", "resume with: python tools/test.py")
    assert os.path.join(out, "synthetic", "still") in line
    assert not _tmp_files(out)


def test_disk_full_while_writing_the_training_config_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    """Probe T29: '[Errno 28]' without a file, and config.resolved.yaml.tmp.<pid> left behind."""
    import yaml

    from siamcorners.cli import train

    def full(data, stream=None, **kw):
        stream.write("MODEL:\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(yaml, "safe_dump", full)
    rc = train.main(["--cfg", TINY_CFG, "--no-progress", "--opts", "OUTPUT_DIR", str(tmp_path),
                     "TRAIN.NUM_WORKERS", "0"])
    assert rc == 2
    one_error_line(capsys.readouterr().err, f"disk full while writing {tmp_path / 'config.resolved.yaml'}",
                   "resume with: python tools/train.py")
    assert not _tmp_files(str(tmp_path)) and not os.path.exists(tmp_path / "config.resolved.yaml")


def test_disk_full_during_training_names_the_checkpoint_and_the_last_one_kept(tmp_path, monkeypatch, capsys):
    """Probe T32: '[Errno 28]' only; the last good checkpoint and the resume command were not named."""
    from siamcorners.cli import train
    from siamcorners.engine.trainer import Trainer

    def two_epochs(self):
        self.save("checkpoint_e1.pth", 1, 0)
        _fail_fsync_after(monkeypatch, 0)
        self.save("checkpoint_e2.pth", 2, 0)

    monkeypatch.setattr(Trainer, "train", two_epochs)
    rc = train.main(["--cfg", TINY_CFG, "--no-progress", "--opts", "OUTPUT_DIR", str(tmp_path),
                     "TRAIN.NUM_WORKERS", "0"])
    assert rc == 2
    snap = tmp_path / "snapshot"
    line = one_error_line(capsys.readouterr().err, f"disk full while writing {snap / 'checkpoint_e2.pth'}",
                          f"last checkpoint saved: {snap / 'checkpoint_e1.pth'}")
    assert line.endswith("--resume auto")
    assert not _tmp_files(str(tmp_path)) and not os.path.exists(snap / "checkpoint_e2.pth")


def test_torch_short_write_on_a_full_disk_is_reported_as_disk_full(tmp_path, monkeypatch):
    """torch.save reports a full disk as RuntimeError('... unexpected pos ...'); it becomes ENOSPC naming the file."""
    from siamcorners.models import checkpoint

    def short_write(obj, f):
        f.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(checkpoint.torch, "save", short_write)
    monkeypatch.setattr(os, "statvfs", lambda p: argparse.Namespace(f_bavail=0, f_frsize=4096))
    path = str(tmp_path / "c.pth")
    with pytest.raises(OSError) as e:
        save_checkpoint(path, {"w": torch.zeros(2)})
    assert e.value.errno == errno.ENOSPC and e.value.filename == path
    assert os.listdir(tmp_path) == []


def test_disk_full_line_through_run_guarded(capsys):
    def body():
        e = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/x.txt")
        e.kept = "2 of 5 videos kept"
        raise e

    assert common.run_guarded(body, argparse.Namespace(debug=False), tool="eval", argv=["-d", "OTB100"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == ("error: disk full while writing /data/out/x.txt: No space left on device; 2 of 5 videos kept; "
                    "free some space and resume with: python tools/eval.py -d OTB100")


# ------------------------------------------------------------------------------------------------ eval plots
def test_two_evaluations_writing_the_same_plot_do_not_share_a_temporary_file(tmp_path, monkeypatch):
    """Probe E32: a fixed '<plot>.tmp.png' name; when another eval wrote the same plot meanwhile, os.replace found
    its temporary file gone (ENOENT). Here the other eval runs exactly in that window."""
    from siamcorners.benchmarks import plots

    x = np.linspace(0, 1, 21)
    entries = [("a", x, 1 - x, 0.5)]
    stem = str(tmp_path / "plots" / "success_ALL")
    real_replace = os.replace
    other = []

    def replace(src, dst):
        if not other:  # the other evaluation writes the same plot between our savefig and our rename
            other.append(src)
            plots.plot_curve(entries, "success", "other", stem)
        return real_replace(src, dst)

    monkeypatch.setattr(plots.os, "replace", replace)
    paths = plots.plot_curve(entries, "success", "ours", stem)
    assert [os.path.exists(p) for p in paths] == [True, True]
    assert sorted(os.listdir(tmp_path / "plots")) == ["success_ALL.pdf", "success_ALL.png"]


# ------------------------------------------------------------------------------------------------ OUTPUT_DIR
def test_output_dir_tilde_is_the_home_folder(tmp_path, monkeypatch):
    """Probe C45: results went to a folder literally named '~' in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config(TINY_CFG, ["OUTPUT_DIR", "~/runs/x"]).OUTPUT_DIR == str(tmp_path / "runs" / "x")


# ------------------------------------------------------------------------------------------------ help texts
@pytest.mark.parametrize("name", ["hp_search", "export"])
def test_help_layout_like_the_other_tools(name, capsys):
    import importlib

    with pytest.raises(SystemExit):
        importlib.import_module(f"siamcorners.cli.{name}").main(["--help"])
    out = capsys.readouterr().out
    body = out.split("\n\n", 1)[1]
    first = {"hp_search": "Search tracker hyper-parameters", "export": "Export a snapshot as ONNX graphs"}[name]
    assert body.startswith(first)
    assert "examples:" in out and f"python tools/{name}.py" in out and "--debug" in out
    assert "Errors are one line (exit code 2); --debug shows the Python traceback." in out


def test_graph_copied_from_another_export_is_refused(tmp_path):
    """Probe X14b (S4): search.onnx from another export beside a right meta.json tracked with boxes up to 91 px off,
    rc 0 (the check read meta.json only)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from siamcorners.models.runtime.onnx_export import ExportError, export_onnx, read_meta

    cfg = load_config(TINY_CFG)
    ours, other = str(tmp_path / "ours"), str(tmp_path / "other")
    assert _export("--snapshot", TINY_MODEL, "--out", ours) == 0
    torch.manual_seed(1)
    export_onnx(build_model(cfg).eval(), other, cfg)
    read_meta(ours)                                            # intact: accepted
    os.replace(os.path.join(other, "search.onnx"), os.path.join(ours, "search.onnx"))
    with pytest.raises(ExportError, match="search.onnx: not the graph this export wrote"):
        read_meta(ours)
