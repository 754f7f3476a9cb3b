"""The VASP engine: atomate2's Materials Project makers with oredox's DFT+U presets.

Production engine. VASP is licensed and runs only where it is installed;
:meth:`VaspEngine.check_runnable` says so before anything is submitted.

Relaxations use ``MPGGARelaxMaker``, statics ``MPGGAStaticMaker``, around oredox's
input sets (:mod:`~oredox.workflows.engines.vasp_sets`): pymatgen's ``MPRelaxSet``
and ``MPStaticSet`` with Gaussian smearing in relaxations of oxides,
Methfessel-Paxton for the alkali-metal reference, the tetrahedron method and 4001 DOS
points in statics (LORBIT 11, DOS parsed into the data store, LAECHG and LCHARG for
Bader), and k-meshes that meet the preset's density. Each preset's U table is
written in full (U, L and J for every element it names, keyed by O and F) so that
no element silently loses its U; initial moments ride on the structure's ``magmom``
site property (:func:`oredox.workflows.dftu.initial_magmoms`), and a static started
from a relaxation's output structure starts from its relaxed moments (emmet puts the
OUTCAR's moments on it). A user's INCAR tags (``incar``, ``relax_incar``,
``static_incar``) and k-mesh (``kpoints``) are applied last; those that change
energies are recorded in the energy scheme. VASP runs through atomate2's
``run_vasp`` and therefore custodian; a walltime handler is added when a walltime is
set. :func:`read_vasp_outputs` parses what a static leaves in its folder (vasprun.xml
for the DOS, CHGCAR and AECCAR0/2 for Bader, PROCAR for the phase-resolved
projections, OUTCAR for the valence electron counts and moments).
"""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

from jobflow import Maker
from pydantic import Field, field_validator, model_validator
from pymatgen.core import Structure

from oredox.analysis.electronic import StaticOutputs
from oredox.errors import OredoxInputError
from oredox.extras import require
from oredox.schemas import EnergyScheme, SettingsModel
from oredox.workflows.dftu import U_ANIONS, DftuPreset, get_preset, hubbard_u
from oredox.workflows.engines.base import Engine, local_path
from oredox.workflows.engines.vasp_sets import (
    GAUSSIAN_SIGMA_EV,
    METAL_SIGMA_EV,
    check_incar,
    energy_changing,
)


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


class KpointsSpec(SettingsModel):
    """A user's k-mesh (a template's ``vasp.kpoints``): a mesh or a density.

    Parameters
    ----------
    mesh
        Gamma-centred divisions along the three reciprocal vectors (e.g. the LTNO
        study's ``[3, 2, 6]``), for the host's cells; the alkali-metal reference keeps
        the density.
    per_reciprocal_atom
        k-points times atoms; the smallest mesh that meets it
        (:func:`~oredox.workflows.engines.vasp_sets.kpoint_mesh`).
    """

    mesh: list[int] | None = Field(None, min_length=3, max_length=3)
    per_reciprocal_atom: float | None = Field(None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.mesh is None) == (self.per_reciprocal_atom is None):
            raise ValueError(
                "give exactly one of kpoints.mesh or kpoints.per_reciprocal_atom"
            )
        if self.mesh is not None and min(self.mesh) < 1:
            raise ValueError(f"kpoints.mesh {self.mesh}: divisions must be >= 1")
        return self


class VaspEngine(Engine):
    """VASP DFT+U through atomate2, custodian and one oredox preset.

    Parameters
    ----------
    preset
        DFT+U preset: a name (``mp``, ``ltno-2022``), a
        :class:`~oredox.workflows.dftu.DftuPreset` or its fields; unknown names fail
        here, not at the first job.
    walltime_s
        Job walltime; adds custodian's WalltimeHandler so VASP stops cleanly before it.
    incar, relax_incar, static_incar
        INCAR tags for every VASP job, for relaxations only, for statics only;
        applied last. Unknown tags are errors; MAGMOM, LDAU*, NSW and EDIFFG have
        their own settings. Tags outside
        :data:`~oredox.workflows.engines.vasp_sets.PERFORMANCE_TAGS` enter the
        energy scheme.
    kpoints
        A k-mesh or density over the preset's (:class:`KpointsSpec`).
    """

    name: ClassVar[str] = "vasp"
    converged_value: ClassVar[Any] = "successful"  # emmet's TaskState.SUCCESS

    preset: DftuPreset = Field(default_factory=lambda: get_preset("mp"))
    walltime_s: int | None = Field(None, gt=0)
    incar: dict[str, Any] = Field(default_factory=dict)
    relax_incar: dict[str, Any] = Field(default_factory=dict)
    static_incar: dict[str, Any] = Field(default_factory=dict)
    kpoints: KpointsSpec | None = None

    @field_validator("preset", mode="before")
    @classmethod
    def _named_preset(cls, value):
        return get_preset(value)

    @field_validator("incar", "relax_incar", "static_incar")
    @classmethod
    def _vasp_tags(cls, value):
        return check_incar(value)

    def incar_settings(self, extra: dict | None = None) -> dict:
        """INCAR settings the preset adds to the Materials Project base set."""
        preset = self.preset
        settings = {"ENCUT": preset.encut_eV, "ISPIN": 2, **ldau_incar(preset)}
        if preset.ediff_eV is not None:
            settings["EDIFF"] = preset.ediff_eV
        return settings | (extra or {})

    def kpoints_fields(self) -> dict[str, Any]:
        """k-mesh fields of the input sets: the user's, else the preset's."""
        spec = self.kpoints
        if spec is not None and spec.mesh is not None:
            return {
                "kpoint_mesh": tuple(spec.mesh),
                "kpoints_per_reciprocal_atom": self.preset.kpoints_per_reciprocal_atom,
            }
        if spec is not None:
            return {"kpoints_per_reciprocal_atom": spec.per_reciprocal_atom}
        return {"kpoints_per_reciprocal_atom": self.preset.kpoints_per_reciprocal_atom}

    def relax_maker(self, fmax: float = 0.02, steps: int = 99) -> Maker:
        """Cell and ions relaxation to forces below ``fmax`` eV/A (EDIFFG = -fmax)."""
        require("vasp", "the VASP engine")
        from atomate2.vasp.jobs.mp import MPGGARelaxMaker

        from oredox.workflows.engines.vasp_sets import OredoxRelaxSet

        preset = self.preset
        ediffg = preset.ediffg_eV_per_A if preset.ediffg_eV_per_A else -abs(fmax)
        stage = {"EDIFFG": ediffg, "NSW": steps}
        generator = OredoxRelaxSet(
            user_incar_settings=self.incar_settings(
                stage | self.incar | self.relax_incar
            ),
            force_gamma=True,
            **self.kpoints_fields(),
        )
        return MPGGARelaxMaker(
            name="vasp relax",
            input_set_generator=generator,
            run_vasp_kwargs=self._run_vasp_kwargs(),
        )

    def static_maker(self, projections: bool = False) -> Maker:
        """Static for analysis: LORBIT 11 (12 with ``projections``), DOS, AECCARs."""
        require("vasp", "the VASP engine")
        from atomate2.vasp.jobs.mp import MPGGAStaticMaker

        from oredox.workflows.engines.vasp_sets import OredoxStaticSet

        stage = {"LORBIT": 12 if projections else 11, "LAECHG": True, "LCHARG": True}
        generator = OredoxStaticSet(
            user_incar_settings=self.incar_settings(
                stage | self.incar | self.static_incar
            ),
            force_gamma=True,
            **self.kpoints_fields(),
        )
        return MPGGAStaticMaker(
            name="vasp static",
            input_set_generator=generator,
            run_vasp_kwargs=self._run_vasp_kwargs(),
            task_document_kwargs={"parse_dos": True},
        )

    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """Energy (eV), structure and task state of a relax job.

        ``converged`` is emmet's task state, "successful" when VASP met its ionic
        criterion (:attr:`converged_value`).
        """
        return {
            "energy_eV": relax_job.output.output.energy,
            "structure": relax_job.output.structure,
            "converged": relax_job.output.state,
        }

    def static_outputs(self, static_job) -> dict[str, Any]:
        """References to what a static's record keeps (see StaticRecord)."""
        output = static_job.output
        return {
            "dir_name": output.dir_name,
            "energy_eV": output.output.energy,
            "band_gap_eV": output.output.bandgap,
            "structure": output.structure,
            "lorbit": output.input.incar["LORBIT"],
        }

    def reads_static(self, folder: Path) -> bool:
        """A folder with a vasprun.xml (or its compressed copy)."""
        return _find(local_path(folder), "vasprun.xml") is not None

    def read_static(self, folder: str | Path) -> StaticOutputs:
        """Parse a VASP static's folder (:func:`read_vasp_outputs`)."""
        return read_vasp_outputs(folder)

    def _run_vasp_kwargs(self) -> dict:
        # atomate2's run_vasp adds custodian's WalltimeHandler when given wall_time
        return {} if self.walltime_s is None else {"wall_time": self.walltime_s}

    def energy_scheme(
        self, fmax: float = 0.02, structure: Structure | None = None
    ) -> EnergyScheme:
        """The scheme of this engine's energies (U table, POTCARs, cutoff)."""
        from pymatgen.io.vasp.sets import MPRelaxSet

        preset = self.preset
        potcars = MPRelaxSet.CONFIG["POTCAR"]
        if structure is not None:
            u_table = hubbard_u(structure, preset)
            symbols = sorted(potcars[el.symbol] for el in structure.composition)
        else:
            u_table, symbols = dict(preset.hubbard_u_eV), None
        encut_eV = (self.incar | self.relax_incar).get("ENCUT", preset.encut_eV)
        return EnergyScheme(
            engine=self.name,
            engine_version=f"atomate2 {version('atomate2')}",
            model=None,
            functional=f"{preset.functional}+U (Dudarev), preset {preset.name}",
            hubbard_u_eV=u_table,
            potcars=symbols,
            encut_eV=float(encut_eV),
            relax_fmax_eV_per_A=abs(preset.ediffg_eV_per_A or fmax),
            relax_cell=True,
            parameters=self.scheme_parameters(),
        )

    def scheme_parameters(self) -> dict[str, Any]:
        """k-mesh rule, smearing, and the user's INCAR tags that change energies."""
        fields = self.kpoints_fields()
        if fields.get("kpoint_mesh"):
            kpoints = "Gamma " + "x".join(map(str, fields["kpoint_mesh"]))
        elif fields["kpoints_per_reciprocal_atom"]:
            kpoints = (
                f">= {fields['kpoints_per_reciprocal_atom']:g} per reciprocal atom, "
                "smallest Gamma mesh"
            )
        else:
            kpoints = "MP: 64 per A^-3 (oxides), 200 (metals)"
        parameters: dict[str, Any] = {
            "kpoints": kpoints,
            "relax_smearing": f"ISMEAR 0, SIGMA {GAUSSIAN_SIGMA_EV} eV (with O or "
            f"F); ISMEAR 1, SIGMA {METAL_SIGMA_EV} eV (metals)",
        }
        for label in ("incar", "relax_incar", "static_incar"):
            changed = energy_changing(getattr(self, label))
            if changed:
                parameters[label] = changed
        return parameters

    def check_runnable(self) -> None:
        """Raise when the VASP command atomate2 would run is not on this machine."""
        require("vasp", "the VASP engine")
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


def _find(folder: Path, name: str) -> Path | None:
    """``name`` or its compressed copy (custodian and atomate2 gzip outputs)."""
    for candidate in sorted(folder.glob(f"{name}*")):
        suffix = candidate.name[len(name) :]
        if suffix in ("", ".gz", ".bz2", ".xz") or suffix.startswith(".relax"):
            return candidate
    return None


def read_vasp_outputs(folder: str | Path) -> StaticOutputs:
    """Parse the outputs of a VASP static in ``folder`` (``host:path`` accepted)."""
    from pymatgen.io.vasp import Chgcar, Outcar, Procar, Vasprun

    path = local_path(folder)
    vasprun_file = _find(path, "vasprun.xml")
    if vasprun_file is None:
        raise FileNotFoundError(f"no vasprun.xml in {path}")
    vasprun = Vasprun(str(vasprun_file), parse_potcar_file=False)
    out = StaticOutputs(structure=vasprun.final_structure, efermi_eV=vasprun.efermi)
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
