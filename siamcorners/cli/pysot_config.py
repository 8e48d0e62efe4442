"""Translate an official SiamCorners / pysot ``config.yaml`` (yacs keys) into this project's config keys.

``KEY_MAP`` is the mapping the README's "Coming from pysot" table shows; :func:`translate_official_config` applies
it and lists the keys it dropped (pysot leftovers the SiamCorners model does not use) or could not map.
``tools/convert_checkpoint.py --translate-config OFFICIAL.yaml OURS.yaml`` writes the result.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

__all__ = ["KEY_MAP", "DROPPED", "translate_official_config"]


def _levels(used_layers: Any) -> list[int]:  # pysot counts layer2..4 as 2..4; our LEVELS name conv3..conv5
    return [int(v) + 1 for v in used_layers]


def _first(values: Any) -> Any:  # ADJUST out_channels are per level; ours is one width for every level
    return values[0] if isinstance(values, (list, tuple)) else values


def _device(cuda: Any) -> str:
    return "auto" if cuda else "cpu"


# official key -> (our key(s), value transform or None)
KEY_MAP: dict[str, tuple[tuple[str, ...], Callable[[Any], Any] | None]] = {
    "CUDA": (("DEVICE",), _device),
    "BACKBONE.TYPE": (("MODEL.BACKBONE.TYPE",), None),
    "BACKBONE.KWARGS.used_layers": (("MODEL.LEVELS",), _levels),
    "BACKBONE.PRETRAINED": (("MODEL.BACKBONE.PRETRAINED",), None),
    "BACKBONE.TRAIN_LAYERS": (("MODEL.BACKBONE.TRAIN_LAYERS",), None),
    "BACKBONE.TRAIN_EPOCH": (("TRAIN.BACKBONE_EPOCH",), None),
    "BACKBONE.LAYERS_LR": (("TRAIN.BACKBONE_LR_MULT",), None),
    "ADJUST.KWARGS.out_channels": (("MODEL.NECK.OUT_CHANNELS", "MODEL.HEAD.CHANNELS"), _first),
    "TRACK.PENALTY_K": (("TRACK.PENALTY_K",), None),
    "TRACK.WINDOW_INFLUENCE": (("TRACK.WINDOW_INFLUENCE",), None),
    "TRACK.LR": (("TRACK.LR",), None),
    "TRACK.EXEMPLAR_SIZE": (("TRACK.EXEMPLAR_SIZE",), None),
    "TRACK.INSTANCE_SIZE": (("TRACK.INSTANCE_SIZE",), None),
    "TRACK.CONTEXT_AMOUNT": (("TRACK.CONTEXT_AMOUNT",), None),
    "TRAIN.EPOCH": (("TRAIN.EPOCHS",), None),
    "TRAIN.START_EPOCH": (("TRAIN.START_EPOCH",), None),
    "TRAIN.BATCH_SIZE": (("TRAIN.BATCH_SIZE",), None),
    "TRAIN.NUM_WORKERS": (("TRAIN.NUM_WORKERS",), None),
    "TRAIN.BASE_LR": (("TRAIN.BASE_LR",), None),
    "TRAIN.MOMENTUM": (("TRAIN.MOMENTUM",), None),
    "TRAIN.WEIGHT_DECAY": (("TRAIN.WEIGHT_DECAY",), None),
    "TRAIN.GRAD_CLIP": (("TRAIN.GRAD_CLIP",), None),
    "TRAIN.PRINT_FREQ": (("TRAIN.PRINT_FREQ",), None),
    "TRAIN.RESUME": (("TRAIN.RESUME",), None),
    "TRAIN.PRETRAINED": (("TRAIN.PRETRAINED",), None),
    "TRAIN.LR.TYPE": (("TRAIN.LR.TYPE",), None),
    "TRAIN.LR.KWARGS.start_lr": (("TRAIN.LR.START_LR",), None),
    "TRAIN.LR.KWARGS.end_lr": (("TRAIN.LR.END_LR",), None),
    "TRAIN.LR.KWARGS.step": (("TRAIN.LR.STEP",), None),
    "TRAIN.LR_WARMUP.WARMUP": (("TRAIN.WARMUP.ENABLED",), bool),
    "TRAIN.LR_WARMUP.TYPE": (("TRAIN.WARMUP.TYPE",), None),
    "TRAIN.LR_WARMUP.EPOCH": (("TRAIN.WARMUP.EPOCHS",), None),
    "TRAIN.LR_WARMUP.KWARGS.start_lr": (("TRAIN.WARMUP.START_LR",), None),
    "TRAIN.LR_WARMUP.KWARGS.end_lr": (("TRAIN.WARMUP.END_LR",), None),
    "TRAIN.LR_WARMUP.KWARGS.step": (("TRAIN.WARMUP.STEP",), None),
    "DATASET.NAMES": (("DATASET.NAMES",), None),
    "DATASET.NEG": (("DATASET.NEG",), None),
    "DATASET.GRAY": (("DATASET.GRAY",), None),
    "DATASET.VIDEOS_PER_EPOCH": (("DATASET.VIDEOS_PER_EPOCH",), None),
}
for _branch in ("TEMPLATE", "SEARCH"):
    for _k in ("SHIFT", "SCALE", "BLUR", "FLIP", "COLOR"):
        KEY_MAP[f"DATASET.{_branch}.{_k}"] = ((f"DATASET.{_branch}.{_k}",), None)
_SOURCES = ("VID", "YOUTUBEBB", "COCO", "DET", "GOT10K", "LASOT")
for _src in _SOURCES:
    for _k in ("ROOT", "ANNO", "FRAME_RANGE", "NUM_USE"):
        KEY_MAP[f"DATASET.{_src}.{_k}"] = ((f"DATASET.SOURCES.{_src}.{_k}",), None)

# official keys with no counterpart: pysot leftovers the SiamCorners model never reads (reference §1.2), and
# paths whose meaning differs (SNAPSHOT_DIR / LOG_DIR are relative to OUTPUT_DIR here)
DROPPED_PREFIXES = ("META_ARC", "RPN.", "MASK.", "REFINE.", "ANCHOR.", "ADJUST.ADJUST", "ADJUST.TYPE",
                    "ADJUST.KWARGS.in_channels", "BACKBONE.KWARGS.", "TRACK.TYPE", "TRACK.BASE_SIZE",
                    "TRAIN.CLS_WEIGHT", "TRAIN.LOC_WEIGHT", "TRAIN.MASK_WEIGHT", "TRAIN.THR_", "TRAIN.POS_NUM",
                    "TRAIN.NEG_NUM", "TRAIN.TOTAL_NUM", "TRAIN.OUTPUT_SIZE", "TRAIN.BASE_SIZE", "TRAIN.EXEMPLAR_SIZE",
                    "TRAIN.SEARCH_SIZE", "TRAIN.LOG_GRADS", "TRAIN.SNAPSHOT_DIR", "TRAIN.LOG_DIR", "corners.",
                    "atts.", "offs.", "TRACK.MASK", "TRACK.REFINE", "TRACK.LOST", "TRACK.CONFIDENCE")
DROPPED = DROPPED_PREFIXES


def _flatten(node: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in node.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _set(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        tree = tree.setdefault(p, {})
    tree[parts[-1]] = value


def translate_official_config(official: Mapping) -> tuple[dict, list[str], list[str]]:
    """Official yacs config (a loaded YAML mapping) -> (our nested config dict, dropped keys, unknown keys).

    Dropped keys are pysot leftovers with no effect on SiamCorners; unknown keys are neither mapped nor known
    leftovers (report them to the user)."""
    ours: dict = {}
    dropped, unknown = [], []
    for key, value in _flatten(official).items():
        if key in KEY_MAP:
            targets, fn = KEY_MAP[key]
            for target in targets:
                _set(ours, target, fn(value) if fn is not None else value)
        elif key.startswith(DROPPED_PREFIXES):
            dropped.append(key)
        else:
            unknown.append(key)
    names = ours.get("DATASET", {}).get("NAMES")
    if names is not None:
        for source in list(ours["DATASET"].get("SOURCES", {})):
            if source not in names:
                del ours["DATASET"]["SOURCES"][source]
    return ours, dropped, unknown
