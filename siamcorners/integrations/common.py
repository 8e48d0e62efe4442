"""Build the SiamCorners tracker from a config (path or loaded tree) and a snapshot, for the integrations."""
from __future__ import annotations

import os
from typing import Mapping, Sequence, Union

__all__ = ["build_tracker", "default_tracker_name", "resolve_config"]


def resolve_config(cfg: Union[str, os.PathLike, Mapping], opts: Sequence[str] = ()) -> Mapping:
    """A YAML path (+ ``opts`` overrides) -> the loaded config; a loaded config is returned as it is."""
    from ..config import load_config

    if isinstance(cfg, (str, os.PathLike)):
        return load_config(os.fspath(cfg), list(opts))
    if opts:
        raise ValueError("opts apply to a config file; merge them into a loaded config yourself (merge_opts)")
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be a config file path or a loaded config, got {type(cfg).__name__}")
    return cfg


def build_tracker(cfg: Union[str, os.PathLike, Mapping], snapshot: Union[str, os.PathLike],
                  device: str | None = None, opts: Sequence[str] = ()):
    """A ready :class:`~siamcorners.tracker.SiamCornersTracker`: ``cfg`` is a YAML path or a loaded config
    (``load_config``), ``snapshot`` a checkpoint in our format; ``device`` None follows ``cfg.DEVICE``."""
    from ..models import build_model
    from ..models.checkpoint import load_checkpoint
    from ..tracker import SiamCornersTracker

    cfg = resolve_config(cfg, opts)
    snapshot = os.fspath(snapshot)
    if not os.path.isfile(snapshot):
        raise FileNotFoundError(f"{snapshot}: snapshot not found")
    model = build_model(cfg)
    load_checkpoint(snapshot, model=model)
    return SiamCornersTracker(model, cfg, device=device)


def default_tracker_name(snapshot: Union[str, os.PathLike]) -> str:
    """The snapshot's file name without extension: the results folder name ``tools/test.py`` uses too."""
    return os.path.splitext(os.path.basename(os.fspath(snapshot)))[0]
