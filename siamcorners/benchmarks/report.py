"""Ranked tables (console, Markdown, CSV) and the JSON report of a set of tracker evaluations."""
from __future__ import annotations

import csv
import io
import json
from typing import Sequence as _Seq

from .evaluation import TrackerEvaluation
from .textio import atomic_write_text

__all__ = ["rank", "table_rows", "format_console", "format_markdown", "format_csv", "format_latex", "latex_escape",
           "to_json", "write_reports"]


def rank(evaluations: _Seq[TrackerEvaluation]) -> list[TrackerEvaluation]:
    """Sorted by the headline success score, best first (ties keep the input order)."""
    return sorted(evaluations, key=lambda e: -e.scores["success_auc"])


def _columns(evaluations: _Seq[TrackerEvaluation]) -> list[tuple[str, str]]:
    if evaluations and "ao" in evaluations[0].scores:
        return [("ao", "AO"), ("sr50", "SR0.5"), ("sr75", "SR0.75")]
    return [("success_auc", "Success"), ("norm_precision", "Norm Precision"), ("precision", "Precision")]


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def table_rows(evaluations: _Seq[TrackerEvaluation]) -> tuple[list[str], list[list[str]]]:
    cols = _columns(evaluations)
    header = ["Rank", "Tracker"] + [c[1] for c in cols]
    rows = [[str(i), e.tracker] + [_fmt(e.scores[k]) for k, _ in cols] for i, e in enumerate(rank(evaluations), 1)]
    return header, rows


def format_console(evaluations: _Seq[TrackerEvaluation]) -> str:
    header, rows = table_rows(evaluations)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = "-" * (sum(widths) + 3 * (len(widths) - 1) + 4)
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line, fmt(header), line] + [fmt(r) for r in rows] + [line])


def format_markdown(evaluations: _Seq[TrackerEvaluation], title: str = "") -> str:
    header, rows = table_rows(evaluations)
    out = [f"## {title}", ""] if title else []
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    attrs = sorted({a for e in evaluations for a in e.per_attribute})
    if attrs:
        out += ["", "### Success AUC per attribute", "",
                "| Tracker | " + " | ".join(attrs) + " |", "|---|" + "|".join("---" for _ in attrs) + "|"]
        for e in rank(evaluations):
            out.append(f"| {e.tracker} | " + " | ".join(
                _fmt(e.per_attribute[a]["success_auc"]) if a in e.per_attribute else "-" for a in attrs) + " |")
    return "\n".join(out) + "\n"


def format_csv(evaluations: _Seq[TrackerEvaluation]) -> str:
    """One row per tracker and scope (ALL, then each attribute), full float precision."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = [k for k, _ in _columns(evaluations)]
    w.writerow(["tracker", "scope", "num_videos"] + keys)
    for e in rank(evaluations):
        w.writerow([e.tracker, "ALL", len(e.videos)] + [repr(e.scores[k]) for k in keys])
        for attr, s in e.per_attribute.items():
            w.writerow([e.tracker, attr, s["num_videos"]] + [repr(s.get(k)) for k in keys])
    return buf.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX table cell (``my_tracker&1`` -> ``my\\_tracker\\&1``)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def format_latex(evaluations: _Seq[TrackerEvaluation], caption: str = "", label: str = "") -> str:
    """A booktabs table of the ranked trackers (``\\usepackage{booktabs}``); the best value of each column
    (as printed, three decimals) is bold, ties included."""
    cols = _columns(evaluations)
    ranked = rank(evaluations)
    cells = [[_fmt(e.scores[k]) for k, _ in cols] for e in ranked]
    best = [max((float(r[j]) for r in cells if r[j] != "-"), default=None) for j in range(len(cols))]
    out = ["% requires \\usepackage{booktabs}", r"\begin{table}[t]", r"\centering"]
    if caption:
        out.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(rf"\label{{{label}}}")
    out += [r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
            " & ".join(["Tracker"] + [latex_escape(c[1]) for c in cols]) + r" \\", r"\midrule"]
    for e, row in zip(ranked, cells):
        vals = ["--" if v == "-" else (rf"\textbf{{{v}}}" if float(v) == best[j] else v) for j, v in enumerate(row)]
        out.append(" & ".join([latex_escape(e.tracker)] + vals) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def to_json(evaluations: _Seq[TrackerEvaluation]) -> dict:
    """``{"<tracker>": {"success_auc", "precision", "norm_precision", "per_video", "per_attribute"}}``."""
    return {e.tracker: e.to_json() for e in rank(evaluations)}


def write_reports(evaluations: _Seq[TrackerEvaluation], folder: str, title: str = "") -> dict[str, str]:
    """Write ``results.md``, ``results.csv`` and ``results.json`` into ``folder``; returns their paths."""
    import os

    paths = {ext: os.path.join(folder, f"results.{ext}") for ext in ("md", "csv", "json")}
    atomic_write_text(paths["md"], format_markdown(evaluations, title))
    atomic_write_text(paths["csv"], format_csv(evaluations))
    atomic_write_text(paths["json"], json.dumps(to_json(evaluations), indent=1))
    return paths
