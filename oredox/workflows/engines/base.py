"""What every engine provides: the one interface the hull flow talks to.

An engine is a frozen pydantic model (its fields are its settings, validated once,
serialisable, so it crosses job boundaries as it is) that supplies:

- :meth:`Engine.relax_maker`: a jobflow ``Maker`` relaxing cell and ions;
- :meth:`Engine.static_maker`: a ``Maker`` for a static with electronic structure, or
  ``None`` for engines without one (CHGNet);
- :meth:`Engine.energy_scheme`: the :class:`~oredox.schemas.EnergyScheme` of every
  energy it produces for a host;
- :meth:`Engine.relax_outputs`: references to a relax job's energy (eV), structure
  and a boolean ``converged``;
- :meth:`Engine.static_outputs`: references to what a static's record keeps;
- :meth:`Engine.read_static`: the reader of a static's folder (parsed objects for
  :func:`oredox.analysis.electronic.analyse_outputs`);
- :meth:`Engine.check_runnable`: whether it can run on this machine.

The hull flow never asks which engine it holds: swapping engines changes the makers,
not the flow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from jobflow import Maker, job
from pydantic import ConfigDict
from pymatgen.core import Structure

from oredox.analysis.electronic import StaticOutputs, analyse_outputs
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, SettingsModel


class Engine(SettingsModel, ABC):
    """Base of the engines; see the module docstring for the interface."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    #: what the :meth:`relax_outputs` ``converged`` reference resolves to on success
    converged_value: ClassVar[Any] = True

    @property
    def label(self) -> str:
        """The engine's name as users write it (``chgnet+gpaw`` for a pair)."""
        return self.name

    @abstractmethod
    def relax_maker(self, fmax: float, steps: int) -> Maker:
        """Relaxation of cell and ions to forces below ``fmax`` eV/A."""

    def static_maker(self, projections: bool = False) -> Maker | None:
        """A static for electronic analysis; ``None``: the engine has none.

        ``projections`` asks for phase-resolved projections (TM-O pi/sigma).
        """
        del projections
        return None

    @abstractmethod
    def energy_scheme(self, fmax: float, structure: Structure | None) -> EnergyScheme:
        """The scheme of the energies of ``relax_maker(fmax)`` for ``structure``."""

    @abstractmethod
    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """References: ``energy_eV``, ``structure`` and ``converged`` of a relax job.

        ``converged`` resolves to :attr:`converged_value` when the relaxation met its
        criterion.
        """

    def static_outputs(self, static_job) -> dict[str, Any]:
        """References to what a static's :class:`~oredox.schemas.StaticRecord` keeps.

        ``dir_name``, ``energy_eV``, ``band_gap_eV``, ``structure`` and engine extras.
        """
        raise NotImplementedError(f"engine {self.name} runs no statics")

    def reads_static(self, folder: Path) -> bool:
        """Whether ``folder`` holds a static this engine wrote."""
        del folder
        return False

    def read_static(self, folder: str | Path) -> StaticOutputs:
        """Parse the static in ``folder`` (``host:path`` accepted)."""
        raise NotImplementedError(f"engine {self.name} writes no static folders")

    def check_runnable(self) -> None:
        """Raise :class:`~oredox.errors.OredoxInputError` if it cannot run here."""


def relaxed_geometry(start: Structure, relaxed: Structure) -> Structure:
    """``start`` (species, oxidation states, starting moments) in ``relaxed``'s cell.

    Cell and fractional positions from ``relaxed``; the two must list the same
    elements in the same order.
    """
    same = len(start) == len(relaxed) and all(
        a.specie.symbol == b.specie.symbol for a, b in zip(start, relaxed, strict=True)
    )
    if not same:
        raise OredoxInputError(
            "the relaxed structure does not list the starting structure's sites "
            "in order"
        )
    return Structure(
        relaxed.lattice,
        start.species,
        relaxed.frac_coords,
        site_properties=start.site_properties,
    )


def local_path(folder: str | Path) -> Path:
    """``host:path`` (atomate2's ``dir_name``) or a path, as a local path."""
    text = str(folder)
    return Path(text.split(":", 1)[-1] if ":" in text else text)


@job(name="electronic analysis")
def analyse_static(
    engine: Engine,
    dir_name: str,
    vacancies: list[list[float]] | None = None,
    initial: Structure | None = None,
) -> dict[str, Any]:
    """Job: analyse the static in ``dir_name`` (files read where the job runs)."""
    return analyse_outputs(engine.read_static(dir_name), vacancies, initial)
