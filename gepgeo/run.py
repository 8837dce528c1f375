"""Run a pipeline: validate, compute in one pass, write a complete run folder or nothing.

Order of work (OUTPUTS.md layout):

1. :func:`prepare` reads metadata only: the pipeline, the profile(s), every raster's header;
   resolves parameters and checks that every service has what it needs.
2. :func:`execute` builds the lazy dataset (:func:`gepgeo.compute.build_dataset`) and computes,
   in a single dask computation, every map block (written as soon as it is ready) and the
   float64 totals. Each input block is read once.
3. Tables, manifest and the run folder are written into a temporary folder beside the target,
   which is renamed into place only when everything is complete.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
from rasterio.errors import RasterioError

from . import __version__
from . import accounts
from .compute import DEFAULT_MAPS, block_tasks, build_dataset, measure_for_map
from .errors import (ConfigError, GepgeoError, GepgeoWarning, GridAlignmentWarning, InputFileError,
                     MissingParameterError, Problems, ProfileScopeWarning,
                     RasterError, UnmappedCodesError)
from .io import (CHUNK, GeoTiffBlockWriter, LayerInfo, auto_chunk, check_nodata_fits, copy_to_cog,
                 open_aligned, open_layer, scan_codes, seeded_handles)
from .nodata import nodata_pair
from .outputs import (CapturedStderr, Estimate, _duration, atomic_folder, check_space, check_target,
                      disk_full_error, estimate_output, folder_bytes, human_bytes,
                      native_stderr_captured, write_failure_error)
from .pipeline import ConstantParam, Pipeline, RasterParam, TableParam
from .profiles import Profile, load_profile
from .resolve import ParamValue, Plan, merge_levels, plan
from .services import MEASURES, map_name
from .styles import MAX_SIDE, preview_key

__all__ = ["Prepared", "prepare", "validate", "execute", "run_pipeline", "account", "scheduler",
           "RunResult", "atomic_folder", "pipeline_inputs", "run_estimate"]


@dataclass
class Prepared:
    """A pipeline whose inputs are opened (lazily) and whose parameters are resolved."""

    pipeline: Pipeline
    land_use: Any
    land_use_info: LayerInfo
    plan: Plan
    profiles: list[Profile]
    layer_infos: dict[str, LayerInfo] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    zones: list[Any] = field(default_factory=list)
    chunk: int = CHUNK   # block side of the run, pixels (the pipeline's or :func:`auto_chunk`'s)
    #: profiles used outside their declared extent (also in ``warnings``; the report's headline)
    scope_warnings: list[str] = field(default_factory=list)

    @property
    def codes(self) -> dict[int, str]:
        return dict(self.pipeline.land_use.codes)


@dataclass
class RunResult:
    """What a run produced."""

    out: Path
    tidy: pd.DataFrame
    land_use: pd.DataFrame
    by_service: pd.DataFrame
    by_land_type: pd.DataFrame
    manifest: dict[str, Any]
    #: the rows of ``services_by_zone.csv`` at full precision (None without ``zones:``)
    by_zone: pd.DataFrame | None = None


def _pipeline_param(key: str, spec: Any, pipe: Pipeline, lu_info: LayerInfo | None, chunk: int,
                    infos: dict[str, LayerInfo], origin: str, notes: list[str]) -> ParamValue:
    if isinstance(spec, float):
        return ParamValue(key, spec, source="pipeline", origin=origin)
    if isinstance(spec, ConstantParam):
        return ParamValue(key, spec.value, unit=spec.unit or "", source=spec.source or "pipeline",
                          note=spec.note or "", origin=origin)
    if isinstance(spec, TableParam):
        return ParamValue(key, dict(spec.by_land_type), unit=spec.unit or "",
                          source=spec.source or "pipeline", note=spec.note or "", origin=origin)
    assert isinstance(spec, RasterParam) and lu_info is not None   # a raster needs the grid
    path = pipe.resolve(spec.path)
    arr, info, note = open_aligned(path, lu_info, what=f"layer {key!r}", band=spec.band,
                                   chunks=chunk, resampling=spec.resampling,
                                   nodata=spec.nodata, strict=pipe.options.strict_grid)
    if note is not None:
        notes.append(note)
        warnings.warn(note, GridAlignmentWarning, stacklevel=4)
    infos[key] = info
    check_nodata_fits(spec.nodata, info.dtype,
                      f"{'parameters' if origin == 'pipeline' else origin}.{key}.nodata")
    unit = spec.unit if spec.unit is not None else info.unit
    nodata, extra = nodata_pair(info.nodata, spec.nodata)
    scale = spec.scale if spec.scale is not None else info.scale
    offset = spec.offset if spec.offset is not None else info.offset
    for name, v in (("scale", scale), ("offset", offset)):
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"layer {key!r}: {name} {v!r} of {str(path)!r} is not a finite "
                              "number")
    arr.attrs["_FillValue"] = nodata
    arr.attrs["nodata_extra"] = extra
    arr.attrs["scale_factor"] = scale
    arr.attrs["add_offset"] = offset
    arr.attrs["units"] = unit
    return ParamValue(key, arr, unit=unit or "", source=str(path), origin=origin)


def prepare(pipe: Pipeline) -> Prepared:
    """Open inputs lazily and resolve parameters; reads metadata only.

    Raises
    ------
    GepgeoError
        One problem with the files, the profile or the parameters, as one clear message.
    ProblemsError
        Several problems: each independent check (each key, profile entry, file, missing
        parameter, value out of its domain) is made, and every problem is reported at once.
    """
    # independent checks: each problem is collected, all are reported at once (gepgeo validate)
    problems = Problems()
    lu_arr = lu_info = None
    chunk = pipe.options.chunk_size or CHUNK
    with problems.check():
        lu_arr, lu_info, chunk = _open_land_use(pipe)
    profiles: list[Profile] = []
    # the levels parameters come from, lowest first: a later level wins (resolve.merge_levels)
    levels: list[tuple[str, dict[str, ParamValue]]] = []
    # keys given but unusable (a profile entry, a layer that failed): not reported as missing too
    failed: set[str] = set()
    incomplete = False   # True: a whole profile failed, so "missing" says nothing new
    if pipe.profile is not None:
        base_dir = pipe.source_path.parent if pipe.source_path else None
        for name, scenario in ((pipe.profile.name, pipe.profile.scenario),
                               (pipe.profile.valuation, pipe.profile.valuation_scenario)):
            if not name:
                continue
            prof: Profile | None
            try:
                prof = load_profile(name, base=base_dir)
            except GepgeoError as bad:
                problems.add(bad)
                prof = getattr(bad, "partial", None)   # go on with the entries that loaded
                failed |= set(getattr(bad, "failed_keys", ()))
            if prof is None:
                incomplete = True
                continue
            try:
                levels.append((f"profile {prof.name!r}", prof.parameters(scenario)))
                profiles.append(prof)
            except GepgeoError as bad:
                problems.add(bad)
                incomplete = True
    lts = list(dict.fromkeys(pipe.land_use.codes.values()))
    infos: dict[str, LayerInfo] = {}
    notes: list[str] = []

    def given_by(specs: Mapping[str, Any], origin: str) -> dict[str, ParamValue]:
        out: dict[str, ParamValue] = {}
        for key, spec in specs.items():
            if lu_info is None and isinstance(spec, RasterParam):
                failed.add(key)
                continue   # cannot be aligned to a land use that did not open
            before = len(problems)
            with problems.check():
                out[key] = _pipeline_param(key, spec, pipe, lu_info, chunk, infos, origin,
                                           notes)
            if len(problems) > before:
                failed.add(key)
        return out

    if pipe.profile is not None:
        levels.append(("profile.overrides",
                       given_by(pipe.profile.overrides, "profile.overrides")))
    levels.append(("parameters", given_by(pipe.parameters, "pipeline")))
    pl = None
    planned = Problems()
    with planned.check():
        given, form_notes = merge_levels(levels)
        pl = plan(given, lts, no_services=pipe.no_services, services=pipe.services,
                  water_deficit=pipe.options.water_deficit, valuation=pipe.valuation)
        pl.form_notes = form_notes
    for err in planned.errors:
        # a profile entry or layer that failed is not given: that it is missing says nothing new
        if not (isinstance(err, MissingParameterError)
                and (incomplete or str(getattr(err, "key", "")) in failed)):
            problems.add(err)
    for m in pipe.maps:
        with problems.check():
            if MEASURES[measure_for_map(m)].is_value and not pipe.valuation:
                raise ConfigError(f"maps: {m!r} is a value map; a run with valuation: false "
                                  "writes quantities only")
    zones = []
    names: set[str] = set()
    for zspec in pipe.zones:
        if lu_info is None:
            break
        from .zones import grid_bounds, read_zones

        with problems.check():
            zl = read_zones(pipe.resolve(zspec.path), grid_crs=lu_info.crs, layer=zspec.layer,
                            id_field=zspec.id, name=zspec.name,
                            grid_bounds=grid_bounds(lu_info.transform, lu_info.shape))
            for note in zl.warnings:   # repaired polygons, zones off the grid: also in the manifest
                notes.append(note)
                warnings.warn(note, GepgeoWarning, stacklevel=2)
            if zl.name in names:
                raise ConfigError(f"zones: two zone layers are named {zl.name!r}; give each a "
                                  "`name:`")
            names.add(zl.name)
            zones.append(zl)
    problems.raise_if_any()
    assert pl is not None and lu_info is not None
    scope_notes = _scope_warnings(profiles, lu_info)
    return Prepared(pipe, lu_arr, lu_info, pl, profiles, infos, warnings=notes + scope_notes,
                    zones=zones, chunk=chunk, scope_warnings=scope_notes)


def _open_land_use(pipe: Pipeline) -> tuple[Any, LayerInfo, int]:
    """The land-use raster of a pipeline, opened lazily and checked (CRS, integer codes,
    nodata), with the block side of the run."""
    lu_path = pipe.resolve(pipe.land_use.path)
    lu_arr, lu_info = open_layer(lu_path, what="land use", band=pipe.land_use.band,
                                 chunks=pipe.options.chunk_size)
    chunk = pipe.options.chunk_size or auto_chunk(lu_info.shape)   # as open_layer chose
    if lu_info.crs is None:
        raise RasterError(f"land use: {str(lu_path)!r} has no CRS; set one (e.g. gdal_edit.py "
                          "-a_srs EPSG:XXXX)")
    if lu_info.dtype.startswith("float") is False and lu_info.dtype not in (
            "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64"):
        raise RasterError(f"land use: {str(lu_path)!r} has dtype {lu_info.dtype}; expected integer "
                          "class codes")
    check_nodata_fits(pipe.land_use.nodata, lu_info.dtype, "land_use.nodata")
    nodata, extra = nodata_pair(lu_info.nodata, pipe.land_use.nodata)
    if nodata is not None:
        lu_arr.attrs["_FillValue"] = nodata
        lu_arr = lu_arr.rio.write_nodata(nodata)
    else:
        lu_arr.attrs.pop("_FillValue", None)
        lu_arr = lu_arr.rio.write_nodata(None)
    lu_arr.attrs["nodata_extra"] = extra
    return lu_arr, lu_info, chunk


def _scope_warnings(profiles: list[Profile], lu_info: LayerInfo) -> list[str]:
    """Warn (and return the notes) for each profile whose declared extent the grid lies
    mostly outside: site-specific values used on another landscape."""
    from .scope import grid_lonlat_bounds, scope_warning

    notes: list[str] = []
    scoped = [p for p in profiles if p.meta.get("scope") is not None
              and p.meta["scope"].extent is not None]
    if not scoped:
        return notes
    bounds = grid_lonlat_bounds(lu_info.transform, lu_info.crs, lu_info.shape)
    for prof in scoped:
        note = scope_warning(prof.name, prof.meta["scope"], bounds)
        if note is not None:
            notes.append(note)
            warnings.warn(note, ProfileScopeWarning, stacklevel=3)
    return notes


def check_codes(prep: Prepared) -> dict[int, int]:
    """Scan the land-use raster once; raise :class:`UnmappedCodesError` for undeclared codes."""
    return _check_codes(prep.land_use_info, prep.pipeline)


def _check_codes(info: LayerInfo, pipe: Pipeline) -> dict[int, int]:
    first, extra = nodata_pair(info.nodata, pipe.land_use.nodata)
    nodata = ([first] if first is not None else []) + list(extra)
    counts = scan_codes(info.path, band=info.band, nodata=nodata)
    missing = {c: n for c, n in counts.items() if c not in pipe.land_use.codes}
    if missing:
        raise UnmappedCodesError(_unmapped(missing, bool(nodata)))
    return counts


def _unmapped(missing: Mapping[int, int], has_nodata: bool) -> str:
    from .compute import _unmapped_message
    return _unmapped_message(missing, has_nodata)


def validate(pipe: Pipeline) -> Prepared:
    """``gepgeo validate``: everything :func:`prepare` does, plus the land-use code scan
    (made, and its problem reported with the others, also when :func:`prepare` finds some)."""
    problems = Problems()
    prep = None
    with problems.check():
        prep = prepare(pipe)
    with problems.check():
        if prep is not None:
            check_codes(prep)
        else:   # the land use's own problem, if any, is the same message: reported once
            _check_codes(_open_land_use(pipe)[1], pipe)
    problems.raise_if_any()
    assert prep is not None
    return prep


def _sha256(path: Path, stop: threading.Event | None = None) -> str:
    """SHA-256 of a file, streamed through one reused 256 KiB buffer (it stays in the CPU
    cache: 20 % less CPU than hashing fresh 4 MiB reads); gives up (returns "") once ``stop``
    is set."""
    h = hashlib.sha256()
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            if stop is not None and stop.is_set():
                return ""
            h.update(view[:n])
    return h.hexdigest()


def _unreadable_message(prep: Prepared, exc: Exception) -> str:
    """Name the input whose tiles cannot be decoded (GDAL's message often names none): an
    error-path scan of every input, block by block."""
    import rasterio

    paths = [prep.land_use_info] + list(prep.layer_infos.values())
    for info in paths:
        try:
            with rasterio.open(info.path) as src:
                for _, window in src.block_windows(info.band):
                    src.read(info.band, window=window)
        except RasterioError as bad:
            cause = bad.__cause__ or bad.__context__ or bad
            return (f"{str(info.path)!r} cannot be read past its header (truncated or corrupt: "
                    f"{str(cause).splitlines()[0]}); replace the file")
    return f"a raster could not be read during the computation: {str(exc).splitlines()[0]}"


def _col(name: str) -> int:
    from . import kernel as K

    return K.COLUMNS.index(name)


def _versions() -> dict[str, str]:
    import numba
    import rasterio
    import xarray

    return {"gepgeo": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "dask": dask.__version__,
            "xarray": xarray.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "pandas": pd.__version__}


def _scope_record(prof: Profile) -> dict[str, Any]:
    """A profile's declared scope and extent for the manifest (empty when it declares none)."""
    scope = prof.meta.get("scope")
    if scope is None:
        return {}
    return {"scope": scope.level, "extent": list(scope.extent) if scope.extent else None}


def _param_record(pv: ParamValue) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": pv.kind, "unit": pv.unit, "source": pv.source,
                           "origin": pv.origin}
    if pv.kind == "raster":
        rec["path"] = pv.source
    else:
        rec["value"] = pv.value if pv.kind == "constant" else dict(pv.value)
    if pv.kind == "table" and pv.origins:
        # a table merged from several levels: which level (profile name, profile.overrides,
        # pipeline) gave each land type's value
        rec["origin_by_land_type"] = {lt: pv.origin_of(lt) for lt in dict(pv.value)}
    for k in ("ref", "note"):
        if getattr(pv, k):
            rec[k] = getattr(pv, k)
    if pv.price_year is not None:
        rec["price_year"] = pv.price_year
    return rec


def _zone_arrays(prep: Prepared) -> tuple[dict[str, Any], dict[str, int]]:
    """Lazy zone-index rasters on the land-use grid, chunked like the run."""
    import xarray as xr

    from .zones import zone_raster

    info = prep.land_use_info
    cs = prep.chunk
    blocks = da.core.normalize_chunks((cs, cs), info.shape)
    arrays: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for zl in prep.zones:
        arrays[zl.name] = xr.DataArray(zone_raster(zl, info.transform, info.shape, blocks),
                                       dims=("y", "x"))
        counts[zl.name] = zl.count
    return arrays, counts


#: ``last_change`` recorded in ``zones.gpkg``: a GeoPackage stores the time of writing, which
#: would make two identical runs differ byte for byte
GPKG_DATE = "1970-01-01T00:00:00.000Z"


@contextmanager
def _fixed_gpkg_date() -> Iterator[None]:
    """GeoPackages written inside record :data:`GPKG_DATE` as their time of change."""
    import pyogrio

    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _write_zone_tables(prep: Prepared, zone_totals: np.ndarray,
                       tables: Path) -> tuple[list[str], pd.DataFrame]:
    """``services_by_zone.csv`` (tidy rows per zone) and ``zones.gpkg`` (totals as attributes);
    returns the manifest's entries for them and the rows of the CSV."""
    from . import kernel as K
    from .zones import zone_table

    pl = prep.plan
    frames = []
    written = []
    offset = 0
    gpkg = tables / "zones.gpkg"
    for zl in prep.zones:
        block = zone_totals[offset: offset + zl.count]
        offset += zl.count
        tidies = [accounts.tidy_table(block[z], pl.land_types, pl.enabled_services, pl.modes)
                  for z in range(zl.count)]
        if not pl.valuation:   # quantities only
            tidies = [accounts.without_values(t) for t in tidies]
        rast_area = block[:, :, K.COL_AREA].sum(axis=1)
        frames.append(zone_table(zl, tidies, rast_area))
        gdf = zl.gdf.copy()
        gdf["zone_id"] = zl.ids
        gdf["polygon_area_ha"] = zl.polygon_area_ha
        gdf["rasterised_area_ha"] = rast_area
        if pl.valuation:
            for s in pl.enabled_services:
                col = K.COLUMNS.index(f"{s}.value")
                gdf[f"{s}_value"] = block[:, :, col].sum(axis=1)
            gdf["gep"] = block[:, :, K.GEP_COLUMN].sum(axis=1)
        else:   # the physical quantities instead (their units: services_by_zone.csv)
            for i in accounts.measures_in_use(pl.enabled_services, pl.modes):
                m = MEASURES[i]
                if not m.is_value:
                    col = K.COLUMNS.index(f"{m.service}.{m.name}")
                    gdf[map_name(m)] = block[:, :, col].sum(axis=1)
        with _fixed_gpkg_date():
            gdf.to_file(gpkg, layer=zl.name, driver="GPKG")
        written.append(f"tables/zones.gpkg:{zl.name}")
    rows = pd.concat(frames, ignore_index=True)
    rows.to_csv(tables / "services_by_zone.csv", index=False, float_format="%.10g")
    written.insert(0, "tables/services_by_zone.csv")
    return written, rows


def _scheduler_of(client: Any) -> Any:
    """What ``dask.compute`` runs on: the client, else a scheduler set in dask's config, else
    the local threaded scheduler, named explicitly: left to dask, the choice imports
    ``distributed`` to look for a default client (about a second, and a stray default client
    would then be sent the run's local map writers)."""
    if client is not None:
        return client
    import dask.threaded

    return dask.config.get("scheduler", None) or dask.threaded.get


@contextmanager
def scheduler(address: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """The dask scheduler of a run: the local threaded one (default), an existing
    dask.distributed cluster at ``address``, or a local cluster of ``workers`` processes.

    Yields the ``distributed.Client`` (None for the threaded scheduler); inside the block every
    ``dask.compute`` runs on it.
    """
    if address is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if address is not None and workers is not None:
        raise ConfigError("give either a scheduler address or a number of workers, not both")
    # a Client registers itself as dask's default scheduler before it connects; one that
    # fails to connect must not stay the default of the process (later computations in the
    # same session would be sent to it), so its settings live only inside this context
    with dask.config.set(scheduler=dask.config.get("scheduler", None)):
        try:
            if address is not None:
                _check_address(address)
                client = Client(address, timeout="10s", set_as_default=True)
                cluster = None
            else:
                cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       env={"GDAL_CACHEMAX": str(RUN_GDAL_CACHE // 2**20)})
                client = Client(cluster, set_as_default=True)
        except (OSError, TimeoutError, ValueError) as exc:   # ValueError: a malformed address
            _forget_client()
            raise ConfigError(f"scheduler {address!r}: cannot connect ({exc})") from None
    try:
        with dask.config.set(scheduler=client):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_address(address: str) -> None:
    """Raise ValueError for a malformed scheduler address, before a Client is made for it (a
    Client that fails half-made blocks for 20 s when it is garbage-collected)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import get_backend

    scheme, loc = parse_address(address)
    get_backend(scheme)          # ValueError for an unknown scheme
    if scheme in ("tcp", "tls"):
        parse_host_port(loc)


def _forget_client() -> None:
    """Drop a client that failed to connect from distributed's registry of default clients."""
    try:
        from distributed.client import _del_global_client, _global_clients
    except ImportError:  # pragma: no cover - distributed's internals moved
        return
    for c in list(_global_clients.values()):
        if c.status != "running":
            _del_global_client(c)


def _map_names(prep: Prepared, extra_maps: list[str] | None = None) -> list[str]:
    """The maps a run writes: GEP, each enabled service's value map (``value_maps``), then the
    pipeline's ``maps:`` and ``extra_maps``. Without valuation (``valuation: false``): the
    physical quantity maps of the enabled services instead, and never a value map."""
    pipe = prep.pipeline
    enabled = prep.plan.enabled_services
    if not prep.plan.valuation:
        names = [map_name(MEASURES[i])
                 for i in accounts.measures_in_use(enabled, prep.plan.modes)
                 if not MEASURES[i].is_value]
    else:
        names = [m for m in DEFAULT_MAPS
                 if m == "gep" or (pipe.options.value_maps and m[: -len("_value")] in enabled)]
    for m in list(pipe.maps) + list(extra_maps or []):
        if m not in names and (prep.plan.valuation
                               or not MEASURES[measure_for_map(m)].is_value):
            names.append(m)
    return names


def run_estimate(prep: Prepared, extra_maps: list[str] | None = None) -> Estimate:
    """Size of the maps of a prepared run, and a rough time
    (:func:`gepgeo.outputs.estimate_output`)."""
    opts = prep.pipeline.options
    return estimate_output(prep.land_use_info.shape, len(_map_names(prep, extra_maps)),
                           codec=opts.codec, cog=opts.cog)


def _written_fraction(writers: list[GeoTiffBlockWriter]) -> float | None:
    """Share of the map blocks written so far (local writers write blocks in order)."""
    done = total = 0
    for w in writers:
        nxt = getattr(w, "_next", None)
        if nxt is None or w.shared:
            return None
        done += nxt
        total += w._ncols * -(-w.shape[0] // w.block)
    return done / total if total else None


def _raise_if_disk_full(exc: Exception, prep: Prepared, out_dir: Path, where: Path | None,
                        writers: list[GeoTiffBlockWriter], captured: CapturedStderr,
                        extra_maps: list[str] | None) -> None:
    """Raise the one-line :class:`DiskSpaceError` if the disk filled during the pass, naming
    the output folder, what was written and what the whole output needs (the bytes written over
    the share of blocks written, else :func:`run_estimate`). Otherwise print again what GDAL
    said about an unexpected error (a bug), and return."""
    written = folder_bytes(out_dir)
    frac = _written_fraction(writers)
    needed = (int(written / frac) if frac and frac > 0.05
              else run_estimate(prep, extra_maps).bytes)
    full = disk_full_error(exc, where or out_dir, out_dir, needed=max(needed, written),
                           written=written, captured=captured.text)
    if full is not None:
        raise full from None
    if not isinstance(exc, (RasterioError, GepgeoError)):
        captured.replay()


def execute(prep: Prepared, out_dir: Path, *, quiet: bool = True,
            extra_maps: list[str] | None = None, client: Any = None,
            where: Path | None = None) -> dict[str, Any]:
    """Compute maps and totals in one pass into ``out_dir`` (an existing, empty folder).

    Returns the computed totals, stats and timings (tables are written by :func:`run_pipeline`).
    With a distributed ``client`` the map writers are shared (see
    :class:`gepgeo.io.GeoTiffBlockWriter`).

    Raises
    ------
    DiskSpaceError
        The disk filled up during the pass (``where``, the output folder the user asked for,
        is named in the message); what GDAL and libtiff printed about it is not shown.
    """
    pipe = prep.pipeline
    t0 = time.perf_counter()
    map_names = _map_names(prep, extra_maps)
    maps_dir = out_dir / "maps"
    maps_dir.mkdir()
    info = prep.land_use_info
    writers = []
    tmp_names = {}
    for name in map_names:
        m = MEASURES[measure_for_map(name)]
        target = maps_dir / (f"{name}.tmp.tif" if pipe.options.cog else f"{name}.tif")
        tmp_names[name] = target
        desc = (f"{m.service}: {m.description}" if m.service != "gep"
                else "GEP: gross ecosystem product")
        writers.append(GeoTiffBlockWriter(
            target, info.shape, info.transform, info.crs, description=desc,
            unit=m.density_unit, codec=pipe.options.codec, shared=client is not None,
            block=prep.chunk, reorder=not pipe.options.cog,   # a COG copy is ordered anyway
            # the report's decimated reads, sampled as the blocks go by (a COG's are read from
            # its overviews instead)
            preview=0 if pipe.options.cog else MAX_SIDE,
            tags={"gepgeo_version": __version__, "service": m.service, "measure": m.name,
                  "water_deficit": pipe.options.water_deficit}))
    captured = CapturedStderr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            zone_arrays, zone_counts = _zone_arrays(prep)
            ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=map_names,
                               area=pipe.options.area, domain=pipe.options.domain,
                               dtype=np.float32, chunks=prep.chunk,
                               writers=writers,
                               zones=zone_arrays or None, zone_counts=zone_counts)
        for wm in caught:
            if issubclass(wm.category, GepgeoWarning):
                prep.warnings.append(str(wm.message))
            warnings.warn_explicit(wm.message, wm.category, wm.filename, wm.lineno)
        t1 = time.perf_counter()
        # one computation: every block is read, computed, written, and its totals reduced
        todo = [ds["totals"].data, ds["pixel_stats"].data]
        extra = [v for v in ("zone_totals", "gep_map_value") if v in ds]
        todo += [ds[v].data for v in extra]
        # GDAL and libtiff print write errors (a line per tile) straight to stderr: captured
        # (build_dataset has let block tasks start again: block_tasks.reset)
        with native_stderr_captured(captured), _progress(quiet), _small_gdal_cache():
            try:
                totals, stats, *rest = dask.compute(*todo, scheduler=_scheduler_of(client))
                _close_writers(writers)
            except BaseException:
                # tasks queued in the thread pool must not start, and those already started
                # run on in other threads (their writes now fail): wait for them while
                # native stderr is still captured
                block_tasks.cancel()
                for w in writers:   # closing a file on a full disk prints too
                    w.abort()
                block_tasks.wait_idle(timeout=ABORT_WAIT_S)
                raise
    except BaseException as exc:
        # Ctrl-C or an error mid-pass: other threads may still be inside a block task; abort
        # the writers so that the exception raised here is the one that reaches the caller
        for w in writers:
            w.abort()
        if isinstance(exc, Exception):
            _raise_if_disk_full(exc, prep, out_dir, where, writers, captured, extra_maps)
        raise
    max_pending = max((w.max_pending for w in writers), default=0)
    t2 = time.perf_counter()
    if pipe.options.cog:
        for name, tmp in tmp_names.items():
            copy_to_cog(tmp, maps_dir / f"{name}.tif", codec=pipe.options.codec)
            tmp.unlink()
    t3 = time.perf_counter()
    return {"totals": np.asarray(totals), "stats": np.asarray(stats),
            "zone_totals": (np.asarray(rest[extra.index("zone_totals")])
                            if "zone_totals" in extra else None),
            "gep_map_value": (float(np.sum(rest[extra.index("gep_map_value")]))
                              if "gep_map_value" in extra else None),
            "stat_names": list(ds["pixel_stats"].coords["stat"].values),
            "previews": _previews(writers),
            "maps": map_names, "max_pending_blocks": max_pending,
            "engine": "threads" if client is None else str(client.scheduler.address),
            "timings": {"prepare_graph_s": t1 - t0, "compute_write_s": t2 - t1,
                                           "cog_s": t3 - t2}}


def _previews(writers: list[GeoTiffBlockWriter]) -> dict[Path, np.ndarray]:
    """The decimated maps the writers sampled (:data:`gepgeo.styles.Previews`); none for
    shared writers (other processes wrote the blocks) or COG maps."""
    out = {}
    for w in writers:
        data = w.preview
        if data is not None:
            out[preview_key(w.path)] = data
    return out


def _close_writers(writers: list[GeoTiffBlockWriter]) -> None:
    """Close the map writers; shared ones copy their maps into row-major order on close (about
    0.5 s per 4 000² map), so they do it in parallel threads (GDAL releases the GIL)."""
    if len(writers) > 1 and any(w.shared for w in writers):
        with ThreadPoolExecutor(max_workers=min(len(writers), os.cpu_count() or 1),
                                thread_name_prefix="gepgeo-reorder") as pool:
            for f in [pool.submit(w.close) for w in writers]:
                f.result()
        return
    for w in writers:
        w.close()


#: after a failed or interrupted pass, how long to wait for block tasks still running in other
#: threads (about one block each) before native stderr is given back, s
ABORT_WAIT_S = 30.0

#: GDAL block cache during a run, bytes. Each block is read once and written once, so a large
#: cache only holds dead tiles: at 4000² with 5 float32 layers the default (5 % of RAM) added
#: ~250 MiB of RSS for nothing. A user's own GDAL_CACHEMAX is respected.
RUN_GDAL_CACHE = 16 * 2**20


@contextmanager
def _small_gdal_cache() -> Iterator[None]:
    from rasterio._env import get_gdal_config, set_gdal_config

    if "GDAL_CACHEMAX" in os.environ:
        yield
        return
    old = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", RUN_GDAL_CACHE)
    try:
        yield
    finally:
        if old is not None:
            set_gdal_config("GDAL_CACHEMAX", old)


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    if quiet:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(minimum=2.0, dt=0.5):
        yield


def account(pipe: Pipeline) -> pd.DataFrame:
    """The tables-only path: the tidy table of a pipeline, computed in one pass, no map written.

    Raises
    ------
    GepgeoError
        Bad input or configuration.
    """
    with seeded_handles():   # the reads reuse the handles that read the metadata
        prep = prepare(pipe)
        ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=[], area=pipe.options.area,
                           domain=pipe.options.domain, chunks=prep.chunk)
        try:
            with _small_gdal_cache():
                totals = ds["totals"].data.compute(scheduler=_scheduler_of(None))
        except UnmappedCodesError:
            check_codes(prep)
            raise
    pl = prep.plan
    tidy = accounts.tidy_table(np.asarray(totals), pl.land_types, pl.enabled_services, pl.modes)
    return tidy if pl.valuation else accounts.without_values(tidy)


def pipeline_inputs(pipe: Pipeline) -> list[Path]:
    """Every file a pipeline names, without opening any raster: the pipeline file, the land
    use, the raster layers (``parameters:`` and ``profile.overrides:``), the zones, the profiles
    given by path and the CSV files of tables (the pipeline's and its profiles'). An output
    folder may never hold one of them (:func:`gepgeo.outputs.check_target`).
    """
    from .profiles import _locate

    from .profiles import load_profile

    paths: list[Path] = []
    if pipe.source_path:
        paths.append(Path(pipe.source_path))
    paths.append(pipe.resolve(pipe.land_use.path))
    paths += list(pipe.table_files)
    specs = list(pipe.parameters.values())
    if pipe.profile is not None:
        specs += list(pipe.profile.overrides.values())
        base = pipe.source_path.parent if pipe.source_path else None
        for name in (pipe.profile.name, pipe.profile.valuation):
            if name:
                try:
                    paths.append(_locate(name, base))
                    paths += load_profile(name, base=base).meta.get("table_files", [])
                except GepgeoError:
                    pass          # reported by prepare()
    paths += [pipe.resolve(s.path) for s in specs if isinstance(s, RasterParam)]
    paths += [pipe.resolve(z.path) for z in pipe.zones]
    return paths


def run_pipeline(pipe: Pipeline, out: Path | None = None, *, overwrite: bool = False,
                 quiet: bool = True, extra_maps: list[str] | None = None,
                 scheduler_address: str | None = None,
                 workers: int | None = None, report: bool = True,
                 final_path: Path | None = None, max_pixels: int | None = None,
                 check_disk: bool = True,
                 on_estimate: Callable[[Estimate], None] | None = None) -> RunResult:
    """Run a pipeline end to end into the run folder ``out`` (or the pipeline's ``output``).

    Parameters
    ----------
    max_pixels : int, optional
        Refuse a land-use grid of more pixels (the command line passes
        :data:`gepgeo.outputs.LARGE_GRID_PIXELS` unless ``--yes``).
    check_disk : bool
        Refuse a run whose maps (estimated, :func:`run_estimate`) exceed the free space at the
        output.
    on_estimate : callable, optional
        Called with the :class:`gepgeo.outputs.Estimate` (grid, size of the maps, rough time)
        once the inputs' headers are read, before anything is computed.

    Raises
    ------
    GepgeoError
        Bad input or configuration; nothing is left behind.
    OutputExistsError, OutputError
        ``out`` exists (without ``overwrite``) or may not be replaced, or cannot be written.
    DiskSpaceError
        The maps cannot fit, or the disk filled up during the run.
    """
    t0 = time.perf_counter()
    target = out if out is not None else (pipe.resolve(pipe.output) if pipe.output else None)
    if target is None:
        raise ConfigError(f"{pipe.source_path or 'pipeline'}: no output folder; give --out DIR or "
                          "`output:` in the pipeline")
    target = Path(target)
    check_target(target, pipeline_inputs(pipe), overwrite=overwrite)
    with seeded_handles():   # the reads reuse the handles that read the metadata
        prep = prepare(pipe)
        est = run_estimate(prep, extra_maps)
        if on_estimate is not None:
            on_estimate(est)
        if max_pixels is not None and est.pixels > max_pixels:
            h, w = est.shape
            raise ConfigError(
                f"land use {str(prep.land_use_info.path)!r}: {w:,} x {h:,} = {est.pixels:,} "
                f"pixels is more than {max_pixels:,}; its maps need about "
                f"{human_bytes(est.bytes)} and the run roughly {_duration(est.seconds)}; pass "
                "--yes to run it anyway")
        if check_disk:
            check_space(est, final_path or target)
        return _run_prepared(prep, target, t0, overwrite=overwrite, quiet=quiet,
                             extra_maps=extra_maps, scheduler_address=scheduler_address,
                             workers=workers, report=report, final_path=final_path)


def _run_prepared(prep: Prepared, target: Path, t0: float, *, overwrite: bool, quiet: bool,
                  extra_maps: list[str] | None, scheduler_address: str | None,
                  workers: int | None, report: bool, final_path: Path | None) -> RunResult:
    """:func:`run_pipeline` once the inputs are opened and checked."""
    pipe = prep.pipeline
    address = scheduler_address or pipe.options.scheduler
    nworkers = workers if workers is not None else pipe.options.workers
    protect = pipeline_inputs(pipe) + list(_input_paths(prep).values())
    with _digests_in_background(_input_paths(prep)) as digests, \
            atomic_folder(target, overwrite=overwrite, inputs=protect) as tmp, \
            scheduler(address, nworkers) as client:
        try:
            res = execute(prep, tmp, quiet=quiet, extra_maps=extra_maps, client=client,
                          where=final_path or target)
        except UnmappedCodesError:
            check_codes(prep)  # complete counts over the whole raster
            raise
        except RasterioError as exc:  # a tile that cannot be read or decoded mid-pass
            failed = write_failure_error(exc, final_path or target)
            if failed is not None:
                raise failed from None
            raise InputFileError(_unreadable_message(prep, exc)) from None
        if not np.asarray(res["totals"])[:, _col("pixels")].sum():
            raise RasterError(f"land use: {str(prep.land_use_info.path)!r} has no valid pixel "
                              "(every pixel is nodata); check land_use.nodata and the file")
        totals = res["totals"]
        pl = prep.plan
        tidy = accounts.tidy_table(totals[: len(pl.land_types)], pl.land_types,
                                   pl.enabled_services, pl.modes)
        lu_tab = accounts.land_use_table(totals, pl.land_types, prep.codes)
        by_svc = accounts.gep_by_service(tidy)
        by_lt = accounts.gep_by_land_type(tidy)
        if not pl.valuation:   # quantities only: no value row, no GEP, no value table
            tidy, by_svc = accounts.without_values(tidy), accounts.without_values(by_svc)
            by_lt = by_lt.iloc[0:0]
        tables = tmp / "tables"
        tables.mkdir()
        tidy.to_csv(tables / "services_by_land_type.csv", index=False, float_format="%.10g")
        lu_tab.to_csv(tables / "land_use.csv", index=False, float_format="%.10g")
        by_svc.to_csv(tables / "gep_by_service.csv", index=False, float_format="%.10g")
        if pl.valuation:
            by_lt.to_csv(tables / "gep_by_land_type.csv", index=False, float_format="%.10g")
        zone_files, by_zone = (_write_zone_tables(prep, res["zone_totals"], tables)
                               if res["zone_totals"] is not None else ([], None))
        manifest = _manifest(prep, res, final_path or target, time.perf_counter() - t0,
                             digests.result())
        manifest["tables"] += zone_files
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                           encoding="utf-8")
        if report and pipe.options.report:
            from .report import write_run_report
            from .styles import style_maps

            style_maps(tmp, previews=res["previews"])
            write_run_report(tmp, previews=res["previews"])
    return RunResult(target, tidy, lu_tab, by_svc, by_lt, manifest, by_zone)


def _input_paths(prep: Prepared) -> dict[str, Path]:
    pipe = prep.pipeline
    inputs: dict[str, Path] = {}
    if pipe.source_path:
        inputs["pipeline"] = pipe.source_path
    inputs["land_use"] = prep.land_use_info.path
    inputs.update({k: v.path for k, v in prep.layer_infos.items()})
    inputs.update({f"zones:{z.name}": z.path for z in prep.zones})
    shipped = Path(__file__).resolve().parent / "data" / "profiles"
    for prof in prep.profiles:
        if Path(prof.path).resolve().parent != shipped:     # a user's profile file
            inputs[f"profile:{prof.name}"] = Path(prof.path)
    for path in [*pipe.table_files,
                 *(f for prof in prep.profiles for f in prof.meta.get("table_files", []))]:
        inputs.setdefault(f"table:{path}", path)
    return inputs


@contextmanager
def _digests_in_background(inputs: Mapping[str, Path]) -> Iterator[Future]:
    """Checksums of the inputs, streamed in a background thread while the pass runs (hashlib
    releases the GIL) instead of a second serial read afterwards; a failed or interrupted run
    stops the thread at its next 4 MiB read rather than waiting for it at exit."""
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gepgeo-sha256")
    future = pool.submit(_input_digests, inputs, stop)
    pool.shutdown(wait=False)
    try:
        yield future
    except BaseException:
        stop.set()
        raise


def _input_digests(inputs: Mapping[str, Path],
                   stop: threading.Event | None = None) -> dict[str, dict[str, Any]]:
    return {k: {"path": str(p), "size_bytes": Path(p).stat().st_size,
                "sha256": _sha256(Path(p), stop)}
            for k, p in inputs.items()}


def _lu_nodata_values(file_nodata: float | None,
                      pipeline_nodata: float | None) -> list[float]:
    first, extra = nodata_pair(file_nodata, pipeline_nodata)
    return ([first] if first is not None else []) + list(extra)


def _gep_map_record(totals: np.ndarray, value: float) -> dict[str, Any]:
    """What the GEP map covers, from the pass itself (no second read of the map): its
    hectares with data (the classified area less where some service is nodata) and
    Σ(GEP map × pixel area) over them (``value``, yuan a⁻¹)."""
    from . import kernel as K
    return {"valid_ha": float(totals[:, K.COL_AREA].sum() - totals[:, K.COL_GEP_NODATA_HA].sum()),
            "value": value, "unit": "yuan a-1"}


def _manifest(prep: Prepared, res: Mapping[str, Any], target: Path, seconds: float,
              digests: Mapping[str, Any]) -> dict[str, Any]:
    pipe = prep.pipeline
    info = prep.land_use_info
    stats = dict(zip(res["stat_names"], (int(x) for x in res["stats"])))
    totals = res["totals"]
    from . import kernel as K
    clamped = int(round(float(totals[:, K.COL_CLAMP_N].sum())))
    return {
        "gepgeo_version": __version__,
        "name": pipe.name or (pipe.source_path.stem if pipe.source_path else "run"),
        "output": str(target),
        "inputs": dict(digests),
        "grid": {"crs_wkt": info.crs.to_wkt() if info.crs else None,
                 "crs": info.crs.to_string() if info.crs else None,
                 "transform": list(info.transform)[:6], "shape": list(info.shape)},
        "land_use": {"codes": {str(k): v for k, v in pipe.land_use.codes.items()},
                     "no_services": list(pipe.no_services),
                     # every value that is nodata: the file's and the pipeline's
                     "nodata": _lu_nodata_values(info.nodata, pipe.land_use.nodata),
                     "nodata_from": {"file": info.nodata, "pipeline": pipe.land_use.nodata}},
        "profiles": [{"name": p.name, "path": str(p.path), "kind": p.kind,
                      "price_year": p.price_year, **_scope_record(p)} for p in prep.profiles],
        "scenario": pipe.profile.scenario if pipe.profile else None,
        "services": prep.plan.enabled_services,
        # false: physical quantities only (no prices used, no value maps, no GEP)
        "valuation": prep.plan.valuation,
        "parameters": {k: _param_record(v) for k, v in prep.plan.used.items()},
        "parameters_not_used": prep.plan.unused,
        # alternative forms of one quantity given at two levels: which won (resolve.merge_levels)
        "parameter_forms": prep.plan.form_notes,
        # chunk_size as run (the block side fixes the order of the sums, to the last bit)
        "options": {**pipe.options.model_dump(), "chunk_size": prep.chunk},
        "engine": res.get("engine", "threads"),
        "water_deficit": {"policy": pipe.options.water_deficit, "clamped_pixels": clamped},
        "pixel_stats": stats,
        "maps": {m: f"maps/{m}.tif" for m in res["maps"]},
        **({"gep_map": _gep_map_record(totals, res["gep_map_value"])}
           if res.get("gep_map_value") is not None else {}),
        "tables": ["tables/services_by_land_type.csv", "tables/land_use.csv",
                   "tables/gep_by_service.csv"]
        + (["tables/gep_by_land_type.csv"] if prep.plan.valuation else []),
        "warnings": prep.warnings,
        "scope_warnings": prep.scope_warnings,
        "versions": _versions(),
        "timings_s": {**res["timings"], "total_s": seconds},
    }
