"""Delithiation convex hull and voltage profile of A_x Host.

Conventions:

- ``x`` is the alkali content per formula unit of the host (Li_x CoO2: 0 <= x <= 1).
- Energies are per formula unit of the host, in eV, all from one energy scheme.
- The formation energy of a configuration at x relative to the end members is
  ``E_f(x) = e(x) - [(x / x_max) e(x_max) + (1 - x / x_max) e(0)]``.
- The voltage between two hull vertices x1 < x2 is
  ``V = -[e(x2) - e(x1) - (x2 - x1) mu_A] / (x2 - x1)`` in V, with ``mu_A`` the energy
  per atom of the alkali metal in the same scheme (the charge of the ion, e, turns eV
  per ion into V).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from oredox.errors import OredoxInputError

# Points closer than this to a hull facet (eV per formula unit) count as on the hull
# but are not vertices: a collinear point adds no voltage step.
HULL_TOL_EV = 1e-6


@dataclass(frozen=True)
class VoltageStep:
    """A plateau of the voltage profile between two hull vertices.

    Attributes
    ----------
    x_low, x_high
        Alkali content per formula unit at the ends of the plateau.
    voltage_V
        Equilibrium voltage vs the alkali metal, in V.
    """

    x_low: float
    x_high: float
    voltage_V: float


def formation_energies(
    x: Sequence[float], energy_per_fu: Sequence[float]
) -> np.ndarray:
    """Formation energies (eV per formula unit) relative to the two end members.

    The end members are the lowest energies at the smallest and largest ``x``; the
    set must contain both.
    """
    x_arr, e_arr = _as_arrays(x, energy_per_fu)
    x_min, x_max = x_arr.min(), x_arr.max()
    e_lo = e_arr[x_arr == x_min].min()
    e_hi = e_arr[x_arr == x_max].min()
    frac = (x_arr - x_min) / (x_max - x_min)
    return e_arr - (frac * e_hi + (1 - frac) * e_lo)


def lower_hull(x: Sequence[float], energy: Sequence[float]) -> list[int]:
    """Indices of the vertices of the lower convex hull, by increasing ``x``.

    Andrew's monotone chain on the lowest energy at each x. A point within
    :data:`HULL_TOL_EV` of the segment joining its neighbours is not a vertex.
    Works on total or formation energies alike (the hull is the same).
    """
    x_arr, e_arr = _as_arrays(x, energy)
    lowest: dict[float, int] = {}
    for i in np.lexsort((e_arr, x_arr)):
        lowest.setdefault(float(x_arr[i]), int(i))
    vertices: list[int] = []
    for i in lowest.values():
        while len(vertices) >= 2:
            a, b = vertices[-2], vertices[-1]
            # Height of b above the chord a -> i; pop b unless it lies strictly below.
            t = (x_arr[b] - x_arr[a]) / (x_arr[i] - x_arr[a])
            chord = e_arr[a] + t * (e_arr[i] - e_arr[a])
            if e_arr[b] < chord - HULL_TOL_EV:
                break
            vertices.pop()
        vertices.append(i)
    return vertices


def energy_above_hull(
    x: Sequence[float], energy: Sequence[float], include: Sequence[bool] | None = None
) -> np.ndarray:
    """Energy above the lower hull for every point, in the units of ``energy``.

    ``include`` (default all) chooses the points that build the hull; the others are
    measured against it too (e.g. configurations that lost their framework).
    """
    x_arr, e_arr = _as_arrays(x, energy)
    mask = np.ones(len(x_arr), bool) if include is None else np.asarray(include, bool)
    xs, es = x_arr[mask], e_arr[mask]
    vertices = lower_hull(xs, es)
    hull_e = np.interp(x_arr, xs[vertices], es[vertices])
    above = e_arr - hull_e
    above[np.abs(above) < HULL_TOL_EV] = 0.0
    return above


def voltage_profile(
    x: Sequence[float], energy_per_fu: Sequence[float], alkali_energy_per_atom: float
) -> list[VoltageStep]:
    """Voltage plateaus between consecutive hull vertices, by increasing x.

    Parameters
    ----------
    x
        Alkali content per formula unit of each configuration.
    energy_per_fu
        Total energy per formula unit of the host, eV.
    alkali_energy_per_atom
        Energy of the alkali metal, eV/atom, from the same scheme.
    """
    x_arr, e_arr = _as_arrays(x, energy_per_fu)
    vertices = lower_hull(x_arr, e_arr)
    steps = []
    for lo, hi in pairwise(vertices):
        dx = x_arr[hi] - x_arr[lo]
        voltage = -(e_arr[hi] - e_arr[lo] - dx * alkali_energy_per_atom) / dx
        steps.append(VoltageStep(float(x_arr[lo]), float(x_arr[hi]), float(voltage)))
    return steps


def average_voltage(steps: Sequence[VoltageStep]) -> float:
    """Capacity-weighted average voltage (V) over the whole profile."""
    if not steps:
        raise OredoxInputError("no voltage steps: the hull needs two x values")
    width = sum(step.x_high - step.x_low for step in steps)
    return sum(step.voltage_V * (step.x_high - step.x_low) for step in steps) / width


def _as_arrays(
    x: Sequence[float], energy: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    x_arr = np.asarray(x, dtype=float)
    e_arr = np.asarray(energy, dtype=float)
    if x_arr.shape != e_arr.shape or x_arr.ndim != 1:
        raise OredoxInputError("x and energies must be 1-D sequences of equal length")
    if len(np.unique(x_arr)) < 2:
        raise OredoxInputError(
            "a hull needs configurations at two or more alkali contents"
        )
    if not np.all(np.isfinite(e_arr)):
        raise OredoxInputError("energies must be finite numbers")
    return x_arr, e_arr
