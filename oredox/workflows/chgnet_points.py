"""CHGNet energies of many arrangements of one host, with one model load.

:class:`ChgnetSinglePoint` is the CHGNet stage of the screening
(:mod:`oredox.workflows.screening`): single points (or short relaxations) of the
host with the vacant alkali of each arrangement removed, in model calls bounded in
structures and, on a CPU, in atoms (:func:`model_calls`).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from oredox.structures.delithiation import AlkaliSymmetry

# atoms per CHGNet model call on a CPU at most: each 48-atom structure of a call was
# measured to add about 0.6 GB (ChgnetSinglePoint)
MAX_BATCH_ATOMS_CPU = 192


class ChgnetSinglePoint:
    """CHGNet energies (eV per cell) of arrangements of a host, one model for all.

    The pretrained model loads once (lazily); ``energies`` sends the structures through
    ``CHGNet.predict_structure`` ``batch_size`` at a time. Default batch size: 16 on a
    GPU (CHGNet's own default), 1 on a CPU. On a CPU each model call also holds at most
    :data:`MAX_BATCH_ATOMS_CPU` atoms, whatever the batch size: every structure of a
    call adds its graphs to the memory. Measured (``benchmarks/bench_chgnet_batch.py``,
    2026-12-02, 2-core machine, one torch thread, CHGNet 0.4.2; 40 cells of 48 atoms,
    warm, a fresh process per setting, min / median of 3):

    | batch size | warm wall time | peak memory |
    |---|---|---|
    | 1 | 5.83 / 6.44 s | 1.2 GB |
    | 2 | 6.38 / 7.09 s | 1.8 GB |
    | 4 | 6.10 / 6.32 s | 3.0 GB |
    | 8 | 6.99 / 7.51 s | 5.1 GB |
    | 16 | 20.99 / 21.42 s | 9.1 GB |

    One structure at a time is as fast as any batch (within the spread) and holds the
    least memory (about 0.6 GB more per 48-atom structure in a call); the energies
    agree exactly. The saving against one force-field job per structure is the single
    model load.
    """

    def __init__(
        self, host: Structure, symmetry: AlkaliSymmetry, batch_size: int | None = None
    ):
        self.host = host
        self.symmetry = symmetry
        self._batch_size = batch_size
        self._model = None

    @property
    def batch_size(self) -> int:
        """Structures per model call (see the class docstring for the default)."""
        if self._batch_size is not None:
            return self._batch_size
        import torch

        return 16 if torch.cuda.is_available() else 1

    @batch_size.setter
    def batch_size(self, value: int | None) -> None:
        self._batch_size = value

    @property
    def model(self):
        """The pretrained CHGNet (loaded on first use)."""
        if self._model is None:
            from chgnet.model import CHGNet

            self._model = CHGNet.load(verbose=False)
        return self._model

    def structures(self, occupied: np.ndarray) -> list[Structure]:
        """The host with the vacant alkali of each occupation row removed."""
        out = []
        for row in np.asarray(occupied, dtype=bool):
            s = self.host.copy()
            s.remove_sites(
                [self.symmetry.alkali_indices[i] for i in np.flatnonzero(~row)]
            )
            out.append(s)
        return out

    def energies(self, occupied: np.ndarray) -> np.ndarray:
        """Total energies in eV of the arrangements (n, n_sites)."""
        structures = self.structures(occupied)
        energies = []
        for calls in model_calls(structures, self.batch_size, self.max_batch_atoms):
            predictions = self.model.predict_structure(
                calls, task="e", batch_size=len(calls)
            )
            if isinstance(predictions, dict):
                predictions = [predictions]
            energies += [
                float(p["e"]) * len(s) for p, s in zip(predictions, calls, strict=True)
            ]
        return np.array(energies)

    @property
    def max_batch_atoms(self) -> int | None:
        """Atoms per model call at most: :data:`MAX_BATCH_ATOMS_CPU` on a CPU."""
        import torch

        return None if torch.cuda.is_available() else MAX_BATCH_ATOMS_CPU

    def relaxed_energies(
        self, occupied: np.ndarray, fmax: float = 0.1, steps: int = 200
    ) -> np.ndarray:
        """Energies in eV after short CHGNet relaxations (one shared model)."""
        from chgnet.model import StructOptimizer

        optimizer = StructOptimizer(model=self.model)
        energies = []
        for s in self.structures(occupied):
            result = optimizer.relax(s, fmax=fmax, steps=steps, verbose=False)
            energies.append(float(result["trajectory"].energies[-1]))
        return np.array(energies)


def model_calls(
    structures: list[Structure], batch_size: int, max_atoms: int | None
) -> list[list[Structure]]:
    """Consecutive groups of at most ``batch_size`` structures and ``max_atoms`` atoms.

    A structure larger than ``max_atoms`` goes alone; ``None``: no limit on atoms.
    """
    groups: list[list[Structure]] = []
    atoms = 0
    for structure in structures:
        fits = groups and len(groups[-1]) < batch_size
        if fits and max_atoms is not None:
            fits = atoms + len(structure) <= max_atoms
        if fits:
            groups[-1].append(structure)
            atoms += len(structure)
        else:
            groups.append([structure])
            atoms = len(structure)
    return groups
