"""Every value checked before use (issue 18 item 4; reliability probe S2 cases C28, C31, C33, C41, K14 and S3 cases
C25, C27/P11, C29/C49, C37, C50, C51, D23, C01/C34, T16): one line naming the key (or file) and the allowed range,
before any compute."""
import glob
import os

import numpy as np
import pytest
import torch

from siamcorners.config import ConfigError, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
CFG, MODEL = os.path.join(TINY, "config.yaml"), os.path.join(TINY, "model.pth")

# probe case -> (--opts, what the one-line error must say)
CASES = {
    "C28": (["MODEL.INPUT.STD", "[0,0,0]"], r"'MODEL.INPUT.STD': every value must be > 0"),
    "C31": (["TRACK.LR", ".nan"], r"'TRACK.LR' must be a finite number"),
    "C33": (["HEATMAP.STRIDE", "0"], r"'HEATMAP.STRIDE' must be > 0"),
    "C41": (["MODEL.NECK.CENTER_SIZE", "100"], r"'MODEL.NECK.CENTER_SIZE' must be <= 15 \(the template feature size"),
    "C25": (["DEVICE", "gpu"], r"'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'"),
    "C27": (["TRACK.INSTANCE_SIZE", "0"], r"'TRACK.INSTANCE_SIZE' must be >= 1"),
    "C29": (["MODEL.INPUT.MEAN", "[1,2]"], r"'MODEL.INPUT.MEAN' must be a list of 3 numbers"),
    "C49": (["MODEL.INPUT.STD", "[1,1,1,1]"], r"'MODEL.INPUT.STD' must be a list of 3 numbers"),
    "C37": (["DECODE.TOPK", "100000"], r"'DECODE.TOPK' must be <= 625 \(the cells of the 25x25 score map\)"),
    "C50": (["TRACK.TEMPLATE_FILL", "constant", "TRACK.TEMPLATE_FILL_VALUE", "[1,2]"],
            r"'TRACK.TEMPLATE_FILL_VALUE' must be a list of 3 numbers"),
    "C51": (["DECODE.NUM_PAIRS", "1000000"], r"'DECODE.NUM_PAIRS' must be <= DECODE.TOPK\*\*2 = 144"),
}
MORE = {  # other bad values of the same kinds
    "inf penalty": (["TRACK.PENALTY_K", ".inf"], r"'TRACK.PENALTY_K' must be a finite number"),
    "nan in a list": (["MODEL.INPUT.MEAN", "[.nan, 0, 0]"], r"'MODEL.INPUT.MEAN' must be a finite number"),
    "negative penalty": (["TRACK.PENALTY_K", "-0.1"], r"'TRACK.PENALTY_K' must be >= 0"),
    "negative context": (["TRACK.CONTEXT_AMOUNT", "-1"], r"'TRACK.CONTEXT_AMOUNT' must be >= 0"),
    "rate above 1": (["TRACK.WINDOW_INFLUENCE", "1.5"], r"'TRACK.WINDOW_INFLUENCE' must be in \[0, 1\]"),
    "probability": (["DATASET.NEG", "2"], r"'DATASET.NEG' must be in \[0, 1\]"),
    "window size": (["TRACK.HANNING_SIZE", "0"], r"'TRACK.HANNING_SIZE' must be >= 1"),
    "heat map size": (["HEATMAP.SIZE", "0"], r"'HEATMAP.SIZE' must be >= 1"),
    "exemplar too small": (["TRACK.EXEMPLAR_SIZE", "5"], r"'TRACK.EXEMPLAR_SIZE' is too small"),
    "search below template": (["TRACK.INSTANCE_SIZE", "47"], r"'TRACK.INSTANCE_SIZE' 47 gives 5x5 search maps"),
    "fill value range": (["TRACK.TEMPLATE_FILL_VALUE", "[0, 300, 0]"], r"every value must be in \[0, 255\]"),
    "momentum": (["TRAIN.MOMENTUM", "1"], r"'TRAIN.MOMENTUM' must be in \[0, 1\)"),
    "device index": (["DEVICE", "cuda:x"], r"'DEVICE' must be"),
    "appearance": (["DATASET.SOURCES.STILLS.APPEARANCE", "1.5"], r"'DATASET.SOURCES.STILLS.APPEARANCE' must be in \[0, 1\]"),
    "paste": (["DATASET.SOURCES.PROCEDURAL.PASTE", "-0.1"], r"'DATASET.SOURCES.PROCEDURAL.PASTE' must be in \[0, 1\]"),
    "backbone depth": (["MODEL.BACKBONE.DEPTH", "-1"], r"'MODEL.BACKBONE.DEPTH' must be >= 0"),
}


@pytest.mark.parametrize("case", list(CASES) + list(MORE))
def test_bad_value_is_one_line_naming_key_and_range(case):
    opts, message = {**CASES, **MORE}[case]
    with pytest.raises(ConfigError, match=message) as e:
        load_config(CFG, opts)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("case", ["C28", "C31", "C33", "C41", "C37", "C25"])
def test_test_tool_refuses_before_tracking(case, tmp_path, capsys):
    """The S2 cases tracked with rc 0 and AUC 0.05-0.09: now rc 2, one line, no results folder."""
    from siamcorners.cli import test as test_cli

    opts, message = CASES[case]
    out = tmp_path / "out"
    capsys.readouterr()
    rc = test_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--dataset", "synthetic", "--dataset-root",
                        str(tmp_path / "nowhere"), "--out", str(out), "--no-progress", "--opts", *opts])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert pytest.importorskip("re").search(message, err[0]), err[0]
    assert not out.exists()


def test_hp_search_refuses_a_zero_instance_size(tmp_path, capsys):
    """P11: --search TRACK.INSTANCE_SIZE=0,255 gave a traceback from crops.py."""
    from siamcorners.cli import hp_search

    capsys.readouterr()
    rc = hp_search.main(["--cfg", CFG, "--snapshot", MODEL, "--dataset", "synthetic", "--dataset-root",
                         str(tmp_path), "--out", str(tmp_path / "hp"), "--search", "TRACK.INSTANCE_SIZE=0,255"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1 and "'TRACK.INSTANCE_SIZE' must be >= 1" in err[0]


def test_shipped_configs_still_load():
    paths = glob.glob(os.path.join(ROOT, "experiments", "*", "config.yaml")) + \
        glob.glob(os.path.join(ROOT, "configs", "*.yaml"))
    assert paths
    for path in paths:
        load_config(path)


# ------------------------------------------------------------------------------------------ YAML off/on/yes/no
def test_yaml_off_in_a_string_key_is_the_string_off(tmp_path):
    """C01/C34: the documented INFERENCE.AMP off was refused ('expects str, got bool False')."""
    assert load_config(CFG, ["INFERENCE.AMP", "off"]).INFERENCE.AMP == "off"
    path = tmp_path / "ampoff.yaml"
    path.write_text(f"_BASE_: {CFG}\nINFERENCE:\n  AMP: off\n")
    assert load_config(str(path)).INFERENCE.AMP == "off"
    # a bool key still takes the YAML 1.1 words, and true/false stay booleans
    path.write_text("TRAIN:\n  AMP: on\n  SYNC_BN: no\nINFERENCE:\n  COMPILE: yes\n  INT8: false\n")
    cfg = load_config(str(path))
    assert (cfg.TRAIN.AMP, cfg.TRAIN.SYNC_BN, cfg.INFERENCE.COMPILE, cfg.INFERENCE.INT8) == (True, False, True, False)
    assert load_config(opts=["NAME", "yes"]).NAME == "yes"


# ------------------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("kind,opts", [("resnet18_small", ["MODEL.BACKBONE.WIDTH", "4"]),
                                       ("mobilenetv2", ["MODEL.BACKBONE.WIDTH_MULT", "0.25"])])
def test_feature_side_matches_the_backbones(kind, opts):
    from siamcorners.config import feature_side
    from siamcorners.models.backbone import build_backbone

    cfg = load_config(opts=["MODEL.BACKBONE.TYPE", kind, *opts])
    b = cfg.MODEL.BACKBONE
    backbone = build_backbone(kind, [3], b.WIDTH, **({"width_mult": b.WIDTH_MULT} if kind == "mobilenetv2" else {}))
    backbone.eval()
    for side in (31, 63, 96, 127, 160, 255):
        with torch.no_grad():
            got = backbone(torch.zeros(1, 3, side, side))[0].shape[-1]
        assert feature_side(kind, side) == got, side
    assert feature_side(kind, 127) == 15 and feature_side(kind, 255) == 31


# ------------------------------------------------------------------------------------------ init box (D23)
def test_huge_init_box_is_refused_naming_the_video(tmp_path, capsys):
    """D23: a first-frame box of 1e9 pixels gave numpy's 'array is too big' traceback."""
    from siamcorners.cli import test as test_cli
    from siamcorners.data.synthetic import write_otb_dataset

    data = tmp_path / "syn"
    write_otb_dataset(str(data), 1, seed=3, num_frames=3, image_size=(96, 128))
    gt = data / "synthetic_0001" / "groundtruth_rect.txt"
    rows = gt.read_text().splitlines()
    gt.write_text("\n".join(["10,10,1000000000,1000000000"] + rows[1:]) + "\n")
    capsys.readouterr()
    rc = test_cli.main(["--cfg", CFG, "--snapshot", MODEL, "--dataset", "synthetic", "--dataset-root", str(data),
                        "--out", str(tmp_path / "out"), "--no-progress"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1
    assert "synthetic_0001: first-frame box" in err[0] and "too large for the 128x96" in err[0]


def test_tracker_init_refuses_a_box_far_larger_than_the_frame():
    from siamcorners.models import build_model
    from siamcorners.tracker import SiamCornersTracker

    cfg = load_config(CFG, ["DEVICE", "cpu"])
    tracker = SiamCornersTracker(build_model(cfg), cfg)
    frame = np.zeros((96, 128, 3), np.uint8)
    with pytest.raises(ValueError, match=r"init box .* too large for the 128x96 \(W x H\) frame"):
        tracker.init(frame, [0, 0, 1e9, 50])
    tracker.init(frame, [-20, -10, 200, 150])  # overhanging the frame is fine


# ------------------------------------------------------------------------------------------ weights (K14, T16)
def test_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    """K14: NaN weights tracked with every box -5,-5,10,10 and rc 0."""
    from siamcorners.cli import test as test_cli
    from siamcorners.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    state = load_checkpoint(MODEL)["model"]
    name = sorted(k for k, v in state.items() if v.is_floating_point())[3]
    state[name] = state[name].clone()
    state[name].view(-1)[0] = float("nan")
    bad = str(tmp_path / "nan_weights.pth")
    save_checkpoint(bad, state)
    with pytest.raises(CheckpointError, match=rf"nan_weights.pth: tensor '{name}' holds 1 NaN/inf values"):
        load_checkpoint(bad)
    capsys.readouterr()
    rc = test_cli.main(["--cfg", CFG, "--snapshot", bad, "--dataset", "synthetic", "--dataset-root",
                        str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), "--no-progress"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1 and "nan_weights.pth: tensor" in err[0]
    assert not (tmp_path / "out").exists()


def test_pretrained_backbone_that_loads_almost_nothing_is_refused(tmp_path):
    """T16: a ResNet-50 file into the small backbone 'loaded 15' (only num_batches_tracked) and trained from
    scratch with rc 0."""
    from siamcorners.models.backbone import build_backbone, load_pretrained_backbone

    path = tmp_path / "wider.pth"
    torch.save(build_backbone("resnet18_small", [3, 4, 5], 16).state_dict(), path)  # same names, other shapes
    with pytest.raises(ValueError, match=r"wider.pth: only 0 of the backbone's \d+ weight tensors match "
                                         r"\(\d+ shape-mismatched"):
        load_pretrained_backbone(build_backbone("resnet18_small", [3, 4, 5], 8), str(path), verbose=False)


def test_control_character_in_a_config_file_is_one_line_naming_file_and_line(tmp_path):
    """PyYAML refuses control characters with a two-line message and no line number; the error names the line."""
    path = tmp_path / "ctl.yaml"
    path.write_bytes(b"NAME: run\nTRACK:\n  LR: 0.3\x07\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert str(e.value) == (f"{path}: line 3 invalid YAML: unacceptable character #x0007: special characters are "
                            f"not allowed")
