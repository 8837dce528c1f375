"""User profiles are validated like the shipped ones: a misspelt key, a missing parameter or a
land type the pipeline maps but the profile lacks exits 2 with a message naming it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gepgeo.demo import sample_root
from gepgeo.profiles import list_profiles, load_profile

from .helpers import edited_yaml, read_manifest, read_yaml, run_cli, write_yaml




@pytest.fixture()
def setup(sample):
    return sample, read_yaml(load_profile("jinsha-as-published").path)


def _use(tmp_path, prof, **pipeline_changes):
    write_yaml(tmp_path / "my.yaml", prof)
    p = tmp_path / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["profile"]["name"] = "../my.yaml"
        doc.update(pipeline_changes)
    return p


def test_shipped_profiles_load_with_sources_and_price_years():
    assert set(list_profiles()) >= {"jinsha-as-published", "jinsha-as-stated",
                                   "forest-review-2026", "ouyang-garze-2010"}
    for name in list_profiles():
        prof = load_profile(name)
        assert prof.price_year == "unknown" or isinstance(prof.price_year, int)
        for params in prof.scenarios.values():
            for pv in params.values():
                assert pv.source, (name, pv.key)
    assert load_profile("ouyang-garze-2010").price_year == 2010
    stated = load_profile("jinsha-as-stated").parameters("after")
    assert stated["soil_n_content"].value == 1.53
    assert stated["water_price"].value == 2.4     # inherited from jinsha-as-published


def test_user_profile_with_a_misspelt_key(setup, capsys):
    tmp_path, prof = setup
    prof["scenarios"]["after"]["soil_n_contnet"] = prof["scenarios"]["after"].pop("soil_n_content")
    code, _, err = run_cli(["validate", _use(tmp_path, prof)], capsys)
    assert code == 2 and "soil_n_contnet" in err and "soil_n_content" in err


def test_user_profile_missing_a_parameter(setup, capsys):
    tmp_path, prof = setup
    del prof["scenarios"]["after"]["dredging_cost"]
    code, _, err = run_cli(["validate", _use(tmp_path, prof)], capsys)
    assert code == 2 and "dredging_cost" in err and "soil" in err


def test_user_profile_missing_a_land_type(setup, capsys):
    tmp_path, prof = setup
    prof["land_types"].append("orchard")
    code, _, err = run_cli(["validate", _use(tmp_path, prof, land_use={
        "path": "../data/jinsha/landuse_after.tif",
        "codes": {1: "mining", 2: "dryland", 3: "forest", 4: "orchard", 5: "construction"}})],
        capsys)
    assert code == 2 and "orchard" in err


def test_user_profile_with_a_wrong_unit(setup, capsys):
    tmp_path, prof = setup
    prof["scenarios"]["after"]["water_price"]["unit"] = "yuan per bucket"
    code, _, err = run_cli(["validate", _use(tmp_path, prof)], capsys)
    assert code == 2 and "water_price" in err and "yuan per bucket" in err


def test_validate_reports_every_problem_at_once(setup, capsys):
    """Issue 21 item 3: independent problems of a profile and two of a pipeline's
    parameters come out together, one line each, with the count; `run` refuses with the same
    list and writes nothing."""
    tmp_path, prof = setup
    after = prof["scenarios"]["after"]
    after["soil_n_contnet"] = after.pop("soil_n_content")           # misspelt key
    after["water_price"]["unit"] = "yuan per bucket"                 # unknown unit
    del after["dredging_cost"]                                       # missing parameter
    p = _use(tmp_path, prof, parameters={"support_practice_p": "high",
                                         "cover_managment_c": 0.1})
    code, _, err = run_cli(["validate", p], capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("gepgeo: error:")]
    assert code == 2
    # the pipeline's schema is checked first: both of its bad parameters at once
    assert len(lines) == 2 and "support_practice_p" in err and "cover_managment_c" in err
    assert "2 problems" in err
    # with the pipeline fixed, every problem of the profile comes out
    shutil.copy(sample_root() / "pipelines" / "jinsha_after.yaml", p)
    p = _use(tmp_path, prof)
    code, _, err = run_cli(["validate", p], capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("gepgeo: error:")]
    assert code == 2
    assert any("soil_n_contnet" in ln for ln in lines)
    assert any("yuan per bucket" in ln for ln in lines)
    # what the profile lacks is reported too; a key whose entry failed is not reported twice
    assert sum("dredging_cost" in ln for ln in lines) == 1
    assert sum("water_price" in ln for ln in lines) == 1
    # ... and the misspelt key's parameter is missing: 4 problems
    assert any("needs parameter 'soil_n_content'" in ln for ln in lines)
    assert len(lines) == 4 and "4 problems" in err.splitlines()[-1]
    out = tmp_path / "out"
    code2, _, err2 = run_cli(["run", p, "--out", out, "--quiet"], capsys)
    assert code2 == 2 and err2 == err and not out.exists()


def test_missing_parameters_are_listed_together(setup, capsys):
    """Every missing parameter of a profile is named, not the first only."""
    tmp_path, prof = setup
    after = prof["scenarios"]["after"]
    for key in ("dredging_cost", "water_price", "oxygen_price"):
        del after[key]
    code, _, err = run_cli(["validate", _use(tmp_path, prof)], capsys)
    assert code == 2
    for key in ("dredging_cost", "water_price", "oxygen_price"):
        assert sum(key in ln for ln in err.splitlines()) == 1, (key, err)
    assert "3 problems" in err


def test_one_problem_keeps_the_one_line_message(setup, capsys):
    tmp_path, prof = setup
    del prof["scenarios"]["after"]["dredging_cost"]
    code, _, err = run_cli(["validate", _use(tmp_path, prof)], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("gepgeo: error: service")


def test_override_of_one_land_type_keeps_the_others(setup, capsys):
    """Issue 21 item 3: `profile.overrides` (and `parameters:`) tables merge land type by land
    type with the profile's; the manifest names the level of each land type's value."""
    tmp_path, _ = setup
    p = tmp_path / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["profile"]["overrides"] = {"cover_management_c": {"by_land_type": {"forest": 0.002}}}
        doc.setdefault("parameters", {})["support_practice_p"] = {"by_land_type": {"dryland": 0.5}}
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    out = tmp_path / "out"
    code, _, err = run_cli(["run", p, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    params = read_manifest(out)["parameters"]
    c = params["cover_management_c"]
    assert c["value"] == {"dryland": 0.13, "forest": 0.002, "grassland": 0.04}
    assert c["origin_by_land_type"] == {"dryland": "jinsha-as-published",
                                        "forest": "profile.overrides",
                                        "grassland": "jinsha-as-published"}
    sp = params["support_practice_p"]
    assert sp["value"] == {"dryland": 0.5, "forest": 1.0, "grassland": 1.0}
    assert sp["origin_by_land_type"]["dryland"] == "pipeline"


def test_layered_tables_merge_per_land_type_across_units():
    """A valuation level's table over a full profile's table: the later wins per land type,
    the others are kept, and tables in different units are merged in the canonical unit."""
    from gepgeo.profiles import merge_profiles
    from gepgeo.resolve import ParamValue, merge_levels

    full = {"oxygen_price": ParamValue("oxygen_price", {"forest": 400.0, "dryland": 300.0},
                                       unit="yuan t-1", origin="full")}
    val = {"oxygen_price": ParamValue("oxygen_price", {"forest": 1.5}, unit="yuan kg-1",
                                      origin="prices")}
    for merged in (merge_levels([("full", full), ("prices", val)])[0],
                   merge_profiles(full, val)):
        op = merged["oxygen_price"]
        assert op.unit == "yuan t-1"
        assert op.value["dryland"] == 300.0
        assert op.value["forest"] == pytest.approx(1.5 * 1000.0)
        assert op.origin_of("forest") == "prices" and op.origin_of("dryland") == "full"
    # a constant over a table still replaces it whole
    const = {"oxygen_price": ParamValue("oxygen_price", 4.0, unit="yuan t-1", origin="pipe")}
    assert merge_levels([("full", full), ("pipe", const)])[0]["oxygen_price"].value == 4.0


def test_many_problems_print_a_bounded_list(setup, capsys):
    """A pipeline with thousands of bad keys prints at most 100 problem lines and the count."""
    tmp_path, prof = setup
    p = _use(tmp_path, prof, parameters={f"no_such_key_{i}": 1.0 for i in range(3000)})
    code, _, err = run_cli(["validate", p], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 101
    assert lines[-1].startswith("gepgeo: 3000 problems found (2900 more not shown)")
    assert all(len(ln) <= 1000 for ln in lines)


def test_unmapped_codes_are_reported_with_the_other_problems(setup, capsys):
    tmp_path, prof = setup
    del prof["scenarios"]["after"]["dredging_cost"]
    p = _use(tmp_path, prof, land_use={"path": "../data/jinsha/landuse_after.tif",
                                       "codes": {1: "mining", 2: "dryland", 3: "forest",
                                                 5: "construction"}})
    code, _, err = run_cli(["validate", p], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3, err
    assert "dredging_cost" in lines[0] and "codes not in the land-use mapping: 4" in lines[1]
    assert "2 problems" in lines[2]


def test_a_valuation_profile_table_over_a_full_profile_table_end_to_end(setup, capsys):
    """Issue 21 item 3: a valuation profile layered on a full profile, both with a table for
    the same price: the valuation profile wins for the land types it gives (converted from its
    unit), the full profile keeps the others, and the manifest names the file of each value."""
    tmp_path, prof = setup
    prof["scenarios"]["after"]["oxygen_price"] = {
        "by_land_type": {"dryland": 300.0, "forest": 400.0, "grassland": 350.0},
        "unit": "yuan t-1", "source": "test"}
    write_yaml(tmp_path / "prices.yaml", {
        "name": "my-prices", "kind": "valuation", "price_year": "unknown", "scope": "national",
        "parameters": {"oxygen_price": {"by_land_type": {"forest": 1.5}, "unit": "yuan kg-1",
                                        "source": "test"}}})
    p = _use(tmp_path, prof)
    with edited_yaml(p) as doc:
        doc["profile"]["valuation"] = "../prices.yaml"
    out = tmp_path / "out"
    code, _, err = run_cli(["run", p, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    man = read_manifest(out)
    o2 = man["parameters"]["oxygen_price"]
    assert o2["value"] == {"dryland": 300.0, "forest": pytest.approx(1500.0),
                           "grassland": 350.0}
    full_name = prof["name"]
    assert o2["origin_by_land_type"] == {"dryland": full_name, "forest": "my-prices",
                                         "grassland": full_name}
    assert [pr["name"] for pr in man["profiles"]] == [full_name, "my-prices"]


@pytest.mark.parametrize("unit", ["yuan/tC", "yuan t-1 C"])
def test_a_carbon_price_per_t_carbon_is_read_alike_in_a_profile_and_a_pipeline(setup, unit):
    """One rule for the price per t C (converted with co2_per_c): a profile accepted
    ``yuan t-1 C`` only, while a pipeline also accepted ``yuan/tC``."""
    from gepgeo.parameters import PARAM_INDEX
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import prepare

    def canonical(p):      # yuan t-1 CO2 by land type as the kernel reads it, × t CO2 per t C
        plan = prepare(load_pipeline(p)).plan
        n = len(plan.land_types)
        return (plan.table[PARAM_INDEX["carbon_price"], :n]
                * plan.table[PARAM_INDEX["co2_per_c"], :n])

    tmp_path, prof = setup
    per_c = 386.0 * 44.0 / 12.0
    prof["scenarios"]["after"]["carbon_price"] = {"value": per_c, "unit": unit,
                                                  "source": "test"}
    p = _use(tmp_path, prof)
    from_profile = canonical(p)
    with edited_yaml(p) as doc:
        doc["parameters"] = {"carbon_price": {"value": per_c, "unit": unit}}
    from_pipeline = canonical(p)
    assert len(from_profile) >= 3
    np.testing.assert_allclose(from_profile, per_c, rtol=1e-12)
    np.testing.assert_allclose(from_pipeline, per_c, rtol=1e-12)
