"""Cluster profiles and queue submission (SLURM through FireWorks or jobflow-remote).

A :class:`ClusterProfile` is a YAML file describing where jobs run: partition, nodes,
tasks, walltime, account, modules, commands to run before each job, the VASP command
and the MPI launcher. It is validated before anything is submitted: every value that
reaches an ``#SBATCH`` line or a command line is checked against a strict pattern,
and the study's own strings (template name, description) reach the script only as a
sanitised job name, so no template can inject shell into a submission script.
``pre_run`` commands are the profile owner's own shell lines and are written as given
(the profile is the cluster account's configuration, like ``~/.bashrc``), one per
line, after a check that each is a single line.

:func:`sbatch_script` renders the script that FireWorks' queue adapter submits; the
rocket it launches runs every ready job of the study in one allocation
(``rlaunch rapidfire``), so dynamic fan-out needs no further submission.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oredox.errors import OredoxInputError, validation_problems

SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_.,:/+=@%-]+$")
WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")


def _safe(value: str, what: str) -> str:
    if not SAFE_TOKEN.match(value):
        raise ValueError(
            f"{what} {value!r} may only contain letters, digits and _.,:/+=@%-"
        )
    return value


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
        None, description="FireWorks my_launchpad.yaml (default: the settings' store)"
    )

    @field_validator("name", "partition", "account", "qos", "python", "launchpad_file")
    @classmethod
    def _token(cls, value, info):
        return value if value is None else _safe(value, info.field_name)

    @field_validator("modules")
    @classmethod
    def _modules(cls, value):
        return [_safe(m, "module") for m in value]

    @field_validator("vasp_cmd")
    @classmethod
    def _command(cls, value):
        for part in value.split():
            _safe(part, "vasp_cmd word")
        return value

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, value):
        if not WALLTIME.match(value):
            raise ValueError(f"walltime {value!r} must be [D-]HH:MM:SS")
        return value

    @field_validator("pre_run")
    @classmethod
    def _lines(cls, value):
        for line in value:
            if "\n" in line or "\r" in line:
                raise ValueError("each pre_run entry must be a single line")
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
    """A profile from a YAML file; errors name the offending keys."""
    path = Path(source)
    if not path.exists():
        raise OredoxInputError(f"no cluster profile {source!r}")
    try:
        data = yaml.safe_load(path.read_text())
        return ClusterProfile.model_validate(data)
    except yaml.YAMLError as exc:
        raise OredoxInputError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = validation_problems(exc, "profile")
        raise OredoxInputError(
            f"invalid cluster profile {path.name}: {problems}"
        ) from None


def job_name(text: str) -> str:
    """A SLURM job name from any string: only [A-Za-z0-9_.-], at most 64 characters."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.-")
    return (name or "oredox")[:64]


def sbatch_script(
    profile: ClusterProfile, name: str, rocket_launch: str, workdir: str | Path
) -> str:
    """The batch script: #SBATCH lines, modules, pre-run lines, the rocket launch.

    ``name`` may be anything (it becomes a sanitised job name); ``rocket_launch`` is
    built by oredox from quoted paths.
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
    lines += [
        f"export ATOMATE2_VASP_CMD={shlex.quote(profile.full_vasp_cmd)}",
        f"cd {shlex.quote(str(workdir))}",
        rocket_launch,
        "",
    ]
    return "\n".join(lines)


def fireworks_template(profile: ClusterProfile, name: str) -> str:
    """:func:`sbatch_script` as a FireWorks CommonAdapter template.

    The adapter fills ``$${launch_dir}`` and ``$${rocket_launch}`` (its delimiter is
    ``$$``); any ``$$`` already in the script is escaped so it stays literal.
    """
    script = sbatch_script(profile, name, "__ROCKET__", "__LAUNCH_DIR__")
    script = script.replace("$$", "$$$$")
    script = script.replace("__LAUNCH_DIR__", "$${launch_dir}")
    return script.replace("__ROCKET__", "$${rocket_launch}")
