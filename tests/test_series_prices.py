"""``gepgeo series`` prices given in the pipelines (``options.price_basis``, ``options.deflator``,
the command line winning) and the shipped deflator table for China (``cn-cpi-worldbank``)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gepgeo.errors import ConfigError, GepgeoError, InputFileError
from gepgeo.pipeline import load_pipeline
from gepgeo.series import (PriceBasisError, find_deflator, load_deflator, load_series_file,
                           run_series, series_prices, shipped_deflators)

from .helpers import copy_sample, read_yaml, run_cli

SHIPPED = "cn-cpi-worldbank"


def _with_options(path: Path, options: str) -> Path:
    """The pipeline ``path`` with the ``options:`` given (YAML flow text) added to its own."""
    doc = read_yaml(path)
    doc["options"] = {**doc.get("options", {}), **yaml.safe_load(options)}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def sample(tmp_path):
    return copy_sample(tmp_path / "s")


def _series_files(root: Path, years=(2015, 2023)) -> list[Path]:
    return [root / "pipelines" / f"jinsha_series_{y}.yaml" for y in years]


# --- the shipped table -------------------------------------------------------------------------

def test_shipped_cpi_table_is_the_chain_of_its_published_rates():
    path = shipped_deflators()[SHIPPED]
    text = path.read_text(encoding="utf-8")
    for needed in ("FP.CPI.TOTL.ZG", "CC BY 4.0", "World Bank", "National Bureau of Statistics"):
        assert needed in text
    table = load_deflator(path)
    rows = list(csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")))
    rates = {int(r["year"]): float(r["annual_change_pct"]) for r in rows if r["annual_change_pct"]}
    assert sorted(table) == list(range(1986, 2025))          # no gap: every year chained
    assert table[2010] == 100.0
    for y, r in rates.items():                                # index(y) / index(y-1) = 1 + r
        assert table[y] / table[y - 1] == pytest.approx(1 + r / 100, rel=1e-9), y
    # figures checked against the sources named in the file's header
    assert (rates[2019], rates[2022], rates[2023], rates[2024]) == (2.90, 2.0, 0.2, 0.2)
    assert (rates[1994], rates[1999], rates[2011]) == (24.26, -1.40, 5.55)


def test_find_deflator_names_and_paths(tmp_path):
    assert find_deflator(SHIPPED, None, "x") == shipped_deflators()[SHIPPED]
    own = tmp_path / "d.csv"
    own.write_text("year,index\n2015,1\n")
    assert find_deflator("d.csv", tmp_path, "x") == tmp_path / "d.csv"
    with pytest.raises(PriceBasisError, match=r"p\.yaml: options\.deflator: deflator 'nope\.csv' "
                                              r"is neither a file nor a shipped table \(.*"
                                              + SHIPPED):
        find_deflator("nope.csv", tmp_path, "p.yaml: options.deflator")


# --- options in the pipelines ------------------------------------------------------------------

def test_series_prices_from_options_and_the_command_line(sample, tmp_path):
    (sample / "cpi.csv").write_text("year,index\n2015,100\n2022,110\n")
    a, b = _series_files(sample)
    _with_options(a, '{price_basis: "constant:2015", deflator: ../cpi.csv}')
    _with_options(b, '{price_basis: "constant: 2015"}')         # only one names the deflator
    pipes = [load_pipeline(a), load_pipeline(b)]
    got = series_prices(pipes)
    assert got.basis == "constant:2015" and got.basis_from == f"options.price_basis of {a}"
    assert got.deflator == sample / "pipelines" / ".." / "cpi.csv"
    assert (got.deflator_name, got.deflator_from) == ("../cpi.csv", f"options.deflator of {a}")
    assert got.shipped is None
    # the command line wins over both
    cli = series_prices(pipes, "current", SHIPPED)
    assert (cli.basis, cli.basis_from) == ("current", "--price-basis")
    assert (cli.deflator, cli.shipped, cli.deflator_from) == (
        shipped_deflators()[SHIPPED], SHIPPED, "--deflator")
    # nothing given anywhere: current prices, no deflator
    plain = series_prices([load_pipeline(p) for p in _series_files(copy_sample(tmp_path / "p"))])
    assert (plain.basis, plain.basis_from, plain.deflator) == ("current", "default", None)


def test_pipelines_that_disagree_are_refused(sample):
    a, b = _series_files(sample)
    _with_options(a, '{price_basis: "constant:2015", deflator: cn-cpi-worldbank}')
    _with_options(b, '{price_basis: "constant:2019", deflator: cn-cpi-worldbank}')
    pipes = [load_pipeline(a), load_pipeline(b)]
    with pytest.raises(PriceBasisError, match=r"options\.price_basis: .*jinsha_series_2015\.yaml' "
                                              r"says 'constant:2015' and .*jinsha_series_2023"
                                              r"\.yaml' says 'constant:2019'"):
        series_prices(pipes)
    assert series_prices(pipes, "constant:2019").basis == "constant:2019"   # unless the CLI says
    # two spellings of one file agree; two files do not
    (sample / "pipelines" / "other.csv").write_text("year,index\n2015,1\n")
    a.write_text(a.read_text().replace("constant:2015", "constant:2019"))
    b.write_text(b.read_text().replace("deflator: cn-cpi-worldbank", "deflator: other.csv"))
    with pytest.raises(PriceBasisError, match=r"options\.deflator: .* says 'cn-cpi-worldbank' "
                                              r"and .* says 'other\.csv'"):
        series_prices([load_pipeline(a), load_pipeline(b)])


def test_a_bad_price_basis_option_is_refused_when_loaded(sample):
    a = _with_options(_series_files(sample)[0], '{price_basis: "constant-2015"}')
    with pytest.raises(ConfigError, match=r"options\.price_basis: expected 'current' or "
                                          r"'constant:<year>'"):
        load_pipeline(a)


def test_constant_prices_from_the_options_with_the_shipped_cpi(sample, tmp_path, capsys):
    """The sample's prices are of 2022; at 2015 prices with China's CPI every value is scaled by
    CPI(2015) / CPI(2022), the inverse of the published rates 2016..2022 chained."""
    files = _series_files(sample)
    for f in files:
        _with_options(f, '{price_basis: "constant:2015", deflator: cn-cpi-worldbank}')
    res = run_series([load_pipeline(f) for f in files], tmp_path / "ts", report=False)
    rates = [2.00, 1.59, 2.07, 2.90, 2.42, 0.98, 2.0]               # 2016..2022, percent
    ratio = 1 / math.prod(1 + r / 100 for r in rates)
    g = res.gep_by_year
    vals = g[(g.unit == "yuan a-1") & ~g.service.isin(["subtotal", "gep"])]
    assert len(vals) > 8 and set(vals.price_year) == {"2022"}
    assert (vals.constant_amount / vals.amount).to_numpy() == pytest.approx(ratio, rel=1e-8)
    gep = g[g.service == "gep"]
    assert (gep.constant_amount / gep.amount).to_numpy() == pytest.approx(ratio, rel=1e-8)
    m = json.loads((tmp_path / "ts" / "series" / "manifest.json").read_text())
    assert m["price_basis"] == "constant:2015"
    assert m["price_basis_from"] == f"options.price_basis of {files[0]}"
    assert m["deflator"]["path"] == SHIPPED and m["deflator"]["shipped"] == SHIPPED
    assert m["deflator"]["given_by"] == f"options.deflator of {files[0]}"
    assert res.decomposition is not None
    # the command line wins: current prices (the deflator of the options still splits the change)
    code, _, err = run_cli(["series", *files, "--out", tmp_path / "cur", "--price-basis",
                            "current", "--no-report", "-q"], capsys)
    assert code == 0, err
    cur = pd.read_csv(tmp_path / "cur" / "series" / "tables" / "gep_by_year.csv")
    assert "constant_amount" not in cur
    assert (tmp_path / "cur" / "series" / "tables" / "decomposition.csv").is_file()


def test_a_year_the_table_lacks_is_named(sample, tmp_path, capsys):
    files = _series_files(sample)
    code, _, err = run_cli(["series", *files, "--out", tmp_path / "ts", "--price-basis",
                            "constant:1980", "--deflator", SHIPPED, "--no-report", "-q"], capsys)
    assert code == 2
    assert "deflator 'cn-cpi-worldbank' has no index for the base year 1980" in err, err
    prices = sample / "pipelines" / "jinsha_series_prices.yaml"
    prices.write_text(prices.read_text().replace("price_year: 2022", "price_year: 2031"))
    code, _, err = run_cli(["series", *files, "--out", tmp_path / "ts", "--price-basis",
                            "constant:2015", "--deflator", SHIPPED, "--no-report", "-q"], capsys)
    assert code == 2 and "has no index for 2031, the price year of service" in err, err
    assert not (tmp_path / "ts").exists()


def test_a_price_of_unknown_year_stops_a_series_made_constant_by_its_options(sample, tmp_path,
                                                                             capsys):
    """The Jinsha pipelines' prices have no price year (the paper names none)."""
    files = [sample / "pipelines" / f"jinsha_{s}.yaml" for s in ("before", "after")]
    for f in files:
        _with_options(f, '{price_basis: "constant:2015", deflator: cn-cpi-worldbank}')
    code, _, err = run_cli(["series", *files, "--years", "2015,2023", "--out", tmp_path / "ts",
                            "--no-report", "-q"], capsys)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "has no price year" in line, err
    assert ("price 'agri_output_value_per_ha' of service 'agriculture' "
            "(from 'jinsha-as-published')") in line
    assert not (tmp_path / "ts").exists()


# --- the price year of a price given in the pipeline -------------------------------------------

def _with_parameter(path: Path, key: str, spec: dict) -> Path:
    doc = read_yaml(path)
    doc.setdefault("parameters", {})[key] = spec
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_price_given_in_the_pipeline_carries_its_own_year(sample, tmp_path):
    """The sample's prices are of 2022; a water price given in a pipeline without a year stops
    a constant series naming it and where to give the year; given with one, its year is the
    water service's (a table without that year names it)."""
    a, b = _series_files(sample)
    spec = {"value": 2.4, "unit": "yuan m-3"}
    _with_parameter(b, "water_price", spec)
    table = tmp_path / "d.csv"
    table.write_text("year,index\n2015,100\n2022,110\n")
    with pytest.raises(PriceBasisError, match=(
            r"jinsha_series_2023\.yaml: price 'water_price' of service 'water' \(from "
            r"'pipeline'\) has no price year .* give it with its year in the pipeline's "
            r"parameters: water_price: \{value: \.\.\., price_year: YEAR\}$")):
        run_series([load_pipeline(a), load_pipeline(b)], tmp_path / "o",
                   price_basis="constant:2015", deflator=table, report=False)
    _with_parameter(b, "water_price", {**spec, "price_year": 2019})
    with pytest.raises(PriceBasisError, match=r"has no index for 2019, the price year of "
                                              r"service 'water' in .*jinsha_series_2023\.yaml"):
        run_series([load_pipeline(a), load_pipeline(b)], tmp_path / "o",
                   price_basis="constant:2015", deflator=table, report=False)
    assert not (tmp_path / "o").exists()
    # only money has a price year
    _with_parameter(b, "water_price", spec)
    _with_parameter(b, "cover_management_c", {"by_land_type": {"forest": 0.01},
                                              "price_year": 2019})
    with pytest.raises(ConfigError, match=r"cover_management_c\.price_year: only an amount of "
                                          r"money"):
        load_pipeline(b)


# --- a series file -----------------------------------------------------------------------------

def test_the_sample_series_file(sample, tmp_path, capsys):
    """``pipelines/jinsha_series.yaml``: the three pipelines by year, constant 2015 prices, the
    shipped CPI; the command line still wins."""
    sf_path = sample / "pipelines" / "jinsha_series.yaml"
    sf, pipes, years = load_series_file(sf_path)
    assert years == [2015, 2019, 2023]
    assert [p.source_path for p in pipes] == [
        (sample / "pipelines" / f"jinsha_series_{y}.yaml").resolve() for y in years]
    got = series_prices(pipes, series_file=sf)
    assert (got.basis, got.shipped) == ("constant:2015", SHIPPED)
    assert got.basis_from == f"price_basis of {sf_path.resolve()}"
    assert got.deflator_from == f"deflator of {sf_path.resolve()}"
    # the series file wins over the pipelines' options, the command line over both
    _with_options(sample / "pipelines" / "jinsha_series_2015.yaml",
                  '{price_basis: "constant:2019"}')
    sf, pipes, _ = load_series_file(sf_path)
    assert series_prices(pipes, series_file=sf).basis == "constant:2015"
    assert series_prices(pipes, "current", series_file=sf).basis == "current"
    # --years belongs to the file
    code, _, err = run_cli(["series", sf_path, "--years", "2015,2019,2023", "--out",
                            tmp_path / "ts", "--no-report", "-q"], capsys)
    assert code == 2 and "gives the years; leave --years off" in err, err


def test_bad_series_files(tmp_path, sample):
    bad = tmp_path / "s.yaml"
    bad.write_text("years: {2015: a.yaml}\nprice_basis: fixed\nextra: 1\n")
    with pytest.raises(GepgeoError) as exc:
        load_series_file(bad)
    text = str(exc.value)
    for part in ("years: ", "price_basis: expected 'current' or 'constant:<year>'",
                 "unknown key 'extra'"):
        assert part in text, text
    with pytest.raises(ConfigError, match="not a series file"):
        load_series_file(sample / "pipelines" / "jinsha_series_2015.yaml")
    bad.write_text("years: {2015: s/pipelines/jinsha_series_2015.yaml, 2019: missing.yaml}\n")
    with pytest.raises(InputFileError, match="missing.yaml"):
        load_series_file(bad)
