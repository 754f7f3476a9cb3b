"""The demo: a shipped study template run on the embedded defaults.

``oredox demo`` runs the shipped template ``demo-chgnet`` (O3 LiCoO2, the hexagonal
cell doubled along a: Li6Co6O12, 24 atoms, 6 Li sites, 13 symmetry-distinct
configurations; CHGNet; MontyDB; local run); ``--engine gpaw`` runs ``demo-gpaw``, a
small PBE+U study with statics (DOS, Bader, local-frame projections) in 13 minutes on
2 cores. Their descriptions say why these settings. :func:`run_demo` only applies the
command's overrides (formula, supercell, cell, oxidation states, force criterion) to
the template and runs it through the same path as ``oredox run``
(:meth:`~oredox.workflows.templates.StudyTemplate.flow`).

LiCoO2 is the default host because its Co3+ is low-spin d6: non-magnetic and free of
Jahn-Teller distortion, so a machine-learned potential relaxes every delithiated
configuration without a magnetic-state search, and its voltage (about 3.9 V for
x = 1 -> 0.5, measured) is known to every battery researcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pymatgen.core import Composition

from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument
from oredox.settings import OredoxSettings, load_settings
from oredox.store import get_job_store
from oredox.structures.delithiation import count_configurations
from oredox.structures.frameworks import ALKALI_ELEMENTS
from oredox.workflows.engines import ENGINES
from oredox.workflows.execution import new_run_id, run_identity
from oredox.workflows.study import run_hull_flow
from oredox.workflows.templates import (
    StudyTemplate,
    load_template,
    template_from_data,
)

# the shipped demo template of each engine (others run the chgnet one's settings)
DEMO_TEMPLATES = {"chgnet": "demo-chgnet", "gpaw": "demo-gpaw"}
# most configurations a demo relaxes (a bigger supercell is an error, not hours)
MAX_CONFIGURATIONS = {"gpaw": 10}
MAX_DEMO_CONFIGURATIONS = 200


def demo_template(
    engine: str = "chgnet",
    formula: str | None = None,
    supercell: Sequence | None = None,
    primitive: bool | None = None,
    oxidation_states: Mapping[str, float] | None = None,
    fmax: float | None = None,
    dft_u_preset: str = "mp",
) -> StudyTemplate:
    """The demo's shipped template for ``engine``, with the given overrides.

    Raises
    ------
    OredoxInputError
        An unknown engine or preset, a bad supercell or force criterion.
    """
    engine = engine.lower()
    if engine not in ENGINES:
        raise OredoxInputError(
            f"unknown engine {engine!r}; available engines: {', '.join(ENGINES)}"
        )
    data = load_template(DEMO_TEMPLATES.get(engine, "demo-chgnet")).model_dump()
    data["engine"] = engine
    if engine != "chgnet":
        data["dft_u_preset"] = dft_u_preset
    host = data["host"]
    if formula is not None:
        host["o3_formula"] = formula
    try:
        composition = Composition(host["o3_formula"])
    except (ValueError, KeyError):
        raise OredoxInputError(
            f"{host['o3_formula']!r} is not a chemical formula like LiCoO2"
        ) from None
    alkali = [el.symbol for el in composition if el.symbol in ALKALI_ELEMENTS]
    data["alkali"] = alkali[0] if alkali else data["alkali"]  # none: o3_layered says
    if supercell is not None:
        host["supercell"] = [
            list(v) if isinstance(v, Sequence) else v for v in supercell
        ]
    if primitive is not None:
        host["primitive"] = primitive
    if oxidation_states:
        host["oxidation_states"] = dict(oxidation_states)
    if fmax is not None:
        data["relax"]["fmax_eV_per_A"] = fmax
    cell = " (primitive cell)" if host["primitive"] else ""
    data["name"] = f"{composition.reduced_formula} O3 layered{cell}"
    return template_from_data(data, f"demo settings for engine {engine}")


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
    engine_name = (settings.default_engine if engine is None else engine).lower()
    template = demo_template(
        engine_name,
        formula,
        supercell,
        primitive,
        oxidation_states,
        fmax,
        settings.dft_u_preset,
    )
    maker = template.maker()
    maker.engine.check_runnable()
    identity = run_identity(
        template.name, template.model_dump(mode="json"), maker.engine.label
    )
    identity["run_id"] = new_run_id()  # the stored study's id: one study per run
    study_host = template.study_host(maker, study_id=identity["run_id"])
    n_configurations = sum(
        count_configurations(study_host.symmetry, k)
        for k in range(study_host.symmetry.n_sites + 1)
    )
    limit = MAX_CONFIGURATIONS.get(engine_name, MAX_DEMO_CONFIGURATIONS)
    if n_configurations > limit:
        raise OredoxInputError(
            f"supercell {template.host.supercell} gives {n_configurations} "
            f"configurations, more than the {engine_name} demo's limit of {limit}; "
            "choose a smaller supercell"
        )
    store = get_job_store(settings)
    flow = maker.flow_for(study_host)
    label = f"demo-{study_host.structure.composition.reduced_formula}"
    return run_hull_flow(flow, store, settings, label, png, progress, identity=identity)
