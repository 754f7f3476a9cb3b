"""The oxygen-loss document job: from relaxed vacancy cells to one stored document.

Typed pieces carry what :class:`~oredox.workflows.oxygen_flow.OxygenVacancyMaker`
knows to the last job:

- :class:`OxygenHost`: one host configuration, its relaxed structure and energy (a
  number from the study, or a reference to a relaxation's output), and its O orbits
  (all counted, those kept for relaxation listed);
- :class:`VacancyRelaxation`: one kept orbit and its relaxation
  (:class:`~oredox.workflows.study_document.Relaxation`, references until it runs).

:func:`build_oxygen_document` checks that host, vacancy cells and O2 share one
energy scheme, sets mu_O (:func:`oredox.analysis.oxygen_thermo.oxygen_reference`),
and computes per vacancy E_f(V_O) at the O-rich limit, the release temperature and
mu_O threshold, and what the cell did after the loss
(:func:`oredox.analysis.oxygen_vacancies.after_oxygen_loss`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from jobflow import job
from monty.json import MSONable
from pymatgen.core import Structure

from oredox.analysis.oxygen_thermo import (
    formation_energy_vs_mu,
    oxygen_reference,
    release_mu_o_threshold,
    release_temperature,
)
from oredox.analysis.oxygen_vacancies import after_oxygen_loss
from oredox.entries import energies_include_mp2020
from oredox.errors import OredoxRunError
from oredox.oxygen_schemas import (
    OxygenHostResult,
    OxygenLossDocument,
    OxygenVacancyResult,
)
from oredox.schemas import EnergyScheme, check_single_scheme
from oredox.store_oxygen import OXYGEN_JOB_NAME
from oredox.workflows.study_document import Relaxation

logger = logging.getLogger(__name__)


@dataclass
class OxygenHost(MSONable):
    """A host configuration of the oxygen-loss study.

    Attributes
    ----------
    config_id
        The study entry's config_id (or the label of an explicit structure).
    x
        Alkali per host formula unit (None without a study).
    structure
        The relaxed host cell the vacancies are cut from.
    energy_eV
        Its total energy, eV (a reference to a relaxation's output for explicit
        structures; ``None`` if that relaxation failed).
    n_orbits
        Symmetry-distinct O sites of the host.
    orbits
        The orbits relaxed (:class:`~oredox.analysis.oxygen_vacancies.OxygenOrbit`
        as dicts), all or the lowest few per class after the Ewald screen.
    """

    config_id: str
    x: float | None
    structure: Structure
    energy_eV: Any
    n_orbits: int
    orbits: list[dict]


@dataclass
class VacancyRelaxation(MSONable):
    """One kept orbit of a host and the relaxation of its vacancy cell."""

    config_id: str
    orbit: dict
    relaxation: Relaxation


@job(name=OXYGEN_JOB_NAME)
def build_oxygen_document(
    source: dict,
    hosts: list[OxygenHost],
    vacancies: list[VacancyRelaxation],
    o2: Relaxation | None,
    reference_method: str,
    engine_label: str,
    settings: dict,
) -> OxygenLossDocument:
    """Assemble the oxygen-loss document from the relaxed vacancy cells.

    Parameters
    ----------
    source
        ``study_id`` (or None), ``name`` and ``host_formula``.
    hosts, vacancies
        The host configurations and the relaxations of their kept orbits; a
        relaxation that failed for good arrives with ``None`` outputs and is listed
        in ``failed``.
    o2
        The engine's O2 relaxation, or None when the reference does not use it.
    reference_method, engine_label
        For :func:`~oredox.analysis.oxygen_thermo.oxygen_reference`.
    settings
        ``energy_scheme`` (the study's), ``pressure_bar``, ``keep_per_class``,
        ``symprec``.

    Raises
    ------
    OredoxInputError
        If the energies mix schemes.
    OredoxRunError
        If the O2 relaxation or every vacancy relaxation failed.
    """
    scheme = EnergyScheme.model_validate(settings["energy_scheme"])
    relaxations = [v.relaxation for v in vacancies] + ([o2] if o2 else [])
    check_single_scheme(
        {"host": scheme}
        | {r.label: EnergyScheme.model_validate(r.energy_scheme) for r in relaxations}
    )
    o2_energy = None
    if o2 is not None:
        if o2.failed:
            raise OredoxRunError(
                "the O2 relaxation failed: no engine-O2 reference (its job's log "
                "says why; the mp2020 reference needs no O2 run)"
            )
        o2_energy = float(o2.energy_eV)
        check_o2_molecule(o2.structure)
    # energies of a model trained on MPtrj (CHGNet, also as a user's maker) already
    # carry MP2020's corrections; a DFT static (a cutoff) never does
    on_mp2020_scale = energies_include_mp2020(scheme)
    reference = oxygen_reference(
        o2_energy, reference_method, engine_label, on_mp2020_scale
    )
    pressure = float(settings["pressure_bar"])

    failed, results = [], []
    for host in hosts:
        mine = [v for v in vacancies if v.config_id == host.config_id]
        done = []
        for vacancy in mine:
            relaxation, label = vacancy.relaxation, vacancy.orbit["label"]
            problem = None
            if host.energy_eV is None:
                problem = "the host's relaxation failed (its job log says why)"
            elif relaxation.failed:
                problem = "the relaxation produced no output (its job log says why)"
            if problem:
                failed.append(
                    {"config_id": host.config_id, "label": label, "reason": problem}
                )
                continue
            done.append(
                vacancy_result(vacancy, float(host.energy_eV), reference, pressure)
            )
        if host.energy_eV is None:
            continue
        results.append(host_result(host, done))
    if not any(result.vacancies for result in results):
        raise OredoxRunError("every vacancy relaxation failed: no oxygen-loss result")
    if failed:
        logger.warning("%d vacancy relaxations failed and are left out", len(failed))
    results.sort(key=lambda r: (r.x is None, -(r.x or 0.0)))
    return OxygenLossDocument(
        study_id=source["study_id"],
        name=source["name"],
        host_formula=source["host_formula"],
        energy_scheme=scheme,
        oxygen_reference=reference,
        o2_energy_eV=o2_energy,
        pressure_bar=pressure,
        keep_per_class=settings["keep_per_class"],
        symprec=settings["symprec"],
        hosts=results,
        failed=failed,
    )


def vacancy_result(
    vacancy: VacancyRelaxation, host_energy_eV: float, reference, pressure_bar: float
) -> OxygenVacancyResult:
    """E_f, release temperature and threshold, after-loss checks of one vacancy."""
    relaxation, orbit = vacancy.relaxation, vacancy.orbit
    energy = float(relaxation.energy_eV)
    e_f = float(formation_energy_vs_mu(energy, host_energy_eV, reference))
    if not math.isfinite(e_f):
        raise OredoxRunError(f"{relaxation.label}: formation energy {e_f}")
    return OxygenVacancyResult(
        label=orbit["label"],
        orbit_index=orbit["index"],
        multiplicity=orbit["multiplicity"],
        wyckoff=orbit.get("wyckoff"),
        cations=orbit.get("cations", {}),
        axes=orbit.get("axes", {}),
        energy_eV=energy,
        formation_energy_O_rich_eV=e_f,
        release_temperature_1bar_K=release_temperature(e_f, pressure_bar),
        release_delta_mu_o_threshold_eV=float(release_mu_o_threshold(e_f)),
        after_loss=after_oxygen_loss(relaxation.initial, relaxation.structure),
        converged=relaxation.is_converged,
        relax_job_uuid=relaxation.job_uuid,
        structure=relaxation.structure,
    )


def host_result(
    host: OxygenHost, vacancies: list[OxygenVacancyResult]
) -> OxygenHostResult:
    """One host with its vacancies, lowest E_f first; the lowest among converged."""
    vacancies = sorted(vacancies, key=lambda v: v.formation_energy_O_rich_eV)
    pool = [v for v in vacancies if v.converged] or vacancies
    lowest = pool[0] if pool else None
    structure = host.structure
    return OxygenHostResult(
        config_id=host.config_id,
        x=host.x,
        formula=structure.composition.formula,
        host_energy_eV=float(host.energy_eV),
        n_oxygen=sum(site.specie.symbol == "O" for site in structure),
        n_orbits=host.n_orbits,
        vacancies=vacancies,
        lowest_formation_energy_O_rich_eV=(
            None if lowest is None else lowest.formation_energy_O_rich_eV
        ),
        lowest_label=None if lowest is None else lowest.label,
        release_temperature_1bar_K=(
            None if lowest is None else lowest.release_temperature_1bar_K
        ),
    )


#: O-O bond lengths (A) of a relaxed O2 molecule that count as O2: the triplet's
#: 1.21 A (experiment), GGA's 1.22-1.24 A, with room for an engine's own
O2_BOND_RANGE_A = (1.15, 1.35)


def check_o2_molecule(structure) -> None:
    """Raise :class:`OredoxRunError` unless the relaxed O2 is still one O2 molecule.

    An engine-O2 reference from a molecule that dissociated, or whose box collapsed
    onto its images, would shift every E_f(V_O) silently.
    """
    if structure is None or len(structure) != 2:
        raise OredoxRunError("the relaxed O2 is not a two-atom cell")
    bond_A = float(structure.get_distance(0, 1))
    images_A = min(structure.lattice.abc)
    low, high = O2_BOND_RANGE_A
    if not low <= bond_A <= high or images_A < 3 * bond_A:
        raise OredoxRunError(
            f"the relaxed O2 has an O-O bond of {bond_A:.3f} A (O2: {low}-{high} A) "
            f"in a box of {images_A:.2f} A: not a usable engine-O2 reference; use "
            "--reference mp2020 where the energies allow it"
        )
