"""A real single-node SLURM cluster on this machine, for tests (root only).

Installs Debian's slurm-wlm and munge when missing, writes a minimal slurm.conf
(settings that work in containers: proctrack/linuxproc, task/none,
select/cons_tres), starts munged, slurmctld and slurmd, and waits until the node is
idle. ``ensure_slurm`` returns None when it can run, else the reason it cannot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = """\
ClusterName=oredox-test
SlurmctldHost={host}
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurmctld.log
SlurmdLogFile=/var/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _run(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs)


def _node_idle() -> bool:
    done = _run("sinfo", "-h", "-o", "%t", check=False)
    return done.returncode == 0 and done.stdout.strip() in ("idle", "mix", "alloc")


def ensure_slurm() -> str | None:
    """Start (installing if needed) a one-node SLURM; None, or why it cannot."""
    if shutil.which("sinfo") and _node_idle():
        return None
    if os.geteuid() != 0:
        return "not root: cannot install or start SLURM (slurm-wlm, munge)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not (shutil.which("slurmctld") and shutil.which("munged")):
        if not shutil.which("apt-get"):
            return "no apt-get to install slurm-wlm and munge"
        install = ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"]
        if _run(*install, check=False, env=env).returncode != 0:
            _run("apt-get", "update", "-q", check=False, env=env)
            done = _run(*install, check=False, env=env)
            if done.returncode != 0:
                return f"apt-get install slurm-wlm munge failed: {done.stderr[-300:]}"
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        _run("mungekey", "--create", "--keyfile", str(key), check=False)
    for folder in ("/etc/munge", "/var/lib/munge", "/var/log/munge", "/run/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "munge", "munge")
    key.chmod(0o400)
    shutil.chown(key, "munge", "munge")
    if _run("pgrep", "-x", "munged", check=False).returncode != 0:
        _run("runuser", "-u", "munge", "--", "/usr/sbin/munged")
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    memory = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.9)
    Path("/etc/slurm").mkdir(exist_ok=True)
    Path("/etc/slurm/slurm.conf").write_text(
        CONF.format(host=host, cpus=cpus, memory=memory)
    )
    for folder in ("/var/spool/slurmctld", "/var/spool/slurmd"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    for daemon in ("slurmctld", "slurmd"):
        if _run("pgrep", "-x", daemon, check=False).returncode != 0:
            _run(f"/usr/sbin/{daemon}")
    deadline = time.time() + 60
    while time.time() < deadline:
        if _node_idle():
            return None
        _run("scontrol", "update", f"nodename={host}", "state=resume", check=False)
        time.sleep(1)
    log = Path("/var/log/slurmctld.log")
    tail = log.read_text()[-400:] if log.exists() else ""
    return f"SLURM started but the node never became idle: {tail}"
