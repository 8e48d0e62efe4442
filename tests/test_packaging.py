"""Packaging: the console scripts of pyproject.toml are the tools/*.py programs (same code, same --help, same
output when installed), and every third-party import is declared in requirements.txt or an extra."""
import ast
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tomllib = pytest.importorskip("tomllib", reason="tomllib (Python >= 3.11) reads pyproject.toml")


def _scripts() -> dict[str, str]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["scripts"]


def _tool_path(script: str) -> str:
    return os.path.join(ROOT, "tools", script[len("siamcorners-"):].replace("-", "_") + ".py")


def _load_tool(path: str):
    spec = importlib.util.spec_from_file_location(f"tool_{os.path.basename(path)[:-3]}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_console_scripts_run_the_tools_programs():
    scripts = _scripts()
    assert {"siamcorners-train", "siamcorners-test", "siamcorners-eval", "siamcorners-demo"} <= set(scripts)
    for script, target in scripts.items():
        module, _, func = target.partition(":")
        main = getattr(importlib.import_module(module), func)
        assert callable(main)
        tool = _load_tool(_tool_path(script))
        assert tool.main is main, f"tools/{os.path.basename(_tool_path(script))} does not run {target}"


def _env() -> dict:
    env = dict(os.environ, COLUMNS="100")
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


def _help(cmd: list[str], prog: str) -> str:
    out = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return " ".join(out.stdout.replace(prog, "PROG", 1).split())  # usage wraps by the program name's length


@pytest.mark.parametrize("script", sorted(_scripts()))
def test_installed_script_help_equals_tool_help(script):
    exe = shutil.which(script)
    if exe is None:
        pytest.skip(f"{script} is not on PATH: install the package (pip install -e .) to test the console scripts")
    tool = _tool_path(script)
    assert _help([exe], script) == _help([sys.executable, tool], os.path.basename(tool))


def test_installed_eval_gives_the_tools_output(tmp_path):
    exe = shutil.which("siamcorners-eval")
    if exe is None:
        pytest.skip("siamcorners-eval is not on PATH: install the package (pip install -e .) to test it")
    from siamcorners.benchmarks import load_dataset
    from siamcorners.benchmarks.results import layout_for, write_result
    from siamcorners.data.synthetic import write_otb_dataset

    root = str(tmp_path / "syn")
    write_otb_dataset(root, 2, seed=3, num_frames=5, image_size=(60, 80))

    for seq in load_dataset("synthetic", root):
        write_result(layout_for("synthetic"), str(tmp_path / "res" / "shifted"), seq.name, seq.gt + [2.0, 1.0, 0, 0])
    outputs = []
    for k, cmd in enumerate(([exe], [sys.executable, os.path.join(ROOT, "tools", "eval.py")])):
        rep = tmp_path / f"rep{k}"
        run = subprocess.run(cmd + ["--dataset", "synthetic", "--dataset-root", root, "--results",
                                    str(tmp_path / "res"), "--no-plots", "--report-dir", str(rep)],
                             capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
        assert run.returncode == 0, run.stderr
        outputs.append((run.stdout.replace(str(rep), "REP"), (rep / "results.json").read_text()))
    assert outputs[0] == outputs[1]
    assert "shifted" in outputs[0][0] and np.isfinite(float(outputs[0][0].split("| shifted |")[1].split("|")[0]))


# ------------------------------------------------------------------------------------ declared dependencies
def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(files) -> dict[str, str]:
    """Normalised distribution name -> requirement line, from requirements files."""
    out = {}
    for path in files:
        for line in open(os.path.join(ROOT, path)):
            line = line.split("#")[0].strip()
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if m:
                out[_norm(m.group(0))] = line
    return out


def _imports(folders) -> dict[str, str]:
    """Top-level module -> first file importing it (absolute imports only)."""
    found = {}
    for folder in folders:
        for d, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(d, f)
                    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
                        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                            else []
                        for n in names:
                            found.setdefault(n.split(".")[0], os.path.relpath(path, ROOT))
    return found


EXTRAS = ["requirements/dev.txt", "requirements/vot.txt", "requirements/onnx.txt", "requirements/vot-toolkit.txt"]
# declared although no module of ours imports them by their own name
INDIRECT = {"six": "got10k imports it without declaring it",
            "tensorboard": "imported as torch.utils.tensorboard"}
# packages of the official SiamCorners checkout that tests/fixtures/record_official_trajectories.py drives from a path
# the user gives (a developer tool that records fixtures; never installed, never needed by the tests)
OFFICIAL_CHECKOUT = ("pysot", "toolkit")


@pytest.mark.skipif(sys.version_info < (3, 10), reason="needs sys.stdlib_module_names and packages_distributions")
def test_every_import_is_declared_and_every_runtime_requirement_used():
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    local = {"siamcorners", "tools", "conftest", "fake_trackers"} | {
        f[:-3] if f.endswith(".py") else f for f in os.listdir(os.path.join(ROOT, "tests"))
        if f.endswith(".py") or os.path.isfile(os.path.join(ROOT, "tests", f, "__init__.py"))} | set(OFFICIAL_CHECKOUT)
    runtime = _declared(["requirements.txt"])
    everything = {**runtime, **_declared(EXTRAS)}

    def third_party(imports):
        return {m: f for m, f in imports.items() if m not in sys.stdlib_module_names and m not in local}

    def declared_in(module, table):
        return any(_norm(d) in table for d in dists.get(module, [module]))

    package = third_party(_imports(["siamcorners", "tools"]))
    missing = [f"{m} (imported in {f})" for m, f in package.items() if not declared_in(m, everything)]
    assert not missing, f"imported but not declared in requirements*.txt: {missing}"
    tests = third_party(_imports(["tests"]))
    missing = [f"{m} (imported in {f})" for m, f in tests.items() if not declared_in(m, everything)]
    assert not missing, f"test imports not declared (requirements/dev.txt): {missing}"
    # PIL is imported directly (GIF writing), so Pillow is a runtime requirement, not an accident of matplotlib
    assert "PIL" in package and declared_in("PIL", runtime)

    used = {_norm(d) for m in package for d in dists.get(m, [m])}
    unused = [line for name, line in runtime.items() if name not in used and name not in INDIRECT]
    assert not unused, f"runtime requirements that no module imports (move them to an extra): {unused}"


def test_torch_floor_covers_the_apis_used():
    spec = _declared(["requirements.txt"])["torch"]
    floor = tuple(int(x) for x in re.search(r">=\s*([0-9.]+)", spec).group(1).split(".")[:2])
    # torch.amp.GradScaler("cuda") (engine/trainer.py) appeared in torch 2.3
    uses = open(os.path.join(ROOT, "siamcorners", "engine", "trainer.py")).read()
    if "torch.amp.GradScaler(" in uses:
        assert floor >= (2, 3), f"requirements.txt: {spec}, but torch.amp.GradScaler needs torch >= 2.3"


def _dev_extra_files() -> list[str]:
    text = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    line = re.search(r"^dev\s*=\s*\{\s*file\s*=\s*\[([^\]]*)\]", text, re.M).group(1)
    return re.findall(r'"([^"]+)"', line)


def test_dev_extra_does_not_bring_opencv_python_beside_the_headless_build():
    """Issue 18 §8: vot-toolkit (in [dev]) required opencv-python, whose cv2 folder overwrites
    opencv-python-headless's. Walks the installed metadata of everything the extra declares, transitively."""
    from importlib.metadata import PackageNotFoundError, requires

    todo = list(_declared(["requirements.txt"] + _dev_extra_files()))
    via = {name: "requirements" for name in todo}
    while todo:
        name = todo.pop()
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for req in reqs:
            if "extra ==" in req.replace('"', "'").replace("extra==", "extra =="):
                continue
            dep = _norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0))
            if dep not in via:
                via[dep] = name
                todo.append(dep)
    assert "opencv-python" not in via, f"opencv-python comes in through {via.get('opencv-python')}"
    assert "opencv-python-headless" in via


def test_ci_floor_pins_are_the_declared_floors():
    """requirements/floors.txt, what .ci/run's minimum-versions step installs, pins torch, numpy and OpenCV (and
    torchvision, which pairs with torch) at the floors requirements*.txt declare, so that step tests the floors."""
    pins = {}
    for line in open(os.path.join(ROOT, "requirements", "floors.txt")):
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    assert {"torch", "numpy", "opencv-python-headless", "torchvision"} <= set(pins)
    declared = _declared(["requirements.txt"] + EXTRAS)
    for name, version in pins.items():
        floor = re.search(r">=\s*([0-9.]+)", declared[name]).group(1).split(".")
        assert version.split(".")[:len(floor)] == floor, f"floors.txt {name}=={version}, declared >={'.'.join(floor)}"
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert "-c requirements/floors.txt" in ci and "-m floor" in ci
