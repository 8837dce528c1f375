"""Command line: ``gepgeo run | compare | demo | validate | codes | terrain | report | profiles``.

A thin layer over :mod:`gepgeo.run`. Exit status: 0 success; 2 bad input or configuration (one
line on stderr, no traceback); 1 internal error (a bug: the message asks for a report; set
``GEPGEO_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import math
import os
import sys
import traceback
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import __version__
from .errors import ConfigError, GepgeoError, GepgeoWarning, ProblemsError, one_line, shorten

if TYPE_CHECKING:
    from .pipeline import Pipeline

# no_args_is_help would print the help and raise a usage error whose message is the help text:
# without a command, main() prints one line instead
app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False,
                  help="gepgeo: Gross Ecosystem Product accounts from land-use rasters.")
profiles_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                           help="List the shipped parameter profiles, or show one.")
app.add_typer(profiles_app, name="profiles")

# wide enough for the tables when the output is piped to a file (rich defaults to 80 there)
out_console = Console(width=None if sys.stdout.isatty() else 110)
# soft_wrap: a line on stderr (a long path) is never broken over several lines
err_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def _user(text: Any) -> str:
    """User text (a name, a path, a note from a file) made safe for rich markup: shown
    literally (``[/red]`` is not a tag), on one line, with control characters (ANSI escape
    sequences, line breaks) shown escaped instead of acting on the terminal."""
    return escape(one_line(str(text)))


def _cell(text: Any) -> Text:
    """A table cell holding user text, shown literally (see :func:`_user`)."""
    return Text(one_line(str(text)))


def _check_money_unit(money_unit: float) -> None:
    """Refuse a ``--money-unit`` that cannot divide money (0, negative, NaN, infinite)
    before anything is computed or written."""
    if not (math.isfinite(money_unit) and money_unit > 0):
        raise ConfigError(f"--money-unit: expected a positive finite number of yuan (e.g. 1e4), "
                          f"got {money_unit:g}")


_LANG_HELP = ("Language of report.html: en or zh (Chinese; CSV files stay English). Default: the "
              "pipeline's options.report_lang, else en.")

# Options shared by several commands, declared once (help text and flags)
_PipelineArg = Annotated[Path, typer.Argument(help="Pipeline YAML file.")]
_Overwrite = Annotated[bool, typer.Option(help="Replace an existing output folder.")]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or tables.")]
_StrictGrid = Annotated[bool, typer.Option(
    "--strict-grid", help="Refuse layers not on the land-use grid instead of aligning them.")]
_Cog = Annotated[bool, typer.Option(
    "--cog", help="Write Cloud-Optimized GeoTIFFs with overviews (a second pass over each map).")]
_Lang = Annotated[str | None, typer.Option("--lang", help=_LANG_HELP)]
_Report = Annotated[bool | None, typer.Option(
    "--report/--no-report",
    help="Write report.html and the QGIS styles (default: the pipeline's options.report).")]
_OutFolder = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]



def _check_lang(lang: str | None) -> None:
    """Refuse a ``--lang`` the report does not speak, before anything is computed."""
    from .i18n import LANGS

    if lang is not None and lang not in LANGS:
        raise ConfigError(f"--lang: expected one of {', '.join(LANGS)}, got {shorten(lang)!r}")




def _version(value: bool) -> None:
    if value:
        typer.echo(f"gepgeo {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None
          ) -> None:
    """gepgeo: Gross Ecosystem Product accounts from land-use rasters."""


def _money(x: float, unit: float) -> str:
    return f"{x / unit:,.2f}"


def _print_run(res, money_unit: float, title: str) -> None:  # type: ignore[no-untyped-def]
    unit_txt = "yuan a-1" if money_unit == 1 else f"{money_unit:g} yuan a-1"
    t = Table(title=_user(title), show_lines=False)
    svc = res.by_service
    valued = bool((svc.service == "gep").any())   # False: quantities only (valuation: false)
    cols = ("service", "quantity", "amount", "unit") + (
        (f"value ({unit_txt})", "share of GEP") if valued else ())
    for col in cols:
        t.add_column(col, justify="right" if col not in ("service", "quantity", "unit") else "left")
    for service in svc[(svc.service != "subtotal") & (svc.service != "gep")].service.unique():
        rows = svc[svc.service == service]
        value = rows[rows.measure == "value"]
        share = float(value.share_of_gep_pct.iloc[0]) if len(value) else float("nan")
        v = float(value.amount.iloc[0]) if len(value) else float("nan")
        phys = rows[rows.unit != "yuan a-1"]
        first = True
        for _, r in phys.iterrows():
            money = ((_money(v, money_unit) if first else "", f"{share:.2f} %" if first else "")
                     if valued else ())
            t.add_row(_cell(service) if first else "", _cell(r.measure), f"{r.amount:,.2f}",
                      _cell(r.unit), *money)
            first = False
        if first and valued:
            t.add_row(_cell(service), "", "", "", _money(v, money_unit), f"{share:.2f} %")
    if valued:
        gep = svc[svc.service == "gep"].amount.iloc[0]
        t.add_row("GEP", "", "", "", _money(float(gep), money_unit), "100.00 %")
    out_console.print(t)


_YES_HELP = ("Run a grid above 2.5e9 pixels, and skip the free-space check (for a grid that is "
             "mostly nodata, whose maps take far less than estimated).")
_Yes = Annotated[bool, typer.Option("--yes", "-y", help=_YES_HELP)]


def _size_args(yes: bool, quiet: bool) -> dict:  # type: ignore[type-arg]
    """The size guards of a run (``--yes``) and the printed estimate (unless ``--quiet``)."""
    from .outputs import LARGE_GRID_PIXELS

    def show(est) -> None:  # type: ignore[no-untyped-def]
        err_console.print(f"gepgeo: {est.summary()}", markup=False, highlight=False)

    return {"max_pixels": None if yes else LARGE_GRID_PIXELS, "check_disk": not yes,
            "on_estimate": None if quiet else show}


_Draws = Annotated[int | None, typer.Option(
    "--draws", min=0,
    help="Draw the parameters that carry a range N times (options.uncertainty.draws; 0: "
         "none): intervals and Sobol indices in tables/.")]


@app.command()
def run(
    pipeline: _PipelineArg,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (default: the pipeline's `output`).")] = None,
    overwrite: _Overwrite = False,
    money_unit: Annotated[float, typer.Option(
        "--money-unit",
        help="Show money in this many yuan (1e4 for 10^4 yuan); files stay in yuan.")] = 1.0,
    quiet: _Quiet = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler",
        help="Address of a running dask.distributed scheduler (tcp://host:8786).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1,
        help="Start a local dask.distributed cluster of N worker processes.")] = None,
    strict_grid: _StrictGrid = False,
    cog: _Cog = False,
    yes: _Yes = False,
    lang: _Lang = None,
    report: _Report = None,
    draws: _Draws = None,
    maps: Annotated[list[str] | None, typer.Option(
        "--map", help="Also write this map (repeatable), as if listed in the pipeline's maps: "
                      "a measure, or a factor layer of the run (its parameter key, e.g. "
                      "slope_length_steepness_ls; slope_deg, slope_length_m of an LS from a "
                      "DEM).")] = None,
) -> None:
    """Run a pipeline: write maps/, tables/ and manifest.json into the output folder."""
    from .pipeline import load_pipeline
    from .run import run_pipeline

    _check_money_unit(money_unit)
    _check_lang(lang)
    pipe = _with_maps(_with_draws(_with_report(_with_options(load_pipeline(pipeline),
                                                             strict_grid=strict_grid, cog=cog,
                                                             report_lang=lang), report), draws),
                      maps)
    res = run_pipeline(pipe, out, overwrite=overwrite, quiet=quiet, scheduler_address=scheduler,
                       workers=workers, **_size_args(yes, quiet))
    if not quiet:
        what = "GEP" if res.manifest.get("valuation", True) else "quantities"
        _print_run(res, money_unit, f"{res.manifest['name']}: {what} by service")
        _print_interval(res.manifest, money_unit)
    err_console.print(f"wrote {_user(res.out)}")


def _with_maps(pipe: Pipeline, maps: list[str] | None) -> Pipeline:
    """``pipe`` with the maps of ``--map`` added to its ``maps:`` (checked with them)."""
    if not maps:
        return pipe
    return pipe.model_copy(update={"maps": list(dict.fromkeys([*pipe.maps, *maps]))})


def _with_draws(pipe: Pipeline, draws: int | None) -> Pipeline:
    """``pipe`` with ``options.uncertainty.draws`` set by ``--draws`` (None: as it says)."""
    if draws is None:
        return pipe
    from .pipeline import UncertaintyOptions

    cur = pipe.options.uncertainty or UncertaintyOptions()
    opts = pipe.options.model_copy(update={"uncertainty": cur.model_copy(update={"draws": draws})})
    return pipe.model_copy(update={"options": opts})


def _print_interval(manifest: Mapping[str, Any], money_unit: float, label: str = "GEP") -> None:
    """One line: the GEP's 95 % interval of a run drawn with options.uncertainty."""
    unc = manifest.get("uncertainty") or {}
    g = unc.get("gep") or {}
    if not {"point", "p2.5", "p97.5"} <= set(g):
        return
    u = "" if money_unit == 1 else f" x {money_unit:g}"
    out_console.print(
        f"{label}: {g['point'] / money_unit:,.2f} (yuan{u} a-1); 95 % interval "
        f"{g['p2.5'] / money_unit:,.2f} to {g['p97.5'] / money_unit:,.2f} over "
        f"{unc['draws']} draws of {len(unc['sample_columns'])} uncertain parameter(s) "
        f"({len(unc['fixed'])} fixed: tables/uncertainty_parameters.csv)",
        markup=False, highlight=False)


def _with_report(pipe: Pipeline, report: bool | None) -> Pipeline:
    """``pipe`` with ``options.report`` set by ``--report/--no-report`` (None: as it says)."""
    if report is None:
        return pipe
    return pipe.model_copy(update={"options": pipe.options.model_copy(update={"report": report})})


def _with_options(pipe: Pipeline, **given: Any) -> Pipeline:
    """``pipe`` with the options given on the command line (those not None or False; a flag
    left off keeps the pipeline's own setting)."""
    given = {k: v for k, v in given.items() if v is not None and v is not False}
    if not given:
        return pipe
    return pipe.model_copy(update={"options": pipe.options.model_copy(update=given)})


@app.command()
def validate(
    pipeline: _PipelineArg,
    strict_grid: _StrictGrid = False,
) -> None:
    """Check a pipeline and open its inputs (metadata and land-use codes) without computing."""
    from .pipeline import load_pipeline
    from .run import validate as _validate

    prep = _validate(_with_options(load_pipeline(pipeline), strict_grid=strict_grid))
    info = prep.land_use_info
    out_console.print(f"[green]ok[/green]: {_user(pipeline)} — land use {info.shape[1]} x "
                      f"{info.shape[0]} pixels, {_user(info.crs)}; services: "
                      f"{_user(', '.join(prep.plan.enabled_services))}; "
                      f"{len(prep.plan.rasters)} raster layer(s)")
    if prep.plan.unused:
        out_console.print(f"parameters given but not used: {_user(', '.join(prep.plan.unused))}")
    for note in prep.warnings:
        out_console.print(f"note: {_user(note)}")


@app.command()
def codes(
    land_use: Annotated[Path, typer.Argument(help="Land-use raster.")],
    band: Annotated[int, typer.Option(help="Band number.")] = 1,
    nodata: Annotated[float | None, typer.Option(
        help="A nodata value besides the file's own.")] = None,
    write: Annotated[Path | None, typer.Option(
        "--write", "-w", help="Also write the `land_use:` block to this YAML file.")] = None,
) -> None:
    """List a land-use raster's codes with pixels, hectares and share, and the `land_use:`
    block to paste into a pipeline."""

    from .codes import codes_block, count_codes

    table = count_codes(land_use, band=band, nodata=nodata)
    out_console.print(f"{land_use.name}: {len(table.codes)} codes, {table.pixels} valid pixels, "
                      f"{table.area_ha:.2f} ha; {table.nodata_pixels} nodata pixels",
                      markup=False, highlight=False)
    t = Table()
    for col in ("code", "pixels", "area (ha)", "share (%)"):
        t.add_column(col, justify="right")
    for c in table.codes:
        t.add_row(f"{c.code:g}", f"{c.pixels}", f"{c.area_ha:.2f}", f"{100 * c.share:.2f}")
    out_console.print(t)
    from .codes import products_line

    matched = products_line(table)
    if matched:
        out_console.print(matched, markup=False, highlight=False)
    block = codes_block(table, path_text=str(land_use))
    out_console.print(block, markup=False, highlight=False, end="")
    if write is not None:
        tmp = write.with_name(f".{write.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(block, encoding="utf-8")
            os.replace(tmp, write)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise GepgeoError(f"--write: cannot write {str(write)!r} ({exc.strerror})") from None
        err_console.print(f"wrote {_user(write)}", highlight=False)
    if any(not c.integral for c in table.codes):
        raise GepgeoError(f"land use: {str(land_use)!r} holds values that are not whole numbers "
                          f"(e.g. {next(c.code for c in table.codes if not c.integral):.7g}); "
                          "land-use codes must be integers")


@app.command()
def terrain(
    dem: Annotated[Path, typer.Argument(help="DEM raster in a projected CRS (metres, feet ...).")],
    out: _OutFolder,
    method: Annotated[str, typer.Option(
        help="LS method: flowpath (Van Remortel et al. / LS-TOOL flow-path slope length), "
             "contributing_area (Desmet & Govers 1996: L from the D8 upslope area, tiled flow "
             "accumulation after Barnes 2017) or invest (InVEST 3.14's SDR formula, for "
             "comparison; needs --l-max).")] = "flowpath",
    max_slope_length: Annotated[float | None, typer.Option(
        "--max-slope-length", help="Cap on the slope length λ_max, m (gepgeo's; the AML has "
        "none; default 304.8 = 1000 ft, the longest in AH 703's LS tables). flowpath "
        "only.")] = None,
    min_slope: Annotated[float, typer.Option(
        "--min-slope", help="Slope of flats and filled pits (flowpath) or of cells with a zero "
        "gradient (contributing_area), degrees.")] = 0.1,
    cutoff_gentle: Annotated[float | None, typer.Option(
        "--cutoff-gentle", help="Slope-cutoff factor below a 5 % gradient (default 0.7). "
        "flowpath only.")] = None,
    cutoff_steep: Annotated[float | None, typer.Option(
        "--cutoff-steep", help="Slope-cutoff factor at a 5 % gradient or steeper (default "
        "0.5). flowpath only.")] = None,
    m_table: Annotated[str, typer.Option(
        "--m-table", help="L exponent m: mccool (β/(1+β)), wischmeier_smith (0.2-0.5 by "
        "gradient class) or van_remortel (McCool et al. 1997 Table 4-5).")] = "mccool",
    s_breaks: Annotated[str, typer.Option(
        "--s-breaks", help="S slope breaks: 5deg/10deg, 9%/18% or 5deg/14deg.")] = "5deg/10deg",
    l_max: Annotated[float | None, typer.Option(
        "--l-max", help="Cap on L of --method invest: InVEST's 'maximum L value' of the run "
        "to compare with (required there).")] = None,
    z_factor: Annotated[float, typer.Option(
        "--z-factor", help="Horizontal units per elevation unit (3.2808 for elevations in "
        "metres on a CRS in feet; 1 when both are the same).")] = 1.0,
    block: Annotated[int, typer.Option(
        "--block", help="Side of the blocks computed at once, pixels (the result does not "
        "depend on it).")] = 1024,
    grid: Annotated[Path | None, typer.Option(
        "--grid", help="A land-use raster: resample the DEM onto its grid (bilinear) "
        "first.")] = None,
    overwrite: _Overwrite = False,
    quiet: _Quiet = False,
) -> None:
    """Write the RUSLE LS factor of a DEM, with its slope and slope length (flowpath) or
    contributing area (contributing_area), as GeoTIFFs: slope_length_steepness_ls.tif,
    slope_deg.tif, slope_length_m.tif or contributing_area_m2.tif."""
    from .errors import TerrainError
    from .terrain.accumulation import REFUSAL, refused_by
    from .terrain.tiled import FlowpathOptions
    from .terrain.write import write_terrain

    given = {"max_slope_length": max_slope_length, "cutoff_gentle": cutoff_gentle,
             "cutoff_steep": cutoff_steep}
    for key, flag in refused_by(method):
        if given.get(key) is not None:
            raise TerrainError(f"{flag}: not an option of --method {method} "
                               f"({REFUSAL[method]})")
    defaults = FlowpathOptions()
    opts = FlowpathOptions(
        max_slope_length_m=(defaults.max_slope_length_m if max_slope_length is None
                            else max_slope_length),
        min_slope_deg=min_slope,
        cutoff_gentle=defaults.cutoff_gentle if cutoff_gentle is None else cutoff_gentle,
        cutoff_steep=defaults.cutoff_steep if cutoff_steep is None else cutoff_steep,
        m_table=m_table, s_breaks=s_breaks, l_max=l_max)
    folder = write_terrain(dem, out, method=method, opts=opts, block=block, grid=grid,
                           z_factor=z_factor, overwrite=overwrite)
    if not quiet:
        third = "slope_length_m" if method == "flowpath" else "contributing_area_m2"
        err_console.print(f"wrote {_user(folder)}: slope_length_steepness_ls.tif, "
                          f"slope_deg.tif, {third}.tif")


def _print_change(res, money_unit: float) -> None:  # type: ignore[no-untyped-def]
    unit_txt = "yuan a-1" if money_unit == 1 else f"{money_unit:g} yuan a-1"
    t = Table(title=f"Change by service (value, {unit_txt})")
    for col in ("service", "before", "after", "change", "change %"):
        t.add_column(col, justify="left" if col == "service" else "right")
    svc = res.change_by_service
    values = svc[svc.measure == "value"]
    if len(values):
        for _, r in values.iterrows():
            name = (r.category if r.service == "subtotal"
                    else "GEP" if r.service == "gep" else r.service)
            t.add_row(_cell(name), _money(r.before, money_unit), _money(r.after, money_unit),
                      _money(r.change, money_unit),
                      "" if r.change_pct != r.change_pct else f"{r.change_pct:+.1f} %")
    else:   # valuation: false: the physical quantities instead
        t = Table(title="Change by service (physical quantities)")
        for col in ("service", "quantity", "unit", "before", "after", "change", "change %"):
            t.add_column(col, justify="left" if col in ("service", "quantity", "unit") else "right")
        for _, r in svc.iterrows():
            t.add_row(_cell(r.service), _cell(r.measure), _cell(r.unit), f"{r.before:,.2f}",
                      f"{r.after:,.2f}", f"{r.change:,.2f}",
                      "" if r.change_pct != r.change_pct else f"{r.change_pct:+.1f} %")
    out_console.print(t)
    t = Table(title="Land-use transitions (ha; rows before, columns after)")
    tm = res.transition
    t.add_column(_cell(tm.index.name or ""))
    for c in tm.columns:
        t.add_column(_cell(c), justify="right")
    for lt, row in tm.iterrows():
        t.add_row(_cell(lt), *[f"{v:,.2f}" for v in row.values])
    out_console.print(t)


@app.command()
def compare(
    before: Annotated[Path, typer.Argument(help="Pipeline of the first scenario (before, t0).")],
    after: Annotated[Path, typer.Argument(help="Pipeline of the second scenario (after, t1).")],
    out: _OutFolder,
    overwrite: _Overwrite = False,
    resampling: Annotated[str, typer.Option(
        help="Resampling of the after maps onto the before grid when the grids differ: nearest "
             "(default; unchanged pixels give exactly 0), bilinear, average (land use is always "
             "nearest).")] = "nearest",
    money_unit: Annotated[float, typer.Option(
        "--money-unit", help="Show money in this many yuan (1e4 for 10^4 yuan).")] = 1.0,
    quiet: _Quiet = False,
    cog: _Cog = False,
    yes: _Yes = False,
    lang: _Lang = None,
    report: _Report = None,
    draws: _Draws = None,
) -> None:
    """Compare two scenarios: DIR/before, DIR/after and DIR/change (tables and difference maps)."""
    from .compare import run_compare
    from .pipeline import load_pipeline

    _check_money_unit(money_unit)
    _check_lang(lang)
    res = run_compare(_with_draws(_with_report(_with_options(load_pipeline(before), cog=cog,
                                                             report_lang=lang), report), draws),
                      _with_draws(_with_report(_with_options(load_pipeline(after), cog=cog,
                                                             report_lang=lang), report), draws),
                      out, overwrite=overwrite,
                      quiet=quiet, resampling=resampling, **_size_args(yes, quiet))
    if not quiet:
        _print_change(res, money_unit)
        _print_change_interval(res, money_unit)
    o = _user(res.out)
    err_console.print(f"wrote {o}/before, {o}/after and {o}/change")


def _print_change_interval(res: Any, money_unit: float) -> None:
    """GEP before and after with their 95 % intervals, and the interval of the change with the
    probability that GEP rose (a comparison drawn with options.uncertainty)."""
    path = res.out / "change" / "tables" / "uncertainty_change.csv"
    if not path.is_file():
        return
    import pandas as pd

    runs = res.runs if hasattr(res, "runs") else {"before": res.before, "after": res.after}
    _print_interval(runs["before"].manifest, money_unit, "GEP before")
    _print_interval(runs["after"].manifest, money_unit, "GEP after")
    ch = pd.read_csv(path)
    g = ch[ch.service == "gep"].iloc[0]
    out_console.print(
        f"change of GEP: {g['change'] / money_unit:+,.2f}; 95 % interval "
        f"{g['p2.5'] / money_unit:+,.2f} to {g['p97.5'] / money_unit:+,.2f} (common random "
        f"numbers); P(GEP rose) = {g['p_rose']:.4f}", markup=False, highlight=False)
    out_console.print("what drives it: tables/sensitivity.csv of each scenario (Sobol indices)",
                      markup=False, highlight=False)


@app.command()
def series(
    pipelines: Annotated[list[Path], typer.Argument(
        help="One pipeline per year, in increasing year order; or one series file (years: "
             "{YEAR: pipeline.yaml, ...}, price_basis:, deflator:).")],
    out: _OutFolder,
    years: Annotated[str | None, typer.Option(
        "--years", help="The years of the pipelines, comma-separated (default: each pipeline's "
                        "`year:`).")] = None,
    price_basis: Annotated[str | None, typer.Option(
        "--price-basis", help="current (as the profiles give them) or constant:<year> (needs "
                              "a deflator). Default: the pipelines' options.price_basis, else "
                              "current.")] = None,
    deflator: Annotated[str | None, typer.Option(
        "--deflator", help="Deflator table, CSV with columns year,index, or a shipped table's "
                           "name (cn-cpi-worldbank); with it the change is split into quantity "
                           "and price effects. Default: the pipelines' options.deflator.")] = None,
    overwrite: _Overwrite = False,
    resampling: Annotated[str, typer.Option(
        help="Resampling of the last year's maps onto the first year's grid for the change "
             "maps (land use is always nearest).")] = "nearest",
    quiet: _Quiet = False,
    cog: _Cog = False,
    yes: _Yes = False,
    lang: _Lang = None,
    report: _Report = None,
) -> None:
    """GEP over several years: DIR/<year> runs and DIR/series (tables by year, transitions,
    decomposition, change map)."""
    from .pipeline import load_pipeline
    from .series import load_series_file, run_series

    _check_lang(lang)
    year_list = None
    if years is not None:
        try:
            year_list = [int(y) for y in years.split(",")]
        except ValueError:
            raise ConfigError(f"--years: expected years separated by commas, got {years!r}"
                              ) from None
    sfile = None
    if len(pipelines) == 1:          # one file: a series file
        sfile, loaded, file_years = load_series_file(pipelines[0])
        if year_list is not None:
            raise ConfigError(f"--years: the series file {str(pipelines[0])!r} gives the years; "
                              "leave --years off")
        year_list = file_years
    else:
        loaded = [load_pipeline(p) for p in pipelines]
    pipes = [_with_report(_with_options(p, cog=cog, report_lang=lang), report) for p in loaded]
    res = run_series(pipes, out, years=year_list, price_basis=price_basis, deflator=deflator,
                     overwrite=overwrite, quiet=quiet, resampling=resampling, report_lang=lang,
                     series_file=sfile, **_size_args(yes, quiet))
    if not quiet:
        g = res.gep_by_year[res.gep_by_year.service == "gep"]
        t = Table(title="GEP by year (yuan a-1)")
        cols = ["year", "price year", "GEP"] + (["at constant prices"]
                                                if "constant_amount" in g else [])
        for c in cols:
            t.add_column(c, justify="right")
        for _, r in g.iterrows():
            py = res.gep_by_year[(res.gep_by_year.year == r.year)
                                 & (res.gep_by_year.measure == "value")].price_year
            pys = ", ".join(sorted({str(x) for x in py if str(x)}))
            t.add_row(str(r.year), _cell(pys), f"{r.amount:,.2f}",
                      *([f"{r.constant_amount:,.2f}"] if "constant_amount" in g else []))
        out_console.print(t)
    o = _user(res.out)
    err_console.print(f"wrote {o}/" + f", {o}/".join(str(y) for y in res.years)
                      + f" and {o}/series")


@app.command()
def demo(
    out: _OutFolder = Path("demo-out"),
    overwrite: _Overwrite = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    lang: Annotated[str | None, typer.Option(
        "--lang",
        help="Language of the reports: en or zh (Chinese; CSV files stay English).")] = None,
) -> None:
    """The Jinsha mine reference case (Xu et al.): before vs after restoration, and the paper."""
    from .demo import headline_rows, run_demo

    _check_lang(lang)
    res = run_demo(out, overwrite=overwrite, quiet=True, lang=lang or "en")
    if not quiet:
        for scenario, r in res.runs.items():
            _print_run(r, 1e4, f"Jinsha {scenario} restoration: GEP by service")
    t = Table(title="Jinsha reference case: gepgeo vs the paper (Xu et al., Table 4)")
    for col in ("scenario", "quantity", "unit", "gepgeo", "paper", "difference",
                "as stated (printed N, P, air rates)"):
        t.add_column(col)
    for scenario, q, unit, mine, paper in headline_rows(res):
        stated = (f"{res.as_stated_gep[scenario] / 1e4:,.2f}" if q == "GEP" else "")
        t.add_row(scenario, q, unit, f"{mine:,.2f}", f"{paper:,.2f}",
                  f"{100 * (mine - paper) / paper:+.2f} %", stated)
    out_console.print(t)
    _print_change_interval(res, 1e4)
    rep = res.reproduction
    tiers = rep.groupby("tier").size().to_dict()
    dev = rep[rep.verdict == "NOT-REPRODUCIBLE"]
    out_console.print(
        f"reproduction: {len(rep)} published figures; agreement "
        + ", ".join(f"{k}: {v}" for k, v in sorted(tiers.items()))
        + f"; {len(dev)} figures where the paper disagrees with itself, each with its reason, "
        f"in {_user(res.out / 'reproduction.csv')}")
    o = _user(res.out)
    err_console.print(f"wrote {o}/before, {o}/after, {o}/change and {o}/reproduction.csv")


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(
        help="A run folder, a comparison folder or its change/ folder.")],
    lang: Annotated[str | None, typer.Option(
        "--lang", help="Language of report.html: en or zh (Chinese). Default: the run's "
                       "options.report_lang, else en.")] = None,
) -> None:
    """Rebuild report.html (and the QML styles) of an output folder from its files."""
    from .report import write_report

    _check_lang(lang)
    for p in write_report(folder, lang):
        err_console.print(f"wrote {_user(p)}")


@profiles_app.callback()
def _profiles(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from .profiles import list_profiles, load_profile

        t = Table(title="Shipped parameter profiles")
        for col in ("name", "kind", "price year", "scenarios", "title"):
            t.add_column(col)
        for name in list_profiles():
            p = load_profile(name)
            t.add_row(_cell(name), _cell(p.kind), _cell(p.price_year),
                      _cell(", ".join(p.scenarios)), _cell(p.meta.get("title") or ""))
        out_console.print(t)


@profiles_app.command("show")
def profiles_show(name: Annotated[str, typer.Argument(help="Profile name or path.")]) -> None:
    """Print one profile with every value, unit and source."""
    from .profiles import load_profile

    p = load_profile(name)
    out_console.print(f"[bold]{_user(p.name)}[/bold] ({_user(p.kind)}; price year "
                      f"{_user(p.price_year)})")
    for k in ("title", "source", "description"):
        if p.meta.get(k):
            out_console.print(f"{k}: {_user(str(p.meta[k]).strip())}")
    for sname, params in p.scenarios.items():
        t = Table(title=f"scenario: {_user(sname)}")
        for col in ("parameter", "value", "unit", "source", "ref", "note"):
            t.add_column(col, overflow="fold")
        for key, pv in params.items():
            val = (f"{pv.value:g}" if pv.kind == "constant"
                   else ", ".join(f"{lt}: {v:g}" for lt, v in pv.value.items()))
            t.add_row(*(_cell(x) for x in (key, val, pv.unit, pv.source, pv.ref, pv.note)))
        out_console.print(t)
    if p.meta.get("not_identifiable"):
        out_console.print("[bold]not identifiable from the source[/bold]")
        for k, v in p.meta["not_identifiable"].items():
            out_console.print(f"  {_user(k)}: {_user(v)}")
    if p.meta.get("alternatives"):
        out_console.print("[bold]alternatives[/bold] (select by overriding the key)")
        for k, v in p.meta["alternatives"].items():
            out_console.print(_user(f"  {k}: {v.get('key')} = {v.get('value')} "
                                    f"{v.get('unit', '')} ({v.get('ref', '')})"))


@profiles_app.command("template")
def profiles_template(
    land_types: Annotated[str, typer.Option(
        "--land-types",
        help="Comma-separated land types that supply services, e.g. forest,cropland,grassland.")],
    services: Annotated[str | None, typer.Option(
        "--services", help="Comma-separated services (default: all eight).")] = None,
    name: Annotated[str, typer.Option("--name", help="The profile's name.")] = "my-landscape",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o",
        help="Write to this file instead of printing (never replaces a file).")] = None,
    no_valuation: Annotated[bool, typer.Option(
        "--no-valuation",
        help="Physical parameters only, no prices (for a pipeline with valuation: false).",
    )] = False,
) -> None:
    """Write a blank profile: every parameter the services need, with unit, domain and source
    to fill in."""
    from .template import profile_template

    def split(text: str) -> list[str]:
        return [t.strip() for t in text.split(",") if t.strip()]

    text = profile_template(split(land_types), split(services) if services else None, name=name,
                            valuation=not no_valuation)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        with open(out, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise GepgeoError(f"--out: {str(out)!r} exists already; give a new file name") from None
    except OSError as exc:
        raise GepgeoError(f"--out: cannot write {str(out)!r} ({exc.strerror})") from None
    err_console.print(f"wrote {_user(out)}", highlight=False)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether Ctrl-C is behind ``exc``: Python wraps a KeyboardInterrupt that lands inside
    some machinery (e.g. a lazy import: "Error calling __set_name__ ...") in another error."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _exit_interrupted() -> None:
    """Exit 130 at once after Ctrl-C, the partial output already removed.

    Block tasks of the aborted pass may still be running in dask's worker threads; a normal
    interpreter exit would wait for them (and an interrupt landing inside the thread pool's
    bookkeeping can leave that wait hanging), so the process ends with ``os._exit``.
    """
    err_console.print("gepgeo: interrupted; nothing was written")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """Exception class ``name`` of click and of the copy of click that typer runs on (typer
    0.2x bundles its own, ``typer._click``, whose classes are not click's)."""
    import typer.exceptions

    found = [getattr(click.exceptions, name, None), getattr(typer.exceptions, name, None)]
    try:
        from typer._click import exceptions as bundled
        found.append(getattr(bundled, name, None))
    except ImportError:  # a typer that uses click itself
        pass
    return tuple({c for c in found if isinstance(c, type)})


def _usage_line(exc: Any) -> str:
    """One line for a command-line usage error (unknown option or command, missing or bad
    argument): the reason and where to find the help."""
    try:
        msg = exc.format_message()
    except Exception:  # noqa: BLE001  (a message is all that is needed)
        msg = str(exc)
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "gepgeo"
    msg = one_line(str(msg).strip()).rstrip(".")
    return shorten(f"gepgeo: error: {msg}; see '{path} --help'")


#: most problems printed one per line (``gepgeo validate``); the count line gives the rest
MAX_PROBLEM_LINES = 100


def _error_line(text: str) -> None:
    """Print one line on stderr, literally (no markup, no highlighting, no wrapping)."""
    err_console.print(shorten(one_line(text)), markup=False, highlight=False, soft_wrap=True)


def _listen_to_ctrl_c() -> None:
    """Make Ctrl-C (SIGINT) interrupt the run, and never be lost (:mod:`gepgeo._interrupt`):
    also when gepgeo was started with SIGINT ignored, as a non-interactive shell starts a
    background job (``gepgeo run ... &``), and when it lands in a native callback while numba
    compiles; before, such runs finished and exited 0 whatever ``kill -INT`` said."""
    from . import _interrupt

    _interrupt.install()


def _format_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> str:
    return f"gepgeo: warning: {shorten(one_line(str(message)))}\n"


#: the commands that run the kernel (gepgeo.warmup)
_COMPUTING = frozenset({"run", "demo", "compare", "series"})


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gepgeo`` command."""
    _listen_to_ctrl_c()
    from ._memory import tune_malloc

    tune_malloc()
    warnings.simplefilter("default", GepgeoWarning)
    warnings.formatwarning = _format_warning  # type: ignore[assignment]
    from .compute import set_compile_notice

    set_compile_notice(lambda msg: _error_line(f"gepgeo: {msg}"))
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _COMPUTING and not {"--help", "-h"} & set(args):
        from . import warmup

        warmup.start()   # a first run: part of the kernel's compile in a second process
    if not args:
        _error_line("gepgeo: error: no command given; try 'gepgeo --help' (commands: run, "
                    "validate, compare, demo, codes, terrain, report, profiles)")
        sys.exit(2)
    exits = _click_classes("Exit")
    aborts = _click_classes("Abort")
    usage = _click_classes("ClickException")
    try:
        # with standalone_mode=False, click/typer *return* the exit code of an interrupted or
        # exited command (130 for Ctrl-C) instead of raising
        rc = app(args=args, prog_name="gepgeo", standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            if rc == 130:
                _exit_interrupted()
            sys.exit(rc)
    except ProblemsError as exc:
        # every problem on its own line, then the count (gepgeo validate / run)
        for problem in exc.problems[:MAX_PROBLEM_LINES]:
            _error_line(f"gepgeo: error: {problem}")
        more = len(exc.problems) - MAX_PROBLEM_LINES
        _error_line(f"gepgeo: {len(exc.problems)} problems found"
                    + (f" ({more} more not shown)" if more > 0 else "")
                    + "; fix them and run again")
        sys.exit(2)
    except GepgeoError as exc:
        _error_line(f"gepgeo: error: {exc}")
        sys.exit(2)
    except exits as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except usage as exc:
        # unknown option or command, missing or malformed argument: bad input, exit 2
        _error_line(_usage_line(exc))
        sys.exit(2)
    except aborts:
        _exit_interrupted()
    except KeyboardInterrupt:
        _exit_interrupted()
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input
        from . import _interrupt

        # after a Ctrl-C, an error is its consequence: a KeyboardInterrupt swallowed inside a
        # native callback (llvmlite's object cache) leaves numba's compile half done, and it
        # fails with "no compiled object yet" instead
        if _caused_by_interrupt(exc) or _interrupt.requested():
            _exit_interrupted()
        if os.environ.get("GEPGEO_DEBUG"):
            traceback.print_exc()
        _error_line(f"gepgeo: internal error: {type(exc).__name__}: {exc} (please report "
                    "it; set GEPGEO_DEBUG=1 for the traceback)")
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
