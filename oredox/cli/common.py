"""What the command modules share: the console they print on, small option parsers.

Kept apart from :mod:`oredox.cli` (which re-exports them) so that the command
modules never import the package that registers them: no import cycle.
"""

from __future__ import annotations

from rich.console import Console

from oredox.errors import OredoxInputError

console = Console()


def parse_states(items: list[str] | None) -> dict[str, float] | None:
    """``["Co=3", ...]`` as ``{"Co": 3.0, ...}``; None or empty: None."""
    if not items:
        return None
    states = {}
    for item in items:
        element, sep, value = item.partition("=")
        try:
            states[element.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OredoxInputError(f"oxidation state {item!r} must look like Co=3")
    return states


def parse_fraction(text: str) -> float:
    """A number or a fraction like ``7/12`` as a float."""
    from fractions import Fraction

    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise OredoxInputError(
            f"{text!r} is not a number or fraction like 7/12"
        ) from None


def parse_fractions(text: str) -> dict[str, float]:
    """``"Li=7/12,Ti=7/24,Ni=1/8"`` as ``{"Li": 0.5833, ...}``."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep for _, sep, _ in pairs):
        raise OredoxInputError(
            f"cations {text!r} must look like Li=7/12,Ti=7/24,Ni=1/8"
        )
    return {el.strip(): parse_fraction(value) for el, _, value in pairs}
