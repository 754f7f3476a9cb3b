"""Framework checks on hand-made migrations, collapses and duplicates."""

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from oredox.analysis.framework import check_framework, group_duplicates
from oredox.structures.delithiation import (
    alkali_symmetry,
    apply_configuration,
    enumerate_configurations,
)
from oredox.structures.frameworks import make_supercell, o3_layered


@pytest.fixture
def half_delithiated():
    host = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    sym = alkali_symmetry(host)
    config = enumerate_configurations(sym, 3)[0]
    vacant = [sym.alkali_indices[i] for i in config.vacancies]
    return (
        host,
        apply_configuration(host, sym, config),
        [host[i].frac_coords for i in vacant],
    )


def test_unchanged_structure_is_intact(half_delithiated):
    _, structure, _ = half_delithiated
    report = check_framework(structure, structure.copy())
    assert report.intact
    assert report.reasons() == []
    assert len(report.alkali_layer_spacing_change) == 3
    assert report.alkali_layer_spacing_change == pytest.approx([0, 0, 0])


def test_metal_moved_into_a_vacant_alkali_site(half_delithiated):
    _, structure, vacant = half_delithiated
    co = next(i for i, s in enumerate(structure) if s.specie.symbol == "Co")
    moved = structure.copy()
    moved.replace(co, moved[co].species, coords=vacant[0])
    report = check_framework(structure, moved)
    assert report.metals_in_alkali_layer == [co]
    assert co in report.displaced_metals
    assert not report.intact
    assert any("metal in the alkali layer" in r for r in report.reasons())


def test_tetrahedral_metal_is_flagged(half_delithiated):
    _, structure, _ = half_delithiated
    oxygens = [s.coords for s in structure if s.specie.symbol == "O"]
    co = next(i for i, s in enumerate(structure) if s.specie.symbol == "Co")
    # a tetrahedral interstice: straight above one O, where four O are equidistant
    lattice = structure.lattice
    best, spread = None, np.inf
    for o in oxygens:
        for h in np.linspace(0.3, 2.5, 221):
            point = o + np.array([0, 0, h])
            frac = lattice.get_fractional_coords(point)
            d = np.sort(
                [
                    n.nn_distance
                    for n in structure.get_sites_in_sphere(point, 2.6)
                    if n.specie.symbol == "O"
                ]
            )
            if (
                len(d) >= 4
                and d[3] - d[0] < spread
                and d[0] > 1.6
                and (len(d) == 4 or d[4] - d[3] > 0.4)
            ):
                best, spread = frac, d[3] - d[0]
    moved = structure.copy()
    moved.replace(co, moved[co].species, coords=best)
    report = check_framework(structure, moved)
    assert co in report.tetrahedral_metals


def test_collapsed_alkali_layer(half_delithiated):
    _, structure, _ = half_delithiated
    squeezed = Structure(
        Lattice.from_parameters(
            *structure.lattice.abc[:2],
            0.7 * structure.lattice.c,
            *structure.lattice.angles,
        ),
        structure.species,
        structure.frac_coords,
        site_properties=structure.site_properties,
    )
    report = check_framework(structure, squeezed)
    assert report.collapsed_layers == pytest.approx([-0.3, -0.3, -0.3])
    assert not report.displaced_metals  # same fractional positions
    assert not report.metals_in_alkali_layer


def test_group_duplicates_by_symmetry_and_composition(half_delithiated):
    host, structure, _ = half_delithiated
    sym = alkali_symmetry(host)
    equivalent = structure.copy()
    equivalent.translate_sites(list(range(len(equivalent))), [0, 0, 1 / 3])
    other = apply_configuration(host, sym, enumerate_configurations(sym, 2)[0])
    assert group_duplicates([structure, other, equivalent]) == [[0, 2], [1]]


def test_a_drx_cell_has_no_alkali_layers_to_collapse():
    """Rock salt along [001]: cations share the O planes and a plane mixes Li and TMs.

    The layered check once read every gap between O planes as an alkali gap and
    flagged delithiated LTNO cells as collapsed (O-O spacing -20% to -98%). The
    pair here is a real one: Li8Ti7Ni3O24 (k6-c308e) before and after its CHGNet
    relaxation in the converged-hull loop, flagged -80% then.
    """
    import gzip
    import json

    from pymatgen.core import Structure

    path = Path(__file__).parent / "data" / "framework" / "ltno_k6_chgnet.json.gz"
    data = json.loads(gzip.decompress(path.read_bytes()))
    initial = Structure.from_dict(data["initial"])
    relaxed = Structure.from_dict(data["relaxed"])
    report = check_framework(initial, relaxed)
    assert report.alkali_layer_spacing_change == []
    assert report.intact, report.reasons()
