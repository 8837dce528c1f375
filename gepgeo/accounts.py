"""Accounting tables from the kernel's float64 totals (OUTPUTS.md, "Table columns").

:func:`tidy_table` is the master table, one row per service × land type × measure; the wide
tables (:func:`gep_by_service`, :func:`gep_by_land_type`, :func:`land_use_table`) are views of it.
All money is in yuan a⁻¹; shares are percent of the table GEP (the sum of the service totals).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import kernel as K
from .services import MEASURES, METHOD, SERVICE_INDEX, SERVICES

__all__ = ["TIDY_COLUMNS", "tidy_table", "gep_by_service", "gep_by_land_type",
           "land_use_table", "measures_in_use", "without_values"]

TIDY_COLUMNS = ["service", "category", "land_type", "measure", "amount", "unit", "area_ha",
                "excluded_pixels", "excluded_ha"]
_CATEGORY = {s.name: s.category for s in SERVICES}


def measures_in_use(services: Sequence[str], modes: np.ndarray) -> list[int]:
    """Indices of the measures that the enabled services produce under the formula ``modes``
    (the measures some declared step sets, :meth:`gepgeo.services.Method.measures_in_use`)."""
    return METHOD.measures_in_use(services, modes)


def tidy_table(totals: np.ndarray, land_types: Sequence[str], services: Sequence[str],
               modes: np.ndarray) -> pd.DataFrame:
    """The master table: one row per service × land type × measure, plus GEP per land type.

    Parameters
    ----------
    totals : float64[nclass, N_COLUMNS]
        Reduced accumulators (``Dataset["totals"]``).
    land_types : sequence of str
        Land types in class order.
    services : sequence of str
        Enabled services.
    modes : int64 array
        Formula variants of the run (decides which optional measures exist).
    """
    rows = []
    meas = measures_in_use(services, modes)
    for c, lt in enumerate(land_types):
        area = totals[c, K.COL_AREA]
        for k in meas:
            m = MEASURES[k]
            s = SERVICE_INDEX[m.service]
            rows.append((m.service, _CATEGORY[m.service], lt, m.name, totals[c, k], m.unit,
                         area, int(round(totals[c, K.COL_EXCL_N + s])),
                         totals[c, K.COL_EXCL_HA + s]))
        # GEP leaves out the pixels where its map is nodata: where any service is (the union
        # of the services' excluded pixels, not the largest of their counts)
        rows.append(("gep", "total", lt, "value", totals[c, K.GEP_COLUMN], "yuan a-1", area,
                     int(round(totals[c, K.COL_GEP_NODATA_N])), totals[c, K.COL_GEP_NODATA_HA]))
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def _total(values: Iterable[float]) -> float:
    """Correctly rounded sum (:func:`math.fsum`) of the values that are not NaN (0 if none),
    as pandas' ``sum`` skips NaN."""
    return math.fsum(v for v in values if not math.isnan(v))


def _share(x: float, total: float) -> float:
    return float(100.0 * x / total) if total else float("nan")


def gep_by_service(tidy: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 4 in substance: per service and measure, the total and its share of GEP.

    Category subtotals (provisioning / regulating / cultural) and the GEP total follow the
    service rows. Sums are :func:`math.fsum` over the non-NaN amounts (correctly rounded, so
    independent of the order of the land types): plain Python over the table's ~100 rows, in a
    tenth of the time of the equivalent pandas group-by.
    """
    groups: dict[tuple[str, str, str, str], list[float]] = {}
    cat_values: dict[str, list[float]] = {"provisioning": [], "regulating": [], "cultural": []}
    values: list[float] = []
    for svc, cat, measure, unit, amount in zip(tidy.service.tolist(), tidy.category.tolist(),
                                               tidy.measure.tolist(), tidy.unit.tolist(),
                                               tidy.amount.tolist()):
        if svc == "gep":
            continue
        groups.setdefault((svc, cat, measure, unit), []).append(amount)
        if measure == "value":
            values.append(amount)
            cat_values.setdefault(cat, []).append(amount)
    gep = _total(values)
    rows = []
    for (svc, cat, measure, unit), amounts in groups.items():
        total = _total(amounts)
        rows.append((svc, cat, measure, unit, total,
                     _share(total, gep) if unit == "yuan a-1" else np.nan))
    for cat in ("provisioning", "regulating", "cultural"):
        v = _total(cat_values[cat])
        rows.append(("subtotal", cat, "value", "yuan a-1", v, _share(v, gep)))
    rows.append(("gep", "total", "value", "yuan a-1", gep, 100.0 if gep else np.nan))
    return pd.DataFrame(rows, columns=["service", "category", "measure", "unit", "amount",
                                       "share_of_gep_pct"])


def gep_by_land_type(tidy: pd.DataFrame) -> pd.DataFrame:
    """Paper Tables 5–6 in substance: value of each service per land type, GEP, share, rank.

    A service that has no value row for a land type is left empty (NaN) there; GEP sums the
    values present (:func:`math.fsum`, NaN skipped).
    """
    order: dict[str, float] = {}           # land type -> area, in table order
    cells: dict[tuple[str, str], list[float]] = {}
    present: set[str] = set()
    for svc, lt, measure, amount, area in zip(tidy.service.tolist(), tidy.land_type.tolist(),
                                              tidy.measure.tolist(), tidy.amount.tolist(),
                                              tidy.area_ha.tolist()):
        if math.isnan(order.get(lt, math.nan)):   # the first area given (pandas' first())
            order[lt] = area
        if measure == "value" and svc != "gep":
            cells.setdefault((lt, svc), []).append(amount)
            present.add(svc)
    svc_order = [s.name for s in SERVICES if s.name in present]
    cols = {f"{s}_value": [_total(cells[(lt, s)]) if (lt, s) in cells else np.nan
                           for lt in order] for s in svc_order}
    gep = [_total(row) for row in zip(*cols.values())] if cols else [0.0] * len(order)
    total = _total(gep)
    out = pd.DataFrame({"land_type": list(order), "area_ha": list(order.values()), **cols,
                        "gep": gep, "share_of_gep_pct": [_share(v, total) for v in gep]})
    out["rank"] = out.gep.rank(ascending=False, method="min").astype(int)
    tot: dict[str, object] = {"land_type": "total", "area_ha": _total(order.values())}
    for col in list(cols) + ["gep"]:
        tot[col] = _total(out[col].tolist())
    tot["share_of_gep_pct"] = 100.0 if total else np.nan
    tot["rank"] = pd.NA
    return pd.concat([out, pd.DataFrame([tot])], ignore_index=True)


def land_use_table(totals: np.ndarray, land_types: Sequence[str],
                   codes: Mapping[int, str]) -> pd.DataFrame:
    """Paper Table 1 in substance: pixels, area (ha) and share of each land type."""
    area = totals[:, K.COL_AREA]
    pixels = totals[:, K.COL_PIXELS]
    total = float(area.sum())
    rows = []
    for c, lt in enumerate(land_types):
        cs = ",".join(str(k) for k, v in codes.items() if v == lt)
        rows.append((lt, cs, int(round(pixels[c])), float(area[c]), _share(area[c], total)))
    rows.append(("total", "", int(round(pixels.sum())), total, 100.0 if total else np.nan))
    return pd.DataFrame(rows, columns=["land_type", "codes", "pixels", "area_ha", "share_pct"])


def without_values(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` without its money rows (unit yuan a⁻¹: values, subtotals, GEP): the tables of
    a run without valuation (``valuation: false``) hold physical quantities only."""
    return table[table["unit"] != "yuan a-1"].reset_index(drop=True)
