"""tools/test.py and the test runner: result layouts, frame-0 convention, filters, shards, workers,
submission zips and resuming after the process is killed."""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import cv2
import numpy as np
import pytest

from siamcorners.benchmarks import load_dataset
from siamcorners.benchmarks.results import read_result
from siamcorners.engine.tester import parse_shard, run_benchmark, select_videos

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAKE_TRACKERS = textwrap.dedent('''
    import os, time
    import numpy as np

    class Drift:
        """Returns the previous box shifted by one pixel; logs each init to $FAKE_LOG."""
        def __init__(self, delay=0.0):
            self.delay = delay
        def init(self, frame, box):
            assert frame.ndim == 3 and len(box) == 4
            self.box = np.asarray(box, float)
            log = os.environ.get("FAKE_LOG")
            if log:
                with open(log, "a") as f:
                    f.write(f"{frame.shape}\\n")
        def track(self, frame):
            time.sleep(self.delay)
            self.box = self.box + [1.0, 0.0, 0.0, 0.0]
            return {"bbox": self.box.tolist(), "score": 0.9}

    def drift(device):
        return Drift()

    def slow(device):
        return Drift(delay=0.15)

    def second_fails(device):
        """The first tracker built is made; every later one fails (a second worker on a full GPU)."""
        try:
            os.close(os.open(os.environ["FAKE_MARK"], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            raise RuntimeError(f"CUDA out of memory. Tried to allocate 2.00 GiB on {device} (fake)") from None
        return Drift(delay=0.05)

    def dies(device):
        os._exit(3)  # the process ends while building its tracker (a crashing driver library, the OOM killer)
''')


def _load_tool(name):
    if name in ("train", "test", "eval", "demo"):  # programs that live in siamcorners/cli/
        return importlib.import_module(f"siamcorners.cli.{name}")
    spec = importlib.util.spec_from_file_location(f"tool_{name}", os.path.join(ROOT, "tools", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    mod_dir = tmp_path / "fakemods"
    mod_dir.mkdir()
    (mod_dir / "fake_trackers.py").write_text(FAKE_TRACKERS)
    monkeypatch.syspath_prepend(str(mod_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mod_dir), ROOT, os.environ.get("PYTHONPATH", "")]))
    return str(mod_dir)


def _otb_tree(root, videos=("Alpha", "Beta", "Gamma", "Delta"), n=5):
    for k, v in enumerate(videos):
        img = os.path.join(root, v, "img")
        os.makedirs(img)
        for i in range(1, n + 1):
            cv2.imwrite(os.path.join(img, f"{i:04d}.jpg"), np.full((20, 24, 3), 40 * k, np.uint8))
        with open(os.path.join(root, v, "groundtruth_rect.txt"), "w") as f:
            f.writelines(f"{3 + k},{4 + i},10.5,8\n" for i in range(n))
    return root


def test_results_layout_and_frame_zero(tmp_path, fake_module):
    data = _otb_tree(str(tmp_path / "otb"))
    out = str(tmp_path / "results")
    rc = _load_tool("test").main(["--dataset", "OTB100", "--dataset-root", data, "--tracker-factory",
                                  "fake_trackers:drift", "--out", out, "--no-progress"])
    assert rc == 0
    tdir = os.path.join(out, "OTB100", "drift")
    assert sorted(os.listdir(tdir)) == ["Alpha.txt", "Beta.txt", "Delta.txt", "Gamma.txt", "times"]
    boxes = read_result(os.path.join(tdir, "Beta.txt"))
    assert boxes.shape == (5, 4)
    # frame 0 = the init box x,y,w,h; without --cfg the pysot rule starts the tracker at the ground truth
    # row 4,4,10.5,8 moved by +0.5 px (the official test.py's rule; this test used the raw row before)
    assert boxes[0].tolist() == [4.5, 4.5, 10.5, 8.0]
    assert boxes[2].tolist() == [6.5, 4.5, 10.5, 8.0]
    with open(os.path.join(tdir, "times", "Beta_time.txt")) as f:
        assert len(f.read().split()) == 5


def test_video_filter_and_shards(tmp_path):
    ds = load_dataset("OTB100", _otb_tree(str(tmp_path / "otb")))
    assert [s.name for s in select_videos(ds, ["Gamma", "Alpha"])] == ["Alpha", "Gamma"]
    shards = [[s.name for s in select_videos(ds, None, parse_shard(f"{i}/3"))] for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(ds.names) and shards[1] == ["Beta"]
    with pytest.raises(ValueError, match="i/N"):
        parse_shard("3")
    with pytest.raises(ValueError, match="unknown video"):
        select_videos(ds, ["Nope"])


def test_parallel_workers_match_single_process(tmp_path, fake_module):
    from fake_trackers import drift

    ds = load_dataset("OTB100", _otb_tree(str(tmp_path / "otb")))
    one = run_benchmark(ds, drift, str(tmp_path / "r1"), progress=False, log=lambda s: None)
    two = run_benchmark(ds, drift, str(tmp_path / "r2"), workers=2, progress=False, log=lambda s: None)
    assert one["videos_run"] == two["videos_run"] == 4
    for v in ds.names:
        assert np.array_equal(read_result(str(tmp_path / "r1" / f"{v}.txt")),
                              read_result(str(tmp_path / "r2" / f"{v}.txt")))


def test_got10k_and_trackingnet_submissions(tmp_path, fake_module):
    from fake_trackers import drift

    base = tmp_path / "GOT-10k" / "test"
    for name in ("GOT-10k_Test_000001", "GOT-10k_Test_000002"):
        os.makedirs(base / name)
        for i in range(1, 4):
            cv2.imwrite(str(base / name / f"{i:08d}.jpg"), np.zeros((16, 16, 3), np.uint8))
        (base / name / "groundtruth.txt").write_text("2,3,5,6\n")
    (base / "list.txt").write_text("GOT-10k_Test_000001\nGOT-10k_Test_000002\n")
    ds = load_dataset("GOT-10k-test", str(tmp_path / "GOT-10k"))
    tdir = str(tmp_path / "res" / "GOT-10k-test" / "trk")
    summary = run_benchmark(ds, drift, tdir, progress=False, log=lambda s: None)
    seq = "GOT-10k_Test_000002"
    assert read_result(os.path.join(tdir, seq, f"{seq}_001.txt"))[0].tolist() == [2.5, 3.5, 5.0, 6.0]  # pysot rule
    with open(os.path.join(tdir, seq, f"{seq}_time.txt")) as f:
        assert len(f.read().split()) == 3
    assert summary["zip"] == tdir + ".zip"
    assert f"{seq}/{seq}_001.txt" in zipfile.ZipFile(summary["zip"]).namelist()

    tn = tmp_path / "TrackingNet" / "TEST"
    os.makedirs(tn / "frames" / "abc")
    for i in range(12):
        cv2.imwrite(str(tn / "frames" / "abc" / f"{i}.jpg"), np.zeros((16, 16, 3), np.uint8))
    os.makedirs(tn / "anno")
    (tn / "anno" / "abc.txt").write_text("1,1,4,4\n")
    ds = load_dataset("TrackingNet", str(tmp_path / "TrackingNet"))
    summary = run_benchmark(ds, drift, str(tmp_path / "res" / "TrackingNet" / "trk"), progress=False,
                            log=lambda s: None)
    z = zipfile.ZipFile(summary["zip"])
    assert z.namelist() == ["abc.txt"] and len(z.read("abc.txt").decode().splitlines()) == 12


def test_invalid_init_box_is_a_clear_error(tmp_path, fake_module):
    from fake_trackers import drift

    root = _otb_tree(str(tmp_path / "otb"), videos=("Alpha",))
    with open(os.path.join(root, "Alpha", "groundtruth_rect.txt"), "w") as f:
        f.write("0,0,0,0\n" * 5)
    with pytest.raises(ValueError, match="Alpha: first-frame box"):
        run_benchmark(load_dataset("OTB100", root), drift, str(tmp_path / "r"), progress=False)


def test_killed_run_resumes_with_only_the_missing_videos(tmp_path, fake_module):
    data = _otb_tree(str(tmp_path / "otb"), n=6)
    out = str(tmp_path / "results")
    log = str(tmp_path / "inits.log")
    env = dict(os.environ, FAKE_LOG=log)
    cmd = [sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "OTB100", "--dataset-root", data,
           "--tracker-factory", "fake_trackers:slow", "--out", out, "--no-progress"]
    tdir = os.path.join(out, "OTB100", "slow")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not os.path.isfile(os.path.join(tdir, "Alpha.txt")):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = sorted(f for f in os.listdir(tdir) if f.endswith(".txt"))
    assert 1 <= len(done) < 4, done
    for f in done:                                   # nothing half-written
        assert read_result(os.path.join(tdir, f)).shape == (6, 4)
    stamps = {f: os.stat(os.path.join(tdir, f)).st_mtime_ns for f in done}
    with open(log) as f:
        started = len(f.readlines())
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(log) as f:
        restarted = len(f.readlines()) - started
    assert restarted == 4 - len(done)                # only the missing videos ran again
    assert sorted(f for f in os.listdir(tdir) if f.endswith(".txt")) == ["Alpha.txt", "Beta.txt", "Delta.txt",
                                                                         "Gamma.txt"]
    assert all(os.stat(os.path.join(tdir, f)).st_mtime_ns == t for f, t in stamps.items())


def _run_with_deadline(cmd, env, seconds=300):
    """Run ``cmd`` (a tool that starts worker processes); a run still going after ``seconds`` is killed with its
    workers (its own process group) and fails the test instead of hanging it."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{os.path.basename(cmd[1])} still running after {seconds} s: it hangs")
    return proc.returncode, err


def _one_error_line(err):
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.slow
def test_a_worker_that_cannot_build_its_tracker_stops_the_run_with_one_line(tmp_path, fake_module):
    data = _otb_tree(str(tmp_path / "otb"), n=6)
    out = str(tmp_path / "results")
    mark = str(tmp_path / "built")
    env = dict(os.environ, FAKE_MARK=mark, OMP_NUM_THREADS="1")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "OTB100", "--dataset-root", data,
           "--tracker-factory", "fake_trackers:second_fails", "--out", out, "--no-progress"]
    tdir = os.path.join(out, "OTB100", "second_fails")
    rc, err = _run_with_deadline(cmd + ["--videos", "Alpha"], env)          # one process: Alpha finished
    assert rc == 0, err
    alpha = os.path.join(tdir, "Alpha.txt")
    kept = (open(alpha).read(), os.stat(alpha).st_mtime_ns)
    os.unlink(mark)
    rc, err = _run_with_deadline(cmd + ["--workers", "2"], env)              # one worker of two fails to start
    assert rc == 2, err
    line = _one_error_line(err)
    assert re.search(r"worker [12] of 2 \(device cpu\) could not build its tracker: (BenchmarkError: --tracker-factory "
                     r"fake_trackers:second_fails: second_fails\('cpu'\) raised )?RuntimeError: CUDA out of "
                     r"memory\. Tried to allocate 2\.00 GiB on cpu \(fake\)", line), line
    done = sorted(f for f in os.listdir(tdir) if f.endswith(".txt"))
    assert f"{len(done)} of 4 videos have finished result files in {tdir} (kept" in line, line
    assert (open(alpha).read(), os.stat(alpha).st_mtime_ns) == kept         # finished videos are kept
    for f in done:                                                          # nothing half-written
        assert read_result(os.path.join(tdir, f)).shape == (6, 4)
    assert not [f for _, _, files in os.walk(tdir) for f in files if f.endswith(".tmp")]


@pytest.mark.slow
def test_a_worker_process_that_dies_while_starting_stops_the_run(tmp_path, fake_module):
    """The pool replaces a worker that died; the replacement has no device of its own and says so."""
    data = _otb_tree(str(tmp_path / "otb"), n=3)
    cmd = [sys.executable, os.path.join(ROOT, "tools", "test.py"), "--dataset", "OTB100", "--dataset-root", data,
           "--tracker-factory", "fake_trackers:dies", "--out", str(tmp_path / "results"), "--no-progress",
           "--workers", "2"]
    rc, err = _run_with_deadline(cmd, dict(os.environ, OMP_NUM_THREADS="1"))
    assert rc == 2, err
    line = _one_error_line(err)
    assert "a worker process ended without a Python error" in line and "(devices cpu)" in line
    assert "0 of 4 videos have finished result files" in line


def test_real_siamcorners_tracker_on_a_trimmed_dudek_copy(shared_data_dir, tmp_path):
    """The real tracker (tiny config, random weights) through tools/test.py, on the first 3 Dudek frames
    copied next to the official 20-row groundtruth_rect.txt (the trimmed-copy quirk: gt cut to 3 rows)."""
    pytest.importorskip("siamcorners.tracker")
    import shutil

    import torch

    from siamcorners.config import load_config
    from siamcorners.models import build_model
    from siamcorners.models.checkpoint import save_checkpoint

    src = os.path.join(shared_data_dir, "otb_mini", "Dudek")
    dst = tmp_path / "otb" / "Dudek"
    os.makedirs(dst / "img")
    for i in range(1, 4):
        shutil.copy(os.path.join(src, "img", f"{i:04d}.jpg"), dst / "img")
    shutil.copy(os.path.join(src, "groundtruth_rect.txt"), dst)
    cfg_path = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
    torch.manual_seed(0)
    snapshot = str(tmp_path / "tiny_random.pth")
    save_checkpoint(snapshot, build_model(load_config(cfg_path)))
    out = str(tmp_path / "results")
    with pytest.warns(UserWarning, match="trimmed copy"):
        rc = _load_tool("test").main(["--cfg", cfg_path, "--snapshot", snapshot, "--dataset", "OTB100",
                                      "--dataset-root", str(tmp_path / "otb"), "--out", out, "--no-progress",
                                      "--trimmed-copy"])
    assert rc == 0
    boxes = read_result(os.path.join(out, "OTB100", "tiny_random", "Dudek.txt"))
    with open(os.path.join(src, "groundtruth_rect.txt")) as f:
        gt0 = [float(v) for v in f.readline().split(",")]
    # this profile sets TEST.INIT_BOX raw and TEST.FIRST_FRAME_BOX init: frame 0 is the ground-truth row itself
    assert boxes.shape == (3, 4) and boxes[0].tolist() == gt0 and np.isfinite(boxes).all()
    # the resolved config of the run is written beside the tracker's results
    resolved = load_config(os.path.join(out, "OTB100", "tiny_random.config.yaml"))
    assert resolved.MODEL == load_config(cfg_path).MODEL
