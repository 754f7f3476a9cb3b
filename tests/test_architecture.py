"""The package's shape: no import cycles, layers that point one way, small modules.

The import graph is read from the source (every ``import`` statement, also those inside
functions, which would otherwise hide a cycle), then every module is imported in a
fresh interpreter in dependency order.
"""

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import oredox

PACKAGE = Path(oredox.__file__).parent
MAX_LINES = 460


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """oredox modules that ``name`` imports anywhere in its source."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}".rstrip(".")
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def test_no_import_cycles_and_every_module_imports_in_dependency_order():
    try:
        order = list(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
    script = "import importlib\nfor name in %r:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", script % order],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_layers_point_one_way():
    """structures and analysis never import workflows or the command line;
    nothing but the command line imports it."""
    for name, imports in GRAPH.items():
        if name.startswith(("oredox.structures", "oredox.analysis")):
            upper = ("oredox.workflows", "oredox.cli")
            bad = {i for i in imports if i.startswith(upper)}
            assert not bad, f"{name} imports {bad}"
        if not name.startswith("oredox.cli"):
            assert not {i for i in imports if i.startswith("oredox.cli")}, name


def test_the_flow_never_asks_which_engine_it_holds():
    for name in ("oredox.workflows.hull_flow", "oredox.workflows.study_document"):
        source = MODULES[name].read_text()
        assert "hasattr(" not in source, name
        assert '"vasp"' not in source and '"gpaw"' not in source, name


def test_modules_stay_readable():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
