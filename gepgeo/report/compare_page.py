"""A comparison's ``report.html`` (``DIR/change/report.html``, ``templates/compare.html.j2``).

The page sets the before and after maps side by side on shared colour scales with the
difference map (diverging, symmetric about 0), charts the change by service, shows GEP per
hectare of each land type and per zone in each scenario, the change tables (in the method's
service order, rounding noise as 0), and, for the Jinsha demo, the reproduction of Xu et al.:
every published figure beside gepgeo's, with its agreement tier and verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from .. import __version__
from ..i18n import t
from .figures import change_by_service_figure, chart, png_uri, read_land_use
from .mapsvg import comparison_svg, land_use_svg
from .files import read_manifest, read_table, write_text
from .format import MONEY_UNIT, fmt_sig, isnan, money, name_label, price_year_text
from .intervals import (ChangeInterval, _quantile_map, change_interval, interval_text,
                        outside_text)
from .render import (csv_block, escape, html_t, macros, render, report_context, report_lang,
                     table_html)
from .run_page import write_run_report
from .tables import (change_rows, gep_total, land_type_change_per_ha, price_year_counts,
                     zone_change_table)

__all__ = ["CHANGE_TABLE_NOTE", "TIER_CLASSES", "build_compare_report", "write_compare_report"]

#: Agreement tiers of the reproduction → class of their rows.
TIER_CLASSES = {"<=0.5%": "t05", "<=2%": "t2", "<=5%": "t5", ">5%": "t5p"}

CHANGE_TABLE_NOTE = ("In the method's service order, each category's subtotal after its services "
                     "and GEP last; a change within 10⁻⁹ of the larger of before and after "
                     "(rounding noise) is shown as 0. The CSV holds the numbers as computed.")

#: Titles of the comparison's tables, by file stem.
_TITLES = {"change_by_service": "Change by service and measure",
           "change_by_land_type": "Change by land type",
           "transition_matrix": "Land-use transition matrix (ha; before in rows, after in "
                                "columns)",
           "extent_account": "Extent account (SEEA-EA, ha)",
           "change_by_zone": "Change by zone, service and measure",
           "uncertainty_change": "Change with its interval over the draws (common random "
                                 "numbers) and P(rose)"}


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
    # built first: a damaged comparison folder is refused before any scenario report is drawn
    text = build_compare_report(compare_dir, reproduction, as_stated_gep, lang)
    for scen in ("before", "after"):
        run = compare_dir / scen
        if (run / "manifest.json").is_file() and not (run / "report.html").is_file():
            write_run_report(run, lang or None)
    return write_text(compare_dir / "change" / "report.html", text)


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
    with report_context(code):
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
    yb = price_year_text(years.get("before", [("unknown", 0)]))
    ya = price_year_text(years.get("after", [("unknown", 0)]))
    # figures in the order of the page
    land_use = _land_use(compare_dir, runs)
    maps = _change_maps(compare_dir, cm)
    change_src = None
    # the change's 5–95 % interval per service (a comparison drawn with options.uncertainty)
    change_iv = _quantile_map(read_table(change_dir, "uncertainty_change.csv"), ["service"])
    if change is not None:
        order = runs.get("before", {}).get("services", [])
        change_src = png_uri(chart(lambda: change_by_service_figure(change, order,
                                                                    change_iv or None)))
    zones = _zone_change(change_dir, cm)
    nav = [("summary", t("Summary")), ("land-use", t("Land use")), ("maps", t("Maps")),
           ("change", t("Change"))]
    nav += [("zones", t("Zones"))] if zones is not None else []
    nav += [("tables", t("Tables"))]
    nav += [("reproduction", t("Reproduction"))] if reproduction is not None else []
    names = " → ".join(m.get("name", s) for s, m in runs.items()) or compare_dir.name
    return render(
        "compare.html.j2", title=t("gepgeo comparison: {names}", names=names), nav=nav,
        names=names,
        alignment=", ".join(f"{t(k.replace('_', ' '))} {t(str(v))}"
                            for k, v in cm.get("alignment", {}).items()) or "n/a",
        gepgeo_version=cm.get("gepgeo_version", __version__),
        scope_warnings=[f"{s}: {w}" for s, m in runs.items()
                        for w in m.get("scope_warnings") or []],
        gep=_gep_change(change), unc=_change_uncertainty(change_dir, runs),
        years=yb if yb == ya else f"{yb} / {ya}", yb=yb, ya=ya,
        land_use=land_use, maps=maps, change_src=change_src,
        change_bars=bool(change_iv),
        per_ha=_land_type_change(change_dir) if change is not None else None, zones=zones,
        tables=[csv_block(change_dir, rel, t(_TITLES.get(Path(rel).stem, Path(rel).stem)),
                          html_t(CHANGE_TABLE_NOTE) if Path(rel).stem.startswith("change_by_")
                          else "")
                for rel in cm.get("tables", [])],
        reproduction=(_reproduction(reproduction, compare_dir, as_stated_gep)
                      if reproduction is not None else None))


@dataclass
class GepChange:
    """GEP before and after (yuan a⁻¹), the change as the page prints it (10⁴ yuan, signed)
    and its percentage (``" (+1.2 %)"``, empty if unknown)."""

    before: float
    after: float
    change: float
    change_text: str
    pct_text: str


def _gep_change(change: pd.DataFrame | None) -> GepChange | None:
    """The GEP row of ``change_by_service.csv``, if there is one."""
    if change is None:
        return None
    rows = change[(change["service"] == "gep") & (change["measure"] == "value")]
    if not len(rows):
        return None
    r = rows.iloc[0]
    b, a, d, pct = (float(r["before"]), float(r["after"]), float(r["change"]),
                    r.get("change_pct", np.nan))
    return GepChange(b, a, d, f"{d / MONEY_UNIT:+,.2f}",
                     f" ({float(pct):+,.1f} %)" if not isnan(pct) else "")


@dataclass
class ChangeUncertainty:
    """The change's interval as the headline prints it (a comparison drawn with
    ``options.uncertainty``): 90 % and 95 % intervals, signed, in 10⁴ yuan a⁻¹."""

    iv: ChangeInterval
    i90: str
    i95: str
    #: the sentence said when the change's point estimate lies outside an interval
    outside: str


def _change_uncertainty(change_dir: Path, runs: Mapping[str, Mapping[str, Any]]
                        ) -> ChangeUncertainty | None:
    ci = change_interval(change_dir, runs)
    if ci is None:
        return None
    c = ci.change
    return ChangeUncertainty(ci, interval_text(c.p5, c.p95, signed=True),
                             interval_text(c.p2_5, c.p97_5, signed=True),
                             outside_text(c, change=True))


@dataclass
class LandUseChange:
    """Both land-use maps on one legend, and the reasons a map could not be drawn."""

    src: Markup
    problems: list[tuple[str, str]]


def _land_use(compare_dir: Path, runs: Mapping[str, Mapping[str, Any]]) -> LandUseChange | None:
    lus = {s: read_land_use(compare_dir / s, m) for s, m in runs.items()}
    if not lus:
        return None
    types = list(dict.fromkeys(lt for lu in lus.values() for lt in lu.types))
    colours: dict[str, str] = {}
    for lu in lus.values():
        colours.update({k: c for k, c in lu.colours.items() if k not in colours})
    svg = land_use_svg([(t(s), lu) for s, lu in lus.items()], types, colours,
                       t("land use before and after"))
    return LandUseChange(svg, [(s, lu.problem) for s, lu in lus.items() if lu.problem])


@dataclass
class ChangeMap:
    """A map before, after and its difference (``rel``: the difference map, in ``change/``)."""

    base: str
    rel: str
    src: Markup


def _change_maps(compare_dir: Path, change_manifest: Mapping[str, Any]) -> list[ChangeMap]:
    """Every difference map with its before and after, GEP first."""
    items = []
    maps = dict(change_manifest.get("maps", {}))
    order = sorted(maps, key=lambda n: (n != "gep_change", list(maps).index(n)))
    for name in order:
        base = name.removesuffix("_change")
        svg = comparison_svg(name_label(base), compare_dir / "before" / "maps" / f"{base}.tif",
                             compare_dir / "after" / "maps" / f"{base}.tif",
                             compare_dir / "change" / maps[name])
        items.append(ChangeMap(base, maps[name], svg))
    return items


def _land_type_change(change_dir: Path) -> Markup | None:
    """GEP per hectare of each land type in each scenario (from ``change_by_land_type.csv``)."""
    lt = read_table(change_dir, "change_by_land_type.csv")
    if lt is None or not {"area_ha_before", "area_ha_after"} <= set(lt.columns):
        return None
    return table_html(land_type_change_per_ha(lt))


@dataclass
class ZoneChange:
    """GEP per zone before and after (``table``, ``rows``), or the manifest's ``note`` on why
    there is none."""

    note: str = ""
    table: Markup | None = None
    rows: int = 0


def _zone_change(change_dir: Path, cm: Mapping[str, Any]) -> ZoneChange | None:
    path = change_dir / "tables" / "change_by_zone.csv"
    if not path.is_file():
        note = cm.get("zones")
        return ZoneChange(note=str(note)) if note else None
    table = zone_change_table(pd.read_csv(path, dtype={"zone_id": str}))
    return ZoneChange(table=table_html(table), rows=len(table))


@dataclass
class Reproduction:
    """What the "reproduction" section shows (see :func:`_reproduction`)."""

    n: int
    csv_here: bool
    summary: str
    n_nr: int
    as_stated: Markup | None
    verdicts: Markup
    rows: Markup


def _reproduction(rep: pd.DataFrame, compare_dir: Path,
                  as_stated_gep: Mapping[str, float] | None) -> Reproduction:
    """Every published figure of Xu et al. beside gepgeo's, and the as-stated GEP totals."""
    tiers = rep["tier"].value_counts()
    shown = [tier for tier in TIER_CLASSES if tier in tiers]
    counts = (rep.groupby(["verdict", "tier"], sort=False).size().unstack(fill_value=0)
              .reindex(columns=shown).fillna(0).astype(int))
    counts.insert(0, "verdict", counts.index)
    return Reproduction(
        n=len(rep), csv_here=(compare_dir / "reproduction.csv").is_file(),
        summary=", ".join(f"{tier}: {int(tiers.get(tier, 0))}" for tier in shown),
        n_nr=int((rep["verdict"] == "NOT-REPRODUCIBLE").sum()),
        as_stated=_as_stated_table(rep, compare_dir, as_stated_gep) if as_stated_gep else None,
        verdicts=table_html(counts.reset_index(drop=True)), rows=_reproduction_rows(rep))


def _as_stated_table(rep: pd.DataFrame, compare_dir: Path,
                     as_stated_gep: Mapping[str, float]) -> Markup:
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
    return table_html(df, cell_classes={c: "num" for c in df.columns if c != "scenario"})


def _reproduction_rows(rep: pd.DataFrame) -> Markup:
    """Every figure: paper, gepgeo, relative difference, tier badge, verdict and reason."""
    m = macros()
    cols = [c for c in ("id", "description", "unit", "paper", "gepgeo", "rel_diff", "tier",
                        "verdict", "reason") if c in rep.columns]
    df = rep[cols].copy()
    df["tier"] = [m.badge(tier) for tier in df["tier"]]
    df["verdict"] = [m.verdict(v) for v in rep["verdict"]]
    if "reason" in df:
        df["reason"] = ["" if isnan(r) else escape(r) for r in rep["reason"]]
    classes = [" ".join(filter(None, (TIER_CLASSES.get(tier, ""),
                                      "nr" if v == "NOT-REPRODUCIBLE" else "")))
               for tier, v in zip(rep["tier"], rep["verdict"])]
    attrs: Sequence[str] = [m.rep_id(i) for i in rep["id"]]
    return table_html(df, raw_html=("tier", "verdict", "reason"), row_classes=classes,
                      row_attrs=attrs,
                      formats={"paper": lambda v: "" if isnan(v) else f"{float(v):,.10g}",
                               "gepgeo": fmt_sig,
                               "rel_diff": lambda v: "" if isnan(v) else f"{100 * v:+.3f} %"},
                      cell_classes={"reason": "reason", "description": "note",
                                    "verdict": "verdict"})
