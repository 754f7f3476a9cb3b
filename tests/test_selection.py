"""Selection for the expensive engine, worked by hand."""

import pytest

from oredox.analysis.selection import select_for_relaxation
from oredox.errors import OredoxInputError

# x = 0, 1/2 (four configurations), 1; hull through (0, -20), (0.5, -23.05), (1, -25.9).
# At x = 1/2 the others sit 0.05, 0.15, 0.55 eV/f.u. above it; with 3.5 atoms per f.u.
# that is 14.3, 42.9 and 157.1 meV/atom.
X = [0.0, 0.5, 0.5, 0.5, 0.5, 1.0]
E = [-20.0, -23.05, -23.0, -22.9, -22.5, -25.9]
ATOMS = [3.0, 3.5, 3.5, 3.5, 3.5, 4.0]


def test_lowest_plus_window_by_hand():
    selection = select_for_relaxation(X, E, ATOMS, lowest=1, window_meV_per_atom=20)
    assert selection.selected == [0, 1, 2, 5]
    assert selection.per_x["0.5000"] == {
        "screened": 4,
        "selected": 2,
        "lowest": 1,
        "window": 1,
    }
    assert "14.3 meV/atom above the hull" in selection.reasons[2]
    assert "x = 0.5000: 2 of 4 selected (1 lowest, 1 more" in selection.summary()


def test_window_widens_and_lowest_count():
    wide = select_for_relaxation(X, E, ATOMS, lowest=1, window_meV_per_atom=50)
    assert wide.selected == [0, 1, 2, 3, 5]
    three = select_for_relaxation(X, E, ATOMS, lowest=3, window_meV_per_atom=0)
    assert three.selected == [0, 1, 2, 3, 5]
    assert three.per_x["0.5000"]["lowest"] == 3


def test_composition_reference_ignores_other_contents():
    # shift every x = 1/2 energy up by 1 eV: off the hull, but the same within x = 1/2
    shifted = [e + 1.0 if x == 0.5 else e for x, e in zip(X, E, strict=True)]
    by_hull = select_for_relaxation(X, shifted, ATOMS, lowest=1, window_meV_per_atom=20)
    by_comp = select_for_relaxation(
        X, shifted, ATOMS, lowest=1, window_meV_per_atom=20, reference="composition"
    )
    assert by_hull.selected == [0, 1, 5]
    assert by_comp.selected == [0, 1, 2, 5]


def test_bad_selection_input():
    with pytest.raises(OredoxInputError, match="equal"):
        select_for_relaxation([0, 1], [1.0], [3, 3])
    with pytest.raises(OredoxInputError, match="reference"):
        select_for_relaxation(X, E, ATOMS, reference="nearby")
