"""Write tests/data/MANIFEST.tsv: each file the tests read, its hash, source, licence.

    python scripts/data_manifest.py          # rewrite the manifest
    python scripts/data_manifest.py --check  # exit 1 when it is stale

Each folder's source and licence are stated once below (the provenance notes beside the
files say more: commits, upstream paths, the calculations); tests/test_data_manifest.py
checks that the manifest lists every file with its current SHA-256.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
MANIFEST = DATA / "MANIFEST.tsv"

# folder prefix -> (source, licence, provenance note); the longest prefix wins
SOURCES: dict[str, tuple[str, str, str]] = {
    "bader/Li2O/": (
        "materialsproject/pymatgen-db tests/test_files/db_test/Li2O (real VASP run)",
        "MIT",
        "bader/PROVENANCE.md",
    ),
    "bader/YPO4/": (
        "hackingmaterials/atomate insertion_wf/YPO4-static/outputs (real VASP run)",
        "BSD-3-Clause (LBNL modified BSD)",
        "bader/PROVENANCE.md",
    ),
    "vasp/recorded/quacc_NiO_mp_static/": (
        "Quantum-Accelerators/quacc tests/core/schemas/test_files/vasp_mp_run1 "
        "(real VASP run)",
        "BSD-3-Clause",
        "vasp/recorded/PROVENANCE.md",
    ),
    "vasp/recorded/pymatgen_Li_relax/": (
        "materialsproject/pymatgen-core test-files/io/vasp/fixtures/relaxation "
        "(real VASP run)",
        "MIT",
        "vasp/recorded/PROVENANCE.md",
    ),
    "vasp/recorded/pydefect_MgO_2x2x2_perfect/": (
        "kumagai-group/pydefect tests/cli/vasp/vasp_files/MgO_2x2x2_perfect "
        "(real VASP run)",
        "MIT",
        "vasp/recorded/PROVENANCE.md",
    ),
    "vasp/LTNO_ltno-2022/": (
        "reference VASP inputs written by hand for this project",
        "BSD-3-Clause (oredox)",
        "vasp/LTNO_ltno-2022/inputs/README.md",
    ),
    "vasp/": (
        "reference VASP inputs (atomate2's test layout) written for this project",
        "BSD-3-Clause (oredox)",
        "vasp/recorded/PROVENANCE.md",
    ),
    "documents/": (
        "a real GPAW 26.7.0 static run by oredox for this project",
        "BSD-3-Clause (oredox)",
        "documents/PROVENANCE.md",
    ),
    "studies/": (
        "real oredox study documents (CHGNet, GPAW) exported from their stores",
        "BSD-3-Clause (oredox)",
        "studies/README.md",
    ),
    "framework/": (
        "a real CHGNet relaxation run by oredox for this project",
        "BSD-3-Clause (oredox)",
        "framework/README.md",
    ),
}
HEADER = "path\tbytes\tsha256\tsource\tlicence\tprovenance"


def source_of(relative: str) -> tuple[str, str, str]:
    """The (source, licence, provenance note) of a file under tests/data."""
    if relative.endswith((".md", "POTCAR.spec")):
        return ("written for this project", "BSD-3-Clause (oredox)", relative)
    prefixes = [prefix for prefix in SOURCES if relative.startswith(prefix)]
    if not prefixes:
        raise SystemExit(f"error: no source is recorded for tests/data/{relative}")
    return SOURCES[max(prefixes, key=len)]


def manifest_text() -> str:
    """The manifest as it should read for the files under tests/data now."""
    lines = [HEADER]
    for path in sorted(DATA.rglob("*")):
        relative = path.relative_to(DATA).as_posix()
        if not path.is_file() or relative == MANIFEST.name:
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        row = (relative, str(len(data)), digest, *source_of(relative))
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def main() -> None:
    text = manifest_text()
    if "--check" in sys.argv[1:]:
        if not MANIFEST.exists() or MANIFEST.read_text() != text:
            raise SystemExit(
                "tests/data/MANIFEST.tsv is stale: run python scripts/data_manifest.py"
            )
        return
    MANIFEST.write_text(text)
    print(f"wrote {MANIFEST} ({text.count(chr(10)) - 1} files)")


if __name__ == "__main__":
    main()
