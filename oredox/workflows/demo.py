"""The demo study on the embedded defaults: O3 LiCoO2, CHGNet, MontyDB, local run.

LiCoO2 is the default host because its Co3+ is low-spin d6: non-magnetic and free of
Jahn-Teller distortion, so a machine-learned potential relaxes every delithiated
configuration without a magnetic-state search, and its voltage (about 3.9 V for
x = 1 -> 0.5, measured) is known to every battery researcher. LiNiO2 works too
(``formula="LiNiO2"``) but its Ni3+ Jahn-Teller and magnetic states make a poorer first
test.

The default supercell, the hexagonal cell doubled along a (Li6Co6O12, 24 atoms), has
6 Li sites and 13 symmetry-distinct configurations over all Li contents.

With ``engine="gpaw"`` the demo is a small DFT+U study instead (:data:`GPAW_DEMO`):
the rhombohedral cell doubled along a (Li2Co2O4, 8 atoms: x = 1, 1/2 with the Li
rows of monoclinic Li0.5CoO2, and 0), PBE+U (U(Co) 3.32 eV, mp preset), plane waves
600 eV, a coarse Gamma-centred k-mesh (1.5 per 1/A: 2x4x3), low-spin starting
moments (Co3+ is low-spin d6; from high-spin starts GPAW stays in a high-spin
minimum), statics of every hull vertex with DOS, Bader and local-frame projections:
13 minutes on 2 cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument
from oredox.settings import OredoxSettings, load_settings
from oredox.store import get_job_store
from oredox.structures.delithiation import alkali_symmetry, enumerate_all
from oredox.structures.frameworks import ALKALI_ELEMENTS, make_supercell, o3_layered
from oredox.workflows.engines import get_engine
from oredox.workflows.hull import DelithiationHullMaker
from oredox.workflows.screening import ScreeningSettings
from oredox.workflows.study import run_hull_flow

DEFAULT_SUPERCELL = (2, 1, 1)
MAX_DEMO_CONFIGURATIONS = 200
# the demo study per engine where it differs from the CHGNet one
GPAW_DEMO = {
    "primitive": True,
    "supercell": (2, 1, 1),
    "engine_options": {
        "ecut_eV": 600.0,
        "kpoint_density_per_A": 1.5,
        "scf_density_per_electron": 5e-4,
        "scf_eigenstates_eV2_per_electron": 1e-6,
    },
    "fmax": 0.1,
    # low-spin TM, no moment on O and Li: from O 0.6 muB (MP's default) the SCF of
    # Co2O4 took 56 iterations, from 0 it took 23, to the same state
    "magmoms": {"Co": 1.0, "Ni": 1.0, "O": 0.0, "Li": 0.0},
    "max_configurations": 10,
}


def run_demo(
    formula: str = "LiCoO2",
    supercell: Sequence | None = None,
    engine: str | None = None,
    primitive: bool | None = None,
    oxidation_states: Mapping[str, float] | None = None,
    fmax: float | None = None,
    settings: OredoxSettings | None = None,
    png: str | Path | None = None,
    progress: bool = True,
) -> StudyDocument:
    """Build, run and store a delithiation hull of an O3 layered host.

    Everything is checked before anything is stored: the formula, the supercell, the
    engine and the store connection.

    Parameters
    ----------
    formula
        O3 host ``A M O2``.
    supercell
        3 integers or a 3x3 matrix applied to the framework cell; default (2, 1, 1).
    engine
        Engine name; default ``settings.default_engine``.
    primitive
        Start from the rhombohedral primitive cell (1 f.u.) instead of the hexagonal
        conventional cell (3 f.u.); default: yes for gpaw, no otherwise.
    oxidation_states
        Oxidation states per element, e.g. ``{"Co": 3}``.
    fmax
        Force convergence of the relaxations, eV/A; default 0.05 (gpaw: 0.1, the
        demo's cells and k-mesh are coarse anyway).
    settings
        Store and work directory; default :func:`oredox.settings.load_settings`.
    png
        Where to write the hull and voltage figure; ``None`` for no figure.
    progress
        Show a progress bar.

    Returns
    -------
    StudyDocument
        As written to the store (``oredox.store.get_study`` reads it back).
    """
    settings = settings or load_settings()
    engine_name = (engine or settings.default_engine).lower()
    dft = engine_name == "gpaw"
    extra = GPAW_DEMO if dft else {}
    supercell = supercell or extra.get("supercell", DEFAULT_SUPERCELL)
    primitive = extra.get("primitive", False) if primitive is None else primitive
    limit = extra.get("max_configurations", MAX_DEMO_CONFIGURATIONS)
    engine_options = extra.get("engine_options", {})
    fmax = fmax or extra.get("fmax", 0.05)
    get_engine(
        engine_name, settings.dft_u_preset, options=engine_options
    ).check_runnable()
    framework = o3_layered(formula, oxidation_states=oxidation_states)
    if primitive:
        framework = framework.get_primitive_structure()
    host = make_supercell(framework, supercell)
    alkali = next(s.specie.symbol for s in host if s.specie.symbol in ALKALI_ELEMENTS)
    n_configurations = len(enumerate_all(alkali_symmetry(host, alkali)))
    if n_configurations > limit:
        raise OredoxInputError(
            f"supercell {list(supercell)} gives {n_configurations} configurations, "
            f"more than the {engine_name} demo's limit of {limit}; "
            "choose a smaller supercell"
        )
    store = get_job_store(settings)

    maker = DelithiationHullMaker(
        engine=engine_name,
        dft_u_preset=settings.dft_u_preset,
        fmax=fmax,
        alkali=alkali,
        screening=ScreeningSettings(relax_all=True),
        engine_options=engine_options,
        magmoms=extra.get("magmoms", {}),
        projections=dft,
    )
    flow = maker.make(
        host,
        supercell_matrix=_as_matrix(supercell),
        framework="O3 layered" + (" (primitive cell)" if primitive else ""),
    )
    label = f"demo-{host.composition.reduced_formula}"
    return run_hull_flow(flow, store, settings, label, png, progress)


def _as_matrix(supercell: Sequence) -> list[list[int]]:
    flat = list(supercell)
    if len(flat) == 3 and all(not isinstance(v, Sequence) for v in flat):
        return [[int(flat[i]) if i == j else 0 for j in range(3)] for i in range(3)]
    return [[int(v) for v in row] for row in flat]
