import pytest
import torch
import torch.nn as nn
import torchvision

from siamcorners.models.backbone import build_backbone, freeze_bn, load_pretrained_backbone, set_trainable


def _bn_modes(module):
    return {name: m.training for name, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}


def test_resnet50_official_geometry_and_size():
    backbone = build_backbone("resnet50", [3, 4, 5]).eval()
    assert sum(p.numel() for p in backbone.parameters()) == 45_528_128
    assert backbone.layer2[0].downsample[0].weight.shape == (512, 256, 3, 3)
    assert backbone.layer1[0].downsample[0].weight.shape == (256, 64, 1, 1)
    with torch.no_grad():
        z = backbone(torch.rand(1, 3, 127, 127) * 255)
        x = backbone(torch.rand(1, 3, 255, 255) * 255)
    assert [tuple(f.shape) for f in z] == [(1, 512, 15, 15), (1, 1024, 15, 15), (1, 2048, 15, 15)]
    assert [tuple(f.shape) for f in x] == [(1, 512, 31, 31), (1, 1024, 31, 31), (1, 2048, 31, 31)]


@pytest.mark.parametrize("width", [16, 32])
def test_small_backbone_same_geometry(width):
    backbone = build_backbone("resnet18_small", [3, 4, 5], width).eval()
    assert backbone.out_channels == [2 * width, 4 * width, 8 * width]
    with torch.no_grad():
        z = backbone(torch.rand(2, 3, 127, 127))
        x = backbone(torch.rand(2, 3, 255, 255))
    assert [tuple(f.shape) for f in z] == [(2, c, 15, 15) for c in backbone.out_channels]
    assert [tuple(f.shape) for f in x] == [(2, c, 31, 31) for c in backbone.out_channels]


def test_levels_subset_builds_only_needed_layers_in_requested_order():
    backbone = build_backbone("resnet18_small", [4, 3], 16)
    assert not hasattr(backbone, "layer4")
    assert not any(k.startswith("layer4.") for k in backbone.state_dict())
    out = backbone(torch.rand(1, 3, 127, 127))
    assert [f.shape[1] for f in out] == [64, 32]
    with pytest.raises(ValueError, match="subset"):
        build_backbone("resnet18_small", [2], 16)
    with pytest.raises(ValueError, match="unknown backbone type"):
        build_backbone("resnet34", [3])


def test_pretrained_torchvision_layout_adapts_1x1_downsample(tmp_path):
    source = torchvision.models.resnet50(weights=None).state_dict()
    path = tmp_path / "resnet50-torchvision.pth"
    torch.save(source, path)
    backbone = build_backbone("resnet50")
    report = load_pretrained_backbone(backbone, str(path), verbose=False)
    assert sorted(report["adapted"]) == [f"layer{i}.0.downsample.0.weight" for i in (2, 3, 4)]
    assert sorted(report["unexpected"]) == ["fc.bias", "fc.weight"]
    assert report["missing"] == [] and report["mismatched"] == []
    own = backbone.state_dict()
    for name in report["loaded"]:
        assert torch.equal(own[name], source[name]), name
    for name in report["adapted"]:
        kernel = own[name]  # (Cout, Cin, 3, 3)
        assert torch.equal(kernel[:, :, 1, 1], source[name][:, :, 0, 0])
        centre_zeroed = kernel.clone()
        centre_zeroed[:, :, 1, 1] = 0
        assert centre_zeroed.abs().sum() == 0


@pytest.mark.parametrize("prefix", ["", "module.", "features."])
def test_pretrained_pysot_layout_exact_copy(tmp_path, prefix):
    source = build_backbone("resnet50").state_dict()
    for t in source.values():
        if t.is_floating_point():
            t.normal_()
    path = tmp_path / "resnet50.model"
    torch.save({prefix + k: v for k, v in source.items() if not k.endswith("num_batches_tracked")}, path)
    backbone = build_backbone("resnet50")
    report = load_pretrained_backbone(backbone, str(path), verbose=False)
    assert report["adapted"] == [] and report["missing"] == [] and report["unexpected"] == []
    for name, value in backbone.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(value, source[name]), name


def test_pretrained_bad_files_name_the_file(tmp_path):
    backbone = build_backbone("resnet18_small", [3], 16)
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_pretrained_backbone(backbone, str(tmp_path / "nowhere.pth"))
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="broken.pth"):
        load_pretrained_backbone(backbone, str(broken))
    foreign = tmp_path / "foreign.pth"
    torch.save({"something.else": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="foreign.pth.*no tensor matches"):
        load_pretrained_backbone(backbone, str(foreign))


def test_set_trainable_freezes_other_layers_and_their_bn():
    backbone = build_backbone("resnet18_small", [3, 4, 5], 16)
    set_trainable(backbone, ["layer3", "layer4"])
    for name, p in backbone.named_parameters():
        assert p.requires_grad == name.startswith(("layer3.", "layer4.")), name
    backbone.train()
    modes = _bn_modes(backbone)
    assert all(mode == name.startswith(("layer3.", "layer4.")) for name, mode in modes.items())
    set_trainable(backbone, [])
    assert not any(p.requires_grad for p in backbone.parameters())
    with pytest.raises(ValueError, match="layer9"):
        set_trainable(backbone, ["layer9"])


def test_frozen_bn_keeps_running_stats():
    backbone = build_backbone("resnet18_small", [3], 16)
    freeze_bn(backbone)
    backbone.train()
    assert not any(_bn_modes(backbone).values())
    before = backbone.bn1.running_mean.clone()
    backbone(torch.rand(2, 3, 127, 127))
    assert torch.equal(backbone.bn1.running_mean, before)


# siamcorners-reference.md 2.1 (the official resnet_atrous table): per layer, (kernel, stride, padding, dilation) of
# block 0's 3x3 conv, of block 0's downsample conv, and of the 3x3 conv of blocks 1..; shapes alone cannot see a
# dilation change, since a 'same' padding keeps every feature map's size
RESNET50_GEOMETRY = {
    "layer1": ((3, 1, 1, 1), (1, 1, 0, 1), (3, 1, 1, 1)),
    "layer2": ((3, 2, 0, 1), (3, 2, 0, 1), (3, 1, 1, 1)),
    "layer3": ((3, 1, 1, 1), (3, 1, 1, 1), (3, 1, 2, 2)),
    "layer4": ((3, 1, 2, 2), (3, 1, 2, 2), (3, 1, 4, 4)),
}


def _geometry(conv):
    return conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]


def test_resnet50_dilations_and_paddings_are_the_official_table():
    backbone = build_backbone("resnet50", [3, 4, 5])
    assert _geometry(backbone.conv1) == (7, 2, 0, 1)
    assert backbone.maxpool.kernel_size == 3 and backbone.maxpool.stride == 2 and backbone.maxpool.padding == 1
    for name, (first, down, rest) in RESNET50_GEOMETRY.items():
        layer = getattr(backbone, name)
        assert len(layer) == {"layer1": 3, "layer2": 4, "layer3": 6, "layer4": 3}[name]
        assert _geometry(layer[0].conv2) == first, name
        assert _geometry(layer[0].downsample[0]) == down, name
        for i, block in enumerate(layer[1:], 1):
            assert _geometry(block.conv2) == rest, f"{name}.{i}"
            assert _geometry(block.conv1)[:3] == (1, 1, 0) and _geometry(block.conv3)[:3] == (1, 1, 0)
