"""Writing generated structures: CIF or POSCAR by file name, plus a JSON record.

- POSCAR (``POSCAR``, ``CONTCAR``, ``*.vasp``): sites sorted by element, one block
  per element (electronegativity order, as pymatgen's input sets write them), so the
  species line needs one POTCAR per element. The record keeps the site order:
  ``poscar_site_order[k]`` is the index, in the record's ``structure``, of the k-th
  site of the POSCAR (and of a CONTCAR relaxed from it).
- CIF: with the space group and its symmetry operations found at ``symprec`` (in the
  cell given, not a standardised one), so a reader regenerates every site.

The JSON beside the structure file holds the formula, space group, lattice, the
structure's ``properties["provenance"]`` (method, parameters, seed, quality metrics)
and the structure itself (pymatgen ``as_dict``, in the order it was built, with its
site properties: ``sublattice``, ``prism``, ``role``, moments), so a cell can always
be traced to how it was made and its sites to their sublattices.
:func:`read_structure` reads a file back in that order, with those labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError

SYMPREC = 1e-3  # A; built cells are exact, so a tight tolerance finds their group


def write_structure(
    structure: Structure, path: str | Path, symprec: float | None = SYMPREC
) -> tuple[Path, Path]:
    """Write ``structure`` to ``path`` (``.cif``, or POSCAR/CONTCAR/``.vasp``) and JSON.

    Parameters
    ----------
    structure
        The cell; a POSCAR needs an ordered one.
    path
        The file; its name chooses the format.
    symprec
        Symmetry tolerance (A) of the CIF's space group and of the recorded one;
        ``None`` writes the CIF in P1.

    Returns
    -------
    (structure file, JSON record)
        The record is ``path`` with the suffix ``.json`` (``POSCAR.json`` for POSCAR).
    """
    path = Path(path)
    name = path.name.lower()
    info = describe(structure, symprec)
    if name.endswith(".cif"):
        text = str(CifWriter(structure, symprec=symprec, refine_struct=False))
    elif is_poscar_name(name):
        if not structure.is_ordered:
            raise OredoxInputError(
                "a POSCAR cannot hold partial occupancies; write a .cif or order the "
                "structure first (sqs, sro)"
            )
        order = poscar_site_order(structure)
        info["poscar_site_order"] = order
        sorted_cell = Structure.from_sites([structure[i] for i in order])
        info["poscar_species"] = Poscar(sorted_cell).site_symbols
        info["poscar_counts"] = Poscar(sorted_cell).natoms
        comment = f"{info['formula']} ({info.get('space_group', 'P1')}) by oredox"
        text = Poscar(sorted_cell, comment=comment).get_str()
    else:
        raise OredoxInputError(
            f"cannot tell the format of {path.name}: use a .cif, .vasp or POSCAR name"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    record = record_path(path)
    info["structure"] = structure.as_dict()
    record.write_text(json.dumps(info, indent=2, default=_plain))
    return path, record


def poscar_site_order(structure: Structure) -> list[int]:
    """Site indices sorted into one block per element, order kept within a block.

    Elements come by Pauling electronegativity (then symbol), the order of
    pymatgen's VASP input sets: Li, Ti, Ni, O for LTNO; Na, Mn, O for P2. Sites of
    one element with different oxidation states (Mn3+, Mn4+) share one block.
    """

    def element_key(i: int) -> tuple[float, str, int]:
        element = Element(structure[i].specie.symbol)
        x = element.X if np.isfinite(element.X) else np.inf
        return x, element.symbol, i

    return sorted(range(len(structure)), key=element_key)


def read_structure(path: str | Path, record: str | Path | None = None) -> Structure:
    """Read a structure file written by oredox back in the order it was built.

    Positions and lattice come from the file (e.g. a CONTCAR relaxed from the
    POSCAR oredox wrote); the site order, the site properties (``sublattice``, ...)
    and the structure properties come from the JSON ``record`` (default: the record
    beside ``path``). A POSCAR is put back into the record's site order with
    ``poscar_site_order``; a CIF is returned as read (its sites are the CIF reader's
    expansion of the symmetry-distinct sites).

    Raises
    ------
    OredoxInputError
        If the file and the record do not describe the same sites.
    """
    path = Path(path)
    record = Path(record) if record is not None else record_path(path)
    if path.name.lower().endswith(".cif"):
        return CifParser(path).parse_structures(primitive=False)[0]
    in_file = Poscar.from_file(path, check_for_potcar=False).structure
    if not record.exists():
        return in_file
    info = json.loads(record.read_text())
    built = Structure.from_dict(info["structure"])
    order = info.get("poscar_site_order", list(range(len(built))))
    if len(in_file) != len(built) or sorted(order) != list(range(len(built))):
        raise OredoxInputError(
            f"{path.name} has {len(in_file)} sites and its record {record.name} "
            f"{len(built)}; give the record written with this file"
        )
    coords = np.zeros((len(built), 3))
    for k, i in enumerate(order):
        if in_file[k].specie.symbol != built[i].specie.symbol:
            raise OredoxInputError(
                f"site {k} of {path.name} is {in_file[k].specie.symbol}, its record "
                f"{record.name} says {built[i].specie.symbol}; give the record "
                f"written with this file"
            )
        coords[i] = in_file[k].frac_coords
    restored = Structure(
        in_file.lattice,
        built.species_and_occu,
        coords,
        site_properties=built.site_properties,
        labels=built.labels,
        properties=built.properties,
    )
    return restored


def is_poscar_name(name: str) -> bool:
    """A POSCAR by name: ``*.vasp``, ``POSCAR*`` or ``CONTCAR*`` (any case)."""
    name = name.lower()
    return name.endswith(".vasp") or name.startswith(("poscar", "contcar"))


def record_path(path: Path) -> Path:
    """The JSON record of a structure file: ``X.json`` for ``X.cif``/``X.vasp``."""
    if "." in path.name:
        return path.with_suffix(".json")
    return path.with_name(path.name + ".json")


def describe(structure: Structure, symprec: float | None = SYMPREC) -> dict:
    """Formula, space group, lattice and provenance of ``structure`` as plain data."""
    info = {
        "formula": structure.composition.formula,
        "n_sites": len(structure),
        "lattice_abc_A": [round(x, 5) for x in structure.lattice.abc],
        "lattice_angles_deg": [round(x, 4) for x in structure.lattice.angles],
        "volume_A3": round(structure.volume, 4),
        "provenance": structure.properties.get("provenance", {}),
    }
    if structure.is_ordered and symprec is not None:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        info["space_group"] = analyzer.get_space_group_symbol()
    return info


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value)} to JSON")
