"""Mutation testing of the numerical core with mutmut 3 (a benchmark of the test suite, not part of CI).

    pip install "mutmut>=3.8,<4"                 # into a venv (it is not a runtime or test dependency)
    python tools/mutation.py                     # every core file (about an hour per few files on 2 cores)
    python tools/mutation.py --files metrics fingerprint --max-children 2
    python tools/mutation.py --report            # only print the table of the last runs (docs/testing.md)
    python tools/mutation.py --show metrics      # the diff of every surviving mutant of one file

Each core file (`TARGETS`) is mutated on its own, in a scratch copy of the repository under ``--work`` (default
``$TMPDIR/siamcorners-mutation/<file>``; nothing is written into the checkout), and each mutant is tested only with
the test files that check that file, of which mutmut runs just the tests that execute the mutated function (its
coverage pass). The score is killed / (killed + survived + timeout-free survivors); mutants that no selected test
reaches ("no tests") count as survivors. Re-running resumes: mutmut keeps its results in the scratch copy.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# core file (under siamcorners/) -> the test files that check it
TARGETS: dict[str, list[str]] = {
    "models/losses.py": ["tests/test_losses.py"],
    "data/targets.py": ["tests/test_targets.py"],
    "data/crops.py": ["tests/test_crops.py"],
    "data/sources.py": ["tests/test_sources.py", "tests/test_datasets.py"],
    "models/decode.py": ["tests/test_decode.py"],
    "tracker/postprocess.py": ["tests/test_postprocess.py"],
    "tracker/tracker.py": ["tests/test_tracker.py", "tests/test_switches_reach.py"],
    "benchmarks/metrics.py": ["tests/test_metrics.py"],
    "benchmarks/otb.py": ["tests/test_readers.py", "tests/test_lookup_tables.py"],
    "benchmarks/uav.py": ["tests/test_readers.py", "tests/test_lookup_tables.py"],
    "benchmarks/lasot.py": ["tests/test_readers.py", "tests/test_lookup_tables.py"],
    "benchmarks/nfs.py": ["tests/test_readers.py", "tests/test_groundtruth_rows.py"],
    "benchmarks/trackingnet.py": ["tests/test_readers.py", "tests/test_groundtruth_rows.py"],
    "benchmarks/got10k.py": ["tests/test_readers.py", "tests/test_groundtruth_rows.py"],
    "benchmarks/textio.py": ["tests/test_readers.py", "tests/test_groundtruth_rows.py"],
    "engine/fingerprint.py": ["tests/test_run_fingerprints.py", "tests/test_run_claims.py"],
    "engine/optim.py": ["tests/test_optim.py", "tests/test_train_hyperparameters.py", "tests/test_trainer.py"],
    "engine/lr_scheduler.py": ["tests/test_lr_scheduler.py", "tests/test_train_hyperparameters.py"],
    "engine/trainer.py": ["tests/test_train_hyperparameters.py", "tests/test_trainer.py"],
    "config.py": ["tests/test_config.py", "tests/test_config_files.py"],
}

# mutmut's exit codes -> verdicts (mutmut.stats.status_by_exit_code, 3.8)
_VERDICT = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
            37: "killed", None: "not checked", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}


# besides the package and tests/, what the tests read (mutmut runs them in its own copy, <folder>/mutants)
_ALSO_COPY = ("pytest.ini", "configs", "experiments", "tools", "docs", "README.md", "MODEL_ZOO.md", "requirements",
              "requirements.txt", "LICENSE")


def _name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _mutmut() -> list[str]:
    exe = shutil.which("mutmut")
    return [exe] if exe else [sys.executable, "-m", "mutmut"]


def prepare(work: str, target: str, tests: list[str], timeout_multiplier: float = 15.0) -> str:
    """A scratch copy of the package and tests with a setup.cfg for one target; returns its folder."""
    folder = os.path.join(work, _name(target))
    os.makedirs(folder, exist_ok=True)
    # the tracked files as they are in the working tree (tests read configs/, experiments/, tools/, docs)
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in listed.decode().split("\0"):
        src = os.path.join(ROOT, rel)
        if rel and os.path.isfile(src) and rel != "setup.cfg":
            dst = os.path.join(folder, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    with open(os.path.join(folder, "setup.cfg"), "w") as f:
        f.write("[mutmut]\nsource_paths=siamcorners\n"
                f"only_mutate=siamcorners/{target}\n"
                "pytest_add_cli_args_test_selection=\n" + "".join(f"    {t}\n" for t in tests) +
                "also_copy=\n" + "".join(f"    {x}\n" for x in _ALSO_COPY if os.path.exists(os.path.join(folder, x))) +
                "pytest_add_cli_args=\n    -p\n    no:cacheprovider\n    -x\n"
                "process_isolation=forkserver\n"
                f"timeout_multiplier={timeout_multiplier:g}\n")
    return folder


def function_name(mutant: str) -> str:
    """The mutated function of a mutmut 3 mutant name: ``Trainer._step`` for
    ``siamcorners.engine.trainer.xǁTrainerǁ_step__mutmut_3``, ``validate`` for
    ``siamcorners.config.x_validate__mutmut_1``."""
    qualified = mutant.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    if qualified.startswith("xǁ"):
        return ".".join(part for part in qualified[2:].split("ǁ") if part)
    return qualified[2:] if qualified.startswith("x_") else qualified


def _selected(mutant: str, functions: list[str] | None) -> bool:
    return not functions or any(fnmatch.fnmatchcase(function_name(mutant), f) for f in functions)


def verdicts(folder: str, target: str, functions: list[str] | None = None) -> dict[str, str]:
    """{mutant name: verdict} from mutmut's meta file of ``target`` ({} before a run), only of the mutants of
    ``functions`` (fnmatch patterns of :func:`function_name`) when given."""
    meta = os.path.join(folder, "mutants", "siamcorners", target + ".meta")
    if not os.path.isfile(meta):
        return {}
    with open(meta) as f:
        codes = json.load(f)["exit_code_by_key"]
    return {k: _VERDICT.get(v, "suspicious") for k, v in codes.items() if _selected(k, functions)}


def recheck(folder: str, target: str, tests: list[str], which: tuple[str, ...], preload: list[str],
            functions: list[str] | None = None) -> dict[str, str]:
    """Test again, in this one process, each mutant of ``target`` whose verdict is in ``which``; returns and stores
    (``recheck.json``) {mutant: "killed" / "survived" / "suspicious"}.

    For a loaded machine: mutmut forks a worker per mutant, and a worker that must import a heavy module the fork
    server has not (``torch._dynamo``, on the first optimizer step) can run into mutmut's timeout, so a mutant
    counts as a timeout without its tests having run. Here the ``preload`` modules are imported once, the current
    test files are copied into mutmut's ``mutants`` folder, and each mutant is switched on through mutmut's own
    ``MUTANT_UNDER_TEST`` and run against all of ``tests`` (a hang fails through pytest-timeout's 600 s).
    """
    import importlib

    mutants = os.path.join(folder, "mutants")
    for t in tests:
        shutil.copy2(os.path.join(ROOT, t), os.path.join(mutants, t))
    out: dict[str, str] = {}
    path = os.path.join(folder, "recheck.json")
    if os.path.isfile(path):
        with open(path) as f:
            out = json.load(f)
    # a mutant killed by an earlier recheck stays killed (tests are only ever added)
    names = [m for m, v in verdicts(folder, target, functions).items() if v in which and out.get(m) != "killed"]
    os.chdir(mutants)
    sys.path.insert(0, mutants)
    for m in preload:
        importlib.import_module(m)
    import pytest

    def save() -> None:   # atomically: an interrupted recheck keeps the verdicts so far
        with open(path + ".tmp", "w") as f:
            json.dump(out, f, indent=1)
        os.replace(path + ".tmp", path)

    def run(mutant: str) -> int:
        os.environ["MUTANT_UNDER_TEST"] = mutant   # "" switches every mutant off
        return int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-o", "timeout=600", *tests]))

    # Control: a test that keeps state between runs in one process (a module left in sys.modules, a claim still
    # held) fails on its second run whatever the mutant, and every mutant would look killed. The unchanged code must
    # pass twice here before any verdict, and once more after the last.
    if names and (run("") != 0 or run("") != 0):
        os.environ.pop("MUTANT_UNDER_TEST", None)
        raise SystemExit(f"error: {target}: the tests fail on the unchanged code when run again in one process (see "
                         "the failure above), so --recheck cannot judge its mutants: deselect that test (e.g. "
                         "PYTEST_ADDOPTS='--deselect TEST') or use --rerun-survivors")
    for name in names:
        out[name] = {0: "survived", 1: "killed", 3: "killed"}.get(run(name), "suspicious")   # as mutmut reads them
        save()
    if names and run("") != 0:   # the state went bad during the loop: no kill of this run can be trusted
        for name in names:
            out[name] = "suspicious" if out[name] == "killed" else out[name]
        save()
        print(f"warning: {target}: the unchanged code failed after the recheck; its kills are marked suspicious",
              file=sys.stderr)
    os.environ.pop("MUTANT_UNDER_TEST", None)
    return out


def final_verdicts(folder: str, target: str, functions: list[str] | None = None) -> dict[str, str]:
    """mutmut's verdicts, each replaced by the verdict of a later :func:`recheck` where there is one."""
    v = verdicts(folder, target, functions)
    path = os.path.join(folder, "recheck.json")
    if os.path.isfile(path):
        with open(path) as f:
            v.update({k: r for k, r in json.load(f).items() if k in v})
    return v


def score_row(target: str, v: dict[str, str]) -> str:
    c = Counter(v.values())
    killed = c["killed"]
    alive = c["survived"] + c["no tests"] + c["suspicious"]
    checked = killed + alive + c["timeout"]
    pct = f"{100 * (killed + c['timeout']) / checked:.1f} %" if checked else "-"
    return (f"| `{target}` | {len(v)} | {killed} | {c['timeout']} | {c['survived']} | {c['no tests']} | "
            f"{c['not checked']} | {pct} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", nargs="*", help="core files by name (e.g. metrics fingerprint); default: all")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "siamcorners-mutation"),
                   help="scratch folder (one copy of the repository per file)")
    p.add_argument("--functions", nargs="+", metavar="PATTERN",
                   help="only the mutants of these functions (fnmatch patterns of names like validate, "
                        "Trainer._step, _check_*): run, recheck, report and show; default: the whole file")
    p.add_argument("--max-children", type=int, default=1, help="mutants tested in parallel")
    p.add_argument("--timeout-multiplier", type=float, default=15.0,
                   help="a mutant whose tests run longer than (1 s + their measured time) x this is a timeout "
                        "(mutmut's default 15; raise it on a loaded machine, where it re-checks earlier timeouts)")
    p.add_argument("--rerun-survivors", action="store_true",
                   help="run the surviving and untested mutants again (after adding tests); other verdicts stay")
    p.add_argument("--recheck", nargs="+", metavar="VERDICT", choices=("timeout", "survived", "no tests"),
                   help="instead of mutmut, test the mutants with these verdicts again in one process (loaded "
                        "machine: see recheck()); the report then uses these verdicts")
    p.add_argument("--preload", nargs="*", default=["torch", "torch._dynamo"],
                   help="modules --recheck imports once before the first mutant")
    p.add_argument("--report", action="store_true", help="only print the score table of earlier runs")
    p.add_argument("--show", metavar="FILE", help="print the diff of each surviving mutant of FILE")
    args = p.parse_args(argv)
    names = {_name(t): t for t in TARGETS}
    chosen = list(TARGETS) if not args.files else []
    for n in args.files or []:
        if n not in names:
            print(f"error: --files {n!r} is not a core file; choose from {sorted(names)}", file=sys.stderr)
            return 2
        chosen.append(names[n])
    if args.show:
        target = names.get(args.show)
        if target is None:
            print(f"error: --show {args.show!r} is not a core file", file=sys.stderr)
            return 2
        folder = os.path.join(args.work, _name(target))
        for mutant, verdict in final_verdicts(folder, target, args.functions).items():
            if verdict in ("survived", "no tests"):
                subprocess.run(_mutmut() + ["show", mutant], cwd=folder, check=False)
        return 0
    shared = os.path.join(os.path.dirname(ROOT), "shared")   # tests/conftest.py: reference data and frames
    if "SIAMCORNERS_SHARED" not in os.environ and os.path.isdir(shared):
        os.environ["SIAMCORNERS_SHARED"] = shared
    if args.recheck and not args.report:
        for target in chosen:
            folder = os.path.join(args.work, _name(target))
            done = recheck(folder, target, TARGETS[target], tuple(args.recheck), args.preload, args.functions)
            print(f"== {target}: rechecked {len(done)}: {dict(Counter(done.values()))}", flush=True)
    elif not args.report:
        for target in chosen:
            folder = prepare(args.work, target, TARGETS[target], args.timeout_multiplier)
            again = [m for m, v in verdicts(folder, target, args.functions).items() if v in ("survived", "no tests")]
            if args.rerun_survivors and not again:
                continue
            chosen_mutants = again if args.rerun_survivors else []
            if args.functions and not args.rerun_survivors:
                # mutmut matches fnmatch patterns against the whole mutant name; a pattern per function form
                prefix = "siamcorners." + target[:-3].replace("/", ".") + "."
                forms = [("xǁ" + f.replace(".", "ǁ", 1),) if "." in f else ("x_" + f, "xǁ*ǁ" + f)
                         for f in args.functions]
                chosen_mutants = [prefix + form + "__mutmut_*" for fs in forms for form in fs]
                known = verdicts(folder, target, args.functions)
                if known:  # a resumed run: mutmut re-tests every mutant it is named, so name the unchecked only
                    chosen_mutants = [m for m, v in known.items() if v == "not checked"]
                    if not chosen_mutants:
                        continue
            print(f"== {target}: mutmut in {folder}", flush=True)
            env = dict(os.environ)
            with open(os.path.join(folder, "mutmut.log"), "a") as log:
                subprocess.run(_mutmut() + ["run", "--max-children", str(args.max_children), *chosen_mutants],
                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    print("| file | mutants | killed | timeout | survived | no tests | not run | killed + timeout |")
    print("|---|---|---|---|---|---|---|---|")
    for target in chosen:
        print(score_row(target, final_verdicts(os.path.join(args.work, _name(target)), target, args.functions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
