"""A study's path along x: one row per static, and what each static needs to know.

Pure functions over a :class:`~oredox.schemas.StudyDocument`:
:func:`delithiation_path` turns the statics' electronic analyses into rows by
decreasing alkali content (O 2p near the reference, Bader charges, oxidation states,
local-frame eg/t2g and TM-O pi mixing, O holes, shortest O-O);
:func:`vacancy_coords` gives the fractional coordinates of the alkali removed in one
configuration, which the O-environment classification needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oredox.schemas import StudyDocument


def delithiation_path(study: StudyDocument) -> list[dict[str, Any]]:
    """One row per static along x: O 2p near the reference, Bader, moments, O-O.

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
        if "bader" in analysis and analysis["bader"]["per_species_charge"]:
            row["bader_charge"] = {
                k: v["mean"] for k, v in analysis["bader"]["per_species_charge"].items()
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
