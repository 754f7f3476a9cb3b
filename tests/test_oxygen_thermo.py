"""O2 thermochemistry, O-rich reference and O2 release (analysis.oxygen_thermo).

Reference numbers used here, all from outside the module:

- Reuter & Scheffler, Phys. Rev. B 65, 035406 (2002), Table I: Delta mu_O(T, 1 atm)
  from the JANAF tables, eV per O atom, 100-1000 K (1 atm instead of 1 bar moves
  them by kT ln(1.01325)/2 < 1 meV).
- NIST Chemistry WebBook, O2 gas-phase Shomate coefficients (from Chase 1998), for
  100-700 K and 700-2000 K: an independent fit of the same table, to catch a typo.
- The ideal-gas partition function of O2 (translations, rotations with
  theta_rot = 2.0786 K and symmetry number 2, triplet ground state) below 100 K,
  where vibration is frozen.
"""

import math

import numpy as np
import pytest
from pymatgen.entries.compatibility import MaterialsProject2020Compatibility
from pymatgen.entries.computed_entries import ComputedEntry

from oredox.analysis.oxygen_thermo import (
    O2_JANAF,
    OxygenReference,
    delta_mu_o,
    formation_energy_vs_mu,
    grand_potential_stability,
    mp2020_oxide_correction_eV_per_O,
    mp_o2_reference,
    oxygen_reference,
    release_mu_o_threshold,
    release_temperature,
)
from oredox.errors import OredoxInputError

K_B_EV_PER_K = 8.617333262e-5

REUTER_SCHEFFLER_TABLE_I = {
    100: -0.08,
    200: -0.17,
    300: -0.27,
    400: -0.38,
    500: -0.50,
    600: -0.61,
    700: -0.73,
    800: -0.85,
    900: -0.98,
    1000: -1.10,
}

# (A, B, C, D, E, F, G, H) for H - H(298.15) in kJ/mol and S in J/mol/K, t = T/1000.
NIST_SHOMATE_O2 = {
    (100.0, 700.0): (
        31.32234,
        -20.23531,
        57.86644,
        -36.50624,
        -0.007374,
        -8.903471,
        246.7945,
        0.0,
    ),
    (700.0, 2000.0): (
        30.03235,
        8.772972,
        -3.988133,
        0.788313,
        -0.741599,
        -11.32468,
        236.1663,
        0.0,
    ),
}


def shomate(temperature_K):
    (a, b, c, d, e, f, g, h), t = (
        next(v for (lo, hi), v in NIST_SHOMATE_O2.items() if lo <= temperature_K <= hi),
        temperature_K / 1000,
    )
    enthalpy = a * t + b * t**2 / 2 + c * t**3 / 3 + d * t**4 / 4 - e / t + f - h
    entropy = a * math.log(t) + b * t + c * t**2 / 2 + d * t**3 / 3 - e / (2 * t**2) + g
    return enthalpy, entropy


def test_delta_mu_o_reproduces_reuter_scheffler_table_i():
    for temperature_K, expected_eV in REUTER_SCHEFFLER_TABLE_I.items():
        assert delta_mu_o(temperature_K) == pytest.approx(expected_eV, abs=0.01)
    # The three rows the issue names, at the brief's tolerance and sign.
    assert delta_mu_o(300.0) == pytest.approx(-0.274, abs=0.002)
    assert delta_mu_o(600.0) == pytest.approx(-0.611, abs=0.002)
    assert delta_mu_o(1000.0) == pytest.approx(-1.100, abs=0.002)


def test_janaf_rows_match_the_nist_shomate_fit_and_the_0_k_row():
    assert O2_JANAF[0] == (0.0, -8.683, 0.0)  # H(298.15) - H(0) = 8.683 kJ/mol
    assert (298.15, 0.0, 205.147) in O2_JANAF
    assert O2_JANAF[-1][0] >= 2000.0
    for temperature_K, enthalpy_kJ, entropy_J in O2_JANAF:
        if 200.0 <= temperature_K <= 2000.0:
            fit_h, fit_s = shomate(temperature_K)
            assert enthalpy_kJ == pytest.approx(fit_h, abs=0.003), temperature_K
            assert entropy_J == pytest.approx(fit_s, abs=0.005), temperature_K


def test_janaf_rows_obey_dh_equals_t_ds_between_rows():
    # With Cp nearly constant between rows, Delta H = T_logmean * Delta S; a typo
    # in the third decimal of H or S breaks it.
    rows = np.array(O2_JANAF[1:])
    t, h, s = rows[:, 0], rows[:, 1], rows[:, 2] / 1000
    t_logmean = np.diff(t) / np.log(t[1:] / t[:-1])
    assert np.max(np.abs(np.diff(h) - t_logmean * np.diff(s))) < 0.005


def test_below_100_k_follows_the_ideal_gas_partition_function():
    h, k, amu = 6.62607015e-34, 1.380649e-23, 1.66053906660e-27
    mass = 2 * 15.9949146 * amu
    for temperature_K in (20.0, 50.0, 80.0):
        volume = k * temperature_K / 1e5  # 1 bar
        q_trans = (2 * math.pi * mass * k * temperature_K / h**2) ** 1.5 * volume
        q_rot = temperature_K / (2 * 2.0786)
        mu_eV = -K_B_EV_PER_K * temperature_K * math.log(q_trans * q_rot * 3) / 2
        assert delta_mu_o(temperature_K) == pytest.approx(mu_eV, abs=5e-4)
    assert delta_mu_o(0.0) == 0.0
    # Continuous at the 100 K row where the table takes over.
    assert delta_mu_o(99.999) == pytest.approx(delta_mu_o(100.0), abs=1e-6)


def test_pressure_term_is_kt_ln10_over_2_per_decade():
    for temperature_K in (300.0, 800.0, 1500.0):
        per_decade = K_B_EV_PER_K * temperature_K * math.log(10) / 2
        for pressure_bar in (1e-6, 0.21, 10.0):
            shift = delta_mu_o(temperature_K, pressure_bar * 10) - delta_mu_o(
                temperature_K, pressure_bar
            )
            assert shift == pytest.approx(per_decade, rel=1e-9)
    # Lower O2 pressure: more O-poor.
    assert delta_mu_o(1000.0, 1e-5) < delta_mu_o(1000.0) - 0.49


def test_delta_mu_o_decreases_with_temperature_and_keeps_shape():
    temperatures = np.linspace(0.0, O2_JANAF[-1][0], 3001)
    mu = delta_mu_o(temperatures)
    assert isinstance(mu, np.ndarray)
    assert mu.shape == temperatures.shape
    assert np.all(np.diff(mu) < 0)
    assert isinstance(delta_mu_o(300), float)
    assert delta_mu_o(np.array([[300.0, 600.0]])).shape == (1, 2)


@pytest.mark.parametrize(
    ("temperature", "pressure"),
    [
        (-1.0, 1.0),
        (3000.5, 1.0),
        (np.array([300.0, 5000.0]), 1.0),
        (float("nan"), 1.0),
        ("hot", 1.0),
        (300.0, 0.0),
        (300.0, -1.0),
        (300.0, float("inf")),
    ],
)
def test_bad_temperature_or_pressure_is_an_input_error(temperature, pressure):
    with pytest.raises(OredoxInputError):
        delta_mu_o(temperature, pressure)


def test_release_temperature_inverts_delta_mu_o():
    for pressure_bar in (1.0, 1e-3, 100.0):
        for e_f_eV in (0.05, 0.5, 1.1, 2.5):
            temperature_K = release_temperature(e_f_eV, pressure_bar)
            assert temperature_K is not None
            assert e_f_eV + delta_mu_o(temperature_K, pressure_bar) == pytest.approx(
                0.0, abs=1e-7
            )
            # The lowest such temperature: still unfavourable 1 K below.
            assert e_f_eV + delta_mu_o(temperature_K - 1, pressure_bar) > 0
    # Reuter-Scheffler: Delta mu_O(1000 K, 1 atm) = -1.10 eV.
    assert release_temperature(1.10) == pytest.approx(1000.0, abs=3.0)
    # Lower O2 pressure releases O2 at a lower temperature.
    assert release_temperature(1.0, 1e-6) < release_temperature(1.0)


def test_release_temperature_limits():
    assert release_temperature(-0.3) == 0.0
    assert release_temperature(0.0) == 0.0
    assert release_temperature(4.5) is None  # Delta mu_O(3000 K) = -3.87 eV
    with pytest.raises(OredoxInputError):
        release_temperature(1.0, pressure_bar=0.0)
    with pytest.raises(OredoxInputError):
        release_temperature(float("nan"))


def test_release_threshold_and_formation_energy_vs_mu():
    reference = OxygenReference(
        method="engine O2", mu_o_eV=-4.9, correction_eV_per_O=0.0, description="x"
    )
    e_f_rich = formation_energy_vs_mu(-95.0, -91.0, reference)
    assert e_f_rich == pytest.approx(-95.0 + 91.0 - 4.9)
    assert release_mu_o_threshold(e_f_rich) == pytest.approx(-e_f_rich)
    at_600 = formation_energy_vs_mu(-95.0, -91.0, reference, temperature_K=600.0)
    assert at_600 == pytest.approx(e_f_rich + delta_mu_o(600.0))
    curve = formation_energy_vs_mu(
        -95.0,
        -91.0,
        reference,
        temperature_K=np.array([300.0, 900.0]),
        pressure_bar=0.2,
    )
    assert np.all(np.diff(curve) < 0)
    t_release = release_temperature(1.0)
    reference_1eV = reference.model_copy(update={"mu_o_eV": 5.0})
    # E(defect) - E(host) + mu_O = 1 eV: zero exactly at the release temperature.
    assert formation_energy_vs_mu(
        -95.0, -91.0, reference_1eV, temperature_K=t_release
    ) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(OredoxInputError):
        formation_energy_vs_mu(float("nan"), -91.0, reference)


def test_mp2020_value_is_pymatgens_yaml():
    compatibility = MaterialsProject2020Compatibility(check_potcar=False)
    assert mp2020_oxide_correction_eV_per_O() == compatibility.comp_correction["oxide"]
    assert mp2020_oxide_correction_eV_per_O() == pytest.approx(-0.687)
    mu_o_eV, material_id = mp_o2_reference()
    assert material_id == "mp-12957"
    assert mu_o_eV == pytest.approx(-4.948, abs=5e-4)


def test_mp2020_reference_raises_e_f_as_pymatgen_corrects_the_two_cells():
    # Raw GGA+U energies of a host and its vacancy cell, corrected by pymatgen's own
    # MaterialsProject2020Compatibility: E_f from corrected energies with no added
    # correction (CHGNet's case) equals E_f from raw energies plus ours (VASP's).
    params = {
        "run_type": "GGA+U",
        "is_hubbard": True,
        "hubbards": {"Co": 3.32, "Li": 0.0, "O": 0.0},
        "potcar_spec": [
            {"titel": f"PAW_PBE {s}", "hash": None} for s in ["Co", "Li", "O"]
        ],
    }
    host = ComputedEntry(
        "Li4Co4O8", -200.0, parameters=params, data={"oxide_type": "oxide"}
    )
    vacancy = ComputedEntry(
        "Li4Co4O7", -192.0, parameters=params, data={"oxide_type": "oxide"}
    )
    host_mp, vacancy_mp = MaterialsProject2020Compatibility(
        check_potcar=False
    ).process_entries([host, vacancy], inplace=False)
    vasp = oxygen_reference(None, "MP2020 fitted", "vasp")
    chgnet = oxygen_reference(None, "MP2020 fitted", "chgnet")
    assert vasp.correction_eV_per_O == pytest.approx(0.687)
    assert chgnet.correction_eV_per_O == 0.0
    assert vasp.mu_o_eV == chgnet.mu_o_eV == mp_o2_reference()[0]
    e_f_raw = formation_energy_vs_mu(vacancy.energy, host.energy, vasp)
    e_f_mp = formation_energy_vs_mu(vacancy_mp.energy, host_mp.energy, chgnet)
    assert e_f_raw == pytest.approx(e_f_mp, abs=1e-9)
    assert e_f_raw - (-192.0 + 200.0 + vasp.mu_o_eV) == pytest.approx(0.687)


def test_engine_o2_reference_and_descriptions():
    vasp = oxygen_reference(-9.86, "engine O2", "vasp")
    assert vasp.mu_o_eV == pytest.approx(-4.93)
    assert vasp.correction_eV_per_O == 0.0
    assert vasp.description.startswith("engine O2")
    assert "overbinds" in vasp.description
    chgnet = oxygen_reference(-9.64, "engine O2", "chgnet")
    assert "MPtrj" in chgnet.description
    assert "MP2020 fitted" in chgnet.description  # recommended instead
    fitted = oxygen_reference(-9.64, "MP2020 fitted", "chgnet")
    assert fitted.description.startswith("MP2020 fitted")
    assert "mp-12957" in fitted.description
    assert "-0.687" in fitted.description
    assert "Sci. Rep. 11, 15496" in fitted.description
    assert "-4.8200" in fitted.description  # the unused CHGNet O2, quoted
    # A user's override of the default for engines whose energies carry MP2020.
    corrected_vasp = oxygen_reference(None, "MP2020 fitted", "vasp", True)
    assert corrected_vasp.correction_eV_per_O == 0.0
    with pytest.raises(ValueError, match="frozen"):
        vasp.mu_o_eV = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="extra"):
        OxygenReference(
            method="engine O2",
            mu_o_eV=-4.9,
            correction_eV_per_O=0.0,
            description="x",
            temperature=300,
        )


@pytest.mark.parametrize(
    ("energy", "method", "engine", "match"),
    [
        (None, "engine O2", "vasp", "needs the engine's O2 energy"),
        (-9.8, "JANAF", "vasp", "unknown"),
        (-9.8, "MP2020 fitted", "gpaw", "Materials Project scale"),
        (-9.8, "MP2020 fitted", "chgnet+gpaw", "Materials Project scale"),
        (float("nan"), "engine O2", "vasp", "finite"),
        (-9.8, "engine O2", "", "engine's name"),
    ],
)
def test_bad_reference_requests_are_input_errors(energy, method, engine, match):
    with pytest.raises(OredoxInputError, match=match):
        oxygen_reference(energy, method, engine)


def test_grand_potential_stability_against_a_hand_computed_hull():
    # Grand potential per Co: Co 0; CoO -3 - mu_O; Co3O4 (-10 - 4 mu_O) / 3.
    entries = [
        ComputedEntry("Co", 0.0, entry_id="Co"),
        ComputedEntry("CoO", -3.0, entry_id="CoO"),
        ComputedEntry("Co3O4", -10.0, entry_id="Co3O4"),
        ComputedEntry("O2", -9.8, entry_id="O2"),
    ]
    at_minus_2 = dict(grand_potential_stability(entries, -2.0))
    assert at_minus_2 == pytest.approx({"Co": 1.0, "CoO": 0.0, "Co3O4": 1 / 3})
    at_minus_4 = dict(grand_potential_stability(entries, -4.0))
    assert at_minus_4 == pytest.approx({"Co": 0.0, "CoO": 1.0, "Co3O4": 2.0})
    with pytest.raises(OredoxInputError):
        grand_potential_stability(entries[3:], -2.0)
