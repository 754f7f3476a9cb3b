"""Tables that fit the terminal: split by columns into several tables, never a word.

A table with more columns than the console is wide is cut into consecutive tables,
each repeating the key columns (the config and x, the study id) so every row is
still read across. Within a table headers wrap between words and cells never wrap:
no number or word is broken across lines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from pymatgen.core import Element
from rich.table import Table

BORDER = 3  # a column's share of a boxed table's rule and padding, characters
SHORT_HEADER = 12  # headers up to this long stay on one line
WRAPPED_TEXT = 20  # free text wraps at this width where the console is narrow


@dataclass
class Column:
    """One column: header, cells (already text), justification.

    ``wrap``: free text (a name) that may wrap between its words; other cells
    are never wrapped.
    """

    header: str
    cells: list[str] = field(default_factory=list)
    justify: str = "left"
    wrap: bool = False

    def narrow(self) -> int:
        """The narrowest width that breaks no header word and no cell line."""
        words = [len(w) for w in self.header.split()] or [0]
        pieces = [
            len(piece)
            for cell in self.cells
            for piece in (cell.split() if self.wrap else cell.splitlines())
        ]
        return max(*words, *pieces, 1)

    def width(self) -> int:
        """The width it would like: :meth:`narrow`, a short header on one line."""
        lines = [len(line) for cell in self.cells for line in cell.splitlines()]
        text = min(max(lines, default=0), WRAPPED_TEXT) if self.wrap else 0
        return max(self.narrow(), min(len(self.header), SHORT_HEADER), text)

    def cell(self, i: int, size: int) -> str:
        """Cell ``i`` for a column ``size`` wide (free text wrapped between words)."""
        if not self.wrap:
            return self.cells[i]
        return textwrap.fill(self.cells[i], size, break_long_words=False)


def _sizes(columns: list[Column], width: int) -> list[int]:
    """Column widths: whole text if the console allows, else preferred, else narrow."""
    whole = [
        max([c.width(), *(len(line) for s in c.cells for line in s.splitlines())])
        for c in columns
    ]
    for sizes in (whole, [c.width() for c in columns]):
        if 1 + sum(size + BORDER for size in sizes) <= width:
            return sizes
    return [c.narrow() for c in columns]


def _span(columns: list[Column], narrow: bool) -> int:
    """Characters the columns take in a boxed table, at their narrow or own width."""
    return sum((c.narrow() if narrow else c.width()) + BORDER for c in columns)


def fitted_tables(
    title: str, columns: list[Column], width: int, keep: int = 1
) -> list[Table]:
    """The columns as one table, or several if one would be wider than ``width``.

    Parameters
    ----------
    title
        Title of the (first) table; the others say ``(continued)``.
    columns
        The columns, all with the same number of cells.
    width
        Console width in characters.
    keep
        The first ``keep`` columns (the row's key) start every table.

    Returns
    -------
    list[Table]
        Tables no wider than ``width`` whose cells never wrap; only a column
        wider than the console on its own (a very long name) folds.
    """
    key, rest = columns[:keep], columns[keep:]
    groups: list[list[Column]] = [[]]
    for column in rest:
        trial = [*key, *groups[-1], column]
        if groups[-1] and 1 + _span(trial, narrow=True) > width:
            groups.append([])
        groups[-1].append(column)
    tables = []
    for k, group in enumerate(groups):
        table = Table(title=title if k == 0 else f"{title} (continued)")
        shown = [*key, *group]
        sizes = _sizes(shown, width)
        for column, size in zip(shown, sizes, strict=True):
            fits = 1 + sum(s + BORDER for s in sizes[:keep]) + size + BORDER <= width
            table.add_column(
                textwrap.fill(column.header, size, break_long_words=False),
                justify=column.justify,
                no_wrap=fits,
                overflow="fold",
            )
        for i in range(len(columns[0].cells) if columns else 0):
            table.add_row(
                *(c.cell(i, size) for c, size in zip(shown, sizes, strict=True))
            )
        tables.append(table)
    return tables


def per_element(values: Mapping[str, float], fmt: str, sep: str = "\n") -> str:
    """One line per element, e.g. ``{"Co": 1.38, "O": -1.14}`` -> ``Co +1.38``.

    Parameters
    ----------
    values
        A number per element (charges in e, oxidation states, ...).
    fmt
        Format of each number, e.g. ``"{:+.2f}"``.
    sep
        Between elements: a new line, or ``", "`` for one line.

    Returns
    -------
    str
        ``"<element> <number>"`` joined by ``sep``, the elements in order of
        electronegativity (Li, Mn, O), so every row lists them alike; ``"-"``
        when empty.
    """
    ordered = sorted(values.items(), key=lambda item: _electronegativity(item[0]))
    return sep.join(f"{element} {number(v, fmt)}" for element, v in ordered) or "-"


def number(value: float, fmt: str) -> str:
    """``value`` in ``fmt``; a zero never shows a minus sign (``+0.00``)."""
    text = fmt.format(value)
    return fmt.format(0.0) if float(text) == 0 else text


def _electronegativity(symbol: str) -> float:
    """Pauling electronegativity (alkali first, O last); unknown symbols last."""
    try:
        return Element(symbol).X
    except ValueError:
        return float("inf")
