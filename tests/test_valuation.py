"""Physical quantities without money (issue 21 item 3): ``valuation: false`` needs no price,
writes the quantity maps and tables only (no value map, no GEP, no value row), and the
manifest and report say so."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from gepgeo.profiles import load_profile
from gepgeo.resolve import PRICE_PARAMETERS

from .helpers import (edited_yaml, raster_info, read_manifest, read_table, read_yaml, run_cli,
                      write_yaml)

#: the soil service's physical parameters (RUSLE, sediment, nutrients): no price among them
SOIL_QUANTITIES = ("soil_erodibility_k", "cover_management_c", "support_practice_p",
                   "lambda_over_rho", "soil_n_content", "soil_p_content",
                   "n_to_fertilizer_factor", "p_to_fertilizer_factor")


def _soil_pipeline(sample, **changes):
    """The Jinsha 'after' pipeline on a profile holding the soil quantities only."""
    doc = read_yaml(load_profile("jinsha-as-published").path)
    after = doc["scenarios"]["after"]
    assert not set(SOIL_QUANTITIES) & PRICE_PARAMETERS
    prof = {"name": "soil-quantities", "land_types": doc["land_types"],
            "parameters": {k: after[k] for k in SOIL_QUANTITIES}}
    write_yaml(sample / "soil.yaml", prof)
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as pipe:
        pipe["profile"] = {"name": "../soil.yaml"}
        pipe.update({"services": ["soil"], "maps": [], "options": {}, **changes})
    return p


def test_soil_without_prices_writes_quantities_only(sample, capsys):
    p = _soil_pipeline(sample, valuation=False)
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    out = sample / "out"
    code, stdout, err = run_cli(["run", p, "--out", out], capsys)
    assert code == 0, err
    maps = sorted(f.stem for f in (out / "maps").glob("*.tif"))
    assert maps == ["n_fertilizer", "p_fertilizer", "sediment_volume", "soil_retention"]
    manifest = read_manifest(out)
    assert manifest["valuation"] is False and manifest["services"] == ["soil"]
    assert not PRICE_PARAMETERS & set(manifest["parameters"])
    assert not (out / "tables" / "gep_by_land_type.csv").exists()
    for name in ("services_by_land_type", "gep_by_service"):
        table = read_table(out, name)
        assert len(table) and "yuan a-1" not in set(table["unit"]), name
        assert "gep" not in set(table["service"]) and "value" not in set(table["measure"])
    tidy = read_table(out, "services_by_land_type")
    assert tidy[tidy.measure == "soil_retention"].amount.sum() > 0
    # the report's text (not its embedded images, whose base64 may spell anything)
    report = re.sub(r"data:[^\"')]*", "", (out / "report.html").read_text())
    assert "GEP" not in report and "10⁴ yuan" not in report
    assert "GEP" not in stdout and "yuan" not in stdout


def test_soil_quantities_equal_those_of_a_valued_run(sample, capsys):
    """Turning valuation off changes no quantity."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import account

    p = _soil_pipeline(sample, valuation=False)
    quantities = account(load_pipeline(p))
    with edited_yaml(p) as doc:
        doc["valuation"] = True
        doc["profile"] = {"name": "jinsha-as-published", "scenario": "after"}
    valued = account(load_pipeline(p))
    valued = valued[valued.unit != "yuan a-1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(quantities, valued)


def test_without_valuation_prices_are_not_asked_for(sample, capsys):
    """With valuation the same pipeline names the missing prices; without, it needs none,
    and asking for a value map or a value-only service is refused."""
    p = _soil_pipeline(sample)
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "dredging_cost" in err and "n_fertilizer_price" in err
    p = _soil_pipeline(sample, valuation=False, services=["soil", "landscape"],
                       maps=["soil_value"])
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "'landscape' has no physical quantity" in err
    assert "'soil_value' is a value map" in err and "2 problems" in err


def test_compare_of_quantities(sample, capsys):
    """Two runs without valuation compare their quantities; a valued and an unvalued run are
    not compared."""
    p = _soil_pipeline(sample, valuation=False)
    doc = read_yaml(p)
    doc["land_use"]["path"] = "../data/jinsha/landuse_before.tif"
    before = write_yaml(sample / "pipelines" / "q_before.yaml", doc)
    out = sample / "cmp"
    code, stdout, err = run_cli(["compare", before, p, "--out", out], capsys)
    assert code == 0, err
    change = read_table(out / "change", "change_by_service")
    assert set(change.measure) == {"soil_retention", "sediment_volume", "n_fertilizer",
                                   "p_fertilizer"}
    assert "soil_retention" in stdout and "yuan" not in stdout
    doc["valuation"] = True
    doc["profile"] = {"name": "jinsha-as-published", "scenario": "before"}
    write_yaml(before, doc)
    code, _, err = run_cli(["compare", before, p, "--out", sample / "cmp2"], capsys)
    assert code == 2 and "same valuation" in err and not (sample / "cmp2").exists()


def test_zones_without_valuation_hold_quantities(sample):
    """Zone tables and layers of a run without valuation: quantities, no value, no GEP."""
    import geopandas as gpd
    from shapely.geometry import box

    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    b, crs = grid.bounds, grid.crs
    mid = (b.left + b.right) / 2 + 2.5     # off the pixel edges
    gpd.GeoDataFrame({"code": ["W", "E"]},
                     geometry=[box(b.left - 10, b.bottom - 10, mid, b.top + 10),
                               box(mid, b.bottom - 10, b.right + 10, b.top + 10)],
                     crs=crs).to_file(sample / "halves.gpkg", layer="halves", driver="GPKG")
    p = _soil_pipeline(sample, valuation=False,
                       zones=[{"path": "../halves.gpkg", "layer": "halves", "id": "code"}])
    res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    zt = read_table(sample / "out", "services_by_zone")
    assert "yuan a-1" not in set(zt.unit) and "gep" not in set(zt.service)
    g = gpd.read_file(sample / "out" / "tables" / "zones.gpkg", layer="halves")
    assert "gep" not in g.columns and "soil_value" not in g.columns
    total = res.tidy.query("measure == 'soil_retention'").amount.sum()
    assert total > 0 and g.soil_retention.sum() == pytest.approx(total, rel=1e-9)


def test_template_without_valuation_asks_for_no_price():
    from gepgeo.template import template_keys

    keys = dict(template_keys(["soil"], valuation=False))["soil"]
    assert set(SOIL_QUANTITIES) - {"lambda_over_rho"} <= set(keys)
    assert not PRICE_PARAMETERS & set(keys)
    priced = dict(template_keys(["soil"]))["soil"]
    assert {"dredging_cost", "n_fertilizer_price", "p_fertilizer_price"} <= set(priced)
    everything = dict(template_keys(None, valuation=False))
    assert "landscape" not in everything and everything["agriculture"] == ["crop_yield"]
    assert not PRICE_PARAMETERS & {k for ks in everything.values() for k in ks}
