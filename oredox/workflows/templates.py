"""Study templates: one YAML file describes a whole delithiation study.

A template names the host (a seed cell, or an O3 host and supercell), the alkali to
remove, the engine and DFT+U preset, the relaxation settings and the screening. It is
validated before anything runs (unknown keys and wrong types are errors), turns into a
:class:`~oredox.workflows.hull.DelithiationHullMaker` and a host structure, and can be
written back unchanged. Shipped templates (``oredox template list``) reproduce the seed
studies of SCIENCE.md.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.workflows.dftu import PRESETS, DftuPreset, custom_preset
from oredox.workflows.engines import ENGINES, GPAW_OPTIONS
from oredox.workflows.screening import RANKERS, ScreeningSettings

SEEDS = ("li2mno3", "nlmo", "nlmro", "house", "ltno-sqs", "ltno-spread")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HostSpec(_Strict):
    """The host cell: a seed cell, or an O3 host repeated by a supercell."""

    seed: Literal[SEEDS] | None = None  # type: ignore[valid-type]
    o3_formula: str | None = None
    supercell: list[int] = Field(default_factory=lambda: [1, 1, 1])
    primitive: bool = False

    @model_validator(mode="after")
    def _one_source(self):
        if (self.seed is None) == (self.o3_formula is None):
            raise ValueError("give exactly one of host.seed or host.o3_formula")
        if len(self.supercell) != 3 or min(self.supercell) < 1:
            raise ValueError("host.supercell must be three positive integers")
        return self


class RelaxSpec(_Strict):
    """Relaxation settings of the engine."""

    fmax_eV_per_A: float = Field(0.05, gt=0)
    max_steps: int = Field(500, ge=1)
    relax_host: bool = True


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


class StaticsSpec(_Strict):
    """Statics for analysis of the hull vertices and near-hull configurations."""

    window_meV_per_atom: float = Field(5.0, ge=0)
    max_statics: int | None = Field(None, ge=1)
    projections: bool = False


class ScreeningSpec(_Strict):
    """Candidate generation, ranking and selection (see ScreeningSettings)."""

    relax_all: bool = False
    method: Literal["exhaustive", "beam"] = "exhaustive"
    beam_width: int = Field(10, ge=1)
    rankers: list[Literal[RANKERS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["ewald", "chgnet"]
    )
    ewald_keep: int = Field(20, ge=1)
    chgnet_keep: int = Field(10, ge=1)
    compensation: Literal["metal", "anion"] = "metal"
    lowest: int = Field(3, ge=1)
    window_meV_per_atom: float = Field(10.0, ge=0)


class StudyTemplate(_Strict):
    """A delithiation study, as data."""

    name: str
    description: str = ""
    host: HostSpec
    alkali: Literal["Li", "Na", "K"] = "Li"
    engine: Literal[ENGINES] = "chgnet"  # type: ignore[valid-type]
    dft_u_preset: Literal[tuple(PRESETS)] = "mp"  # type: ignore[valid-type]
    hubbard_u: HubbardSpec | None = None
    magmoms: dict[str, float] = Field(
        default_factory=dict, description="Initial moments per element, muB"
    )
    relax: RelaxSpec = Field(default_factory=RelaxSpec)
    screening: ScreeningSpec = Field(default_factory=ScreeningSpec)
    statics: StaticsSpec = Field(default_factory=StaticsSpec)
    engine_options: dict[str, float] = Field(
        default_factory=dict,
        description="gpaw: ecut_eV, kpoint_density_per_A, smearing_eV, "
        "scf_energy_eV_per_electron (ignored by the other engines)",
    )

    @model_validator(mode="after")
    def _preset_fits_engine(self):
        if self.engine == "chgnet" and (
            self.dft_u_preset != "mp" or self.hubbard_u is not None
        ):
            raise ValueError(
                "engine chgnet uses no DFT+U preset or U table (its energies are "
                "MPtrj's PBE/PBE+U); drop dft_u_preset and hubbard_u or use "
                "engine vasp"
            )
        unknown = sorted(set(self.engine_options) - set(GPAW_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown engine_options {unknown}; known (gpaw): "
                f"{', '.join(GPAW_OPTIONS)}"
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
        from oredox.structures import seeds
        from oredox.structures.frameworks import make_supercell, o3_layered

        matrix = [
            [v if i == j else 0 for j, v in enumerate(self.host.supercell)]
            for i in range(3)
        ]
        if self.host.seed is not None:
            builders = {
                "li2mno3": (seeds.li2mno3_honeycomb, "O3 honeycomb (C2/m)"),
                "nlmo": (seeds.nlmo_ribbon, "P2 ribbon"),
                "nlmro": (seeds.nlmro_ribbon, "P2 ribbon, Ru on Mn"),
                "house": (seeds.house_honeycomb, "P2 LiMn6 2x2"),
                "ltno-sqs": (seeds.ltno_sqs, "rock salt SQS"),
                "ltno-spread": (seeds.ltno_spread, "rock salt, TM spread"),
            }
            build, framework = builders[self.host.seed]
            return make_supercell(build(), matrix), matrix, framework
        cell = "primitive" if self.host.primitive else "conventional"
        parent = o3_layered(self.host.o3_formula, cell=cell)
        return make_supercell(parent, matrix), matrix, "O3 layered"

    def options(self, engine: str | None = None) -> dict[str, float]:
        """The engine options for ``engine`` (default the file's): gpaw's only."""
        return dict(self.engine_options) if (engine or self.engine) == "gpaw" else {}

    def maker(self, engine: str | None = None):
        """The DelithiationHullMaker of this study (``engine`` overrides the file's)."""
        from oredox.workflows.hull import DelithiationHullMaker

        return DelithiationHullMaker(
            name=self.name,
            engine=engine or self.engine,
            engine_options=self.options(engine),
            fmax=self.relax.fmax_eV_per_A,
            max_steps=self.relax.max_steps,
            alkali=self.alkali,
            dft_u_preset=self.preset(),
            screening=ScreeningSettings(**self.screening.model_dump()),
            relax_host=self.relax.relax_host,
            statics_window_meV_per_atom=self.statics.window_meV_per_atom,
            max_statics=self.statics.max_statics,
            projections=self.statics.projections,
            magmoms=dict(self.magmoms),
        )

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
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise OredoxInputError(f"{path} is not valid YAML: {exc}") from None
    try:
        return StudyTemplate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'template'}: {e['msg']}"
            for e in exc.errors()
        )
        raise OredoxInputError(f"invalid template {path.name}: {problems}") from None


def shipped_templates() -> dict[str, Path]:
    """Shipped template names and their files."""
    folder = resources.files("oredox.workflows") / "templates"
    files = sorted(Path(str(item)) for item in folder.iterdir())
    return {path.stem: path for path in files if path.suffix == ".yaml"}
