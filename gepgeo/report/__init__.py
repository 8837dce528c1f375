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

import contextlib
import html
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import __version__
from ..errors import InputFileError
from ..i18n import chart_lang, cjk_font, html_lang, label, lang, t, use_lang
from ..styles import MAX_SIDE, Previews, preview_of
from .figures import (CATEGORY_COLOURS, NODATA_GREY, CrsLabels, LandUse, change_by_service_figure,
                      chart, comparison_figure, diverging_scale, land_use_figure, map_figure,
                      png_uri, read_land_use, value_by_land_type_figure, value_by_service_figure,
                      value_scale)
from .files import (COMPARISON_MANIFEST_KEYS, RUN_MANIFEST_KEYS, count_rows, read_json,
                    read_manifest, read_table, split_layer, write_text)
from .format import (COLUMNS_ZH, LABEL_COLUMNS, MONEY_LABEL, MONEY_UNIT, column_label, fmt_number,
                     fmt_sig, isnan, money, money_label, name_label, per_ha_column, pretty_unit,
                     price_year_text, slug, unit_text)
from .tables import (NOISE_REL, change_rows, excluded_by_service, gep_total,
                     land_type_change_per_ha, land_type_per_ha, land_use_total, map_coverage,
                     pixel_area_ha, price_year_counts, zone_change_table, zone_totals)

__all__ = [
    "CATEGORY_COLOURS",
    "CHANGE_ROWS_READ",
    "CHANGE_TABLE_NOTE",
    "COLUMNS_ZH",
    "COMPARISON_MANIFEST_KEYS",
    "CSS",
    "CrsLabels",
    "FOOTER",
    "IMAGE_CHECK_JS",
    "LABEL_COLUMNS",
    "LONG_TABLE",
    "LandUse",
    "MONEY_LABEL",
    "MONEY_UNIT",
    "NODATA_GREY",
    "NOISE_REL",
    "RUN_MANIFEST_KEYS",
    "TABLE_ROWS",
    "TIER_CLASSES",
    "build_compare_report",
    "build_run_report",
    "change_rows",
    "column_label",
    "df_to_html",
    "diverging_scale",
    "fmt_number",
    "land_type_change_per_ha",
    "land_type_per_ha",
    "money_label",
    "pretty_unit",
    "price_year_counts",
    "price_year_text",
    "report_lang",
    "unit_text",
    "value_scale",
    "write_compare_report",
    "write_report",
    "write_run_report",
    "zone_totals",
]

#: Rows of a table rendered in the page (the linked CSV has them all).
TABLE_ROWS = 300
#: Tables longer than this are folded into a <details> element.
LONG_TABLE = 40
TIER_CLASSES = {"<=0.5%": "t05", "<=2%": "t2", "<=5%": "t5", ">5%": "t5p"}


def _e(x: Any) -> str:
    """HTML-escaped text of ``x``."""
    return html.escape(str(x), quote=True)


def _img(fig: Figure, alt: str, *, dpi: int = 100) -> str:
    """An ``<img>`` element embedding ``fig``."""
    return f'<img src="{png_uri(fig, dpi=dpi)}" alt="{_e(alt)}">'


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
                    return "" if isnan(v) else label(v, land_type=lt, measure=m)

                formats[col] = cell
            elif col == "unit":
                formats[col] = lambda v: "" if isnan(v) else unit_text(str(v))
    rows = []
    for i, rec in enumerate(df.itertuples(index=False, name=None)):
        cells = []
        for col, v in zip(df.columns, rec):
            if col in raw_html:
                text = "" if isnan(v) else str(v)
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


def _fold(html_text: str, n_rows: int, what: str = "the table") -> str:
    """Fold long tables into a <details> element."""
    if n_rows <= LONG_TABLE:
        return html_text
    return (f"<details><summary>{_e(t('show {what} ({n} rows)', what=t(what), n=f'{n_rows:,}'))}"
            f"</summary>\n{html_text}\n</details>")



#: Change tables up to this many rows are read whole to be put in service order.
CHANGE_ROWS_READ = 200_000


def _csv_block(folder: Path, rel: str, title: str, intro: str = "") -> str:
    """``<h3>``, a link to the CSV (relative href) and the table (first rows, folded if long).

    Change tables (``change_by_*.csv``) are shown in service order with rounding noise as 0
    (:func:`change_rows`); the CSV keeps its rows as written.
    """
    file_rel, layer = split_layer(rel)
    path = folder / file_rel
    head = f'<h3 id="{_e(slug(rel))}">{_e(title)}</h3>'
    if not path.is_file():
        missing = t("{file} is missing from this folder.", file=file_rel)
        return f'{head}<p class="warn">{_e(missing)}</p>'
    if path.suffix.lower() != ".csv":
        what = _e(t(", layer {layer}", layer=layer)) if layer else ""
        return (f'{head}<p class="csv"><a href="{_e(file_rel)}">{_e(file_rel)}</a>{what} '
                f"{_e(t('(not shown here)'))}</p>")
    n = count_rows(path)
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

_STAT_TEXT = {
    "land_use_nodata": "land-use nodata (outside the account)",
    "unmapped_codes": "land-use codes the pipeline does not declare",
}


def _pixel_section(run_dir: Path, manifest: Mapping[str, Any], tidy: pd.DataFrame | None,
                   gep: float | None, lu_area: float | None) -> str:
    """Pixel counts, clamping, exclusions per service, GEP-map coverage and warnings."""
    px_ha = pixel_area_ha(manifest)
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
    exc = excluded_by_service(tidy)
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
        cov = map_coverage(gep_map, manifest.get("options", {}).get("area", "planar"))
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
        gap=fmt_number(lu_area - ha), total=money(total), gep=money(gep),
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
        kpis.append(_kpi(money(gep), _e(t("GEP, {unit} ({yuan} yuan a⁻¹)", unit=money_label(),
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
                      gep=money(gep) if gep is not None else "n/a", money=t("× 10⁴ yuan a⁻¹"),
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
            return map_figure(path, name_label(name), preview)   # the label in chart language

        fig = chart(make)
        figs.append(_figure(_img(fig, t("map of {what}", what=name_label(name))),
                            f'<a href="{_e(rel)}">{_e(rel)}</a>'))
    return ('<p class="muted">' + t("Densities per hectare; each map has its own colour scale; "
                                    "grey is nodata.") + '</p><div class="grid">'
            + "".join(figs) + "</div>")



def _land_type_per_ha_section(by_land_type: pd.DataFrame) -> str:
    table = land_type_per_ha(by_land_type)
    cols = {c: per_ha_column(c) for c in table.columns
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



def _zones_section(run_dir: Path) -> str | None:
    """Zone totals (GEP and GEP per ha) from ``tables/services_by_zone.csv``, if any."""
    path = run_dir / "tables" / "services_by_zone.csv"
    if not path.is_file():
        return None
    table = zone_totals(pd.read_csv(path, dtype={"zone_id": str}))
    shown = table.rename(columns={c: per_ha_column(c) for c in table.columns
                                  if c.endswith("_value_per_ha_yuan_ha-1_a-1")})
    intro = ('<p class="muted">' + t(
        "Totals per zone, summed over land types; area is the zone's valid land-use pixels "
        "(pixel-centre rule); GEP per ha is GEP over that area, and each service's value per ha "
        "stands beside its total. Every measure per zone and land type: {link}.",
        link='<a href="tables/services_by_zone.csv">tables/services_by_zone.csv</a>') + "</p>")
    return intro + _fold(df_to_html(shown), len(table), "the zones")



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
    manifest = read_manifest(run_dir / "manifest.json")
    if manifest.get("valuation") is False:   # physical quantities only: no money anywhere
        return _quantities_report(run_dir, manifest, previews)
    with _report_context(report_lang(manifest, lang)):
        return _build_run_report(run_dir, manifest, previews)


def _build_run_report(run_dir: Path, manifest: Mapping[str, Any],
                      previews: Previews | None = None) -> str:
    by_service = read_table(run_dir, "gep_by_service.csv")
    by_lt = read_table(run_dir, "gep_by_land_type.csv")
    tidy = read_table(run_dir, "services_by_land_type.csv")
    lu_table = read_table(run_dir, "land_use.csv")
    gep = gep_total(by_service)
    lu_area = land_use_total(lu_table)
    years = price_year_counts(manifest)
    lu = read_land_use(run_dir, manifest)

    sections = [_section("summary", t("Summary"),
                         _scope_banner(manifest.get("scope_warnings")) + _font_note()
                         + _headline(gep, years, lu_area, manifest))]
    lu_fig = chart(lambda: land_use_figure([(t("land use"), lu)], lu.types, lu.colours))
    lu_html = _figure(_img(lu_fig, t("land-use map")), _e(str(lu.path)))
    if lu.problem:
        lu_html = f'<p class="warn">{_e(lu.problem)}</p>' + lu_html
    sections.append(_section("land-use", t("Land use"), lu_html))
    sections.append(_section("maps", t("Maps"), _maps_section(run_dir, manifest, previews)))
    charts = []
    if by_service is not None:
        charts.append(_figure(_img(chart(lambda: value_by_service_figure(by_service)),
                                   t("value by service"))))
    if by_lt is not None:
        charts.append(_figure(_img(chart(lambda: value_by_land_type_figure(by_lt, lu.colours)),
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
    return write_text(run_dir / "report.html",
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
    unit = money_label()
    if len(gep_rows):
        r = gep_rows.iloc[0]
        b, a, d, pct = (float(r["before"]), float(r["after"]), float(r["change"]),
                        r.get("change_pct", np.nan))
        kpis += [_kpi(money(b), _e(t("GEP before, {unit}", unit=unit))),
                 _kpi(money(a), _e(t("GEP after, {unit}", unit=unit))),
                 _kpi(f"{d / MONEY_UNIT:+,.2f}", _e(t("change, {unit}", unit=unit)
                      + (f" ({float(pct):+,.1f} %)" if not isnan(pct) else "")),
                      "up" if d >= 0 else "down")]
        text = "<p>" + t("GEP went from <strong>{b}</strong> to <strong>{a}</strong> {money}, a "
                         "change of <strong>{d}</strong> {money}.", b=money(b), a=money(a),
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
            return comparison_figure(
                name_label(base), compare_dir / "before" / "maps" / f"{base}.tif",
                compare_dir / "after" / "maps" / f"{base}.tif",
                compare_dir / "change" / maps[name])

        fig = chart(make)
        figs.append(_figure(_img(fig, t("{what} before, after and change", what=name_label(base)),
                                 dpi=90),
                            _e(t("difference map: ")) +
                            f'<a href="{_e(maps[name])}">{_e(maps[name])}</a>'))
    return ('<p class="muted">' + t(
        "Before and after share one colour scale per row; the difference (after − before, on the "
        "before grid) is red for losses and blue for gains, symmetric about 0; grey is nodata.")
        + "</p>" + "".join(figs))



def _land_type_change_section(change_dir: Path) -> str | None:
    lt = read_table(change_dir, "change_by_land_type.csv")
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
        pub = gep_total(read_table(compare_dir / scen, "gep_by_service.csv"))
        row = {"scenario": scen,
               "jinsha-as-published (this run)": money(pub) if pub is not None else "",
               "jinsha-as-stated": money(float(stated))}
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
        df["reason"] = ["" if isnan(r) else _e(r) for r in rep["reason"]]
    classes = [" ".join(filter(None, (TIER_CLASSES.get(t, ""),
                                      "nr" if v == "NOT-REPRODUCIBLE" else "")))
               for t, v in zip(rep["tier"], rep["verdict"])]
    attrs = [f'data-rep-id="{_e(i)}"' for i in rep["id"]]
    return df_to_html(df, raw_html=("tier", "verdict", "reason"), row_classes=classes,
                      row_attrs=attrs,
                      formats={"paper": lambda v: "" if isnan(v) else f"{float(v):,.10g}",
                               "gepgeo": fmt_sig,
                               "rel_diff": lambda v: "" if isnan(v) else f"{100 * v:+.3f} %"},
                      cell_classes={"reason": "reason", "description": "note",
                                    "verdict": "verdict"})


def _zone_change_section(change_dir: Path, cm: Mapping[str, Any]) -> str | None:
    """GEP before, after and change per zone (and per ha of each scenario's zone area), from
    ``tables/change_by_zone.csv``; or the manifest's note on why there is none."""
    path = change_dir / "tables" / "change_by_zone.csv"
    if not path.is_file():
        note = cm.get("zones")
        return f'<p class="note">{_e(t(str(note)))}.</p>' if note else None
    table = zone_change_table(pd.read_csv(path, dtype={"zone_id": str}))
    intro = ('<p class="muted">' + t(
        "GEP per zone in each scenario (each rasterised on its own grid), summed over land "
        "types; every service and measure: {link}.",
        link='<a href="tables/change_by_zone.csv">tables/change_by_zone.csv</a>') + "</p>")
    return intro + _fold(df_to_html(table), len(table), "the zones")


def build_compare_report(compare_dir: Path, reproduction: pd.DataFrame | None = None,
                         as_stated_gep: Mapping[str, float] | None = None,
                         lang: str | None = None) -> str:
    """The HTML of a comparison's report (see :func:`write_compare_report`)."""
    compare_dir = Path(compare_dir)
    change_dir = compare_dir / "change"
    cm = read_manifest(change_dir / "manifest.json", comparison=True)
    runs = {s: read_manifest(compare_dir / s / "manifest.json") for s in ("before", "after")
            if (compare_dir / s / "manifest.json").is_file()}
    code = lang or report_lang(runs.get("before", {}))
    with _report_context(code):
        return _build_compare_report(compare_dir, cm, runs, reproduction, as_stated_gep)


def _build_compare_report(compare_dir: Path, cm: Mapping[str, Any],
                          runs: Mapping[str, Mapping[str, Any]],
                          reproduction: pd.DataFrame | None,
                          as_stated_gep: Mapping[str, float] | None) -> str:
    change_dir = compare_dir / "change"
    change = read_table(change_dir, "change_by_service.csv")
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
    lus = {s: read_land_use(compare_dir / s, m) for s, m in runs.items()}
    if lus:
        types = list(dict.fromkeys(lt for lu in lus.values() for lt in lu.types))
        colours: dict[str, str] = {}
        for lu in lus.values():
            colours.update({k: c for k, c in lu.colours.items() if k not in colours})
        fig = chart(lambda: land_use_figure([(t(s), lu) for s, lu in lus.items()], types,
                                              colours))
        problems = "".join(f'<p class="warn">{_e(t(s))}: {_e(lu.problem)}</p>'
                           for s, lu in lus.items() if lu.problem)
        sections.append(_section("land-use", t("Land use before and after"),
                                 problems + _figure(_img(fig, t("land use before and after")))))
    sections.append(_section("maps", t("Maps: before, after and difference"),
                             _change_maps_section(compare_dir, cm)))
    if change is not None:
        order = runs.get("before", {}).get("services", [])
        fig = chart(lambda: change_by_service_figure(change, order))
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
    return write_text(compare_dir / "change" / "report.html", text)


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
    if manifest.is_file() and read_json(manifest).get("kind") == "comparison":
        folder = folder.parent
    if (folder / "change" / "manifest.json").is_file():
        read_manifest(folder / "change" / "manifest.json", comparison=True)
        for s in ("before", "after"):
            if (folder / s / "manifest.json").is_file():
                read_manifest(folder / s / "manifest.json")
        kw: dict[str, Any] = {"lang": lang} if lang else {}
        written = [write_run_report(folder / s, **kw) for s in ("before", "after")
                   if (folder / s / "manifest.json").is_file()]
        rep_path = folder / "reproduction.csv"
        rep = pd.read_csv(rep_path) if rep_path.is_file() else None
        stated_path = folder / "as_stated_gep.json"
        stated = read_json(stated_path) if stated_path.is_file() else None
        return written + [write_compare_report(folder, rep, stated, **kw)]
    if manifest.is_file():
        read_manifest(manifest)
        one: dict[str, Any] = {"lang": lang} if lang else {}
        return [write_run_report(folder, **one)]
    raise InputFileError(f"{folder}: not a gepgeo output folder (no manifest.json, no "
                         "change/manifest.json); give a run folder or a comparison folder")


def _quantities_report(run_dir: Path, manifest: Mapping[str, Any],
                       previews: Previews | None = None) -> str:
    """The report of a run without valuation (``valuation: false``): the physical quantities
    by service, the land use, the quantity maps, the tables and the parameters; no money."""
    by_service = read_table(run_dir, "gep_by_service.csv")
    lu_area = land_use_total(read_table(run_dir, "land_use.csv"))
    lu = read_land_use(run_dir, manifest)
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
    lu_html = _figure(_img(land_use_figure([("land use", lu)], lu.types, lu.colours),
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
