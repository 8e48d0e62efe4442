"""Files the tools write get the user's umask, like any file made with open() (mkstemp alone gives 0600)."""
import json
import os
import stat

import numpy as np
import pytest
import torch

from siamcorners.benchmarks import Benchmark
from siamcorners.benchmarks.results import layout_for, make_submission_zip, write_result
from siamcorners.benchmarks.textio import atomic_write_text
from siamcorners.config import get_default_config, save_config
from siamcorners.models.checkpoint import save_checkpoint


@pytest.fixture(params=[0o002, 0o027])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_follow_the_umask(tmp_path, umask, shared_data_dir):
    expected = 0o666 & ~umask
    layout = layout_for("got10k")
    tdir = str(tmp_path / "GOT-10k-test" / "trk")
    box = write_result(layout, tdir, "v1", np.zeros((3, 4)), [0.1, 0.1, 0.1])
    zip_path = make_submission_zip(tdir, "got10k", ["v1"])
    bench = Benchmark("OTB100", os.path.join(shared_data_dir, "otb_mini"), str(tmp_path / "results"), fmt="raw")
    write_result(layout_for("otb"), str(tmp_path / "results" / "gt"), "Dudek", bench.dataset["Dudek"].gt)
    reports = bench.save_report(bench.evaluate(), str(tmp_path / "report"), plots=False)
    atomic_write_text(str(tmp_path / "eval.json"), json.dumps({"a": 1}))
    save_config(get_default_config(), str(tmp_path / "config.yaml"))
    save_checkpoint(str(tmp_path / "ckpt.pth"), torch.nn.Linear(2, 2))
    files = [reports["md"], reports["csv"], reports["json"], box, layout.time_file(tdir, "v1"), zip_path,
             str(tmp_path / "eval.json"), str(tmp_path / "config.yaml"), str(tmp_path / "ckpt.pth")]
    assert {f: oct(_mode(f)) for f in files} == {f: oct(expected) for f in files}


def test_fingerprint_and_config_beside_results_follow_the_umask(tmp_path, umask):
    from siamcorners.engine.run_dirs import claim_results_folder

    claim_results_folder(str(tmp_path / "res"), "trk", {"config": {}}, get_default_config())
    for name in ("trk.fingerprint.json", "trk.config.yaml"):
        assert oct(_mode(tmp_path / "res" / name)) == oct(0o666 & ~umask)
