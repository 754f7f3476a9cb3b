"""Cluster profiles, batch scripts, and a study through FireWorks on a real SLURM.

The SLURM test installs (as root) Debian's slurm-wlm and munge and starts a one-node
cluster on this machine (tests/slurm_cluster.py); without root it is skipped with the
reason printed. FireWorks' LaunchPad is mongomock persisted to a file (no MongoDB
server can be installed here); the study's outputs go to the embedded MontyDB store.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from oredox.errors import OredoxInputError
from oredox.workflows.cluster import (
    ClusterProfile,
    fireworks_template,
    job_name,
    load_profile,
    sbatch_script,
)

HERE = Path(__file__).parent
EVIL = "LiCoO2; echo $(touch {marker}) `touch {marker}` && rm -rf / #"


def profile(**changes) -> ClusterProfile:
    fields = {"name": "test", "partition": "debug", "walltime": "00:20:00"} | changes
    return ClusterProfile(**fields)


def test_profile_validation(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        yaml.safe_dump(
            {
                "name": "hpc",
                "partition": "cpu",
                "nodes": 2,
                "ntasks_per_node": 64,
                "walltime": "1-12:00:00",
                "account": "proj-123",
                "modules": ["vasp/6.4.2", "intel-oneapi/2024"],
                "pre_run": ["export OMP_NUM_THREADS=1"],
                "vasp_cmd": "vasp_std",
                "mpirun": "mpirun",
            }
        )
    )
    hpc = load_profile(good)
    assert hpc.walltime_s == 36 * 3600
    assert hpc.full_vasp_cmd == "mpirun -np 128 vasp_std"
    bad = [
        ({"partition": "cpu; rm -rf /"}, "partition"),
        ({"modules": ["vasp && curl evil"]}, "module"),
        ({"walltime": "forever"}, "walltime"),
        ({"pre_run": ["ok\nrm -rf /"]}, "single line"),
        ({"vasp_cmd": "vasp_std; id"}, "vasp_cmd"),
        ({"nodes": 0}, "nodes"),
        ({"partitoin": "cpu"}, "partitoin"),
    ]
    for change, message in bad:
        path = tmp_path / "bad.yaml"
        data = {"name": "x", "partition": "cpu"} | change
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(OredoxInputError, match=message):
            load_profile(path)


def test_template_strings_stay_inert_in_the_batch_script(tmp_path):
    marker = tmp_path / "PWNED"
    name = EVIL.format(marker=marker)
    script = sbatch_script(
        profile(), name, "rlaunch rapidfire", tmp_path / "dir with space"
    )
    (line,) = [x for x in script.splitlines() if x.startswith("#SBATCH --job-name")]
    assert set(line.removeprefix("#SBATCH --job-name=")) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
    )
    assert f"cd '{tmp_path / 'dir with space'}'" in script
    # run the script's shell lines for real: nothing is executed from the name
    runnable = "\n".join(
        x for x in script.splitlines() if not x.startswith(("cd ", "rlaunch"))
    )
    subprocess.run(["bash", "-c", runnable], check=True, capture_output=True)
    assert not marker.exists()
    assert job_name("") == "oredox"
    template = fireworks_template(profile(pre_run=["echo $$"]), name)
    assert "$${rocket_launch}" in template and "$${launch_dir}" in template
    assert "echo $$$$" in template  # FireWorks' delimiter escaped, stays literal


@pytest.fixture(scope="module")
def slurm():
    sys.path.insert(0, str(HERE))
    from slurm_cluster import ensure_slurm

    reason = ensure_slurm()
    if reason:
        print(f"SKIPPED the real-SLURM test: {reason}")
        pytest.skip(reason)


def oredox(*args, env):
    command = [str(Path(sys.executable).with_name("oredox")), *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slurm
def test_study_through_fireworks_on_real_slurm(slurm, tmp_path):
    marker = tmp_path / "PWNED"
    template = tmp_path / "lco.yaml"
    template.write_text(
        yaml.safe_dump(
            {
                "name": EVIL.format(marker=marker),
                "host": {"o3_formula": "LiCoO2", "supercell": [1, 1, 1]},
                "engine": "chgnet",
                "relax": {"fmax_eV_per_A": 0.1, "max_steps": 100},
                "screening": {"relax_all": True, "rankers": ["ewald"]},
            }
        )
    )
    launchpad_store = tmp_path / "launchpad.json"
    launchpad_store.write_text("{}")
    env = dict(
        os.environ,
        MONGOMOCK_SERVERSTORE_FILE=str(launchpad_store),
        OREDOX_WORK_DIR=str(tmp_path / "work"),
    )
    launchpad_file = tmp_path / "my_launchpad.yaml"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from fireworks import LaunchPad; "
            f"LaunchPad(name='oredox_fw').to_file({str(launchpad_file)!r})",
        ],
        env=env,
        check=True,
    )
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(
        yaml.safe_dump(
            {
                "name": "test",
                "partition": "debug",
                "walltime": "00:20:00",
                "python": sys.executable,
                "launchpad_file": str(launchpad_file),
            }
        )
    )
    done = oredox(
        "submit",
        str(template),
        "--profile",
        str(profile_file),
        "--launch-dir",
        str(tmp_path / "launch"),
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    job_id = done.stdout.split("batch job")[1].split(";")[0].strip()
    deadline = time.time() + 900
    while time.time() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "-j", job_id], capture_output=True, text=True, check=False
        )
        if job_id not in queue.stdout:
            break
        time.sleep(5)
    else:
        pytest.fail(f"batch job {job_id} still queued after 15 minutes")
    accounting = subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=False
    )
    status = oredox("status", "--profile", str(profile_file), "--json", env=env)
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    logs = "".join(p.read_text() for p in (tmp_path / "launch").rglob("oredox-*.err"))
    assert row["state"] == "COMPLETED", (row, accounting.stdout, logs[-2000:])
    assert row["failed"] == []
    query = oredox("query", "--json", env=env)
    studies = json.loads(query.stdout)
    assert len(studies) == 1 and studies[0]["host_formula"] == "LiCoO2"
    assert studies[0]["n_entries"] == 4  # x = 1, 2/3, 1/3, 0 of Li3Co3O6
    assert not marker.exists()  # the template's shell went nowhere


def test_jobflow_remote_missing_is_a_clear_error(monkeypatch):
    import builtins

    from oredox.workflows.submit import submit_jobflow_remote

    real_import = builtins.__import__

    def no_jobflow_remote(name, *args, **kwargs):
        if name.startswith("jobflow_remote"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jobflow_remote)
    with pytest.raises(OredoxInputError, match="pip install 'oredox\\[remote\\]'"):
        submit_jobflow_remote(None, "hpc", profile())
