"""One run per folder, enforced with an OS lock, and fingerprints that cover everything that changes a number.

The races run for real: two processes started together (forked, released by one barrier), many trials. The trackers
are tiny fakes (a still box, a few ms per frame) so the trials stay fast; what is under test is the claim.
Probe cases (../shared/reference/reliability-probe-2026-12.md): F07, F08, F08b, F09, T04, T34, T35, H04-H06, E32.
"""
import importlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import torch

from siamcorners.data.synthetic import write_otb_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
VIDEOS = ["synthetic_0001", "synthetic_0002", "synthetic_0003", "synthetic_0004"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks and fork")

FACTORY = textwrap.dedent('''
    import os
    import time


    class Still:
        """Reports its init box moved by ``shift`` (so a result file says which setup wrote it) and logs each video."""

        def __init__(self, shift, gated=False):
            self.shift, self.gated = shift, gated

        def init(self, frame, box):
            self.box = [float(v) + self.shift for v in box]
            with open(os.environ["CLAIMS_LOG"], "a") as f:
                f.write(f"{os.getpid()} {box[0]:.3f} {box[1]:.3f}\\n")

        def track(self, frame):
            time.sleep(0.004)
            gate = os.environ.get("CLAIMS_GATE") if self.gated else None
            while gate and os.path.exists(gate):  # held by the test until it has tried what it tries meanwhile
                time.sleep(0.01)
            return {"bbox": self.box, "score": 1.0}


    def a(device):
        return Still(1.0, gated=True)


    def b(device):
        return Still(2.0)
''')


def cli(tool):
    return importlib.import_module(f"siamcorners.cli.{tool}").main


@pytest.fixture()
def world(tmp_path, monkeypatch):
    """4 synthetic videos (6 frames), the factory module, a log of tracked videos."""
    root = str(tmp_path / "syn")
    write_otb_dataset(root, 4, seed=3, num_frames=6, image_size=(48, 64))
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "claims_trackers.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.setenv("CLAIMS_LOG", str(tmp_path / "tracked.log"))
    return tmp_path, root


def _test_args(root, out, factory, *extra):
    return ["--dataset", "synthetic", "--dataset-root", root, "--tracker-factory", f"claims_trackers:{factory}",
            "--tracker-name", "trk", "--out", str(out), "--no-progress", *extra]


def _child(barrier, log_path, fn, args):
    """Body of a racing process: output to its own file, start at the barrier, exit with the tool's code."""
    rc = 99
    with open(log_path, "w") as log:
        sys.stdout = sys.stderr = log
        try:
            barrier.wait(timeout=60)
            rc = fn(*args)
        except BaseException as e:  # reported to the parent through the log
            print(f"{type(e).__name__}: {e}")
        log.flush()
    os._exit(rc if isinstance(rc, int) else 98)


def race(tmp, jobs, timeout=120):
    """Start ``jobs`` [(fn, args)] together in forked processes -> [(exit code, output)]."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(jobs))
    logs = [os.path.join(tmp, f"race{i}.log") for i in range(len(jobs))]
    procs = [ctx.Process(target=_child, args=(barrier, logs[i], fn, args)) for i, (fn, args) in enumerate(jobs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode is not None, "a racing process hung"
    return [(p.exitcode, open(log).read()) for p, log in zip(procs, logs)]


def _shift(folder, video):
    rows = np.loadtxt(os.path.join(folder, f"{video}.txt"), delimiter=",", ndmin=2)
    return float(np.round(rows[1, 0] - rows[0, 0], 3))


def _tracked(tmp):
    path = os.path.join(tmp, "tracked.log")
    return open(path).read().split("\n")[:-1] if os.path.exists(path) else []


# ------------------------------------------------------------------------------------------ tools/test.py races
def test_two_setups_started_together_one_wins_and_the_folder_holds_only_its_files(world):  # F07
    tmp, root = world
    test = cli("test")
    for trial in range(12):
        out = tmp / f"f07_{trial}"
        outcome = race(str(tmp), [(test, (_test_args(root, out, "a"),)), (test, (_test_args(root, out, "b"),))])
        codes = sorted(rc for rc, _ in outcome)
        assert codes == [0, 2], (trial, outcome)
        winner = "ab"[[rc for rc, _ in outcome].index(0)]
        loser_text = next(text for rc, text in outcome if rc == 2).strip().splitlines()
        assert len(loser_text) <= 2 and loser_text[-1].startswith("error: "), loser_text
        assert ("in use by another run" in loser_text[-1] or "another setup" in loser_text[-1]), loser_text
        fp = json.loads((out / "synthetic" / "trk.fingerprint.json").read_text())
        assert fp["factory"] == f"claims_trackers:{winner}"
        folder = str(out / "synthetic" / "trk")
        assert {v: _shift(folder, v) for v in VIDEOS} == {v: {"a": 1.0, "b": 2.0}[winner] for v in VIDEOS}


def test_same_setup_started_together_shares_the_folder_and_tracks_each_video_once(world):
    tmp, root = world
    test = cli("test")
    for trial in range(12):
        out = tmp / f"same_{trial}"
        log = tmp / "tracked.log"
        if log.exists():
            log.unlink()
        outcome = race(str(tmp), [(test, (_test_args(root, out, "a"),)), (test, (_test_args(root, out, "a"),))])
        assert [rc for rc, _ in outcome] == [0, 0], outcome
        tracked = _tracked(tmp)
        assert len(tracked) == len(VIDEOS), (trial, tracked)  # every video tracked by exactly one process
        folder = str(out / "synthetic" / "trk")
        assert {v: _shift(folder, v) for v in VIDEOS} == {v: 1.0 for v in VIDEOS}
        assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]


def _wait_for(path, seconds=30):
    end = time.time() + seconds
    while not os.path.exists(path):
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.01)


def test_overwrite_while_another_setup_writes_the_folder_is_refused(world, monkeypatch, capsys):  # F08, F08b
    tmp, root = world
    gate = tmp / "gate"
    gate.write_text("")
    monkeypatch.setenv("CLAIMS_GATE", str(gate))  # run A tracks its first frame, then waits for the gate to open
    test = cli("test")
    out = tmp / "f08"
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(1)
    a = ctx.Process(target=_child, args=(barrier, str(tmp / "a.log"), test, (_test_args(root, out, "a"),)))
    a.start()
    try:
        _wait_for(out / "synthetic" / "trk.fingerprint.json")
        for extra in ([], ["--videos", "synthetic_0004"]):  # F08, F08b
            assert test(_test_args(root, out, "b", "--overwrite", *extra)) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(f"error: {out / 'synthetic' / 'trk'}: --overwrite refused: "
                                                       f"another run (pid {a.pid} "), err
        # nor without --overwrite: another setup, while A holds the folder
        assert test(_test_args(root, out, "b")) == 2
        assert "in use by another run" in capsys.readouterr().err
    finally:
        gate.unlink()
        a.join(60)
    assert a.exitcode == 0, open(tmp / "a.log").read()
    assert "4 videos run, 0 already done" in open(tmp / "a.log").read()
    fp = json.loads((out / "synthetic" / "trk.fingerprint.json").read_text())
    assert fp["factory"] == "claims_trackers:a"
    assert {v: _shift(str(out / "synthetic" / "trk"), v) for v in VIDEOS} == {v: 1.0 for v in VIDEOS}
    # once A is done, --overwrite does what it says
    assert test(_test_args(root, out, "b", "--overwrite")) == 0
    assert {v: _shift(str(out / "synthetic" / "trk"), v) for v in VIDEOS} == {v: 2.0 for v in VIDEOS}


def test_a_claim_left_by_a_killed_run_is_taken_over_and_said(world, capsys):
    tmp, root = world
    from siamcorners.engine.claims import claim

    folder = str(tmp / "dead")

    def hold_and_die():
        claim(folder, "trk", {"setup": "A"}, "the folder")
        os._exit(0)  # like kill -9: no release

    ctx = mp.get_context("fork")
    p = ctx.Process(target=hold_and_die)
    p.start()
    p.join(30)
    notes = []
    with claim(folder, "trk", {"setup": "B"}, "the folder", log=notes.append) as held:
        assert held.held
    assert len(notes) == 1 and notes[0].startswith(f"note: the folder: the run that held it (pid {p.pid} ")
    assert notes[0].endswith("ended without releasing it (killed?); claim taken over")
    with claim(folder, "trk", {"setup": "B"}, "the folder", log=notes.append):  # released cleanly: no note
        pass
    assert len(notes) == 1


def test_claims_in_one_process_and_their_messages(tmp_path):
    from siamcorners.engine.claims import ClaimError, claim

    folder = str(tmp_path)
    first = claim(folder, "x", {"k": 1}, "X", shared=True)
    joined = claim(folder, "x", {"k": 1}, "X", shared=True)  # the same setup shares
    with pytest.raises(ClaimError, match=r"^X: in use by another run \(pid \d+ on .*started .* and 1 more\) with "
                                         r"another setup; two setups would mix their files there; do Y$"):
        claim(folder, "x", {"k": 2}, "X", shared=True, how="do Y")
    with pytest.raises(ClaimError, match=r"^X: --overwrite refused: another run \(pid"):
        claim(folder, "x", {"k": 1}, "X", shared=True, overwrite=True)
    with pytest.raises(ClaimError, match="with the same setup; both would write the same files"):
        claim(folder, "x", {"k": 1}, "X")  # an exclusive claim is not shared
    first.release()
    joined.release()
    with claim(folder, "x", {"k": 2}, "X", overwrite=True):
        pass


# ------------------------------------------------------------------------------------------ fingerprints
def test_resume_with_another_dataset_root_is_refused(world, capsys):  # F09
    tmp, root = world
    test = cli("test")
    out = tmp / "f09"
    assert test(_test_args(root, out, "a", "--videos", "synthetic_0001,synthetic_0002")) == 0
    other = str(tmp / "syn_other")  # the same video names, other frames and ground truth
    write_otb_dataset(other, 4, seed=4, num_frames=6, image_size=(48, 64))
    capsys.readouterr()
    assert test(_test_args(other, out, "a")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert sorted(os.listdir(out / "synthetic" / "trk")) == ["synthetic_0001.txt", "synthetic_0002.txt", "times"]
    assert len(err) == 1 and f"dataset root {os.path.realpath(root)} -> {os.path.realpath(other)}" in err[0]
    assert "ground truth differs in 4 video(s)" in err[0] and "resuming would mix them" in err[0]
    fp = json.loads((out / "synthetic" / "trk.fingerprint.json").read_text())
    assert fp["dataset"]["root"] == os.path.realpath(root) and sorted(fp["dataset"]["groundtruth"]) == VIDEOS
    # the same dataset copied elsewhere: the root alone differs, and that is named too
    copy = str(tmp / "syn_copy")
    shutil.copytree(root, copy)
    assert test(_test_args(copy, out, "a")) == 2
    err = capsys.readouterr().err
    assert "dataset root" in err and "ground truth differs" not in err
    assert test(_test_args(root, out, "a")) == 0  # the original resumes
    assert "2 videos run, 2 already done" in capsys.readouterr().out


def test_device_type_is_part_of_the_results_fingerprint(world, capsys):  # issue 17, defect 6
    tmp, root = world
    test = cli("test")
    out = tmp / "dev"
    assert test(_test_args(root, out, "a", "--videos", "synthetic_0001")) == 0
    path = out / "synthetic" / "trk.fingerprint.json"
    fp = json.loads(path.read_text())
    path.write_text(json.dumps(dict(fp, device="cuda")))  # as a GPU run of the same setup leaves it
    capsys.readouterr()
    assert test(_test_args(root, out, "a")) == 2
    assert "(saved -> now: device cuda -> cpu)" in capsys.readouterr().err
    assert not (out / "synthetic" / "trk" / "synthetic_0002.txt").exists()
    assert fp["device"] == "cpu"
    from siamcorners.engine.fingerprint import device_type, differences

    assert device_type(["cpu"]) == "cpu" and device_type(["cuda:0", "cuda:1"]) == "cuda"
    assert device_type(["cuda", "cpu"]) == "cpu+cuda"
    assert differences({"device": "cuda"}, {"device": "cpu"}) == ["device cuda -> cpu"]
    assert differences({}, {"device": "cpu"}) == ["device (not recorded) -> cpu"]


def test_eval_refuses_results_tracked_on_another_ground_truth(world, capsys):
    tmp, root = world
    assert cli("test")(_test_args(root, tmp / "res", "a")) == 0
    other = str(tmp / "syn_other")
    shutil.copytree(root, other)
    gt = os.path.join(other, "synthetic_0003", "groundtruth_rect.txt")
    rows = open(gt).read().splitlines()
    rows[2] = "1,1,10,10"
    open(gt, "w").write("\n".join(rows) + "\n")
    evaluate = cli("eval")
    base = ["--dataset", "synthetic", "--results", str(tmp / "res"), "--no-plots"]
    capsys.readouterr()
    assert evaluate(base + ["--dataset-root", other, "--report-dir", str(tmp / "rep1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp / 'res' / 'synthetic' / 'trk'}: results were tracked on "
                                               f"{os.path.realpath(root)} whose ground truth differs from "
                                               f"{os.path.realpath(other)}'s in 1 video(s) (synthetic_0003)")
    assert not (tmp / "rep1" / "results.json").exists()
    assert evaluate(base + ["--dataset-root", root, "--report-dir", str(tmp / "rep2")]) == 0
    # results from before the record (no "dataset" in the fingerprint) are scored as before
    path = tmp / "res" / "synthetic" / "trk.fingerprint.json"
    fp = json.loads(path.read_text())
    del fp["dataset"]
    path.write_text(json.dumps(fp))
    assert evaluate(base + ["--dataset-root", other, "--report-dir", str(tmp / "rep3")]) == 0


def test_eval_report_folder_is_held_while_an_eval_writes_it(world, capsys):  # E32
    tmp, root = world
    from siamcorners.engine.claims import claim

    assert cli("test")(_test_args(root, tmp / "res", "a")) == 0
    evaluate = cli("eval")
    args = ["--dataset", "synthetic", "--dataset-root", root, "--results", str(tmp / "res"), "--no-plots",
            "--report-dir", str(tmp / "rep")]
    capsys.readouterr()
    with claim(str(tmp / "rep"), "report", {"dataset": "other"}, "report folder rep"):
        assert evaluate(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: report folder {tmp / 'rep'}: in use by another run (pid "
                                               f"{os.getpid()} ") and "give another --report-dir" in err[0]
    assert not (tmp / "rep" / "results.json").exists()
    # the same inputs: the second eval waits for the first and writes after it
    outcome = race(str(tmp), [(evaluate, (args,)), (evaluate, (args,))])
    assert [rc for rc, _ in outcome] == [0, 0], outcome
    assert json.loads((tmp / "rep" / "results.json").read_text())


# ------------------------------------------------------------------------------------------ training
def _new_run(out, lr):
    """A new training run (fake model) that writes a checkpoint and holds the folder a moment."""
    from test_trainer import FakeDataset, FakeModel, fake_cfg

    from siamcorners.engine.trainer import Trainer

    torch.set_num_threads(1)
    try:
        trainer = Trainer(fake_cfg(out, "TRAIN.BASE_LR", lr), model=FakeModel(), progress=False,
                          dataset_builder=lambda c, e: FakeDataset(c.DATASET.VIDEOS_PER_EPOCH))
    except ValueError as e:  # ClaimError / RunDirectoryError
        print(f"error: {e}")
        return 2
    trainer.save("checkpoint_e1.pth", 1, 0)
    time.sleep(0.2)
    trainer.close()
    return 0


def test_two_new_training_runs_in_one_output_dir_one_wins(tmp_path):  # T04
    from siamcorners.models.checkpoint import load_checkpoint

    assert _new_run(str(tmp_path / "warm"), "0.02") == 0  # the first Trainer imports for seconds: here, once

    for trial in range(10):
        out = str(tmp_path / f"t04_{trial}")
        outcome = race(str(tmp_path), [(_new_run, (out, "0.02")), (_new_run, (out, "0.01"))])
        assert sorted(rc for rc, _ in outcome) == [0, 2], (trial, outcome)
        winner = ["0.02", "0.01"][[rc for rc, _ in outcome].index(0)]
        loser = next(text for rc, text in outcome if rc == 2)
        assert "in use by another run" in loser or "already holds checkpoints" in loser, loser
        saved = load_checkpoint(os.path.join(out, "snapshot", "checkpoint_e1.pth"))["config"]
        assert saved["TRAIN"]["BASE_LR"] == float(winner)


def test_train_tool_refuses_a_folder_held_by_another_run_in_one_line(tmp_path, capsys):
    from siamcorners.config import load_config
    from siamcorners.engine.run_dirs import claim_training_run

    cfg = load_config(os.path.join(TINY, "config.yaml"), ["OUTPUT_DIR", str(tmp_path)])
    held = claim_training_run(cfg, str(tmp_path))
    try:
        rc = cli("train")(["--cfg", os.path.join(TINY, "config.yaml"), "--no-progress", "--opts", "OUTPUT_DIR",
                           str(tmp_path), "TRAIN.BASE_LR", "0.01"])
    finally:
        for c in held:
            c.release()
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {os.path.realpath(tmp_path)} (training run folder): in use "
                                               f"by another run (pid {os.getpid()} ")
    assert "(running -> now: TRAIN.BASE_LR" in err[0] and "choose a new OUTPUT_DIR" in err[0]
    assert not (tmp_path / "logs").exists() and not (tmp_path / "snapshot").exists()


def _fake_train(cfg, resume=""):
    from test_trainer import FakeDataset, FakeModel

    from siamcorners.engine.trainer import Trainer

    torch.manual_seed(0)
    trainer = Trainer(cfg, model=FakeModel(), dataset_builder=lambda c, e: FakeDataset(c.DATASET.VIDEOS_PER_EPOCH),
                      resume=resume, progress=False)
    try:
        return trainer.train()
    finally:
        trainer.close()


def test_resume_of_a_checkpoint_into_a_new_folder_compares_its_config(tmp_path):  # T34, T35
    from test_trainer import fake_cfg

    from siamcorners.engine.run_dirs import RunDirectoryError

    _fake_train(fake_cfg(tmp_path / "a", "TRAIN.EPOCHS", "1", "DATASET.VIDEOS_PER_EPOCH", "8"))
    ckpt = str(tmp_path / "a" / "snapshot" / "checkpoint_e1.pth")
    with pytest.raises(RunDirectoryError, match=r"^--resume .*checkpoint_e1.pth: the checkpoint was made with another "
                                                r"config \(checkpoint -> now: TRAIN.BASE_LR 0.05 -> 0.01\); "
                                                r"continuing it with this config would make one run of two configs; "
                                                r"resume it with the config stored in it, or start a new run from its "
                                                r"weights with --opts TRAIN.PRETRAINED "):
        _fake_train(fake_cfg(tmp_path / "t34", "TRAIN.EPOCHS", "2", "DATASET.VIDEOS_PER_EPOCH", "8",
                             "TRAIN.BASE_LR", "0.01"), resume=ckpt)
    with pytest.raises(RunDirectoryError, match=r"^TRAIN.RESUME .*checkpoint_e1.pth: the checkpoint was made with "
                                                r"another config \(checkpoint -> now: DATASET.NEG 0.2 -> 0.5\)"):
        _fake_train(fake_cfg(tmp_path / "t35", "TRAIN.EPOCHS", "2", "DATASET.VIDEOS_PER_EPOCH", "8",
                             "TRAIN.RESUME", ckpt, "DATASET.NEG", "0.5"))
    assert not os.path.exists(tmp_path / "t34") and not os.path.exists(tmp_path / "t35")  # nothing created
    # the same config continues it elsewhere (more epochs)
    summary = _fake_train(fake_cfg(tmp_path / "b", "TRAIN.EPOCHS", "2", "DATASET.VIDEOS_PER_EPOCH", "8"), resume=ckpt)
    assert summary["iterations"] == 2


# ------------------------------------------------------------------------------------------ hp_search
@pytest.fixture()
def hp_world(tmp_path):
    root = str(tmp_path / "syn")
    write_otb_dataset(root, 2, seed=5, num_frames=4, image_size=(120, 160))
    from siamcorners.models.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint(os.path.join(TINY, "model.pth"))["model"]
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[name] = state[name] + 0.5
    save_checkpoint(str(tmp_path / "other.pth"), state)
    return tmp_path, root


def _hp(root, out, snapshot, *extra):
    torch.set_num_threads(1)
    return cli("hp_search")(["--cfg", os.path.join(TINY, "config.yaml"), "--snapshot", snapshot, "--dataset",
                             "synthetic", "--dataset-root", root, "--out", str(out), "--no-progress",
                             "--search", "TRACK.PENALTY_K=0.02", *extra])


def test_hp_search_rerun_with_another_snapshot_or_opts_is_refused(hp_world, capsys):  # H04, H05, H06
    tmp, root = hp_world
    out = tmp / "hp"
    model = os.path.join(TINY, "model.pth")
    assert _hp(root, out, model) == 0
    first = (out / "hp_search.json").read_text()
    folder = out / "results" / "synthetic" / "PENALTY_K=0.02"
    files = {f: (folder / f).read_bytes() for f in ("synthetic_0001.txt", "synthetic_0002.txt")}
    capsys.readouterr()
    assert _hp(root, out, str(tmp / "other.pth")) == 2  # H04
    cap = capsys.readouterr()
    assert "holds results made with another setup (saved -> now: weights differ)" in cap.err
    assert "| Rank" not in cap.out and "use another --out" in cap.err
    assert _hp(root, out, model, "--opts", "TRACK.WINDOW_INFLUENCE", "0.9") == 2  # H05
    assert "(saved -> now: TRACK.WINDOW_INFLUENCE 0.011 -> 0.9)" in capsys.readouterr().err
    os.remove(folder / "synthetic_0002.txt")  # H06: killed before the second video
    assert _hp(root, out, str(tmp / "other.pth")) == 2
    assert "made with another setup (saved -> now: weights differ); resuming would mix them" in capsys.readouterr().err
    assert not (folder / "synthetic_0002.txt").exists()
    assert (folder / "synthetic_0001.txt").read_bytes() == files["synthetic_0001.txt"]
    assert (out / "hp_search.json").read_text() == first
    assert _hp(root, out, model) == 0  # the search's own setup resumes
    assert "1 of 2 videos already done" in capsys.readouterr().out


def test_hp_search_folder_held_by_another_search_is_refused(hp_world, capsys):
    tmp, root = hp_world
    from siamcorners.engine.claims import claim

    out = tmp / "hp"
    with claim(str(out), "hp_search", {"another": "search"}, f"{out} (hp search folder)", shared=True):
        assert _hp(root, out, os.path.join(TINY, "model.pth")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {out} (hp search folder): in use by another run (pid "
                                               f"{os.getpid()} ") and err[0].endswith("; use another --out")
    assert not (out / "results").exists()
