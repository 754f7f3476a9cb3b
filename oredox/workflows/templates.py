"""Study templates: one YAML file describes a whole delithiation study.

A template names the host (a seed cell, or an O3 host and supercell), the alkali to
remove, the engine and DFT+U preset, the relaxation, screening and statics settings
(the hull maker's own :class:`~oredox.workflows.hull_flow.RelaxSettings`,
:class:`~oredox.workflows.screening.ScreeningSettings` and
:class:`~oredox.workflows.hull_flow.StaticsSettings`: one definition, one set of
defaults), and the VASP engine's INCAR tags and k-mesh (``vasp:``,
:class:`VaspSection`). It is validated before anything runs (unknown keys, unknown
INCAR tags and wrong types are errors) and can be written back unchanged.

:meth:`StudyTemplate.flow` is the one path from a template to a jobflow ``Flow``: the
engine is built once (with a cluster profile's walltime), the host and its symmetry
once; ``oredox run``, ``run --dry-run``, ``submit`` and the demo all go through
:meth:`StudyTemplate.maker` and :meth:`StudyTemplate.study_host`. Shipped templates
(``oredox template list``) reproduce the seed studies and hold the demo.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from jobflow import Flow
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pymatgen.core import Element, Structure

from oredox.analysis.ce_loop import ConvergeSettings
from oredox.errors import OredoxInputError, validation_problems
from oredox.files import read_yaml_mapping, shown
from oredox.structures.seeds import SEEDS
from oredox.workflows.converge_flow import ConvergedHullMaker
from oredox.workflows.dftu import PRESETS, DftuPreset, custom_preset
from oredox.workflows.engines import ENGINE_OPTIONS, ENGINES, Engine, get_engine
from oredox.workflows.engines.vasp import KpointsSpec
from oredox.workflows.engines.vasp_sets import check_incar
from oredox.workflows.hull_flow import (
    DelithiationHullMaker,
    RelaxSettings,
    StaticsSettings,
)
from oredox.workflows.screening import ScreeningSettings
from oredox.workflows.study_document import StudyHost

MAX_NAME = 200  # a study name is a folder name and a SLURM job name too

if TYPE_CHECKING:
    from oredox.workflows.cluster import ClusterProfile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HostSpec(_Strict):
    """The host cell: a seed cell, or an O3 host repeated by a supercell."""

    seed: Literal[tuple(SEEDS)] | None = None  # type: ignore[valid-type]
    o3_formula: str | None = None
    oxidation_states: dict[str, float] | None = Field(
        None, description="O3 host: oxidation state per element, e.g. {Co: 3}"
    )
    supercell: list[int] | list[list[int]] = Field(
        default_factory=lambda: [1, 1, 1],
        description="Repeats along a, b, c, or a 3x3 integer matrix",
    )
    primitive: bool = False
    formula_unit: str | None = Field(
        None,
        description="The formula unit x counts, as written in papers, e.g. "
        "Li1.17Ti0.58Ni0.25O2; default: the seed's, else the reduced formula",
    )

    @field_validator("formula_unit")
    @classmethod
    def _written_formula(cls, value: str | None) -> str | None:
        from oredox.analysis.formula_unit import content_label

        if value is not None:
            try:  # symbols and amounts only; whether it fits the host: build_host
                content_label(value, "")
            except OredoxInputError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_source(self):
        if (self.seed is None) == (self.o3_formula is None):
            raise ValueError("give exactly one of host.seed or host.o3_formula")
        shape_ok = len(self.supercell) == 3 and all(
            isinstance(row, int) or len(row) == 3 for row in self.supercell
        )
        if not shape_ok:
            raise ValueError(
                "host.supercell must be three positive integers or a 3x3 matrix"
            )
        determinant = round(float(np.linalg.det(supercell_matrix(self.supercell))))
        repeats = isinstance(self.supercell[0], int)
        if determinant == 0 or (repeats and min(self.supercell) < 1):
            raise ValueError(
                f"host.supercell {self.supercell} has determinant {determinant}; "
                "give three positive integers or a 3x3 matrix with a nonzero "
                "determinant"
            )
        if self.seed is not None and (self.oxidation_states or self.primitive):
            raise ValueError(
                "host.oxidation_states and host.primitive are for o3_formula hosts"
            )
        if self.o3_formula is not None:
            from oredox.structures.frameworks import default_max_atoms, o3_layered

            try:  # a 12-atom cell: unknown elements, charge balance, no alkali
                cell = o3_layered(
                    self.o3_formula, oxidation_states=self.oxidation_states
                )
                limit = default_max_atoms()
            except OredoxInputError as exc:
                raise ValueError(str(exc)) from None
            n_sites = abs(determinant) * len(cell) // (3 if self.primitive else 1)
            if n_sites > limit:
                raise ValueError(
                    f"host.supercell {self.supercell} gives {n_sites:,} sites, more "
                    f"than the limit of {limit:,} (OREDOX_MAX_ATOMS raises it)"
                )
        return self


class HubbardSpec(_Strict):
    """A user U table: U, L (and J) for the same elements; the rest from the preset.

    L is required: an element whose L is missing would get VASP's L = 0 (a U on
    its s shell).
    """

    name: str = "user"
    U_eV: dict[str, float]
    L: dict[str, int]
    J_eV: dict[str, float] | None = None

    def preset(self, base: str) -> DftuPreset:
        """The preset: ``base``'s settings with this table (errors name elements)."""
        return custom_preset(
            self.name,
            self.U_eV,
            base=base,
            hubbard_l=self.L,
            hubbard_j_eV=self.J_eV,
        )


class VaspSection(_Strict):
    """VASP settings over the preset's (a template's ``vasp:``), applied last.

    ``incar`` goes to every VASP job, ``relax_incar`` to relaxations, ``static_incar``
    to statics; ``kpoints`` is a mesh (``{mesh: [3, 2, 6]}``) or a density
    (``{per_reciprocal_atom: 2000}``). Unknown INCAR tags are errors; tags that change
    energies (all but parallelisation, SCF-algorithm and output tags) enter the
    energy scheme, so that a hull never mixes energies with and without them.
    """

    incar: dict[str, Any] = Field(default_factory=dict)
    relax_incar: dict[str, Any] = Field(default_factory=dict)
    static_incar: dict[str, Any] = Field(default_factory=dict)
    kpoints: KpointsSpec | None = None

    @field_validator("incar", "relax_incar", "static_incar")
    @classmethod
    def _vasp_tags(cls, value):
        return check_incar(value)

    def engine_options(self) -> dict[str, Any]:
        """The VASP engine's options (its fields) that this section sets."""
        return self.model_dump(mode="json", exclude_defaults=True)


class StudyTemplate(_Strict):
    """A delithiation study, as data."""

    name: str
    description: str = ""
    host: HostSpec
    alkali: Literal["Li", "Na", "K"] = "Li"
    engine: Literal[tuple(ENGINES)] = "chgnet"  # type: ignore[valid-type]
    static_engine: Literal[tuple(ENGINES)] | None = Field(  # type: ignore[valid-type]
        None,
        description="Engine of the energies and statics when it differs from the "
        "relaxing engine: an engine pair (e.g. engine chgnet, static_engine gpaw: "
        "CHGNet geometries, GPAW PBE+U energies and electronic structure)",
    )
    dft_u_preset: Literal[tuple(PRESETS)] = "mp"  # type: ignore[valid-type]
    hubbard_u: HubbardSpec | None = None
    magmoms: dict[str, float] = Field(
        default_factory=dict, description="Initial moments per element, muB"
    )
    relax: RelaxSettings = Field(default_factory=RelaxSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    statics: StaticsSettings = Field(default_factory=StaticsSettings)
    engine_options: dict[str, float] = Field(
        default_factory=dict,
        description="The gpaw engine's numerical settings (ecut_eV, "
        "kpoint_density_per_A, smearing_eV, scf_*); ignored by the other engines",
    )
    vasp: VaspSection | None = Field(
        None,
        description="INCAR tags and k-mesh of the vasp engine, applied last "
        "(docs/vasp-inputs.md)",
    )
    converge: ConvergeSettings | None = Field(
        None,
        description="Run the cluster-expansion loop after the screened relaxations "
        "until the hull converges (docs/converged-hulls.md)",
    )

    @field_validator("name")
    @classmethod
    def _usable_name(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("the study name needs letters or digits")
        if len(value) > MAX_NAME:
            raise ValueError(f"the study name is longer than {MAX_NAME} characters")
        return value

    @field_validator("magmoms")
    @classmethod
    def _elements(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [el for el in value if not Element.is_valid_symbol(el)]
        if unknown:
            raise ValueError(f"magmoms names no element: {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _preset_fits_engine(self):
        if self.static_engine == "chgnet" and self.engine != "chgnet":
            raise ValueError("static_engine chgnet runs no statics; use gpaw or vasp")
        energies = self.static_engine or self.engine
        if energies == "chgnet" and (
            self.dft_u_preset != "mp" or self.hubbard_u is not None
        ):
            raise ValueError(
                "engine chgnet uses no DFT+U preset or U table (its energies are "
                "MPtrj's PBE/PBE+U); drop dft_u_preset and hubbard_u, use engine "
                "vasp or gpaw, or add static_engine: gpaw (or vasp)"
            )
        if self.static_engine == "chgnet" and self.engine != "chgnet":
            raise ValueError("static_engine chgnet runs no statics; use gpaw or vasp")
        unknown = sorted(set(self.engine_options) - set(ENGINE_OPTIONS["gpaw"]))
        if unknown:
            raise ValueError(
                f"unknown engine_options {unknown}; known (gpaw): "
                f"{', '.join(ENGINE_OPTIONS['gpaw'])}"
            )
        if self.vasp is not None and "vasp" not in (self.engine, self.static_engine):
            raise ValueError(
                "the vasp: section sets the vasp engine, which this template does "
                "not use; drop it or use engine vasp (or static_engine vasp)"
            )
        if self.hubbard_u is not None:
            try:
                self.hubbard_u.preset(self.dft_u_preset)
            except OredoxInputError as exc:
                raise ValueError(str(exc)) from None
        return self

    def preset(self) -> str | DftuPreset:
        """The DFT+U preset: the named one, or it with the user U table."""
        if self.hubbard_u is None:
            return self.dft_u_preset
        return self.hubbard_u.preset(self.dft_u_preset)

    def build_host(self) -> tuple[Structure, list[list[int]], str]:
        """The host supercell, its supercell matrix and the framework name."""
        from oredox.analysis.formula_unit import with_formula_unit
        from oredox.structures.frameworks import make_supercell, o3_layered
        from oredox.structures.seeds import seed_cell

        matrix = supercell_matrix(self.host.supercell)
        if self.host.seed is not None:
            cell, framework = seed_cell(self.host.seed)
        else:
            cell = o3_layered(
                self.host.o3_formula, oxidation_states=self.host.oxidation_states
            )
            framework = "O3 layered"
            if self.host.primitive:
                cell = cell.get_primitive_structure()
                framework += " (primitive cell)"
        host = make_supercell(cell, matrix)
        if self.host.formula_unit is not None:
            try:
                with_formula_unit(host, self.host.formula_unit)
            except OredoxInputError as exc:
                raise OredoxInputError(f"host.formula_unit: {exc}") from None
        return host, matrix, framework

    def engine_name(self, engine: str | None = None) -> str:
        """The engine's name: ``engine`` (an override) or the file's.

        ``relax+static`` (e.g. ``chgnet+gpaw``) for an engine pair. An override
        without ``+`` replaces the relaxing engine and keeps the file's static
        engine (``--engine gpaw`` on a chgnet+gpaw template: GPAW alone).
        """
        name = (engine or self.engine).lower()
        if "+" not in name and self.static_engine and self.static_engine != name:
            name = f"{name}+{self.static_engine}"
        return name

    def options(self, engine: str | None = None) -> dict[str, Any]:
        """The engine options for ``engine`` (default the file's).

        ``engine_options`` for gpaw, the ``vasp:`` section for vasp; an engine
        override that drops one drops its options.
        """
        parts = self.engine_name(engine).split("+")
        options: dict[str, Any] = {}
        if "gpaw" in parts:
            options |= self.engine_options
        if "vasp" in parts and self.vasp is not None:
            options |= self.vasp.engine_options()
        return options

    def engine_for(
        self, engine: str | Engine | None = None, cluster: ClusterProfile | None = None
    ) -> Engine:
        """The engine (``engine`` overrides the file's), with the cluster's walltime.

        An :class:`~oredox.workflows.engines.base.Engine` given as ``engine`` is used
        as it is.
        """
        if isinstance(engine, Engine):
            return engine
        name = self.engine_name(engine)
        return get_engine(
            name,
            self.preset(),
            walltime_s=None if cluster is None else cluster.walltime_s,
            options=self.options(name),
        )

    def maker(
        self, engine: str | Engine | None = None, cluster: ClusterProfile | None = None
    ) -> DelithiationHullMaker:
        """The hull maker of this study: engine and makers built once, here."""
        extra = {} if self.converge is None else {"converge": self.converge}
        maker_class = DelithiationHullMaker if not extra else ConvergedHullMaker
        return maker_class(
            **extra,
            name=self.name,
            engine=self.engine_for(engine, cluster),
            relax=self.relax,
            screening=self.screening,
            statics=self.statics,
            alkali=self.alkali,
            magmoms=dict(self.magmoms),
        )

    def study_host(
        self, maker: DelithiationHullMaker | None = None, study_id: str | None = None
    ) -> StudyHost:
        """The host supercell and its alkali symmetry (with ``maker``'s tolerance)."""
        host, matrix, framework = self.build_host()
        return (maker or self.maker()).study_host(
            host, matrix, framework, self.name, study_id
        )

    def flow(
        self,
        engine: str | Engine | None = None,
        cluster: ClusterProfile | None = None,
        study_id: str | None = None,
    ) -> Flow:
        """The study's jobflow ``Flow`` (run locally, or submitted with ``cluster``).

        ``study_id`` fixes the id of the stored study (a local run passes its own).
        """
        maker = self.maker(engine, cluster)
        return maker.flow_for(self.study_host(maker, study_id))

    def to_yaml(self) -> str:
        """The template as YAML (loads back to an equal template)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_template(source: str | Path) -> StudyTemplate:
    """A template from a file, or a shipped one by name (``oredox template list``).

    Raises
    ------
    OredoxInputError
        Missing file, bad YAML, unknown keys or wrong types; the message lists them.
    """
    path = Path(source)
    if not path.exists():
        shipped = shipped_templates()
        if str(source) not in shipped:
            raise OredoxInputError(
                f"no template file {source!r} and no shipped template of that name; "
                f"shipped: {', '.join(shipped)}"
            )
        path = shipped[str(source)]
    data = read_yaml_mapping(path, "template")
    return template_from_data(data, f"template {shown(path.name)}")


def template_from_data(data, label: str = "template") -> StudyTemplate:
    """A validated template from plain data; problems raise one OredoxInputError."""
    try:
        return StudyTemplate.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, "template")
        raise OredoxInputError(f"invalid {label}: {problems}") from None


def supercell_matrix(supercell) -> list[list[int]]:
    """3 repeats or a 3x3 matrix as a 3x3 integer matrix."""
    flat = list(supercell)
    if len(flat) == 3 and all(isinstance(v, int | float) for v in flat):
        return [[int(flat[i]) if i == j else 0 for j in range(3)] for i in range(3)]
    return [[int(v) for v in row] for row in flat]


def shipped_templates() -> dict[str, Path]:
    """Shipped template names and their files."""
    folder = resources.files("oredox.workflows") / "templates"
    files = sorted(Path(str(item)) for item in folder.iterdir())
    return {path.stem: path for path in files if path.suffix == ".yaml"}
