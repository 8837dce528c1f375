"""Run a pipeline: validate, compute in one pass, write a complete run folder or nothing.

Order of work (OUTPUTS.md layout), one module each:

1. :func:`prepare` (:mod:`gepgeo.prepare`) reads metadata only: the pipeline, the profile(s),
   every raster's header; resolves parameters and checks that every service has what it needs.
2. :func:`execute` (:mod:`gepgeo.execute`) builds the lazy dataset
   (:func:`gepgeo.compute.build_dataset`) and computes, in a single dask computation, every map
   block (written as soon as it is ready) and the float64 totals, on the dask scheduler of the
   run (:func:`scheduler`, :mod:`gepgeo.scheduler`). Each input block is read once.
3. Tables (:mod:`gepgeo.tabulate`), manifest (:mod:`gepgeo.manifest`) and the run folder are
   written into a temporary folder beside the target, which is renamed into place only when
   everything is complete (:func:`gepgeo.outputs.atomic_folder`).

This module holds the run itself (:func:`run_pipeline`, and :func:`account`, the tables-only
path) and re-exports the names that were always imported from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rasterio.errors import RasterioError

from . import accounts
from .compute import build_dataset
from .errors import ConfigError, InputFileError, RasterError, UnmappedCodesError
from .execute import _unreadable_message, execute, run_estimate
from .io import seeded_handles
from .manifest import _digests_in_background, _input_paths, _manifest
from .manifest import _versions as _versions   # re-exported (gepgeo.compare imports it here)
from .outputs import (Estimate, _duration, atomic_folder, check_space, check_target, human_bytes,
                      write_failure_error)
from .pipeline import Pipeline
from .prepare import Prepared, check_codes, pipeline_inputs, prepare, validate
from .prepare import nodata_pair as nodata_pair   # re-exported (gepgeo.compare imports it here)
from .scheduler import _scheduler_of, _small_gdal_cache, scheduler
from .tabulate import _tidy_of, write_tables

__all__ = ["Prepared", "prepare", "validate", "execute", "run_pipeline", "account", "scheduler",
           "RunResult", "atomic_folder", "pipeline_inputs", "run_estimate"]


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
    #: with ``options.uncertainty``: the table model of the run (gepgeo.uncertainty) and the
    #: result of its draws (None when a comparison draws both scenarios itself)
    uncertainty_model: Any = None
    uncertainty: dict[str, Any] | None = None
    #: the report is left for after the draws (a comparison's scenario: its uncertainty tables
    #: are written once both scenarios are computed; :func:`write_pending_report`), with the
    #: maps' decimated pixels sampled during the run
    report_pending: bool = False
    previews: Any = None


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
    ds = ds.assign(totals=ds["totals"].copy(data=np.asarray(totals)))
    return _tidy_of(ds)   # tables(ds)["services_by_land_type"]


def run_pipeline(pipe: Pipeline, out: Path | None = None, *, overwrite: bool = False,
                 quiet: bool = True, extra_maps: list[str] | None = None,
                 scheduler_address: str | None = None,
                 workers: int | None = None, report: bool = True,
                 final_path: Path | None = None, max_pixels: int | None = None,
                 check_disk: bool = True,
                 on_estimate: Callable[[Estimate], None] | None = None,
                 draw_uncertainty: bool = True) -> RunResult:
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
    draw_uncertainty : bool
        With ``options.uncertainty``: draw the parameters and write the uncertainty tables
        (False: only build the table model, for :func:`gepgeo.compare.run_compare`, which
        draws both scenarios from one sample).

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
                             workers=workers, report=report, final_path=final_path,
                             draw_uncertainty=draw_uncertainty)


def _run_prepared(prep: Prepared, target: Path, t0: float, *, overwrite: bool, quiet: bool,
                  extra_maps: list[str] | None, scheduler_address: str | None,
                  workers: int | None, report: bool, final_path: Path | None,
                  draw_uncertainty: bool = True) -> RunResult:
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
        # the tables of the Python API (gepgeo.tables), of the dataset the pass computed
        tables, files = write_tables(res["dataset"], tmp / "tables", zones=prep.zones)
        model, unc, unc_entry, t_unc = _uncertainty(prep, res, tmp, files, draw_uncertainty)
        manifest = _manifest(prep, res, final_path or target, time.perf_counter() - t0,
                             digests.result(), files)
        if unc_entry is not None:
            manifest["uncertainty"] = unc_entry
            manifest["timings_s"]["uncertainty_s"] = t_unc
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                           encoding="utf-8")
        # a comparison draws both scenarios afterwards: their reports wait for the draws
        pending = bool(report and pipe.options.report and not draw_uncertainty
                       and model is not None)
        if report and pipe.options.report and not pending:
            from .report import write_run_report
            from .styles import style_maps

            style_maps(tmp, previews=res["previews"])
            write_run_report(tmp, previews=res["previews"])
    tidy = tables["services_by_land_type"]
    by_lt = (tables["gep_by_land_type"] if "gep_by_land_type" in tables
             else accounts.gep_by_land_type(tidy).iloc[0:0])   # quantities only: none written
    return RunResult(target, tidy, tables["land_use"], tables["gep_by_service"], by_lt,
                     manifest, tables.get("services_by_zone"), model, unc,
                     report_pending=pending, previews=res["previews"] if pending else None)


def write_pending_report(res: RunResult, folder: Path) -> None:
    """Write the map styles and report that a comparison's scenario run left for after its
    draws (``res.report_pending``) into ``folder``, the scenario's folder; nothing otherwise."""
    if not res.report_pending:
        return
    from .report import write_run_report
    from .styles import style_maps

    style_maps(folder, previews=res.previews)
    write_run_report(folder, previews=res.previews)
    res.report_pending, res.previews = False, None


def _uncertainty(prep: Prepared, res: dict[str, Any], tmp: Path, files: list[str],
                 draw: bool) -> tuple[Any, dict[str, Any] | None, dict[str, Any] | None, float]:
    """With ``options.uncertainty`` (and draws): the run's table model and, if ``draw``, its
    draws, written into ``tmp/tables`` (their names appended to ``files``)."""
    opts = prep.pipeline.options.uncertainty
    if opts is None or not opts.draws or not prep.plan.valuation:
        return None, None, None, 0.0
    from . import uncertainty as U

    t0 = time.perf_counter()
    model = U.model_of_run(prep, res)
    if not draw:
        return model, None, None, 0.0
    settings = U.settings_of(opts)
    unc = U.analyse(model, settings)
    files += U.write_tables(tmp / "tables", unc)
    return model, unc, U.manifest_entry(model, settings, unc), time.perf_counter() - t0


def _col(name: str) -> int:
    from . import kernel as K

    return K.COLUMNS.index(name)
