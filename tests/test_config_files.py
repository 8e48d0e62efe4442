"""Config files a user writes by hand: exponent floats, missing _BASE_, encoding, duplicate keys."""
import os
import subprocess
import sys

import pytest

from siamcorners.config import ConfigError, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_exponent_floats_in_yaml_and_opts(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "TRAIN:\n  BASE_LR: 1e-4\n  WEIGHT_DECAY: 5E-5\n"),
                      ["TRAIN.MOMENTUM", "1e-3", "MODEL.HEAD.HEAT_BIAS_INIT", "-2.5e+0"])
    assert cfg.TRAIN.BASE_LR == 1e-4 and isinstance(cfg.TRAIN.BASE_LR, float)
    assert cfg.TRAIN.WEIGHT_DECAY == 5e-5
    assert cfg.TRAIN.MOMENTUM == 1e-3 and cfg.MODEL.HEAD.HEAT_BIAS_INIT == -2.5
    assert load_config(opts=["NAME", "run1e5x"]).NAME == "run1e5x"  # still a string when not a number


def test_missing_base_names_the_file_that_references_it(tmp_path):
    path = write(tmp_path / "exp.yaml", "_BASE_: ../nowhere/base.yaml\nTRACK:\n  LR: 0.3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: _BASE_ '../nowhere/base.yaml' not found"), msg


def test_non_utf8_config_is_a_clear_error(tmp_path):
    path = write(tmp_path / "latin1.yaml", b"NAME: test\nTRACK:\n  LR: 0.3  # r\xe9glage\n")
    with pytest.raises(ConfigError, match=r"latin1\.yaml:3: not UTF-8 text \(byte 0xe9\)"):
        load_config(path)


def test_duplicate_key_names_both_lines(tmp_path):
    path = write(tmp_path / "dup.yaml", "TRACK:\n  LR: 0.3\n  PENALTY_K: 0.1\n  LR: 0.5\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml:4: duplicate key 'LR' \(first given at line 2\)"):
        load_config(path)
    path = write(tmp_path / "dup2.yaml", "TRACK:\n  LR: 0.3\nTRAIN:\n  EPOCHS: 2\nTRACK:\n  PENALTY_K: 0.1\n")
    with pytest.raises(ConfigError, match=r"dup2\.yaml:5: duplicate key 'TRACK' \(first given at line 1\)"):
        load_config(path)


def test_train_tool_reports_a_bad_config_in_one_line(tmp_path):
    path = write(tmp_path / "exp.yaml", "_BASE_: base.yaml\n")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train.py"), "--cfg", path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {path}: _BASE_ 'base.yaml' not found "
                                                f"(looked for {tmp_path / 'base.yaml'})"]


def test_yaml_error_without_a_line_or_problem_is_still_one_line(tmp_path, monkeypatch):
    """A YAML error that carries no position (mark) and no problem text: its own text, after the file name."""
    import yaml

    from siamcorners import config

    def broken(text, source):
        raise yaml.YAMLError("stream broke")

    monkeypatch.setattr(config, "_load_yaml_text", broken)
    path = write(tmp_path / "c.yaml", "NAME: x\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == f"{path}: invalid YAML: stream broke"
