"""Never delete what we did not write (issue 18 item 1; reliability probe X01, R30, R31): export into a folder of
the user's, ``--tracker-name`` that is not one folder name with ``--overwrite``, demo ``--out`` = ``--source``."""
import hashlib
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
CFG, MODEL = os.path.join(TINY, "config.yaml"), os.path.join(TINY, "model.pth")


def _tree(folder):
    """{relative path: (sha256, mode)} of every file and folder under ``folder`` (the folder's own mode too)."""
    out = {".": ("dir", os.stat(folder).st_mode)}
    for base, dirs, files in os.walk(folder):
        for d in dirs:
            p = os.path.join(base, d)
            out[os.path.relpath(p, folder)] = ("dir", os.stat(p).st_mode)
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = (hashlib.sha256(fh.read()).hexdigest(), os.stat(p).st_mode)
    return out


def _one_error_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ------------------------------------------------------------------------------------------ export (X01)
def test_export_refuses_a_folder_holding_user_files(tmp_path, capsys):
    """X01: --out pointing at a folder with the user's files: refused with one line, every file and the folder's
    mode kept (the old code emptied the folder and left it 0700)."""
    from siamcorners.cli import export as export_cli

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("three years of work\n")
    shutil.copy(MODEL, precious / "model.pth")
    os.chmod(precious, 0o755)
    before = _tree(str(precious))
    capsys.readouterr()
    rc = export_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--out", str(precious)])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert str(precious) in line and "thesis.txt" in line
    assert _tree(str(precious)) == before
    assert sorted(os.listdir(tmp_path)) == ["precious"]  # no temporary folder left beside it


def test_export_into_new_then_own_folder(tmp_path, capsys):
    """A new folder gets the umask's mode (not mkdtemp's 0700); an earlier export's folder is replaced as a whole;
    the same folder with a user file added is refused."""
    pytest.importorskip("onnx")
    from siamcorners.benchmarks.textio import process_umask
    from siamcorners.cli import export as export_cli

    out = tmp_path / "export"
    assert export_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--out", str(out)]) == 0
    assert os.stat(out).st_mode & 0o777 == 0o777 & ~process_umask()
    assert sorted(os.listdir(out)) == ["meta.json", "search.onnx", "template.onnx"]
    (out / "search.onnx").write_bytes(b"stale")
    assert export_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--out", str(out)]) == 0  # our own export: replaced
    assert (out / "search.onnx").stat().st_size > 1000
    assert sorted(os.listdir(tmp_path)) == ["export"]
    (out / "notes.txt").write_text("mine\n")
    before = _tree(str(out))
    capsys.readouterr()
    assert export_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--out", str(out)]) == 2
    assert "notes.txt" in _one_error_line(capsys.readouterr().err)
    assert _tree(str(out)) == before


# ------------------------------------------------------------------------------------------ --tracker-name (R30, R31)
@pytest.fixture()
def results_with_user_files(tmp_path):
    """A results root holding another tracker's results of the dataset, another dataset and a user's notes."""
    out = tmp_path / "results"
    other = out / "synthetic" / "other"
    other.mkdir(parents=True)
    (other / "synthetic_0001.txt").write_text("1,2,3,4\n")
    (out / "synthetic" / "other.fingerprint.json").write_text("{}\n")
    (out / "OTB100" / "mine").mkdir(parents=True)
    (out / "OTB100" / "mine" / "Dudek.txt").write_text("1,2,3,4\n")
    (out / "my_notes.txt").write_text("do not delete\n")
    return out


@pytest.mark.parametrize("name", [".", "..", "", "/", "a/b", "../x", "..\\x"])
def test_tracker_name_must_be_one_folder_name(name, results_with_user_files, tmp_path, capsys):
    """R30 (--tracker-name . wiped every tracker's results of the dataset) and R31 (.. wiped the whole --out):
    refused with one line before anything is deleted or tracked."""
    from siamcorners.cli import test as test_cli
    from siamcorners.data.synthetic import write_otb_dataset

    data = str(tmp_path / "syn")
    write_otb_dataset(data, 1, seed=3, num_frames=3, image_size=(96, 128))
    out = results_with_user_files
    before = _tree(str(out))
    capsys.readouterr()
    rc = test_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--dataset", "synthetic", "--dataset-root", data,
                        "--out", str(out), "--tracker-name", name, "--overwrite", "--no-progress"])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2
    assert "--tracker-name" in line and "one plain folder name" in line
    assert _tree(str(out)) == before


def test_claim_results_folder_refuses_paths_itself(tmp_path):
    """The folder claim (the code that deletes on --overwrite) checks the name too, whoever calls it."""
    from siamcorners.engine.run_dirs import ResultsFolderError, check_tracker_name, claim_results_folder

    (tmp_path / "ds" / "t").mkdir(parents=True)
    (tmp_path / "keep.txt").write_text("x")
    for bad in ("..", ".", "t/..", ""):
        with pytest.raises(ResultsFolderError, match="one plain folder name"):
            claim_results_folder(str(tmp_path / "ds"), bad, {"a": 1}, overwrite=True, log=lambda s: None)
    assert (tmp_path / "keep.txt").is_file() and (tmp_path / "ds" / "t").is_dir()
    assert check_tracker_name("siamcorners_r50.e19-v2") == "siamcorners_r50.e19-v2"


# ------------------------------------------------------------------------------------------ demo --out = --source
@pytest.mark.parametrize("flag", ["--out", "--gif"])
def test_demo_refuses_to_write_over_its_source(flag, shared_data_dir, tmp_path, capsys):
    from siamcorners.cli import demo

    video = tmp_path / "clip.avi"
    shutil.copy(os.path.join(shared_data_dir, "bag.avi"), video)
    before = _tree(str(tmp_path))
    capsys.readouterr()
    other = ["--gif", str(tmp_path / "x.gif")] if flag == "--out" else ["--out", str(tmp_path / "x.mp4")]
    rc = demo.main(["--source", str(video), "--init", "300,120,100,160", "--max-frames", "2",
                    flag, os.path.join(str(tmp_path), ".", "clip.avi"), *other])
    line = _one_error_line(capsys.readouterr().err)
    assert rc == 2 and "--source" in line and flag in line
    assert _tree(str(tmp_path)) == before
