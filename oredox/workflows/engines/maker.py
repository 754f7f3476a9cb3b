"""A user's own atomate2 Maker as an oredox engine.

:class:`MakerEngine` holds a relax maker and, optionally, a static maker, as atomate2's
``ElectrodeInsertionMaker(relax_maker, static_maker)`` does, and gives the hull flow
what every engine gives (:class:`~oredox.workflows.engines.base.Engine`). Two kinds of
makers are understood:

- VASP makers (subclasses of atomate2's ``BaseVaspMaker``: ``MPGGARelaxMaker``,
  ``MPMetaGGAStaticMaker``, ``HSEStaticMaker``, your own): outputs from emmet's TaskDoc
  (``output.energy``, ``structure``, ``state``), the energy scheme from the INCAR,
  KPOINTS and POTCAR symbols that the maker's input set writes for the host
  (functional from GGA, METAGGA and LHFCALC; U_eff = U - J from LDAUU and LDAUJ;
  ENCUT; the POTCAR functional), statics read by
  :func:`~oredox.workflows.engines.vasp.read_vasp_outputs`;
- force-field and other ASE makers (atomate2's ``ForceFieldRelaxMaker`` with any
  ``force_field_name``, ``AseRelaxMaker`` subclasses): outputs from atomate2's ASE task
  document (``output.energy``, ``structure``, ``is_force_converged``), the scheme from
  the force field's name, its package's version and the calculator's arguments.

The maker runs as given: the study's force criterion and step limit do not change it.
The scheme records the maker's own criterion (``EDIFFG`` of a VASP relaxation,
``relax_kwargs["fmax"]`` of an ASE one), and a warning says when it differs from the
study's. With a static maker, every relaxation is followed by that static and the
static's energy goes on the hull (an r2SCAN or HSE energy at the relaxation's geometry,
as in an engine pair); ``energies="relax"`` keeps the relaxation's energies and runs
the static only on the hull vertices and near-hull entries, for their electronic
analysis (as the VASP engine does).

The scheme's ``engine`` is the import path of the maker class(es), so
:func:`~oredox.schemas.check_single_scheme` never puts a custom maker's energies on
one hull with another engine's, nor with another maker's.

The engine crosses job boundaries as data (``as_dict``/``from_dict``; makers through
monty), so the maker classes must be importable where the jobs run: define them at
the top level of a module, not inside a function (refused) or a script's
``__main__`` (runs here, but cannot be resumed or submitted). Templates never name a
maker class (a YAML file could then import anything): a custom maker is a Python
engine, ``template.flow(engine=MakerEngine(...))``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from jobflow import Maker
from monty.json import MontyDecoder, MontyEncoder
from pydantic import PlainSerializer, PlainValidator, PrivateAttr, ValidationError
from pymatgen.core import Structure

from oredox.analysis.electronic import StaticOutputs
from oredox.errors import OredoxInputError, validation_problems
from oredox.schemas import EnergyScheme
from oredox.workflows.engines.base import Engine
from oredox.workflows.engines.maker_schemes import (
    SUPPORTED,
    check_maker_runnable,
    class_path,
    force_criterion,
    incar_settings,
    maker_kind,
    maker_scheme,
    relaxes,
)
from oredox.workflows.engines.pair import PairRelaxMaker
from oredox.workflows.engines.vasp import read_vasp_outputs


def _to_maker(value: Any) -> Any:
    """A maker, or its monty dict decoded (left as a dict if its class is missing)."""
    if isinstance(value, dict) and "@class" in value:
        try:
            return MontyDecoder().process_decoded(value)
        except Exception:  # reported by MakerEngine, naming the class
            return value
    return value


# a maker inside the engine: kept as the object, written as monty's JSON dict
MakerField = Annotated[
    Any,
    PlainValidator(_to_maker),
    PlainSerializer(
        lambda maker: (
            None if maker is None else json.loads(json.dumps(maker, cls=MontyEncoder))
        ),
        when_used="always",
    ),
]


class MakerEngine(Engine):
    """An engine made of your own atomate2 makers (see the module docstring).

    Parameters
    ----------
    relax
        The maker of every relaxation (a VASP, force-field or ASE relax maker), used
        as it is.
    static
        A VASP static maker, or ``None`` (no statics, no electronic analysis).
    energies
        ``"static"`` (the default with a static): each relaxation is followed by the
        static, whose energy goes on the hull; ``"relax"``: the relaxations'
        energies, the static only for the analysis of near-hull entries.
    scheme
        An energy scheme to record instead of the derived one; its ``engine`` is
        replaced by the makers' class paths all the same.
    """

    name: ClassVar[str] = "maker"

    relax: MakerField
    static: MakerField = None
    energies: Literal["relax", "static"] | None = None
    scheme: EnergyScheme | None = None
    _settings_hash: str = PrivateAttr("")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            for error in exc.errors():  # model_post_init's own message, as it is
                cause = (error.get("ctx") or {}).get("error")
                if isinstance(cause, OredoxInputError):
                    raise cause from None
            problems = validation_problems(exc, "maker engine")
            raise OredoxInputError(f"maker engine: {problems}") from None

    def model_post_init(self, context: Any) -> None:
        """Check the makers: kinds oredox reads, classes importable, relaxing."""
        for role, maker in (("relax", self.relax), ("static", self.static)):
            if isinstance(maker, dict):
                raise OredoxInputError(
                    f"cannot import the {role} maker class "
                    f"{maker.get('@module')}.{maker.get('@class')}: it must be "
                    "importable where the jobs run"
                )
            if maker is None and role == "static":
                continue
            kind = maker_kind(maker)
            if "<locals>" in class_path(maker):
                raise OredoxInputError(
                    f"maker class {class_path(maker)} is defined inside a function: "
                    "jobs cannot import it; define it at the top level of a module"
                )
            if type(maker).__module__ == "__main__":
                warnings.warn(
                    f"maker class {type(maker).__name__} is defined in a script "
                    "(__main__): it runs here, but a resumed or submitted run cannot "
                    "import it; define it in a module",
                    stacklevel=3,
                )
            if role == "static" and kind != "vasp":
                raise OredoxInputError(
                    f"static maker {class_path(maker)}: supported {SUPPORTED}"
                )
        if self.energies == "static" and self.static is None:
            raise OredoxInputError(
                "maker engine: energies='static' needs a static maker"
            )
        if not relaxes(self.relax):
            raise OredoxInputError(
                f"relax maker {class_path(self.relax)} does not relax (no ionic "
                "steps): give a relaxation maker"
            )
        force_criterion(self.relax)  # a VASP energy criterion is refused
        # the makers' settings now (a VASP input set keeps the last structure it
        # wrote inputs for, which would change the hash of the same settings)
        text = json.dumps(self.as_dict(), sort_keys=True, cls=MontyEncoder)
        self._settings_hash = hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def energy_source(self) -> str:
        """``static`` or ``relax``: whose energies go on the hull."""
        if self.energies is not None:
            return self.energies
        return "relax" if self.static is None else "static"

    @property
    def label(self) -> str:
        """Class names and a hash of the settings (``MyRelaxMaker@1f0c9a2b``).

        A run records its engine's label, so resuming a run with makers whose
        settings changed is refused (templates do not hold these settings).
        """
        names = [type(self.relax).__name__]
        if self.energy_source == "static":
            names.append(type(self.static).__name__)
        return f"{'+'.join(names)}@{self._settings_hash}"

    @property
    def converged_value(self) -> Any:
        """What the ``converged`` output is on success (emmet's state or a bool)."""
        if self.energy_source == "static":
            return True  # PairRelaxMaker's own bool
        return "successful" if maker_kind(self.relax) == "vasp" else True

    def relax_maker(self, fmax: float = 0.05, steps: int = 500) -> Maker:
        """The user's relax maker as given (with the static after it, if any).

        ``fmax`` (eV/A) and ``steps`` are the study's: the maker keeps its own
        criterion (recorded in :meth:`energy_scheme`); a warning says when the two
        differ.
        """
        del steps  # the maker's own limit (NSW, steps) applies
        own = force_criterion(self.relax)
        if abs(own - fmax) > 1e-9:
            warnings.warn(
                f"relax maker {type(self.relax).__name__} stops at forces below "
                f"{own:g} eV/A, not the study's {fmax:g} eV/A: the maker is used as "
                "given and its criterion is recorded in the energy scheme",
                stacklevel=2,
            )
        if self.energy_source == "relax":
            return self.relax
        relax_only = MakerEngine(relax=self.relax)
        return PairRelaxMaker(
            name=f"{self.label} relax",
            relax_engine=relax_only,
            static_engine=self,
            relax_maker=self.relax,
            static_maker=self.static,
            relax_converged_value=relax_only.converged_value,
            # a VASP relaxation's converged moments start the static (item 3)
            relaxed_moments=maker_kind(self.relax) == "vasp",
        )

    def static_maker(self, projections: bool = False) -> Maker | None:
        """The user's static maker as given (``None`` without one)."""
        if self.static is not None and projections:
            lorbit = incar_settings(self.static).get("LORBIT")
            if lorbit not in (12, 14):
                warnings.warn(
                    f"static maker {type(self.static).__name__} writes LORBIT "
                    f"{lorbit}, not 12: no phase-resolved projections (TM-O pi/sigma)",
                    stacklevel=2,
                )
        return self.static

    def relax_outputs(self, relax_job) -> dict[str, Any]:
        """References to a relaxation's energy (eV), structure and convergence."""
        output = relax_job.output
        if self.energy_source == "static":  # a PairRelaxMaker flow
            keys = ("energy_eV", "structure", "converged", "static")
            return {key: output[key] for key in keys}
        converged = (
            output.state
            if maker_kind(self.relax) == "vasp"
            else output.is_force_converged
        )
        return {
            "energy_eV": output.output.energy,
            "structure": output.structure,
            "converged": converged,
        }

    def static_outputs(self, static_job) -> dict[str, Any]:
        """References to what a static's record keeps (emmet's TaskDoc)."""
        if self.static is None:
            raise NotImplementedError(f"maker engine {self.label} runs no statics")
        output = static_job.output
        outputs = {
            "dir_name": output.dir_name,
            "energy_eV": output.output.energy,
            "band_gap_eV": output.output.bandgap,
            "structure": output.structure,
        }
        if "LORBIT" in incar_settings(self.static):  # else the INCAR has no key
            outputs["lorbit"] = output.input.incar["LORBIT"]
        return outputs

    def reads_static(self, folder: Path) -> bool:
        """A folder with a vasprun.xml, when the engine has a static."""
        from oredox.workflows.engines.vasp import VaspEngine

        return self.static is not None and VaspEngine().reads_static(folder)

    def read_static(self, folder: str | Path) -> StaticOutputs:
        """Parse a VASP static's folder (:func:`read_vasp_outputs`)."""
        return read_vasp_outputs(folder)

    def check_runnable(self) -> None:
        """Raise when VASP or the force field's package is missing here."""
        for maker in (self.relax, self.static):
            if maker is not None:
                check_maker_runnable(maker)

    def energy_scheme(
        self, fmax: float = 0.05, structure: Structure | None = None
    ) -> EnergyScheme:
        """The scheme of the hull's energies, derived from the makers.

        ``fmax`` is not used: the relax maker's own criterion is recorded. VASP
        makers need ``structure`` (the U table and POTCARs are the host's).
        """
        del fmax
        engine = class_path(self.relax)
        if self.energy_source == "static":
            engine += f"+{class_path(self.static)}"
        if self.scheme is not None:
            return self.scheme.model_copy(update={"engine": engine})
        relax = maker_scheme(self.relax, structure)
        if self.energy_source == "relax":
            if self.static is not None:
                _warn_if_other_functional(relax, maker_scheme(self.static, structure))
            return relax.model_copy(update={"engine": engine})
        static = maker_scheme(self.static, structure)
        geometry = relax.model or relax.functional
        return static.model_copy(
            update={
                "engine": engine,
                "engine_version": f"{relax.engine_version}; {static.engine_version}",
                "model": relax.model,
                "functional": f"{static.functional}, geometry from {geometry}",
                "relax_fmax_eV_per_A": relax.relax_fmax_eV_per_A,
                "relax_cell": relax.relax_cell,
                "parameters": (static.parameters or {})
                | {
                    "geometry": f"relaxed with {class_path(self.relax)} ({geometry})"
                    f"; energy: single-point {class_path(self.static)} there",
                    "relax_scheme": relax.model_dump(mode="json"),
                },
            }
        )


def _warn_if_other_functional(relax: EnergyScheme, static: EnergyScheme) -> None:
    if (relax.functional, relax.hubbard_u_eV) != (
        static.functional,
        static.hubbard_u_eV,
    ):
        warnings.warn(
            f"the statics run {static.functional} (U {static.hubbard_u_eV}) while the "
            f"hull's energies are the relaxations' {relax.functional} (U "
            f"{relax.hubbard_u_eV}): the electronic analysis describes another "
            "functional than the hull",
            stacklevel=3,
        )
