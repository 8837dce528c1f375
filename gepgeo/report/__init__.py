"""``report.html``: one self-contained page per output folder.

A run folder's report is built from that folder's files only (``manifest.json``, ``tables/*.csv``,
``maps/*.tif``, and the land-use raster named in the manifest): the GEP headline and price year,
the land-use map, a map of GEP and of every other density map, value by service and by land type,
every table (linked to its CSV), the pixel counts (nodata, unmapped, out of domain, clamped,
excluded per service), the warnings, and every resolved parameter with its source.

A comparison's report (``DIR/change/report.html``) sets the before and after maps side by side on
shared colour scales with the difference map (diverging, symmetric about 0), charts the change by
service, shows the change tables, and, for the Jinsha demo, the reproduction of Xu et al.

Figures are drawn with matplotlib's object API (:class:`matplotlib.figure.Figure`, Agg, no
pyplot state) from decimated reads (longest side ≤ :data:`gepgeo.styles.MAX_SIDE` pixels), and
embedded as base64 PNG; the page has inline CSS and no external resource. A tiny inline script
records on load whether every image decoded (``<body data-images-ok="true">``), for the browser
test. Files are written to a temporary file in the same folder and renamed into place.

The report is in English or Chinese (``lang``, or the run's ``options.report_lang``): every text
goes through :func:`gepgeo.i18n.t` and :func:`gepgeo.i18n.label`; the CSV files it links stay
English. Per-hectare figures stand beside totals (by land type, by zone); change tables are shown
in the method's service order with rounding noise as 0 (:func:`change_rows`); the price year is
counted over the resolved prices (:func:`price_year_counts`). Map axes name the CRS as the file
does, without searching the PROJ database (seconds per map for a WKT without an EPSG code).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import html
import io
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap, Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, ScalarFormatter

from .. import __version__
from .._files import atomic_write_text
from ..errors import DiskSpaceError, GepgeoError, InputFileError, OutputError
from ..i18n import (
    chart_lang,
    charts,
    cjk_font,
    html_lang,
    label,
    lang,
    t,
    unit_zh,
    use_lang,
)
from ..styles import MAX_SIDE, Overview, Previews, preview_of, read_overview

__all__ = ["pretty_unit", "write_compare_report", "write_report", "write_run_report"]

#: Money in charts and headlines: 10⁴ yuan (the unit of the Chinese GEP literature).
MONEY_UNIT = 1.0e4
MONEY_LABEL = "10⁴ yuan a⁻¹"
#: Rows of a table rendered in the page (the linked CSV has them all).
TABLE_ROWS = 300
#: Tables longer than this are folded into a <details> element.
LONG_TABLE = 40
#: Axes background: where a map is nodata (NaN is transparent) it shows this grey.
NODATA_GREY = "#d4d4d4"
CATEGORY_COLOURS = {"provisioning": "#d9922e", "regulating": "#3a7dbf", "cultural": "#9b59b6"}
TIER_CLASSES = {"<=0.5%": "t05", "<=2%": "t2", "<=5%": "t5", ">5%": "t5p"}
_NOT_SERVICES = ("subtotal", "gep", "total")


# --------------------------------------------------------------------------------------------
# small helpers: escaping, numbers, units, atomic writes
# --------------------------------------------------------------------------------------------

def _e(x: Any) -> str:
    """HTML-escaped text of ``x``."""
    return html.escape(str(x), quote=True)


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x))


def fmt_number(x: Any) -> str:
    """A table cell: thousands separators, 2 decimals from 1 up, 4 significant digits below.

    Integers (and integral floats) print without decimals; NaN prints empty; other values as
    text.
    """
    if _isnan(x):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v == 0:
            return "0"
        if v.is_integer() and abs(v) < 1e15:
            return f"{v:,.0f}"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
    return str(x)


def _fmt_sig(x: Any, sig: int = 6) -> str:
    """``x`` with ``sig`` significant digits, thousands separators, no exponent."""
    if _isnan(x):
        return ""
    v = float(x)
    if v == 0 or not math.isfinite(v):
        return fmt_number(v)
    decimals = min(8, max(0, sig - 1 - int(math.floor(math.log10(abs(v))))))
    return f"{v:,.{decimals}f}"


def money_label() -> str:
    """The unit of money in charts and headlines: ``10⁴ yuan a⁻¹`` or ``万元/年``."""
    return t(MONEY_LABEL)


def unit_text(unit: str) -> str:
    """A unit as the report prints it: :func:`pretty_unit`, in Chinese when the report is."""
    pretty = pretty_unit(unit)
    return unit_zh(pretty) if lang() == "zh" else pretty


def _money(yuan: float) -> str:
    """Yuan as 10⁴ yuan, 2 decimals."""
    return f"{yuan / MONEY_UNIT:,.2f}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_UNIT_POWER = re.compile(r"^(mm|cm|km|m|ha|a|d|h|s|t|g|kg|MJ|kJ|kWh|yr)(-?\d+)$")
_TEN_POWER = re.compile(r"^1e(\d+)$")


def pretty_unit(unit: str) -> str:
    """``yuan ha-1 a-1`` → ``yuan ha⁻¹ a⁻¹``; ``m3`` → ``m³``; ``1e4`` → ``10⁴``.

    Only powers of known unit symbols are raised, so ``CO2`` stays ``CO2``.
    """
    out = []
    for tok in str(unit).split(" "):
        if m := _UNIT_POWER.match(tok):
            tok = m.group(1) + m.group(2).translate(_SUPERSCRIPT)
        elif m := _TEN_POWER.match(tok):
            tok = "10" + m.group(1).translate(_SUPERSCRIPT)
        out.append(tok)
    return " ".join(out)


def _atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``,
    with the mode of any other output file (0o644 under the usual umask).

    Raises
    ------
    OutputError
        The folder cannot be written (read-only, no permission, disk full).
    """
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        if isinstance(exc, GepgeoError):
            raise
        raise _unwritable(path, exc) from None


def _unwritable(path: Path, exc: OSError) -> OutputError:
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    cls = DiskSpaceError if full else OutputError
    return cls(f"{str(path)!r}: cannot write it ({exc.strerror or exc})")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``.

    Raises
    ------
    InputFileError
        The file cannot be read, is not JSON, or holds something other than an object.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise InputFileError(f"{str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:          # JSONDecodeError, UnicodeDecodeError
        raise InputFileError(f"{str(path)!r}: not valid JSON ({exc}); the folder is damaged: "
                             "run gepgeo again to rewrite it") from None
    if not isinstance(doc, dict):
        raise InputFileError(f"{str(path)!r}: expected a JSON object, found "
                             f"{type(doc).__name__}; the folder is damaged: run gepgeo again "
                             "to rewrite it")
    return doc


#: Keys without which a run's / a comparison's manifest.json cannot make a report.
RUN_MANIFEST_KEYS = ("gepgeo_version", "grid", "land_use", "inputs", "maps", "tables")
COMPARISON_MANIFEST_KEYS = ("gepgeo_version", "kind", "maps", "tables")


def _read_manifest(path: Path, *, comparison: bool = False) -> dict[str, Any]:
    """A manifest.json holding every key a report needs.

    Raises
    ------
    InputFileError
        Unreadable, not a JSON object, or missing a key of :data:`RUN_MANIFEST_KEYS`
        (:data:`COMPARISON_MANIFEST_KEYS` for ``comparison``).
    """
    doc = _read_json(path)
    keys = COMPARISON_MANIFEST_KEYS if comparison else RUN_MANIFEST_KEYS
    missing = [k for k in keys if k not in doc]
    if missing:
        what = "comparison" if comparison else "run"
        raise InputFileError(f"{str(path)!r}: not a complete gepgeo {what} manifest (missing "
                             f"{', '.join(missing)}); the folder is damaged: run gepgeo again "
                             "to rewrite it")
    return doc


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _label(name: str) -> str:
    """``soil_value`` → ``soil value``; ``gep`` → ``GEP`` (in Chinese: ``土壤保持价值``)."""
    if lang() == "zh":
        return label(name)
    if name == "gep":
        return "GEP"
    return name.replace("_", " ").replace("gep", "GEP")


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

def _chart(make: Callable[[], Figure]) -> Figure:
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


def _png_uri(fig: Figure, *, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    _freeze_layout(fig, dpi)
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str, *, dpi: int = 100) -> str:
    """An ``<img>`` element embedding ``fig``."""
    return f'<img src="{_png_uri(fig, dpi=dpi)}" alt="{_e(alt)}">'


@dataclass
class CrsLabels:
    """Name of a CRS and the axis labels of a map drawn in it."""

    name: str
    x: str
    y: str


def _crs_labels(crs: Any) -> CrsLabels:
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


def _plain_axis(ax: Axes) -> None:
    """Map-coordinate ticks as plain numbers (no offset, no exponent), few of them."""
    for axis in (ax.xaxis, ax.yaxis):
        fmt = ScalarFormatter(useOffset=False)
        fmt.set_scientific(False)
        axis.set_major_formatter(fmt)
        axis.set_major_locator(MaxNLocator(4))
    ax.tick_params(labelsize=7)


def _colourbar_formatter(vmax: float | None) -> FuncFormatter | None:
    """Thousands separators on colour bars of large values."""
    if vmax is not None and abs(vmax) >= 1000:
        return FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    return None


def _draw_map(ax: Axes, ov: Overview, data: np.ndarray, *, cmap: Colormap, norm: Normalize,
              title: str) -> Any:
    """Draw ``data`` (decimated, NaN = nodata) in map coordinates on ``ax``; returns the image."""
    labels = _crs_labels(ov.crs)
    ax.set_facecolor(NODATA_GREY)
    # imshow masks NaN itself (a masked copy made here was masked again)
    im = ax.imshow(data, extent=ov.extent, cmap=cmap, norm=norm,
                   interpolation="nearest", origin="upper")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"{labels.x}\n{labels.name}", fontsize=8)
    ax.set_ylabel(labels.y, fontsize=8)
    _plain_axis(ax)
    return im


def _no_data_panel(ax: Axes, title: str, text: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9,
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _finite_range(arrays: Iterable[np.ndarray]) -> tuple[float, float] | None:
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


def _panel_width(ovs: Iterable[Overview | None], height: float = 3.6) -> float:
    """Width (inches) of a map panel ``height`` inches tall, from the maps' aspect ratio."""
    ratios = []
    for ov in ovs:
        if ov is not None:
            left, bottom, right, top = ov.bounds
            if top != bottom:
                ratios.append(abs((right - left) / (top - bottom)))
    ratio = min(2.5, max(0.4, max(ratios) if ratios else 1.0))
    return height * ratio + 1.1


def _map_figure(path: Path, title: str, preview: np.ndarray | None = None) -> Figure:
    """One density map with its colour bar (unit) in map coordinates (``preview``: its
    decimated pixels, if the run sampled them; see :func:`gepgeo.styles.read_overview`)."""
    try:
        ov = read_overview(path, preview=preview)
    except (OSError, rasterio.errors.RasterioError) as exc:
        fig = Figure(figsize=(5.2, 4.6), layout="constrained")
        _no_data_panel(fig.add_subplot(), title, t("cannot read {name}: {exc}", name=path.name,
                                                      exc=exc))
        return fig
    fig = Figure(figsize=(_panel_width([ov]) + 1.2, 4.6), layout="constrained")
    ax = fig.add_subplot()
    data = np.asarray(ov.data, dtype=np.float64)
    cmap, norm = value_scale([data])
    im = _draw_map(ax, ov, data, cmap=cmap, norm=norm, title=title)
    cb = fig.colorbar(im, ax=ax, shrink=0.85, format=_colourbar_formatter(norm.vmax))
    cb.set_label(unit_text(ov.unit) or t("(no unit)"), fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig


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
    """

    codes: dict[int, str]
    types: list[str]
    colours: dict[str, str]
    overview: Overview | None
    path: Path
    problem: str = ""

    def codes_of(self, land_type: str) -> list[int]:
        return [c for c, lt in self.codes.items() if lt == land_type]


def _qualitative(n: int) -> list[str]:
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(i % cmap.N)) for i in range(n)]


def _land_use(run_dir: Path, manifest: Mapping[str, Any]) -> LandUse:
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
    fallback = dict(zip(types, _qualitative(len(types))))
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
    return LandUse(codes, types, colours, ov, path, problem)


def _class_index(lu: LandUse, types: Sequence[str]) -> np.ndarray:
    """Decimated land use as float indices into ``types`` (NaN: nodata or undeclared code)."""
    assert lu.overview is not None
    data = lu.overview.data
    idx = np.full(data.shape, np.nan)
    pos = {lt: i for i, lt in enumerate(types)}
    for code, lt in lu.codes.items():
        idx[data == code] = pos[lt]
    return idx


def _land_use_figure(panels: Sequence[tuple[str, LandUse]], types: Sequence[str],
                     colours: Mapping[str, str]) -> Figure:
    """One or more land-use maps with a categorical legend (type and codes, plus nodata)."""
    n = len(panels)
    width = _panel_width([lu.overview for _, lu in panels])
    fig = Figure(figsize=(width * n + 2.4, 4.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    cmap = ListedColormap([colours[t] for t in types]).with_extremes(bad=(0, 0, 0, 0))
    norm = Normalize(-0.5, len(types) - 0.5)
    for ax, (title, lu) in zip(axes, panels):
        if lu.overview is None:
            _no_data_panel(ax, title, lu.problem)
            continue
        _draw_map(ax, lu.overview, _class_index(lu, types), cmap=cmap, norm=norm, title=title)
    handles = []
    for lt in types:
        codes = sorted({c for _, lu in panels for c in lu.codes_of(lt)})
        handles.append(Patch(facecolor=colours[lt], edgecolor="#555555", linewidth=0.5,
                             label=f"{label(lt, land_type=True)} ({', '.join(map(str, codes))})"))
    handles.append(Patch(facecolor=NODATA_GREY, edgecolor="#555555", linewidth=0.5,
                         label=t("nodata / not classified")))
    fig.legend(handles=handles, loc="outside right center", fontsize=8,
               title=t("land type (codes)"),
               title_fontsize=8, frameon=False)
    return fig


# --- charts ---------------------------------------------------------------------------------

def _service_values(by_service: pd.DataFrame) -> pd.DataFrame:
    """The ``value`` row of each service (no subtotals, no GEP)."""
    rows = by_service[(by_service["measure"] == "value")
                      & ~by_service["service"].isin(_NOT_SERVICES)]
    return rows.reset_index(drop=True)


def _value_by_service_figure(by_service: pd.DataFrame) -> Figure:
    """Horizontal bars of each service's value, 10⁴ yuan a⁻¹, coloured by category."""
    rows = _service_values(by_service)
    fig = Figure(figsize=(7.5, 0.42 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    vals = rows["amount"].to_numpy(dtype=float) / MONEY_UNIT
    colours = [CATEGORY_COLOURS.get(c, "#888888") for c in rows["category"]]
    bars = ax.barh([label(s) for s in rows["service"]], vals, color=colours)
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


def _value_by_land_type_figure(by_land_type: pd.DataFrame, colours: Mapping[str, str]) -> Figure:
    """Stacked bars: per service, the value of each land type, 10⁴ yuan a⁻¹."""
    lt = by_land_type[by_land_type["land_type"] != "total"]
    cols = [c for c in by_land_type.columns if c.endswith("_value")]
    services = [c.removesuffix("_value") for c in cols]
    fig = Figure(figsize=(8.5, 4.4), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(cols))
    pos = np.zeros(len(cols))
    neg = np.zeros(len(cols))
    fallback = iter(_qualitative(len(lt)))
    for _, row in lt.iterrows():
        vals = row[cols].to_numpy(dtype=float) / MONEY_UNIT
        colour = colours.get(row["land_type"]) or next(fallback)
        if not np.any(vals):
            continue
        bottom = np.where(vals >= 0, pos, neg)
        ax.bar(x, vals, bottom=bottom, color=colour, label=label(row["land_type"], land_type=True),
               edgecolor="white", linewidth=0.4)
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


def _change_by_service_figure(change: pd.DataFrame, order: Sequence[str] = ()) -> Figure:
    """Before and after value of each service (grouped bars) and the change (by sign).

    ``order``: services in the order to draw them (the run's); others follow as they come.
    """
    rows = _service_values(change)
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
    ax2.bar_label(bars, labels=[f"{v:+,.2f}" for v in d], padding=3, fontsize=8)
    ax2.axvline(0, color="#444444", linewidth=0.6)
    ax2.margins(x=0.2)
    ax2.set_xlabel(t("change, after − before ({unit})", unit=money_label()), fontsize=9)
    ax2.set_title(t("Change by service"), fontsize=10)
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=8)
    return fig


def _comparison_figure(label: str, before: Path, after: Path, change: Path) -> Figure:
    """Before and after on one shared colour scale, and the difference (symmetric about 0)."""
    ovs: dict[str, Overview | None] = {}
    for key, path in (("before", before), ("after", after), ("after − before", change)):
        try:
            ovs[key] = read_overview(path)
        except (OSError, rasterio.errors.RasterioError):
            ovs[key] = None
    fig = Figure(figsize=(3 * _panel_width(ovs.values()) + 2.4, 4.6), layout="constrained")
    axes = fig.subplots(1, 3)
    fig.suptitle(label, fontsize=11)
    pair = [o for o in (ovs["before"], ovs["after"]) if o is not None]
    cmap, norm = value_scale([np.asarray(o.data, dtype=np.float64) for o in pair])
    ims, unit = [], ""
    for ax, key in zip(axes[:2], ("before", "after")):
        ov = ovs[key]
        if ov is None:
            _no_data_panel(ax, t(key), t("map missing"))
            continue
        unit = unit or ov.unit
        ims.append(_draw_map(ax, ov, np.asarray(ov.data, dtype=np.float64), cmap=cmap, norm=norm,
                             title=t(key)))
    if ims:
        cb = fig.colorbar(ims[0], ax=list(axes[:2]), shrink=0.85,
                          format=_colourbar_formatter(norm.vmax))
        cb.set_label(unit_text(unit), fontsize=8)
        cb.ax.tick_params(labelsize=7)
    diff = ovs["after − before"]
    if diff is None:
        _no_data_panel(axes[2], t("after − before"), t("difference map missing"))
        return fig
    rng = _finite_range([diff.data])
    dcmap, dnorm = diverging_scale(max(abs(rng[0]), abs(rng[1])) if rng else 1.0)
    im = _draw_map(axes[2], diff, diff.data, cmap=dcmap, norm=dnorm, title=t("after − before"))
    cb = fig.colorbar(im, ax=axes[2], shrink=0.85, format=_colourbar_formatter(dnorm.vmax))
    cb.set_label(unit_text(diff.unit or unit), fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --accent:#1f6feb; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial,
       sans-serif; color: var(--fg); margin: 0; line-height: 1.45; font-size: 15px; }
header { background: #12355b; color: #fff; padding: 18px 28px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header .sub { color: #c9d6e6; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line);
      padding: 6px 28px; font-size: 13px; z-index: 2; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { border-bottom: 2px solid #12355b; padding-bottom: 3px; margin-top: 34px; font-size: 20px; }
h3 { margin: 22px 0 6px; font-size: 16px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.kpi { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
       padding: 10px 16px; min-width: 170px; }
.kpi .v { font-size: 26px; font-weight: 650; }
.kpi .l { color: var(--muted); font-size: 12.5px; }
.kpi.up .v { color: #1a7f37; } .kpi.down .v { color: #b2182b; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(470px, 1fr)); gap: 10px; }
figure { margin: 6px 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table.data { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 4px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 3px 7px;
                               vertical-align: top; }
table.data th { background: var(--bg); text-align: left; position: sticky; top: 30px; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tr:nth-child(even) td { background: #fbfcfd; }
td.note, td.reason { max-width: 520px; font-size: 12px; color: #333; }
td.wide { min-width: 340px; } td.val { max-width: 300px; overflow-wrap: anywhere; }
td.unit, td.verdict { white-space: nowrap; } td.ref { min-width: 130px; }
p.csv { margin: 2px 0; font-size: 13px; } p.csv a { font-family: ui-monospace, monospace; }
.muted, p.note { color: var(--muted); font-size: 13px; }
.warn { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 4px; }
ul.warnings li { margin: 3px 0; }
details > summary { cursor: pointer; color: var(--accent); font-size: 13px; margin: 4px 0; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11.5px;
         font-weight: 600; white-space: nowrap; }
tr.t05 .badge { background: #d1f0d8; color: #116329; }
tr.t2 .badge { background: #e6f4c9; color: #4d6b00; }
tr.t5 .badge { background: #fff1c2; color: #7a5700; }
tr.t5p .badge { background: #ffd8d3; color: #a40e26; }
table.data tr.nr td { background: #fff5f4; }
tr.nr td.reason { color: #82071e; font-weight: 500; }
span.verdict-nr { color: #a40e26; font-weight: 650; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
footer { color: var(--muted); font-size: 12px; padding: 14px 28px; border-top: 1px solid
         var(--line); }
"""

#: Inline check run by the browser test: did every embedded image decode?
IMAGE_CHECK_JS = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-ok", ok ? "true" : "false");
  document.body.setAttribute("data-images-count", String(imgs.length));
});
"""


def _page(title: str, header: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    """The whole HTML document."""
    links = "".join(f'<a href="#{_e(anchor)}">{_e(text)}</a>' for anchor, text in nav)
    return (f'<!DOCTYPE html>\n<html lang="{html_lang()}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="gepgeo {_e(__version__)}">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f'<body data-images-ok="pending">\n<header>{header}</header>\n'
            f"<nav>{links}</nav>\n<main>\n{body}\n</main>\n"
            f"<footer>{_e(t(FOOTER, version=__version__, side=MAX_SIDE))}</footer>\n"
            f"<script>{IMAGE_CHECK_JS}</script>\n</body>\n</html>\n")


FOOTER = ("Written by gepgeo {version} from the files of this folder. Maps are decimated to at "
          "most {side} pixels a side for display; the GeoTIFFs hold the full resolution.")


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{_e(anchor)}">\n<h2>{_e(title)}</h2>\n{content}\n</section>\n'


def _kpi(value: str, label: str, cls: str = "") -> str:
    return (f'<div class="kpi {cls}"><div class="v">{_e(value)}</div>'
            f'<div class="l">{label}</div></div>')


def _figure(img: str, caption: str = "") -> str:
    cap = f"<figcaption class=\"muted\">{caption}</figcaption>" if caption else ""
    return f"<figure>{img}{cap}</figure>"


def df_to_html(df: pd.DataFrame, *, formats: Mapping[str, Callable[[Any], str]] | None = None,
               raw_html: Sequence[str] = (), row_classes: Sequence[str] | None = None,
               row_attrs: Sequence[str] | None = None,
               cell_classes: Mapping[str, str] | None = None) -> str:
    """A DataFrame as an HTML table; numbers right-aligned and formatted with :func:`fmt_number`.

    Parameters
    ----------
    formats : mapping, optional
        Column → formatter (returns plain text, escaped here).
    raw_html : sequence of str
        Columns whose cells are already HTML (not escaped).
    row_classes, row_attrs : sequence of str, optional
        Per row: a ``class`` value, and extra attribute text for the ``<tr>``.
    cell_classes : mapping, optional
        Column → ``class`` of its cells.
    """
    formats = dict(formats or {})
    cell_classes = dict(cell_classes or {})
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])}
    head = "".join(f"<th>{_e(column_label(c))}</th>" for c in df.columns)
    if lang() == "zh":
        for col in df.columns:
            if col in raw_html or col in formats:
                continue
            if col in LABEL_COLUMNS:
                lt = col in ("land_type", "land type", "before \\ after")
                def cell(v: Any, lt: bool = lt, m: bool = col == "measure") -> str:
                    return "" if _isnan(v) else label(v, land_type=lt, measure=m)

                formats[col] = cell
            elif col == "unit":
                formats[col] = lambda v: "" if _isnan(v) else unit_text(str(v))
    rows = []
    for i, rec in enumerate(df.itertuples(index=False, name=None)):
        cells = []
        for col, v in zip(df.columns, rec):
            if col in raw_html:
                text = "" if _isnan(v) else str(v)
            elif col in formats:
                text = _e(formats[col](v))
            else:
                text = _e(fmt_number(v))
            cls = cell_classes.get(col, "num" if col in numeric else "")
            cells.append(f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>")
        cls = f' class="{_e(row_classes[i])}"' if row_classes and row_classes[i] else ""
        attrs = f" {row_attrs[i]}" if row_attrs else ""
        rows.append(f"<tr{cls}{attrs}>{''.join(cells)}</tr>")
    return (f'<table class="data"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table>")


#: Columns whose cells are names to translate (services, land types, categories, measures).
LABEL_COLUMNS = ("service", "category", "measure", "land_type", "land type", "before \\ after")


def column_label(col: Any) -> str:
    """A table column's header in the report's language (the CSV keeps the English name)."""
    text = str(col)
    if lang() != "zh":
        return text
    if text in COLUMNS_ZH:
        return COLUMNS_ZH[text]
    for suffix, zh in (("_value_yuan_a-1", "价值（元/年）"), ("_value", "价值")):
        if text.endswith(suffix) and label(text[: -len(suffix)]) != text[: -len(suffix)]:
            return label(text[: -len(suffix)]) + zh
    return label(text, land_type=True)


#: Column headers of the tables shown in the report, in Chinese.
COLUMNS_ZH = {
    "service": "服务", "category": "类别", "measure": "指标", "unit": "单位", "amount": "数量",
    "land_type": "土地类型", "land type": "土地类型", "codes": "编码", "pixels": "像元数",
    "area_ha": "面积（公顷）", "share_pct": "占比（%）", "gep": "GEP（元/年）",
    "share_of_gep_pct": "占 GEP 比例（%）", "rank": "排序", "before": "变化前", "after": "变化后",
    "change": "变化量", "change_pct": "变化率（%）", "area_ha_before": "变化前面积（公顷）",
    "area_ha_after": "变化后面积（公顷）", "zone_layer": "分区图层", "zone_id": "分区编号",
    "gep_yuan_a-1": "GEP（元/年）", "gep_per_ha_yuan_ha-1_a-1": "单位面积 GEP（元/公顷/年）",
    "gep_before_yuan_a-1": "变化前 GEP（元/年）", "gep_after_yuan_a-1": "变化后 GEP（元/年）",
    "change_yuan_a-1": "变化量（元/年）",
    "gep_per_ha_before_yuan_ha-1_a-1": "变化前单位面积 GEP（元/公顷/年）",
    "gep_per_ha_after_yuan_ha-1_a-1": "变化后单位面积 GEP（元/公顷/年）",
    "rasterised_area_ha": "栅格化面积（公顷）", "count": "统计项", "key": "键", "ha": "公顷",
    "excluded_pixels": "剔除像元数", "excluded_ha": "剔除面积（公顷）",
    "parameter": "参数", "kind": "类型", "value / path": "取值 / 路径", "source": "来源",
    "from": "出处", "ref": "文献", "price year": "价格年份", "note": "说明", "name": "名称",
    "path": "路径", "price_year": "价格年份", "scope": "适用范围", "extent": "范围",
    "scenarios": "情景", "option": "选项", "value": "取值", "input": "输入", "bytes": "字节",
    "sha256": "sha256", "verdict": "结论", "tier": "误差等级", "id": "编号",
    "description": "描述", "paper": "论文", "gepgeo": "gepgeo", "rel_diff": "相对差异",
    "reason": "原因", "scenario": "情景", "before \\ after": "变化前 \\ 变化后",
    "jinsha-as-published (this run)": "jinsha-as-published（本次运行）",
    "paper, Table 4": "论文表 4", "area_before_ha": "变化前面积（公顷）",
    "area_after_ha": "变化后面积（公顷）", "gep_per_ha": "单位面积 GEP（元/公顷/年）",
    "value_yuan_a-1": "价值（元/年）", "value_per_ha_yuan_ha-1_a-1": "单位面积价值（元/公顷/年）",
    "area_ha_total": "面积（公顷）", "opening_ha": "期初（公顷）", "closing_ha": "期末（公顷）",
    "additions_ha": "增加（公顷）", "reductions_ha": "减少（公顷）",
    "net_change_ha": "净变化（公顷）",
}


def _fold(html_text: str, n_rows: int, what: str = "the table") -> str:
    """Fold long tables into a <details> element."""
    if n_rows <= LONG_TABLE:
        return html_text
    return (f"<details><summary>{_e(t('show {what} ({n} rows)', what=t(what), n=f'{n_rows:,}'))}"
            f"</summary>\n{html_text}\n</details>")


def _count_rows(path: Path) -> int:
    """Data rows of a CSV (lines minus the header), without loading it."""
    n = 0
    last = b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        n += 1
    return max(0, n - 1)


def _split_layer(rel: str) -> tuple[str, str]:
    """A manifest's table entry → (file, layer): ``tables/zones.gpkg:parcels`` names the layer
    ``parcels`` of ``tables/zones.gpkg``; a plain file has no layer (``""``)."""
    file_rel, sep, layer = rel.rpartition(":")
    return (file_rel, layer) if sep and "/" not in layer else (rel, "")


#: A change no larger than this fraction of the larger of |before| and |after| is rounding noise
#: (the two sums were added in a different order): the report shows it as 0.
NOISE_REL = 1.0e-9
#: Change tables up to this many rows are read whole to be put in service order.
CHANGE_ROWS_READ = 200_000


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


def _csv_block(folder: Path, rel: str, title: str, intro: str = "") -> str:
    """``<h3>``, a link to the CSV (relative href) and the table (first rows, folded if long).

    Change tables (``change_by_*.csv``) are shown in service order with rounding noise as 0
    (:func:`change_rows`); the CSV keeps its rows as written.
    """
    file_rel, layer = _split_layer(rel)
    path = folder / file_rel
    head = f'<h3 id="{_e(_slug(rel))}">{_e(title)}</h3>'
    if not path.is_file():
        missing = t("{file} is missing from this folder.", file=file_rel)
        return f'{head}<p class="warn">{_e(missing)}</p>'
    if path.suffix.lower() != ".csv":
        what = _e(t(", layer {layer}", layer=layer)) if layer else ""
        return (f'{head}<p class="csv"><a href="{_e(file_rel)}">{_e(file_rel)}</a>{what} '
                f"{_e(t('(not shown here)'))}</p>")
    n = _count_rows(path)
    if path.stem.startswith("change_by_") and n <= CHANGE_ROWS_READ:
        df = change_rows(pd.read_csv(path, dtype={"zone_id": str})).head(TABLE_ROWS)
    else:
        df = pd.read_csv(path, nrows=TABLE_ROWS)
    link = (f'<p class="csv">CSV: <a href="{_e(rel)}">{_e(rel)}</a> · '
            f'{_e(t("{n} rows", n=f"{n:,}"))}</p>')
    first = t("The first {k} of {n} rows; the CSV has them all.", k=f"{TABLE_ROWS:,}",
              n=f"{n:,}")
    more = f'<p class="note">{_e(first)}</p>' if n > TABLE_ROWS else ""
    intro_html = f'<p class="muted">{intro}</p>' if intro else ""
    return head + intro_html + link + _fold(df_to_html(df), n) + more


# --------------------------------------------------------------------------------------------
# run report
# --------------------------------------------------------------------------------------------

def _table(run_dir: Path, name: str) -> pd.DataFrame | None:
    path = run_dir / "tables" / name
    return pd.read_csv(path) if path.is_file() else None


def _gep_total(by_service: pd.DataFrame | None) -> float | None:
    if by_service is None:
        return None
    rows = by_service[(by_service["service"] == "gep") & (by_service["measure"] == "value")]
    return float(rows["amount"].sum()) if len(rows) else None


def _price_years(manifest: Mapping[str, Any]) -> list[str]:
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


def price_year_text(counts: Sequence[tuple[str, int]]) -> str:
    """``2010``; ``2010 for 8 prices; unknown for 3`` when the prices do not share one year."""
    if len(counts) == 1:
        return t("unknown") if counts[0][0] == "unknown" else counts[0][0]
    return t("; ").join(t("{year} for {n} prices", year=t("unknown") if y == "unknown" else y,
                          n=n) for y, n in counts)


def _pixel_area_ha(manifest: Mapping[str, Any]) -> float | None:
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


def _map_coverage(gep_path: Path, area_mode: str) -> tuple[float, float] | None:
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


def _excluded_by_service(tidy: pd.DataFrame | None) -> pd.DataFrame | None:
    """Pixels (and ha) left out of each service for nodata, summed over land types."""
    if tidy is None or "excluded_pixels" not in tidy:
        return None
    per_lt = (tidy.groupby(["service", "land_type"], sort=False)[["excluded_pixels", "excluded_ha"]]
              .max().reset_index())
    out = per_lt.groupby("service", sort=False)[["excluded_pixels", "excluded_ha"]].sum()
    out = out.reset_index()
    out["excluded_pixels"] = out["excluded_pixels"].round().astype("int64")
    return out


_STAT_TEXT = {
    "land_use_nodata": "land-use nodata (outside the account)",
    "unmapped_codes": "land-use codes the pipeline does not declare",
}


def _pixel_section(run_dir: Path, manifest: Mapping[str, Any], tidy: pd.DataFrame | None,
                   gep: float | None, lu_area: float | None) -> str:
    """Pixel counts, clamping, exclusions per service, GEP-map coverage and warnings."""
    px_ha = _pixel_area_ha(manifest)
    rows = []
    for key, count in manifest.get("pixel_stats", {}).items():
        if key.startswith("out_of_domain."):
            text = t("out of domain: {layer} (value outside its valid range)",
                     layer=key.split(".", 1)[1])
        else:
            text = t(_STAT_TEXT[key]) if key in _STAT_TEXT else key.replace("_", " ")
        rows.append({"count": text, "key": key, "pixels": int(count),
                     "ha": count * px_ha if px_ha is not None else np.nan})
    wd = manifest.get("water_deficit", {})
    if wd:
        rows.append({"count": t("water: P − R − ET < 0 clamped to 0 (policy: {policy})",
                                policy=wd.get("policy"))
                     if wd.get("policy") == "clamp" else
                     t("water: negative P − R − ET kept (policy: {policy})",
                       policy=wd.get("policy")),
                     "key": "water_deficit.clamped_pixels",
                     "pixels": int(wd.get("clamped_pixels", 0)),
                     "ha": wd.get("clamped_pixels", 0) * px_ha if px_ha is not None else np.nan})
    parts = ['<p class="muted">' + t("Counts over the whole grid from the run's single pass "
                                     "(manifest <code>pixel_stats</code> and "
                                     "<code>water_deficit</code>)")
             + (t("; one pixel is {ha} ha.", ha=fmt_number(px_ha)) if px_ha else t("."))
             + "</p>"]
    if rows:
        parts.append(df_to_html(pd.DataFrame(rows),
                                cell_classes={"key": "", "count": ""},
                                formats={"key": str}))
    exc = _excluded_by_service(tidy)
    if exc is not None:
        parts.append(f"<h3>{t('Pixels excluded per service')}</h3>"
                     '<p class="muted">'
                     + t("Pixels of a classified land type left out of a service because a layer "
                         "it needs is nodata there (from {link}, summed over land types).",
                         link='<a href="tables/services_by_land_type.csv">'
                              "tables/services_by_land_type.csv</a>") + "</p>")
        parts.append(df_to_html(exc))
    parts.append(_coverage_text(run_dir, manifest, exc, gep, lu_area))
    warn = manifest.get("warnings") or []
    parts.append(f"<h3>{t('Warnings')}</h3>")
    if warn:
        parts.append('<ul class="warnings">' + "".join(f"<li>{_e(w)}</li>" for w in warn)
                     + "</ul>")
    else:
        parts.append(f'<p class="muted">{t("None.")}</p>')
    return "\n".join(parts)


def _coverage_text(run_dir: Path, manifest: Mapping[str, Any], exc: pd.DataFrame | None,
                   gep: float | None, lu_area: float | None) -> str:
    """How much of the classified area the GEP map covers, vs the table GEP."""
    head = f"<h3>{t('GEP map and table GEP')}</h3>"
    stats = manifest.get("pixel_stats", {})
    excluded = exc is not None and bool((exc["excluded_pixels"] > 0).any())
    out_dom = any(v for k, v in stats.items() if k.startswith("out_of_domain."))
    if not excluded and not out_dom:
        return (head + "<p>" + t("No service left out any classified pixel: the GEP map is valid "
                                 "on the whole classified area{area}, so Σ(GEP map × pixel area) "
                                 "equals the table GEP.",
                                 area=t(" ({ha} ha)", ha=fmt_number(lu_area)) if lu_area else "")
                + "</p>")
    rec = manifest.get("gep_map")
    cov: tuple[float, float] | None
    if isinstance(rec, Mapping) and {"valid_ha", "value"} <= set(rec):
        cov = float(rec["valid_ha"]), float(rec["value"])   # summed by the pass itself
    else:   # a run folder written before gepgeo recorded it: read the map
        gep_map = run_dir / manifest.get("maps", {}).get("gep", "maps/gep.tif")
        cov = _map_coverage(gep_map, manifest.get("options", {}).get("area", "planar"))
    if cov is None or lu_area is None or gep is None:
        return head + ('<p class="warn">' + t(
            "Some pixels are excluded from some services, so the GEP map (nodata where any "
            "service is) covers less than the classified area; the GEP map could not be read to "
            "measure by how much.") + "</p>")
    ha, total = cov
    return (head + "<p>" + t(
        "The GEP map is nodata wherever any service is, so it covers {ha} ha of the {lu} ha "
        "classified: <strong>{gap} ha</strong> where some service is nodata. Σ(GEP map × pixel "
        "area) = {total} {money} against the table GEP of {gep} {money} (the table counts each "
        "service wherever that service is valid).", ha=fmt_number(ha), lu=fmt_number(lu_area),
        gap=fmt_number(lu_area - ha), total=_money(total), gep=_money(gep),
        money=t("× 10⁴ yuan a⁻¹")) + "</p>")


def _param_value(rec: Mapping[str, Any]) -> str:
    """A parameter's value as text: number, ``type: value`` list, or raster path."""
    kind = rec.get("kind")
    if kind == "raster":
        return str(rec.get("path", rec.get("source", "")))
    v = rec.get("value")
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {_param_number(x)}" for k, x in v.items())
    return _param_number(v)


def _param_number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.8g}"
    return "" if v is None else str(v)


def _parameters_section(manifest: Mapping[str, Any]) -> str:
    """Profiles, every resolved parameter with its source, options, inputs and versions."""
    parts = [f"<h3>{t('Profiles')}</h3>"]
    prof = pd.DataFrame(manifest.get("profiles", []))
    parts.append(df_to_html(prof, formats={c: str for c in prof.columns}) if len(prof)
                 else '<p class="muted">'
                 + t("No profile: every parameter comes from the pipeline.") + "</p>")
    recs = []
    for name, rec in manifest.get("parameters", {}).items():
        recs.append({"parameter": name, "kind": rec.get("kind", ""),
                     "value / path": _param_value(rec), "unit": rec.get("unit", ""),
                     "source": rec.get("source", "") if rec.get("kind") != "raster" else "raster",
                     "from": rec.get("origin", ""), "ref": rec.get("ref", ""),
                     "price year": rec.get("price_year", ""), "note": rec.get("note", "")})
    parts.append(f"<h3>{t('Resolved parameters ({n})', n=len(recs))}</h3>"
                 '<p class="muted">' + t("Every parameter the run used, in the unit the method "
                                         "uses; <em>from</em> is the profile or the pipeline "
                                         "that set it.") + "</p>")
    if recs:
        df = pd.DataFrame(recs)
        fmts: dict[str, Callable[[Any], str]] = {c: str for c in df.columns}
        fmts["unit"] = lambda v: unit_text(str(v)) if v else ""
        fmts["kind"] = lambda v: t(str(v)) if v else ""
        fmts["price year"] = lambda v: t(str(v)) if v != "" else ""
        parts.append(df_to_html(df, formats=fmts,
                                cell_classes={"note": "note wide", "value / path": "val",
                                              "unit": "unit", "ref": "ref"}))
    unused = manifest.get("parameters_not_used") or []
    if unused:
        unused_text = t("Given but not used: {names}.", names=", ".join(unused))
        parts.append(f'<p class="muted">{_e(unused_text)}</p>')
    for note in manifest.get("parameter_forms") or []:
        parts.append(f'<p class="muted">{_e(t("Form used: {note}.", note=note))}</p>')
    opts = manifest.get("options", {})
    if opts:
        parts.append(f"<h3>{t('Options')}</h3>")
        parts.append(df_to_html(pd.DataFrame({"option": list(opts),
                                              "value": [str(v) for v in opts.values()]})))
    inputs = manifest.get("inputs", {})
    if inputs:
        parts.append(f"<h3>{t('Inputs')}</h3>")
        df = pd.DataFrame([{"input": k, "path": v.get("path", ""),
                            "bytes": v.get("size_bytes", np.nan),
                            "sha256": v.get("sha256", "")} for k, v in inputs.items()])
        parts.append(df_to_html(df, formats={"sha256": str}, cell_classes={"sha256": ""}))
    versions = manifest.get("versions", {})
    if versions:
        parts.append('<p class="muted">' + _e(t("Versions: ")) + _e(", ".join(f"{k} {v}" for k, v
                                                             in versions.items())) + "</p>")
    return "\n".join(parts)


def _run_header(manifest: Mapping[str, Any], gep: float | None, lu_area: float | None) -> str:
    name = manifest.get("name", "run")
    scen = manifest.get("scenario")
    profiles = ", ".join(p.get("name", "") for p in manifest.get("profiles", [])) or t("none")
    sub = t("scenario {s} · ", s=scen) if scen else ""
    return (f"<h1>{_e(t('GEP account: {name}', name=name))}</h1>"
            f'<div class="sub">{_e(sub)}'
            + _e(t("profile {p} · {n} services · gepgeo {v}", p=profiles,
                   n=len(manifest.get("services", [])),
                   v=manifest.get("gepgeo_version", __version__))) + "</div>")


def _scope_banner(notes: Sequence[str] | None) -> str:
    """A warning at the top of the report for each profile used outside its declared extent."""
    if not notes:
        return ""
    return "".join(f'<p class="warn scope"><strong>{t("Parameters from another landscape.")}'
                   f"</strong> {_e(n)}</p>" for n in notes)


def _headline(gep: float | None, years: Sequence[tuple[str, int]], lu_area: float | None,
              manifest: Mapping[str, Any]) -> str:
    """KPIs and the GEP sentence; ``years`` from :func:`price_year_counts`."""
    kpis = []
    if gep is not None:
        kpis.append(_kpi(_money(gep), _e(t("GEP, {unit} ({yuan} yuan a⁻¹)", unit=money_label(),
                                           yuan=fmt_number(gep)))))
    yrs = price_year_text(years)
    kpis.append(_kpi(yrs, _e(t("price year"))))
    if lu_area is not None:
        kpis.append(_kpi(fmt_number(lu_area), _e(t("ha classified"))))
    shape = manifest.get("grid", {}).get("shape")
    if shape:
        kpis.append(_kpi(f"{shape[0]:,} × {shape[1]:,}", _e(t("grid rows × columns"))))
    return (f'<div class="kpis">{"".join(kpis)}</div>'
            "<p>" + t("GEP = <strong>{gep} {money}</strong> at prices of year <strong>{yrs}"
                      "</strong> (price year: {yrs}).",
                      gep=_money(gep) if gep is not None else "n/a", money=t("× 10⁴ yuan a⁻¹"),
                      yrs=_e(yrs)) + "</p>")


def _ordered_maps(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, relative path): GEP first, then the service values, then the physical maps."""
    maps = list(manifest.get("maps", {}).items())
    key = {n: (0 if n == "gep" else 1 if n.endswith("_value") else 2, i)
           for i, (n, _) in enumerate(maps)}
    return sorted(maps, key=lambda m: key[m[0]])


def _maps_section(run_dir: Path, manifest: Mapping[str, Any],
                  previews: Previews | None = None) -> str:
    figs = []
    for name, rel in _ordered_maps(manifest):
        path = run_dir / rel
        if not path.is_file():
            figs.append(f'<p class="warn">{_e(t("{file} is missing.", file=rel))}</p>')
            continue
        preview = preview_of(previews, path)

        def make(path: Path = path, name: str = name, preview: Any = preview) -> Figure:
            return _map_figure(path, _label(name), preview)   # the label in chart language

        fig = _chart(make)
        figs.append(_figure(_img(fig, t("map of {what}", what=_label(name))),
                            f'<a href="{_e(rel)}">{_e(rel)}</a>'))
    return ('<p class="muted">' + t("Densities per hectare; each map has its own colour scale; "
                                    "grey is nodata.") + '</p><div class="grid">'
            + "".join(figs) + "</div>")


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


def _per_ha_column(col: str) -> str:
    """Header of a ``<service>_value_per_ha_yuan_ha-1_a-1`` column."""
    svc = col.removesuffix("_value_per_ha_yuan_ha-1_a-1")
    if lang() == "zh":
        return f"{label(svc)}（元/公顷/年）"
    return f"{label(svc)} per ha (yuan ha⁻¹ a⁻¹)"


def _land_type_per_ha_section(by_land_type: pd.DataFrame) -> str:
    table = land_type_per_ha(by_land_type)
    cols = {c: _per_ha_column(c) for c in table.columns
            if c.endswith("_value_per_ha_yuan_ha-1_a-1")}
    if lang() != "zh":
        cols.update({"gep_yuan_a-1": "GEP (yuan a⁻¹)",
                     "gep_per_ha_yuan_ha-1_a-1": "GEP per ha (yuan ha⁻¹ a⁻¹)"})
    shown = table.rename(columns=cols)
    return (f"<h3>{t('Value per hectare by land type')}</h3>"
            '<p class="muted">' + t("GEP and each service's value of a land type divided by its "
                                    "area: yuan ha⁻¹ a⁻¹ beside the totals (from {link}).",
                                    link='<a href="tables/gep_by_land_type.csv">'
                                         "tables/gep_by_land_type.csv</a>") + "</p>"
            + df_to_html(shown, row_classes=["total" if lt == "total" else ""
                                             for lt in table["land_type"]]))


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


def _zones_section(run_dir: Path) -> str | None:
    """Zone totals (GEP and GEP per ha) from ``tables/services_by_zone.csv``, if any."""
    path = run_dir / "tables" / "services_by_zone.csv"
    if not path.is_file():
        return None
    table = zone_totals(pd.read_csv(path, dtype={"zone_id": str}))
    shown = table.rename(columns={c: _per_ha_column(c) for c in table.columns
                                  if c.endswith("_value_per_ha_yuan_ha-1_a-1")})
    intro = ('<p class="muted">' + t(
        "Totals per zone, summed over land types; area is the zone's valid land-use pixels "
        "(pixel-centre rule); GEP per ha is GEP over that area, and each service's value per ha "
        "stands beside its total. Every measure per zone and land type: {link}.",
        link='<a href="tables/services_by_zone.csv">tables/services_by_zone.csv</a>') + "</p>")
    return intro + _fold(df_to_html(shown), len(table), "the zones")


def _land_use_total(land_use: pd.DataFrame | None) -> float | None:
    if land_use is None or "area_ha" not in land_use:
        return None
    tot = land_use[land_use["land_type"] == "total"]
    return float(tot["area_ha"].iloc[0]) if len(tot) else float(land_use["area_ha"].sum())


def report_lang(manifest: Mapping[str, Any], requested: str | None = None) -> str:
    """The report's language: ``requested`` (``--lang``), else the run's ``options.report_lang``,
    else English."""
    code = requested or manifest.get("options", {}).get("report_lang") or "en"
    return str(code)


@contextlib.contextmanager
def _report_context(code: str) -> Iterator[None]:
    """Build a report in language ``code``: text via :func:`gepgeo.i18n.t`, and the charts in a
    CJK font when the report is Chinese and one is installed."""
    with use_lang(code):
        font = cjk_font() if code == "zh" else None
        if font is None:
            yield
            return
        from matplotlib import rc_context

        # a list of families: glyphs missing from the CJK font (⁻, ²) fall back to DejaVu Sans
        with rc_context({"font.family": [font, "DejaVu Sans"], "axes.unicode_minus": False}):
            yield


def _font_note() -> str:
    """One note when a Chinese report's charts are in English for want of a CJK font."""
    if lang() == "zh" and chart_lang() == "en":
        return ('<p class="note font-note">' + t(
            "The charts are labelled in English: no font with Chinese characters is installed "
            "for matplotlib (e.g. Debian's fonts-noto-cjk).") + "</p>")
    return ""


def build_run_report(run_dir: Path, lang: str | None = None, *,
                     previews: Previews | None = None) -> str:
    """The HTML of a run folder's report (see :func:`write_run_report`)."""
    run_dir = Path(run_dir)
    manifest = _read_manifest(run_dir / "manifest.json")
    if manifest.get("valuation") is False:   # physical quantities only: no money anywhere
        return _quantities_report(run_dir, manifest, previews)
    with _report_context(report_lang(manifest, lang)):
        return _build_run_report(run_dir, manifest, previews)


def _build_run_report(run_dir: Path, manifest: Mapping[str, Any],
                      previews: Previews | None = None) -> str:
    by_service = _table(run_dir, "gep_by_service.csv")
    by_lt = _table(run_dir, "gep_by_land_type.csv")
    tidy = _table(run_dir, "services_by_land_type.csv")
    lu_table = _table(run_dir, "land_use.csv")
    gep = _gep_total(by_service)
    lu_area = _land_use_total(lu_table)
    years = price_year_counts(manifest)
    lu = _land_use(run_dir, manifest)

    sections = [_section("summary", t("Summary"),
                         _scope_banner(manifest.get("scope_warnings")) + _font_note()
                         + _headline(gep, years, lu_area, manifest))]
    lu_fig = _chart(lambda: _land_use_figure([(t("land use"), lu)], lu.types, lu.colours))
    lu_html = _figure(_img(lu_fig, t("land-use map")), _e(str(lu.path)))
    if lu.problem:
        lu_html = f'<p class="warn">{_e(lu.problem)}</p>' + lu_html
    sections.append(_section("land-use", t("Land use"), lu_html))
    sections.append(_section("maps", t("Maps"), _maps_section(run_dir, manifest, previews)))
    charts = []
    if by_service is not None:
        charts.append(_figure(_img(_chart(lambda: _value_by_service_figure(by_service)),
                                   t("value by service"))))
    if by_lt is not None:
        charts.append(_figure(_img(_chart(lambda: _value_by_land_type_figure(by_lt, lu.colours)),
                                   t("value by land type"))))
        charts.append(_land_type_per_ha_section(by_lt))
    sections.append(_section("values", t("Value by service and land type"), "".join(charts)))
    sections.append(_section("pixels", t("Pixel counts, exclusions and warnings"),
                             _pixel_section(run_dir, manifest, tidy, gep, lu_area)))
    zones = _zones_section(run_dir)
    if zones is not None:
        sections.append(_section("zones", t("Zones"), zones))
    tables = [_csv_block(run_dir, rel, t(Path(rel).stem.replace("_", " ")))
              for rel in manifest.get("tables", [])]
    sections.append(_section("tables", t("Tables"), "\n".join(tables)))
    sections.append(_section("parameters", t("Parameters and provenance"),
                             _parameters_section(manifest)))
    nav = [("summary", t("Summary")), ("land-use", t("Land use")), ("maps", t("Maps")),
           ("values", t("Values")), ("pixels", t("Pixels"))]
    nav += [("zones", t("Zones"))] if zones is not None else []
    nav += [("tables", t("Tables")), ("parameters", t("Parameters"))]
    return _page(t("gepgeo report: {name}", name=manifest.get("name", run_dir.name)),
                 _run_header(manifest, gep, lu_area), nav, "\n".join(sections))


def write_run_report(run_dir: Path, lang: str | None = None, *,
                     previews: Previews | None = None) -> Path:
    """Write ``run_dir/report.html`` from the files of a run folder.

    Parameters
    ----------
    run_dir : Path
        A run folder (``manifest.json``, ``tables/``, ``maps/``); the land-use raster is read
        from the path recorded in the manifest (the report notes it if it has gone).
    lang : {"en", "zh"}, optional
        The report's language; by default the run's ``options.report_lang`` (English if none).
    previews : mapping, optional
        The maps' decimated pixels sampled while the run wrote them
        (:data:`gepgeo.styles.Previews`): those maps are not decoded again. Any map without
        one is read from its file.

    Returns
    -------
    Path
        The report written (atomically: temporary file and rename).
    """
    run_dir = Path(run_dir)
    return _atomic_write_text(run_dir / "report.html",
                              build_run_report(run_dir, lang, previews=previews))


# --------------------------------------------------------------------------------------------
# comparison report
# --------------------------------------------------------------------------------------------

def _compare_headline(change: pd.DataFrame | None,
                      years: Mapping[str, Sequence[tuple[str, int]]]) -> str:
    """KPIs and sentences of a comparison; ``years``: scenario → :func:`price_year_counts`."""
    kpis = []
    gep_rows = (change[(change["service"] == "gep") & (change["measure"] == "value")]
                if change is not None else pd.DataFrame())
    text = ""
    money = money_label()
    if len(gep_rows):
        r = gep_rows.iloc[0]
        b, a, d, pct = (float(r["before"]), float(r["after"]), float(r["change"]),
                        r.get("change_pct", np.nan))
        kpis += [_kpi(_money(b), _e(t("GEP before, {unit}", unit=money))),
                 _kpi(_money(a), _e(t("GEP after, {unit}", unit=money))),
                 _kpi(f"{d / MONEY_UNIT:+,.2f}", _e(t("change, {unit}", unit=money)
                      + (f" ({float(pct):+,.1f} %)" if not _isnan(pct) else "")),
                      "up" if d >= 0 else "down")]
        text = "<p>" + t("GEP went from <strong>{b}</strong> to <strong>{a}</strong> {money}, a "
                         "change of <strong>{d}</strong> {money}.", b=_money(b), a=_money(a),
                         d=f"{d / MONEY_UNIT:+,.2f}", money=t("× 10⁴ yuan a⁻¹")) + "</p>"
    yb = price_year_text(years.get("before", [("unknown", 0)]))
    ya = price_year_text(years.get("after", [("unknown", 0)]))
    kpis.append(_kpi(yb if yb == ya else f"{yb} / {ya}", _e(t("price year"))))
    return (f'<div class="kpis">{"".join(kpis)}</div>{text}'
            "<p>" + _e(t("Price year: before {yb}, after {ya}.", yb=yb, ya=ya)) + "</p>")


def _change_maps_section(compare_dir: Path, change_manifest: Mapping[str, Any]) -> str:
    figs = []
    maps = dict(change_manifest.get("maps", {}))
    order = sorted(maps, key=lambda n: (n != "gep_change", list(maps).index(n)))
    for name in order:
        base = name.removesuffix("_change")
        def make(base: str = base, name: str = name) -> Figure:   # labels in chart language
            return _comparison_figure(
                _label(base), compare_dir / "before" / "maps" / f"{base}.tif",
                compare_dir / "after" / "maps" / f"{base}.tif",
                compare_dir / "change" / maps[name])

        fig = _chart(make)
        figs.append(_figure(_img(fig, t("{what} before, after and change", what=_label(base)),
                                 dpi=90),
                            _e(t("difference map: ")) +
                            f'<a href="{_e(maps[name])}">{_e(maps[name])}</a>'))
    return ('<p class="muted">' + t(
        "Before and after share one colour scale per row; the difference (after − before, on the "
        "before grid) is red for losses and blue for gains, symmetric about 0; grey is nodata.")
        + "</p>" + "".join(figs))


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


def _land_type_change_section(change_dir: Path) -> str | None:
    lt = _table(change_dir, "change_by_land_type.csv")
    if lt is None or not {"area_ha_before", "area_ha_after"} <= set(lt.columns):
        return None
    table = land_type_change_per_ha(lt)
    return (f"<h3>{t('GEP per hectare by land type')}</h3>"
            '<p class="muted">' + t("GEP of each land type over its area in each scenario "
                                    "(yuan ha⁻¹ a⁻¹), beside the totals.") + "</p>"
            + df_to_html(table))


def _reproduction_section(rep: pd.DataFrame, compare_dir: Path,
                          as_stated_gep: Mapping[str, float] | None) -> str:
    """Every published figure of Xu et al. beside gepgeo's, and the as-stated GEP totals."""
    parts = []
    link = ('<a href="../reproduction.csv">../reproduction.csv</a>'
            if (compare_dir / "reproduction.csv").is_file() else "reproduction.csv")
    tiers = rep["tier"].value_counts()
    summary = ", ".join(f"{t}: {int(tiers.get(t, 0))}" for t in TIER_CLASSES if t in tiers)
    n_nr = int((rep["verdict"] == "NOT-REPRODUCIBLE").sum())
    parts.append("<p>" + t("{n} published figures beside gepgeo's ({link}). Agreement "
                           "{summary}. {n_nr} figures are NOT-REPRODUCIBLE: the paper disagrees "
                           "with itself there; the reason is given on each row.", n=len(rep),
                           link=link, summary=_e(summary), n_nr=n_nr) + "</p>")
    if as_stated_gep:
        parts.append(_as_stated_table(rep, compare_dir, as_stated_gep))
    counts = (rep.groupby(["verdict", "tier"], sort=False).size().unstack(fill_value=0)
              .reindex(columns=[t for t in TIER_CLASSES if t in tiers]).fillna(0).astype(int))
    counts.insert(0, "verdict", counts.index)
    parts.append(f"<h3>{t('Verdicts by tier')}</h3>" + df_to_html(counts.reset_index(drop=True)))
    parts.append(f"<h3>{t('All figures')}</h3>")
    parts.append(_reproduction_rows(rep))
    return "\n".join(parts)


def _as_stated_table(rep: pd.DataFrame, compare_dir: Path,
                     as_stated_gep: Mapping[str, float]) -> str:
    """GEP under jinsha-as-published (the runs) and jinsha-as-stated, side by side."""
    paper = dict(zip(rep["id"], rep["paper"])) if "id" in rep else {}
    rows = []
    for scen, stated in as_stated_gep.items():
        pub = _gep_total(_table(compare_dir / scen, "gep_by_service.csv"))
        row = {"scenario": scen,
               "jinsha-as-published (this run)": _money(pub) if pub is not None else "",
               "jinsha-as-stated": _money(float(stated))}
        if f"T4.{scen}.gep" in paper:
            row["paper, Table 4"] = f"{float(paper[f'T4.{scen}.gep']):,.2f}"
        rows.append(row)
    df = pd.DataFrame(rows)
    return (f"<h3>{t('GEP under the two Jinsha profiles')}</h3>"
            '<p class="muted">' + t(
                "{unit}. <em>jinsha-as-published</em> holds the values that reproduce the "
                "paper's Table 4; <em>jinsha-as-stated</em> the values the paper prints (N and P "
                "contents, air rates).", unit=money_label()) + "</p>"
            + df_to_html(df, cell_classes={c: "num" for c in df.columns if c != "scenario"}))


def _reproduction_rows(rep: pd.DataFrame) -> str:
    cols = [c for c in ("id", "description", "unit", "paper", "gepgeo", "rel_diff", "tier",
                        "verdict", "reason") if c in rep.columns]
    df = rep[cols].copy()
    df["tier"] = [f'<span class="badge">{_e(t)}</span>' for t in df["tier"]]
    df["verdict"] = [f'<span class="verdict-nr">{_e(v)}</span>' if v == "NOT-REPRODUCIBLE"
                     else _e(v) for v in rep["verdict"]]
    if "reason" in df:
        df["reason"] = ["" if _isnan(r) else _e(r) for r in rep["reason"]]
    classes = [" ".join(filter(None, (TIER_CLASSES.get(t, ""),
                                      "nr" if v == "NOT-REPRODUCIBLE" else "")))
               for t, v in zip(rep["tier"], rep["verdict"])]
    attrs = [f'data-rep-id="{_e(i)}"' for i in rep["id"]]
    return df_to_html(df, raw_html=("tier", "verdict", "reason"), row_classes=classes,
                      row_attrs=attrs,
                      formats={"paper": lambda v: "" if _isnan(v) else f"{float(v):,.10g}",
                               "gepgeo": _fmt_sig,
                               "rel_diff": lambda v: "" if _isnan(v) else f"{100 * v:+.3f} %"},
                      cell_classes={"reason": "reason", "description": "note",
                                    "verdict": "verdict"})


def _zone_change_section(change_dir: Path, cm: Mapping[str, Any]) -> str | None:
    """GEP before, after and change per zone (and per ha of each scenario's zone area), from
    ``tables/change_by_zone.csv``; or the manifest's note on why there is none."""
    path = change_dir / "tables" / "change_by_zone.csv"
    if not path.is_file():
        note = cm.get("zones")
        return f'<p class="note">{_e(t(str(note)))}.</p>' if note else None
    rows = pd.read_csv(path, dtype={"zone_id": str})
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
    intro = ('<p class="muted">' + t(
        "GEP per zone in each scenario (each rasterised on its own grid), summed over land "
        "types; every service and measure: {link}.",
        link='<a href="tables/change_by_zone.csv">tables/change_by_zone.csv</a>') + "</p>")
    return intro + _fold(df_to_html(table.reset_index(drop=True)), len(table), "the zones")


def build_compare_report(compare_dir: Path, reproduction: pd.DataFrame | None = None,
                         as_stated_gep: Mapping[str, float] | None = None,
                         lang: str | None = None) -> str:
    """The HTML of a comparison's report (see :func:`write_compare_report`)."""
    compare_dir = Path(compare_dir)
    change_dir = compare_dir / "change"
    cm = _read_manifest(change_dir / "manifest.json", comparison=True)
    runs = {s: _read_manifest(compare_dir / s / "manifest.json") for s in ("before", "after")
            if (compare_dir / s / "manifest.json").is_file()}
    code = lang or report_lang(runs.get("before", {}))
    with _report_context(code):
        return _build_compare_report(compare_dir, cm, runs, reproduction, as_stated_gep)


def _build_compare_report(compare_dir: Path, cm: Mapping[str, Any],
                          runs: Mapping[str, Mapping[str, Any]],
                          reproduction: pd.DataFrame | None,
                          as_stated_gep: Mapping[str, float] | None) -> str:
    change_dir = compare_dir / "change"
    change = _table(change_dir, "change_by_service.csv")
    if change is not None:
        change = change_rows(change)
    years: dict[str, list[tuple[str, int]]] = {
        s: [(", ".join(v), 0)] for s, v in (cm.get("price_years") or {}).items()}
    years.update({s: price_year_counts(m) for s, m in runs.items()})

    scope = [f"{s}: {w}" for s, m in runs.items() for w in m.get("scope_warnings") or []]
    sections = [_section("summary", t("Summary"), _scope_banner(scope) + _font_note()
                         + _compare_headline(change, years)
                         + "<p>" + t("Scenario reports: {b} · {a}.",
                                     b=f'<a href="../before/report.html">{t("before")}</a>',
                                     a=f'<a href="../after/report.html">{t("after")}</a>')
                         + "</p>")]
    lus = {s: _land_use(compare_dir / s, m) for s, m in runs.items()}
    if lus:
        types = list(dict.fromkeys(lt for lu in lus.values() for lt in lu.types))
        colours: dict[str, str] = {}
        for lu in lus.values():
            colours.update({k: c for k, c in lu.colours.items() if k not in colours})
        fig = _chart(lambda: _land_use_figure([(t(s), lu) for s, lu in lus.items()], types,
                                              colours))
        problems = "".join(f'<p class="warn">{_e(t(s))}: {_e(lu.problem)}</p>'
                           for s, lu in lus.items() if lu.problem)
        sections.append(_section("land-use", t("Land use before and after"),
                                 problems + _figure(_img(fig, t("land use before and after")))))
    sections.append(_section("maps", t("Maps: before, after and difference"),
                             _change_maps_section(compare_dir, cm)))
    if change is not None:
        order = runs.get("before", {}).get("services", [])
        fig = _chart(lambda: _change_by_service_figure(change, order))
        per_ha = _land_type_change_section(change_dir) or ""
        sections.append(_section("change", t("Change by service"),
                                 _figure(_img(fig, t("change by service"))) + per_ha))
    titles = {"change_by_service": "Change by service and measure",
              "change_by_land_type": "Change by land type",
              "transition_matrix": "Land-use transition matrix (ha; before in rows, after in "
                                   "columns)",
              "extent_account": "Extent account (SEEA-EA, ha)",
              "change_by_zone": "Change by zone, service and measure"}
    zones = _zone_change_section(change_dir, cm)
    if zones is not None:
        sections.append(_section("zones", t("Change by zone"), zones))
    tables = [_csv_block(change_dir, rel, t(titles.get(Path(rel).stem, Path(rel).stem)),
                         t(CHANGE_TABLE_NOTE) if Path(rel).stem.startswith("change_by_") else "")
              for rel in cm.get("tables", [])]
    sections.append(_section("tables", t("Tables"), "\n".join(tables)))
    nav = [("summary", t("Summary")), ("land-use", t("Land use")), ("maps", t("Maps")),
           ("change", t("Change"))]
    nav += [("zones", t("Zones"))] if zones is not None else []
    nav += [("tables", t("Tables"))]
    if reproduction is not None:
        sections.append(_section("reproduction", t("Reproduction of Xu et al."),
                                 _reproduction_section(reproduction, compare_dir, as_stated_gep)))
        nav.append(("reproduction", t("Reproduction")))
    names = " → ".join(m.get("name", s) for s, m in runs.items())
    alignment = ", ".join(f"{t(k.replace('_', ' '))} {t(str(v))}"
                          for k, v in cm.get("alignment", {}).items()) or "n/a"
    header = (f"<h1>{_e(t('GEP comparison: {names}', names=names or compare_dir.name))}</h1>"
              '<div class="sub">'
              + _e(t("before and after · aligned to the before grid: {alignment} · gepgeo {v}",
                     alignment=alignment, v=cm.get("gepgeo_version", __version__))) + "</div>")
    return _page(t("gepgeo comparison: {names}", names=names or compare_dir.name), header, nav,
                 "\n".join(sections))


CHANGE_TABLE_NOTE = ("In the method's service order, each category's subtotal after its services "
                     "and GEP last; a change within 10⁻⁹ of the larger of before and after "
                     "(rounding noise) is shown as 0. The CSV holds the numbers as computed.")


def write_compare_report(compare_dir: Path, reproduction: pd.DataFrame | None = None,
                         as_stated_gep: dict[str, float] | None = None,
                         lang: str | None = None) -> Path:
    """Write ``compare_dir/change/report.html`` (and the scenario reports if they lack one).

    Parameters
    ----------
    compare_dir : Path
        The output of ``gepgeo compare`` (``before/``, ``after/``, ``change/``).
    reproduction : pandas.DataFrame, optional
        The demo's reproduction table (``id, description, unit, paper, gepgeo, rel_diff, tier,
        verdict, reason``); adds the "Reproduction of Xu et al." section.
    as_stated_gep : dict, optional
        Scenario → GEP (yuan a⁻¹) under ``jinsha-as-stated``, shown in 10⁴ yuan beside the runs'
        GEP under ``jinsha-as-published``.
    lang : {"en", "zh"}, optional
        The report's language; by default the before run's ``options.report_lang``.

    Returns
    -------
    Path
        ``compare_dir/change/report.html``.
    """
    compare_dir = Path(compare_dir)
    for scen in ("before", "after"):
        run = compare_dir / scen
        if (run / "manifest.json").is_file() and not (run / "report.html").is_file():
            write_run_report(run, lang or None)
    text = build_compare_report(compare_dir, reproduction, as_stated_gep, lang)
    return _atomic_write_text(compare_dir / "change" / "report.html", text)


# --------------------------------------------------------------------------------------------
# any output folder
# --------------------------------------------------------------------------------------------

def write_report(folder: Path, lang: str | None = None) -> list[Path]:
    """Rebuild the report(s) of any gepgeo output folder (for ``gepgeo report DIR``).

    * a comparison (``DIR/change/manifest.json``), or its ``change`` folder: both scenario
      reports and the comparison report, with the reproduction section if
      ``DIR/reproduction.csv`` exists (and the as-stated totals if ``DIR/as_stated_gep.json``,
      ``{"before": yuan, "after": yuan}``, exists);
    * a run folder (``DIR/manifest.json``): its report.

    ``lang`` (``en``/``zh``): the reports' language; by default each run's
    ``options.report_lang``.

    Returns
    -------
    list of Path
        The reports written.

    Raises
    ------
    InputFileError
        ``folder`` is not a gepgeo output folder.
    """
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if manifest.is_file() and _read_json(manifest).get("kind") == "comparison":
        folder = folder.parent
    if (folder / "change" / "manifest.json").is_file():
        _read_manifest(folder / "change" / "manifest.json", comparison=True)
        for s in ("before", "after"):
            if (folder / s / "manifest.json").is_file():
                _read_manifest(folder / s / "manifest.json")
        kw: dict[str, Any] = {"lang": lang} if lang else {}
        written = [write_run_report(folder / s, **kw) for s in ("before", "after")
                   if (folder / s / "manifest.json").is_file()]
        rep_path = folder / "reproduction.csv"
        rep = pd.read_csv(rep_path) if rep_path.is_file() else None
        stated_path = folder / "as_stated_gep.json"
        stated = _read_json(stated_path) if stated_path.is_file() else None
        return written + [write_compare_report(folder, rep, stated, **kw)]
    if manifest.is_file():
        _read_manifest(manifest)
        one: dict[str, Any] = {"lang": lang} if lang else {}
        return [write_run_report(folder, **one)]
    raise InputFileError(f"{folder}: not a gepgeo output folder (no manifest.json, no "
                         "change/manifest.json); give a run folder or a comparison folder")


def _quantities_report(run_dir: Path, manifest: Mapping[str, Any],
                       previews: Previews | None = None) -> str:
    """The report of a run without valuation (``valuation: false``): the physical quantities
    by service, the land use, the quantity maps, the tables and the parameters; no money."""
    by_service = _table(run_dir, "gep_by_service.csv")
    lu_area = _land_use_total(_table(run_dir, "land_use.csv"))
    lu = _land_use(run_dir, manifest)
    rows = []
    if by_service is not None:
        for r in by_service.itertuples(index=False):
            rows.append(f"<tr><td>{_e(r.service)}</td><td>{_e(r.measure)}</td>"
                        f'<td class="num">{_e(fmt_number(r.amount))}</td>'
                        f'<td>{_e(r.unit)}</td></tr>')
    kpis = [_kpi(fmt_number(lu_area), "ha classified")] if lu_area is not None else []
    summary = (_scope_banner(manifest.get("scope_warnings"))
               + f'<div class="kpis">{"".join(kpis)}</div>'
               + "<p>Physical quantities only (<code>valuation: false</code>): no prices were "
               "used and no value is computed.</p>"
               + "<table><thead><tr><th>service</th><th>quantity</th><th>amount</th>"
               "<th>unit</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    lu_html = _figure(_img(_land_use_figure([("land use", lu)], lu.types, lu.colours),
                           "land-use map"), _e(str(lu.path)))
    if lu.problem:
        lu_html = f'<p class="warn">{_e(lu.problem)}</p>' + lu_html
    warn = manifest.get("warnings") or []
    notes = "".join(f'<p class="warn">{_e(w)}</p>' for w in warn)
    tables = [_csv_block(run_dir, rel, Path(rel).stem.replace("_", " "))
              for rel in manifest.get("tables", [])]
    sections = [_section("summary", "Summary", summary + notes),
                _section("land-use", "Land use", lu_html),
                _section("maps", "Maps", _maps_section(run_dir, manifest, previews)),
                _section("tables", "Tables", "\n".join(tables)),
                _section("parameters", "Parameters and provenance",
                         _parameters_section(manifest))]
    nav = [("summary", "Summary"), ("land-use", "Land use"), ("maps", "Maps"),
           ("tables", "Tables"), ("parameters", "Parameters")]
    name = manifest.get("name", run_dir.name)
    header = (f"<h1>Physical quantities: {_e(name)}</h1>"
              f'<div class="sub">{len(manifest.get("services", []))} services · no valuation · '
              f"gepgeo {_e(manifest.get('gepgeo_version', __version__))}</div>")
    return _page(f"gepgeo report: {name}", header, nav, "\n".join(sections))
