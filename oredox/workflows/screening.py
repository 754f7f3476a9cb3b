"""Screening delithiated configurations before the expensive engine.

The procedure, stage by stage (:func:`screen_configurations`):

1. candidates: every symmetry-distinct arrangement at every content (exhaustive), or
   the beam of the iterative removal when there are too many;
2. ``ewald``: a point-charge Ewald energy with the removed charge compensated on the
   metals keeps the ``ewald_keep`` lowest per content. When it is the first ranker of
   an exhaustive screening, stages 1-2 are one exact branch-and-bound search
   (:func:`oredox.structures.lowest.lowest_ewald`) that never lists every
   arrangement: the same ``ewald_keep`` lowest, in milliseconds where ranking all
   took seconds, and no limit on raw arrangements (``max_nodes`` bounds the search);
3. ``chgnet``: CHGNet single points of the survivors with one model load for all
   (batched several structures per call on a GPU), or ``chgnet-relax``: short CHGNet
   relaxations with one shared model;
4. selection (:func:`oredox.analysis.selection.select_for_relaxation`): per content
   the lowest few plus a window of the screened hull (of the content's minimum when
   only Ewald ranked them).

``relax_all=True`` skips 2-4: every candidate goes to the engine (the demo's
exhaustive hull).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from math import comb
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator
from pymatgen.core import Structure

from oredox.analysis.formula_unit import formula_units as host_formula_units
from oredox.analysis.selection import select_for_relaxation
from oredox.errors import OredoxInputError
from oredox.extras import MissingExtraError, require
from oredox.schemas import SettingsModel
from oredox.structures.beam_search import beam_search
from oredox.structures.delithiation import (
    MAX_ALKALI_SITES,
    MAX_RAW_CONFIGURATIONS,
    AlkaliSymmetry,
    Configuration,
    all_masks,
    config_ids,
    configurations_to_masks,
    masks_to_configurations,
    masks_to_occupied,
)
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.lowest import MAX_NODES, lowest_ewald
from oredox.workflows.chgnet_points import ChgnetSinglePoint
from oredox.workflows.threads import engine_threads_applied

logger = logging.getLogger(__name__)
RANKERS = ("ewald", "chgnet", "chgnet-relax")


class ScreeningSettings(SettingsModel):
    """How candidates are generated, ranked and selected.

    One definition: the hull maker holds it, study templates write it under
    ``screening:``.

    Parameters
    ----------
    relax_all
        Send every candidate to the engine (no ranking, no selection).
    method
        ``"exhaustive"`` or ``"beam"`` candidate generation.
    beam_width
        Arrangements kept per content by the beam search (ranked by Ewald).
    max_raw
        Above this many raw arrangements at a content, exhaustive enumeration of every
        arrangement (``relax_all``, or a first ranker other than ``ewald``) stops with
        an error that points to ``method="beam"``.
    max_nodes
        Limit of the branch-and-bound search of the lowest Ewald energies (an
        exhaustive screening whose first ranker is ``ewald``) per content; past it the
        search stops with an error that points to ``method="beam"``.
    rankers
        Stages after the candidates, in order: any of ``"ewald"``, ``"chgnet"``,
        ``"chgnet-relax"``.
    ewald_keep
        Configurations per content that survive the Ewald stage.
    chgnet_keep
        Configurations per content that survive a CHGNet stage before selection.
    compensation
        Where the Ewald model puts the charge of removed alkali: ``"metal"`` or
        ``"anion"``.
    lowest, window_meV_per_atom
        Selection: this many lowest per content, plus those within the window.
    batch_size
        Structures per CHGNet model call; ``None``: 16 on a GPU, 1 on a CPU (as fast
        as any batch there, with the least memory). On a CPU a call also holds at most
        192 atoms.
    vacancies
        Screen only these numbers of removed alkali per supercell (the host, 0, is
        always kept): e.g. ``[2]`` for a study of x = 2 -> 1 in Li4Mn2O6, or the
        few contents a DFT budget allows; ``None``: every content. The hull then
        spans the contents computed.
    """

    relax_all: bool = False
    method: Literal["exhaustive", "beam"] = "exhaustive"
    beam_width: int = Field(10, ge=1)
    max_raw: int = Field(MAX_RAW_CONFIGURATIONS, ge=1)
    max_nodes: int = Field(MAX_NODES, ge=1)
    rankers: list[Literal[RANKERS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["ewald", "chgnet"]
    )
    ewald_keep: int = Field(20, ge=1)
    chgnet_keep: int = Field(10, ge=1)
    compensation: Literal["metal", "anion"] = "metal"
    lowest: int = Field(3, ge=1)
    window_meV_per_atom: float = Field(10.0, ge=0, allow_inf_nan=False)
    batch_size: int | None = Field(None, ge=1)
    vacancies: list[int] | None = None

    @field_validator("vacancies")
    @classmethod
    def _positive_counts(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value or any(k < 1 for k in value):
            raise ValueError("vacancies lists numbers of removed alkali, each >= 1")
        return sorted(set(value))

    def contents(self, n_sites: int) -> list[int]:
        """The vacancy counts screened on a host with ``n_sites`` alkali sites."""
        if self.vacancies is None:
            return list(range(n_sites + 1))
        return [0, *self.vacancies]

    @model_validator(mode="after")
    def _something_ranks(self):
        if not self.relax_all and not self.rankers:
            raise ValueError("give at least one ranker, or relax_all=True")
        return self


@dataclass(frozen=True)
class ScreeningResult:
    """Configurations chosen for the engine, their ids, and a record of how."""

    selected: list[Configuration]
    record: dict[str, Any]

    @property
    def config_ids(self) -> list[str]:
        """``k<vacancies>-<i>`` of each selected configuration, in order."""
        return config_ids(self.selected)


def check_feasible(
    symmetry: AlkaliSymmetry,
    settings: ScreeningSettings,
    host: Structure | None = None,
) -> None:
    """Raise before any job when the screening could not run on this host.

    More alkali sites than bit masks hold; (exhaustive, every arrangement listed) a
    content with more raw arrangements than ``settings.max_raw``; (exhaustive led by
    Ewald, given the ``host`` with oxidation states) a search of the lowest Ewald
    energies beyond ``settings.max_nodes`` at the content with the most raw
    arrangements, searched once here on the unrelaxed host. The errors are those the
    screening job would raise, in seconds instead of after the host relaxation (the
    relaxed host's search visits a similar, not identical, number of nodes).
    """
    n = symmetry.n_sites
    if n > MAX_ALKALI_SITES:
        raise OredoxInputError(
            f"{n} alkali sites exceed the {MAX_ALKALI_SITES} that bit masks hold; "
            "use a smaller supercell"
        )
    beyond = [k for k in settings.vacancies or [] if k > n]
    if beyond:
        raise OredoxInputError(
            f"screening.vacancies {beyond}: the host has only {n} "
            f"{symmetry.alkali} sites"
        )
    if settings.method != "exhaustive":
        return
    counts = settings.contents(n)
    if not _searches_lowest(settings):
        too_many = [k for k in counts if comb(n, k) > settings.max_raw]
        if too_many:
            all_masks(symmetry, too_many[0], settings.max_raw)
        return
    charged = host is not None and all(
        getattr(sp, "oxi_state", None) is not None for sp in host.species
    )
    if charged:
        ewald = DelithiationEwald(host, symmetry.alkali_indices, settings.compensation)
        hardest = max(counts, key=lambda k: comb(n, k))
        lowest_ewald(symmetry, ewald, hardest, settings.ewald_keep, settings.max_nodes)


def _stage_threads(ranker: str, host_atoms: int):
    """The thread rule for a CHGNet stage, PyTorch's count restored after it.

    Single points take no size cap (a single call was measured faster on two threads
    from 4 atoms on a quiet machine); short relaxations take the host's size.
    """
    if ranker == "ewald":
        return nullcontext()
    return engine_threads_applied(host_atoms if ranker == "chgnet-relax" else None)


def _searches_lowest(settings: ScreeningSettings) -> bool:
    """Whether candidates and the Ewald stage are one lowest-N search."""
    return (
        settings.method == "exhaustive"
        and not settings.relax_all
        and settings.rankers[0] == "ewald"
    )


def screen_configurations(
    host: Structure, symmetry: AlkaliSymmetry, settings: ScreeningSettings
) -> ScreeningResult:
    """Candidates, ranking stages and selection for one host (see module docstring).

    Raises
    ------
    MissingExtraError
        A CHGNet ranker without the ``chgnet`` extra (before any work).
    """
    chgnet_rankers = [r for r in settings.rankers if r.startswith("chgnet")]
    if chgnet_rankers and not settings.relax_all:
        try:
            require(
                "chgnet",
                f"CHGNet screening (rankers: {', '.join(chgnet_rankers)})",
                modules=("chgnet", "torch"),
            )
        except MissingExtraError as exc:
            raise MissingExtraError(
                f"{exc}, or screen with the Ewald model alone (screening: rankers: "
                "[ewald])"
            ) from None
    n = symmetry.n_sites
    _, formula_units = host_formula_units(host)
    ewald = DelithiationEwald(host, symmetry.alkali_indices, settings.compensation)

    # 1. candidates, as bit masks per vacancy count
    candidates: dict[int, np.ndarray] = {}
    scores: dict[int, np.ndarray] = {}
    rankers = list(settings.rankers)
    distinct: dict[int, int] = {}
    if _searches_lowest(settings):
        for k in settings.contents(n):
            found = lowest_ewald(
                symmetry, ewald, k, settings.ewald_keep, settings.max_nodes
            )
            candidates[k], scores[k] = found.masks, found.energies_eV
            distinct[k] = found.distinct
        rankers = rankers[1:]
    elif settings.method == "beam":
        deepest = max(settings.contents(n))
        beam = beam_search(symmetry, ewald.energies, settings.beam_width, deepest)
        wanted = set(settings.contents(n))
        for k, scored in beam.items():
            if k in wanted:
                candidates[k] = configurations_to_masks(
                    [s.configuration for s in scored]
                )
    else:
        for k in settings.contents(n):
            candidates[k] = all_masks(symmetry, k, settings.max_raw)
    record: dict[str, Any] = {
        "settings": settings.model_dump(mode="json"),
        "candidates_per_k": distinct or {k: len(m) for k, m in candidates.items()},
    }
    if distinct:
        record["after_ewald_per_k"] = {k: len(m) for k, m in candidates.items()}
        last_ranker = "ewald"
    else:
        last_ranker = None
    if settings.relax_all:
        selected = [m for k in sorted(candidates) for m in candidates[k]]
        record["selection"] = "relax_all: every candidate"
        return ScreeningResult(masks_to_configurations(symmetry, selected), record)

    # 2-3. ranking stages
    chgnet = ChgnetSinglePoint(host, symmetry, settings.batch_size)
    for ranker in rankers:
        keep = settings.ewald_keep if ranker == "ewald" else settings.chgnet_keep
        with _stage_threads(ranker, len(host)):
            for k, masks in candidates.items():
                occupied = masks_to_occupied(masks, n)
                if ranker == "ewald":
                    energy = ewald.energies(occupied)
                elif ranker == "chgnet":
                    energy = chgnet.energies(occupied)
                else:
                    energy = chgnet.relaxed_energies(occupied)
                order = np.argsort(energy, kind="stable")[:keep]
                candidates[k], scores[k] = masks[order], energy[order]
        record[f"after_{ranker}_per_k"] = {k: len(m) for k, m in candidates.items()}
        last_ranker = ranker

    # 4. selection
    masks = np.concatenate([candidates[k] for k in sorted(candidates)])
    energies = np.concatenate([scores[k] for k in sorted(candidates)])
    counts = np.concatenate(
        [np.full(len(candidates[k]), k) for k in sorted(candidates)]
    )
    x = (n - counts) / formula_units
    atoms_per_fu = (len(host) - counts) / formula_units
    selection = select_for_relaxation(
        x,
        energies / formula_units,
        atoms_per_fu,
        lowest=settings.lowest,
        window_meV_per_atom=settings.window_meV_per_atom,
        reference="composition" if last_ranker == "ewald" else "hull",
    )
    record["selection"] = selection.summary()
    record["selected_per_x"] = selection.per_x
    chosen = masks[selection.selected]
    configs = masks_to_configurations(symmetry, chosen)
    record["reasons"] = {
        config_id: selection.reasons[i]
        for config_id, i in zip(config_ids(configs), selection.selected, strict=True)
    }
    logger.info(
        "screening selected %d of %d candidates",
        len(configs),
        sum(record["candidates_per_k"].values()),
    )
    return ScreeningResult(configs, record)
