"""The delithiation convex-hull flow.

Read top to bottom, the jobs of :class:`DelithiationHullMaker` are the procedure:

1. ``screen delithiated configurations``: find the alkali sites of the host supercell
   and its symmetry, enumerate the symmetry-distinct arrangements (or beam-search
   them), rank and select (:mod:`oredox.workflows.screening`); then replace itself
   with the jobs below, whose number it only now knows (jobflow ``Response(replace)``);
2. relax every selected arrangement with the engine, and the bcc alkali metal for the
   reference;
3. assemble the study document: framework checks and duplicates, formation energies,
   hull and voltage profile over the configurations that kept their framework.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, Maker, Response, job
from pymatgen.core import Lattice, Structure

from oredox.analysis.framework import check_framework, group_duplicates
from oredox.analysis.hull import (
    average_voltage,
    energy_above_hull,
    formation_energies,
    lower_hull,
    voltage_profile,
)
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StudyDocument,
    VoltageStepDoc,
)
from oredox.store import STUDY_JOB_NAME
from oredox.structures.delithiation import (
    Configuration,
    alkali_symmetry,
    apply_configuration,
)
from oredox.workflows.engines import get_engine
from oredox.workflows.screening import ScreeningSettings, screen_configurations

logger = logging.getLogger(__name__)
SCREEN_JOB_NAME = "screen delithiated configurations"
FAN_OUT_MESSAGE = "fan-out: {} new jobs"

# bcc lattice parameters (A) of the alkali metals at room temperature.
BCC_LATTICE_A = {"Li": 3.51, "Na": 4.29, "K": 5.33}


def alkali_metal(alkali: str) -> Structure:
    """Conventional bcc cell (2 atoms) of the alkali metal, for the reference energy."""
    return Structure(
        Lattice.cubic(BCC_LATTICE_A[alkali]),
        [alkali, alkali],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
    )


@dataclass
class DelithiationHullMaker(Maker):
    """Flow from a host supercell to a stored delithiation hull and voltage profile.

    Parameters
    ----------
    name
        Flow name.
    engine
        Engine that relaxes every selected configuration and the alkali metal.
    fmax
        Force convergence of the relaxations, eV/A.
    max_steps
        Maximum optimiser steps per relaxation.
    alkali
        The mobile ion removed from the host.
    symprec
        Symmetry tolerance (A) for the enumeration.
    dft_u_preset
        DFT+U preset of DFT engines (:mod:`oredox.workflows.dftu`).
    screening
        Candidate generation, ranking and selection; ``relax_all=True`` relaxes every
        distinct configuration (the exhaustive hull of the demo).
    """

    name: str = "delithiation hull"
    engine: str = "chgnet"
    fmax: float = 0.05
    max_steps: int = 500
    alkali: str = "Li"
    symprec: float = 1e-3
    dft_u_preset: str = "mp"
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)

    def make(
        self,
        host: Structure,
        supercell_matrix: list[list[int]],
        framework: str = "O3 layered",
        study_name: str | None = None,
    ) -> Flow:
        """Build the flow for ``host``, the fully lithiated supercell.

        Parameters
        ----------
        host
            Host supercell with every alkali site occupied.
        supercell_matrix
            How ``host`` was made from the framework cell (recorded, not applied).
        framework
            Name of the parent framework (recorded).
        study_name
            Name of the study document; default ``"<formula> <framework>"``.
        """
        get_engine(self.engine, self.dft_u_preset)  # unknown engines fail here
        alkali_symmetry(host, self.alkali, self.symprec)  # as do hosts without alkali
        screen = screen_and_relax(
            host=host,
            supercell_matrix=[[int(v) for v in row] for row in supercell_matrix],
            framework=framework,
            study_name=study_name or f"{host.composition.reduced_formula} {framework}",
            settings=asdict(self) | {"screening": asdict(self.screening)},
        )
        screen.name = SCREEN_JOB_NAME
        return Flow([screen], screen.output, self.name)


@job
def screen_and_relax(
    host: Structure,
    supercell_matrix: list[list[int]],
    framework: str,
    study_name: str,
    settings: dict[str, Any],
) -> Response:
    """Screen the configurations, then replace this job by their relaxations.

    ``settings`` are the fields of :class:`DelithiationHullMaker` (plain data, so the
    job serialises for any manager).
    """
    screening = ScreeningSettings(**settings["screening"])
    engine = get_engine(settings["engine"], settings.get("dft_u_preset"))
    alkali = settings["alkali"]
    symmetry = alkali_symmetry(host, alkali, settings["symprec"])
    result = screen_configurations(host, symmetry, screening)
    configurations = result.selected
    ids = config_ids(configurations)
    relax = engine.relax_maker(fmax=settings["fmax"], steps=settings["max_steps"])

    relax_jobs, initial = [], []
    for config, config_id in zip(configurations, ids, strict=True):
        structure = apply_configuration(host, symmetry, config)
        initial.append(structure)
        relax_job = relax.make(structure)
        relax_job.name = f"relax {config_id}"
        relax_jobs.append(relax_job)
    reference_job = relax.make(alkali_metal(alkali))
    reference_job.name = f"relax {alkali} metal"

    study_job = build_study_document(
        name=study_name,
        host=host,
        supercell_matrix=supercell_matrix,
        framework=framework,
        alkali=alkali,
        space_group=symmetry.space_group,
        n_symmetry_operations=len(symmetry.permutations),
        configurations=[
            {
                "config_id": config_id,
                "n_vacancies": config.n_vacancies,
                "vacancies": list(config.vacancies),
                "multiplicity": config.multiplicity,
            }
            for config, config_id in zip(configurations, ids, strict=True)
        ],
        initial_structures=initial,
        energies_eV=[j.output.output.energy for j in relax_jobs],
        structures=[j.output.structure for j in relax_jobs],
        converged=[engine.converged(j) for j in relax_jobs],
        alkali_energy_eV=reference_job.output.output.energy,
        alkali_n_atoms=len(alkali_metal(alkali)),
        energy_scheme=engine.energy_scheme(fmax=settings["fmax"], structure=host),
        screening=_plain(result.record),
    )
    jobs = [*relax_jobs, reference_job, study_job]
    logger.info(FAN_OUT_MESSAGE.format(len(jobs)))
    return Response(replace=Flow(jobs, study_job.output, "relax and assemble"))


@job(name=STUDY_JOB_NAME)
def build_study_document(
    name: str,
    host: Structure,
    supercell_matrix: list[list[int]],
    framework: str,
    alkali: str,
    space_group: str,
    n_symmetry_operations: int,
    configurations: list[dict],
    initial_structures: list[Structure],
    energies_eV: list[float],
    structures: list[Structure],
    converged: list,
    alkali_energy_eV: float,
    alkali_n_atoms: int,
    energy_scheme: EnergyScheme,
    screening: dict | None = None,
) -> StudyDocument:
    """Assemble the study: formation energies, hull and voltages from relaxed energies.

    Energies per formula unit use the reduced formula of the full host (LiCoO2 for a
    Li6Co6O12 supercell, 6 formula units), so ``x`` is the alkali per formula unit.
    Configurations that lost their framework (:func:`check_framework`) are measured
    against the hull but do not build it, unless that would drop an end member.
    """
    _, formula_units = host.composition.get_reduced_composition_and_factor()
    formula_units = int(formula_units)
    n_sites = sum(site.specie.symbol == alkali for site in host)
    n_alkali = np.array([n_sites - c["n_vacancies"] for c in configurations])
    x = n_alkali / formula_units
    e_fu = np.asarray(energies_eV, dtype=float) / formula_units
    mu_alkali = alkali_energy_eV / alkali_n_atoms

    reports = [
        check_framework(a, b)
        for a, b in zip(initial_structures, structures, strict=True)
    ]
    intact = np.array([r.intact for r in reports])
    if not (intact[x == x.min()].any() and intact[x == x.max()].any()):
        logger.warning("an end member lost its framework; the hull keeps every entry")
        intact[:] = True
    duplicate_of: dict[int, int] = {}
    for group in group_duplicates(structures):
        keep = min(group, key=lambda i: energies_eV[i])
        duplicate_of.update({i: keep for i in group if i != keep})

    e_form = formation_energies(x, e_fu)
    e_above = energy_above_hull(x, e_fu, include=intact)
    hull_idx = np.flatnonzero(intact)
    vertices = [int(hull_idx[i]) for i in lower_hull(x[intact], e_fu[intact])]
    steps = voltage_profile(x[intact], e_fu[intact], mu_alkali)

    entries = [
        ConfigurationEntry(
            config_id=config["config_id"],
            x=float(x[i]),
            n_alkali=int(n_alkali[i]),
            vacancies=config["vacancies"],
            multiplicity=config["multiplicity"],
            energy_eV=float(energies_eV[i]),
            energy_per_fu_eV=float(e_fu[i]),
            formation_energy_per_fu_eV=float(e_form[i]),
            e_above_hull_per_fu_eV=float(e_above[i]),
            on_hull=bool(e_above[i] == 0.0 and intact[i]),
            converged=converged[i] is True or str(converged[i]) == "successful",
            framework_flags=reports[i].reasons(),
            duplicate_of=(
                configurations[duplicate_of[i]]["config_id"]
                if i in duplicate_of
                else None
            ),
            structure=structures[i],
        )
        for i, config in enumerate(configurations)
    ]
    counts: dict[str, int] = {}
    for entry in entries:
        key = f"{entry.x:.4f}"
        counts[key] = counts.get(key, 0) + 1
    return StudyDocument(
        name=name,
        host_formula=host.composition.reduced_formula,
        framework=framework,
        alkali=alkali,
        host_structure=host,
        supercell_matrix=supercell_matrix,
        formula_units=formula_units,
        n_alkali_sites=n_sites,
        space_group=space_group,
        n_symmetry_operations=n_symmetry_operations,
        configurations_per_x=counts,
        energy_scheme=energy_scheme,
        alkali_reference_energy_per_atom_eV=float(mu_alkali),
        entries=entries,
        hull_config_ids=[entries[i].config_id for i in vertices],
        voltage_steps=[
            VoltageStepDoc(x_low=s.x_low, x_high=s.x_high, voltage_V=s.voltage_V)
            for s in steps
        ],
        average_voltage_V=float(average_voltage(steps)),
        screening=screening or {},
    )


def config_ids(configurations: list[Configuration]) -> list[str]:
    """``k<vacancies>-<i>``: the i-th distinct arrangement with that many vacancies."""
    seen: Counter[int] = Counter()
    ids = []
    for config in configurations:
        ids.append(f"k{config.n_vacancies}-{seen[config.n_vacancies]}")
        seen[config.n_vacancies] += 1
    return ids


def _plain(value: Any) -> Any:
    """JSON-friendly copy (numpy scalars and int keys become plain)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
