"""Write the schema pages of the docs from the pydantic models.

- docs/schema.md: the fields of the study document (``StudyDocument`` and friends);
- docs/config-schema.md: the study template (``StudyTemplate`` and every model it
  holds) and the cluster profile (``ClusterProfile``).

Every field's type, default and description come from the models' JSON schema
(``model_json_schema()``; a field without a description takes the one its model's
numpy docstring gives under ``Parameters``), so the pages cannot drift from the code:
``tests/test_documents.py`` and ``tests/test_docs.py`` fail when a page is not what
this script writes.

Usage::

    python scripts/schema_docs.py           # rewrite both pages
    python scripts/schema_docs.py --check   # exit 1 if either page is stale
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import typing
from pathlib import Path

from pydantic import BaseModel

from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StaticRecord,
    StudyDocument,
    VoltageStepDoc,
)
from oredox.workflows.cluster import ClusterProfile
from oredox.workflows.templates import StudyTemplate

DOCS_FILE = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
CONFIG_FILE = Path(__file__).resolve().parents[1] / "docs" / "config-schema.md"
MODELS: tuple[type[BaseModel], ...] = (
    StudyDocument,
    ConfigurationEntry,
    StaticRecord,
    VoltageStepDoc,
    EnergyScheme,
)

INTRO = """\
# The study document

<!-- Written by scripts/schema_docs.py from oredox/schemas.py: do not edit by hand. -->

Each study is stored as one `StudyDocument`: the output of the study's last job
(named `oredox study document`) in the jobflow store. `oredox query ID --json` prints
it (`--structures` adds the structures), and `oredox.store.get_study(store, ID)`
returns it as the pydantic model. Energies are in eV, per formula unit of the host
("fu") unless the name says otherwise; lengths in A, moments in muB, voltages in V.
Structures are pymatgen `Structure.as_dict()` dictionaries in JSON.

The full record of every calculation is its job's task document in the same store:
emmet's `TaskDoc` for VASP, atomate2's `ForceFieldTaskDocument` for CHGNet
relaxations, `AseStructureTaskDoc` for GPAW relaxations and `GpawStaticTaskDoc` (an
`AseStructureTaskDoc` with the static's Fermi level, gap, moments, forces and files)
for GPAW statics. `oredox.documents.static_task_document(store, study, config_id)`
loads the one behind a static record (`StaticRecord.job_uuid`).
"""


CONFIG_INTRO = """\
# Study template and cluster profile

<!-- Written by scripts/schema_docs.py from the pydantic models: do not edit. -->

Both files are YAML, validated before anything runs: unknown keys, wrong types and
values out of range are errors that name the key. Units are in the names (`_eV`,
`_A`, `_meV_per_atom`; per atom is per atom of the host).

- **The study template** ([StudyTemplate](#studytemplate)): what `oredox run`,
  `oredox submit` and `oredox template` read. `oredox template show NAME` prints a
  shipped one; [Study templates](guide/templates.md) explains them.
- **The cluster profile** ([ClusterProfile](#clusterprofile)): what
  `oredox submit --profile` reads ([Running locally and on
  SLURM](guide/running.md#the-cluster-profile)).
"""

# Descriptions of the fields whose models give none (neither a Field description nor
# a Parameters entry in the docstring); a model's own description always wins, and a
# name here that is not a field is an error (render_config checks).
FIELD_NOTES: dict[str, dict[str, str]] = {
    "StudyTemplate": {
        "name": "The study's name; also a folder and a SLURM job name (letters or "
        "digits, at most 200 characters)",
        "description": "What the study is, in words",
        "host": "The host cell",
        "alkali": "The alkali removed on delithiation",
        "engine": "The engine that relaxes every configuration (and runs the statics "
        "unless static_engine is set)",
        "dft_u_preset": "DFT+U preset of the DFT engines: U table, cutoff, "
        "convergence, k-mesh (engine chgnet: mp only)",
        "hubbard_u": "Your own U table over the preset's other settings",
        "relax": "The relaxations",
        "screening": "Candidates, ranking and selection",
        "statics": "Which entries get a static, and with which projections",
    },
    "HostSpec": {
        "seed": "A seed cell by name (oredox structure seed NAME)",
        "o3_formula": "An O3 layered host by formula, e.g. LiCoO2",
        "primitive": "O3 host: the rhombohedral primitive cell instead of the "
        "hexagonal one",
    },
    "HubbardSpec": {
        "name": "The table's name, recorded in the energy scheme",
        "U_eV": "U per element, eV",
        "L": "Angular momentum the U acts on, per element (2: d); required for every "
        "element of U_eV",
        "J_eV": "J per element, eV (Dudarev: U - J is what acts)",
    },
    "VaspSection": {
        "incar": "INCAR tags of every VASP job",
        "relax_incar": "INCAR tags of the relaxations",
        "static_incar": "INCAR tags of the statics",
        "kpoints": "A k-mesh or a density instead of the preset's",
    },
    "ClusterProfile": {
        "name": "The profile's name",
        "partition": "SLURM partition (#SBATCH --partition)",
        "nodes": "Nodes per batch job",
        "ntasks_per_node": "MPI tasks per node",
        "cpus_per_task": "CPUs per task",
        "account": "SLURM account charged (#SBATCH --account)",
        "qos": "SLURM quality of service (#SBATCH --qos)",
        "modules": "Environment modules loaded before the jobs (module load)",
        "vasp_cmd": "The VASP binary and its arguments (vasp_std, vasp_gam, ...)",
        "mpirun": "MPI launcher: srun, or mpirun / mpiexec with -np nodes x "
        "ntasks_per_node",
    },
}

CONSTRAINTS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)


def type_name(prop: dict) -> str:
    """A short type of a JSON-schema property, e.g. ``dict[string, number]``."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(type_name(option) for option in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        kind = f"list[{type_name(prop.get('items', {}))}]"
    elif kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        kind = f"dict[string, {type_name(prop['additionalProperties'])}]"
    elif "format" in prop:
        kind = f"{kind} ({prop['format']})"
    limits = [f"{sign} {prop[key]}" for key, sign in CONSTRAINTS if key in prop]
    return f"{kind} ({', '.join(limits)})" if limits else kind


def docstring_parameters(model: type[BaseModel]) -> dict[str, str]:
    """Field descriptions from the ``Parameters`` section of a numpy docstring."""
    text = inspect.cleandoc(model.__doc__ or "")
    section = r"^Parameters\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)"
    match = re.search(section, text, re.S | re.M)
    if not match:
        return {}
    found: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            names = [name.strip() for name in line.split(":")[0].split(",")]
            for name in names:
                found[name] = ""
        elif line.strip():
            for name in names:
                found[name] = (found[name] + " " + line.strip()).strip()
    return found


def default_text(model: type[BaseModel], name: str, prop: dict, required) -> str:
    """``required``, the JSON default, or what the model computes when not given."""
    if name in required:
        return "required"
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    factory = model.model_fields[name].default_factory
    if factory is not None:
        value = factory()
        if isinstance(value, BaseModel):  # a nested section: its own defaults
            return f"[its defaults](#{type(value).__name__.lower()})"
        # a list or dict written out in the model (a lambda), not one computed on
        # this machine (package versions)
        constant = getattr(factory, "__name__", "") == "<lambda>"
        if value in ([], {}) or (constant and isinstance(value, list | dict)):
            return f"`{json.dumps(value)}`"
    return "computed"


def model_section(model: type[BaseModel]) -> str:
    """A model's heading, its docstring's first paragraph and its field table."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    summary = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    documented = {
        **FIELD_NOTES.get(model.__name__, {}),
        **docstring_parameters(model),
    }
    lines = [
        f"## {model.__name__}",
        "",
        summary,
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, prop in schema["properties"].items():
        text = prop.get("description", documented.get(name, ""))
        description = " ".join(text.split())
        # a table cell: no bare pipes, and <name> is text, not an HTML tag
        for char in "|<>":
            description = description.replace(char, "\\" + char)
        lines.append(
            f"| `{name}` | {type_name(prop)} | "
            f"{default_text(model, name, prop, required)} | {description} |"
        )
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole of docs/schema.md."""
    return "\n".join([INTRO, *(model_section(model) for model in MODELS)])


def nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model its fields hold, depth first, each once."""
    found: list[type[BaseModel]] = []

    def visit(annotation) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for argument in typing.get_args(annotation):
            visit(argument)

    visit(model)
    return found


def render_config() -> str:
    """The whole of docs/config-schema.md."""
    models = [*nested_models(StudyTemplate), ClusterProfile]
    fields = {model.__name__: set(model.model_fields) for model in models}
    for name, notes in FIELD_NOTES.items():
        unknown = set(notes) - fields.get(name, set())
        if unknown:
            raise ValueError(f"FIELD_NOTES names no field of {name}: {sorted(unknown)}")
    sections = [model_section(model) for model in nested_models(StudyTemplate)]
    return "\n".join([CONFIG_INTRO, *sections, model_section(ClusterProfile)])


def main(argv: list[str] | None = None) -> int:
    """Write both pages, or with ``--check`` say whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a schema page is stale"
    )
    args = parser.parse_args(argv)
    pages = {DOCS_FILE: render(), CONFIG_FILE: render_config()}
    if args.check:
        stale = [
            path
            for path, text in pages.items()
            if (path.read_text() if path.exists() else "") != text
        ]
        for path in stale:
            print(f"{path} is stale: run python scripts/schema_docs.py")
        if not stale:
            print("the schema pages are up to date")
        return 1 if stale else 0
    for path, text in pages.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
