"""The CPU quickstart, end to end: train the tiny model on synthetic videos, track held-out synthetic videos,
evaluate, and compare with a tracker that never moves the initial box.

    python tools/quickstart.py                      # train -> test -> eval: ~8 min on 2 idle CPU cores (CPU torch)
    python tools/quickstart.py --skip-train         # test + eval the committed model.pth only, beside a trained run

Times and scores, and when a rerun is bit-identical: README "Set-up" and docs/benchmarks.md.

Every step is one of the project's command-line tools; the commands are printed before they run, so each can
be re-run on its own. Outputs go under ``--out`` (default: the experiment folder, whose run outputs git ignores):
``snapshot/`` (checkpoints and the trained ``model.pth``), ``logs/``, ``results/synthetic/<tracker>/``,
``eval/`` (report and ``eval.json``); the held-out videos under ``--data``. ``--skip-train`` writes the tracker
``siamcorners_tiny_shipped`` and ``eval_shipped/`` instead, so a trained model's results and report are kept.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = os.path.join(ROOT, "experiments", "siamcorners_tiny_synthetic")
STATIC_NAME = "static_box"
TRAINED_NAME = "siamcorners_tiny"


class StaticBoxTracker:
    """The baseline: reports the initial box in every frame."""

    def init(self, frame: Any, box_xywh: Sequence[float]) -> None:
        self.box = [float(v) for v in box_xywh]

    def track(self, frame: Any) -> dict:
        return {"bbox": list(self.box), "score": 1.0}


def static_tracker(device: str = "cpu") -> StaticBoxTracker:
    """Factory for ``tools/test.py --tracker-factory tools.quickstart:static_tracker``."""
    return StaticBoxTracker()


def _run(cmd: list[str]) -> None:
    print("\n$ " + " ".join(cmd), flush=True)
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # the tiny model tracks at ~100 fps on one thread; more threads only fight over a shared CPU
    env.setdefault("OMP_NUM_THREADS", "1")
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code != 0:
        raise SystemExit(f"quickstart: step failed with exit code {code}: {' '.join(cmd)}")


def _auc_table(path: str) -> dict[str, float]:
    """{tracker: success AUC} from ``tools/eval.py --json`` (``{tracker: {"success_auc": ...}}``)."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    return {name: float(scores["success_auc"]) for name, scores in report.items()
            if isinstance(scores, dict) and "success_auc" in scores}


def tracker_and_report(skip_train: bool, model: str) -> tuple[str, str]:
    """(tracker name, report folder under --out): ``siamcorners_tiny`` and ``eval/`` for the model trained here;
    with ``--skip-train`` ``siamcorners_tiny_shipped`` and ``eval_shipped/`` for the committed model.pth (or
    ``siamcorners_tiny_<file name>`` and ``eval_<file name>/`` for another ``--model``)."""
    if not skip_train:
        return TRAINED_NAME, "eval"
    default = os.path.join(EXPERIMENT, "model.pth")
    stem = "shipped" if os.path.abspath(model) == default else os.path.splitext(os.path.basename(model))[0]
    return f"{TRAINED_NAME}_{stem}", f"eval_{stem}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cfg", default=os.path.join(EXPERIMENT, "config.yaml"), help="experiment config")
    p.add_argument("--out", default=EXPERIMENT, help="output folder (OUTPUT_DIR of the training run)")
    p.add_argument("--data", default=os.path.join(ROOT, "data", "synthetic_heldout"),
                   help="held-out synthetic benchmark folder (written if missing)")
    p.add_argument("--videos", type=int, default=20, help="held-out videos")
    p.add_argument("--seed", type=int, default=1, help="held-out dataset seed (training uses other seeds)")
    p.add_argument("--skip-train", action="store_true", help="use --model instead of training")
    p.add_argument("--model", default=os.path.join(EXPERIMENT, "model.pth"),
                   help="weights to test with --skip-train (default: the committed tiny model)")
    p.add_argument("--train-opts", nargs="+", default=[], metavar="KEY VALUE", help="extra training overrides")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    py = sys.executable
    out = os.path.abspath(args.out)
    model = os.path.abspath(args.model)
    if not args.skip_train:
        model = os.path.join(out, "snapshot", "model.pth")
        # --resume auto: an interrupted quickstart continues, a finished one is reused (a changed config is refused)
        _run([py, "tools/train.py", "--cfg", args.cfg, "--no-progress", "--resume", "auto", "--export", model,
              "--opts", "OUTPUT_DIR", out, *args.train_opts])
    elif not os.path.isfile(model):
        raise SystemExit(f"quickstart: {model} not found; run without --skip-train to train it")
    _run([py, "tools/make_synthetic.py", "--out", args.data, "--videos", str(args.videos), "--seed", str(args.seed)])
    results = os.path.join(out, "results")
    common = ["--dataset", "synthetic", "--dataset-root", args.data, "--out", results, "--no-progress"]
    name, eval_dir = tracker_and_report(args.skip_train, model)
    # the trained model's results: --overwrite replaces those of an earlier training (another fingerprint), never
    # mixed with these; --skip-train writes its own tracker folder and report beside them, never over them
    _run([py, "tools/test.py", "--cfg", args.cfg, "--snapshot", model, "--tracker-name", name,
          *([] if args.skip_train else ["--overwrite"]), *common])
    _run([py, "tools/test.py", "--tracker-factory", "tools.quickstart:static_tracker", "--tracker-name", STATIC_NAME,
          "--overwrite", *common])
    report = os.path.join(out, eval_dir, "eval.json")
    _run([py, "tools/eval.py", "--dataset", "synthetic", "--dataset-root", args.data,
          "--results", os.path.join(results, "synthetic"), "--trackers", f"{name},{STATIC_NAME}",
          "--report-dir", os.path.join(out, eval_dir), "--json", report])
    aucs = _auc_table(report)
    if name in aucs and STATIC_NAME in aucs:
        ours, base = aucs[name], aucs[STATIC_NAME]
        ok = ours >= 0.45 and ours - base >= 0.2
        print(f"\nsuccess AUC: SiamCorners tiny {ours:.3f}, static box {base:.3f} (difference {ours - base:+.3f}) "
              f"-> {'tracks' if ok else 'below the quickstart target (AUC >= 0.45 and +0.2 over the static box)'}")
        return 0 if ok else 1
    print(f"\nsee {report} for the scores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
