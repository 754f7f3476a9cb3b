"""The CHGNet engine: atomate2's force-field makers with CHGNet's bundled weights.

Runs anywhere, offline, on a CPU, in minutes: the default engine and the one of the
demo. Its energies are CHGNet's predictions of MPtrj total energies (PBE and PBE+U
with Materials Project U values, as the model learned them). It has no electronic
structure, hence no static.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar

from jobflow import Maker
from pymatgen.core import Structure

from oredox.extras import require
from oredox.schemas import EnergyScheme
from oredox.workflows.engines.base import Engine
from oredox.workflows.live import OPTIMIZER_LOG_FILE

CHGNET_MODEL = "0.3.0"


class ChgnetEngine(Engine):
    """CHGNet universal potential (weights ship in the wheel; runs offline on CPU)."""

    name: ClassVar[str] = "chgnet"

    def relax_maker(self, fmax: float = 0.05, steps: int = 500) -> Maker:
        """atomate2's force-field relax maker with CHGNet, cell and ions relaxed.

        Parameters
        ----------
        fmax
            Force convergence in eV/A.
        steps
            Maximum number of optimiser steps.
        """
        require("chgnet", "the CHGNet engine")
        from atomate2.forcefields.jobs import ForceFieldRelaxMaker

        return ForceFieldRelaxMaker(
            name="chgnet relax",
            force_field_name="CHGNet",
            relax_cell=True,
            steps=steps,
            # ASE logs each step to optimizer.log; oredox.workflows.live reads it live
            relax_kwargs={"fmax": fmax, "logfile": OPTIMIZER_LOG_FILE},
        )

    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """Energy (eV), structure and force convergence (bool) of a relax job."""
        return {
            "energy_eV": relax_job.output.output.energy,
            "structure": relax_job.output.structure,
            "converged": relax_job.output.is_force_converged,
        }

    def energy_scheme(
        self, fmax: float = 0.05, structure: Structure | None = None
    ) -> EnergyScheme:
        """The scheme of the energies this engine produces with ``relax_maker``."""
        del structure  # the same for every structure
        return EnergyScheme(
            engine=self.name,
            engine_version=version("chgnet"),
            model=f"CHGNet {CHGNET_MODEL} (MPtrj)",
            functional="PBE/PBE+U (MP U values) as learned from MPtrj",
            relax_fmax_eV_per_A=fmax,
            relax_cell=True,
        )
