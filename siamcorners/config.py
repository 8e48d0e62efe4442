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
* YAML is read with YAML 1.2 booleans: ``off``/``on``/``yes``/``no`` stay strings (``INFERENCE.AMP: off``), and a
  boolean key accepts them as well as ``true``/``false``;
* `validate` checks every value before anything is built: finite numbers, ranges (`_RANGES`), vector lengths
  (`_VECTORS`), ``DEVICE``, and the crop / feature-map geometry (`_check_geometry`); a wrong value is one line
  naming the key and the allowed range;
* `save_config(cfg, path)` writes the fully resolved tree beside a run's outputs.
"""
from __future__ import annotations

import ast
import copy
import difflib
import math
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
            "TYPE": "resnet50",       # "resnet50" (official geometry), "resnet18_small" (CPU experiments),
                                      # "mobilenetv2" (pysot's dilated MobileNetV2, light real-time profile) or
                                      # "gradient" (fixed gradient/colour cells + learned convs, real video on CPU)
            "WIDTH": 64,              # stem width of the small backbone; learned channels of "gradient"
                                      # (ignored by resnet50)
            "DEPTH": 2,               # "gradient" backbone: learned 3x3 blocks, 0 = fixed maps alone
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
                       "PASTE": 0.5, "CANVAS": [360, 480], "BLUR": 0.3,  # photos: tools/prepare/stills.py, data/stills.py
                       "APPEARANCE": 0.0},  # pasted pairs whose search frame shows the target changed (data/stills.py)
            "PROCEDURAL": {"ROOT": "training_dataset/procedural", "ANNO": "", "FRAME_RANGE": 1, "NUM_USE": -1, "SEED": 0,
                           "PASTE": 0.5, "CANVAS": [360, 480], "BLUR": 0.3,  # as STILLS: tools/prepare/deadleaves.py
                           "APPEARANCE": 0.0},
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
        "WINOGRAD_HEAD": False,       # also the corner pools' and heat heads' 3x3 convs (25x25 maps) as Winograd
                                      # products (exact; eager torch on a CPU; 1.5x per 256-channel conv in CPU time
                                      # on an AVX-512 CPU, no gain on AVX2: docs/benchmarks.md; not with
                                      # BATCH_BRANCHES)
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
        "TENSORRT": False,            # onnxruntime on cuda:N: ONNX Runtime's TensorRT execution provider (engines
                                      # cached in <export>/tensorrt/) instead of its CUDA provider; either one
                                      # not loading is an error, never a silent CPU run
        "INT8": False,                # onnxruntime: int8 search graph (static quantisation; not exact)
        "INT8_CALIBRATION": 32,       # synthetic training pairs used to calibrate the int8 graph
        "TF32": False,                # TF32 matmuls and cuDNN convolutions on CUDA (Ampere and newer). Default
                                      # false: building a tracker sets torch.backends.cuda.matmul.allow_tf32 and
                                      # torch.backends.cudnn.allow_tf32 (process-wide) to this value; TF32 keeps
                                      # 10 mantissa bits (~1e-3 relative) and can move boxes. No effect on a CPU
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
        return isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _BOOL_WORDS)
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
    if isinstance(default, bool) and isinstance(value, str):
        return _BOOL_WORDS[value.strip().lower()]
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
# YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as booleans, which turned the documented
# ``INFERENCE.AMP: off`` into False; they stay the strings written, and a bool key accepts them (_BOOL_WORDS).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


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
        problem = getattr(e, "problem", e)
        if isinstance(e, yaml.reader.ReaderError):  # a control character: a position in the text, no mark
            where = f" line {text.count(chr(10), 0, e.position) + 1}"
            problem = f"unacceptable character #x{e.character:04x}: {e.reason}"
        raise ConfigError(f"{path}:{where} invalid YAML: {problem}") from None
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

    ``OUTPUT_DIR`` defaults to the directory of the config file (or the working directory); a leading ``~`` is
    expanded to the home folder.
    """
    cfg = get_default_config()
    if path:
        merge_file(cfg, path)
    if opts:
        merge_opts(cfg, opts)
    if not cfg.OUTPUT_DIR:
        cfg.OUTPUT_DIR = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    cfg.OUTPUT_DIR = os.path.expanduser(cfg.OUTPUT_DIR)  # "~/runs/x" as in a shell (YAML does not expand it)
    validate(cfg, (path or "<defaults>") + (" with --opts" if opts else ""))
    return cfg.freeze() if freeze else cfg


_CHOICES = {
    "MODEL.BACKBONE.TYPE": ("resnet50", "resnet18_small", "mobilenetv2", "gradient"),
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


# value ranges: key -> rule (see _RULES); checked after the types, before anything is built or computed
_RANGES = {
    **{k: ">= 1" for k in (
        "MODEL.BACKBONE.WIDTH", "MODEL.NECK.OUT_CHANNELS", "MODEL.NECK.CENTER_SIZE", "MODEL.NECK.CROP_BELOW",
        "MODEL.HEAD.CHANNELS", "MODEL.HEAD.POOL_CHANNELS", "MODEL.HEAD.HEAD_LAST_KERNEL", "HEATMAP.SIZE",
        "DECODE.TOPK", "DECODE.NUM_PAIRS", "DECODE.NMS_KERNEL", "TRACK.EXEMPLAR_SIZE", "TRACK.INSTANCE_SIZE",
        "TRACK.HANNING_SIZE", "DATASET.VIDEOS_PER_EPOCH", "TRAIN.EPOCHS", "TRAIN.BATCH_SIZE", "TRAIN.PRINT_FREQ",
        "TRAIN.LR.STEP", "TRAIN.WARMUP.STEP", "INFERENCE.INT8_CALIBRATION",
        "DATASET.SOURCES.SYNTHETIC.FRAMES", "DATASET.SOURCES.SYNTHETIC.VIDEOS")},
    **{k: "> 0" for k in ("MODEL.BACKBONE.WIDTH_MULT", "HEATMAP.STRIDE")},
    **{k: ">= 0" for k in (
        "MODEL.BACKBONE.DEPTH", "TRACK.CONTEXT_AMOUNT", "TRACK.PENALTY_K", "TRACK.MIN_SIZE", "LABEL.MIN_SCALE", "LOSS.ALPHA", "LOSS.BETA",
        "LOSS.OFFSET_WEIGHT", "DATASET.TEMPLATE.SHIFT", "DATASET.TEMPLATE.SCALE", "DATASET.SEARCH.SHIFT",
        "DATASET.SEARCH.SCALE", "DATASET.BRIGHTNESS", "DATASET.CONTRAST", "DATASET.SOURCES.SYNTHETIC.SEED",
        "TRAIN.START_EPOCH", "TRAIN.NUM_WORKERS", "TRAIN.NUM_THREADS", "TRAIN.BASE_LR", "TRAIN.WEIGHT_DECAY",
        "TRAIN.GRAD_CLIP", "TRAIN.LR.START_LR", "TRAIN.LR.END_LR", "TRAIN.WARMUP.EPOCHS", "TRAIN.WARMUP.START_LR",
        "TRAIN.WARMUP.END_LR", "TRAIN.BACKBONE_EPOCH", "TRAIN.BACKBONE_LR_MULT", "TRAIN.CHECKPOINT_ITERS",
        "TRAIN.STOP_AFTER_ITERS", "SEED")},
    **{k: "in [0, 1]" for k in (
        "TRACK.LR", "TRACK.WINDOW_INFLUENCE", "DATASET.NEG", "DATASET.GRAY", "DATASET.TEMPLATE.BLUR",
        "DATASET.TEMPLATE.FLIP", "DATASET.TEMPLATE.COLOR", "DATASET.SEARCH.BLUR", "DATASET.SEARCH.FLIP",
        "DATASET.SEARCH.COLOR", *(f"DATASET.SOURCES.{src}.{key}" for src in ("STILLS", "PROCEDURAL")
                                  for key in ("PASTE", "BLUR", "APPEARANCE")))},
    "TRACK.TEMPLATE_FRACTION": "in (0, 1]",
    "LABEL.GAUSSIAN_IOU": "in (0, 1)",
    "TRAIN.MOMENTUM": "in [0, 1)",
}
_RULES = {
    ">= 1": lambda v: v >= 1, "> 0": lambda v: v > 0, ">= 0": lambda v: v >= 0,
    "in [0, 1]": lambda v: 0 <= v <= 1, "in (0, 1]": lambda v: 0 < v <= 1, "in (0, 1)": lambda v: 0 < v < 1,
    "in [0, 1)": lambda v: 0 <= v < 1,
}
# (key, length, rule for each entry)
_VECTORS = (("MODEL.INPUT.MEAN", 3, None), ("MODEL.INPUT.STD", 3, "> 0"),
            ("TRACK.TEMPLATE_FILL_VALUE", 3, "in [0, 255]"), ("DATASET.TEMPLATE_FILL_VALUE", 3, "in [0, 255]"),
            ("DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE", 2, ">= 1"))
_RULES["in [0, 255]"] = lambda v: 0 <= v <= 255
_DEVICE = re.compile(r"^(?:auto|cpu|mps|cuda(?::\d+)?)$")


def _leaves(node: Mapping, prefix: str = ""):
    for key, value in node.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _conv_side(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1 if n + 2 * padding >= kernel else 0


def feature_side(backbone_type: str, input_side: int) -> int:
    """Side of the (stride-8) backbone maps for an ``input_side`` square crop (127 -> 15, 255 -> 31; 0 when the
    crop is too small): ResNet stem 7x7/2 pad 0, max-pool 3x3/2 pad 1, layer2's 3x3/2 pad 0 conv; MobileNetV2
    stem 3x3/2 pad 0 and two 3x3/2 pad 0 depthwise convs (models/backbone.py, models/mobilenet.py)."""
    if backbone_type == "gradient":
        from .models.gradient_backbone import gradient_feature_side

        return gradient_feature_side(input_side)
    if backbone_type == "mobilenetv2":
        n = _conv_side(input_side, 3, 2, 0)
        return _conv_side(_conv_side(n, 3, 2, 0), 3, 2, 0)
    n = _conv_side(_conv_side(input_side, 7, 2, 0), 3, 2, 1)
    return _conv_side(n, 3, 2, 0)


def _check_geometry(cfg: CfgNode, source: str) -> None:
    """Template/search crops give maps, the template crop fits them, top-k and pairs fit the score map."""
    kind = cfg.MODEL.BACKBONE.TYPE
    ex, inst = cfg.TRACK.EXEMPLAR_SIZE, cfg.TRACK.INSTANCE_SIZE
    t_side, s_side = feature_side(kind, ex), feature_side(kind, inst)
    for key, side, size in (("TRACK.EXEMPLAR_SIZE", t_side, ex), ("TRACK.INSTANCE_SIZE", s_side, inst)):
        if side < 1:
            raise ConfigError(f"{source}: key {key!r} is too small for the {kind} backbone (no feature map from a "
                              f"{size}x{size} crop); use e.g. 127 (templates) / 255 (search)")
    center = cfg.MODEL.NECK.CENTER_SIZE
    kernel = t_side
    if t_side < cfg.MODEL.NECK.CROP_BELOW:
        if center > t_side:
            raise ConfigError(f"{source}: key 'MODEL.NECK.CENTER_SIZE' must be <= {t_side} (the template feature "
                              f"size of TRACK.EXEMPLAR_SIZE {ex}), got {center}")
        kernel = center
    if kernel > s_side:
        raise ConfigError(f"{source}: key 'TRACK.INSTANCE_SIZE' {inst} gives {s_side}x{s_side} search maps, smaller "
                          f"than the {kernel}x{kernel} template kernels; it must be larger than TRACK.EXEMPLAR_SIZE")
    cells = (s_side - kernel + 1) ** 2
    if cfg.DECODE.TOPK > cells:
        raise ConfigError(f"{source}: key 'DECODE.TOPK' must be <= {cells} (the cells of the {s_side - kernel + 1}x"
                          f"{s_side - kernel + 1} score map), got {cfg.DECODE.TOPK}")
    if cfg.DECODE.NUM_PAIRS > cfg.DECODE.TOPK ** 2:
        raise ConfigError(f"{source}: key 'DECODE.NUM_PAIRS' must be <= DECODE.TOPK**2 = {cfg.DECODE.TOPK ** 2} "
                          f"(pairs of the top-k corners), got {cfg.DECODE.NUM_PAIRS}")


def _check_values(cfg: CfgNode, source: str) -> None:
    """Finite numbers everywhere; ranges (`_RANGES`), vectors (`_VECTORS`), DEVICE."""
    for key, value in _leaves(cfg):
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if _is_number(v) and not math.isfinite(v):
                raise ConfigError(f"{source}: key {key!r} must be a finite number, got {value!r}")
    for key, rule in _RANGES.items():
        value = _get(cfg, key)
        if not _RULES[rule](value):
            raise ConfigError(f"{source}: key {key!r} must be {rule}, got {value!r}")
    for key, length, rule in _VECTORS:
        value = _get(cfg, key)
        if len(value) != length or not all(_is_number(v) for v in value):
            raise ConfigError(f"{source}: key {key!r} must be a list of {length} numbers, got {value!r}")
        if rule and not all(_RULES[rule](v) for v in value):
            raise ConfigError(f"{source}: key {key!r}: every value must be {rule}, got {value!r}")
    for name, spec in cfg.DATASET.SOURCES.items():
        if spec.FRAME_RANGE < 0 or spec.NUM_USE < -1:
            raise ConfigError(f"{source}: keys 'DATASET.SOURCES.{name}.FRAME_RANGE' (>= 0) and 'NUM_USE' (>= -1, "
                              f"-1 = all) out of range: {spec.FRAME_RANGE}, {spec.NUM_USE}")
    device = str(cfg.DEVICE).strip().lower()
    if not _DEVICE.match(device):
        raise ConfigError(f"{source}: key 'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', "
                          f"got {cfg.DEVICE!r}")
    if cfg.MODEL.HEAD.HEAD_LAST_KERNEL % 2 == 0:
        raise ConfigError(f"{source}: key 'MODEL.HEAD.HEAD_LAST_KERNEL' must be odd, got "
                          f"{cfg.MODEL.HEAD.HEAD_LAST_KERNEL}")
    for key in ("TRAIN.LR", "TRAIN.WARMUP"):
        node = _get(cfg, key)
        if node.TYPE == "log" and (node.START_LR <= 0 or node.END_LR <= 0):
            raise ConfigError(f"{source}: keys '{key}.START_LR' and '{key}.END_LR' must be > 0 for a log "
                              f"schedule, got {node.START_LR}, {node.END_LR}")


def validate(cfg: CfgNode, source: str) -> None:
    """Checks that need more than a type: enumerations, value ranges and the crop / map geometry."""
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
    for key in ("INT8", "TENSORRT"):
        if cfg.INFERENCE[key] and cfg.INFERENCE.BACKEND != "onnxruntime":
            raise ConfigError(f"{source}: key 'INFERENCE.{key}' needs INFERENCE.BACKEND onnxruntime")
    _check_values(cfg, source)
    if cfg.DECODE.NMS_KERNEL % 2 == 0:
        raise ConfigError(f"{source}: key 'DECODE.NMS_KERNEL' must be odd, got {cfg.DECODE.NMS_KERNEL}")
    for name in cfg.DATASET.NAMES:
        if name not in cfg.DATASET.SOURCES:
            raise ConfigError(f"{source}: DATASET.NAMES entry {name!r} is not a known source"
                              f"{_suggest(name, cfg.DATASET.SOURCES.keys())}")
    _check_geometry(cfg, source)


def save_config(cfg: Mapping, path: str) -> None:
    """Write the resolved config as YAML, atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            yaml.safe_dump(to_dict(cfg), f, sort_keys=False, default_flow_style=None)
        os.replace(tmp, path)
    except OSError as e:  # e.g. a full disk: name the config file, leave no temporary file
        raise OSError(e.errno, e.strerror, path) from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
