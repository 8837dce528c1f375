"""Raster input and output at the edges: lazy reads, block-wise GeoTIFF writes.

Reading: :func:`open_layer` checks a file with rasterio (exists, is a raster, has the band, has a
CRS) and returns a lazy, dask-chunked ``DataArray`` plus the metadata gepgeo needs (nodata,
scale/offset, unit tag). Each dask block is one ``rasterio`` window read through a handle kept
per thread (:func:`read_window`); the read tasks are blockwise, so dask fuses them into the
block task that consumes them: a 40 000² grid is then ~1.5 tasks per block instead of ~16, and
the scheduler's bookkeeping no longer grows by ~80 KiB per block. The kernel task goes one step
further for factor layers read unchanged from a file (:func:`block_source`): it reads them
itself, straight into its layer stack, and skips their tiles where the land use has no data
(:func:`read_needed`).

Writing: :class:`GeoTiffBlockWriter` is a block sink. It creates a tiled single-band GeoTIFF
with nodata, band description and unit, and writes each block as soon as it is computed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import rasterio
import rasterio.shutil
import dask.array as da
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from affine import Affine
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.windows import Window

from .errors import ConfigError, InputFileError, RasterError, file_problem
from .grid import Grid
from .nodata import nodata_mask, nodata_pair

__all__ = ["LayerInfo", "auto_chunk", "open_layer", "open_aligned", "GeoTiffBlockWriter",
           "scan_codes", "CODECS", "copy_to_cog"]

#: side of the tiles of written maps, pixels (the usual GeoTIFF / COG tile)
MAP_TILE = 512

#: block side of a run, pixels, unless the pipeline sets ``chunk_size``; see :func:`auto_chunk`
CHUNK = 1024


#: creation options per output codec (PERFORMANCE.md: ZSTD with a predictor is the fast default)
CODECS: dict[str, dict[str, Any]] = {
    "zstd": {"compress": "zstd", "zstd_level": 1, "predictor": 3},
    "deflate": {"compress": "deflate", "zlevel": 6, "predictor": 3},
    "none": {},
}


@dataclass(frozen=True)
class LayerInfo:
    """Metadata of an input raster band.

    Attributes
    ----------
    path : Path
    band : int
    shape : (int, int)
        (height, width).
    transform : Affine
    crs : rasterio.crs.CRS or None
    dtype : str
    nodata : float or None
    scale, offset : float
        Band scale and offset tags (1 and 0 when absent).
    unit : str
        Band unit tag ("" when absent).
    block_shape : (int, int)
        Internal block (tile or strip) shape.
    """

    path: Path
    band: int
    shape: tuple[int, int]
    transform: Affine
    crs: Any
    dtype: str
    nodata: float | None
    scale: float
    offset: float
    unit: str
    block_shape: tuple[int, int]

    @property
    def grid(self) -> Grid:
        """The band's pixel grid (CRS, transform, shape)."""
        return Grid(self.crs, self.transform, self.shape)


def read_info(path: Path, *, what: str, band: int = 1) -> LayerInfo:
    """Open ``path`` with rasterio and return its metadata; no pixel is read.

    Raises
    ------
    InputFileError
        Missing, unreadable or not a raster.
    RasterError
        The band does not exist, or the raster is empty.
    """
    info, ds = _open_checked(path, what=what, band=band)
    ds.close()
    return info


def _open_checked(path: Path, *, what: str, band: int = 1) -> tuple[LayerInfo, Any]:
    """:func:`read_info`, also returning the open dataset (the caller closes or keeps it)."""
    if not path.exists():   # or a symbolic link loop, a broken link: say which
        raise InputFileError(f"{what}: file {str(path)!r} {file_problem(path) or 'does not exist'}")
    if path.is_dir():
        raise InputFileError(f"{what}: {str(path)!r} is a folder, not a raster file")
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputFileError(f"{what}: {str(path)!r} is not a readable raster "
                             f"({str(exc).splitlines()[0]})") from None
    except RasterioError as exc:
        raise InputFileError(f"{what}: {str(path)!r} cannot be opened as a raster "
                             f"({str(exc).splitlines()[0]})") from None
    try:
        if band > src.count:
            raise RasterError(f"{what}: {str(path)!r} has {src.count} band(s); band {band} "
                              "does not exist")
        if src.width == 0 or src.height == 0:
            raise RasterError(f"{what}: {str(path)!r} is empty (0 pixels)")
        i = band - 1
        info = LayerInfo(
            path=path, band=band, shape=(src.height, src.width), transform=src.transform,
            crs=src.crs, dtype=src.dtypes[i], nodata=src.nodatavals[i],
            scale=float(src.scales[i] if src.scales else 1.0),
            offset=float(src.offsets[i] if src.offsets else 0.0),
            unit=str((src.units[i] if src.units else "") or ""),
            block_shape=tuple(src.block_shapes[i]),  # type: ignore[arg-type]
        )
    except BaseException:
        src.close()
        raise
    return info, src


@dataclass(frozen=True)
class BlockSource:
    """What a block read needs, picklable (it travels to distributed workers).

    ``row0``/``col0`` offset the window into a larger file on the same pixel grid; ``warp``
    holds the ``WarpedVRT`` arguments for a layer resampled onto the land-use grid; ``token``
    is unique per :func:`open_layer` call, so a rewritten file is never read through a handle
    opened before that call (a run reads through the handle that read the metadata, or newer).
    """

    path: str
    band: int = 1
    row0: int = 0
    col0: int = 0
    warp: tuple[tuple[str, Any], ...] | None = None
    token: str = ""


#: open datasets per thread, most recently used last; closed by their own thread on eviction
_HANDLES = threading.local()
MAX_HANDLES_PER_THREAD = 32


def _dataset(src: BlockSource) -> Any:
    cache: OrderedDict | None = getattr(_HANDLES, "open", None)
    if cache is None:
        cache = _HANDLES.open = OrderedDict()
    ds = cache.get(src)
    if ds is not None:
        cache.move_to_end(src)
        return ds[-1]
    base = _take_seed(src) if src.warp is None else None
    if base is None:
        base = rasterio.open(src.path)
    try:
        if src.warp is not None:
            from rasterio.vrt import WarpedVRT

            opened: tuple = (base, WarpedVRT(base, **_warp_kwargs(src.warp)))
        else:
            opened = (base,)
    except BaseException:
        base.close()
        raise
    cache[src] = opened
    while len(cache) > MAX_HANDLES_PER_THREAD:
        _, old = cache.popitem(last=False)
        for h in reversed(old):
            h.close()
    return opened[-1]


#: datasets opened while checking a layer's metadata inside :func:`seeded_handles` (a run),
#: each handed whole to the first thread of this process that reads that source: one
#: ``rasterio.open`` less per layer and run (~1 ms each when two threads open at once, a few %
#: of a 1 000² run). A handle is used by one thread at a time, as GDAL requires. Seeds nobody
#: took (a failed ``prepare``, a distributed run, unused layers) are closed when the run ends.
_SEEDS: dict[BlockSource, Any] = {}
_SCOPES: list[list[BlockSource]] = []      # open seeded_handles() scopes, innermost last
_SEED_LOCK = threading.Lock()


@contextlib.contextmanager
def seeded_handles() -> Iterator[None]:
    """Within this block, :func:`open_layer` and :func:`open_aligned` keep the handle they
    opened for the metadata, for the first thread that reads the layer; on exit, handles not
    taken are closed. Outside such a block they close it, as :func:`read_info` does."""
    scope: list[BlockSource] = []
    with _SEED_LOCK:
        _SCOPES.append(scope)
    try:
        yield
    finally:
        with _SEED_LOCK:
            _SCOPES.remove(scope)
            left = [_SEEDS.pop(src) for src in scope if src in _SEEDS]
        for dataset in left:
            dataset.close()


def _seed(src: BlockSource, dataset: Any) -> None:
    """Keep ``dataset`` (open on ``src.path``) for the first thread reading ``src``, inside a
    :func:`seeded_handles` scope; else close it."""
    with _SEED_LOCK:
        if _SCOPES:
            _SCOPES[-1].append(src)
            _SEEDS[src] = dataset
            return
    dataset.close()


def _take_seed(src: BlockSource) -> Any:
    with _SEED_LOCK:
        return _SEEDS.pop(src, None)


def _forget_seeds() -> None:
    """In a forked child: the parent's handles share their file offsets with the parent and
    with every other child, so the child must open its own."""
    global _SEED_LOCK
    _SEED_LOCK = threading.Lock()    # another thread of the parent may have held it
    _SEEDS.clear()
    _SCOPES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_seeds)


def _warp_kwargs(warp: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    kw = dict(warp)
    kw["transform"] = Affine(*kw["transform"])
    return kw


def read_window(src: BlockSource, row: int, col: int, height: int, width: int,
                out: np.ndarray | None = None) -> np.ndarray:
    """Read ``height`` × ``width`` pixels of ``src`` at (``row``, ``col``) of the grid, through
    this thread's handle; into ``out`` (same dtype as the band) when given, which saves the
    allocation and the copy into the kernel's layer stack. Every block read goes through here.
    """
    window = Window(src.col0 + col, src.row0 + row, width, height)
    return _dataset(src).read(src.band, window=window, out=out)


def read_needed(src: BlockSource, row: int, col: int, out: np.ndarray,
                needed: np.ndarray | None) -> None:
    """Read the window of ``out``'s shape at (``row``, ``col``) of the grid into ``out`` (a
    float array), except the file's internal tiles that hold no ``needed`` pixel: those parts
    of ``out`` are set to NaN (nodata) without reading or decompressing anything.

    ``needed`` (bool, ``out``'s shape) marks the pixels whose value is used: for factor
    layers, the pixels where the land use has data. Outside a study area's outline whole
    tiles are nodata in the land use (in the benchmark grids, an ellipse in its bounding box:
    9 % of the 512² tiles at 4 000², 22 % at 10 000²). Every needed pixel is read exactly
    once. Per band of tile rows, one window reads from the first
    to the last tile column with a needed pixel. Resampled layers (``warp``) are read whole.
    """
    h, w = out.shape
    if needed is None or src.warp is not None:
        read_window(src, row, col, h, w, out=out)
        return
    ds = _dataset(src)
    bh, bw = ds.block_shapes[src.band - 1]
    if bw >= ds.width:                   # stored in strips, maybe of one row: bands of several
        bh *= -(-MIN_BAND_ROWS // bh)
    for a, b, c0, c1 in _tile_bands(needed, bh, bw, (src.row0 + row) % bh, (src.col0 + col) % bw):
        if c1 > c0:
            read_window(src, row + a, col + c0, b - a, c1 - c0, out=out[a:b, c0:c1])
        out[a:b, :c0] = np.nan
        out[a:b, c1:] = np.nan


#: fewest rows read by one window of :func:`read_needed` in a file stored in strips
MIN_BAND_ROWS = 128


def _tile_bands(needed: np.ndarray, bh: int, bw: int, r_off: int,
                c_off: int) -> list[tuple[int, int, int, int]]:
    """For a block whose first pixel is at (``r_off``, ``c_off``) inside a ``bh`` × ``bw``
    tile: per band of tile rows (rows ``a:b``), the columns ``c0:c1`` from the first to the
    last tile with a ``needed`` pixel (``c0 == c1`` when there is none)."""
    h, w = needed.shape
    col_edges = list(range(min(bw - c_off, w), w, bw))
    bands = []
    a = 0
    while a < h:
        b = min(a + bh - (r_off if a == 0 else 0), h)
        cols = needed[a:b].any(axis=0)
        tiles = np.logical_or.reduceat(cols, [0] + col_edges) if cols.size else cols
        hit = np.flatnonzero(tiles)
        if hit.size == 0:
            bands.append((a, b, 0, 0))
        else:
            edges = [0] + col_edges + [w]
            bands.append((a, b, edges[hit[0]], edges[hit[-1] + 1]))
        a = b
    return bands


@dataclass(frozen=True)
class _Windows:
    """The band of ``src`` as an array-like for :func:`dask.array.from_array`: indexing it
    with a block's slices reads that window (every lazy read task goes through here)."""

    src: BlockSource
    shape: tuple[int, int]
    dtype: np.dtype
    ndim: int = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) == 2 and all(isinstance(k, slice) and k.step in (None, 1) for k in key):
            (r0, r1, _), (c0, c1, _) = (k.indices(n) for k, n in zip(key, self.shape))
            return read_window(self.src, r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))
        # any other selection dask hands down (steps, integers, arrays): read the window that
        # bounds it, then select in memory
        if len(key) > 2 or any(k is Ellipsis or k is None for k in key):
            return self[:, :][key]
        key = key + (slice(None),) * (2 - len(key))
        window, inner = zip(*(_bounding(k, n) for k, n in zip(key, self.shape)))
        return self[window][inner]


def _bounding(k: Any, n: int) -> tuple[slice, Any]:
    """For an index ``k`` along an axis of length ``n``: the unit-step slice bounding what it
    selects, and the index that selects the same from that slice."""
    if isinstance(k, (int, np.integer)):
        i = int(k) + n if k < 0 else int(k)
        if not 0 <= i < n:
            raise IndexError(f"index {int(k)} is out of bounds for an axis of size {n}")
        return slice(i, i + 1), 0
    if isinstance(k, slice):
        idx = range(*k.indices(n))
        if not idx:
            return slice(0, 0), slice(0, 0)
        lo = min(idx[0], idx[-1])
        end = idx[-1] - lo + (1 if idx.step > 0 else -1)
        return (slice(lo, max(idx[0], idx[-1]) + 1),
                slice(idx[0] - lo, end if end >= 0 else None, idx.step))
    return slice(0, n), k


#: dask array name of each :func:`lazy_band` → the file it reads (see :func:`block_source`)
_SOURCES: OrderedDict[str, BlockSource] = OrderedDict()
MAX_SOURCES = 4096


def block_source(data: Any) -> BlockSource | None:
    """The file a dask array reads unchanged, one window per block, if it is an array made by
    :func:`lazy_band`, else ``None``.

    Dask names an array by its content: any operation on it (arithmetic, rechunking, a
    selection) gives a new name, so a match means the blocks are the file's raw windows and a
    consumer may read them itself, straight into its own buffer.
    """
    name = getattr(data, "name", None)
    return _SOURCES.get(name) if isinstance(name, str) else None


def lazy_band(src: BlockSource, shape: tuple[int, int], dtype: str, transform: Affine, crs: Any,
              *, chunks: int = CHUNK) -> xr.DataArray:
    """A lazy (y, x) ``DataArray`` of ``src`` on the grid (``shape``, ``transform``, ``crs``), in
    ``chunks`` × ``chunks`` blocks, each read by one blockwise task; no pixel is read here."""
    from dask.base import tokenize

    blocks = da.core.normalize_chunks((chunks, chunks), shape)
    name = f"read-{Path(src.path).stem}-{tokenize(src, shape, dtype, blocks)}"
    # from_array over a window reader: a blockwise read task per block, like map_blocks, but
    # built in a third of the time (set-up cost counts on small grids)
    data = da.from_array(_Windows(src, (int(shape[0]), int(shape[1])), np.dtype(dtype)),
                         chunks=blocks, name=name,
                         asarray=False, lock=False, inline_array=True,
                         meta=np.empty((0, 0), dtype=dtype))
    _SOURCES[name] = src
    while len(_SOURCES) > MAX_SOURCES:
        _SOURCES.popitem(last=False)
    wkt = None if crs is None else (crs if isinstance(crs, str) else crs.to_wkt())
    arr = xr.DataArray(data, dims=("y", "x"),
                       coords=_grid_coords(tuple(shape), wkt, tuple(transform)[:6]).copy())
    arr.encoding["grid_mapping"] = "spatial_ref"
    return arr


@functools.lru_cache(maxsize=32)
def _grid_coords(shape: tuple[int, int], crs_wkt: str | None,
                 transform: tuple[float, ...]) -> xr.Coordinates:
    """The pixel-centre ``y``/``x`` coordinates and ``spatial_ref`` of a grid, built once per
    grid; each layer gets a shallow copy (its own attribute dicts, the same index values)."""
    t = Affine(*transform)
    ys = t.f + t.e * (np.arange(shape[0]) + 0.5)
    xs = t.c + t.a * (np.arange(shape[1]) + 0.5)
    return xr.Coordinates({"y": ys, "x": xs, "spatial_ref": _spatial_ref(crs_wkt, transform)})


@functools.lru_cache(maxsize=32)
def _spatial_ref(crs_wkt: str | None, transform: tuple[float, ...]) -> xr.Variable:
    """The ``spatial_ref`` coordinate rioxarray writes for a CRS and transform; made once per
    grid (its CF attributes take ~7 ms to build) and shared by every layer on that grid."""
    tmpl = xr.DataArray(np.empty((1, 1), dtype=np.uint8), dims=("y", "x"))
    if crs_wkt is not None:
        tmpl = tmpl.rio.write_crs(crs_wkt)
    tmpl = tmpl.rio.write_transform(Affine(*transform[:6]))
    return tmpl.coords["spatial_ref"].variable


def auto_chunk(shape: tuple[int, int]) -> int:
    """Default block side for a grid of ``shape`` (rows, columns): :data:`CHUNK` (1024), or 512
    when the grid holds fewer than 16 blocks of 1024², so that a small grid still splits into
    enough blocks to keep every core busy.

    It depends on the grid only, never on the scheduler or the number of cores, so a run gives
    the same blocks, and the same sums to the last bit, on threads and on a cluster. Measured
    on 2 cores (``benchmarks/``): 1024² blocks are 10–15 % faster than 512² at 4 000² and
    above; a 1 000² grid in a single 1024² block runs on one core, 1.2× slower than in 512²
    blocks.
    """
    h, w = shape
    n1024 = -(-h // CHUNK) * -(-w // CHUNK)
    return CHUNK if n1024 >= 16 else CHUNK // 2


def open_layer(path: Path, *, what: str, band: int = 1,
               chunks: int | None = None) -> tuple[xr.DataArray, LayerInfo]:
    """Open one band lazily in dask chunks of ``chunks`` × ``chunks`` pixels (raw values);
    ``None``: :func:`auto_chunk` of the band's shape."""
    info, dataset = _open_checked(path, what=what, band=band)
    if chunks is None:
        chunks = auto_chunk(info.shape)
    src = BlockSource(str(path), band, token=uuid.uuid4().hex)
    try:
        arr = lazy_band(src, info.shape, info.dtype, info.transform, info.crs, chunks=chunks)
    except BaseException:
        dataset.close()
        raise
    _seed(src, dataset)
    return arr, info


def _coverage(info: LayerInfo, ref: LayerInfo) -> float:
    """Share of the reference grid's extent that the layer's extent covers (0 to 1), rows
    north-up or south-up (:attr:`gepgeo.grid.Grid.bounds`)."""
    from rasterio.warp import transform_bounds

    r_left, r_bottom, r_right, r_top = Grid(ref.crs, ref.transform, ref.shape).bounds
    left, bottom, right, top = transform_bounds(
        info.crs, ref.crs, *Grid(info.crs, info.transform, info.shape).bounds, densify_pts=21)
    w = max(0.0, min(right, r_right) - max(left, r_left))
    h = max(0.0, min(top, r_top) - max(bottom, r_bottom))
    return (w * h) / ((r_right - r_left) * (r_top - r_bottom))


def open_aligned(path: Path, ref: LayerInfo, *, what: str, band: int = 1, chunks: int | None = None,
                 resampling: str = "bilinear", nodata: float | None = None,
                 strict: bool = False) -> tuple[xr.DataArray, LayerInfo, str | None]:
    """Open one band lazily *on the grid of* ``ref`` (the land-use raster).

    * Same grid: read as is.
    * Same CRS and pixel size, pixel edges aligned, extent covering the grid: a lazy window of
      the layer (exact; no resampling).
    * Otherwise: GDAL's warper (a ``WarpedVRT`` on the reference grid) with ``resampling``;
      pixels the layer does not cover are nodata (left out of the services that need the
      layer, and counted).

    Returns the array, in blocks of ``chunks`` (default: :func:`auto_chunk` of ``ref``), the
    layer's own metadata and a note (None when nothing was resampled).

    Raises
    ------
    GridMismatchError
        ``strict`` and the layer is not on the grid, or the layer does not overlap the grid.
    """
    if chunks is None:
        chunks = auto_chunk(ref.shape)
    info, dataset = _open_checked(path, what=what, band=band)
    try:
        arr, note = _aligned(path, info, dataset, ref, what=what, band=band, chunks=chunks,
                             resampling=resampling, nodata=nodata, strict=strict)
    except BaseException:
        dataset.close()
        raise
    src = block_source(arr.data)
    if src is not None and src.warp is None:
        _seed(src, dataset)
    else:
        dataset.close()
    return arr, info, note


def _aligned(path: Path, info: LayerInfo, dataset: Any, ref: LayerInfo, *, what: str, band: int,
             chunks: int, resampling: str, nodata: float | None,
             strict: bool) -> tuple[xr.DataArray, str | None]:
    """:func:`open_aligned` once the layer's metadata is read (``dataset``: its open handle)."""
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    from .errors import GridMismatchError

    if info.crs is None:
        raise RasterError(f"{what}: {str(path)!r} has no CRS; set one (e.g. gdal_edit.py -a_srs "
                          "EPSG:XXXX) or write the layer on the land-use grid")
    grid, ref_grid = info.grid, ref.grid
    if grid.same_as(ref_grid):
        src = BlockSource(str(path), band, token=uuid.uuid4().hex)
        return lazy_band(src, info.shape, info.dtype, info.transform, info.crs,
                         chunks=chunks), None
    if strict:
        raise GridMismatchError(
            f"{what}: {str(path)!r} is not on the land-use grid ({info.crs}, pixel "
            f"{abs(info.transform.a):g} x {abs(info.transform.e):g}, {info.shape[1]} x "
            f"{info.shape[0]}); align it, or drop --strict-grid to let gepgeo resample it")
    cover = _coverage(info, ref)
    if cover <= 0.0:
        raise GridMismatchError(f"{what}: {str(path)!r} does not overlap the land-use grid")
    offset = ref_grid.offset_in(grid)    # the land-use grid's first pixel in the layer
    aligned = offset is not None
    if offset is not None:
        r0, c0 = offset
        if c0 >= 0 and r0 >= 0 and c0 + ref.shape[1] <= info.shape[1] \
                and r0 + ref.shape[0] <= info.shape[0]:
            src = BlockSource(str(path), band, row0=r0, col0=c0, token=uuid.uuid4().hex)
            return lazy_band(src, ref.shape, info.dtype, ref.transform, ref.crs,
                             chunks=chunks), None
        resampling = "nearest"  # same pixel grid, partial extent: no value is interpolated
        outside = _pixels_outside(ref.shape, info.shape, r0, c0)
    # the file's own nodata is nodata for the warper; a pipeline's other `nodata:` adds to it
    # (masked after reading), which only nearest resampling leaves unmixed with its neighbours
    src_nodata, extra = nodata_pair(info.nodata, nodata)
    if extra and resampling != "nearest":
        raise ConfigError(
            f"{what}: {str(path)!r} declares nodata {info.nodata!r} and the pipeline adds "
            f"{nodata!r}; a layer resampled onto the land-use grid can carry only one nodata "
            "value through bilinear/cubic/average resampling: set `resampling: nearest`, or "
            "write the layer on the land-use grid")
    warp = (("crs", ref.crs.to_wkt()), ("transform", tuple(ref.transform)[:6]),
            ("width", ref.shape[1]), ("height", ref.shape[0]),
            ("resampling", Resampling[resampling]), ("src_nodata", src_nodata),
            ("nodata", src_nodata if src_nodata is not None else np.nan),
            ("dtype", "float32" if info.dtype != "float64" else "float64"))
    src = BlockSource(str(path), band, warp=warp, token=uuid.uuid4().hex)
    try:  # the warper is set up once here, so that a layer it cannot handle fails now
        with WarpedVRT(dataset, **_warp_kwargs(warp)):
            pass
    except RasterioError as exc:
        raise InputFileError(f"{what}: {str(path)!r} cannot be warped to the land-use grid "
                             f"({exc})") from None
    arr = lazy_band(src, ref.shape, dict(warp)["dtype"], ref.transform, ref.crs, chunks=chunks)
    if aligned:
        note = (f"{what}: {path.name} is on the land-use pixel grid but covers only part of it: "
                f"{outside} of its {ref.shape[0] * ref.shape[1]} pixels are outside the "
                "layer's extent and are nodata (the others are read exactly)")
        return arr, note
    note = (f"{what}: {path.name} is on another grid ({'; '.join(_grid_differences(info, ref))}); "
            f"resampled to the land-use grid with {resampling} resampling")
    if cover < 0.999:
        npix = ref.shape[0] * ref.shape[1]
        note += (f"; it covers only {100 * cover:.1f} % of the land-use grid: about "
                 f"{round((1.0 - cover) * npix)} of its {npix} pixels are outside the layer's "
                 "extent and are nodata")
    return arr, note


def _pixels_outside(ref_shape: tuple[int, int], shape: tuple[int, int], r0: int, c0: int) -> int:
    """Pixels of a ``ref_shape`` grid outside a layer of ``shape`` on the same pixel grid whose
    pixel (``r0``, ``c0``) is the grid's first (offsets may be negative)."""
    rows = max(0, min(ref_shape[0], shape[0] - r0) - max(0, -r0))
    cols = max(0, min(ref_shape[1], shape[1] - c0) - max(0, -c0))
    return ref_shape[0] * ref_shape[1] - rows * cols


def _grid_differences(info: LayerInfo, ref: LayerInfo) -> list[str]:
    """What differs between a layer's grid and the land-use grid, in words."""
    t, r = info.transform, ref.transform
    out = []
    if info.crs != ref.crs:
        out.append(f"CRS {info.crs.to_string() if info.crs else '?'}, the land use's is "
                   f"{ref.crs.to_string() if ref.crs else '?'}; pixel {abs(t.a):g} x "
                   f"{abs(t.e):g} in its CRS's units")
        return out
    if t.b != 0 or t.d != 0:
        out.append("rotated or sheared pixels")
    if (t.a > 0) != (r.a > 0) or (t.e > 0) != (r.e > 0):
        out.append("rows or columns in the opposite direction (e.g. south-up)")
    elif abs(t.a - r.a) >= 1e-9 * abs(r.a) or abs(t.e - r.e) >= 1e-9 * abs(r.e):
        out.append(f"pixel {abs(t.a):g} x {abs(t.e):g}, the land use's is {abs(r.a):g} x "
                   f"{abs(r.e):g}")
    elif t.b == r.b == 0 and t.d == r.d == 0:
        dc, dr = (r.c - t.c) / t.a, (r.f - t.f) / t.e
        out.append(f"same pixel size, pixel edges offset by {dc - round(dc):+.3g} x "
                   f"{dr - round(dr):+.3g} pixels")
    return out or [f"pixel {abs(t.a):g} x {abs(t.e):g}"]


def scan_codes(path: Path, *, band: int = 1,
               nodata: float | Sequence[float] | None = None) -> dict[int, int]:
    """Count the pixels of every land-use code (nodata excluded), block by block.

    Used by ``gepgeo validate`` and to complete the message of an unmapped-code error; a
    normal run finds unmapped codes inside its single pass instead. ``nodata``: the value(s)
    that are nodata besides NaN, compared as the raster stores them (a float32 raster's
    -3.4028235e38 is float32's lowest value).

    Raises
    ------
    RasterError
        A float raster holds a value that is not nodata and not an integer code (2.7, ±inf).
    """
    counts: dict[int, int] = {}
    nds: list[Any] = ([] if nodata is None else [nodata] if np.isscalar(nodata)
                      else list(cast(Sequence[float], nodata)))
    with rasterio.open(path) as src:
        for _, window in src.block_windows(band):
            blk = src.read(band, window=window)
            isnd = nodata_mask(blk, nds)
            if isnd.any():
                blk = blk[~isnd]
            with np.errstate(over="ignore", invalid="ignore"):
                if blk.dtype.kind == "f":
                    bad = ~((np.trunc(blk) == blk) & (np.abs(blk) <= 2.0**53))
                    if bad.any():
                        raise RasterError(
                            f"land use {str(path)!r}: {int(bad.sum())} pixel(s) of a block hold "
                            "a land-use value that is not an integer class code (for example "
                            f"{float(blk[bad][0])!r}); reclassify the raster to whole-number "
                            "codes or declare the value as land_use.nodata")
            if blk.size == 0:
                continue
            if blk.dtype.kind in "ui" and blk.dtype.itemsize <= 2:
                lo = int(blk.min())
                bc = np.bincount((blk.astype(np.int64) - lo).ravel())
                for i in np.flatnonzero(bc):
                    counts[lo + int(i)] = counts.get(lo + int(i), 0) + int(bc[i])
            else:
                vals, cnt = np.unique(blk, return_counts=True)
                for v, c in zip(vals.tolist(), cnt.tolist()):
                    counts[int(v)] = counts.get(int(v), 0) + int(c)
    return counts


class WriterClosedError(RuntimeError):
    """A block arrived at a :class:`GeoTiffBlockWriter` after it was closed or aborted."""


def output_tile(block: int) -> int:
    """Tile side for maps written in ``block`` × ``block`` blocks: 512 when a block is a whole
    number of 512² tiles (each block write then fills whole tiles; 1024² tiles would make
    every later read of a small window decode 4 MB), else the block side itself."""
    if block % MAP_TILE == 0:
        return MAP_TILE
    return block if block % 16 == 0 else MAP_TILE


class _PreviewSampler:
    """Collects, block by block, the pixels of a map that GDAL's nearest-neighbour decimated
    read picks (:func:`gepgeo.styles.nearest_rows`, :func:`gepgeo.styles.nearest_cols`)."""

    def __init__(self, shape: tuple[int, int], max_side: int, n_blocks: int,
                 dtype: np.dtype) -> None:
        from .styles import nearest_cols, nearest_rows, overview_shape

        h, w = shape
        oh, ow = overview_shape(h, w, max_side)
        self.rows = nearest_rows(h, oh)
        self.cols = nearest_cols(w, ow)
        self.data = np.empty((oh, ow), dtype=dtype)
        self.seen = np.zeros(n_blocks, dtype=bool)

    def sample(self, index: int, window: Window, block: np.ndarray) -> None:
        """Copy the picked pixels of ``block`` (block number ``index`` at ``window``)."""
        r0, c0 = int(window.row_off), int(window.col_off)
        r = slice(*np.searchsorted(self.rows, [r0, r0 + int(window.height)]))
        c = slice(*np.searchsorted(self.cols, [c0, c0 + int(window.width)]))
        self.data[r, c] = block[np.ix_(self.rows[r] - r0, self.cols[c] - c0)]
        self.seen[index] = True

    def result(self) -> np.ndarray | None:
        """The decimated map once every block was sampled, else None."""
        return self.data if self.seen.all() else None


class GeoTiffBlockWriter:
    """A block sink writing windows of one float band into a tiled GeoTIFF.

    Parameters
    ----------
    path : Path
        File to create.
    shape : (int, int)
        (height, width).
    transform, crs
        Grid of the output.
    description, unit : str
        Band description and unit (also written as tags ``units``/``long_name``).
    codec : {"zstd", "deflate", "none"}
    tags : mapping, optional
        Extra dataset tags.
    dtype : str
        Output dtype (float32).
    shared : bool
        For a multi-process (dask.distributed) run: the file is created sparse and closed; every
        block write opens it in update mode under a cluster-wide lock named after the file, so
        the writer pickles to worker processes. Otherwise one handle stays open and a thread
        lock serialises writes to this file (files still compress in parallel); a block task
        writes first to the files whose lock is free (:meth:`try_write`).
    block : int
        Side of the blocks written, pixels: every write is one block of this grid (clipped at
        its edges), whatever the order.
    reorder : bool
        Shared writers only. Workers write blocks in the order they finish, and GDAL appends
        each tile where it is written, so the file's bytes would depend on the schedule. With
        ``reorder`` the workers write a sibling file ``<stem>.unordered.tif`` and :meth:`close`
        (in the client process) copies it block by block, in row-major order, into ``path``:
        the same bytes as a threaded run's. One extra decode and encode per map; pass
        ``False`` when the file is copied again anyway (the COG conversion reads any layout
        and writes its own order).
    preview : int
        If positive (local writers only), keep a decimated copy of the map, longest side at
        most ``preview`` pixels: from every block written, the pixels GDAL's nearest-neighbour
        decimated read of the finished file picks (:func:`gepgeo.styles.read_overview`, a file
        without overviews). :attr:`preview` gives it once every block has been written, so the
        styles and the report need not decode every tile of the map again.
    """

    def __init__(self, path: Path, shape: tuple[int, int], transform: Affine, crs: Any, *,
                 description: str, unit: str, codec: str = "zstd",
                 tags: Mapping[str, str] | None = None, dtype: str = "float32",
                 shared: bool = False, block: int = 1024, reorder: bool = True,
                 preview: int = 0) -> None:
        self.path = Path(path)
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.shared = shared
        self.block = block
        self._final: Path | None = None
        if shared and reorder:
            self._final = self.path
            self._args = {"transform": transform, "crs": crs, "description": description,
                          "unit": unit, "codec": codec, "tags": dict(tags or {}), "dtype": dtype,
                          "block": block}
            self.path = self.path.with_name(f"{self.path.stem}.unordered{self.path.suffix}")
        h, w = shape
        self._ncols = -(-w // block)
        self._next = 0                        # index of the next block to write, row-major
        self._pending: dict[int, tuple[Window, np.ndarray]] = {}
        self.max_pending = 0
        self._sampler = (_PreviewSampler(shape, preview, self._ncols * -(-h // block),
                                         self.dtype)
                         if preview > 0 and not shared else None)
        tile = output_tile(block)
        profile: dict[str, Any] = {
            "driver": "GTiff", "height": h, "width": w, "count": 1, "dtype": dtype,
            "crs": crs, "transform": transform, "nodata": np.nan, "tiled": True,
            "blockxsize": tile, "blockysize": tile, "bigtiff": "if_safer",
            **CODECS[codec],
        }
        if shared:
            profile["sparse_ok"] = True
        self._lock: Any = threading.Lock()
        ds = rasterio.open(self.path, "w", **profile)
        ds.set_band_description(1, description)
        ds.units = (unit,)
        ds.update_tags(1, units=unit, long_name=description)
        if tags:
            ds.update_tags(**{k: str(v) for k, v in tags.items()})
        if shared:
            ds.close()
            self._ds = None
            from distributed import Lock

            self._lock = Lock(f"gepgeo-write-{self.path.resolve()}")
        else:
            self._ds = ds

    def __getstate__(self) -> dict[str, Any]:
        if not self.shared:
            raise TypeError("a local GeoTiffBlockWriter cannot be sent to another process; "
                            "create it with shared=True for a distributed run")
        return {k: v for k, v in self.__dict__.items() if k != "_ds"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._ds = None

    def __setitem__(self, key: tuple[slice, slice], value: np.ndarray) -> None:
        rows, cols = key
        window = Window.from_slices(rows, cols, height=self.shape[0], width=self.shape[1])
        if self.shared:  # another process may hold the file; write now
            self._block_index(window)
            data = np.asarray(value, dtype=self.dtype)
            with self._lock:
                with rasterio.open(self.path, "r+") as ds:
                    ds.write(data, 1, window=window)
            return
        with self._lock:
            self._write_locked(key, window, value)

    def try_write(self, key: tuple[slice, slice], value: np.ndarray) -> bool:
        """Write the block if no other thread holds this file now; ``False`` (nothing done)
        if one does. Lets a block task write its maps in whatever order the files are free."""
        if self.shared:
            self[key] = value
            return True
        if not self._lock.acquire(blocking=False):
            return False
        try:
            rows, cols = key
            window = Window.from_slices(rows, cols, height=self.shape[0], width=self.shape[1])
            self._write_locked(key, window, value)
        finally:
            self._lock.release()
        return True

    def _write_locked(self, key: tuple[slice, slice], window: Window, value: np.ndarray) -> None:
        # Blocks are written in row-major order, whatever order they are computed in: GDAL
        # appends each compressed tile where it is written, so this makes the file's bytes
        # depend on the data only (two runs give identical files). Blocks that arrive early
        # wait in a small buffer (a copy: the caller reuses its array).
        index = self._block_index(window)
        if self._ds is None:
            # a task still running after the pass was aborted (Ctrl-C, an error elsewhere)
            raise WriterClosedError(f"{self.path}: the writer is closed")
        data = np.asarray(value, dtype=self.dtype)     # no copy when already float32
        if self._sampler is not None:
            self._sampler.sample(index, window, data)
        if index == self._next:
            self._ds.write(data, 1, window=window)
            self._next += 1
        else:
            self._pending[index] = (window, data.copy())
            self.max_pending = max(self.max_pending, len(self._pending))
        while self._next in self._pending:
            win, waiting = self._pending.pop(self._next)
            self._ds.write(waiting, 1, window=win)
            self._next += 1

    @property
    def preview(self) -> np.ndarray | None:
        """The decimated map (see ``preview`` above), or None: not asked for, a shared
        writer, or a block not written yet."""
        return self._sampler.result() if self._sampler is not None else None

    def _block_index(self, window: Window) -> int:
        """Row-major index of the block ``window`` is, in this writer's grid of
        ``block`` × ``block`` blocks.

        Raises
        ------
        ValueError
            ``window`` is not exactly one such block (clipped at the grid's edges). Blocks of
            another size would share an index and overwrite each other while they wait.
        """
        h, w = self.shape
        r0, c0 = int(window.row_off), int(window.col_off)
        b = self.block
        if (r0 % b or c0 % b or int(window.height) != min(b, h - r0)
                or int(window.width) != min(b, w - c0)):
            raise ValueError(f"{self.path.name}: window {window} is not a {b} x {b} block of "
                             f"the {w} x {h} grid; write with the writer's block size")
        return (r0 // b) * self._ncols + c0 // b

    def close(self) -> None:
        """Write any block still waiting (in order), then flush and close the file; a shared
        writer with ``reorder`` copies its blocks into the final file in row-major order."""
        if self.shared:
            if self._final is not None and self.path.exists():
                self._rewrite_in_order()
            return
        with self._lock:
            if self._ds is None:
                return
            for index in sorted(self._pending):
                win, data = self._pending.pop(index)
                self._ds.write(data, 1, window=win)
            ds, self._ds = self._ds, None
            ds.close()

    def _rewrite_in_order(self) -> None:
        """Copy the blocks of the unordered file into the final file through a local writer,
        in row-major order, then remove the unordered file."""
        assert self._final is not None
        h, w = self.shape
        b = self.block
        out = GeoTiffBlockWriter(self._final, self.shape, shared=False, **self._args)
        try:
            with rasterio.open(self.path) as src:
                for r0 in range(0, h, b):
                    for c0 in range(0, w, b):
                        win = Window(c0, r0, min(b, w - c0), min(b, h - r0))
                        out[(slice(r0, r0 + win.height), slice(c0, c0 + win.width))] = \
                            src.read(1, window=win)
        except BaseException:
            out.abort()
            raise
        out.close()
        self.path.unlink()
        self.path = self._final
        self._final = None

    def abort(self) -> None:
        """Close without writing what is pending, never raising: for a pass that failed.

        Tasks of the aborted pass that are still running in other threads wait for the lock
        and then get :class:`WriterClosedError` instead of touching a closed dataset; the
        exception that aborted the pass (e.g. ``KeyboardInterrupt``) is the one that
        propagates. The partial file is left for the caller to remove.
        """
        with self._lock:
            ds, self._ds = self._ds, None
            self._pending.clear()
            if ds is not None:
                try:
                    ds.close()
                except Exception:  # noqa: BLE001 - the file is discarded anyway
                    pass


def copy_to_cog(src_path: Path, dst_path: Path, *, codec: str = "deflate") -> None:
    """Copy a finished tiled GeoTIFF to a Cloud-Optimized GeoTIFF with overviews (second pass).

    Streams through GDAL's COG driver (PERFORMANCE.md: copying a finished file does not hold
    the raster in memory).
    """
    choices: dict[str, dict[str, Any]] = {
        "zstd": {"COMPRESS": "ZSTD", "LEVEL": 1, "PREDICTOR": "FLOATING_POINT"},
        "deflate": {"COMPRESS": "DEFLATE", "PREDICTOR": "FLOATING_POINT"},
        "none": {"COMPRESS": "NONE"}}
    opts = choices[codec]
    with rasterio.open(src_path) as src:
        side = max(src.width, src.height)
    # GDAL adds overview levels until the raster fits one block: pick a block size below half
    # the raster's side so that even a small raster gets at least one overview
    block = 512
    while block > 16 and block * 2 > side:
        block //= 2
    rasterio.shutil.copy(src_path, dst_path, driver="COG", OVERVIEWS="AUTO", BLOCKSIZE=block,
                         RESAMPLING="AVERAGE", NUM_THREADS=os.cpu_count() or 1, **opts)


def check_nodata_fits(value: float | None, dtype: str, what: str) -> None:
    """Refuse a nodata value (from the pipeline) that no pixel of a ``dtype`` raster can hold:
    outside the integer range (``1e300``, ``.inf``, ``-1`` on uint8), NaN or non-integral on
    an integer raster, finite beyond the float range on a float raster.

    Parameters
    ----------
    value : float or None
        The nodata value given (None: nothing to check).
    dtype : str
        The raster band's data type (``uint8``, ``float32`` ...).
    what : str
        The pipeline key, for the message (``land_use.nodata``).

    Raises
    ------
    RasterError
        Naming the key, the value and the type's range.
    """
    if value is None:
        return
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not (np.isfinite(value) and float(value).is_integer() and info.min <= value <= info.max):
            raise RasterError(f"{what}: {value:g} cannot be a pixel value of this {dt.name} raster "
                              f"(whole numbers {info.min} to {info.max}); give one in that range, "
                              "or leave it out to use the file's own nodata")
    elif dt.kind == "f":
        big = float(np.finfo(dt).max)
        if np.isfinite(value) and abs(value) > big:
            raise RasterError(f"{what}: {value:g} cannot be a pixel value of this {dt.name} raster "
                              f"(finite values up to ±{big:g}); give one in that range, NaN or "
                              "±inf, or leave it out to use the file's own nodata")
