# ruff: noqa: E501
"""Progress that tells the truth: live parsers on real output, ETA by job kind,
plain lines off a terminal, and third-party output kept in the run's log."""

import io
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jobflow import Flow, job

from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows import live
from oredox.workflows.execution import run_flow
from oredox.workflows.progress import (
    PLAIN_EVERY_S,
    JobTimes,
    StudyProgress,
    eta_text,
    format_duration,
)

GPAW_STATIC = Path(__file__).parent / "data" / "documents" / "gpaw_Li2MnO3_static"

# The first two ionic steps and the start of the third of a real VASP OSZICAR,
# copied byte for byte from materialsproject/pymatgen,
# tests/files/io/vasp/outputs/OSZICAR (commit 787ee7926b19864f8c5be3e58653d804b1692951,
# MIT licence), its lines 1-41 (VASP writes lines over 88 characters).
OSZICAR_LINES = """\
       N       E                     dE             d eps       ncg     rms          rms(c)
DAV:   1     0.450724605593E+04    0.45072E+04   -0.17777E+05 16576   0.160E+03

DAV:   2     0.143824705755E+03   -0.43634E+04   -0.40120E+04 17280   0.469E+02

DAV:   3    -0.512073149912E+03   -0.65590E+03   -0.63590E+03 18405   0.186E+02

DAV:   4    -0.547713139455E+03   -0.35640E+02   -0.35298E+02 20112   0.484E+01

DAV:   5    -0.548546701358E+03   -0.83356E+00   -0.83160E+00 20424   0.701E+00    0.851E+01
RMM:   6    -0.488463750887E+03    0.60083E+02   -0.22324E+02 16576   0.296E+01    0.311E+01
RMM:   7    -0.520702913810E+03   -0.32239E+02   -0.53291E+01 16697   0.140E+01    0.130E+01
RMM:   8    -0.525419918550E+03   -0.47170E+01   -0.84190E+00 16584   0.484E+00    0.709E+00
RMM:   9    -0.526342032122E+03   -0.92211E+00   -0.27049E+00 16671   0.314E+00    0.217E+00
RMM:  10    -0.526354974277E+03   -0.12942E-01   -0.29020E-01 16576   0.125E+00    0.859E-01
RMM:  11    -0.526356026600E+03   -0.10523E-02   -0.10044E-01 16703   0.654E-01    0.433E-01
RMM:  12    -0.526360653810E+03   -0.46272E-02   -0.15722E-02 17580   0.312E-01    0.271E-01
RMM:  13    -0.526359966037E+03    0.68777E-03   -0.26716E-03 16713   0.122E-01    0.997E-02
RMM:  14    -0.526360251133E+03   -0.28510E-03   -0.18964E-03 17598   0.940E-02    0.604E-02
RMM:  15    -0.526360228029E+03    0.23104E-04   -0.18211E-04 16576   0.314E-02    0.231E-02
RMM:  16    -0.526360231855E+03   -0.38256E-05   -0.90542E-05 16769   0.199E-02    0.866E-03
RMM:  17    -0.526360234086E+03   -0.22317E-05   -0.49177E-06 11241   0.633E-03    0.345E-03
RMM:  18    -0.526360235093E+03   -0.10063E-05   -0.36187E-06 10717   0.423E-03

   1 F= -.52636024E+03 E0= -.52636024E+03  d E =-.526360E+03  mag=     0.0000
       N       E                     dE             d eps       ncg     rms          rms(c)
DAV:   1    -0.528323643964E+03   -0.19634E+01   -0.91186E+01 21736   0.334E+01    0.108E+01
RMM:   2    -0.526488080859E+03    0.18356E+01   -0.97948E+00 16576   0.761E+00    0.316E+00
RMM:   3    -0.526341040064E+03    0.14704E+00   -0.90250E-01 17379   0.221E+00    0.112E+00
RMM:   4    -0.526293840762E+03    0.47199E-01   -0.58767E-02 16968   0.536E-01    0.426E-01
RMM:   5    -0.526289550296E+03    0.42905E-02   -0.10735E-02 17268   0.243E-01    0.112E-01
RMM:   6    -0.526289231250E+03    0.31905E-03   -0.17826E-03 16853   0.938E-02    0.487E-02
RMM:   7    -0.526289146842E+03    0.84407E-04   -0.27131E-04 16673   0.359E-02    0.149E-02
RMM:   8    -0.526289142173E+03    0.46694E-05   -0.34838E-05 16462   0.158E-02    0.654E-03
RMM:   9    -0.526289141471E+03    0.70207E-06   -0.50653E-06 11279   0.480E-03

   2 F= -.52628914E+03 E0= -.52628914E+03  d E =0.710936E-01  mag=     0.0000
       N       E                     dE             d eps       ncg     rms          rms(c)
DAV:   1    -0.527168935517E+03   -0.87979E+00   -0.27496E+01 21576   0.180E+01    0.602E+00
RMM:   2    -0.526601756062E+03    0.56718E+00   -0.30208E+00 16576   0.422E+00    0.173E+00
RMM:   3    -0.526557476162E+03    0.44280E-01   -0.27010E-01 17546   0.117E+00    0.652E-01
"""


def write_cut(folder: Path, name: str, text: str) -> Path:
    """``text`` as a file of ``folder``, as a running program leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_oszicar_gives_the_last_ionic_step_and_the_running_scf(tmp_path):
    lines = OSZICAR_LINES.splitlines(keepends=True)
    running = write_cut(tmp_path / "a", "OSZICAR", "".join(lines))
    activity = live.read_activity(running)
    assert activity.ionic_step == 2
    assert activity.energy_eV == pytest.approx(-526.28914)
    assert activity.scf_iteration == 3
    assert activity.scf_energy_eV == pytest.approx(-526.557476162)
    # VASP is half-way through the next line: it is not read
    cut = "".join(lines) + lines[-1][:30]
    assert live.read_activity(write_cut(tmp_path / "b", "OSZICAR", cut)) == activity
    # ended with an ionic step: no SCF running
    end = next(i for i, line in enumerate(lines) if " 2 F=" in line)
    between = live.read_activity(
        write_cut(tmp_path / "c", "OSZICAR", "".join(lines[: end + 1]))
    )
    assert (between.ionic_step, between.scf_iteration) == (2, None)
    assert between.describe() == "step 2: E -526.2891 eV"
    # the first SCF, before any ionic step
    first = live.read_activity(write_cut(tmp_path / "d", "OSZICAR", "".join(lines[:4])))
    assert (first.ionic_step, first.scf_iteration) == (None, 2)


def test_gpaw_log_gives_the_scf_iteration_and_whether_it_converged(tmp_path):
    whole = live.read_activity(GPAW_STATIC)
    assert (whole.scf_iteration, whole.scf_converged) == (22, True)
    assert whole.scf_energy_eV == pytest.approx(-53.448143)
    assert whole.ionic_step is None
    # the same log as GPAW left it at iteration 10, the 11th line half written
    text = (GPAW_STATIC / "gpaw.txt").read_text()
    at_10 = text[: text.index("|iter:  11|") + 12]
    running = live.read_activity(write_cut(tmp_path / "a", "gpaw.txt", at_10))
    assert (running.scf_iteration, running.scf_converged) == (10, False)
    assert running.describe() == "SCF 10 E -53.2855 eV"
    # the tail of a long log: the line cut at its start is dropped
    tail = live.read_tail(GPAW_STATIC / "gpaw.txt", size=200)
    assert tail[-1] == "Max RSS: 943.516  # MiB"
    assert set(tail) <= set(text.splitlines()) and len(tail) == 4
    assert live.read_activity(tmp_path) is None  # a CHGNet job: nothing to read


def test_ase_optimizer_log_of_a_real_cell_relaxation(tmp_path):
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms = bulk("Cu", cubic=True).repeat((2, 1, 1))
    atoms.rattle(0.05, seed=1)
    atoms.calc = EMT()
    log = tmp_path / live.OPTIMIZER_LOG_FILE
    optimizer = BFGS(FrechetCellFilter(atoms), logfile=str(log))
    optimizer.run(fmax=0.05, steps=4)
    shutil.copy(GPAW_STATIC / "gpaw.txt", tmp_path / live.GPAW_LOG_FILE)
    activity = live.read_activity(tmp_path)
    assert activity.ionic_step == optimizer.nsteps == 4
    assert activity.energy_eV == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
    assert activity.max_force_eV_per_A > 0.05  # 4 steps: not converged yet
    assert activity.scf_iteration == 22  # the GPAW log beside it
    assert activity.describe().startswith("step 4: E ")
    assert "fmax" in activity.describe() and "; SCF 22 " in activity.describe()


def test_gpaw_relaxations_write_the_logs_the_display_reads():
    from oredox.workflows.engines import gpaw

    assert gpaw.LOG_FILE == live.GPAW_LOG_FILE
    assert gpaw.BANDS_LOG_FILE == live.GPAW_BANDS_LOG_FILE
    relax = gpaw.GpawEngine().relax_maker(fmax=0.03)
    assert relax.relax_kwargs == {"fmax": 0.03, "logfile": live.OPTIMIZER_LOG_FILE}
    assert relax.calculator_kwargs["txt"] == live.GPAW_LOG_FILE


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_eta_comes_from_finished_jobs_of_the_same_kind_and_survives_a_fan_out():
    times = JobTimes()
    assert times.remaining_s(["relax a", "static a"]) == (0.0, 2)
    times.add("relax host", 300.0)
    times.add("relax k1-0", 100.0)
    times.add("screen delithiated configurations", 5.0)
    assert times.mean_s("relax Li metal") == 200.0
    assert times.remaining_s(["relax a", "relax b", "static a"], "relax c", 50.0) == (
        550.0,
        1,
    )
    assert times.remaining_s([], "relax c", 900.0) == (0.0, 0)  # over its mean
    assert eta_text(550.0, 1, 4) == "ETA > 9 min 10 s + 1 job not timed yet"
    assert eta_text(0.0, 2, 2) == "ETA ? (no job of these kinds finished yet)"
    assert [format_duration(s) for s in (42, 185, 600, 7500)] == [
        "42 s",
        "3 min 05 s",
        "10 min",
        "2 h 05 min",
    ]

    clock = Clock()
    shown = StudyProgress("study", None, clock=clock)
    shown.add([(("h", 1), "relax host"), (("s", 1), "screen")])
    shown.start(("h", 1), "relax host", None)
    clock.now += 600
    shown.finish(("h", 1))
    shown.start(("s", 1), "screen", None)
    clock.now += 10
    # the screening fans out to 4 relaxations: the total grows, the ETA is 4 x 10 min
    shown.add([((f"r{i}", 1), f"relax k{i}") for i in range(4)])
    shown.finish(("s", 1))
    assert (shown.done, len(shown.known)) == (2, 6)
    assert shown.eta() == "ETA ~40 min"
    shown.start(("r0", 1), "relax k0", None)
    clock.now += 240
    assert shown.eta() == "ETA ~36 min"  # 6 min left of this one, 3 x 10 min
    assert shown.live_line() == "relax k0 (4 min 00 s)"


def test_off_a_terminal_the_progress_is_a_few_plain_lines(tmp_path):
    clock = Clock()
    stream = io.StringIO()
    folder = write_cut(
        tmp_path / "job", "gpaw.txt", (GPAW_STATIC / "gpaw.txt").read_text()
    )
    with StudyProgress("gpaw study", stream, clock=clock) as shown:
        shown.add([(("a", 1), "relax host"), (("b", 1), "static host")])
        shown.start(("a", 1), "relax host", folder)
        for _ in range(100):  # 100 refreshes within a minute: no line
            clock.now += 0.5
            shown.poll()
        clock.now += PLAIN_EVERY_S
        shown.poll()  # a minute on: one line on the running job
        clock.now += 30
        shown.finish(("a", 1))
        shown.finish(("b", 1), ok=False)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 5, text
    assert lines[0].startswith("gpaw study [0/2 jobs, ")
    assert lines[0].endswith("relax host: started")
    assert "relax host (1 min 50 s): SCF 22 E -53.4481 eV converged" in lines[1]
    assert lines[2].endswith("relax host: done in 2 min 20 s")
    assert "1/2 jobs" in lines[2] and "ETA ? (no job" in lines[2]
    assert lines[3].endswith("static host: not run (a job it needs failed)")
    assert "2/2 jobs, 1 failed" in lines[4] and lines[4].endswith("stopped")


def test_an_interrupted_run_is_stopped_not_finished():
    stream = io.StringIO()
    with (
        pytest.raises(KeyboardInterrupt),
        StudyProgress("study", stream, clock=Clock()) as shown,
    ):
        shown.add([(("a", 1), "relax host"), (("b", 1), "relax k1-0")])
        shown.start(("a", 1), "relax host")
        raise KeyboardInterrupt
    last = stream.getvalue().splitlines()[-1]
    assert "0/2 jobs" in last and last.endswith("stopped")
    assert "1 job not timed yet" not in last  # singular, when it is shown


class ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_the_display_not_the_run():
    with StudyProgress("study", ClosedPipe(), clock=Clock()) as shown:
        shown.add([(("a", 1), "relax host")])
        shown.start(("a", 1), "relax host")
        shown.finish(("a", 1))
    assert shown.mode == "off" and shown.done == 1


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_bar_and_a_live_line(tmp_path):
    clock = Clock()
    stream = Terminal()
    folder = write_cut(
        tmp_path / "job", "gpaw.txt", (GPAW_STATIC / "gpaw.txt").read_text()
    )
    with StudyProgress("gpaw study", stream, clock=clock) as shown:
        assert shown.mode == "tty"
        shown.add([(("a", 1), "relax host"), (("b", 1), "relax k1-0")])
        shown.start(("a", 1), "relax host", folder)
        clock.now += 75
        shown.poll()
        screen = stream.getvalue()
        assert "0/2 jobs" in screen
        assert "relax host (1 min 15 s): SCF 22 E -53.4481 eV converged" in screen
        clock.now += 45
        shown.finish(("a", 1))
        assert (
            "1/2 jobs" in stream.getvalue() and "ETA ~2 min 00 s" in stream.getvalue()
        )


TO_LOG = """
import os, sys, warnings
from oredox.workflows.progress import terminal_to_log
with open(sys.argv[1], "a") as log:
    with terminal_to_log(log) as terminal:
        os.write(1, b"C-level stdout\\n")
        os.write(2, b"C-level stderr\\n")
        print("python print")
        sys.__stdout__.write("to sys.__stdout__\\n")
        print("to sys.stderr", file=sys.stderr)
        warnings.warn("a library's warning")
        terminal.write("BAR\\n")
print("after")
"""


def test_third_party_output_goes_to_the_log_and_the_bar_to_the_terminal(tmp_path):
    log = tmp_path / "run.log"
    done = subprocess.run(
        [sys.executable, "-c", TO_LOG, str(log)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "after\n"
    assert done.stderr == "BAR\n"
    text = log.read_text()
    for line in (
        "C-level stdout",
        "C-level stderr",
        "python print",
        "to sys.__stdout__",
        "to sys.stderr",
        "UserWarning: a library's warning",
    ):
        assert line in text


@job
def noisy(value):
    import os
    import warnings

    os.write(1, b"CHGNet-like banner on fd 1\n")
    warnings.warn("torch-like warning", stacklevel=1)
    return value + 1


def test_run_flow_keeps_job_output_off_the_terminal(isolated_settings, capfd):
    store = get_job_store(load_settings())
    first = noisy(1)
    run_dir = isolated_settings / "run"
    responses = run_flow(Flow([first]), store, run_dir, progress=True)
    assert responses[first.uuid][1].output == 2
    out, err = capfd.readouterr()
    assert "banner" not in out + err and "torch-like" not in out + err
    assert "noisy: started" in err and "noisy: done in" in err  # plain lines
    log = (run_dir / "run.log").read_text()
    assert "CHGNet-like banner on fd 1" in log and "torch-like warning" in log


def test_dry_run_shows_its_steps_and_logs_beside_the_inputs(tmp_path, capfd):
    from oredox.workflows.study import dry_run
    from oredox.workflows.templates import load_template

    path = tmp_path / "t.yaml"
    path.write_text(
        textwrap.dedent("""\
        name: LiNiO2 dry
        host: {o3_formula: LiNiO2, supercell: [1, 1, 1]}
        engine: vasp
        screening: {relax_all: true, rankers: [ewald]}
        """)
    )
    folders = dry_run(load_template(path), tmp_path / "out")
    _, err = capfd.readouterr()
    assert "\r" not in err
    assert "prepare the host: started" in err and "screen candidates: done in" in err
    for folder in folders:
        assert f"write {folder.name}: done in" in err
    assert (tmp_path / "out" / "dry-run.log").exists()
