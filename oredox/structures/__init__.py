"""Host frameworks, their cation orders and their delithiated configurations.

- :mod:`~oredox.structures.frameworks`: parent frameworks (O3 and P2 layered, rock
  salt) with oxidation states and sublattice labels;
- :mod:`~oredox.structures.p2`: P2 hosts at the alkali content asked for, charge
  balanced, alkali sites by Ewald energy;
- :mod:`~oredox.structures.supercells`: supercells, capped at ``OREDOX_MAX_ATOMS``;
- :mod:`~oredox.structures.superstructures`: metal-layer orders (honeycomb, ribbon,
  LiMn6 2x2) and their motifs, their stackings on O3 and P2, capped honeycomb;
- :mod:`~oredox.structures.layer_orderings`: every metal-layer order of a ratio ranked
  by Ewald energy, and the alkali-layer arrangement of lowest Ewald energy;
- :mod:`~oredox.structures.sqs`: special quasirandom structures and fewest-contact
  cells of a disordered sublattice;
- :mod:`~oredox.structures.sro`: Monte Carlo short-range order of a rock salt;
- :mod:`~oredox.structures.clusters`: pair shells, pair statistics and cluster-vector
  quality metrics shared by the generators;
- :mod:`~oredox.structures.ewald`: point-charge Ewald energies of many occupations;
- :mod:`~oredox.structures.delithiation`: the symmetry-distinct alkali/vacancy
  arrangements of a host supercell (counted and enumerated), configuration ids;
- :mod:`~oredox.structures.beam_search`: iterative removal keeping the lowest-energy
  arrangements, for cells too large to enumerate;
- :mod:`~oredox.structures.seeds`: the seed cells of the reproduced studies (one
  registry, :data:`~oredox.structures.seeds.SEEDS`);
- :mod:`~oredox.structures.output`: writing a structure (POSCARs sorted by element,
  CIFs with their space group) with its provenance record.
"""
