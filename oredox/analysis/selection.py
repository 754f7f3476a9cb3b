"""Which configurations go to the expensive engine, and which get a static, and why.

Relaxations (:func:`select_for_relaxation`):

Per alkali content: the ``lowest`` lowest-energy configurations, plus every one within
``window_meV_per_atom`` of the screened hull (``reference="hull"``: energies from one
scheme across contents, e.g. CHGNet) or of the lowest at that content
(``reference="composition"``: energies comparable only at one content, e.g. a
point-charge Ewald with charge compensation). The end members are always selected.

Statics (:func:`static_candidates`): from the relaxed energies of a study, its hull
vertices and the intact, non-duplicate entries within a window of the hull.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oredox.analysis.hull import energy_above_hull
from oredox.errors import OredoxInputError
from oredox.schemas import ConfigurationEntry, StudyDocument


@dataclass(frozen=True)
class Selection:
    """The configurations chosen for the expensive engine.

    Attributes
    ----------
    selected
        Indices into the screened list, by increasing x then energy.
    reasons
        Index -> why it was chosen.
    per_x
        Content (4 decimals) -> ``{"screened", "selected", "lowest", "window"}``.
    """

    selected: list[int]
    reasons: dict[int, str]
    per_x: dict[str, dict[str, int]]

    def summary(self) -> str:
        """One line per content: how many were screened and selected, and why."""
        lines = []
        for x, row in self.per_x.items():
            lines.append(
                f"x = {x}: {row['selected']} of {row['screened']} selected "
                f"({row['lowest']} lowest, {row['window']} more within the window)"
            )
        return "\n".join(lines)


def select_for_relaxation(
    x: Sequence[float],
    energy_per_fu: Sequence[float],
    atoms_per_fu: Sequence[float],
    lowest: int = 3,
    window_meV_per_atom: float = 10.0,
    reference: str = "hull",
) -> Selection:
    """Choose configurations to relax with the expensive engine.

    Parameters
    ----------
    x
        Alkali per formula unit of each screened configuration.
    energy_per_fu
        Screening energy per host formula unit, eV.
    atoms_per_fu
        Atoms per formula unit of each configuration (to express the window per atom).
    lowest
        Always take this many per content.
    window_meV_per_atom
        Also take those within this window.
    reference
        ``"hull"`` or ``"composition"`` (see the module docstring).
    """
    x_arr = np.asarray(x, dtype=float)
    e_arr = np.asarray(energy_per_fu, dtype=float)
    atoms = np.asarray(atoms_per_fu, dtype=float)
    if not (len(x_arr) == len(e_arr) == len(atoms)) or len(x_arr) == 0:
        raise OredoxInputError(
            "x, energies and atoms per f.u. must be equal, non-empty"
        )
    if lowest < 1 or window_meV_per_atom < 0:
        raise OredoxInputError("lowest must be >= 1 and the window >= 0 meV/atom")
    if reference == "hull":
        above = energy_above_hull(x_arr, e_arr)
    elif reference == "composition":
        above = np.array(
            [e - e_arr[x_arr == xi].min() for xi, e in zip(x_arr, e_arr, strict=True)]
        )
    else:
        raise OredoxInputError("reference must be 'hull' or 'composition'")
    above_meV_per_atom = 1000 * above / atoms
    reasons: dict[int, str] = {}
    per_x: dict[str, dict[str, int]] = {}
    ends = {x_arr.min(), x_arr.max()}
    for xi in np.unique(x_arr):
        members = np.flatnonzero(x_arr == xi)
        ranked = members[np.argsort(e_arr[members], kind="stable")]
        n_lowest = 1 if xi in ends else lowest
        for rank, i in enumerate(ranked[:n_lowest]):
            reasons[int(i)] = f"lowest {rank + 1} of {len(members)} at x = {xi:.4f}"
        n_window = 0
        for i in ranked[n_lowest:]:
            if above_meV_per_atom[i] <= window_meV_per_atom:
                reasons[int(i)] = (
                    f"{above_meV_per_atom[i]:.1f} meV/atom above the {reference} "
                    f"(window {window_meV_per_atom:g})"
                )
                n_window += 1
        per_x[f"{xi:.4f}"] = {
            "screened": len(members),
            "selected": min(n_lowest, len(members)) + n_window,
            "lowest": min(n_lowest, len(members)),
            "window": n_window,
        }
    selected = sorted(reasons, key=lambda i: (x_arr[i], e_arr[i]))
    return Selection(selected=selected, reasons=reasons, per_x=per_x)


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


def end_member_ids(config_ids: Sequence[str], n_vacancies: Sequence[int]) -> list[str]:
    """The configurations that are hull vertices whatever the energies: the end members.

    The fully lithiated and the most delithiated arrangement of a study are unique and
    always on its hull, so their statics are known before any relaxation (what
    ``oredox run --dry-run`` writes; :func:`static_candidates` picks them too).
    """
    ends = {min(n_vacancies), max(n_vacancies)}
    return [cid for cid, k in zip(config_ids, n_vacancies, strict=True) if k in ends]
