"""``gepgeo profiles template``: a blank profile that, filled in, loads and runs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from affine import Affine

import gepgeo
from gepgeo.errors import ConfigError, ProfileError
from gepgeo.parameters import METHOD_DEFAULTS, spec_for
from gepgeo.profiles import load_profile
from gepgeo.template import profile_template, template_keys

from .helpers import make_da, read_yaml, run_cli, write_yaml

LTS = ["forest", "cropland", "grassland"]


def _fill(doc: dict, rng: np.random.Generator) -> dict:
    """Fill every blank of a template with a value inside the parameter's domain."""
    doc["extent"] = [100.0, 20.0, 101.0, 21.0]
    for key, entry in doc["parameters"].items():
        spec = spec_for(key, where="test")
        lo = max(spec.low, 0.0)
        hi = min(spec.high, lo + 10.0)
        if "value" in entry:
            entry["value"] = float(rng.uniform(lo, hi))
        else:
            entry["by_land_type"] = {lt: float(rng.uniform(lo, hi)) for lt in LTS}
        entry["source"] = "assumed"
    return doc


def test_template_lists_every_parameter_the_services_need_once():
    doc = yaml.safe_load(profile_template(LTS))
    keys = [k for _, ks in template_keys() for k in ks]
    assert len(keys) == len(set(keys))
    assert set(doc["parameters"]) == set(keys) - set(METHOD_DEFAULTS)
    for key, entry in doc["parameters"].items():
        assert entry["unit"] == spec_for(key, where="t").unit
        assert entry["source"] == ""
        assert ("value" in entry) != ("by_land_type" in entry)
        if "by_land_type" in entry:
            assert entry["by_land_type"] == dict.fromkeys(LTS)
    soil_only = yaml.safe_load(profile_template(LTS, ["soil"]))
    assert "rainfall_erosivity_r" in soil_only["parameters"]
    assert "carbon_price" not in soil_only["parameters"]


def test_blank_template_names_the_blank(tmp_path):
    p = tmp_path / "blank.yaml"
    p.write_text(profile_template(LTS, ["carbon"]).replace("extent: [0, 0, 0, 0]",
                                                          "extent: [100, 20, 101, 21]"))
    with pytest.raises(ProfileError, match="is blank: fill in a number"):
        load_profile(str(p))


def test_filled_template_loads_and_runs(tmp_path):
    rng = np.random.default_rng(7)
    doc = _fill(yaml.safe_load(profile_template(LTS)), rng)
    p = write_yaml(tmp_path / "mine.yaml", doc)
    prof = load_profile(str(p))
    assert prof.meta["scope"].level == "site"
    lu = rng.integers(1, 4, size=(60, 70)).astype(np.uint8)
    t = Affine(30, 0, 500_000, 0, -30, 2_300_000)
    ds = gepgeo.compute_services(make_da(lu, t, "EPSG:32648", nodata=0),
                                 dict(zip((1, 2, 3), LTS)), {}, profile=str(p)).compute()
    gep = float(ds["totals"].sel(column="gep.value").sum())
    assert np.isfinite(gep) and gep > 0


def test_bad_template_requests_are_refused():
    with pytest.raises(ConfigError, match="at least one land type"):
        profile_template([])
    with pytest.raises(ConfigError, match="unknown service 'soils'"):
        profile_template(LTS, ["soils"])
    with pytest.raises(ConfigError, match="not a plain name"):
        profile_template(["forest: 1"])


def test_cli_writes_the_template_and_never_replaces_a_file(tmp_path, capsys):
    out = tmp_path / "p.yaml"
    rc, _, err = run_cli(["profiles", "template", "--land-types", "forest, cropland",
                          "--services", "water,climate", "--out", out], capsys)
    assert rc == 0, err
    doc = read_yaml(out)
    assert doc["land_types"] == ["forest", "cropland"]
    assert "water_price" in doc["parameters"] and "ac_days" in doc["parameters"]
    rc, _, err = run_cli(["profiles", "template", "--land-types", "forest", "--out", out], capsys)
    assert rc == 2 and "exists already" in err
    assert read_yaml(out) == doc
