"""Cluster profiles, SLURM batch scripts and the worker the scripts run.

A :class:`ClusterProfile` is a YAML file describing where jobs run: partition, nodes,
tasks, walltime, account, modules, commands to run before each job, the VASP command,
the MPI launcher, the Python of the compute nodes and the FireWorks LaunchPad file.
It is validated before anything is submitted, and every value reaches the batch script
unchanged or is refused with a message naming the field:

- values written bare (``#SBATCH`` values, module names, the words of ``vasp_cmd``)
  must be safe tokens (letters, digits and ``_.,:/+=@%-``, at most 256 characters);
- paths (``python``, ``launchpad_file``, the launch folder, the settings file, the
  work folder) may hold any printable text (spaces, quotes, ``;``, ``$``, unicode)
  and are shell-quoted with :func:`shlex.quote`; ``~`` is expanded first; control
  characters (newline, tab, NUL ...) and text that is not UTF-8 are refused;
- ``pre_run`` entries are the profile owner's own shell lines (the profile is the
  cluster account's configuration, like ``~/.bashrc``): written verbatim, one per
  line, after a check that each is a single line;
- the study's own strings (template name, description) reach the script only as a
  sanitised job name, so no template can inject shell into a submission script.

:func:`sbatch_script` renders the whole script; nothing in it is left for a queue
adapter to fill in (FireWorks' ``CommonAdapter`` substitutes ``$${launch_dir}``
unquoted and drops every line holding ``$$``, so oredox does not use its templates).
:func:`load_profile` turns every unreadable file (missing, a folder, binary, not UTF-8,
not YAML, not a mapping, too large) into one :class:`~oredox.errors.OredoxInputError`.

The script's last line runs :func:`run_worker`: FireWorks' ``rlaunch`` after
:func:`use_oredox_store` has made the oredox store (built from the settings the
worker reads: ``OREDOX_CONFIG_FILE``, ``OREDOX_*`` variables) jobflow's
``JOB_STORE``, which jobflow's Fireworks use when their spec holds no store. What the
script exports for it (:func:`worker_environment`) are paths and names, never a URI.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oredox.errors import OredoxInputError, validation_problems
from oredox.extras import require
from oredox.files import read_yaml_mapping, shown
from oredox.workflows.threads import apply_engine_threads

if TYPE_CHECKING:
    from collections.abc import Sequence

    from jobflow import JobStore

    from oredox.settings import OredoxSettings

SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.,:/+=@%-]+")
WALLTIME = re.compile(r"(\d+-)?\d{1,3}:\d{2}:\d{2}", re.ASCII)
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*", re.ASCII)
MAX_TOKEN = 256
MAX_PATH = 4096
SUBMITTED_STORE = "OREDOX_SUBMITTED_STORE"
WORKER_CODE = (
    "import sys; from oredox.workflows.cluster import run_worker; "
    "sys.exit(run_worker(sys.argv[1:]))"
)


def _safe(value: str, what: str) -> str:
    if len(value) > MAX_TOKEN:
        raise ValueError(
            f"{what} is {len(value)} characters long (at most {MAX_TOKEN})"
        )
    if not SAFE_TOKEN.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} may only contain letters, digits and _.,:/+=@%-"
        )
    return value


def path_problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot be written (shell-quoted) into a batch script, or None."""
    text = str(value)
    if not text:
        return f"{what} is empty"
    if len(text) > MAX_PATH:
        return f"{what} is {len(text)} characters long (at most {MAX_PATH})"
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            return f"{what} {shown(text)!r} is not valid UTF-8"
        if category == "Cc":
            return (
                f"{what} {shown(text)!r} holds the control character {char!r}; "
                "batch-script paths must be one printable line"
            )
    return None


def quoted_path(value: str | Path, what: str) -> str:
    """``value`` shell-quoted for a script; refused, naming ``what``, if unsafe."""
    problem = path_problem(str(value), what)
    if problem:
        raise OredoxInputError(problem)
    return shlex.quote(str(value))


class ClusterProfile(BaseModel):
    """Where and how the jobs of a study run on a SLURM cluster."""

    model_config = ConfigDict(extra="forbid")

    name: str
    partition: str
    nodes: int = Field(1, ge=1)
    ntasks_per_node: int = Field(1, ge=1)
    cpus_per_task: int = Field(1, ge=1)
    walltime: str = Field("24:00:00", description="[D-]HH:MM:SS")
    account: str | None = None
    qos: str | None = None
    modules: list[str] = Field(default_factory=list)
    pre_run: list[str] = Field(
        default_factory=list, description="Shell lines run before each job, as given"
    )
    vasp_cmd: str = "vasp_std"
    mpirun: Literal["srun", "mpirun", "mpiexec"] = "srun"
    python: str = Field(
        default_factory=lambda: sys.executable,
        description="Python of the environment with oredox on the compute nodes",
    )
    launchpad_file: str | None = Field(
        None, description="FireWorks my_launchpad.yaml (default: FireWorks' own)"
    )

    @field_validator("name", "partition", "account", "qos")
    @classmethod
    def _token(cls, value, info):
        return value if value is None else _safe(value, info.field_name)

    @field_validator("python", "launchpad_file")
    @classmethod
    def _path(cls, value, info):
        if value is None:
            return None
        expanded = os.path.expanduser(value)
        if expanded.startswith("~"):
            raise ValueError(
                f"{info.field_name} {shown(value)!r}: cannot expand '~' (no such user)"
            )
        problem = path_problem(expanded, info.field_name)
        if problem:
            raise ValueError(problem)
        return expanded

    @field_validator("modules")
    @classmethod
    def _modules(cls, value):
        return [_safe(m, "module") for m in value]

    @field_validator("vasp_cmd")
    @classmethod
    def _command(cls, value):
        if not value.split():
            raise ValueError("vasp_cmd is empty")
        for part in value.split():
            _safe(part, "vasp_cmd word")
        return value

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, value):
        if not WALLTIME.fullmatch(value):
            raise ValueError(f"walltime {shown(value)!r} must be [D-]HH:MM:SS")
        return value

    @field_validator("pre_run")
    @classmethod
    def _lines(cls, value):
        for line in value:
            if "\n" in line or "\r" in line:
                raise ValueError("each pre_run entry must be a single line")
            if "\0" in line:
                raise ValueError("a pre_run entry holds a NUL character")
        return value

    @property
    def walltime_s(self) -> int:
        """The walltime in seconds (for custodian's walltime handler)."""
        days, _, clock = self.walltime.rpartition("-")
        h, m, s = (int(v) for v in clock.split(":"))
        return int(days or 0) * 86400 + h * 3600 + m * 60 + s

    @property
    def full_vasp_cmd(self) -> str:
        """The MPI launcher and the VASP binary, as atomate2's VASP_CMD."""
        tasks = self.nodes * self.ntasks_per_node
        if self.mpirun == "srun":
            return f"srun {self.vasp_cmd}"
        return f"{self.mpirun} -np {tasks} {self.vasp_cmd}"


def load_profile(source: str | Path) -> ClusterProfile:
    """A profile from a YAML file; every problem is one :class:`OredoxInputError`."""
    data = read_yaml_mapping(source, "cluster profile")
    try:
        return ClusterProfile.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, "profile")
        raise OredoxInputError(
            f"invalid cluster profile {shown(Path(source).name)}: {problems}"
        ) from None


def job_name(text: str) -> str:
    """A SLURM job name from any string: only [A-Za-z0-9_.-], at most 64 characters."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return (name or "oredox")[:64]


def sbatch_script(
    profile: ClusterProfile,
    name: str,
    rocket_launch: str,
    workdir: str | Path,
    environment: Mapping[str, str] | None = None,
) -> str:
    """The batch script: #SBATCH lines, modules, pre-run lines, the rocket launch.

    ``name`` may be anything (it becomes a sanitised job name); ``workdir`` and the
    values of ``environment`` (exported after the pre-run lines) are shell-quoted,
    refused if they hold control characters; ``rocket_launch`` is built by oredox
    from quoted parts. The result is complete: nothing is left to substitute.
    """
    lines = [
        "#!/bin/bash -l",
        f"#SBATCH --job-name={job_name(name)}",
        f"#SBATCH --partition={profile.partition}",
        f"#SBATCH --nodes={profile.nodes}",
        f"#SBATCH --ntasks-per-node={profile.ntasks_per_node}",
        f"#SBATCH --cpus-per-task={profile.cpus_per_task}",
        f"#SBATCH --time={profile.walltime}",
        "#SBATCH --output=oredox-%j.out",
        "#SBATCH --error=oredox-%j.err",
    ]
    if profile.account:
        lines.append(f"#SBATCH --account={profile.account}")
    if profile.qos:
        lines.append(f"#SBATCH --qos={profile.qos}")
    lines += ["", "set -e"]
    lines += [f"module load {module}" for module in profile.modules]
    lines += list(profile.pre_run)
    lines.append(f"export ATOMATE2_VASP_CMD={shlex.quote(profile.full_vasp_cmd)}")
    for key, value in (environment or {}).items():
        if not ENV_NAME.fullmatch(key):
            raise OredoxInputError(f"{key!r} is not an environment variable name")
        lines.append(f"export {key}={quoted_path(value, key)}")
    lines += [f"cd {quoted_path(workdir, 'launch folder')}", rocket_launch, ""]
    return "\n".join(lines)


def store_identity(settings: OredoxSettings) -> str:
    """The job store of ``settings`` in words, without credentials or URI options."""
    from oredox.settings import STORE_EMBEDDED, STORE_JOBFLOW, STORE_PYTHON
    from oredox.store import describe_store, redact_uri

    if settings.store == STORE_EMBEDDED:
        return f"montydb at {Path(settings.work_dir).absolute() / 'store'}"
    if settings.store in (STORE_JOBFLOW, STORE_PYTHON):
        return describe_store(settings)
    address = redact_uri(settings.store).split("?", 1)[0]
    return f"{address} database {settings.database}"


def worker_environment(settings: OredoxSettings) -> dict[str, str]:
    """What the batch script exports so the worker builds the same store.

    Paths and names only: the settings file's path (never its content), the work
    folder, the database name, ``montydb`` for the embedded store, and
    :func:`store_identity` as ``OREDOX_SUBMITTED_STORE``. A MongoDB URI is never
    exported: the worker reads it from the settings file or its own environment.
    """
    from oredox.settings import DEFAULT_CONFIG_FILE, STORE_EMBEDDED

    environment = {}
    name = os.environ.get("OREDOX_CONFIG_FILE", str(DEFAULT_CONFIG_FILE))
    config = Path(name).expanduser() if name else None  # set but empty: no file
    if config is not None and config.is_file():
        environment["OREDOX_CONFIG_FILE"] = str(config.absolute())
    environment["OREDOX_WORK_DIR"] = str(Path(settings.work_dir).absolute())
    environment["OREDOX_DATABASE"] = settings.database
    if settings.store == STORE_EMBEDDED:
        environment["OREDOX_STORE"] = STORE_EMBEDDED
    environment[SUBMITTED_STORE] = store_identity(settings)
    return environment


def worker_command(profile: ClusterProfile, launchpad_file: str | Path) -> str:
    """The batch script's last line: :func:`run_worker` (``rlaunch rapidfire``)."""
    parts = ["-c", WORKER_CODE, "-l", launchpad_file, "rapidfire", "--nlaunches", "0"]
    python = quoted_path(profile.python, "python")
    return " ".join([python, *(shlex.quote(str(part)) for part in parts)])


def use_oredox_store(
    settings: OredoxSettings | None = None, expected: str | None = None
) -> JobStore:
    """Make the oredox store jobflow's ``JOB_STORE`` (used by store-less Fireworks).

    ``expected``: the :func:`store_identity` the study was submitted with; another
    store is an :class:`OredoxInputError`.
    """
    from jobflow import SETTINGS

    from oredox.settings import load_settings
    from oredox.store import get_job_store

    settings = settings or load_settings()
    if expected and store_identity(settings) != expected:
        raise OredoxInputError(
            f"this worker's oredox store ({store_identity(settings)}) is not the one "
            f"the study was submitted with ({expected}); give the worker the same "
            "settings (OREDOX_CONFIG_FILE, or OREDOX_STORE in its environment)"
        )
    SETTINGS.JOB_STORE = get_job_store(settings)
    return SETTINGS.JOB_STORE


def run_worker(argv: Sequence[str] | None = None) -> int:
    """FireWorks' ``rlaunch`` (``argv``: its arguments) with the oredox job store.

    PyTorch's thread count is set first, by the rule of
    :mod:`oredox.workflows.threads`: in the batch step the worker is the one engine
    process, so it gets the CPUs the job holds on the node (``SLURM_CPUS_ON_NODE``);
    ``OREDOX_THREADS`` overrides it.
    """
    try:
        choice = apply_engine_threads()
        require("cluster", "the oredox worker (FireWorks' rlaunch)", ("fireworks",))
        use_oredox_store(expected=os.environ.get(SUBMITTED_STORE))
    except OredoxInputError as exc:
        print(f"oredox worker: {exc}", file=sys.stderr)
        return 2
    print(f"oredox worker: threads {choice.threads} ({choice.reason})", file=sys.stderr)
    from fireworks.scripts.rlaunch_run import rlaunch

    return rlaunch(None if argv is None else list(argv)) or 0
