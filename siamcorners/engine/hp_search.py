"""Tracker hyper-parameter search: run one tracker per setting of a grid (or a random part of it), score each
with our metrics and rank them.

A *search space* is ``{"TRACK.PENALTY_K": [0.02, 0.04], "TRACK.LR": [0.3, 0.4]}`` (dotted config keys, each
with its candidate values). Every setting is run as its own tracker, named after its values
(``PENALTY_K=0.02+LR=0.3``), through the resumable test runner, so an interrupted search resumes with the
videos and settings it had not finished, and a finished setting is never tracked again. The settings can be
split over jobs (``shard``: every N-th setting from i); each job ranks whatever is complete.

Each setting's folder is fingerprinted like a ``tools/test.py`` results folder (``fingerprint(cfg)``: config,
weights, code, device type, dataset): a setting is resumed, reused or ranked only when its saved fingerprint is
the one the search would make now; another snapshot, ``--opts`` or dataset in the same search folder is refused
(never old scores printed as current), and a setting's folder is held (an OS lock) while it is tracked.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence as _Seq

from ..benchmarks.evaluation import evaluate_tracker
from ..benchmarks.results import layout_for
from ..benchmarks.sequence import BenchmarkError, Dataset
from ..benchmarks.textio import atomic_write_text
from ..config import CfgNode, ConfigError, DEFAULTS, merge_opts, save_config, validate

__all__ = ["Setting", "SearchResult", "parse_search", "build_space", "select_settings", "short_keys",
           "tracker_name", "run_search", "rank_results", "format_ranking", "results_to_json"]

SCORE_KEYS = ("success_auc", "precision", "norm_precision")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
_MAX_NAME = 120


@dataclass
class Setting:
    """One point of the search space: ``params`` (key -> value as the config holds it), ``opts`` (the
    ``KEY VALUE`` overrides that produce it) and its tracker (results folder) name."""

    params: dict[str, Any]
    opts: list[str]
    name: str = ""


@dataclass
class SearchResult:
    setting: Setting
    scores: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"params": self.setting.params, "tracker": self.setting.name,
                **{k: self.scores.get(k) for k in SCORE_KEYS},
                **{k: v for k, v in self.scores.items() if k not in SCORE_KEYS}}


# ------------------------------------------------------------------------------------ search space
def _split_values(text: str) -> list[str]:
    """``"0.1,0.2,[3,4]"`` -> ``["0.1", "0.2", "[3,4]"]``: commas inside brackets or quotes do not split."""
    out, cur, depth, quote = [], "", 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def _leaf_default(key: str) -> Any:
    """The default of a dotted config key; ConfigError naming the key when it is not a leaf of the tree."""
    node: Any = DEFAULTS
    parts = key.split(".")
    for i, p in enumerate(parts):
        if not isinstance(node, Mapping) or p not in node:
            import difflib

            where = ".".join(parts[:i]) or "the config root"
            choices = list(node.keys()) if isinstance(node, Mapping) else []
            match = difflib.get_close_matches(p, choices, n=1, cutoff=0.6)
            hint = f" (did you mean {'.'.join(parts[:i] + [match[0]])!r}?)" if match else ""
            raise ConfigError(f"--search: unknown config key {key!r}: {where} has no {p!r}{hint}")
        node = node[p]
    if isinstance(node, Mapping):
        raise ConfigError(f"--search: {key!r} is a config section, not a value; search one of its keys "
                          f"({', '.join(f'{key}.{k}' for k in node)})")
    return node


def parse_search(specs: _Seq[str]) -> dict[str, list[str]]:
    """``["TRACK.LR=0.3,0.4", ...]`` -> ``{"TRACK.LR": ["0.3", "0.4"]}`` (value texts, parsed later)."""
    space: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--search {spec!r}: expected KEY=v1,v2,... (e.g. TRACK.PENALTY_K=0.02,0.04)")
        _leaf_default(key)
        texts = _split_values(values)
        if any(t == "" for t in texts):
            raise ConfigError(f"--search {spec!r}: empty value in the list")
        if key in space:
            raise ConfigError(f"--search: key {key!r} given twice")
        if len(set(texts)) != len(texts):
            raise ConfigError(f"--search {spec!r}: a value is listed twice")
        space[key] = texts
    if not space:
        raise ConfigError("--search: give at least one KEY=v1,v2,...")
    return space


def build_space(base: CfgNode, space: Mapping[str, _Seq[str]]) -> dict[str, list[tuple[Any, str]]]:
    """Check every value against the config (type, enumerations) -> key -> [(value as the config holds it,
    its text), ...]. ``base`` is the loaded experiment config (unfrozen copies are made)."""
    out: dict[str, list[tuple[Any, str]]] = {}
    for key, texts in space.items():
        vals = []
        for text in texts:
            cfg = base.clone().defrost()
            merge_opts(cfg, [key, text], source=f"--search {key}")
            validate(cfg, f"--search {key}={text}")
            node: Any = cfg
            for p in key.split("."):
                node = node[p]
            vals.append((node, text))
        seen = [json.dumps(v, sort_keys=True) for v, _ in vals]
        if len(set(seen)) != len(seen):
            raise ConfigError(f"--search {key}: two values mean the same ({', '.join(texts)})")
        out[key] = vals
    return out


def grid_size(space: Mapping[str, _Seq]) -> int:
    return math.prod(len(v) for v in space.values())


def _setting_at(space: Mapping[str, _Seq[tuple[Any, str]]], index: int) -> Setting:
    """The ``index``-th setting of the grid in ``itertools.product`` order (last key fastest)."""
    picks = []
    for key in reversed(list(space)):
        n = len(space[key])
        picks.append((key, space[key][index % n]))
        index //= n
    picks.reverse()
    return Setting({k: v for k, (v, _) in picks}, [x for k, (_, t) in picks for x in (k, t)])


def select_settings(space: Mapping[str, _Seq[tuple[Any, str]]], random_n: int | None = None,
                    seed: int = 0) -> list[Setting]:
    """The whole grid in product order, or ``random_n`` distinct settings drawn with ``seed`` (kept in grid
    order; the same arguments always give the same settings)."""
    total = grid_size(space)
    if random_n is None:
        indices: _Seq[int] = range(total)
    else:
        if random_n < 1:
            raise ConfigError(f"--random must be >= 1, got {random_n}")
        indices = sorted(random.Random(seed).sample(range(total), min(random_n, total)))
    settings = [_setting_at(space, i) for i in indices]
    names = short_keys(list(space))
    used: dict[str, int] = {}
    for s in settings:
        s.name = tracker_name(s.params, names)
        used[s.name] = used.get(s.name, 0) + 1
    for s in settings:  # values that differ only in unsafe characters: make the names unique
        if used[s.name] > 1:
            s.name = f"{s.name}+{_digest(s.params)}"
    return settings


# ------------------------------------------------------------------------------------ names
def short_keys(keys: _Seq[str]) -> dict[str, str]:
    """The shortest dotted suffix of each key that no other key shares (``TRACK.LR`` -> ``LR``)."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(o != key and (o == suffix or o.endswith("." + suffix)) for o in keys):
                break
        out[key] = suffix
    return out


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "-".join(_value_text(x) for x in v)
    return str(v)


def _digest(params: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]


def tracker_name(params: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """``{"TRACK.PENALTY_K": 0.02, "TRACK.LR": 0.3}`` -> ``PENALTY_K=0.02+LR=0.3``: a folder name made of
    ``[A-Za-z0-9._=+-]`` only (other characters become ``_``); long names end in a hash of the values."""
    labels = labels or short_keys(list(params))
    name = "+".join(f"{labels[k]}={_value_text(v)}" for k, v in params.items())
    name = _UNSAFE.sub("_", name)
    if len(name) > _MAX_NAME:
        name = f"{name[:_MAX_NAME - 9]}+{_digest(params)}"
    return name


# ------------------------------------------------------------------------------------ run and score
def _complete(dataset: Dataset, tracker_dir: str) -> bool:
    layout = layout_for(dataset.kind)
    return os.path.isdir(tracker_dir) and all(layout.is_done(tracker_dir, s.name) for s in dataset)


def setting_cfg(base_cfg: CfgNode, setting: Setting) -> CfgNode:
    """The resolved config of one setting: ``base_cfg`` with the setting's overrides."""
    cfg = base_cfg.clone().defrost()
    merge_opts(cfg, setting.opts, source="--search")
    return cfg


def _check_fingerprint(results_dir: str, setting: Setting, fingerprint: Mapping[str, Any]) -> None:
    """A complete setting is reused only when its saved fingerprint is ``fingerprint`` (ResultsFolderError)."""
    from .fingerprint import differences
    from .run_dirs import ResultsFolderError, fingerprint_path

    path = fingerprint_path(results_dir, setting.name)
    folder = os.path.join(results_dir, setting.name)
    try:
        with open(path, "r", encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = None
    if not isinstance(saved, dict):
        raise BenchmarkError(f"{folder}: holds results but no readable {os.path.basename(path)} (an older version "
                             f"wrote them), so what made them is unknown and their scores cannot be reported as "
                             f"this search's; {_HOW}")
    diff = differences(saved, fingerprint)
    if diff:
        raise ResultsFolderError(f"{folder}: holds results made with another setup (saved -> now: "
                                 f"{'; '.join(diff[:6] + (['...'] if len(diff) > 6 else []))}); ranking them would "
                                 f"report another setup's scores as this one's; {_HOW}")


_HOW = "use another --out for this search (or delete that setting's folder to run it again)"


def run_search(dataset: Dataset, settings: _Seq[Setting], results_dir: str,
               make_factory: Callable[[Setting], Callable[[str], Any]], base_cfg: CfgNode | None = None,
               shard: tuple[int, int] = (0, 1), log: Callable[[str], None] = print,
               fingerprint: Callable[[CfgNode], Mapping[str, Any]] | None = None,
               **run_kwargs) -> tuple[list[SearchResult], list[Setting]]:
    """Track this shard's unfinished settings, then score every complete one.

    ``results_dir`` holds one tracker folder per setting (``<results_dir>/<setting name>/``) and its resolved
    config beside it (``<name>.config.yaml``, when ``base_cfg`` is given). With ``fingerprint`` (and ``base_cfg``),
    ``fingerprint(setting's cfg)`` is checked for every setting that is resumed, reused or ranked, and a setting's
    folder is claimed while it runs (`siamcorners.engine.run_dirs.claim_results_folder`). ``run_kwargs`` go to
    `siamcorners.engine.tester.run_benchmark` (workers, devices, progress, ...). Returns (scored results
    ranked best first, settings still incomplete).
    """
    from .run_dirs import claim_results_folder, tracker_video_locks
    from .tester import RunConventions, run_benchmark

    fingerprints = {s.name: dict(fingerprint(setting_cfg(base_cfg, s))) for s in settings} \
        if fingerprint is not None and base_cfg is not None else {}

    if not dataset.scored_locally:
        raise BenchmarkError(f"{dataset.name} is scored by its evaluation server; a hyper-parameter search "
                             f"needs a dataset with ground truth (e.g. a validation split)")
    i, n = shard
    mine = list(settings)[i::n]
    for k, s in enumerate(mine, 1):
        tracker_dir = os.path.join(results_dir, s.name)
        if _complete(dataset, tracker_dir):
            if s.name in fingerprints:
                _check_fingerprint(results_dir, s, fingerprints[s.name])
            log(f"[{k}/{len(mine)}] {s.name}: done earlier")
            continue
        log(f"[{k}/{len(mine)}] {s.name}")
        kwargs = dict(run_kwargs)
        held = None
        if base_cfg is not None:
            cfg = setting_cfg(base_cfg, s)
            if s.name in fingerprints:  # the fingerprint and resolved config beside the folder, held while it runs
                held = claim_results_folder(results_dir, s.name, fingerprints[s.name], cfg, log=log,
                                            how="use another --out for this search")
                kwargs["video_locks"] = tracker_video_locks(results_dir, s.name)
            else:
                save_config(cfg, os.path.join(results_dir, f"{s.name}.config.yaml"))
            kwargs.setdefault("conventions", RunConventions.from_cfg(cfg))  # TEST.INIT_BOX / FIRST_FRAME_BOX
        try:
            run_benchmark(dataset, make_factory(s), tracker_dir, make_zip=False, log=log, **kwargs)
        finally:
            if held is not None:
                held.release()
    results, pending = [], []
    for s in settings:
        tracker_dir = os.path.join(results_dir, s.name)
        if not _complete(dataset, tracker_dir):
            pending.append(s)
            continue
        if s.name in fingerprints:
            _check_fingerprint(results_dir, s, fingerprints[s.name])
        ev = evaluate_tracker(dataset, tracker_dir, s.name)
        results.append(SearchResult(s, dict(ev.scores)))
    return rank_results(results), pending


def rank_results(results: _Seq[SearchResult]) -> list[SearchResult]:
    """Best success AUC (GOT-10k datasets: AO) first; ties keep the grid order."""
    return sorted(results, key=lambda r: -(r.scores.get("success_auc") or 0.0))


def format_ranking(results: _Seq[SearchResult], keys: _Seq[str]) -> str:
    """A console table: rank, one column per searched key (short names), the scores."""
    labels = short_keys(list(keys))
    score_cols = [("ao", "AO"), ("sr50", "SR0.5"), ("sr75", "SR0.75")] \
        if results and "ao" in results[0].scores else \
        [("success_auc", "Success"), ("norm_precision", "Norm Precision"), ("precision", "Precision")]
    header = ["Rank"] + [labels[k] for k in keys] + [c[1] for c in score_cols]
    rows = [[str(i)] + [_value_text(r.setting.params[k]) for k in keys]
            + ["-" if r.scores.get(c) is None else f"{r.scores[c]:.3f}" for c, _ in score_cols]
            for i, r in enumerate(results, 1)]
    widths = [max(len(row[j]) for row in [header] + rows) for j in range(len(header))]
    fmt = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    line = "-" * len(fmt(header))
    return "\n".join([line, fmt(header), line] + [fmt(r) for r in rows] + [line])


def results_to_json(results: _Seq[SearchResult]) -> list[dict]:
    """The ``hp_search.json`` schema: ranked list of ``{"params", "tracker", "success_auc", "precision",
    "norm_precision"}`` (plus ``ao``/``sr50``/``sr75`` on GOT-10k datasets)."""
    return [r.to_json() for r in results]


def write_json(results: _Seq[SearchResult], path: str) -> None:
    atomic_write_text(path, json.dumps(results_to_json(results), indent=1) + "\n")
