"""The formula unit a study counts its alkali content x in.

Every x, energy per formula unit, table and figure of a study is per formula unit of
the host *as the user wrote it*: Li1.17Ti0.58Ni0.25O2 for the 48-atom LTNO cell
(Li14Ti7Ni3O24, 12 formula units, x = 1.167 for the pristine host), LiCoO2 for
LiCoO2, Li2MnO3 for Li2MnO3. Without a written formula unit, the host's reduced
formula is used (the formula unit of pymatgen's ``reduced_formula``).

The number of formula units in a cell is fixed by the anion (the most electronegative
element: O, F), whose count is exact in any written formula; the other elements are
checked against the written fractions to the rounding of a formula written with two
decimals (0.01 per formula unit), so Li1.17Ti0.58Ni0.25O2 fits Li14Ti7Ni3O24
(1.1667, 0.5833, 0.25) and Li1.2Ti0.6Ni0.2O2 does not.

Where a written formula unit rides on a seed cell, it is kept in
``structure.properties["formula_unit"]`` (serialised with the structure).
"""

from __future__ import annotations

import re

from pymatgen.core import Composition, Element, Structure

from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument

#: rounding allowed between a written fraction and the cell's, per formula unit
FRACTION_TOLERANCE = 0.01
PROPERTY = "formula_unit"
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


def _written_tokens(formula: str) -> list[tuple[str, str]]:
    """(element, amount as written) in the order written; errors name the problem."""
    text = "".join(str(formula).split())
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(el + amount for el, amount in tokens) != text:
        raise OredoxInputError(
            f"formula unit {formula!r}: write element symbols and amounts only, "
            f"e.g. Li1.17Ti0.58Ni0.25O2"
        )
    for element, _ in tokens:
        try:
            Element(element)
        except ValueError:
            raise OredoxInputError(
                f"formula unit {formula!r}: {element!r} is not an element"
            ) from None
    return tokens


def formula_units(
    structure: Structure, formula_unit: str | None = None
) -> tuple[str, float]:
    """The formula unit (as written) and how many of them ``structure`` holds.

    Parameters
    ----------
    structure
        The fully alkali-filled host cell.
    formula_unit
        The formula unit as the user writes it; None: the one the cell carries in
        ``properties["formula_unit"]``, else the reduced formula.

    Raises
    ------
    OredoxInputError
        If the written formula does not describe the cell (other elements, or other
        proportions than the two-decimal rounding allows).
    """
    written = formula_unit or structure.properties.get(PROPERTY)
    composition = structure.composition.element_composition
    if not written:
        reduced, factor = composition.get_reduced_composition_and_factor()
        plain = "".join(
            f"{el.symbol}{'' if amount == 1 else f'{amount:g}'}"
            for el, amount in sorted(reduced.items(), key=lambda item: item[0].X)
        )
        return plain, float(factor)
    _written_tokens(written)  # symbols and amounts only
    unit = Composition(written).element_composition
    if set(unit.elements) != set(composition.elements):
        raise OredoxInputError(
            f"formula unit {written!r} has the elements "
            f"{', '.join(sorted(e.symbol for e in unit.elements))}; the host has "
            f"{', '.join(sorted(e.symbol for e in composition.elements))}"
        )
    anion = max(composition.elements, key=lambda el: el.X)
    factor = composition[anion] / unit[anion]
    misfits = [
        f"{el.symbol} {composition[el] / factor:.4f} (written {unit[el]:g})"
        for el in composition.elements
        if abs(composition[el] / factor - unit[el]) > FRACTION_TOLERANCE + 1e-9
    ]
    if misfits:
        raise OredoxInputError(
            f"formula unit {written!r} does not fit the host "
            f"{composition.formula.replace(' ', '')}: per {unit[anion]:g} {anion} it "
            f"has {'; '.join(misfits)}"
        )
    return "".join(written.split()), float(factor)


def content_label(formula_unit: str, alkali: str) -> str:
    """``Li_x Ti0.58Ni0.25O2``: the formula unit with its alkali as the variable x."""
    rest = "".join(
        el + amount for el, amount in _written_tokens(formula_unit) if el != alkali
    )
    return f"{alkali}_x {rest}"


def study_content_label(study: StudyDocument) -> str:
    """``Li_x Ti0.58Ni0.25O2``: what a study's x counts (older documents: per cell).

    Documents stored before the formula unit was recorded count x per the reduced
    formula of the host (:func:`formula_units` without a written formula).
    """
    unit = study.formula_unit or formula_units(study.host_structure)[0]
    return content_label(unit, study.alkali)


def with_formula_unit(structure: Structure, formula_unit: str) -> Structure:
    """``structure`` carrying ``formula_unit`` (checked) in its properties."""
    formula_units(structure, formula_unit)
    structure.properties[PROPERTY] = "".join(formula_unit.split())
    return structure


def restate(study: StudyDocument, formula_unit: str) -> StudyDocument:
    """``study`` with x and every per-formula-unit energy counted in ``formula_unit``.

    Energies per cell, voltages (per alkali) and the hull itself do not change; x, the
    energies per formula unit, the formation energies, the energies above the hull, the
    voltage steps' ends and the redox summary's x are scaled by the ratio of the
    formula-unit counts. A study stored with x per cell (Li14Ti7Ni3O24: x = 14) reads
    as x per Li1.17Ti0.58Ni0.25O2 (x = 1.167) this way. The screening record keeps the
    labels it was written with.
    """
    unit, count = formula_units(study.host_structure, formula_unit)
    ratio = study.formula_units / count
    per_fu = (
        "x",
        "energy_per_fu_eV",
        "formation_energy_per_fu_eV",
        "e_above_hull_per_fu_eV",
    )
    entries = [
        entry.model_copy(update={key: getattr(entry, key) * ratio for key in per_fu})
        for entry in study.entries
    ]
    steps = [
        step.model_copy(
            update={"x_low": step.x_low * ratio, "x_high": step.x_high * ratio}
        )
        for step in study.voltage_steps
    ]
    summary = [
        row | {key: row[key] * ratio for key in ("x_from", "x_to") if key in row}
        for row in study.redox_summary
    ]
    counts: dict[str, int] = {}
    for entry in entries:
        key = f"{entry.x:.4f}"
        counts[key] = counts.get(key, 0) + 1
    return study.model_copy(
        update={
            "formula_unit": unit,
            "formula_units": count,
            "entries": entries,
            "voltage_steps": steps,
            "redox_summary": summary,
            "configurations_per_x": counts,
        }
    )
