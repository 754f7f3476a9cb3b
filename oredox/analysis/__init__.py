"""Analysis: pure functions over energies, study documents and pymatgen objects.

No file is read here; engines' readers (:mod:`oredox.workflows.engines`) parse
outputs into the objects these functions take.

- :mod:`~oredox.analysis.hull`: formation energies, lower convex hull, voltage profile;
- :mod:`~oredox.analysis.selection`: which screened configurations are relaxed, and
  which relaxed ones get a static;
- :mod:`~oredox.analysis.framework`: framework checks (migration, collapse) and
  duplicates of relaxed structures;
- :mod:`~oredox.analysis.environments`: local O environments (A-O-A' axes);
- :mod:`~oredox.analysis.dos`: O 2p DOS by O environment class;
- :mod:`~oredox.analysis.bader`: Bader charges (weight method);
- :mod:`~oredox.analysis.projections`: TM-O pi/sigma and eg/t2g in each octahedron's
  local frame;
- :mod:`~oredox.analysis.redox`: oxidation states from moments, O holes, O-O pairs;
- :mod:`~oredox.analysis.electronic`: every analysis a static's parsed outputs allow;
- :mod:`~oredox.analysis.path`: a study's statics as rows along x;
- :mod:`~oredox.analysis.plots`: hull, voltage, DOS and path figures
  (:mod:`~oredox.analysis.plots_electronic`: the DOS and path figures;
  :mod:`~oredox.analysis.plots_base`: titles, units and saving, shared by all).
"""
