"""Oxygen loss of Li2MnO3 and LiCoO2 with CHGNet, from the command line, with a report.

Usage::

    .venv/bin/python scripts/reproduce_oxygen.py     # both hosts, then the report
    .venv/bin/python scripts/reproduce_oxygen.py --report-only

Runs exactly what a user types (each step is an ``oredox`` command in a fresh process),
in ``--work-dir`` (default ``reproductions-work/oxygen``):

1. ``oredox run li2mno3-honeycomb --engine chgnet`` (the 12-atom C2/m cell, every
   distinct Li/vacancy configuration) and ``oredox demo --primitive --supercell 2 2 1``
   (LiCoO2, rhombohedral cell doubled along both in-plane axes, 16 atoms: two metals
   wide, so no O binds two images of one Co);
2. ``oredox oxygen ID --x 2,1,0.5`` (Li2MnO3) and ``oredox oxygen ID --x 1,0.5,0``
   (LiCoO2): every symmetry-distinct O vacancy of the hull vertex at those contents,
   relaxed with the study's engine, O-rich limit from Materials Project's fitted O2
   (MP2020 scale, which CHGNet's energies are on);
3. the report ``docs/reproductions/oxygen-loss.md`` with the tables
   (``oredox query ID --oxygen --json``) and figures (``--png``), beside the
   physical expectation: O next to more alkali vacancies, and on deeper charge, leaves
   more easily.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OREDOX = [sys.executable, "-m", "oredox.cli"]
HOSTS = {
    "li2mno3": {
        "run": ["run", "li2mno3-honeycomb", "--engine", "chgnet"],
        "chemsys": "Li-Mn-O",
        "x": "2,1,0.5",
        "title": "Li2MnO3 (C2/m honeycomb, 12-atom cell), CHGNet",
    },
    "licoo2": {
        "run": ["demo", "--primitive", "--supercell", "2", "2", "1"],
        "chemsys": "Co-Li-O",
        "x": "1,0.5,0",
        "title": "LiCoO2 (O3, rhombohedral cell 2x2x1, 16 atoms), CHGNet",
    },
}


def oredox(args: list[str], work: Path, capture: bool = False) -> str:
    """Run one ``oredox`` command in a fresh process; its stdout when ``capture``."""
    env = os.environ | {"OREDOX_WORK_DIR": str(work), "OREDOX_STORE": "montydb"}
    print("$ oredox " + " ".join(args), flush=True)
    result = subprocess.run(
        [*OREDOX, *args],
        env=env,
        cwd=work,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def study_id(work: Path, chemsys: str) -> str:
    """The id of the one study of ``chemsys`` in the work folder's store."""
    rows = json.loads(oredox(["query", "--json", "--chemsys", chemsys], work, True))
    if len(rows) != 1:
        raise SystemExit(f"expected one {chemsys} study in {work}, found {len(rows)}")
    return rows[0]["study_id"]


def run(work: Path, figures: Path) -> dict:
    """Both hosts: the study, then its oxygen loss; wall times in s."""
    times = {}
    for name, host in HOSTS.items():
        start = time.perf_counter()
        oredox([*host["run"], "--no-progress"], work)
        times[f"{name} study"] = time.perf_counter() - start
        sid = study_id(work, host["chemsys"])
        start = time.perf_counter()
        oredox(
            [
                "oxygen",
                sid,
                "--x",
                host["x"],
                "--png",
                str(figures / f"{name}.png"),
                "--no-progress",
            ],
            work,
        )
        times[f"{name} oxygen"] = time.perf_counter() - start
    return times


def rows_of(document: dict) -> list[dict]:
    """One row per vacancy: x, class, multiplicity, E_f, release T, after loss."""
    rows = []
    for host in sorted(document["hosts"], key=lambda h: -h["x"]):
        for vacancy in host["vacancies"]:
            after = vacancy.get("after_loss") or {}
            pairs = after.get("n_pairs_by_class") or {}
            framework = after.get("framework") or {}
            notes = [f"{n} {kind}" for kind, n in sorted(pairs.items())]
            if framework.get("undercoordinated_before_relaxation"):
                notes.append("small cell")
            if framework and not framework.get("intact", True):
                notes.append("framework changed")
            rows.append(
                {
                    "x": host["x"],
                    "config_id": host["config_id"],
                    "label": vacancy["label"],
                    "vacancy_neighbours": vacancy["cations"].get("Vac", 0),
                    "multiplicity": vacancy["multiplicity"],
                    "e_f_eV": vacancy["formation_energy_O_rich_eV"],
                    "release_K": vacancy["release_temperature_1bar_K"],
                    "notes": "; ".join(notes) or "-",
                }
            )
    return rows


def by_neighbours(rows: list[dict], x: float) -> dict[int, float]:
    """Lowest E_f (eV) at ``x`` per number of empty alkali sites around the O."""
    lowest: dict[int, float] = {}
    for row in rows:
        if row["x"] == x:
            n = row["vacancy_neighbours"]
            lowest[n] = min(lowest.get(n, float("inf")), row["e_f_eV"])
    return lowest


def more_vacancies_lower(rows: list[dict]) -> bool:
    """Whether, at every x, the lowest E_f falls as the O's empty neighbours grow."""
    for x in {row["x"] for row in rows}:
        values = [e for _, e in sorted(by_neighbours(rows, x).items())]
        if any(b > a + 1e-9 for a, b in pairwise(values)):
            return False
    return True


def report(work: Path, out: Path, times: dict) -> None:
    """docs/reproductions/oxygen-loss.md from the stored documents."""
    lines = [
        "# Oxygen loss of Li2MnO3 and LiCoO2 (CHGNet)",
        "",
        "Every symmetry-distinct O vacancy of the hull vertex at each content, relaxed "
        "(cell and ions) with the study's engine; E_f(V_O) = E(cell less one O) - "
        "E(cell) + mu_O at the O-rich limit, mu_O from Materials Project's fitted O2 "
        "(mp-12957, -4.948 eV/O): CHGNet's energies are on the MP2020 scale (its "
        "training energies had MP2020's corrections), so no further correction. The "
        "release temperature is where E_f + Delta mu_O(T, 1 bar) = 0 (NIST-JANAF O2).",
        "",
        "Physical expectation: an O with more alkali vacancies around it (fewer "
        "cations to bind it), and any O at lower x (deeper charge, holes on O), "
        "leaves more easily: lower E_f, lower release temperature.",
        "",
        "Caveats, as measured: (1) these are small cells, so one O out of 6 "
        "(Li2MnO3, 12-atom cell) or of 8 (LiCoO2, 16-atom cell) is a high "
        "vacancy concentration, not the dilute limit; 'small cell' marks vacancy "
        "cells where one O bound periodic images of the same metal (counted per "
        "host below). (2) The energies are "
        "CHGNet's, a model of MP's "
        "GGA+U: trends, not DFT+U numbers. (3) The solids' vibrational free energy "
        "is left out; only the gas has a temperature.",
        "",
        "Command: `.venv/bin/python scripts/reproduce_oxygen.py`; wall times on this "
        "2-core machine: "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in times.items())
        + ".",
        "",
    ]
    summary = {}
    for name, host in HOSTS.items():
        sid = study_id(work, host["chemsys"])
        document = json.loads(oredox(["query", sid, "--oxygen", "--json"], work, True))
        rows = rows_of(document)
        summary[name] = rows
        lines += [
            f"## {host['title']}",
            "",
            f"study `{sid}`, oxygen document `{document['oxygen_id']}`; "
            f"reference: {document['oxygen_reference']['description']}",
            "",
            "| x | host | O class | mult. | E_f (eV) | release at 1 bar (K) "
            "| after loss |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            release = (
                "> 3000" if row["release_K"] is None else f"{row['release_K']:.0f}"
            )
            lines.append(
                f"| {row['x']:.4g} | {row['config_id']} | "
                f"{row['label'].replace('|', '/')} | "
                f"{row['multiplicity']} | {row['e_f_eV']:.3f} | {release} | "
                f"{row['notes']} |"
            )
        lowest = {}
        for row in rows:
            if row["x"] not in lowest or row["e_f_eV"] < lowest[row["x"]]["e_f_eV"]:
                lowest[row["x"]] = row
        trend = [lowest[x]["e_f_eV"] for x in sorted(lowest, reverse=True)]
        falls = all(b <= a + 1e-9 for a, b in pairwise(trend))
        lines += [
            "",
            "Lowest E_f per x (from high to low x): "
            + ", ".join(
                f"{x:.4g}: {lowest[x]['e_f_eV']:.3f} eV"
                for x in sorted(lowest, reverse=True)
            )
            + f". Falls with x as expected: **{'yes' if falls else 'no'}**. Vacancy "
            f"cells flagged 'small cell': "
            f"{sum('small cell' in row['notes'] for row in rows)} of {len(rows)}.",
            "",
            "Lowest E_f per x by the number of empty alkali sites around the O: "
            + "; ".join(
                f"x = {x:.4g}: "
                + ", ".join(
                    f"{n} empty {e_f:.3f} eV"
                    for n, e_f in sorted(by_neighbours(rows, x).items())
                )
                for x in sorted(lowest, reverse=True)
            )
            + ". More empty neighbours, lower E_f at every x: "
            + f"**{'yes' if more_vacancies_lower(rows) else 'no'}**.",
            "",
            f"![E_f(V_O) and release temperature vs x]({out.stem}/{name}.png)",
            "",
        ]
    (out.parent / f"{out.stem}.json").write_text(json.dumps(summary, indent=2))
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work-dir", type=Path, default=ROOT / "reproductions-work" / "oxygen"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "reproductions" / "oxygen-loss.md"
    )
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    work = args.work_dir.resolve()
    figures = args.out.parent / args.out.stem
    figures.mkdir(parents=True, exist_ok=True)
    record = work / "times.json"
    if args.report_only:
        times = json.loads(record.read_text())
    else:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        times = run(work, figures)
        record.write_text(json.dumps(times))
    report(work, args.out, times)


if __name__ == "__main__":
    main()
