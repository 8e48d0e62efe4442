"""The config switches that must give the same boxes (tests/test_speed_switches.py) really reach the code they name:
``MODEL.HEAD.POOL_IMPL`` the corner pools of every level, ``INFERENCE.DEVICE_CROP`` the tracker's search crop.
A switch that is silently ignored also gives the same boxes, so box agreement alone cannot show this."""
import numpy as np
import pytest
import torch

import siamcorners.models.pools as pools
import siamcorners.tracker.tracker as tracker_module
from siamcorners.config import load_config
from siamcorners.models import build_model
from siamcorners.models.pools import _DirectionalPool
from siamcorners.tracker import SiamCornersTracker

SMALL = ["MODEL.BACKBONE.TYPE", "resnet18_small", "MODEL.BACKBONE.WIDTH", "8", "MODEL.NECK.OUT_CHANNELS", "16",
         "MODEL.HEAD.CHANNELS", "16", "MODEL.HEAD.POOL_CHANNELS", "8", "DEVICE", "cpu"]


def _counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.parametrize("impl", ["cummax", "logstep"])
def test_pool_impl_reaches_every_corner_pool(impl, monkeypatch):
    cfg = load_config(opts=SMALL + ["MODEL.HEAD.POOL_IMPL", impl])
    model = build_model(cfg).eval()
    found = [m for m in model.modules() if isinstance(m, _DirectionalPool)]
    assert len(found) == 4 * len(cfg.MODEL.LEVELS)  # top, left, bottom, right per level
    assert {m.impl for m in found} == {impl}
    calls = _counting(monkeypatch, pools, "_scan_logstep")
    with torch.no_grad():
        model.template(torch.rand(1, model.num_templates, 3, 127, 127) * 255)
        model.track(torch.rand(1, 3, 255, 255) * 255)
    assert (len(calls) > 0) == (impl == "logstep")


@pytest.mark.parametrize("device_crop", [False, True])
def test_device_crop_switch_reaches_the_search_crop(device_crop, monkeypatch):
    cfg = load_config(opts=SMALL + ["INFERENCE.DEVICE_CROP", str(device_crop).lower()])
    tracker = SiamCornersTracker(build_model(cfg), cfg)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    tracker.init(frame, [50, 40, 30, 24])
    on_device = _counting(monkeypatch, tracker_module, "search_crop_device")
    on_host = _counting(monkeypatch, tracker_module, "search_crop")
    tracker.track(frame)
    tracker.track(frame)
    assert (len(on_device), len(on_host)) == ((2, 0) if device_crop else (0, 2))
