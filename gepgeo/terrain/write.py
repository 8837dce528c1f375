"""``gepgeo terrain``: the LS factor, slope and slope length of a DEM as GeoTIFFs in a folder.

The folder is written atomically (:func:`gepgeo.outputs.atomic_folder`): complete or not at
all. It holds three float32 maps (tiled, compressed, nodata NaN) on the DEM's grid, or on the
land-use grid with ``--grid``, and a ``manifest.json`` with the method, its options, the halo
and the inputs:

* ``slope_length_steepness_ls.tif``: LS, dimensionless;
* ``slope_deg.tif``: the steepest-descent slope θ, degrees;
* ``slope_length_m.tif``: the capped cumulative slope length min(λ, λ_max), m (``flowpath``);
  ``contributing_area_m2.tif``: the upslope area flowing into each cell, m²
  (``contributing_area``, whose slope is the finite-difference gradient's).

Both methods are computed block by block, one window per thread: ``flowpath`` in one pass with
a halo (:mod:`.tiled`), ``contributing_area`` in two passes around one solve over the blocks'
perimeter cells (:mod:`.tiled_accumulation`), so neither holds the grid in memory.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import TerrainError
from ..io import GeoTiffBlockWriter
from ..outputs import atomic_folder
from ..scheduler import _small_gdal_cache
from .accumulation import REFUSAL, options_dict, refused_options
from .invest import check_square
from .dem import open_dem
from .tiled import DEFAULT_BLOCK, FlowpathOptions, flowpath_blocks, halo_cells
from .tiled_accumulation import contributing_area_blocks

__all__ = ["MAPS", "CA_MAPS", "METHODS", "PLANNED", "write_terrain"]

#: the maps written: name → (description, unit)
MAPS: dict[str, tuple[str, str]] = {
    "slope_length_steepness_ls": ("RUSLE slope length-steepness factor LS", "1"),
    "slope_deg": ("steepest-descent slope angle", "degree"),
    "slope_length_m": ("cumulative slope length (capped)", "m"),
}

#: the maps of ``--method contributing_area``
CA_MAPS: dict[str, tuple[str, str]] = {
    "slope_length_steepness_ls": ("RUSLE slope length-steepness factor LS", "1"),
    "slope_deg": ("finite-difference slope angle", "degree"),
    "contributing_area_m2": ("upslope contributing area flowing into the cell (D8)", "m2"),
}

#: the maps of ``--method invest``
INVEST_MAPS: dict[str, tuple[str, str]] = {
    "slope_length_steepness_ls": ("RUSLE LS factor by InVEST 3.14's SDR formula", "1"),
    "slope_deg": ("slope angle of pygeoprocessing's 3x3 finite difference", "degree"),
    "contributing_area_m2": ("upslope contributing area flowing into the cell (D8)", "m2"),
}

#: the methods ``--method`` accepts, and those planned but not written yet
METHODS = ("flowpath", "contributing_area", "invest")
PLANNED: tuple[str, ...] = ()


def write_terrain(dem: Path, out: Path, *, method: str = "flowpath",
                  opts: FlowpathOptions | None = None, block: int = DEFAULT_BLOCK,
                  grid: Path | None = None, z_factor: float = 1.0, overwrite: bool = False,
                  threads: int | None = None, codec: str = "zstd",
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Write LS, slope and slope length of ``dem`` into the folder ``out``.

    Parameters
    ----------
    dem : Path
        DEM raster in a projected CRS.
    out : Path
        Output folder (created atomically).
    method : str
        ``flowpath`` or ``contributing_area``.
    opts : FlowpathOptions, optional
        With ``contributing_area``, only ``min_slope_deg``, ``m_table`` and ``s_breaks`` count;
        a maximum slope length or cutoff factor other than the default is refused.
    block : int
        Core side of the blocks, pixels.
    grid : Path, optional
        A land-use raster whose grid the DEM is resampled onto (bilinear) first.
    z_factor : float
        Horizontal units per elevation unit.
    overwrite : bool
        Replace an existing output folder that gepgeo wrote.
    threads : int, optional
        Worker threads (default: the CPU count).
    codec : str
        ``zstd``, ``deflate`` or ``none``.
    progress : callable, optional
        Called with (cores done, cores in all) after each core.

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    TerrainError, InputFileError, RasterError, OutputError, OutputExistsError
    """
    if method not in METHODS:
        planned = " (planned, not implemented yet)" if method in PLANNED else ""
        raise TerrainError(f"--method: {method!r} is not available{planned}; use one of "
                           f"{', '.join(METHODS)}")
    opts = opts or FlowpathOptions()
    opts.check()
    ca = method != "flowpath"
    if ca:
        bad = refused_options(opts, method=method)
        if bad:
            raise TerrainError(f"{bad[0][1]}: not an option of --method {method} "
                               f"({REFUSAL[method]})")
    if method == "invest" and opts.l_max is None:
        raise TerrainError("--l-max: --method invest needs InVEST's maximum L value (the "
                           "'l_max' of the InVEST SDR run to compare with)")
    if method != "invest" and opts.l_max is not None:
        raise TerrainError(f"--l-max: only --method invest has a cap on L, not {method}")
    if block < 1:
        raise TerrainError(f"--block: expected a positive number of pixels, got {block}")
    src = open_dem(Path(dem), z_factor=z_factor, grid=grid)
    g = src.grid
    maps = INVEST_MAPS if method == "invest" else CA_MAPS if ca else MAPS
    try:
        if method == "invest":
            check_square(src.dx_m, src.dy_m, "--method invest")
        halo = None if ca else halo_cells(opts, src.dx_m, src.dy_m)
    except BaseException:
        src.close()
        raise
    options = options_dict(opts, method) if ca else opts.as_dict()
    inputs = [Path(dem)] + ([Path(grid)] if grid is not None else [])
    tags = {"gepgeo_method": f"terrain {method}", "dem": Path(dem).name,
            **({} if halo is None else {"halo_cells": str(halo)}),
            **{k: str(v) for k, v in options.items()}}
    if src.note:
        tags["alignment"] = src.note
    started = time.time()
    try:
        with atomic_folder(Path(out), overwrite=overwrite, inputs=inputs) as tmp:
            writers = {name: GeoTiffBlockWriter(tmp / f"{name}.tif", g.shape, g.transform,
                                                g.crs, description=desc, unit=unit,
                                                codec=codec, tags=tags, block=block)
                       for name, (desc, unit) in maps.items()}
            n_cores = -(-g.height // block) * -(-g.width // block)
            done = [0]

            def emit(r: int, c: int, slope: np.ndarray, length: np.ndarray,
                     ls: np.ndarray) -> None:
                key = (slice(r, r + ls.shape[0]), slice(c, c + ls.shape[1]))
                writers["slope_length_steepness_ls"][key] = ls
                writers["slope_deg"][key] = slope
                writers["contributing_area_m2" if ca else "slope_length_m"][key] = length
                if progress is not None:
                    done[0] += 1
                    progress(done[0], n_cores)

            # each tile is read once and written once: GDAL's default cache (5 % of RAM) would
            # only hold dead tiles (see gepgeo.scheduler.RUN_GDAL_CACHE)
            with _small_gdal_cache():
                try:
                    if ca:
                        contributing_area_blocks(src.read, g.shape, src.dx_m, src.dy_m, opts,
                                                 emit, block=block, threads=threads,
                                                 dtype=np.float32, method=method)
                    else:
                        flowpath_blocks(src.read, g.shape, src.dx_m, src.dy_m, opts, emit,
                                        block=block, threads=threads, dtype=np.float32)
                except BaseException:
                    for w in writers.values():
                        w.abort()
                    raise
                for w in writers.values():
                    w.close()
            manifest = {
                "gepgeo_version": __version__, "kind": "terrain", "method": method,
                "dem": os.path.abspath(dem), "grid": None if grid is None
                else os.path.abspath(grid), "alignment": src.note,
                "crs": g.crs.to_wkt() if g.crs is not None else None,
                "transform": list(g.transform)[:6], "shape": list(g.shape),
                "cell_size_m": [src.dx_m, src.dy_m], "elevation_to_m": src.z_to_m,
                "options": options, "block": block, "halo_cells": halo,
                "maps": {f"{k}.tif": {"description": d, "unit": u} for k, (d, u) in maps.items()},
                "seconds": round(time.time() - started, 3),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                               encoding="utf-8")
    finally:
        src.close()
    return Path(out)
