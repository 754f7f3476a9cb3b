"""Hull and voltages on an energy set worked out by hand."""

import pytest

from oredox.analysis.hull import (
    average_voltage,
    energy_above_hull,
    formation_energies,
    lower_hull,
    voltage_profile,
)
from oredox.errors import OredoxInputError

MU_LI = -1.9  # eV/atom
# Per formula unit of the host, eV. Built so that (by hand):
#   e(1) - e(0) = -5.9 = mu_Li - 4.0             -> average voltage 4.0 V
#   e(0.5) = e(0) + 0.5 mu_Li - 0.5 * 4.2          -> V(0 -> 0.5) = 4.2 V,
#                                                     V(0.5 -> 1) = 3.8 V
#   chord of the end members at 0.5: -22.95        -> E_f(0.5) = -0.10 eV
#   a second configuration at 0.5, 0.15 eV higher  -> above the hull by 0.15 eV
#   x = 0.25 on the segment 0 -> 0.5: e = -21.525  -> on the hull but not a vertex
X = [0.0, 0.25, 0.5, 0.5, 1.0]
E = [-20.0, -21.525, -23.05, -22.90, -25.9]


def test_formation_energies_by_hand():
    e_f = formation_energies(X, E)
    assert e_f == pytest.approx([0.0, -0.05, -0.10, 0.05, 0.0])


def test_hull_vertices_and_energy_above_hull():
    assert lower_hull(X, E) == [0, 2, 4]
    assert energy_above_hull(X, E) == pytest.approx([0.0, 0.0, 0.0, 0.15, 0.0])
    # The hull does not depend on subtracting the end-member line.
    assert lower_hull(X, formation_energies(X, E)) == [0, 2, 4]


def test_voltage_formula_of_science_md():
    steps = voltage_profile(X, E, MU_LI)
    assert [(s.x_low, s.x_high) for s in steps] == [(0.0, 0.5), (0.5, 1.0)]
    assert [s.voltage_V for s in steps] == pytest.approx([4.2, 3.8])
    assert average_voltage(steps) == pytest.approx(4.0)
    # V = -[E(x2) - E(x1) - (x2 - x1) E(Li)] / (x2 - x1) over the whole range
    assert average_voltage(steps) == pytest.approx(-(E[4] - E[0] - MU_LI) / 1.0)


def test_voltage_decreases_with_x_on_a_convex_hull():
    steps = voltage_profile(X, E, MU_LI)
    voltages = [s.voltage_V for s in steps]
    assert voltages == sorted(voltages, reverse=True)


def test_point_above_chord_is_not_a_vertex():
    assert lower_hull([0, 0.5, 1], [0.0, 0.2, 0.0]) == [0, 2]


def test_bad_inputs():
    with pytest.raises(OredoxInputError, match="two or more"):
        lower_hull([0.5, 0.5], [1.0, 2.0])
    with pytest.raises(OredoxInputError, match="equal length"):
        lower_hull([0, 1], [1.0])
    with pytest.raises(OredoxInputError, match="finite"):
        lower_hull([0, 1], [1.0, float("nan")])


def test_mixed_energy_schemes_are_an_error_naming_the_entries():
    from oredox.schemas import EnergyScheme, check_single_scheme

    mp = EnergyScheme(
        engine="vasp",
        engine_version="x",
        functional="PBE+U mp",
        hubbard_u_eV={"Ni": 6.2},
        encut_eV=520,
        relax_fmax_eV_per_A=0.02,
        relax_cell=True,
    )
    ltno = mp.model_copy(update={"hubbard_u_eV": {"Ni": 6.4}, "encut_eV": 600})
    assert check_single_scheme({"a": mp, "b": mp}) == mp
    with pytest.raises(OredoxInputError, match=r"c \(hubbard_u_eV, encut_eV\)"):
        check_single_scheme({"a": mp, "b": mp, "c": ltno})
