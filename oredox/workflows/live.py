"""What a running calculation is doing, read from the files it writes as it goes.

A relaxation of a 48-atom cell with GPAW or VASP runs for tens of minutes to hours;
its progress is in the text its programs write while they run, in the job's folder:

- GPAW's log (the calculator's ``txt=``, :data:`GPAW_LOG_FILE`; a static's
  full-zone pass writes :data:`GPAW_BANDS_LOG_FILE`): one ``|iter:  12| ...`` line
  per SCF iteration, with the energy, flushed by GPAW after each;
- the ASE optimiser's log (:data:`OPTIMIZER_LOG_FILE`, when the maker names it):
  one ``BFGS:    3 12:00:00  -123.456789  0.123456`` line per ionic step, with the
  energy and the largest force (for a cell relaxation, the largest generalised
  force of the cell filter, stress included);
- VASP's ``OSZICAR``: one ``DAV:  12 ...`` / ``RMM:`` line per SCF iteration and one
  ``  3 F= -.12345E+03 E0= ...`` line per ionic step (no forces).

:func:`read_activity` reads the end of these files (the last
:data:`TAIL_BYTES`: the files grow to megabytes, the state is in their last lines)
and returns an :class:`Activity`; lines still being written are ignored. A folder
with none of them (a CHGNet relaxation, which writes nothing until it ends) gives
``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GPAW_LOG_FILE = "gpaw.txt"
GPAW_BANDS_LOG_FILE = "gpaw-bands.txt"
OPTIMIZER_LOG_FILE = "optimizer.log"
OSZICAR_FILE = "OSZICAR"
TAIL_BYTES = 65536

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# GPAW 24+: "|iter:  12| 18:49:17 |  -53.405897 | -2.48 | -1.72 |  +3.1732|"
_GPAW_ITER = re.compile(r"^\|?iter:\s*(\d+)\|?\s+[\d:]+\s+\|?\s*(-?\d+\.\d+)")
# ASE optimisers: "BFGS:    3 12:00:00     -123.456789        0.123456"
_ASE_STEP = re.compile(r"^(\w+):\s+(\d+)\s+[\d:]+\s+(\S+)\s+(\S+)\s*$")
# OSZICAR: "   3 F= -.52654171E+03 E0= -.52654171E+03  d E =-.181479E+00 ..."
_VASP_IONIC = re.compile(r"^\s*(\d+)\s+F=\s*(\S+)\s+E0=\s*(\S+)")
# OSZICAR: "DAV:  12    -0.526360653810E+03   -0.46272E-02 ..." (or RMM:, CG:, ...)
_VASP_SCF = re.compile(r"^\s*([A-Z]{2,4}):\s*(\d+)\s+(\S+)")


@dataclass
class Activity:
    """The state a running calculation last wrote (``None``: not in its files).

    Attributes
    ----------
    ionic_step
        Number of the last finished ionic step (ASE counts from 0, VASP from 1).
    energy_eV
        Energy at that step, eV.
    max_force_eV_per_A
        Largest force at that step, eV/A (ASE optimisers; VASP's OSZICAR has none).
    scf_iteration
        Number of the last SCF iteration of the SCF cycle running or just ended.
    scf_energy_eV
        Energy of that iteration, eV.
    scf_converged
        Whether that SCF cycle has converged (GPAW says so in its log).
    """

    ionic_step: int | None = None
    energy_eV: float | None = None
    max_force_eV_per_A: float | None = None
    scf_iteration: int | None = None
    scf_energy_eV: float | None = None
    scf_converged: bool = False

    def describe(self) -> str:
        """One short line: ``step 3: E -123.4568 eV, fmax 0.123 eV/A; SCF 12 ...``."""
        parts = []
        if self.ionic_step is not None:
            step = f"step {self.ionic_step}"
            values = []
            if self.energy_eV is not None:
                values.append(f"E {self.energy_eV:.4f} eV")
            if self.max_force_eV_per_A is not None:
                values.append(f"fmax {self.max_force_eV_per_A:.3f} eV/A")
            parts.append(f"{step}: {', '.join(values)}" if values else step)
        if self.scf_iteration is not None:
            scf = f"SCF {self.scf_iteration}"
            if self.scf_energy_eV is not None:
                scf += f" E {self.scf_energy_eV:.4f} eV"
            if self.scf_converged:
                scf += " converged"
            parts.append(scf)
        return "; ".join(parts)


def complete_lines(text: str, cut_at_start: bool = False) -> list[str]:
    """The lines of ``text`` that end with a newline (a partial last line is not).

    With ``cut_at_start`` (``text`` is the tail of a longer file) the first line,
    which may have lost its beginning, is dropped too.
    """
    lines = text.split("\n")[:-1]
    return lines[1:] if cut_at_start else lines


def parse_gpaw_log(lines: list[str]) -> Activity | None:
    """The last SCF iteration in GPAW's log lines; ``None`` when there is none."""
    for number in range(len(lines) - 1, -1, -1):
        match = _GPAW_ITER.match(_ANSI.sub("", lines[number]).strip())
        if match is None:
            continue
        after = lines[number + 1 :]
        return Activity(
            scf_iteration=int(match.group(1)),
            scf_energy_eV=float(match.group(2)),
            scf_converged=any(line.startswith("Converged in") for line in after),
        )
    return None


def parse_optimizer_log(lines: list[str]) -> Activity | None:
    """The last step of an ASE optimiser's log lines; ``None`` when there is none."""
    for line in reversed(lines):
        match = _ASE_STEP.match(line)
        if match is None:
            continue
        try:
            energy, fmax = float(match.group(3)), float(match.group(4))
        except ValueError:  # the header line: "      Step     Time  Energy  fmax"
            continue
        return Activity(
            ionic_step=int(match.group(2)), energy_eV=energy, max_force_eV_per_A=fmax
        )
    return None


def parse_oszicar(lines: list[str]) -> Activity | None:
    """The last ionic step and SCF iteration of OSZICAR lines (``None``: neither).

    The SCF iteration is that of the cycle running now: SCF lines after the last
    ionic line; none when the file ends with an ionic line.
    """
    activity = Activity()
    for line in reversed(lines):
        ionic = _VASP_IONIC.match(line)
        if ionic is not None:
            activity.ionic_step = int(ionic.group(1))
            activity.energy_eV = _vasp_float(ionic.group(2))
            break
        scf = _VASP_SCF.match(line)
        if scf is not None and activity.scf_iteration is None:
            activity.scf_iteration = int(scf.group(2))
            activity.scf_energy_eV = _vasp_float(scf.group(3))
    if activity.ionic_step is None and activity.scf_iteration is None:
        return None
    return activity


def _vasp_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # VASP writes ******** where a number overflows its field
        return None


def read_tail(path: Path, size: int = TAIL_BYTES) -> list[str]:
    """The complete lines among the last ``size`` bytes of ``path`` ([] if absent)."""
    try:
        with open(path, "rb") as handle:
            length = handle.seek(0, 2)
            handle.seek(max(0, length - size))
            data = handle.read()
    except OSError:
        return []
    return complete_lines(data.decode("utf-8", "replace"), length > size)


def read_activity(folder: Path) -> Activity | None:
    """What the calculation running in ``folder`` last wrote (see the module).

    VASP's OSZICAR where there is one; else the ASE optimiser's ionic steps and
    the SCF iteration of the GPAW log written to last. ``None`` when the folder
    holds none of these files, or they hold no step yet.
    """
    folder = Path(folder)
    if (folder / OSZICAR_FILE).exists():
        return parse_oszicar(read_tail(folder / OSZICAR_FILE))
    steps = parse_optimizer_log(read_tail(folder / OPTIMIZER_LOG_FILE))
    logs = [
        path
        for path in (folder / GPAW_LOG_FILE, folder / GPAW_BANDS_LOG_FILE)
        if path.exists()
    ]
    scf = None
    if logs:
        newest = max(logs, key=lambda path: path.stat().st_mtime_ns)
        scf = parse_gpaw_log(read_tail(newest))
    if steps is None:
        return scf
    if scf is not None:
        steps.scf_iteration = scf.scf_iteration
        steps.scf_energy_eV = scf.scf_energy_eV
        steps.scf_converged = scf.scf_converged
    return steps
