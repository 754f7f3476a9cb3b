"""Putting a study on a SLURM queue, watching it, rerunning what failed.

FireWorks (``--via fireworks``): the study's flow becomes a FireWorks workflow
(jobflow's ``flow_to_workflow``), is added to the LaunchPad, and one batch script,
written whole by :func:`oredox.workflows.cluster.sbatch_script`, is submitted with
``sbatch``. The script runs FireWorks' ``rlaunch rapidfire`` through
:func:`~oredox.workflows.cluster.run_worker`: every ready job of the study,
including those a dynamic job adds, in one allocation. A job that dies (node
failure, walltime, SIGKILL) is found by ``oredox rerun`` (FireWorks' lost runs) and
put back to READY with the fizzled ones; finished jobs are never redone, and their
outputs stay in the store once (jobflow updates by uuid and index). To run what
``rerun`` put back, submit the same script again
(``sbatch <launch-dir>/launcher_*/FW_submit.script``).

Credentials travel by reference, never by value. The Fireworks' specs hold no job
store (jobflow's ``JobFiretask`` then uses ``jobflow.SETTINGS.JOB_STORE``), and the
worker (:func:`~oredox.workflows.cluster.run_worker`) sets that to the store of the
oredox settings it reads on the compute node: the settings file named by
``OREDOX_CONFIG_FILE`` (the batch script exports the path of the file used at
submission, never its content) or ``OREDOX_STORE`` in the job's environment. The
script also exports the non-secret settings (``OREDOX_WORK_DIR``,
``OREDOX_DATABASE``, ``OREDOX_STORE=montydb`` for the embedded store) and
``OREDOX_SUBMITTED_STORE``, the store described without credentials or URI options:
a worker whose settings name another store stops before running anything, rather
than write the study elsewhere. The LaunchPad file is referenced by its path, never
copied. A plain ``rlaunch`` would use jobflow's own ``JOB_STORE`` instead.

Every LaunchPad is opened by :func:`get_launchpad`: a short server-selection timeout
and a ping first, so an unreachable or misconfigured LaunchPad (or a LaunchPad file
that is not a YAML mapping) is one :class:`~oredox.errors.OredoxInputError` within
seconds.

jobflow-remote (``--via jobflow-remote``): ``jobflow_remote.submit_flow`` on a
worker of the user's jobflow-remote project; its runner daemon submits and tracks the
jobs. oredox checks that the package and the project exist and says how to get them.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oredox.errors import OredoxInputError, OredoxRunError
from oredox.extras import require
from oredox.files import read_yaml_mapping, shown
from oredox.workflows.cluster import (
    ClusterProfile,
    job_name,
    path_problem,
    sbatch_script,
    worker_command,
    worker_environment,
)

if TYPE_CHECKING:
    from oredox.settings import OredoxSettings
    from oredox.workflows.templates import StudyTemplate

VIAS = ("fireworks", "jobflow-remote")
LAUNCHPAD_TIMEOUT_S = 5.0
SCRIPT_NAME = "FW_submit.script"
_log = logging.getLogger(__name__)
_LAUNCHPAD_KEYS = {
    "host", "port", "name", "username", "password", "logdir", "strm_lvl",
    "user_indices", "wf_user_indices", "authsource", "uri_mode", "mongoclient_kwargs",
}  # fmt: skip


def launchpad_location(profile: ClusterProfile) -> Path | None:
    """The profile's LaunchPad file, else FireWorks' configured one, else None."""
    from fireworks.fw_config import LAUNCHPAD_LOC

    location = profile.launchpad_file or LAUNCHPAD_LOC
    return Path(location).absolute() if location else None


def get_launchpad(profile: ClusterProfile, timeout_s: float = LAUNCHPAD_TIMEOUT_S):
    """The FireWorks LaunchPad of ``profile``, reachable (checked with a ping).

    Its file (``launchpad_file``, else FireWorks' ``LAUNCHPAD_LOC``), else FireWorks'
    default (MongoDB on localhost). The MongoDB client waits at most ``timeout_s``
    for a server.

    Raises
    ------
    OredoxInputError
        A missing or malformed LaunchPad file; no MongoDB answering within
        ``timeout_s``; credentials refused. The message holds no password.
    """
    location = launchpad_location(profile)
    spec = read_yaml_mapping(location, "LaunchPad file") if location else {}
    if not isinstance(spec.get("mongoclient_kwargs") or {}, dict):
        raise OredoxInputError(
            f"LaunchPad file {shown(str(location))}: mongoclient_kwargs must be a "
            "mapping"
        )
    spec = {key: value for key, value in spec.items() if key in _LAUNCHPAD_KEYS}
    spec.setdefault("host", None)
    where = (
        f"LaunchPad file {shown(str(location))}" if location else "FireWorks default"
    )
    return _connect(spec, where, timeout_s)


def _connect(spec: dict, where: str, timeout_s: float):
    """A LaunchPad from ``spec`` with short timeouts, pinged; errors without secrets."""
    from urllib.parse import unquote

    from fireworks import LaunchPad
    from pymongo.errors import PyMongoError, ServerSelectionTimeoutError

    from oredox.store import redact_uri

    timeout_ms = max(1, int(timeout_s * 1000))
    kwargs = dict(spec.get("mongoclient_kwargs") or {})
    kwargs |= {"serverSelectionTimeoutMS": timeout_ms, "connectTimeoutMS": timeout_ms}
    host = str(spec.get("host") or "localhost")
    in_uri = re.findall(r"//[^:/@]*:([^@/]+)@", host)
    secrets = [str(spec.get("password") or ""), *in_uri, *map(unquote, in_uri)]
    host = redact_uri(host)
    if not spec.get("uri_mode"):
        host = f"{host}:{spec.get('port') or 27017}"
    target = f"MongoDB at {host}, database {spec.get('name') or 'fireworks'}"
    try:
        launchpad = LaunchPad.from_dict({**spec, "mongoclient_kwargs": kwargs})
        launchpad.db.command("ping")
        launchpad.fireworks.find_one({}, {"_id": 1})
    except (PyMongoError, OSError, TypeError, ValueError) as exc:
        detail = redact_uri(str(exc).strip().splitlines()[0] if str(exc) else "")
        for secret in filter(None, secrets):
            detail = detail.replace(secret, "***")
        if isinstance(exc, ServerSelectionTimeoutError):
            detail = f"no answer within {timeout_s:g} s"
        raise OredoxInputError(
            f"cannot use the FireWorks LaunchPad ({where}: {target}): "
            f"{type(exc).__name__}: {shown(detail, 200)}; check that MongoDB runs "
            "there, the LaunchPad file and its credentials"
        ) from None
    return launchpad


def _initialise_if_new(launchpad) -> None:
    """Set up a LaunchPad that was never used (``lpad reset`` on an empty database).

    A LaunchPad holding anything is left alone.
    """
    empty = all(
        collection.count_documents({}) == 0
        for collection in (launchpad.fireworks, launchpad.workflows)
    )
    if empty and launchpad.fw_id_assigner.count_documents({}) == 0:
        launchpad.reset("", require_password=False)


def _launch_folder(launch_dir: str | Path) -> Path:
    """The launch folder, absolute and created; unusable paths are input errors."""
    problem = path_problem(str(launch_dir), "launch folder (--launch-dir)")
    if problem:
        raise OredoxInputError(problem)
    folder = Path(launch_dir).expanduser().absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OredoxInputError(
            f"cannot create the launch folder (--launch-dir) {shown(str(folder))}: "
            f"{exc.strerror}"
        ) from None
    return folder


def _sbatch(script: Path) -> str:
    """Submit ``script`` from its folder; the job id."""
    try:
        done = subprocess.run(
            ["sbatch", script.name],
            cwd=script.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OredoxRunError(f"sbatch failed ({exc}); script: {script}") from None
    found = re.search(r"Submitted batch job\s+(\d+)", done.stdout)
    if done.returncode != 0 or not found:
        raise OredoxRunError(
            f"the queue refused the batch job: {done.stderr.strip()[-500:]}; "
            f"script: {script}"
        )
    return found.group(1)


def submit_fireworks(
    flow,
    profile: ClusterProfile,
    settings: OredoxSettings,
    launch_dir: str | Path,
    queue: bool = True,
) -> dict[str, Any]:
    """Add the flow to the LaunchPad and (``queue``) submit one batch job for it.

    The Fireworks carry no job store (see the module docstring). The batch script is
    rendered and checked before anything is added to the LaunchPad.

    Returns the workflow's Firework ids, the batch job id (or None), the launch
    folder and the batch script (or None).
    """
    from fireworks.utilities.fw_utilities import create_datestamp_dir
    from jobflow.managers.fireworks import flow_to_workflow

    if queue and shutil.which("sbatch") is None:
        raise OredoxRunError("sbatch is not on this machine: no SLURM to submit to")
    launch_dir = _launch_folder(launch_dir)
    launchpad = get_launchpad(profile, settings.mongo_timeout_s)
    launchpad_file = launchpad_location(profile)
    if launchpad_file is None:  # FireWorks' default LaunchPad: no credentials
        launchpad_file = launch_dir / "my_launchpad.yaml"
        launchpad.to_file(str(launchpad_file))
    rocket = worker_command(profile, launchpad_file)
    environment = worker_environment(settings)
    sbatch_script(profile, flow.name, rocket, launch_dir, environment)  # checks
    _initialise_if_new(launchpad)
    mapping = launchpad.add_wf(flow_to_workflow(flow))
    job_id = script = None
    if queue:
        try:
            launcher = Path(create_datestamp_dir(str(launch_dir), _log, "launcher_"))
            script = launcher / SCRIPT_NAME
            text = sbatch_script(profile, flow.name, rocket, launcher, environment)
            script.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OredoxInputError(
                f"cannot write the batch script in {shown(str(launch_dir))}: "
                f"{exc.strerror or exc}"
            ) from None
        job_id = _sbatch(script)
    return {
        "fw_ids": sorted(mapping.values()),
        "workflow": flow.name,
        "job_id": job_id,
        "launch_dir": str(launch_dir),
        "script": None if script is None else str(script),
    }


def submit_study(
    template: StudyTemplate,
    profile: ClusterProfile,
    settings: OredoxSettings,
    via: str = "fireworks",
    engine: str | None = None,
    worker: str | None = None,
    queue: bool = True,
    launch_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Build a study's flow and put it on a SLURM cluster's queue.

    Parameters
    ----------
    template
        The study (a loaded template).
    profile
        The cluster: SLURM resources, walltime (VASP stops cleanly before it), the
        LaunchPad file.
    settings
        Where the outputs go (the job store) and the default launch folder.
    via
        ``fireworks`` (LaunchPad plus one batch job) or ``jobflow-remote``.
    engine
        Overrides the template's engine (``chgnet``, ``vasp``, ``gpaw``).
    worker
        jobflow-remote worker name (needed with ``via="jobflow-remote"``).
    queue
        FireWorks: submit the batch job now (else only add the workflow).
    launch_dir
        FireWorks: batch scripts and job folders; default
        ``settings.work_dir / "launches"``.

    Returns
    -------
    dict
        ``via`` and ``n_jobs`` (jobs in the flow, dynamic ones not counted); with
        jobflow-remote ``job_ids``; with FireWorks what :func:`submit_fireworks`
        returns (``workflow``, ``fw_ids``, ``job_id``, ``launch_dir``, ``script``)
        and ``store``, the job store described without credentials.

    Raises
    ------
    OredoxInputError
        An unknown ``via`` or engine, jobflow-remote without a worker, an unusable
        launch folder or profile value, no reachable LaunchPad or store.
    OredoxRunError
        The queue refused the batch job, or no ``sbatch`` with ``queue``.
    """
    check_submission(settings, via, worker)
    # the engine is built once, with the profile's walltime (custodian stops VASP
    # before the queue does); unknown engines fail here, before the host is built
    flow = template.flow(engine=template.engine_for(engine, profile), cluster=profile)
    return submit_flow(flow, profile, settings, via, worker, queue, launch_dir)


def check_submission(settings: OredoxSettings, via: str, worker: str | None) -> None:
    """Refuse what cannot be submitted, before any flow is built.

    Raises
    ------
    OredoxInputError
        An unknown ``via``, jobflow-remote without a worker, a store given in
        Python (a batch worker builds its store again from its settings); FireWorks
        or jobflow-remote not installed (the ``cluster`` extra).
    """
    if via not in VIAS:
        raise OredoxInputError(
            f"--via must be fireworks or jobflow-remote, not {via!r}"
        )
    if via == "jobflow-remote" and not worker:
        raise OredoxInputError("--via jobflow-remote needs --worker NAME")
    if via == "fireworks" and settings.job_store is not None:
        raise OredoxInputError(
            "a store given in Python cannot reach a batch job: submit with "
            "OREDOX_STORE (a MongoDB URI) or store: jobflow, which the worker builds "
            "again from its settings"
        )
    module = "fireworks" if via == "fireworks" else "jobflow_remote"
    require("cluster", f"submitting --via {via}", modules=(module,))


def submit_flow(
    flow,
    profile: ClusterProfile,
    settings: OredoxSettings,
    via: str = "fireworks",
    worker: str | None = None,
    queue: bool = True,
    launch_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Put a built flow on the queue: jobflow-remote's, or one FireWorks batch job.

    The checks of :func:`check_submission` run first; with FireWorks the store must
    answer now, not first on the compute node. Returns what :func:`submit_study`
    returns.
    """
    from oredox.store import describe_store, get_job_store

    check_submission(settings, via, worker)
    if via == "jobflow-remote":
        ids = submit_jobflow_remote(flow, worker, profile)
        return {"via": via, "n_jobs": len(flow), "job_ids": ids}
    get_job_store(settings)  # reachable now, not first on the compute node
    out = launch_dir or settings.work_dir / "launches"
    result = submit_fireworks(flow, profile, settings, out, queue=queue)
    return {
        "via": via,
        "n_jobs": len(flow),
        **result,
        "store": describe_store(settings),
    }


def workflow_status(
    profile: ClusterProfile,
    name: str | None = None,
    timeout_s: float = LAUNCHPAD_TIMEOUT_S,
) -> list[dict]:
    """Per workflow (all, or the one named): state counts and failed jobs."""
    require("cluster", "oredox status (FireWorks)", modules=("fireworks",))
    launchpad = get_launchpad(profile, timeout_s)
    query = {"name": name} if name else {}
    rows = []
    for wf_id in launchpad.get_wf_ids(query):
        workflow = launchpad.get_wf_by_fw_id_lzyfw(wf_id)
        states = Counter(fw.state for fw in workflow.fws)
        failed = [fw.name for fw in workflow.fws if fw.state == "FIZZLED"]
        rows.append(
            {
                "workflow": workflow.name,
                "state": workflow.state,
                "fw_states": dict(states),
                "failed": failed,
                "root_fw_id": wf_id,
            }
        )
    return rows


def rerun_failed(
    profile: ClusterProfile,
    expiration_s: int = 4 * 3600,
    timeout_s: float = LAUNCHPAD_TIMEOUT_S,
) -> dict:
    """Lost runs (no ping for ``expiration_s``) and fizzled jobs back to READY."""
    require("cluster", "oredox rerun (FireWorks)", modules=("fireworks",))
    launchpad = get_launchpad(profile, timeout_s)
    lost = launchpad.detect_lostruns(expiration_secs=expiration_s, rerun=True)
    fizzled = launchpad.get_fw_ids({"state": "FIZZLED"})
    for fw_id in fizzled:
        launchpad.rerun_fw(fw_id)
    return {"lost_rerun": list(lost[1]), "fizzled_rerun": list(fizzled)}


def submit_jobflow_remote(
    flow, worker: str, profile: ClusterProfile | None = None, project: str | None = None
) -> list:
    """Submit with jobflow-remote to ``worker`` of the user's project.

    The profile's SLURM resources (partition, nodes, tasks, walltime, account, qos)
    and its modules and pre-run lines become the jobs' resources and execution
    configuration.
    """
    try:
        from jobflow_remote import submit_flow
        from jobflow_remote.config.base import ExecutionConfig
    except ImportError:
        raise OredoxInputError(
            "--via jobflow-remote needs the jobflow-remote package (pip install "
            "'oredox[remote]') and a project (jf project generate NAME; see its docs)"
        ) from None
    resources = exec_config = None
    if profile is not None:
        resources = {
            "partition": profile.partition,
            "nodes": profile.nodes,
            "ntasks_per_node": profile.ntasks_per_node,
            "cpus_per_task": profile.cpus_per_task,
            "time": profile.walltime,
            "job_name": job_name(flow.name),
        }
        resources |= {k: v for k in ("account", "qos") if (v := getattr(profile, k))}
        pre_run = [
            *profile.pre_run,
            f"export ATOMATE2_VASP_CMD={shlex.quote(profile.full_vasp_cmd)}",
        ]
        exec_config = ExecutionConfig(
            modules=profile.modules, pre_run="\n".join(pre_run)
        )
    try:
        return submit_flow(
            flow,
            worker=worker,
            project=project,
            exec_config=exec_config,
            resources=resources,
        )
    except Exception as exc:
        raise OredoxRunError(f"jobflow-remote refused the flow: {exc}") from None
