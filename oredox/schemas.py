"""Typed documents that oredox writes to the store.

One :class:`StudyDocument` per hull: the entries with their relaxed structures and
energies, the hull vertices, the voltage steps, the energy scheme and the software
versions. Energies are in eV, per formula unit of the host unless the name says
otherwise.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any
from uuid import uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pymatgen.core import Structure


def _to_structure(value: Any) -> Structure:
    if isinstance(value, Structure):
        return value
    if isinstance(value, dict):
        return Structure.from_dict(value)
    raise TypeError(f"expected a pymatgen Structure or its dict, got {type(value)}")


def _to_utc_ms(value: datetime) -> datetime:
    """UTC with millisecond precision; naive times (as BSON returns them) are UTC."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# A pymatgen Structure in a pydantic model: validated from a Structure or its as_dict()
# form, written as that dict in JSON mode (Python mode keeps the object for monty).
StructureField = Annotated[
    Structure,
    PlainValidator(_to_structure),
    PlainSerializer(lambda s: s.as_dict(), when_used="json"),
    WithJsonSchema({"type": "object", "format": "pymatgen Structure.as_dict()"}),
]

TRACKED_PACKAGES = (
    "oredox",
    "pymatgen",
    "jobflow",
    "atomate2",
    "ase",
    "maggma",
    "icet",
    "trainstation",
    "chgnet",
    "torch",
)


def software_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class SettingsModel(BaseModel):
    """Validated settings (unknown keys are errors) that cross job boundaries as data.

    ``as_dict``/``from_dict`` are monty's MSONable protocol, so jobflow and the makers
    that hold these settings serialise them like any atomate2 object.
    """

    model_config = ConfigDict(extra="forbid")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields with ``@module`` and ``@class``."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            **self.model_dump(mode="json"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The settings from :meth:`as_dict` (or plain fields)."""
        return cls.model_validate({k: v for k, v in data.items() if k[:1] != "@"})


class EnergyScheme(BaseModel):
    """What makes energies comparable: entries on one hull must share all of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(description="Engine name, e.g. 'chgnet' or 'vasp'")
    engine_version: str = Field(description="Version of the engine's package")
    model: str | None = Field(None, description="ML model name and version, if any")
    functional: str = Field(
        description="Exchange-correlation functional (or that learned by the ML model)"
    )
    hubbard_u_eV: dict[str, float] | None = Field(
        None, description="U_eff = U - J per element (Dudarev), eV, if DFT+U"
    )
    potcars: list[str] | None = Field(None, description="POTCAR symbols, if VASP")
    encut_eV: float | None = Field(None, description="Plane-wave cutoff, eV")
    relax_fmax_eV_per_A: float = Field(
        description="Force convergence of the relaxations, eV/A"
    )
    relax_cell: bool = Field(
        description="Whether the relaxations relaxed the cell (else ions only)"
    )
    parameters: dict[str, Any] | None = Field(
        None,
        description="Further settings that change energies (k-mesh, smearing, "
        "PAW datasets of engines without POTCARs)",
    )


class VoltageStepDoc(BaseModel):
    """A voltage plateau between two hull vertices."""

    model_config = ConfigDict(extra="forbid")

    x_low: float = Field(
        description="Alkali per host formula unit at the lower end (a hull vertex)"
    )
    x_high: float = Field(
        description="Alkali per host formula unit at the upper end (a hull vertex)"
    )
    voltage_V: float = Field(
        description="Equilibrium voltage vs the alkali metal, V: -(E(x_high) - "
        "E(x_low) - (x_high - x_low) E_alkali) / (x_high - x_low), E per host "
        "formula unit, E_alkali per atom"
    )


class ConfigurationEntry(BaseModel):
    """One relaxed alkali/vacancy configuration of the host supercell."""

    model_config = ConfigDict(extra="forbid")

    config_id: str = Field(
        description="'k<n_vacancies>-<index>' within the study: the index-th "
        "enumerated configuration with that many vacancies"
    )
    x: float = Field(description="Alkali per host formula unit")
    n_alkali: int = Field(description="Alkali atoms in the supercell")
    vacancies: list[int] = Field(
        description="Vacant alkali sites (indices among the host's alkali sites)"
    )
    multiplicity: int = Field(
        description="Symmetry-equivalent copies of the configuration in the supercell"
    )
    energy_eV: float = Field(
        description="Total energy of the relaxed supercell, eV (an engine pair's: "
        "its static's at the relaxed geometry)"
    )
    energy_per_fu_eV: float = Field(description="Energy per host formula unit, eV")
    formation_energy_per_fu_eV: float = Field(
        description="Relative to the end members (x_min and x_max), eV per host "
        "formula unit"
    )
    e_above_hull_per_fu_eV: float = Field(
        description="Energy above the hull, eV per host formula unit (0: a vertex)"
    )
    on_hull: bool = Field(description="Whether the entry is a hull vertex")
    converged: bool = Field(
        description="Whether the relaxation met the force criterion"
    )
    framework_flags: list[str] = Field(
        default_factory=list,
        description="Why the relaxed structure lost the host framework (empty: "
        "intact); flagged entries do not build the hull",
    )
    duplicate_of: str | None = Field(
        None, description="config_id of a lower-energy entry it relaxed into"
    )
    relax_job_uuid: str | None = Field(
        None,
        description="jobflow uuid of the relaxation (its task document; for an "
        "engine pair, the geometry relaxation's); None in studies stored before it "
        "was recorded",
    )
    structure: StructureField = Field(
        description="Relaxed structure (pymatgen dict in JSON; lattice and "
        "coordinates in A), with the engine's site moments when it has them"
    )


class StaticRecord(BaseModel):
    """A static calculation of one relaxed configuration, for electronic analysis.

    Its energy is kept apart from the hull, which is built from the relaxation
    energies of every entry (one scheme): a static exists only for some entries.
    """

    model_config = ConfigDict(extra="forbid")

    config_id: str = Field(description="The entry it was run on")
    job_uuid: str = Field(
        description="jobflow uuid of the static's job: its task document in the "
        "store (oredox.documents.static_task_document)"
    )
    dir_name: str | None = Field(
        None, description="Run folder (host:path) with the files the analysis read"
    )
    energy_eV: float = Field(description="Total energy of the static, eV")
    band_gap_eV: float | None = Field(None, description="Band gap, eV")
    magmoms_muB: list[float] | None = Field(
        None, description="Site-projected magnetic moments, muB, in structure order"
    )
    total_magnetization_muB: float | None = Field(
        None, description="Sum of the site-projected moments, muB"
    )
    lorbit: int | None = Field(
        None, description="VASP LORBIT (12: phase-resolved projections)"
    )
    analysis: dict = Field(
        default_factory=dict,
        description="Electronic analyses by name (environments, o2p, o2p_dos, "
        "bader, projections, redox; 'skipped': what could not run and why), "
        "oredox.analysis.electronic.analyse_outputs",
    )


class StudyDocument(BaseModel):
    """A stored delithiation study: one hull and its voltage profile."""

    model_config = ConfigDict(extra="forbid")

    study_id: str = Field(
        default_factory=lambda: uuid4().hex,
        description="Unique id (32 hex digits; a local run's id); queries accept "
        "a unique prefix",
    )
    name: str = Field(description="The study's name, from its template")
    created_at: datetime = Field(
        default_factory=lambda: _to_utc_ms(datetime.now(UTC)),
        description="UTC, millisecond precision (what MongoDB keeps)",
    )
    host_formula: str = Field(description="Reduced formula of the lithiated host")
    chemsys: str = Field(
        "", description="Elements of the host, sorted, '-'-joined (e.g. 'Co-Li-O')"
    )
    framework: str = Field(description="Parent framework, e.g. 'O3 layered'")
    alkali: str = Field(description="The mobile alkali element: 'Li', 'Na' or 'K'")
    host_structure: StructureField = Field(
        description="Unrelaxed host supercell (pymatgen dict in JSON, A)"
    )
    supercell_matrix: list[list[int]] = Field(
        description="Supercell of the framework's cell (3x3 integers, rows: the "
        "new lattice vectors in the old ones)"
    )
    formula_units: float = Field(
        description="Host formula units in the supercell, counted in `formula_unit`"
    )
    formula_unit: str = Field(
        "",
        description="The formula unit x is counted in, as the user wrote it (e.g. "
        "'Li1.17Ti0.58Ni0.25O2'); '' : the reduced formula of the host",
    )
    n_alkali_sites: int = Field(description="Alkali sites in the host supercell")
    space_group: str = Field(
        description="Space group symbol (Hermann-Mauguin) of the host supercell"
    )
    n_symmetry_operations: int = Field(
        description="Distinct permutations of the alkali sites by the supercell's "
        "symmetry operations"
    )
    configurations_per_x: dict[str, int] = Field(
        description="Distinct configurations per alkali content, keyed by x"
    )
    energy_scheme: EnergyScheme = Field(
        description="What the energies of every entry share (one scheme per hull)"
    )
    energy_scheme_id: str = Field(
        "", description="Short hash of the energy scheme: equal ids, comparable hulls"
    )
    alkali_reference_energy_per_atom_eV: float = Field(
        description="Relaxed alkali metal (bcc), eV/atom, same scheme"
    )
    entries: list[ConfigurationEntry] = Field(
        description="Every relaxed configuration, on the hull or not"
    )
    hull_config_ids: list[str] = Field(
        description="config_ids of the hull vertices, by increasing x"
    )
    voltage_steps: list[VoltageStepDoc] = Field(
        description="Voltage plateaus between neighbouring hull vertices, by "
        "increasing x"
    )
    average_voltage_V: float = Field(
        description="Capacity-weighted average of the steps over the whole x range, V"
    )
    screening: dict = Field(
        default_factory=dict,
        description="How candidates were generated, ranked and selected",
    )
    failed: list[dict] = Field(
        default_factory=list,
        description="Configurations left out of the hull: config_id and reason",
    )
    statics: list[StaticRecord] = Field(
        default_factory=list,
        description="Statics of the hull vertices and near-hull entries",
    )
    redox_summary: list[dict] = Field(
        default_factory=list,
        description="Per delithiation step between statics: the share of the "
        "removed charge taken from O vs the TMs, by moments and by Bader charges "
        "(oredox.analysis.path.redox_summary)",
    )
    convergence: dict | None = Field(
        None,
        description="The cluster-expansion loop (template converge:), if it ran: "
        "its settings, every iteration (CV error in meV per site, candidates, hull "
        "vertices, new vertices, hull change), the last fit's ECIs, the stop reason "
        "and the relaxations it needed (oredox.workflows.converge_flow)",
    )
    software: dict[str, str] = Field(
        default_factory=software_versions,
        description="Versions of the packages that shape the results, by name",
    )

    @field_validator("created_at")
    @classmethod
    def _utc_ms(cls, value: datetime) -> datetime:
        return _to_utc_ms(value)

    @model_validator(mode="after")
    def _derived(self):
        if not self.chemsys:
            self.chemsys = self.host_structure.composition.chemical_system
        if not self.energy_scheme_id:
            self.energy_scheme_id = scheme_id(self.energy_scheme)
        return self

    def hull_entries(self) -> list[ConfigurationEntry]:
        """The hull vertices, by increasing x."""
        by_id = {entry.config_id: entry for entry in self.entries}
        return [by_id[config_id] for config_id in self.hull_config_ids]


def scheme_id(scheme: EnergyScheme) -> str:
    """12 hex digits of the SHA-256 of the scheme's JSON (same scheme, same id)."""
    # without parameters, as before the field existed: stored ids stay valid
    exclude = {"parameters"} if scheme.parameters is None else None
    return hashlib.sha256(scheme.model_dump_json(exclude=exclude).encode()).hexdigest()[
        :12
    ]


def check_single_scheme(schemes: dict[str, EnergyScheme]) -> EnergyScheme:
    """The one energy scheme shared by all entries (entry id -> scheme).

    Raises
    ------
    OredoxInputError
        If the entries mix schemes; the message names the entries that differ from the
        most common scheme and the fields in which they differ.
    """
    from collections import Counter

    from oredox.errors import OredoxInputError

    if not schemes:
        raise OredoxInputError("no entries: nothing to build a hull from")
    keys = {entry: scheme.model_dump_json() for entry, scheme in schemes.items()}
    common_key, _ = Counter(keys.values()).most_common(1)[0]
    common = next(s for e, s in schemes.items() if keys[e] == common_key)
    odd = {e: s for e, s in schemes.items() if keys[e] != common_key}
    if odd:
        details = []
        for entry, scheme in sorted(odd.items()):
            fields = [
                name
                for name in EnergyScheme.model_fields
                if getattr(scheme, name) != getattr(common, name)
            ]
            details.append(f"{entry} ({', '.join(fields)})")
        raise OredoxInputError(
            f"entries from another energy scheme cannot share a hull with the rest "
            f"({common.engine}, {common.functional}): {'; '.join(details)}"
        )
    return common
