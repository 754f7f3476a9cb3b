"""Electronic analysis of a static: read the run's files, call the pure analyses.

This is the edge between files and :mod:`oredox.analysis`: :func:`read_vasp_outputs`
parses what a VASP static left in its folder (vasprun.xml for the DOS, CHGCAR and
AECCAR0/2 for Bader, PROCAR for the phase-resolved projections, OUTCAR for the
valence electron counts and moments), :func:`read_gpaw_outputs` what a GPAW static
wrote (:mod:`oredox.workflows.gpaw`), :func:`read_outputs` picks the one that fits a
folder, and :func:`analyse_outputs` runs every analysis the files allow, saying why
any was skipped. :func:`analyse_static` is the jobflow
job the hull flow runs after each static; ``oredox analyse DIR`` runs the same on a
folder by hand. :func:`delithiation_path` turns a study's statics into rows along x.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import job
from pymatgen.core import Structure

from oredox.analysis.bader import bader_from_chgcar
from oredox.analysis.dos import o2p_class_dos, o2p_summary, reference_energy
from oredox.analysis.environments import environment_summary, oxygen_environments
from oredox.analysis.projections import (
    MissingPhasesError,
    project_local,
    project_procar,
)
from oredox.analysis.redox import redox_report

logger = logging.getLogger(__name__)
DOS_WINDOW_EV = (-10.0, 5.0)  # kept in the document for plots, eV around the reference


@dataclass
class RunOutputs:
    """Parsed outputs of one static (any part may be missing)."""

    structure: Structure
    dos: Any = None  # CompleteDos
    efermi_eV: float | None = None
    chgcar: Any = None
    aeccar0: Any = None
    aeccar2: Any = None
    procar: Any = None
    phases: dict[str, Any] | None = None  # project_local's arrays (GPAW)
    zval: dict[str, float] | None = None
    density_kind: str = "CHGCAR"
    moments_muB: list[float] | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _find(folder: Path, name: str) -> Path | None:
    """``name`` or its compressed copy (custodian and atomate2 gzip outputs)."""
    for candidate in sorted(folder.glob(f"{name}*")):
        suffix = candidate.name[len(name) :]
        if suffix in ("", ".gz", ".bz2", ".xz") or suffix.startswith(".relax"):
            return candidate
    return None


def _local_path(folder: str | Path) -> Path:
    """``host:path`` (atomate2's dir_name) or a path."""
    return Path(str(folder).split(":", 1)[-1] if ":" in str(folder) else folder)


def read_outputs(folder: str | Path) -> RunOutputs:
    """The outputs of the static in ``folder``, whichever engine wrote them."""
    from oredox.workflows.gpaw import STATIC_FILE

    path = _local_path(folder)
    if (path / STATIC_FILE).exists():
        return read_gpaw_outputs(path)
    return read_vasp_outputs(path)


def read_gpaw_outputs(folder: str | Path) -> RunOutputs:
    """Parse the files of a GPAW static (``gpaw.write_static_outputs``).

    The density is all-electron with the cores, so Bader charges are Z minus the
    basin populations (``zval`` holds the nuclear charges).
    """
    import json

    from pymatgen.electronic_structure.dos import CompleteDos
    from pymatgen.io.vasp import Chgcar

    from oredox.workflows import gpaw

    path = _local_path(folder)
    summary = json.loads((path / gpaw.STATIC_FILE).read_text())
    structure = Structure.from_dict(summary["structure"])
    out = RunOutputs(
        structure=structure,
        efermi_eV=summary["efermi_eV"],
        zval={el: v["Z"] for el, v in summary["electrons"].items()},
        moments_muB=summary["magmoms_muB"],
        density_kind="all-electron density with cores (GPAW)",
    )
    dos_file = path / gpaw.DOS_FILE
    if dos_file.exists():
        out.dos = CompleteDos.from_dict(json.loads(dos_file.read_text()))
    else:
        out.missing["dos"] = f"no {gpaw.DOS_FILE}"
    density_file = path / gpaw.DENSITY_FILE
    if density_file.exists():
        out.chgcar = Chgcar.from_file(str(density_file))
    else:
        out.missing["bader"] = f"no {gpaw.DENSITY_FILE}: no Bader charges"
    projections_file = path / gpaw.PROJECTIONS_FILE
    if projections_file.exists():
        with np.load(projections_file) as data:
            out.phases = {key: data[key] for key in data.files}
    else:
        out.missing["projections"] = f"no {gpaw.PROJECTIONS_FILE}"
    return out


def read_vasp_outputs(folder: str | Path) -> RunOutputs:
    """Parse the outputs of a VASP static in ``folder`` (``host:path`` accepted)."""
    from pymatgen.io.vasp import Chgcar, Outcar, Procar, Vasprun

    path = _local_path(folder)
    vasprun_file = _find(path, "vasprun.xml")
    if vasprun_file is None:
        raise FileNotFoundError(f"no vasprun.xml in {path}")
    vasprun = Vasprun(str(vasprun_file), parse_potcar_file=False)
    out = RunOutputs(structure=vasprun.final_structure, efermi_eV=vasprun.efermi)
    try:
        out.dos = vasprun.complete_dos
    except Exception as exc:  # a vasprun without a DOS still has the rest
        out.missing["dos"] = f"no DOS in vasprun.xml ({exc})"
    outcar_file = _find(path, "OUTCAR")
    if outcar_file is not None:
        outcar = Outcar(str(outcar_file))
        outcar.read_pseudo_zval()
        out.zval = dict(outcar.zval_dict)
        if outcar.magnetization:
            out.moments_muB = [float(site["tot"]) for site in outcar.magnetization]
    else:
        out.missing["outcar"] = "no OUTCAR: no valence counts or moments"
    chgcar_file = _find(path, "CHGCAR")
    if chgcar_file is not None:
        out.chgcar = Chgcar.from_file(str(chgcar_file))
        a0, a2 = _find(path, "AECCAR0"), _find(path, "AECCAR2")
        if a0 is not None and a2 is not None:
            out.aeccar0 = Chgcar.from_file(str(a0))
            out.aeccar2 = Chgcar.from_file(str(a2))
        else:
            out.missing["aeccar"] = "no AECCAR0/AECCAR2 (LAECHG): Bader on CHGCAR alone"
    else:
        out.missing["bader"] = "no CHGCAR (LCHARG): no Bader charges"
    procar_file = _find(path, "PROCAR")
    if procar_file is not None:
        out.procar = Procar(str(procar_file))
    else:
        out.missing["projections"] = "no PROCAR"
    return out


def analyse_outputs(
    outputs: RunOutputs,
    vacancies: list[list[float]] | None = None,
    initial: Structure | None = None,
) -> dict[str, Any]:
    """Every analysis the outputs allow, as plain data; ``skipped`` says why not."""
    structure = outputs.structure
    skipped = dict(outputs.missing)
    envs = oxygen_environments(structure, vacancies=vacancies)
    result: dict[str, Any] = {"environments": environment_summary(envs)}
    if outputs.dos is not None:
        summary = o2p_summary(outputs.dos, envs)
        result["o2p"] = summary.as_dict()
        energies, curves = o2p_class_dos(outputs.dos, envs)
        keep = (energies >= DOS_WINDOW_EV[0]) & (energies <= DOS_WINDOW_EV[1])
        result["o2p_dos"] = {
            "energies_eV": energies[keep].round(4).tolist(),
            "per_class": {k: v[keep].round(5).tolist() for k, v in curves.items()},
        }
    charges = None
    if outputs.chgcar is not None:
        bader = bader_from_chgcar(
            outputs.chgcar, outputs.aeccar0, outputs.aeccar2, zval=outputs.zval
        )
        result["bader"] = bader.as_dict()
        result["bader"]["reference"] = (
            "AECCAR0+AECCAR2" if outputs.aeccar0 is not None else outputs.density_kind
        )
        charges = bader.charges
    # the projections' windows sit at the same reference as the O 2p DOS: the VBM
    # of a gapped cell (VASP and GPAW put E_F at different places in a gap)
    reference_eV = outputs.efermi_eV
    if outputs.dos is not None:
        reference_eV = reference_energy(outputs.dos)[0]
    projections = None
    try:
        if outputs.phases is not None:
            data = outputs.phases
            projections = project_local(
                structure,
                data["phases"],
                data["energies_eV"],
                data["kweights"],
                reference_eV,
                environments=envs,
            )
        elif outputs.procar is not None:
            projections = project_procar(
                outputs.procar, structure, reference_eV, environments=envs
            )
    except MissingPhasesError as exc:
        skipped["projections"] = str(exc)
    if projections is not None:
        result["projections"] = projections.summary()
        result["projections_dos"] = _local_dos(projections)
    moments = outputs.moments_muB or structure.site_properties.get("magmom")
    result["redox"] = redox_report(
        structure, moments, charges=charges, initial=initial
    ).as_dict()
    result["skipped"] = skipped
    return result


def _local_dos(projections) -> dict:
    """eg, t2g, O sigma and O pi DOS summed over the TM (states/eV), for plots."""
    out: dict[str, Any] = {}
    for name, table in (
        ("eg", projections.eg),
        ("t2g", projections.t2g),
        ("o_sigma", projections.o_sigma),
        ("o_pi", projections.o_pi),
    ):
        if not table:
            continue
        energies, curve = projections.dos(sum(table.values()), points=1501)
        keep = (energies >= DOS_WINDOW_EV[0]) & (energies <= DOS_WINDOW_EV[1])
        out["energies_eV"] = energies[keep].round(4).tolist()
        out[name] = curve[keep].round(5).tolist()
    return out


@job(name="electronic analysis")
def analyse_static(
    dir_name: str,
    vacancies: list[list[float]] | None = None,
    initial: Structure | None = None,
) -> dict[str, Any]:
    """Job: analyse the static run in ``dir_name`` (files read where the job runs)."""
    return analyse_outputs(read_outputs(dir_name), vacancies, initial)


def delithiation_path(study) -> list[dict[str, Any]]:
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


def vacancy_coords(study, config_id: str) -> list[list[float]]:
    """Fractional coordinates (host cell) of the alkali removed in ``config_id``."""
    host = study.host_structure
    sites = [i for i, site in enumerate(host) if site.specie.symbol == study.alkali]
    entry = next(e for e in study.entries if e.config_id == config_id)
    return [np.asarray(host[sites[v]].frac_coords).tolist() for v in entry.vacancies]
