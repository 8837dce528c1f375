"""The published Jinsha case (Xu et al.) on the bundled grids: implementation check and the paper.

docs/JINSHA.md: (1) every row's ``expected_from_preset`` to rtol 1e-6; (2) the 38 REPRODUCED Table 4
rows within 0.5 % of the paper; (3) the 7 after-restoration air rows within 5 %; (4) the tier
gepgeo computes for every row equals the expected ``agreement``.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from gepgeo.demo import sample_root
from gepgeo.reproduction import figure, reproduction_table, tier

from .helpers import TEST_DATA, assert_map_on_grid, jinsha_expected, read_band, read_yaml
from .oracle import Oracle


@pytest.fixture(scope="module")
def demo(jinsha_demo):
    return jinsha_demo     # read-only: the session's demo run


@pytest.fixture(scope="module")
def published():
    return jinsha_expected()


def _tables(demo):
    return {s: r.tidy for s, r in demo.runs.items()}


def test_every_published_row_matches_the_method_value(demo, published):
    tables = _tables(demo)
    assert len(published) == 187
    for row in published:
        want = float(row["expected_from_preset"])
        got = figure(row["id"], row["unit"], tables)
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9), row["id"]


def test_table4_reproduced_rows_within_half_a_percent_of_the_paper(demo, published):
    tables = _tables(demo)
    rows = [r for r in published
            if r["id"].startswith("T4.") and r["verdict"].startswith("REPRODUCED")]
    assert len(rows) == 38
    for row in rows:
        assert tier(row["paper"], figure(row["id"], row["unit"], tables)) == "<=0.5%", row["id"]
    gep = {s: figure(f"T4.{s}.gep", "1e4 yuan", tables) for s in ("before", "after")}
    assert gep["before"] == pytest.approx(68.25, abs=0.005)
    assert gep["after"] == pytest.approx(1212.56, abs=0.005)


def test_after_air_rows_within_five_percent(demo, published):
    tables = _tables(demo)
    rows = [r for r in published if r["id"].startswith("T4.after.")
            and any(k in r["id"] for k in ("so2", "nox", "dust", "air_value"))]
    assert len(rows) == 7
    for row in rows:
        got = figure(row["id"], row["unit"], tables)
        assert tier(row["paper"], got) in ("<=0.5%", "<=2%", "<=5%")


def test_computed_tier_equals_spec_agreement_for_every_row(demo, published):
    tables = _tables(demo)
    for row in published:
        got = figure(row["id"], row["unit"], tables)
        assert tier(row["paper"], got) == row["agreement"], row["id"]


def test_reproduction_table_has_every_row_and_reasons(demo):
    rep = reproduction_table(_tables(demo))
    assert len(rep) == 187
    bad = rep[rep.verdict == "NOT-REPRODUCIBLE"]
    assert len(bad) == 48
    assert bad.reason.str.len().min() > 10


def test_soil_retention_map_opens_with_crs_nodata_units(demo):
    path = demo.out / "after" / "maps" / "soil_retention.tif"
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32648
        assert np.isnan(src.nodata)
        assert src.units[0] == "t ha-1 a-1"
        assert src.descriptions[0]
        data = src.read(1)
        area_ha = abs(src.transform.a * src.transform.e) / 1e4
    # map x area equals the table total to float32 precision
    total = float(demo.runs["after"].tidy.query("measure == 'soil_retention'").amount.sum())
    assert np.nansum(data.astype(np.float64)) * area_ha == pytest.approx(total, rel=1e-6)


def test_as_stated_profile_against_the_oracle(tmp_path):
    """GEP under jinsha-as-stated (printed N, P contents and air rates): gepgeo vs the oracle
    fed directly with tests/data/jinsha_parameters.yaml and its as-stated overrides."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    preset = read_yaml(TEST_DATA / "jinsha_parameters.yaml")
    overrides = preset["as_stated_overrides"]
    root = sample_root()
    for scen in ("before", "after"):
        pipe = load_pipeline(root / "pipelines" / f"jinsha_{scen}.yaml")
        pipe = pipe.model_copy(update={"profile": pipe.profile.model_copy(
            update={"name": "jinsha-as-stated"})})
        res = run_pipeline(pipe, tmp_path / scen, quiet=True)
        got = float(res.tidy.query("service == 'gep'").amount.sum())
        params = dict(preset["scenarios"][scen])
        for o in overrides:
            if o["scenario"] == scen:
                params[o["parameter"]] = o["value"]
        params.pop("sediment_deposition_coefficient_lambda")
        params.pop("soil_bulk_density_rho")
        params.pop("precipitation")
        lu = read_band(root / "data" / "jinsha" / f"landuse_{scen}.tif")
        for key in ("rainfall_erosivity_r", "slope_length_steepness_ls"):  # same float32 rasters
            params[key] = read_band(root / "data" / "jinsha" / f"{key}.tif").astype(np.float64)
        codes = {1: "mining", 2: "dryland", 3: "forest", 4: "grassland", 5: "construction"}
        area = np.full(lu.shape, 0.01)
        orc = Oracle(lu, codes, 0, params, ["mining", "construction"], area)
        dens = orc.densities()
        want = float(np.nansum(np.where(orc.lu_valid, dens[("gep", "partial")], 0) * area))
        assert got == pytest.approx(want, rel=1e-9)
        expected = {"before": 30.6765, "after": 499.9216}[scen]
        assert got / 1e4 == pytest.approx(expected, abs=1e-4)


def test_demo_writes_reproduction_csv_and_as_stated_totals(demo):
    import pandas as pd

    from gepgeo.reproduction import REPRODUCTION_COLUMNS

    rep = pd.read_csv(demo.out / "reproduction.csv")
    assert list(rep.columns) == REPRODUCTION_COLUMNS
    assert len(rep) == 187
    after_gep = rep.loc[rep.id == "T4.after.gep", "gepgeo"].iloc[0]
    assert after_gep == pytest.approx(1212.563737, rel=1e-6)
    assert (rep.verdict == "NOT-REPRODUCIBLE").sum() == 48
    assert demo.as_stated_gep["before"] / 1e4 == pytest.approx(30.6765, abs=1e-4)
    assert demo.as_stated_gep["after"] / 1e4 == pytest.approx(499.9216, abs=1e-4)
    for sub in ("before", "after", "change"):
        assert (demo.out / sub / "manifest.json").is_file()


def test_every_demo_map_is_qgis_ready(demo):
    """Band description, unit and nodata on every written map; the demo's maps have overviews
    (this session's demo is run without reports and styles)."""
    maps = sorted(demo.out.glob("*/maps/*.tif"))
    assert len(maps) >= 10 + 10 + 9
    for path in maps:
        with rasterio.open(path) as src:
            assert src.descriptions[0], path
            assert src.units[0], path
            assert src.nodata is not None and np.isnan(src.nodata), path
            assert src.overviews(1), path      # the demo writes Cloud-Optimized GeoTIFFs
        # (its QGIS style beside it: tests/test_compare.py, on the command line's demo)
        # and on the land use's grid (the pair's grids are one, the change maps are on it too)
        assert_map_on_grid(path, sample_root() / "data" / "jinsha" / "landuse_before.tif")
