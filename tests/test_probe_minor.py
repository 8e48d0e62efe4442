"""The reliability probe's remaining S3/S4 cases (issue 18 §7), each by its probe id: one clear line instead of a
traceback, a silent no-op or a misleading message."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from siamcorners.benchmarks.textio import read_boxes_lenient, read_boxes_strict
from siamcorners.data.synthetic import write_otb_dataset

from fixtures.cli import ENV, ROOT, TINY_CFG, TINY_MODEL, one_error_line  # noqa: F401


def test_utf8_bom_in_ground_truth_and_results_is_accepted(tmp_path):
    """D12 / E17: a BOM (Windows editors) was 'not a number in '\\ufeff125.01,...''; configs accepted it."""
    path = tmp_path / "groundtruth_rect.txt"
    path.write_bytes("\ufeff125.01,47.22,128.1,105.38\n1,2,3,4\n".encode("utf-8"))
    assert read_boxes_lenient(str(path)).tolist() == [[125.01, 47.22, 128.1, 105.38], [1, 2, 3, 4]]
    assert read_boxes_strict(str(path)).tolist() == [[125.01, 47.22, 128.1, 105.38], [1, 2, 3, 4]]


@pytest.fixture
def syn(tmp_path):
    data = str(tmp_path / "syn")
    write_otb_dataset(data, 2, seed=2, num_frames=4, image_size=(90, 120))
    return data


def test_negative_threads_is_refused(syn, tmp_path, capsys):
    """R19: --threads -2 was silently ignored."""
    from siamcorners.cli import test as test_cli

    assert test_cli.main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "synthetic", "--dataset-root", syn,
                          "--out", str(tmp_path / "r"), "--no-progress", "--threads", "-2"]) == 2
    one_error_line(capsys.readouterr().err, "--threads must be >= 1")


def test_tracker_factory_that_raises_is_one_line(syn, tmp_path, monkeypatch, capsys):
    """R23: a --tracker-factory callable that raises gave its traceback."""
    from siamcorners.cli import test as test_cli

    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "probe_bad_factory.py").write_text(textwrap.dedent('''
        def make(device):
            raise RuntimeError("no licence for this tracker")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    assert test_cli.main(["--dataset", "synthetic", "--dataset-root", syn, "--out", str(tmp_path / "r"),
                          "--no-progress", "--tracker-factory", "probe_bad_factory:make"]) == 2
    one_error_line(capsys.readouterr().err, "--tracker-factory probe_bad_factory:make", "no licence for this tracker")


@pytest.mark.parametrize("content", [b"", b"this is text, not a JPEG\n"])
def test_unreadable_frame_is_one_error_without_a_grey_warning(content, syn, tmp_path, capsys):
    """D15 / D16: a 0-byte JPEG or a text file named .jpg gave a warning that it 'decodes as grey', then the error."""
    from siamcorners.cli import test as test_cli

    bad = os.path.join(syn, "synthetic_0001", "img", "0003.jpg")
    with open(bad, "wb") as f:
        f.write(content)
    assert test_cli.main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "synthetic", "--dataset-root", syn,
                          "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "decodes as grey" not in err
    one_error_line(err, "0003.jpg")


def test_demo_refuses_a_text_file_as_a_video(tmp_path, capsys):
    """M02: README.md as --source was decoded by FFmpeg's tty demuxer into 87 frames and 'tracked', rc 0."""
    from siamcorners.cli import demo

    text = tmp_path / "notes.md"
    text.write_text("# notes\n" * 200)
    assert demo.main(["--source", str(text), "--init", "10,10,20,20", "--out", str(tmp_path / "o.mp4")]) == 2
    one_error_line(capsys.readouterr().err, "notes.md: a text file, not a video")
    assert not os.path.exists(tmp_path / "o.mp4")


def test_interrupted_eval_says_which_report_files_were_written(syn, tmp_path, monkeypatch, capsys):
    """E30 / E31: the line said 'no report was written' although results.md/.csv/.json were."""
    from siamcorners.benchmarks import benchmark
    from siamcorners.cli import eval as eval_cli
    from siamcorners.cli import test as test_cli

    res = str(tmp_path / "res")
    assert test_cli.main(["--cfg", TINY_CFG, "--snapshot", TINY_MODEL, "--dataset", "synthetic", "--dataset-root", syn,
                          "--out", res, "--no-progress"]) == 0

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "plot_all", interrupted)
    report = str(tmp_path / "rep")
    assert eval_cli.main(["--dataset", "synthetic", "--dataset-root", syn, "--results", res,
                          "--report-dir", report]) == 130
    line = [x for x in capsys.readouterr().err.splitlines() if x.startswith("interrupted:")][0]
    assert f"results.md, results.csv, results.json written in {report}; the plots are not complete" in line


def _start(cmd, **kw):
    # a terminal's default SIGINT (a background runner may pass SIGINT on as ignored)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_while_starting_is_one_line(sig, syn, tmp_path):
    """F13 / T33: SIGTERM during the imports killed the tool silently (rc -15); Ctrl-C gave a traceback."""
    proc = _start([sys.executable, "-X", "importtime", os.path.join(ROOT, "tools", "train.py"), "--cfg", TINY_CFG,
                   "--opts", "OUTPUT_DIR", str(tmp_path / "t")])
    # -X importtime writes a line per module imported: wait until the tool's own imports (torch) run
    deadline, started = time.time() + 60, False
    while time.time() < deadline and proc.poll() is None:
        module = proc.stderr.readline().rsplit("|", 1)[-1].strip()
        started = started or module == "siamcorners.cli"
        if started and module == "torch.version":
            break
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "while starting: nothing was done" in err
    assert not os.path.exists(tmp_path / "t")


def test_second_ctrl_c_while_stopping_keeps_the_line_and_exit_code(syn, tmp_path):
    """F12: two Ctrl-C 50 ms apart during test.py: rc -2 instead of 130."""
    slow = tmp_path / "mods"
    slow.mkdir()
    (slow / "probe_slow_tracker.py").write_text(textwrap.dedent('''
        import time

        class Slow:
            def init(self, frame, box):
                self.box = list(box)
            def track(self, frame):
                time.sleep(0.3)
                return {"bbox": self.box, "score": 1.0}

        def make(device):
            return Slow()
    '''))
    out = str(tmp_path / "r")
    env = dict(ENV, PYTHONPATH=os.pathsep.join([str(slow), ENV["PYTHONPATH"]]))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "synthetic",
                             "--dataset-root", syn, "--tracker-factory", "probe_slow_tracker:make", "--out", out,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    first = os.path.join(out, "synthetic", "make", "synthetic_0001.txt")
    while not os.path.exists(first) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert len([x for x in err.splitlines() if x.startswith("interrupted:")]) == 1 and "Traceback" not in err
