"""The files a GPAW static writes for the analysis layer, and how they are made.

``gpaw_static.json``
    structure with the site moments, energy, Fermi level, band gap, the valence and
    nuclear charge of every element, the calculator parameters;
``projections.npz``
    complex PAW projections <p_i|psi_nk> on the bound partial wave of each l (s, p, d;
    VASP's orbital order, which is GPAW's), eigenvalues and k weights: the
    phase-resolved input of :func:`oredox.analysis.projections.project_local`;
``dos.json``
    pymatgen ``CompleteDos`` (total, and site, l and m resolved) built from them;
``density_ae.vasp``
    the all-electron density, core included (GPAW puts the charge its grid cannot
    resolve on the grid point nearest each nucleus, so the total is exact), and the
    spin density, on a grid twice as fine as the SCF's, in VASP CHGCAR format (rho
    times the cell volume): Bader reads it like a CHGCAR, and so do VESTA and
    Henkelman's ``bader``. Bader charges are then Z minus the basin population.

:func:`write_static_outputs` writes them from a converged calculator;
:func:`oredox.workflows.engines.gpaw.read_gpaw_outputs` reads them back.

The static's job output is a :class:`GpawStaticTaskDoc`: atomate2's ASE task document
(the one GPAW relaxations and CHGNet's force-field jobs store) with the outputs of a
DFT static that ASE's result has no place for (Fermi level, gap, moments, the PAW
electron counts, the calculator's parameters and these files).
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from atomate2.ase.schemas import AseStructureTaskDoc, InputDoc, OutputDoc
from emmet.core.types.enums import TaskState
from pydantic import Field
from pymatgen.core import Structure
from pymatgen.entries.computed_entries import ComputedEntry

STATIC_FILE = "gpaw_static.json"
PROJECTIONS_FILE = "projections.npz"
DOS_FILE = "dos.json"
DENSITY_FILE = "density_ae.vasp"
DOS_POINTS = 3001
DOS_SIGMA_EV = 0.1


def gpaw_version(package: str) -> str:
    """Installed version of ``package`` (gpaw, gpaw-data), or "not installed"."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def bound_projector_indices(setup) -> dict[int, list[int]]:
    """Projector indices of each l's bound partial waves, outermost shell last."""
    out: dict[int, list[int]] = {}
    first = 0
    for n, ell in zip(setup.n_j, setup.l_j, strict=True):
        if n >= 0:
            out.setdefault(ell, []).append(first)
        first += 2 * ell + 1
    return out


def phase_projections(calc) -> dict[str, np.ndarray]:
    """Complex projections on s, p, d of every atom, in VASP's orbital order.

    For each atom and l <= 2 the projection on the outermost bound partial wave of
    that l (e.g. Co 3d and 4s, O 2p; a missing l stays zero). GPAW's real
    harmonics are ordered as VASP's (p: y, z, x; d: xy, yz, z2, xz, x2-y2).

    Returns
    -------
    dict
        ``phases`` (nspin, nk, nb, natoms, 9) complex, ``energies_eV`` (nspin, nk,
        nb), ``kweights`` (nk,) summing to 1, ``efermi_eV``.
    """
    nspins = calc.get_number_of_spins()
    kweights = np.asarray(calc.get_k_point_weights(), float)
    nk, nbands, natoms = len(kweights), calc.get_number_of_bands(), len(calc.atoms)
    energies = np.array(
        [
            [calc.get_eigenvalues(kpt=k, spin=s) for k in range(nk)]
            for s in range(nspins)
        ]
    )
    phases = np.zeros((nspins, nk, nbands, natoms, 9), complex)
    starts = {0: 0, 1: 1, 2: 4}
    indices = []
    for a in range(natoms):
        bound = bound_projector_indices(calc.setups[a])
        indices.append(
            {ell: bound[ell][-1] for ell in starts if ell in bound}  # outermost shell
        )
    for kpt in calc.wfs.kpt_u:
        for a, P_ni in kpt.projections.items():
            for ell, first in indices[a].items():
                columns = slice(first, first + 2 * ell + 1)
                target = slice(starts[ell], starts[ell] + 2 * ell + 1)
                phases[kpt.s, kpt.k, :, a, target] = np.asarray(P_ni)[:, columns]
    return {
        "phases": phases,
        "energies_eV": energies,
        "kweights": kweights / kweights.sum(),
        "efermi_eV": float(calc.get_fermi_level()),
    }


def complete_dos(
    structure: Structure,
    projections: dict[str, np.ndarray],
    sigma_eV: float = DOS_SIGMA_EV,
    points: int = DOS_POINTS,
):
    """A pymatgen ``CompleteDos`` from the phase projections (Gaussian broadening).

    The total DOS counts every band (states/eV per cell, both spins separately), the
    projected DOS the squared projections; both integrate to electrons below E_F.
    """
    from pymatgen.electronic_structure.core import Orbital, Spin
    from pymatgen.electronic_structure.dos import CompleteDos, Dos

    energies_skn = projections["energies_eV"]
    weights = projections["kweights"]
    efermi = projections["efermi_eV"]
    nspins = energies_skn.shape[0]
    grid = np.linspace(energies_skn.min() - 1.0, energies_skn.max() + 1.0, points)
    spins = [Spin.up, Spin.down][:nspins]
    occupancy = 2.0 / nspins  # a non-spin-polarised band holds two electrons

    def broaden(band_weights: np.ndarray, spin: int) -> np.ndarray:
        # band_weights (nk, nb): Gaussians of unit area at each eigenvalue
        eps = energies_skn[spin].ravel()
        w = (band_weights * weights[:, None]).ravel() * occupancy
        out = np.zeros(points)
        for chunk in range(0, len(eps), 2000):
            diff = (grid[:, None] - eps[None, chunk : chunk + 2000]) / sigma_eV
            out += np.exp(-0.5 * diff**2) @ w[chunk : chunk + 2000]
        return out / (sigma_eV * np.sqrt(2 * np.pi))

    ones = np.ones(energies_skn.shape[1:])
    total = Dos(efermi, grid, {spins[s]: broaden(ones, s) for s in range(nspins)})
    squared = np.abs(projections["phases"]) ** 2  # (s, k, b, atom, 9)
    orbitals = list(Orbital)[:9]  # s, py, pz, px, dxy, dyz, dz2, dxz, dx2
    pdos = {}
    for index, site in enumerate(structure):
        pdos[site] = {
            orbital: {
                spins[s]: broaden(squared[s, :, :, index, m], s) for s in range(nspins)
            }
            for m, orbital in enumerate(orbitals)
        }
    return CompleteDos(structure, total, pdos)


def band_gap(projections: dict[str, np.ndarray]) -> float:
    """Band gap from the eigenvalues: lowest state above E_F minus highest below."""
    energies = projections["energies_eV"]
    efermi = projections["efermi_eV"]
    above, below = energies[energies > efermi], energies[energies <= efermi]
    if above.size == 0 or below.size == 0:
        return 0.0
    return max(0.0, float(above.min() - below.max()))


def write_static_outputs(
    calc,
    folder: str | Path,
    parameters: dict[str, Any] | None = None,
    density_refinement: int = 2,
    bands=None,
) -> dict[str, Any]:
    """Write a converged GPAW calculation's analysis files into ``folder``.

    ``calc`` gives the energy, moments and density; ``bands`` (default ``calc``) the
    eigenvalues and projections, e.g. a ``fixed_density`` pass over the whole zone.
    ``parameters`` (the calculator's keyword arguments) are recorded as given.
    Returns the summary written to ``gpaw_static.json``.
    """
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.io.vasp import Chgcar

    folder = Path(folder)
    atoms = calc.atoms
    moments = np.asarray(calc.get_magnetic_moments(), float)
    structure = AseAtomsAdaptor.get_structure(atoms)
    structure.add_site_property("magmom", moments.round(4).tolist())
    projections = phase_projections(bands or calc)
    np.savez_compressed(folder / PROJECTIONS_FILE, **projections)
    dos = complete_dos(structure, projections)
    (folder / DOS_FILE).write_text(json.dumps(dos.as_dict()))

    n_up = calc.get_all_electron_density(spin=0, gridrefinement=density_refinement)
    n_down = calc.get_all_electron_density(spin=1, gridrefinement=density_refinement)
    volume = structure.lattice.volume
    bare = structure.copy()
    bare.remove_site_property("magmom")
    Chgcar(
        bare, {"total": (n_up + n_down) * volume, "diff": (n_up - n_down) * volume}
    ).write_file(str(folder / DENSITY_FILE))

    setups = {}
    for a, site in enumerate(structure):
        setups.setdefault(
            site.specie.symbol,
            {"Z": float(calc.setups[a].Z), "valence": float(calc.setups[a].Nv)},
        )
    summary = {
        "code": f"gpaw {gpaw_version('gpaw')}",
        "structure": structure.as_dict(),
        "energy_eV": float(calc.get_potential_energy()),
        "efermi_eV": projections["efermi_eV"],
        "band_gap_eV": band_gap(projections),
        "magmoms_muB": moments.tolist(),
        "forces_eV_per_A": np.asarray(calc.get_forces(), float).round(6).tolist(),
        "total_magnetization_muB": float(calc.get_magnetic_moment()),
        "electrons": setups,
        "density": {"file": DENSITY_FILE, "kind": "all-electron, core included"},
        "projections": {
            "file": PROJECTIONS_FILE,
            "k_points": len(projections["kweights"]),
            "zone": "full (time reversal only)" if bands is not None else "SCF's",
        },
        "parameters": parameters or {},
    }
    (folder / STATIC_FILE).write_text(json.dumps(summary, indent=1))
    return summary


class GpawStaticTaskDoc(AseStructureTaskDoc):
    """atomate2's ASE task document of a GPAW static, with its electronic outputs.

    The fields atomate2 fills for any ASE calculation are filled as its ASE makers
    fill them for a single point: ``structure`` (with the converged moments as the
    ``magmom`` site property), ``output.energy`` (eV), ``output.energy_per_atom``,
    ``output.forces`` (eV/A), ``output.n_steps`` = 1, ``input.mol_or_struct`` (the
    structure the static started from, with its starting moments), ``dir_name``
    (``host:path``), ``state``, ``entry`` and emmet's structure metadata. Code that
    reads a GPAW relaxation's or a CHGNet relaxation's document reads this one. The
    fields below hold what a DFT static adds.
    """

    code_version: str = Field(description="GPAW version of the run, e.g. 'gpaw 26.7.0'")
    efermi_eV: float = Field(description="Fermi level, eV")
    band_gap_eV: float = Field(
        description="Lowest eigenvalue above the Fermi level minus highest below, "
        "over the whole-zone k-points, eV (0 for a metal)"
    )
    magmoms_muB: list[float] = Field(
        description="Site magnetic moments (GPAW's, in the PAW spheres), muB, in "
        "structure order"
    )
    total_magnetization_muB: float = Field(
        description="Magnetic moment of the cell (GPAW's, whole cell), muB"
    )
    electrons: dict[str, dict[str, float]] = Field(
        description="Per element: nuclear charge 'Z' and PAW valence 'valence', e"
    )
    calculator_parameters: dict[str, Any] = Field(
        description="GPAW keyword arguments the SCF converged with (symmetry 'off' "
        "when GPAW's symmetry analysis rejected the cell)"
    )
    projections_k_points: int = Field(
        description=f"k-points of the projections in {PROJECTIONS_FILE}"
    )
    projections_zone: str = Field(
        description="'full (time reversal only)' (whole-zone pass) or \"SCF's\""
    )
    files: dict[str, str] = Field(
        description="The analysis files in dir_name, by role: summary, dos, "
        "projections, density (all-electron, cores included, CHGCAR format)"
    )

    @classmethod
    def from_summary(
        cls,
        summary: dict[str, Any],
        dir_name: str,
        input_structure: Structure | None = None,
        elapsed_time_s: float | None = None,
    ) -> GpawStaticTaskDoc:
        """The document of a static from its ``gpaw_static.json`` summary.

        Parameters
        ----------
        summary
            What :func:`write_static_outputs` returned (or wrote).
        dir_name
            The run folder (``host:path``, as atomate2's ``get_uri``).
        input_structure
            The structure the static started from, if known.
        elapsed_time_s
            Wall time of the static (SCF, whole-zone pass, files), s, if measured.
        """
        structure = Structure.from_dict(summary["structure"])
        energy = float(summary["energy_eV"])
        forces = summary.get("forces_eV_per_A")  # absent in statics before 2026-12
        output = OutputDoc(
            mol_or_struct=structure,
            energy=energy,
            energy_per_atom=energy / len(structure),
            forces=forces,
            elapsed_time=elapsed_time_s,
            n_steps=1,
        )
        return cls.from_structure(
            meta_structure=structure,
            structure=structure,
            input=InputDoc(mol_or_struct=input_structure, relax_cell=False, steps=1),
            output=output,
            ase_calculator_name="GPAW",
            dir_name=dir_name,
            state=TaskState.SUCCESS,
            entry=ComputedEntry(structure.composition, energy),
            code_version=summary["code"],
            efermi_eV=summary["efermi_eV"],
            band_gap_eV=summary["band_gap_eV"],
            magmoms_muB=summary["magmoms_muB"],
            total_magnetization_muB=summary["total_magnetization_muB"],
            electrons=summary["electrons"],
            calculator_parameters=summary["parameters"],
            projections_k_points=summary["projections"]["k_points"],
            projections_zone=summary["projections"]["zone"],
            files={
                "summary": STATIC_FILE,
                "dos": DOS_FILE,
                "projections": PROJECTIONS_FILE,
                "density": DENSITY_FILE,
            },
        )
