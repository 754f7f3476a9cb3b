"""The GPAW engine: open-source PAW DFT+U through ASE, behind VASP's interface.

GPAW (PyPI ``gpaw``, PAW datasets from ``gpaw-data``) runs here in plane-wave mode,
PBE, spin-polarised, with the Dudarev U of the shared presets
(:mod:`oredox.workflows.dftu`) applied through GPAW's setup strings
(``setups={"Ni": ":d,6.2"}``). Initial moments ride on the structure's ``magmom``
site property, as for VASP.

- Relaxations: :class:`GpawRelaxMaker`, atomate2's ``AseRelaxMaker`` with a GPAW
  calculator (cell and ions, FrechetCellFilter, BFGS). While it runs, GPAW writes
  each SCF iteration to :data:`LOG_FILE` and BFGS each step (energy, fmax) to
  :data:`OPTIMIZER_LOG_FILE` in the job's folder, where the progress display reads
  them (:mod:`oredox.workflows.live`). Plane-wave stresses need a
  converged cutoff: at 400 eV a LiCoO2 cell shows 62 GPa of spurious (Pulay) stress,
  at 600 eV -1.8 GPa (measured here), hence the 600 eV default.
- SCF: crystal symmetry within 1e-3 (GPAW's default 1e-7 loses it to the last digits
  of a relaxed cell, and then Li0.5CoO2's density sloshed between the two Co for 40+
  iterations; symmetrised, it converges in 17), and GPAW's MSR1 mixer with 5 old
  densities and a Fourier metric weight of 50 (:data:`MIXER`; with GPAW's 10 and 20,
  the SCF of Co2O4 at the LiCoO2 geometry was still sloshing after 105 iterations;
  Pulay mixing converged it to a state 1 eV higher, Co 0.6 muB instead of 1.3).
- Basis: plane waves for every cell size, measured against LCAO (``dzp``, the
  basis sets of gpaw-data) on the 12-atom Li2MnO3 cell (PBE+U, U(Mn) 3.9 eV, 18
  irreducible k-points, same SCF settings, this 2-core machine): plane waves at
  600 eV took 118 s for the whole static (SCF 6.2 s per iteration, 10 iterations),
  LCAO 264 s (27.5 s per iteration, 9 iterations): GPAW's LCAO without ScaLAPACK
  spends its time on the real-space grid, not on the small basis. What the
  analysis reads agreed where the basis does not enter: Mn moments 3.126 (PW) and
  3.139 muB (LCAO), O 2p 0-1 eV below the VBM 0.910 and 0.908 e/O, Mn-O pi mixing
  0.655 and 0.650, gap 1.98 and 1.84 eV; the Bader charges did not (Mn +1.88 and
  +1.65 e, O -1.21 and -1.12 e: the dzp density is less ionic), nor the empty O 2p
  states (0.028 and 0.073 per O). Plane waves are faster and complete, so LCAO is
  not offered.
- Parallelism: the pip build of GPAW has no MPI (``gpaw info``: MPI enabled no),
  so a static runs on one core; k-point and band parallelism need a GPAW built
  against MPI (``mpiexec gpaw python``), which a job could call the same way.
- Threads: GPAW runs serially in the job's process, with BLAS on one thread
  (:data:`BLAS_THREADS`). OpenBLAS's default of one thread per core made each SCF
  iteration 1.8 times slower on this 2-core machine (4.3 s against 2.4 s for Co2O4 at
  600 eV): three OpenBLAS copies (numpy's, scipy's and GPAW's own) each start a
  thread per core for matrices too small to share. GPAW's parallelism is MPI's.
- Statics: :class:`GpawStaticMaker` runs the SCF, then a non-self-consistent pass on
  its density without point-group symmetry (time reversal only, which leaves squared
  and rotated projections unchanged), so that the site- and m-resolved projections
  are those of the whole Brillouin zone, and writes what the analysis layer reads
  (:mod:`~oredox.workflows.engines.gpaw_files`); :func:`read_gpaw_outputs` reads it
  back. Its job output is a
  :class:`~oredox.workflows.engines.gpaw_files.GpawStaticTaskDoc`, atomate2's ASE
  task document with the static's Fermi level, gap, moments and files.

GPAW is an optional extra (``pip install 'oredox[gpaw]'``; its C extension needs
libxc and OpenBLAS, see ``scripts/install``); nothing else in oredox imports it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from atomate2.ase.jobs import AseRelaxMaker
from jobflow import Maker, job
from pydantic import Field, field_validator
from pymatgen.core import Structure

from oredox.analysis.electronic import StaticOutputs
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme
from oredox.workflows.dftu import DftuPreset, get_preset, hubbard_u
from oredox.workflows.engines.base import Engine, local_path
from oredox.workflows.engines.gpaw_files import (
    DENSITY_FILE,
    DOS_FILE,
    PROJECTIONS_FILE,
    STATIC_FILE,
    GpawStaticTaskDoc,
    gpaw_version,
    write_static_outputs,
)
from oredox.workflows.live import OPTIMIZER_LOG_FILE  # read while relaxations run

logger = logging.getLogger(__name__)

SHELLS = "spdf"
LOG_FILE = "gpaw.txt"
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


class GpawEngine(Engine):
    """GPAW PBE+U in plane-wave mode, one oredox preset for the U table.

    Parameters
    ----------
    preset
        DFT+U preset: a name, a :class:`~oredox.workflows.dftu.DftuPreset` or its
        fields (its U, L and J tables are used; its VASP cutoff and k-mesh are not,
        GPAW's PAW setups have their own convergence).
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
    walltime_s
        Accepted for the engines' common interface; GPAW jobs run in-process and
        have no clean stop before the queue's.
    """

    name: ClassVar[str] = "gpaw"

    preset: DftuPreset = Field(default_factory=lambda: get_preset("mp"))
    ecut_eV: float = Field(600.0, gt=0, allow_inf_nan=False)
    kpoint_density_per_A: float = Field(3.5, gt=0, allow_inf_nan=False)
    smearing_eV: float = Field(0.05, gt=0, allow_inf_nan=False)
    scf_energy_eV_per_electron: float = Field(1e-4, gt=0, allow_inf_nan=False)
    scf_density_per_electron: float = Field(1e-4, gt=0, allow_inf_nan=False)
    scf_eigenstates_eV2_per_electron: float = Field(4e-8, gt=0, allow_inf_nan=False)
    walltime_s: int | None = Field(None, gt=0)

    @field_validator("preset", mode="before")
    @classmethod
    def _named_preset(cls, value):
        return get_preset(value)

    def calculator_kwargs(self) -> dict[str, Any]:
        """GPAW keyword arguments, as plain data (they travel inside jobs)."""
        return {
            "mode": {"name": "pw", "ecut": float(self.ecut_eV)},
            "xc": self.preset.functional,
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
            # ASE's optimiser writes its steps to this file in the job's folder
            relax_kwargs={"fmax": fmax, "logfile": OPTIMIZER_LOG_FILE},
            optimizer_kwargs={"optimizer": "BFGS"},
        )

    def static_maker(self, projections: bool = True) -> Maker:
        """SCF, a full-zone pass on its density, then DOS, projections and density.

        GPAW's phase projections cost nothing extra, so they are always written,
        whatever ``projections`` says.
        """
        del projections
        return GpawStaticMaker(calculator_kwargs=self.calculator_kwargs())

    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """Energy (eV), structure and force convergence (bool) of a relax job."""
        return {
            "energy_eV": relax_job.output.output.energy,
            "structure": relax_job.output.structure,
            "converged": relax_job.output.is_force_converged,
        }

    def static_outputs(self, static_job) -> dict[str, Any]:
        """References into a static's :class:`GpawStaticTaskDoc` (see StaticRecord)."""
        output = static_job.output
        return {
            "dir_name": output.dir_name,
            "energy_eV": output.output.energy,
            "band_gap_eV": output.band_gap_eV,
            "structure": output.structure,
        }

    def reads_static(self, folder: Path) -> bool:
        """A folder with the summary a GPAW static writes (:data:`STATIC_FILE`)."""
        return (local_path(folder) / STATIC_FILE).exists()

    def read_static(self, folder: str | Path) -> StaticOutputs:
        """Parse a GPAW static's folder (:func:`read_gpaw_outputs`)."""
        return read_gpaw_outputs(folder)

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
        preset = self.preset
        u_table = (
            hubbard_u(structure, preset)
            if structure is not None
            else dict(preset.hubbard_u_eV)
        )
        return EnergyScheme(
            engine=self.name,
            engine_version=f"gpaw {gpaw_version('gpaw')}",
            model=None,
            functional=f"{preset.functional}+U (Dudarev), preset {preset.name}",
            hubbard_u_eV=u_table,
            potcars=None,
            encut_eV=self.ecut_eV,
            relax_fmax_eV_per_A=fmax,
            relax_cell=True,
            parameters={
                "paw_setups": f"gpaw-data {gpaw_version('gpaw-data')}",
                "kpoint_density_per_A": self.kpoint_density_per_A,
                "smearing": f"Fermi-Dirac {self.smearing_eV:g} eV",
            },
        )


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

    @job(name="gpaw static", output_schema=GpawStaticTaskDoc)
    def make(self, structure: Structure) -> GpawStaticTaskDoc:
        """Run the static in the job's folder, write its files; its task document."""
        from atomate2.utils.path import get_uri
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(structure)  # magmom -> initial moments
        relaxed_moments = structure.site_properties.get("final_magmom")
        if relaxed_moments is not None:
            # a relaxation's output: start from its converged moments, as atomate2's
            # VASP statics do (Co2O4 converged in 21 SCF iterations from them, in 56
            # from Co 1 and O 0.6 muB)
            atoms.set_initial_magnetic_moments(relaxed_moments)
        start_s = time.perf_counter()
        with _blas_threads():
            kwargs = scf_with_symmetry_fallback(atoms, self.calculator_kwargs)
            # the SCF density, every k-point of the zone: no SCF to break the symmetry
            bands = atoms.calc.fixed_density(
                symmetry=dict(FULL_ZONE), txt=BANDS_LOG_FILE
            )
            summary = write_static_outputs(
                atoms.calc,
                Path.cwd(),
                kwargs,
                density_refinement=self.density_refinement,
                bands=bands,
            )
        return GpawStaticTaskDoc.from_summary(
            summary,
            get_uri(Path.cwd()),
            input_structure=structure,
            elapsed_time_s=time.perf_counter() - start_s,
        )


def scf_with_symmetry_fallback(atoms, calculator_kwargs: dict) -> dict:
    """Converge the SCF of ``atoms``; the keyword arguments it converged with.

    GPAW's symmetry analysis can reject a relaxed cell whose operations do not close
    into a group at the tolerance (``SymmetryAnalysisBug``: it did so for the
    CHGNet-relaxed P2 NLMO cell at 1e-3 A). The SCF then runs again without
    symmetry: the same k-mesh over the whole zone, the same energy up to numerical
    noise, and the fallback is recorded in the static's parameters.
    """
    from gpaw.new.symmetry import SymmetryAnalysisBug

    try:
        atoms.calc = _gpaw_calculator(calculator_kwargs)
        atoms.get_potential_energy()
        return calculator_kwargs
    except SymmetryAnalysisBug:
        logger.warning("GPAW's symmetry analysis failed; SCF without symmetry")
        kwargs = {**calculator_kwargs, "symmetry": "off"}
        atoms.calc = _gpaw_calculator(kwargs)
        atoms.get_potential_energy()
        return kwargs


def read_gpaw_outputs(folder: str | Path) -> StaticOutputs:
    """Parse the files of a GPAW static (``gpaw.write_static_outputs``).

    The density is all-electron with the cores, so Bader charges are Z minus the
    basin populations (``zval`` holds the nuclear charges).
    """
    from pymatgen.electronic_structure.dos import CompleteDos
    from pymatgen.io.vasp import Chgcar

    path = local_path(folder)
    summary = json.loads((path / STATIC_FILE).read_text())
    structure = Structure.from_dict(summary["structure"])
    out = StaticOutputs(
        structure=structure,
        efermi_eV=summary["efermi_eV"],
        zval={el: v["Z"] for el, v in summary["electrons"].items()},
        moments_muB=summary["magmoms_muB"],
        density_kind="all-electron density with cores (GPAW)",
    )
    dos_file = path / DOS_FILE
    if dos_file.exists():
        out.dos = CompleteDos.from_dict(json.loads(dos_file.read_text()))
    else:
        out.missing["dos"] = f"no {DOS_FILE}"
    density_file = path / DENSITY_FILE
    if density_file.exists():
        out.chgcar = Chgcar.from_file(str(density_file))
    else:
        out.missing["bader"] = f"no {DENSITY_FILE}: no Bader charges"
    projections_file = path / PROJECTIONS_FILE
    if projections_file.exists():
        with np.load(projections_file) as data:
            out.phases = {key: data[key] for key in data.files}
    else:
        out.missing["projections"] = f"no {PROJECTIONS_FILE}"
    return out
