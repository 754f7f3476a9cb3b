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
    # the script is complete: no queue-adapter placeholder, pre-run lines verbatim
    # (FireWorks' CommonAdapter would fill $${launch_dir} unquoted and drop "$$" lines)
    script = sbatch_script(profile(pre_run=["echo $$"]), name, "rlaunch", tmp_path)
    assert "$${" not in script
    assert "echo $$" in script.split("\n")


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


LAUNCHPAD_FILES = {
    "not-yaml": b"host: [\n",
    "list": b"- host\n",
    "scalar": b"localhost\n",
    "binary": b"\x00\xff\x10host",
    "latin-1": "host: caf\xe9\n".encode("latin-1"),
    "empty": b"",
    "kwargs-not-mapping": b"host: 127.0.0.1\nmongoclient_kwargs: [1]\n",
    "port-not-int": b"host: 127.0.0.1\nport: abc\n",
}


@pytest.mark.parametrize("kind", [*LAUNCHPAD_FILES, "folder", "missing", "long"])
def test_malformed_launchpad_files_are_one_input_error(kind, tmp_path):
    from oredox.workflows.submit import rerun_failed, workflow_status

    path = tmp_path / "my_launchpad.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "long":
        path = tmp_path / ("l" * 4000)
    elif kind != "missing":
        path.write_bytes(LAUNCHPAD_FILES[kind])
    cluster = profile(launchpad_file=str(path))
    for command in (workflow_status, rerun_failed):
        with pytest.raises(OredoxInputError, match="LaunchPad"):
            command(cluster)


UNREACHABLE = {
    "fields": "host: 127.0.0.1\nport: 1\nname: fw\nusername: bob\n"
    "password: lp-s3cr3t\nmongoclient_kwargs: {serverSelectionTimeoutMS: 60000}\n",
    "uri": "host: mongodb://bob:lp-s3cr3t@127.0.0.1:1/fw\nuri_mode: true\nname: fw\n",
}


@pytest.mark.parametrize("kind", UNREACHABLE)
def test_an_unreachable_launchpad_fails_in_seconds(kind, tmp_path, monkeypatch):
    from jobflow import Flow

    from oredox.settings import load_settings
    from oredox.workflows.submit import rerun_failed, submit_fireworks, workflow_status

    path = tmp_path / "my_launchpad.yaml"
    path.write_text(UNREACHABLE[kind])
    cluster = profile(launchpad_file=str(path))
    monkeypatch.setenv("OREDOX_MONGO_TIMEOUT_S", "0.5")
    calls = {
        "status": lambda: workflow_status(cluster),  # the default: 5 s
        "rerun": lambda: rerun_failed(cluster, timeout_s=0.5),
        "submit": lambda: submit_fireworks(
            Flow([], name="x"), cluster, load_settings(), tmp_path / "l", queue=False
        ),
    }
    for name, call in calls.items():
        start = time.perf_counter()
        with pytest.raises(OredoxInputError) as err:
            call()
        assert time.perf_counter() - start < 10, name
        message = str(err.value)
        assert "cannot use the FireWorks LaunchPad" in message, name
        assert "127.0.0.1:1" in message and "lp-s3cr3t" not in message, name
    assert not (tmp_path / "l").exists() or not any((tmp_path / "l").iterdir())


def test_status_without_a_launchpad_is_one_input_error_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from oredox.cli import app

    launchpad_file = tmp_path / "my_launchpad.yaml"
    launchpad_file.write_text("host: 127.0.0.1\nport: 1\nname: fw\n")
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(
        yaml.safe_dump(
            {"name": "t", "partition": "debug", "launchpad_file": str(launchpad_file)}
        )
    )
    for command in (["status"], ["rerun"]):
        start = time.perf_counter()
        done = CliRunner().invoke(app, [*command, "--profile", str(profile_file)])
        assert time.perf_counter() - start < 10, command
        assert isinstance(done.exception, OredoxInputError), command
        assert "cannot use the FireWorks LaunchPad" in str(done.exception)
