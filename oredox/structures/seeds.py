"""The seed cells of the studies oredox reproduces, ready to use.

- :func:`li2mno3_honeycomb`: Li2MnO3 (Li[Li1/3Mn2/3]O2), honeycomb LiMn6, C2/m.
- :func:`nlmo_ribbon`: P2-Na0.6Li0.2Mn0.8O2 with the ribbon order (Zhou et al. 2025,
  House et al. 2020), 10 metal sites, Na on the lowest-Ewald prismatic arrangement.
- :func:`house_honeycomb`: P2-Na0.75[Li0.25Mn0.75]O2 with isolated LiMn6 units, the
  "honeycomb" phase House et al. 2020 compare with the ribbon one.
- :func:`nlmro_ribbon`: the ribbon cell with one Mn in ten replaced by Ru
  (Na0.6Li0.2Mn0.7Ru0.1O2).
- :func:`ltno_sqs`: Li14Ti7Ni3O24 (Li1.17Ti0.58Ni0.25O2, Li et al. 2022) as an SQS of
  the disordered rock salt, compact 48-atom cell.
- :func:`ltno_spread`: the same cell with Ti and Ni as far apart as possible (fewest
  TM-TM nearest-neighbour contacts), the study's ground-state rule.
"""

from __future__ import annotations

from collections.abc import Callable

from pymatgen.core import Structure

from oredox.analysis.formula_unit import with_formula_unit
from oredox.errors import OredoxInputError
from oredox.structures.frameworks import o3_layered, p2_layered, rock_salt
from oredox.structures.layer_orderings import fill_alkali_sites
from oredox.structures.superstructures import (
    honeycomb,
    lim6_2x2,
    ribbon,
    stack_o3,
    stacking_variants,
)


def li2mno3_honeycomb(a: float = 2.845, c: float = 14.24) -> Structure:
    """Li2MnO3 from O3 with the honeycomb order: C2/m, a 4.93, b 8.53, c 5.02 A.

    ``a`` and ``c`` are the hexagonal O3 parameters of the parent; the defaults give
    the measured monoclinic cell (a = sqrt3 a_hex, b = 3 a_hex, c sin(beta) = c_hex/3).
    """
    parent = o3_layered(
        "LiMnO2", a=a, c=c, oxidation_states={"Mn": 3}, cell="primitive"
    )
    structure = stack_o3(parent, honeycomb())
    structure.properties["provenance"]["seed"] = "Li2MnO3 honeycomb, C2/m"
    return structure


def nlmo_ribbon(a: float = 2.87, c: float = 11.11, n_na: int = 6) -> Structure:
    """P2-Na0.6[Li0.2Mn0.8]O2 with the ribbon order, 10 metal sites (Na6Li2Mn8O20).

    The ribbon order sits in both metal layers; of its distinct stackings and of all
    symmetry-distinct arrangements of 6 Na on the 20 prismatic sites, the one with the
    lowest point-charge Ewald energy is returned (Mn4+). The choice is recorded in
    ``structure.properties["provenance"]``.
    """
    return _filled_p2(
        ribbon(), n_na, a, c, "P2 Na0.6Li0.2Mn0.8O2 ribbon (Zhou et al. 2025)"
    )


def _filled_p2(ordering, n_na: int, a: float, c: float, label: str) -> Structure:
    """P2 cell with ``ordering`` (Li in the metal layers) and the best Na placement."""
    parent = p2_layered("NaMnO2", a=a, c=c)
    best = None
    for variant in stacking_variants(parent, ordering, in_layer="Li"):
        filled, record = fill_alkali_sites(variant.structure, n_na)
        if best is None or record["ewald_eV"] < best[1]["ewald_eV"]:
            record |= {
                "stacking_shift": list(variant.shift),
                "stacking_space_group": variant.space_group,
            }
            best = (filled, record)
    structure, record = best
    # the ribbon's supercell has a 30-degree angle between a and b; the Niggli cell
    # (same sites, same order) is what relaxations need: atomate2's CHGNet
    # relaxation of the 30-degree NLMO cell ran 5 min at 7.5 GB without finishing,
    # CHGNet relaxed the reduced cell in 21 s (44 steps, 1.2 GB)
    reduced = structure.get_reduced_structure()
    reduced.properties = {
        **structure.properties,
        "provenance": {
            **structure.properties.get("provenance", {}),
            "seed": label,
            "alkali_layer": record,
            "cell": "Niggli-reduced",
        },
    }
    return reduced


def house_honeycomb(a: float = 2.87, c: float = 11.11) -> Structure:
    """P2-Na0.75[Li0.25Mn0.75]O2: the "honeycomb" (LiMn6 2x2) phase of House 2020.

    8 metal sites (2 layers of 2x2), Li in both layers, 6 Na on the lowest-Ewald
    arrangement of the 16 prismatic sites over the distinct stackings (Mn4+).
    """
    return _filled_p2(
        lim6_2x2(), 6, a, c, "P2 Na0.75Li0.25Mn0.75O2 LiMn6 2x2 (House 2020)"
    )


def nlmro_ribbon(a: float = 2.87, c: float = 11.16) -> Structure:
    """P2-Na0.6Li0.2Mn0.7Ru0.1O2: :func:`nlmo_ribbon` with one Mn of ten as Ru4+.

    Ru goes on a Mn site with the most in-layer Li neighbours (two in the ribbon
    order): Ru there has O ions that also bond to Li, i.e. the Na-O-Li oxygens whose
    non-bonding 2p states Ru 4d t2g orbitals are meant to stabilise (Zhou et al. 2025).
    The default c is their measured 11.16 A.
    """
    structure = nlmo_ribbon(a=a, c=c)
    mn = [i for i, site in enumerate(structure) if site.specie.symbol == "Mn"]
    if not mn or structure.composition["Li"] == 0:
        raise OredoxInputError("the NLMO cell has no Mn or in-layer Li")
    nn = min(
        n.nn_distance
        for n in structure.get_neighbors(structure[mn[0]], 3.5)
        if n.specie.symbol in ("Mn", "Li")
    )

    def li_neighbours(i: int) -> int:
        """In-layer Li around Mn i, periodic images counted separately."""
        return sum(
            n.specie.symbol == "Li"
            for n in structure.get_neighbors(structure[i], 1.1 * nn)
        )

    site = max(mn, key=lambda i: (li_neighbours(i), -i))
    structure.replace(site, "Ru", properties=structure[site].properties)
    structure.remove_oxidation_states()
    structure.add_oxidation_state_by_element(
        {"Na": 1, "Li": 1, "Mn": 4, "Ru": 4, "O": -2}
    )
    structure.properties["provenance"] |= {
        "seed": "P2 Na0.6Li0.2Mn0.7Ru0.1O2 ribbon",
        "ru_site": {
            "index": site,
            "in_layer_li_neighbours": int(li_neighbours(site)),
            "rule": "Mn site with the most in-layer Li neighbours",
        },
    }
    return structure


LTNO_CATIONS = {"Li": 7 / 12, "Ti": 7 / 24, "Ni": 1 / 8}  # per O: Li14Ti7Ni3O24


def ltno_sqs(a: float = 4.15, seed: int = 0, n_steps: int = 300_000) -> Structure:
    """Li14Ti7Ni3O24 SQS: 24 cations (4 pair shells matched to random), O fixed.

    ``a`` is the rock-salt lattice parameter (measured 4.14-4.16 A).
    """
    from oredox.structures.sqs import generate_sqs  # numba: compiled on first use

    parent = rock_salt(LTNO_CATIONS, a=a, cell="primitive")
    structure = generate_sqs(parent, n_cells=24, n_steps=n_steps, seed=seed)
    structure.properties["provenance"]["seed_cell"] = "LTNO SQS (Li et al. 2022)"
    return structure


def ltno_spread(a: float = 4.15, seed: int = 0, n_steps: int = 300_000) -> Structure:
    """Li14Ti7Ni3O24 with Ti and Ni spread out: fewest TM-TM nearest neighbours."""
    from oredox.structures.sqs import minimize_contacts  # numba: compiled on first use

    parent = rock_salt(LTNO_CATIONS, a=a, cell="primitive")
    structure = minimize_contacts(
        parent, ["Ti", "Ni"], n_cells=24, n_steps=n_steps, seed=seed
    )
    structure.properties["provenance"]["seed_cell"] = "LTNO minimum TM-TM contacts"
    return structure


# One registry of the seed cells: name -> (builder, framework label). The command
# line (``oredox structure seed``) and study templates (``host.seed``) read it.
SEEDS: dict[str, tuple[Callable[[], Structure], str]] = {
    "li2mno3": (li2mno3_honeycomb, "O3 honeycomb (C2/m)"),
    "nlmo": (nlmo_ribbon, "P2 ribbon"),
    "nlmro": (nlmro_ribbon, "P2 ribbon, Ru on Mn"),
    "house": (house_honeycomb, "P2 LiMn6 2x2"),
    "ltno-sqs": (ltno_sqs, "rock salt SQS"),
    "ltno-spread": (ltno_spread, "rock salt, TM spread"),
}
# The formula unit each seed's alkali content x is counted in, as the papers write it
# (oredox.analysis.formula_unit): x = 1.17 -> 0 in Li_x Ti0.58Ni0.25O2, not 14 -> 0
# Li per 48-atom cell.
SEED_FORMULA_UNITS: dict[str, str] = {
    "li2mno3": "Li2MnO3",
    "nlmo": "Na0.6Li0.2Mn0.8O2",
    "nlmro": "Na0.6Li0.2Mn0.7Ru0.1O2",
    "house": "Na0.75Li0.25Mn0.75O2",
    "ltno-sqs": "Li1.17Ti0.58Ni0.25O2",
    "ltno-spread": "Li1.17Ti0.58Ni0.25O2",
}


def seed_cell(name: str) -> tuple[Structure, str]:
    """The seed cell called ``name`` (a key of :data:`SEEDS`) and its framework label.

    The cell carries its formula unit (:data:`SEED_FORMULA_UNITS`) in
    ``properties["formula_unit"]``.

    Raises
    ------
    OredoxInputError
        If no seed has that name (the message lists them).
    """
    if name not in SEEDS:
        raise OredoxInputError(f"unknown seed {name!r}; choose {', '.join(SEEDS)}")
    build, framework = SEEDS[name]
    return with_formula_unit(build(), SEED_FORMULA_UNITS[name]), framework


__all__ = [
    "SEEDS",
    "SEED_FORMULA_UNITS",
    "house_honeycomb",
    "li2mno3_honeycomb",
    "ltno_spread",
    "ltno_sqs",
    "nlmo_ribbon",
    "nlmro_ribbon",
    "seed_cell",
]
