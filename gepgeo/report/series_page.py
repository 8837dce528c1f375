"""A series' ``report.html`` (``DIR/series/report.html``, ``templates/series.html.j2``).

Built from the series folder's files only (``series/manifest.json``, ``series/tables/*.csv``,
``series/maps/gep_change.tif`` and each year's ``maps/gep.tif`` and land use): GEP per year
stacked by service (at current prices and, when the series has them, at constant prices), the
land-use shares per year, the quantity / price decomposition of the change, the first-to-last
change map of GEP beside the first and last years' maps, and every table (linked to its CSV).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .. import __version__
from ..i18n import label, t
from .figures import chart, png_uri, qualitative, read_land_use
from .mapsvg import comparison_svg
from .files import read_json, read_manifest, write_text
from .format import MONEY_UNIT, money_label, name_label
from .render import csv_block, render, report_context, report_lang

__all__ = ["build_series_report", "write_series_report", "gep_by_year_figure",
           "land_use_shares_figure", "decomposition_figure"]

#: Titles of the series tables, by file stem (transitions and extent accounts by prefix).
_TITLES = {"gep_by_year": "GEP by year, service and measure",
           "land_use_by_year": "Land use by year",
           "decomposition": "Change split into quantity and price effects"}


def write_series_report(out: Path, lang: str | None = None) -> Path:
    """Write ``out/series/report.html`` for the series folder ``out``.

    Parameters
    ----------
    out : Path
        The output of ``gepgeo series`` (``<year>/`` folders and ``series/``).
    lang : {"en", "zh"}, optional
        The report's language; by default the first year's ``options.report_lang``.
    """
    out = Path(out)
    return write_text(out / "series" / "report.html", build_series_report(out, lang))


def build_series_report(out: Path, lang: str | None = None) -> str:
    """The HTML of a series' report (see :func:`write_series_report`)."""
    out = Path(out)
    sm = read_json(out / "series" / "manifest.json")
    years = [int(y) for y in sm.get("years", [])]
    runs = {y: read_manifest(out / str(y) / "manifest.json") for y in years
            if (out / str(y) / "manifest.json").is_file()}
    code = lang or report_lang(runs.get(years[0], {}) if years else {})
    with report_context(code):
        return _build(out, sm, years, runs)


def _service_order(runs: Mapping[int, Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(s for m in runs.values() for s in m.get("services", [])))


def _build(out: Path, sm: Mapping[str, Any], years: list[int],
           runs: Mapping[int, Mapping[str, Any]]) -> str:
    series = out / "series"
    tables = series / "tables"
    gby = pd.read_csv(tables / "gep_by_year.csv", dtype={"price_year": str})
    order = _service_order(runs)
    gep = gby[gby.service == "gep"].set_index("year")
    constant = "constant_amount" in gby.columns
    basis = str(sm.get("price_basis", "current"))
    first, last = years[0], years[-1]
    g0, g1 = float(gep.amount.get(first, np.nan)), float(gep.amount.get(last, np.nan))
    gep_src = png_uri(chart(lambda: gep_by_year_figure(gby, order, basis)))
    luy = pd.read_csv(tables / "land_use_by_year.csv")
    colours: dict[str, str] = {}
    for y, m in runs.items():
        colours.update({k: c for k, c in read_land_use(out / str(y), m).colours.items()
                        if k not in colours})
    lu_src = png_uri(chart(lambda: land_use_shares_figure(luy, colours)))
    dec_path = tables / "decomposition.csv"
    dec = pd.read_csv(dec_path) if dec_path.is_file() else None
    dec_src = png_uri(chart(lambda: decomposition_figure(dec))) if dec is not None else None
    change_src = None
    rel = dict(sm.get("maps", {})).get("gep_change")
    if rel and all((out / str(y) / "maps" / "gep.tif").is_file() for y in (first, last)):
        change_src = comparison_svg(
            name_label("gep"), out / str(first) / "maps" / "gep.tif",
            out / str(last) / "maps" / "gep.tif", series / rel,
            titles=(str(first), str(last), f"{last} − {first}"))
    nav = [("summary", t("Summary")), ("gep", t("GEP by year")), ("land-use", t("Land use")),
           ("change", t("Change"))]
    nav += [("decomposition", t("Decomposition"))] if dec is not None else []
    nav += [("tables", t("Tables"))]
    blocks = []
    for rel_t in sm.get("tables", []):
        stem = Path(rel_t).stem
        if stem.startswith("transition_"):
            a, b = stem.removeprefix("transition_").split("_")
            title = t("Land-use transition matrix {a} → {b} (ha)", a=a, b=b)
        elif stem.startswith("extent_account_"):
            a, b = stem.removeprefix("extent_account_").split("_")
            title = t("Extent account {a} → {b} (SEEA-EA, ha)", a=a, b=b)
        else:
            title = t(_TITLES.get(stem, stem))
        blocks.append(csv_block(series, rel_t, title))
    years_text = ", ".join(sorted({p for p in gby.price_year.dropna() if p}))
    return render(
        "series.html.j2", title=t("gepgeo series: {a}–{b}", a=first, b=last), nav=nav,
        years=years, first=first, last=last, basis=basis, price_years=years_text or "unknown",
        gep_first=g0, gep_last=g1, change=g1 - g0,
        change_text=f"{(g1 - g0) / MONEY_UNIT:+,.2f}",
        const_first=float(gep.constant_amount.get(first, np.nan)) if constant else None,
        const_last=float(gep.constant_amount.get(last, np.nan)) if constant else None,
        gep_src=gep_src, lu_src=lu_src, dec_src=dec_src, change_src=change_src,
        change_rel=rel, decomposition=sm.get("decomposition", ""),
        deflator=(sm.get("deflator") or {}).get("path", ""),
        gepgeo_version=sm.get("gepgeo_version", __version__), tables=blocks,
        reports=[(y, f"../{y}/report.html") for y in years
                 if (out / str(y) / "report.html").is_file()])


# --- charts ------------------------------------------------------------------------------------

def _money_axis(ax: Any) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 10
                                               else f"{v:g}"))
    ax.tick_params(labelsize=8)


def _stack(ax: Any, table: pd.DataFrame, column: str, years: Sequence[int],
           order: Sequence[str]) -> list[Any]:
    """Bars per year, one segment per service (value, 10⁴ yuan a⁻¹); returns the handles."""
    x = np.arange(len(years))
    pos = np.zeros(len(years))
    neg = np.zeros(len(years))
    colours = qualitative(len(order))
    handles = []
    for i, s in enumerate(order):
        rows = table[(table.service == s) & (table.measure == "value")].set_index("year")
        vals = np.array([float(rows[column].get(y, 0.0)) for y in years]) / MONEY_UNIT
        vals = np.nan_to_num(vals)
        bottom = np.where(vals >= 0, pos, neg)
        handles.append(ax.bar(x, vals, bottom=bottom, color=colours[i], label=label(s),
                              edgecolor="white", linewidth=0.4))
        pos += np.where(vals >= 0, vals, 0)
        neg += np.where(vals < 0, vals, 0)
    ax.set_xticks(x, [str(y) for y in years], fontsize=8)
    _money_axis(ax)
    return handles


def gep_by_year_figure(gby: pd.DataFrame, order: Sequence[str], basis: str) -> Figure:
    """GEP per year stacked by service: current prices, and constant prices when present."""
    years = sorted(int(y) for y in gby.year.unique())
    services = [s for s in order if s in set(gby.service)] + [
        s for s in dict.fromkeys(gby.service) if s not in order and s not in ("subtotal", "gep")]
    constant = "constant_amount" in gby.columns
    fig = Figure(figsize=(11 if constant else 7.5, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True) if constant else [fig.add_subplot()]
    _stack(axes[0], gby, "amount", years, services)
    axes[0].set_title(t("GEP by year, current prices"), fontsize=10)
    axes[0].set_ylabel(t("value ({unit})", unit=money_label()), fontsize=9)
    if constant:
        base = basis.partition(":")[2]
        _stack(axes[1], gby, "constant_amount", years, services)
        axes[1].set_title(t("GEP by year, at {year} prices", year=base), fontsize=10)
    axes[-1].legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def land_use_shares_figure(luy: pd.DataFrame, colours: Mapping[str, str]) -> Figure:
    """Share of each land type in the valid area, per year (%)."""
    lu = luy[luy.land_type != "total"]
    years = sorted(int(y) for y in lu.year.unique())
    types = list(dict.fromkeys(lu.land_type))
    fallback = iter(qualitative(len(types)))
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(years))
    bottom = np.zeros(len(years))
    for lt in types:
        rows = lu[lu.land_type == lt].set_index("year")
        vals = np.array([float(rows.share_pct.get(y, 0.0)) for y in years])
        ax.bar(x, vals, bottom=bottom, color=colours.get(lt) or next(fallback),
               label=label(lt, land_type=True), edgecolor="white", linewidth=0.4)
        bottom += vals
    ax.set_xticks(x, [str(y) for y in years], fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel(t("share of the valid area (%)"), fontsize=9)
    ax.set_title(t("Land-use shares by year"), fontsize=10)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def decomposition_figure(dec: pd.DataFrame) -> Figure:
    """Per pair of years: GEP's change and its quantity and price effects (10⁴ yuan a⁻¹)."""
    g = dec[dec.service == "gep"]
    pairs = [f"{a}→{b}" for a, b in zip(g.from_year, g.to_year)]
    y = np.arange(len(pairs))
    fig = Figure(figsize=(8.5, 0.9 * len(pairs) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    parts = (("quantity_effect", "#2b8cbe", t("quantity effect")),
             ("price_effect", "#d9922e", t("price effect")),
             ("change", "#555555", t("change")))
    for i, (col, colour, text) in enumerate(parts):
        vals = g[col].to_numpy(dtype=float) / MONEY_UNIT
        bars = ax.barh(y + (i - 1) * 0.27, vals, height=0.26, color=colour, label=text)
        ax.bar_label(bars, labels=[f"{v:+,.2f}" for v in vals], padding=3, fontsize=7)
    ax.set_yticks(y, pairs, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#444444", linewidth=0.6)
    ax.margins(x=0.2)
    ax.set_xlabel(t("value ({unit})", unit=money_label()), fontsize=9)
    ax.set_title(t("Change of GEP: quantity and price effects"), fontsize=10)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig

