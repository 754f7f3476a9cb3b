"""Typed documents of an oxygen-loss study: which O leaves first, at which x, when.

One :class:`OxygenLossDocument` per run of :class:`~oredox.workflows.oxygen_flow.
OxygenVacancyMaker`, linked to the delithiation study (``study_id``) whose relaxed
configurations are the hosts. Per host configuration (a content x) it lists one
:class:`OxygenVacancyResult` per symmetry-distinct O site (orbit) that was relaxed:
its formation energy at the O-rich limit, the temperature at which losing it turns
favourable at 1 bar, and what the relaxed cell did after the loss (O-O pairs,
framework). Energies in eV, temperatures in K, per vacancy (one O removed from the
host supercell) unless the name says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oredox.analysis.oxygen_thermo import OxygenReference
from oredox.schemas import (
    EnergyScheme,
    StructureField,
    _to_utc_ms,
    scheme_id,
    software_versions,
)


class OxygenVacancyResult(BaseModel):
    """One relaxed O vacancy: the representative of one O orbit of a host."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        description="Environment class of the removed O (its cations and A-O-A' "
        "axes, oredox.analysis.oxygen_vacancies.OxygenOrbit.label)"
    )
    orbit_index: int = Field(
        description="Index of the removed O in the host configuration's structure"
    )
    multiplicity: int = Field(
        description="O sites of the host cell equivalent to it (its orbit's size)"
    )
    wyckoff: str | None = Field(None, description="Wyckoff site, where spglib has it")
    cations: dict[str, int] = Field(
        default_factory=dict,
        description="First-shell cations of the removed O by element ('Vac': "
        "removed alkali)",
    )
    axes: dict[str, int] = Field(
        default_factory=dict,
        description="Linear A-O-A' axes of the removed O by type (e.g. 'Li-O-Vac')",
    )
    energy_eV: float = Field(
        description="Total energy of the relaxed cell with the vacancy, eV"
    )
    formation_energy_O_rich_eV: float = Field(
        description="E_f(V_O) = E(vacancy cell) - E(host) + mu_O at the O-rich "
        "limit (plus the reference's correction), eV per vacancy; negative: the "
        "host loses this O even in pure O2 at 0 K"
    )
    release_temperature_1bar_K: float | None = Field(
        description="Temperature at which E_f(V_O) turns negative in O2 at the "
        "document's pressure_bar (1 bar unless set; the name says the default) "
        "(mu_O(T) from O2 thermochemistry), K; 0.0: already negative at the "
        "O-rich limit; None: not below the table's highest temperature"
    )
    release_delta_mu_o_threshold_eV: float = Field(
        description="Delta mu_O (relative to the O-rich limit) below which losing "
        "this O is favourable, eV per O atom (= -E_f at the O-rich limit)"
    )
    after_loss: dict[str, Any] = Field(
        default_factory=dict,
        description="What the relaxed cell did: O-O pairs with their class "
        "(peroxo, superoxo, O2-like) and framework checks (TM migration), "
        "oredox.analysis.oxygen_vacancies.after_oxygen_loss",
    )
    converged: bool = Field(
        description="Whether the relaxation met the force criterion"
    )
    relax_job_uuid: str | None = Field(
        None, description="jobflow uuid of the relaxation (its task document)"
    )
    structure: StructureField = Field(
        description="Relaxed cell with the vacancy (pymatgen dict in JSON, A)"
    )


class OxygenHostResult(BaseModel):
    """One host configuration (a Li content x) and its relaxed O vacancies."""

    model_config = ConfigDict(extra="forbid")

    config_id: str = Field(
        description="The host configuration: the study entry's config_id, or the "
        "label given with explicit structures"
    )
    x: float | None = Field(
        description="Alkali per host formula unit (the study's); None for explicit "
        "structures without a study"
    )
    formula: str = Field(description="Formula of the host cell")
    host_energy_eV: float = Field(
        description="Total energy of the relaxed host cell, eV (the study entry's)"
    )
    n_oxygen: int = Field(description="O atoms in the host cell")
    n_orbits: int = Field(description="Symmetry-distinct O sites (orbits) of the host")
    vacancies: list[OxygenVacancyResult] = Field(
        description="The relaxed vacancies, lowest formation energy first"
    )
    lowest_formation_energy_O_rich_eV: float | None = Field(
        None, description="Lowest E_f(V_O) at the O-rich limit among them, eV"
    )
    lowest_label: str | None = Field(
        None, description="Environment class of the lowest-E_f vacancy"
    )
    release_temperature_1bar_K: float | None = Field(
        None,
        description="Release temperature at 1 bar of the lowest-E_f vacancy, K "
        "(the first O to leave on heating)",
    )


class OxygenLossDocument(BaseModel):
    """A stored oxygen-loss study of the configurations of one delithiation study."""

    model_config = ConfigDict(extra="forbid")

    oxygen_id: str = Field(
        default_factory=lambda: uuid4().hex,
        description="Unique id of this document (32 hex digits); queries accept a "
        "unique prefix, or the study's id",
    )
    study_id: str | None = Field(
        description="The delithiation study whose configurations are the hosts "
        "(None: explicit structures)"
    )
    name: str = Field(description="Name, from the study's")
    created_at: datetime = Field(
        default_factory=lambda: _to_utc_ms(datetime.now(UTC)),
        description="UTC, millisecond precision",
    )
    host_formula: str = Field(description="Reduced formula of the lithiated host")
    energy_scheme: EnergyScheme = Field(
        description="The scheme of every energy here: the study's (the vacancy "
        "cells are relaxed with the study's engine and settings, cell and ions)"
    )
    energy_scheme_id: str = Field("", description="Short hash of the energy scheme")
    oxygen_reference: OxygenReference = Field(
        description="How mu_O at the O-rich limit was set (method, value in eV "
        "per O, correction, sources): it applies to every formation energy here"
    )
    o2_energy_eV: float | None = Field(
        None,
        description="The engine's relaxed O2 molecule (triplet, in a box), eV per "
        "molecule; None when the reference does not use it",
    )
    pressure_bar: float = Field(
        1.0, description="O2 pressure of the release temperatures, bar"
    )
    keep_per_class: int | None = Field(
        None,
        description="Orbits kept per environment class after the Ewald screen "
        "(None: every orbit relaxed)",
    )
    symprec: float = Field(description="Symmetry tolerance of the O orbits, A")
    hosts: list[OxygenHostResult] = Field(
        description="Per host configuration, by decreasing x"
    )
    failed: list[dict] = Field(
        default_factory=list,
        description="Vacancy relaxations left out: config_id, label and reason",
    )
    software: dict[str, str] = Field(
        default_factory=software_versions,
        description="Versions of the packages that shape the results",
    )

    @field_validator("created_at")
    @classmethod
    def _utc_ms(cls, value: datetime) -> datetime:
        return _to_utc_ms(value)

    @model_validator(mode="after")
    def _derived(self):
        if not self.energy_scheme_id:
            self.energy_scheme_id = scheme_id(self.energy_scheme)
        return self

    def lowest_per_x(self) -> list[dict[str, Any]]:
        """Per host: x, config_id, the lowest E_f (eV), its class, T_release (K)."""
        return [
            {
                "x": host.x,
                "config_id": host.config_id,
                "label": host.lowest_label,
                "formation_energy_O_rich_eV": host.lowest_formation_energy_O_rich_eV,
                "release_temperature_1bar_K": host.release_temperature_1bar_K,
            }
            for host in self.hosts
        ]
