"""``gepgeo terrain``: the LS factor, slope and slope length of a DEM as GeoTIFFs in a folder.

The folder is written atomically (:func:`gepgeo.outputs.atomic_folder`): complete or not at
all. It holds three float32 maps (tiled, compressed, nodata NaN) on the DEM's grid, or on the
land-use grid with ``--grid``, and a ``manifest.json`` with the method, its options, the halo
and the inputs:

* ``slope_length_steepness_ls.tif``: LS, dimensionless;
* ``slope_deg.tif``: the steepest-descent slope θ, degrees;
* ``slope_length_m.tif``: the capped cumulative slope length min(λ, λ_max), m.
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
from .dem import open_dem
from .tiled import DEFAULT_BLOCK, FlowpathOptions, flowpath_blocks, halo_cells

__all__ = ["MAPS", "METHODS", "PLANNED", "write_terrain"]

#: the maps written: name → (description, unit)
MAPS: dict[str, tuple[str, str]] = {
    "slope_length_steepness_ls": ("RUSLE slope length-steepness factor LS", "1"),
    "slope_deg": ("steepest-descent slope angle", "degree"),
    "slope_length_m": ("cumulative slope length (capped)", "m"),
}

#: the methods ``--method`` accepts, and those the issue plans but are not written yet
METHODS = ("flowpath",)
PLANNED = ("contributing_area", "invest")


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
        ``flowpath`` (the only method so far).
    opts : FlowpathOptions, optional
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
    if block < 1:
        raise TerrainError(f"--block: expected a positive number of pixels, got {block}")
    src = open_dem(Path(dem), z_factor=z_factor, grid=grid)
    g = src.grid
    halo = halo_cells(opts, src.dx_m, src.dy_m)
    inputs = [Path(dem)] + ([Path(grid)] if grid is not None else [])
    tags = {"gepgeo_method": f"terrain {method}", "dem": Path(dem).name,
            "halo_cells": str(halo), **{k: str(v) for k, v in opts.as_dict().items()}}
    if src.note:
        tags["alignment"] = src.note
    started = time.time()
    try:
        with atomic_folder(Path(out), overwrite=overwrite, inputs=inputs) as tmp:
            writers = {name: GeoTiffBlockWriter(tmp / f"{name}.tif", g.shape, g.transform,
                                                g.crs, description=desc, unit=unit,
                                                codec=codec, tags=tags, block=block)
                       for name, (desc, unit) in MAPS.items()}
            n_cores = -(-g.height // block) * -(-g.width // block)
            done = [0]

            def emit(r: int, c: int, slope: np.ndarray, length: np.ndarray,
                     ls: np.ndarray) -> None:
                key = (slice(r, r + ls.shape[0]), slice(c, c + ls.shape[1]))
                writers["slope_length_steepness_ls"][key] = ls
                writers["slope_deg"][key] = slope
                writers["slope_length_m"][key] = length
                if progress is not None:
                    done[0] += 1
                    progress(done[0], n_cores)

            # each tile is read once and written once: GDAL's default cache (5 % of RAM) would
            # only hold dead tiles (see gepgeo.scheduler.RUN_GDAL_CACHE)
            with _small_gdal_cache():
                try:
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
                "options": opts.as_dict(), "block": block, "halo_cells": halo,
                "maps": {f"{k}.tif": {"description": d, "unit": u} for k, (d, u) in MAPS.items()},
                "seconds": round(time.time() - started, 3),
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                               encoding="utf-8")
    finally:
        src.close()
    return Path(out)
