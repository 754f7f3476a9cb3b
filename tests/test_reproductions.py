"""The smallest seed reproduction, end to end, through its own command.

``scripts/reproduce.py li2mno3 --quick``: Li4Mn2O6 (the 12-atom primitive cell of
Li2MnO3) and its lowest-Ewald Li2Mn2O6, relaxed with CHGNet, GPAW PBE+U statics at
the CHGNet geometries (400 eV, coarse k-mesh), stored, analysed and reported. The
physics direction must hold at these settings: Mn4+ cannot be oxidised, so the
charge removed comes mostly from O, and the Mn moment stays where it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.gpaw
def test_li2mno3_quick_reproduction_finds_the_holes_on_oxygen(tmp_path):
    pytest.importorskip("gpaw", reason="the gpaw extra is not installed")
    out = tmp_path / "report"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "reproduce.py"),
            "li2mno3",
            "--quick",
            "--work-dir",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        check=True,
        timeout=1500,
    )
    summary = json.loads((out / "li2mno3.json").read_text())
    assert [row["x"] for row in summary["per_x"]] == [2.0, 1.0]
    assert summary["energy_scheme"]["engine"] == "chgnet+gpaw"
    (step,) = summary["redox_steps"]
    assert step["removed_e"] == 2  # two Li of the 12-atom cell
    # most of the removed charge comes from O, by both methods
    assert step["bader"]["fraction_from_O"] > 0.5
    assert step["moments"]["fraction_from_O"] > 0.5
    mn = [row["moment_mean_muB"]["Mn"] for row in summary["per_x"]]
    assert mn[0] == pytest.approx(3.0, abs=0.3)  # Mn4+
    assert abs(mn[1] - mn[0]) < 0.3
    # the holes show on O: moments and empty O 2p states
    first, last = summary["per_x"]
    assert last["o_moment_sum_muB"] > first["o_moment_sum_muB"] + 0.3
    assert last["o2p_empty_states_per_O"] > first["o2p_empty_states_per_O"] + 0.05
    report = (out / "li2mno3.md").read_text()
    assert "| the removed charge comes from O" in report
    assert (out / "li2mno3" / "hull.png").stat().st_size > 10_000
    assert (out / "li2mno3" / "o2p_dos.png").stat().st_size > 10_000
