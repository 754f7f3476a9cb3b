"""oredox: DFT+U high-throughput studies of oxygen (anionic) redox in battery cathodes.

The package has three pillars:

- :mod:`oredox.structures`: host frameworks and the symmetry-distinct delithiated
  configurations of a host;
- :mod:`oredox.workflows`: jobflow flows that relax the configurations with a pluggable
  engine and assemble the study document;
- :mod:`oredox.analysis`: pure functions over energies and pymatgen objects (convex
  hull, voltage profile, plots).
"""


def __getattr__(name: str) -> str:
    """``oredox.__version__``, read from the installed metadata on first use.

    importlib.metadata is not imported with the package: every ``oredox`` command
    imports this module, and only ``--version`` asks for the version.
    """
    if name != "__version__":
        raise AttributeError(f"module 'oredox' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("oredox")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0"
