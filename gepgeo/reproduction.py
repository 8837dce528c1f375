"""The Jinsha reproduction: every published figure of Xu et al. next to gepgeo's own.

Row ids follow ``gepgeo/data/jinsha_published.csv`` (Tables 1, 4, 5, 6 and figures quoted in
the text). :func:`figure` computes gepgeo's value of one row from the two runs' tidy tables;
:func:`tier` applies the agreement rule of the reference case (``docs/JINSHA.md``, "Agreement
tier"): within
0.5 % (or half a unit of the last printed digit), else within 2 %, 5 %, or more.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["figure", "tier", "reproduction_table", "published_rows", "REPRODUCTION_COLUMNS"]

REPRODUCTION_COLUMNS = ["id", "description", "unit", "paper", "gepgeo", "rel_diff", "tier",
                        "verdict", "reason"]

_SERVICE = {"agri": "agriculture", "water": "water", "soil": "soil", "air": "air",
            "carbon": "carbon", "oxygen": "oxygen", "climate": "climate",
            "cultural": "landscape"}

# Table 4 row -> (service, measure) of the tidy table
_T4 = {
    "agri_area": ("agriculture", "productive_area"), "agri_value": ("agriculture", "value"),
    "water_phys": ("water", "water_conservation"), "water_value": ("water", "value"),
    "qsr_phys": ("soil", "soil_retention"), "sediment_value": ("soil", "sediment_value"),
    "n_phys": ("soil", "n_fertilizer"), "n_value": ("soil", "n_fertilizer_value"),
    "p_phys": ("soil", "p_fertilizer"), "p_value": ("soil", "p_fertilizer_value"),
    "soil_value": ("soil", "value"),
    "so2_phys": ("air", "so2"), "so2_value": ("air", "so2_value"),
    "nox_phys": ("air", "nox"), "nox_value": ("air", "nox_value"),
    "dust_phys": ("air", "dust"), "dust_value": ("air", "dust_value"),
    "air_value": ("air", "value"),
    "co2_phys": ("carbon", "co2"), "carbon_value": ("carbon", "value"),
    "o2_phys": ("oxygen", "o2"), "oxygen_value": ("oxygen", "value"),
    "climate_phys": ("climate", "cooling_energy"), "climate_value": ("climate", "value"),
    "cultural_value": ("landscape", "value"), "gep": ("gep", "value"),
}


def published_rows(path: Path | None = None) -> list[dict[str, str]]:
    """Rows of the shipped published-figures file, in order."""
    p = path or Path(str(resources.files("gepgeo") / "data" / "jinsha_published.csv"))
    with open(p, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _sum(t: pd.DataFrame, service: str, measure: str, land_type: str | None = None) -> float:
    sel = (t.service == service) & (t.measure == measure)
    if land_type is not None:
        sel &= t.land_type == land_type
    return float(t.loc[sel, "amount"].sum())


def _area(t: pd.DataFrame, land_type: str | None = None) -> float:
    areas = t.groupby("land_type", sort=False).area_ha.first()
    return float(areas.sum() if land_type is None else areas.get(land_type, 0.0))


def _money(unit: str) -> float:
    return 1e4 if unit.startswith("1e4") else 1.0


def figure(row_id: str, unit: str, tables: Mapping[str, pd.DataFrame]) -> float:
    """gepgeo's value of a published row, in the row's unit.

    Parameters
    ----------
    row_id : str
        e.g. ``T4.after.qsr_phys``, ``T5.before.soil.forest.share``, ``T1.variation.dryland``.
    unit : str
        The row's unit (``1e4 yuan``, ``%``, ``t/a``, ...).
    tables : mapping
        ``{"before": tidy, "after": tidy}``, the ``services_by_land_type`` tables of the runs.
    """
    parts = row_id.split(".")
    head = parts[0]
    scale = _money(unit)
    if head == "T1":
        if parts[1] == "total":
            return _area(tables["before"])
        if parts[1] == "variation":
            return _area(tables["after"], parts[2]) - _area(tables["before"], parts[2])
        scen, lt = parts[1], parts[3]
        return 100.0 * _area(tables[scen], lt) / _area(tables[scen])
    if head == "T4":
        scen, item = parts[1], parts[2]
        service, measure = _T4[item]
        return _sum(tables[scen], service, measure) / scale
    if head == "T5":
        scen, svc, lt = parts[1], _SERVICE[parts[2]], parts[3]
        v = _sum(tables[scen], svc, "value", lt)
        if len(parts) == 5 and parts[4] == "share":
            return 100.0 * v / _sum(tables[scen], "gep", "value")
        return v / scale
    if head == "T6":
        scen, what = parts[1], parts[2]
        gep = _sum(tables[scen], "gep", "value")
        if what == "total":
            return gep / scale
        v = _sum(tables[scen], "gep", "value", what)
        if len(parts) == 4 and parts[3] == "share":
            return 100.0 * v / gep
        return v / scale
    if head == "text":
        kind = parts[1]
        if kind == "gep_increase":
            return (_sum(tables["after"], "gep", "value")
                    - _sum(tables["before"], "gep", "value")) / scale
        scen = parts[2]
        if kind == "mining_share":
            return 100.0 * _area(tables[scen], "mining") / _area(tables[scen])
        svc = {"soil_share": "soil", "climate_share": "climate"}[kind]
        return 100.0 * _sum(tables[scen], svc, "value") / _sum(tables[scen], "gep", "value")
    raise KeyError(f"unknown published row id {row_id!r}")


def _half_unit(printed: str) -> float:
    text = printed.replace(",", "").strip()
    if "." in text:
        return 0.5 * 10.0 ** (-len(text.split(".")[1]))
    return 0.5


def tier(printed: str, value: float) -> str:
    """Agreement tier of ``value`` with a printed figure (docs/JINSHA.md, "Agreement tier")."""
    paper = float(printed.replace(",", ""))
    diff = value - paper
    if abs(diff) <= _half_unit(printed) + 1e-12:
        return "<=0.5%"
    rel = abs(diff / paper) if paper else math.inf
    for limit, name in ((0.005, "<=0.5%"), (0.02, "<=2%"), (0.05, "<=5%")):
        if rel <= limit:
            return name
    return ">5%"


def reproduction_table(tables: Mapping[str, pd.DataFrame],
                       rows: list[dict[str, str]] | None = None) -> pd.DataFrame:
    """Every published row with gepgeo's value, relative difference, tier, verdict, reason."""
    out = []
    for row in rows if rows is not None else published_rows():
        value = figure(row["id"], row["unit"], tables)
        paper = float(row["paper"].replace(",", ""))
        rel = (value - paper) / paper if paper else (0.0 if value == 0 else math.inf)
        out.append({"id": row["id"], "description": row["description"], "unit": row["unit"],
                    "paper": row["paper"], "gepgeo": value, "rel_diff": rel,
                    "tier": tier(row["paper"], value), "verdict": row["verdict"],
                    "reason": row.get("reason", "")})
    return pd.DataFrame(out, columns=REPRODUCTION_COLUMNS)
