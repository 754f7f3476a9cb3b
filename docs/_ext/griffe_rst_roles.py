"""A griffe extension for the docs build: Sphinx roles in docstrings as code spans.

The docstrings are numpy style and name other objects with Sphinx roles
(``:func:`~oredox.analysis.hull.lower_hull```), which Markdown would show as typed.
Before mkdocstrings renders a docstring this turns each role into a code span: the
last component of the path with a leading ``~`` (``lower_hull``), the whole path
otherwise, as Sphinx shows them.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|mod|data|attr|exc|obj|const):`(~?)([^`]+)`"
)


def code_span(match: re.Match) -> str:
    """The code span a Sphinx role shows as."""
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class RstRoles(griffe.Extension):
    """Replace Sphinx roles in every docstring by code spans."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring as soon as the object exists."""
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(code_span, obj.docstring.value)
