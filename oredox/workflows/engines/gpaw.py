"""The GPAW engine: open-source PAW DFT+U through ASE, behind VASP's interface.

GPAW (PyPI ``gpaw``, PAW datasets from ``gpaw-data``) runs here in plane-wave mode,
PBE, spin-polarised, with the Dudarev U of the shared presets
(:mod:`oredox.workflows.dftu`) applied through GPAW's setup strings
(``setups={"Ni": ":d,6.2"}``). Initial moments ride on the structure's ``magmom``
site property, as for VASP.

- Relaxations: :class:`GpawRelaxMaker`, atomate2's ``AseRelaxMaker`` with a GPAW
  calculator (cell and ions, FrechetCellFilter, BFGS). Plane-wave stresses need a
  converged cutoff: at 400 eV a LiCoO2 cell shows 62 GPa of spurious (Pulay) stress,
  at 600 eV -1.8 GPa (measured here), hence the 600 eV default.
- SCF: crystal symmetry within 1e-3 (GPAW's default 1e-7 loses it to the last digits
  of a relaxed cell, and then Li0.5CoO2's density sloshed between the two Co for 40+
  iterations; symmetrised, it converges in 17), and GPAW's MSR1 mixer with 5 old
  densities and a Fourier metric weight of 50 (:data:`MIXER`; with GPAW's 10 and 20,
  the SCF of Co2O4 at the LiCoO2 geometry was still sloshing after 105 iterations;
  Pulay mixing converged it to a state 1 eV higher, Co 0.6 muB instead of 1.3).
- Threads: GPAW runs serially in the job's process, with BLAS on one thread
  (:data:`BLAS_THREADS`). OpenBLAS's default of one thread per core made each SCF
  iteration 1.8 times slower on this 2-core machine (4.3 s against 2.4 s for Co2O4 at
  600 eV): three OpenBLAS copies (numpy's, scipy's and GPAW's own) each start a
  thread per core for matrices too small to share. GPAW's parallelism is MPI's.
- Statics: :class:`GpawStaticMaker` runs the SCF, then a non-self-consistent pass on
  its density without point-group symmetry (time reversal only, which leaves squared
  and rotated projections unchanged), so that the site- and m-resolved projections
  are those of the whole Brillouin zone, and writes what the analysis layer reads
  (:func:`write_static_outputs`):

  ``gpaw_static.json``
      structure with the site moments, energy, Fermi level, band gap, the valence
      and nuclear charge of every element, the calculator parameters;
  ``projections.npz``
      complex PAW projections <p_i|psi_nk> on the bound partial wave of each l
      (s, p, d; VASP's orbital order, which is GPAW's), eigenvalues and k weights:
      the phase-resolved input of :func:`oredox.analysis.projections.project_local`;
  ``dos.json``
      pymatgen ``CompleteDos`` (total, and site, l and m resolved) built from them;
  ``density_ae.vasp``
      the all-electron density, core included (GPAW puts the charge its grid cannot
      resolve on the grid point nearest each nucleus, so the total is exact), and the
      spin density, on a grid twice as fine as the SCF's, in VASP CHGCAR format
      (rho times the cell volume): Bader reads it like a CHGCAR, and so do VESTA and
      Henkelman's ``bader``. Bader charges are then Z minus the basin population.

GPAW is an optional extra (``pip install 'oredox[gpaw]'``; its C extension needs
libxc and OpenBLAS, see ``scripts/install``); nothing else in oredox imports it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from atomate2.ase.jobs import AseRelaxMaker
from jobflow import Maker, job
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme
from oredox.workflows.dftu import DftuPreset, get_preset, hubbard_u

logger = logging.getLogger(__name__)

SHELLS = "spdf"
STATIC_FILE = "gpaw_static.json"
PROJECTIONS_FILE = "projections.npz"
DOS_FILE = "dos.json"
DENSITY_FILE = "density_ae.vasp"
LOG_FILE = "gpaw.txt"
DOS_POINTS = 3001
DOS_SIGMA_EV = 0.1
SYMMETRY = {"symmorphic": False, "tolerance": 1e-3}
FULL_ZONE = {"point_group": False, "time_reversal": True}
BANDS_LOG_FILE = "gpaw-bands.txt"
MAX_SCF_ITERATIONS = 150
MIXER = {"name": "msr1", "beta": 0.05, "nmaxold": 5, "weight": 50.0}
BLAS_THREADS = 1


def hubbard_setups(preset: str | DftuPreset) -> dict[str, str]:
    """GPAW setup strings of the preset's U table: ``{"Ni": ":d,6.2"}``.

    GPAW applies the Dudarev form, which depends on U - J only; a preset's J is
    therefore folded into U_eff = U - J, as VASP's LDAUTYPE 2 does. Elements absent
    from a structure are ignored by GPAW, so one table serves every cell (the U
    applies whatever the anion, unlike pymatgen's O/F-keyed VASP tables: GPAW has no
    such rule, and no oredox study has a TM without O or F).
    """
    preset = get_preset(preset)
    shells = preset.hubbard_l or {}
    j_table = preset.hubbard_j_eV or {}
    return {
        element: f":{SHELLS[shells.get(element, 2)]},{u - j_table.get(element, 0.0):g}"
        for element, u in sorted(preset.hubbard_u_eV.items())
    }


@dataclass(frozen=True)
class GpawEngine:
    """GPAW PBE+U in plane-wave mode, one oredox preset for the U table.

    Parameters
    ----------
    preset
        DFT+U preset name or :class:`~oredox.workflows.dftu.DftuPreset` (its U, L and
        J tables are used; its VASP cutoff and k-mesh are not, GPAW's PAW setups have
        their own convergence).
    ecut_eV
        Plane-wave cutoff, eV.
    kpoint_density_per_A
        Monkhorst-Pack density (ASE's ``kpts={"density": ...}``, points per
        reciprocal-lattice length in 1/A), Gamma-centred.
    smearing_eV
        Fermi-Dirac width, eV.
    scf_energy_eV_per_electron
        SCF energy convergence (GPAW's ``convergence["energy"]``).
    scf_density_per_electron
        SCF density convergence (GPAW's ``convergence["density"]``, its default).
    scf_eigenstates_eV2_per_electron
        SCF convergence of the occupied bands' residuals (GPAW's
        ``convergence["eigenstates"]``, its default 4e-8). Once energy and density
        have converged, this criterion alone kept relaxation SCFs going for 2-4 more
        iterations of 10-16 (Co2O4, 600 eV); with 1e-6, Co2O4's stress agreed with
        that at 4e-8 within 0.2 GPa.
    """

    preset: str | DftuPreset = "mp"
    ecut_eV: float = 600.0
    kpoint_density_per_A: float = 3.5
    smearing_eV: float = 0.05
    scf_energy_eV_per_electron: float = 1e-4
    scf_density_per_electron: float = 1e-4
    scf_eigenstates_eV2_per_electron: float = 4e-8
    name: str = field(default="gpaw", init=False)

    def __post_init__(self):
        get_preset(self.preset)  # unknown presets fail here, not at the first job
        for label, value in (
            ("ecut_eV", self.ecut_eV),
            ("kpoint_density_per_A", self.kpoint_density_per_A),
            ("smearing_eV", self.smearing_eV),
            ("scf_energy_eV_per_electron", self.scf_energy_eV_per_electron),
            ("scf_density_per_electron", self.scf_density_per_electron),
            ("scf_eigenstates_eV2_per_electron", self.scf_eigenstates_eV2_per_electron),
        ):
            if not value > 0:
                raise OredoxInputError(f"engine gpaw: {label} must be > 0, got {value}")

    def calculator_kwargs(self) -> dict[str, Any]:
        """GPAW keyword arguments, as plain data (they travel inside jobs)."""
        return {
            "mode": {"name": "pw", "ecut": float(self.ecut_eV)},
            "xc": get_preset(self.preset).functional,
            "kpts": {"density": float(self.kpoint_density_per_A), "gamma": True},
            "occupations": {"name": "fermi-dirac", "width": float(self.smearing_eV)},
            "spinpol": True,
            "setups": hubbard_setups(self.preset),
            "symmetry": dict(SYMMETRY),
            "convergence": {
                "energy": float(self.scf_energy_eV_per_electron),
                "density": float(self.scf_density_per_electron),
                "eigenstates": float(self.scf_eigenstates_eV2_per_electron),
            },
            # fewer old densities and a stronger long-wavelength metric than GPAW's
            # MSR1 defaults: see the module's notes for what they did on Co2O4
            "mixer": dict(MIXER),
            # a sloshing SCF fails the job (listed in the study) instead of running
            # GPAW's 333 iterations
            "maxiter": MAX_SCF_ITERATIONS,
            "txt": LOG_FILE,
        }

    def relax_maker(self, fmax: float = 0.05, steps: int = 200) -> Maker:
        """Cell and ions relaxation (BFGS) to forces below ``fmax`` eV/A."""
        return GpawRelaxMaker(
            calculator_kwargs=self.calculator_kwargs(),
            steps=steps,
            relax_kwargs={"fmax": fmax},
            optimizer_kwargs={"optimizer": "BFGS"},
        )

    def static_maker(self, projections: bool = True) -> Maker:
        """SCF, a full-zone pass on its density, then DOS, projections and density.

        ``projections`` is accepted for the engines' common interface: GPAW's phase
        projections cost nothing extra, so they are always written.
        """
        del projections
        return GpawStaticMaker(calculator_kwargs=self.calculator_kwargs())

    def static_outputs(self, job) -> dict:
        """References to what a static's record keeps (see StaticRecord)."""
        return {
            "dir_name": job.output["dir_name"],
            "energy_eV": job.output["energy_eV"],
            "band_gap_eV": job.output["band_gap_eV"],
            "structure": job.output["structure"],
        }

    def analysis_job(self, static_job, vacancies=None, initial=None):
        """The electronic analysis of a static, reading its output files."""
        from oredox.workflows.analysis import analyse_static

        return analyse_static(static_job.output["dir_name"], vacancies, initial)

    def converged(self, job):
        """Reference to whether a relax job met its force criterion."""
        return job.output.is_force_converged

    def check_runnable(self) -> None:
        """Raise when GPAW or its PAW datasets are not installed."""
        try:
            import gpaw  # noqa: F401
            import gpaw_data  # noqa: F401
        except ImportError as exc:
            raise OredoxInputError(
                f"engine gpaw: {exc.name} is not installed; run scripts/install "
                "(system libraries and the 'gpaw' extra) or pip install "
                "'oredox[gpaw]' after installing libxc-dev and libopenblas-dev"
            ) from exc

    def energy_scheme(
        self, fmax: float = 0.05, structure: Structure | None = None
    ) -> EnergyScheme:
        """The scheme of this engine's energies (U table, setups, cutoff, k-mesh)."""
        preset = get_preset(self.preset)
        u_table = (
            hubbard_u(structure, preset)
            if structure is not None
            else dict(preset.hubbard_u_eV)
        )
        return EnergyScheme(
            engine=self.name,
            engine_version=f"gpaw {_version('gpaw')}",
            model=None,
            functional=f"{preset.functional}+U (Dudarev), preset {preset.name}",
            hubbard_u_eV=u_table,
            potcars=None,
            encut_eV=self.ecut_eV,
            relax_fmax_eV_per_A=fmax,
            relax_cell=True,
            parameters={
                "paw_setups": f"gpaw-data {_version('gpaw-data')}",
                "kpoint_density_per_A": self.kpoint_density_per_A,
                "smearing": f"Fermi-Dirac {self.smearing_eV:g} eV",
            },
        )


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _gpaw_calculator(kwargs: dict[str, Any]):
    from gpaw import GPAW

    return GPAW(**kwargs)


def _blas_threads():
    """Context in which every loaded BLAS runs on :data:`BLAS_THREADS` threads."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=BLAS_THREADS, user_api="blas")


@dataclass
class GpawRelaxMaker(AseRelaxMaker):
    """atomate2's ASE relax maker with a GPAW calculator (``calculator_kwargs``)."""

    name: str = "gpaw relax"

    def _get_calculator(self):
        return _gpaw_calculator(self.calculator_kwargs)

    def run_ase(self, mol_or_struct, prev_dir=None):
        """atomate2's relaxation, with BLAS on :data:`BLAS_THREADS` threads."""
        with _blas_threads():
            return super().run_ase(mol_or_struct, prev_dir=prev_dir)


@dataclass
class GpawStaticMaker(Maker):
    """A GPAW static for electronic analysis (see the module's list of files).

    Parameters
    ----------
    calculator_kwargs
        GPAW keyword arguments of the SCF (the engine's).
    density_refinement
        The all-electron density's grid is this many times finer than the SCF's.
    """

    name: str = "gpaw static"
    calculator_kwargs: dict = field(default_factory=dict)
    density_refinement: int = 2

    @job(name="gpaw static")
    def make(self, structure: Structure) -> dict[str, Any]:
        """Run the static in the job's folder and write its outputs there."""
        from atomate2.utils.path import get_uri
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(structure)  # magmom -> initial moments
        relaxed_moments = structure.site_properties.get("final_magmom")
        if relaxed_moments is not None:
            # a relaxation's output: start from its converged moments, as atomate2's
            # VASP statics do (Co2O4 converged in 21 SCF iterations from them, in 56
            # from Co 1 and O 0.6 muB)
            atoms.set_initial_magnetic_moments(relaxed_moments)
        with _blas_threads():
            atoms.calc = _gpaw_calculator(self.calculator_kwargs)
            atoms.get_potential_energy()
            # the SCF density, every k-point of the zone: no SCF to break the symmetry
            bands = atoms.calc.fixed_density(
                symmetry=dict(FULL_ZONE), txt=BANDS_LOG_FILE
            )
            summary = write_static_outputs(
                atoms.calc,
                Path.cwd(),
                self.calculator_kwargs,
                density_refinement=self.density_refinement,
                bands=bands,
            )
        return {
            "dir_name": get_uri(Path.cwd()),
            "energy_eV": summary["energy_eV"],
            "band_gap_eV": summary["band_gap_eV"],
            "efermi_eV": summary["efermi_eV"],
            "structure": Structure.from_dict(summary["structure"]),
            "parameters": summary["parameters"],
        }


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
        "code": f"gpaw {_version('gpaw')}",
        "structure": structure.as_dict(),
        "energy_eV": float(calc.get_potential_energy()),
        "efermi_eV": projections["efermi_eV"],
        "band_gap_eV": band_gap(projections),
        "magmoms_muB": moments.tolist(),
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
