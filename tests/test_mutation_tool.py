"""tools/mutation.py: the --functions selection reads mutmut 3's mutant names (a benchmark tool, not CI's)."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("mutation_tool", os.path.join(ROOT, "tools", "mutation.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_function_name_of_functions_and_methods(mutation):
    assert mutation.function_name("siamcorners.engine.trainer.xǁTrainerǁ_step__mutmut_3") == "Trainer._step"
    assert mutation.function_name("siamcorners.config.x_validate__mutmut_1") == "validate"
    assert mutation.function_name("siamcorners.config.x__check_values__mutmut_12") == "_check_values"
    assert mutation.function_name("siamcorners.models.losses.x__loss_dtype__mutmut_1") == "_loss_dtype"


def test_functions_select_the_verdicts_and_the_report(mutation, tmp_path, capsys):
    meta = tmp_path / "config" / "mutants" / "siamcorners" / "config.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"siamcorners.config.x_validate__mutmut_1": 1, "siamcorners.config.x_validate__mutmut_2": 0,
             "siamcorners.config.x__check_values__mutmut_1": 0, "siamcorners.config.xǁCfgNodeǁfreeze__mutmut_1": 1}
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    folder = str(tmp_path / "config")
    assert mutation.verdicts(folder, "config.py", ["validate"]) == {
        "siamcorners.config.x_validate__mutmut_1": "killed", "siamcorners.config.x_validate__mutmut_2": "survived"}
    assert set(mutation.verdicts(folder, "config.py", ["_check_*", "CfgNode.*"])) == {
        "siamcorners.config.x__check_values__mutmut_1", "siamcorners.config.xǁCfgNodeǁfreeze__mutmut_1"}
    assert len(mutation.verdicts(folder, "config.py")) == 4
    assert mutation.main(["--report", "--work", str(tmp_path), "--files", "config", "--functions", "validate"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row == "| `config.py` | 2 | 1 | 0 | 1 | 0 | 0 | 50.0 % |"


def test_a_resumed_functions_run_names_only_the_unchecked_mutants(mutation, tmp_path, monkeypatch):
    meta = tmp_path / "config" / "mutants" / "siamcorners" / "config.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"siamcorners.config.x_validate__mutmut_1": 1, "siamcorners.config.x_validate__mutmut_2": None,
             "siamcorners.config.x__merge__mutmut_1": None}
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    calls = []
    monkeypatch.setattr(mutation, "prepare", lambda work, target, tests, mult: str(tmp_path / "config"))
    monkeypatch.setattr(mutation.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    argv = ["--work", str(tmp_path), "--files", "config", "--functions", "validate"]
    assert mutation.main(argv) == 0
    assert calls[-1][-4:] == ["run", "--max-children", "1", "siamcorners.config.x_validate__mutmut_2"]
    codes["siamcorners.config.x_validate__mutmut_2"] = 0
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    assert mutation.main(argv) == 0 and len(calls) == 1  # nothing left to check: mutmut is not started
    (tmp_path / "config" / "mutants" / "siamcorners" / "config.py.meta").unlink()
    assert mutation.main(argv) == 0  # a first run names the function's mutants by pattern
    assert calls[-1][-2:] == ["siamcorners.config.x_validate__mutmut_*", "siamcorners.config.xǁ*ǁvalidate__mutmut_*"]
