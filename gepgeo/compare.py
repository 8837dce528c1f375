"""``gepgeo compare``: two scenarios side by side (before / after, or year t0 / t1).

Each scenario is run on its own native grid (``DIR/before``, ``DIR/after``; their tables are
computed there). ``DIR/change`` holds what needs the two on one grid — the land-use transition
matrix, the SEEA-EA extent account and the per-pixel difference maps — computed on the *before*
grid, the after scenario aligned to it only for these (nearest for land use; ``resampling`` for
the density maps, nearest by default so that a pixel whose land use and layers did not change
shows exactly zero difference; any CRS, via GDAL's warper), and the side-by-side tables with
absolute and relative change.
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
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from . import __version__
from .area import grid_block_areas_ha, grid_row_areas_ha
from .compute import build_lut, land_type_index, land_use_codes
from .errors import ConfigError, GridMismatchError, UncertaintyError
from .grid import Grid
from .io import GeoTiffBlockWriter, copy_to_cog
from .nodata import nodata_list
from .pipeline import Pipeline
from .outputs import (CapturedStderr, atomic_folder, disk_full_error, estimate_output, folder_bytes,
                      native_stderr_captured)
from .run import RunResult, _versions, pipeline_inputs, run_pipeline, write_pending_report

__all__ = ["CompareResult", "run_compare", "change_tables", "transition_matrix",
           "extent_account", "change_by_zone"]

_BLOCK = 512


@dataclass
class CompareResult:
    """The two runs and the change tables."""

    out: Path
    before: RunResult
    after: RunResult
    change_by_service: pd.DataFrame
    change_by_land_type: pd.DataFrame
    transition: pd.DataFrame
    extent: pd.DataFrame


def _pct(change: pd.Series, base: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.where(base != 0, 100.0 * change / base.where(base != 0, 1.0), np.nan),
                         index=change.index)


def change_tables(before: RunResult, after: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Side-by-side tables: by service (with category subtotals and GEP) and by land type."""
    keys = ["service", "category", "measure", "unit"]
    b = before.by_service[keys + ["amount"]].rename(columns={"amount": "before"})
    a = after.by_service[keys + ["amount"]].rename(columns={"amount": "after"})
    svc = b.merge(a, on=keys, how="outer", sort=False).fillna({"before": 0.0, "after": 0.0})
    svc["change"] = svc["after"] - svc["before"]
    svc["change_pct"] = _pct(svc["change"], svc["before"])
    keys = ["service", "category", "land_type", "measure", "unit"]
    b = before.tidy[keys + ["amount", "area_ha"]].rename(
        columns={"amount": "before", "area_ha": "area_ha_before"})
    a = after.tidy[keys + ["amount", "area_ha"]].rename(
        columns={"amount": "after", "area_ha": "area_ha_after"})
    lt = b.merge(a, on=keys, how="outer", sort=False)
    lt = lt.fillna({"before": 0.0, "after": 0.0, "area_ha_before": 0.0, "area_ha_after": 0.0})
    tot = (lt.groupby(["service", "category", "measure", "unit"], sort=False, as_index=False)
           [["before", "after", "area_ha_before", "area_ha_after"]].sum())
    tot["land_type"] = "total"
    lt = pd.concat([lt, tot[lt.columns]], ignore_index=True)
    lt["change"] = lt["after"] - lt["before"]
    lt["change_pct"] = _pct(lt["change"], lt["before"])
    return svc, lt


_ZONE_KEYS = ["zone_layer", "zone_id"]


def _zone_rows(res: RunResult) -> pd.DataFrame | None:
    if res.by_zone is None:
        return None
    rows = res.by_zone.copy()
    rows["zone_id"] = rows["zone_id"].astype(str)  # ids compare as the CSV writes them
    return rows


def change_by_zone(before: RunResult, after: RunResult) -> tuple[pd.DataFrame | None, str]:
    """Per zone, service and measure (summed over land types, in float64 from the runs' zone
    rows): before, after, change and change_pct, with each scenario's rasterised zone area (ha).

    Written only when both scenarios have the same zones: the same zone layer names, each with
    the same ids in the same order (each scenario rasterises them on its own grid).

    Returns
    -------
    (table or None, note)
        The note says why there is no table (empty when there is one).
    """
    b, a = _zone_rows(before), _zone_rows(after)
    if b is None and a is None:
        return None, ""
    if b is None or a is None:
        return None, ("only the " + ("after" if b is None else "before") + " scenario has "
                      "zones; no change by zone")
    zb = list(b[_ZONE_KEYS].drop_duplicates().itertuples(index=False, name=None))
    za = list(a[_ZONE_KEYS].drop_duplicates().itertuples(index=False, name=None))
    if zb != za:
        return None, ("the scenarios' zones differ (zone layer names or ids); no change by "
                      "zone")
    keys = _ZONE_KEYS + ["service", "category", "measure", "unit"]

    def totals(rows: pd.DataFrame, name: str) -> pd.DataFrame:
        t = rows.groupby(keys, sort=False, as_index=False, dropna=False)["amount"].sum()
        area = rows.groupby(_ZONE_KEYS, sort=False, as_index=False)["rasterised_area_ha"].first()
        return (t.rename(columns={"amount": name})
                .merge(area.rename(columns={"rasterised_area_ha": f"area_ha_{name}"}),
                       on=_ZONE_KEYS, how="left"))

    out = totals(b, "before").merge(totals(a, "after"), on=keys, how="outer", sort=False)
    out = out.fillna({"before": 0.0, "after": 0.0})
    order = {z: i for i, z in enumerate(zb)}
    out["_z"] = [order[z] for z in zip(out.zone_layer, out.zone_id)]
    out = out.sort_values("_z", kind="stable").drop(columns="_z").reset_index(drop=True)
    for col in ("area_ha_before", "area_ha_after"):
        out[col] = out.groupby(_ZONE_KEYS, sort=False)[col].transform("first")
    out["change"] = out["after"] - out["before"]
    out["change_pct"] = _pct(out["change"], out["before"])
    return out[keys + ["before", "after", "change", "change_pct", "area_ha_before",
                       "area_ha_after"]], ""


def _lu_source(pipe: Pipeline) -> tuple[Path, int, list[float]]:
    """Path, band and nodata values of a scenario's land use: the file's own and the
    pipeline's (which adds to it, as in a run)."""
    path = pipe.resolve(pipe.land_use.path)
    with rasterio.open(path) as src:
        nodata = nodata_list(src.nodata, pipe.land_use.nodata)
    return path, pipe.land_use.band, nodata


def _open_aligned(path: Path, ref: rasterio.DatasetReader, resampling: Resampling,
                  nodata: float | None) -> Any:
    """``path`` as a reader on ``ref``'s grid (a WarpedVRT unless the grids are the same,
    :meth:`gepgeo.grid.Grid.same_as`)."""
    src = rasterio.open(path)
    grid = Grid.of(ref)
    if Grid.of(src).same_as(grid):
        return src, src
    if src.crs is None or ref.crs is None:
        src.close()
        raise GridMismatchError(f"{path}: no CRS, cannot align it to the before grid")
    # Grid.bounds, not the datasets': rasterio's have bottom > top for south-up rows
    left, bottom, right, top = transform_bounds(src.crs, ref.crs, *Grid.of(src).bounds)
    rl, rb, rr, rt = grid.bounds
    if left >= rr or right <= rl or bottom >= rt or top <= rb:
        src.close()
        raise GridMismatchError(f"{path} does not overlap the before grid; the two scenarios "
                                "must cover the same area")
    vrt = WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width,
                    height=grid.height, resampling=resampling, src_nodata=nodata, nodata=nodata)
    return vrt, src


def transition_matrix(before: Pipeline, after: Pipeline) -> pd.DataFrame:
    """Land-use transition matrix in hectares on the before grid (rows: before, cols: after).

    Pixels nodata in either scenario are counted in a ``(nodata)`` row / column so that every
    land-use pixel of either scenario is accounted for.
    """
    b_path, b_band, b_nd = _lu_source(before)
    a_path, a_band, a_nd = _lu_source(after)
    b_types = list(dict.fromkeys(before.land_use.codes.values()))
    a_types = list(dict.fromkeys(after.land_use.codes.values()))
    b_lut, b_off = build_lut(before.land_use.codes, b_types)
    a_lut, a_off = build_lut(after.land_use.codes, a_types)
    nb, na = len(b_types) + 1, len(a_types) + 1  # last index: nodata
    mat = np.zeros((nb, na), dtype=np.float64)
    with rasterio.open(b_path) as ref:
        grid = Grid.of(ref)
        rows_area = grid_row_areas_ha(grid, mode=before.options.area)
        reader, handle = _open_aligned(a_path, ref, Resampling.nearest,
                                       a_nd[0] if a_nd else None)
        try:
            for r0 in range(0, ref.height, _BLOCK):
                for c0 in range(0, ref.width, _BLOCK):
                    win = Window(c0, r0, min(_BLOCK, ref.width - c0), min(_BLOCK, ref.height - r0))
                    bv = ref.read(b_band, window=win)
                    av = reader.read(a_band, window=win)
                    area = grid_block_areas_ha(grid, slice(r0, r0 + win.height),
                                               slice(c0, c0 + win.width), rows_area)
                    bi = _classes(bv, b_lut, b_off, b_nd, nb - 1, f"land use {str(b_path)!r}")
                    ai = _classes(av, a_lut, a_off, a_nd, na - 1, f"land use {str(a_path)!r}")
                    mat += np.bincount((bi * na + ai).ravel(), weights=np.asarray(area).ravel(),
                                       minlength=nb * na).reshape(nb, na)
        finally:
            reader.close()
            if handle is not reader:
                handle.close()
    df = pd.DataFrame(mat, index=b_types + ["(nodata)"], columns=a_types + ["(nodata)"])
    # nodata in both scenarios is outside the landscape; keep the nodata row / column only when
    # some pixel is valid in one scenario and not in the other
    df.iloc[-1, -1] = 0.0
    if not (df.iloc[-1].any() or df.iloc[:, -1].any()):
        df = df.drop(index="(nodata)", columns="(nodata)")
    df.index.name = "before \\ after"
    return df


def _classes(v: np.ndarray, lut: np.ndarray, off: int, nodata: list[float],
             nd_index: int, where: str) -> np.ndarray:
    """Land-type index of each land-use value (``nd_index`` for nodata and unmapped codes), by
    the rules of a run (:func:`gepgeo.compute.land_use_codes`,
    :func:`gepgeo.compute.land_type_index`): nodata values are compared as the raster stores
    them, so a float raster's NaN or ±3.4028235e38 are nodata, and int() of a non-integral
    nodata is never a code.

    Raises
    ------
    RasterError
        A float land use holds a value that is neither nodata nor an integer code (the run of
        the scenario refuses it too).
    """
    codes, isnd = land_use_codes(v, nodata, where)
    out = land_type_index(codes, lut, off)
    out[isnd | (out < 0)] = nd_index
    return out


def extent_account(matrix: pd.DataFrame) -> pd.DataFrame:
    """SEEA-EA ecosystem extent account from a transition matrix (ha).

    Per land type: opening (before), additions (area that became it), reductions (area that
    left it), net change and closing (after), over the pixels valid in both scenarios; opening +
    additions − reductions = closing.
    """
    m = matrix.drop(index="(nodata)", errors="ignore").drop(columns="(nodata)", errors="ignore")
    types = list(dict.fromkeys(list(m.index) + list(m.columns)))
    m = m.reindex(index=types, columns=types, fill_value=0.0)
    diag = np.diag(m.values)
    opening = m.sum(axis=1).values
    closing = m.sum(axis=0).values
    rows = pd.DataFrame({"land_type": types, "opening_ha": opening,
                         "additions_ha": closing - diag, "reductions_ha": opening - diag})
    rows["net_change_ha"] = rows.additions_ha - rows.reductions_ha
    rows["closing_ha"] = closing
    sums = {c: float(rows[c].sum()) for c in rows.columns[1:]}
    # the total net change is 0 by construction; drop the summation round-off (~1e-15 ha)
    if abs(sums["net_change_ha"]) <= 1e-9 * max(sums["opening_ha"], 1.0):
        sums["net_change_ha"] = 0.0
    total = {"land_type": "total", **sums}
    return pd.concat([rows, pd.DataFrame([total])], ignore_index=True)


def _change_tags(name: str) -> dict[str, str]:
    """Tags of the change map of ``name``: the maps it is the difference of, as paths relative
    to the change map's folder (``change/maps``). Never the absolute paths the maps had when they
    were written: those lie in the temporary folder, which is renamed at the end, and they would
    make two identical comparisons into different folders differ byte for byte."""
    return {"gepgeo_version": __version__, "before": f"../../before/maps/{name}.tif",
            "after": f"../../after/maps/{name}.tif"}


def difference_maps(before: RunResult, after: RunResult, maps_dir: Path, *, codec: str,
                    resampling: Resampling, cog: bool = False,
                    tags: Callable[[str], dict[str, str]] | None = None) -> list[str]:
    """``after − before`` of GEP and of each service value map, on the before grid (Cloud-
    Optimized with overviews when ``cog``, like the runs' maps). ``tags(name)`` gives each map's
    tags (default: :func:`_change_tags`, the paths of a comparison folder)."""
    tags = tags or _change_tags
    written = []
    for name in before.manifest["maps"]:
        if not (name == "gep" or name.endswith("_value")) or name not in after.manifest["maps"]:
            continue
        b_path = before.out / "maps" / f"{name}.tif"
        a_path = after.out / "maps" / f"{name}.tif"
        with rasterio.open(b_path) as ref:
            reader, handle = _open_aligned(a_path, ref, resampling, float("nan"))
            unit = ref.units[0] if ref.units else "yuan ha-1 a-1"
            target = maps_dir / (f"{name}_change.tmp.tif" if cog else f"{name}_change.tif")
            writer = GeoTiffBlockWriter(
                target, ref.shape, ref.transform, ref.crs,
                description=f"change in {name} (after − before)", unit=unit, codec=codec,
                block=_BLOCK,
                tags=tags(name))
            try:
                for r0 in range(0, ref.height, _BLOCK):
                    for c0 in range(0, ref.width, _BLOCK):
                        win = Window(c0, r0, min(_BLOCK, ref.width - c0),
                                     min(_BLOCK, ref.height - r0))
                        d = reader.read(1, window=win) - ref.read(1, window=win)
                        writer[(slice(r0, r0 + win.height), slice(c0, c0 + win.width))] = d
            finally:
                writer.close()
                reader.close()
                if handle is not reader:
                    handle.close()
        if cog:
            copy_to_cog(target, maps_dir / f"{name}_change.tif", codec=codec)
            target.unlink()
        written.append(f"{name}_change")
    return written


def _difference_maps_or_disk_full(before: RunResult, after: RunResult, maps_dir: Path,
                                  out: Path, *, codec: str, resampling: Resampling,
                                  cog: bool,
                                  tags: Callable[[str], dict[str, str]] | None = None
                                  ) -> list[str]:
    """:func:`difference_maps`, with a full disk reported in one line (naming ``out`` and the
    estimated size of the change maps) instead of GDAL's and libtiff's lines on stderr."""
    cap = CapturedStderr()
    try:
        with native_stderr_captured(cap):
            return difference_maps(before, after, maps_dir, codec=codec, resampling=resampling,
                                   cog=cog, tags=tags)
    except Exception as exc:
        n = sum(1 for m in before.manifest["maps"] if m == "gep" or m.endswith("_value"))
        est = estimate_output(before.manifest["grid"]["shape"], n, codec=codec, cog=cog)
        full = disk_full_error(exc, out, maps_dir, needed=est.bytes,
                               written=folder_bytes(maps_dir), captured=cap.text)
        if full is not None:
            raise full from None
        cap.replay()
        raise


def _price_years(res: RunResult) -> set[Any]:
    return {p["price_year"] for p in res.manifest["profiles"] if p["price_year"] != "unknown"}


def _same_uncertainty_options(before: Pipeline, after: Pipeline) -> tuple[Pipeline, Pipeline]:
    """Both scenarios with one ``options.uncertainty``: the one given, when only one gives it.

    Raises
    ------
    UncertaintyError
        The two give different options (draws, seed, method).
    """
    ob, oa = before.options.uncertainty, after.options.uncertainty
    if ob is None and oa is None:
        return before, after
    if ob is not None and oa is not None:
        if ob != oa:
            raise UncertaintyError(
                f"{after.source_path or 'after'}: options.uncertainty differs from the before "
                "scenario's; a comparison draws both from one sample: give them the same")
        return before, after
    opts = ob if ob is not None else oa

    def with_opts(p: Pipeline) -> Pipeline:
        return p.model_copy(update={"options": p.options.model_copy(update={"uncertainty": opts})})
    return with_opts(before), with_opts(after)


def _uncertainty_change(pipe: Pipeline, rb: RunResult, ra: RunResult, tmp: Path) -> list[str]:
    """With ``options.uncertainty``: both scenarios drawn from one sample (common random
    numbers), their uncertainty tables and manifests, and ``change/tables/
    uncertainty_change.csv``; the comparison's table entries."""
    if rb.uncertainty_model is None or ra.uncertainty_model is None:
        return []
    from . import uncertainty as U

    settings = U.settings_of(pipe.options.uncertainty)
    unc_b, unc_a, change = U.compare(rb.uncertainty_model, ra.uncertainty_model, settings)
    for res, unc, name, other in ((rb, unc_b, "before", "after"), (ra, unc_a, "after", "before")):
        files = U.write_tables(tmp / name / "tables", unc)
        entry = U.manifest_entry(res.uncertainty_model, settings, unc,
                                 common=f"one sample with the {other} scenario "
                                        "(../change/tables/uncertainty_change.csv)")
        path = tmp / name / "manifest.json"
        man = json.loads(path.read_text(encoding="utf-8"))
        man["tables"] = list(man.get("tables", [])) + files
        man["uncertainty"] = entry
        path.write_text(json.dumps(man, indent=2, default=str) + "\n", encoding="utf-8")
        res.manifest = man
        res.uncertainty = unc
    change.to_csv(tmp / "change" / "tables" / "uncertainty_change.csv", index=False,
                  float_format="%.10g")
    return ["tables/uncertainty_change.csv"]


def run_compare(before: Pipeline, after: Pipeline, out: Path, *, overwrite: bool = False,
                quiet: bool = True, resampling: str = "nearest",
                extra: Any = None, report_args: Any = None, **run_args: Any) -> CompareResult:
    """Run both scenarios and their comparison into ``out`` (complete or not at all).

    ``extra(tmp, before_result, after_result)``, if given, may add files to the comparison
    folder before it is renamed into place (the demo adds its reproduction table), and
    ``report_args`` are passed to :func:`gepgeo.report.write_compare_report`; ``run_args``
    (``max_pixels``, ``check_disk``, ``on_estimate``, ``report``) to
    :func:`gepgeo.run.run_pipeline` for each scenario. The comparison's report and map styles
    are written unless ``report=False`` is given or both scenarios say ``options.report: false``;
    when it is written, so are the scenario reports it links to. An existing ``out`` is
    replaced (``overwrite``) only if gepgeo may replace it
    (:func:`gepgeo.outputs.check_target`): never one holding either scenario's inputs.

    Raises
    ------
    ConfigError
        The scenarios' profiles have different known price years, or one has
        ``valuation: false`` and the other not.
    GridMismatchError
        The two land-use grids do not overlap.
    """
    try:
        rs = Resampling[resampling]
    except KeyError:
        raise ConfigError(f"--resampling: unknown method {resampling!r}") from None
    if before.valuation != after.valuation:
        # values on one side and none on the other would read as a change of the whole value
        b, a = (str(p.valuation).lower() for p in (before, after))
        raise ConfigError(f"{after.source_path or 'after'}: valuation is {a} but {b} for the "
                          "before scenario; give both the same valuation")
    before, after = _same_uncertainty_options(before, after)
    t0 = time.perf_counter()
    inputs = pipeline_inputs(before) + pipeline_inputs(after)
    with atomic_folder(Path(out), overwrite=overwrite, inputs=inputs) as tmp:
        rb = run_pipeline(before, tmp / "before", quiet=quiet, final_path=Path(out) / "before",
                          draw_uncertainty=False, **run_args)
        ra = run_pipeline(after, tmp / "after", quiet=quiet, final_path=Path(out) / "after",
                          draw_uncertainty=False, **run_args)
        yb, ya = _price_years(rb), _price_years(ra)
        if yb and ya and yb != ya:
            raise ConfigError(f"the scenarios' prices are of different years ({sorted(yb)} vs "
                              f"{sorted(ya)}); deflate one profile's prices to the other's year")
        change = tmp / "change"
        (change / "maps").mkdir(parents=True)
        (change / "tables").mkdir()
        svc, lt = change_tables(rb, ra)
        tm = transition_matrix(before, after)
        ext = extent_account(tm)
        svc.to_csv(change / "tables" / "change_by_service.csv", index=False, float_format="%.10g")
        lt.to_csv(change / "tables" / "change_by_land_type.csv", index=False, float_format="%.10g")
        tm.to_csv(change / "tables" / "transition_matrix.csv", float_format="%.10g")
        ext.to_csv(change / "tables" / "extent_account.csv", index=False, float_format="%.10g")
        maps = _difference_maps_or_disk_full(rb, ra, change / "maps", Path(out),
                                             codec=before.options.codec, resampling=rs,
                                             cog=before.options.cog)
        tables = ["tables/change_by_service.csv", "tables/change_by_land_type.csv",
                  "tables/transition_matrix.csv", "tables/extent_account.csv"]
        tables += _uncertainty_change(before, rb, ra, tmp)
        for res, name in ((rb, "before"), (ra, "after")):   # with their uncertainty tables
            write_pending_report(res, tmp / name)
        by_zone, zone_note = change_by_zone(rb, ra)
        if by_zone is not None:
            by_zone.to_csv(change / "tables" / "change_by_zone.csv", index=False,
                           float_format="%.10g")
            tables.append("tables/change_by_zone.csv")
        manifest = {
            "gepgeo_version": __version__, "kind": "comparison",
            "before": {"pipeline": str(before.source_path), "run": "../before/manifest.json"},
            "after": {"pipeline": str(after.source_path), "run": "../after/manifest.json"},
            "grid": "the before scenario's (see ../before/manifest.json)",
            "alignment": {"land_use": "nearest", "maps": resampling},
            "maps": {m: f"maps/{m}.tif" for m in maps},
            "tables": tables,
            **({"zones": zone_note} if zone_note else {}),
            "price_years": {"before": sorted(map(str, yb)) or ["unknown"],
                            "after": sorted(map(str, ya)) or ["unknown"]},
            "versions": _versions(), "timings_s": {"total_s": time.perf_counter() - t0},
        }
        (change / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if extra is not None:
            extra(tmp, rb, ra)
        if run_args.get("report", True) and (before.options.report or after.options.report):
            from .report import write_compare_report
            from .styles import style_maps

            style_maps(change)
            write_compare_report(tmp, **(report_args or {}))
    for r, name in ((rb, "before"), (ra, "after")):
        r.out = Path(out) / name
    return CompareResult(Path(out), rb, ra, svc, lt, tm, ext)
