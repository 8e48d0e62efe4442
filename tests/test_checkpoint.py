import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

from siamcorners.config import get_default_config, load_config
from siamcorners.models import build_model
from siamcorners.models.checkpoint import (CheckpointError, capture_rng_state, convert_official_state_dict,
                                           export_official_state_dict, load_checkpoint, load_state_dict_checked, restore_rng_state,
                                           save_checkpoint)
from siamcorners.models.heads import CornerHead

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.NECK.OUT_CHANNELS", "16",
         "MODEL.HEAD.CHANNELS", "16", "MODEL.HEAD.POOL_CHANNELS", "8"]


def read_layout(path):
    """name -> shape from a `name<TAB>[shape]` listing."""
    layout = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                name, shape = line.rstrip("\n").split("\t")
                layout[name] = [int(s) for s in shape.strip("[]").split(",") if s.strip()]
    return layout


def random_official_state_dict(reference_dir, seed=0):
    """Random values with the official names and shapes (+ the 24 checkpoint alias keys, copies of level 2)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, shape in read_layout(os.path.join(reference_dir, "official-state-dict.txt")).items():
        if name.endswith("num_batches_tracked"):
            sd[name] = torch.tensor(7, dtype=torch.int64)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            sd[name] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif name.endswith("running_var") or (name.endswith(".weight") and len(shape) == 1):
            sd[name] = 0.5 + torch.rand(shape, generator=gen)
        else:  # biases, running means
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
    aliases = read_layout(os.path.join(reference_dir, "official-state-dict-checkpoint-alias-keys.txt"))
    for name in aliases:
        prefix, rest = name.split("_.", 1)  # corner_mods_head.conv_kernel_t_.1.weight -> level 2 copy
        sd[name] = sd[f"{prefix}.2.{rest}"]
    assert len(aliases) == 24
    return sd


@pytest.fixture(scope="module")
def official_sd(reference_dir):
    return random_official_state_dict(reference_dir)


def small_model(*opts):
    return build_model(load_config(None, opts=SMALL + list(opts)))


# ------------------------------------------------------------------------------------------ official conversion
def test_convert_official_checkpoint_loads_with_no_missing_or_unexpected_keys(official_sd):
    saved_by_train_py = {"epoch": 19, "optimizer": {}, "state_dict": {f"module.{k}": v for k, v in official_sd.items()}}
    ours, report = convert_official_state_dict(saved_by_train_py)
    assert report["converted"] == 672 and len(report["dropped_alias"]) == 24 and report["unknown"] == []
    assert report["epoch"] == 19
    model = build_model(get_default_config())
    assert load_state_dict_checked(model, ours, strict=True) == {"missing": [], "unexpected": [], "mismatched": []}
    # one-to-one: every tensor of ours is a distinct official (non-alias) tensor
    sources = {id(v): k for k, v in official_sd.items() if not re.match(r"corner_mods_head\.conv_kernel_[tlbr]_\.", k)}
    assert len({sources[id(v)] for v in ours.values()}) == 672
    expected = {
        "backbone.layer3.0.downsample.0.weight": "backbone.layer3.0.downsample.0.weight",
        "neck.layers.1.conv.weight": "neck.downsample3.downsample.0.weight",
        "neck.layers.2.bn.running_var": "neck.downsample4.downsample.1.running_var",
        "heads.0.kernel_l.conv.weight": "corner_mods_head.conv_kernel_l.0.0.weight",
        "heads.1.kernel_b.bn.bias": "corner_mods_head.conv_kernel_b.1.1.bias",
        "heads.2.tl_pool.vert_branch.conv.weight": "corner_mods_head.tl_modules.2.p1_conv1.conv.weight",
        "heads.1.br_pool.horiz_branch.bn.running_mean": "corner_mods_head.br_modules.1.p2_conv1.bn.running_mean",
        "heads.0.tl_pool.shortcut_b.0.weight": "corner_mods_head.tl_modules.0.conv1.weight",
        "heads.0.tl_pool.shortcut_a.1.weight": "corner_mods_head.tl_modules.0.bn1_.weight",
        "heads.2.br_pool.merge_bn.running_var": "corner_mods_head.br_modules.2.p_bn1.running_var",
        "heads.1.br_off.out.weight": "corner_mods_head.br_offs.1.1.weight",
        "heads.2.tl_heat.conv.conv.bias": "corner_mods_head.tl_heats.2.0.conv.bias",
    }
    for ours_key, official_key in expected.items():
        assert ours[ours_key] is official_sd[official_key], ours_key


def test_convert_reports_unknown_keys():
    ours, report = convert_official_state_dict({"backbone.conv1.weight": torch.zeros(1), "rpn_head.x": torch.zeros(1)})
    assert list(ours) == ["backbone.conv1.weight"] and report["unknown"] == ["rpn_head.x"]


def _bn_modules(module):
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.slow
def test_converted_model_output_depends_on_every_loaded_tensor(official_sd):
    model = build_model(get_default_config())
    ours, _ = convert_official_state_dict(official_sd)
    load_state_dict_checked(model, ours, strict=True)
    model.eval()
    used_in_eval = set()
    for m in _bn_modules(model):
        m.register_forward_pre_hook(lambda mod, args: used_in_eval.add(id(mod)) if not mod.training else None)
    z, x = torch.rand(1, 4, 3, 127, 127), torch.rand(1, 3, 255, 255)

    def outputs():
        model.template(z)
        return torch.cat([v.flatten() for out in model.track(x) for v in out.values()])

    out = outputs()
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"output does not depend on {name}"
    # every BN ran in eval mode, i.e. used its running statistics; perturbing them per group changes the output
    assert used_in_eval == {id(m) for m in _bn_modules(model)}
    out = out.detach()
    with torch.no_grad():
        backbone = model.backbone
        cached = {tuple(t.shape): backbone(t) for t in (z.flatten(0, 1), x)}
        for group in [backbone, model.neck, *model.heads]:
            if group is not backbone:  # the backbone maps do not change: replay them
                model.backbone = _Replay(cached)
            saved = [(m.running_mean.clone(), m.running_var.clone()) for m in _bn_modules(group)]
            for m in _bn_modules(group):
                m.running_mean.add_(0.5)
                m.running_var.mul_(3.0)
            assert not torch.allclose(outputs(), out)
            for m, (mean, var) in zip(_bn_modules(group), saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
            model.backbone = backbone
        model.backbone = _Replay(cached)
        torch.testing.assert_close(outputs(), out)


class _Replay(nn.Module):
    """Stands in for the backbone: returns the maps computed earlier for an input of the same shape."""

    def __init__(self, cached):
        super().__init__()
        self.cached = cached

    def forward(self, x):
        return self.cached[tuple(x.shape)]


def test_converted_level0_head_reproduces_official_corner_pool_fixture(parity):
    """The corner-pool + head weights of the official fixture, converted by name, give the official outputs."""
    data = parity("corner_pool.npz")
    official = {k: torch.from_numpy(data[k].astype(np.float32)) for k in data.files
                if k.startswith("corner_mods_head.")}
    ours, report = convert_official_state_dict(official)
    assert report["unknown"] == [] and len(ours) == 76
    head = CornerHead(256, 128)
    result = head.load_state_dict({k[len("heads.0."):]: v for k, v in ours.items()}, strict=False)
    assert result.unexpected_keys == []
    assert all(k.startswith("kernel_") or k.endswith("num_batches_tracked") for k in result.missing_keys)
    head.eval()
    maps = torch.stack([torch.from_numpy(data[f"in_f_{s}"].astype(np.float32)) for s in "tlbr"], dim=1)
    with torch.no_grad():
        out = head.forward_maps(maps)
    for key in ("tl_heat", "br_heat", "tl_off", "br_off"):
        torch.testing.assert_close(out[key], torch.from_numpy(data[f"out_{key}"]), atol=1e-4, rtol=0)


# ------------------------------------------------------------------------------------------ our format
@pytest.mark.floor
def test_save_load_round_trip(tmp_path):
    cfg = load_config(None, opts=SMALL)
    model = build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    scheduler.step()
    path = tmp_path / "sub" / "checkpoint_e3.pth"
    save_checkpoint(str(path), model, config=cfg, epoch=3, optimizer=optimizer, scheduler=scheduler,
                    rng=capture_rng_state())
    assert os.listdir(path.parent) == ["checkpoint_e3.pth"]  # no temporary file left behind

    fresh = build_model(cfg)
    ckpt = load_checkpoint(str(path), fresh)
    assert ckpt["load_report"] == {"missing": [], "unexpected": [], "mismatched": []}
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    assert ckpt["epoch"] == 3 and ckpt["config"]["MODEL"]["BACKBONE"]["TYPE"] == "resnet18_small"
    assert type(ckpt["config"]) is dict
    optimizer2 = torch.optim.SGD(fresh.parameters(), lr=0.01, momentum=0.9)
    optimizer2.load_state_dict(ckpt["optimizer"])
    scheduler2 = torch.optim.lr_scheduler.StepLR(optimizer2, step_size=1)
    scheduler2.load_state_dict(ckpt["scheduler"])
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()


@pytest.mark.floor
def test_rng_state_round_trip():
    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    restore_rng_state(state)
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


@pytest.mark.floor
def test_rng_states_of_more_gpus_than_visible_restore_what_fits(fake_gpus):
    """A checkpoint of a 4-GPU process resumed where one GPU is visible: GPU 0's state is restored and one line says
    the rest was not (it was an IndexError traceback from set_rng_state_all)."""
    state = capture_rng_state()
    state["cuda"] = [torch.full((16,), i, dtype=torch.uint8) for i in range(4)]
    expected = random.random()
    gpus = fake_gpus(1)
    note = restore_rng_state(state)
    assert random.random() == expected  # the CPU generators come back as before
    assert list(gpus.rng) == [0] and torch.equal(gpus.rng[0], state["cuda"][0])
    assert "4 GPU(s)" in note and "sees 1" in note and "restored 1" in note and "\n" not in note
    gpus.rng.clear()
    assert restore_rng_state(dict(state, cuda=state["cuda"][:1])) == ""  # all fit: nothing to say
    assert list(gpus.rng) == [0]


def test_truncated_and_foreign_files_raise_checkpoint_error(tmp_path):
    model = small_model()
    good = tmp_path / "good.pth"
    save_checkpoint(str(good), model)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        load_checkpoint(str(truncated), model)
    foreign = tmp_path / "foreign.pth"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pth.*not a SiamCorners checkpoint"):
        load_checkpoint(str(foreign))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt"):
        load_checkpoint(str(text))
    with pytest.raises(CheckpointError, match="missing.pth.*not found"):
        load_checkpoint(str(tmp_path / "missing.pth"))


def test_official_checkpoint_given_to_loader_points_to_converter(tmp_path):
    path = tmp_path / "checkpoint_e19.pth"
    torch.save({"epoch": 19, "state_dict": {"corner_mods_head.tl_heats.0.1.bias": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="convert_checkpoint"):
        load_checkpoint(str(path))


def test_mismatched_model_refused_unless_not_strict(tmp_path):
    path = tmp_path / "levels345.pth"
    save_checkpoint(str(path), small_model())
    other = small_model("MODEL.HEAD.OFFSETS", "false", "MODEL.BACKBONE.WIDTH", "16")
    with pytest.raises(CheckpointError, match="levels345.pth.*unexpected"):
        load_checkpoint(str(path), other)
    report = load_checkpoint(str(path), other, strict=False)["load_report"]
    assert any(".tl_off." in k for k in report["unexpected"]) and report["mismatched"]
    # heads that fit were loaded
    source = torch.load(path, weights_only=True)["model"]
    assert torch.equal(other.state_dict()["heads.0.tl_heat.out.bias"], source["heads.0.tl_heat.out.bias"])


@pytest.mark.slow
def test_convert_checkpoint_cli(tmp_path, official_sd):
    official = tmp_path / "checkpoint_e19.pth"
    torch.save({"epoch": 19, "state_dict": official_sd, "optimizer": {}}, official)
    out = tmp_path / "converted.pth"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "convert_checkpoint.py"), str(official), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    official.unlink()
    model = build_model(get_default_config())
    ckpt = load_checkpoint(str(out), model)
    assert ckpt["epoch"] == 19
    assert torch.equal(model.state_dict()["heads.1.kernel_r.conv.weight"],
                       official_sd["corner_mods_head.conv_kernel_r.1.0.weight"])
    bad = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_checkpoint.py"),
                          str(tmp_path / "nope.pth"), str(out)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "nope.pth" in bad.stderr  # rc 2: a user error, like every tool


def test_export_official_state_dict_inverts_the_conversion(official_sd):
    ours, _ = convert_official_state_dict(official_sd)
    back = export_official_state_dict(ours)
    assert set(back) == set(official_sd)                     # 672 names + the 24 train.py alias keys
    assert all(torch.equal(back[k], official_sd[k]) for k in official_sd)
    with pytest.raises(CheckpointError, match="no official counterpart"):
        export_official_state_dict({**ours, "heads.0.search_conv.weight": torch.zeros(1)})


def test_convert_checkpoint_cli_to_official_round_trip(tmp_path):
    ours, official = tmp_path / "ours.pth", tmp_path / "official.pth"
    # probe CV09: weights of another profile were written in a file the official code cannot load
    save_checkpoint(str(ours), small_model(), epoch=3)
    cmd = [sys.executable, os.path.join(ROOT, "tools", "convert_checkpoint.py"), "--to-official", str(ours), str(official)]
    refused = subprocess.run(cmd, capture_output=True, text=True)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "--to-official: the official code builds only the official profile" in refused.stderr
    assert not official.exists()
    model = build_model(get_default_config())   # the official profile
    save_checkpoint(str(ours), model, epoch=3)
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    saved = torch.load(official, weights_only=True)
    assert saved["epoch"] == 3 and any(k.startswith("corner_mods_head.conv_kernel_t_.") for k in saved["state_dict"])
    back, report = convert_official_state_dict(saved)
    assert report["unknown"] == [] and set(back) == set(model.state_dict())
    assert all(torch.equal(back[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("mode", [[], ["--to-official"], ["--translate-config"]])
def test_convert_checkpoint_refuses_to_write_over_its_input(mode, tmp_path):
    """Probe CV08 / CV14: output == input replaced the input (our checkpoint; the config lost 32 keys)."""
    src = tmp_path / "in.yaml" if mode == ["--translate-config"] else tmp_path / "in.pth"
    src.write_bytes(b"original")
    cmd = [sys.executable, os.path.join(ROOT, "tools", "convert_checkpoint.py"), *mode, str(src),
           os.path.join(str(tmp_path), ".", "in" + src.suffix)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2 and "is the input file" in res.stderr and "Traceback" not in res.stderr
    assert src.read_bytes() == b"original"
