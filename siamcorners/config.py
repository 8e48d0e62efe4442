"""One defaults tree for every run; YAML files and command-line options override it.

Usage::

    cfg = load_config("experiments/siamcorners_r50/config.yaml", opts=["TRAIN.EPOCHS", "5"])
    model = build_model(cfg)            # modules receive values, never read a global config

Rules:

* a YAML file may start with ``_BASE_: <path relative to the file>``; the base is loaded first;
* every key must already exist in the defaults (`DEFAULTS`); an unknown key is an error naming the
  file and the key, with a "did you mean" suggestion;
* a value must have the default's type (an int is accepted where a float is expected, a list where a
  tuple is expected); keys listed in `_FREE_TYPE` accept anything YAML can express;
* `save_config(cfg, path)` writes the fully resolved tree beside a run's outputs.
"""
from __future__ import annotations

import ast
import copy
import difflib
import os
import re
from typing import Any, Iterable, Mapping, Sequence

import yaml

__all__ = [
    "CfgNode",
    "ConfigError",
    "DEFAULTS",
    "get_default_config",
    "load_config",
    "merge_opts",
    "save_config",
]


class ConfigError(ValueError):
    """A configuration file or override is wrong; the message names the source and the key."""


class CfgNode(dict):
    """A dict with attribute access (``cfg.TRACK.LR``) that can be frozen against changes."""

    def __init__(self, init: Mapping | None = None):
        super().__init__()
        object.__setattr__(self, "_frozen", False)
        for k, v in (init or {}).items():
            self[k] = CfgNode(v) if isinstance(v, Mapping) and not isinstance(v, CfgNode) else v

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if self._frozen:
            raise ConfigError(f"config is frozen; cannot set {key!r} (use cfg.clone() first)")
        super().__setitem__(key, value)

    def freeze(self) -> "CfgNode":
        object.__setattr__(self, "_frozen", True)
        for v in self.values():
            if isinstance(v, CfgNode):
                v.freeze()
        return self

    def defrost(self) -> "CfgNode":
        object.__setattr__(self, "_frozen", False)
        for v in self.values():
            if isinstance(v, CfgNode):
                v.defrost()
        return self

    def clone(self) -> "CfgNode":
        return CfgNode(to_dict(self))

    def __deepcopy__(self, memo):
        return self.clone()

    def __reduce__(self):  # picklable for DataLoader workers / multiprocessing
        return (_rebuild, (to_dict(self), self._frozen))


def _rebuild(d: dict, frozen: bool) -> CfgNode:
    node = CfgNode(d)
    return node.freeze() if frozen else node


def to_dict(node: Mapping) -> dict:
    return {k: to_dict(v) if isinstance(v, Mapping) else copy.deepcopy(v) for k, v in node.items()}


# ---------------------------------------------------------------------------------------------
# The defaults tree. The values are the *official implementation's* behaviour (pysot fork
# yangkai12/SiamCorners @7ffe82a) unless a comment says otherwise; the paper-profile experiment
# flips the switches marked "PAPER≠CODE #n" (numbers refer to section 12 of
# shared/reference/siamcorners-reference.md).
# ---------------------------------------------------------------------------------------------
DEFAULTS: dict = {
    "NAME": "siamcorners",            # experiment name, used for result folders
    "OUTPUT_DIR": "",                 # "" = the directory of the config file
    "SEED": 123456,
    "DEVICE": "auto",                 # "auto" (cuda if available), "cpu", "cuda", "cuda:1"
    "MODEL": {
        "LEVELS": [3, 4, 5],          # backbone stages used: any subset of conv3/conv4/conv5 (Table III)
        "BACKBONE": {
            "TYPE": "resnet50",       # "resnet50" (official geometry), "resnet18_small" (CPU experiments) or
                                      # "mobilenetv2" (pysot's dilated MobileNetV2, light real-time profile)
            "WIDTH": 64,              # stem width of the small backbone (ignored by resnet50)
            "WIDTH_MULT": 1.4,        # mobilenetv2 channel multiplier: 1.4 = pysot's (levels 44/134/448 channels);
                                      # 1.0 = torchvision's ImageNet file (32/96/320); ignored by the ResNets
            "PRETRAINED": "",         # local file: pysot resnet50.model or torchvision resnet50 / mobilenet_v2 state dict
            "FROZEN_BN": False,       # BatchNorm layers of the backbone always in eval mode
            "TRAIN_LAYERS": ["layer2", "layer3", "layer4"],  # PAPER≠CODE #9: backbone children unfrozen at
                                      # TRAIN.BACKBONE_EPOCH (their BN train too): conv1, bn1, layer1..layer4
        },
        "NECK": {
            "OUT_CHANNELS": 256,
            "CENTER_SIZE": 7,         # template features are centre-cropped to this size
            "CROP_BELOW": 20,         # the crop applies to feature maps narrower than this (templates)
        },
        "HEAD": {
            "CHANNELS": 256,          # must equal NECK.OUT_CHANNELS
            "POOL_CHANNELS": 128,     # channels of p1_conv1 / p2_conv1 inside the corner-pool module
            "CORNER_POOL": "mcp",     # "mcp" modified corner pooling (paper) or "ocp" original CornerNet pooling
            "TEMPLATES": "four",      # "four" boundary templates (FRT) or "unified" one template (OUT)
            "OFFSETS": True,          # predict sub-cell offsets (Table III ablation)
            "SEARCH_CONV": False,     # PAPER≠CODE #8: paper draws a conv on the search branch too
            "HEAD_BN": False,         # PAPER≠CODE #7: paper heads are 3x3 Conv-BN-ReLU-Conv
            "HEAD_LAST_KERNEL": 1,    # PAPER≠CODE #7: kernel of the last head conv (paper figure: 3)
            "HEAT_BIAS_INIT": -2.19,  # final heat-logit bias (sigmoid ~= 0.1)
            "POOL_IMPL": "cummax",    # directional max: "cummax" or "logstep" (same values)
            "POOL_TIE_RULE": "official",  # gradient on ties: "official" (C++ ext) or "cummax" (autograd)
        },
        "INPUT": {
            "NORMALIZE": False,       # official: raw BGR 0..255, no mean/std
            "MEAN": [0.0, 0.0, 0.0],  # BGR means subtracted when NORMALIZE
            "STD": [1.0, 1.0, 1.0],
        },
    },
    "HEATMAP": {
        "SIZE": 25,                   # output map side (31 - 7 + 1)
        "STRIDE": 10.2,               # PAPER≠CODE #14: search-crop pixels per heat cell (255/25); paper: 8
        "ORIGIN": 0.0,                # crop pixel of heat cell 0 (stride-8 geometry: 31.0)
        "TRUNCATE": True,             # int() truncation toward zero (official) instead of floor
    },
    "LABEL": {
        "GAUSSIAN_IOU": 0.5,          # min IoU used for the Gaussian radius
        "SIGMA": "diameter",          # PAPER≠CODE #4: "diameter" sigma=(2r+1)/6 (code) or "radius" sigma=r/3
        "MIN_SCALE": 16,              # boxes whose longest side is below this are invalid
    },
    "LOSS": {
        "ALPHA": 2.0,
        "BETA": 4.0,
        "OFFSET_WEIGHT": 1.0,
        "FOCAL_NORM": "num_pos",      # PAPER≠CODE #5: "num_pos" batch positives (code), "num_pos_per_level" masked
                                      # batch positives, "per_heatmap" eq. 1 per heat map, K = its corners (paper)
        "OFFSET_NORM": "num_objects", # PAPER≠CODE #6: "num_objects" (code: B) or "num_pos" (eq. 3: on-map corners)
        "LEVEL_REDUCTION": "mean",    # PAPER≠CODE #5/#6: "mean" level sums / number of levels (code), "sum" (paper)
    },
    "DECODE": {
        "TOPK": 12,                   # PAPER≠CODE #2: corners per heatmap (paper: 15)
        "NMS_KERNEL": 1,              # PAPER≠CODE #1: max-pool NMS kernel (1 = no suppression; paper: 3)
        "NUM_PAIRS": 15,              # pairs kept per level
    },
    "TRACK": {
        "EXEMPLAR_SIZE": 127,
        "INSTANCE_SIZE": 255,
        "CONTEXT_AMOUNT": 0.5,
        "PENALTY_K": 0.04,            # eta of eq. 9
        "WINDOW_INFLUENCE": 0.011,    # gamma of eq. 10
        "LR": 0.39,                   # size-smoothing rate, multiplied by penalty * score
        "HANNING_SIZE": 90,           # the first half (45) of np.hanning(90) is used
        "PENALTY_FORM": "siamrpn",    # PAPER≠CODE #3: "siamrpn" exp(-(rc*sc-1)k) or "paper" exp(-k*rc*sc)
        "PENALTY_SCALE_BUG": True,    # PAPER≠CODE #3: official compares image-scale size with template-scale size
        "VARIATION": "half",          # PAPER≠CODE #15: "half" 0.5/0.5 weights (code) or "sum" (paper)
        "SMOOTH_CENTER": False,       # PAPER≠CODE #16: also interpolate the centre
        "BOX_MAPPING": "official",    # "official" floor-based crop->image mapping, or "exact"
        "TEMPLATE_FILL": "mean",      # PAPER≠CODE #12: "mean" frame colour (tracking code) or "constant"
        "TEMPLATE_FILL_VALUE": [87, 135, 123],  # BGR constant used when TEMPLATE_FILL == "constant"
        "TEMPLATE_OUTLINE": True,     # PAPER≠CODE #12: the 1-px red box outline the released model saw
        "TEMPLATE_FRACTION": 0.5,     # t_{w,h}: boundary templates keep this fraction of the box
        "MIN_SIZE": 10,               # clip: minimum box side in pixels
        "NO_VALID_PAIR": "official",  # every candidate rejected (all scores -1): "official" = still take the argmax,
                                      # size rate penalty*score*LR < 0 so the size extrapolates (official code);
                                      # "hold" = keep the previous centre and size, report score -1
    },
    "DATASET": {
        "NAMES": ["SYNTHETIC"],       # training sources, each configured below
        "VIDEOS_PER_EPOCH": 1000000,
        "NEG": 0.2,                   # PAPER≠CODE #13: probability of an unrelated template
        "NEG_LABELS": "search",       # "search": labelled on the search target (official); "none": empty heat maps
                                      # trained towards 0 everywhere, no offset loss (see losses.py)
        "GRAY": 0.0,
        "TEMPLATE_FILL_VALUE": [87, 135, 123],  # PAPER≠CODE #12 (training templates)
        "TEMPLATE_OUTLINE": True,
        "TEMPLATE": {"SHIFT": 4, "SCALE": 0.05, "BLUR": 0.0, "FLIP": 0.0, "COLOR": 1.0},
        "SEARCH": {"SHIFT": 64, "SCALE": 0.18, "BLUR": 0.2, "FLIP": 0.0, "COLOR": 1.0},
        "BRIGHTNESS": 0.0,            # PAPER≠CODE #11: paper lists brightness/contrast jitter
        "CONTRAST": 0.0,
        "SOURCES": {
            "VID": {"ROOT": "training_dataset/vid/crop511", "ANNO": "training_dataset/vid/train.json",
                    "FRAME_RANGE": 100, "NUM_USE": 100000},
            "YOUTUBEBB": {"ROOT": "training_dataset/yt_bb/crop511", "ANNO": "training_dataset/yt_bb/train.json",
                          "FRAME_RANGE": 3, "NUM_USE": -1},
            "COCO": {"ROOT": "training_dataset/coco/crop511", "ANNO": "training_dataset/coco/train2017.json",
                     "FRAME_RANGE": 1, "NUM_USE": -1},
            "DET": {"ROOT": "training_dataset/det/crop511", "ANNO": "training_dataset/det/train.json",
                    "FRAME_RANGE": 1, "NUM_USE": -1},
            "GOT10K": {"ROOT": "training_dataset/got10k/crop511", "ANNO": "training_dataset/got10k/train.json",
                       "FRAME_RANGE": 100, "NUM_USE": 200000},
            "LASOT": {"ROOT": "training_dataset/lasot/crop511", "ANNO": "training_dataset/lasot/train.json",
                      "FRAME_RANGE": 100, "NUM_USE": 200000},
            "OWN": {"ROOT": "training_dataset/own/crop511", "ANNO": "training_dataset/own/train.json",
                    "FRAME_RANGE": 100, "NUM_USE": -1},  # your own videos: tools/prepare/sequences.py (README)
            "STILLS": {"ROOT": "training_dataset/stills", "ANNO": "", "FRAME_RANGE": 1, "NUM_USE": -1, "SEED": 0,
                       "PASTE": 0.5, "CANVAS": [360, 480], "BLUR": 0.3},  # photos: tools/prepare/stills.py, data/stills.py
            "SYNTHETIC": {"ROOT": "", "ANNO": "", "FRAME_RANGE": 30, "NUM_USE": 2000, "SEED": 0,
                          "FRAMES": 60, "IMAGE_SIZE": [240, 320],
                          "VIDEOS": 200},  # videos make_video((SEED, k)), k < VIDEOS (= write_otb_dataset(seed=SEED))
        },
    },
    "TRAIN": {
        "EPOCHS": 20,
        "START_EPOCH": 0,
        "BATCH_SIZE": 58,             # PAPER≠CODE #10: pairs per step, read as BATCH_SIZE_MODE says
        "BATCH_SIZE_MODE": "per_process",  # "per_process": each of N processes takes BATCH_SIZE (official: 58 x N);
                                      # "total": BATCH_SIZE over all processes, BATCH_SIZE / N each (must divide)
        "NUM_WORKERS": 4,
        "NUM_THREADS": 0,             # torch intra-op CPU threads per process (0 = torch's default)
        "BASE_LR": 0.005,
        "MOMENTUM": 0.9,
        "WEIGHT_DECAY": 0.0001,
        "GRAD_CLIP": 10.0,
        "LR": {"TYPE": "log", "START_LR": 0.005, "END_LR": 0.0005, "STEP": 1},  # STEP: epochs per step ("step")
        "WARMUP": {"ENABLED": True, "TYPE": "step", "EPOCHS": 5, "START_LR": 0.001, "END_LR": 0.005, "STEP": 1},
        "BACKBONE_EPOCH": 30,         # PAPER≠CODE #9: epoch at which TRAIN_LAYERS unfreeze (30 > 20: never)
        "BACKBONE_LR_MULT": 0.1,
        "GRAD_REDUCE": "sum",         # PAPER≠CODE #10: gradients "sum"med across ranks (official) or "mean"
        "SYNC_BN": False,
        "AMP": False,                 # mixed precision on CUDA
        "PRINT_FREQ": 20,
        "RESUME": "",
        "PRETRAINED": "",
        "SNAPSHOT_DIR": "snapshot",   # relative to OUTPUT_DIR
        "CHECKPOINT_ITERS": 500,      # mid-epoch "last.pth" every this many iterations (0 = only per epoch)
        "STOP_AFTER_ITERS": 0,        # stop (as if killed) after this many iterations of this run; 0 = off
        "LOG_DIR": "logs",            # relative to OUTPUT_DIR
        "IMAGE_SUMMARY_ITERS": 200,   # TensorBoard images of 4 fixed training pairs (templates, search crop, predicted
                                      # and target corner heat maps) every this many iterations; 0 = off
    },
    "TEST": {
        "SNAPSHOT": "",
        "RESULTS_DIR": "results",     # relative to OUTPUT_DIR
        "INIT_BOX": "pysot",          # ground-truth row -> init box: "pysot" = official/pysot test.py rule
                                      # (get_axis_aligned_bbox: [x+0.5, y+0.5, w, h]; polygons: area-preserving
                                      # box), "raw" = the row as given (polygons: min-max box); regions.py
        "FIRST_FRAME_BOX": "official",  # frame-0 line of a result file: "official" = what the official test.py
                                        # writes (the init list its tracker overwrote: box corners in template-
                                        # patch pixels), "init" = the init box [x, y, w, h] (pysot toolkit)
    },
    "INFERENCE": {                    # how the network runs when tracking (models/runtime/); exact = same boxes
        "PRECOMPUTE_TEMPLATE": True,  # template kernels (backbone, neck, 1x1 convs) once at init, not per frame
        # On by default: exact on every device (boxes equal the plain model's to float rounding, <= 0.01 px on
        # bag.avi, tests/test_speed_switches.py) and they remove work: BN passes, the dense offset heads, 60 % of
        # the multiplications of the two largest convolutions.
        "FOLD_BN": True,              # fold eval-mode BatchNorm into the preceding convolutions
        "SPARSE_OFFSETS": True,       # offset heads evaluated only at the decoded top-k corners
        "CHANNELS_LAST": False,       # channels-last memory format for the backbone and neck (exact, but 2-5 %
                                      # slower on the 2-core AVX2 CPU with torch 2.14, docs/benchmarks.md)
        "WINOGRAD": True,             # the backbone's large 3x3 convs (dilated downsample convs, layer 4) as
                                      # Winograd F(4x4, 3x3) matrix products on float32 CPU inputs (runtime/
                                      # winograd.py; 1e-5 relative rounding; R50 backbone ~1.4x faster on a CPU,
                                      # ~0.5 GB more memory; CUDA keeps cuDNN's convs)
        "BATCH_BRANCHES": False,      # TL/BR branches and all levels as grouped convolutions (exact; slower on CPU)
        "AMP": "off",                 # "off", "fp16" or "bf16" autocast of the search branch (CUDA; bf16 also CPU;
                                      # not exact: tools/benchmark.py speed --precision shows FPS and AUC change)
        "COMPILE": False,             # torch.compile the search network
        "DEVICE_CROP": False,         # search crop + resize on the model's device (torch) instead of OpenCV
        "BACKEND": "torch",           # "torch": eager PyTorch; "onnxruntime": exported ONNX graphs in ONNX Runtime
                                      # (pip install siamcorners[onnx]; the recommended CPU setting, README)
        "ONNX_DIR": "",               # onnxruntime: folder from tools/export.py ("": export on first use into
                                      # ONNX_CACHE, one sub-folder per weights + MODEL config hash)
        "ONNX_CACHE": "",             # "": $XDG_CACHE_HOME/siamcorners/onnx (default ~/.cache/siamcorners/onnx)
        "INT8": False,                # onnxruntime: int8 search graph (static quantisation; not exact)
        "INT8_CALIBRATION": 32,       # synthetic training pairs used to calibrate the int8 graph
    },
}

# keys whose value may be of any type (None allowed, etc.)
_FREE_TYPE: set[str] = set()


def get_default_config() -> CfgNode:
    """A fresh, unfrozen copy of the defaults tree."""
    return CfgNode(copy.deepcopy(DEFAULTS))


# ------------------------------------------------------------------------------------ merging
def _type_ok(default: Any, value: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    return isinstance(value, type(default))


def _coerce(default: Any, value: Any) -> Any:
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, (list, tuple)) and isinstance(value, tuple):
        return list(value)
    return value


def _suggest(key: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _merge(dst: CfgNode, src: Mapping, source: str, prefix: str = "") -> None:
    for key, value in src.items():
        full = f"{prefix}{key}"
        if key not in dst:
            raise ConfigError(f"{source}: unknown config key {full!r}{_suggest(key, dst.keys())}")
        default = dst[key]
        if isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: key {full!r} must be a mapping, got {type(value).__name__}")
            _merge(default, value, source, full + ".")
            continue
        if full not in _FREE_TYPE and not _type_ok(default, value):
            raise ConfigError(
                f"{source}: key {full!r} expects {type(default).__name__} (default {default!r}), "
                f"got {type(value).__name__} {value!r}"
            )
        dst[key] = _coerce(default, value)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with two fixes: ``1e-4`` is a float (YAML 1.2, like ``--opts`` users expect; YAML
    1.1 needs ``1.0e-4``), and a key given twice in one mapping is an error naming both lines."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if first is not None:
                raise _DuplicateKey(key, first, key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, second: int):
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


_FLOAT_RE = r"""^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"""
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_FLOAT_RE),
                              list("-+0123456789."))


def _load_yaml_text(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except _DuplicateKey as e:
        raise ConfigError(f"{source}:{e.second}: duplicate key {e.key!r} (first given at line {e.first}); "
                          f"keep one of them") from None


def _read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8") \
            from None
    try:
        data = _load_yaml_text(text, path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of config keys")
    return data


def merge_file(cfg: CfgNode, path: str, _seen: tuple = ()) -> None:
    """Merge a YAML file (and its ``_BASE_`` chain) into ``cfg``."""
    path = os.path.abspath(path)
    if path in _seen:
        raise ConfigError(f"{path}: _BASE_ inheritance cycle")
    data = _read_yaml(path)
    base = data.pop("_BASE_", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: _BASE_ must be a relative path string")
        base_path = os.path.join(os.path.dirname(path), base)
        if not os.path.isfile(base_path):
            raise ConfigError(f"{path}: _BASE_ {base!r} not found (looked for {os.path.normpath(base_path)})")
        merge_file(cfg, base_path, _seen + (path,))
    _merge(cfg, data, path)


def _parse_value(text: str) -> Any:
    try:
        return _load_yaml_text(text, "--opts")
    except yaml.YAMLError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


def merge_opts(cfg: CfgNode, opts: Sequence[str], source: str = "--opts") -> None:
    """Merge ``["KEY.SUB", "value", ...]`` pairs (values parsed as YAML: ``5``, ``[3,4]``, ``true``)."""
    if len(opts) % 2:
        raise ConfigError(f"{source}: expects KEY VALUE pairs, got an odd number of items: {list(opts)}")
    for key, text in zip(opts[0::2], opts[1::2]):
        node: Any = {}
        cursor = node
        parts = key.split(".")
        for p in parts[:-1]:
            cursor[p] = {}
            cursor = cursor[p]
        cursor[parts[-1]] = _parse_value(text)
        _merge(cfg, node, source)


def load_config(path: str | None = None, opts: Sequence[str] | None = None, freeze: bool = True) -> CfgNode:
    """Defaults <- YAML file (with ``_BASE_``) <- command-line ``opts``; returns a frozen tree.

    ``OUTPUT_DIR`` defaults to the directory of the config file (or the working directory).
    """
    cfg = get_default_config()
    if path:
        merge_file(cfg, path)
    if opts:
        merge_opts(cfg, opts)
    if not cfg.OUTPUT_DIR:
        cfg.OUTPUT_DIR = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    validate(cfg, path or "<defaults>")
    return cfg.freeze() if freeze else cfg


_CHOICES = {
    "MODEL.BACKBONE.TYPE": ("resnet50", "resnet18_small", "mobilenetv2"),
    "MODEL.HEAD.CORNER_POOL": ("mcp", "ocp"),
    "MODEL.HEAD.TEMPLATES": ("four", "unified"),
    "MODEL.HEAD.POOL_IMPL": ("cummax", "logstep"),
    "MODEL.HEAD.POOL_TIE_RULE": ("official", "cummax"),
    "LABEL.SIGMA": ("diameter", "radius"),
    "LOSS.FOCAL_NORM": ("num_pos", "num_pos_per_level", "per_heatmap"),
    "LOSS.OFFSET_NORM": ("num_objects", "num_pos"),
    "LOSS.LEVEL_REDUCTION": ("mean", "sum"),
    "TRACK.PENALTY_FORM": ("siamrpn", "paper"),
    "TRACK.VARIATION": ("half", "sum"),
    "TRACK.BOX_MAPPING": ("official", "exact"),
    "TRACK.TEMPLATE_FILL": ("mean", "constant"),
    "TRACK.NO_VALID_PAIR": ("official", "hold"),
    "TEST.INIT_BOX": ("pysot", "raw"),
    "TEST.FIRST_FRAME_BOX": ("official", "init"),
    "DATASET.NEG_LABELS": ("search", "none"),
    "TRAIN.GRAD_REDUCE": ("mean", "sum"),
    "TRAIN.BATCH_SIZE_MODE": ("per_process", "total"),
    "INFERENCE.AMP": ("off", "fp16", "bf16"),
    "INFERENCE.BACKEND": ("torch", "onnxruntime"),
    "TRAIN.LR.TYPE": ("log", "step", "cos", "linear"),
    "TRAIN.WARMUP.TYPE": ("step", "linear"),
}


def _get(cfg: Mapping, dotted: str) -> Any:
    node: Any = cfg
    for p in dotted.split("."):
        node = node[p]
    return node


def validate(cfg: CfgNode, source: str) -> None:
    """Checks that need more than a type: enumerations and value ranges."""
    for key, choices in _CHOICES.items():
        value = _get(cfg, key)
        if value not in choices:
            raise ConfigError(f"{source}: key {key!r} must be one of {list(choices)}, got {value!r}"
                              f"{_suggest(str(value), choices)}")
    levels = cfg.MODEL.LEVELS
    if not levels or any(lv not in (3, 4, 5) for lv in levels) or len(set(levels)) != len(levels):
        raise ConfigError(f"{source}: key 'MODEL.LEVELS' must be a non-empty subset of [3, 4, 5], got {levels!r}")
    if cfg.MODEL.HEAD.CHANNELS != cfg.MODEL.NECK.OUT_CHANNELS:
        raise ConfigError(f"{source}: key 'MODEL.HEAD.CHANNELS' must equal MODEL.NECK.OUT_CHANNELS")
    if cfg.INFERENCE.INT8 and cfg.INFERENCE.BACKEND != "onnxruntime":
        raise ConfigError(f"{source}: key 'INFERENCE.INT8' needs INFERENCE.BACKEND onnxruntime")
    for key in ("DECODE.TOPK", "DECODE.NUM_PAIRS", "DECODE.NMS_KERNEL", "TRAIN.BATCH_SIZE",
                "INFERENCE.INT8_CALIBRATION"):
        if _get(cfg, key) < 1:
            raise ConfigError(f"{source}: key {key!r} must be >= 1, got {_get(cfg, key)!r}")
    if cfg.DECODE.NMS_KERNEL % 2 == 0:
        raise ConfigError(f"{source}: key 'DECODE.NMS_KERNEL' must be odd, got {cfg.DECODE.NMS_KERNEL}")
    for name in cfg.DATASET.NAMES:
        if name not in cfg.DATASET.SOURCES:
            raise ConfigError(f"{source}: DATASET.NAMES entry {name!r} is not a known source"
                              f"{_suggest(name, cfg.DATASET.SOURCES.keys())}")


def save_config(cfg: Mapping, path: str) -> None:
    """Write the resolved config as YAML, atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False, default_flow_style=None)
    os.replace(tmp, path)
