"""Checks and helpers of the tracking programs that need the model or the tracker: does a snapshot fit the
config (and if not, which config does), ``test.py --vis``, what an interrupted run kept."""
from __future__ import annotations

import glob
import os
from typing import Any, Mapping

from .common import UserError, shown_path

__all__ = ["check_snapshot_fits", "VisFactory", "vis_display_problem", "finished_videos"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: list(node) if isinstance(node, tuple) else node}


def _model_keys(cfg: Mapping) -> dict[str, Any]:
    """The MODEL section flattened, without the keys that do not change the weights' names or shapes."""
    flat = _flat(cfg.get("MODEL", {}), "MODEL.")
    return {k: v for k, v in flat.items() if k != "MODEL.BACKBONE.PRETRAINED" and not k.startswith("MODEL.INPUT.")}


def _fitting_configs(wanted: Mapping[str, Any]) -> list[str]:
    """Shipped configs whose MODEL keys equal ``wanted`` on every key listed there."""
    from ..config import ConfigError, load_config

    found = []
    paths = sorted(glob.glob(os.path.join(ROOT, "experiments", "*", "config.yaml"))
                   + glob.glob(os.path.join(ROOT, "configs", "*.yaml")))
    for path in paths:
        try:
            keys = _model_keys(load_config(path))
        except (ConfigError, OSError):
            continue
        if all(keys.get(k) == v for k, v in wanted.items()):
            found.append(shown_path(path))
    return found


def _mismatch_hint(cfg: Mapping, saved: Mapping | None) -> str:
    if not isinstance(saved, Mapping):
        return "the checkpoint stores no config; test it with the config it was trained with"
    ours, theirs = _model_keys(cfg), _model_keys(saved)
    differ = {k: theirs[k] for k in theirs if k in ours and ours[k] != theirs[k]}
    if not differ:
        return "its stored config has the same MODEL keys; the file was probably written by other code"
    shown = list(differ.items())[:4]
    diff = ", ".join(f"{k} {v!r} (config: {ours[k]!r})" for k, v in shown)
    fits = _fitting_configs(differ)
    opts = " ".join(f"{k} {_yaml(v)}" for k, v in differ.items())
    fix = ("use " + " or ".join(f"--cfg {f}" for f in fits[:3])) if fits else "use the config it was trained with"
    return f"it was trained with {diff}; {fix}, or add --opts {opts}"


def _yaml(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_snapshot_fits(cfg: Mapping, cfg_path: str | None, snapshot: str) -> None:
    """Read ``snapshot`` and check its tensors against the model ``cfg`` builds, before any tracking.

    Unreadable / foreign files raise :class:`~siamcorners.models.checkpoint.CheckpointError` (one line naming the
    file); an architecture mismatch raises :class:`UserError` saying which config (or ``--opts``) fits."""
    import torch

    from ..models import build_model
    from ..models.checkpoint import CheckpointError, load_checkpoint

    ckpt = load_checkpoint(snapshot)
    state = ckpt["model"]
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{snapshot}: the 'model' entry holds non-tensor values ({', '.join(map(str, bad[:3]))})")
    own = build_model(cfg).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        counts = ", ".join(f"{len(v)} {n}" for n, v in (("missing", missing), ("unexpected", unexpected),
                                                        ("shape-mismatched", shapes)) if v)
        raise UserError(f"{snapshot}: does not fit the model of {cfg_path or 'the default config'} ({counts} "
                        f"tensors); {_mismatch_hint(cfg, ckpt.get('config'))}")


def vis_display_problem() -> str:
    """Why ``--vis`` cannot show frames here ("" when it can)."""
    from ..tracker.video_io import display_available

    if display_available():
        return ""
    return ("no display to show frames on (DISPLAY/WAYLAND_DISPLAY unset, or OpenCV built without GUI support: "
            "pip install opencv-python instead of opencv-python-headless); tracking without showing")


class _VisTracker:
    """Shows every frame with the tracker's box while delegating to the wrapped tracker."""

    def __init__(self, tracker: Any):
        self.tracker, self.viewer, self.index = tracker, None, 0

    def _show(self, frame, box, score) -> None:
        from ..tracker.video_io import Viewer, draw_track

        if self.viewer is None:
            self.viewer = Viewer("SiamCorners test.py --vis")
        self.viewer.show(draw_track(frame, box, score, text=f"#{self.index + 1}", legend=True))

    def init(self, frame, box) -> None:
        self.tracker.init(frame, box)
        self.index = 0
        self._show(frame, box, None)

    def track(self, frame) -> dict:
        out = self.tracker.track(frame)
        self.index += 1
        self._show(frame, out["bbox"], out.get("score"))
        return out


class VisFactory:
    """Wraps a tracker factory so that the trackers it builds show their frames (``test.py --vis``)."""

    def __init__(self, factory: Any):
        self.factory = factory

    def __call__(self, device: str) -> _VisTracker:
        return _VisTracker(self.factory(device))


def finished_videos(dataset, tracker_dir: str) -> int:
    """How many videos of ``dataset`` have complete result files in ``tracker_dir``."""
    from ..benchmarks.results import layout_for

    layout = layout_for(dataset.kind)
    return sum(layout.is_done(tracker_dir, s.name) for s in dataset)
