"""Bad input, as a careless or hostile user types it, across every command.

Each case must end with exit status 2 and exactly one line on stderr, starting with
``error:`` (no traceback, no usage box), before anything expensive runs (the local
run and the demo are stopped if they get that far) and without writing anything:
no file appears in the working folder, the work folder or the store.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from oredox.cli import main

TEMPLATE = """name: bad input test
host: {o3_formula: LiCoO2, supercell: [1, 1, 1]}
engine: chgnet
relax: {fmax_eV_per_A: 0.1, max_steps: 5}
screening: {relax_all: true}
"""
PROFILE = "name: c\npartition: cpu\n"
BINARY = bytes(range(256)) * 4
LONG = "x" * 5000
BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def template_with(**changes: str) -> str:
    """The good template with some lines replaced (key: new YAML value)."""
    lines = []
    for line in TEMPLATE.splitlines():
        key = line.split(":", 1)[0]
        lines.append(f"{key}: {changes.pop(key)}" if key in changes else line)
    lines += [f"{key}: {value}" for key, value in changes.items()]
    return "\n".join(lines) + "\n"


# files the cases refer to as {name}; written into the test's folder
FILES: dict[str, str | bytes | None] = {
    "good.yaml": TEMPLATE,
    "profile.yaml": PROFILE,
    "binary.yaml": BINARY,
    "latin1.yaml": "name: caf\xe9\n".encode("latin-1"),
    "empty.yaml": "",
    "list.yaml": "- a\n- b\n",
    "scalar.yaml": "just a string\n",
    "bad-syntax.yaml": "name: [unclosed\n",
    "bomb.yaml": BOMB,
    "afile": "I am a file, not a folder\n",
    "adir": None,  # a folder
    "static-garbage/vasprun.xml": "<xml> not a vasprun",
    "static-binary/gpaw_static.json": BINARY,
    "static-empty": None,
    "unknown-key.yaml": TEMPLATE + "screenin: {}\n",
    "wrong-type.yaml": template_with(relax="{max_steps: many}"),
    "neg-fmax.yaml": template_with(relax="{fmax_eV_per_A: -0.1}"),
    "zero-steps.yaml": template_with(relax="{max_steps: 0}"),
    "zero-cell.yaml": template_with(host="{o3_formula: LiCoO2, supercell: [0, 1, 1]}"),
    "huge-cell.yaml": template_with(
        host="{o3_formula: LiCoO2, supercell: [1000, 1000, 1000]}"
    ),
    "96-li.yaml": template_with(
        host="{o3_formula: LiCoO2, supercell: [4, 4, 2]}",
        screening="{rankers: [ewald]}",
    ),
    "no-seed.yaml": template_with(host="{seed: lto}"),
    "no-host.yaml": template_with(host="{}"),
    "two-hosts.yaml": template_with(host="{seed: li2mno3, o3_formula: LiCoO2}"),
    "bad-formula.yaml": template_with(host="{o3_formula: Xx}"),
    "unbalanced.yaml": template_with(host="{o3_formula: LiCoO3}"),
    "no-alkali.yaml": template_with(host="{o3_formula: CoO2}"),
    "empty-name.yaml": template_with(name='""'),
    "emoji-name.yaml": template_with(name='"\U0001f600\U0001f680"'),
    "long-name.yaml": template_with(name=LONG),
    "castep.yaml": template_with(engine="castep"),
    "rb.yaml": template_with(alkali="Rb"),
    "bad-magmom.yaml": TEMPLATE + "magmoms: {Co: high}\n",
    "bad-magmom-el.yaml": TEMPLATE + "magmoms: {Xx: 1.0}\n",
    "bad-ranker.yaml": template_with(screening="{rankers: [dft]}"),
    "bad-method.yaml": template_with(screening="{method: random}"),
    "no-ranker.yaml": template_with(screening="{rankers: []}"),
    "neg-window.yaml": TEMPLATE + "statics: {window_meV_per_atom: -1}\n",
    "bad-option.yaml": TEMPLATE + "engine_options: {encut: 500}\n",
    "chgnet-u.yaml": TEMPLATE + "dft_u_preset: ltno-2022\n",
    "bad-preset.yaml": template_with(engine="vasp") + "dft_u_preset: hse\n",
    "no-l.yaml": template_with(engine="vasp") + "hubbard_u: {U_eV: {Co: 3.0}, L: {}}\n",
    "profile-binary.yaml": BINARY,
    "profile-syntax.yaml": "name: [\n",
    "profile-list.yaml": "- a\n",
    "profile-unknown.yaml": PROFILE + "partitions: x\n",
    "profile-inject.yaml": PROFILE + "account: 'x; touch PWNED'\n",
    "profile-walltime.yaml": PROFILE + "walltime: forever\n",
    "profile-nodes.yaml": PROFILE + "nodes: 0\n",
}

TEMPLATE_FILES = [
    "binary.yaml",
    "latin1.yaml",
    "empty.yaml",
    "list.yaml",
    "scalar.yaml",
    "bad-syntax.yaml",
    "bomb.yaml",
    "adir",
    "no-such.yaml",
    "unknown-key.yaml",
    "wrong-type.yaml",
    "neg-fmax.yaml",
    "zero-steps.yaml",
    "zero-cell.yaml",
    "huge-cell.yaml",
    "no-seed.yaml",
    "no-host.yaml",
    "two-hosts.yaml",
    "bad-formula.yaml",
    "unbalanced.yaml",
    "no-alkali.yaml",
    "empty-name.yaml",
    "emoji-name.yaml",
    "long-name.yaml",
    "castep.yaml",
    "rb.yaml",
    "bad-magmom.yaml",
    "bad-magmom-el.yaml",
    "bad-ranker.yaml",
    "bad-method.yaml",
    "no-ranker.yaml",
    "neg-window.yaml",
    "bad-option.yaml",
    "chgnet-u.yaml",
    "bad-preset.yaml",
    "no-l.yaml",
]
# a template whose run must stop before the first relaxation (its dry run too)
RUN_ONLY = ["96-li.yaml"]
PROFILE_FILES = [
    "profile-binary.yaml",
    "profile-syntax.yaml",
    "profile-list.yaml",
    "profile-unknown.yaml",
    "profile-inject.yaml",
    "profile-walltime.yaml",
    "profile-nodes.yaml",
    "binary.yaml",
    "empty.yaml",
    "adir",
    "no-such.yaml",
]
# where a file is to be written: under a file, a folder, an unknown format, nowhere
DESTINATIONS = ["{afile}/out.png", "{adir}", "out.xyzzy", ""]
STRUCTURE_WRITERS = [
    ["structure", "o3"],
    ["structure", "p2"],
    ["structure", "rocksalt"],
    ["structure", "layered"],
    ["structure", "seed", "li2mno3"],
    ["structure", "sqs", "--steps", "100"],
    ["structure", "sro", "--sweeps", "1", "--n-cells", "24"],
]

CASES: list[tuple[str, list[str]]] = [
    case
    for name in TEMPLATE_FILES
    for case in (
        (f"run {name}", ["run", f"{{{name}}}"]),
        (f"dry-run {name}", ["run", f"{{{name}}}", "--dry-run"]),
        (f"template show {name}", ["template", "show", f"{{{name}}}"]),
    )
]
CASES += [(f"run {name}", ["run", f"{{{name}}}"]) for name in RUN_ONLY]
CASES += [
    (f"{command[0]} profile {name}", [*command, "--profile", f"{{{name}}}"])
    for name in PROFILE_FILES
    for command in (["submit", "{good.yaml}"], ["status"], ["rerun"])
]
for destination in DESTINATIONS:
    for command in STRUCTURE_WRITERS:
        CASES.append(
            (
                f"{' '.join(command[:2])} -o {destination!r}",
                [*command, "-o", destination],
            )
        )
    CASES.append((f"demo --png {destination!r}", ["demo", "--png", destination]))
    CASES.append((f"run -o {destination!r}", ["run", "{good.yaml}", "-o", destination]))
    CASES.append((f"query --csv {destination!r}", ["query", "--csv", destination]))
    CASES.append((f"template new {destination!r}", ["template", "new", destination]))
CASES += [
    (f"demo {' '.join(args)}", ["demo", *args])
    for args in (
        ["--formula", ""],
        ["--formula", "Xx"],
        ["--formula", "LiCoO3"],
        ["--formula", "CoO2"],
        ["--formula", "Li"],
        ["--formula", "\U0001f600"],
        ["--formula", "LiCoO2;rm -rf"],
        ["--formula", "Li" * 3000],
        ["--formula", "[bold]LiCoO2"],
        ["--supercell", "0", "1", "1"],
        ["--supercell", "-1", "1", "1"],
        ["--supercell", "1000", "1000", "1000"],
        ["--supercell", "5", "5", "5"],
        ["--supercell", "a", "b", "c"],
        ["--supercell", "1", "1"],
        ["--primitive", "--supercell", "40", "40", "40"],
        ["--engine", "castep"],
        ["--engine", ""],
        ["--engine", "vasp"],
        ["--oxidation-state", "Co"],
        ["--oxidation-state", "Co=x"],
        ["--oxidation-state", "Xx=3"],
        ["--oxidation-state", "Co=9"],
        ["--fmax", "0"],
        ["--fmax", "-1"],
        ["--fmax", "nan"],
        ["--fmax", "inf"],
        ["--fmax", "abc"],
        ["--work-dir", "{afile}"],
        ["--work-dir", "{afile}/sub"],
        ["--nosuch"],
    )
]
CASES += [
    (f"query {' '.join(args)}", ["query", *args])
    for args in (
        ["deadbeef"],
        [""],
        ["[red]x[/red]"],
        ["--x-min", "abc"],
        ["--x-min", "0.8", "--x-max", "0.2"],
        ["--x-min", "nan"],
        ["--work-dir", "{afile}"],
        ["--chemsys", "Xx-O"],
        ["--engine", "castep"],
        ["--csv", "{afile}/x.csv"],
        ["--png", "{afile}/x.png", "deadbeef"],
    )
]
CASES += [
    (f"analyse {' '.join(args)}", ["analyse", *args])
    for args in (
        ["{no-such}"],
        ["{afile}"],
        ["{static-empty}"],
        ["{static-garbage}"],
        ["{static-binary}"],
        [""],
    )
]
CASES += [
    (f"template {' '.join(args)}", ["template", *args])
    for args in (
        ["show", "nosuch"],
        ["show", ""],
        ["new", "{good.yaml}"],
        ["new", "{afile}/x.yaml"],
        ["new", "x.yaml", "--from", "nosuch"],
        ["new", "x.yaml", "--from", "{binary.yaml}"],
        ["nosuch"],
    )
]
CASES += [
    (f"run {' '.join(args)}", ["run", *args])
    for args in (
        ["nosuch"],
        [""],
        ["{good.yaml}", "--engine", "castep"],
        ["{good.yaml}", "--engine", "vasp"],
        ["{good.yaml}", "--resume"],
        ["{good.yaml}", "--work-dir", "{afile}"],
        ["{good.yaml}", "--dry-run", "-o", "{afile}"],
        ["{good.yaml}", "--dry-run", "-o", "{afile}/sub"],
        ["{good.yaml}", "--dry-run", "--engine", "castep"],
    )
]
CASES += [
    (f"submit {' '.join(args)}", ["submit", *args])
    for args in (
        ["{good.yaml}", "--profile", "{profile.yaml}", "--via", "slurm"],
        ["{good.yaml}", "--profile", "{profile.yaml}", "--via", "jobflow-remote"],
        ["{good.yaml}", "--profile", "{profile.yaml}", "--engine", "castep"],
        ["{binary.yaml}", "--profile", "{profile.yaml}"],
        ["{good.yaml}"],
    )
]
CASES += [
    (
        "rerun --expiration-s -1",
        ["rerun", "--profile", "{profile.yaml}", "--expiration-s", "-1"],
    ),
    (
        "rerun --expiration-s x",
        ["rerun", "--profile", "{profile.yaml}", "--expiration-s", "x"],
    ),
]
CASES += [
    (f"structure {' '.join(args)}", ["structure", *args, "-o", "out.cif"])
    for args in (
        ["o3", "--formula", "Xx"],
        ["o3", "--formula", "LiCoO3"],
        ["o3", "--formula", ""],
        ["o3", "--supercell", "0", "1", "1"],
        ["o3", "--supercell", "1000", "1000", "1000"],
        ["p2", "--formula", "Xx"],
        ["p2", "--formula", "NaMnO3"],
        ["rocksalt", "--cations", "Li=1/2"],
        ["rocksalt", "--cations", "Xx=1"],
        ["rocksalt", "--cations", "Li=1/0,Ni=1"],
        ["rocksalt", "--cations", ""],
        ["rocksalt", "--cations", "Li=-1/2,Ni=3/2"],
        ["rocksalt", "--a", "-4.15"],
        ["rocksalt", "--a", "0"],
        ["rocksalt", "--a", "nan"],
        ["rocksalt", "--anion", "Xx"],
        ["layered", "--ordering", "nosuch"],
        ["layered", "--framework", "x"],
        ["layered", "--framework", "p2"],
        ["layered", "--framework", "p2", "--n-alkali", "-1"],
        ["layered", "--formula", "Xx"],
        ["layered", "--in-layer", "Xx"],
        ["sqs", "--n-cells", "0"],
        ["sqs", "--n-cells", "-1"],
        ["sqs", "--n-cells", "5"],
        ["sqs", "--shells", "0"],
        ["sqs", "--steps", "-1"],
        ["sqs", "--a", "-1"],
        ["sqs", "--n-cells", "1000000"],
        ["sro", "--temperature", "-1"],
        ["sro", "--temperature", "0"],
        ["sro", "--n-cells", "0"],
        ["sro", "--sweeps", "-1"],
        ["sro", "--dielectric", "0"],
        ["sro", "--n-cells", "1000000"],
        ["seed", "nosuch"],
    )
]
CASES += [
    (f"structure orderings {' '.join(args)}", ["structure", "orderings", *args])
    for args in (
        ["--fraction", "0"],
        ["--fraction", "2"],
        ["--fraction", "abc"],
        ["--fraction", "1/3", "--max-sites", "0"],
        ["--fraction", "1/3", "--max-sites", "-5"],
        ["--fraction", "1/3", "--max-sites", "100000"],
    )
]
CASES += [(f"unknown command {c}", [c]) for c in ("nosuch", "demos", "-x")]


def snapshot(root: Path) -> set[tuple[str, int]]:
    return {
        (str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1)
        for p in root.rglob("*")
    }


@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    folder = tmp_path / "inputs"
    for name, content in FILES.items():
        path = folder / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)

    def expensive(*args, **kwargs):
        raise AssertionError("bad input reached the run of the flow")

    monkeypatch.setattr("oredox.workflows.study.run_hull_flow", expensive)
    monkeypatch.setattr("oredox.workflows.demo.run_hull_flow", expensive)
    return folder


def fill(arg: str, folder: Path) -> str:
    if arg.startswith("{") and arg.endswith("}"):
        return str(folder / arg[1:-1])
    for name in ("afile", "adir"):
        arg = arg.replace(f"{{{name}}}", str(folder / name))
    return arg


@pytest.mark.parametrize(("case", "argv"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_gets_one_error_line(
    case, argv, bad_files, tmp_path, monkeypatch, capsys
):
    args = [fill(a, bad_files) for a in argv]
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert done.value.code == 2, (case, out.err[-2000:], out.out[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err[-2000:]
    assert "Traceback" not in out.err + out.out
    assert snapshot(tmp_path) == before, case


def test_there_are_at_least_200_cases():
    assert len(CASES) >= 200
