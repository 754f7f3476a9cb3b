"""Engines: what relaxes a structure and what its energies mean.

An engine supplies a relax ``Maker`` (a jobflow maker whose job outputs a task document
with ``.output.energy`` in eV, ``.structure`` and ``.is_force_converged``) and the
:class:`~oredox.schemas.EnergyScheme` that every entry it produces carries. Swapping
engines changes the makers, never the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import version

from jobflow import Maker

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme

CHGNET_MODEL = "0.3.0"


@dataclass(frozen=True)
class ChgnetEngine:
    """CHGNet universal potential (weights ship in the wheel; runs offline on CPU).

    Energies are CHGNet's predictions of MPtrj total energies, i.e. PBE and PBE+U with
    Materials Project U values, as the model learned them.
    """

    name: str = field(default="chgnet", init=False)

    def relax_maker(self, fmax: float = 0.05, steps: int = 500) -> Maker:
        """atomate2's force-field relax maker with CHGNet, cell and ions relaxed.

        Parameters
        ----------
        fmax
            Force convergence in eV/A.
        steps
            Maximum number of optimiser steps.
        """
        from atomate2.forcefields.jobs import ForceFieldRelaxMaker

        return ForceFieldRelaxMaker(
            name="chgnet relax",
            force_field_name="CHGNet",
            relax_cell=True,
            steps=steps,
            relax_kwargs={"fmax": fmax},
        )

    def converged(self, job):
        """Reference to whether a relax job met its force criterion."""
        return job.output.is_force_converged

    def check_runnable(self) -> None:
        """CHGNet's weights ship in its wheel: it runs anywhere."""

    def energy_scheme(self, fmax: float = 0.05, structure=None) -> EnergyScheme:
        """The scheme of the energies this engine produces with ``relax_maker``."""
        return EnergyScheme(
            engine=self.name,
            engine_version=version("chgnet"),
            model=f"CHGNet {CHGNET_MODEL} (MPtrj)",
            functional="PBE/PBE+U (MP U values) as learned from MPtrj",
            relax_fmax_eV_per_A=fmax,
            relax_cell=True,
        )


ENGINES = ("chgnet", "vasp", "gpaw")
GPAW_OPTIONS = (
    "ecut_eV",
    "kpoint_density_per_A",
    "smearing_eV",
    "scf_energy_eV_per_electron",
    "scf_density_per_electron",
    "scf_eigenstates_eV2_per_electron",
)


def get_engine(
    name: str,
    preset=None,
    walltime_s: int | None = None,
    options: dict | None = None,
):
    """The engine called ``name`` (``vasp``/``gpaw`` with the DFT+U ``preset``, mp).

    ``walltime_s`` (VASP) adds custodian's walltime handler, so a job stops cleanly
    before the queue kills it.

    ``preset`` is a preset name, a :class:`~oredox.workflows.dftu.DftuPreset` or its
    fields as plain data (how flows carry user U tables).

    ``options`` are the GPAW engine's numerical settings (``GPAW_OPTIONS``: cutoff,
    k-point density, smearing, SCF convergence); the other engines take none.

    Raises
    ------
    OredoxInputError
        If no engine has that name (the message lists the available ones), or an
        option is unknown to the engine.
    """
    key = name.lower()
    options = dict(options or {})
    if options and key != "gpaw":
        raise OredoxInputError(
            f"engine {key} takes no engine options (got {sorted(options)}); "
            "engine options are for gpaw"
        )
    if key == "chgnet":
        return ChgnetEngine()
    if key in ("vasp", "gpaw"):
        from oredox.workflows.dftu import get_preset

        preset = get_preset(preset or "mp")
    if key == "vasp":
        from oredox.workflows.vasp import VaspEngine

        return VaspEngine(preset, walltime_s=walltime_s)
    if key == "gpaw":
        from oredox.workflows.gpaw import GpawEngine

        unknown = sorted(set(options) - set(GPAW_OPTIONS))
        if unknown:
            raise OredoxInputError(
                f"unknown gpaw engine option(s) {unknown}; "
                f"known: {', '.join(GPAW_OPTIONS)}"
            )
        return GpawEngine(preset, **options)
    raise OredoxInputError(
        f"unknown engine {name!r}; available engines: {', '.join(ENGINES)}"
    )
