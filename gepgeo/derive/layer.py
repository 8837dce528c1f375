"""A derived factor layer in a run: ``{derive: {method: ..., ...}}`` as a lazy layer.

Every raster input is put on the land-use grid as any layer is (:func:`gepgeo.io.open_aligned`:
read as it is on the same grid, else through GDAL's warper with the input's ``resampling:``),
in the pass's blocks. The layer's pixels are a dask array with those blocks; the task of each
block reads the blocks of its inputs, decodes them (nodata → NaN, ``raw · scale + offset``
with the pipeline's scale and offset, else the band's tags, then the unit to the input's
canonical unit), and evaluates the method (:mod:`gepgeo.derive.erosivity`,
:mod:`~gepgeo.derive.erodibility`, :mod:`~gepgeo.derive.cover`) in float64, returned as
float32:

* NaN (nodata) where any input is nodata (a month of 12 included);
* −inf where an input is outside its domain (negative precipitation, a texture fraction outside
  0–100 %, NDVI outside [−1, 1]): outside every parameter's domain, so the run refuses it
  (``domain: error``) or leaves the pixel out (``domain: mask``), as for any layer.

Inputs given as a constant or a table by land type enter the block as that value (a table: by
the land type of each pixel, read from the land-use block). A derivation whose inputs are all
constants or tables needs no raster: it is a constant, or a table by land type, computed once.
Nothing is written.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from ..errors import DeriveError, GridAlignmentWarning
from ..io import LayerInfo, _grid_coords, check_nodata_fits, open_aligned
from ..layer import Layer
from ..nodata import nodata_list, nodata_mask
from ..units import normalise_unit
from .spec import INPUT_DOMAINS, INPUT_UNITS, Derive, Input, Method

__all__ = ["Derived", "derive_layer", "input_factor", "DecodedInput", "derive_block"]


def input_factor(unit: str | None, kind: str, *, what: str, raster: bool = False) -> float:
    """Factor from ``unit`` to the canonical unit of an input of ``kind``
    (:data:`gepgeo.derive.spec.INPUT_UNITS`). No unit: the canonical one for a constant or a
    table (as for a profile's values) and for NDVI; a raster of another kind must say its unit
    (its tag or ``unit:``), as any layer must.

    Raises
    ------
    DeriveError
        The unit is not one of the kind's, or a raster has none.
    """
    table = INPUT_UNITS[kind]
    norm = normalise_unit(unit).lower()
    if not norm:
        if raster and kind != "ndvi":
            raise DeriveError(f"{what}: no unit given and none in the file; declare `unit:` "
                              f"(e.g. {next(iter(table))!r}; accepted: "
                              f"{', '.join(repr(k) for k in table)})")
        return 1.0
    if norm in table:
        return table[norm]
    raise DeriveError(f"{what}: unknown unit {unit!r}; accepted: "
                      f"{', '.join(repr(k) for k in table)}")


@dataclass(frozen=True)
class DecodedInput:
    """How a block task turns one input's raw block into canonical values.

    ``kind`` is ``raster`` (the block comes from dask: ``nodata``, ``scale``, ``offset``,
    ``factor`` decode it), ``constant`` (``value``) or ``table`` (``lut``/``lut_offset``: value
    by land-use code; NaN for codes without one)."""

    kind: str
    nodata: tuple[float, ...] = ()
    scale: float = 1.0
    offset: float = 0.0
    factor: float = 1.0
    value: float = 0.0
    lut: np.ndarray | None = None
    lut_offset: int = 0
    low: float = -np.inf
    high: float = np.inf


@dataclass(frozen=True)
class BlockPlan:
    """Everything a block task needs besides the blocks: the method, its parameters, and per
    input name the decoding of each of its bands (blocks arrive in this order, then the
    land-use block if a table needs it)."""

    method: Method
    params: tuple[tuple[str, float], ...]
    inputs: tuple[tuple[str, tuple[DecodedInput, ...]], ...]
    needs_land_use: bool
    land_use_nodata: tuple[float, ...] = ()


def _decode(raw: np.ndarray, d: DecodedInput) -> np.ndarray:
    out = raw.astype(np.float64) * d.scale + d.offset
    if d.factor != 1.0:
        out *= d.factor
    if d.nodata or raw.dtype.kind == "f":
        out[nodata_mask(raw, d.nodata)] = np.nan
    return out


def _table(codes: np.ndarray, d: DecodedInput, lu_nodata: Sequence[float]) -> np.ndarray:
    assert d.lut is not None
    c = codes.astype(np.int64) - d.lut_offset
    ok = (c >= 0) & (c < d.lut.size) & ~nodata_mask(codes, lu_nodata)
    out = np.full(codes.shape, np.nan)
    out[ok] = d.lut[c[ok]]
    return out


def derive_block(plan: BlockPlan, *blocks: np.ndarray, shape: tuple[int, int] | None = None
                 ) -> np.ndarray:
    """One block of a derived layer from its input blocks (see :class:`BlockPlan`), float64:
    NaN where an input is nodata, −inf where an input is outside its domain."""
    it = iter(blocks)
    raster_blocks = [next(it) for _, ds in plan.inputs for d in ds if d.kind == "raster"]
    codes = next(it) if plan.needs_land_use else None
    if shape is None:
        shape = (raster_blocks[0].shape if raster_blocks else
                 codes.shape if codes is not None else (1, 1))  # type: ignore[union-attr]
    rb = iter(raster_blocks)
    values: dict[str, np.ndarray] = {}
    missing = np.zeros(shape, dtype=bool)
    bad = np.zeros(shape, dtype=bool)
    for name, ds in plan.inputs:
        series = name == plan.method.inline and plan.method.bands != 1   # months, periods
        # a series is decoded band by band into one stack (not a list of bands stacked after)
        stack = np.empty((len(ds), *shape)) if series else None
        for i, d in enumerate(ds):
            if d.kind == "raster":
                v = _decode(next(rb), d)
            elif d.kind == "table":
                assert codes is not None
                v = _table(codes, d, plan.land_use_nodata)
            else:
                v = np.full(shape, d.value)
            nan = np.isnan(v)
            missing |= nan
            with np.errstate(invalid="ignore"):
                bad |= ~nan & ((v < d.low) | (v > d.high))
            if stack is not None:
                stack[i] = v
            else:
                values[name] = v
        if stack is not None:
            values[name] = stack
    with np.errstate(all="ignore"):
        out = np.asarray(plan.method.compute(values, dict(plan.params)), dtype=np.float64)
    out = np.broadcast_to(out, shape).copy()
    out[bad] = -np.inf
    out[missing] = np.nan
    return out


def _block_task(*blocks: np.ndarray, plan: BlockPlan) -> np.ndarray:
    return derive_block(plan, *blocks).astype(np.float32)


@dataclass
class Derived:
    """A derived parameter, with what the manifest records of it.

    Attributes
    ----------
    value : Layer, float or dict
        The lazy layer on the land-use grid (float32, NaN nodata, the parameter's canonical
        unit); a constant or a table by land type when no input is a raster.
    infos : dict of str to LayerInfo
        The raster inputs' metadata (one per file), named ``<key>.<input>`` (``[i]`` for the
        i-th file or band of a series: the months of precipitation, the periods of a sum).
    notes : list of str
        How inputs were aligned, when resampled.
    record : dict
        Method, equation, source, inputs and parameters (``manifest.json``).
    """

    value: Any
    infos: dict[str, LayerInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


def derive_layer(key: str, spec: Derive, *, resolve: Any, land_use: LayerInfo | None,
                 codes: Mapping[int, str], no_services: Sequence[str], chunks: int,
                 what: str, strict: bool = False,
                 land_use_nodata: Sequence[float] = ()) -> Derived:
    """Open the inputs of ``spec`` (metadata only) and build the derived parameter ``key``.

    Parameters
    ----------
    resolve : callable
        A path as written → the path to open (relative to the pipeline file).
    land_use : LayerInfo
        The land-use raster: the grid, and the codes of tables.
    codes, no_services :
        The pipeline's land-use codes and the land types that supply nothing (a table input
        needs a value for every other land type).
    what : str
        Names the parameter in messages (``parameters.rainfall_erosivity_r.derive``).

    Raises
    ------
    DeriveError
        Wrong number of bands, unknown unit, a table without a land type, a constant input
        outside its domain.
    InputFileError, RasterError, GridMismatchError
        An input raster cannot be read or aligned.
    """
    m = spec.spec
    if key not in m.keys:
        raise DeriveError(f"{what}.method: {m.name} derives {' or '.join(m.keys)}, not {key}; "
                          f"methods for {key}: {', '.join(_methods_for(key))}")
    params = spec.param_values()
    n_bands = None
    if m.bands in (12, -1) and spec.path is not None and spec.bands is None:
        n_bands = _check_band_count(resolve(spec.path), what, m)
    inputs = spec.inputs(n_bands)
    infos: dict[str, LayerInfo] = {}
    notes: list[str] = []
    arrays: list[Any] = []
    decoded: list[tuple[str, tuple[DecodedInput, ...]]] = []
    rec_inputs: dict[str, Any] = {}
    kinds = dict(m.inputs)
    needs_lu = False
    lts = [lt for lt in dict.fromkeys(codes.values()) if lt not in set(no_services)]
    for name, ins in inputs.items():
        kind = kinds[name]
        low, high = INPUT_DOMAINS[kind]
        where = f"{what}.{name}" if name != m.inline else what
        ds: list[DecodedInput] = []
        recs: list[dict[str, Any]] = []
        for i, inp in enumerate(ins):
            label = f"{key}.{name}" + (f"[{i + 1}]" if len(ins) > 1 else "")
            if inp.kind == "raster":
                d, info, note, rec = _raster_input(inp, kind, resolve, land_use, chunks,
                                                   where, strict, arrays)
                if note is not None:
                    notes.append(note)
                    warnings.warn(note, GridAlignmentWarning, stacklevel=6)
                if str(info.path) not in {str(x.path) for x in infos.values()}:
                    infos[label] = info
                rec["input"] = label
            elif inp.kind == "constant":
                assert inp.value is not None
                f = input_factor(inp.unit, kind, what=f"{where}.unit")
                d = DecodedInput("constant", value=inp.value * f, low=low, high=high)
                _check_constant(d.value, low, high, f"{where}.value")
                rec = {"value": inp.value, "unit": inp.unit or _canonical(kind)}
            else:
                assert inp.by_land_type is not None
                f = input_factor(inp.unit, kind, what=f"{where}.unit")
                table = {lt: v * f for lt, v in inp.by_land_type.items()}
                missing = [lt for lt in lts if lt not in table]
                if missing:
                    raise DeriveError(f"{where}.by_land_type: no value for land type "
                                      f"{missing[0]!r} (give one for every land type that "
                                      "supplies services)")
                unknown = [lt for lt in table if lt not in set(codes.values())]
                if unknown:
                    known = ", ".join(dict.fromkeys(codes.values()))
                    raise DeriveError(f"{where}.by_land_type: {unknown[0]!r} is not a land type "
                                      f"of the land-use codes ({known})")
                for lt, v in table.items():
                    _check_constant(v, low, high, f"{where}.by_land_type.{lt}")
                lut, off = _code_lut(codes, table)
                d = DecodedInput("table", lut=lut, lut_offset=off, low=low, high=high)
                needs_lu = True
                rec = {"by_land_type": dict(inp.by_land_type), "unit": inp.unit or _canonical(kind)}
            ds.append(d)
            recs.append(rec)
        decoded.append((name, tuple(ds)))
        rec_inputs[name] = recs if len(recs) > 1 else recs[0]
    plan = BlockPlan(m, tuple(params.items()), tuple(decoded), needs_lu,
                     tuple(land_use_nodata))
    record = {"method": m.name, "equation": m.equation, "source": m.source,
              "unit": m.unit, "parameters": params, "inputs": rec_inputs}
    if not arrays:
        return Derived(_without_rasters(plan, codes, lts, what), infos, notes, record)
    assert land_use is not None
    if needs_lu:
        lu, _, _ = open_aligned(Path(land_use.path), land_use, what="land use",
                                band=land_use.band, chunks=chunks)
        arrays.append(lu.data)
    data = da.map_blocks(_block_task, *arrays, plan=plan, dtype=np.float32,
                         meta=np.empty((0, 0), dtype=np.float32),
                         name=f"derive-{key}-{uuid.uuid4().hex}")
    shape = (int(land_use.shape[0]), int(land_use.shape[1]))
    wkt = land_use.crs.to_wkt() if land_use.crs is not None else None
    arr = xr.DataArray(data, dims=("y", "x"),
                       coords=_grid_coords(shape, wkt, tuple(land_use.transform)[:6]).copy())
    arr.encoding["grid_mapping"] = "spatial_ref"
    layer = Layer(data=arr, unit=m.unit, path=None)
    return Derived(layer, infos, notes, record)


def _methods_for(key: str) -> list[str]:
    from .spec import DERIVABLE
    return list(DERIVABLE.get(key, ()))


def _canonical(kind: str) -> str:
    return next(iter(INPUT_UNITS[kind]))


def _check_constant(v: float, low: float, high: float, where: str) -> None:
    if not low <= v <= high:
        raise DeriveError(f"{where}: {v:g} is outside the input's domain [{low:g}, {high:g}] "
                          "(in its canonical unit)")


def _code_lut(codes: Mapping[int, str], table: Mapping[str, float]) -> tuple[np.ndarray, int]:
    lo, hi = min(codes), max(codes)
    lut = np.full(hi - lo + 1, np.nan)
    for c, lt in codes.items():
        if lt in table:
            lut[c - lo] = table[lt]
    return lut, int(lo)


def _check_band_count(path: Path, what: str, m: Method) -> int:
    """The number of bands of ``path``; 12 for a monthly method, else refused."""
    import rasterio

    from ..io import read_info

    read_info(path, what=what)        # the file's own problems first, as for any layer
    with rasterio.open(path) as src:
        n = int(src.count)
    if m.bands == 12 and n != 12:
        raise DeriveError(f"{what}.path: {str(path)!r} has {n} band(s); monthly precipitation "
                          "needs 12 (one per month), or give 12 files as paths: [...] or the "
                          "12 bands as bands: [...]")
    return n


def _raster_input(inp: Input, kind: str, resolve: Any, land_use: LayerInfo | None, chunks: int,
                  where: str, strict: bool, arrays: list[Any]
                  ) -> tuple[DecodedInput, LayerInfo, str | None, dict[str, Any]]:
    assert inp.path is not None and land_use is not None
    path = resolve(inp.path)
    arr, info, note = open_aligned(path, land_use, what=where, band=inp.band, chunks=chunks,
                                   resampling=inp.resampling, nodata=inp.nodata, strict=strict)
    check_nodata_fits(inp.nodata, info.dtype, f"{where}.nodata")
    unit = inp.unit if inp.unit is not None else info.unit
    factor = input_factor(unit, kind, what=f"{where}: {path.name} band {inp.band}"
                          if inp.unit is None else f"{where}.unit", raster=True)
    scale = inp.scale if inp.scale is not None else info.scale
    offset = inp.offset if inp.offset is not None else info.offset
    for name, v in (("scale", scale), ("offset", offset)):
        if not np.isfinite(v):
            raise DeriveError(f"{where}: {name} {v!r} of {str(path)!r} is not a finite number")
    low, high = INPUT_DOMAINS[kind]
    d = DecodedInput("raster", nodata=tuple(nodata_list(info.nodata, inp.nodata)),
                     scale=float(scale), offset=float(offset), factor=factor, low=low, high=high)
    arrays.append(arr.data)
    rec = {"path": str(path), "band": inp.band, "unit": unit or _canonical(kind),
           "scale": float(scale), "offset": float(offset), "nodata": list(d.nodata),
           "resampling": inp.resampling, "aligned": note is not None, "alignment": note}
    return d, info, note, rec


def _without_rasters(plan: BlockPlan, codes: Mapping[int, str], lts: Sequence[str],
                     what: str) -> Any:
    """A derivation from constants and tables only: a constant, or a table by land type."""
    if not plan.needs_land_use:
        v = float(derive_block(plan, shape=(1, 1))[0, 0])
        _check_result(v, what)
        return v
    # one pixel per land type: its first code
    first: dict[str, int] = {}
    for c, lt in codes.items():
        first.setdefault(lt, c)
    cs = np.array([first[lt] for lt in lts], dtype=np.int64)[None, :]
    vals = derive_block(plan, cs, shape=cs.shape)[0]
    out = {lt: float(v) for lt, v in zip(lts, vals)}
    for lt, v in out.items():
        _check_result(v, f"{what} (land type {lt!r})")
    return out


def _check_result(v: float, what: str) -> None:
    if not np.isfinite(v):
        raise DeriveError(f"{what}: the derived value is {v} (an input outside its domain)")
