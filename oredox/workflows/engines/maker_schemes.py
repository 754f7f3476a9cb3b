"""What a user's atomate2 maker is, and what its energies mean.

The helpers of :class:`~oredox.workflows.engines.maker.MakerEngine`:
:func:`maker_kind` (a VASP maker or an ASE / force-field maker), :func:`force_criterion`
(the maker's own force criterion, eV/A), :func:`maker_scheme` (the
:class:`~oredox.schemas.EnergyScheme` of its energies, from the input set a VASP maker
writes for the host, or from a force field's name and package version) and
:func:`check_maker_runnable`.
"""

from __future__ import annotations

import copy
import inspect
import json
import shutil
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from jobflow import Maker
from monty.json import MontyEncoder
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme

SUPPORTED = (
    "relax makers: atomate2 VASP makers (BaseVaspMaker subclasses), force-field "
    "makers (ForceFieldRelaxMaker) and other ASE makers (AseRelaxMaker); static "
    "makers: VASP makers, whose folders the electronic analysis reads"
)
# names of INCAR functional tags as the literature writes them
METAGGA_NAMES = {"R2SCAN": "r2SCAN", "SCAN": "SCAN", "RSCAN": "rSCAN", "MBJ": "mBJ"}
GGA_NAMES = {"PE": "PBE", "PS": "PBEsol", "91": "PW91", "RP": "RPBE", "AM": "AM05"}
# INCAR tags besides the functional, U and cutoff that change total energies
ENERGY_TAGS = ("ISPIN", "LASPH", "ISMEAR", "SIGMA", "IVDW", "LDAUTYPE")


def class_path(maker: Any) -> str:
    """``module.Class`` of a maker (how monty finds its class again)."""
    cls = type(maker)
    return f"{cls.__module__}.{cls.__qualname__}"


def maker_kind(maker: Any) -> str:
    """``vasp`` or ``ase`` (force fields included): how its outputs are read.

    Raises
    ------
    OredoxInputError
        If ``maker`` is not a jobflow Maker of a kind oredox reads.
    """
    from atomate2.ase.jobs import AseRelaxMaker
    from atomate2.vasp.jobs.base import BaseVaspMaker

    if not isinstance(maker, Maker):
        raise OredoxInputError(
            f"a maker engine needs jobflow Makers, got {type(maker).__name__}; "
            f"supported {SUPPORTED}"
        )
    if isinstance(maker, BaseVaspMaker):
        return "vasp"
    if isinstance(maker, AseRelaxMaker):
        return "ase"
    raise OredoxInputError(
        f"maker {class_path(maker)} is of a kind oredox cannot read the outputs of; "
        f"supported {SUPPORTED}"
    )


def maker_scheme(maker: Maker, structure: Structure | None) -> EnergyScheme:
    """The energy scheme of one maker's energies (``engine``: its class path)."""
    if maker_kind(maker) == "vasp":
        return _vasp_scheme(maker, structure)
    return _ase_scheme(maker)


def force_criterion(maker: Maker) -> float:
    """The relax maker's force criterion, eV/A.

    Raises
    ------
    OredoxInputError
        For a VASP relaxation that stops on an energy change (EDIFFG >= 0 or unset).
    """
    if maker_kind(maker) == "vasp":
        return _vasp_fmax(maker, incar_settings(maker))
    from atomate2.ase.utils import AseRelaxer

    default = inspect.signature(AseRelaxer.relax).parameters["fmax"].default
    return abs(float(maker.relax_kwargs.get("fmax", default)))


def relaxes(maker: Maker) -> bool:
    """Whether the maker moves ions (NSW > 0 with IBRION 1-3; ASE: steps > 1)."""
    if maker_kind(maker) == "vasp":
        incar = incar_settings(maker)
        return int(incar.get("NSW") or 0) > 0 and incar.get("IBRION", 0) in (1, 2, 3)
    return maker.steps > 1


def incar_settings(maker: Maker) -> dict:
    """The INCAR tags a VASP maker's input set sets whatever the structure.

    The set's configuration, then its own updates (a static's NSW 0), then the
    user's settings, as pymatgen applies them; None unsets a tag.
    """
    generator = maker.input_set_generator
    try:
        updates = dict(generator.incar_updates)
    except Exception:  # updates that need a structure or a previous run
        updates = {}
    settings = dict(generator.config_dict.get("INCAR", {}))
    settings |= updates | (generator.user_incar_settings or {})
    return {key: value for key, value in settings.items() if value is not None}


def _vasp_scheme(maker: Maker, structure: Structure | None) -> EnergyScheme:
    """Scheme from the input set the maker writes for ``structure``."""
    if structure is None:
        raise OredoxInputError(
            f"the energy scheme of VASP maker {class_path(maker)} depends on the "
            "structure (U table, POTCARs): give one"
        )
    generator = copy.deepcopy(maker.input_set_generator)  # it keeps the structure
    try:
        inputs = generator.get_input_set(structure, potcar_spec=True)
    except Exception as exc:  # the user's generator: say whose
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise OredoxInputError(
            f"VASP maker {class_path(maker)} cannot write inputs for "
            f"{structure.composition.reduced_formula}: {reason}"
        ) from None
    incar, symbols = inputs["INCAR"], inputs["POSCAR"].site_symbols
    potcar_functional = str(generator.potcar_functional)
    functional = _vasp_functional(incar, potcar_functional)
    u_table = None
    if incar.get("LDAU") and any(incar.get("LDAUU") or []):
        j_values = incar.get("LDAUJ") or [0.0] * len(symbols)
        u_table = {
            el: float(u) - float(j)
            for el, u, j in sorted(zip(symbols, incar["LDAUU"], j_values, strict=True))
        }
        kind = "Dudarev" if incar.get("LDAUTYPE", 2) == 2 else "LDAUTYPE "
        functional += f"+U ({kind}{'' if kind == 'Dudarev' else incar['LDAUTYPE']})"
    kpoints = (
        f"KSPACING {incar['KSPACING']} 1/A"
        if incar.get("KSPACING")
        else " ".join(str(inputs["KPOINTS"]).split())
    )
    encut = incar.get("ENCUT")
    return EnergyScheme(
        engine=class_path(maker),
        engine_version=f"atomate2 {version('atomate2')}",
        model=None,
        functional=functional,
        hubbard_u_eV=u_table,
        potcars=sorted(str(inputs["POTCAR.spec"]).split()),
        encut_eV=None if encut is None else float(encut),
        relax_fmax_eV_per_A=_vasp_fmax(maker, incar),
        relax_cell=int(incar.get("ISIF", 2)) >= 3,
        parameters={
            "potcar_functional": potcar_functional,
            "kpoints": kpoints,
            "incar": {tag: incar[tag] for tag in ENERGY_TAGS if tag in incar},
        },
    )


def _vasp_functional(incar: dict, potcar_functional: str) -> str:
    """HSE06/PBE0 (LHFCALC), r2SCAN (METAGGA), PBEsol (GGA) or the POTCARs'."""
    if incar.get("LHFCALC"):
        screen = float(incar.get("HFSCREEN") or 0.0)
        name = "HSE06" if abs(screen - 0.2) < 1e-6 else f"HSE (HFSCREEN {screen:g})"
        name = name if screen else "PBE0"
        aexx = incar.get("AEXX")
        return name if aexx in (None, 0.25) else f"{name}, AEXX {aexx:g}"
    if incar.get("METAGGA"):
        tag = str(incar["METAGGA"]).upper()
        return METAGGA_NAMES.get(tag, f"METAGGA {incar['METAGGA']}")
    if incar.get("GGA"):
        tag = str(incar["GGA"]).upper()
        return GGA_NAMES.get(tag, f"GGA {incar['GGA']}")
    return potcar_functional.split("_", maxsplit=1)[
        0
    ]  # VASP takes the POTCARs' (PBE, LDA)


def _vasp_fmax(maker: Maker, incar: dict) -> float:
    """|EDIFFG| of a relaxation; a static (NSW 0) records 0 (no ionic steps)."""
    if not (int(incar.get("NSW") or 0) > 0 and incar.get("IBRION", 0) in (1, 2, 3)):
        return 0.0
    ediffg = incar.get("EDIFFG")
    if ediffg is None or float(ediffg) >= 0:
        raise OredoxInputError(
            f"VASP relax maker {class_path(maker)} stops on an energy change (EDIFFG "
            f"{ediffg if ediffg is not None else 'unset: 10 x EDIFF'}); a hull study "
            "needs a force criterion: set user_incar_settings={'EDIFFG': -0.05} "
            "(eV/A) in its input set"
        )
    return abs(float(ediffg))


def _ase_scheme(maker: Maker) -> EnergyScheme:
    """Scheme of a force field (name, package version) or another ASE calculator."""
    from atomate2.forcefields.utils import ForceFieldMixin

    kwargs = json.loads(json.dumps(maker.calculator_kwargs, cls=MontyEncoder))
    if isinstance(maker, ForceFieldMixin):
        from atomate2.forcefields.utils import _get_pkg_name, _get_pkg_version

        meta = maker.calculator_meta
        name = str(getattr(meta, "value", meta))
        package = _get_pkg_name(meta) or "unknown package"
        package_version = _get_pkg_version(meta) or "unknown version"
        model = f"{name} ({package} {package_version})"
        if name.upper() == "CHGNET" and "model" not in kwargs:
            # CHGNet's default weights: pretrained on MPtrj (MP2020-corrected
            # GGA/GGA+U energies), which oredox.entries and the O reference read
            model += ", pretrained on MPtrj"
        functional = f"as learned by {name} from its training data"
    else:
        package, package_version = "ase", version("ase")
        model = None
        functional = f"ASE calculator of {type(maker).__name__}"
        if isinstance(kwargs.get("xc"), str):
            functional += f", xc {kwargs['xc']}"
    return EnergyScheme(
        engine=class_path(maker),
        engine_version=f"{package} {package_version}",
        model=model,
        functional=functional,
        relax_fmax_eV_per_A=force_criterion(maker),
        relax_cell=bool(maker.relax_cell),
        parameters={"calculator_kwargs": kwargs} if kwargs else None,
    )


def check_maker_runnable(maker: Maker) -> None:
    """The VASP command, or the force field's Python package, must be here."""
    if maker_kind(maker) == "vasp":
        from atomate2 import SETTINGS

        command = str(maker.run_vasp_kwargs.get("vasp_cmd", SETTINGS.VASP_CMD))
        parts = [p for p in command.split() if not p.startswith("-")]
        launchers = ("srun", "mpirun", "mpiexec")
        executable = next((p for p in parts if p not in launchers), command)
        if shutil.which(executable) is None:
            raise OredoxInputError(
                f"maker {class_path(maker)}: the VASP command {command!r} is not on "
                "this machine; set ATOMATE2_VASP_CMD or run_vasp_kwargs['vasp_cmd']"
            )
        return
    from atomate2.forcefields.utils import ForceFieldMixin, _get_pkg_name

    if not isinstance(maker, ForceFieldMixin):
        return
    try:
        package = _get_pkg_name(maker.calculator_meta)
    except (ImportError, AttributeError, ValueError) as exc:
        raise OredoxInputError(
            f"maker {class_path(maker)}: cannot load its calculator ({exc})"
        ) from None
    if package is None or not _installed(package):
        raise OredoxInputError(
            f"maker {class_path(maker)}: force field "
            f"{getattr(maker.calculator_meta, 'value', maker.calculator_meta)} needs "
            f"the package {package or '(unknown)'}, not installed here"
        )


def _installed(package: str) -> bool:
    """A distribution (``mace-torch``) or an importable module (``fairchem.core``)."""
    try:
        version(package)
    except PackageNotFoundError:
        return find_spec(package.split(".", maxsplit=1)[0]) is not None
    return True
