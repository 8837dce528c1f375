"""Terrain: the RUSLE LS factor (and its slope and slope length) from a DEM.

* :mod:`.factors`: L and S as functions of slope angle and slope length;
* :mod:`.flowpath`: the flow-path method's numba kernels on one DEM window;
* :mod:`.accumulation`: the contributing-area method (Desmet & Govers 1996), whole array in
  memory; :func:`contributing_area_array`;
* :mod:`.tiled_accumulation`: the same on a grid of any size, tile by tile (Barnes 2017);
* :mod:`.tiled`: a whole DEM block by block with an exact halo; :func:`flowpath_array`;
* :mod:`.dem`: opening a DEM (CRS and units, alignment to a land-use grid);
* :mod:`.write`: the ``gepgeo terrain`` output folder.
"""

from __future__ import annotations

from .accumulation import contributing_area_array
from .tiled import FlowpathOptions, flowpath_array, halo_cells

__all__ = ["FlowpathOptions", "contributing_area_array", "flowpath_array", "halo_cells"]
