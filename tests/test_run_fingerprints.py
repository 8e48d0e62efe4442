"""Results folders and training run directories never mix two setups (fingerprints, --overwrite)."""
import importlib
import json
import os
import shutil
import textwrap

import pytest
import torch

from siamcorners.benchmarks import BenchmarkError
from siamcorners.config import get_default_config, load_config, merge_opts, to_dict
from siamcorners.engine.fingerprint import (box_config, code_digests, differences, state_digest,
                                            tracking_fingerprint, training_config)
from siamcorners.engine.run_dirs import ResultsFolderError, RunDirectoryError, claim_results_folder
from siamcorners.engine.trainer import Trainer, find_resume_checkpoint
from siamcorners.models.checkpoint import save_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic", "config.yaml")


def test_main(argv):
    return importlib.import_module("siamcorners.cli.test").main(argv)


test_main.__test__ = False


# ------------------------------------------------------------------------------------------ fingerprints
def test_box_config_covers_tracking_keys_only():
    cfg = get_default_config()
    base = box_config(cfg)
    assert {"TRACK.PENALTY_K", "DECODE.TOPK", "HEATMAP.STRIDE", "MODEL.LEVELS", "INFERENCE.AMP",
            "INFERENCE.DEVICE_CROP", "MODEL.INPUT.NORMALIZE", "MODEL.BACKBONE.TYPE"} <= set(base)
    for key, value in [("TRAIN.BASE_LR", 0.1), ("DATASET.NEG", 0.5), ("INFERENCE.FOLD_BN", True),
                       ("MODEL.BACKBONE.PRETRAINED", "x.pth"), ("TEST.SNAPSHOT", "a.pth"), ("DEVICE", "cpu")]:
        other = get_default_config()
        merge_opts(other, [key, json.dumps(value) if not isinstance(value, str) else value])
        assert box_config(other) == base, key
    other = get_default_config()
    merge_opts(other, ["TRACK.PENALTY_K", "0.3", "INFERENCE.AMP", "bf16"])
    assert differences({"config": base}, {"config": box_config(other)}) == [
        "INFERENCE.AMP 'off' -> 'bf16'", "TRACK.PENALTY_K 0.04 -> 0.3"]


def test_training_config_ignores_how_a_run_is_executed():
    a, b = get_default_config(), get_default_config()
    merge_opts(b, ["TRAIN.PRINT_FREQ", "1", "TRAIN.NUM_WORKERS", "0", "TRAIN.STOP_AFTER_ITERS", "3", "OUTPUT_DIR",
                   "/elsewhere", "DEVICE", "cpu", "TEST.SNAPSHOT", "x", "DATASET.SOURCES.VID.ROOT", "/data/vid"])
    assert training_config(a) == training_config(b)
    merge_opts(b, ["TRAIN.EPOCHS", "30"])  # extending a run
    assert training_config(a) == training_config(b)
    merge_opts(b, ["TRAIN.BASE_LR", "0.01", "SEED", "1"])
    assert differences({"config": training_config(a)}, {"config": training_config(b)}) == [
        "SEED 123456 -> 1", "TRAIN.BASE_LR 0.005 -> 0.01"]


def test_training_config_counts_only_the_sources_a_run_reads():
    """A run on SYNTHETIC saved before the OWN source existed (its stored config lacks it) resumes under a config
    that has it; the settings of a source in DATASET.NAMES still count."""
    a, b = get_default_config(), get_default_config()
    del a["DATASET"]["SOURCES"]["OWN"]
    merge_opts(b, ["DATASET.SOURCES.VID.FRAME_RANGE", "3"])  # VID is not in DATASET.NAMES [SYNTHETIC]
    assert training_config(a) == training_config(b)
    merge_opts(b, ["DATASET.SOURCES.SYNTHETIC.FRAME_RANGE", "3"])
    assert differences({"config": training_config(a)}, {"config": training_config(b)}) == [
        "DATASET.SOURCES.SYNTHETIC.FRAME_RANGE 30 -> 3"]


def test_code_digest_covers_the_tracker_path():
    code = code_digests()
    assert {"siamcorners/tracker/tracker.py", "siamcorners/models/decode.py", "siamcorners/data/crops.py",
            "siamcorners/engine/tester.py"} <= set(code)
    assert "siamcorners/models/losses.py" not in code and "siamcorners/tracker/video_io.py" not in code
    changed = dict(code, **{"siamcorners/tracker/tracker.py": "0" * 64})
    assert differences({"code": code}, {"code": changed}) == ["code differs: siamcorners/tracker/tracker.py"]


def test_weights_digest_is_the_tensors_not_the_file(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    save_checkpoint(str(tmp_path / "last.pth"), model, epoch=3, optimizer={"state": {}, "param_groups": []})
    save_checkpoint(str(tmp_path / "export.pth"), model)
    cfg = get_default_config()
    a = tracking_fingerprint(cfg, str(tmp_path / "last.pth"))
    assert a == tracking_fingerprint(cfg, str(tmp_path / "export.pth"))
    with torch.no_grad():
        model.bias[0] += 1e-6
    save_checkpoint(str(tmp_path / "other.pth"), model)
    assert differences(a, tracking_fingerprint(cfg, str(tmp_path / "other.pth"))) == ["weights differ"]
    assert state_digest(model.state_dict()) != a["weights"]


# ------------------------------------------------------------------------------------------ tools/test.py
@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory, shared_data_dir):
    """Two 3-frame copies of Dudek and a random tiny snapshot."""
    tmp = tmp_path_factory.mktemp("fp")
    src = os.path.join(shared_data_dir, "otb_mini", "Dudek")
    for name in ("DudekA", "DudekB"):
        os.makedirs(tmp / "otb" / name / "img")
        for i in range(1, 4):
            shutil.copy(os.path.join(src, "img", f"{i:04d}.jpg"), tmp / "otb" / name / "img")
        with open(os.path.join(src, "groundtruth_rect.txt")) as f:
            rows = f.readlines()[:3]
        (tmp / "otb" / name / "groundtruth_rect.txt").write_text("".join(rows))
    from siamcorners.models import build_model

    torch.manual_seed(0)
    save_checkpoint(str(tmp / "snap.pth"), build_model(load_config(TINY)))
    torch.manual_seed(1)
    save_checkpoint(str(tmp / "snap_other.pth"), build_model(load_config(TINY)))
    return tmp


def _run(setup, out, *extra, snapshot="snap.pth", opts=()):
    return test_main(["--cfg", TINY, "--snapshot", str(setup / snapshot), "--dataset", "OTB100",
                      "--dataset-root", str(setup / "otb"), "--out", str(out), "--no-progress", *extra,
                      *(["--opts", *opts] if opts else [])])


def test_resume_with_another_config_is_refused_and_names_the_difference(tiny_setup, tmp_path, capsys):
    out = tmp_path / "results"
    folder = out / "OTB100"
    assert _run(tiny_setup, out, "--videos", "DudekA", opts=("TRACK.PENALTY_K", "0.3")) == 0
    result = (folder / "snap" / "DudekA.txt").read_bytes()
    fp = json.loads((folder / "snap.fingerprint.json").read_text())
    assert fp["config"]["TRACK.PENALTY_K"] == 0.3 and len(fp["weights"]) == 64
    capsys.readouterr()

    # the default PENALTY_K 0.04 would track DudekB differently: refused, nothing written, config kept
    assert _run(tiny_setup, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {folder / 'snap'}: holds 2 result file(s) made with "
                                               f"another setup (saved -> now: TRACK.PENALTY_K 0.3 -> 0.04)")
    assert "--tracker-name NAME" in err[0] and "--overwrite" in err[0]
    assert not (folder / "snap" / "DudekB.txt").exists()
    assert load_config(str(folder / "snap.config.yaml")).TRACK.PENALTY_K == 0.3

    # other weights under the same name
    assert _run(tiny_setup, out, "--tracker-name", "snap", snapshot="snap_other.pth",
                opts=("TRACK.PENALTY_K", "0.3")) == 2
    assert "(saved -> now: weights differ)" in capsys.readouterr().err

    # the same setup resumes: DudekA is skipped, DudekB is added
    assert _run(tiny_setup, out, opts=("TRACK.PENALTY_K", "0.3", "TRAIN.BASE_LR", "1e-4")) == 0
    assert (folder / "snap" / "DudekA.txt").read_bytes() == result and (folder / "snap" / "DudekB.txt").exists()

    # --overwrite starts over with the new setup; the saved config describes the files again
    assert _run(tiny_setup, out, "--overwrite", "--videos", "DudekB") == 0
    assert sorted(os.listdir(folder / "snap")) == ["DudekB.txt", "times"]
    assert load_config(str(folder / "snap.config.yaml")).TRACK.PENALTY_K == 0.04
    assert json.loads((folder / "snap.fingerprint.json").read_text())["config"]["TRACK.PENALTY_K"] == 0.04


def test_results_without_a_fingerprint_are_not_resumed(tiny_setup, tmp_path, capsys):
    out = tmp_path / "results"
    assert _run(tiny_setup, out, "--videos", "DudekA") == 0
    os.remove(out / "OTB100" / "snap.fingerprint.json")  # as an older version left it
    capsys.readouterr()
    assert _run(tiny_setup, out) == 2
    assert "but no readable snap.fingerprint.json" in capsys.readouterr().err
    assert not (out / "OTB100" / "snap" / "DudekB.txt").exists()


FACTORY = textwrap.dedent('''
    class Still:
        def init(self, frame, box):
            self.box = list(box)
        def track(self, frame):
            return {"bbox": self.box, "score": 1.0}

    def still(device):
        return Still()

    def other(device):
        return Still()
''')


def test_custom_tracker_factory_is_fingerprinted_by_name_and_module(tmp_path, monkeypatch, shared_data_dir, capsys):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "my_trackers.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(mods))
    src = os.path.join(shared_data_dir, "otb_mini")
    out = str(tmp_path / "r")

    def run(spec, *extra):
        return test_main(["--dataset", "OTB100", "--dataset-root", src, "--tracker-factory", spec, "--out", out,
                          "--no-progress", "--tracker-name", "mine", *extra])

    assert run("my_trackers:still") == 0
    assert run("my_trackers:still") == 0
    capsys.readouterr()
    assert run("my_trackers:other") == 2
    assert "tracker my_trackers:still -> my_trackers:other" in capsys.readouterr().err
    (mods / "my_trackers.py").write_text(FACTORY + "\nSPEED = 2\n")
    assert run("my_trackers:still") == 2
    assert "code differs: my_trackers" in capsys.readouterr().err
    assert run("my_trackers:still", "--overwrite") == 0
    fp = json.loads((tmp_path / "r" / "OTB100" / "mine.fingerprint.json").read_text())
    assert fp["factory"] == "my_trackers:still" and list(fp["code"]) == ["my_trackers"]


def test_claim_refuses_a_folder_claimed_by_another_setup_before_any_result(tmp_path):
    claim_results_folder(str(tmp_path), "trk", {"config": {"TRACK.LR": 0.3}})
    with pytest.raises(ResultsFolderError, match=r"claimed by a run with another setup .*TRACK\.LR 0\.3 -> 0\.4"):
        claim_results_folder(str(tmp_path), "trk", {"config": {"TRACK.LR": 0.4}})
    assert issubclass(ResultsFolderError, BenchmarkError)
    shutil.rmtree(tmp_path / "trk")  # the folder deleted by hand: a new start
    claim_results_folder(str(tmp_path), "trk", {"config": {"TRACK.LR": 0.4}})


# ------------------------------------------------------------------------------------------ training runs
def _fake_cfg(out, *opts):
    from test_trainer import fake_cfg

    return fake_cfg(out, "DATASET.VIDEOS_PER_EPOCH", "12", *opts)  # 3 iterations per epoch


def _train(cfg, resume="", overwrite=False):
    from test_trainer import FakeDataset, FakeModel

    torch.manual_seed(0)
    trainer = Trainer(cfg, model=FakeModel(), dataset_builder=lambda c, e: FakeDataset(c.DATASET.VIDEOS_PER_EPOCH),
                      resume=resume, progress=False, overwrite=overwrite)
    try:
        return trainer.train()
    finally:
        trainer.close()


def test_a_new_run_into_a_used_directory_is_refused(tmp_path):
    _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "3"))
    snap = tmp_path / "snapshot"
    stamps = {f: os.stat(snap / f).st_mtime_ns for f in os.listdir(snap)}
    assert {"checkpoint_e1.pth", "checkpoint_e2.pth", "checkpoint_e3.pth"} <= set(stamps)
    # a short test run into the same directory: refused before anything is written
    with pytest.raises(RunDirectoryError, match=r"snapshot: already holds checkpoints of a run \(checkpoint_e1.pth, "
                                                r"checkpoint_e2.pth, checkpoint_e3.pth.*--resume auto.*OUTPUT_DIR"
                                                r".*--overwrite"):
        _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "1"))
    # --resume auto with fewer TRAIN.EPOCHS does not "resume" the 3-epoch run with 0 iterations
    with pytest.raises(ValueError, match=r"checkpoint_e3.pth: the checkpoint is at epoch 3, past TRAIN.EPOCHS 1; "
                                         r"set TRAIN.EPOCHS >= 3 to continue"):
        _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "1"), resume="auto")
    # nor with another training config
    with pytest.raises(RunDirectoryError, match=r"another config \(checkpoint checkpoint_e3.pth -> now: "
                                                r"TRAIN.LR.END_LR 0.01 -> 0.02\)"):
        _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "3", "TRAIN.LR.END_LR", "0.02"), resume="auto")
    assert {f: os.stat(snap / f).st_mtime_ns for f in os.listdir(snap)} == stamps
    # the same config resumes; the run is complete, so nothing is trained
    summary = _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "3", "TRAIN.PRINT_FREQ", "1"), resume="auto")
    assert summary["iterations"] == 0 and summary["last_checkpoint"].endswith("checkpoint_e3.pth")
    assert "nothing to train" in (tmp_path / "logs" / "train.log").read_text()
    # a finished run's checkpoint resumed elsewhere with fewer epochs is an error, not "0 iterations, rc 0"
    with pytest.raises(ValueError, match=r"checkpoint_e3.pth: the checkpoint is at epoch 3, past TRAIN.EPOCHS 2"):
        _train(_fake_cfg(tmp_path / "other", "TRAIN.EPOCHS", "2"), resume=str(snap / "checkpoint_e3.pth"))
    # --overwrite: the old run's checkpoints and logs go, the new run is alone
    with pytest.raises(RunDirectoryError, match="cannot be combined with --resume"):
        _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "1"), resume="auto", overwrite=True)
    _train(_fake_cfg(tmp_path, "TRAIN.EPOCHS", "1"), overwrite=True)
    assert sorted(f for f in os.listdir(snap) if f.endswith(".pth")) == ["checkpoint_e1.pth", "last.pth"]
    assert torch.load(str(snap / "last.pth"), weights_only=True)["epoch"] == 0  # this run's mid-epoch checkpoint
    assert "epoch 2" not in (tmp_path / "logs" / "train.log").read_text()
    assert len([f for f in os.listdir(tmp_path / "logs") if f.startswith("events.out")]) == 1


def test_resume_auto_names_an_unreadable_last_checkpoint(tmp_path):
    cfg = _fake_cfg(tmp_path, "TRAIN.STOP_AFTER_ITERS", "5")
    assert _train(cfg)["iterations"] == 5  # last.pth at epoch 1 iteration 2
    snap = tmp_path / "snapshot"
    (snap / "last.pth").write_bytes((snap / "last.pth").read_bytes()[:100])  # truncated
    warned = []
    assert find_resume_checkpoint(str(snap), warn=warned.append) == str(snap / "checkpoint_e1.pth")
    assert len(warned) == 1 and warned[0].startswith(f"--resume auto: skipped {snap / 'last.pth'}: cannot be read")
    with pytest.warns(UserWarning, match="skipped .*last.pth"):
        find_resume_checkpoint(str(snap))
    summary = _train(_fake_cfg(tmp_path), resume="auto")
    assert summary["iterations"] == 3
    log = (tmp_path / "logs" / "train.log").read_text()
    assert f"--resume auto: skipped {snap / 'last.pth'}: cannot be read" in log
    assert f"resumed from {snap / 'checkpoint_e1.pth'} at epoch 1" in log


def test_train_tool_refuses_to_resume_a_run_with_another_config(tmp_path, capsys):
    cfg = load_config(TINY, ["OUTPUT_DIR", str(tmp_path), "TRAIN.EPOCHS", "10"])
    save_checkpoint(str(tmp_path / "snapshot" / "checkpoint_e10.pth"), {}, config=to_dict(cfg), epoch=10)
    train = importlib.import_module("siamcorners.cli.train").main
    rc = train(["--cfg", TINY, "--no-progress", "--resume", "auto", "--opts", "OUTPUT_DIR", str(tmp_path),
                "TRAIN.EPOCHS", "2", "TRAIN.BASE_LR", "1e-4"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'snapshot'}: holds a run with another config (checkpoint checkpoint_e10.pth "
                   f"-> now: TRAIN.BASE_LR {cfg.TRAIN.BASE_LR!r} -> 0.0001); resuming it with this config would mix "
                   f"two runs; resume with the same config, or choose a new OUTPUT_DIR (--opts OUTPUT_DIR path) for a "
                   f"new run, or --overwrite to delete the old run's checkpoints and logs"]
    assert not (tmp_path / "logs").exists() and not (tmp_path / "config.resolved.yaml").exists()
    # a new run into the same directory
    assert train(["--cfg", TINY, "--no-progress", "--opts", "OUTPUT_DIR", str(tmp_path)]) == 2
    assert "already holds checkpoints of a run (checkpoint_e10.pth)" in capsys.readouterr().err


@pytest.mark.parametrize("key,value", [("TEST.INIT_BOX", "raw"), ("TEST.FIRST_FRAME_BOX", "init")])
def test_test_section_keys_that_change_result_files_are_in_the_box_fingerprint(key, value):
    base = box_config(get_default_config())
    other = get_default_config()
    merge_opts(other, [key, value])
    assert differences({"config": base}, {"config": box_config(other)}) == [
        f"{key} {base[key]!r} -> {value!r}"]


def test_dataset_annotation_files_are_locations_not_training_settings():
    a, b = get_default_config(), get_default_config()
    for cfg in (a, b):  # sources the run reads (a source outside DATASET.NAMES counts for nothing at all)
        merge_opts(cfg, ["DATASET.NAMES", "[VID, COCO]"])
    merge_opts(b, ["DATASET.SOURCES.VID.ANNO", "/elsewhere/train.json",
                   "DATASET.SOURCES.COCO.ANNO", "/x/train2017.json"])
    assert training_config(a) == training_config(b)
    merge_opts(b, ["DATASET.SOURCES.VID.NUM_USE", "5"])  # not a location: part of the run
    assert differences({"config": training_config(a)}, {"config": training_config(b)}) == [
        "DATASET.SOURCES.VID.NUM_USE 100000 -> 5"]


def test_state_digest_reads_every_tensor_past_a_non_tensor_entry():
    a = {"a": torch.zeros(2), "b": 5, "c": torch.ones(3)}
    b = {"a": torch.zeros(2), "b": 5, "c": torch.full((3,), 2.0)}
    assert state_digest(a) != state_digest(b)              # "c" comes after the skipped non-tensor "b"
    assert state_digest(a) == state_digest({**a, "b": 6})  # non-tensor entries are not part of the weights


def test_factory_fingerprint_is_the_spec_and_the_module_file_digest():
    import hashlib

    from siamcorners.engine.fingerprint import factory_fingerprint
    import siamcorners.tracker.tracker as module

    with open(module.__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    spec = "siamcorners.tracker.tracker:SiamCornersTracker"
    assert factory_fingerprint(spec) == {"format": "siamcorners-fingerprint", "tracker": "factory", "factory": spec,
                                         "code": {"siamcorners.tracker.tracker": digest}}
    # the module is what precedes the first ':'; a module that cannot be found has no code entry
    assert factory_fingerprint(spec + ":extra")["code"] == {"siamcorners.tracker.tracker": digest}
    assert factory_fingerprint("no_such_module_xyz:make")["code"] == {}
    assert factory_fingerprint("siamcorners:make")["code"] == {
        "siamcorners": hashlib.sha256(open(importlib.util.find_spec("siamcorners").origin, "rb").read()).hexdigest()}


def test_tracking_fingerprint_record_and_unreadable_weights(tmp_path):
    """The record stored beside results (its keys are read back by later runs), and a bad snapshot named."""
    import siamcorners
    from siamcorners.engine.fingerprint import weights_digest

    save_checkpoint(str(tmp_path / "w.pth"), torch.nn.Linear(2, 2))
    cfg = get_default_config()
    fp = tracking_fingerprint(cfg, str(tmp_path / "w.pth"))
    assert sorted(fp) == ["code", "config", "format", "tracker", "version", "weights"]
    assert (fp["format"], fp["tracker"], fp["version"]) == ("siamcorners-fingerprint", "siamcorners",
                                                             siamcorners.__version__)
    assert fp["config"] == box_config(cfg) and fp["code"] == code_digests()
    (tmp_path / "bad.pth").write_text("not a checkpoint\n")
    with pytest.raises(BenchmarkError, match=r"bad\.pth"):
        weights_digest(str(tmp_path / "bad.pth"))


def test_differences_names_every_kind_of_change():
    """The refusal message's items: tracker, config keys (absent on one side, long values shortened), weights,
    version, and at most 4 changed code files plus a count."""
    old = {"tracker": "siamcorners", "version": "1.0", "weights": "a" * 64,
           "config": {"TRACK.LR": 0.39, "TRACK.GONE": 1, "DECODE.TOPK": 12},
           "code": {f"siamcorners/f{i}.py": "0" * 64 for i in range(6)}}
    new = {"tracker": "siamcorners", "version": "1.1", "weights": "b" * 64,
           "config": {"TRACK.LR": 0.39, "TRACK.NEW": "x" * 50, "DECODE.TOPK": 15},
           "code": {**{f"siamcorners/f{i}.py": "1" * 64 for i in range(5)}, "siamcorners/f5.py": "0" * 64}}
    assert differences(old, new) == [
        "DECODE.TOPK 12 -> 15",
        "TRACK.GONE 1 -> (absent)",
        "TRACK.NEW (absent) -> '" + "x" * 36 + "...",
        "weights differ",
        "siamcorners version 1.0 -> 1.1",
        "code differs: siamcorners/f0.py, siamcorners/f1.py, siamcorners/f2.py, siamcorners/f3.py and 1 more"]
    assert differences(old, old) == []
    # a custom factory against SiamCorners: only the tracker line (nothing else compares)
    factory = {"tracker": "factory", "factory": "pkg.mod:make", "code": {"pkg.mod": "c" * 64}}
    assert differences(old, factory) == ["tracker siamcorners -> pkg.mod:make"]
    assert differences(factory, old) == ["tracker pkg.mod:make -> siamcorners"]
    # two factories: the spec and their code
    other = {"tracker": "factory", "factory": "pkg.mod:make2", "code": {"pkg.mod": "d" * 64}}
    assert differences(factory, other) == ["tracker pkg.mod:make -> pkg.mod:make2", "code differs: pkg.mod"]


def test_differences_shorten_values_longer_than_40_characters():
    keep, cut = "z" * 38, "y" * 39  # reprs of 40 and 41 characters
    assert differences({"config": {}}, {"config": {"A": keep, "B": cut}}) == [
        f"A (absent) -> '{keep}'", "B (absent) -> '" + "y" * 36 + "..."]


# ------------------------------------------------- the dataset and device parts of a results fingerprint
class _Seq:
    def __init__(self, name, gt, **parts):
        self.name, self.gt = name, gt
        for k, v in parts.items():
            setattr(self, k, v)


class _Dataset(list):
    def __init__(self, name, root, seqs):
        super().__init__(seqs)
        self.name, self.root = name, root


def _spelled_out_digest(parts):
    """The recorded digest format written out: per part (gt, init_region, absent, visible) "-" when absent, else the
    float64 array's shape text and its bytes; the first 16 hex digits of the SHA-256."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for p in parts:
        if p is None:
            h.update(b"-")
        else:
            a = np.array(p, dtype=np.float64)
            h.update(str(a.shape).encode() + a.tobytes())
    return h.hexdigest()[:16]


def test_device_type_names_each_kind_of_device_once():
    from siamcorners.engine.fingerprint import device_type

    assert device_type(["cpu"]) == "cpu"
    assert device_type(["cuda:1", "cuda:0", "cuda"]) == "cuda"
    assert device_type(["cuda:0", "cpu"]) == "cpu+cuda"
    assert device_type([torch.device("cpu"), "mps"]) == "cpu+mps"
    assert device_type([]) == "cpu" and device_type([""]) == "cpu" and device_type([" cuda :0"]) == "cuda"


def test_ground_truth_digest_is_the_recorded_format_of_every_part():
    import numpy as np

    from siamcorners.engine.fingerprint import dataset_fingerprint

    gt = [[1.5, 2.0, 30.0, 40.0], [2.0, 3.0, 31.0, 41.0]]
    seqs = [_Seq("a", gt), _Seq("b", np.array(gt, np.float32), init_region=[1.5, 2.0, 30.0, 40.0]),
            _Seq("c", gt, absent=[0, 1], visible=None), _Seq("d", gt, visible=[True, False])]
    fp = dataset_fingerprint(_Dataset("OTB100", "", seqs))
    assert fp["name"] == "OTB100" and fp["root"] == ""
    assert fp["groundtruth"] == {
        "a": _spelled_out_digest([gt, None, None, None]),
        "b": _spelled_out_digest([gt, [1.5, 2.0, 30.0, 40.0], None, None]),   # float32 read as float64
        "c": _spelled_out_digest([gt, None, [0, 1], None]),
        "d": _spelled_out_digest([gt, None, None, [1.0, 0.0]])}
    # the shape is part of it: the same numbers as 4 x 2 are another ground truth
    flat = dataset_fingerprint(_Dataset("x", "", [_Seq("a", np.array(gt).reshape(4, 2))]))["groundtruth"]["a"]
    assert flat != fp["groundtruth"]["a"]


def test_ground_truth_digest_treats_every_nan_alike_and_sees_one_changed_value():
    import numpy as np

    from siamcorners.engine.fingerprint import dataset_fingerprint

    quiet = np.array([[np.nan, 1.0, 2.0, 3.0]])
    other_nan = quiet.copy()
    other_nan.view(np.uint64)[0, 0] = 0x7FF8000000000001  # a NaN with another payload, as a parser may give
    negative = quiet.copy()
    negative[0, 0] = np.copysign(np.nan, -1.0)
    assert np.isnan(other_nan[0, 0]) and other_nan.tobytes() != quiet.tobytes() != negative.tobytes()
    digests = [dataset_fingerprint(_Dataset("x", "", [_Seq("v", g)]))["groundtruth"]["v"]
               for g in (quiet, other_nan, negative, quiet + [[0, 0, 0, 1e-9]])]
    assert digests[0] == digests[1] == digests[2]  # -NaN too
    assert digests[3] != digests[0]


def test_dataset_fingerprint_root_is_the_real_path(tmp_path):
    from siamcorners.engine.fingerprint import dataset_fingerprint

    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "data", tmp_path / "link")
    assert dataset_fingerprint(_Dataset("d", str(tmp_path / "link"), []))["root"] == os.path.realpath(tmp_path / "data")
    assert dataset_fingerprint(_Dataset("d", None, [])) == {"name": "d", "root": "", "groundtruth": {}}


def test_differences_name_the_dataset_changes_whole():
    def fp(name="OTB100", root="/data/otb", gt=None):
        return {"dataset": {"name": name, "root": root, "groundtruth": gt if gt is not None else {"a": "1", "b": "2"}}}

    assert differences(fp(), fp()) == []
    assert differences({}, fp()) == ["dataset (not recorded) -> OTB100 at /data/otb"]
    assert differences(fp(), {"dataset": None}) == ["dataset OTB100 at /data/otb -> (not recorded)"]
    assert differences(fp(), fp(name="UAV123")) == ["dataset OTB100 -> UAV123"]
    assert differences(fp(), fp(root="/other")) == ["dataset root /data/otb -> /other"]
    five = {v: "1" for v in "vwxyz"}
    assert differences(fp(gt=five), fp(gt={v: "2" for v in "vwxyz"})) == [
        "ground truth differs in 5 video(s): v, w, x and 2 more"]
    assert differences(fp(gt={"a": "1", "b": "1", "c": "1"}), fp(gt={"a": "2", "b": "2", "c": "2"})) == [
        "ground truth differs in 3 video(s): a, b, c"]
    assert differences(fp(gt={"a": "1", "b": "2"}), fp(gt={"a": "1"})) == ["videos differ: b gone"]
    assert differences(fp(gt={"a": "1"}), fp(gt={"a": "1", "c": "3"})) == ["videos differ: c new"]
    assert differences(fp(gt={"a": "1", "b": "2"}), fp(gt={"a": "9", "c": "3"})) == [
        "ground truth differs in 1 video(s): a", "videos differ: b gone, c new"]
    gone = {v: "1" for v in "abcde"}
    assert differences(fp(name="A", root="/r", gt=gone), fp(name="B", root="/s", gt={})) == [
        "dataset A -> B", "dataset root /r -> /s", "videos differ: a, b, c and 2 more gone"]
    assert differences({"dataset": {"name": "A", "root": "/r"}}, {"dataset": {"name": "A", "root": "/r",
                                                                              "groundtruth": {"a": "1"}}}) == [
        "videos differ: a new"]


def test_flatten_stores_a_tuple_as_the_list_json_gives_back():
    from siamcorners.engine.fingerprint import flatten

    tree = {"TRACK": {"LR": 0.4, "FILL": (1, 2, 3)}, "NAME": "x"}
    flat = flatten(tree)
    assert flat == {"TRACK.LR": 0.4, "TRACK.FILL": [1, 2, 3], "NAME": "x"} and type(flat["TRACK.FILL"]) is list
    saved = json.loads(json.dumps({"config": flat}))        # as the fingerprint file stores it
    assert differences(saved, {"config": flatten(tree)}) == []


def test_device_and_dataset_records_missing_on_either_side():
    from siamcorners.engine.fingerprint import dataset_fingerprint

    assert differences({"device": "cpu"}, {}) == ["device cpu -> (not recorded)"]
    assert differences({}, {}) == [] and differences({"device": "cpu"}, {"device": "cpu"}) == []
    four = {v: "1" for v in "abcd"}
    assert differences({"dataset": {"groundtruth": four}}, {"dataset": {"groundtruth": {v: "2" for v in four}}}) == [
        "ground truth differs in 4 video(s): a, b, c and 1 more"]

    class NoRoot(list):          # a dataset object without a root attribute (e.g. an in-memory one)
        name = "mem"

    assert dataset_fingerprint(NoRoot()) == {"name": "mem", "root": "", "groundtruth": {}}


def test_code_and_dataset_changes_on_one_side_only():
    assert differences({"code": {"a.py": "1"}}, {"code": {"a.py": "1", "b.py": "2"}}) == ["code differs: b.py"]
    four = {f"{c}.py": "1" for c in "abcd"}
    assert differences({"code": four}, {"code": {}}) == ["code differs: a.py, b.py, c.py, d.py"]
    assert differences({"code": dict(four, **{"e.py": "1"})}, {"code": {}}) == [
        "code differs: a.py, b.py, c.py, d.py and 1 more"]
    saved = {"dataset": {"name": "OTB100", "root": "/data/otb", "groundtruth": {}}}
    assert differences(saved, {}) == ["dataset OTB100 at /data/otb -> (not recorded)"]
