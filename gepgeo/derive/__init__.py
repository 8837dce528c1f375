"""Factor layers derived per pixel inside the pass: R from precipitation, K from soil texture
and organic carbon, C from NDVI, annual P, ET or runoff from the periods of a year
(``{derive: {method: ..., ...}}`` in a pipeline).

* :mod:`.erosivity`, :mod:`.erodibility`, :mod:`.cover`, :mod:`.totals`: the equations, as
  pure NumPy (and numba) functions (units, domains and sources in their docstrings);
* :mod:`.spec`: the methods (:data:`~.spec.METHODS`) and the pipeline's ``derive:`` schema;
* :mod:`.layer`: the lazy layer on the land-use grid, with the pass's blocks.
"""

from .spec import DERIVABLE, METHODS

__all__ = ["METHODS", "DERIVABLE"]
