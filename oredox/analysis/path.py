"""A study's path along x: one row per static, and what each static needs to know.

Pure functions over a :class:`~oredox.schemas.StudyDocument`:
:func:`delithiation_path` turns the statics' electronic analyses into rows by
decreasing alkali content (O 2p near the reference, Bader charges, oxidation states,
local-frame eg/t2g and TM-O pi mixing, O holes, shortest O-O);
:func:`vacancy_coords` gives the fractional coordinates of the alkali removed in one
configuration, which the O-environment classification needs.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from oredox.analysis.bader_reference import stored_flags
from oredox.schemas import StudyDocument


def delithiation_path(study: StudyDocument) -> list[dict[str, Any]]:
    """One row per static along x: O 2p near the reference, Bader, moments, O-O.

    Bader charges from the valence density alone come with
    ``bader_valence_only: True``; where basins collapsed they are left out and
    ``bader_refused`` says why (:mod:`oredox.analysis.bader_reference`).

    With phase-resolved projections also the local-frame eg, t2g, O 2p pi and TM-O
    pi mixing in the occupied eV below the reference, mean per TM.

    ``study`` is a :class:`~oredox.schemas.StudyDocument`; rows by decreasing x.
    """
    by_id = {entry.config_id: entry for entry in study.entries}
    rows = []
    for static in study.statics:
        analysis = static.analysis or {}
        entry = by_id[static.config_id]
        row: dict[str, Any] = {
            "config_id": static.config_id,
            "x": entry.x,
            "on_hull": entry.on_hull,
        }
        if "o2p" in analysis:
            everyone = analysis["o2p"]["all_oxygen"]
            row["o2p_occupied_near_ef_e_per_O"] = next(
                iter(everyone["occupied_e_per_O"].values())
            )
            row["o2p_empty_states_per_O"] = everyone["empty_states_per_O"]
            row["o2p_band_centre_eV"] = everyone["band_centre_eV"]
        if "bader" in analysis:
            valence_only, refused = stored_flags(analysis["bader"])
            if valence_only:
                row["bader_valence_only"] = True
            if refused:
                row["bader_refused"] = refused
            elif analysis["bader"]["per_species_charge"]:
                row["bader_charge"] = {
                    k: v["mean"]
                    for k, v in analysis["bader"]["per_species_charge"].items()
                }
        per_tm = analysis.get("projections", {}).get("per_tm", {})
        if per_tm:
            # e per TM in the occupied window below the reference (1 eV), mean over TM
            for key in ("eg", "t2g", "o_pi", "pi_mixing"):
                row[f"{key}_occupied"] = float(
                    np.mean([tm["occupied"][key] for tm in per_tm.values()])
                )
        if "redox" in analysis:
            redox = analysis["redox"]
            row["mean_oxidation_state"] = redox["mean_oxidation_state"]
            row["o_hole_total_muB"] = redox["o_hole_total_muB"]
            row["shortest_o_o_A"] = (
                redox["o_o_pairs"][0]["distance_A"] if redox["o_o_pairs"] else None
            )
        rows.append(row)
    return sorted(rows, key=lambda row: -row["x"])


def vacancy_coords(study: StudyDocument, config_id: str) -> list[list[float]]:
    """Fractional coordinates (host cell) of the alkali removed in ``config_id``."""
    host = study.host_structure
    sites = [i for i, site in enumerate(host) if site.specie.symbol == study.alkali]
    entry = next(e for e in study.entries if e.config_id == config_id)
    return [np.asarray(host[sites[v]].frac_coords).tolist() for v in entry.vacancies]


def redox_summary(study: StudyDocument) -> list[dict[str, Any]]:
    """Where the removed charge comes from, step by step along x: O or the TMs.

    One static per alkali content (the one lowest above the hull), by decreasing x;
    one row per step between consecutive contents. The electrons removed from the
    host in a step are the alkali removed (``removed_e`` per supercell). Two
    estimates of the share taken from O, each with its method named:

    - ``moments``: the TM oxidation states from their moments (the nearest typical
      DFT+U moment, :func:`oredox.analysis.redox.oxidation_state_from_moment`),
      summed over the TMs of the cell, account for ``tm_e`` electrons; the rest of
      ``removed_e`` is assigned to O (``o_e``). The sum of |moment| on O before and
      after (``o_moment_sum_muB``) is reported beside it as a check: an O hole in
      DFT+U carries 0.3-0.7 muB, not 1. The share leaves [0, 1] when the TMs give
      more electrons than were removed and O takes some back (a pristine cell with
      holes on O, e.g. Ni2+ and O holes in LiNiO2, ending as Ni4+).
    - ``bader``: the change of the summed Bader net charges of O and of the TMs
      (e per supercell; the Li that stays barely changes); the share of O is
      dO / (dO + dTM), which leaves [0, 1] when one of them is reduced (e.g.
      ligand-to-metal charge transfer).

    ``fraction_from_O`` is None where the static lacks the analysis. Bader charges
    of the valence density alone (no all-electron reference) are not net charges:
    such a step has no ``bader`` estimate but ``bader_excluded`` (which static,
    why), and the moments estimate stands alone.
    """
    points = statics_per_x(study)
    rows = []
    for (entry_a, static_a), (entry_b, static_b) in pairwise(points):
        a, b = _charge_budget(entry_a, static_a), _charge_budget(entry_b, static_b)
        removed = entry_a.n_alkali - entry_b.n_alkali
        row: dict[str, Any] = {
            "x_from": entry_a.x,
            "x_to": entry_b.x,
            "config_ids": [entry_a.config_id, entry_b.config_id],
            "removed_e": removed,
        }
        if a["tm_states"] is not None and b["tm_states"] is not None:
            tm_e = b["tm_states"] - a["tm_states"]
            row["moments"] = {
                "method": "TM oxidation states from moments; the rest assigned to O",
                "tm_e": tm_e,
                "o_e": removed - tm_e,
                "fraction_from_O": (removed - tm_e) / removed,
                "o_moment_sum_muB": [a["o_moments"], b["o_moments"]],
                "tm_moment_sum_muB": [a["tm_moments"], b["tm_moments"]],
            }
        excluded = [
            f"{entry.config_id}: {budget['bader_excluded']}"
            for entry, budget in ((entry_a, a), (entry_b, b))
            if budget["bader_excluded"]
        ]
        if excluded:
            row["bader_excluded"] = "; ".join(excluded)
        elif a["bader"] is not None and b["bader"] is not None:
            d_o = b["bader"]["O"] - a["bader"]["O"]
            d_tm = b["bader"]["TM"] - a["bader"]["TM"]
            total = d_o + d_tm
            row["bader"] = {
                "method": "change of summed Bader net charges, O vs TM",
                "o_e": d_o,
                "tm_e": d_tm,
                "fraction_from_O": d_o / total if abs(total) > 1e-6 else None,
            }
        rows.append(row)
    return rows


def statics_per_x(study: StudyDocument) -> list[tuple[Any, Any]]:
    """(entry, static) per alkali content, by decreasing x.

    At each content the analysed static whose entry lies lowest above the hull.
    """
    by_id = {entry.config_id: entry for entry in study.entries}
    best: dict[float, tuple[Any, Any]] = {}
    for static in study.statics:
        entry = by_id.get(static.config_id)
        if entry is None or not static.analysis:
            continue
        key = round(entry.x, 6)
        if (
            key not in best
            or entry.e_above_hull_per_fu_eV < best[key][0].e_above_hull_per_fu_eV
        ):
            best[key] = (entry, static)
    return [best[key] for key in sorted(best, reverse=True)]


def _charge_budget(entry, static) -> dict[str, Any]:
    """Summed TM oxidation states, |moments| and Bader charges of one static.

    Valence-only Bader charges are not summed: ``bader_excluded`` says why.
    """
    from oredox.analysis.environments import is_transition_metal

    symbols = [site.specie.symbol for site in entry.structure]
    analysis = static.analysis
    redox = analysis.get("redox", {})
    states = redox.get("tm_oxidation_states") or {}
    budget: dict[str, Any] = {"tm_states": None, "bader": None, "bader_excluded": None}
    if states and all(value is not None for value in states.values()):
        budget["tm_states"] = int(sum(states.values()))
    moments = static.magmoms_muB
    if moments is not None and len(moments) == len(symbols):
        budget["o_moments"] = float(
            sum(abs(m) for m, s in zip(moments, symbols, strict=True) if s == "O")
        )
        budget["tm_moments"] = float(
            sum(
                abs(m)
                for m, s in zip(moments, symbols, strict=True)
                if is_transition_metal(s)
            )
        )
    else:
        budget["o_moments"] = budget["tm_moments"] = None
    bader = analysis.get("bader") or {}
    valence_only, refused = stored_flags(bader)
    if valence_only:
        budget["bader_excluded"] = refused or valence_only
        return budget
    charges = bader.get("charges")
    if charges is not None and len(charges) == len(symbols):
        budget["bader"] = {
            "O": float(
                sum(q for q, s in zip(charges, symbols, strict=True) if s == "O")
            ),
            "TM": float(
                sum(
                    q
                    for q, s in zip(charges, symbols, strict=True)
                    if is_transition_metal(s)
                )
            ),
        }
    return budget
