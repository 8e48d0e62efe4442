import os

import pytest
import yaml

from siamcorners.config import ConfigError, get_default_config, load_config, merge_opts, save_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, data):
    with open(path, "w") as f:
        f.write(data)
    return str(path)


def test_defaults_are_the_official_values():
    cfg = get_default_config()
    assert cfg.DECODE.TOPK == 12 and cfg.DECODE.NMS_KERNEL == 1 and cfg.DECODE.NUM_PAIRS == 15
    assert cfg.TRACK.PENALTY_K == 0.04 and cfg.TRACK.WINDOW_INFLUENCE == 0.011 and cfg.TRACK.LR == 0.39
    assert abs(cfg.HEATMAP.STRIDE - 255 / 25) < 1e-12
    assert cfg.MODEL.INPUT.NORMALIZE is False


@pytest.mark.parametrize("name", ["siamcorners_r50_official", "siamcorners_r50"])
def test_shipped_experiments_load(name):
    cfg = load_config(os.path.join(ROOT, "experiments", name, "config.yaml"))
    assert cfg.NAME == name
    assert cfg.OUTPUT_DIR == os.path.join(ROOT, "experiments", name)


# Every paper switch (section 12 of the reference; docs/design.md "Paper readings"): (item, key, official, paper).
PAPER_SWITCHES = [
    ("#1 NMS", "DECODE.NMS_KERNEL", 1, 3),
    ("#2 top-K", "DECODE.TOPK", 12, 15),
    ("#3 penalty form", "TRACK.PENALTY_FORM", "siamrpn", "paper"),
    ("#3 penalty unit fix", "TRACK.PENALTY_SCALE_BUG", True, False),
    ("#4 sigma", "LABEL.SIGMA", "diameter", "radius"),
    ("#5 focal normaliser", "LOSS.FOCAL_NORM", "num_pos", "per_heatmap"),
    ("#5/#6 level average", "LOSS.LEVEL_REDUCTION", "mean", "sum"),
    ("#6 offset normaliser", "LOSS.OFFSET_NORM", "num_objects", "num_pos"),
    ("#7 head BN", "MODEL.HEAD.HEAD_BN", False, True),
    ("#7 head last kernel", "MODEL.HEAD.HEAD_LAST_KERNEL", 1, 3),
    ("#8 search conv", "MODEL.HEAD.SEARCH_CONV", False, True),
    ("#9 warm-up", "TRAIN.WARMUP.END_LR", 0.005, 0.001),
    ("#9 unfreeze epoch", "TRAIN.BACKBONE_EPOCH", 30, 5),
    ("#9 unfrozen stages", "MODEL.BACKBONE.TRAIN_LAYERS", ["layer2", "layer3", "layer4"],
     ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"]),
    ("#10 gradient reduction", "TRAIN.GRAD_REDUCE", "sum", "mean"),
    ("#10 batch 58 in total", "TRAIN.BATCH_SIZE_MODE", "per_process", "total"),
    ("#11 search flip", "DATASET.SEARCH.FLIP", 0.0, 0.5),
    ("#11 template flip", "DATASET.TEMPLATE.FLIP", 0.0, 0.5),
    ("#11 motion blur", "DATASET.SEARCH.BLUR", 0.2, 0.0),
    ("#11 brightness", "DATASET.BRIGHTNESS", 0.0, 0.2),
    ("#11 contrast", "DATASET.CONTRAST", 0.0, 0.2),
    ("#12 tracking fill", "TRACK.TEMPLATE_FILL", "mean", "constant"),
    ("#12 tracking outline", "TRACK.TEMPLATE_OUTLINE", True, False),
    ("#12 training outline", "DATASET.TEMPLATE_OUTLINE", True, False),
    ("#13 negative pairs", "DATASET.NEG", 0.2, 0.0),
    ("#14 heat stride", "HEATMAP.STRIDE", 10.2, 8.0),
    ("#14 heat origin", "HEATMAP.ORIGIN", 0.0, 31.0),
    ("#14 floor", "HEATMAP.TRUNCATE", True, False),
    ("#15 variation", "TRACK.VARIATION", "half", "sum"),
    # not paper-vs-code items: test-path choices where the official behaviour is a quirk (docs/design.md)
    ("no valid pair", "TRACK.NO_VALID_PAIR", "official", "hold"),
    ("frame-0 line", "TEST.FIRST_FRAME_BOX", "official", "init"),
]
# values both profiles share although the keys are switches: the paper agrees with the code (section 12 #16, #9)
SHARED = [("TRAIN.BATCH_SIZE", 58), ("TRACK.SMOOTH_CENTER", False), ("TRAIN.WARMUP.START_LR", 0.001),
          ("TRAIN.WARMUP.EPOCHS", 5), ("TRAIN.LR.START_LR", 0.005), ("TRAIN.LR.END_LR", 0.0005)]
PAPER = os.path.join(ROOT, "experiments", "siamcorners_r50", "config.yaml")
OFFICIAL = os.path.join(ROOT, "experiments", "siamcorners_r50_official", "config.yaml")


def _get(cfg, dotted):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@pytest.mark.parametrize("item, key, official, paper", PAPER_SWITCHES, ids=[r[0] for r in PAPER_SWITCHES])
def test_paper_profile_sets_the_paper_value_of_every_switch(item, key, official, paper):
    assert _get(load_config(OFFICIAL), key) == official, f"{item}: official profile"
    assert _get(get_default_config(), key) == official, f"{item}: the default is the official value"
    assert _get(load_config(PAPER), key) == paper, f"{item}: paper profile"


def test_shared_values_of_both_profiles():
    for key, value in SHARED:
        assert _get(load_config(OFFICIAL), key) == _get(load_config(PAPER), key) == value, key
    # the paper's warm-up is constant 0.001 for 5 epochs, then 0.005 -> 0.0005 (reference 8.3)
    from siamcorners.engine.lr_scheduler import build_lr_scheduler

    lrs = build_lr_scheduler(load_config(PAPER).TRAIN).lrs
    assert lrs[:5] == pytest.approx([0.001] * 5) and lrs[5] == pytest.approx(0.005) and lrs[-1] == pytest.approx(5e-4)


def test_dropping_any_line_of_the_paper_profile_loses_a_paper_value(tmp_path):
    """Every setting in experiments/siamcorners_r50/config.yaml is a table row, and deleting it changes that row."""
    with open(PAPER, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["_BASE_"] = os.path.join(ROOT, "configs", "base_r50.yaml")
    table = {key: paper for _, key, _, paper in PAPER_SWITCHES}
    leaves = [k for k in _leaves(data) if k not in ("_BASE_", "NAME")]
    assert sorted(leaves) == sorted(table), "the paper profile and the PAPER_SWITCHES table list different keys"
    for leaf in leaves:
        trimmed = yaml.safe_load(yaml.safe_dump(data))
        parts = leaf.split(".")
        node = trimmed
        for p in parts[:-1]:
            node = node[p]
        del node[parts[-1]]
        path = tmp_path / "paper_without.yaml"
        path.write_text(yaml.safe_dump(trimmed))
        assert _get(load_config(str(path)), leaf) != table[leaf], f"dropping {leaf} keeps the paper value"


def test_base_inheritance_and_override(tmp_path):
    write(tmp_path / "base.yaml", "TRACK:\n  LR: 0.5\n  PENALTY_K: 0.1\n")
    sub = tmp_path / "exp"
    sub.mkdir()
    path = write(sub / "config.yaml", "_BASE_: ../base.yaml\nTRACK:\n  LR: 0.25\n")
    cfg = load_config(path)
    assert cfg.TRACK.LR == 0.25 and cfg.TRACK.PENALTY_K == 0.1
    assert cfg.OUTPUT_DIR == str(sub)


def test_unknown_key_names_file_and_key_with_suggestion(tmp_path):
    path = write(tmp_path / "c.yaml", "TRACK:\n  PENALTY_KK: 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "c.yaml" in msg and "TRACK.PENALTY_KK" in msg and "PENALTY_K" in msg


def test_wrong_type_names_file_and_key(tmp_path):
    path = write(tmp_path / "c.yaml", "TRAIN:\n  EPOCHS: five\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*TRAIN\.EPOCHS.*int"):
        load_config(path)
    path = write(tmp_path / "d.yaml", "MODEL:\n  HEAD:\n    OFFSETS: 1\n")
    with pytest.raises(ConfigError, match="MODEL.HEAD.OFFSETS"):
        load_config(path)


def test_int_accepted_for_float_and_invalid_yaml_line(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "TRACK:\n  LR: 1\n"))
    assert isinstance(cfg.TRACK.LR, float)
    with pytest.raises(ConfigError, match=r"bad\.yaml: line 2"):
        load_config(write(tmp_path / "bad.yaml", "TRACK:\n  LR: @x\n"))


def test_command_line_opts():
    cfg = load_config(opts=["TRAIN.EPOCHS", "5", "MODEL.LEVELS", "[3,4]", "MODEL.HEAD.OFFSETS", "false"])
    assert cfg.TRAIN.EPOCHS == 5 and cfg.MODEL.LEVELS == [3, 4] and cfg.MODEL.HEAD.OFFSETS is False
    with pytest.raises(ConfigError, match="--opts.*TRAIN.EPOCH'.*did you mean 'EPOCHS'"):
        load_config(opts=["TRAIN.EPOCH", "5"])
    with pytest.raises(ConfigError, match="odd number"):
        merge_opts(get_default_config(), ["TRAIN.EPOCHS"])


def test_enumerations_and_levels_are_validated():
    with pytest.raises(ConfigError, match="MODEL.HEAD.CORNER_POOL"):
        load_config(opts=["MODEL.HEAD.CORNER_POOL", "mpc"])
    with pytest.raises(ConfigError, match="MODEL.LEVELS"):
        load_config(opts=["MODEL.LEVELS", "[2, 3]"])
    with pytest.raises(ConfigError, match="DECODE.NMS_KERNEL"):
        load_config(opts=["DECODE.NMS_KERNEL", "2"])


def test_frozen_and_saved_config_round_trips(tmp_path):
    cfg = load_config(opts=["TRAIN.EPOCHS", "3"])
    with pytest.raises(ConfigError):
        cfg.TRAIN.EPOCHS = 4
    out = tmp_path / "run" / "config.yaml"
    save_config(cfg, str(out))
    assert yaml.safe_load(out.read_text())["TRAIN"]["EPOCHS"] == 3
    again = load_config(str(out))
    assert again.TRAIN.EPOCHS == 3 and again.TRACK == cfg.TRACK


@pytest.mark.parametrize("key,value", [("DECODE.TOPK", "12.5"), ("DECODE.NUM_PAIRS", "15.0"),
                                       ("TRAIN.BATCH_SIZE", "2.5"), ("TRAIN.EPOCHS", "true")])
def test_int_keys_refuse_floats_and_bools(key, value):
    with pytest.raises(ConfigError, match=rf"--opts: key '{key}' expects int"):
        load_config(opts=[key, value])


@pytest.mark.parametrize("key", ["DECODE.TOPK", "DECODE.NUM_PAIRS", "TRAIN.BATCH_SIZE", "INFERENCE.INT8_CALIBRATION"])
def test_counts_must_be_at_least_one(key):
    with pytest.raises(ConfigError, match=rf"key '{key}' must be >= 1, got 0"):
        load_config(opts=[key, "0"])
    also = ["DECODE.NUM_PAIRS", "1"] if key == "DECODE.TOPK" else []  # pairs of top-1 corners: at most 1
    assert _get_value(load_config(opts=[key, "1"] + also), key) == 1


def test_nms_kernel_must_be_positive_and_odd():
    with pytest.raises(ConfigError, match=r"key 'DECODE.NMS_KERNEL' must be >= 1, got -1"):
        load_config(opts=["DECODE.NMS_KERNEL", "-1"])
    assert load_config(opts=["DECODE.NMS_KERNEL", "3"]).DECODE.NMS_KERNEL == 3


def _get_value(cfg, dotted):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


# Every checked range, restated from what each key means (README / DEFAULTS comments): counts and sizes are at least
# 1, multipliers and strides positive, rates / learning rates / augmentation amounts / indices at least 0,
# probabilities and blending weights in [0, 1]. (key, rule); the boundary values of each rule are below.
RANGE_TABLE = [
    *[(k, ">= 1") for k in (
        "MODEL.BACKBONE.WIDTH", "MODEL.NECK.OUT_CHANNELS", "MODEL.NECK.CENTER_SIZE", "MODEL.NECK.CROP_BELOW",
        "MODEL.HEAD.CHANNELS", "MODEL.HEAD.POOL_CHANNELS", "MODEL.HEAD.HEAD_LAST_KERNEL", "HEATMAP.SIZE", "DECODE.TOPK", "DECODE.NUM_PAIRS",
        "DECODE.NMS_KERNEL", "TRACK.EXEMPLAR_SIZE", "TRACK.INSTANCE_SIZE", "TRACK.HANNING_SIZE",
        "DATASET.VIDEOS_PER_EPOCH", "TRAIN.EPOCHS", "TRAIN.BATCH_SIZE", "TRAIN.PRINT_FREQ", "TRAIN.LR.STEP",
        "TRAIN.WARMUP.STEP", "INFERENCE.INT8_CALIBRATION", "DATASET.SOURCES.SYNTHETIC.FRAMES",
        "DATASET.SOURCES.SYNTHETIC.VIDEOS")],
    ("MODEL.BACKBONE.WIDTH_MULT", "> 0"), ("HEATMAP.STRIDE", "> 0"),
    *[(k, ">= 0") for k in (
        "MODEL.BACKBONE.DEPTH", "TRACK.CONTEXT_AMOUNT", "TRACK.PENALTY_K", "TRACK.MIN_SIZE", "LABEL.MIN_SCALE",
        "LOSS.ALPHA", "LOSS.BETA", "LOSS.OFFSET_WEIGHT", "DATASET.TEMPLATE.SHIFT", "DATASET.TEMPLATE.SCALE",
        "DATASET.SEARCH.SHIFT", "DATASET.SEARCH.SCALE", "DATASET.BRIGHTNESS", "DATASET.CONTRAST",
        "DATASET.SOURCES.SYNTHETIC.SEED", "TRAIN.START_EPOCH", "TRAIN.NUM_WORKERS", "TRAIN.NUM_THREADS",
        "TRAIN.BASE_LR", "TRAIN.WEIGHT_DECAY", "TRAIN.GRAD_CLIP", "TRAIN.LR.START_LR", "TRAIN.LR.END_LR",
        "TRAIN.WARMUP.EPOCHS", "TRAIN.WARMUP.START_LR", "TRAIN.WARMUP.END_LR", "TRAIN.BACKBONE_EPOCH",
        "TRAIN.BACKBONE_LR_MULT", "TRAIN.CHECKPOINT_ITERS", "TRAIN.STOP_AFTER_ITERS", "SEED")],
    *[(k, "in [0, 1]") for k in (
        "TRACK.LR", "TRACK.WINDOW_INFLUENCE", "DATASET.NEG", "DATASET.GRAY", "DATASET.TEMPLATE.BLUR",
        "DATASET.TEMPLATE.FLIP", "DATASET.TEMPLATE.COLOR", "DATASET.SEARCH.BLUR", "DATASET.SEARCH.FLIP",
        "DATASET.SEARCH.COLOR", *(f"DATASET.SOURCES.{s}.{k}" for s in ("STILLS", "PROCEDURAL")
                                  for k in ("PASTE", "BLUR", "APPEARANCE")))],
    ("TRACK.TEMPLATE_FRACTION", "in (0, 1]"), ("LABEL.GAUSSIAN_IOU", "in (0, 1)"), ("TRAIN.MOMENTUM", "in [0, 1)"),
]
# rule -> (refused values, accepted values); an int key takes the integers of these only
BOUNDARIES = {
    ">= 1": ([0, -1], [1]), "> 0": ([0.0, -1e-6], [1e-6]), ">= 0": ([-1, -1e-6], [0]),
    "in [0, 1]": ([-1e-6, 1.000001], [0, 1]), "in (0, 1]": ([0, 1.000001], [1e-6, 1]),
    "in (0, 1)": ([0, 1], [1e-6, 0.999999]), "in [0, 1)": ([-1e-6, 1], [0, 0.999999]),
}


def _load_error(opts):
    pair = {"MODEL.NECK.OUT_CHANNELS": "MODEL.HEAD.CHANNELS", "MODEL.HEAD.CHANNELS": "MODEL.NECK.OUT_CHANNELS"}
    if opts[0] in pair:  # the heads must have the neck's channels
        opts = opts + [pair[opts[0]], opts[1]]
    try:
        load_config(opts=opts)
    except ConfigError as e:
        return str(e)
    return None


@pytest.mark.parametrize("key, rule", RANGE_TABLE, ids=[k for k, _ in RANGE_TABLE])
def test_every_range_refuses_just_outside_and_accepts_its_boundary(key, rule):
    """A rule loosened (>= 1 to >= 0), tightened (>= 0 to > 0) or dropped for one key fails here, with the whole
    one-line message; a boundary value is never refused by its own range (other checks may still apply)."""
    is_int = isinstance(_get_value(get_default_config(), key), int)
    refused, accepted = BOUNDARIES[rule]
    for value in refused:
        if is_int and value != int(value):
            continue
        shown = repr(int(value)) if is_int else repr(float(value))
        named = "MODEL.NECK.OUT_CHANNELS" if key == "MODEL.HEAD.CHANNELS" else key  # equal counts, the neck's first
        assert _load_error([key, repr(value)]) == f"<defaults> with --opts: key '{named}' must be {rule}, got {shown}"
    for value in accepted:
        if is_int and value != int(value):
            continue
        also = ["DECODE.NUM_PAIRS", "1"] if key == "DECODE.TOPK" else []
        error = _load_error([key, repr(value)] + also)
        assert error is None or f"key '{key}' must be" not in error, error


def test_clone_defrost_deepcopy_and_pickle_keep_or_drop_the_freeze():
    import copy
    import pickle

    from siamcorners.config import CfgNode

    cfg = load_config(opts=["TRAIN.EPOCHS", "3"])
    twin = cfg.clone()  # an unfrozen, independent copy
    twin.TRAIN.EPOCHS = 7
    twin.MODEL.LEVELS.append(6)
    assert (cfg.TRAIN.EPOCHS, cfg.MODEL.LEVELS) == (3, [3, 4, 5])
    twin.freeze()
    with pytest.raises(ConfigError):
        twin.TRACK.LR = 0.1
    twin.defrost()
    twin.TRACK.LR = 0.1  # nested nodes thaw too
    assert twin.TRACK.LR == 0.1
    back = pickle.loads(pickle.dumps(cfg))  # DataLoader workers get the frozen config
    assert back == cfg
    with pytest.raises(ConfigError, match="frozen"):
        back.TRAIN.EPOCHS = 4
    thawed = pickle.loads(pickle.dumps(twin))
    thawed.TRAIN.EPOCHS = 9
    assert thawed.TRAIN.EPOCHS == 9 and isinstance(thawed.TRAIN, CfgNode)
    with pytest.raises(AttributeError) as e:
        cfg.TRACK.NOPE
    assert str(e.value) == "config has no key 'NOPE'"
    fresh = get_default_config()  # a copy: changing its lists leaves the defaults alone
    fresh.MODEL.LEVELS.append(6)
    fresh.MODEL.INPUT.MEAN[0] = 99.0
    assert get_default_config().MODEL.LEVELS == [3, 4, 5] and get_default_config().MODEL.INPUT.MEAN == [0.0, 0.0, 0.0]
    node = CfgNode({"A": {"B": [[1, 2]]}})
    deep = copy.deepcopy(node)
    deep.A.B[0].append(3)
    assert node.A.B == [[1, 2]] and deep.A.B == [[1, 2, 3]]


def test_unknown_key_without_a_close_name_has_no_suggestion():
    with pytest.raises(ConfigError) as e:
        load_config(opts=["TRACK.ZZZZQQ", "1"])
    assert str(e.value) == "--opts: unknown config key 'TRACK.ZZZZQQ'"


def test_opts_value_yaml_cannot_read_is_read_as_a_python_literal_else_as_text():
    """yacs' rule (pysot's configs): a value that is not YAML but a Python literal is that literal."""
    assert load_config(opts=["NAME", "'run' '2'"]).NAME == "run2"  # adjacent Python strings: not YAML
    assert load_config(opts=["NAME", "@home"]).NAME == "@home"  # neither: the text as given
    layers = load_config(opts=["MODEL.BACKBONE.TRAIN_LAYERS", "'layer' '3', 'layer4'"]).MODEL.BACKBONE.TRAIN_LAYERS
    assert layers == ["layer3", "layer4"] and type(layers) is list  # a Python tuple becomes the list the key holds
    with pytest.raises(ConfigError) as e:
        load_config(opts=["TRACK", "{LR: 0.1, LR: 0.2}"])
    assert str(e.value) == "--opts:1: duplicate key 'LR' (first given at line 1); keep one of them"


def test_saved_config_reads_like_a_written_one_and_can_be_saved_again(tmp_path):
    """Keys in the defaults' order (NAME first, not sorted), short lists on one line; a second save into the same
    folder replaces the file."""
    cfg = load_config(opts=["NAME", "run"])
    out = tmp_path / "run" / "config.yaml"
    save_config(cfg, str(out))
    lines = out.read_text().splitlines()
    top = [ln.split(":")[0] for ln in lines if ln and not ln.startswith(" ")]
    assert top == ["NAME", "OUTPUT_DIR", "SEED", "DEVICE", "MODEL", "HEATMAP", "LABEL", "LOSS", "DECODE", "TRACK",
                   "DATASET", "TRAIN", "TEST", "INFERENCE"]
    assert "  LEVELS: [3, 4, 5]" in lines
    save_config(load_config(opts=["NAME", "again"]), str(out))
    assert lines[0] == "NAME: run" and out.read_text().splitlines()[0] == "NAME: again"
    assert os.listdir(tmp_path / "run") == ["config.yaml"]


def test_save_config_on_a_full_disk_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import errno

    from siamcorners import config

    out = tmp_path / "config.yaml"
    out.write_text("NAME: old\n")

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(config.os, "replace", full)
    with pytest.raises(OSError) as e:
        save_config(get_default_config(), str(out))
    assert (e.value.errno, e.value.strerror, e.value.filename) == (errno.ENOSPC, "No space left on device", str(out))
    assert os.listdir(tmp_path) == ["config.yaml"] and out.read_text() == "NAME: old\n"


# Backbone map sides worked out by hand from the layer table (models/backbone.py, mobilenet.py, gradient_backbone.py):
# ResNet: 7x7/2 pad 0 -> 3x3/2 max-pool pad 1 -> 3x3/2 pad 0; MobileNetV2: three 3x3/2 pad 0; gradient: box 8 stride
# 1 then box 8 stride 8. E.g. ResNet 63: (63 - 7) // 2 + 1 = 29 -> (29 + 2 - 3) // 2 + 1 = 15 -> (15 - 3) // 2 + 1 = 7.
FEATURE_SIDES = {
    "resnet50": {6: 0, 14: 0, 15: 1, 62: 6, 63: 7, 127: 15, 255: 31},
    "resnet18_small": {14: 0, 15: 1, 63: 7, 127: 15, 255: 31},
    "mobilenetv2": {2: 0, 6: 0, 14: 0, 15: 1, 30: 2, 63: 7, 127: 15, 255: 31},
    "gradient": {14: 0, 15: 1, 22: 1, 23: 2, 127: 15, 255: 31},
}


@pytest.mark.parametrize("kind", list(FEATURE_SIDES))
def test_feature_side_by_hand(kind):
    from siamcorners.config import feature_side

    assert {n: feature_side(kind, n) for n in FEATURE_SIDES[kind]} == FEATURE_SIDES[kind]


def _error(opts):
    try:
        load_config(opts=opts)
    except ConfigError as e:
        return str(e).removeprefix("<defaults> with --opts: ")
    return None


def test_geometry_checks_at_their_boundaries():
    """ResNet-50: 127 -> 15 (template maps cropped to 7 below CROP_BELOW 20), 255 -> 31, so a 25 x 25 score map."""
    assert _error(["TRACK.EXEMPLAR_SIZE", "14"]) == (
        "key 'TRACK.EXEMPLAR_SIZE' is too small for the resnet50 backbone (no feature map from a 14x14 crop); use "
        "e.g. 127 (templates) / 255 (search)")
    assert _error(["TRACK.INSTANCE_SIZE", "14", "TRACK.EXEMPLAR_SIZE", "127"]) == (
        "key 'TRACK.INSTANCE_SIZE' is too small for the resnet50 backbone (no feature map from a 14x14 crop); use "
        "e.g. 127 (templates) / 255 (search)")
    assert _error(["MODEL.BACKBONE.TYPE", "gradient", "TRACK.EXEMPLAR_SIZE", "14"]).startswith(
        "key 'TRACK.EXEMPLAR_SIZE' is too small for the gradient backbone (no feature map from a 14x14 crop)")
    assert _error(["TRACK.EXEMPLAR_SIZE", "15"]) == (
        "key 'MODEL.NECK.CENTER_SIZE' must be <= 1 (the template feature size of TRACK.EXEMPLAR_SIZE 15), got 7")
    assert _error(["MODEL.NECK.CENTER_SIZE", "16"]) == (
        "key 'MODEL.NECK.CENTER_SIZE' must be <= 15 (the template feature size of TRACK.EXEMPLAR_SIZE 127), got 16")
    assert _error(["MODEL.NECK.CENTER_SIZE", "15", "DECODE.TOPK", "289"]) is None  # 31 - 15 + 1 = 17; 17^2 = 289
    # search maps at least as large as the template kernel: 62 -> 6 < 7, 63 -> 7 (a 1 x 1 score map)
    assert _error(["TRACK.INSTANCE_SIZE", "62"]) == (
        "key 'TRACK.INSTANCE_SIZE' 62 gives 6x6 search maps, smaller than the 7x7 template kernels; it must be larger "
        "than TRACK.EXEMPLAR_SIZE")
    assert _error(["TRACK.INSTANCE_SIZE", "63", "DECODE.TOPK", "1", "DECODE.NUM_PAIRS", "1"]) is None
    assert _error(["TRACK.INSTANCE_SIZE", "63", "DECODE.TOPK", "2", "DECODE.NUM_PAIRS", "1"]) == (
        "key 'DECODE.TOPK' must be <= 1 (the cells of the 1x1 score map), got 2")
    # the crop applies only to template maps narrower than CROP_BELOW: at 15 the whole 15 x 15 map is the kernel
    assert _error(["MODEL.NECK.CROP_BELOW", "15", "DECODE.TOPK", "290"]) == (
        "key 'DECODE.TOPK' must be <= 289 (the cells of the 17x17 score map), got 290")
    assert _error(["MODEL.NECK.CROP_BELOW", "16", "DECODE.TOPK", "290"]) is None
    assert _error(["DECODE.TOPK", "625"]) is None and _error(["DECODE.TOPK", "626"]) == (
        "key 'DECODE.TOPK' must be <= 625 (the cells of the 25x25 score map), got 626")
    assert _error(["DECODE.TOPK", "3", "DECODE.NUM_PAIRS", "9"]) is None
    assert _error(["DECODE.TOPK", "3", "DECODE.NUM_PAIRS", "10"]) == (
        "key 'DECODE.NUM_PAIRS' must be <= DECODE.TOPK**2 = 9 (pairs of the top-k corners), got 10")


def test_validation_messages_name_the_key_and_what_is_allowed():
    cases = {
        ("MODEL.HEAD.CORNER_POOL", "mpc"): "key 'MODEL.HEAD.CORNER_POOL' must be one of ['mcp', 'ocp'], got 'mpc' "
                                           "(did you mean 'mcp'?)",
        ("MODEL.HEAD.CORNER_POOL", "zzz"): "key 'MODEL.HEAD.CORNER_POOL' must be one of ['mcp', 'ocp'], got 'zzz'",
        ("MODEL.LEVELS", "[]"): "key 'MODEL.LEVELS' must be a non-empty subset of [3, 4, 5], got []",
        ("MODEL.LEVELS", "[3, 3]"): "key 'MODEL.LEVELS' must be a non-empty subset of [3, 4, 5], got [3, 3]",
        ("MODEL.LEVELS", "[4, 6]"): "key 'MODEL.LEVELS' must be a non-empty subset of [3, 4, 5], got [4, 6]",
        ("MODEL.HEAD.CHANNELS", "128"): "key 'MODEL.HEAD.CHANNELS' must equal MODEL.NECK.OUT_CHANNELS",
        ("INFERENCE.INT8", "true"): "key 'INFERENCE.INT8' needs INFERENCE.BACKEND onnxruntime",
        ("INFERENCE.TENSORRT", "true"): "key 'INFERENCE.TENSORRT' needs INFERENCE.BACKEND onnxruntime",
        ("DECODE.NMS_KERNEL", "2"): "key 'DECODE.NMS_KERNEL' must be odd, got 2",
        ("MODEL.HEAD.HEAD_LAST_KERNEL", "2"): "key 'MODEL.HEAD.HEAD_LAST_KERNEL' must be odd, got 2",
        ("DATASET.NAMES", "[VID, VIDD]"): "DATASET.NAMES entry 'VIDD' is not a known source (did you mean 'VID'?)",
        ("DATASET.NAMES", "[QQQQ]"): "DATASET.NAMES entry 'QQQQ' is not a known source",
        ("TRACK.LR", ".nan"): "key 'TRACK.LR' must be a finite number, got nan",
        ("MODEL.INPUT.MEAN", "[0, .inf, 0]"): "key 'MODEL.INPUT.MEAN' must be a finite number, got [0, inf, 0]",
        ("MODEL.INPUT.MEAN", "[1, 2]"): "key 'MODEL.INPUT.MEAN' must be a list of 3 numbers, got [1, 2]",
        ("MODEL.INPUT.MEAN", "[1, a, 2]"): "key 'MODEL.INPUT.MEAN' must be a list of 3 numbers, got [1, 'a', 2]",
        ("MODEL.INPUT.MEAN", "[1, true, 2]"): "key 'MODEL.INPUT.MEAN' must be a list of 3 numbers, got [1, True, 2]",
        ("MODEL.INPUT.STD", "[1, 0, 1]"): "key 'MODEL.INPUT.STD': every value must be > 0, got [1, 0, 1]",
        ("TRACK.TEMPLATE_FILL_VALUE", "[0, 256, 0]"):
            "key 'TRACK.TEMPLATE_FILL_VALUE': every value must be in [0, 255], got [0, 256, 0]",
        ("DATASET.TEMPLATE_FILL_VALUE", "[-1, 0, 0]"):
            "key 'DATASET.TEMPLATE_FILL_VALUE': every value must be in [0, 255], got [-1, 0, 0]",
        ("DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE", "[240]"):
            "key 'DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE' must be a list of 2 numbers, got [240]",
        ("DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE", "[0, 320]"):
            "key 'DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE': every value must be >= 1, got [0, 320]",
        ("DATASET.SOURCES.VID.FRAME_RANGE", "-1"): "keys 'DATASET.SOURCES.VID.FRAME_RANGE' (>= 0) and 'NUM_USE' "
                                                  "(>= -1, -1 = all) out of range: -1, 100000",
        ("DATASET.SOURCES.SYNTHETIC.NUM_USE", "-2"): "keys 'DATASET.SOURCES.SYNTHETIC.FRAME_RANGE' (>= 0) and "
                                                    "'NUM_USE' (>= -1, -1 = all) out of range: 30, -2",
        ("DEVICE", "gpu"): "key 'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'",
        ("DEVICE", "'cuda:'"): "key 'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'cuda:'",
        ("DEVICE", "xcpu"): "key 'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'xcpu'",
        ("DEVICE", "cpux"): "key 'DEVICE' must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'cpux'",
        ("TRAIN.LR.START_LR", "0"): "keys 'TRAIN.LR.START_LR' and 'TRAIN.LR.END_LR' must be > 0 for a log schedule, "
                                    "got 0.0, 0.0005",
        ("TRAIN.LR.END_LR", "0"): "keys 'TRAIN.LR.START_LR' and 'TRAIN.LR.END_LR' must be > 0 for a log schedule, "
                                  "got 0.005, 0.0",
    }
    got = {case: _error(list(case)) for case in cases}
    assert got == cases
    for ok in (["MODEL.LEVELS", "[5, 3]"], ["MODEL.HEAD.CHANNELS", "128", "MODEL.NECK.OUT_CHANNELS", "128"],
               ["INFERENCE.INT8", "true", "INFERENCE.TENSORRT", "true", "INFERENCE.BACKEND", "onnxruntime"],
               ["DATASET.NAMES", "[VID, COCO]"], ["DEVICE", " CUDA:12 "], ["DEVICE", "mps"], ["DEVICE", "cuda"],
               ["MODEL.HEAD.HEAD_LAST_KERNEL", "3"], ["TRACK.TEMPLATE_FILL_VALUE", "[0, 255, 0.5]"],
               ["DATASET.SOURCES.SYNTHETIC.IMAGE_SIZE", "[1, 1]"], ["MODEL.INPUT.MEAN", "[-5, 0, 1e3]"],
               ["DATASET.SOURCES.VID.FRAME_RANGE", "0", "DATASET.SOURCES.VID.NUM_USE", "-1"],
               ["TRAIN.LR.TYPE", "step", "TRAIN.LR.END_LR", "0"], ["TRAIN.WARMUP.START_LR", "0"]):
        assert _error(ok) is None, ok


def _file_error(*args) -> str:
    """The one-line message of the ConfigError that ``load_config(*args)`` raises."""
    with pytest.raises(ConfigError) as e:
        load_config(*args)
    return str(e.value)


def test_files_and_merging_errors_name_the_file(tmp_path, monkeypatch):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    write(a, "_BASE_: b.yaml\n")
    write(b, "_BASE_: a.yaml\n")
    assert _file_error(str(a)) == f"{a}: _BASE_ inheritance cycle"
    write(a, "_BASE_: 5\n")
    assert _file_error(str(a)) == f"{a}: _BASE_ must be a relative path string"
    assert _file_error(str(tmp_path / "nope.yaml")) == f"{tmp_path / 'nope.yaml'}: config file not found"
    write(a, "- TRACK\n- LR\n")
    assert _file_error(str(a)) == f"{a}: top level must be a mapping of config keys"
    write(a, "TRACK: 5\n")
    assert _file_error(str(a)) == f"{a}: key 'TRACK' must be a mapping, got int"
    write(a, "TRAIN:\n  EPOCHS: five\n")
    assert _file_error(str(a)) == f"{a}: key 'TRAIN.EPOCHS' expects int (default 20), got str 'five'"
    write(a, "TRACK:\n  LR: @x\n")
    assert _file_error(str(a)) == f"{a}: line 2 invalid YAML: found character '@' that cannot start any token"
    write(a, "TRACK:\n  LR: 2\n")  # validation names the file, and the options when there are some
    assert _file_error(str(a)) == f"{a}: key 'TRACK.LR' must be in [0, 1], got 2.0"
    assert _file_error(str(a), ["TRAIN.EPOCHS", "2"]) == f"{a} with --opts: key 'TRACK.LR' must be in [0, 1], got 2.0"
    with pytest.raises(ConfigError) as e:
        merge_opts(get_default_config(), ["TRAIN.EPOCHS"])
    assert str(e.value) == "--opts: expects KEY VALUE pairs, got an odd number of items: ['TRAIN.EPOCHS']"
    write(a, "")  # an empty file is the defaults
    cfg = load_config(str(a), freeze=False)
    assert cfg == {**get_default_config(), "OUTPUT_DIR": str(tmp_path)}
    cfg.TRAIN.EPOCHS = 2  # not frozen when asked
    monkeypatch.chdir(tmp_path)
    assert load_config().OUTPUT_DIR == str(tmp_path)  # no file: the working directory
    assert load_config(opts=["OUTPUT_DIR", "~/runs/x"]).OUTPUT_DIR == os.path.expanduser("~/runs/x")


def test_types_coercion_and_yaml_words():
    cfg = load_config(opts=["TRACK.LR", "1", "MODEL.HEAD.OFFSETS", "Off", "TRAIN.AMP", " YES ",
                            "MODEL.LEVELS", "[4]", "NAME", "on"])
    assert type(cfg.TRACK.LR) is float and cfg.TRACK.LR == 1.0
    assert cfg.MODEL.HEAD.OFFSETS is False and cfg.TRAIN.AMP is True and cfg.NAME == "on"
    assert cfg.MODEL.LEVELS == [4]
    for key, value, got in (("TRACK.LR", "true", "bool True"), ("TRACK.LR", "abc", "str 'abc'"),
                            ("MODEL.LEVELS", "3", "int 3"), ("NAME", "5", "int 5"),
                            ("MODEL.HEAD.OFFSETS", "maybe", "str 'maybe'"), ("MODEL.HEAD.OFFSETS", "1", "int 1"),
                            ("TRAIN.EPOCHS", "2.0", "float 2.0")):
        default = _get_value(get_default_config(), key)
        assert _error([key, value]) == (f"--opts: key '{key}' expects {type(default).__name__} (default "
                                        f"{default!r}), got {got}").removeprefix("<defaults> with --opts: "), key


# Every enumerated key and its documented values (DEFAULTS comments, README, docs/design.md "Paper readings")
DOCUMENTED_CHOICES = {
    "MODEL.BACKBONE.TYPE": ["resnet50", "resnet18_small", "mobilenetv2", "gradient"],
    "MODEL.HEAD.CORNER_POOL": ["mcp", "ocp"], "MODEL.HEAD.TEMPLATES": ["four", "unified"],
    "MODEL.HEAD.POOL_IMPL": ["cummax", "logstep"], "MODEL.HEAD.POOL_TIE_RULE": ["official", "cummax"],
    "LABEL.SIGMA": ["diameter", "radius"], "LOSS.FOCAL_NORM": ["num_pos", "num_pos_per_level", "per_heatmap"],
    "LOSS.OFFSET_NORM": ["num_objects", "num_pos"], "LOSS.LEVEL_REDUCTION": ["mean", "sum"],
    "TRACK.PENALTY_FORM": ["siamrpn", "paper"], "TRACK.VARIATION": ["half", "sum"],
    "TRACK.BOX_MAPPING": ["official", "exact"], "TRACK.TEMPLATE_FILL": ["mean", "constant"],
    "TRACK.NO_VALID_PAIR": ["official", "hold"], "TEST.INIT_BOX": ["pysot", "raw"],
    "TEST.FIRST_FRAME_BOX": ["official", "init"], "DATASET.NEG_LABELS": ["search", "none"],
    "TRAIN.GRAD_REDUCE": ["mean", "sum"], "TRAIN.BATCH_SIZE_MODE": ["per_process", "total"],
    "INFERENCE.AMP": ["off", "fp16", "bf16"], "INFERENCE.BACKEND": ["torch", "onnxruntime"],
    "TRAIN.LR.TYPE": ["log", "step", "cos", "linear"], "TRAIN.WARMUP.TYPE": ["step", "linear"],
}


@pytest.mark.parametrize("key", list(DOCUMENTED_CHOICES))
def test_every_documented_choice_loads_and_nothing_else(key):
    for value in DOCUMENTED_CHOICES[key]:
        assert _error([key, value]) is None, (key, value)
        assert _get_value(load_config(opts=[key, value]), key) == value
    shown = DOCUMENTED_CHOICES[key]
    assert _error([key, "zzzz"]) == f"key '{key}' must be one of {shown}, got 'zzzz'"
