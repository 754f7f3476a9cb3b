"""DFT+U presets (the one U table every engine reads) and initial magnetic moments.

Initial moments (:func:`initial_moment`, :func:`initial_magmoms`): 0 on closed-shell
ions, high-spin 3d ions, low-spin (t2g first) 4d and 5d ions, per-element overrides.

Presets:

- ``mp``: Materials Project PBE+U (Dudarev): Co 3.32, Cr 3.7, Fe 5.3, Mn 3.9, Mo 4.38,
  Ni 6.2, V 3.25, W 6.2 eV, applied only when O or F is present; 520 eV.
- ``ltno-2022``: the LTNO study (Li et al. 2022): PBE, U_eff(Ni) = 6.4 eV (Wang,
  Maxisch and Ceder 2006), 600 eV, EDIFF 1e-5 eV, EDIFFG -0.02 eV/A, a k-mesh of 1728
  points per reciprocal atom (their 3x2x6 for 48 atoms).
- user presets: :func:`custom_preset` with any U table.

The VASP engine (:func:`oredox.workflows.engines.vasp.ldau_incar`) always writes
LDAUU, LDAUL and LDAUJ together for every element of a preset, keyed by the anion,
because a partial table silently drops the U of the elements left out and an element
missing from LDAUL gets L = 0 (U on the s shell). :func:`hubbard_u` names the d metals
of a structure that get no U (Ru, Ir, Ti, Nb in ``mp``) in a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Element, Species, Structure

from oredox.analysis.environments import is_transition_metal
from oredox.errors import OredoxInputError

U_ANIONS = ("O", "F")


class DftuPreset(BaseModel):
    """A DFT+U scheme: functional, U table and numerical settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    functional: str = Field("PBE", description="Exchange-correlation functional")
    hubbard_u_eV: dict[str, float] = Field(description="U_eff (Dudarev) per element")
    hubbard_l: dict[str, int] | None = Field(
        None, description="Angular momentum of the U shell per element; None: 2 (d)"
    )
    hubbard_j_eV: dict[str, float] | None = Field(
        None, description="J per element (0 in the Dudarev scheme); None: 0"
    )
    encut_eV: float = Field(gt=0)
    ediff_eV: float | None = Field(
        None,
        description="Electronic convergence; None: "
        "the base set's (MP: 5e-5 eV per atom)",
    )
    ediffg_eV_per_A: float | None = Field(
        None, description="Ionic convergence (negative: forces)"
    )
    kpoints_per_reciprocal_atom: int | None = Field(
        None,
        description="k-points x atoms; VASP runs the smallest Gamma mesh that meets "
        "it. None: the base set's (MP: 64 per A^-3)",
    )
    reference: str = ""


PRESETS: dict[str, DftuPreset] = {
    "mp": DftuPreset(
        name="mp",
        hubbard_u_eV={
            "Co": 3.32,
            "Cr": 3.7,
            "Fe": 5.3,
            "Mn": 3.9,
            "Mo": 4.38,
            "Ni": 6.2,
            "V": 3.25,
            "W": 6.2,
        },
        encut_eV=520,
        reference="Materials Project (pymatgen MPRelaxSet), Jain et al. 2011",
    ),
    "ltno-2022": DftuPreset(
        name="ltno-2022",
        hubbard_u_eV={"Ni": 6.4},
        encut_eV=600,
        ediff_eV=1e-5,
        ediffg_eV_per_A=-0.02,
        kpoints_per_reciprocal_atom=1728,
        reference="Li et al., Nat. Mater. 21, 1165 (2022); U(Ni): Wang, Maxisch, "
        "Ceder, PRB 73, 195107 (2006)",
    ),
}


def get_preset(preset: str | DftuPreset | Mapping) -> DftuPreset:
    """A preset by name, from its fields (plain data), or the preset itself."""
    if isinstance(preset, DftuPreset):
        return preset
    if isinstance(preset, Mapping):
        return DftuPreset.model_validate(dict(preset))
    try:
        return PRESETS[preset]
    except KeyError:
        raise OredoxInputError(
            f"unknown DFT+U preset {preset!r}; presets: {', '.join(PRESETS)}, or "
            f"custom_preset(...)"
        ) from None


def custom_preset(
    name: str,
    hubbard_u_eV: Mapping[str, float],
    base: str = "mp",
    hubbard_l: Mapping[str, int] | None = None,
    hubbard_j_eV: Mapping[str, float] | None = None,
    **settings,
) -> DftuPreset:
    """A user preset: ``base``'s settings with another U table (and any overrides).

    With ``hubbard_l`` (and ``hubbard_j_eV``) given, they must name exactly the
    elements of the U table: a U whose L is missing would put it on the s shell
    (VASP's L = 0), so a missing L is an error rather than a default.
    """
    for element, value in hubbard_u_eV.items():
        try:
            Element(element)
        except ValueError:
            raise OredoxInputError(
                f"{element!r} in the U table is not an element"
            ) from None
        if value < 0:
            raise OredoxInputError(f"U({element}) = {value} eV must not be negative")
    for label, table in (("L", hubbard_l), ("J", hubbard_j_eV)):
        if table is None:
            continue
        missing = sorted(set(hubbard_u_eV) - set(table))
        extra = sorted(set(table) - set(hubbard_u_eV))
        if missing or extra:
            parts = [f"no {label} for {', '.join(missing)}"] if missing else []
            parts += [f"{label} without U for {', '.join(extra)}"] if extra else []
            raise OredoxInputError(
                f"U table {name!r}: {'; '.join(parts)}; give U, L and J for the same "
                f"elements"
            )
    for element, value in (hubbard_l or {}).items():
        if value not in (0, 1, 2, 3):
            raise OredoxInputError(f"L({element}) = {value} must be 0, 1, 2 or 3")
    fields = get_preset(base).model_dump() | settings
    fields |= {
        "name": name,
        "hubbard_u_eV": dict(hubbard_u_eV),
        "hubbard_l": None if hubbard_l is None else dict(hubbard_l),
        "hubbard_j_eV": None if hubbard_j_eV is None else dict(hubbard_j_eV),
    }
    return DftuPreset(**fields)


def hubbard_u(structure: Structure, preset: str | DftuPreset) -> dict[str, float]:
    """U_eff (eV) of every element of ``structure`` (0 where the preset gives none).

    As in Materials Project, U applies only when O or F is present.
    """
    preset = get_preset(preset)
    elements = [el.symbol for el in structure.composition.elements]
    if not any(anion in elements for anion in U_ANIONS):
        return dict.fromkeys(elements, 0.0)
    table = {el: float(preset.hubbard_u_eV.get(el, 0.0)) for el in elements}
    bare = [el for el in elements if table[el] == 0 and is_transition_metal(el)]
    if bare:
        warnings.warn(
            f"preset {preset.name!r} gives no U to the d metal(s) {', '.join(bare)}; "
            f"they are treated with plain {preset.functional}",
            stacklevel=2,
        )
    return table


# Late 3d ions low-spin in layered and rock-salt oxides (LiCoO2 Co3+ t2g6, CoO2 Co4+
# t2g5, LiNiO2 Ni3+ t2g6 eg1, NiO2 Ni4+ t2g6): starting moments, muB.
LOW_SPIN_3D: dict[tuple[str, int], float] = {
    ("Co", 3): 0.6,
    ("Co", 4): 1.0,
    ("Ni", 3): 1.0,
    ("Ni", 4): 0.6,
}


def initial_moment(species: Species | Element) -> float:
    """Initial moment (muB) of an ion from its d electron count and its row.

    - Closed shells get 0: s- and p-block ions (Li+, Na+, O2-, F-) and d0 or d10
      ions (Ti4+, Nb5+, Zn2+). An O-hole search is a deliberate choice:
      ``initial_magmoms(structure, {"O": 0.6})``.
    - 3d ions start high-spin: d^n has n unpaired electrons up to n = 5 and 10 - n
      above (Ni2+ d8: 2, Mn3+ d4: 4, Mn4+ d3: 3, Fe3+ d5: 5), except the late 3d ions
      that are low-spin in oxides at high oxidation states (:data:`LOW_SPIN_3D`:
      Co3+ d6 and Ni4+ d6 0.6, Co4+ d5 and Ni3+ d7 1 muB). A high-spin start for
      these can stay stuck in a high- or intermediate-spin state in DFT+U. The d6
      ions start at 0.6 rather than 0 (the Materials Project's start for Co), so
      that an ion oxidised by delithiation, which starts from the host's moments,
      can still polarise (Co3+ -> Co4+: 1 muB).
    - 4d and 5d ions start low-spin, t2g filled first as in an octahedron (their
      larger ligand-field splitting): t2g^n has n unpaired electrons up to n = 3 and
      6 - n up to 6, then eg^(n-6) adds them again (Ru4+ d4: 2, Ir4+ d5: 1, Ru5+ d3:
      3, Rh3+ d6: 0).
    - Atoms without an oxidation state: 0 for s- and p-block elements (the
      alkali-metal reference), 0.6 muB (the Materials Project default) for d and f
      elements, whose valence is unknown; f ions with a valence also get 0.6.
    """
    element = species.element if isinstance(species, Species) else species
    oxi = getattr(species, "oxi_state", None)
    if element.block in ("s", "p"):
        return 0.0
    if element.block != "d" or oxi is None or element.group is None:
        return 0.6
    n_d = element.group - oxi
    if not 0 <= n_d <= 10:
        return 0.6
    if element.row <= 4:  # 3d: high spin unless known low-spin in oxides
        low_spin = LOW_SPIN_3D.get((element.symbol, round(oxi)))
        if low_spin is not None and oxi == round(oxi):
            return low_spin
        return float(n_d if n_d <= 5 else 10 - n_d)
    if n_d <= 6:  # 4d, 5d: low spin, t2g first
        return float(n_d if n_d <= 3 else 6 - n_d)
    n_eg = n_d - 6
    return float(n_eg if n_eg <= 2 else 4 - n_eg)


def initial_magmoms(
    structure: Structure,
    overrides: Mapping[str, float] | None = None,
    site_overrides: Mapping[int, float] | None = None,
) -> Structure:
    """A copy of ``structure`` with a ``magmom`` site property, ferromagnetic.

    Every site gets :func:`initial_moment` (0 on closed shells, high-spin 3d, low-spin
    4d/5d). ``overrides`` set the moment per element (``{"Ni": 1.0}``; ``{"O": 0.6}``
    to look for O holes), ``site_overrides`` per site index (signed, for
    antiferromagnetic starts). The moments ride on the structure, so a static after
    a relax starts from the relaxed moments (a MAGMOM in the INCAR settings would
    override them).
    """
    overrides = dict(overrides or {})
    moments = []
    for i, site in enumerate(structure):
        if site_overrides and i in site_overrides:
            moments.append(float(site_overrides[i]))
        elif site.specie.symbol in overrides:
            moments.append(float(overrides[site.specie.symbol]))
        else:
            moments.append(initial_moment(site.specie))
    copy = structure.copy()
    copy.add_site_property("magmom", moments)
    return copy
