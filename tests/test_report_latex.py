"""tools/eval.py --latex: the booktabs table of the ranked results (escaped names, best values bold)."""
import json

import numpy as np

from siamcorners.benchmarks import Benchmark
from siamcorners.benchmarks.report import format_latex, latex_escape
from siamcorners.benchmarks.results import layout_for, write_result
from siamcorners.cli.eval import main as eval_main


def _dataset(tmp_path):
    gts = {"Basketball": np.array([[10.0 + i, 20.0, 30.0, 40.0] for i in range(6)]),
           "Biker": np.array([[50.0, 20.0 + i, 30.0, 40.0] for i in range(5)])}
    meta = {v: {"video_dir": v, "init_rect": g[0].tolist(), "gt_rect": g.tolist(), "attr": [],
                "img_names": [f"{v}/img/{i:04d}.jpg" for i in range(len(g))]} for v, g in gts.items()}
    data = tmp_path / "data"
    data.mkdir()
    (data / "OTB100.json").write_text(json.dumps(meta))
    results = tmp_path / "results" / "OTB100"
    shifts = {"lost_50%": 40.0, "my_tracker&v2": 0.0, "near #3": 3.0}
    for name, dx in shifts.items():
        for v, g in gts.items():
            write_result(layout_for("otb"), str(results / name), v, g + [dx, 0.0, 0.0, 0.0])
    return str(data), str(tmp_path / "results")


def test_latex_escape():
    assert latex_escape("a_b&c%d$e#f{g}h~i^j\\k") == \
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"


def test_eval_writes_booktabs_table(tmp_path, capsys):
    data, results = _dataset(tmp_path)
    tex = str(tmp_path / "table.tex")
    rc = eval_main(["--dataset", "OTB100", "--dataset-root", data, "--results", results, "--no-plots",
                    "--report-dir", str(tmp_path / "rep"), "--latex", tex])
    assert rc == 0 and f"latex: {tex}" in capsys.readouterr().out
    text = open(tex).read()
    lines = text.splitlines()
    for cmd in (r"\begin{tabular}{lccc}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}"):
        assert cmd in lines
    assert r"\caption{OTB100 (pysot protocol)}" in lines
    assert "Tracker & Success & Norm Precision & Precision \\\\" in lines
    body = lines[lines.index(r"\midrule") + 1:lines.index(r"\bottomrule")]
    evals = Benchmark("OTB100", data, results).evaluate()
    ranked = sorted(evals, key=lambda e: -e.success_auc)
    assert [row.split(" & ")[0] for row in body] == [latex_escape(e.tracker) for e in ranked]
    assert body[0].startswith(r"my\_tracker\&v2 & ")   # names escaped, the best tracker first
    # the best value of each column is bold (the two trackers within 20 px tie on precision)
    cells = [row.rstrip(" \\").split(" & ")[1:] for row in body]
    for j, key in enumerate(("success_auc", "norm_precision", "precision")):
        best = max(round(e.scores[key], 3) for e in evals)
        for e, row in zip(ranked, cells):
            value = f"{e.scores[key]:.3f}"
            assert row[j] == (rf"\textbf{{{value}}}" if round(e.scores[key], 3) == best else value)
    assert sum(c[2].startswith(r"\textbf") for c in cells) == 2


def test_latex_got10k_columns_and_missing_values():
    from siamcorners.benchmarks.evaluation import TrackerEvaluation

    def ev(name, ao):
        return TrackerEvaluation(name, "GOT-10k-val", "got10k", [], {}, {},
                                 {"success_auc": ao, "ao": ao, "sr50": None, "sr75": ao / 2,
                                  "precision": None, "norm_precision": None}, {})
    lines = format_latex([ev("a", 0.5), ev("b", 0.6)]).splitlines()
    assert "Tracker & AO & SR0.5 & SR0.75 \\\\" in lines
    assert r"b & \textbf{0.600} & -- & \textbf{0.300} \\" in lines and r"a & 0.500 & -- & 0.250 \\" in lines
