"""Host frameworks and their delithiated configurations.

- :mod:`oredox.structures.frameworks`: parent frameworks (O3 layered ...) with oxidation
  states and sublattice labels;
- :mod:`oredox.structures.delithiation`: symmetry-distinct alkali/vacancy arrangements
  of a host supercell.
"""
