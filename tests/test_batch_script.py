"""The batch script of ``submit`` under hostile values, run for real in a sandbox.

Every path that reaches the script (the launch folder, ``python``, ``launchpad_file``,
the work folder, the settings file) and the study's name are given hostile text:
spaces, ``;``, ``$(...)``, backticks, quotes, ``$$``, ``${launch_dir}``, braces,
unicode. The script is the one ``submit_fireworks`` writes and hands to ``sbatch``
(a stand-in on PATH that only says "Submitted batch job"); it is then run with
``bash`` under ``env -i``, ``module`` a no-op function and the profile's ``python`` a
stub that records what it receives. Nothing may run that the profile owner did not
write: no marker file appears, the stub receives every path unchanged, the pre-run
lines are in the script verbatim and do exactly what they say. Values that cannot be
written safely are refused with a message naming the field.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import mongomock_ng
import pytest
import yaml
from jobflow import Flow, job

from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.workflows.cluster import (
    WORKER_CODE,
    ClusterProfile,
    load_profile,
    store_identity,
)
from oredox.workflows.submit import submit_fireworks

MARK = "PWNED"  # the marker file; MARK in HOSTILE stands for its absolute path
HOSTILE = [
    "dir with  spaces",
    "semi;touch MARK;x",
    "sub$(touch MARK)x",
    "tick`touch MARK`x",
    "quotes'\"; touch MARK; echo '\"",
    "dollars $$ $HOME ${launch_dir} $${rocket_launch} $$$ x",
    "braces {x} {{ } }} {",
    "unicodé ✓ 中文 \u202e",
    "-dash && touch MARK || touch MARK & touch MARK > MARK x",
    "relative;touch PWNED;x",
    "glob * ? [a] ~ ! # %",
]
PRE_RUN = [
    'echo "pid $$ ok" > prerun-1.txt',
    "printf '%s\\n' '${launch_dir}' '$${rocket_launch}' '{x}' '}' > prerun-2.txt",
    "export GREETING='h\u00e9llo \"quoted\" `not run` $(not run)'  # ; $$",
]
TOKENS = "a,b:c/d+e=f@g%h-i.j_0"


@job
def add(a, b):
    """A job for the flow (never run here)."""
    return a + b


@pytest.fixture
def launchpad_server(monkeypatch):
    """FireWorks' LaunchPad on mongomock clients sharing one server."""
    server = mongomock_ng.store.ServerStore()

    def client(*args, **kwargs):
        return mongomock_ng.MongoClient(*args, _store=server, **kwargs)

    monkeypatch.setattr("fireworks.core.launchpad.MongoClient", client)
    monkeypatch.setattr("fireworks.core.launchpad.GRIDFS_FALLBACK_COLLECTION", None)
    return server


@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    """``sbatch`` that accepts any script (submission is not what is tested)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    sbatch = folder / "sbatch"
    sbatch.write_text('#!/bin/sh\necho "Submitted batch job 4242"\n')
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def hostile(text: str, root: Path) -> str:
    """``text`` with the placeholder MARK (not PWNED) made the marker's path."""
    return text.replace("MARK", str(root / MARK))


def hostile_path(root: Path, text: str, leaf: str | None = None) -> Path:
    """``root/text[/leaf]``, MARK in ``text`` the marker's absolute path."""
    path = root / hostile(text, root.parent)
    return path / leaf if leaf else path


def stub_python(path: Path, out: Path) -> None:
    """A ``python`` that records its arguments, folder and environment (NUL-split)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [
        "OREDOX_WORK_DIR",
        "OREDOX_CONFIG_FILE",
        "ATOMATE2_VASP_CMD",
        "OREDOX_SUBMITTED_STORE",
        "OREDOX_STORE",
        "OREDOX_DATABASE",
        "GREETING",
    ]
    values = " ".join(f'"${name}"' for name in names)
    o = shlex.quote(str(out))
    path.write_text(
        "#!/bin/bash\n"
        f"printf '%s\\0' \"$@\" > {o}/argv\n"
        f"printf '%s' \"$PWD\" > {o}/pwd\n"
        f"printf '%s\\0' {values} > {o}/env\n"
    )
    path.chmod(0o755)


def run_sandboxed(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``bash`` under ``env -i`` running ``script``, ``module`` a no-op."""
    return subprocess.run(
        [
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            f"HOME={cwd}",
            "bash",
            "-c",
            'module() { :; }; . "$1"',
            "bash",
            str(script),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def no_marker(root: Path) -> None:
    found = [p for p in root.rglob("*") if p.name == MARK]
    assert not found, found
    assert not (Path.cwd() / MARK).exists()


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_paths_and_names_stay_inert(
    text, tmp_path, monkeypatch, launchpad_server, fake_sbatch
):
    root = tmp_path / "t"
    out = tmp_path / "out"
    out.mkdir()
    python = hostile_path(root / "py", text, "python3")
    stub_python(python, out)
    launchpad_file = hostile_path(root / "lp", text, "my_launchpad.yaml")
    launchpad_file.parent.mkdir(parents=True, exist_ok=True)
    launchpad_file.write_text("host: localhost\nname: fw_test\n")
    config = hostile_path(root / "cfg", text, "oredox.yaml")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("default_engine: chgnet\n")
    work_dir = hostile_path(root / "work", text)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    monkeypatch.setenv("OREDOX_WORK_DIR", str(work_dir))
    settings = load_settings()
    profile = ClusterProfile(
        name=TOKENS,
        partition=TOKENS,
        account=TOKENS,
        qos=TOKENS,
        walltime="1-02:03:04",
        modules=[TOKENS, "vasp/6.4.2"],
        pre_run=PRE_RUN,
        vasp_cmd=f"vasp_std {TOKENS}",
        mpirun="mpirun",
        python=str(python),
        launchpad_file=str(launchpad_file),
    )
    flow = Flow([add(1, 2)], name=hostile(text, root))
    launch_dir = hostile_path(root / "launch", text)

    result = submit_fireworks(flow, profile, settings, launch_dir)

    assert result["job_id"] == "4242"
    script = Path(result["script"])
    assert script.parent.parent == launch_dir.absolute()
    text_written = script.read_text(encoding="utf-8")
    lines = text_written.split("\n")
    for line in PRE_RUN:
        assert line in lines  # verbatim, one line each
    for key in ("partition", "account", "qos"):
        assert f"#SBATCH --{key}={TOKENS}" in lines
    assert "#SBATCH --time=1-02:03:04" in lines
    (name_line,) = [x for x in lines if x.startswith("#SBATCH --job-name=")]
    assert re.fullmatch(r"#SBATCH --job-name=[A-Za-z0-9_.-]{1,64}", name_line)
    assert f"module load {TOKENS}" in lines

    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    done = run_sandboxed(script, sandbox)
    assert done.returncode == 0, done.stderr
    no_marker(tmp_path)
    argv = (out / "argv").read_text(encoding="utf-8").split("\0")[:-1]
    assert argv == [
        "-c",
        WORKER_CODE,
        "-l",
        str(launchpad_file),
        "rapidfire",
        "--nlaunches",
        "0",
    ]
    assert (out / "pwd").read_text(encoding="utf-8") == str(script.parent)
    env = (out / "env").read_text(encoding="utf-8").split("\0")[:-1]
    assert env == [
        str(work_dir),
        str(config),
        f"mpirun -np 1 vasp_std {TOKENS}",
        store_identity(settings),
        "montydb",
        "oredox",
        'h\u00e9llo "quoted" `not run` $(not run)',
    ]
    # the pre-run lines ran as written, $$ and ${launch_dir} included
    assert re.fullmatch(r"pid \d+ ok\n", (sandbox / "prerun-1.txt").read_text())
    assert (sandbox / "prerun-2.txt").read_text().split("\n")[:-1] == [
        "${launch_dir}",
        "$${rocket_launch}",
        "{x}",
        "}",
    ]


REFUSED_FIELDS = [
    ("name", "x;id"),
    ("partition", "cpu; touch PWNED"),
    ("partition", "cpu\n#SBATCH --uid=0"),
    ("partition", "cpu\n"),
    ("partition", "p" * 300),
    ("account", "$(touch PWNED)"),
    ("account", "proj 1"),
    ("qos", "`id`"),
    ("qos", "n\u00e4me"),
    ("walltime", "1:00:00; id"),
    ("walltime", "\uff11\uff12:00:00"),
    ("walltime", "12:00:00\n"),
    ("modules", ["vasp && curl evil"]),
    ("modules", ["vasp\n"]),
    ("modules", ["intel'oneapi"]),
    ("vasp_cmd", "vasp_std; id"),
    ("vasp_cmd", "vasp_std $(id)"),
    ("vasp_cmd", "  "),
    ("mpirun", "srun; id"),
    ("nodes", "2; id"),
    ("ntasks_per_node", "x"),
    ("cpus_per_task", 0),
    ("pre_run", ["ok\nrm -rf /"]),
    ("pre_run", ["ok\rrm -rf /"]),
    ("pre_run", ["nul\0byte"]),
    ("python", "/opt/py\n/bin/python"),
    ("python", "/opt/py\tbin/python"),
    ("python", "~no-such-user-oredox/bin/python"),
    ("python", "/opt/" + "p" * 5000),
    ("launchpad_file", "/x/my_launchpad.yaml\n; touch PWNED"),
    ("launchpad_file", "/x/\x1b[31mred.yaml"),
    ("launchpad_file", ""),
]


@pytest.mark.parametrize(
    ("field", "value"), REFUSED_FIELDS, ids=[f for f, _ in REFUSED_FIELDS]
)
def test_unsafe_profile_values_are_refused_naming_the_field(field, value, tmp_path):
    profile_file = tmp_path / "profile.yaml"
    data = {"name": "hpc", "partition": "cpu"} | {field: value}
    profile_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(OredoxInputError, match=field) as err:
        load_profile(profile_file)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("launch", "bad\nname"),
        ("launch", "bad\rname"),
        ("launch", "tab\tname"),
        ("launch", "long" + "x" * 300),
        ("OREDOX_WORK_DIR", "work\nexport X=1"),
        ("OREDOX_CONFIG_FILE", "cfg\n.yaml"),
    ],
)
def test_unsafe_paths_are_refused_before_the_launchpad_is_touched(
    where, value, tmp_path, monkeypatch, launchpad_server, fake_sbatch
):
    launchpad_file = tmp_path / "my_launchpad.yaml"
    launchpad_file.write_text("host: localhost\nname: fw_test\n")
    launch_dir = tmp_path / "launch"
    if where == "launch":
        launch_dir = tmp_path / value
    elif where == "OREDOX_CONFIG_FILE":
        config = tmp_path / value
        config.write_text("default_engine: chgnet\n")
        monkeypatch.setenv(where, str(config))
    else:
        monkeypatch.setenv(where, str(tmp_path / value))
    profile = ClusterProfile(
        name="t", partition="debug", launchpad_file=str(launchpad_file)
    )
    with pytest.raises(OredoxInputError) as err:
        submit_fireworks(
            Flow([add(1, 2)], name="t"), profile, load_settings(), launch_dir
        )
    message = str(err.value)
    assert ("launch folder" if where == "launch" else where) in message
    client = mongomock_ng.MongoClient(_store=launchpad_server)
    assert client["fw_test"]["fireworks"].count_documents({}) == 0


def test_the_documented_example_profile_loads(tmp_path, monkeypatch):
    """The profile shown in the running guide, as written there (``~`` expanded)."""
    guide = (Path(__file__).parents[1] / "docs" / "guide" / "running.md").read_text()
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "mycluster.yaml"
    path.write_text(example)
    profile = load_profile(path)
    assert profile.launchpad_file == str(tmp_path / "fw_config/my_launchpad.yaml")
    assert profile.pre_run == ["export OMP_NUM_THREADS=1"]
    assert profile.full_vasp_cmd == "srun vasp_std"


BAD_FILES = {
    "binary": b"\x00\x01\x02\xff\xfe",
    "latin-1": "name: caf\xe9\n".encode("latin-1"),
    "syntax": b"name: [\n",
    "list": b"- a\n- b\n",
    "scalar": b"just a string\n",
    "empty": b"",
    "deep": b"[" * 5000 + b"]" * 5000,
    "tab": b"name:\tx\n\tpartition: y\n",
}


@pytest.mark.parametrize("kind", [*BAD_FILES, "folder", "missing", "long-name"])
def test_unreadable_profile_files_are_one_input_error(kind, tmp_path):
    path = tmp_path / f"{kind}.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "long-name":
        path = tmp_path / ("p" * 5000)
    elif kind != "missing":
        path.write_bytes(BAD_FILES[kind])
    with pytest.raises(OredoxInputError, match="cluster profile"):
        load_profile(path)
