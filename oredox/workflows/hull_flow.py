"""The delithiation convex-hull flow.

:class:`DelithiationHullMaker` holds the engine, its relax and static makers and the
settings, each built once; its jobs receive the maker itself and typed pieces
(:mod:`oredox.workflows.study_document`), never settings to rebuild objects from.
Read top to bottom, the jobs are the procedure:

0. (in :meth:`~DelithiationHullMaker.make`) find the alkali sites of the host
   supercell and its symmetry, and the energy scheme of the engine for the host:
   once per study;
1. ``relax host``: relax the fully lithiated host (cell and ions) with the engine,
   starting from ferromagnetic moments (:func:`~oredox.workflows.dftu.initial_moment`:
   high-spin 3d, low-spin 4d/5d, 0 on closed shells);
2. ``screen delithiated configurations``: enumerate the symmetry-distinct
   arrangements (or beam-search them), rank and select
   (:mod:`oredox.workflows.screening`); build them from the relaxed host's geometry
   with the host's starting moments (a relaxed moment of a TM whose oxidation state
   changes is a poor start: low-spin Co3+ relaxes to 0 muB, and a hole started from 0
   converges slowly or not at all); then replace itself with the jobs below, whose
   number it only now knows (jobflow ``Response(replace)``);
3. relax every selected arrangement with the engine (the fully lithiated one is the
   host relaxation), and the bcc alkali metal for the reference, in the same scheme;
4. ``statics of near-hull configurations``: from the relaxed energies, the hull
   vertices and the entries within ``statics.window_meV_per_atom`` of the hull get a
   static and its electronic analysis (engines without statics, like CHGNet, get
   none; an engine pair's relaxations already ran theirs, which are analysed, not
   run again); a static starts from its relaxation's output structure, which carries
   the relaxed moments (VASP: emmet's task document puts the OUTCAR's moments on it
   as the ``magmom`` site property); replace itself with those and the last job;
5. ``study document`` (:func:`~oredox.workflows.study_document.build_study_document`):
   framework checks and duplicates, formation energies, hull and voltage profile over
   the configurations that kept their framework and converged (from the relaxation
   energies of every entry, an engine pair's being its statics': one scheme), the
   statics' records and the redox summary per step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from jobflow import Flow, Maker, OnMissing, Response, job
from pydantic import Field
from pymatgen.core import Lattice, Structure

from oredox.analysis.path import vacancy_coords
from oredox.analysis.selection import static_candidates
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, SettingsModel
from oredox.structures.delithiation import (
    MAX_ALKALI_SITES,
    alkali_symmetry,
    apply_configuration,
)
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import ChgnetEngine, Engine, analyse_static
from oredox.workflows.engines.base import relaxed_geometry
from oredox.workflows.screening import (
    ScreeningResult,
    ScreeningSettings,
    check_feasible,
    screen_configurations,
)
from oredox.workflows.study_document import (
    Relaxation,
    StudyHost,
    build_study_document,
    engine_relaxation,
    relax_job_uuid,
)

logger = logging.getLogger(__name__)
SCREEN_JOB_NAME = "screen delithiated configurations"
STATICS_JOB_NAME = "statics of near-hull configurations"
FAN_OUT_MESSAGE = "fan-out: {} new jobs"

# bcc lattice parameters (A) of the alkali metals at room temperature.
BCC_LATTICE_A = {"Li": 3.51, "Na": 4.29, "K": 5.33}


class RelaxSettings(SettingsModel):
    """Relaxations of the engine (a template's ``relax:``).

    Parameters
    ----------
    fmax_eV_per_A
        Force convergence, eV/A.
    max_steps
        Maximum optimiser (ionic) steps per relaxation.
    relax_host
        Relax the host first and cut the configurations from it (else from the
        unrelaxed host).
    """

    fmax_eV_per_A: float = Field(0.05, gt=0, allow_inf_nan=False)
    max_steps: int = Field(500, ge=1)
    relax_host: bool = True


class StaticsSettings(SettingsModel):
    """Statics for electronic analysis (a template's ``statics:``).

    Parameters
    ----------
    window_meV_per_atom
        Entries this close to the hull (meV/atom, from the relaxed energies) get a
        static, besides the hull vertices; engines without statics ignore it.
    max_statics
        At most this many statics, the closest to the hull first (None: no limit).
    projections
        Phase-resolved projections (VASP LORBIT 12) for the TM-O pi/sigma analysis;
        LORBIT 11 otherwise (GPAW always writes them).
    """

    window_meV_per_atom: float = Field(5.0, ge=0, allow_inf_nan=False)
    max_statics: int | None = Field(None, ge=1)
    projections: bool = False


def alkali_metal(alkali: str) -> Structure:
    """Conventional bcc cell (2 atoms) of the alkali metal, for the reference energy.

    Its ``magmom`` site property is 0 (a non-magnetic s metal,
    :func:`~oredox.workflows.dftu.initial_moment`); VASP relaxes it with
    Methfessel-Paxton smearing (:mod:`~oredox.workflows.engines.vasp_sets`).
    """
    metal = Structure(
        Lattice.cubic(BCC_LATTICE_A[alkali]),
        [alkali, alkali],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
    )
    return initial_magmoms(metal)


@dataclass
class DelithiationHullMaker(Maker):
    """Flow from a host supercell to a stored delithiation hull and voltage profile.

    Parameters
    ----------
    name
        Flow name.
    engine
        Engine of every relaxation and static (:func:`oredox.workflows.engines.
        get_engine`); it also gives the energy scheme and reads the statics.
    relax
        Force criterion, steps, host relaxation.
    screening
        Candidate generation, ranking and selection; ``relax_all=True`` relaxes every
        distinct configuration (the exhaustive hull of the demo).
    statics
        Which near-hull entries get a static, and with what projections.
    alkali
        The mobile ion removed from the host.
    symprec
        Symmetry tolerance (A) for the enumeration.
    magmoms
        Initial moments per element, muB, over the defaults of
        :func:`~oredox.workflows.dftu.initial_moment` (``{"O": 0.6}`` starts an
        O-hole search).
    relax_maker
        Relaxation maker; default the engine's for ``relax`` (built once, here).
    static_maker
        Static maker; default the engine's for ``statics`` (``None`` when the engine
        has none).
    """

    name: str = "delithiation hull"
    engine: Engine = field(default_factory=ChgnetEngine)
    relax: RelaxSettings = field(default_factory=RelaxSettings)
    screening: ScreeningSettings = field(default_factory=ScreeningSettings)
    statics: StaticsSettings = field(default_factory=StaticsSettings)
    alkali: str = "Li"
    symprec: float = 1e-3
    magmoms: dict[str, float] = field(default_factory=dict)
    relax_maker: Maker | None = None
    static_maker: Maker | None = None

    def __post_init__(self):
        if self.relax_maker is None:
            self.relax_maker = self.engine.relax_maker(
                self.relax.fmax_eV_per_A, self.relax.max_steps
            )
        if self.static_maker is None:
            self.static_maker = self.engine.static_maker(self.statics.projections)

    def study_host(
        self,
        host: Structure,
        supercell_matrix: list[list[int]],
        framework: str = "O3 layered",
        study_name: str | None = None,
        study_id: str | None = None,
    ) -> StudyHost:
        """The host with its alkali symmetry (computed here, once per study).

        ``study_id`` fixes the stored document's id (see :class:`StudyHost`).

        Raises
        ------
        OredoxInputError
            If the host has no site of the maker's alkali, or the screening could
            not enumerate its configurations.
        """
        n_sites = sum(site.specie.symbol == self.alkali for site in host)
        if n_sites > MAX_ALKALI_SITES:  # before the symmetry search of a large cell
            raise OredoxInputError(
                f"{n_sites} {self.alkali} sites exceed the {MAX_ALKALI_SITES} that "
                "bit masks hold; use a smaller supercell"
            )
        symmetry = alkali_symmetry(host, self.alkali, self.symprec)
        check_feasible(symmetry, self.screening, host)  # now, not after relaxing
        return StudyHost(
            name=study_name or f"{host.composition.reduced_formula} {framework}",
            structure=host,
            supercell_matrix=[[int(v) for v in row] for row in supercell_matrix],
            framework=framework,
            symmetry=symmetry,
            study_id=study_id,
        )

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
        return self.flow_for(
            self.study_host(host, supercell_matrix, framework, study_name)
        )

    def flow_for(self, host: StudyHost) -> Flow:
        """The flow of a :class:`StudyHost` (its symmetry already known)."""
        scheme = self.engine.energy_scheme(self.relax.fmax_eV_per_A, host.structure)
        jobs, relaxed_host = [], None
        if self.relax.relax_host:
            start = initial_magmoms(host.structure, self.magmoms)
            host_job = self.relax_maker.make(start)
            host_job.name = "relax host"
            jobs.append(host_job)
            relaxed_host = self.engine.relax_outputs(host_job) | {
                "job_uuid": relax_job_uuid(host_job)
            }
        screen = screen_and_relax(
            host=host, hull_maker=self, energy_scheme=scheme, relaxed_host=relaxed_host
        )
        screen.name = SCREEN_JOB_NAME
        return Flow([*jobs, screen], screen.output, self.name)

    def configurations(
        self, host: StudyHost, relaxed_structure: Structure | None = None
    ) -> tuple[ScreeningResult, list[Structure]]:
        """Screen the host, and the starting structure of each selected configuration.

        The structures carry the host's starting moments (:attr:`magmoms`), in the
        geometry of ``relaxed_structure`` when given (the relaxed host). The flow
        and ``oredox run --dry-run`` both call this.
        """
        result = screen_configurations(host.structure, host.symmetry, self.screening)
        return result, self.starts(host, result.selected, relaxed_structure)

    def starts(self, host: StudyHost, configs, relaxed_structure=None) -> list:
        """Starting structures of ``configs`` (see :meth:`configurations`)."""
        parent = initial_magmoms(host.structure, self.magmoms)
        if relaxed_structure is not None:
            parent = relaxed_geometry(parent, relaxed_structure)
        return [apply_configuration(parent, host.symmetry, c) for c in configs]

    def after_relaxations(
        self, host, relaxations, reference, screening, parent, energy_scheme=None
    ):
        """The job after the screened relaxations: statics, then the document.

        :class:`~oredox.workflows.converge_flow.ConvergedHullMaker` puts its
        cluster-expansion loop here first.
        """
        del parent, energy_scheme  # what a loop would cut and compute new ones with
        return statics_job(host, relaxations, reference, screening, self)

    def relaxation(self, relax_job, label, initial, scheme, config=None) -> Relaxation:
        """A :class:`Relaxation` holding references to ``relax_job``'s outputs."""
        return engine_relaxation(self.engine, relax_job, label, initial, scheme, config)


@job
def screen_and_relax(
    host: StudyHost,
    hull_maker: DelithiationHullMaker,
    energy_scheme: EnergyScheme,
    relaxed_host: dict | None = None,
) -> Response:
    """Screen the configurations, then replace this job by their relaxations.

    ``relaxed_host`` (the engine's ``relax_outputs`` of the host relaxation) is where
    the configurations are cut from, and the fully lithiated configuration is that
    relaxation itself.
    """
    parent = None if relaxed_host is None else relaxed_host["structure"]
    result, starts = hull_maker.configurations(host, parent)
    relaxations, relax_jobs = [], []
    for config, config_id, start in zip(
        result.selected, result.config_ids, starts, strict=True
    ):
        if config.n_vacancies == 0 and relaxed_host is not None:
            relaxations.append(
                Relaxation(
                    label=config_id,
                    initial=start,
                    energy_scheme=energy_scheme,
                    converged_value=hull_maker.engine.converged_value,
                    configuration=config,
                    **relaxed_host,
                )
            )
            continue
        relax_job = hull_maker.relax_maker.make(start)
        relax_job.name = f"relax {config_id}"
        relax_jobs.append(relax_job)
        relaxations.append(
            hull_maker.relaxation(relax_job, config_id, start, energy_scheme, config)
        )
    metal = alkali_metal(host.alkali)
    reference_job = hull_maker.relax_maker.make(metal)
    reference_job.name = f"relax {host.alkali} metal"
    reference = hull_maker.relaxation(
        reference_job, f"{host.alkali} metal", metal, energy_scheme
    )
    next_job = hull_maker.after_relaxations(
        host, relaxations, reference, _plain(result.record), parent, energy_scheme
    )
    # a configuration that fails for good must not stop the study
    next_job.config.on_missing_references = OnMissing.NONE
    jobs = [*relax_jobs, reference_job, next_job]
    replace = Flow(jobs, next_job.output, "relax and assemble")
    # + 1: jobflow stores the replacing flow's output with one more job
    logger.info(FAN_OUT_MESSAGE.format(len(replace.job_uuids) + 1))
    return Response(replace=replace)


def statics_job(host, relaxations, reference, screening, hull_maker, convergence=None):
    """The statics-and-study job, named, running whatever relaxations failed."""
    statics = statics_and_study(
        host=host,
        relaxations=relaxations,
        alkali_reference=reference,
        screening=screening,
        hull_maker=hull_maker,
        convergence=convergence,
    )
    statics.name = STATICS_JOB_NAME
    # a configuration that fails for good must not stop the study
    statics.config.on_missing_references = OnMissing.NONE
    return statics


@job
def statics_and_study(
    host: StudyHost,
    relaxations: list[Relaxation],
    alkali_reference: Relaxation,
    screening: dict,
    hull_maker: DelithiationHullMaker,
    convergence: dict | None = None,
) -> Response:
    """Statics of the hull vertices and near-hull entries, then the study document.

    Each static is followed by the engine's electronic analysis (O environments, O
    2p DOS, Bader, local-frame projections, redox;
    :func:`oredox.analysis.electronic.analyse_outputs`). The hull of the relaxation
    energies decides which entries get a static; the document job that follows is
    the same whatever the engine. ``convergence`` is a cluster-expansion loop's
    record (:mod:`oredox.workflows.converge_flow`), stored on the document.
    """
    jobs, statics = [], []
    if hull_maker.static_maker is not None:
        draft = build_study_document.original(
            host, relaxations, alkali_reference, screening
        )
        settings = hull_maker.statics
        chosen = static_candidates(
            draft, settings.window_meV_per_atom, settings.max_statics
        )
        by_label = {r.label: r for r in relaxations}
        for entry in chosen:
            relaxation = by_label[entry.config_id]
            if relaxation.static is not None:
                # an engine pair ran this static with the relaxation: analyse it
                outputs = dict(relaxation.static)
            else:
                static_job = hull_maker.static_maker.make(entry.structure)
                static_job.name = f"static {entry.config_id}"
                jobs.append(static_job)
                outputs = {"job_uuid": static_job.uuid} | (
                    hull_maker.engine.static_outputs(static_job)
                )
            analysis = analyse_static(
                hull_maker.engine,
                outputs["dir_name"],
                vacancy_coords(draft, entry.config_id),
                relaxation.initial,
            )
            analysis.name = f"analyse {entry.config_id}"
            jobs.append(analysis)
            statics.append(
                {"config_id": entry.config_id} | outputs | {"analysis": analysis.output}
            )
    study_job = build_study_document(
        host=host,
        relaxations=relaxations,
        alkali_reference=alkali_reference,
        screening=screening,
        statics=statics,
        convergence=convergence,
    )
    study_job.config.on_missing_references = OnMissing.NONE
    jobs.append(study_job)
    replace = Flow(jobs, study_job.output, "statics and study")
    logger.info(FAN_OUT_MESSAGE.format(len(replace.job_uuids) + 1))
    return Response(replace=replace)


def _plain(value):
    """JSON-friendly copy (numpy scalars and int keys become plain)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
