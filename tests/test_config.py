import os

import pytest
import yaml

from siamcorners.config import ConfigError, get_default_config, load_config, merge_opts, save_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, data):
    with open(path, "w") as f:
        f.write(data)
    return str(path)


def test_defaults_are_the_official_values():
    cfg = get_default_config()
    assert cfg.DECODE.TOPK == 12 and cfg.DECODE.NMS_KERNEL == 1 and cfg.DECODE.NUM_PAIRS == 15
    assert cfg.TRACK.PENALTY_K == 0.04 and cfg.TRACK.WINDOW_INFLUENCE == 0.011 and cfg.TRACK.LR == 0.39
    assert abs(cfg.HEATMAP.STRIDE - 255 / 25) < 1e-12
    assert cfg.MODEL.INPUT.NORMALIZE is False


@pytest.mark.parametrize("name", ["siamcorners_r50_official", "siamcorners_r50"])
def test_shipped_experiments_load(name):
    cfg = load_config(os.path.join(ROOT, "experiments", name, "config.yaml"))
    assert cfg.NAME == name
    assert cfg.OUTPUT_DIR == os.path.join(ROOT, "experiments", name)


def test_paper_profile_flips_the_documented_switches():
    off = load_config(os.path.join(ROOT, "experiments/siamcorners_r50_official/config.yaml"))
    pap = load_config(os.path.join(ROOT, "experiments/siamcorners_r50/config.yaml"))
    assert (off.DECODE.TOPK, pap.DECODE.TOPK) == (12, 15)
    assert (off.DECODE.NMS_KERNEL, pap.DECODE.NMS_KERNEL) == (1, 3)
    assert (off.TRACK.PENALTY_FORM, pap.TRACK.PENALTY_FORM) == ("siamrpn", "paper")
    assert (off.LABEL.SIGMA, pap.LABEL.SIGMA) == ("diameter", "radius")
    assert off.MODEL.HEAD.HEAD_BN is False and pap.MODEL.HEAD.HEAD_BN is True


def test_base_inheritance_and_override(tmp_path):
    write(tmp_path / "base.yaml", "TRACK:\n  LR: 0.5\n  PENALTY_K: 0.1\n")
    sub = tmp_path / "exp"
    sub.mkdir()
    path = write(sub / "config.yaml", "_BASE_: ../base.yaml\nTRACK:\n  LR: 0.25\n")
    cfg = load_config(path)
    assert cfg.TRACK.LR == 0.25 and cfg.TRACK.PENALTY_K == 0.1
    assert cfg.OUTPUT_DIR == str(sub)


def test_unknown_key_names_file_and_key_with_suggestion(tmp_path):
    path = write(tmp_path / "c.yaml", "TRACK:\n  PENALTY_KK: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "c.yaml" in msg and "TRACK.PENALTY_KK" in msg and "PENALTY_K" in msg


def test_wrong_type_names_file_and_key(tmp_path):
    path = write(tmp_path / "c.yaml", "TRAIN:\n  EPOCHS: five\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*TRAIN\.EPOCHS.*int"):
        load_config(path)
    path = write(tmp_path / "d.yaml", "MODEL:\n  HEAD:\n    OFFSETS: 1\n")
    with pytest.raises(ConfigError, match="MODEL.HEAD.OFFSETS"):
        load_config(path)


def test_int_accepted_for_float_and_invalid_yaml_line(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "TRACK:\n  LR: 1\n"))
    assert isinstance(cfg.TRACK.LR, float)
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 2"):
        load_config(write(tmp_path / "bad.yaml", "TRACK:\n  LR: @x\n"))


def test_command_line_opts():
    cfg = load_config(opts=["TRAIN.EPOCHS", "5", "MODEL.LEVELS", "[3,4]", "MODEL.HEAD.OFFSETS", "false"])
    assert cfg.TRAIN.EPOCHS == 5 and cfg.MODEL.LEVELS == [3, 4] and cfg.MODEL.HEAD.OFFSETS is False
    with pytest.raises(ConfigError, match="--opts.*TRAIN.EPOCH'.*did you mean 'EPOCHS'"):
        load_config(opts=["TRAIN.EPOCH", "5"])
    with pytest.raises(ConfigError, match="odd number"):
        merge_opts(get_default_config(), ["TRAIN.EPOCHS"])


def test_enumerations_and_levels_are_validated():
    with pytest.raises(ConfigError, match="MODEL.HEAD.CORNER_POOL"):
        load_config(opts=["MODEL.HEAD.CORNER_POOL", "mpc"])
    with pytest.raises(ConfigError, match="MODEL.LEVELS"):
        load_config(opts=["MODEL.LEVELS", "[2, 3]"])
    with pytest.raises(ConfigError, match="DECODE.NMS_KERNEL"):
        load_config(opts=["DECODE.NMS_KERNEL", "2"])


def test_frozen_and_saved_config_round_trips(tmp_path):
    cfg = load_config(opts=["TRAIN.EPOCHS", "3"])
    with pytest.raises(ConfigError):
        cfg.TRAIN.EPOCHS = 4
    out = tmp_path / "run" / "config.yaml"
    save_config(cfg, str(out))
    assert yaml.safe_load(out.read_text())["TRAIN"]["EPOCHS"] == 3
    again = load_config(str(out))
    assert again.TRAIN.EPOCHS == 3 and again.TRACK == cfg.TRACK
