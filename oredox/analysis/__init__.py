"""Analysis: pure functions over energies and pymatgen objects.

- :mod:`oredox.analysis.hull`: formation energies, lower convex hull, voltage profile;
- :mod:`oredox.analysis.plots`: hull and voltage figures.
"""
