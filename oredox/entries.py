"""A stored study as pymatgen entries: ``PhaseDiagram``, ``InsertionElectrode``, MP2020.

:func:`study_entries` gives one ``ComputedStructureEntry`` per configuration and
:func:`alkali_entry` the alkali metal reference. Compositions are elements only (the
stored structures carry oxidation states, which pymatgen's phase diagrams read as
other species). ``parameters`` say what pymatgen's compatibility schemes look for:
``run_type``, ``is_hubbard``, ``hubbards``, ``potcar_symbols`` and ``potcar_spec``,
with the study's engine, energy scheme and whether MP2020 applies (and why not).

Energies are the study's own, uncorrected. The schemes whose energies
MaterialsProject2020Compatibility can correct (:func:`mp2020_problems`):

- VASP with MP's POTCARs, PBE and MP's U values: yes.
- CHGNet (trained on MPtrj): no, because its energies already include MP2020's
  corrections. Its training energies were MP's GGA/GGA+U energies with
  MaterialsProject2020Compatibility applied (CHGNet's README, "Notes for Training").
  Measured with CHGNet 0.3.0 on MgO, CaO, SrO, BaO, Li2O, Na2O and K2O: 0.52-0.66 eV
  per O below MP's uncorrected energies, close to the -0.687 eV oxide correction.
  Correcting them again would count it twice. Compare them with MP's *corrected*
  energies as they are. The entries say so (``energies_include_mp2020``) and carry
  no POTCARs (none was used), so pymatgen's compatibility refuses them.
- GPAW (its own PAW setups), engine pairs whose energies come from GPAW, VASP with U
  values or POTCARs other than MP's: no. Their ``potcar_symbols`` are empty (no POTCAR
  was used), so MP2020's POTCAR check refuses them; pymatgen also refuses a U that is
  not MP's. pymatgen's ``process_entries`` drops refused entries without a word:
  :func:`apply_mp2020` raises instead, saying why.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pymatgen.core import Composition, Element, Structure
from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

from oredox.errors import OredoxInputError

if TYPE_CHECKING:
    from oredox.schemas import EnergyScheme, StudyDocument

MP_ENCUT_EV = 520.0  # MPRelaxSet's cutoff, the one MP2020's corrections were fitted at
U_ANIONS = ("O", "F")  # MP applies U only in oxides and fluorides


def study_entries(
    study: StudyDocument,
    x_min: float | None = None,
    x_max: float | None = None,
    hull_candidates_only: bool = False,
) -> list[ComputedStructureEntry]:
    """The study's configurations as pymatgen ``ComputedStructureEntry`` objects.

    Parameters
    ----------
    study
        A stored study (:func:`oredox.store.get_study`).
    x_min, x_max
        Keep the configurations whose alkali content per formula unit lies in the range.
    hull_candidates_only
        Keep only the configurations the study built its hull from: converged, host
        framework intact (when no end member qualifies, the study used every entry,
        and so does this).

    Returns
    -------
    list of ComputedStructureEntry
        Energy: the relaxed total energy in eV (the study's scheme, uncorrected) of an
        element-only structure. ``entry_id`` is ``"<study_id>:<config_id>"``; ``data``
        holds config_id, x, study_id, the formation energy and energy above hull (eV
        per formula unit), on_hull, converged and framework_flags; ``parameters``
        come from :func:`entry_parameters`. Together with :func:`alkali_entry` they go
        straight into ``InsertionElectrode.from_entries`` and ``PhaseDiagram``.
    """
    used = hull_candidate_ids(study) if hull_candidates_only else None
    entries = []
    for entry in study.entries:
        if x_min is not None and entry.x < x_min - 1e-9:
            continue
        if x_max is not None and entry.x > x_max + 1e-9:
            continue
        if used is not None and entry.config_id not in used:
            continue
        structure = _element_only(entry.structure)
        entries.append(
            ComputedStructureEntry(
                structure,
                entry.energy_eV,
                parameters=entry_parameters(study.energy_scheme, structure.composition)
                | {"energy_scheme_id": study.energy_scheme_id},
                entry_id=f"{study.study_id}:{entry.config_id}",
                data={
                    "config_id": entry.config_id,
                    "x": entry.x,
                    "study_id": study.study_id,
                    "energy_scheme_id": study.energy_scheme_id,
                    "formation_energy_per_fu_eV": entry.formation_energy_per_fu_eV,
                    "e_above_hull_per_fu_eV": entry.e_above_hull_per_fu_eV,
                    "on_hull": entry.on_hull,
                    "converged": entry.converged,
                    "framework_flags": list(entry.framework_flags),
                },
            )
        )
    return entries


def alkali_entry(study: StudyDocument) -> ComputedEntry:
    """The alkali metal reference of ``study``: one atom, its energy in eV.

    The study stores the relaxed metal's energy per atom
    (``alkali_reference_energy_per_atom_eV``, same scheme as the configurations), not
    its structure: a ``ComputedEntry`` of composition e.g. ``Li1``. Its ``parameters``
    are those of a GGA run (no U on a metal), ``entry_id`` ``"<study_id>:alkali"``.
    """
    composition = Composition({study.alkali: 1})
    return ComputedEntry(
        composition,
        study.alkali_reference_energy_per_atom_eV,
        parameters=entry_parameters(study.energy_scheme, composition)
        | {"energy_scheme_id": study.energy_scheme_id},
        entry_id=f"{study.study_id}:alkali",
        data={
            "config_id": "alkali",
            "study_id": study.study_id,
            "energy_scheme_id": study.energy_scheme_id,
        },
    )


def hull_candidate_ids(study: StudyDocument) -> set[str]:
    """The config_ids the study's hull was built from (converged, framework intact).

    The rule of :func:`oredox.workflows.study_document.build_study_document`: when no
    such entry exists at the lowest or at the highest x, every entry counts.
    """
    good = {e.config_id for e in study.entries if e.converged and not e.framework_flags}
    xs = [e.x for e in study.entries]
    for x_end in (min(xs), max(xs)) if xs else ():
        at_end = [e.config_id for e in study.entries if abs(e.x - x_end) < 1e-9]
        if not good.intersection(at_end):
            return {e.config_id for e in study.entries}
    return good


def entry_parameters(scheme: EnergyScheme, composition: Composition) -> dict[str, Any]:
    """pymatgen-style ``parameters`` of an entry of ``composition`` in ``scheme``.

    ``run_type`` is ``"GGA"`` or ``"GGA+U"`` for PBE (MP's names; ``"PBEsol"``,
    ``"r2SCAN"``... with ``"+U"`` for other functionals), ``+U`` when an element of
    the entry has a non-zero U (U applies only with O or F present, as in MP).
    ``hubbards``: U (eV) per element of the entry, ``{}`` without U. ``potcar_symbols``
    and ``potcar_spec`` (hash unknown: None): VASP's, empty for an engine that used no
    POTCAR (GPAW, CHGNet). Then ``engine``, ``functional``, ``energy_scheme`` (the whole
    scheme), ``energies_include_mp2020`` (CHGNet's), ``mp2020_compatible`` and
    ``mp2020_problems``.
    """
    elements = sorted(el.symbol for el in composition.elements)
    hubbards = _hubbards(scheme, elements)
    is_hubbard = any(u != 0 for u in hubbards.values())
    symbols = _potcar_symbols(scheme, elements)
    problems = mp2020_problems(scheme, elements)
    return {
        "run_type": _run_type(scheme, is_hubbard),
        "is_hubbard": is_hubbard,
        "hubbards": hubbards if is_hubbard else {},
        "potcar_symbols": symbols,
        "potcar_spec": [{"titel": symbol, "hash": None} for symbol in symbols],
        "engine": scheme.engine,
        "functional": scheme.functional,
        "energy_scheme": scheme.model_dump(mode="json"),
        "energies_include_mp2020": _is_mptrj_model(scheme),
        "mp2020_compatible": not problems,
        "mp2020_problems": problems,
    }


def mp2020_problems(scheme: EnergyScheme, elements: list[str]) -> list[str]:
    """Why MaterialsProject2020Compatibility cannot correct these energies ([]: it can).

    MP2020's corrections are fitted to VASP PBE(+U) energies with MP's POTCARs, U
    values and 520 eV cutoff; a model trained on MPtrj predicts those energies.
    """
    if _is_mptrj_model(scheme):
        return [
            f"{scheme.model} energies already include MP2020's corrections (its "
            "training energies had them applied): compare them with MP's corrected "
            "energies as they are, do not correct them again"
        ]
    if _is_model_only(scheme):
        return [
            f"energies from the machine-learned model {scheme.model}, not known to "
            "imitate MP's GGA/GGA+U energies (oredox knows CHGNet's MPtrj training)"
        ]
    if not scheme.potcars:
        setups = (scheme.parameters or {}).get("paw_setups", "its own PAW setups")
        return [
            f"energies from {scheme.engine} ({setups}), not VASP with MP's POTCARs: "
            "MP2020's corrections are fitted to VASP energies"
        ]
    problems = []
    if _functional_base(scheme.functional) != "GGA":
        problems.append(f"functional {scheme.functional}, not PBE")
    mp_u, ours = _mp_hubbards(elements), _hubbards(scheme, elements)
    problems += [
        f"U({el}) = {ours.get(el, 0.0):g} eV, MP uses {mp_u.get(el, 0.0):g} eV"
        for el in elements
        if abs(ours.get(el, 0.0) - mp_u.get(el, 0.0)) > 1e-6
    ]
    ours_potcars = _potcar_symbols(scheme, elements)
    wrong = sorted(set(ours_potcars) - set(_mp_potcar_symbols(elements)))
    if wrong:
        problems.append(f"POTCARs {', '.join(wrong)} are not MP's")
    if scheme.encut_eV is not None and abs(scheme.encut_eV - MP_ENCUT_EV) > 1e-6:
        problems.append(f"cutoff {scheme.encut_eV:g} eV, MP uses {MP_ENCUT_EV:g} eV")
    parameters = scheme.parameters or {}
    overrides = {**parameters.get("incar", {}), **parameters.get("relax_incar", {})}
    overrides.pop("ENCUT", None)  # reported above
    if overrides:
        tags = ", ".join(f"{k} = {v}" for k, v in sorted(overrides.items()))
        problems.append(f"INCAR overrides that change energies from MP's: {tags}")
    return problems


def apply_mp2020(entries: list[ComputedEntry], **kwargs) -> list[ComputedEntry]:
    """``entries`` corrected by MaterialsProject2020Compatibility, or an error: why not.

    pymatgen's ``process_entries`` silently drops the entries it refuses (a U or a
    POTCAR that is not MP's); this refuses the whole list instead, before any change,
    when an entry's scheme is not one MP2020 was fitted to (``mp2020_problems``), and
    raises on any entry pymatgen would drop. ``kwargs`` go to the compatibility class.

    Raises
    ------
    OredoxInputError
        An entry MP2020 cannot correct: which, and why.
    """
    from pymatgen.entries.compatibility import (
        CompatibilityError,
        MaterialsProject2020Compatibility,
    )

    for entry in entries:
        problems = entry.parameters.get("mp2020_problems") or []
        if problems or entry.parameters.get("mp2020_compatible") is False:
            raise OredoxInputError(
                f"entry {entry.entry_id}: MP2020 corrections do not apply "
                f"({'; '.join(problems) or 'not an MP-compatible scheme'}); compare "
                "these energies only with entries of the same scheme, uncorrected"
            )
    compatibility = MaterialsProject2020Compatibility(**kwargs)
    try:
        return compatibility.process_entries(entries, inplace=False, on_error="raise")
    except CompatibilityError as exc:
        raise OredoxInputError(
            f"MaterialsProject2020Compatibility refused an entry: {str(exc)[:300]}"
        ) from None


def _element_only(structure: Structure) -> Structure:
    """A copy of ``structure`` whose species are elements (no oxidation states)."""
    plain = structure.copy()
    plain.remove_oxidation_states()
    return plain


def energies_include_mp2020(scheme: EnergyScheme) -> bool:
    """Whether the scheme's energies already carry MP2020's corrections (CHGNet's)."""
    return _is_mptrj_model(scheme)


def _is_mptrj_model(scheme: EnergyScheme) -> bool:
    """Energies from a model trained on MPtrj (raw MP GGA/GGA+U), not from DFT."""
    model = scheme.model or ""
    return "MPtrj" in model and scheme.hubbard_u_eV is None and not scheme.potcars


def _is_model_only(scheme: EnergyScheme) -> bool:
    """Energies from a machine-learned model alone (no DFT static: no cutoff, no U)."""
    return bool(scheme.model) and not scheme.potcars and scheme.encut_eV is None


def _functional_base(functional: str) -> str:
    """MP's run-type name of the functional: PBE is "GGA"; PBEsol, r2SCAN as written."""
    word = re.split(r"[\s+/]", functional.strip(), maxsplit=1)[0]
    if word == "PBE":
        return "GGA"
    return word or "unknown"


def _run_type(scheme: EnergyScheme, is_hubbard: bool) -> str:
    if _is_model_only(scheme) and not _is_mptrj_model(scheme):
        return "unknown"  # a machine-learned model of unknown training data
    base = "GGA" if _is_mptrj_model(scheme) else _functional_base(scheme.functional)
    return f"{base}+U" if is_hubbard else base


def _hubbards(scheme: EnergyScheme, elements: list[str]) -> dict[str, float]:
    """U (eV) per element: the scheme's, MP's for an MPtrj model; 0 without O or F."""
    if not any(anion in elements for anion in U_ANIONS):
        return dict.fromkeys(elements, 0.0)
    if scheme.hubbard_u_eV is None:
        return _mp_hubbards(elements) if _is_mptrj_model(scheme) else {}
    return {el: float(scheme.hubbard_u_eV.get(el, 0.0)) for el in elements}


def _mp_hubbards(elements: list[str]) -> dict[str, float]:
    """MP's U (MPRelaxSet) per element, from the table of the most electronegative."""
    from pymatgen.io.vasp.sets import MPRelaxSet

    tables = MPRelaxSet.CONFIG["INCAR"]["LDAUU"]
    anion = max(elements, key=lambda el: Element(el).X)
    table = tables.get(anion, {})
    if not any(a in elements for a in U_ANIONS):
        table = {}
    return {el: float(table.get(el, 0.0)) for el in elements}


def _mp_potcar_symbols(elements: list[str]) -> list[str]:
    """MP's POTCAR titles of ``elements`` (``PAW_PBE Co``; the date is not known)."""
    from pymatgen.io.vasp.sets import MPRelaxSet

    potcars = MPRelaxSet.CONFIG["POTCAR"]
    return [f"PAW_PBE {potcars[el]}" for el in elements]


def _potcar_symbols(scheme: EnergyScheme, elements: list[str]) -> list[str]:
    """POTCAR titles of the elements (no date); [] when no POTCAR was used."""
    if not scheme.potcars:
        return []
    by_element = {symbol.split("_")[0]: symbol for symbol in scheme.potcars}
    return [f"PAW_PBE {by_element[el]}" for el in elements if el in by_element]


def study_phase_diagram(study: StudyDocument, hull_candidates_only: bool = True):
    """The study's configurations and its alkali metal as a pymatgen ``PhaseDiagram``.

    A study holds no entry of its framework's other elements (Co, O for Li_xCoO2):
    they get placeholder terminals 10 eV/atom above the highest entry, as pymatgen's
    ``InsertionElectrode.from_entries`` adds them, which close the diagram without
    touching the stable set along the delithiation line. With
    ``hull_candidates_only`` (default) the configurations the study kept off its hull
    (unconverged, framework lost) are left out, so the stable set is the study's hull.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    entries = study_entries(study, hull_candidates_only=hull_candidates_only)
    high_eV = max(entry.energy_per_atom for entry in entries) + 10.0
    others = {el for entry in entries for el in entry.elements} - {
        Element(study.alkali)
    }
    terminals = [PDEntry(Composition({el: 1}), high_eV) for el in sorted(others)]
    return PhaseDiagram([*entries, alkali_entry(study), *terminals])


def study_electrode(study: StudyDocument):
    """Pymatgen's ``InsertionElectrode`` of the study: the study's own voltages.

    Built from the configurations the study built its hull from
    (``hull_candidates_only``) and its alkali metal reference.
    """
    from pymatgen.apps.battery.insertion_battery import InsertionElectrode

    entries = study_entries(study, hull_candidates_only=True)
    return InsertionElectrode.from_entries(entries, alkali_entry(study))
