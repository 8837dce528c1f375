"""The tables and figures a report shows, computed from its folder's CSV files and manifest.

No HTML here: change tables in the method's service order with rounding noise as 0
(:func:`change_rows`), the price years of the resolved prices (:func:`price_year_counts`),
per-hectare figures by land type and by zone (:func:`land_type_per_ha`, :func:`zone_totals`,
:func:`land_type_change_per_ha`, :func:`zone_change_table`), the pixels each service left out
(:func:`excluded_by_service`) and the area the GEP map covers (:func:`map_coverage`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio

__all__ = [
    "NOISE_REL",
    "change_rows",
    "excluded_by_service",
    "gep_total",
    "land_type_change_per_ha",
    "land_type_per_ha",
    "land_use_total",
    "map_coverage",
    "pixel_area_ha",
    "price_year_counts",
    "service_values",
    "zone_change_table",
    "zone_totals",
]

#: Rows of a service table that are not a service.
NOT_SERVICES = ("subtotal", "gep", "total")
#: A change no larger than this fraction of the larger of |before| and |after| is rounding noise
#: (the two sums were added in a different order): the report shows it as 0.
NOISE_REL = 1.0e-9


def change_rows(df: pd.DataFrame) -> pd.DataFrame:
    """A change table (``service, category, [keys,] measure, ..., before, after, change,
    change_pct``) as the report shows it.

    Rows in the method's service order (:data:`gepgeo.services.SERVICES`), each category's
    ``subtotal`` right after the last of its services and ``gep`` last; within a service, the
    keys (land type, zone) in their order in the file, then the measures in the method's order
    (value last). A change that is rounding noise, ``|change| ≤ NOISE_REL × max(|before|,
    |after|)``, is 0 (and its ``change_pct`` 0 where before ≠ 0).
    """
    from ..services import MEASURES, SERVICES

    if not {"service", "measure"} <= set(df.columns):
        return df
    out = df.copy()
    if {"before", "after", "change"} <= set(out.columns):
        b = pd.to_numeric(out["before"], errors="coerce").to_numpy(dtype=float)
        a = pd.to_numeric(out["after"], errors="coerce").to_numpy(dtype=float)
        d = pd.to_numeric(out["change"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            noise = (d != 0) & (np.abs(d) <= NOISE_REL * np.maximum(np.abs(b), np.abs(a)))
        if noise.any():
            out["change"] = np.where(noise, 0.0, d)
            if "change_pct" in out:
                pct = pd.to_numeric(out["change_pct"], errors="coerce").to_numpy(dtype=float)
                out["change_pct"] = np.where(noise & (b != 0), 0.0, pct)
    names = [sv.name for sv in SERVICES]
    last = {sv.category: i for i, sv in enumerate(SERVICES)}
    measures = {(m.service, m.name): i for i, m in enumerate(MEASURES)}
    cats = out["category"] if "category" in out else pd.Series("", index=out.index)

    def svc_rank(service: str, category: str) -> float:
        if service in names:
            return names.index(service)
        if service == "subtotal":
            return last.get(category, len(names)) + 0.5
        return len(names) + (2 if service == "gep" else 1)

    cols = list(out.columns)
    keys = [c for c in cols[: cols.index("measure")] if c not in ("service", "category")]
    key_pos: dict[tuple[Any, ...], int] = {}
    for k in out[keys].itertuples(index=False, name=None):
        key_pos.setdefault(k, len(key_pos))
    ranks = [(svc_rank(s, c), key_pos[k], measures.get((s, m), len(measures)))
             for s, c, k, m in zip(out["service"], cats,
                                   out[keys].itertuples(index=False, name=None), out["measure"])]
    order = sorted(range(len(out)), key=lambda i: ranks[i])
    return out.iloc[order].reset_index(drop=True)



def service_values(by_service: pd.DataFrame) -> pd.DataFrame:
    """The ``value`` row of each service (no subtotals, no GEP)."""
    rows = by_service[(by_service["measure"] == "value")
                      & ~by_service["service"].isin(NOT_SERVICES)]
    return rows.reset_index(drop=True)


def gep_total(by_service: pd.DataFrame | None) -> float | None:
    """The GEP of a ``gep_by_service.csv`` / ``change_by_service.csv`` (yuan a⁻¹), or None."""
    if by_service is None:
        return None
    rows = by_service[(by_service["service"] == "gep") & (by_service["measure"] == "value")]
    return float(rows["amount"].sum()) if len(rows) else None


def _price_years(manifest: Mapping[str, Any]) -> list[str]:
    """The price years the run's profiles declare, in order (``unknown`` if none)."""
    years = [str(p.get("price_year", "unknown")) for p in manifest.get("profiles", [])]
    return list(dict.fromkeys(years)) or ["unknown"]


def _is_price(name: str, rec: Mapping[str, Any]) -> bool:
    """A resolved parameter is a price when its canonical unit is money (``yuan ...``)."""
    from ..parameters import PARAM_INDEX, PARAMETERS

    unit = PARAMETERS[PARAM_INDEX[name]].unit if name in PARAM_INDEX else str(rec.get("unit", ""))
    return unit.split(" ")[0] == "yuan"


def price_year_counts(manifest: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(price year, number of prices) over the run's resolved prices, years in order and
    ``unknown`` last; a price from the pipeline (no profile) has an unknown year.

    Without any price (``valuation: false``), the profiles' declared years with count 0.
    """
    counts: dict[str, int] = {}
    for name, rec in manifest.get("parameters", {}).items():
        if rec.get("kind") == "raster" or not _is_price(name, rec):
            continue
        year = rec.get("price_year")
        key = "unknown" if year in (None, "", "unknown") else str(year)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return [(", ".join(_price_years(manifest)), 0)]
    return sorted(counts.items(), key=lambda kv: (kv[0] == "unknown", kv[0]))


def pixel_area_ha(manifest: Mapping[str, Any]) -> float | None:
    """The constant pixel area of a planar projected grid, ha (None otherwise)."""
    grid = manifest.get("grid", {})
    if manifest.get("options", {}).get("area", "planar") != "planar" or not grid.get("crs_wkt"):
        return None
    from pyproj import CRS

    try:
        crs = CRS.from_wkt(grid["crs_wkt"])
    except Exception:  # noqa: BLE001  # pragma: no cover - a CRS pyproj cannot parse
        return None
    if crs.is_geographic:
        return None
    a, b, _, d, e, _ = grid["transform"]
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return abs(a * e - b * d) * factor * factor / 1.0e4


def map_coverage(gep_path: Path, area_mode: str) -> tuple[float, float] | None:
    """One blockwise pass over the GEP map: the area of its valid pixels (ha) and
    Σ(map × area), for run folders whose manifest does not hold them (``gep_map``)."""
    from ..area import ellipsoidal_area_ha, row_areas_ha

    try:
        src = rasterio.open(gep_path)
    except (OSError, rasterio.errors.RasterioError):
        return None
    with src:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows = row_areas_ha(src.transform, src.crs, src.shape, mode=area_mode)
        except Exception:  # noqa: BLE001 - no area, no figure: the report says so
            return None
        ha, total = 0.0, 0.0
        for _, win in src.block_windows(1):
            block = src.read(1, window=win).astype(np.float64)
            ok = np.isfinite(block)
            r = slice(win.row_off, win.row_off + win.height)
            if rows is not None:
                area = np.broadcast_to(rows[r][:, None], block.shape)
            else:
                area = ellipsoidal_area_ha(src.transform, src.crs, r,
                                           slice(win.col_off, win.col_off + win.width))
            ha += float(area[ok].sum())
            total += float((block[ok] * area[ok]).sum())
    return ha, total


def excluded_by_service(tidy: pd.DataFrame | None) -> pd.DataFrame | None:
    """Pixels (and ha) left out of each service for nodata, summed over land types."""
    if tidy is None or "excluded_pixels" not in tidy:
        return None
    per_lt = (tidy.groupby(["service", "land_type"], sort=False)[["excluded_pixels", "excluded_ha"]]
              .max().reset_index())
    out = per_lt.groupby("service", sort=False)[["excluded_pixels", "excluded_ha"]].sum()
    out = out.reset_index()
    out["excluded_pixels"] = out["excluded_pixels"].round().astype("int64")
    return out


def land_type_per_ha(by_land_type: pd.DataFrame) -> pd.DataFrame:
    """Per land type (rows of ``gep_by_land_type.csv``, the total last): area (ha), GEP
    (yuan a⁻¹) and GEP per hectare (yuan ha⁻¹ a⁻¹), then each service's value per hectare
    (yuan ha⁻¹ a⁻¹); per-hectare figures are empty for a land type of no area."""
    area = by_land_type["area_ha"].astype(float)
    ok = area > 0
    safe = area.where(ok, 1.0)
    out = pd.DataFrame({"land_type": by_land_type["land_type"], "area_ha": area,
                        "gep_yuan_a-1": by_land_type["gep"].astype(float)})
    out["gep_per_ha_yuan_ha-1_a-1"] = np.where(ok, out["gep_yuan_a-1"] / safe, np.nan)
    for col in [c for c in by_land_type.columns if c.endswith("_value")]:
        out[f"{col}_per_ha_yuan_ha-1_a-1"] = np.where(ok, by_land_type[col].astype(float) / safe,
                                                      np.nan)
    return out.reset_index(drop=True)



def zone_totals(by_zone: pd.DataFrame) -> pd.DataFrame:
    """Per zone (rows of ``services_by_zone.csv``): its attributes, rasterised area (ha), GEP
    (yuan a⁻¹), GEP per hectare of that area (yuan ha⁻¹ a⁻¹; empty for a zone with no valid
    pixel) and each service's value (yuan a⁻¹) with its value per hectare (yuan ha⁻¹ a⁻¹), all
    summed over land types."""
    keys = ["zone_layer", "zone_id"]
    attrs = [c for c in by_zone.columns if c.startswith("zone_") and c not in keys]
    values = by_zone[by_zone["measure"] == "value"]
    wide = (values.pivot_table(index=keys, columns="service", values="amount", aggfunc="sum",
                               sort=False)
            if len(values) else pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=keys)))
    head = by_zone.groupby(keys, sort=False)[attrs + ["rasterised_area_ha"]].first()
    out = head.join(wide, how="left").reset_index()
    area = out["rasterised_area_ha"]
    gep = out["gep"] if "gep" in out else pd.Series(np.nan, index=out.index)
    table = out[keys + attrs].copy()
    table["area_ha"] = area
    table["gep_yuan_a-1"] = gep
    with np.errstate(divide="ignore", invalid="ignore"):
        table["gep_per_ha_yuan_ha-1_a-1"] = np.where(area > 0, gep / area.where(area > 0, 1.0),
                                                     np.nan)
        for s in [c for c in wide.columns if c != "gep"]:
            table[f"{s}_value_yuan_a-1"] = out[s]
            table[f"{s}_value_per_ha_yuan_ha-1_a-1"] = np.where(
                area > 0, out[s] / area.where(area > 0, 1.0), np.nan)
    return table




def land_use_total(land_use: pd.DataFrame | None) -> float | None:
    """The classified area (ha) of a ``land_use.csv``: its ``total`` row, or the sum."""
    if land_use is None or "area_ha" not in land_use:
        return None
    tot = land_use[land_use["land_type"] == "total"]
    return float(tot["area_ha"].iloc[0]) if len(tot) else float(land_use["area_ha"].sum())



def land_type_change_per_ha(change_by_land_type: pd.DataFrame) -> pd.DataFrame:
    """GEP of each land type before and after (yuan a⁻¹), its area (ha) and GEP per hectare
    (yuan ha⁻¹ a⁻¹) in each scenario, from ``change_by_land_type.csv``'s GEP rows."""
    gep = change_by_land_type[(change_by_land_type["service"] == "gep")
                              & (change_by_land_type["measure"] == "value")]
    out = pd.DataFrame({"land_type": gep["land_type"],
                        "area_ha_before": gep["area_ha_before"].astype(float),
                        "gep_before_yuan_a-1": gep["before"].astype(float),
                        "area_ha_after": gep["area_ha_after"].astype(float),
                        "gep_after_yuan_a-1": gep["after"].astype(float)})
    for scen in ("before", "after"):
        area = out[f"area_ha_{scen}"]
        out[f"gep_per_ha_{scen}_yuan_ha-1_a-1"] = np.where(
            area > 0, out[f"gep_{scen}_yuan_a-1"] / area.where(area > 0, 1.0), np.nan)
    return out.reset_index(drop=True)




def zone_change_table(change_by_zone: pd.DataFrame) -> pd.DataFrame:
    """GEP of each zone before and after (yuan a⁻¹), its change, and GEP per hectare of each
    scenario's zone area (yuan ha⁻¹ a⁻¹), from ``change_by_zone.csv``'s GEP rows."""
    rows = change_by_zone
    gep = rows[(rows["service"] == "gep") & (rows["measure"] == "value")]
    table = gep[["zone_layer", "zone_id", "area_ha_before", "area_ha_after"]].copy()
    table["gep_before_yuan_a-1"] = gep["before"]
    table["gep_after_yuan_a-1"] = gep["after"]
    table["change_yuan_a-1"] = gep["change"]
    table["change_pct"] = gep["change_pct"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in ("before", "after"):
            area = gep[f"area_ha_{s}"]
            table[f"gep_per_ha_{s}_yuan_ha-1_a-1"] = np.where(
                area > 0, gep[s] / area.where(area > 0, 1.0), np.nan)
    return table.reset_index(drop=True)
