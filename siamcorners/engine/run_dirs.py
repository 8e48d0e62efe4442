"""Results folders and training run directories belong to one setup each.

``tools/test.py`` resumes by skipping finished videos, and ``tools/train.py --resume`` continues from the
checkpoints it finds; both are only right when the files already there were made with the same setup.

* `claim_results_folder`: ``<dataset_dir>/<tracker>/`` holds results of one tracking fingerprint
  (`siamcorners.engine.fingerprint`), kept in ``<dataset_dir>/<tracker>.fingerprint.json``. A folder with
  results of another fingerprint (or of an unknown one) is refused with what differs; ``overwrite`` deletes
  those results first. ``<tracker>.config.yaml`` is written only once the folder is claimed, so it always
  describes the files beside it.
* `claim_run_directory`: a snapshot folder that holds checkpoints belongs to the run that wrote them. A new run
  there is refused; a resumed run must have the same training config (`training_config`) as the checkpoint
  it continues, whether that checkpoint is in the folder or elsewhere (``--resume PATH`` / ``TRAIN.RESUME`` into
  a new OUTPUT_DIR); ``overwrite`` deletes the old run's checkpoints, logs and resolved config first.
* `claim_training_run`: a training run holds its OUTPUT_DIR (and a snapshot / log folder outside it) for its life
  (`siamcorners.engine.claims`): a second training run there is refused while the first runs, whatever its
  config (two runs would write the same checkpoints and one train.log).

Both folder kinds are claimed with an OS lock before they are checked, so the check and what follows it
(``--overwrite`` deleting, the first files written) cannot interleave with another run's.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
from typing import Any, Callable, Mapping, Optional

from ..benchmarks.sequence import BenchmarkError
from ..benchmarks.textio import atomic_write_text
from .claims import Claim, ItemLocks, claim
from .fingerprint import differences, training_config

__all__ = ["ResultsFolderError", "RunDirectoryError", "check_resume_config", "check_tracker_name",
           "claim_results_folder", "claim_run_directory", "claim_training_run", "fingerprint_path",
           "run_checkpoints", "tracker_video_locks"]

_CKPT_RE = re.compile(r"^(checkpoint_e\d+|last)\.pth$")


class ResultsFolderError(BenchmarkError):
    """A results folder holds results of another setup; the message says what differs and how to proceed."""


class RunDirectoryError(ValueError):
    """A run directory holds another run; the message says what differs and how to proceed."""


# ------------------------------------------------------------------------------------------ results folders
def check_tracker_name(name: str, what: str = "--tracker-name") -> str:
    """``name`` is one plain folder name (not empty, ``.``, ``..``, no path separator), so a results folder
    ``<dataset_dir>/<name>`` and what ``--overwrite`` deletes stay inside ``<dataset_dir>``; returns it."""
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not name.strip() or name in (".", "..") or any(c in name for c in seps | {"\0"}):
        raise ResultsFolderError(f"{what} {name!r}: must be one plain folder name (letters, digits, '_', '-', "
                                 f"'.'; not empty, '.', '..' or a path with '/')")
    return name


def fingerprint_path(dataset_dir: str, tracker_name: str) -> str:
    return os.path.join(dataset_dir, f"{tracker_name}.fingerprint.json")


def _result_files(tracker_dir: str) -> list[str]:
    """Files under a tracker folder, hidden ones (interrupted atomic writes) left out."""
    out = []
    for folder, dirs, files in os.walk(tracker_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out += [os.path.join(folder, f) for f in files if not f.startswith(".")]
    return out


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def claim_results_folder(dataset_dir: str, tracker_name: str, fingerprint: Mapping[str, Any],
                         cfg: Optional[Mapping] = None, overwrite: bool = False,
                         log: Callable[[str], None] = print, how: str = "") -> Claim:
    """Claim ``<dataset_dir>/<tracker_name>`` as the results folder of ``fingerprint`` for this run's life.

    Returns the held `Claim` (``claim.folder`` is the tracker folder); runs of the same fingerprint share the
    folder (they take disjoint videos, `tracker_video_locks`). Refused (:class:`ResultsFolderError`) when the folder
    already holds results of another fingerprint, or results without a fingerprint file; refused
    (:class:`~siamcorners.engine.claims.ClaimError`) while a run of another fingerprint holds it, or with
    ``overwrite`` while any run holds it. With ``overwrite`` the tracker's results, submission zip, fingerprint and
    config are deleted first. Then the fingerprint and (when given) ``cfg`` as ``<tracker_name>.config.yaml``
    are written beside the folder. ``how`` replaces the advice of the refusals (test.py's flags).
    """
    check_tracker_name(tracker_name, "tracker name")
    tracker_dir = os.path.join(dataset_dir, tracker_name)
    busy_how = how or "use --tracker-name NAME to write to a new folder"
    how = how or "use --tracker-name NAME to write to a new folder, or --overwrite to delete them and run again"
    if os.path.exists(tracker_dir) and not os.path.isdir(tracker_dir):
        raise ResultsFolderError(f"{tracker_dir}: exists and is not a folder")

    def decide(alone: bool) -> None:
        if alone:
            _check_results_folder(dataset_dir, tracker_name, fingerprint, cfg, overwrite, how, log)

    held = claim(dataset_dir, tracker_name, fingerprint, tracker_dir, shared=True, overwrite=overwrite,
                 decide=decide, describe=differences, how=busy_how, log=log)
    held.folder = tracker_dir
    return held


def tracker_video_locks(dataset_dir: str, tracker_name: str) -> ItemLocks:
    """Per-video locks of a tracker's results folder (runs that share it never track the same video at once)."""
    return ItemLocks(os.path.join(dataset_dir, f".{tracker_name}.videos"))


def _check_results_folder(dataset_dir: str, tracker_name: str, fingerprint: Mapping[str, Any],
                          cfg: Optional[Mapping], overwrite: bool, how: str, log: Callable[[str], None]) -> None:
    """The fingerprint check of `claim_results_folder` (no other run holds the folder)."""
    tracker_dir = os.path.join(dataset_dir, tracker_name)
    fp_path = fingerprint_path(dataset_dir, tracker_name)
    files = _result_files(tracker_dir) if os.path.isdir(tracker_dir) else []
    if overwrite:
        if os.path.isdir(tracker_dir):
            shutil.rmtree(tracker_dir)
        for extra in (fp_path, tracker_dir + ".zip", os.path.join(dataset_dir, f"{tracker_name}.config.yaml")):
            if os.path.isfile(extra):
                os.remove(extra)
        if files:
            log(f"--overwrite: deleted {len(files)} result file(s) of {tracker_name!r} in {dataset_dir}")
    elif os.path.isdir(tracker_dir):
        saved = _read_json(fp_path) if os.path.isfile(fp_path) else None
        if files and saved is None:
            raise ResultsFolderError(
                f"{tracker_dir}: holds {len(files)} result file(s) but no readable {os.path.basename(fp_path)} "
                f"(an older version wrote them, or they were copied without it), so what made them is unknown "
                f"and finished videos cannot be skipped safely; {how}")
        if saved is not None:
            diff = differences(saved, fingerprint)
            diff = diff[:6] + (["..."] if len(diff) > 6 else [])
            if diff and files:
                raise ResultsFolderError(
                    f"{tracker_dir}: holds {len(files)} result file(s) made with another setup "
                    f"(saved -> now: {'; '.join(diff)}); resuming would mix them; {how}")
            if diff:  # an empty folder claimed by another setup that wrote nothing (yet)
                raise ResultsFolderError(
                    f"{tracker_dir}: claimed by a run with another setup (saved -> now: {'; '.join(diff)}) that "
                    f"has not written results yet; {how}")
    os.makedirs(tracker_dir, exist_ok=True)
    atomic_write_text(fp_path, json.dumps(dict(fingerprint), indent=1, sort_keys=True) + "\n")
    if cfg is not None:
        from ..config import save_config
        save_config(cfg, os.path.join(dataset_dir, f"{tracker_name}.config.yaml"))


# ------------------------------------------------------------------------------------------ training runs
def run_checkpoints(snapshot_dir: str) -> list[str]:
    """Training checkpoints (``checkpoint_eN.pth``, ``last.pth``) in a snapshot folder, sorted by name."""
    if not os.path.isdir(snapshot_dir):
        return []
    return sorted(os.path.join(snapshot_dir, f) for f in os.listdir(snapshot_dir) if _CKPT_RE.match(f))


def _names(paths: list[str]) -> str:
    names = [os.path.basename(p) for p in paths]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def claim_training_run(cfg: Mapping, output_dir: str, folders: list[str] = (),
                       log: Callable[[str], None] = print) -> list[Claim]:
    """Hold ``output_dir`` and those of ``folders`` (snapshot, log folder) outside it for this training run
    (exclusive claims, `siamcorners.engine.claims`); released by `Claim.release` or when the process ends."""
    out = os.path.realpath(output_dir)
    places = [out] + [os.path.realpath(f) for f in folders
                      if not (os.path.realpath(f) + os.sep).startswith(out + os.sep)]
    held: list[Claim] = []
    try:
        for place in dict.fromkeys(places):
            held.append(claim(place, "train", training_config(cfg), f"{place} (training run folder)",
                              describe=lambda a, b: differences({"config": a}, {"config": b}),
                              how="choose a new OUTPUT_DIR (--opts OUTPUT_DIR path) for a new run", log=log))
    except BaseException:
        for c in held:
            c.release()
        raise
    return held


def check_resume_config(cfg: Mapping, path: str, label: str = "--resume") -> None:
    """A checkpoint resumed by path continues the run that wrote it: its stored training config must be ``cfg``'s."""
    from ..models.checkpoint import load_checkpoint

    saved = load_checkpoint(path).get("config")
    how = (f"resume it with the config stored in it, or start a new run from its weights with "
           f"--opts TRAIN.PRETRAINED {path}")
    if not isinstance(saved, Mapping):
        raise RunDirectoryError(f"{label} {path}: the checkpoint has no config, so the run it continues is unknown; "
                                f"start a new run from its weights with --opts TRAIN.PRETRAINED {path}")
    diff = _training_differences(saved, cfg)
    if diff:
        raise RunDirectoryError(
            f"{label} {path}: the checkpoint was made with another config (checkpoint -> now: {diff}); continuing "
            f"it with this config would make one run of two configs; {how}")


def _training_differences(saved: Mapping, cfg: Mapping) -> str:
    """The training-config keys that differ between a checkpoint's stored config and ``cfg``, as one
    ``KEY old -> new; ...`` text (at most 6, then ``...``); empty when none differ."""
    diff = differences({"config": training_config(saved)}, {"config": training_config(cfg)})
    return "; ".join(diff[:6] + (["..."] if len(diff) > 6 else []))


def claim_run_directory(cfg: Mapping, snapshot_dir: str, resume: str, overwrite: bool = False,
                        find_checkpoint: Optional[Callable[[str], Optional[str]]] = None,
                        log_dir: Optional[str] = None, config_path: Optional[str] = None, is_main: bool = True,
                        log: Callable[[str], None] = print, resume_label: str = "--resume",
                        check_resume: bool = True) -> None:
    """Refuse to mix two training runs in one snapshot folder (:class:`RunDirectoryError`).

    ``resume`` is what the run continues from: "" for a new run, "auto" or a checkpoint path. A folder with
    checkpoints accepts only a resumed run whose `training_config` equals the one stored in the folder's most
    advanced readable checkpoint (``find_checkpoint(snapshot_dir)``).
    ``overwrite`` (only for a new run) deletes the checkpoints, ``log_dir``'s ``train.log`` and TensorBoard
    files, and ``config_path`` (on the main process only). A ``resume`` path (``resume_label``: ``--resume`` or
    ``TRAIN.RESUME``) must hold the same `training_config`, wherever it is (`check_resume_config`; skipped with
    ``check_resume=False`` when the caller did it already).
    """
    existing = run_checkpoints(snapshot_dir)
    if resume and resume != "auto" and not overwrite and check_resume:
        check_resume_config(cfg, resume, resume_label)
    if overwrite:
        if resume:
            raise RunDirectoryError("--overwrite starts a new run; it cannot be combined with --resume")
        if is_main:
            old = existing[:]
            if log_dir and os.path.isdir(log_dir):
                old += [p for p in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")) if os.path.isfile(p)]
                old += [p for p in (os.path.join(log_dir, "train.log"),) if os.path.isfile(p)]
            if config_path and os.path.isfile(config_path):
                old.append(config_path)
            for path in old:
                os.remove(path)
            if existing:
                log(f"--overwrite: deleted {len(existing)} checkpoint(s) of the previous run in {snapshot_dir}")
        return
    if not existing:
        return
    how = ("choose a new OUTPUT_DIR (--opts OUTPUT_DIR path) for a new run, or --overwrite to delete the "
           "old run's checkpoints and logs")
    if not resume:
        raise RunDirectoryError(f"{snapshot_dir}: already holds checkpoints of a run ({_names(existing)}); a new run "
                                f"would replace them; continue it with --resume auto, {how}")
    from ..models.checkpoint import CheckpointError, load_checkpoint

    newest = find_checkpoint(snapshot_dir) if find_checkpoint else None
    if newest is None:
        raise RunDirectoryError(f"{snapshot_dir}: holds checkpoints ({_names(existing)}) but none can be read, so "
                                f"the run they belong to is unknown; {how}")
    try:
        saved = load_checkpoint(newest).get("config")
    except CheckpointError as e:
        raise RunDirectoryError(str(e)) from None
    if not isinstance(saved, Mapping):
        raise RunDirectoryError(f"{newest}: checkpoint has no config, so the run it belongs to is unknown; {how}")
    diff = _training_differences(saved, cfg)
    if diff:
        raise RunDirectoryError(
            f"{snapshot_dir}: holds a run with another config (checkpoint {os.path.basename(newest)} -> now: "
            f"{diff}); resuming it with this config would mix two runs; resume with the same config, or {how}")
