"""``oredox structure``: build host cells and write them with a JSON record.

Commands: ``o3``, ``p2``, ``rocksalt``, ``layered``, ``orderings``, ``sqs``, ``sro``
and ``seed`` (the seed cells of :data:`oredox.structures.seeds.SEEDS`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from oredox import report_structures
from oredox.cli.common import (
    console,
    parse_fraction,
    parse_fractions,
    structure_path,
)
from oredox.errors import OredoxInputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

# The keys of oredox.structures.seeds.SEEDS, named here so that ``oredox --help`` does
# not import the seed builders (pymatgen's structure matcher, numba);
# tests/test_coldstart.py checks that the two agree.
SEED_NAMES = ("li2mno3", "nlmo", "nlmro", "house", "ltno-sqs", "ltno-spread")

structure_app = typer.Typer(
    help="Build host cells: frameworks, metal-layer orders, SQS, SRO, seed cells.",
    no_args_is_help=True,
)

Output = Annotated[
    Path,
    typer.Option(
        "-o",
        "--output",
        help="File: .cif, .vasp or POSCAR.",
        callback=structure_path,  # checked before the cell is built
    ),
]
Cations = Annotated[
    str, typer.Option(help="Cation fractions per anion, e.g. Li=7/12,Ti=7/24,Ni=1/8.")
]
Anion = Annotated[str, typer.Option(help="The anion sublattice's element.")]
Seed = Annotated[int, typer.Option(help="Random seed (the same seed, the same cell).")]


@structure_app.command("o3")
def structure_o3(
    output: Output,
    formula: Annotated[str, typer.Option(help="A M O2 host.")] = "LiCoO2",
    primitive: Annotated[bool, typer.Option(help="Rhombohedral cell.")] = False,
    supercell: Annotated[tuple[int, int, int], typer.Option()] = (1, 1, 1),
) -> None:
    """O3 layered A M O2 (R-3m)."""
    from oredox.structures.frameworks import make_supercell, o3_layered

    cell = "primitive" if primitive else "conventional"
    _save(make_supercell(o3_layered(formula, cell=cell), supercell), output)


@structure_app.command("p2")
def structure_p2(
    output: Output,
    formula: Annotated[str, typer.Option(help="A M O2: the alkali and metal.")] = (
        "NaMnO2"
    ),
    alkali: Annotated[
        str, typer.Option(help="A per metal, e.g. 2/3 or 0.67 (Na2/3MnO2).")
    ] = "2/3",
    metal_state: Annotated[
        float | None,
        typer.Option(help="Oxidation state of M; default: from charge balance."),
    ] = None,
) -> None:
    """P2 layered A_x M O2, charge balanced; occupied prisms by Ewald energy."""
    from oredox.structures.frameworks import _split_amo2
    from oredox.structures.p2 import p2_host

    _, metal = _split_amo2(formula, "P2 layered")
    states = None if metal_state is None else {metal: metal_state}
    _save(p2_host(formula, parse_fraction(alkali), oxidation_states=states), output)


@structure_app.command("rocksalt")
def structure_rocksalt(
    output: Output,
    cations: Cations = "Li=1/2,Ni=1/2",
    anion: Anion = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    primitive: bool = False,
) -> None:
    """Disordered rock salt (Fm-3m): a CIF with partial occupancies."""
    from oredox.structures.frameworks import rock_salt

    cell = "primitive" if primitive else "conventional"
    _save(rock_salt(parse_fractions(cations), anion, a, cell=cell), output)


@structure_app.command("layered")
def structure_layered(
    output: Output,
    ordering: Annotated[
        str, typer.Option(help="honeycomb, ribbon or limn6-2x2.")
    ] = "honeycomb",
    framework: Annotated[str, typer.Option(help="o3 or p2.")] = "o3",
    formula: Annotated[str, typer.Option(help="Parent A M O2.")] = "LiMnO2",
    in_layer: Annotated[str, typer.Option(help="A in the metal layer.")] = "Li",
    shift: Annotated[tuple[int, int], typer.Option(help="Stacking shift.")] = (0, 0),
    n_alkali: Annotated[
        int | None, typer.Option(help="P2: alkali to keep in the alkali layer.")
    ] = None,
    alkali: Annotated[
        str | None,
        typer.Option(help="P2: alkali per metal-layer site instead, e.g. 2/3."),
    ] = None,
) -> None:
    """A named metal-layer order stacked on O3 or P2 (Li2MnO3: the defaults)."""
    from oredox.structures.frameworks import o3_layered, p2_layered
    from oredox.structures.layer_orderings import fill_alkali_sites
    from oredox.structures.superstructures import named_ordering, stack_o3, stack_p2

    order = named_ordering(ordering)
    if framework == "o3":
        parent = o3_layered(formula, cell="primitive")
        structure = stack_o3(parent, order, shift, in_layer)
    elif framework == "p2":
        structure = stack_p2(p2_layered(formula), order, shift, in_layer)
        if alkali is not None:
            n_alkali = _alkali_count(structure, parse_fraction(alkali))
        if n_alkali is None:
            raise OredoxInputError(
                "a P2 cell needs --alkali (e.g. 2/3) or --n-alkali (e.g. 6 for Na0.6 "
                "in 10)"
            )
        structure, _ = fill_alkali_sites(structure, n_alkali)
    else:
        raise OredoxInputError(f"framework must be o3 or p2, not {framework!r}")
    _save(structure, output)


@structure_app.command("orderings")
def structure_orderings(
    fraction: Annotated[str, typer.Option(help="A per metal-layer site, e.g. 1/3.")],
    max_sites: Annotated[int, typer.Option(help="Largest supercell.")] = 12,
    m_charge: Annotated[float | None, typer.Option(help="Charge of M.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every metal-layer order of a ratio, ranked by Ewald energy and classified."""
    from oredox.structures.layer_orderings import enumerate_layer_orderings

    ranked = enumerate_layer_orderings(
        parse_fraction(fraction), max_sites=max_sites, m_charge=m_charge
    )
    rows = report_structures.ordering_rows(ranked)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    console.print(report_structures.orderings_table(rows, fraction))


@structure_app.command("sqs")
def structure_sqs(
    output: Output,
    cations: Cations = "Li=7/12,Ti=7/24,Ni=1/8",
    anion: Anion = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    n_cells: Annotated[
        int, typer.Option(help="Rock-salt primitive cells (one cation each).")
    ] = 24,
    shells: Annotated[int, typer.Option(help="Pair shells to match.")] = 4,
    steps: Annotated[int, typer.Option(help="Annealing swaps.")] = 300_000,
    seed: Seed = 0,
) -> None:
    """Special quasirandom structure of a rock salt in a compact supercell."""
    from oredox.structures.frameworks import rock_salt
    from oredox.structures.sqs import generate_sqs

    parent = rock_salt(parse_fractions(cations), anion, a, cell="primitive")
    _save(
        generate_sqs(
            parent, n_cells=n_cells, n_shells=shells, n_steps=steps, seed=seed
        ),
        output,
    )


@structure_app.command("sro")
def structure_sro(
    output: Output,
    cations: Cations = "Li=7/12,Ti=7/24,Ni=1/8",
    anion: Anion = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    temperature: Annotated[float, typer.Option(help="Kelvin.")] = 1500.0,
    n_cells: Annotated[
        int, typer.Option(help="Rock-salt primitive cells (one cation each).")
    ] = 192,
    sweeps: Annotated[int, typer.Option(help="Swaps per site.")] = 2000,
    dielectric: Annotated[float, typer.Option(help="Ewald screening.")] = 10.0,
    seed: Seed = 0,
) -> None:
    """Monte Carlo short-range-ordered rock salt; writes the last snapshot."""
    from oredox.structures.frameworks import rock_salt
    from oredox.structures.sro import monte_carlo_sro

    parent = rock_salt(parse_fractions(cations), anion, a, cell="primitive")
    result = monte_carlo_sro(
        parent,
        temperature,
        n_cells=n_cells,
        n_sweeps=sweeps,
        n_snapshots=1,
        dielectric=dielectric,
        seed=seed,
    )
    snapshot = result.snapshots[-1]
    # the run's energies and descriptors, for the provenance record beside the file
    snapshot.properties["provenance"] |= {
        "screened_ewald_eV": result.energies_eV[-1],
        "random_start_screened_ewald_eV": result.initial_energy_eV,
        "acceptance": result.acceptance,
        "descriptors": result.descriptors[-1],
        "random_start_descriptors": result.initial_descriptors,
    }
    _save(snapshot, output)


@structure_app.command("seed")
def structure_seed(
    name: Annotated[str, typer.Argument(help=", ".join(SEED_NAMES))],
    output: Output,
) -> None:
    """A seed cell of the studies oredox reproduces, ready to use."""
    from oredox.structures.seeds import seed_cell

    structure, _ = seed_cell(name)
    _save(structure, output)


def _alkali_count(structure: Structure, per_metal: float) -> int:
    """Alkali to keep for ``per_metal`` A per metal-layer site, or a clear error."""
    n_metal = structure.site_properties["sublattice"].count("metal")
    count = round(per_metal * n_metal)
    if count < 1 or abs(count - per_metal * n_metal) > 0.01 * n_metal:
        raise OredoxInputError(
            f"this cell has {n_metal} metal-layer sites: {per_metal:g} alkali per site "
            f"is not a whole number of ions; choose a multiple of 1/{n_metal}"
        )
    return count


def _save(structure: Structure, output: Path) -> None:
    """Write ``structure`` and its record; print one line on it."""
    from oredox.structures.output import write_structure

    path, record = write_structure(structure, output)
    console.print(
        escape(report_structures.structure_line(structure, path, record)),
        soft_wrap=True,
    )
