"""The delithiation convex-hull flow.

Read top to bottom, the jobs of :class:`DelithiationHullMaker` are the procedure:

1. ``relax host``: relax the fully lithiated host (cell and ions) with the engine,
   starting from high-spin ferromagnetic moments;
2. ``screen delithiated configurations``: find the alkali sites of the host supercell
   and its symmetry, enumerate the symmetry-distinct arrangements (or beam-search
   them), rank and select (:mod:`oredox.workflows.screening`); build them from the
   relaxed host's geometry with the host's starting moments (a relaxed moment of a
   TM whose oxidation state changes is a poor start: low-spin Co3+ relaxes to 0 muB,
   and a hole started from 0 converges slowly or not at all); then replace itself
   with the
   jobs below, whose number it only now knows (jobflow ``Response(replace)``);
3. relax every selected arrangement with the engine (the fully lithiated one is the
   host relaxation), and the bcc alkali metal for the reference, in the same scheme;
4. ``statics of near-hull configurations``: from the relaxed energies, the hull
   vertices and the entries within ``statics_window_meV_per_atom`` of the hull get a
   static for analysis (DOS, charge densities; engines without electronic structure,
   like CHGNet, get none); replace itself with the statics and the last job;
5. ``study document``: framework checks and duplicates, formation energies, hull and
   voltage profile over the configurations that kept their framework (from the
   relaxation energies of every entry: one scheme), and the statics' records.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, Maker, OnMissing, Response, job
from pymatgen.core import Lattice, Structure

from oredox.analysis.framework import check_framework, group_duplicates
from oredox.analysis.hull import (
    average_voltage,
    energy_above_hull,
    formation_energies,
    lower_hull,
    voltage_profile,
)
from oredox.errors import OredoxRunError
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StaticRecord,
    StudyDocument,
    VoltageStepDoc,
)
from oredox.store import STUDY_JOB_NAME
from oredox.structures.delithiation import (
    Configuration,
    alkali_symmetry,
    apply_configuration,
)
from oredox.workflows.analysis import vacancy_coords
from oredox.workflows.dftu import DftuPreset, initial_magmoms
from oredox.workflows.engines import get_engine
from oredox.workflows.screening import ScreeningSettings, screen_configurations

logger = logging.getLogger(__name__)
SCREEN_JOB_NAME = "screen delithiated configurations"
STATICS_JOB_NAME = "statics of near-hull configurations"
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
    relax_host
        Relax the host first and build the configurations from it (else from the
        unrelaxed host).
    statics_window_meV_per_atom
        Entries this close to the hull (meV/atom, from the relaxed energies) get a
        static, besides the hull vertices; engines without statics ignore it.
    max_statics
        At most this many statics, the closest to the hull first (None: no limit).
    projections
        Statics with phase-resolved projections (VASP LORBIT 12) for the TM-O
        pi/sigma analysis; LORBIT 11 otherwise.
    magmoms
        Initial moments per element, muB, over the high-spin defaults.
    walltime_s
        Walltime of each job (a cluster profile's): DFT engines stop cleanly before.
    engine_options
        Numerical settings of the gpaw engine (cutoff, k-point density, smearing;
        :data:`oredox.workflows.engines.GPAW_OPTIONS`).
    """

    name: str = "delithiation hull"
    engine: str = "chgnet"
    fmax: float = 0.05
    max_steps: int = 500
    alkali: str = "Li"
    symprec: float = 1e-3
    dft_u_preset: str | DftuPreset = "mp"
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    relax_host: bool = True
    statics_window_meV_per_atom: float = 5.0
    max_statics: int | None = None
    projections: bool = False
    magmoms: dict[str, float] = field(default_factory=dict)
    walltime_s: int | None = None
    engine_options: dict[str, float] = field(default_factory=dict)

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
        engine = get_engine(
            self.engine, self.dft_u_preset, self.walltime_s, self.engine_options
        )
        alkali_symmetry(host, self.alkali, self.symprec)  # as do hosts without alkali
        settings = asdict(self) | {
            "screening": asdict(self.screening),
            "dft_u_preset": preset_data(self.dft_u_preset),
        }
        start = initial_magmoms(host, self.magmoms)
        jobs, relaxed = [], None
        if self.relax_host:
            host_job = engine.relax_maker(fmax=self.fmax, steps=self.max_steps).make(
                start
            )
            host_job.name = "relax host"
            jobs.append(host_job)
            relaxed = {
                "structure": host_job.output.structure,
                "energy_eV": host_job.output.output.energy,
                "converged": engine.converged(host_job),
            }
        screen = screen_and_relax(
            host=host,
            supercell_matrix=[[int(v) for v in row] for row in supercell_matrix],
            framework=framework,
            study_name=study_name or f"{host.composition.reduced_formula} {framework}",
            settings=settings,
            relaxed_host=relaxed,
        )
        screen.name = SCREEN_JOB_NAME
        return Flow([*jobs, screen], screen.output, self.name)


def relaxed_geometry(start: Structure, relaxed: Structure) -> Structure:
    """``start`` (species, oxidation states, starting moments) in ``relaxed``'s cell.

    Cell and fractional positions from ``relaxed``; the two must list the same
    elements in the same order.
    """
    same = len(start) == len(relaxed) and all(
        a.specie.symbol == b.specie.symbol for a, b in zip(start, relaxed, strict=True)
    )
    if not same:
        raise ValueError("the relaxed host does not list the host's sites in order")
    return Structure(
        relaxed.lattice,
        start.species,
        relaxed.frac_coords,
        site_properties=start.site_properties,
    )


def preset_data(preset: str | DftuPreset) -> str | dict:
    """A preset as plain data for job arguments (a name, or the preset's fields)."""
    return preset if isinstance(preset, str) else preset.model_dump()


@job
def screen_and_relax(
    host: Structure,
    supercell_matrix: list[list[int]],
    framework: str,
    study_name: str,
    settings: dict[str, Any],
    relaxed_host: dict | None = None,
) -> Response:
    """Screen the configurations, then replace this job by their relaxations.

    ``settings`` are the fields of :class:`DelithiationHullMaker` (plain data, so the
    job serialises for any manager). ``relaxed_host`` (structure, energy_eV,
    converged) is the host relaxation: the configurations are cut from its
    structure, and the fully lithiated configuration is that relaxation itself.
    """
    screening = ScreeningSettings(**settings["screening"])
    engine = get_engine(
        settings["engine"],
        settings.get("dft_u_preset"),
        settings.get("walltime_s"),
        settings.get("engine_options"),
    )
    alkali = settings["alkali"]
    symmetry = alkali_symmetry(host, alkali, settings["symprec"])
    result = screen_configurations(host, symmetry, screening)
    configurations = result.selected
    ids = config_ids(configurations)
    relax = engine.relax_maker(fmax=settings["fmax"], steps=settings["max_steps"])
    parent = initial_magmoms(host, settings.get("magmoms"))
    if relaxed_host is not None:
        parent = relaxed_geometry(parent, relaxed_host["structure"])

    relax_jobs, initial, energies, structures, converged = [], [], [], [], []
    for config, config_id in zip(configurations, ids, strict=True):
        structure = apply_configuration(parent, symmetry, config)
        initial.append(structure)
        if config.n_vacancies == 0 and relaxed_host is not None:
            energies.append(relaxed_host["energy_eV"])
            structures.append(relaxed_host["structure"])
            converged.append(relaxed_host["converged"])
            continue
        relax_job = relax.make(structure)
        relax_job.name = f"relax {config_id}"
        relax_jobs.append(relax_job)
        energies.append(relax_job.output.output.energy)
        structures.append(relax_job.output.structure)
        converged.append(engine.converged(relax_job))
    reference_job = relax.make(alkali_metal(alkali))
    reference_job.name = f"relax {alkali} metal"

    study_args = {
        "name": study_name,
        "host": host,
        "supercell_matrix": supercell_matrix,
        "framework": framework,
        "alkali": alkali,
        "space_group": symmetry.space_group,
        "n_symmetry_operations": len(symmetry.permutations),
        "configurations": [
            {
                "config_id": config_id,
                "n_vacancies": config.n_vacancies,
                "vacancies": list(config.vacancies),
                "multiplicity": config.multiplicity,
            }
            for config, config_id in zip(configurations, ids, strict=True)
        ],
        "initial_structures": initial,
        "energies_eV": energies,
        "structures": structures,
        "converged": converged,
        "alkali_energy_eV": reference_job.output.output.energy,
        "alkali_n_atoms": len(alkali_metal(alkali)),
        "energy_scheme": engine.energy_scheme(fmax=settings["fmax"], structure=host),
        "screening": _plain(result.record),
    }
    statics_job = statics_and_study(study_args, settings)
    statics_job.name = STATICS_JOB_NAME
    # a configuration that fails for good must not stop the study
    statics_job.config.on_missing_references = OnMissing.NONE
    jobs = [*relax_jobs, reference_job, statics_job]
    # + 1: jobflow stores the replacing flow's output with one more job
    logger.info(FAN_OUT_MESSAGE.format(len(jobs) + 1))
    return Response(replace=Flow(jobs, statics_job.output, "relax and assemble"))


@job
def statics_and_study(study_args: dict[str, Any], settings: dict[str, Any]) -> Response:
    """Statics of the hull vertices and near-hull entries, then the study document.

    Each static is followed by the engine's electronic analysis (O environments, O
    2p DOS, Bader, local-frame projections, redox; :mod:`oredox.workflows.analysis`).

    The hull of the relaxation energies decides which entries get a static; the
    document job that follows is the same whatever the engine.
    """
    engine = get_engine(
        settings["engine"],
        settings.get("dft_u_preset"),
        settings.get("walltime_s"),
        settings.get("engine_options"),
    )
    jobs, statics = [], []
    if hasattr(engine, "static_maker"):
        draft = build_study_document.original(**study_args)
        chosen = static_candidates(
            draft,
            settings["statics_window_meV_per_atom"],
            settings.get("max_statics"),
        )
        static = engine.static_maker(projections=settings.get("projections", False))
        ids = [config["config_id"] for config in study_args["configurations"]]
        for entry in chosen:
            static_job = static.make(entry.structure)
            static_job.name = f"static {entry.config_id}"
            jobs.append(static_job)
            record = {"config_id": entry.config_id, "job_uuid": static_job.uuid}
            record |= engine.static_outputs(static_job)
            if hasattr(engine, "analysis_job"):
                initial = study_args["initial_structures"][ids.index(entry.config_id)]
                analysis = engine.analysis_job(
                    static_job, vacancy_coords(draft, entry.config_id), initial
                )
                analysis.name = f"analyse {entry.config_id}"
                jobs.append(analysis)
                record["analysis"] = analysis.output
            statics.append(record)
    study_job = build_study_document(**study_args, statics=statics)
    study_job.config.on_missing_references = OnMissing.NONE
    jobs.append(study_job)
    logger.info(FAN_OUT_MESSAGE.format(len(jobs) + 1))
    return Response(replace=Flow(jobs, study_job.output, "statics and study"))


def static_candidates(
    study: StudyDocument, window_meV_per_atom: float, limit: int | None = None
) -> list[ConfigurationEntry]:
    """Hull vertices, then intact non-duplicate entries within the window of the hull.

    Ordered by energy above the hull (vertices first), cut at ``limit``.
    """
    atoms_per_fu = len(study.host_structure) / study.formula_units
    window_eV_per_fu = window_meV_per_atom / 1000 * atoms_per_fu
    chosen = [
        entry
        for entry in study.entries
        if entry.on_hull
        or (
            entry.e_above_hull_per_fu_eV <= window_eV_per_fu + 1e-12
            and not entry.framework_flags
            and entry.duplicate_of is None
        )
    ]
    chosen.sort(key=lambda entry: (not entry.on_hull, entry.e_above_hull_per_fu_eV))
    return chosen if limit is None else chosen[:limit]


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
    statics: list[dict] | None = None,
) -> StudyDocument:
    """Assemble the study: formation energies, hull and voltages from relaxed energies.

    Energies per formula unit use the reduced formula of the full host (LiCoO2 for a
    Li6Co6O12 supercell, 6 formula units), so ``x`` is the alkali per formula unit.
    Configurations that lost their framework (:func:`check_framework`) are measured
    against the hull but do not build it, unless that would drop an end member.
    ``statics`` are the static records (config_id, job_uuid, energy_eV, structure,
    ...); their energies never enter the hull.

    A configuration whose relaxation failed for good arrives as ``None`` (the job
    runs with missing references allowed): it is left out of the hull and listed in
    ``failed``. Without the alkali reference or any configuration there is no hull.
    """
    failed = [
        {
            "config_id": config["config_id"],
            "stage": "relax",
            "reason": "the relaxation produced no output (its job failed; the job's "
            "log or FireWorks launch says why)",
        }
        for config, energy, structure in zip(
            configurations, energies_eV, structures, strict=True
        )
        if energy is None or structure is None
    ]
    if alkali_energy_eV is None:
        raise OredoxRunError(
            f"the {alkali} metal reference relaxation failed: no voltages without it"
        )
    if len(failed) == len(configurations):
        raise OredoxRunError("every configuration's relaxation failed: no hull")
    if failed:
        keep = [
            i
            for i, (e, st) in enumerate(zip(energies_eV, structures, strict=True))
            if e is not None and st is not None
        ]
        configurations = [configurations[i] for i in keep]
        initial_structures = [initial_structures[i] for i in keep]
        energies_eV = [energies_eV[i] for i in keep]
        structures = [structures[i] for i in keep]
        converged = [converged[i] for i in keep]
        logger.warning("%d configurations failed and are left out", len(failed))
    usable_statics = []
    for static in statics or []:
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
        usable_statics.append(record)
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
        failed=failed,
        statics=[static_record(static) for static in usable_statics],
    )


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
