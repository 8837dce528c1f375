"""Execute a prepared run: the single pass that writes every map block and sums the totals.

:func:`execute` builds the lazy dataset (:func:`gepgeo.compute.build_dataset`) with one block
writer per map and computes, in one dask computation, every map block (written as soon as it is
ready) and the float64 totals; each input block is read once. A disk that fills during the pass
is reported as one :class:`~gepgeo.errors.DiskSpaceError`; ``--quiet`` aside, dask's progress
bar shows the pass.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
from rasterio.errors import RasterioError

from . import __version__
from . import accounts
from .compute import (ALL_MAPS, DEFAULT_MAPS, block_tasks, build_dataset, check_map,
                      measure_for_map)
from .errors import GepgeoError, GepgeoWarning
from .io import GeoTiffBlockWriter, copy_to_cog
from .outputs import (CapturedStderr, Estimate, disk_full_error, estimate_output, folder_bytes,
                      native_stderr_captured)
from .prepare import Prepared
from .scheduler import _scheduler_of, _small_gdal_cache
from .services import MEASURES, map_name
from .styles import MAX_SIDE, preview_key

__all__ = ["execute", "run_estimate"]


#: after a failed or interrupted pass, how long to wait for block tasks still running in other
#: threads (about one block each) before native stderr is given back, s
ABORT_WAIT_S = 30.0


@contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    if quiet:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(minimum=2.0, dt=0.5):
        yield


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
        check_map(m, prep.plan)   # a measure, or a factor layer of the run (layer_maps)
        if m not in names and (prep.plan.valuation or m not in ALL_MAPS
                               or not MEASURES[measure_for_map(m)].is_value):
            names.append(m)
    return names


def map_header(prep: Prepared, name: str) -> tuple[str, str, dict[str, str]]:
    """Description, unit and tags (besides the version) of the map ``name`` of a run: a
    measure's, or a factor layer's (:mod:`gepgeo.layer_maps`)."""
    if name in ALL_MAPS:
        m = MEASURES[measure_for_map(name)]
        desc = (f"{m.service}: {m.description}" if m.service != "gep"
                else "GEP: gross ecosystem product")
        return desc, m.density_unit, {"service": m.service, "measure": m.name,
                                      "water_deficit": prep.pipeline.options.water_deficit}
    from .layer_maps import factor_map_tags, factor_maps

    fm = factor_maps(prep.plan)[name]
    key = fm.name if fm.layer < 0 else prep.plan.rasters[fm.layer].key
    what = fm.description if fm.part is None else f"{fm.description} (computed with {key})"
    return f"input: {what}", fm.unit, factor_map_tags(fm, key)


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

    Returns the computed totals, stats and timings, and the dataset with its values computed
    (``dataset``; its tables are written by :func:`gepgeo.run.run_pipeline`).
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
    headers = {}
    for name in map_names:
        desc, unit, tags = headers[name] = map_header(prep, name)
        target = maps_dir / (f"{name}.tmp.tif" if pipe.options.cog else f"{name}.tif")
        tmp_names[name] = target
        writers.append(GeoTiffBlockWriter(
            target, info.shape, info.transform, info.crs, description=desc,
            unit=unit, codec=pipe.options.codec, shared=client is not None,
            block=prep.chunk, reorder=not pipe.options.cog,   # a COG copy is ordered anyway
            # the report's decimated reads, sampled as the blocks go by (a COG's are read from
            # its overviews instead)
            preview=0 if pipe.options.cog else MAX_SIDE,
            tags={"gepgeo_version": __version__, **tags}))
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
        extra = [v for v in ("zone_totals", "gep_map_value", "driver_totals") if v in ds]
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
    # the dataset with the values computed (gepgeo.tabulate makes the tables from it)
    computed = zip(["totals", "pixel_stats", *extra], [totals, stats, *rest])
    done = ds.assign({v: ds[v].copy(data=np.asarray(x)) for v, x in computed})
    return {"dataset": done, "totals": np.asarray(totals), "stats": np.asarray(stats),
            "zone_totals": (np.asarray(rest[extra.index("zone_totals")])
                            if "zone_totals" in extra else None),
            "gep_map_value": (float(np.sum(rest[extra.index("gep_map_value")]))
                              if "gep_map_value" in extra else None),
            "driver_totals": (np.asarray(rest[extra.index("driver_totals")])
                              if "driver_totals" in extra else None),
            "stat_names": list(ds["pixel_stats"].coords["stat"].values),
            "previews": _previews(writers),
            "maps": map_names, "max_pending_blocks": max_pending,
            # each map's unit; the factor layers' maps with the layer they show (layer_maps)
            "map_units": {n: h[1] for n, h in headers.items()},
            "factor_maps": {n: {"layer": h[2]["layer"], "origin": h[2]["origin"],
                                "description": h[0], "unit": h[1]}
                            for n, h in headers.items() if h[2].get("service") == "input"},
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
