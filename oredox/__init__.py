"""oredox: DFT+U high-throughput studies of oxygen (anionic) redox in battery cathodes.

The package has three pillars:

- :mod:`oredox.structures`: host frameworks and the symmetry-distinct delithiated
  configurations of a host;
- :mod:`oredox.workflows`: jobflow flows that relax the configurations with a pluggable
  engine and assemble the study document;
- :mod:`oredox.analysis`: pure functions over energies and pymatgen objects (convex
  hull, voltage profile, plots).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oredox")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
