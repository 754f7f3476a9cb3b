"""An engine pair: one engine relaxes, another gives energies and electronic structure.

This is how groups save DFT time: a machine-learned potential (CHGNet) relaxes every
configuration, and a DFT+U static (GPAW or VASP) at that geometry gives the energy that
goes on the hull and the electronic structure that the analysis reads.
:class:`EnginePair` is one more :class:`~oredox.workflows.engines.base.Engine`: its
"relaxation" (:class:`PairRelaxMaker`) is the relaxation of the first engine followed
by the static of the second, and its energies are the static's.

Its :meth:`EnginePair.energy_scheme` is the static engine's (functional, U table,
cutoff, k-mesh) with the geometry's origin added (engine ``chgnet+gpaw``, model
``CHGNet 0.3.0``, ``parameters["geometry"]``), so its entries never share a hull with
entries fully relaxed in DFT, nor with CHGNet's own energies
(:func:`oredox.schemas.check_single_scheme` refuses both).

The static runs on the relaxed geometry with the configuration's starting moments
(the relaxing engine's moments, if any, are not a DFT+U start), and every static writes
the files of the electronic analysis: the hull flow analyses the ones it selects
without running them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from jobflow import Flow, Maker, job
from pydantic import PlainSerializer, PlainValidator
from pymatgen.core import Structure

from oredox.analysis.electronic import StaticOutputs
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme
from oredox.workflows.engines.base import Engine, relaxed_geometry


def _to_engine(value: Any) -> Engine:
    if isinstance(value, Engine):
        return value
    if isinstance(value, dict) and "@class" in value:
        from monty.json import MontyDecoder

        decoded = MontyDecoder().process_decoded(value)
        if isinstance(decoded, Engine):
            return decoded
    raise ValueError(f"expected an oredox engine, got {type(value).__name__}")


# an engine inside an engine: kept as the object, written with its @module/@class
EngineField = Annotated[
    Engine,
    PlainValidator(_to_engine),
    PlainSerializer(lambda engine: engine.as_dict(), when_used="always"),
]


@job(name="relaxed geometry, starting moments")
def static_start(
    relaxed: Structure, start: Structure, relaxed_moments: bool = False
) -> Structure:
    """Job: ``start``'s species and starting moments in ``relaxed``'s geometry.

    With ``relaxed_moments`` the static starts from the relaxation's own moments
    (its ``magmom`` site property: a DFT relaxation's converged moments), where the
    relaxation has them.
    """
    structure = relaxed_geometry(start, relaxed)
    moments = relaxed.site_properties.get("magmom")
    if relaxed_moments and moments is not None and None not in moments:
        structure.add_site_property("magmom", [float(m) for m in moments])
    return structure


@dataclass
class PairRelaxMaker(Maker):
    """Relaxation with one engine, then the static of another at its geometry.

    ``make`` returns a :class:`jobflow.Flow` whose output has the keys of
    :meth:`Engine.relax_outputs`: ``energy_eV`` (the static's), ``structure`` (the
    static's: relaxed geometry with the static's moments), ``converged`` (the
    relaxation's, as a bool) and ``static`` (the static's outputs, for its record).
    """

    name: str = "pair relax"
    relax_engine: Engine | None = None
    static_engine: Engine | None = None
    relax_maker: Maker | None = None
    static_maker: Maker | None = None
    relax_converged_value: Any = True
    #: start the static from the relaxation's moments (a DFT relaxation's); else
    #: from the configuration's starting moments (an MLIP's moments are no start)
    relaxed_moments: bool = False

    def make(self, structure: Structure) -> Flow:
        """Relax ``structure``, then run the static on the relaxed geometry."""
        relax = self.relax_maker.make(structure)
        relax.name = f"{self.name}: {relax.name}"
        relaxed = self.relax_engine.relax_outputs(relax)
        start = static_start(relaxed["structure"], structure, self.relaxed_moments)
        static = self.static_maker.make(start.output)
        outputs = self.static_engine.static_outputs(static)
        converged = same_value(relaxed["converged"], self.relax_converged_value)
        return Flow(
            [relax, start, static, converged],
            output={
                "energy_eV": outputs["energy_eV"],
                "structure": outputs["structure"],
                "converged": converged.output,
                "static": {"job_uuid": static.uuid} | outputs,
            },
            name=self.name,
        )


@job(name="relaxation converged")
def same_value(value: Any, converged_value: Any) -> bool:
    """Job: whether a relaxation's convergence output means converged."""
    return value is not None and str(value) == str(converged_value)


class EnginePair(Engine):
    """``relax_engine`` relaxes; ``static_engine``'s static gives energy and analysis.

    Parameters
    ----------
    relax_engine
        The engine of every relaxation (CHGNet, typically).
    static_engine
        The engine of every energy and static (a DFT+U engine with statics).
    """

    name: ClassVar[str] = "pair"
    converged_value: ClassVar[Any] = True

    relax_engine: EngineField
    static_engine: EngineField

    def model_post_init(self, context: Any) -> None:
        """Refuse a static engine without statics (CHGNet)."""
        if self.static_engine.static_maker() is None:
            raise OredoxInputError(
                f"engine {self.static_engine.name} runs no statics: it cannot give "
                "the energies of an engine pair (use gpaw or vasp)"
            )

    @property
    def label(self) -> str:
        """``relax+static`` (e.g. ``chgnet+gpaw``)."""
        return f"{self.relax_engine.name}+{self.static_engine.name}"

    def relax_maker(self, fmax: float = 0.05, steps: int = 500) -> Maker:
        """The relaxing engine's relaxation, then the static engine's static."""
        return PairRelaxMaker(
            name=f"{self.label} relax",
            relax_engine=self.relax_engine,
            static_engine=self.static_engine,
            relax_maker=self.relax_engine.relax_maker(fmax, steps),
            static_maker=self.static_engine.static_maker(True),
            relax_converged_value=self.relax_engine.converged_value,
            relaxed_moments=self.relax_engine.name == "vasp",
        )

    def static_maker(self, projections: bool = False) -> Maker | None:
        """The static engine's static (the pair's relaxations already ran one)."""
        return self.static_engine.static_maker(projections)

    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """References to a :class:`PairRelaxMaker` flow's outputs (with ``static``)."""
        output = relax_job.output
        return {key: output[key] for key in ("energy_eV", "structure", "converged")} | {
            "static": output["static"]
        }

    def static_outputs(self, static_job) -> dict[str, Any]:
        """The static engine's references to a static's outputs."""
        return self.static_engine.static_outputs(static_job)

    def reads_static(self, folder) -> bool:
        """Whether the static engine wrote ``folder``."""
        return self.static_engine.reads_static(folder)

    def read_static(self, folder) -> StaticOutputs:
        """The static engine's reader."""
        return self.static_engine.read_static(folder)

    def check_runnable(self) -> None:
        """Both engines must run here."""
        self.relax_engine.check_runnable()
        self.static_engine.check_runnable()

    def energy_scheme(
        self, fmax: float = 0.05, structure: Structure | None = None
    ) -> EnergyScheme:
        """The static engine's scheme, with the geometry's engine and criterion."""
        static = self.static_engine.energy_scheme(fmax, structure)
        relax = self.relax_engine.energy_scheme(fmax, structure)
        geometry = relax.model or f"{relax.engine} {relax.functional}"
        return static.model_copy(
            update={
                "engine": self.label,
                "engine_version": (
                    f"{relax.engine} {relax.engine_version}; {static.engine_version}"
                ),
                "model": relax.model,
                "functional": f"{static.functional}, geometry from {geometry}",
                "parameters": (static.parameters or {})
                | {
                    "geometry": f"relaxed with {relax.engine} ({geometry}), cell "
                    f"and ions, fmax {fmax:g} eV/A; energy: single-point "
                    f"{static.engine} static at that geometry"
                },
            }
        )
