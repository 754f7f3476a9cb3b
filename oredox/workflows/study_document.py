"""The study document job: from relaxed configurations to one stored hull.

Typed pieces carry what the hull flow knows to the last job:

- :class:`StudyHost`: the host supercell, how it was made, and its alkali symmetry
  (computed once, in :meth:`DelithiationHullMaker.make
  <oredox.workflows.hull_flow.DelithiationHullMaker.make>`);
- :class:`Relaxation`: one relaxation (a configuration, or the alkali metal): its
  starting structure, and references to its energy, structure and convergence, which
  jobflow resolves when the document job runs (``None`` if the relaxation failed for
  good), and the energy scheme it was computed in.

:func:`build_study_document` checks that every relaxation shares one energy scheme,
then computes formation energies, the hull and the voltage profile over the
configurations that kept their framework, and records the statics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from jobflow import Flow, job
from monty.json import MSONable
from pymatgen.core import Structure

from oredox.analysis.formula_unit import formula_units as host_formula_units
from oredox.analysis.framework import check_framework, group_duplicates
from oredox.analysis.hull import (
    average_voltage,
    energy_above_hull,
    formation_energies,
    lower_hull,
    voltage_profile,
)
from oredox.analysis.path import redox_summary
from oredox.errors import OredoxRunError
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StaticRecord,
    StudyDocument,
    VoltageStepDoc,
    check_single_scheme,
)
from oredox.store import STUDY_JOB_NAME
from oredox.structures.delithiation import AlkaliSymmetry, Configuration

logger = logging.getLogger(__name__)


@dataclass
class StudyHost(MSONable):
    """The host of a study: supercell, provenance and alkali symmetry.

    Attributes
    ----------
    name
        Name of the study document.
    structure
        Host supercell with every alkali site occupied (unrelaxed).
    supercell_matrix
        How ``structure`` was made from the framework cell (recorded).
    framework
        Name of the parent framework (recorded).
    symmetry
        The alkali sites and the permutations of them by the host's symmetry.
    study_id
        The stored document's id (a local run's id: one study per run, however
        often its document job reruns); ``None``: a new random id.
    """

    name: str
    structure: Structure
    supercell_matrix: list[list[int]]
    framework: str
    symmetry: AlkaliSymmetry
    study_id: str | None = None

    @property
    def alkali(self) -> str:
        """The mobile element."""
        return self.symmetry.alkali


@dataclass
class Relaxation(MSONable):
    """One relaxation of the study (references to its job's outputs until it runs).

    Attributes
    ----------
    label
        The configuration id (``k<vacancies>-<i>``) or ``"<alkali> metal"``.
    initial
        The structure the relaxation started from.
    energy_eV, structure, converged
        The engine's :meth:`~oredox.workflows.engines.base.Engine.relax_outputs`;
        ``None`` when the job failed for good.
    energy_scheme
        The scheme of ``energy_eV``.
    converged_value
        What ``converged`` equals when the relaxation met its criterion.
    configuration
        The vacancy arrangement (``None`` for the alkali metal).
    static
        An engine pair's static at the relaxed geometry (references to its
        outputs: ``job_uuid``, ``dir_name``, ``energy_eV``...), whose energy is
        ``energy_eV``; ``None`` for single engines.
    job_uuid
        The uuid of the relaxation job (its task document), recorded on the entry.
    """

    label: str
    initial: Structure
    energy_eV: Any
    structure: Any
    converged: Any
    energy_scheme: EnergyScheme
    converged_value: Any = True
    configuration: Configuration | None = None
    static: Any = None
    job_uuid: str | None = None

    @property
    def failed(self) -> bool:
        """The relaxation produced no output."""
        return self.energy_eV is None or self.structure is None

    @property
    def is_converged(self) -> bool:
        """Whether it met the engine's convergence criterion."""
        return self.converged is not None and str(self.converged) == str(
            self.converged_value
        )


@job(name=STUDY_JOB_NAME)
def build_study_document(
    host: StudyHost,
    relaxations: list[Relaxation],
    alkali_reference: Relaxation,
    screening: dict | None = None,
    statics: list[dict] | None = None,
    convergence: dict | None = None,
) -> StudyDocument:
    """Assemble the study: formation energies, hull and voltages from relaxed energies.

    Energies per formula unit and ``x`` are per formula unit of the host as the user
    wrote it (:func:`oredox.analysis.formula_unit.formula_units`: Li1.17Ti0.58Ni0.25O2
    for the 48-atom LTNO cell, 12 formula units), else per its reduced formula
    (LiCoO2 for a Li6Co6O12 supercell, 6 formula units).
    Configurations that lost their framework (:func:`check_framework`) or whose
    relaxation did not converge are measured against the hull but do not build it
    (listed in ``failed`` with the reason), unless that would drop an end member.
    ``statics`` are the static records (config_id, job_uuid, energy_eV, structure,
    ...); their energies never enter the hull. ``convergence`` (a cluster-expansion
    loop's record) is stored as it is.

    A configuration whose relaxation failed for good arrives with ``None`` outputs
    (the job runs with missing references allowed): it is left out of the hull and
    listed in ``failed``. Without the alkali reference or any configuration there is
    no hull.

    Raises
    ------
    OredoxInputError
        If the relaxations do not share one energy scheme.
    OredoxRunError
        If the alkali reference or every configuration failed.
    """
    scheme = check_single_scheme(
        {
            r.label: EnergyScheme.model_validate(r.energy_scheme)
            for r in [*relaxations, alkali_reference]
        }
    )
    alkali = host.alkali
    failed = [
        {
            "config_id": r.label,
            "stage": "relax",
            "reason": "the relaxation produced no output (its job failed; the job's "
            "log or FireWorks launch says why)",
        }
        for r in relaxations
        if r.failed
    ]
    if alkali_reference.energy_eV is None:
        raise OredoxRunError(
            f"the {alkali} metal reference relaxation failed: no voltages without it"
        )
    if len(failed) == len(relaxations):
        raise OredoxRunError("every configuration's relaxation failed: no hull")
    if failed:
        logger.warning("%d configurations failed and are left out", len(failed))
    kept = [r for r in relaxations if not r.failed]
    usable_statics = _usable_statics(statics or [], failed)

    structure = host.structure
    formula_unit, formula_units = host_formula_units(structure)
    n_sites = host.symmetry.n_sites
    n_alkali = np.array([n_sites - r.configuration.n_vacancies for r in kept])
    x = n_alkali / formula_units
    energies = [float(r.energy_eV) for r in kept]
    e_fu = np.asarray(energies) / formula_units
    mu_alkali = alkali_reference.energy_eV / len(alkali_reference.initial)

    reports = [check_framework(r.initial, r.structure) for r in kept]
    converged = np.array([r.is_converged for r in kept])
    intact = np.array([report.intact for report in reports]) & converged
    if not (intact[x == x.min()].any() and intact[x == x.max()].any()):
        logger.warning(
            "an end member lost its framework or did not converge; the hull keeps "
            "every entry"
        )
        intact[:] = True
    failed += [
        {
            "config_id": r.label,
            "stage": "relax",
            "reason": "the relaxation did not meet its force criterion in its steps: "
            "measured against the hull, not used to build it",
        }
        for r, ok, used in zip(kept, converged, intact, strict=True)
        if not ok and not used
    ]
    duplicate_of: dict[int, int] = {}
    for group in group_duplicates([r.structure for r in kept]):
        lowest = min(group, key=lambda i: energies[i])
        duplicate_of.update({i: lowest for i in group if i != lowest})

    e_form = formation_energies(x, e_fu)
    e_above = energy_above_hull(x, e_fu, include=intact)
    hull_idx = np.flatnonzero(intact)
    vertices = [int(hull_idx[i]) for i in lower_hull(x[intact], e_fu[intact])]
    steps = voltage_profile(x[intact], e_fu[intact], mu_alkali)

    entries = [
        ConfigurationEntry(
            config_id=r.label,
            x=float(x[i]),
            n_alkali=int(n_alkali[i]),
            vacancies=list(r.configuration.vacancies),
            multiplicity=r.configuration.multiplicity,
            energy_eV=energies[i],
            energy_per_fu_eV=float(e_fu[i]),
            formation_energy_per_fu_eV=float(e_form[i]),
            e_above_hull_per_fu_eV=float(e_above[i]),
            on_hull=bool(e_above[i] == 0.0 and intact[i]),
            converged=r.is_converged,
            framework_flags=reports[i].reasons(),
            duplicate_of=kept[duplicate_of[i]].label if i in duplicate_of else None,
            relax_job_uuid=r.job_uuid,
            structure=r.structure,
        )
        for i, r in enumerate(kept)
    ]
    counts: dict[str, int] = {}
    for entry in entries:
        key = f"{entry.x:.4f}"
        counts[key] = counts.get(key, 0) + 1
    identity = {"study_id": host.study_id} if host.study_id else {}
    study = StudyDocument(
        **identity,
        name=host.name,
        host_formula=structure.composition.reduced_formula,
        framework=host.framework,
        alkali=alkali,
        host_structure=structure,
        supercell_matrix=host.supercell_matrix,
        formula_units=formula_units,
        formula_unit=formula_unit,
        n_alkali_sites=n_sites,
        space_group=host.symmetry.space_group,
        n_symmetry_operations=len(host.symmetry.permutations),
        configurations_per_x=counts,
        energy_scheme=scheme,
        alkali_reference_energy_per_atom_eV=float(mu_alkali),
        entries=entries,
        hull_config_ids=[entries[i].config_id for i in vertices],
        voltage_steps=[
            VoltageStepDoc(x_low=s.x_low, x_high=s.x_high, voltage_V=s.voltage_V)
            for s in steps
        ],
        average_voltage_V=float(average_voltage(steps)),
        screening=screening or {},
        failed=failed,
        statics=[static_record(static) for static in usable_statics],
        convergence=convergence,
    )
    study.redox_summary = redox_summary(study)
    return study


def _usable_statics(statics: list[dict], failed: list[dict]) -> list[dict]:
    """Statics with an energy; failed statics and analyses are added to ``failed``."""
    usable = []
    for static in statics:
        if static.get("energy_eV") is None:
            failed.append(
                {
                    "config_id": static["config_id"],
                    "stage": "static",
                    "reason": "the static produced no output (its job failed)",
                }
            )
            continue
        record = dict(static)
        if "analysis" in record and record["analysis"] is None:
            del record["analysis"]
            failed.append(
                {
                    "config_id": static["config_id"],
                    "stage": "analysis",
                    "reason": "the electronic analysis failed (its job log says why)",
                }
            )
        usable.append(record)
    return usable


def static_record(static: dict[str, Any]) -> StaticRecord:
    """A :class:`StaticRecord` from a static's outputs (moments from its structure)."""
    fields = dict(static)
    structure = fields.pop("structure", None)
    moments = None
    if structure is not None and "magmom" in structure.site_properties:
        moments = [float(np.sum(m)) for m in structure.site_properties["magmom"]]
    return StaticRecord(
        **fields,
        magmoms_muB=moments,
        total_magnetization_muB=None if moments is None else float(np.sum(moments)),
    )


def relax_job_uuid(relax_job) -> str:
    """The uuid of the job whose output is the relaxation's task document.

    A relax maker makes a job; an engine pair's makes a flow whose first job is the
    geometry relaxation.
    """
    return relax_job.jobs[0].uuid if isinstance(relax_job, Flow) else relax_job.uuid


def engine_relaxation(
    engine, relax_job, label: str, initial: Structure, scheme, config=None
) -> Relaxation:
    """A :class:`Relaxation` holding references to ``relax_job``'s outputs.

    The engine's :meth:`~oredox.workflows.engines.base.Engine.relax_outputs` and
    convergence value, the job's uuid (its task document), the configuration.
    """
    outputs = engine.relax_outputs(relax_job)
    return Relaxation(
        label=label,
        initial=initial,
        energy_eV=outputs["energy_eV"],
        structure=outputs["structure"],
        converged=outputs["converged"],
        energy_scheme=scheme,
        converged_value=engine.converged_value,
        configuration=config,
        static=outputs.get("static"),
        job_uuid=relax_job_uuid(relax_job),
    )
