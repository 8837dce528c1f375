"""Lazy GEP computation on xarray / dask: the public Python API.

:func:`compute_services` takes a land-use ``DataArray``, parameters given as constants, tables by
land type or ``DataArray`` layers, and (optionally) a parameter profile, and returns a lazy
``xarray.Dataset``: one density variable per requested measure (y, x) and the float64 totals by
land type (and by zone), all from one dask graph in which each block of every input is read once
and the fused kernel (:func:`gepgeo.kernel.gep_block`) runs once per block, whatever subset of
the variables is computed together.

Example
-------
>>> ds = gepgeo.compute_services(land_use, {1: "forest", 2: "cropland"},
...                              {"rainfall_erosivity_r": r_layer, ...},
...                              profile="ouyang-garze-2010")
>>> ds["soil_retention"]        # t ha-1 a-1, lazy
>>> ds["totals"].sel(column="soil.soil_retention").sum().compute()   # t a-1
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS

from . import _interrupt
from . import io as _gio
from . import kernel as K
from .area import grid_block_areas_ha, grid_row_areas_ha
from .errors import ConfigError, DomainError, GridMismatchError, RasterError, UnmappedCodesError
from .grid import Grid
from .layer import Layer
from .nodata import as_stored as _as_stored
from .nodata import nodata_mask, nodata_values
from .resolve import ParamValue, Plan, as_param_value, merge_levels, plan
from .services import MEASURES, SERVICES, map_name

__all__ = ["compute_services", "DEFAULT_MAPS", "ALL_MAPS", "build_lut", "land_type_index",
           "land_use_codes", "measure_for_map", "check_map"]

#: Maps written by default (OUTPUTS.md): GEP and one value map per service.
DEFAULT_MAPS: tuple[str, ...] = ("gep",) + tuple(
    map_name(m) for m in MEASURES if m.name == "value" and m.service != "gep")
#: Every map name (every measure).
ALL_MAPS: tuple[str, ...] = tuple(map_name(m) for m in MEASURES)
_MAP_TO_MEASURE = {map_name(m): i for i, m in enumerate(MEASURES)}


def measure_for_map(name: str) -> int:
    """Index in :data:`gepgeo.services.MEASURES` of the measure a map name stands for (the
    maps of factor layers are checked against a run's plan by :func:`check_map`)."""
    try:
        return _MAP_TO_MEASURE[name]
    except KeyError:
        raise ConfigError(f"maps: unknown map {name!r}; choose from "
                          f"{', '.join(ALL_MAPS)}, or a factor layer of the run") from None


def check_map(name: str, pl: Plan, where: str = "maps") -> None:
    """Refuse a map name that is neither a measure nor a factor layer (or a part of one) of
    the run planned as ``pl`` (:func:`gepgeo.layer_maps.factor_maps`).

    Raises
    ------
    ConfigError
        One line naming the map and every map this run can write.
    """
    if name in _MAP_TO_MEASURE:
        return
    from .layer_maps import factor_maps

    have = factor_maps(pl)
    if name in have:
        return
    from .terrain.write import CA_MAPS, MAPS as TERRAIN_MAPS

    layers = f"; or a factor layer of this run: {', '.join(have)}" if have else ""
    choose = f"choose from {', '.join(ALL_MAPS)}{layers}"
    from .parameters import PARAM_INDEX

    if name in PARAM_INDEX:
        why = ("is a price, not a factor layer" if name in pl.used
               else "is not used by the enabled services")
        raise ConfigError(f"{where}: {name!r} {why}, so it has no map; {choose}")
    parts = [n for n, fm in have.items() if fm.part is not None]
    if parts and (name in TERRAIN_MAPS or name in CA_MAPS):
        raise ConfigError(f"{where}: {name!r} is not made by the method of this run's LS from "
                          f"a DEM (its maps: {', '.join(parts)}); {choose}")
    if name in TERRAIN_MAPS or name in CA_MAPS:
        raise ConfigError(
            f"{where}: {name!r} is computed with LS from a DEM, which this run does not have "
            "(give slope_length_steepness_ls as {from_dem: {path: DEM}} with the method that "
            f"makes it, or write it with `gepgeo terrain DEM.tif --grid LANDUSE.tif --out DIR`); "
            f"{choose}")
    raise ConfigError(f"{where}: unknown map {name!r}; {choose}")


def build_lut(land_types: Mapping[int, str], order: list[str]) -> tuple[np.ndarray, int]:
    """Dense code → land-type-index table and its offset (the smallest code)."""
    codes = [int(c) for c in land_types]
    if not codes:
        raise ConfigError("land_use.codes: the mapping from raster codes to land types is empty")
    lo, hi = min(codes), max(codes)
    if hi - lo > 2**24:
        raise ConfigError("land_use.codes: codes span more than 2**24 values; renumber them")
    lut = np.full(hi - lo + 1, -1, dtype=np.int32)
    for code, lt in land_types.items():
        lut[int(code) - lo] = order.index(lt)
    return lut, lo


def land_type_index(codes: np.ndarray, lut: np.ndarray, offset: int) -> np.ndarray:
    """Land-type index of each land-use code through :func:`build_lut`'s table: the position
    of its land type in the ``order`` the table was built with, -1 for a code the mapping does
    not declare (what the kernel counts as unmapped).

    Parameters
    ----------
    codes : numpy.ndarray of int
        Land-use codes (:func:`land_use_codes`), any shape.
    lut, offset
        :func:`build_lut`'s table and offset.

    Returns
    -------
    numpy.ndarray of int64
        ``codes``'s shape.
    """
    li = np.asarray(codes, dtype=np.int64) - offset
    inside = (li >= 0) & (li < lut.shape[0])
    out = np.full(li.shape, -1, dtype=np.int64)
    out[inside] = lut[li[inside]]
    return out


#: land-use code the kernel sees for the nodata pixels of a float land-use raster
_LU_NODATA = -(2**62)


def _float_codes(lu: np.ndarray, nodata: Sequence[float], where: str) -> np.ndarray:
    """int64 class codes of a float land-use block: NaN and the declared ``nodata`` values
    (any value, ±3.4e38 and ±inf included) become :data:`_LU_NODATA`.

    Raises
    ------
    RasterError
        A pixel that is not nodata holds a value that is not an integer code (2.7, ±inf, or
        beyond ±2**53, where float64 no longer holds every integer): it is refused rather than
        truncated to another land type.
    """
    isnd = nodata_mask(lu, nodata)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~isnd & ~((np.trunc(lu) == lu) & (np.abs(lu) <= 2.0**53))
    if bad.any():
        raise RasterError(
            f"{where}: {int(bad.sum())} pixel(s) of a block hold a land-use value that is not an "
            f"integer class code (for example {float(lu[bad].flat[0])!r}); reclassify the raster "
            "to whole-number codes or declare the value as land_use.nodata")
    codes = np.where(isnd, 0, lu).astype(np.int64)
    codes[isnd] = _LU_NODATA
    return codes


def land_use_codes(lu: np.ndarray, nodata: Sequence[float],
                   where: str = "land use") -> tuple[np.ndarray, np.ndarray]:
    """A land-use block's int64 class codes and nodata mask, by the rules of a run.

    Nodata is NaN and the ``nodata`` values, compared as stored
    (:func:`gepgeo.nodata.nodata_mask`); a float raster must hold whole-number codes.

    Parameters
    ----------
    lu : numpy.ndarray
        Raw land-use values of a block, in the raster's data type.
    nodata : sequence of float
        Every declared nodata value (:func:`gepgeo.nodata.nodata_list`).
    where : str
        The raster, for messages.

    Returns
    -------
    codes : numpy.ndarray of int64
        With :func:`land_type_index`: the land type of each pixel (ignore the nodata ones).
    nodata : numpy.ndarray of bool

    Raises
    ------
    RasterError
        A float pixel that is not nodata holds no integer code (2.7, ±inf, beyond ±2**53).
    """
    if lu.dtype.kind == "f":
        codes = _float_codes(lu, nodata, where)
        return codes, codes == _LU_NODATA
    return lu.astype(np.int64), nodata_mask(lu, nodata)


def _source_name(arr: da.Array, what: str) -> str:
    """``what`` and the file a lazily read array comes from, for messages."""
    src = _gio.block_source(arr)
    return f"{what} {src.path!r}" if src is not None else what


def _as_dask(arr: xr.DataArray, chunks: tuple[tuple[int, ...], tuple[int, ...]],
             name: str) -> da.Array:
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise RasterError(f"layer {name!r}: expected one band (2 dimensions), got shape "
                          f"{arr.shape}")
    data = arr.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=chunks, name=False)
    elif data.chunks != chunks:
        data = data.rechunk(chunks)
    return data


def _grid_of(land_use: xr.DataArray) -> Grid:
    """The land use's grid, its CRS (if any) as a pyproj CRS."""
    try:
        grid = Grid.of(land_use)
    except Exception as exc:  # noqa: BLE001  # pragma: no cover
        raise RasterError(f"land use: cannot read its grid ({exc})") from None
    return grid if grid.crs is None else grid.with_crs(CRS.from_user_input(grid.crs))


def _block_area(area_rows, grid, block_info=None):
    """Area block for per-pixel ellipsoidal areas (projected CRS)."""
    loc = block_info[None]["array-location"]
    return grid_block_areas_ha(grid, slice(*loc[0]), slice(*loc[1]), None)


_BUFFERS = threading.local()


def _buffer(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A per-thread scratch array of ``shape``: a C-contiguous view of a buffer kept per thread
    and reused across blocks, grown only when a block needs more. Edge blocks are smaller than
    the others: reallocating on every change of shape touched fresh pages each time (at 4 000²
    end to end, the 36 MiB map buffer: 10 900 page faults per run, now 1 600)."""
    cache = getattr(_BUFFERS, "arrays", None)
    if cache is None:
        cache = _BUFFERS.arrays = {}
    size = int(np.prod(shape))
    flat = cache.get(name)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = cache[name] = np.empty(size, dtype=dtype)
    return flat[:size].reshape(shape)


#: land-use dtypes passed to the kernel as they are (the common ones for classified rasters);
#: any other is converted to int64 codes. One compiled kernel takes all three.
_NATIVE_CODES = (np.dtype(np.uint8), np.dtype(np.uint16))


#: layer dtypes that float32 holds exactly: stacked per block in float32, the others in
#: float64 (the kernel takes both stacks, so no data type needs a kernel of its own)
_SMALL_LAYERS = tuple(np.dtype(d) for d in (np.float32, np.uint8, np.int8, np.uint16, np.int16))

_NO_CODES = {np.dtype(d): np.zeros((0, 0), dtype=d) for d in (np.uint8, np.uint16, np.int64)}


def _code_arrays(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lu8, lu16, luw)`` of :func:`gepgeo.kernel.gep_block`: ``codes`` (uint8, uint16 or
    int64, C-contiguous) in its place, empty arrays in the others."""
    return tuple(codes if codes.dtype == d else empty  # type: ignore[return-value]
                 for d, empty in _NO_CODES.items())


def _layer_stacks(dtypes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per layer of ``dtypes``: its stack (0: float32, 1: float64) and its index there."""
    stack = np.array([0 if np.dtype(d) in _SMALL_LAYERS else 1 for d in dtypes], dtype=np.uint8)
    pos = np.zeros(len(stack), dtype=np.int64)
    for k in (0, 1):
        pos[stack == k] = np.arange(int((stack == k).sum()))
    return stack, pos


_STACK_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


#: called with one line before the kernel is compiled for a new combination of input types
#: (the command line prints it on stderr); None: silent
_compile_notice: Any = None


def set_compile_notice(fn: Any) -> None:
    """Set the function called with a one-line notice before a kernel compile (None: silent)."""
    global _compile_notice
    _compile_notice = fn


class PassPlan(NamedTuple):
    """What every block task of a pass shares, by name: the kernel's plan and how to prepare
    a block for it (built once by :func:`build_dataset`)."""

    #: everything the kernel reads besides the pixels
    kernel: K.KernelPlan
    #: data type of the maps
    out_dtype: Any
    #: accumulator slots (1 + the zones of every zone layer) and land types
    nslot: int
    nclass: int
    #: ``error`` or ``mask``: what out-of-domain layer values do
    domain_policy: str
    #: parameter key of each layer, for messages
    layer_names: tuple[str, ...]
    #: per layer, the block source the task reads itself (None: the layer comes from dask)
    direct: tuple[Any, ...]
    #: further land-use nodata values, the land-use raster's name, further layer nodata values
    lu_extra: tuple[Any, ...]
    lu_where: str
    lay_extra: tuple[tuple[float, ...], ...]
    #: the services the plan was built for (a worker with other plugins must refuse it)
    services: tuple[str, ...] = ()
    #: maps of factor layers after the kernel's maps (gepgeo.layer_maps): per map, the index
    #: of the layer it decodes, -1 for a part given as a further block of the task, or
    #: -2 - p for parameter p given as a constant or a table (its row in the kernel's table)
    fac_layer: tuple[int, ...] = ()
    #: the kernel's tables by extended land type (:func:`gepgeo.kernel.extended_tables`)
    ext: Any = None


def _kernel_args(plan: PassPlan, lu_codes: np.ndarray, layers32: np.ndarray,
                 layers64: np.ndarray, zones: np.ndarray, area: np.ndarray, out: np.ndarray,
                 acc: np.ndarray, dacc: np.ndarray, stats: np.ndarray) -> tuple[Any, ...]:
    """The arguments of :func:`gepgeo.kernel.gep_block`: the kernel's plan and a block's
    arrays (one place, shared by the pass and :func:`compile_kernel`)."""
    work = K.row_buffers(out.shape[2], plan.kernel.lay_stack.shape[0])
    return (plan.kernel, plan.ext, work, *_code_arrays(lu_codes), layers32, layers64, zones,
            area, out, acc, dacc, stats)


def variant_reason(out_dtype: Any) -> str:
    """Why a pass needs a kernel variant of its own, for the compile notice: ``""`` for the
    common one. Every land-use and layer data type shares one compiled kernel; only maps in
    another type than float32 (``compute_services(dtype=np.float64)``) need another."""
    out_dtype = np.dtype(out_dtype)
    return "" if out_dtype == np.float32 else f"{out_dtype} maps"


def compile_kernel(plan: PassPlan, nzl: int, *, why: str = "") -> float:
    """Make sure the fused kernel is compiled for this dataset's argument types, in the
    calling thread and before the pass: loaded from numba's on-disk cache when it holds them,
    else compiled now (about 10-15 s on 2 cores, once per machine and gepgeo version), after a
    notice. Returns the seconds spent compiling (0.0 when it was cached).

    Compiling here rather than in the first block task keeps the pass's threads free, makes
    Ctrl-C land in the main thread and lets the notice reach the screen before the wait.
    """
    import time

    import numba

    one = (1, 1)
    n64 = int(np.count_nonzero(plan.kernel.lay_stack))
    args = _kernel_args(
        plan, np.zeros(one, dtype=np.uint8),
        np.zeros((len(plan.kernel.lay_stack) - n64, *one), dtype=np.float32),
        np.zeros((n64, *one), dtype=np.float64),
        np.zeros((nzl, *one), dtype=np.int32), np.zeros(one),
        np.zeros((plan.kernel.map_idx.shape[0], *one), dtype=plan.out_dtype),
        np.zeros((plan.nslot, plan.nclass, K.N_ACC)),
        np.zeros((plan.nslot, plan.nclass, K.N_SERVICES)),
        np.zeros(2 + len(plan.direct), dtype=np.int64))
    disp = K.gep_block
    if not hasattr(disp, "overloads"):   # not a numba dispatcher (a test's spy): nothing to do
        return 0.0
    sig = tuple(numba.typeof(a) for a in args)
    if sig in disp.overloads:
        return 0.0
    try:   # numba's own cache, as Dispatcher.compile would consult it
        cache: Any = disp._cache  # type: ignore[attr-defined]
        cached = cache.load_overload(sig, disp.targetctx) is not None
    except Exception:  # noqa: BLE001  # pragma: no cover - numba internals changed
        cached = False
    if not cached and _compile_notice is not None:
        reason = f"a variant of its own: {why}" if why else "this machine"
        _compile_notice(f"compiling the computing kernel for {reason} (once: numba caches it "
                        "for later runs; about 10-20 s)")
    t0 = time.perf_counter()
    disp.compile(sig)
    _interrupt.check()   # a Ctrl-C inside numba's native callbacks is printed and dropped
    return 0.0 if cached else time.perf_counter() - t0


class PassCancelled(Exception):
    """A block task of a pass that has already failed or been interrupted did not start."""


class _BlockTasks:
    """The block tasks running in this process's threads, and whether new ones may start.

    When a pass fails or is interrupted, ``dask.compute`` raises at once while tasks already
    started in other threads run on (their writes then fail quietly, the writers being
    aborted), and tasks already queued in the thread pool may still start. :meth:`cancel`
    stops the queued ones at their first line and :meth:`wait_idle` waits for the running
    ones, so that the caller can give native stderr back only when nothing of the pass can
    print any more. One pass runs at a time in a process (:meth:`reset` starts one).
    """

    def __init__(self) -> None:
        self._n = 0
        self._cancelled = False
        self._cond = threading.Condition()

    def __enter__(self) -> None:
        with self._cond:
            if self._cancelled:
                raise PassCancelled("the pass was aborted")
            self._n += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._n -= 1
            if self._n == 0:
                self._cond.notify_all()

    def reset(self) -> None:
        """Let block tasks start (at the start of a pass)."""
        with self._cond:
            self._cancelled = False

    def cancel(self) -> None:
        """Refuse every block task that has not started yet (the pass failed)."""
        with self._cond:
            self._cancelled = True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no block task runs (at most ``timeout`` s); whether none does."""
        with self._cond:
            return self._cond.wait_for(lambda: self._n == 0, timeout)


#: the block tasks running in this process (see :class:`_BlockTasks`)
block_tasks = _BlockTasks()


def _run_block(lu, *rest, nl, nzl, plan, sink=None, npart=0):
    """A block task (:func:`_compute_block`), counted in :data:`block_tasks`."""
    with block_tasks:
        return _compute_block(lu, *rest, nl=nl, nzl=nzl, plan=plan, sink=sink, npart=npart)


def _compute_block(lu, *rest, nl, nzl, plan, sink=None, npart=0):
    """Per-block wrapper: prepare NumPy arrays, call the kernel, return (maps, acc, stats).

    ``rest`` holds the blocks of the ``nl`` layers given as dask arrays, of the ``nzl`` zone
    layers, the area block and (with ``sink`` or direct layers) the block's origin. Layers
    with a source in ``plan.direct`` are read here, straight into the layer stack.
    With ``sink`` (a writer per map) the maps are written here, at the block's window, from
    per-thread buffers, and ``None`` is returned in their place. The last ``npart`` of
    ``rest`` are the blocks of the layer parts written as maps (``plan.fac_layer``).
    """
    if npart:
        parts_raw, rest = rest[len(rest) - npart:], rest[:len(rest) - npart]
    else:
        parts_raw = ()
    layers_raw = rest[:nl]
    zones_raw = rest[nl:nl + nzl]
    area_blk = rest[nl + nzl]
    origin = rest[nl + nzl + 1][0, 0] if len(rest) > nl + nzl + 1 else None
    if plan.services != tuple(s.name for s in SERVICES):
        raise ConfigError(
            "this process's services (" + ", ".join(s.name for s in SERVICES) + ") differ from "
            "those the pass was planned with (" + ", ".join(plan.services) + "): give every dask "
            "worker the same $GEPGEO_SERVICES as the client")
    kp = plan.kernel
    lu_nodata, lu_has_nodata, lut, lut_offset = (kp.lu_nodata, kp.lu_has_nodata, kp.lut,
                                                 kp.lut_offset)
    map_idx, out_dtype, nslot, nclass = kp.map_idx, plan.out_dtype, plan.nslot, plan.nclass
    direct, lu_extra, lu_where = plan.direct, plan.lu_extra, plan.lu_where
    ny, nx = lu.shape
    lu = np.ascontiguousarray(lu)   # the compiled kernel takes C-contiguous codes
    if lu.dtype.kind == "f":
        lu_codes = _float_codes(lu, lu_extra, lu_where)
    elif lu_extra:        # a second nodata code (the pipeline's besides the file's)
        lu_codes = lu.astype(np.int64)
        lu_codes[lu_codes == lu_extra[0]] = lu_nodata
    elif lu.dtype in _NATIVE_CODES:
        lu_codes = lu     # the kernel takes these too: no 8-byte copy of every code
    else:
        lu_codes = lu.astype(np.int64, copy=False)
    n64 = int(np.count_nonzero(kp.lay_stack))
    stacks = (_buffer("layers32", (len(kp.lay_stack) - n64, ny, nx), np.float32),
              _buffer("layers64", (n64, ny, nx), np.float64))
    layers = [stacks[k][p] for k, p in zip(kp.lay_stack, kp.lay_pos)]
    # factor-layer values are used only where the land use has data: the tiles of a layer
    # that hold no such pixel (outside a study area's outline) are not read at all
    needed = None
    if lu_has_nodata and any(direct):
        needed = lu_codes != lu_nodata
        if needed.all():
            needed = None
    given = iter(layers_raw)
    for i, source in enumerate(direct):
        if source is None:
            layers[i][...] = next(given)
        else:   # measured: 8 % less CPU per block read than a fresh array copied in here
            _gio.read_needed(source, origin[0], origin[1], layers[i], needed)
    for i, extra in enumerate(plan.lay_extra):
        for v in extra:   # further nodata values of a layer (rare): NaN, always nodata
            with np.errstate(over="ignore"):
                layers[i][layers[i] == layers[i].dtype.type(v)] = np.nan
    zones = np.empty((nzl, ny, nx), dtype=np.int32)
    for i, blk in enumerate(zones_raw):
        zones[i] = blk
    area = np.ascontiguousarray(area_blk, dtype=np.float64)
    if area.ndim == 1:
        area = area.reshape(ny, 1)
    nk = map_idx.shape[0]
    nmap = nk + len(plan.fac_layer)
    out = (np.empty((nmap, ny, nx), dtype=out_dtype) if sink is None
           else _buffer("out", (nmap, ny, nx), out_dtype))
    acc = np.zeros((nslot, nclass, K.N_ACC), dtype=np.float64)
    dacc = np.zeros((nslot, nclass, K.N_SERVICES), dtype=np.float64)
    stats = np.zeros(2 + len(direct), dtype=np.int64)
    K.gep_block(*_kernel_args(plan, lu_codes, *stacks, zones, area, out[:nk], acc, dacc, stats))
    if plan.fac_layer:
        _factor_maps(plan, lu_codes, layers, parts_raw, out[nk:])
    K.finish_block(acc, dacc, kp.dclass, kp.lin, kp.coef, kp.on, kp.dyn, kp.mstart, kp.mstop,
                   kp.value_idx)
    # the kernel's columns, then Σ driver × area of the linear services (gepgeo.uncertainty)
    acc = np.concatenate([acc, dacc], axis=2)
    if stats[1] > 0:
        lu_codes = lu_codes.astype(np.int64, copy=False)
        mapped = land_type_index(lu_codes, lut, lut_offset) >= 0
        if lu_has_nodata:
            mapped |= lu_codes == lu_nodata
        codes, counts = np.unique(lu_codes[~mapped], return_counts=True)
        raise UnmappedCodesError(_unmapped_message(dict(zip(codes.tolist(), counts.tolist())),
                                                   lu_has_nodata))
    if plan.domain_policy == "error" and stats[2:].any():
        bad = [f"{plan.layer_names[i]} ({int(n)} pixels)" for i, n in enumerate(stats[2:]) if n]
        raise DomainError("values outside their domain in layer(s) " + ", ".join(bad)
                          + "; fix the layers or set `domain: mask` to leave those pixels out")
    if sink is not None:
        r0, c0 = origin
        key = (slice(r0, r0 + ny), slice(c0, c0 + nx))
        # each map file has its own lock: write first to the files no other thread is
        # writing, then wait for the rest (measured: threads otherwise queued ~25 % of a run)
        left = list(range(len(sink)))
        while left:
            for pos, band in enumerate(left):
                if sink[band].try_write(key, out[band]):
                    del left[pos]
                    break
            else:
                band = left.pop(0)
                sink[band][key] = out[band]
        return None, acc, stats
    return out, acc, stats


def _factor_maps(plan: PassPlan, lu_codes: np.ndarray, layers: list[np.ndarray],
                 parts: Sequence[np.ndarray], out: np.ndarray) -> None:
    """Fill ``out`` with the block's factor-layer maps (:mod:`gepgeo.layer_maps`): each layer
    decoded as the kernel decodes it, each part as it is, a constant or table by land type at
    each pixel's land type; NaN where the land use is nodata."""
    from .layer_maps import decode_layer

    kp = plan.kernel
    given = iter(parts)
    lt = None
    for band, li in enumerate(plan.fac_layer):
        if li == -1:
            out[band] = next(given)
        elif li < -1:
            if lt is None:
                lt = land_type_index(lu_codes.astype(np.int64, copy=False), kp.lut,
                                     int(kp.lut_offset))
            row = np.append(kp.table[-2 - li], np.nan)    # index -1 (no land type): NaN
            out[band] = row[lt]
        else:
            decode_layer(layers[li], float(kp.lay_scale[li]), float(kp.lay_offset[li]),
                         float(kp.lay_low[li]), float(kp.lay_high[li]),
                         bool(kp.lay_has_nodata[li]), float(kp.lay_nodata[li]), out[band])
    if kp.lu_has_nodata:
        out[:, lu_codes == kp.lu_nodata] = np.nan


#: codes listed by name in an unmapped-codes message (the rest are counted)
_MAX_LISTED = 20


def _unmapped_message(counts: Mapping[int, int], has_nodata: bool, where: str = "land use") -> str:
    items = sorted(counts.items())
    listed = ", ".join(f"{c} ({n} pixels)" for c, n in items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:   # a message stays one readable line, its hint included
        rest = items[_MAX_LISTED:]
        listed += f" and {len(rest)} more codes ({sum(n for _, n in rest)} pixels)"
    hint = "" if has_nodata else ("; the raster declares no nodata value: if one of these is "
                                  "nodata, set land_use.nodata")
    return (f"{where}: codes not in the land-use mapping: {listed}; add them under "
            f"land_use.codes{hint}")


def compute_services(
    land_use: xr.DataArray,
    land_types: Mapping[int, str],
    parameters: Mapping[str, Any] | None = None,
    *,
    profile: Any = None,
    scenario: str | None = None,
    no_services: Iterable[str] = (),
    services: Iterable[str] | None = None,
    zones: Mapping[str, xr.DataArray] | None = None,
    zone_counts: Mapping[str, int] | None = None,
    maps: Iterable[str] | str | None = "all",
    water_deficit: str = "clamp",
    area: str = "planar",
    domain: str = "error",
    dtype: Any = np.float64,
    chunks: int | tuple[int, int] | None = None,
) -> xr.Dataset:
    """Compute every GEP service of METHOD.md per pixel, lazily.

    Parameters
    ----------
    land_use : xarray.DataArray
        Land-use codes (y, x) with a CRS and transform (rioxarray); dask-backed or in memory.
        Its nodata comes from ``_FillValue`` / ``rio.nodata`` (plus any values listed in a
        ``nodata_extra`` attribute; NaN always). Float codes must be whole numbers.
    land_types : mapping of int to str
        Raster code → land type.
    parameters : mapping of str to number, mapping or DataArray, optional
        Parameters in the method's keys (:mod:`gepgeo.parameters`): a constant, a table
        ``{land_type: value}`` or a ``DataArray`` on the land-use grid. Constants and tables are
        in canonical units; a ``DataArray`` in the unit of its ``units`` attribute (canonical if
        absent, for dimensionless layers), decoded with ``scale_factor`` / ``add_offset``
        attributes and its nodata (``_FillValue`` and ``nodata_extra`` values, NaN always).
        They override the profile's values; where they give another form of a quantity than
        the profile (e.g. ``runoff`` for ``runoff_coefficient``), their form wins
        (:func:`gepgeo.resolve.merge_levels`), and two forms among them are an error.
    profile : str or :class:`gepgeo.profiles.Profile`, optional
        A shipped profile name, a path, or a loaded profile.
    scenario : str, optional
        Scenario of the profile (needed when it has several).
    no_services : iterable of str
        Land types that supply no services (valid zeros in every service).
    services : iterable of str, optional
        Services to compute (default: all eight).
    zones : mapping of str to DataArray, optional
        Zone layers on the land-use grid holding zone indices 0..n-1 (-1 outside every zone).
    zone_counts : mapping of str to int, optional
        Number of zones of each zone layer (default: not known lazily, so required with zones).
    maps : "all", "default", iterable of str or None
        Which per-pixel variables to include (map names, e.g. ``soil_retention``, ``gep``;
        also the key of a factor of the run, e.g. ``cover_management_c``, as the kernel
        decodes it: :mod:`gepgeo.layer_maps`).
    water_deficit : {"clamp", "signed"}
        Negative P − R − ET: clamp to 0 (counted) or keep signed.
    area : {"planar", "ellipsoidal"}
        Pixel area rule for projected CRSs (geographic CRSs always use the ellipsoid).
    domain : {"error", "mask"}
        Layer values outside their domain (C, P outside [0, 1], negative R, ...): abort the
        computation, or leave those pixels out of the services that need them (counted).
    dtype : numpy dtype
        dtype of the density variables (computation is float64 either way).
    chunks : int or (int, int), optional
        Rechunk inputs to this block size; by default the land use's chunks (or one block).

    Returns
    -------
    xarray.Dataset
        Lazy variables: one per map (y, x, density units in ``attrs['units']``); ``totals``
        (land_type, column) float64 totals and counts; ``zone_totals`` (zone, land_type, column)
        when zones are given; ``pixel_stats`` (stat); with the GEP map, ``gep_map_value``
        (land_type): Σ(GEP map × pixel area) where the map has data, yuan a⁻¹ (the table GEP
        counts each service wherever that service has data). The ``land_type`` coordinate
        carries ``codes``, each land type's raster codes (comma-separated); ``attrs`` record
        the plan: ``services`` (enabled, comma-separated), ``modes`` (the formula variants,
        ``name=value`` pairs, :data:`gepgeo.kernel.MODE`), ``valuation`` (1; 0 for physical
        quantities only), ``water_deficit``, ``area``, ``domain``,
        ``no_services`` and ``linear_services``. :func:`gepgeo.tables` makes the accounting
        tables of the command line from them.
    """
    from .profiles import resolve_profile_parameters

    if land_use.ndim == 3 and land_use.shape[0] == 1:
        land_use = land_use[0]
    if land_use.ndim != 2 or 0 in land_use.shape:
        raise RasterError(f"land use: expected a non-empty 2-D raster, got shape {land_use.shape}")
    lts = list(dict.fromkeys(land_types.values()))
    levels: list[tuple[str, dict[str, ParamValue]]] = []
    if profile is not None:
        levels.append(("profile", resolve_profile_parameters(profile, scenario)))
    levels.append(("parameters", {key: as_param_value(key, value, source="api", origin="api")
                                  for key, value in (parameters or {}).items()}))
    given, form_notes = merge_levels(levels)
    pl = plan(given, lts, no_services=no_services, services=services,
              water_deficit=water_deficit)
    pl.form_notes = form_notes
    return build_dataset(land_use, land_types, pl, zones=zones, zone_counts=zone_counts,
                         maps=maps, area=area, domain=domain, dtype=dtype, chunks=chunks)


def build_dataset(
    land_use: xr.DataArray,
    land_types: Mapping[int, str],
    pl: Plan,
    *,
    zones: Mapping[str, xr.DataArray] | None = None,
    zone_counts: Mapping[str, int] | None = None,
    maps: Iterable[str] | str | None = "all",
    area: str = "planar",
    domain: str = "error",
    dtype: Any = np.float64,
    chunks: int | tuple[int, int] | None = None,
    writers: Sequence[Any] | None = None,
) -> xr.Dataset:
    """Build the lazy dataset from a checked :class:`~gepgeo.resolve.Plan` (see
    :func:`compute_services`; the pipeline runner calls this directly).

    With ``writers`` (one block writer per map, see :class:`gepgeo.io.GeoTiffBlockWriter`), the
    block task writes its map blocks itself, from per-thread buffers reused across blocks, and
    the dataset holds only ``totals``/``zone_totals``/``pixel_stats``: computing them runs the
    whole pass, maps included, with no map block ever held by dask (PERFORMANCE.md).
    """
    if land_use.ndim == 3 and land_use.shape[0] == 1:
        land_use = land_use[0]
    if domain not in ("error", "mask"):
        raise ConfigError(f"domain: expected 'error' or 'mask', got {domain!r}")
    grid = _grid_of(land_use)
    if grid.crs is None:
        raise RasterError("land use: the raster has no CRS; set one (e.g. with rio.write_crs())")
    ny, nx = land_use.shape
    # chunks
    lu_data = land_use.data
    if chunks is not None:
        cy, cx = (chunks, chunks) if isinstance(chunks, int) else chunks
        blocks = da.core.normalize_chunks((cy, cx), (ny, nx))
    elif isinstance(lu_data, da.Array):
        blocks = lu_data.chunks
    else:
        blocks = ((ny,), (nx,))
    lu_d = _as_dask(land_use, blocks, "land use")
    lu_nds = nodata_values(land_use)
    lu_where = _source_name(lu_d, "land use")
    if lu_d.dtype.kind == "f":
        # NaN and every declared value become one code (_float_codes), whatever the value
        lu_nodata_val, lu_has_nd = _LU_NODATA, True
        lu_extra: tuple = lu_nds
    else:
        # an integer raster holds only integral nodata values (int(2.5) would make code 2
        # nodata); a second one is mapped onto the first per block
        ints = list(dict.fromkeys(int(v) for v in lu_nds
                                  if float(v).is_integer() and abs(v) < 2.0**63))
        lu_has_nd = bool(ints)
        lu_nodata_val = ints[0] if ints else 0
        lu_extra = tuple(ints[1:2])
        if len(ints) > 2:
            raise ConfigError(f"{lu_where}: at most two nodata values are supported")
    lut, lut_offset = build_lut(land_types, pl.land_types)
    # layers
    layer_arrays: list[da.Array] = []
    names: list[str] = []
    nodata_vals, has_nd, scales, offsets, lows, highs = [], [], [], [], [], []
    lay_extra: list[tuple[float, ...]] = []
    big = float(np.finfo(np.float64).max)
    from .parameters import spec_for
    sources: list[Any] = []
    asked = set() if maps is None or isinstance(maps, str) else set(maps)
    for pv, factor in zip(pl.rasters, pl.layer_factor):
        layer = Layer.of(pv.value, key=pv.key)
        lay = layer.data
        if layer.joint is not None and any(part.name in asked for part in layer.parts):
            # a part of the layer is written too: the layer's blocks from the same tasks
            lay = lay.copy(data=layer.joint)
        if lay.shape[-2:] != (ny, nx):
            raise GridMismatchError(
                f"layer {pv.key!r}: shape {lay.shape[-2:]} differs from the land-use grid "
                f"{(ny, nx)}; align it to the land-use grid first")
        layer_arrays.append(_as_dask(lay, blocks, pv.key))
        # the block task reads the file itself only if the pixels are still its raw windows
        sources.append(layer.source if layer_arrays[-1] is lay.data else None)
        names.append(pv.key)
        nds = [_as_stored(v, lay.dtype) for v in layer.nodata]
        has_nd.append(1 if nds else 0)
        nodata_vals.append(nds[0] if nds else 0.0)
        lay_extra.append(tuple(nds[1:]))
        scales.append(layer.scale * factor)
        offsets.append(layer.offset * factor)
        spec = spec_for(pv.key, where="layers")
        # finite bounds: a ±inf pixel is outside every domain (refused or masked and counted)
        lows.append(max(spec.low, -big))
        highs.append(min(spec.high, big))
    nl = len(layer_arrays)
    # zones
    zone_map: Mapping[str, Any] = zones or {}
    zone_names = list(zone_map)
    zone_arrays = []
    zone_offset = np.zeros(len(zone_names), dtype=np.int64)
    total = 0
    for i, zn in enumerate(zone_names):
        if zone_counts is None or zn not in zone_counts:
            raise ConfigError(f"zones: give zone_counts[{zn!r}] (number of zones of that layer)")
        zone_offset[i] = total
        total += int(zone_counts[zn])
        zone_arrays.append(_as_dask(zone_map[zn], blocks, f"zones {zn}").astype(np.int32))
    nslot = 1 + total
    nclass = max(len(pl.land_types), 1)
    # area
    rows = grid_row_areas_ha(grid, mode=area)
    if rows is not None:
        area_d = da.from_array(rows, chunks=(blocks[0],), name=False)
        area_ind = "y"
    else:
        area_d = da.map_blocks(_block_area, None, grid,
                               chunks=blocks, dtype=np.float64, meta=np.empty((0, 0)))
        area_ind = "yx"
    # maps
    if maps == "all" or maps is None:
        map_names = list(ALL_MAPS)
    elif maps == "default":
        map_names = list(DEFAULT_MAPS)
    else:
        map_names = list(dict.fromkeys(maps))
    # the measures' maps (the kernel's), then the factor layers' (gepgeo.layer_maps)
    fac_names = [m for m in map_names if m not in _MAP_TO_MEASURE]
    fmaps: dict[str, Any] = {}
    if fac_names:
        from .layer_maps import factor_maps

        for m in fac_names:
            check_map(m, pl)
        fmaps = factor_maps(pl)
    writer_of = {m: i for i, m in enumerate(map_names)}
    map_names = [m for m in map_names if m in _MAP_TO_MEASURE] + fac_names
    fac_layer = tuple(-1 if fmaps[m].part is not None
                      else fmaps[m].layer if fmaps[m].layer >= 0 else -2 - fmaps[m].param
                      for m in fac_names)
    part_arrays = [_as_dask(xr.DataArray(fmaps[m].part, dims=("y", "x")), blocks, m)
                   for m in fac_names if fmaps[m].part is not None]
    map_idx = np.array([measure_for_map(m) for m in map_names[:len(map_names) - len(fac_names)]],
                       dtype=np.int64)
    if not map_names:    # no map buffer is written: the type the command line's runs use,
        dtype = np.float32   # so that tables-only passes need no kernel variant of their own
    # layers are stacked per block in float32 when that holds their raw values exactly, else
    # in float64; those read unchanged from a file are read by the block task itself
    lay_stack, lay_pos = _layer_stacks([a.dtype for a in layer_arrays])
    direct = tuple(src if a.dtype == _STACK_DTYPES[k] else None
                   for a, src, k in zip(layer_arrays, sources, lay_stack))
    dyn = (pl.need != 0).astype(np.uint8)
    mstart, mstop, value_idx = K.service_layout()
    # the kernel is compiled first (for the plan's types, with placeholder densities): on a
    # first run its compile notice comes before any compile, and class_densities' code may
    # meanwhile be compiled into numba's cache by the background process (gepgeo.warmup)
    dclass = np.zeros((nclass, K.N_MEASURES), dtype=np.float64)
    clamp_class = np.zeros(nclass, dtype=np.uint8)
    lin = np.zeros(K.N_SERVICES, dtype=np.uint8)
    coef = np.zeros((nclass, K.N_MEASURES), dtype=np.float64)
    kplan = K.KernelPlan(
        lu_nodata=np.int64(lu_nodata_val), lu_has_nodata=bool(lu_has_nd), lut=lut,
        lut_offset=np.int64(lut_offset), lay_stack=lay_stack, lay_pos=lay_pos,
        lay_nodata=np.array(nodata_vals, dtype=np.float64),
        lay_has_nodata=np.array(has_nd, dtype=np.uint8),
        lay_scale=np.array(scales, dtype=np.float64),
        lay_offset=np.array(offsets, dtype=np.float64),
        lay_low=np.array(lows, dtype=np.float64), lay_high=np.array(highs, dtype=np.float64),
        src=pl.src, zone_offset=zone_offset, table=pl.table, supplies=pl.supplies,
        on=pl.services_on, dyn=dyn, need=pl.need, modes=pl.modes, msvc=K.measure_services(),
        mstart=mstart, mstop=mstop, value_idx=value_idx, dclass=dclass, clamp_class=clamp_class,
        lin=lin, coef=coef, map_idx=map_idx)
    plan = PassPlan(kernel=kplan, out_dtype=np.dtype(dtype), nslot=nslot, nclass=nclass,
                    domain_policy=domain, layer_names=tuple(names),
                    direct=direct, lu_extra=lu_extra, lu_where=lu_where,
                    lay_extra=tuple(lay_extra), services=tuple(s.name for s in SERVICES),
                    fac_layer=fac_layer, ext=K.extended_tables(kplan))
    compile_kernel(plan, len(zone_arrays), why=variant_reason(dtype))
    dclass, clamp_class = K.class_densities(pl.table, pl.supplies, pl.services_on, pl.modes,
                                            K.N_MEASURES)
    lin, coef = K.linear_coefficients(pl.table, pl.supplies, pl.services_on, pl.need, pl.src,
                                      pl.modes)
    kplan = kplan._replace(dclass=dclass, clamp_class=clamp_class, lin=lin, coef=coef)
    plan = plan._replace(kernel=kplan, ext=K.extended_tables(kplan))
    dask_layers = [a for a, s in zip(layer_arrays, direct) if s is None]
    args: list[Any] = [lu_d, "yx"]
    for arr in dask_layers:
        args += [arr, "yx"]
    for arr in zone_arrays:
        args += [arr, "yx"]
    args += [area_d, area_ind]
    sink = None
    if writers is not None:
        if len(writers) != len(map_names):
            raise ValueError("writers: one writer per map is needed")
        sink = tuple(writers[writer_of[m]] for m in map_names)   # in the order of the bands
    if sink is not None or any(direct):
        args += [_block_origins(blocks), "yx"]
    for arr in part_arrays:
        args += [arr, "yx"]
    block_tasks.reset()   # a pass that failed earlier in this process no longer stops tasks
    from dask.base import tokenize
    token = tokenize(lu_d.name, [a.name for a in layer_arrays], [a.name for a in zone_arrays],
                     area_d.name, tuple(plan.kernel), tuple(plan)[1:],
                     [id(w) for w in sink or ()], [a.name for a in part_arrays])
    raw = da.blockwise(_run_block, "yx", *args, nl=len(dask_layers), nzl=len(zone_arrays),
                       plan=plan, sink=sink, npart=len(part_arrays), dtype=object,
                       meta=np.empty((0, 0), dtype=object),
                       name=f"gepgeo-kernel-{token}", concatenate=True, align_arrays=False)
    coords = {c: land_use.coords[c] for c in land_use.coords
              if set(land_use.coords[c].dims) <= {"y", "x"}}
    ydim, xdim = land_use.dims[-2:]
    data_vars: dict[str, Any] = {}
    for band, name in enumerate(map_names if sink is None else []):
        arr = raw.map_blocks(_take_map, band, dtype=np.dtype(dtype),
                             meta=np.empty((0, 0), dtype=dtype),
                             name=f"gepgeo-map-{name}-{token}")
        if name in fmaps:
            fm = fmaps[name]
            attrs = {"units": fm.unit, "long_name": fm.description, "service": "input",
                     "measure": name}
        else:
            m = MEASURES[map_idx[band]]
            attrs = {"units": m.density_unit, "long_name": m.description,
                     "service": m.service, "measure": m.name}
        data_vars[name] = xr.Variable((ydim, xdim), arr, attrs={**attrs, "_FillValue": np.nan})
    acc, stats = _ordered_sums(raw, token, (nslot, nclass, K.N_ACC + K.N_SERVICES), (2 + nl,))
    lt_coord = pl.land_types if pl.land_types else ["(none)"]
    data_vars["totals"] = xr.Variable(("land_type", "column"), acc[0, :, :K.N_COLUMNS])
    if total:
        data_vars["zone_totals"] = xr.Variable(("zone", "land_type", "column"),
                                               acc[1:, :, :K.N_COLUMNS])
    # Σ driver × area of the linear services by land type (and zone), for the uncertainty
    # draws (gepgeo.uncertainty): t a-1 for soil, mm ha a-1 for water, 0 for the others
    data_vars["driver_totals"] = xr.Variable(("slot", "land_type", "service"),
                                             acc[:, :, K.N_ACC:])
    if "gep" in map_names:   # Σ(GEP map × pixel area) where it has data, yuan a-1
        data_vars["gep_map_value"] = xr.Variable(("land_type",), acc[0, :, K.COL_GEP_MAP_VALUE],
                                                 attrs={"units": "yuan a-1"})
    data_vars["pixel_stats"] = xr.Variable(("stat",), stats)
    zone_labels = [f"{zn}:{z}" for zn in zone_names for z in range(int(zone_counts[zn]))]  # type: ignore[index]
    # the raster codes of each land type (the land-use table's ``codes`` column)
    lt_codes = [",".join(str(int(c)) for c, lt in land_types.items() if lt == name)
                for name in lt_coord]
    ds = xr.Dataset(data_vars, coords={
        **coords, "land_type": lt_coord, "codes": ("land_type", lt_codes),
        "column": list(K.COLUMNS),
        "stat": ["land_use_nodata", "unmapped_codes"] + [f"out_of_domain.{n}" for n in names],
        **({"zone": zone_labels} if total else {}),
    })
    ds.attrs.update({
        "services": ",".join(pl.enabled_services),
        # which optional measures exist (accounts.measures_in_use), for gepgeo.tables
        "modes": ",".join(f"{name}={int(pl.modes[i])}" for name, i in K.MODE.items()),
        "valuation": int(pl.valuation),   # an int: netCDF has no boolean attribute
        "water_deficit": pl.water_deficit,
        "area": area,
        "domain": domain,
        "no_services": ",".join(lt for lt, s in zip(pl.land_types, pl.supplies) if not s),
        # raster-reading services evaluated as driver × coefficient (gepgeo.kernel)
        "linear_services": ",".join(sv.name for sv, f in zip(SERVICES, lin) if f),
    })
    if grid.crs is not None:
        # what ``ds.rio.write_crs(crs).rio.write_transform(transform)`` writes, from the
        # grid's cached ``spatial_ref`` (those two calls took a third of this function)
        ds = ds.assign_coords(spatial_ref=_gio._spatial_ref(grid.crs.to_wkt(),
                                                            tuple(grid.transform)[:6])
                              .copy(deep=True))
        ds.encoding["grid_mapping"] = "spatial_ref"
        for var in ds.data_vars.values():
            if var.dims == (ydim, xdim):
                var.encoding["grid_mapping"] = "spatial_ref"
    return ds


#: blocks per step of the ordered fold of the accumulators
FOLD_BATCH = 2


def _fold(prev, *blocks):
    """Add the (acc, stats) of kernel blocks to a running (acc, stats) (None to start)."""
    if prev is None:
        acc, stats = blocks[0][1].copy(), blocks[0][2].copy()
        blocks = blocks[1:]
    else:
        acc, stats = prev[0].copy(), prev[1].copy()
    for b in blocks:
        acc += b[1]
        stats += b[2]
    return acc, stats


def _fold_rows(prev, row):
    return row if prev is None else (prev[0] + row[0], prev[1] + row[1])


def _ordered_sums(raw: da.Array, token: str, acc_shape: tuple[int, ...],
                  stats_shape: tuple[int, ...],
                  batch: int = FOLD_BATCH) -> tuple[da.Array, da.Array]:
    """Totals and pixel stats: the per-block (acc, stats) of the kernel summed as ordered folds,
    along each row of blocks a linear fold over batches of ``batch`` blocks, then a linear fold
    over the rows; the folds read the kernel's blocks directly (no per-block getter task).

    Compared with dask's tree reduction this (1) fixes the order of the float64 additions, so
    totals do not depend on scheduling, and (2) makes dask's priorities follow the folds, so
    blocks are computed in nearly row-major order: the map writers, which write blocks in
    row-major order, then hold only a few early blocks (see :class:`gepgeo.io.GeoTiffBlockWriter`).
    Two levels keep every chain short: dask's ordering of one chain through all the blocks of a
    40 000² grid (3 052 steps) took 24 s and 2.7 GB.
    """
    from dask.highlevelgraph import HighLevelGraph

    nby, nbx = len(raw.chunks[0]), len(raw.chunks[1])
    name = f"gepgeo-fold-{token}"
    dsk: dict[Any, Any] = {}
    outer: Any = None
    for i in range(nby):
        prev: Any = None
        for b in range(0, nbx, batch):
            k: tuple[Any, ...] = (name + "-row", i, b // batch)
            dsk[k] = (_fold, prev, *[(raw.name, i, j) for j in range(b, min(b + batch, nbx))])
            prev = k
        k = (name + "-rows", i)
        dsk[k] = (_fold_rows, outer, prev)
        outer = k
    fold = HighLevelGraph.from_collections(name, dsk, dependencies=[raw])  # type: ignore[list-item]
    out = []
    for i, (what, shape, dtype) in enumerate((("totals", acc_shape, np.float64),
                                               ("pixelstats", stats_shape, np.int64))):
        oname = f"gepgeo-{what}-{token}"
        layers: dict[str, Any] = dict(fold.layers)
        layers[oname] = {(oname,) + (0,) * len(shape): (_pick, outer, i)}
        deps = dict(fold.dependencies)
        deps[oname] = {name}
        out.append(da.Array(HighLevelGraph(layers, deps), oname,
                            chunks=tuple((n,) for n in shape), dtype=dtype))
    return out[0], out[1]


def _pick(pair, i):
    return pair[i]


def _origin(y0s, x0s, block_info=None):
    i, j = block_info[None]["chunk-location"]
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = (int(y0s[i]), int(x0s[j]))
    return out


def _block_origins(blocks: tuple[tuple[int, ...], tuple[int, ...]]) -> da.Array:
    """One tiny task per block giving its (row, column) offset in the grid.

    A separate root per block, rather than ``arange`` chunks along y and x: a task shared by a
    whole column of blocks made dask's ordering run the blocks far from row-major order, and
    the map writers (which write rows of blocks in order) then held ~2/3 of all blocks.
    """
    y0s = np.concatenate([[0], np.cumsum(blocks[0])[:-1]])
    x0s = np.concatenate([[0], np.cumsum(blocks[1])[:-1]])
    return da.map_blocks(_origin, y0s, x0s, chunks=((1,) * len(blocks[0]), (1,) * len(blocks[1])),
                         dtype=object, meta=np.empty((0, 0), dtype=object))


def _take_map(block, band):
    return block[0][band]
