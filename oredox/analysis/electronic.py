"""Electronic analysis of one static: every analysis its parsed outputs allow.

:class:`StaticOutputs` holds what an engine's reader parsed from a static's folder
(:meth:`oredox.workflows.engines.base.Engine.read_static`: pymatgen ``CompleteDos``,
``Chgcar`` and AECCARs or an all-electron density, ``Procar`` or complex phase
projections, valence charges, moments). :func:`analyse_outputs` runs the pure analyses
of :mod:`oredox.analysis` on them (O environments, O 2p DOS by class, Bader charges,
local-frame eg/t2g and O pi/sigma projections, redox report) and says why any was
skipped. No file is read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure

from oredox.analysis.bader import bader_from_chgcar
from oredox.analysis.bader_reference import VALENCE_ONLY_REASON
from oredox.analysis.dos import o2p_dos_record, o2p_summary, reference_energy
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
class StaticOutputs:
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
    # "CHGCAR": the valence density; a kind starting "all-electron" holds the cores
    density_kind: str = "CHGCAR"
    moments_muB: list[float] | None = None
    missing: dict[str, str] = field(default_factory=dict)


def analyse_outputs(
    outputs: StaticOutputs,
    vacancies: list[list[float]] | None = None,
    initial: Structure | None = None,
) -> dict[str, Any]:
    """Every analysis the outputs allow, as plain data; ``skipped`` says why not.

    Bader charges name their reference (``bader["reference"]``): AECCAR0+AECCAR2,
    the engine's all-electron density (a ``density_kind`` starting "all-electron"),
    or the valence density alone. Valence-only charges are flagged
    (``bader["valence_only"]``, with the reason), refused where basins collapsed
    (:mod:`oredox.analysis.bader_reference`), listed under
    ``skipped["bader_net_charges"]`` and never passed to the redox report.
    """
    structure = outputs.structure
    skipped = dict(outputs.missing)
    envs = oxygen_environments(structure, vacancies=vacancies)
    result: dict[str, Any] = {"environments": environment_summary(envs)}
    if outputs.dos is not None:
        summary = o2p_summary(outputs.dos, envs)
        result["o2p"] = summary.as_dict()
        result["o2p_dos"] = o2p_dos_record(outputs.dos, envs, DOS_WINDOW_EV)
    charges, bader_reference = None, None
    if outputs.chgcar is not None:
        bader = bader_from_chgcar(
            outputs.chgcar,
            outputs.aeccar0,
            outputs.aeccar2,
            zval=outputs.zval,
            all_electron=outputs.density_kind.startswith("all-electron"),
        )
        result["bader"] = bader.as_dict()
        charges, bader_reference = bader.charges, bader.reference
        if bader.valence_only:
            skipped["bader_net_charges"] = (
                bader.charges_refused() or VALENCE_ONLY_REASON
            )
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
        structure,
        moments,
        charges=charges,
        initial=initial,
        charges_reference=bader_reference,
    ).as_dict()
    result["skipped"] = skipped
    return result


def _local_dos(projections) -> dict:
    """eg, t2g, O sigma and O pi DOS summed over the TM (states/eV), for plots.

    Both spins summed under each name; a spin-polarised run also keeps each spin
    (``<name>_up``, ``<name>_down``, both positive).
    """
    out: dict[str, Any] = {}
    spin_polarised = projections.energies_eV.shape[0] == 2
    for name, table in (
        ("eg", projections.eg),
        ("t2g", projections.t2g),
        ("o_sigma", projections.o_sigma),
        ("o_pi", projections.o_pi),
    ):
        if not table:
            continue
        weights = sum(table.values())
        if spin_polarised:  # each spin once; their sum is the summed DOS
            energies, up = projections.dos(weights, points=1501, spin=0)
            _, down = projections.dos(weights, points=1501, spin=1)
            curve = up + down
        else:
            energies, curve = projections.dos(weights, points=1501)
        keep = (energies >= DOS_WINDOW_EV[0]) & (energies <= DOS_WINDOW_EV[1])
        out["energies_eV"] = energies[keep].round(4).tolist()
        out[name] = curve[keep].round(5).tolist()
        if spin_polarised:
            out[f"{name}_up"] = up[keep].round(5).tolist()
            out[f"{name}_down"] = down[keep].round(5).tolist()
    return out
