"""Electronic-structure analysis: O environments, O 2p DOS, Bader, pi/sigma, redox.

Analytic cases have exact answers (symmetry, separated Gaussians, ideal octahedra in
any orientation); real VASP outputs of others, copied with their provenance: Li2O
and YPO4 in tests/data/bader, NiO and MgO (PROCAR with phases) in
tests/data/vasp/recorded.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Chgcar, Outcar, Procar, Vasprun
from scipy.spatial.transform import Rotation

from oredox.analysis.bader import bader_charges, bader_from_chgcar, grid_neighbours
from oredox.analysis.dos import o2p_densities, o2p_summary
from oredox.analysis.environments import environment_summary, oxygen_environments
from oredox.analysis.projections import (
    MissingPhasesError,
    ProjectionAnalysis,
    harmonic_rotation,
    project_local,
    project_procar,
)
from oredox.analysis.redox import o_o_pairs, redox_report
from oredox.structures.frameworks import o3_layered
from oredox.structures.seeds import li2mno3_honeycomb

RECORDED = Path(__file__).parent / "data" / "vasp" / "recorded"
NIO = RECORDED / "quacc_NiO_mp_static"
MGO = RECORDED / "pydefect_MgO_2x2x2_perfect"
BADER_DATA = Path(__file__).parent / "data" / "bader"
YPO4 = BADER_DATA / "YPO4"
LI2O = BADER_DATA / "Li2O"


# --- O environments -------------------------------------------------------------


def test_licoo2_has_no_li_o_li_axis():
    envs = oxygen_environments(o3_layered("LiCoO2"))
    summary = environment_summary(envs)
    assert summary["per_axis"] == {"Li-O-Co": 18}  # 6 O x 3 axes, Li across from Co
    assert summary["n_ionic_axes"] == 0
    assert {env.label for env in envs} == {"OLi3Co3"}


def test_li2mno3_has_one_li_o_li_axis_per_oxygen():
    envs = oxygen_environments(li2mno3_honeycomb())
    assert [env.n_ionic_axes for env in envs] == [1] * len(envs)
    assert environment_summary(envs)["per_class"] == {"1 A-O-A'": len(envs)}
    assert {env.label for env in envs} == {"OLi4Mn2"}


def test_vacancies_count_as_ionic_ends():
    host = li2mno3_honeycomb()
    li = [i for i, site in enumerate(host) if site.specie.symbol == "Li"]
    removed = [host[i].frac_coords for i in li]
    bare = host.copy()
    bare.remove_sites(li)  # MnO3 framework: every Li-O-Li becomes Vac-O-Vac
    implicit = oxygen_environments(bare)
    # Li-O-Mn axes become Mn-O-Vac (seen without help); Vac-O-Vac axes are invisible
    assert {env.label for env in implicit} == {"OMn2Vac2"}
    assert all(env.n_ionic_axes == 0 for env in implicit)
    explicit = oxygen_environments(bare, vacancies=removed)
    assert all(env.n_ionic_axes == 1 for env in explicit)
    assert environment_summary(explicit)["per_axis"]["Vac-O-Vac"] == len(explicit)


# --- Bader ------------------------------------------------------------------------


def gaussians_on_grid(structure, shape, widths, amounts):
    """rho * V on the grid (VASP convention) of normalised periodic 3D Gaussians."""
    axes = [np.arange(n) / n for n in shape]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    rho = np.zeros(len(grid))
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij")).reshape(3, -1).T
    for site, width, amount in zip(structure, widths, amounts, strict=True):
        delta = grid - site.frac_coords
        delta -= np.round(delta)
        for shift in shifts:
            r2 = (((delta + shift) @ structure.lattice.matrix) ** 2).sum(axis=1)
            rho += amount * np.exp(-r2 / (2 * width**2)) / (2 * np.pi * width**2) ** 1.5
    return (rho * structure.volume).reshape(shape)


def test_grid_neighbours_of_a_cubic_grid_are_the_six_faces():
    offsets, coefficients = grid_neighbours(np.eye(3) * 4.0, (8, 8, 8))
    assert len(offsets) == 6 and np.abs(offsets).sum(axis=1).tolist() == [1] * 6
    assert coefficients == pytest.approx([0.5**2 / 0.5] * 6)


def test_bader_symmetric_gaussians_in_a_skewed_cell_split_exactly():
    # two equal overlapping Gaussians related by inversion in a triclinic cell
    lattice = Lattice.from_parameters(3.1, 3.4, 3.7, 75, 82, 68)
    s = Structure(lattice, ["Li", "Li"], [[0.1, 0.2, 0.15], [0.6, 0.7, 0.65]])
    rho = gaussians_on_grid(s, (48, 52, 56), [0.7, 0.7], [1.0, 1.0])
    result = bader_charges(s, rho, vacuum_e_per_A3=-1)
    assert result.populations == pytest.approx([1.0, 1.0], abs=1e-5)
    assert result.volumes_A3.sum() == pytest.approx(s.volume)
    assert result.volumes_A3 == pytest.approx([s.volume / 2] * 2, rel=1e-4)


def test_bader_separated_gaussians_recover_their_charges_and_moments():
    # narrow unequal Gaussians 2.6 A apart: every basin holds its own Gaussian
    s = Structure(Lattice.cubic(5.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    shape = (72, 72, 72)
    each = [
        gaussians_on_grid(s, shape, [0.22, 0.3], amounts)
        for amounts in ([9, 0], [0, 17])
    ]
    spin = gaussians_on_grid(s, shape, [0.22, 0.3], [0.5, -1.5])
    zval = {"Na": 9.0, "Cl": 7.0}
    rho = each[0] + each[1]
    result = bader_charges(s, rho, magnetization=spin, zval=zval, vacuum_e_per_A3=-1)
    # exact: each basin holds its own Gaussian as sampled on this grid
    own = [g.sum() / g.size for g in each]
    assert result.populations == pytest.approx(own, abs=1e-6)
    assert result.charges == pytest.approx([9 - own[0], 7 - own[1]], abs=1e-6)
    assert result.moments_muB == pytest.approx([0.5, -1.5], abs=1e-6)
    # with a vacuum threshold the electrons left out are accounted for
    cut = bader_charges(s, rho, vacuum_e_per_A3=1e-4)
    assert cut.vacuum_electrons > 0
    assert cut.populations.sum() + cut.vacuum_electrons == pytest.approx(26.0)
    assert result.nonnuclear_maxima == []


def test_bader_valence_only_has_no_li_basin():
    """Li (1s in the core) has no valence maximum: why AECCAR0 + AECCAR2 is needed."""
    chgcar = Chgcar.from_file(LI2O / "CHGCAR.xz")
    outcar = Outcar(LI2O / "OUTCAR.xz")
    outcar.read_pseudo_zval()
    result = bader_from_chgcar(chgcar, zval=outcar.zval_dict)
    assert result.populations.sum() == pytest.approx(8.0, abs=1e-3)  # 2 Li + O
    # the formal charges by construction: Li has no basin, O holds all 8 e
    assert result.charges == pytest.approx([1.0, 1.0, -2.0], abs=1e-3)
    assert result.valence_only and result.collapsed_atoms() == [0, 1]
    assert result.as_dict()["charges"] is None  # refused in the document
    assert np.abs(result.moments_muB).max() < 1e-3  # non-magnetic


def test_bader_ypo4_with_the_aeccar_reference():
    aeccar0 = Chgcar.from_file(YPO4 / "AECCAR0.xz")
    aeccar2 = Chgcar.from_file(YPO4 / "AECCAR2.xz")
    outcar = Outcar(YPO4 / "OUTCAR.xz")
    outcar.read_pseudo_zval()
    reference = aeccar0.data["total"] + aeccar2.data["total"]
    result = bader_charges(
        aeccar2.structure,
        aeccar2.data["total"],
        reference=reference,
        zval=outcar.zval_dict,
    )
    assert result.n_basins == len(aeccar2.structure)  # one maximum per nucleus
    assert result.populations.sum() == pytest.approx(aeccar2.data["total"].mean())
    per = result.per_species("charges")
    assert per["Y"]["mean"] > 0 and per["P"]["mean"] > 0 and per["O"]["mean"] < -1
    # symmetry-equivalent atoms get equal charges
    assert per["O"]["max"] - per["O"]["min"] < 1e-3


# --- O 2p DOS ---------------------------------------------------------------------


def test_o2p_summary_of_nio():
    dos = Vasprun(NIO / "vasprun.xml.gz", parse_potcar_file=False).complete_dos
    envs = oxygen_environments(dos.structure)
    summary = o2p_summary(dos, envs)
    assert [c.environment_class for c in summary.classes] == ["0 A-O-A'"]
    everyone = summary.all_oxygen
    total = o2p_densities(dos, [1])
    rel = dos.energies - summary.reference_energy_eV
    mask = (rel >= -1) & (rel <= 0)
    assert everyone.occupied_e_per_O["-1 to 0 eV"] == pytest.approx(
        np.trapezoid(total[mask], rel[mask])
    )
    assert -8 < everyone.band_centre_eV < 0
    assert everyone.empty_states_per_O >= 0


# --- TM-O pi/sigma ----------------------------------------------------------------


def octahedron(rotation, a=2.0):
    """An ideal NiO6 octahedron in a 12 A box, axes rotated by ``rotation``."""
    axes = np.vstack([np.eye(3), -np.eye(3)]) * a @ rotation.T
    centre = np.array([6.0, 6.0, 6.0])
    return Structure(
        Lattice.cubic(12.0),
        ["Ni"] + ["O"] * 6,
        [centre, *(centre + axes)],
        coords_are_cartesian=True,
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pi_sigma_do_not_depend_on_orientation(seed):
    rotation = Rotation.random(random_state=seed).as_matrix() if seed else np.eye(3)
    s = octahedron(rotation)
    # the local frame has rows rotation.T; amplitudes go back with D(frame)^T
    d_back = harmonic_rotation(rotation.T, 2).T
    p_back = harmonic_rotation(rotation.T, 1).T
    n_states = 4
    phases = np.zeros((1, 1, n_states, len(s), 9), complex)
    # state 0: local dxy (t2g); state 1: local dz2 (eg)
    phases[0, 0, 0, 0, 4:9] = d_back @ np.eye(5)[0]
    phases[0, 0, 1, 0, 4:9] = d_back @ np.eye(5)[2]
    # state 2: O(1) p along its bond (sigma); state 3: O(1) p perpendicular (pi)
    bond = s[1].coords - s[0].coords
    local_bond = rotation.T @ bond  # along local x
    assert abs(abs(local_bond[0]) - 2.0) < 1e-9
    p_local_x = np.array([0.0, 0.0, 1.0])  # VASP order (py, pz, px)
    p_local_y = np.array([1.0, 0.0, 0.0])
    phases[0, 0, 2, 1, 1:4] = p_back @ p_local_x
    phases[0, 0, 3, 1, 1:4] = p_back @ p_local_y
    energies = np.array([[[-1.0, -0.5, -0.3, -0.2]]])
    result = project_local(s, phases * 1j, energies, np.ones(1), 0.0)
    (octa,) = result.octahedra
    assert octa.distortion < 1e-9
    t2g, eg = result.t2g[0][0, 0], result.eg[0][0, 0]
    assert t2g == pytest.approx([1, 0, 0, 0], abs=1e-9)
    assert eg == pytest.approx([0, 1, 0, 0], abs=1e-9)
    assert result.o_sigma[0][0, 0] == pytest.approx([0, 0, 1, 0], abs=1e-9)
    assert result.o_pi[0][0, 0] == pytest.approx([0, 0, 0, 1], abs=1e-9)


def test_mgo_real_projections_rotate_consistently():
    procar = Procar(MGO / "PROCAR.xz")
    vasprun = Vasprun(MGO / "vasprun.xml.xz", parse_potcar_file=False)
    s = vasprun.final_structure
    mg = [i for i, site in enumerate(s) if site.specie.symbol == "Mg"]
    aligned = project_procar(procar, s, vasprun.efermi, centres=mg)
    assert len(aligned.octahedra) == 32 and not aligned.skipped
    # an axis-aligned cubic cell: the local frame is the global one
    (spin,) = procar.phase_factors
    global_eg = (np.abs(procar.phase_factors[spin][..., mg[0], [6, 8]]) ** 2).sum(-1)
    assert aligned.eg[mg[0]][0] == pytest.approx(global_eg, abs=1e-12)
    # rotate the cell and the amplitudes together: nothing changes
    q = Rotation.from_euler("zyx", [30, 50, 10], degrees=True).as_matrix()
    turned = Structure(Lattice(s.lattice.matrix @ q.T), s.species, s.frac_coords)
    phases = procar.phase_factors[spin][None, ..., :9].copy()
    # new cartesian axes are the rows of q in the old frame: c' = D(q) c
    phases[..., 1:4] = phases[..., 1:4] @ harmonic_rotation(q, 1).T
    phases[..., 4:9] = phases[..., 4:9] @ harmonic_rotation(q, 2).T
    energies = procar.eigenvalues[spin][None]
    rotated = project_local(
        turned, phases, energies, np.asarray(procar.weights), vasprun.efermi, centres=mg
    )
    for tm in mg[:4]:
        assert rotated.eg[tm] == pytest.approx(aligned.eg[tm], abs=1e-9)
        assert rotated.t2g[tm] == pytest.approx(aligned.t2g[tm], abs=1e-9)
        assert rotated.o_pi[tm] == pytest.approx(aligned.o_pi[tm], abs=1e-9)
    summary = rotated.summary()
    assert summary["per_tm"][str(mg[0])]["empty"]["o_pi"] == 0.0  # 0-1 eV: the gap


def test_local_frame_dos_of_each_spin_adds_up_to_the_summed_dos():
    rng = np.random.default_rng(0)
    energies = rng.uniform(-6, 3, size=(2, 4, 10))  # (spin, k, band), eV
    weights = rng.uniform(0, 1, size=(2, 4, 10))
    analysis = ProjectionAnalysis(
        energies_eV=energies,
        kweights=np.full(4, 0.25),
        efermi_eV=0.0,
        octahedra=[],
        eg={},
        t2g={},
        o_sigma={},
        o_pi={},
        o_nonbonding={},
    )
    grid, both = analysis.dos(weights)
    grid_up, up = analysis.dos(weights, spin=0)
    _, down = analysis.dos(weights, spin=1)
    assert np.array_equal(grid, grid_up)
    assert up + down == pytest.approx(both)
    # each spin integrates to its own k-weighted weight
    step = grid[1] - grid[0]
    assert up.sum() * step == pytest.approx((weights[0] * 0.25).sum(), rel=1e-3)


def test_no_phases_is_an_error_not_a_global_frame_fallback():
    procar = Procar(LI2O / "PROCAR.xz")
    vasprun = Vasprun(LI2O / "vasprun.xml.xz", parse_potcar_file=False)
    with pytest.raises(MissingPhasesError, match="LORBIT = 12"):
        project_procar(procar, vasprun.final_structure, vasprun.efermi)


# --- redox ------------------------------------------------------------------------


def test_o_o_distances_are_classified():
    s = Structure(
        Lattice.cubic(10.0),
        ["O"] * 6,
        [[0, 0, 0], [1.21, 0, 0], [5, 0, 0], [5, 1.45, 0], [0, 5, 0], [0, 5, 2.0]],
        coords_are_cartesian=True,
    )
    classes = [(p["class"], round(p["distance_A"], 2)) for p in o_o_pairs(s)]
    assert classes == [("O2-like", 1.21), ("peroxo", 1.45), ("short contact", 2.0)]


def test_redox_report_reads_moments():
    structure = Structure.from_file(NIO / "CONTCAR.gz")
    moments = [site["tot"] for site in Outcar(NIO / "OUTCAR.gz").magnetization]
    report = redox_report(structure, moments)
    # the recorded run: Ni at 1.12 muB (Ni3+-like) and 0.90 muB on O (a hole)
    assert report.tm_oxidation_states == {0: 3}
    assert report.o_holes == {1: pytest.approx(0.903)}
    host = o3_layered("LiNiO2")
    moved = host.copy()
    ni = next(i for i, site in enumerate(host) if site.specie.symbol == "Ni")
    li = next(i for i, site in enumerate(host) if site.specie.symbol == "Li")
    moved.replace(ni, "Ni", host[li].frac_coords)
    moved.remove_sites([li])
    start = host.copy()
    start.remove_sites([li])
    migrated = redox_report(moved, initial=start)
    assert migrated.migrated_tm  # the Ni now sits in the Li layer


# --- reading a run folder ---------------------------------------------------------


def test_analyse_a_folder_with_phases(tmp_path):
    from oredox.analysis.electronic import analyse_outputs
    from oredox.workflows.engines.vasp import read_vasp_outputs

    result = analyse_outputs(read_vasp_outputs(MGO))
    assert "projections" in result and "o2p" in result
    assert set(result["projections"]["per_tm"]) == set()  # Mg is no TM
    assert "bader" in result["skipped"]  # no CHGCAR recorded
    assert result["environments"]["per_axis"] == {"Mg-O-Mg": 96}


def test_analysed_o2p_dos_keeps_each_spin_of_a_spin_polarised_run():
    from oredox.analysis.electronic import analyse_outputs
    from oredox.workflows.engines.vasp import read_vasp_outputs

    record = analyse_outputs(read_vasp_outputs(NIO))["o2p_dos"]
    assert record["spin_polarised"]  # NiO, ISPIN 2
    for name, both in record["per_class"].items():
        up, down = record["per_class_up"][name], record["per_class_down"][name]
        assert np.add(up, down) == pytest.approx(both, abs=2e-5)
        assert not np.allclose(up, down)  # ferromagnetic NiO: the spins differ


def test_analyse_a_folder_without_phases():
    from oredox.analysis.electronic import analyse_outputs
    from oredox.workflows.engines.vasp import read_vasp_outputs

    result = analyse_outputs(read_vasp_outputs(LI2O))
    assert "LORBIT = 12" in result["skipped"]["projections"]
    assert result["bader"]["reference"] == "valence density only"
    assert result["bader"]["valence_only"]
    # no AECCARs: the Li basins collapse, the charges are refused, not O -2.00
    assert result["bader"]["per_species_charge"] == {}
    assert result["bader"]["populations"] == pytest.approx([0, 0, 8], abs=1e-3)


def test_cli_analyse_writes_json_and_figure(tmp_path, monkeypatch, capsys):
    import sys

    from oredox.cli import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["oredox", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        return exit_info.value.code

    assert run("analyse", str(LI2O), "-o", str(tmp_path / "out")) in (0, None)
    assert "skipped projections" in capsys.readouterr().out
    data = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert data["bader"]["reference"] == "valence density only"
    assert data["bader"]["charges_refused"].startswith("valence-only Bader")
    assert (tmp_path / "out" / "analysis.png").stat().st_size > 10_000
    assert run("analyse", str(tmp_path)) == 2
    assert "no vasprun.xml" in capsys.readouterr().err


def test_delithiation_path_figure(tmp_path):
    from oredox.analysis.plots import plot_delithiation_path

    rows = [
        {"x": 1.0, "bader_charge": {"Ni": 1.2, "O": -1.1}, "o_hole_total_muB": 0.0},
        {"x": 0.5, "bader_charge": {"Ni": 1.3, "O": -0.9}, "o_hole_total_muB": 0.8},
    ]
    path = plot_delithiation_path(rows, tmp_path / "path.png", "Li")
    assert path.stat().st_size > 10_000
