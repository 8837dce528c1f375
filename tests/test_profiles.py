"""User profiles are validated like the shipped ones: a misspelt key, a missing parameter or a
land type the pipeline maps but the profile lacks exits 2 with a message naming it."""

from __future__ import annotations

import shutil

import pytest
import yaml

from gepgeo.demo import sample_root
from gepgeo.profiles import list_profiles, load_profile

from .conftest import run_cli




@pytest.fixture()
def setup(tmp_path):
    shutil.copytree(sample_root() / "pipelines", tmp_path / "pipelines")
    shutil.copytree(sample_root() / "data", tmp_path / "data")
    prof = yaml.safe_load((load_profile("jinsha-as-published").path).read_text())
    return tmp_path, prof


def _use(tmp_path, prof, **pipeline_changes):
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(prof))
    p = tmp_path / "pipelines" / "jinsha_after.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["profile"]["name"] = "../my.yaml"
    doc.update(pipeline_changes)
    p.write_text(yaml.safe_dump(doc))
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
