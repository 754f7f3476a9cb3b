"""Cluster expansions of alkali/vacancy energies and the converged-hull loop.

No engine runs here: the energies are those of a known cluster expansion (plus the
point-charge Ewald energy), so every check has an exact answer.
"""

import numpy as np
import pytest
from icet.tools import enumerate_structures
from pymatgen.io.ase import AseAtomsAdaptor

from oredox.analysis.ce_loop import (
    CeIteration,
    ConvergeSettings,
    choose_candidates,
    hull_change_mev,
    hull_of,
    iterate,
    stop_reason,
    table_search,
)
from oredox.analysis.cluster_expansion import (
    CeFit,
    CellFeatures,
    LatticeModel,
    ce_atoms,
    cluster_vectors,
    fit_cluster_expansion,
    lattice_model,
)
from oredox.analysis.hull import lower_hull
from oredox.errors import OredoxInputError
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import o3_layered
from oredox.structures.seeds import seed_cell
from oredox.structures.supercells import make_supercell


@pytest.fixture(scope="module")
def licoo2():
    host = make_supercell(o3_layered("LiCoO2"), [2, 2, 1])
    alkali = [i for i, site in enumerate(host) if site.specie.symbol == "Li"]
    return host, alkali


def test_lattice_model_of_an_ordered_host_is_its_primitive_cell(licoo2):
    host, _ = licoo2
    model = lattice_model(host, "Li")
    assert model.sublattice == "alkali"
    assert len(model.primitive) == 4
    assert sorted(map(tuple, model.species)) == [("Co",), ("Li", "X"), ("O",), ("O",)]
    # 0-, 1-body, pairs to 6 A, triplets to 4.5 A on the rhombohedral Li lattice
    orders = [row["order"] for row in model.orbit_table()]
    assert orders[:2] == [0, 1] and set(orders) == {0, 1, 2, 3}
    again = LatticeModel.from_dict(model.as_dict())
    assert again.n_parameters == model.n_parameters


def test_lattice_model_of_a_drx_cell_is_the_rock_salt_parent():
    host, _ = seed_cell("ltno-spread")
    model = lattice_model(host, "Li")
    assert model.sublattice == "cations"
    assert len(model.primitive) == 2
    cation = next(s for s in model.species if len(s) > 1)
    assert cation == ["Li", "X", "Ni", "Ti"]
    # the 48-atom host maps onto it
    li = [i for i, site in enumerate(host) if site.specie.symbol == "Li"]
    vector = cluster_vectors(model, [ce_atoms(host, li[:3])])
    assert vector.shape == (1, model.n_parameters)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alkali": "Na"}, "no Na site"),
        ({"alkali": "Li", "sublattice": "anions"}, "sublattice must be"),
        ({"alkali": "Li", "cutoffs_A": [6.0, -1.0]}, "cutoffs must be positive"),
        ({"alkali": "Li", "cutoffs_A": []}, "cutoffs must be positive"),
    ],
)
def test_lattice_model_refuses_bad_input(licoo2, kwargs, message):
    with pytest.raises(OredoxInputError, match=message):
        lattice_model(licoo2[0], **kwargs)


def test_features_hold_icet_cluster_vectors_and_the_ewald_energy(licoo2):
    host, alkali = licoo2
    model = lattice_model(host, "Li")
    cell = CellFeatures(model, host, alkali)
    rng = np.random.default_rng(1)
    occupied = rng.random((6, len(alkali))) < 0.5
    occupied[:, 0] = True  # one count varies, not all-empty
    rows = cell.features(occupied)
    assert rows.shape == (6, model.n_parameters + 1)
    ewald = DelithiationEwald(host, alkali)
    for row, occ in zip(rows, occupied, strict=True):
        expected = ewald.energies(occ[None, :])[0] / len(host)
        assert row[-1] == pytest.approx(expected, abs=1e-10)
        atoms = ce_atoms(host, np.asarray(alkali)[~occ])
        icet_vector = model.cluster_space.get_cluster_vector(atoms)
        np.testing.assert_allclose(row[:-1], icet_vector, atol=1e-12)
    # full occupation: every point function of the Li/X binary at its Li value
    full = cell.features(np.ones((1, len(alkali)), bool))[0]
    assert abs(full[1]) == pytest.approx(1.0)


def test_fit_recovers_known_ecis_and_reports_its_errors(synthetic_universe):
    # cells of 1..5 formula units tell every cluster function apart (a single 2x2x1
    # cell does not: two pair orbits coincide in it)
    model, _ids, _c, features, _energy = synthetic_universe
    assert np.linalg.matrix_rank(features) == features.shape[1]
    rng = np.random.default_rng(7)
    truth = rng.normal(0.0, 0.02, features.shape[1])
    energies = features @ truth
    fit = fit_cluster_expansion(model, features, energies, fit_method="least-squares")
    np.testing.assert_allclose(fit.parameters, truth, atol=1e-7)
    assert fit.cv_rmse_meV_per_site < 1e-4
    assert fit.predict(features) == pytest.approx(energies, abs=1e-9)
    record = fit.record()
    assert record["n_structures"] == len(energies)
    assert record["ewald_coefficient"] == pytest.approx(truth[-1], abs=1e-6)
    assert len(record["ecis"]) == model.n_parameters
    assert CeFit.from_dict(fit.as_dict()).parameters == fit.parameters
    noisy = energies + rng.normal(0.0, 0.002, len(energies))  # 2 meV/site noise
    fit = fit_cluster_expansion(model, features, noisy, fit_method="least-squares")
    assert 1.0 < fit.cv_rmse_meV_per_site < 5.0


def test_fit_refuses_too_few_or_misshaped_data(licoo2):
    host, alkali = licoo2
    model = lattice_model(host, "Li")
    rows = CellFeatures(model, host, alkali).features(np.ones((3, len(alkali)), bool))
    with pytest.raises(OredoxInputError, match="at least 4"):
        fit_cluster_expansion(model, rows, np.zeros(3))
    with pytest.raises(OredoxInputError, match="shape"):
        fit_cluster_expansion(model, rows[:, :-1], np.zeros(3))
    with pytest.raises(OredoxInputError, match="finite"):
        bad = np.vstack([rows, rows])
        fit_cluster_expansion(model, bad, np.array([0, 1, 2, 3, 4, np.nan]))


def test_choose_candidates_takes_the_uncomputed_near_the_hull_lowest_first():
    computed = {"empty": (0.0, 0.0), "full": (1.0, 0.0)}
    ids = ["empty", "full", "half-a", "half-b", "quarter", "far"]
    c = np.array([0.0, 1.0, 0.5, 0.5, 0.25, 0.75])
    predicted = np.array([9.0, 9.0, -0.010, -0.007, -0.004, 0.020])
    # hull: empty -> half-a -> full; half-b is 3 meV above it, quarter 1 meV
    chosen, vertices = choose_candidates(ids, c, predicted, computed, 5.0, 10)
    assert vertices == ["empty", "half-a", "full"]
    assert chosen == ["half-a", "quarter", "half-b"]
    assert choose_candidates(ids, c, predicted, computed, 5.0, 2)[0] == [
        "half-a",
        "quarter",
    ]
    assert choose_candidates(ids, c, predicted, computed, 0.5, 10)[0] == ["half-a"]
    # nothing within the window: an untrusted fit explores the lowest per content
    high = np.array([9.0, 9.0, 0.050, 0.060, 0.080, 0.070])
    assert choose_candidates(ids, c, high, computed, 5.0, 10)[0] == []
    explored = choose_candidates(ids, c, high, computed, 5.0, 10, explore=True)[0]
    assert explored == ["half-a", "far", "quarter"]


def test_hull_change_and_stop_reasons():
    before = {"a": (0.0, 0.0), "b": (0.5, -0.010), "c": (1.0, 0.0), "d": (0.5, -0.013)}
    assert hull_change_mev(before, ["a", "b", "c"], ["a", "d", "c"]) == (
        pytest.approx(3.0)
    )
    assert hull_change_mev(before, ["a"], ["a", "c"]) is None
    settings = ConvergeSettings(max_calculations=10, max_iterations=3)

    def it(i, cv, new, n=5, predicted=("a", "c")):
        return CeIteration(
            iteration=i,
            n_computed=n,
            cv_rmse_meV_per_atom=cv,
            train_rmse_meV_per_atom=cv,
            n_searched=20,
            search="table",
            hull_vertices=["a", "c"],
            new_vertices=new,
            hull_change_meV_per_atom=None,
            predicted_vertices=list(predicted),
            candidates=[],
        )

    assert stop_reason([it(0, 1.0, ["a", "c"])], settings, 3, 5) is None
    done = [it(0, 1.0, ["a"]), it(1, 1.0, [], n=7)]
    assert stop_reason(done, settings, 3, 7).startswith("converged: no new hull vertex")
    # a new vertex, too large an error, no usable new energy (every relaxation of
    # the last batch failed), or a predicted vertex not computed: not converged
    assert stop_reason([it(0, 1.0, []), it(1, 1.0, ["b"], n=7)], settings, 3, 7) is None
    assert stop_reason([it(0, 9.0, []), it(1, 9.0, [], n=7)], settings, 3, 7) is None
    assert stop_reason([it(0, 1.0, []), it(1, 1.0, [])], settings, 3, 7) is None
    ahead = [it(0, 1.0, []), it(1, 1.0, [], n=7, predicted=("a", "x", "c"))]
    assert stop_reason(ahead, settings, 3, 7) is None
    assert stop_reason([it(0, 1.0, ["a"])], settings, 0, 5).startswith("converged")
    assert stop_reason([it(0, 9.0, ["a"])], settings, 0, 5).startswith(
        "exhausted: every searched arrangement is computed"
    )
    # the budget counts attempts (failed relaxations too), candidates or not
    assert stop_reason([it(0, 9.0, ["a"])], settings, 3, 10) == (
        "budget: 10 calculations of 10"
    )
    history = [it(0, 9.0, ["a"]), it(1, 9.0, ["b"]), it(2, 9.0, ["c"])]
    assert stop_reason(history, settings, 3, 8).startswith("iterations")


def test_settings_refuse_more_than_triplets_and_unknown_keys():
    with pytest.raises(ValueError, match="at most two cutoffs"):
        ConvergeSettings(cutoffs_A=[6.0, 4.5, 4.0])
    with pytest.raises(ValueError, match="Extra inputs"):
        ConvergeSettings(windw_meV_per_atom=3)
    assert ConvergeSettings.from_dict(ConvergeSettings().as_dict()) == (
        ConvergeSettings()
    )


@pytest.fixture(scope="module")
def synthetic_universe():
    """Li_xCoO2 arrangements in every cell of 1..5 formula units, with energies of a
    known expansion (pairs and triplets plus the Ewald term): the loop's truth."""
    primitive = o3_layered("LiCoO2").get_primitive_structure()
    model = lattice_model(primitive, "Li")
    atoms = AseAtomsAdaptor.get_atoms(model.primitive)
    ids, c, rows = [], [], []
    for size in range(1, 6):
        for index, structure in enumerate(
            enumerate_structures(atoms, [size], model.species)
        ):
            symbols = structure.get_chemical_symbols()
            filled = structure.copy()
            filled.set_chemical_symbols(["Li" if s == "X" else s for s in symbols])
            host = AseAtomsAdaptor.get_structure(filled)
            host.add_oxidation_state_by_element({"Li": 1, "Co": 3, "O": -2})
            alkali = [i for i, s in enumerate(symbols) if s in ("Li", "X")]
            occupied = np.array([symbols[i] == "Li" for i in alkali])
            rows.append(CellFeatures(model, host, alkali).features(occupied[None])[0])
            ids.append(f"s{size}-{index}")
            c.append(occupied.mean())
    rows = np.array(rows)
    rng = np.random.default_rng(3)
    truth = np.concatenate([rng.normal(0, 0.01, model.n_parameters), [0.05]])
    return model, ids, np.array(c), rows, rows @ truth


def test_loop_finds_every_true_vertex_of_a_known_expansion(synthetic_universe):
    model, ids, c, rows, energy = synthetic_universe
    true_vertices = hull_of(ids, c, energy)
    features = dict(zip(ids, rows, strict=True))
    start = [ids.index(k) for k in ("s1-0", "s1-1", "s2-0", "s2-1", "s3-0", "s3-1")]
    computed = {ids[i]: (c[i], energy[i]) for i in start}
    settings = ConvergeSettings(fit_method="least-squares", candidates_per_iteration=6)
    history = []
    while True:
        record, fit = iterate(
            model, features, computed, history, settings, table_search(ids, c, rows)
        )
        history.append(record)
        if record.stop:
            break
        for key in record.candidates:
            computed[key] = (c[ids.index(key)], energy[ids.index(key)])
    assert record.stop.startswith("converged"), record.stop
    assert set(true_vertices) <= set(computed)
    assert record.hull_vertices == true_vertices
    assert len(computed) < len(ids)
    assert fit.train_rmse_meV_per_site < 1e-6  # the expansion is exact
    assert [h.iteration for h in history] == list(range(len(history)))


def test_other_supercells_lists_predicted_ground_states_the_study_cell_misses():
    from oredox.analysis.ce_supercells import (
        mean_oxidation_states,
        other_supercells,
        supercell_universe,
        universe_features,
    )

    primitive = o3_layered("LiCoO2").get_primitive_structure()
    model = lattice_model(primitive, "Li")
    universe = supercell_universe(model, 4, mean_oxidation_states(primitive))
    # icet's counts for this lattice: 2, 3, 10 and 33 arrangements of 1..4 cells
    assert [sum(u.size == s for u in universe) for s in range(1, 5)] == [2, 3, 10, 33]
    assert all(round(abs(np.linalg.det(u.matrix))) == u.size for u in universe)
    features = universe_features(model, universe)
    rng = np.random.default_rng(2)
    fit = fit_cluster_expansion(
        model,
        features,
        features @ np.concatenate([rng.normal(0, 0.01, model.n_parameters), [0.05]]),
        fit_method="least-squares",
    )
    predicted = fit.predict(features)
    c = np.array([u.c for u in universe])
    # a "study" holding only the cells of 1 and 2 primitive cells
    small = np.array([u.size <= 2 for u in universe])
    found = other_supercells(fit, universe, features, c[small], predicted[small], 0.0)
    vertices = {universe[i].label for i in lower_hull(c, predicted)}
    small_hull = {universe[i].label for i in np.flatnonzero(small)}
    assert {row["label"] for row in found} <= vertices - small_hull
    assert all(row["below_study_hull_meV_per_atom"] > 0 for row in found)
    # a study that holds every arrangement misses nothing
    assert other_supercells(fit, universe, features, c, predicted, 0.0) == []
    with pytest.raises(OredoxInputError, match="ordered hosts"):
        supercell_universe(lattice_model(seed_cell("ltno-spread")[0], "Li"), 2, {})
