"""``gepgeo series``: GEP over several years, at current and constant prices.

Each year is a normal run of its own pipeline on its own grid (``DIR/<year>``, the single pass
of :func:`gepgeo.run.run_pipeline`, one year after another). ``DIR/series`` holds what is across
years:

- ``tables/gep_by_year.csv``: every row of each year's ``gep_by_service.csv`` (services, their
  measures, category subtotals and GEP) with the year, the price year of the service's prices and,
  with a deflator and ``constant:<year>`` price basis, the value at the base year's prices;
- ``tables/land_use_by_year.csv``: each year's ``land_use.csv`` with the year;
- ``tables/transition_<a>_<b>.csv`` and ``tables/extent_account_<a>_<b>.csv`` for consecutive
  years and first-to-last (:func:`gepgeo.compare.transition_matrix`,
  :func:`gepgeo.compare.extent_account`, on year ``a``'s grid, exactly as ``gepgeo compare``);
- ``tables/decomposition.csv`` (with a deflator): the change of each service's value and of GEP
  between consecutive years and first-to-last, split into a quantity (real) effect and a price
  effect (:func:`decompose`);
- ``maps/<name>_change.tif``: GEP and each service value map, last year − first year, on the
  first year's grid (:func:`gepgeo.compare.difference_maps`).

Years run one after another: running them together on threads was measured and gave nothing on
2 cores (docs/PERFORMANCE.md, "Years of a series"; ``benchmarks/series_years.py``).

Prices (docs/METHOD.md, "Time series"): a service's values are in the money of the price year of
its prices (each price's ``price_year``: its own, else its profile's). The price basis and the
deflator come from the command line, else the series file (:class:`SeriesFile`), else the
pipelines' options (:func:`series_prices`); ``cn-cpi-worldbank`` is shipped
(:func:`shipped_deflators`). A value of price year ``p`` at the
prices of base year ``B`` is ``value × D(B) / D(p)``, ``D`` the deflator's index (any base). Every
value a service produces is a quantity times one of its prices (a sum of such terms), so scaling
its prices by one factor scales its values by that factor exactly.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rasterio.enums import Resampling

from . import __version__
from .compare import _difference_maps_or_disk_full, extent_account, transition_matrix
from ._yaml import load_yaml_file
from .errors import ConfigError, InputFileError, Problems
from .manifest import _versions
from .outputs import atomic_folder
from .pipeline import Pipeline, _all_errors, check_price_basis, is_money, load_pipeline
from .run import RunResult, pipeline_inputs, run_pipeline

__all__ = ["PriceBasisError", "SeriesResult", "SeriesPrices", "parse_price_basis", "load_deflator",
           "shipped_deflators", "find_deflator", "series_prices", "SeriesFile",
           "load_series_file",
           "service_price_years", "deflator_factors", "gep_by_year", "land_use_by_year",
           "decompose", "year_pairs", "run_series"]


class PriceBasisError(ConfigError):
    """A price basis, deflator table or price year that a constant-price series cannot use."""


@dataclass
class SeriesResult:
    """The runs of each year and the series tables."""

    out: Path
    years: list[int]
    runs: dict[int, RunResult]
    gep_by_year: pd.DataFrame
    land_use_by_year: pd.DataFrame
    transitions: dict[tuple[int, int], pd.DataFrame]
    decomposition: pd.DataFrame | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


# --- prices ------------------------------------------------------------------------------------

def parse_price_basis(text: str) -> int | None:
    """``current`` → None; ``constant:<year>`` → the base year.

    Raises
    ------
    PriceBasisError
        Anything else.
    """
    t = str(text).strip()
    if t == "current":
        return None
    head, _, year = t.partition(":")
    if head == "constant" and year.strip().isdigit():
        return int(year)
    raise PriceBasisError(f"--price-basis: expected 'current' or 'constant:<year>' (e.g. "
                          f"constant:2015), got {t!r}")


def load_deflator(path: Path) -> dict[int, float]:
    """A deflator table: CSV with columns ``year,index`` (lines starting ``#`` are comments:
    source, table, edition). The index may have any base (1978 = 100, 2015 = 100 ...); only
    ratios of it are used.

    Raises
    ------
    PriceBasisError
        Unreadable file, missing columns, a year twice, an index that is not a positive number.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceBasisError(f"deflator {str(path)!r}: cannot read it ({exc})") from None
    rows = list(csv.reader(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")))
    if not rows or [c.strip() for c in rows[0][:2]] != ["year", "index"]:
        raise PriceBasisError(f"deflator {str(path)!r}: expected a header line 'year,index'")
    out: dict[int, float] = {}
    for i, row in enumerate(rows[1:], start=2):
        try:
            year, value = int(row[0]), float(row[1])
        except (ValueError, IndexError):
            raise PriceBasisError(f"deflator {str(path)!r}: data row {i}: expected "
                                  f"'year,index', got {','.join(row)!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise PriceBasisError(f"deflator {str(path)!r}: year {year}: the index must be a "
                                  f"positive number, got {row[1]!r}")
        if year in out:
            raise PriceBasisError(f"deflator {str(path)!r}: year {year} is given twice")
        out[year] = value
    if not out:
        raise PriceBasisError(f"deflator {str(path)!r}: no years")
    return out


def shipped_deflators() -> dict[str, Path]:
    """The deflator tables shipped with gepgeo (``gepgeo/data/deflators/<name>.csv``), by name;
    each file's ``#`` lines give its source, licence and how its figures were verified."""
    folder = Path(str(resources.files("gepgeo") / "data" / "deflators"))
    return {f.stem: f for f in sorted(folder.glob("*.csv"))}


def find_deflator(text: str | Path, base: Path | None, where: str) -> Path:
    """The deflator table named ``text``: a shipped table's name (:func:`shipped_deflators`),
    else a CSV file, relative to ``base`` (a pipeline's folder; None: the working folder).

    Raises
    ------
    PriceBasisError
        Neither a shipped table nor an existing file.
    """
    t = str(text)
    shipped = shipped_deflators()
    if t in shipped:
        return shipped[t]
    path = Path(t)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise PriceBasisError(f"{where}: deflator {t!r} is neither a file nor a shipped table "
                              f"({', '.join(shipped)})")
    return path


@dataclass(frozen=True)
class SeriesPrices:
    """The price basis and deflator of a series, and where each was given."""

    #: ``current`` or ``constant:<year>``
    basis: str
    #: ``--price-basis``, ``price_basis of <series file>``, ``options.price_basis of
    #: <pipeline>`` or ``default``
    basis_from: str
    #: the deflator table (None: none)
    deflator: Path | None = None
    #: as given (a path as written, or a shipped table's name), for messages and the manifest
    deflator_name: str = ""
    #: ``--deflator``, ``deflator of <series file>`` or ``options.deflator of <pipeline>``
    deflator_from: str = ""
    #: the shipped table's name, when it is one
    shipped: str | None = None


def _agreed(pipes: list[Pipeline], key: str, value_of: Any) -> tuple[Any, str] | None:
    """The one value of ``options.<key>`` over the pipelines that give it (by ``value_of``,
    which turns a pipeline's setting into what is compared) and the first pipeline giving it;
    None when no pipeline gives it."""
    given = [(p, getattr(p.options, key)) for p in pipes if getattr(p.options, key) is not None]
    if not given:
        return None
    first, raw = given[0]
    want = value_of(first, raw)
    for p, r in given[1:]:
        if value_of(p, r) != want:
            raise PriceBasisError(
                f"options.{key}: {str(first.source_path or '?')!r} says {raw!r} and "
                f"{str(p.source_path or '?')!r} says {r!r}; give the same in every pipeline "
                f"(or once on the command line, --{key.replace('_', '-')})")
    return raw, f"options.{key} of {first.source_path or 'pipeline'}"


def series_prices(pipes: list[Pipeline], price_basis: str | None = None,
                  deflator: str | Path | None = None,
                  series_file: SeriesFile | None = None) -> SeriesPrices:
    """The price basis and deflator of a series: the command line's (``price_basis``,
    ``deflator``: not None) win; else the series file's (``series_file``); else the pipelines'
    ``options.price_basis`` and ``options.deflator`` (the pipelines that give one must agree; a
    deflator path is relative to the file that gives it); else ``current`` and no deflator.

    Raises
    ------
    PriceBasisError
        Pipelines that disagree, a bad price basis, a deflator that is neither a file nor a
        shipped table.
    """
    sfile = str(series_file.source_path) if series_file is not None else ""
    if price_basis is not None:
        basis, basis_from = str(price_basis), "--price-basis"
    elif series_file is not None and series_file.price_basis is not None:
        basis, basis_from = series_file.price_basis, f"price_basis of {sfile}"
    else:
        got = _agreed(pipes, "price_basis", lambda p, v: v)
        basis, basis_from = got if got is not None else ("current", "default")
    parse_price_basis(basis)
    shipped = shipped_deflators()
    if deflator is not None:
        path = find_deflator(deflator, None, "--deflator")
        name, origin = str(deflator), "--deflator"
    elif series_file is not None and series_file.deflator is not None:
        base = series_file.source_path.parent if series_file.source_path else None
        path = find_deflator(series_file.deflator, base, f"{sfile}: deflator")
        name, origin = series_file.deflator, f"deflator of {sfile}"
    else:
        def resolved(p: Pipeline, v: str) -> Path:
            return find_deflator(v, p.source_path.parent if p.source_path else None,
                                 f"{p.source_path or 'pipeline'}: options.deflator").resolve()

        got = _agreed(pipes, "deflator", resolved)
        if got is None:
            return SeriesPrices(basis, basis_from)
        name, origin = got
        first = next(p for p in pipes if p.options.deflator is not None)
        path = find_deflator(name, first.source_path.parent if first.source_path else None,
                             origin)
    return SeriesPrices(basis, basis_from, path, name, origin,
                        name if name in shipped and shipped[name] == path else None)


class SeriesFile(BaseModel):
    """A series file: the pipelines of a series by year and, optionally, its prices.

    ::

        name: jinsha-series
        years:                         # year: pipeline file (relative to this file)
          2015: jinsha_series_2015.yaml
          2019: jinsha_series_2019.yaml
          2023: jinsha_series_2023.yaml
        price_basis: constant:2015     # optional; --price-basis wins
        deflator: cn-cpi-worldbank     # optional, a shipped table or a CSV; --deflator wins

    Its ``price_basis`` and ``deflator`` win over the pipelines' ``options``; its years over
    theirs (``year:``).
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    years: dict[int, Path] = Field(min_length=2)
    price_basis: str | None = None
    deflator: str | None = Field(None, min_length=1)
    source_path: Path | None = Field(None, exclude=True)

    @field_validator("years")
    @classmethod
    def _years(cls, v: dict[int, Path]) -> dict[int, Path]:
        bad = [y for y in v if not 1 <= y <= 9999]
        if bad:
            raise ValueError(f"{bad[0]} is not a year")
        return dict(sorted(v.items()))

    @field_validator("price_basis")
    @classmethod
    def _price_basis(cls, v: str | None) -> str | None:
        return check_price_basis(v)


def load_series_file(path: str | Path) -> tuple[SeriesFile, list[Pipeline], list[int]]:
    """Read a series file (:class:`SeriesFile`) and each of its pipelines, in year order.

    Raises
    ------
    InputFileError
        The file, or one of its pipelines, does not exist or cannot be read.
    ConfigError
        The file does not follow the schema (every problem, one line each), or a pipeline
        does not.
    """
    p = Path(path)
    doc = load_yaml_file(p, "series file", InputFileError, ConfigError)
    if not isinstance(doc, dict) or "land_use" in doc:
        raise ConfigError(f"{p}: not a series file (a mapping with years: {{YEAR: pipeline.yaml, "
                          "...}}); a series needs a series file or two or more pipelines")
    try:
        sf = SeriesFile.model_validate({**doc, "source_path": p.resolve()})
    except ValidationError as exc:
        problems = Problems()
        for line in _all_errors(exc):
            problems.add(ConfigError(f"{p}: {line}"))
        problems.raise_if_any()
        raise AssertionError("unreachable") from None
    base = p.resolve().parent
    pipes = [load_pipeline(f if f.is_absolute() else base / f) for f in sf.years.values()]
    return sf, pipes, list(sf.years)


def _price_keys(service: str) -> list[str]:
    """The money parameters of a service: prices whose unit is in yuan (an equivalent factor or
    a grain yield, declared with the prices, carries no money and no price year)."""
    from .services import METHOD

    return [k for k in METHOD.service(service).parameter_keys if is_money(k)]


def service_price_years(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per service of a run, the price year of each price it read (``unknown`` when none is
    given), from the run's manifest."""
    used = manifest.get("parameters", {})
    out: dict[str, dict[str, Any]] = {}
    for s in manifest.get("services", []):
        years = {}
        for k in _price_keys(s):
            if k in used:
                y = used[k].get("price_year")
                years[k] = "unknown" if y is None else y
        out[s] = years
    return out


def _one_year(service: str, years: dict[str, Any], where: str, manifest: dict[str, Any],
              strict: bool) -> Any:
    """The one price year of a service's prices (``""`` without prices)."""
    if not years:
        return ""
    unknown = [k for k, y in years.items() if y == "unknown"]
    if unknown:
        if not strict:
            return "unknown"
        k = unknown[0]
        origin = manifest.get("parameters", {}).get(k, {}).get("origin", "?")
        place = {"pipeline": "parameters:", "profile.overrides": "profile.overrides:"}
        fix = (f"give it with its year in the pipeline's {place[origin]} "
               f"{k}: {{value: ..., price_year: YEAR}}" if origin in place else
               "give price_year in its profile")
        raise PriceBasisError(
            f"{where}: price {k!r} of service {service!r} (from {origin!r}) has no price year "
            "(unknown); constant prices and the decomposition need the year of every price: "
            f"{fix}")
    distinct = sorted({int(y) for y in years.values()})
    if len(distinct) > 1:
        if not strict:
            return "mixed"
        parts = ", ".join(f"{k} {y}" for k, y in years.items())
        raise PriceBasisError(f"{where}: the prices of service {service!r} are of different "
                              f"years ({parts}); give them in one price year")
    return distinct[0]


def deflator_factors(manifest: dict[str, Any], base: int, deflator: dict[int, float],
                     where: str, deflator_name: str) -> dict[str, tuple[int | str, float]]:
    """Per service of a run: (price year ``p``, factor ``D(base) / D(p)``) that turns its values
    into values at the prices of ``base``.

    Raises
    ------
    PriceBasisError
        A price of unknown year, a service whose prices are of different years, a year not in
        the deflator table.
    """
    out: dict[str, tuple[int | str, float]] = {}
    if base not in deflator:
        raise PriceBasisError(f"deflator {deflator_name!r} has no index for the base year {base}")
    for s, years in service_price_years(manifest).items():
        p = _one_year(s, years, where, manifest, strict=True)
        if p == "":
            out[s] = ("", 1.0)
            continue
        if p not in deflator:
            raise PriceBasisError(f"deflator {deflator_name!r} has no index for {p}, the price "
                                  f"year of service {s!r} in {where}")
        out[s] = (p, deflator[base] / deflator[p])
    return out


# --- tables ------------------------------------------------------------------------------------

def gep_by_year(runs: dict[int, RunResult], price_years: dict[int, dict[str, Any]],
                factors: dict[int, dict[str, float]] | None) -> pd.DataFrame:
    """Every row of each year's ``gep_by_service`` with ``year`` and ``price_year``; with
    ``factors`` (per year, per service: ``D(base) / D(price year)``) also ``deflator_factor``
    and ``constant_amount``: each value measure times its service's factor, category subtotals
    and GEP as the sums of the services' constant values (quantities: empty)."""
    frames = []
    for year, res in runs.items():
        t = res.by_service[["service", "category", "measure", "unit", "amount"]].copy()
        py = price_years[year]
        t.insert(0, "year", year)
        t["price_year"] = [str(py.get(s, "")) for s in t.service]
        if factors is not None:
            f = factors[year]
            is_value = (t.unit == "yuan a-1").to_numpy()
            fac = np.array([f.get(s, np.nan) for s in t.service], dtype=np.float64)
            const = np.where(is_value, t.amount.to_numpy() * fac, np.nan)
            svc_value = (t.measure == "value").to_numpy() & np.isfinite(fac)
            for i in np.flatnonzero(t.service.to_numpy() == "subtotal"):
                mask = svc_value & (t.category.to_numpy() == t.category.iat[i])
                const[i] = float(const[mask].sum())
            for i in np.flatnonzero(t.service.to_numpy() == "gep"):
                const[i] = float(const[svc_value].sum())
            t["deflator_factor"] = fac
            t["constant_amount"] = const
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def land_use_by_year(runs: dict[int, RunResult]) -> pd.DataFrame:
    """Each year's land-use table (``land_use.csv``) with its year."""
    frames = []
    for year, res in runs.items():
        t = res.land_use.copy()
        t.insert(0, "year", year)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def year_pairs(years: list[int]) -> list[tuple[int, int]]:
    """Consecutive years, then first-to-last when there are more than two years."""
    pairs = list(zip(years[:-1], years[1:]))
    if len(years) > 2:
        pairs.append((years[0], years[-1]))
    return pairs


def decompose(v_a: float, v_b: float, pi_a: float, pi_b: float) -> tuple[float, float]:
    """Split ``v_b − v_a`` into a quantity (real) effect and a price effect.

    With ``K = v / π`` the value at constant prices and ``π`` the price index of the value
    (``D(price year) / D(base)``), the Bennet (two-factor Shapley) decomposition, the mean of
    the Laspeyres and Paasche splits::

        quantity = (K_b − K_a) (π_a + π_b) / 2
        price    = (π_b − π_a) (K_a + K_b) / 2

    sums to ``K_b π_b − K_a π_a = v_b − v_a`` exactly (up to rounding) and does not depend on
    the base year.

    Parameters
    ----------
    v_a, v_b : float
        Values at current prices of the two years (yuan a⁻¹).
    pi_a, pi_b : float
        Price indices of the two years' values (dimensionless, > 0).

    Returns
    -------
    (quantity_effect, price_effect) : tuple of float
        yuan a⁻¹.
    """
    k_a, k_b = v_a / pi_a, v_b / pi_b
    return (k_b - k_a) * (pi_a + pi_b) / 2.0, (pi_b - pi_a) * (k_a + k_b) / 2.0


def decomposition_table(table: pd.DataFrame, pairs: list[tuple[int, int]],
                        indices: dict[int, dict[str, float]]) -> pd.DataFrame:
    """Per pair of years and service (and GEP): values, change, quantity and price effects.

    ``table`` is :func:`gep_by_year`; ``indices[year][service]`` the price index ``π`` of the
    service's values (``D(price year) / D(base)``). A service missing in one year takes the
    other year's index (its price effect is then 0). The GEP row's effects are the sums of the
    services'; its change is GEP(b) − GEP(a) from the runs.
    """
    val = table[table.measure == "value"]
    rows = []
    for a, b in pairs:
        va = val[val.year == a].set_index("service")
        vb = val[val.year == b].set_index("service")
        services = [s for s in dict.fromkeys(list(va.index) + list(vb.index))
                    if s not in ("subtotal", "gep")]
        q_sum = p_sum = 0.0
        for s in services:
            x_a = float(va.amount.get(s, 0.0))
            x_b = float(vb.amount.get(s, 0.0))
            pa = indices[a].get(s, indices[b].get(s, 1.0))
            pb = indices[b].get(s, pa)
            q, p = decompose(x_a, x_b, pa, pb)
            q_sum += q
            p_sum += p
            cat = (va.category.get(s) if s in va.index else vb.category.get(s))
            rows.append({"from_year": a, "to_year": b, "service": s, "category": cat,
                         "value_from": x_a, "value_to": x_b, "change": x_b - x_a,
                         "quantity_effect": q, "price_effect": p,
                         "price_index_from": pa, "price_index_to": pb})
        g_a = float(va.amount.get("gep", 0.0))
        g_b = float(vb.amount.get("gep", 0.0))
        rows.append({"from_year": a, "to_year": b, "service": "gep", "category": "total",
                     "value_from": g_a, "value_to": g_b, "change": g_b - g_a,
                     "quantity_effect": q_sum, "price_effect": p_sum,
                     "price_index_from": np.nan, "price_index_to": np.nan})
    return pd.DataFrame(rows)


# --- the command -------------------------------------------------------------------------------

def _series_tags(first: int, last: int) -> Any:
    def tags(name: str) -> dict[str, str]:
        return {"gepgeo_version": __version__, "before": f"../../{first}/maps/{name}.tif",
                "after": f"../../{last}/maps/{name}.tif"}
    return tags


def _check_years(pipes: list[Pipeline], years: list[int] | None) -> list[int]:
    if len(pipes) < 2:
        raise ConfigError("series: give at least two pipelines (one per year)")
    if years is None:
        missing = [str(p.source_path or i) for i, p in enumerate(pipes) if p.year is None]
        if missing:
            raise ConfigError(f"{missing[0]}: no `year:`; give each pipeline its year, or "
                              "--years Y1,Y2,... in the order of the pipelines")
        years = [int(p.year) for p in pipes]   # type: ignore[arg-type]
    if len(years) != len(pipes):
        raise ConfigError(f"--years: {len(years)} year(s) for {len(pipes)} pipelines")
    if any(b <= a for a, b in zip(years[:-1], years[1:])):
        raise ConfigError(f"series: the years must increase in the order of the pipelines, got "
                          f"{', '.join(map(str, years))}")
    return list(years)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check_prices(pipes: list[Pipeline], years: list[int], base: int,
                  table: dict[int, float], name: str) -> None:
    """The price checks of :func:`deflator_factors` on each pipeline's resolved parameters
    (:func:`gepgeo.prepare.prepare`: headers only), before any year is computed."""
    from .prepare import prepare

    for year, pipe in zip(years, pipes):
        plan = prepare(pipe).plan
        params = {k: {"origin": v.origin,
                      **({"price_year": v.price_year} if v.price_year is not None else {})}
                  for k, v in plan.used.items()}
        deflator_factors({"services": plan.enabled_services, "parameters": params}, base, table,
                         str(pipe.source_path or year), name)


def run_series(pipes: list[Pipeline], out: Path, *, years: list[int] | None = None,
               price_basis: str | None = None, deflator: str | Path | None = None,
               overwrite: bool = False, quiet: bool = True, resampling: str = "nearest",
               report_lang: str | None = None, series_file: SeriesFile | None = None,
               **run_args: Any) -> SeriesResult:
    """Run one pipeline per year and the series tables and change maps into ``out`` (complete
    or not at all).

    Parameters
    ----------
    pipes : list of Pipeline
        One per year, in increasing year order.
    years : list of int, optional
        The years (default: each pipeline's ``year:``).
    price_basis : str, optional
        ``current`` or ``constant:<year>`` (needs a deflator); default: the series file's,
        else the pipelines' ``options.price_basis``, else ``current`` (:func:`series_prices`).
    deflator : str or Path, optional
        Deflator table (:func:`load_deflator`) or a shipped table's name
        (:func:`shipped_deflators`); default: the series file's, else the pipelines'
        ``options.deflator``. With a deflator the decomposition is written.
    series_file : SeriesFile, optional
        The series file the pipelines come from (:func:`load_series_file`): its prices win over
        the pipelines' options, and it is recorded in the manifest.
    report_lang : {"en", "zh"}, optional
        Language of the series report (default: the first year's ``options.report_lang``);
        the report and the QGIS styles of the change maps are written unless ``report=False``
        or every pipeline says ``options.report: false``.
    run_args
        Passed to :func:`gepgeo.run.run_pipeline` for each year (``report``, ``max_pixels``,
        ``check_disk``, ``on_estimate``).

    Raises
    ------
    ConfigError
        Fewer than two pipelines, years missing or not increasing, a pipeline with
        ``valuation: false`` when another has values.
    PriceBasisError
        Bad price basis or deflator table; with a deflator, a price of unknown year, a service
        whose prices are of different years, a year the table does not have.
    """
    yrs = _check_years(pipes, years)
    prices = series_prices(pipes, price_basis, deflator, series_file)
    price_basis, deflator = prices.basis, prices.deflator
    base = parse_price_basis(price_basis)
    if base is not None and deflator is None:
        raise PriceBasisError(f"price basis {price_basis} ({prices.basis_from}): give a "
                              "deflator table (--deflator FILE.csv with columns year,index, or "
                              "a shipped table's name such as cn-cpi-worldbank; or "
                              "deflator: in the series file, or options.deflator in the "
                              "pipelines)")
    table = load_deflator(deflator) if deflator is not None else None
    if len({p.valuation for p in pipes}) > 1:
        raise ConfigError("series: some pipelines have valuation: false and others not; give "
                          "them all the same valuation")
    try:
        rs = Resampling[resampling]
    except KeyError:
        raise ConfigError(f"--resampling: unknown method {resampling!r}") from None
    if table is not None and pipes[0].valuation:
        _check_prices(pipes, yrs, base if base is not None else yrs[0], table,
                      prices.deflator_name)
    inputs = [p for pipe in pipes for p in pipeline_inputs(pipe)]
    if deflator is not None:
        inputs.append(Path(deflator))
    if series_file is not None and series_file.source_path is not None:
        inputs.append(series_file.source_path)
    out = Path(out)
    with atomic_folder(out, overwrite=overwrite, inputs=inputs) as tmp:
        runs: dict[int, RunResult] = {}
        for year, pipe in zip(yrs, pipes):
            runs[year] = run_pipeline(pipe, tmp / str(year), quiet=quiet,
                                      final_path=out / str(year), **run_args)
        where = {y: str(p.source_path or y) for y, p in zip(yrs, pipes)}
        strict = table is not None
        years_of = {y: {s: _one_year(s, ys, where[y], r.manifest, strict)
                        for s, ys in service_price_years(r.manifest).items()}
                    for y, r in runs.items()}
        factors = indices = None
        if table is not None and pipes[0].valuation:
            ref = base if base is not None else yrs[0]
            dname = prices.deflator_name
            if ref not in table:
                raise PriceBasisError(f"deflator {dname!r} has no index for the base year {ref}")
            full = {y: deflator_factors(r.manifest, ref, table, where[y], dname)
                    for y, r in runs.items()}
            # π = D(price year) / D(base) of each service's values (1 without prices)
            indices = {y: {s: (table[p] / table[ref] if isinstance(p, int) else 1.0)
                           for s, (p, _) in fs.items()} for y, fs in full.items()}
            if base is not None:
                factors = {y: {s: f for s, (_, f) in fs.items()} for y, fs in full.items()}
        series = tmp / "series"
        (series / "tables").mkdir(parents=True)
        (series / "maps").mkdir()
        fmt = "%.10g"
        gby = gep_by_year(runs, years_of, factors)
        gby.to_csv(series / "tables" / "gep_by_year.csv", index=False, float_format=fmt)
        luy = land_use_by_year(runs)
        luy.to_csv(series / "tables" / "land_use_by_year.csv", index=False, float_format=fmt)
        tables = ["tables/gep_by_year.csv", "tables/land_use_by_year.csv"]
        transitions: dict[tuple[int, int], pd.DataFrame] = {}
        by_year = dict(zip(yrs, pipes))
        for a, b in year_pairs(yrs):
            tm = transition_matrix(by_year[a], by_year[b])
            tm.index.name = f"{a} \\ {b}"
            transitions[(a, b)] = tm
            tm.to_csv(series / "tables" / f"transition_{a}_{b}.csv", float_format=fmt)
            extent_account(tm).to_csv(series / "tables" / f"extent_account_{a}_{b}.csv",
                                      index=False, float_format=fmt)
            tables += [f"tables/transition_{a}_{b}.csv", f"tables/extent_account_{a}_{b}.csv"]
        dec = None
        if indices is not None:
            dec = decomposition_table(gby, year_pairs(yrs), indices)
            dec.to_csv(series / "tables" / "decomposition.csv", index=False, float_format="%.17g")
            tables.append("tables/decomposition.csv")
        first, last = runs[yrs[0]], runs[yrs[-1]]
        maps = _difference_maps_or_disk_full(first, last, series / "maps", out,
                                             codec=pipes[0].options.codec, resampling=rs,
                                             cog=pipes[0].options.cog,
                                             tags=_series_tags(yrs[0], yrs[-1]))
        manifest: dict[str, Any] = {
            "gepgeo_version": __version__, "kind": "series", "years": yrs,
            **({"series_file": str(series_file.source_path)}
               if series_file is not None else {}),
            "runs": {str(y): {"pipeline": str(p.source_path), "run": f"../{y}/manifest.json"}
                     for y, p in zip(yrs, pipes)},
            "price_basis": price_basis,
            "price_basis_from": prices.basis_from,
            "deflator": (None if deflator is None else
                         {"path": prices.deflator_name, "given_by": prices.deflator_from,
                          **({"shipped": prices.shipped} if prices.shipped else {}),
                          "sha256": _sha256(Path(deflator))}),
            "decomposition": ("Bennet (mean of Laspeyres and Paasche): quantity = (K_b - K_a)"
                              "(pi_a + pi_b)/2, price = (pi_b - pi_a)(K_a + K_b)/2, K = value / "
                              "pi, pi = D(price year)/D(base)" if dec is not None else
                              "not written: no deflator"),
            "pairs": [list(p) for p in year_pairs(yrs)],
            "grid": f"change maps on the first year's grid (see ../{yrs[0]}/manifest.json)",
            "alignment": {"land_use": "nearest", "maps": resampling},
            "maps": {m: f"maps/{m}.tif" for m in maps},
            "change_maps": f"{yrs[-1]} - {yrs[0]}",
            "tables": tables,
            "versions": _versions(),
        }
        (series / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                              encoding="utf-8")
        if run_args.get("report", True) and any(p.options.report for p in pipes):
            from .report.series_page import write_series_report
            from .styles import style_maps

            style_maps(series)
            write_series_report(tmp, lang=report_lang)
    for y, r in runs.items():
        r.out = out / str(y)
    return SeriesResult(out, yrs, runs, gby, luy, transitions, dec, manifest)
