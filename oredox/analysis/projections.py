"""TM-O pi/sigma projections in each octahedron's own frame.

Orbital labels such as dz2 are defined in the cell's cartesian frame. In the usual
hexagonal setting of a layered oxide the octahedra are tilted with respect to it, so
the global dz2 is pure t2g and global "eg/t2g" sums are meaningless. Here every TM
octahedron gets its own frame and the phase-resolved projections (VASP ``LORBIT =
12``: complex amplitudes <Y_lm|psi_nk> per ion) are rotated into it:

1. the frame: the three trans O-TM-O pairs give three axes; the nearest proper
   rotation to them (polar decomposition) is the frame of a distorted octahedron;
   local z is the longest axis (the Jahn-Teller elongation, if any);
2. the d amplitudes are rotated with the l = 2 rotation matrix of VASP's real
   harmonics (dxy, dyz, dz2, dxz, dx2-y2): eg = dz2 + dx2-y2, t2g = dxy + dyz + dxz;
3. each O 2p amplitude is split along each TM-O bond: sigma = |u . p|^2, pi = |p|^2
   - sigma (no frame needed), and along each ionic A-O-A' axis (the non-bonding O 2p).

Everything is invariant under a rotation of the cell (tested). Without phases
(``LORBIT = 11``) the analysis refuses: squared projections cannot be rotated, and
global-frame labels are never used as a fallback.

Per TM the pi-type mixing near E_F is ``sum w_k sqrt(t2g(TM) * pi(O ligands of TM))``
over the states in a window (occupied below, empty above the Fermi level): large
only where the TM t2g and its ligands' O 2p pi share a state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure

from oredox.analysis.environments import (
    OxygenEnvironment,
    is_transition_metal,
    oxygen_environments,
)

VASP_ORBITALS = ("s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2")
P_SLICE = slice(1, 4)  # py, pz, px
D_SLICE = slice(4, 9)
EG = (2, 4)  # dz2, dx2-y2 within the d block
T2G = (0, 1, 3)  # dxy, dyz, dxz


class MissingPhasesError(ValueError):
    """The projections have no phases (LORBIT 11): nothing can be rotated."""


def real_harmonics(ell: int, xyz: np.ndarray) -> np.ndarray:
    """Real spherical harmonics in VASP's order, unit-normalised, at unit vectors.

    l = 1: (y, z, x); l = 2: (xy, yz, 3z^2 - r^2, xz, x^2 - y^2).
    """
    x, y, z = (np.asarray(xyz, float)[:, k] for k in range(3))
    if ell == 1:
        return np.sqrt(3 / (4 * np.pi)) * np.stack([y, z, x], axis=1)
    if ell == 2:
        c = np.sqrt(15 / (4 * np.pi))
        return np.stack(
            [
                c * x * y,
                c * y * z,
                np.sqrt(5 / (16 * np.pi)) * (3 * z**2 - 1),
                c * x * z,
                c / 2 * (x**2 - y**2),
            ],
            axis=1,
        )
    raise ValueError("ell must be 1 or 2")


def harmonic_rotation(rotation: np.ndarray, ell: int) -> np.ndarray:
    """Matrix D with ``c_local = D @ c_global`` for amplitudes on real harmonics.

    ``rotation`` has the local axes as rows (in global cartesian coordinates).
    """
    rng = np.random.default_rng(0)
    points = rng.normal(size=(64, 3))
    points /= np.linalg.norm(points, axis=1)[:, None]
    basis = real_harmonics(ell, points)
    local = real_harmonics(ell, points @ np.asarray(rotation).T)
    d_transposed, *_ = np.linalg.lstsq(basis, local, rcond=None)
    return d_transposed.T


@dataclass
class Octahedron:
    """A TM and its six O: the local frame (rows: x, y, z) and bond vectors."""

    centre: int
    ligands: list[int]
    bonds_A: np.ndarray  # (6, 3) TM -> O vectors
    frame: np.ndarray  # (3, 3)
    distortion: float  # rms deviation of the normalised axes from the frame


def octahedral_frames(
    structure: Structure, centres: list[int] | None = None, cutoff_A: float = 2.6
) -> tuple[list[Octahedron], dict[int, str]]:
    """Local frames of the octahedra around ``centres`` (default: every TM).

    Returns the octahedra and, for centres skipped, the reason (not six-fold, no
    three trans pairs).
    """
    if centres is None:
        centres = [
            i
            for i, site in enumerate(structure)
            if is_transition_metal(site.specie.symbol)
        ]
    oxygen = [i for i, site in enumerate(structure) if site.specie.symbol == "O"]
    octahedra, skipped = [], {}
    for centre in centres:
        found = structure.get_sites_in_sphere(structure[centre].coords, cutoff_A)
        ligands = [
            (n.index, n.coords - structure[centre].coords)
            for n in found
            if n.index in oxygen and n.nn_distance > 0.5
        ]
        if len(ligands) != 6:
            skipped[centre] = f"{len(ligands)} O within {cutoff_A} A, not 6"
            continue
        vectors = np.array([v for _, v in ligands])
        unit = vectors / np.linalg.norm(vectors, axis=1)[:, None]
        cosines = unit @ unit.T
        pairs, used = [], set()
        for i in np.argsort(cosines.min(axis=1)):
            j = int(np.argmin(cosines[i]))
            if i in used or j in used or cosines[i, j] > -0.7:
                continue
            used |= {int(i), j}
            pairs.append((int(i), j))
        if len(pairs) != 3:
            skipped[centre] = "no three trans O-TM-O pairs"
            continue
        axes = np.array([(vectors[i] - vectors[j]) / 2 for i, j in pairs])
        lengths = np.linalg.norm(axes, axis=1)
        axes = axes[np.argsort(lengths, kind="stable")]  # local z: the longest
        normed = axes / np.linalg.norm(axes, axis=1)[:, None]
        if np.linalg.det(normed) < 0:
            normed[0] *= -1
        u, _, vt = np.linalg.svd(normed)
        frame = u @ vt
        distortion = float(np.sqrt(np.mean((frame - normed) ** 2)))
        octahedra.append(
            Octahedron(centre, [int(i) for i, _ in ligands], vectors, frame, distortion)
        )
    return octahedra, skipped


@dataclass
class ProjectionAnalysis:
    """Per-state local-frame weights (arrays over spin, k-point, band)."""

    energies_eV: np.ndarray  # (nspin, nk, nb)
    kweights: np.ndarray  # (nk,)
    efermi_eV: float
    octahedra: list[Octahedron]
    eg: dict[int, np.ndarray]  # TM index -> (nspin, nk, nb)
    t2g: dict[int, np.ndarray]
    o_sigma: dict[int, np.ndarray]  # TM index -> O p sigma along its bonds, summed
    o_pi: dict[int, np.ndarray]
    o_nonbonding: dict[int, np.ndarray]  # O index -> weight along its ionic axes
    skipped: dict[int, str] = field(default_factory=dict)

    def dos(
        self,
        weights: np.ndarray,
        sigma_eV: float = 0.1,
        points: int = 2001,
        spin: int | None = None,
    ):
        """Gaussian-broadened DOS (states/eV) of per-state weights.

        ``spin``: that spin channel alone (0 up, 1 down); None sums the spins. The
        energy grid is the same either way.
        """
        grid = np.linspace(
            self.energies_eV.min() - 1, self.energies_eV.max() + 1, points
        )
        channels = slice(None) if spin is None else slice(spin, spin + 1)
        e = self.energies_eV[channels].ravel()
        w = (weights[channels] * self.kweights[None, :, None]).ravel()
        keep = w > 1e-8
        curve = np.zeros_like(grid)
        for chunk in np.array_split(np.flatnonzero(keep), max(1, keep.sum() // 4000)):
            diff = grid[:, None] - e[chunk][None, :]
            curve += (np.exp(-0.5 * (diff / sigma_eV) ** 2) * w[chunk]).sum(axis=1)
        return grid - self.efermi_eV, curve / (sigma_eV * np.sqrt(2 * np.pi))

    def window_sum(self, weights: np.ndarray, low: float, high: float) -> float:
        """k-weighted sum of ``weights`` over states with E - E_F in [low, high)."""
        rel = self.energies_eV - self.efermi_eV
        inside = (rel >= low) & (rel < high)
        return float((weights * self.kweights[None, :, None] * inside).sum())

    def pi_mixing(self, tm: int) -> np.ndarray:
        """Per-state sqrt(t2g(TM) * O pi of its ligands)."""
        return np.sqrt(np.clip(self.t2g[tm] * self.o_pi[tm], 0.0, None))

    def summary(
        self, occupied_eV: tuple = (-1.0, 0.0), empty_eV: tuple = (0.0, 1.0)
    ) -> dict:
        """Per TM: eg, t2g, O sigma/pi and pi mixing in windows around E_F."""
        per_tm = {}
        for octa in self.octahedra:
            tm = octa.centre
            row = {
                "distortion": octa.distortion,
                "ligands": [int(i) for i in octa.ligands],
            }
            for name, (low, high) in (("occupied", occupied_eV), ("empty", empty_eV)):
                row[name] = {
                    "eg": self.window_sum(self.eg[tm], low, high),
                    "t2g": self.window_sum(self.t2g[tm], low, high),
                    "o_sigma": self.window_sum(self.o_sigma[tm], low, high),
                    "o_pi": self.window_sum(self.o_pi[tm], low, high),
                    "pi_mixing": self.window_sum(self.pi_mixing(tm), low, high),
                }
            per_tm[str(tm)] = row
        nonbonding = {
            str(o): {
                "occupied": self.window_sum(w, *occupied_eV),
                "empty": self.window_sum(w, *empty_eV),
            }
            for o, w in self.o_nonbonding.items()
        }
        return {
            "windows_eV": {"occupied": list(occupied_eV), "empty": list(empty_eV)},
            "per_tm": per_tm,
            "o_nonbonding": nonbonding,
            "skipped": {str(k): v for k, v in self.skipped.items()},
        }


def project_local(
    structure: Structure,
    phases: np.ndarray,
    energies_eV: np.ndarray,
    kweights: np.ndarray,
    efermi_eV: float,
    centres: list[int] | None = None,
    environments: list[OxygenEnvironment] | None = None,
    cutoff_A: float = 2.6,
) -> ProjectionAnalysis:
    """Local-frame eg/t2g and O p sigma/pi/non-bonding weights of every state.

    Parameters
    ----------
    structure
        The structure of the run (same site order as the projections).
    phases
        Complex amplitudes, shape (nspin, nk, nb, nions, 9), VASP orbital order.
    energies_eV, kweights, efermi_eV
        Band energies (nspin, nk, nb), k-point weights (nk,) and the Fermi level.
    centres
        Octahedron centres (default every TM).
    environments
        O environments (default :func:`oxygen_environments` of ``structure``).
    """
    phases = np.asarray(phases)
    if not np.iscomplexobj(phases) or phases.shape[-1] != len(VASP_ORBITALS):
        raise MissingPhasesError(
            "TM-O pi/sigma needs complex phase-resolved projections on s, p, d "
            "(VASP LORBIT = 12); refusing global-frame orbital labels"
        )
    octahedra, skipped = octahedral_frames(structure, centres, cutoff_A)
    eg, t2g, o_sigma, o_pi = {}, {}, {}, {}
    p_xyz = phases[..., P_SLICE][..., [2, 0, 1]]  # (px, py, pz)
    p_total = (np.abs(p_xyz) ** 2).sum(axis=-1)  # (s, k, b, ions)
    for octa in octahedra:
        d_matrix = harmonic_rotation(octa.frame, 2)
        local = phases[..., octa.centre, D_SLICE] @ d_matrix.T
        weights = np.abs(local) ** 2
        eg[octa.centre] = weights[..., list(EG)].sum(axis=-1)
        t2g[octa.centre] = weights[..., list(T2G)].sum(axis=-1)
        sigma = np.zeros(phases.shape[:3])
        total = np.zeros(phases.shape[:3])
        for ligand, bond in zip(octa.ligands, octa.bonds_A, strict=True):
            u = bond / np.linalg.norm(bond)
            sigma += np.abs(p_xyz[..., ligand, :] @ u) ** 2
            total += p_total[..., ligand]
        o_sigma[octa.centre] = sigma
        o_pi[octa.centre] = total - sigma
    if environments is None:
        environments = oxygen_environments(structure, cutoff_A=cutoff_A)
    nonbonding = {}
    for env in environments:
        ionic = [axis for axis in env.axes if axis.is_ionic()]
        if not ionic:
            continue
        weight = np.zeros(phases.shape[:3])
        for axis in ionic:
            weight += np.abs(p_xyz[..., env.index, :] @ np.asarray(axis.direction)) ** 2
        nonbonding[env.index] = weight
    return ProjectionAnalysis(
        energies_eV=np.asarray(energies_eV, float),
        kweights=np.asarray(kweights, float),
        efermi_eV=float(efermi_eV),
        octahedra=octahedra,
        eg=eg,
        t2g=t2g,
        o_sigma=o_sigma,
        o_pi=o_pi,
        o_nonbonding=nonbonding,
        skipped=skipped,
    )


def project_procar(procar, structure: Structure, efermi_eV: float, **kwargs):
    """:func:`project_local` from a pymatgen ``Procar`` (parsed PROCAR file)."""
    if not getattr(procar, "phase_factors", None):
        raise MissingPhasesError(
            "this PROCAR has no phase factors (written with LORBIT = 11); rerun the "
            "static with LORBIT = 12 (oredox: statics.projections: true)"
        )
    if list(procar.orbitals)[: len(VASP_ORBITALS)] != list(VASP_ORBITALS):
        raise MissingPhasesError(f"unexpected PROCAR orbitals {procar.orbitals}")
    spins = list(procar.phase_factors)
    phases = np.stack([procar.phase_factors[s][..., :9] for s in spins])
    energies = np.stack([procar.eigenvalues[s] for s in spins])
    return project_local(
        structure, phases, energies, np.asarray(procar.weights), efermi_eV, **kwargs
    )
