"""A run folder's ``report.html`` (``templates/run.html.j2``; ``quantities.html.j2`` without
valuation).

The page is built from the folder's files only (``manifest.json``, ``tables/*.csv``,
``maps/*.tif``, and the land-use raster named in the manifest): the GEP headline and price year,
the land-use map, a map of GEP and of every other density map, value by service and by land type
(with the value per hectare), the pixel counts (nodata, unmapped, out of domain, clamped,
excluded per service) and how much of the classified area the GEP map covers, the warnings, the
zone totals, every table (linked to its CSV), and every resolved parameter with its source.

A run without valuation (``valuation: false``) gets a page of physical quantities, in English,
with no money anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from .. import __version__
from ..i18n import lang, t
from ..styles import Previews, preview_of
from .figures import (chart, png_uri, read_land_use, sensitivity_figure,
                      value_by_land_type_figure, value_by_service_figure)
from .files import read_manifest, read_table, write_text
from .format import money, name_label, per_ha_column, price_year_text, unit_text
from .intervals import (TORNADO_MAX, RunUncertainty, interval_text, method_text,
                        outside_text, run_uncertainty)
from .mapsvg import land_use_svg, map_svg
from .render import csv_block, render, report_context, report_lang, table_html
from .tables import (excluded_by_service, gep_total, land_type_per_ha, land_use_total,
                     map_coverage, pixel_area_ha, price_year_counts, zone_totals)

__all__ = ["build_run_report", "write_run_report"]

_STAT_TEXT = {
    "land_use_nodata": "land-use nodata (outside the account)",
    "unmapped_codes": "land-use codes the pipeline does not declare",
}


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
    return write_text(run_dir / "report.html", build_run_report(run_dir, lang, previews=previews))


def build_run_report(run_dir: Path, lang: str | None = None, *,
                     previews: Previews | None = None) -> str:
    """The HTML of a run folder's report (see :func:`write_run_report`)."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir / "manifest.json")
    if manifest.get("valuation") is False:   # physical quantities only: no money anywhere
        return _quantities_report(run_dir, manifest, previews)
    with report_context(report_lang(manifest, lang)):
        return _build_run_report(run_dir, manifest, previews)


def _build_run_report(run_dir: Path, manifest: Mapping[str, Any],
                      previews: Previews | None = None) -> str:
    by_service = read_table(run_dir, "gep_by_service.csv")
    by_lt = read_table(run_dir, "gep_by_land_type.csv")
    tidy = read_table(run_dir, "services_by_land_type.csv")
    gep = gep_total(by_service)
    lu_area = land_use_total(read_table(run_dir, "land_use.csv"))
    lu = read_land_use(run_dir, manifest)
    unc = run_uncertainty(run_dir, manifest)   # None: a run without draws
    # figures in the order of the page
    lu_src = land_use_svg([(t("land use"), lu)], lu.types, lu.colours)
    maps = _maps(run_dir, manifest, previews)
    svc_iv = unc.by_service if unc is not None else None
    lt_iv = unc.by_land_type if unc is not None else None
    by_service_src = (png_uri(chart(lambda: value_by_service_figure(by_service, svc_iv)))
                      if by_service is not None else None)
    by_lt_src = (png_uri(chart(lambda: value_by_land_type_figure(by_lt, lu.colours, lt_iv)))
                 if by_lt is not None else None)
    uncertainty = _uncertainty(unc) if unc is not None else None
    zones = _zone_totals(run_dir)
    nav = [("summary", t("Summary")), ("land-use", t("Land use")), ("maps", t("Maps")),
           ("values", t("Values"))]
    nav += [("uncertainty", t("Uncertainty"))] if uncertainty is not None else []
    nav += [("pixels", t("Pixels"))]
    nav += [("zones", t("Zones"))] if zones is not None else []
    nav += [("tables", t("Tables")), ("parameters", t("Parameters"))]
    shape = manifest.get("grid", {}).get("shape")
    return render(
        "run.html.j2",
        title=t("gepgeo report: {name}", name=manifest.get("name", run_dir.name)), nav=nav,
        name=manifest.get("name", "run"), scenario=manifest.get("scenario"),
        profiles=", ".join(p.get("name", "") for p in manifest.get("profiles", [])) or t("none"),
        n_services=len(manifest.get("services", [])),
        gepgeo_version=manifest.get("gepgeo_version", __version__),
        scope_warnings=manifest.get("scope_warnings"), gep=gep, lu_area=lu_area,
        years=price_year_text(price_year_counts(manifest)),
        shape=f"{shape[0]:,} × {shape[1]:,}" if shape else None,
        lu=lu, lu_src=lu_src, maps=maps, by_service_src=by_service_src, by_lt_src=by_lt_src,
        per_ha=_land_type_per_ha(by_lt) if by_lt is not None else None,
        pixels=_pixels(run_dir, manifest, tidy, gep, lu_area), zones=zones,
        tables=[csv_block(run_dir, rel, t(Path(rel).stem.replace("_", " ")))
                for rel in manifest.get("tables", [])],
        parameters=_parameters(manifest), unc=uncertainty)


@dataclass
class UncertaintyView:
    """The page's view of the run's draws (:class:`gepgeo.report.intervals.RunUncertainty`),
    with its tornado chart (None without Sobol' indices) and the sentence said when the point
    estimate lies outside an interval."""

    run: RunUncertainty
    outside: str
    tornado_src: str | None
    #: GEP's rows of sensitivity.csv (None: no such table) and how many the chart shows
    n_sens: int | None
    n_sens_shown: int
    #: the 90 % (5–95 %) and 95 % (2.5–97.5 %) intervals, the median and mean, as printed
    i90: str
    i95: str
    median: str
    mean: str
    method: str


def _uncertainty(unc: RunUncertainty) -> UncertaintyView:
    sens = unc.sensitivity
    src = None
    n = None if sens is None else len(sens)
    if sens is not None and n:
        src = png_uri(chart(lambda: sensitivity_figure(sens, TORNADO_MAX)))
    g = unc.gep
    return UncertaintyView(unc, outside_text(g), src, n, min(n or 0, TORNADO_MAX),
                           interval_text(g.p5, g.p95), interval_text(g.p2_5, g.p97_5),
                           money(g.median), money(g.mean), method_text(unc.method))


@dataclass
class MapItem:
    """A map of the run: its file (``rel``), name, and figure (inline SVG; None: the file is
    missing)."""

    rel: str
    name: str
    src: Markup | None


def _ordered_maps(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, relative path): GEP first, then the service values, then the physical maps."""
    maps = list(manifest.get("maps", {}).items())
    key = {n: (0 if n == "gep" else 1 if n.endswith("_value") else 2, i)
           for i, (n, _) in enumerate(maps)}
    return sorted(maps, key=lambda m: key[m[0]])


def _maps(run_dir: Path, manifest: Mapping[str, Any],
          previews: Previews | None = None) -> list[MapItem]:
    """Every map of the run drawn with its colour bar (``previews``: pixels already sampled)."""
    items = []
    for name, rel in _ordered_maps(manifest):
        path = run_dir / rel
        if not path.is_file():
            items.append(MapItem(rel, name, None))
            continue
        items.append(MapItem(rel, name, map_svg(path, name_label(name),
                                                preview_of(previews, path))))
    return items


def _land_type_per_ha(by_land_type: pd.DataFrame) -> Markup:
    """The table of GEP and each service's value per hectare of each land type."""
    table = land_type_per_ha(by_land_type)
    cols = {c: per_ha_column(c) for c in table.columns
            if c.endswith("_value_per_ha_yuan_ha-1_a-1")}
    if lang() != "zh":
        cols.update({"gep_yuan_a-1": "GEP (yuan a⁻¹)",
                     "gep_per_ha_yuan_ha-1_a-1": "GEP per ha (yuan ha⁻¹ a⁻¹)"})
    return table_html(table.rename(columns=cols),
                      row_classes=["total" if lt == "total" else "" for lt in table["land_type"]])


def _zone_totals(run_dir: Path) -> tuple[Markup, int] | None:
    """The table of zone totals (from ``tables/services_by_zone.csv``) and its rows, if any."""
    path = run_dir / "tables" / "services_by_zone.csv"
    if not path.is_file():
        return None
    table = zone_totals(pd.read_csv(path, dtype={"zone_id": str}))
    shown = table.rename(columns={c: per_ha_column(c) for c in table.columns
                                  if c.endswith("_value_per_ha_yuan_ha-1_a-1")})
    return table_html(shown), len(table)


@dataclass
class Pixels:
    """What the "pixels" section shows (see :func:`_pixels`)."""

    pixel_ha: float | None
    counts: Markup | None
    excluded: Markup | None
    coverage: str
    valid_ha: float | None
    map_total: float | None
    warnings: list[str]


def _pixels(run_dir: Path, manifest: Mapping[str, Any], tidy: pd.DataFrame | None,
            gep: float | None, lu_area: float | None) -> Pixels:
    """Pixel counts, clamping, exclusions per service, GEP-map coverage and warnings.

    ``coverage``: ``whole`` (no pixel left out: the GEP map covers the classified area),
    ``measured`` (``valid_ha`` and the map's total ``map_total``, from the manifest or the map)
    or ``unread`` (the GEP map could not be read).
    """
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
    counts = (table_html(pd.DataFrame(rows), cell_classes={"key": "", "count": ""},
                         formats={"key": str}) if rows else None)
    exc = excluded_by_service(tidy)
    coverage, cov = _coverage(run_dir, manifest, exc, gep, lu_area)
    return Pixels(px_ha, counts, table_html(exc) if exc is not None else None, coverage,
                  cov[0] if cov else None, cov[1] if cov else None,
                  list(manifest.get("warnings") or []))


def _coverage(run_dir: Path, manifest: Mapping[str, Any], exc: pd.DataFrame | None,
              gep: float | None, lu_area: float | None
              ) -> tuple[str, tuple[float, float] | None]:
    """How much of the classified area the GEP map covers: (``whole``, ``measured`` or
    ``unread``; (valid ha, Σ map × area) when measured)."""
    stats = manifest.get("pixel_stats", {})
    excluded = exc is not None and bool((exc["excluded_pixels"] > 0).any())
    out_dom = any(v for k, v in stats.items() if k.startswith("out_of_domain."))
    if not excluded and not out_dom:
        return "whole", None
    rec = manifest.get("gep_map")
    cov: tuple[float, float] | None
    if isinstance(rec, Mapping) and {"valid_ha", "value"} <= set(rec):
        cov = float(rec["valid_ha"]), float(rec["value"])   # summed by the pass itself
    else:   # a run folder written before gepgeo recorded it: read the map
        gep_map = run_dir / manifest.get("maps", {}).get("gep", "maps/gep.tif")
        cov = map_coverage(gep_map, manifest.get("options", {}).get("area", "planar"))
    if cov is None or lu_area is None or gep is None:
        return "unread", None
    return "measured", cov


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


@dataclass
class Parameters:
    """What the "parameters" section shows (tables as HTML, None when there is nothing)."""

    profiles: Markup | None
    n_resolved: int
    resolved: Markup | None
    unused: str
    forms: list[str]
    options: Markup | None
    inputs: Markup | None
    versions: str


def _parameters(manifest: Mapping[str, Any]) -> Parameters:
    """Profiles, every resolved parameter with its source, options, inputs and versions."""
    prof = pd.DataFrame(manifest.get("profiles", []))
    recs = []
    for name, rec in manifest.get("parameters", {}).items():
        recs.append({"parameter": name, "kind": rec.get("kind", ""),
                     "value / path": _param_value(rec), "unit": rec.get("unit", ""),
                     "source": rec.get("source", "") if rec.get("kind") != "raster" else "raster",
                     "from": rec.get("origin", ""), "ref": rec.get("ref", ""),
                     "price year": rec.get("price_year", ""), "note": rec.get("note", "")})
    resolved = None
    if recs:
        df = pd.DataFrame(recs)
        fmts: dict[str, Callable[[Any], str]] = {c: str for c in df.columns}
        fmts["unit"] = lambda v: unit_text(str(v)) if v else ""
        fmts["kind"] = lambda v: t(str(v)) if v else ""
        fmts["price year"] = lambda v: t(str(v)) if v != "" else ""
        resolved = table_html(df, formats=fmts,
                              cell_classes={"note": "note wide", "value / path": "val",
                                            "unit": "unit", "ref": "ref"})
    opts = manifest.get("options", {})
    inputs = manifest.get("inputs", {})
    versions = manifest.get("versions", {})
    return Parameters(
        profiles=(table_html(prof, formats={c: str for c in prof.columns}) if len(prof)
                  else None),
        n_resolved=len(recs), resolved=resolved,
        unused=", ".join(manifest.get("parameters_not_used") or []),
        forms=list(manifest.get("parameter_forms") or []),
        options=(table_html(pd.DataFrame({"option": list(opts),
                                          "value": [str(v) for v in opts.values()]}))
                 if opts else None),
        inputs=(table_html(pd.DataFrame([{"input": k, "path": v.get("path", ""),
                                          "bytes": v.get("size_bytes", np.nan),
                                          "sha256": v.get("sha256", "")}
                                         for k, v in inputs.items()]),
                           formats={"sha256": str}, cell_classes={"sha256": ""})
                if inputs else None),
        versions=", ".join(f"{k} {v}" for k, v in versions.items()))


def _quantities_report(run_dir: Path, manifest: Mapping[str, Any],
                       previews: Previews | None = None) -> str:
    """The report of a run without valuation (``valuation: false``): the physical quantities
    by service, the land use, the quantity maps, the tables and the parameters; no money."""
    by_service = read_table(run_dir, "gep_by_service.csv")
    lu_area = land_use_total(read_table(run_dir, "land_use.csv"))
    lu = read_land_use(run_dir, manifest)
    lu_src = land_use_svg([("land use", lu)], lu.types, lu.colours)
    maps = _maps(run_dir, manifest, previews)
    name = manifest.get("name", run_dir.name)
    return render(
        "quantities.html.j2", title=f"gepgeo report: {name}",
        nav=[("summary", "Summary"), ("land-use", "Land use"), ("maps", "Maps"),
             ("tables", "Tables"), ("parameters", "Parameters")],
        name=name, n_services=len(manifest.get("services", [])),
        gepgeo_version=manifest.get("gepgeo_version", __version__),
        scope_warnings=manifest.get("scope_warnings"), lu_area=lu_area,
        quantities=list(by_service.itertuples(index=False)) if by_service is not None else [],
        warnings=manifest.get("warnings") or [], lu=lu, lu_src=lu_src, maps=maps,
        tables=[csv_block(run_dir, rel, Path(rel).stem.replace("_", " "))
                for rel in manifest.get("tables", [])],
        parameters=_parameters(manifest))
