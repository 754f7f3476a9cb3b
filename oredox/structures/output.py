"""Writing generated structures: CIF or POSCAR by file name, plus a JSON record.

The JSON beside the structure file holds the formula, space group, lattice and the
structure's ``properties["provenance"]`` (method, parameters, seed, quality metrics),
so a cell can always be traced to how it was made.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError


def write_structure(structure: Structure, path: str | Path) -> tuple[Path, Path]:
    """Write ``structure`` to ``path`` (``.cif``, or POSCAR/CONTCAR/``.vasp``) and JSON.

    Returns
    -------
    (structure file, JSON record)
        The record is ``path`` with the suffix ``.json`` (``POSCAR.json`` for POSCAR).
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".cif"):
        text = str(CifWriter(structure))
    elif name.endswith(".vasp") or name.startswith(("poscar", "contcar")):
        if not structure.is_ordered:
            raise OredoxInputError(
                "a POSCAR cannot hold partial occupancies; write a .cif or order the "
                "structure first (sqs, sro)"
            )
        text = Poscar(structure).get_str()
    else:
        raise OredoxInputError(
            f"cannot tell the format of {path.name}: use a .cif, .vasp or POSCAR name"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if "." in path.name:
        record = path.with_suffix(".json")
    else:
        record = path.with_name(path.name + ".json")
    record.write_text(json.dumps(describe(structure), indent=2, default=_plain))
    return path, record


def describe(structure: Structure) -> dict:
    """Formula, space group, lattice and provenance of ``structure`` as plain data."""
    info = {
        "formula": structure.composition.formula,
        "n_sites": len(structure),
        "lattice_abc_A": [round(x, 5) for x in structure.lattice.abc],
        "lattice_angles_deg": [round(x, 4) for x in structure.lattice.angles],
        "volume_A3": round(structure.volume, 4),
        "provenance": structure.properties.get("provenance", {}),
    }
    if structure.is_ordered:
        analyzer = SpacegroupAnalyzer(structure, symprec=1e-3)
        info["space_group"] = analyzer.get_space_group_symbol()
    return info


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value)} to JSON")
