"""The VASP engine: atomate2's Materials Project makers with oredox's DFT+U presets.

Relaxations use ``MPGGARelaxMaker`` around pymatgen's ``MPRelaxSet``, statics
``MPGGAStaticMaker`` around ``MPStaticSet`` (LORBIT 11, DOS parsed into the data
store, LAECHG and LCHARG for Bader). Each preset's U table is written in full (U, L and
J for every element it names, keyed by O and F) so that no element silently loses its
U; initial moments ride on the structure's ``magmom`` site property
(:func:`oredox.workflows.dftu.initial_magmoms`). VASP runs through atomate2's
``run_vasp`` and therefore custodian; a walltime handler is added when a walltime is
set.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib.metadata import version

from jobflow import Maker
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme
from oredox.workflows.dftu import U_ANIONS, DftuPreset, get_preset, hubbard_u


def ldau_incar(preset: str | DftuPreset) -> dict:
    """INCAR LDAU tables for every structure: the whole U table under O and under F.

    pymatgen picks the entries of the elements present (0 for the others, which then
    also get L = 0) and drops every LDAU tag when no element present has a U (e.g. the
    alkali-metal reference). LDAU and LDAUTYPE 2 come from the MP base set: setting them
    here would leave LDAU on for cells without a U.
    """
    preset = get_preset(preset)
    table = dict(preset.hubbard_u_eV)
    if not table:
        return {"LDAU": False}
    l_table = {el: (preset.hubbard_l or {}).get(el, 2) for el in table}
    j_table = {el: float((preset.hubbard_j_eV or {}).get(el, 0.0)) for el in table}
    settings = {
        "LDAUU": {anion: dict(table) for anion in U_ANIONS},
        "LDAUL": {anion: dict(l_table) for anion in U_ANIONS},
        "LDAUJ": {anion: dict(j_table) for anion in U_ANIONS},
    }
    if 3 in l_table.values():  # f shells need the larger charge-density mixing
        settings["LMAXMIX"] = 6
    return settings


@dataclass(frozen=True)
class VaspEngine:
    """VASP DFT+U through atomate2, custodian and one oredox preset.

    Parameters
    ----------
    preset
        DFT+U preset name or :class:`~oredox.workflows.dftu.DftuPreset`.
    walltime_s
        Job walltime; adds custodian's WalltimeHandler so VASP stops cleanly before it.
    """

    preset: str | DftuPreset = "mp"
    walltime_s: int | None = None
    name: str = field(default="vasp", init=False)

    def __post_init__(self):
        get_preset(self.preset)  # unknown presets fail here, not at the first job

    def incar_settings(self, extra: dict | None = None) -> dict:
        """INCAR settings the preset adds to the Materials Project base set."""
        preset = get_preset(self.preset)
        settings = {"ENCUT": preset.encut_eV, "ISPIN": 2, **ldau_incar(preset)}
        if preset.ediff_eV is not None:
            settings["EDIFF"] = preset.ediff_eV
        return settings | (extra or {})

    def kpoints_settings(self) -> dict | None:
        """k-mesh density of the preset (None: the base set's)."""
        density = get_preset(self.preset).kpoints_per_reciprocal_atom
        return {"grid_density": density} if density else None

    def relax_maker(self, fmax: float = 0.02, steps: int = 99) -> Maker:
        """Cell and ions relaxation to forces below ``fmax`` eV/A (EDIFFG = -fmax)."""
        from atomate2.vasp.jobs.mp import MPGGARelaxMaker
        from pymatgen.io.vasp.sets import MPRelaxSet

        preset = get_preset(self.preset)
        ediffg = preset.ediffg_eV_per_A if preset.ediffg_eV_per_A else -abs(fmax)
        generator = MPRelaxSet(
            user_incar_settings=self.incar_settings({"EDIFFG": ediffg, "NSW": steps}),
            user_kpoints_settings=self.kpoints_settings(),
            force_gamma=True,
        )
        return MPGGARelaxMaker(
            name="vasp relax",
            input_set_generator=generator,
            run_vasp_kwargs=self._run_vasp_kwargs(),
        )

    def static_maker(self, projections: bool = False) -> Maker:
        """Static for analysis: LORBIT 11 (12 with ``projections``), DOS, AECCARs."""
        from atomate2.vasp.jobs.mp import MPGGAStaticMaker
        from pymatgen.io.vasp.sets import MPStaticSet

        extra = {"LORBIT": 12 if projections else 11, "LAECHG": True, "LCHARG": True}
        generator = MPStaticSet(
            user_incar_settings=self.incar_settings(extra),
            user_kpoints_settings=self.kpoints_settings(),
            force_gamma=True,
        )
        return MPGGAStaticMaker(
            name="vasp static",
            input_set_generator=generator,
            run_vasp_kwargs=self._run_vasp_kwargs(),
            task_document_kwargs={"parse_dos": True},
        )

    def static_outputs(self, job) -> dict:
        """References to what a static's record keeps (see StaticRecord)."""
        return {
            "dir_name": job.output.dir_name,
            "energy_eV": job.output.output.energy,
            "band_gap_eV": job.output.output.bandgap,
            "structure": job.output.structure,
            "lorbit": job.output.input.incar["LORBIT"],
        }

    def analysis_job(self, static_job, vacancies=None, initial=None):
        """The electronic analysis of a static, reading its output files."""
        from oredox.workflows.analysis import analyse_static

        return analyse_static(static_job.output.dir_name, vacancies, initial)

    def _run_vasp_kwargs(self) -> dict:
        # atomate2's run_vasp adds custodian's WalltimeHandler when given wall_time
        return {} if self.walltime_s is None else {"wall_time": self.walltime_s}

    def energy_scheme(
        self, fmax: float = 0.02, structure: Structure | None = None
    ) -> EnergyScheme:
        """The scheme of this engine's energies (U table, POTCARs, cutoff)."""
        from pymatgen.io.vasp.sets import MPRelaxSet

        preset = get_preset(self.preset)
        potcars = MPRelaxSet.CONFIG["POTCAR"]
        if structure is not None:
            u_table = hubbard_u(structure, preset)
            symbols = sorted(potcars[el.symbol] for el in structure.composition)
        else:
            u_table, symbols = dict(preset.hubbard_u_eV), None
        return EnergyScheme(
            engine=self.name,
            engine_version=f"atomate2 {version('atomate2')}",
            model=None,
            functional=f"{preset.functional}+U (Dudarev), preset {preset.name}",
            hubbard_u_eV=u_table,
            potcars=symbols,
            encut_eV=preset.encut_eV,
            relax_fmax_eV_per_A=abs(preset.ediffg_eV_per_A or fmax),
            relax_cell=True,
        )

    def converged(self, job):
        """Reference to the task state of a relax job ("successful" when converged)."""
        return job.output.state

    def check_runnable(self) -> None:
        """Raise when the VASP command atomate2 would run is not on this machine."""
        from atomate2 import SETTINGS

        command = SETTINGS.VASP_CMD.split()
        executable = next(
            (
                part
                for part in command
                if not part.startswith("-")
                and part not in ("srun", "mpirun", "mpiexec")
            ),
            command[0],
        )
        if shutil.which(executable) is None:
            raise OredoxInputError(
                f"engine vasp: the VASP command {SETTINGS.VASP_CMD!r} is not on this "
                f"machine; set ATOMATE2_VASP_CMD or use the chgnet engine"
            )
