"""Workflows: jobflow flows built from engine makers, and how to run them.

- :mod:`oredox.workflows.engines`: the pluggable engines (``chgnet`` now);
- :mod:`oredox.workflows.hull`: the delithiation convex-hull flow;
- :mod:`oredox.workflows.execution`: running a flow locally with progress;
- :mod:`oredox.workflows.demo`: the embedded-defaults demo study.
"""
