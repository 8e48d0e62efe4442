"""The light real-time profile: pysot's dilated MobileNetV2 under the SiamCorners head (siamcorners_mobilev2)."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from siamcorners.config import load_config
from siamcorners.engine.trainer import Trainer
from siamcorners.models import build_model
from siamcorners.models.backbone import build_backbone, load_pretrained_backbone
from siamcorners.models.checkpoint import load_checkpoint
from siamcorners.models.runtime import fold_batchnorm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(ROOT, "experiments", "siamcorners_mobilev2", "config.yaml")
SMALL_HEAD = ["MODEL.NECK.OUT_CHANNELS", "32", "MODEL.HEAD.CHANNELS", "32", "MODEL.HEAD.POOL_CHANNELS", "16"]  # speed


def _torchvision_file(tmp_path, seed=0):
    """A torchvision mobilenet_v2 state dict (random weights, non-trivial BN statistics) saved as a file."""
    torch.manual_seed(seed)
    net = torchvision.models.mobilenet_v2(weights=None)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(net.state_dict(), path)
    return net.eval(), str(path)


def test_pysot_geometry_at_width_1_4():
    backbone = build_backbone("mobilenetv2", [3, 4, 5], width_mult=1.4).eval()
    assert backbone.out_channels == [44, 134, 448]  # pysot's AdjustAllLayer in_channels
    with torch.no_grad():
        z = backbone(torch.rand(1, 3, 127, 127) * 255)
        x = backbone(torch.rand(1, 3, 255, 255) * 255)
    assert [tuple(f.shape) for f in z] == [(1, c, 15, 15) for c in (44, 134, 448)]
    assert [tuple(f.shape) for f in x] == [(1, c, 31, 31) for c in (44, 134, 448)]
    dw = lambda layer, block: getattr(backbone, layer)[block].conv[3]  # noqa: E731 - depthwise conv of a block
    assert backbone.layer0[0].padding == (0, 0) and backbone.layer0[0].stride == (2, 2)
    assert dw("layer2", 0).stride == (2, 2) and dw("layer2", 0).padding == (0, 0)
    assert dw("layer4", 0).dilation == (1, 1) and dw("layer4", 1).dilation == (2, 2)  # first block: half
    assert dw("layer6", 0).dilation == (2, 2) and dw("layer6", 1).dilation == (4, 4)
    assert dw("layer7", 0).dilation == (4, 4) and dw("layer7", 0).padding == (4, 4)
    assert backbone.layer1[0].conv[0].weight.shape == (44, 44, 1, 1)  # expansion conv also for t = 1


def test_level_subset_builds_only_the_needed_stages():
    backbone = build_backbone("mobilenetv2", [4, 3], width_mult=1.0)
    assert hasattr(backbone, "layer5") and not hasattr(backbone, "layer6")
    assert [f.shape[1] for f in backbone(torch.rand(1, 3, 127, 127))] == [96, 32]
    with pytest.raises(ValueError, match="subset"):
        build_backbone("mobilenetv2", [6])


def test_torchvision_imagenet_file_loads_exactly_at_width_1(tmp_path, capsys):
    net, path = _torchvision_file(tmp_path)
    backbone = build_backbone("mobilenetv2", [3, 4, 5], width_mult=1.0).eval()
    report = load_pretrained_backbone(backbone, path)
    assert report["missing"] == [] and report["mismatched"] == []
    assert len(report["loaded"]) == 305  # every tensor of features.0 .. features.17
    assert sorted(report["unexpected"]) == sorted(k for k in net.state_dict()
                                                  if k.startswith(("features.18.", "classifier.")))
    assert "layer0.0.weight" in report["adapted"] and "layer1.0.conv.0.weight" in report["adapted"]
    assert "unexpected 8" in capsys.readouterr().out
    rgb = torch.rand(1, 3, 63, 63) * 255
    with torch.no_grad():
        ours = backbone.layer0(rgb.flip(1))  # our input is BGR
        tv = F.relu6(net.features[0][1](F.conv2d(rgb, net.features[0][0].weight, stride=2)))  # pysot's padding 0
        assert torch.allclose(ours, tv, atol=1e-3)
        # stride-1 blocks have the same padding in both layouts: outputs agree, including the identity expansion
        assert torch.allclose(backbone.layer1(ours), net.features[1](ours), atol=1e-5)
        y = backbone.layer2[0](backbone.layer1(ours))
        assert torch.allclose(backbone.layer2[1](y), net.features[3](y), atol=1e-5)


def test_torchvision_file_into_pysot_width_is_a_clear_error(tmp_path):
    _, path = _torchvision_file(tmp_path)
    backbone = build_backbone("mobilenetv2", [3, 4, 5], width_mult=1.4)
    with pytest.raises(ValueError, match=r"width 1 .*WIDTH_MULT 1.4.*set MODEL.BACKBONE.WIDTH_MULT 1.0"):
        load_pretrained_backbone(backbone, path, verbose=False)


def test_profile_model_gives_25x25_maps_and_folds_bn_exactly():
    cfg = load_config(PROFILE, ["DEVICE", "cpu", *SMALL_HEAD])
    assert cfg.MODEL.BACKBONE.TYPE == "mobilenetv2" and cfg.MODEL.BACKBONE.WIDTH_MULT == 1.0
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for m in model.modules():  # non-trivial BN statistics so that folding has work to do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2)
    z, x = torch.rand(1, 4, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        model.template(z)
        plain = model.track(x)
        assert len(plain) == 3 and all(o["tl_heat"].shape == (1, 1, 25, 25) for o in plain)
        assert fold_batchnorm(model.backbone) == 1 + 3 * 17  # stem + three per block (17 blocks)
        model.template(z)
        folded = model.track(x)
    for a, b in zip(plain, folded):
        for key in a:
            assert torch.allclose(a[key], b[key], atol=1e-3, rtol=1e-4), key


@pytest.mark.slow
def test_profile_trains_with_the_recipe_on_the_synthetic_source(tmp_path):
    """Two iterations of the profile's recipe (ImageNet backbone from a torchvision file, frozen until
    TRAIN.BACKBONE_EPOCH) on the synthetic source: finite losses, a checkpoint, head trained, backbone as loaded.
    The head is narrowed to keep the test short; backbone, input normalisation and schedule are the profile's."""
    _, path = _torchvision_file(tmp_path)
    cfg = load_config(PROFILE, ["OUTPUT_DIR", str(tmp_path / "run"), "DEVICE", "cpu",
                                "MODEL.BACKBONE.PRETRAINED", path, "DATASET.NAMES", "[SYNTHETIC]",
                                "DATASET.VIDEOS_PER_EPOCH", "4", "TRAIN.BATCH_SIZE", "2", "TRAIN.EPOCHS", "1",
                                "TRAIN.NUM_WORKERS", "0", "TRAIN.CHECKPOINT_ITERS", "0", *SMALL_HEAD])
    seen = []
    torch.manual_seed(0)
    trainer = Trainer(cfg, progress=False, step_callback=lambda t, e, i, v: seen.append(v))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    try:
        trainer.train()
    finally:
        trainer.close()
    assert len(seen) == 2 and all(np.isfinite(v["total"]) for v in seen)
    after = load_checkpoint(str(tmp_path / "run" / "snapshot" / "checkpoint_e1.pth"))["model"]
    assert torch.equal(after["backbone.layer3.0.conv.0.weight"], before["backbone.layer3.0.conv.0.weight"])
    assert not torch.equal(after["heads.0.tl_heat.out.weight"], before["heads.0.tl_heat.out.weight"])


def test_profile_comparison_rows_and_markdown(tmp_path):
    from siamcorners.engine.profiling.profiles import (MOBILEV2_CFG, PROFILES_BEGIN, PROFILES_END, compare_profiles,
                                                       profiles_markdown)
    from siamcorners.engine.profiling.speed import SECTION_BEGIN, write_markdown_section

    tiny = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.LEVELS", "[3]", *SMALL_HEAD]
    mobile = ["MODEL.LEVELS", "[3]", *SMALL_HEAD]  # one level: layer0..layer3 only, to keep the test short
    r = compare_profiles([("tiny ResNet", None, tiny), ("MobileNetV2", MOBILEV2_CFG, mobile)], "cpu", None,
                         frames=3, warmup=0, rounds=2, log=lambda s: None)
    assert [row["label"] for row in r["rows"]] == ["tiny ResNet", "MobileNetV2"]
    assert r["rows"][0]["ratio"] == 1.0 and all(len(row["rounds_s"]) == 2 for row in r["rows"])
    assert r["rows"][1]["backbone_type"] == "mobilenetv2" and 0 < r["rows"][1]["backbone_s"] < r["rows"][1]["frame_s"]
    assert r["rows"][1]["params"]["backbone"] == sum(
        p.numel() for p in build_backbone("mobilenetv2", [3], width_mult=1.0).parameters())
    text = profiles_markdown(r, "python tools/benchmark.py speed --mobilenet")
    assert "| MobileNetV2 | mobilenetv2 |" in text and "--mobilenet" in text
    path = str(tmp_path / "benchmarks.md")
    write_markdown_section(path, "## Tracking speed\n\nrows")
    write_markdown_section(path, text, PROFILES_BEGIN, PROFILES_END)
    with open(path, encoding="utf-8") as f:
        written = f.read()
    assert SECTION_BEGIN in written and "rows" in written and written.count(PROFILES_BEGIN) == 1
