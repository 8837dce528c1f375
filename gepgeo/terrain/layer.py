"""LS from a DEM as a lazy layer of a run: ``slope_length_steepness_ls: {from_dem: {...}}``.

The DEM is put on the land-use grid as any layer is (read as it is on the same grid, else
through GDAL's warper, bilinear unless ``resampling:`` says otherwise), with the very warp
arguments of ``gepgeo terrain --grid`` (:func:`gepgeo.terrain.dem.warp_args`). The layer's
pixels are a dask array with the pass's blocks; the task of each block reads one window of
the aligned DEM, the block plus :func:`gepgeo.terrain.tiled.halo_cells` cells on every side
(clipped at the grid's edges), and returns the block's LS as float32 (NaN at nodata), exactly
as ``gepgeo terrain`` computes the core of its own blocks: the halo makes every core equal to
the whole-grid result (:mod:`gepgeo.terrain.tiled`), so the layer equals, bit for bit, the LS
map ``gepgeo terrain DEM --grid LANDUSE`` writes, whatever the block size, wherever the land
use has data; elsewhere it is NaN, not computed (no service uses it there, and every map of a
run is NaN there): each block's task takes the land-use block, cuts its DEM window around the
pixels with data and skips a block without any. The same task gives
the block's slope and slope length, the layer's :class:`~gepgeo.layer.LayerPart` s: a run writes
them only when its ``maps:`` name them, and then takes its LS from the same task
(``Layer.joint``), so that each DEM window is still read and computed once.

With ``method: contributing_area`` the contributing area is not local (no halo makes a block
exact): the layer is the tiled accumulation of :mod:`gepgeo.terrain.tiled_accumulation` on the
pass's blocks, a task per block for its perimeter links, one task solving the flow between
blocks, and a task per block for its LS, all in the run's single ``dask.compute`` (each block's
window, with a one-cell halo, is read twice). It equals the LS map of ``gepgeo terrain DEM
--grid LANDUSE --method contributing_area --block N`` with N the run's chunk size bit for bit
(the same functions, float32 out) where the land use has data (its LS tasks skip the rest, as
the flow-path ones do), and the whole-array result to within rounding.

Cell sizes are the land-use grid's (the DEM is on it once aligned), in metres from its
projected CRS; a geographic land-use grid is refused, as a geographic DEM is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from ..errors import GridMismatchError, TerrainError
from ..io import BlockSource, LayerInfo, _coverage, _grid_coords, _grid_differences, read_info
from ..layer import Layer, LayerPart
from ..nodata import nodata_list, nodata_mask, nodata_values
from ..grid import as_pyproj
from .dem import DemWindows, check_dem, check_scale, elevation_to_m, linear_unit_m, warp_args
from .tiled import FlowpathOptions, _compute_core, halo_cells
from .write import CA_MAPS, INVEST_MAPS, MAPS

__all__ = ["DemLayer", "dem_layer"]


@dataclass(frozen=True)
class DemLayer:
    """An LS layer computed from a DEM, with what the manifest records of it.

    Attributes
    ----------
    layer : Layer
        LS on the land-use grid (lazy float32, NaN nodata, unit "1").
    info : LayerInfo
        The DEM's own metadata (the run's input list and digests).
    note : str or None
        How the DEM was aligned, when it was resampled.
    record : dict
        Method, options, resampling, halo, cell size (``manifest.json``).
    """

    layer: Layer
    info: LayerInfo
    note: str | None
    record: dict[str, Any]


def _need(lu: np.ndarray | None, lu_nodata: tuple[float, ...]) -> np.ndarray | None:
    """Where a block of land-use codes has data (None: no land use given, every cell)."""
    return None if lu is None else ~nodata_mask(lu, lu_nodata)


def _ls_block(lu: np.ndarray | None, read: DemWindows, shape: tuple[int, int], halo: int,
              dx: float, dy: float, opts: FlowpathOptions, lu_nodata: tuple[float, ...],
              block_info: Any = None) -> np.ndarray:
    """One block of LS: the block's window plus the halo, read once, computed by the flow-path
    kernel where the land-use block ``lu`` has data; float32, NaN at nodata."""
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    return _compute_core(read, shape, (r0, c0, r1 - r0, c1 - c0), halo, dx, dy, opts,
                         np.float32, _need(lu, lu_nodata))[2]


def _parts_block(lu: np.ndarray | None, read: DemWindows, shape: tuple[int, int], halo: int,
                 dx: float, dy: float, opts: FlowpathOptions, lu_nodata: tuple[float, ...],
                 block_info: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block of (slope °, slope length m, LS): the block's window plus the halo, read once,
    computed by the flow-path kernel where the land-use block ``lu`` has data; float32, NaN at
    nodata. The block of a dask array of objects: :func:`_part` takes one of the three."""
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    return _compute_core(read, shape, (r0, c0, r1 - r0, c1 - c0), halo, dx, dy, opts,
                         np.float32, _need(lu, lu_nodata))


def _part(parts: tuple[np.ndarray, ...], k: int) -> np.ndarray:
    """Part ``k`` of a block's (slope, slope length or contributing area, LS)."""
    return parts[k]


def _ls_of_core(solved: tuple[np.ndarray, np.ndarray], read: DemWindows,
                shape: tuple[int, int], core: tuple[int, int, int, int], dx: float, dy: float,
                opts: FlowpathOptions, method: str, lu: np.ndarray | None = None,
                lu_nodata: tuple[float, ...] = ()) -> np.ndarray:
    """LS of one block by the contributing-area (or invest) method, from the solve over the
    blocks' perimeter cells, where the land-use block ``lu`` has data; float32, NaN at
    nodata."""
    from .tiled_accumulation import area_ls_of_core

    return area_ls_of_core(read, shape, core, dx, dy, opts, solved, np.float32, method,
                           _need(lu, lu_nodata))[2]


def _parts_of_core(solved: tuple[np.ndarray, np.ndarray], read: DemWindows,
                   shape: tuple[int, int], core: tuple[int, int, int, int], dx: float,
                   dy: float, opts: FlowpathOptions, method: str, lu: np.ndarray | None = None,
                   lu_nodata: tuple[float, ...] = ()
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slope °, contributing area m², LS) of one block by the contributing-area (or invest)
    method, from the solve over the blocks' perimeter cells, where the land-use block ``lu``
    has data; float32, NaN at nodata."""
    from .tiled_accumulation import area_ls_of_core

    return area_ls_of_core(read, shape, core, dx, dy, opts, solved, np.float32, method,
                           _need(lu, lu_nodata))


def _solve(cell_area: float, *perimeters: Any) -> tuple[np.ndarray, np.ndarray]:
    from .tiled_accumulation import solve

    return solve(list(perimeters), cell_area)


def _contributing_area_ls(read: DemWindows, shape: tuple[int, int], dx: float, dy: float,
                          opts: FlowpathOptions, blocks: tuple[tuple[int, ...], ...],
                          method: str, lu: Any = None, lu_nodata: tuple[float, ...] = ()
                          ) -> tuple[da.Array, list[da.Array]]:
    """LS by the contributing-area method as a dask array with ``blocks``: a task per block
    for its perimeter links, one solve, a task per block for its LS (:mod:`.tiled_accumulation`);
    and (slope, contributing area, LS) from one task per block, each part taken from it by a
    task of its own (for a run that writes the parts as maps; the same links and solve). With
    the land use ``lu`` (a dask array with ``blocks``), the LS tasks compute LS only where it
    has data (the links need every cell)."""
    from dask import delayed
    from dask.base import tokenize

    from .tiled_accumulation import links_of_core

    tok = tokenize(read, shape, dx, dy, opts, blocks, method, lu, lu_nodata)
    rows = np.cumsum((0,) + blocks[0])
    cols = np.cumsum((0,) + blocks[1])
    cores = [[(int(rows[i]), int(cols[j]), blocks[0][i], blocks[1][j])
              for j in range(len(blocks[1]))] for i in range(len(blocks[0]))]
    links = [delayed(links_of_core, pure=True)(read, shape, core, dx, dy, opts,
                                               dask_key_name=f"ls-ca-links-{tok}-{i}-{j}")
             for i, row in enumerate(cores) for j, core in enumerate(row)]
    solved = delayed(_solve, pure=True)(dx * dy, *links, dask_key_name=f"ls-ca-solve-{tok}")
    meta = np.empty((0, 0), dtype=np.float32)
    ls = da.block([[da.from_delayed(
        delayed(_ls_of_core, pure=True)(solved, read, shape, core, dx, dy, opts, method,
                                        None if lu is None else lu.blocks[i, j], lu_nodata,
                                        dask_key_name=f"ls-ca-block-{tok}-{i}-{j}"),
        core[2:], dtype=np.float32, meta=meta) for j, core in enumerate(row)]
        for i, row in enumerate(cores)])
    parts = [[delayed(_parts_of_core, pure=True)(solved, read, shape, core, dx, dy, opts, method,
                                                 None if lu is None else lu.blocks[i, j],
                                                 lu_nodata,
                                                 dask_key_name=f"ls-ca-parts-{tok}-{i}-{j}")
              for j, core in enumerate(row)] for i, row in enumerate(cores)]
    return ls, [da.block([[da.from_delayed(
        delayed(_part, pure=True)(parts[i][j], k, dask_key_name=f"ls-ca-part{k}-{tok}-{i}-{j}"),
        core[2:], dtype=np.float32, meta=meta) for j, core in enumerate(row)]
        for i, row in enumerate(cores)]) for k in range(3)]


def dem_layer(path: Path, ref: LayerInfo, *, what: str, chunks: int, method: str = "flowpath",
              opts: FlowpathOptions | None = None, z_factor: float = 1.0,
              resampling: str = "bilinear", strict: bool = False,
              land_use: Any = None) -> DemLayer:
    """The LS of the DEM ``path`` as a lazy layer on the grid of ``ref`` (the land use), in
    ``chunks`` × ``chunks`` blocks; reads metadata only.

    ``land_use``: the run's land use (a lazy ``DataArray`` with the same blocks, its nodata
    declared as :func:`gepgeo.nodata.nodata_values` reads it). With it, LS is computed only
    where the land use has data, and is NaN elsewhere (no service uses it there, and every map
    of a run is NaN there): each block's LS task takes the land-use block the pass reads
    anyway; for ``flowpath`` it cuts its DEM window around the pixels with data, and a block
    without any is not read (for ``contributing_area`` and ``invest`` the links still read
    every block: the flow crosses blocks without data too).

    Raises
    ------
    InputFileError, RasterError
        The DEM cannot be read.
    TerrainError
        The DEM or the land-use grid has no projected CRS or rotated pixels.
    GridMismatchError
        ``strict`` and the DEM is not on the land-use grid, or it does not overlap the grid.
    """
    opts = opts or FlowpathOptions()
    opts.check()
    info = read_info(path, what=what)
    check_dem(info, what)
    crs = as_pyproj(ref.crs) if ref.crs is not None else None
    if crs is None or not crs.is_projected:
        kind = "no CRS" if crs is None else f"a CRS that is not projected ({crs.name})"
        raise TerrainError(
            f"{what}: the land-use grid has {kind}; LS from a DEM is computed on the land-use "
            "grid and needs its cell sizes in metres: reproject the land use to a projected CRS "
            "(e.g. gdalwarp -t_srs EPSG:32648 -r near), or write LS on the DEM's grid with "
            "`gepgeo terrain` and give it as {path: ...}")
    if ref.transform.b != 0 or ref.transform.d != 0:
        raise TerrainError(f"{what}: the land-use grid has rotated or sheared pixels; warp it to "
                           "a north-up grid first (gdalwarp)")
    check_scale(ref.crs, ref.transform, ref.shape, f"{what}: the land-use grid", ref.path)
    grid = ref.grid
    unit = linear_unit_m(ref.crs)
    dx, dy = abs(grid.transform.a) * unit, abs(grid.transform.e) * unit
    z_to_m = elevation_to_m(info.crs, z_factor, what, path)
    token = uuid.uuid4().hex
    note = None
    if info.grid.same_as(grid):
        src = BlockSource(str(path), 1, token=token)
    else:
        if strict:
            raise GridMismatchError(
                f"{what}: {str(path)!r} is not on the land-use grid; align it, or drop "
                "--strict-grid to let gepgeo resample it")
        cover = _coverage(info, ref)
        if cover <= 0.0:
            raise GridMismatchError(f"{what}: {str(path)!r} does not overlap the land-use grid")
        src = BlockSource(str(path), 1, warp=warp_args(info, grid, resampling), token=token)
        note = (f"{what}: DEM {path.name} is on another grid "
                f"({'; '.join(_grid_differences(info, ref))}); resampled to the land-use grid "
                f"with {resampling} resampling before computing LS")
        if cover < 0.999:
            note += (f"; it covers only {100 * cover:.1f} % of the land-use grid: LS is nodata "
                     "outside it")
    read = DemWindows(src, tuple(nodata_list(info.nodata, None)), z_to_m)
    shape = (int(ref.shape[0]), int(ref.shape[1]))
    blocks = da.core.normalize_chunks((chunks, chunks), shape)
    from dask.base import tokenize

    lu: Any = None
    lu_nodata: tuple[float, ...] = ()
    if land_use is not None and tuple(land_use.data.chunks) == tuple(blocks):
        lu, lu_nodata = land_use.data, nodata_values(land_use)
    halo: int | None
    if method in ("contributing_area", "invest"):
        from .accumulation import options_dict
        from .invest import check_square

        if method == "invest":
            check_square(dx, dy, f"{what}: method invest")
        halo = None
        data, (slope, length, joint) = _contributing_area_ls(read, shape, dx, dy, opts, blocks,
                                                             method, lu, lu_nodata)
        options = options_dict(opts, method)
        maps = INVEST_MAPS if method == "invest" else CA_MAPS
    else:
        try:
            halo = halo_cells(opts, dx, dy)
        except TerrainError as exc:      # named as the pipeline names it, not as the flag
            raise TerrainError(f"{what}: " + str(exc).replace("--max-slope-length:",
                                                              "max_slope_length:", 1)) from None
        tok = tokenize(read, shape, halo, dx, dy, opts, blocks, lu, lu_nodata)
        data = da.map_blocks(_ls_block, lu, read, shape, halo, dx, dy, opts, lu_nodata,
                             chunks=blocks, dtype=np.float32,
                             meta=np.empty((0, 0), dtype=np.float32), name=f"ls-from-dem-{tok}")
        # for a run that writes slope or slope length: one task per block computes the three
        # from one read of the DEM window, and the LS the kernel reads is taken from it too
        raw = da.map_blocks(_parts_block, lu, read, shape, halo, dx, dy, opts, lu_nodata,
                            chunks=blocks, dtype=object, meta=np.empty((0, 0), dtype=object),
                            name=f"ls-from-dem-parts-{tok}")
        slope, length, joint = (
            raw.map_blocks(_part, k, dtype=np.float32, meta=np.empty((0, 0), dtype=np.float32),
                           name=f"ls-from-dem-part{k}-{tok}") for k in range(3))
        options = opts.as_dict()
        maps = MAPS
    wkt = ref.crs.to_wkt()
    arr = xr.DataArray(data, dims=("y", "x"),
                       coords=_grid_coords(shape, wkt, tuple(ref.transform)[:6]).copy())
    arr.encoding["grid_mapping"] = "spatial_ref"
    # the slope and the slope length (or contributing area) of the same blocks, as maps a run
    # may write (`maps: [slope_deg, ...]`; computed only then), named as `gepgeo terrain` does;
    # with them the run reads LS from the same tasks (``joint``): each DEM block computed once
    names = [n for n in maps if n != "slope_length_steepness_ls"]
    parts = tuple(LayerPart(name, part, maps[name][1], maps[name][0])
                  for name, part in zip(names, (slope, length)))
    layer = Layer(data=arr, unit="1", path=str(path), parts=parts, joint=joint)
    record = {"path": str(path), "method": method, "options": options,
              "z_factor": z_factor, "elevation_to_m": z_to_m, "resampling": resampling,
              "aligned": note is not None, "alignment": note, "halo_cells": halo,
              "cell_size_m": [dx, dy]}
    return DemLayer(layer, info, note, record)
