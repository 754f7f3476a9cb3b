"""Write docs/schema.md: the fields of the study document, from its pydantic models.

Every field's type, default and description come from the models' JSON schema
(``StudyDocument.model_json_schema()``), so the page cannot drift from the code:
``tests/test_documents.py`` fails when docs/schema.md is not what this script writes.

Usage::

    python scripts/schema_docs.py           # rewrite docs/schema.md
    python scripts/schema_docs.py --check   # exit 1 if docs/schema.md is stale
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StaticRecord,
    StudyDocument,
    VoltageStepDoc,
)

DOCS_FILE = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
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


def type_name(prop: dict) -> str:
    """A short type of a JSON-schema property, e.g. ``dict[string, number]``."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in prop:
        return " or ".join(type_name(option) for option in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list[{type_name(prop.get('items', {}))}]"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"dict[string, {type_name(prop['additionalProperties'])}]"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    return kind


def default_text(model: type[BaseModel], name: str, prop: dict, required) -> str:
    """``required``, the JSON default, or what the model computes when not given."""
    if name in required:
        return "required"
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    factory = model.model_fields[name].default_factory
    if factory is not None:
        value = factory()
        if value in ([], {}):
            return f"`{json.dumps(value)}`"
    return "computed"


def model_section(model: type[BaseModel]) -> str:
    """A model's heading, its docstring's first paragraph and its field table."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    summary = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    lines = [
        f"## {model.__name__}",
        "",
        summary,
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, prop in schema["properties"].items():
        description = " ".join(prop.get("description", "").split())
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


def main(argv: list[str] | None = None) -> int:
    """Write docs/schema.md, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/schema.md is stale"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOCS_FILE.read_text() if DOCS_FILE.exists() else ""
        if current != text:
            print(f"{DOCS_FILE} is stale: run python scripts/schema_docs.py")
            return 1
        print(f"{DOCS_FILE} is up to date")
        return 0
    DOCS_FILE.write_text(text)
    print(f"wrote {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
