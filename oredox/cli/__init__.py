"""The ``oredox`` command line: it parses arguments, calls the library, prints.

Commands
--------
``oredox demo``
    Run a complete delithiation study of an O3 host on the embedded defaults.
``oredox run TEMPLATE``
    Run a study template (``--dry-run``: write its engine inputs only).
``oredox submit TEMPLATE --profile P``
    Put a study on a SLURM cluster's queue (FireWorks or jobflow-remote).
``oredox status --profile P``
    State of the submitted studies.
``oredox rerun --profile P``
    Put lost and failed jobs back in the queue.
``oredox analyse FOLDER``
    Electronic analysis of one VASP or GPAW static.
``oredox query [STUDY_ID]``
    List the studies in the store, or show one (``--oxygen``: its O loss).
``oredox oxygen STUDY_ID``
    Relax the O vacancies of a study's configurations: which O leaves first.
``oredox template list|show|new``
    The shipped study templates.
``oredox structure o3|p2|rocksalt|layered|orderings|sqs|sro|seed``
    Build host cells.

The commands live in :mod:`oredox.cli.study`, :mod:`oredox.cli.query` and
:mod:`oredox.cli.structure`, the console and option parsers they share in
:mod:`oredox.cli.common`; what they print is drawn by :mod:`oredox.report`. Bad
input prints one line starting with ``error:`` and exits with status 2, before
anything is stored; a failed run exits with status 1.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from oredox.cli import oxygen, query, structure, study
from oredox.cli.common import console, parse_fraction, parse_fractions, parse_states
from oredox.errors import OredoxInputError, OredoxRunError

try:  # typer >= 0.21 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on click
    from click import exceptions as click_exceptions

app = typer.Typer(
    help="DFT+U high-throughput studies of oxygen redox in battery cathodes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    """``--version``: oredox's version, Python's, and which extras are installed."""
    if not value:
        return
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from oredox import __version__
    from oredox.extras import EXTRAS, missing_modules

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    def state(extra: str) -> str:
        missing = missing_modules(extra)
        if not missing:
            return "yes"
        if len(missing) == len(EXTRAS[extra]):
            return "no"
        return f"partly (no {', '.join(missing)})"

    extras = ", ".join(f"{extra} {state(extra)}" for extra in EXTRAS)
    console.print(
        f"oredox {__version__}\n"
        f"python {platform.python_version()}, pymatgen {installed('pymatgen')}, "
        f"jobflow {installed('jobflow')}\n"
        f"extras: {extras}",
        highlight=False,
    )
    raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version, Python's and the installed extras, and exit.",
        ),
    ] = False,
) -> None:
    """DFT+U high-throughput studies of oxygen redox in battery cathodes."""


# in the order ``oredox --help`` lists them
app.command()(study.demo)
app.command()(query.query)
app.command()(study.analyse)
app.command()(study.run)
app.command()(oxygen.oxygen)
app.command()(study.submit)
app.command()(study.status)
app.command()(study.rerun)
app.add_typer(study.template_app, name="template")
app.add_typer(structure.structure_app, name="structure")


def main(argv: list[str] | None = None) -> None:
    """Entry point: input errors exit with 2, failed runs with 1; one line each.

    Command-line usage errors (an unknown option, a value of the wrong type) and
    files that cannot be read or written are input errors too: one ``error:`` line,
    never click's usage box or a traceback.
    """
    try:
        code = app(args=argv, standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        exc.show()  # ``oredox`` alone, or a command group alone: its help
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "oredox"
        _error(f"{exc.format_message()} (see {where} --help)", 2)
    except typer.Abort:
        _error("interrupted", 130)
    except (OredoxInputError, OredoxRunError) as exc:
        _error(str(exc), 2 if isinstance(exc, OredoxInputError) else 1)
    except OSError as exc:  # a path that cannot be read or written
        target = f": {exc.filename}" if exc.filename else ""
        _error(f"{exc.strerror or exc}{target}", 2)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str, code: int) -> None:
    """Print one ``error:`` line (the message is never read as markup) and exit."""
    text = " ".join(message.split())  # one line, whatever the message holds
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(text)}", highlight=False
    )
    sys.exit(code)


__all__ = [
    "app",
    "console",
    "main",
    "parse_fraction",
    "parse_fractions",
    "parse_states",
]
