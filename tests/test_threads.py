"""Thread-count policy (siamcorners/engine/threads.py) and its use by the tools (issue 10 §3)."""
import os

import pytest
import torch

from siamcorners.engine import threads as th
from siamcorners.engine.threads import choose_threads


@pytest.mark.parametrize("cores, load, workers, expected", [
    (2, 0.1, 1, 2),    # idle 2-core machine: both cores
    (2, 0.1, 2, 1),    # ... shared by two workers
    (2, 3.5, 1, 1),    # busy (issue 10: 1-2 FPS with 2 threads, 40-60 with 1)
    (2, 5.0, 4, 1),    # never below one thread
    (2, 1.0, 1, 1),    # one core taken by another job
    (16, 4.2, 1, 12),  # large machine, partly used
    (16, 0.0, 3, 5),   # idle cores shared over workers, rounded down
    (1.5, 0.0, 1, 1),  # cgroup quota of 1.5 CPUs: at most one whole core
])
def test_policy(cores, load, workers, expected):
    choice = choose_threads(cores, load, workers)
    assert choice.threads == expected and not choice.requested
    assert "--threads N overrides" in choice.describe()


def test_requested_threads_win():
    choice = choose_threads(2, 4.0, 1, requested=3)
    assert choice.threads == 3 and choice.requested and "(--threads)" in choice.describe()


def test_cgroup_quota_v2_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert th.cgroup_cpu_limit(str(tmp_path)) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert th.cgroup_cpu_limit(str(tmp_path)) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert th.cgroup_cpu_limit(str(v1)) == 3.0
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert th.cgroup_cpu_limit(str(v1)) is None


def test_available_cores_respects_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(th, "cgroup_cpu_limit", lambda: 2.5)
    assert th.available_cores() == 2.5
    monkeypatch.setattr(th, "cgroup_cpu_limit", lambda: None)
    assert th.available_cores() == 4.0


def test_apply_threads_sets_torch_and_prints(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(th, "available_cores", lambda: 2.0)
    monkeypatch.setattr(th, "system_load", lambda: 4.0)
    lines = []
    try:
        assert th.apply_threads(0, 1, log=lines.append).threads == 1
        assert torch.get_num_threads() == 1 and "load 4.0: no idle core" in lines[0]
    finally:
        torch.set_num_threads(before)


def test_demo_prints_its_thread_choice(capsys):
    from siamcorners.cli import demo

    before = torch.get_num_threads()
    try:
        rc = demo.main(["--max-frames", "3", "--frames", "3", "--out", "", "--gif", "", "--show", "--threads", "1"])
        assert rc == 0
    finally:
        torch.set_num_threads(before)
    assert "torch threads: 1 per process (--threads)" in capsys.readouterr().out
