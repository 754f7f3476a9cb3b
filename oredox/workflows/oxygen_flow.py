"""The oxygen-loss flow: which O leaves a delithiated configuration first, and when.

:class:`OxygenVacancyMaker` holds the engine and its relax maker (built once, as the
hull flow's :class:`~oredox.workflows.hull_flow.DelithiationHullMaker`). Read top to
bottom, :meth:`~OxygenVacancyMaker.make` is the procedure:

0. (when the flow is made) check the study: its host has O, the engine's energy
   scheme is the study's (:func:`~oredox.schemas.check_single_scheme`: one scheme
   for host and vacancy energies); choose the host configurations (the study's hull
   vertices by default, or given config ids or x values); find every O orbit of
   each under the configuration's own symmetry
   (:func:`~oredox.analysis.oxygen_vacancies.oxygen_orbits`, the removed alkali seen
   as vacancies), optionally keeping the lowest few per environment class after an
   Ewald screen (:func:`~oredox.analysis.oxygen_vacancies.screen_orbits`). The
   fan-out is known here, so the flow is a plain :class:`jobflow.Flow`;
1. ``relax <config> -O<index>``: one relaxation per kept orbit, of the relaxed host
   with its representative O removed, with the study's engine and settings. Cell
   and ions relax, as in the study: the scheme stays the study's, and in these
   small cells (one O in 8 to 48 removed) the vacancy cell is a reduced phase
   Li_x M O_(2-d) rather than a dilute defect, so E_f is the energy of
   Li_x M O2 -> Li_x M O_(2-d) + d/2 O2 per O, the reaction of O2 release. Moments
   start ferromagnetic (:func:`~oredox.workflows.dftu.initial_magmoms`): the two
   electrons the O leaves behind reduce the TMs;
2. ``relax O2`` (only for the ``engine-o2`` reference): a triplet O2 molecule
   (1 muB per O) in a 10 A box, relaxed with the same maker;
3. ``oredox oxygen document``
   (:func:`~oredox.workflows.oxygen_document.build_oxygen_document`): formation
   energies at the O-rich limit, release temperatures at 1 bar, O-O pairs and
   framework checks after the loss; stored as an
   :class:`~oredox.oxygen_schemas.OxygenLossDocument` linked to the study.

:func:`~oredox.workflows.oxygen_run.run_oxygen` runs it on this machine;
:func:`~oredox.workflows.oxygen_run.submit_oxygen` puts it on a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jobflow import Flow, Maker, OnMissing
from pymatgen.core import Lattice, Structure

from oredox.analysis.oxygen_vacancies import (
    oxygen_orbits,
    remove_oxygen,
    screen_orbits,
)
from oredox.analysis.path import vacancy_coords
from oredox.errors import OredoxInputError
from oredox.schemas import ConfigurationEntry, StudyDocument, check_single_scheme
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import ChgnetEngine, Engine, get_engine
from oredox.workflows.hull_flow import engine_relaxation
from oredox.workflows.oxygen_document import (
    OxygenHost,
    VacancyRelaxation,
    build_oxygen_document,
)
from oredox.workflows.study_document import Relaxation

# what users write -> OxygenReference.method (oredox.analysis.oxygen_thermo)
REFERENCE_METHODS = {"mp2020": "MP2020 fitted", "engine-o2": "engine O2"}
O2_BOND_A = 1.21  # O=O in the gas, A (experiment: 1.2075)
O2_BOX_A = 10.0
SAME_X = 1e-6


def o2_molecule(box_A: float = O2_BOX_A, bond_A: float = O2_BOND_A) -> Structure:
    """A triplet O2 molecule (``magmom`` 1 muB per O) in a cubic box of ``box_A``."""
    centre, half = 0.5 * box_A, 0.5 * bond_A
    return Structure(
        Lattice.cubic(box_A),
        ["O", "O"],
        [[centre, centre, centre - half], [centre, centre, centre + half]],
        coords_are_cartesian=True,
        site_properties={"magmom": [1.0, 1.0]},
    )


def has_oxygen(structure: Structure) -> bool:
    """Whether ``structure`` holds O (with or without oxidation states)."""
    return any(el.symbol == "O" for el in structure.composition.element_composition)


@dataclass
class OxygenVacancyMaker(Maker):
    """Flow from a stored study (or structures) to a stored oxygen-loss document.

    Parameters
    ----------
    name
        Flow name.
    engine
        Engine of every relaxation; it must give the study's energy scheme
        (:meth:`for_study` takes the study's engine and force criterion).
    reference
        ``mp2020`` (Materials Project's fitted O2 reference and oxide correction)
        or ``engine-o2`` (the engine's own O2 molecule, relaxed in the flow);
        :func:`oredox.analysis.oxygen_thermo.oxygen_reference` says what each means.
    keep_per_class
        Relax only the lowest this many orbits per environment class after an
        Ewald screen; ``None``: every orbit.
    symprec
        Symmetry tolerance (A) of the O orbits.
    fmax_eV_per_A, max_steps
        Force criterion (eV/A) and optimiser steps of the relaxations.
    pressure_bar
        O2 pressure of the release temperatures, bar.
    magmoms
        Initial moments per element over the defaults, muB.
    relax_maker
        Relaxation maker; default the engine's for ``fmax_eV_per_A``, ``max_steps``.
    """

    name: str = "oxygen loss"
    engine: Engine = field(default_factory=ChgnetEngine)
    reference: str = "mp2020"
    keep_per_class: int | None = None
    symprec: float = 0.01
    fmax_eV_per_A: float = 0.05
    max_steps: int = 500
    pressure_bar: float = 1.0
    magmoms: dict[str, float] = field(default_factory=dict)
    relax_maker: Maker | None = None

    def __post_init__(self):
        if self.reference not in REFERENCE_METHODS:
            raise OredoxInputError(
                f"unknown O reference {self.reference!r}; choose one of "
                f"{', '.join(REFERENCE_METHODS)}"
            )
        if self.keep_per_class is not None and self.keep_per_class < 1:
            raise OredoxInputError(
                f"keep_per_class must be at least 1, got {self.keep_per_class}"
            )
        if not self.pressure_bar > 0:
            raise OredoxInputError(f"pressure must be above 0 bar: {self.pressure_bar}")
        if self.relax_maker is None:
            self.relax_maker = self.engine.relax_maker(
                self.fmax_eV_per_A, self.max_steps
            )

    @classmethod
    def for_study(
        cls, study: StudyDocument, engine: str | Engine | None = None, **kwargs
    ) -> OxygenVacancyMaker:
        """A maker with the study's engine (or ``engine``) and force criterion.

        Raises
        ------
        OredoxInputError
            The study's host has no O; ``engine`` gives another energy scheme than
            the study's (the message names the fields that differ).
        """
        check_has_oxygen(study)
        if isinstance(engine, Engine):
            engine_obj = engine
        else:
            engine_obj = get_engine(
                engine or study.energy_scheme.engine, study_preset(study)
            )
        fmax = study.energy_scheme.relax_fmax_eV_per_A
        check_same_scheme(study, engine_obj, fmax)
        return cls(engine=engine_obj, fmax_eV_per_A=fmax, **kwargs)

    def make(
        self,
        study: StudyDocument,
        config_ids: Sequence[str] | None = None,
        x_values: Sequence[float] | None = None,
    ) -> Flow:
        """The flow for the configurations of ``study`` (default: its hull vertices).

        Raises
        ------
        OredoxInputError
            No O, another energy scheme, unknown config ids or x values.
        """
        check_has_oxygen(study)
        check_same_scheme(study, self.engine, self.fmax_eV_per_A)
        entries = select_configurations(study, config_ids, x_values)
        hosts = [
            self.host(
                entry.config_id,
                entry.structure,
                entry.energy_eV,
                vacancy_coords(study, entry.config_id),
                entry.x,
                study.host_structure,
            )
            for entry in entries
        ]
        source = {
            "study_id": study.study_id,
            "name": f"{study.name}: oxygen loss",
            "host_formula": study.host_formula,
        }
        return self.flow_for(hosts, source, [], study.host_structure)

    def make_for_structures(
        self, structures: Mapping[str, Structure], name: str = "oxygen loss"
    ) -> Flow:
        """The flow for explicit host cells (label -> structure), relaxed here first.

        Each host is relaxed with the same maker as its vacancy cells, which start
        from the unrelaxed host with one O removed. The document has no study.
        """
        if not structures:
            raise OredoxInputError("no structures given")
        for label, structure in structures.items():
            if not has_oxygen(structure):
                raise OredoxInputError(
                    f"structure {label!r} ({structure.composition.reduced_formula}) "
                    "has no oxygen: no O vacancy to compute"
                )
        jobs, hosts = [], []
        for label, structure in structures.items():
            start = initial_magmoms(structure, self.magmoms)
            relax = self.relax_maker.make(start)
            relax.name = f"relax host {label}"
            jobs.append(relax)
            outputs = self.engine.relax_outputs(relax)
            hosts.append(self.host(label, start, outputs["energy_eV"], []))
        first = next(iter(structures.values()))
        source = {
            "study_id": None,
            "name": name,
            "host_formula": first.composition.reduced_formula,
        }
        return self.flow_for(hosts, source, jobs, hosts[0].structure)

    def host(
        self, label, structure, energy_eV, vacancies, x=None, states_from=None
    ) -> OxygenHost:
        """An :class:`OxygenHost` with its O orbits (screened when asked).

        The Ewald screen takes the oxidation states of ``structure``, else those of
        ``states_from`` (the study's host: a TM imbalance of a delithiated cell is
        spread over its TMs), else pymatgen's guess.
        """
        orbits = oxygen_orbits(structure, vacancies or None, self.symprec)
        kept = orbits
        if self.keep_per_class is not None:
            charged = with_oxidation_states(structure, states_from)
            kept = screen_orbits(charged, orbits, self.keep_per_class)
        return OxygenHost(
            config_id=label,
            x=x,
            structure=structure,
            energy_eV=energy_eV,
            n_orbits=len(orbits),
            orbits=[orbit.model_dump(mode="json") for orbit in kept],
        )

    def flow_for(
        self, hosts: list[OxygenHost], source: dict, jobs: list, scheme_host: Structure
    ) -> Flow:
        """Relax every kept orbit of ``hosts`` (and the O2 if needed); the document.

        The energy scheme is the engine's for ``scheme_host`` (the study's host: its
        POTCARs and U table, whichever contents are chosen); the O reference is
        checked against it before any job exists (:func:`check_reference`).
        """
        scheme = self.engine.energy_scheme(self.fmax_eV_per_A, scheme_host)
        check_reference(scheme, self.reference, scheme_host)
        jobs, vacancies = list(jobs), []
        for host in hosts:
            for orbit in host.orbits:
                start = initial_magmoms(
                    remove_oxygen(host.structure, orbit["index"], orbit["label"]),
                    self.magmoms,
                )
                relax = self.relax_maker.make(start)
                relax.name = f"relax {host.config_id} -O{orbit['index']}"
                jobs.append(relax)
                relaxation = self.relaxation(relax, relax.name, start, scheme)
                vacancies.append(VacancyRelaxation(host.config_id, orbit, relaxation))
        o2 = None
        if self.reference == "engine-o2":
            molecule = o2_molecule()
            relax = self.relax_maker.make(molecule)
            relax.name = "relax O2"
            jobs.append(relax)
            o2 = self.relaxation(relax, "O2", molecule, scheme)
        document = build_oxygen_document(
            source=source,
            hosts=hosts,
            vacancies=vacancies,
            o2=o2,
            reference_method=REFERENCE_METHODS[self.reference],
            engine_label=self.engine.label,
            settings={
                "energy_scheme": scheme,
                "pressure_bar": self.pressure_bar,
                "keep_per_class": self.keep_per_class,
                "symprec": self.symprec,
            },
        )
        # a vacancy whose relaxation fails for good is listed, not fatal
        document.config.on_missing_references = OnMissing.NONE
        return Flow([*jobs, document], document.output, self.name)

    def relaxation(self, relax_job, label, initial, scheme) -> Relaxation:
        """A :class:`Relaxation` holding references to ``relax_job``'s outputs."""
        return engine_relaxation(self.engine, relax_job, label, initial, scheme)


def with_oxidation_states(
    structure: Structure, states_from: Structure | None = None
) -> Structure:
    """``structure`` with oxidation states: its own, those of ``states_from``, a guess.

    Raises
    ------
    OredoxInputError
        If none can be found (the Ewald screen needs them).
    """
    if all(getattr(sp, "oxi_state", None) is not None for sp in structure.species):
        return structure
    states = {}
    for site in states_from or []:
        if getattr(site.specie, "oxi_state", None) is not None:
            states.setdefault(site.specie.symbol, site.specie.oxi_state)
    copy = structure.copy()
    elements = {el.symbol for el in structure.composition.element_composition}
    if elements <= set(states):
        copy.add_oxidation_state_by_element(states)
        return copy
    try:
        copy.add_oxidation_state_by_guess()
    except ValueError:
        raise OredoxInputError(
            f"no oxidation states for {structure.composition.reduced_formula}: the "
            "Ewald screen of keep_per_class needs them; give a structure with them"
        ) from None
    return copy


def check_has_oxygen(study: StudyDocument) -> None:
    """Raise :class:`OredoxInputError` if the study's host has no O."""
    if not has_oxygen(study.host_structure):
        raise OredoxInputError(
            f"study {study.study_id} ({study.host_formula}) has no oxygen: no O "
            "vacancy to compute"
        )


def check_reference(scheme, reference: str, host: Structure) -> None:
    """Refuse the ``mp2020`` O reference for energies not on MP's scale, up front.

    MP's fitted O2 and its oxide correction hold for CHGNet (its energies carry
    MP2020 already) and for VASP with MP's settings (``oredox.entries.
    mp2020_problems`` empty); not for GPAW, other force fields, other U values or
    functionals. Checked when the flow is made, so nothing runs to fail at the end.
    """
    from oredox.entries import energies_include_mp2020, mp2020_problems

    if reference != "mp2020" or energies_include_mp2020(scheme):
        return
    elements = sorted(el.symbol for el in host.composition.elements)
    problems = mp2020_problems(scheme, elements)
    if problems:
        raise OredoxInputError(
            f"the mp2020 O reference (Materials Project's fitted O2 and oxide "
            f"correction) does not hold for {scheme.engine} energies here: "
            f"{'; '.join(problems)}; use --reference engine-o2 (the engine's own O2 "
            "molecule, whose GGA overbinding is stated on every result)"
        )


def study_preset(study: StudyDocument) -> str | None:
    """The shipped DFT+U preset a study's scheme names ("..., preset ltno-2022")."""
    from oredox.workflows.dftu import PRESETS

    match = re.search(r"preset (\S+?)(?:,|$)", study.energy_scheme.functional)
    return match.group(1) if match and match.group(1) in PRESETS else None


def check_same_scheme(study: StudyDocument, engine: Engine, fmax: float) -> None:
    """Raise :class:`OredoxInputError` unless ``engine`` gives the study's scheme."""
    mine = engine.energy_scheme(fmax, study.host_structure)
    check_single_scheme(
        {f"study {study.study_id[:12]}": study.energy_scheme, engine.label: mine}
    )


def select_configurations(
    study: StudyDocument,
    config_ids: Sequence[str] | None = None,
    x_values: Sequence[float] | None = None,
) -> list[ConfigurationEntry]:
    """The host configurations, by decreasing x: given ids, x values or hull vertices.

    For an x value: the hull vertex at that x, else the lowest-energy entry there.

    Raises
    ------
    OredoxInputError
        Both ids and x values; an id or x the study does not have (the message
        lists those it has).
    """
    if config_ids and x_values:
        raise OredoxInputError("give config ids or x values, not both")
    by_id = {entry.config_id: entry for entry in study.entries}
    if config_ids:
        unknown = [c for c in config_ids if c not in by_id]
        if unknown:
            raise OredoxInputError(
                f"study {study.study_id} has no configuration {', '.join(unknown)}; "
                f"it has {', '.join(by_id)}"
            )
        chosen = [by_id[c] for c in dict.fromkeys(config_ids)]
    elif x_values:
        chosen = []
        for x in dict.fromkeys(float(v) for v in x_values):
            here = [e for e in study.entries if abs(e.x - x) < SAME_X]
            if not here:
                have = ", ".join(f"{v:g}" for v in sorted({e.x for e in study.entries}))
                raise OredoxInputError(
                    f"study {study.study_id} has no configuration at x = {x:g}; "
                    f"it has x = {have}"
                )
            chosen.append(min(here, key=lambda e: (not e.on_hull, e.energy_eV)))
    else:
        chosen = study.hull_entries()
    return sorted(chosen, key=lambda e: -e.x)
