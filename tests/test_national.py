"""The national default profile (china-national) and the "from raw data" sample pipeline.

- Every value of the profile has a source with a year, its tables use only the ecosystem types
  of the land-cover presets' crosswalk, and docs/NATIONAL.md lists exactly its values.
- A pipeline with a product preset, ``land_types: ecosystem`` and the profile validates and names
  exactly the parameters no national source gives (a list written out here by hand).
- pipelines/natl_sample.yaml (CLCD preset, R, K, C derived, LS from the DEM, the national
  profile, labelled site values) runs to tables whose landscape value equals a hand computation
  from the land-cover pixels.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml

from gepgeo.products import ECOSYSTEM_TYPES, load_preset, product_names
from gepgeo.profiles import load_profile

from .helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "natl_sample"
PIPELINE = ROOT / "pipelines" / "natl_sample.yaml"
YEAR = re.compile(r"\b(19|20)\d\d\b")


def test_profile_is_national_by_ecosystem_type_and_every_value_has_a_dated_source():
    prof = load_profile("china-national")
    assert prof.meta["scope"].level == "national" and prof.meta["scope"].extent is None
    assert prof.meta["land_types"] == list(ECOSYSTEM_TYPES)
    # every ecosystem type of every preset's crosswalk is a land type of the profile
    crosswalk = {c.ecosystem for name in product_names() for c in load_preset(name).classes}
    assert crosswalk <= set(prof.meta["land_types"])
    params = prof.parameters()
    assert params, "the profile holds values"
    for key, pv in params.items():
        assert pv.source in ("stated", "stated-formula"), key
        assert pv.ref and (YEAR.search(pv.ref) or pv.source == "stated-formula"), key
        if pv.kind == "table":
            assert set(pv.value) <= set(ECOSYSTEM_TYPES), key
    for name, alt in prof.meta["alternatives"].items():
        assert alt["source"] == "stated" and alt["ref"], name
        assert set(alt["by_land_type"]) <= set(ECOSYSTEM_TYPES), name
    # left out on purpose: no national source gives one value for the type as a whole
    assert set(params["landscape_equivalent_factor"].value) == {"shrub", "wetland", "water",
                                                                 "snow_ice"}
    for key in ("carbon_price", "dredging_cost", "n_fertilizer_price", "heat_absorption",
                "carbon_sequestration_rate", "so2_uptake_rate", "grain_price"):
        assert key not in params, key


def _doc_rows() -> dict[tuple[str, str], float]:
    """(key, land type or '-') → value, from the table of docs/NATIONAL.md."""
    text = (ROOT / "docs" / "NATIONAL.md").read_text(encoding="utf-8")
    table = text.split("<!-- national-values -->")[1].split("<!-- end -->")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        rows[(cells[0].strip("`"), cells[1])] = float(cells[2])
    return rows


def test_docs_list_exactly_the_profile_values():
    prof = load_profile("china-national")
    got: dict[tuple[str, str], float] = {}
    for key, pv in prof.parameters().items():
        if pv.kind == "table":
            got.update({(key, lt): v for lt, v in pv.value.items()})
        else:
            got[(key, "-")] = pv.value
    doc = _doc_rows()
    assert doc.keys() == got.keys()
    for k, v in got.items():
        assert doc[k] == pytest.approx(v, rel=5e-4), k   # the doc prints 4 significant digits


#: what no national source gives, for a CLCD landscape by ecosystem type with all eight
#: services (built-up land and snow declared as supplying nothing): written out by hand
MISSING = {
    "agri_output_value_per_ha", "precipitation", "runoff_coefficient", "evapotranspiration",
    "rainfall_erosivity_r", "soil_erodibility_k", "slope_length_steepness_ls",
    "cover_management_c", "support_practice_p", "sediment_deposition_coefficient_lambda",
    "soil_bulk_density_rho", "dredging_cost", "soil_n_content", "soil_p_content",
    "n_to_fertilizer_factor", "p_to_fertilizer_factor", "n_fertilizer_price",
    "p_fertilizer_price", "so2_uptake_rate", "nox_uptake_rate", "dust_uptake_rate",
    "carbon_sequestration_rate", "carbon_price", "heat_absorption", "ac_days",
    "ac_energy_efficiency_ratio", "electricity_price", "grain_price", "grain_yield",
}


def test_validate_names_exactly_the_missing_parameters(tmp_path, capsys):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({
        "land_use": {"path": str(SAMPLE / "clcd.tif"), "product": "clcd",
                     "land_types": "ecosystem"},
        "no_services": ["built_up", "snow_ice"],
        "profile": {"name": "china-national"}}), encoding="utf-8")
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2
    named = set(re.findall(r"needs parameter '([a-z0-9_]+)'", err))
    assert named == MISSING
    supplying = "cropland, forest, shrub, grassland, water, bare, wetland"
    assert f"for land types {supplying};" in err
    # the landscape table is there for four types; the other four are named
    line = next(ln for ln in err.splitlines() if "landscape_equivalent_factor" in ln)
    assert "(china-national) has no value for land type(s) cropland, forest, grassland, bare" \
        in line
    # nothing the profile gives is reported missing
    prof_keys = set(load_profile("china-national").parameters())
    assert not prof_keys & named
    # a run stops with the same list before writing anything
    code, _, run_err = run_cli(["run", p, "--out", tmp_path / "out", "--quiet"], capsys)
    assert code == 2 and not (tmp_path / "out").exists()
    assert set(re.findall(r"needs parameter '([a-z0-9_]+)'", run_err)) == MISSING


def test_sample_inputs_are_what_the_script_makes(tmp_path):
    sys.path.insert(0, str(ROOT / "data"))
    try:
        import make_natl_sample
    finally:
        sys.path.remove(str(ROOT / "data"))
    made = make_natl_sample.write_sample(tmp_path)
    assert sorted(p.name for p in SAMPLE.glob("*.tif")) == sorted(p.name for p in made.values())
    total = 0
    for name, path in made.items():
        with rasterio.open(path) as a, rasterio.open(SAMPLE / path.name) as b:
            np.testing.assert_array_equal(a.read(), b.read(), err_msg=name)
            assert (a.crs, a.transform, a.nodata, a.units, a.scales) == \
                (b.crs, b.transform, b.nodata, b.units, b.scales), name
        total += (SAMPLE / path.name).stat().st_size
    assert total < 200_000   # small enough to ship


#: CLCD code → ecosystem type (docs/PRODUCTS.md), for the hand computation
CLCD_ECO = {1: "cropland", 2: "forest", 3: "shrub", 4: "grassland", 5: "water", 6: "snow_ice",
            7: "bare", 8: "built_up", 9: "wetland"}


def test_sample_pipeline_runs_from_raw_inputs(tmp_path, capsys):
    """The shipped pipeline, its relative paths pointed at the shipped data, in blocks of 64
    (the 90 x 110 grid is not a multiple): landscape value = Σ area · E · k · Pa·Pb by hand;
    soil retention nodata exactly under the NDVI cloud; the manifest records the derivations,
    the national profile and which level gave each landscape factor."""
    text = PIPELINE.read_text(encoding="utf-8").replace("../data/", f"{ROOT / 'data'}/")
    doc = yaml.safe_load(text)
    doc["options"] = {"chunk_size": 64, "report": False}
    p = tmp_path / "natl.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run_cli(["run", p, "--out", out, "--quiet"], capsys)
    assert code == 0, err

    with rasterio.open(SAMPLE / "clcd.tif") as src:
        lc = src.read(1)
        cell_ha = abs(src.transform.a * src.transform.e) / 1e4
    factors = {"shrub": 0.69, "wetland": 4.73, "water": 1.89, "snow_ice": 0.09,   # the profile
               "forest": 1.06, "grassland": 0.56, "cropland": 0.06, "bare": 0.01}  # the pipeline
    grain_value = 2.5 * 5800.0
    want = {eco: 0.0 for eco in factors}
    for code_, eco in CLCD_ECO.items():
        if eco in factors:
            want[eco] += np.count_nonzero(lc == code_) * cell_ha * factors[eco] / 7 * grain_value
    rows = {r.split(",")[0]: r.split(",") for r in
            (out / "tables" / "gep_by_land_type.csv").read_text().splitlines()}
    col = rows["land_type"].index("landscape_value")
    for eco, v in want.items():
        assert float(rows[eco][col]) == pytest.approx(v, rel=1e-9, abs=1e-6), eco
    assert float(rows["built_up"][col]) == 0.0
    assert float(rows["total"][col]) == pytest.approx(sum(want.values()), rel=1e-9)

    with rasterio.open(out / "maps" / "soil_retention.tif") as src:
        soil = src.read(1, masked=True)
    with rasterio.open(SAMPLE / "ndvi.tif") as src:
        cloud = src.read(1) == src.nodata
    valid = lc != 0
    assert cloud.any() and soil.mask[cloud & valid].all()
    assert not soil.mask[valid & ~cloud].any()
    assert (soil[valid & ~cloud] >= 0).all() and soil[lc == 2].mean() > 0

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["profiles"][0]["name"] == "china-national"
    assert m["profiles"][0]["scope"] == "national" and not m["scope_warnings"]
    par = m["parameters"]
    assert par["rainfall_erosivity_r"]["derive"]["method"] == "fournier_monthly"
    assert par["soil_erodibility_k"]["derive"]["method"] == "epic_zhang2007"
    assert par["cover_management_c"]["derive"]["method"] == "cai2000"
    by_lt = par["landscape_equivalent_factor"]["origin_by_land_type"]
    assert {lt for lt, o in by_lt.items() if o == "china-national"} == {"shrub", "wetland",
                                                                        "water", "snow_ice"}
    assert par["equivalent_value_coefficient"]["origin"] == "china-national"


def test_readme_walkthrough_names_the_sample_and_its_steps():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From raw data")[1].split("\n## ")[0]
    for word in ("make_natl_sample.py", "natl_sample.yaml", "china-national", "product: clcd",
                 "fournier_monthly", "epic_zhang2007", "cai2000", "from_dem", "synthetic"):
        assert word in section, word
