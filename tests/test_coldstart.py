"""Cold start: what a fresh process imports before it does any work.

Every ``oredox`` command imports :mod:`oredox.cli`; each command imports what it needs
(pymatgen, numba, scipy, matplotlib, jobflow, torch) when it runs, so that ``oredox
--help`` and ``--version`` load none of them. Importing
:mod:`oredox.structures.delithiation` loads neither numba nor pymatgen's symmetry
analyser: the compiled loops and spglib come in with the first enumeration. The checks
run in fresh interpreters (this one has imported everything already) and assert on
``sys.modules``, never on times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from oredox.cli.structure import SEED_NAMES
from oredox.structures.seeds import SEEDS

# top-level modules that no command needs to parse its arguments or print its help
HEAVY = ("pymatgen", "numba", "scipy", "matplotlib", "jobflow", "torch", "spglib")


# appended to the code under test: prints the loaded modules of HEAVY (argv[1], JSON)
PROBE = """
import json, sys
heavy = set(json.loads(sys.argv[1]))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def _loaded_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter; the modules of HEAVY it has loaded."""
    result = subprocess.run(
        [sys.executable, "-c", code + PROBE, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_command_line_loads_no_heavy_library():
    loaded = _loaded_after("import oredox.cli")
    assert not {m.split(".")[0] for m in loaded}, sorted(loaded)


def test_delithiation_loads_numba_and_the_symmetry_analyser_on_first_use():
    loaded = _loaded_after("import oredox.structures.delithiation")
    assert "numba" not in loaded
    assert "pymatgen.symmetry.analyzer" not in loaded
    # the first enumeration brings them in and gives the known counts
    loaded = _loaded_after(
        "from oredox.structures.delithiation import alkali_symmetry, enumerate_all\n"
        "from oredox.structures.frameworks import make_supercell, o3_layered\n"
        "host = make_supercell(o3_layered('LiCoO2'), (2, 1, 1))\n"
        "configs = enumerate_all(alkali_symmetry(host))\n"
        "counts = [sum(c.n_vacancies == k for c in configs) for k in range(7)]\n"
        "assert counts == [1, 1, 3, 3, 3, 1, 1], counts\n"
    )
    assert {"numba", "pymatgen.symmetry.analyzer"} <= loaded


def test_help_and_version_exit_0_in_a_fresh_process():
    for argv in (["--help"], ["--version"], ["structure", "seed", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "oredox.cli", *argv],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert result.returncode == 0, (argv, result.stderr)
        assert result.stderr == ""
    assert "ltno-spread" in result.stdout  # the seed names in ``seed --help``


def test_the_seed_names_of_the_command_line_are_the_seeds():
    assert tuple(SEEDS) == SEED_NAMES
