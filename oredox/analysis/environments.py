"""Local environments of the oxide ions: cation neighbours and linear A-O-A' axes.

In a rock-salt-type lattice (layered O3, P2 with octahedral TM, disordered rock salt)
each O has six cation sites in three linear pairs. An axis whose two ends are both
"ionic" (alkali, Mg, Zn or an empty site: Li-O-Li, Na-O-Li, Li-O-vacancy) leaves an O
2p orbital along it without a TM d partner: the non-bonding O 2p states of Seo et al.
(Nat. Chem. 8, 692, 2016) that are emptied first on deep delithiation.

:func:`oxygen_environments` finds, for each anion, the cations within ``cutoff_A``,
pairs those at ``180 deg +- angle_tol_deg`` into axes, and counts a neighbour without an
opposite partner as an axis to a vacancy (the site across is empty). Sites known to
be vacant (the removed alkali of a delithiated configuration) can be given; they then
count as neighbours of species ``"Vac"``, so an axis with vacancies at both ends is
seen too. Everything is a pure function of a pymatgen Structure.

Defaults: ``cutoff_A = 2.6`` (TM-O 1.85-2.15, Li-O 2.0-2.3, Na-O in prisms 2.3-2.5 A),
``angle_tol_deg = 25``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Element, Structure

VACANCY = "Vac"
IONIC = frozenset({"Li", "Na", "K", "Rb", "Cs", "Mg", "Ca", "Zn", VACANCY})
ANIONS = frozenset({"O"})


@dataclass(frozen=True)
class Axis:
    """A linear A-O-A' axis of one anion: the two ends and the unit direction."""

    ends: tuple[str, str]
    direction: tuple[float, float, float]
    neighbours: tuple[int | None, int | None]

    @property
    def label(self) -> str:
        """``"Li-O-Li"``-style label, ends sorted (ionic first, then by name)."""
        a, b = sorted(self.ends, key=_end_order)
        return f"{a}-O-{b}"

    def is_ionic(self, ionic: frozenset[str] = IONIC) -> bool:
        """Both ends ionic (or vacant): an A-O-A' axis with a non-bonding O 2p."""
        return self.ends[0] in ionic and self.ends[1] in ionic


@dataclass
class OxygenEnvironment:
    """One anion: its cation neighbours and axes."""

    index: int
    neighbours: list[int]
    neighbour_species: list[str]
    axes: list[Axis] = field(default_factory=list)
    n_ionic_axes: int = 0

    @property
    def label(self) -> str:
        """Composition of the cation shell, e.g. ``"OLi4Mn2"`` (vacancies as Vac)."""
        counts = Counter(end for axis in self.axes for end in axis.ends)
        parts = sorted(counts, key=_end_order)
        return "O" + "".join(f"{k}{counts[k] if counts[k] > 1 else ''}" for k in parts)

    @property
    def environment_class(self) -> str:
        """``"n A-O-A'"`` with n the number of ionic axes (0 to 3)."""
        return f"{self.n_ionic_axes} A-O-A'"


def _end_order(name: str) -> tuple[int, str]:
    return (
        0 if name in IONIC and name != VACANCY else 1 if name != VACANCY else 2,
        name,
    )


def oxygen_environments(
    structure: Structure,
    cutoff_A: float = 2.6,
    angle_tol_deg: float = 25.0,
    vacancies: Sequence[Sequence[float]] | None = None,
    anions: frozenset[str] = ANIONS,
    ionic: frozenset[str] = IONIC,
) -> list[OxygenEnvironment]:
    """Cation neighbours and linear axes of every anion of ``structure``.

    Parameters
    ----------
    structure
        Any structure; species may carry oxidation states.
    cutoff_A
        Cation-anion distance up to which a cation is a neighbour, A.
    angle_tol_deg
        Two neighbours form an axis when their angle at the anion is within this of
        180 deg.
    vacancies
        Fractional coordinates of known empty cation sites (e.g. the removed alkali).
    anions
        Elements analysed as the central anion.
    ionic
        Ends that make an axis ionic (A-O-A').

    Returns
    -------
    list of OxygenEnvironment
        One per anion, in structure order.
    """
    if cutoff_A <= 0 or not 0 <= angle_tol_deg < 90:
        raise ValueError("cutoff_A must be positive and angle_tol_deg in [0, 90)")
    symbols = [site.specie.symbol for site in structure]
    cations = [i for i, s in enumerate(symbols) if s not in anions]
    anion_ids = [i for i, s in enumerate(symbols) if s in anions]
    frac = structure.frac_coords
    points = [(frac[i], i, symbols[i]) for i in cations]
    points += [(np.asarray(v, float), None, VACANCY) for v in vacancies or []]
    centres = np.array([p[0] for p in points]).reshape(-1, 3)
    names = [p[2] for p in points]
    cos_tol = np.cos(np.radians(180.0 - angle_tol_deg))
    environments = []
    for a in anion_ids:
        vectors, owners = _neighbours(structure, frac[a], centres, cutoff_A)
        ids = [points[k][1] for k in owners]
        species = [names[k] for k in owners]
        unit = vectors / np.linalg.norm(vectors, axis=1)[:, None]
        cosines = unit @ unit.T
        unused = set(range(len(vectors)))
        axes = []
        # pair the most linear couples first
        pairs = sorted(
            (cosines[i, j], i, j)
            for i in range(len(vectors))
            for j in range(i + 1, len(vectors))
            if cosines[i, j] <= cos_tol
        )
        for _, i, j in pairs:
            if i in unused and j in unused:
                unused -= {i, j}
                direction = unit[i] - unit[j]
                direction /= np.linalg.norm(direction)
                axes.append(
                    Axis((species[i], species[j]), tuple(direction), (ids[i], ids[j]))
                )
        # nothing across: the opposite site is empty
        axes += [
            Axis((species[i], VACANCY), tuple(unit[i]), (ids[i], None))
            for i in sorted(unused)
        ]
        env = OxygenEnvironment(
            index=a,
            neighbours=[i for i in ids if i is not None],
            neighbour_species=species,
            axes=axes,
            n_ionic_axes=sum(axis.is_ionic(ionic) for axis in axes),
        )
        environments.append(env)
    return environments


def _neighbours(structure, centre_frac, points_frac, cutoff):
    """Vectors (cartesian, A) from the anion to every periodic image within cutoff."""
    lattice = structure.lattice
    if len(points_frac) == 0:
        return np.zeros((0, 3)), []
    reach = np.ceil(cutoff / _heights(lattice.matrix)).astype(int)
    shifts = (
        np.array(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"))
        .reshape(3, -1)
        .T
    )
    delta = points_frac - centre_frac
    delta -= np.round(delta)
    images = delta[:, None, :] + shifts[None, :, :]
    cart = images @ lattice.matrix
    dist = np.linalg.norm(cart, axis=2)
    owner, image = np.nonzero((dist < cutoff) & (dist > 0.5))
    order = np.argsort(dist[owner, image])
    owner, image = owner[order], image[order]
    return cart[owner, image], list(owner)


def _heights(matrix: np.ndarray) -> np.ndarray:
    """Distances between opposite cell faces, A."""
    volume = abs(np.linalg.det(matrix))
    a, b, c = matrix
    return volume / np.array(
        [
            np.linalg.norm(np.cross(b, c)),
            np.linalg.norm(np.cross(c, a)),
            np.linalg.norm(np.cross(a, b)),
        ]
    )


def environment_summary(environments: list[OxygenEnvironment]) -> dict:
    """Counts per environment class and per axis label, for a document."""
    classes = Counter(env.environment_class for env in environments)
    axes = Counter(axis.label for env in environments for axis in env.axes)
    shells = Counter(env.label for env in environments)
    return {
        "n_anions": len(environments),
        "per_class": dict(sorted(classes.items())),
        "per_axis": dict(sorted(axes.items())),
        "per_shell": dict(sorted(shells.items())),
        "n_ionic_axes": int(sum(env.n_ionic_axes for env in environments)),
    }


def is_transition_metal(symbol: str) -> bool:
    """d-block metals (the TM of TM-O analyses); Zn, Cd, Hg (d10) excluded."""
    element = Element(symbol)
    return element.block == "d" and symbol not in ("Zn", "Cd", "Hg")
