"""Delithiation hulls of several O3 hosts with CHGNet, side by side.

Runs the demo study for each host in the rhombohedral 2x2x1 cell (4 Li sites, 6
configurations, about a minute each on 2 cores), stores each study, and prints the
average voltage and the voltage steps. Usage::

    .venv/bin/python scripts/compare_o3_hosts.py LiCoO2 LiNiO2 NaCoO2
"""

from __future__ import annotations

import sys

from oredox.workflows.demo import run_demo


def main(formulas: list[str]) -> None:
    for formula in formulas or ["LiCoO2", "LiNiO2"]:
        study = run_demo(
            formula, primitive=True, supercell=(2, 2, 1), png=f"hull_{formula}.png"
        )
        steps = ", ".join(
            f"{s.x_low:.2f}-{s.x_high:.2f}: {s.voltage_V:.2f} V"
            for s in study.voltage_steps
        )
        print(
            f"{formula}: average {study.average_voltage_V:.2f} V ({steps}); "
            f"study {study.study_id}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
