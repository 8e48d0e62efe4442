"""The VOT toolkit integration, run by the REAL client: ``vot test`` starts our TraX tracker from a
``trackers.ini`` made by ``--print-ini`` and tracks a generated sequence (rectangles) or a local VOT-layout
sequence with polygon ground truth; nothing is downloaded."""
import configparser
import io
import os
import re
import shlex
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest

import toolkit_layouts as L
from siamcorners.integrations import vot as vot_integration
from siamcorners.integrations.regions import init_box, init_rule_from_cfg, polygon_to_xywh, region_to_xywh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")
SNAP = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "model.pth")
STATE = re.compile(r'@@TRAX:state "([-\d.e,]+)"')


def _need(module: str):
    return pytest.importorskip(module, reason=f"{module} not installed (the vot extra: pip install -e \".[vot]\")")


def test_polygon_to_xywh_is_pysots_axis_aligned_box():
    # a rotated square (side 10 * sqrt(2), area 200) centred at (50, 40): min-max box 20 x 20, scale sqrt(1/2)
    poly = [40, 40, 50, 30, 60, 40, 50, 50]
    w = np.sqrt(200 / 400) * 20 + 1
    np.testing.assert_allclose(polygon_to_xywh(poly), [50 - (w - 1) / 2, 40 - (w - 1) / 2, w, w])
    np.testing.assert_allclose(polygon_to_xywh(np.reshape(poly, (4, 2))), polygon_to_xywh(poly))
    np.testing.assert_array_equal(region_to_xywh([1, 2, 3, 4]), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="4 finite corners"):
        polygon_to_xywh([0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="degenerate"):
        polygon_to_xywh([0, 0, 0, 0, 0, 0, 0, 0])


def test_init_box_rules():
    np.testing.assert_array_equal(init_box([10, 20, 30, 40], "raw"), [10, 20, 30, 40])
    np.testing.assert_array_equal(init_box([10, 20, 30, 40], "pysot"), [10.5, 20.5, 30, 40])  # cx = x + w / 2
    poly = [40, 40, 50, 30, 60, 40, 50, 50]
    np.testing.assert_array_equal(init_box(poly, "raw"), polygon_to_xywh(poly))
    np.testing.assert_array_equal(init_box(poly, "pysot"), polygon_to_xywh(poly))
    with pytest.raises(ValueError, match="init-box rule"):
        init_box([1, 2, 3, 4], "centre")
    assert init_rule_from_cfg({"TEST": {"INIT_BOX": "pysot"}}) == "pysot"
    assert init_rule_from_cfg({"TEST": {}}) == "raw" and init_rule_from_cfg({}) == "raw"


def test_polygon_to_xywh_matches_got10k_corner2rect():
    """got10k's VOT reader implements the same area-preserving box (centre-based, x = cx - w / 2)."""
    datasets = pytest.importorskip("got10k.datasets", reason="got10k not installed")
    rng = np.random.default_rng(0)
    for _ in range(20):
        cx, cy, a, b, t = rng.uniform(50, 200), rng.uniform(50, 200), rng.uniform(5, 60), rng.uniform(5, 60), \
            rng.uniform(0, np.pi)
        c, s = np.cos(t), np.sin(t)
        pts = np.array([[cx + c * dx - s * dy, cy + s * dx + c * dy] for dx, dy in
                        ((-a, -b), (a, -b), (a, b), (-a, b))]).reshape(-1)
        x, y, w, h = datasets.VOT._corner2rect(None, pts[None])[0]
        np.testing.assert_allclose(polygon_to_xywh(pts), [x + 0.5, y + 0.5, w, h], atol=1e-9)


def test_print_ini_gives_a_trax_entry_the_toolkit_registry_reads(tmp_path):
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert vot_integration.main(["--print-ini", "--cfg", CFG, "--snapshot", SNAP, "--device", "cpu",
                                     "--name", "SC_tiny"]) == 0
    ini = configparser.ConfigParser()
    ini.read_string(buf.getvalue())
    entry = ini["SC_tiny"]
    assert entry["protocol"] == "trax"
    cmd = shlex.split(entry["command"])
    assert cmd[:3] == [sys.executable, "-m", "siamcorners.integrations.vot"]
    assert cmd[cmd.index("--cfg") + 1] == CFG and cmd[cmd.index("--snapshot") + 1] == SNAP
    assert entry["env_PYTHONPATH"].split(os.pathsep)[0] == ROOT
    _need("vot")
    from vot.tracker import Registry
    (tmp_path / "trackers.ini").write_text(buf.getvalue())
    registry = Registry([str(tmp_path)], root=str(tmp_path))
    assert "SC_tiny" in registry and registry["SC_tiny"].protocol == "trax"


def test_print_ini_names_a_missing_snapshot(capsys):
    assert vot_integration.main(["--print-ini", "--cfg", CFG, "--snapshot", "nope.pth"]) == 2
    assert "nope.pth: snapshot not found" in capsys.readouterr().err


def _vot_test(workspace, *extra, timeout=600):
    _need("vot")
    _need("trax")
    ini = subprocess.run([sys.executable, "-m", "siamcorners.integrations.vot", "--print-ini", "--cfg", CFG,
                          "--snapshot", SNAP, "--device", "cpu", "--threads", "1"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    (workspace / "trackers.ini").write_text(ini)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the entry's env_PYTHONPATH must suffice
    proc = subprocess.run([sys.executable, "-m", "vot", "test", "SiamCorners", *extra], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Test concluded successfuly" in out, out[-3000:]  # (sic) the toolkit's message
    assert "Error during tracker execution" not in out, out[-3000:]
    return np.array([[float(v) for v in m.split(",")] for m in STATE.findall(out)])


@pytest.mark.slow
def test_vot_test_runs_our_trax_tracker_on_a_generated_sequence(tmp_path):
    states = _vot_test(tmp_path)
    assert states.shape == (50, 4)  # the toolkit's generated 50-frame sequence: init + 49 updates
    assert np.all(states[:, 2:] > 0) and np.all(np.isfinite(states))


@pytest.mark.slow
def test_vot_test_initialises_from_a_polygon(tmp_path, shared_data_dir):
    name, frames, gt = L.synthetic_videos(str(tmp_path / "syn"), count=3, frames=12, seed=1)[2]
    L.vot_layout(str(tmp_path / "vot"), [(name, frames, gt)], polygons=True)  # legacy VOT sequence folder
    states = _vot_test(tmp_path, "--sequence", str(tmp_path / "vot" / name))
    assert states.shape == (12, 4)
    x, y, w, h = gt[0]
    np.testing.assert_allclose(states[0], polygon_to_xywh([x, y, x + w, y, x + w, y + h, x, y + h]), atol=1e-3)
    ious = [_iou(a, b) for a, b in zip(states[1:], gt[1:])]
    assert np.mean(ious) > 0.3  # it tracks the target it was given


def _iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.parametrize("extra, needle", [
    (["--name", "a\n[evil]\ncommand = rm -rf ~"], "--name"),         # probe V09: extra ini sections
    (["--timeout", "-5"], "--timeout must be > 0"),                   # probe V17
    (["--snapshot", os.path.join(ROOT, "README.md")], "README.md"),   # probe V03: not a checkpoint
    (["--cfg", os.path.join(ROOT, "requirements.txt")], "requirements.txt"),  # probe V02: not a config
])
def test_print_ini_refuses_what_the_toolkit_could_not_run(extra, needle, capsys):
    args = ["--print-ini", "--cfg", CFG, "--snapshot", SNAP, *extra]
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert vot_integration.main(args) == 2
    assert buf.getvalue() == ""
    err = capsys.readouterr().err
    assert "Traceback" not in err and needle in err.splitlines()[-1]


def test_a_failing_request_reaches_the_client_and_the_log_as_one_line(tmp_path, monkeypatch, capsys):
    """Probe V11-V16: the client got the reason, but trax's ``with Server`` printed the whole traceback into the
    toolkit's log. ``FakeServer`` stands for trax.Server (its exit prints the traceback, as trax's does)."""
    trax = _need("trax")
    import traceback
    from types import SimpleNamespace

    quits = []

    class FakeServer:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, exc_type, exc, tb):   # what trax.Server.__exit__ does
            if exc is not None:
                traceback.print_exception(exc_type, exc, tb)
            self.quit(reason=str(exc) if exc is not None else None)

        def wait(self):
            missing = str(tmp_path / "nope.jpg")
            image = {trax.ImageChannel.COLOR: SimpleNamespace(path=lambda: missing)}
            region = SimpleNamespace(type=trax.Region.RECTANGLE, bounds=lambda: (10.0, 10.0, 20.0, 20.0))
            return SimpleNamespace(type=trax.TraxStatus.INITIALIZE, objects=[(region, {})], image=image)

        def quit(self, reason=None):
            quits.append(reason)

    monkeypatch.setattr(trax, "Server", FakeServer)
    monkeypatch.setenv("TRAX", "1")
    assert vot_integration.main(["--cfg", CFG, "--snapshot", SNAP, "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [err.strip().splitlines()[-1]]
    assert "nope.jpg" in err and len(quits) == 1 and "nope.jpg" in quits[0]
