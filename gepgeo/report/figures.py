"""The report's charts, drawn with matplotlib and embedded as base64 PNG, and what the maps
share with them.

Charts: value by service, by land type, and the change by service. The maps themselves are
inline SVG (:mod:`gepgeo.report.mapsvg`); they take their colour scales (:func:`value_scale`,
:func:`diverging_scale`), CRS labels (:func:`crs_labels`) and land-use classes and colours
(:func:`read_land_use`) from here.

Figures use matplotlib's object API (:class:`matplotlib.figure.Figure`, Agg, no pyplot state);
:func:`png_uri` runs a figure's layout once at the dpi it is saved at and returns a
``data:image/png;base64,...`` URI. Chart text is in the chart language (:func:`chart`,
:func:`gepgeo.i18n.chart_lang`). Map axes name the CRS as the file does, without searching the
PROJ database (seconds per map for a WKT without an EPSG code).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..i18n import charts, label, parameter_label, t
from ..styles import Overview, read_overview
from .format import MONEY_UNIT, money_label
from .tables import service_values

__all__ = [
    "CATEGORY_COLOURS",
    "NODATA_GREY",
    "CrsLabels",
    "LandUse",
    "chart",
    "change_by_service_figure",
    "diverging_scale",
    "png_uri",
    "read_land_use",
    "sensitivity_figure",
    "value_by_land_type_figure",
    "value_by_service_figure",
    "value_scale",
]

#: Axes background: where a map is nodata (NaN is transparent) it shows this grey.
NODATA_GREY = "#d4d4d4"
CATEGORY_COLOURS = {"provisioning": "#d9922e", "regulating": "#3a7dbf", "cultural": "#9b59b6"}


def chart(make: Callable[[], Figure]) -> Figure:
    """``make()`` with chart text in the chart language (:func:`gepgeo.i18n.chart_lang`)."""
    with charts():
        return make()


def _freeze_layout(fig: Figure, dpi: float) -> None:
    """Run the figure's layout engine now, at the ``dpi`` it will be saved at, and remove it.

    ``savefig`` of a figure with a layout engine draws it twice: once, without rendering, to
    run the layout (every image resampled, every text laid out), then for real. Running the
    engine alone gives the same positions (the layout is the first thing either draw does),
    and the figure is then drawn once. A figure at another dpi keeps its engine.
    """
    engine = fig.get_layout_engine()
    if engine is None or fig.dpi != dpi:
        return
    engine.execute(fig)
    fig.set_layout_engine(None)


def png_uri(fig: Figure, *, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    _freeze_layout(fig, dpi)
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class CrsLabels:
    """Name of a CRS and the axis labels of a map drawn in it."""

    name: str
    x: str
    y: str


def crs_labels(crs: Any) -> CrsLabels:
    """``WGS 84 / UTM zone 48N (EPSG:32648)``, ``easting (m)``, ``northing (m)``.

    The EPSG code is the one the CRS carries (its WKT ``ID``/``AUTHORITY``): no search of the
    PROJ database, which took seconds per map for a WKT without a code (an NLCD Albers grid), and
    one parse per distinct CRS (:func:`_crs_facts` is cached).
    """
    if crs is None:
        return CrsLabels(t("no CRS"), "x", "y")
    try:
        text = crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs)
    except Exception:  # noqa: BLE001  # pragma: no cover - a CRS rasterio cannot write as WKT
        return CrsLabels(str(crs), "x", "y")
    name, geographic, unit = _crs_facts(text)
    if geographic:
        return CrsLabels(name, t("longitude (°)"), t("latitude (°)"))
    unit = t(unit) if unit in ("m", "ft") else unit
    return CrsLabels(name, t("easting ({unit})", unit=unit), t("northing ({unit})", unit=unit))


@lru_cache(maxsize=32)
def _crs_facts(text: str) -> tuple[str, bool, str]:
    """(name with the code the CRS carries, geographic?, linear unit) of a CRS's WKT."""
    from pyproj import CRS

    try:
        pc = CRS.from_user_input(text)
    except Exception:  # noqa: BLE001  # pragma: no cover - a CRS pyproj cannot parse
        return text[:80], False, ""
    ident = pc.to_json_dict().get("id") or {}
    code = f"{ident.get('authority')}:{ident.get('code')}" if ident.get("code") else ""
    name = f"{pc.name} ({code})" if code else pc.name
    unit = pc.axis_info[0].unit_name if pc.axis_info else ""
    unit = {"metre": "m", "meter": "m", "foot": "ft", "US survey foot": "ftUS"}.get(unit, unit)
    return name, bool(pc.is_geographic), unit


def _finite_range(arrays: Iterable[np.ndarray]) -> tuple[float, float] | None:
    """(min, max) of the finite values of all ``arrays``; None if there is none."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        f = a[np.isfinite(a)]
        if f.size:
            lo, hi = min(lo, float(f.min())), max(hi, float(f.max()))
    return None if lo > hi else (lo, hi)


@lru_cache(maxsize=8)
def _transparent_bad(name: str) -> Colormap:
    """matplotlib's colour map ``name`` with NaN transparent: one instance, shared by every
    figure (never modified), so its lookup table is built once rather than once per map."""
    return colormaps[name].with_extremes(bad=(0, 0, 0, 0))


def value_scale(arrays: Iterable[np.ndarray]) -> tuple[Colormap, Normalize]:
    """One colour scale for all ``arrays``: viridis from min to max, or a diverging red–blue
    scale symmetric about 0 if the values change sign (e.g. ``water_deficit: signed``)."""
    rng = _finite_range(arrays)
    if rng is None:
        return _transparent_bad("viridis"), Normalize(0.0, 1.0)
    lo, hi = rng
    if lo < 0 < hi:
        return diverging_scale(max(-lo, hi))
    if lo == hi:
        hi = lo + 1.0
    return _transparent_bad("viridis"), Normalize(lo, hi)


def diverging_scale(magnitude: float) -> tuple[Colormap, Normalize]:
    """Red (loss) – white – blue (gain), symmetric about 0 from ``-magnitude`` to ``magnitude``."""
    m = magnitude if magnitude and math.isfinite(magnitude) else 1.0
    return _transparent_bad("RdBu"), Normalize(-m, m)


# --- land use -------------------------------------------------------------------------------

@dataclass
class LandUse:
    """The land-use raster of a run, its classes and their colours.

    Attributes
    ----------
    codes : dict
        Raster code → land type (the pipeline's mapping, from the manifest).
    types : list of str
        Land types in the order of their first code.
    colours : dict
        Land type → hex colour (the raster's colour table if it has one, else tab10/tab20).
    overview : Overview or None
        Decimated raster, None if it could not be read (``problem`` says why).
    path : Path
    problem : str
    nodata : list of float
        Every value that is nodata in the run (the file's and the pipeline's): not drawn as
        a land type even where the mapping also names it.
    """

    codes: dict[int, str]
    types: list[str]
    colours: dict[str, str]
    overview: Overview | None
    path: Path
    problem: str = ""
    nodata: list[float] = field(default_factory=list)

    def codes_of(self, land_type: str) -> list[int]:
        """The raster codes of ``land_type``."""
        return [c for c, lt in self.codes.items() if lt == land_type]


def qualitative(n: int) -> list[str]:
    """``n`` distinct colours (tab10, or tab20 beyond 10), as hex."""
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(n)]


def read_land_use(run_dir: Path, manifest: Mapping[str, Any]) -> LandUse:
    """Read the land-use raster of a run (decimated) and choose its class colours."""
    codes = {int(k): str(v) for k, v in manifest.get("land_use", {}).get("codes", {}).items()}
    types = list(dict.fromkeys(codes[c] for c in sorted(codes)))
    raw = manifest.get("inputs", {}).get("land_use", {}).get("path", "")
    path = Path(raw) if raw else Path()
    if raw and not path.is_absolute():
        path = run_dir / path
    ov, problem = None, ""
    if not raw:
        problem = t("the manifest names no land-use raster")
    elif not path.is_file():
        problem = t("the land-use raster {path} is not there any more", path=path)
    else:
        try:
            ov = read_overview(path)
        except (OSError, rasterio.errors.RasterioError) as exc:
            problem = t("cannot read the land-use raster {path}: {exc}", path=path, exc=exc)
    fallback = dict(zip(types, qualitative(len(types))))
    colours = {}
    table = ov.colormap if ov is not None else None
    for lt in types:
        rgba = None
        if table:
            for c in sorted(codes):
                if codes[c] == lt and c in table:
                    rgba = table[c]
                    break
        if rgba is not None and rgba[3] > 0 and tuple(rgba[:3]) != (0, 0, 0):
            colours[lt] = to_hex((rgba[0] / 255, rgba[1] / 255, rgba[2] / 255))
        else:
            colours[lt] = fallback[lt]
    nodata = [float(v) for v in manifest.get("land_use", {}).get("nodata", []) or []
              if v is not None]
    return LandUse(codes, types, colours, ov, path, problem, nodata)


def _class_index(lu: LandUse, types: Sequence[str]) -> np.ndarray:
    """Decimated land use as float indices into ``types`` (NaN: nodata or undeclared code)."""
    assert lu.overview is not None
    data = lu.overview.data
    idx = np.full(data.shape, np.nan)
    pos = {lt: i for i, lt in enumerate(types)}
    for code, lt in lu.codes.items():
        idx[data == code] = pos[lt]
    for v in lu.nodata:     # nodata wins over a code of the same value, as in the run
        idx[data == v] = np.nan
    return idx


# --- charts ---------------------------------------------------------------------------------

def value_by_service_figure(by_service: pd.DataFrame,
                            intervals: Mapping[str, tuple[float, float]] | None = None) -> Figure:
    """Horizontal bars of each service's value, 10⁴ yuan a⁻¹, coloured by category.

    ``intervals``: service → (5 %, 95 %) of its value over the draws (yuan a⁻¹), drawn as
    error bars (a run with ``options.uncertainty``); each bar is labelled with its point value
    and the interval.
    """
    rows = service_values(by_service)
    fig = Figure(figsize=(7.5, 0.42 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    vals = rows["amount"].to_numpy(dtype=float) / MONEY_UNIT
    colours = [CATEGORY_COLOURS.get(c, "#888888") for c in rows["category"]]
    names = [label(s) for s in rows["service"]]
    bars = ax.barh(names, vals, color=colours)
    if intervals:
        _service_error_bars(ax, rows["service"].tolist(), vals, intervals)
    else:
        ax.bar_label(bars, labels=[f"{v:,.2f}" for v in vals], padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.18)
    ax.axvline(0, color="#444444", linewidth=0.6)
    ax.set_xlabel(t("value ({unit})", unit=money_label()), fontsize=9)
    ax.set_title(t("Value by service"), fontsize=10)
    ax.tick_params(labelsize=8)
    cats = list(dict.fromkeys(rows["category"]))
    ax.legend(handles=[Patch(color=CATEGORY_COLOURS.get(c, "#888888"), label=label(c))
                       for c in cats],
              fontsize=8, loc="lower right", frameon=False)
    return fig


def _service_error_bars(ax: Axes, services: Sequence[str], vals: np.ndarray,
                        intervals: Mapping[str, tuple[float, float]]) -> None:
    """5–95 % error bars on the service bars (from the interval's centre: the point value may
    lie outside it) and, right of each, ``point [5 %–95 %]``."""
    y = np.arange(len(services))
    lo = np.array([intervals.get(s, (np.nan, np.nan))[0] for s in services]) / MONEY_UNIT
    hi = np.array([intervals.get(s, (np.nan, np.nan))[1] for s in services]) / MONEY_UNIT
    has = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    if has.any():
        ax.errorbar((lo[has] + hi[has]) / 2, y[has], xerr=(hi[has] - lo[has]) / 2, fmt="none",
                    ecolor="#222222", elinewidth=1.0, capsize=3, zorder=3)
    right = np.nanmax(np.abs(np.concatenate([vals, lo[has], hi[has]]))) if len(vals) else 1.0
    for i, v in enumerate(vals):
        end = max(v, hi[i]) if has[i] else v
        text = f"{v:,.2f}" + (f"  [{lo[i]:,.2f}–{hi[i]:,.2f}]" if has[i] else "")
        ax.text(max(end, 0.0) + 0.02 * (right or 1.0), y[i], text, va="center", fontsize=7)
    ax.set_xlim(right=max(ax.get_xlim()[1], 1.55 * (right or 1.0)))


def value_by_land_type_figure(by_land_type: pd.DataFrame, colours: Mapping[str, str],
                              intervals: Mapping[tuple[str, str], tuple[float, float]]
                              | None = None) -> Figure:
    """Stacked bars: per service, the value of each land type, 10⁴ yuan a⁻¹.

    ``intervals``: (land type, service) → (5 %, 95 %) of that value over the draws (yuan a⁻¹):
    each land type's interval is drawn as an error bar beside its segment, measured from the
    segment's base (where the segment's top would be at the 5 % and 95 % values), one slot per
    land type across the bar so that they do not overlap.
    """
    lt = by_land_type[by_land_type["land_type"] != "total"]
    cols = [c for c in by_land_type.columns if c.endswith("_value")]
    services = [c.removesuffix("_value") for c in cols]
    fig = Figure(figsize=(8.5, 4.4), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(cols))
    pos = np.zeros(len(cols))
    neg = np.zeros(len(cols))
    fallback = iter(qualitative(len(lt)))
    n_lt = max(len(lt), 1)
    for k, (_, row) in enumerate(lt.iterrows()):
        vals = row[cols].to_numpy(dtype=float) / MONEY_UNIT
        colour = colours.get(row["land_type"]) or next(fallback)
        if not np.any(vals):
            continue
        bottom = np.where(vals >= 0, pos, neg)
        ax.bar(x, vals, bottom=bottom, color=colour, label=label(row["land_type"], land_type=True),
               edgecolor="white", linewidth=0.4)
        if intervals:
            _land_type_error_bars(ax, x + 0.6 * ((k + 0.5) / n_lt - 0.5), bottom, services,
                                  str(row["land_type"]), intervals)
        pos += np.where(vals >= 0, vals, 0)
        neg += np.where(vals < 0, vals, 0)
    ax.set_xticks(x, [label(s) for s in services], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(t("value ({unit})", unit=money_label()), fontsize=9)
    ax.set_title(t("Value by land type, per service"), fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}" if abs(v) >= 10
                                               else f"{v:g}"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, title=t("land type"), title_fontsize=8, frameon=False)
    return fig


def _land_type_error_bars(ax: Axes, x: np.ndarray, bottom: np.ndarray, services: Sequence[str],
                          land_type: str,
                          intervals: Mapping[tuple[str, str], tuple[float, float]]) -> None:
    """One land type's 5–95 % error bars, from its segments' base, at ``x``."""
    lo = np.array([intervals.get((land_type, s), (np.nan, np.nan))[0] for s in services])
    hi = np.array([intervals.get((land_type, s), (np.nan, np.nan))[1] for s in services])
    lo, hi = lo / MONEY_UNIT + bottom, hi / MONEY_UNIT + bottom
    has = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    if has.any():
        ax.errorbar(x[has], (lo[has] + hi[has]) / 2, yerr=(hi[has] - lo[has]) / 2, fmt="none",
                    ecolor="#222222", elinewidth=0.8, capsize=2, zorder=3)


def sensitivity_figure(sens: pd.DataFrame, max_rows: int = 15) -> Figure:
    """Tornado chart of GEP's Sobol' indices: per uncertain parameter (rows of
    ``sensitivity.csv`` for GEP, largest total index first, at most ``max_rows``), the
    first-order and the total index side by side (dimensionless, 0–1; estimates, so a value
    a little below 0 or above 1 is sampling noise)."""
    rows = sens.head(max_rows)
    n = len(rows)
    fig = Figure(figsize=(7.5, 0.38 * n + 1.5), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)
    first = rows["first_order"].to_numpy(dtype=float)
    total = rows["total_order"].to_numpy(dtype=float)
    ax.barh(y - 0.2, total, height=0.4, color="#3a7dbf", label=t("total index"))
    ax.barh(y + 0.2, first, height=0.4, color="#d9922e", label=t("first-order index"))
    for yy, v in zip(y - 0.2, total):
        ax.text(max(v, 0.0) + 0.01, yy, f"{v:.3f}", va="center", fontsize=7)
    ax.set_yticks(y, [_parameter_label(p) for p in rows["parameter"]], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#444444", linewidth=0.6)
    ax.set_xlim(min(0.0, float(np.nanmin(np.concatenate([first, total, [0.0]])))),
                max(1.1, float(np.nanmax(np.concatenate([first, total, [0.0]]))) + 0.1))
    ax.set_xlabel(t("Sobol index of GEP (share of its variance)"), fontsize=9)
    ax.set_title(t("What drives the uncertainty of GEP"), fontsize=10)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


def _parameter_label(name: str) -> str:
    """A sample column as a chart names it: ``carbon_sequestration_rate[forest]`` →
    ``carbon sequestration rate [forest]`` (in Chinese 单位面积固碳速率 [林地]: the parameter and
    the land type in the chart language; a group's name stays as given)."""
    key, _, rest = str(name).partition("[")
    text = parameter_label(key)
    return f"{text} [{label(rest.rstrip(']'), land_type=True)}]" if rest else text


def change_by_service_figure(change: pd.DataFrame, order: Sequence[str] = (),
                             intervals: Mapping[str, tuple[float, float]] | None = None
                             ) -> Figure:
    """Before and after value of each service (grouped bars) and the change (by sign).

    ``order``: services in the order to draw them (the run's); others follow as they come.
    ``intervals``: per service, the 5 % and 95 % quantiles of the change over the draws
    (yuan a⁻¹, ``change/tables/uncertainty_change.csv``), drawn as error bars on the change.
    """
    rows = service_values(change)
    rank = {s: i for i, s in enumerate(order)}
    rows = rows.iloc[sorted(range(len(rows)),
                            key=lambda i: (rank.get(rows["service"].iloc[i], len(rank)), i))]
    services = rows["service"].tolist()
    y = np.arange(len(services))
    fig = Figure(figsize=(11, 0.5 * len(services) + 1.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    b = rows["before"].to_numpy(dtype=float) / MONEY_UNIT
    a = rows["after"].to_numpy(dtype=float) / MONEY_UNIT
    d = rows["change"].to_numpy(dtype=float) / MONEY_UNIT
    ax1.barh(y - 0.2, b, height=0.4, color="#9e9e9e", label=t("before"))
    ax1.barh(y + 0.2, a, height=0.4, color="#2b8cbe", label=t("after"))
    ax1.set_yticks(y, [label(s) for s in services], fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel(t("value ({unit})", unit=money_label()), fontsize=9)
    ax1.set_title(t("Value before and after"), fontsize=10)
    ax1.legend(fontsize=8, frameon=False, loc="lower right")
    bars = ax2.barh(y, d, color=np.where(d >= 0, "#2166ac", "#b2182b"))
    lo = np.array([(intervals or {}).get(s, (np.nan, np.nan))[0] for s in services]) / MONEY_UNIT
    hi = np.array([(intervals or {}).get(s, (np.nan, np.nan))[1] for s in services]) / MONEY_UNIT
    has = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
    if has.any():
        ax2.errorbar((lo[has] + hi[has]) / 2, y[has], xerr=(hi[has] - lo[has]) / 2,
                     fmt="none", ecolor="#222222", elinewidth=0.8, capsize=2, zorder=3)
        # each label beyond its bar and its error bar, on the side of the change
        for yy, v, a_, b_, h in zip(y, d, lo, hi, has):
            end = (max(v, b_) if v >= 0 else min(v, a_)) if h else v
            ax2.annotate(f"{v:+,.2f}", (end, yy), xytext=(3 if v >= 0 else -3, 0),
                         textcoords="offset points", ha="left" if v >= 0 else "right",
                         va="center", fontsize=8)
    else:
        ax2.bar_label(bars, labels=[f"{v:+,.2f}" for v in d], padding=3, fontsize=8)
    ax2.axvline(0, color="#444444", linewidth=0.6)
    ax2.margins(x=0.2)
    ax2.set_xlabel(t("change, after − before ({unit})", unit=money_label()), fontsize=9)
    ax2.set_title(t("Change by service"), fontsize=10)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=8)
    return fig
