"""Thermochemistry of O2 gas: Delta mu_O(T, p) from the NIST-JANAF table.

``Delta mu_O(T, p) = 1/2 [(H(T) - H(0)) - T S(T) + k T ln(p / p0)]`` per O atom, the
free energy of O2 ideal gas at ``T`` and ``p`` relative to the molecule at 0 K (no
zero-point energy), as in Reuter & Scheffler, Phys. Rev. B 65, 035406 (2002). Add it
to the O-rich limit ``mu_O = 1/2 E(O2)`` of an energy scheme
(:mod:`oredox.analysis.oxygen_thermo`).
"""

from __future__ import annotations

import math

import numpy as np

from oredox.errors import OredoxInputError

# CODATA 2018: Faraday constant (eV per particle <-> kJ/mol) and Boltzmann constant.
KJ_PER_MOL_PER_EV = 96.485332
K_B_EV_PER_K = 8.617333262e-5
STANDARD_PRESSURE_BAR = 1.0  # p0 of the JANAF tables (0.1 MPa)

# H(298.15 K) - H(0 K) of O2 ideal gas, kJ/mol (JANAF table O-029, the 0 K row).
O2_H298_MINUS_H0_KJ_MOL = 8.683

# O2 ideal gas at p0 = 1 bar, rows (T in K, H(T) - H(298.15 K) in kJ/mol, S(T) in
# J/mol/K), typed from NIST-JANAF Thermochemical Tables, 4th edition: M. W. Chase Jr.,
# J. Phys. Chem. Ref. Data, Monograph 9 (1998), table O-029 "Oxygen, diatomic (O2),
# ideal gas" (last reviewed March 1977), every row from 0 to 3000 K. The 0 K row has
# H - H(298.15) = -8.683 kJ/mol, so H(298.15) - H(0) = 8.683 kJ/mol.
O2_JANAF: tuple[tuple[float, float, float], ...] = (
    (0.0, -8.683, 0.0),
    (100.0, -5.779, 173.307),
    (200.0, -2.868, 193.485),
    (250.0, -1.410, 199.990),
    (298.15, 0.0, 205.147),
    (300.0, 0.054, 205.329),
    (350.0, 1.531, 209.880),
    (400.0, 3.025, 213.871),
    (450.0, 4.543, 217.445),
    (500.0, 6.084, 220.693),
    (600.0, 9.244, 226.451),
    (700.0, 12.499, 231.466),
    (800.0, 15.835, 235.921),
    (900.0, 19.241, 239.931),
    (1000.0, 22.703, 243.578),
    (1100.0, 26.212, 246.922),
    (1200.0, 29.761, 250.010),
    (1300.0, 33.344, 252.878),
    (1400.0, 36.957, 255.556),
    (1500.0, 40.599, 258.068),
    (1600.0, 44.266, 260.434),
    (1700.0, 47.958, 262.672),
    (1800.0, 51.673, 264.796),
    (1900.0, 55.413, 266.818),
    (2000.0, 59.175, 268.748),
    (2100.0, 62.961, 270.595),
    (2200.0, 66.769, 272.366),
    (2300.0, 70.600, 274.069),
    (2400.0, 74.453, 275.709),
    (2500.0, 78.328, 277.290),
    (2600.0, 82.224, 278.819),
    (2700.0, 86.141, 280.297),
    (2800.0, 90.079, 281.729),
    (2900.0, 94.036, 283.118),
    (3000.0, 98.013, 284.466),
)
O2_TABLE_MAX_K = O2_JANAF[-1][0]
O2_TABLE_SOURCE = (
    "NIST-JANAF table O-029, O2 ideal gas (Chase, J. Phys. Chem. Ref. Data "
    "Monograph 9, 1998)"
)


def delta_mu_o(
    temperature_K: float | np.ndarray, pressure_bar: float = 1.0
) -> float | np.ndarray:
    """Delta mu_O(T, p) in eV per O atom, relative to 1/2 E(O2) at 0 K (no ZPE).

    ``Delta mu_O = 1/2 [(H(T) - H(0)) - T S(T) + k T ln(p / p0)]`` of O2 ideal gas,
    with H and S from :data:`O2_JANAF` (p0 = 1 bar), linearly interpolated between
    its rows from 100 K up. Between 0 and 100 K (the table has only the 0 K row),
    a constant heat capacity ``(H(100 K) - H(0)) / 100 K = 29.04 J/mol/K`` (7/2 R:
    translations and rotations, vibration frozen) joins the two rows, since S has
    a ``ln T`` shape there.

    Parameters
    ----------
    temperature_K
        Temperature(s), 0 to 3000 K (the table's range).
    pressure_bar
        O2 partial pressure in bar, > 0.

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar temperature, an array of the same shape otherwise.

    Raises
    ------
    OredoxInputError
        A temperature below 0 K or above 3000 K, or a pressure <= 0.
    """
    temperature = _checked_temperatures(temperature_K)
    pressure = checked_pressure_bar(pressure_bar)
    gibbs_kJ_mol = _o2_free_energy_from_h0(temperature)
    pressure_eV = (
        K_B_EV_PER_K * temperature * math.log(pressure / STANDARD_PRESSURE_BAR)
    )
    mu = 0.5 * (gibbs_kJ_mol / KJ_PER_MOL_PER_EV + pressure_eV)
    return float(mu) if np.ndim(temperature_K) == 0 else mu


def _o2_free_energy_from_h0(temperature: np.ndarray) -> np.ndarray:
    """G(T) - H(0 K) = (H(T) - H(0)) - T S(T) of O2 at 1 bar, kJ/mol."""
    table = np.array(O2_JANAF)
    t_tab = table[1:, 0]  # from 100 K up
    h_tab = table[1:, 1] + O2_H298_MINUS_H0_KJ_MOL  # H(T) - H(0), kJ/mol
    s_tab = table[1:, 2] / 1000.0  # kJ/mol/K
    enthalpy = np.interp(temperature, t_tab, h_tab)
    t_times_s = temperature * np.interp(temperature, t_tab, s_tab)
    # Below 100 K: constant heat capacity from H(0) = 0 to H(100 K); T S -> 0 at 0 K.
    heat_capacity = h_tab[0] / t_tab[0]
    positive = np.where(temperature > 0, temperature, t_tab[0])
    t_times_s_low = np.where(
        temperature > 0,
        temperature * (s_tab[0] + heat_capacity * np.log(positive / t_tab[0])),
        0.0,
    )
    low = temperature < t_tab[0]
    enthalpy = np.where(low, heat_capacity * temperature, enthalpy)
    t_times_s = np.where(low, t_times_s_low, t_times_s)
    return enthalpy - t_times_s


def _checked_temperatures(temperature_K: float | np.ndarray) -> np.ndarray:
    try:
        temperature = np.array(temperature_K, dtype=float)
    except (TypeError, ValueError):
        raise OredoxInputError(
            f"temperature {temperature_K!r} is not a number; give kelvin"
        ) from None
    if not np.all(np.isfinite(temperature)):
        raise OredoxInputError("temperature must be a finite number of kelvin")
    if np.any(temperature < 0):
        raise OredoxInputError(
            f"temperature {temperature.min():g} K is below 0 K; give kelvin"
        )
    if np.any(temperature > O2_TABLE_MAX_K):
        raise OredoxInputError(
            f"temperature {temperature.max():g} K is above the O2 table's range "
            f"(0-{O2_TABLE_MAX_K:g} K, {O2_TABLE_SOURCE})"
        )
    return temperature


def checked_pressure_bar(pressure_bar: float) -> float:
    """``pressure_bar`` as a float; OredoxInputError unless positive and finite."""
    try:
        pressure = float(pressure_bar)
    except (TypeError, ValueError):
        raise OredoxInputError(f"pressure {pressure_bar!r} is not a number") from None
    if not math.isfinite(pressure) or pressure <= 0:
        raise OredoxInputError(
            f"O2 pressure {pressure_bar!r} bar must be a positive finite number"
        )
    return pressure
