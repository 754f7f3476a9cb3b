"""VASP input sets of oredox: smearing per stage, k-meshes that meet their density.

Two pymatgen input sets, the Materials Project ones with three changes:

- **Smearing per stage.** pymatgen's ``MPRelaxSet`` relaxes everything with the
  tetrahedron method (ISMEAR -5, SIGMA 0.05), which is not variational for
  partially filled bands: forces and stresses of a metallic cell (the alkali-metal
  reference, a delithiated oxide with O holes) are wrong with it, and pymatgen
  itself warns (``BadInputSetWarning``). :class:`OredoxRelaxSet` relaxes a cell
  with an anion (oxides, fluorides) with Gaussian smearing, ISMEAR 0, SIGMA 0.05 eV
  (as MP's newer ``MPScanRelaxSet`` and ``MP24RelaxSet`` do), and a cell of metals
  only (the bcc alkali reference) with Methfessel-Paxton, ISMEAR 1, SIGMA 0.2 eV,
  and MP's metal k-density (``MPMetalRelaxSet``). :class:`OredoxStaticSet` keeps
  ``MPStaticSet``'s tetrahedron method (ISMEAR -5) for the DOS, with
  :data:`STATIC_NEDOS` points.
- **k-meshes rounded up.** A density in k-points per reciprocal atom (the
  ``ltno-2022`` preset's 1728) gives the smallest Gamma-centred mesh that meets it
  (:func:`kpoint_mesh`); pymatgen's ``Kpoints.automatic_density`` rounds each
  division down and gave 3x3x3 (1296 per reciprocal atom) for the 48-atom LTNO cell.
- **An explicit mesh** (``kpoint_mesh``, e.g. the LTNO study's 3x2x6) for the
  host's cells; the metal reference keeps its density.

Both are dataclasses of pymatgen's ``VaspInputSet`` and so MSONable: they cross job
boundaries inside atomate2's makers like pymatgen's own sets.

:func:`check_incar` validates a user's INCAR overrides against pymatgen's list of
VASP tags; :func:`energy_changing` keeps the overrides that change energies (every
tag except :data:`PERFORMANCE_TAGS`), which the energy scheme records.
"""

from __future__ import annotations

import difflib
import math
import warnings
from dataclasses import dataclass
from typing import Any

from pymatgen.core import Structure
from pymatgen.io.vasp import Incar, Kpoints
from pymatgen.io.vasp.sets import MPRelaxSet, MPStaticSet

from oredox.errors import OredoxInputError

# Gaussian smearing of relaxations of cells with an anion (eV): small enough that the
# electronic entropy term of a gapped oxide is negligible.
GAUSSIAN_SIGMA_EV = 0.05
# Methfessel-Paxton (first order) smearing of metal cells, as MPMetalRelaxSet (eV).
METAL_SIGMA_EV = 0.2
# MPMetalRelaxSet's k-density (per A^-3 of reciprocal volume) for metal cells when the
# preset sets no density of its own.
MP_METAL_RECIPROCAL_DENSITY = 200
# MPRelaxSet's k-density of other cells (per A^-3); MPStaticSet's is its own field
# (100), both rounded up here.
MP_RELAX_RECIPROCAL_DENSITY = 64
# DOS points of statics. VASP's DOS window runs from below the lowest eigenvalue to
# above the highest band: with semicore POTCARs it spans 67 eV (Li_sv: -49.6 to
# +17.6 eV about E_F, the recorded bcc Li run) to 97 eV (Ni_pv: -67.7 to +29.7 eV, the
# recorded NiO static). VASP's default NEDOS of 301 gives 0.22-0.32 eV steps there,
# coarser than the 1 eV O 2p windows of oredox.analysis.dos; 4001 points give
# 0.017-0.024 eV, the 0.02 eV of pymatgen's MPNonSCFSet DOS runs.
STATIC_NEDOS = 4001

# INCAR tags set elsewhere in a template, which an override would contradict.
OWNED_TAGS = {
    "MAGMOM": "magmoms: (initial moments per element)",
    "LDAU": "dft_u_preset: or hubbard_u:",
    "LDAUTYPE": "dft_u_preset: or hubbard_u:",
    "LDAUU": "hubbard_u: (U, L and J of every element together)",
    "LDAUL": "hubbard_u: (U, L and J of every element together)",
    "LDAUJ": "hubbard_u: (U, L and J of every element together)",
    "NSW": "relax.max_steps",
    "EDIFFG": "relax.fmax_eV_per_A",
    "KSPACING": "vasp.kpoints (mesh or per_reciprocal_atom)",
}
# Tags that change the functional: the presets are PBE(+U), and the energy scheme,
# the entries' run type and MP2020 compatibility all read it so. Another functional
# is another engine: a user maker (oredox.workflows.engines.MakerEngine).
FUNCTIONAL_TAGS = frozenset(
    {
        "GGA",
        "METAGGA",
        "LHFCALC",
        "HFSCREEN",
        "AEXX",
        "AGGAX",
        "AGGAC",
        "ALDAC",
        "IVDW",
        "LUSE_VDW",
        "XC",
        "LTBOUNDLIBXC",
    }
)
# Tags that change how fast or with how much memory VASP runs, or what it writes,
# but not the energy it converges to. Every other tag of an override changes energies
# (or may) and is recorded in the energy scheme.
PERFORMANCE_TAGS = frozenset(
    {
        # parallelisation and memory
        "NCORE",
        "NPAR",
        "KPAR",
        "NSIM",
        "LPLANE",
        "LSCALAPACK",
        "LSCALU",
        "NBLOCK",
        "KBLOCK",
        # SCF algorithm and mixing: the same ground state, reached differently
        "ALGO",
        "IALGO",
        "NELM",
        "NELMIN",
        "NELMDL",
        "TIME",
        "AMIX",
        "BMIX",
        "AMIX_MAG",
        "BMIX_MAG",
        "AMIN",
        "MAXMIX",
        "IWAVPR",
        "POTIM",
        # what is written
        "LWAVE",
        "LCHARG",
        "LAECHG",
        "LVTOT",
        "LVHAR",
        "LELF",
        "LORBIT",
        "NEDOS",
        "EMIN",
        "EMAX",
        "NWRITE",
    }
)


def is_metal_cell(structure: Structure) -> bool:
    """A cell of metallic elements only (the alkali-metal reference)."""
    return all(element.is_metal for element in structure.composition.elements)


def kpoint_mesh(
    structure: Structure, kpoints_per_reciprocal_atom: float
) -> tuple[int, int, int]:
    """The smallest Gamma-centred mesh with n1 n2 n3 N_atoms >= the density.

    The divisions follow the reciprocal lattice vector lengths, n_i = ceil(t |b_i|)
    (pymatgen's ``Kpoints.automatic_density`` spreads them the same way for
    orthogonal cells, but rounds each down); ``t`` grows until the density is met,
    so the mesh is the smallest of that family. 48 atoms at 1728 per reciprocal
    atom need 36 k-points: 4x3x3 for the LTNO cell.
    """
    target = kpoints_per_reciprocal_atom / len(structure)  # k-points per cell
    lengths = structure.lattice.reciprocal_lattice.abc
    n_max = max(1, math.ceil(target))  # one division of n_max meets it alone
    scales = sorted({n / length for length in lengths for n in range(1, n_max + 1)})
    for scale in scales:
        mesh = tuple(max(1, math.ceil(scale * length - 1e-9)) for length in lengths)
        if math.prod(mesh) >= target - 1e-9:
            return mesh  # type: ignore[return-value]
    raise AssertionError("unreachable: the largest scale meets the density")


def _kpoints(
    structure: Structure,
    mesh: tuple[int, int, int] | list[int] | None,
    density: float | None,
    per_volume: float,
) -> Kpoints:
    """An explicit mesh (not for metal cells), else a density rounded up.

    ``density`` in k-points per reciprocal atom; without it ``per_volume``, MP's
    density in k-points per A^-3 of reciprocal volume (pymatgen's
    ``automatic_density_by_vol``: k-points x atoms = per_volume x reciprocal volume x
    atoms), met by the same rounding up.
    """
    if mesh is not None and not is_metal_cell(structure):
        mesh = tuple(int(n) for n in mesh)
        comment = "oredox: mesh given by the user"
    elif density:
        mesh = kpoint_mesh(structure, density)
        comment = f"oredox: smallest mesh with k-points x atoms >= {density:g}"
    else:
        volume = structure.lattice.reciprocal_lattice.volume
        mesh = kpoint_mesh(structure, per_volume * volume * len(structure))
        comment = f"oredox: smallest mesh with >= {per_volume:g} k-points per A^-3"
    return Kpoints(
        comment=comment,
        num_kpts=0,
        style=Kpoints.supported_modes.Gamma,
        kpts=[mesh],
    )


@dataclass
class OredoxRelaxSet(MPRelaxSet):
    """``MPRelaxSet`` with smearing by cell and a k-mesh that meets its density.

    Parameters
    ----------
    kpoints_per_reciprocal_atom
        k-mesh density; None: MP's (64 per A^-3; 200 for metal cells).
    kpoint_mesh
        Explicit Gamma-centred mesh for cells with an anion; metal cells keep the
        density.
    """

    kpoints_per_reciprocal_atom: float | None = None
    kpoint_mesh: tuple[int, int, int] | None = None

    @property
    def incar_updates(self) -> dict[str, Any]:
        """ISMEAR 1, SIGMA 0.2 for metals; Gaussian ISMEAR 0, SIGMA 0.05 otherwise."""
        if is_metal_cell(self.structure):
            return {"ISMEAR": 1, "SIGMA": METAL_SIGMA_EV}
        return {"ISMEAR": 0, "SIGMA": GAUSSIAN_SIGMA_EV}

    @property
    def kpoints_updates(self) -> Kpoints:
        """The explicit mesh, else the density (MP's when none) rounded up."""
        per_volume = (
            MP_METAL_RECIPROCAL_DENSITY
            if is_metal_cell(self.structure)
            else MP_RELAX_RECIPROCAL_DENSITY
        )
        return _kpoints(
            self.structure,
            self.kpoint_mesh,
            self.kpoints_per_reciprocal_atom,
            per_volume,
        )


@dataclass
class OredoxStaticSet(MPStaticSet):
    """``MPStaticSet`` (tetrahedron method) with NEDOS and the relaxation's k-rule.

    Parameters
    ----------
    kpoints_per_reciprocal_atom, kpoint_mesh
        As :class:`OredoxRelaxSet`; None: MPStaticSet's 100 per A^-3 (above the
        relaxation's 64).
    nedos
        DOS points over VASP's window (:data:`STATIC_NEDOS`).
    """

    kpoints_per_reciprocal_atom: float | None = None
    kpoint_mesh: tuple[int, int, int] | None = None
    nedos: int = STATIC_NEDOS
    inherit_incar: bool = False

    @property
    def incar_updates(self) -> dict[str, Any]:
        """MPStaticSet's (NSW 0, ISMEAR -5, LORBIT 11, LCHARG) and NEDOS."""
        return super().incar_updates | {"NEDOS": self.nedos}

    @property
    def kpoints_updates(self) -> Kpoints:
        """The explicit mesh, else the density (MPStaticSet's when none) rounded up."""
        return _kpoints(
            self.structure,
            self.kpoint_mesh,
            self.kpoints_per_reciprocal_atom,
            self.reciprocal_density,
        )


def check_incar(settings: dict[str, Any], label: str = "") -> dict[str, Any]:
    """``settings`` with upper-case VASP tags, checked; raise on unknown tags.

    ``label`` (e.g. ``vasp.incar``) starts the messages; pydantic validators, whose
    errors name the field already, leave it empty.

    Raises
    ------
    OredoxInputError
        A tag VASP does not know (pymatgen's list; close names suggested), a value of
        the wrong type, or a tag that another template key sets.
    """
    prefix = f"{label}: " if label else ""
    checked = {str(key).upper(): value for key, value in settings.items()}
    unknown = [tag for tag in checked if tag not in Incar.INCAR_PARAMS]
    if unknown:
        hints = []
        for tag in unknown:
            close = difflib.get_close_matches(tag, list(Incar.INCAR_PARAMS), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            hints.append(tag + hint)
        raise OredoxInputError(
            f"{prefix}unknown INCAR tag(s) {', '.join(hints)}; VASP would ignore "
            "them silently"
        )
    functional = sorted(tag for tag in checked if tag in FUNCTIONAL_TAGS)
    if functional:
        raise OredoxInputError(
            f"{prefix}{', '.join(functional)} would change the functional, which the "
            "preset fixes (PBE+U); for r2SCAN, HSE, PBEsol or a vdW functional bring "
            "your own atomate2 maker as the engine (MakerEngine, Python API)"
        )
    injected = sorted(
        tag
        for tag, value in checked.items()
        if isinstance(value, str) and any(c in value for c in "\n\r;=!#")
    )
    if injected:
        raise OredoxInputError(
            f"{prefix}the value of {', '.join(injected)} holds a newline, ';', '=', "
            "'!' or '#', which VASP would read as further tags or a comment"
        )
    owned = [tag for tag in checked if tag in OWNED_TAGS]
    if owned:
        raise OredoxInputError(
            f"{prefix}{', '.join(owned)} cannot be overridden here; set "
            + "; ".join(f"{tag} with {OWNED_TAGS[tag]}" for tag in owned)
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Incar(checked).check_params()
    wrong_types = [
        str(w.message)
        for w in caught
        if " is not a " in str(w.message) or "Cannot find" in str(w.message)
    ]
    if wrong_types:
        raise OredoxInputError(prefix + "; ".join(wrong_types))
    return checked


def energy_changing(settings: dict[str, Any]) -> dict[str, Any]:
    """The tags of ``settings`` that change energies (all but PERFORMANCE_TAGS)."""
    return {
        tag: value for tag, value in settings.items() if tag not in PERFORMANCE_TAGS
    }
