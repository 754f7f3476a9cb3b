"""Parsers of the kernel's CPU accounting, for the thread rule.

Pure functions of the texts of ``/proc/stat`` and of a control group's CPU quota
files; :mod:`oredox.workflows.threads` reads the files and applies the rule.
"""

from __future__ import annotations

import math
from collections.abc import Collection


def busy_cores(before: str, after: str, cpus: Collection[int]) -> float | None:
    """Cores kept busy between two readings of ``/proc/stat``, on the CPUs ``cpus``.

    Busy time is user, nice, system, irq, softirq and steal; idle and iowait are
    not. Over the ``cpuN`` lines whose N is in ``cpus``: the sum of their busy time
    divided by the time one of them spent, ``sum(busy) / (sum(total) / n)``. Where
    no ``cpuN`` line is one of ``cpus`` (CPUs renumbered, as lxcfs does), the
    ``cpu`` line's busy share times the number of ``cpuN`` lines.

    Returns
    -------
    float or None
        Busy cores (0 to the CPUs counted); ``None`` where the texts tell nothing
        (no time passed, no ``cpu`` lines).
    """
    start, end = _cpu_times(before), _cpu_times(after)
    matched = [cpu for cpu in set(cpus) if cpu in start and cpu in end]
    if matched:
        busy = sum(end[cpu][0] - start[cpu][0] for cpu in matched)
        total = sum(end[cpu][1] - start[cpu][1] for cpu in matched)
        n_cpus = len(matched)
    else:
        lines = sum(1 for key in end if key is not None)
        if None not in start or None not in end or lines == 0:
            return None
        busy = end[None][0] - start[None][0]
        total = end[None][1] - start[None][1]  # the time of all the lines
        n_cpus = lines
    if total <= 0:
        return None
    return min(max(busy / (total / n_cpus), 0.0), float(n_cpus))


def quota_cores(
    cpu_max: str | None = None,
    cfs_quota_us: str | None = None,
    cfs_period_us: str | None = None,
) -> int | None:
    """Whole cores a CPU quota allows (quota / period, rounded up; at least 1).

    ``cpu_max``: the text of cgroup v2's ``cpu.max``, ``"max 100000"`` (no quota) or
    ``"200000 100000"`` (quota and period in microseconds: 2 cores). Else
    ``cfs_quota_us`` and ``cfs_period_us``: cgroup v1's texts (quota ``-1``: none).
    ``None`` for no quota, or a text that is not one.
    """
    if cpu_max is not None:
        fields = cpu_max.split()
        if len(fields) != 2:
            return None
        quota_text, period_text = fields
    else:
        quota_text, period_text = cfs_quota_us or "", cfs_period_us or ""
    try:
        quota_us, period_us = int(quota_text), int(period_text)
    except ValueError:  # "max", or not a number
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


def _cpu_times(stat_text: str) -> dict[int | None, tuple[int, int]]:
    """Busy and total time of each ``cpuN`` line (key N) and the ``cpu`` line (None)."""
    times = {}
    for line in stat_text.splitlines():
        fields = line.split()
        if not fields or not fields[0].startswith("cpu"):
            continue
        number = fields[0][3:]
        if number and not number.isdigit():
            continue
        try:  # user nice system idle iowait irq softirq steal (guest is in user)
            values = [int(value) for value in fields[1:9]]
        except ValueError:
            continue
        if len(values) < 5:
            continue
        idle = values[3] + values[4]  # idle and iowait
        times[int(number) if number else None] = (sum(values) - idle, sum(values))
    return times
