"""The report's HTML: one jinja2 environment over ``templates/``, and the pieces every page uses.

The templates (``templates/*.html.j2``) hold the markup: the page skeleton (``page.html.j2``,
with the inline style sheet ``report.css`` and the image check ``image-check.js``), the macros
shared by the pages (``macros.html.j2``: sections, KPIs, figures, links, data tables, folded
and CSV tables), and one template per page (``run.html.j2``, ``quantities.html.j2``,
``compare.html.j2``). The Python modules compute what a page shows and hand it to its template.

Escaping
--------
Autoescape is on: every ``{{ value }}`` is escaped as :func:`html.escape` escapes it
(``quote=True``), unless the value is :class:`markupsafe.Markup`, i.e. HTML already: the output
of a template or a macro, a value escaped by the ``e`` filter or :func:`escape`, or a phrase of
the catalogue (:data:`gepgeo.i18n.ZH`) inserted as written with :func:`html_t` (the phrases that
carry markup, ``<strong>``, ``<code>``, a link, and the few whose apostrophes the page has always
kept bare). A Markup value is never escaped again.

The environment is built once (:func:`environment`, cached) and each template compiled once per
process. Compiling the templates a page needs takes some 35 ms, so the compiled code is kept
beside the package, in ``__pycache__`` as Python keeps its own (:class:`_BytecodeCache`): later
processes load it in about 1 ms. A template whose source changed, another jinja2, or a changed
``render.py`` (the environment's options) compile again; a folder that cannot be written just
means no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket
from markupsafe import Markup

from .. import __version__
from ..i18n import chart_lang, cjk_font, html_lang, label, lang, t, use_lang
from ..styles import MAX_SIDE
from .files import count_rows, split_layer
from .format import (LABEL_COLUMNS, column_label, fmt_number, isnan, money, money_label,
                     name_label, slug, unit_text)
from .tables import change_rows

__all__ = [
    "CHANGE_ROWS_READ",
    "CSS",
    "FOOTER",
    "IMAGE_CHECK_JS",
    "LONG_TABLE",
    "TABLE_ROWS",
    "CsvBlock",
    "charts_in_english",
    "csv_block",
    "df_to_html",
    "environment",
    "escape",
    "html_t",
    "macros",
    "render",
    "report_context",
    "report_lang",
    "table_html",
]

#: Rows of a table rendered in the page (the linked CSV has them all).
TABLE_ROWS = 300
#: Tables longer than this are folded into a <details> element.
LONG_TABLE = 40
#: Change tables up to this many rows are read whole to be put in service order.
CHANGE_ROWS_READ = 200_000

FOOTER = ("Written by gepgeo {version} from the files of this folder. Maps are decimated to at "
          "most {side} pixels a side for display; the GeoTIFFs hold the full resolution.")

_PACKAGE = __name__.rpartition(".")[0]
_TEMPLATES = Path(__file__).with_name("templates")
#: The page's style sheet (``templates/report.css``), inline in every report.
CSS = "\n" + _TEMPLATES.joinpath("report.css").read_text(encoding="utf-8")
#: Inline check run by the browser test: did every embedded image decode?
#: (``templates/image-check.js``)
IMAGE_CHECK_JS = "\n" + _TEMPLATES.joinpath("image-check.js").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# the environment
# --------------------------------------------------------------------------------------------

def escape(value: Any) -> Markup:
    """``value`` as HTML text: escaped as :func:`html.escape` does (``'`` → ``&#x27;``), or as
    it is if it is HTML already (:class:`markupsafe.Markup`)."""
    if hasattr(value, "__html__"):
        return Markup(value.__html__())
    return Markup(html.escape(str(value), quote=True))


def html_t(text: str, **kw: object) -> Markup:
    """:func:`gepgeo.i18n.t`, inserted as written: for the catalogue's phrases that are HTML
    (they carry markup, or are put in the page as they are). Values in ``kw`` that are text, not
    HTML, must be escaped by the caller (:func:`escape`, the ``e`` filter)."""
    return Markup(t(text, **kw))


def charts_in_english() -> bool:
    """A Chinese report whose charts are labelled in English for want of a CJK font."""
    return lang() == "zh" and chart_lang() == "en"


class _BytecodeCache(FileSystemBytecodeCache):
    """Compiled templates in ``directory``, one file per template; the file holds a checksum of
    the template's source, and its name the jinja2 version and the size and time of this module
    (which sets the environment's options), so that a change of either compiles again. Reading
    or writing the cache never fails a report: a file that cannot be read is compiled again,
    one that cannot be written is not kept."""

    def __init__(self, directory: Path) -> None:
        here = os.stat(__file__)
        key = f"{getattr(jinja2, '__version__', '')};{here.st_size};{here.st_mtime_ns}"
        tag = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]
        super().__init__(str(directory), f"gepgeo-report-{tag}-%s.jinja2")

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> _BytecodeCache | None:
    """The cache in the package's ``__pycache__``, or None if that folder cannot be written."""
    directory = Path(__file__).with_name("__pycache__")
    try:
        directory.mkdir(exist_ok=True)
    except OSError:
        return None
    return _BytecodeCache(directory) if os.access(directory, os.W_OK) else None


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The jinja2 environment of the report's templates (built once)."""
    env = Environment(loader=PackageLoader(_PACKAGE, "templates"), autoescape=True,
                      finalize=escape, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False,
                      bytecode_cache=_bytecode_cache())
    env.filters["e"] = env.filters["escape"] = escape
    env.globals.update(
        t=t, ht=html_t, label=label, name_label=name_label, html_lang=html_lang,
        fmt_number=fmt_number, money=money, money_label=money_label,
        charts_in_english=charts_in_english, version=__version__, MAX_SIDE=MAX_SIDE,
        FOOTER=FOOTER, LONG_TABLE=LONG_TABLE, TABLE_ROWS=TABLE_ROWS)
    return env


def render(template: str, /, **context: Any) -> str:
    """The page template ``template`` rendered with ``context``."""
    return environment().get_template(template).render(context)


def macros() -> Any:
    """The macros of ``macros.html.j2``, to call from Python (each returns Markup)."""
    return environment().get_template("macros.html.j2").module


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

def table_html(df: pd.DataFrame, *, formats: Mapping[str, Callable[[Any], str]] | None = None,
               raw_html: Sequence[str] = (), row_classes: Sequence[str] | None = None,
               row_attrs: Sequence[str] | None = None,
               cell_classes: Mapping[str, str] | None = None) -> Markup:
    """A DataFrame as an HTML table; numbers right-aligned and formatted with :func:`fmt_number`.

    Parameters
    ----------
    formats : mapping, optional
        Column → formatter (returns plain text, escaped here).
    raw_html : sequence of str
        Columns whose cells are already HTML (not escaped).
    row_classes, row_attrs : sequence of str, optional
        Per row: a ``class`` value, and extra attribute text (HTML) for the ``<tr>``.
    cell_classes : mapping, optional
        Column → ``class`` of its cells.

    Returns
    -------
    markupsafe.Markup
        The ``<table>``, from the ``table`` macro of ``macros.html.j2``: HTML to put in a page
        (:func:`df_to_html` gives it as plain text).
    """
    formats = dict(formats or {})
    cell_classes = dict(cell_classes or {})
    numeric = {c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])}
    for col in numeric:   # years (a series' year, from_year, price_year): no separators
        if (str(col) == "year" or str(col).endswith("_year")) and col not in formats:
            formats[col] = lambda v: "" if isnan(v) else str(int(v))
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
    columns = []
    for col in df.columns:
        if col in raw_html:
            text: Callable[[Any], Any] = _raw_cell
        else:
            text = formats.get(col, fmt_number)
        columns.append((text, cell_classes.get(col, "num" if col in numeric else "")))
    rows = []
    for i, rec in enumerate(df.itertuples(index=False, name=None)):
        cells = [(cls, text(v)) for (text, cls), v in zip(columns, rec)]
        rows.append((row_classes[i] if row_classes else "",
                     Markup(row_attrs[i]) if row_attrs else None, cells))
    table: Markup = macros().table([column_label(c) for c in df.columns], rows)
    return table


def df_to_html(df: pd.DataFrame, **kw: Any) -> str:
    """:func:`table_html` as a plain :class:`str` (adding text to a Markup would escape it).

    Parameters as :func:`table_html`.
    """
    return str(table_html(df, **kw))


def _raw_cell(v: Any) -> Markup:
    """A cell of a ``raw_html`` column: HTML as given (empty for NaN)."""
    return Markup("" if isnan(v) else str(v))


@dataclass
class CsvBlock:
    """A table of the folder shown under its title, linked to its file (``csv_block`` macro).

    ``kind``: ``csv`` (shown), ``missing`` or ``other`` (not a CSV: linked, not shown).
    """

    rel: str
    title: str
    kind: str
    file: str = ""
    layer: str = ""
    intro: Markup | str = ""
    rows: int = 0
    table: Markup | None = None

    @property
    def anchor(self) -> str:
        return slug(self.rel)


def csv_block(folder: Path, rel: str, title: str, intro: Markup | str = "") -> CsvBlock:
    """The table ``rel`` (a manifest's ``tables`` entry) of ``folder``: its first
    :data:`TABLE_ROWS` rows (``intro``: HTML said before it).

    Change tables (``change_by_*.csv``) are shown in service order with rounding noise as 0
    (:func:`gepgeo.report.tables.change_rows`); the CSV keeps its rows as written.
    """
    file_rel, layer = split_layer(rel)
    path = folder / file_rel
    if not path.is_file():
        return CsvBlock(rel, title, "missing", file_rel)
    if path.suffix.lower() != ".csv":
        return CsvBlock(rel, title, "other", file_rel, layer)
    n = count_rows(path)
    if path.stem.startswith("change_by_") and n <= CHANGE_ROWS_READ:
        df = change_rows(pd.read_csv(path, dtype={"zone_id": str})).head(TABLE_ROWS)
    else:
        df = pd.read_csv(path, nrows=TABLE_ROWS)
    return CsvBlock(rel, title, "csv", file_rel, layer, intro, n, table_html(df))


# --------------------------------------------------------------------------------------------
# language
# --------------------------------------------------------------------------------------------

def report_lang(manifest: Mapping[str, Any], requested: str | None = None) -> str:
    """The report's language: ``requested`` (``--lang``), else the run's ``options.report_lang``,
    else English."""
    code = requested or manifest.get("options", {}).get("report_lang") or "en"
    return str(code)


@contextlib.contextmanager
def report_context(code: str) -> Iterator[None]:
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
