"""How many torch CPU threads each process uses: one deliberate choice shared by every tool that tracks, evaluates or
trains (``--threads N`` overrides it).

Why: torch's default is one thread per core. On a machine that other jobs keep busy, those threads wait for each other
at every parallel region (OpenMP's spin-wait burns the time slices the other threads need), and tracking with the
tiny model fell from ~40-60 FPS to 1-2 FPS (issue 10). One thread per process never waits for a sibling. So:

* cores available = CPUs in this process's affinity mask (``os.sched_getaffinity``), capped by the cgroup CPU quota
  (``cpu.max`` of cgroup v2 or ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` of v1), at least 1;
* idle cores = cores available - current load (the 1-minute load average, or the tasks running right now when that
  is higher: the average lags behind jobs that just started), rounded;
* threads per worker process = idle cores shared over the workers, at least 1, at most the cores available.

An idle 2-core machine gives 2 threads to a single process and 1 to each of 2 workers; the same machine at load 3.5
gives 1. ``OMP_WAIT_POLICY=PASSIVE`` would also stop the spinning, but it has to be set before torch loads and adds
wake-up latency to every parallel region of an idle machine; the policy avoids the contention instead.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["ThreadChoice", "choose_threads", "available_cores", "cgroup_cpu_limit", "runnable_now", "system_load",
           "apply_threads"]


@dataclass(frozen=True)
class ThreadChoice:
    """``threads`` per process, and the facts it was chosen from (for the printed line)."""

    threads: int
    cores: float
    load: float
    workers: int
    requested: bool

    def describe(self) -> str:
        if self.requested:
            return f"torch threads: {self.threads} per process (--threads)"
        why = "no idle core" if self.cores - self.load < 0.5 else f"{max(0.0, self.cores - self.load):.1f} idle cores"
        return (f"torch threads: {self.threads} per process ({self.cores:g} cores available, load {self.load:.1f}: "
                f"{why}, {self.workers} worker process{'es' if self.workers > 1 else ''}; --threads N overrides)")


def choose_threads(cores: float, load: float, workers: int = 1, requested: int = 0) -> ThreadChoice:
    """The policy (pure): ``requested`` > 0 wins; else round(cores - load) idle cores shared over ``workers``,
    at least 1 and at most floor(cores) per process."""
    workers = max(1, int(workers))
    if requested > 0:
        return ThreadChoice(int(requested), cores, load, workers, True)
    whole = max(1, int(math.floor(cores + 1e-9)))
    idle = min(whole, int(math.floor(max(0.0, cores - load) + 0.5)))
    return ThreadChoice(max(1, idle // workers), cores, load, workers, False)


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup") -> Optional[float]:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max``, else v1 CFS quota / period), or None when unlimited."""
    try:
        with open(os.path.join(root, "cpu.max"), encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us"), encoding="ascii") as f:
            quota_us = int(f.read())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us"), encoding="ascii") as f:
            period_us = int(f.read())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def available_cores() -> float:
    """CPUs this process may run on: affinity mask, capped by the cgroup quota (at least 1)."""
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        cores = float(os.cpu_count() or 1)
    limit = cgroup_cpu_limit()
    return max(1.0, min(cores, limit) if limit else cores)


def runnable_now(samples: int = 5, interval_s: float = 0.02) -> Optional[float]:
    """Other tasks running right now: median over ``samples`` readings of the running-task count of
    ``/proc/loadavg`` minus this reader; None where there is no such file."""
    import statistics
    import time

    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as f:
                counts.append(max(0, int(f.read().split()[3].split("/")[0]) - 1))
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(interval_s)
    return float(statistics.median(counts))


def system_load() -> float:
    """Load of the other jobs: the larger of the 1-minute load average and the tasks running right now (the average
    lags a minute behind jobs that just started), 0 where the platform reports neither."""
    try:
        average = float(os.getloadavg()[0])
    except (AttributeError, OSError):
        average = 0.0
    return max(average, runnable_now() or 0.0)


def apply_threads(requested: int = 0, workers: int = 1, log: Optional[Callable[[str], None]] = print) -> ThreadChoice:
    """Choose (from this machine's cores and load) and set torch's intra-op threads of this process; print the choice.

    With ``workers`` > 1 the returned ``threads`` is what each worker process should set."""
    import torch

    choice = choose_threads(available_cores(), system_load(), workers, requested)
    torch.set_num_threads(choice.threads)
    if log is not None:
        log(choice.describe())
    return choice
