"""Putting a study on a SLURM queue, watching it, rerunning what failed.

FireWorks (``--via fireworks``): the study's flow becomes a FireWorks workflow
(jobflow's ``flow_to_workflow``, the job store travelling in each Firework's spec),
is added to the LaunchPad, and one batch script is submitted with FireWorks' queue
launcher (``sbatch`` underneath). The script runs ``rlaunch rapidfire``: every ready
job of the study, including those a dynamic job adds, in one allocation. A job that
dies (node failure, walltime, SIGKILL) is found by ``oredox rerun`` (FireWorks' lost
runs) and put back to READY with the fizzled ones; finished jobs are never redone,
and their outputs stay in the store once (jobflow updates by uuid and index).

jobflow-remote (``--via jobflow-remote``): ``jobflow_remote.submit_flow`` on a
worker of the user's jobflow-remote project; its runner daemon submits and tracks the
jobs. oredox checks that the package and the project exist and says how to get them.
"""

from __future__ import annotations

import shlex
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oredox.errors import OredoxInputError, OredoxRunError
from oredox.workflows.cluster import ClusterProfile, fireworks_template, job_name

if TYPE_CHECKING:
    from oredox.settings import OredoxSettings
    from oredox.workflows.templates import StudyTemplate

VIAS = ("fireworks", "jobflow-remote")


def get_launchpad(profile: ClusterProfile):
    """The FireWorks LaunchPad of ``profile`` (its file, else FireWorks' default)."""
    from fireworks import LaunchPad

    if profile.launchpad_file:
        path = Path(profile.launchpad_file)
        if not path.exists():
            raise OredoxInputError(f"no LaunchPad file {path}")
        return LaunchPad.from_file(str(path))
    return LaunchPad.auto_load()


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


def rlaunch_command(profile: ClusterProfile, launchpad_file: str | Path) -> str:
    """``rlaunch rapidfire`` of the profile's Python environment, quoted."""
    rlaunch = Path(profile.python).with_name("rlaunch")
    return " ".join(
        shlex.quote(str(part))
        for part in (rlaunch, "-l", launchpad_file, "rapidfire", "--nlaunches", "0")
    )


def submit_fireworks(
    flow,
    profile: ClusterProfile,
    store,
    launch_dir: str | Path,
    queue: bool = True,
) -> dict[str, Any]:
    """Add the flow to the LaunchPad and (``queue``) submit one batch job for it.

    Returns the workflow's Firework ids, the batch job id (or None) and the folder of
    the batch script.
    """
    from fireworks import FWorker
    from fireworks.queue.queue_launcher import launch_rocket_to_queue
    from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
    from jobflow.managers.fireworks import flow_to_workflow

    launchpad = get_launchpad(profile)
    _initialise_if_new(launchpad)
    workflow = flow_to_workflow(flow, store=store)
    mapping = launchpad.add_wf(workflow)
    launch_dir = Path(launch_dir).resolve()
    launch_dir.mkdir(parents=True, exist_ok=True)
    launchpad_file = launch_dir / "my_launchpad.yaml"
    launchpad.to_file(str(launchpad_file))
    template = launch_dir / "sbatch_template.txt"
    template.write_text(fireworks_template(profile, flow.name))
    qadapter = CommonAdapter(
        q_type="SLURM",
        q_name=job_name(flow.name),
        template_file=str(template),
        rocket_launch=rlaunch_command(profile, launchpad_file),
    )
    job_id = None
    if queue:
        if shutil.which("sbatch") is None:
            raise OredoxRunError("sbatch is not on this machine: no SLURM to submit to")
        job_id = launch_rocket_to_queue(
            launchpad, FWorker(), qadapter, str(launch_dir), create_launcher_dir=True
        )
        if not job_id:
            raise OredoxRunError(
                f"the queue refused the batch job; see the launcher folder in "
                f"{launch_dir}"
            )
    return {
        "fw_ids": sorted(mapping.values()),
        "workflow": flow.name,
        "job_id": job_id,
        "launch_dir": str(launch_dir),
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
        returns (``workflow``, ``fw_ids``, ``job_id``, ``launch_dir``) and
        ``store``, the job store described without credentials.

    Raises
    ------
    OredoxInputError
        An unknown ``via`` or engine, or jobflow-remote without a worker.
    OredoxRunError
        The queue refused the batch job, or no ``sbatch`` with ``queue``.
    """
    from oredox.store import describe_store, get_job_store

    if via not in VIAS:
        raise OredoxInputError(
            f"--via must be fireworks or jobflow-remote, not {via!r}"
        )
    if via == "jobflow-remote" and not worker:
        raise OredoxInputError("--via jobflow-remote needs --worker NAME")
    # the engine is built once, with the profile's walltime (custodian stops VASP
    # before the queue does); unknown engines fail here, before the host is built
    flow = template.flow(engine=template.engine_for(engine, profile), cluster=profile)
    if via == "jobflow-remote":
        ids = submit_jobflow_remote(flow, worker, profile)
        return {"via": via, "n_jobs": len(flow), "job_ids": ids}
    store = get_job_store(settings)
    out = launch_dir or settings.work_dir / "launches"
    result = submit_fireworks(flow, profile, store, out, queue=queue)
    return {
        "via": via,
        "n_jobs": len(flow),
        **result,
        "store": describe_store(settings),
    }


def workflow_status(profile: ClusterProfile, name: str | None = None) -> list[dict]:
    """Per workflow (all, or the one named): state counts and failed jobs."""
    launchpad = get_launchpad(profile)
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


def rerun_failed(profile: ClusterProfile, expiration_s: int = 4 * 3600) -> dict:
    """Lost runs (no ping for ``expiration_s``) and fizzled jobs back to READY."""
    launchpad = get_launchpad(profile)
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
