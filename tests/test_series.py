"""``gepgeo series``: one run per year, tables by year, constant prices and the quantity / price
decomposition, on the three-year Jinsha sample (``pipelines/jinsha_series_*.yaml``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gepgeo.compare import run_compare
from gepgeo.errors import GepgeoError
from gepgeo.pipeline import load_pipeline
from gepgeo.series import PriceBasisError, decompose, load_deflator, run_series

from .helpers import copy_sample, folder_files, read_band, run_cli

YEARS = (2015, 2019, 2023)
#: a test deflator (made-up numbers, not statistics): each year a different index
DEFLATOR = {2015: 100.0, 2016: 101.7, 2019: 106.3, 2020: 108.9, 2022: 112.2, 2023: 113.0}


def _write_deflator(path: Path) -> Path:
    path.write_text("# test table, made-up numbers\nyear,index\n"
                    + "".join(f"{y},{v}\n" for y, v in DEFLATOR.items()))
    return path


def _pipes(root: Path, years=YEARS):
    return [load_pipeline(root / "pipelines" / f"jinsha_series_{y}.yaml") for y in years]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A copy of the sample whose three years have prices of three different years: 2015's
    prices are of 2016, 2019's of 2022 (as shipped), 2023's of 2020."""
    root = copy_sample(tmp_path_factory.mktemp("series-sample"))
    pl = root / "pipelines"
    text = (pl / "jinsha_series_prices.yaml").read_text()
    for y, py in ((2015, 2016), (2023, 2020)):
        (pl / f"prices_{py}.yaml").write_text(text.replace("price_year: 2022",
                                                           f"price_year: {py}"))
        p = pl / f"jinsha_series_{y}.yaml"
        p.write_text(p.read_text().replace("valuation: jinsha_series_prices.yaml",
                                           f"valuation: prices_{py}.yaml"))
    return root


@pytest.fixture(scope="module")
def constant(sample):
    """The three-year series at constant 2015 prices, with the decomposition."""
    defl = _write_deflator(sample / "deflator.csv")
    return run_series(_pipes(sample), sample / "out" / "series", price_basis="constant:2015",
                      deflator=defl, report=False)


def test_layout_and_tables_by_year(constant):
    out = constant.out
    assert sorted(p.name for p in out.iterdir()) == ["2015", "2019", "2023", "series"]
    for y in YEARS:   # each year is a normal run folder
        assert (out / str(y) / "manifest.json").is_file()
        assert (out / str(y) / "maps" / "gep.tif").is_file()
    tables = {p.name for p in (out / "series" / "tables").iterdir()}
    pairs = ["2015_2019", "2019_2023", "2015_2023"]
    assert tables == ({"gep_by_year.csv", "land_use_by_year.csv", "decomposition.csv"}
                      | {f"transition_{p}.csv" for p in pairs}
                      | {f"extent_account_{p}.csv" for p in pairs})
    gby = pd.read_csv(out / "series" / "tables" / "gep_by_year.csv")
    luy = pd.read_csv(out / "series" / "tables" / "land_use_by_year.csv")
    for y in YEARS:
        run = pd.read_csv(out / str(y) / "tables" / "gep_by_service.csv")
        mine = gby[gby.year == y].reset_index(drop=True)
        assert list(mine.measure) == list(run.measure)
        np.testing.assert_allclose(mine.amount, run.amount, rtol=1e-9)
        lu = pd.read_csv(out / str(y) / "tables" / "land_use.csv")
        np.testing.assert_allclose(luy[luy.year == y].area_ha.to_numpy(), lu.area_ha, rtol=1e-9)
    # the middle year is the half-restored site: GEP grows year on year
    gep = gby[gby.service == "gep"].amount.to_numpy()
    assert gep[0] < gep[1] < gep[2]
    # first-to-last transition: every valid hectare once, and the change map is last − first
    tm = pd.read_csv(out / "series" / "tables" / "transition_2015_2023.csv", index_col=0)
    assert tm.to_numpy().sum() == pytest.approx(77.37, rel=1e-12)
    d = read_band(out / "series" / "maps" / "gep_change.tif")
    b, a = (read_band(out / str(y) / "maps" / "gep.tif") for y in (2015, 2023))
    np.testing.assert_array_equal(d, a - b)


def test_constant_prices_are_current_times_the_deflator_ratio(constant):
    gby = constant.gep_by_year
    price_year = {2015: 2016, 2019: 2022, 2023: 2020}
    for y in YEARS:
        rows = gby[(gby.year == y) & (gby.unit == "yuan a-1")
                   & ~gby.service.isin(["subtotal", "gep"])]
        assert len(rows) > 8
        ratio = DEFLATOR[2015] / DEFLATOR[price_year[y]]
        assert set(rows.price_year) == {str(price_year[y])}
        np.testing.assert_allclose(rows.constant_amount, rows.amount * ratio, rtol=1e-14)
        gep = gby[(gby.year == y) & (gby.service == "gep")].iloc[0]
        assert gep.constant_amount == pytest.approx(gep.amount * ratio, rel=1e-12)
        # quantities have no constant-price value
        phys = gby[(gby.year == y) & (gby.unit != "yuan a-1")]
        assert phys.constant_amount.isna().all()


def test_decomposition_sums_exactly_and_is_bennet(constant):
    dec = constant.decomposition
    assert dec is not None
    assert [tuple(p) for p in dec[["from_year", "to_year"]].drop_duplicates().to_numpy()] == [
        (2015, 2019), (2019, 2023), (2015, 2023)]
    total = dec.quantity_effect + dec.price_effect
    scale = np.maximum(dec.change.abs(), dec[["value_from", "value_to"]].abs().max(axis=1))
    assert (np.abs(total - dec.change) <= 1e-12 * scale).all()
    # independent reference: the mean of the Laspeyres and Paasche splits, from the deflator
    svc = dec[dec.service != "gep"]
    py = {2015: 2016, 2019: 2022, 2023: 2020}
    for _, r in svc.iterrows():
        pa, pb = (DEFLATOR[py[y]] / DEFLATOR[2015] for y in (r.from_year, r.to_year))
        ka, kb = r.value_from / pa, r.value_to / pb
        laspeyres_q = (kb - ka) * pa
        paasche_q = (kb - ka) * pb
        assert r.quantity_effect == pytest.approx((laspeyres_q + paasche_q) / 2, rel=1e-12)
        assert r.price_index_from == pytest.approx(pa, rel=1e-15)
    # prices of different years: a price effect, of the sign of the price level's change
    gep = dec[dec.service == "gep"].set_index(["from_year", "to_year"])
    assert gep.loc[(2015, 2019)].price_effect > 0      # 2016 → 2022 prices: up
    assert gep.loc[(2019, 2023)].price_effect < 0      # 2022 → 2020 prices: down
    assert gep.price_effect.ne(0).all()
    # the file holds the same numbers (17 digits)
    f = pd.read_csv(constant.out / "series" / "tables" / "decomposition.csv")
    np.testing.assert_array_equal(f.quantity_effect, dec.quantity_effect)


def test_decompose_exact_on_hostile_numbers():
    rng = np.random.default_rng(7)
    for _ in range(200):
        va, vb = rng.uniform(0, 1e12, 2)
        pa, pb = rng.uniform(0.05, 20, 2)
        q, p = decompose(va, vb, pa, pb)
        assert abs(q + p - (vb - va)) <= 1e-12 * max(va, vb)
    assert decompose(5.0, 5.0, 1.2, 1.2) == (0.0, 0.0)


def test_two_year_series_equals_compare(tmp_path):
    pipes = _pipes(copy_sample(tmp_path / "shipped"), (2015, 2023))   # prices of one year
    ser = run_series(pipes, tmp_path / "s", report=False)
    cmp = run_compare(pipes[0], pipes[1], tmp_path / "c", report=False)
    gby = pd.read_csv(ser.out / "series" / "tables" / "gep_by_year.csv")
    chg = pd.read_csv(cmp.out / "change" / "tables" / "change_by_service.csv")
    keys = ["service", "category", "measure", "unit"]
    for col, y in (("before", 2015), ("after", 2023)):
        m = gby[gby.year == y].merge(chg, on=keys, how="outer", validate="1:1")
        assert len(m) == len(chg) == (gby.year == y).sum()
        np.testing.assert_array_equal(m.amount.to_numpy(), m[col].to_numpy())
    assert "constant_amount" not in gby      # current prices, no deflator: no constant column
    assert not (ser.out / "series" / "tables" / "decomposition.csv").exists()
    for mine, theirs in (("transition_2015_2023.csv", "transition_matrix.csv"),
                         ("extent_account_2015_2023.csv", "extent_account.csv")):
        a = pd.read_csv(ser.out / "series" / "tables" / mine)
        b = pd.read_csv(cmp.out / "change" / "tables" / theirs)
        np.testing.assert_array_equal(a.iloc[:, 1:].to_numpy(), b.iloc[:, 1:].to_numpy())
        assert list(a.iloc[:, 0]) == list(b.iloc[:, 0])
    for m in ("gep_change", "soil_value_change"):
        np.testing.assert_array_equal(read_band(ser.out / "series" / "maps" / f"{m}.tif"),
                                      read_band(cmp.out / "change" / "maps" / f"{m}.tif"))


def test_reruns_into_other_folders_are_byte_identical(sample, tmp_path, monkeypatch, capsys):
    _write_deflator(tmp_path / "d.csv")
    outs = []
    for parent in ("runs-A", "runs-B"):
        (tmp_path / parent).mkdir()
        monkeypatch.chdir(tmp_path / parent)
        code, _, err = run_cli(["series", *(sample / "pipelines" / f"jinsha_series_{y}.yaml"
                                            for y in YEARS),
                                "--out", "ts", "--price-basis", "constant:2016",
                                "--deflator", tmp_path / "d.csv", "--no-report", "-q"], capsys)
        assert code == 0, err
        outs.append(tmp_path / parent / "ts")
    fa, fb = folder_files(outs[0]), folder_files(outs[1])
    assert sorted(fa) == sorted(fb)
    assert "series/tables/decomposition.csv" in fa and "series/maps/gep_change.tif" in fa
    for rel, data in fa.items():
        if rel.endswith("manifest.json") and not rel.startswith("series"):
            ma, mb = json.loads(data), json.loads(fb[rel])
            for m in (ma, mb):
                m.pop("timings_s")
                m.pop("output", None)
            assert ma == mb, rel
        else:
            assert data == fb[rel], rel       # the series manifest holds no timing
        assert b".tmp-" not in data and b"runs-A" not in data, rel


def test_a_price_of_unknown_year_stops_a_constant_series(sample, tmp_path, capsys):
    """The shipped jinsha pipelines take prices of unknown year (the paper names none)."""
    defl = _write_deflator(tmp_path / "d.csv")
    code, _, err = run_cli(["series", sample / "pipelines" / "jinsha_before.yaml",
                            sample / "pipelines" / "jinsha_after.yaml", "--years", "2015,2023",
                            "--out", tmp_path / "ts", "--price-basis", "constant:2015",
                            "--deflator", defl, "--no-report", "-q"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "has no price year" in lines[0], err
    assert "jinsha-as-published" in lines[0] and "of service 'agriculture'" in lines[0]
    assert not (tmp_path / "ts").exists()
    # and at current prices the same pair runs (no deflator needed)
    code, _, err = run_cli(["series", sample / "pipelines" / "jinsha_before.yaml",
                            sample / "pipelines" / "jinsha_after.yaml", "--years", "2015,2023",
                            "--out", tmp_path / "ts", "--no-report", "-q"], capsys)
    assert code == 0, err
    gby = pd.read_csv(tmp_path / "ts" / "series" / "tables" / "gep_by_year.csv")
    assert set(gby[gby.measure == "value"].price_year.dropna()) == {"unknown"}


def test_bad_price_basis_and_deflator_tables(sample, tmp_path):
    pipes = _pipes(sample, (2015, 2023))
    with pytest.raises(PriceBasisError, match="constant:<year>"):
        run_series(pipes, tmp_path / "a", price_basis="constant-2015")
    with pytest.raises(PriceBasisError, match="give a deflator"):
        run_series(pipes, tmp_path / "a", price_basis="constant:2015")
    bad = tmp_path / "bad.csv"
    bad.write_text("year,index\n2015,100\n2015,101\n")
    with pytest.raises(PriceBasisError, match="given twice"):
        load_deflator(bad)
    bad.write_text("year,index\n2015,-3\n")
    with pytest.raises(PriceBasisError, match="positive"):
        load_deflator(bad)
    short = tmp_path / "short.csv"
    short.write_text("year,index\n2015,100\n2016,101\n")
    with pytest.raises(PriceBasisError, match="no index for 2022"):
        run_series(pipes[:1] + _pipes(sample, (2019,)), tmp_path / "b",
                   price_basis="constant:2015", deflator=short, report=False)
    assert not (tmp_path / "b").exists()
    with pytest.raises(GepgeoError, match="must increase"):
        run_series(pipes[::-1], tmp_path / "c")


def test_series_report_en_and_zh(constant, tmp_path, monkeypatch):
    import shutil

    import gepgeo.report as report
    from gepgeo.report.series_page import write_series_report

    out = tmp_path / "ts"
    shutil.copytree(constant.out, out)
    page = write_series_report(out)
    assert page == out / "series" / "report.html"
    html = page.read_text()
    for anchor in ("summary", "gep", "land-use", "change", "decomposition", "tables"):
        assert f'id="{anchor}"' in html
    # three charts (GEP by year, land-use shares, the decomposition) and the change map with
    # both years (an SVG of three panels, each with its pixels, and two colour bars)
    assert html.count("<img") == 3 and html.count('<svg class="map"') == 1
    assert html.count("data:image/png;base64,") == 3 + 3 + 2
    assert "GEP by year, stacked by service" in html and "2023 − 2015" in html
    assert f"deflator: {constant.manifest['deflator']['path']}" in html
    for rel in constant.manifest["tables"]:
        assert f'href="{rel}"' in html and (out / "series" / rel).is_file()
    assert ">2,015<" not in html and ">2015<" in html     # years print without separators
    zh = write_series_report(out, lang="zh").read_text()
    assert "GEP 时间序列：2015–2023" in zh and "变化分解" in zh and "数量效应（元/年）" in zh
    assert "价格平减指数：" in zh
    # gepgeo report DIR (or DIR/series) rebuilds each year's report and the series page
    import gepgeo.report.series_page as series_page

    calls = []
    monkeypatch.setattr(report, "write_run_report",
                        lambda folder, **kw: calls.append(folder) or folder / "report.html")
    monkeypatch.setattr(series_page, "write_series_report",
                        lambda folder, **kw: calls.append(folder) or folder / "series.html")
    written = report.write_report(out / "series", lang="zh")
    assert calls == [out / str(y) for y in YEARS] + [out]
    assert written[-1] == out / "series.html"


def test_a_service_with_prices_of_two_years_is_refused(tmp_path):
    root = copy_sample(tmp_path / "s")
    prices = root / "pipelines" / "jinsha_series_prices.yaml"
    text = prices.read_text().replace(
        "dredging_cost: {value: 18.24, unit: yuan m-3,",
        "dredging_cost: {value: 18.24, unit: yuan m-3, price_year: 2019,")
    prices.write_text(text)
    defl = _write_deflator(tmp_path / "d.csv")
    with pytest.raises(PriceBasisError, match=r"service 'soil' are of different years "
                                              r"\(dredging_cost 2019, n_fertilizer_price 2022"):
        run_series(_pipes(root, (2015, 2023)), tmp_path / "o", price_basis="constant:2015",
                   deflator=defl, report=False)
    assert not (tmp_path / "o").exists()
