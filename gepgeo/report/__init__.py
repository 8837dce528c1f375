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

Modules
-------
run_page
    A run folder's page (and the page of a run without valuation).
compare_page
    A comparison's page, with the reproduction of Xu et al.
figures
    The maps and charts (matplotlib), as base64 PNG.
tables
    The tables a page shows, computed from the folder's CSV files and manifest (no HTML).
intervals
    A run's draws (GEP interval, error bars, Sobol' indices, fixed parameters) and a
    comparison's change interval and P(GEP rose), from the uncertainty CSVs.
format
    Text of numbers, money, units, names and column headers.
render
    The jinja2 environment over ``templates/`` (autoescape on), data tables and CSV blocks, the
    report's language.
files
    Reading manifests and tables; writing the page atomically.

The markup is in ``templates/`` (``*.html.j2``, ``report.css``, ``image-check.js``).
Every name this package had when it was the single module ``gepgeo/report.py`` is importable from
it (``__all__``); :func:`write_report` is here because it dispatches to the two pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputFileError
from .compare_page import (CHANGE_TABLE_NOTE, TIER_CLASSES, build_compare_report,
                           write_compare_report)
from .figures import (CATEGORY_COLOURS, NODATA_GREY, CrsLabels, LandUse, diverging_scale,
                      value_scale)
from .files import COMPARISON_MANIFEST_KEYS, RUN_MANIFEST_KEYS, read_json, read_manifest
from .format import (COLUMNS_ZH, LABEL_COLUMNS, MONEY_LABEL, MONEY_UNIT, column_label, fmt_number,
                     money_label, pretty_unit, price_year_text, unit_text)
from .render import (CHANGE_ROWS_READ, CSS, FOOTER, IMAGE_CHECK_JS, LONG_TABLE, TABLE_ROWS,
                     df_to_html, report_lang)
from .run_page import build_run_report, write_run_report
from .tables import (NOISE_REL, change_rows, land_type_change_per_ha, land_type_per_ha,
                     price_year_counts, zone_totals)

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


def write_report(folder: Path, lang: str | None = None) -> list[Path]:
    """Rebuild the report(s) of any gepgeo output folder (for ``gepgeo report DIR``).

    * a comparison (``DIR/change/manifest.json``), or its ``change`` folder: both scenario
      reports and the comparison report, with the reproduction section if
      ``DIR/reproduction.csv`` exists (and the as-stated totals if ``DIR/as_stated_gep.json``,
      ``{"before": yuan, "after": yuan}``, exists);
    * a series (``DIR/series/manifest.json``), or its ``series`` folder: each year's report
      and the series report;
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

    Notes
    -----
    The pages are written by :func:`write_run_report` and :func:`write_compare_report` as this
    package names them (a test replaces them here to see the calls).
    """
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if manifest.is_file() and read_json(manifest).get("kind") in ("comparison", "series"):
        folder = folder.parent
    series = folder / "series" / "manifest.json"
    if series.is_file() and read_json(series).get("kind") == "series":
        from .series_page import write_series_report

        years = [str(y) for y in read_json(series).get("years", [])]
        kws: dict[str, Any] = {"lang": lang} if lang else {}
        done = [write_run_report(folder / y, **kws) for y in years
                if (folder / y / "manifest.json").is_file()]
        return done + [write_series_report(folder, **kws)]
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
