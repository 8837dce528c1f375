"""What gepgeo makes of odd but real inputs (issue 18): float land use with any nodata value,
nodata declared both by the file and by the pipeline, out-of-domain values where a land type
supplies nothing, two forms of one quantity, physical domains and non-finite values.

Grids of several blocks whose sizes are not multiples of the block size; every expectation is
computed here with plain NumPy from the arrays written."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from .helpers import (assert_map_on_grid, edited_yaml, read_band, read_manifest, read_table,
                      run_cli, write_tif, write_yaml)

T = Affine(30, 0, 600000, 0, -30, 3000000)
CODES = {1: "forest", 2: "cropland", 3: "mine"}
NY, NX = 150, 130          # 64-px blocks: 3 x 3 blocks, none whole at the edges
HA = 30 * 30 / 1e4         # pixel area, ha
CARBON_CLIMATE = {
    "carbon_sequestration_rate": {"by_land_type": {"forest": 3.0, "cropland": 1.0}},
    "carbon_price": 100.0, "heat_absorption": 5.0e4, "ac_days": 60.0,
    "ac_energy_efficiency_ratio": 3.0, "electricity_price": 0.5,
}
SOIL = {
    "rainfall_erosivity_r": 5000.0, "soil_erodibility_k": 0.03,
    "slope_length_steepness_ls": 2.0, "support_practice_p": 1.0, "lambda_over_rho": 0.2,
    "dredging_cost": 10.0, "soil_n_content": 1.0, "soil_p_content": 0.5,
    "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
    "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0,
}


def _codes(seed: int = 0) -> np.ndarray:
    """Land-use codes 0 (nodata), 1 forest, 2 cropland, 3 mine."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([0, 1, 2, 3], dtype=np.uint8), size=(NY, NX),
                      p=[0.1, 0.4, 0.3, 0.2])


def _pipeline(tmp_path, params, *, lu="lu.tif", services=("carbon", "climate"),
              land_use_extra=None, options=None, name="p.yaml"):
    doc = {"land_use": {"path": lu, "codes": CODES, **(land_use_extra or {})},
           "no_services": ["mine"], "services": list(services), "parameters": params,
           "options": {"chunk_size": 64, "report": False, **(options or {})}}
    return write_yaml(tmp_path / name, doc)


def _run(path, out, capsys):
    code, _, err = run_cli(["run", path, "--out", out, "--quiet"], capsys)
    return code, err


def _tidy(out):
    return read_table(out, "services_by_land_type")


def _amount(tidy, service, measure="value"):
    t = tidy[(tidy.service == service) & (tidy.measure == measure)]
    return float(t.amount.sum())


# ---------------------------------------------------------------------------- 18.4 float land use

@pytest.mark.parametrize("nodata", [-3.4028235e38, 3.4028235e38, float("nan"), float("-inf"),
                                    -9999.0, 2.5])
def test_float_land_use_with_any_nodata(tmp_path, capsys, nodata):
    """Integral codes in a float32 raster work whatever its nodata value (ArcGIS's
    -3.4028235e38 crashed the run with an internal error while validate said fine)."""
    codes = _codes()
    write_tif(tmp_path / "ref.tif", codes, T, nodata=0)
    lu = codes.astype(np.float32)
    lu[codes == 0] = np.float32(nodata)
    write_tif(tmp_path / "lu.tif", lu, T, nodata=nodata)
    ref = _pipeline(tmp_path, CARBON_CLIMATE, lu="ref.tif", name="ref.yaml")
    p = _pipeline(tmp_path, CARBON_CLIMATE)
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    assert _run(ref, tmp_path / "ref", capsys)[0] == 0
    code, err = _run(p, tmp_path / "out", capsys)
    assert code == 0, err
    assert (read_manifest(tmp_path / "out")["pixel_stats"]["land_use_nodata"]
            == int((codes == 0).sum()))
    a, b = _tidy(tmp_path / "ref"), _tidy(tmp_path / "out")
    assert _amount(b, "gep") == _amount(a, "gep") > 0
    forest = b[(b.land_type == "forest") & (b.service == "gep")].area_ha.iloc[0]
    assert forest == pytest.approx((codes == 1).sum() * HA, rel=1e-12)


@pytest.mark.parametrize("bad", [2.7, float("inf")])
def test_float_land_use_with_a_non_integral_code_is_refused(tmp_path, capsys, bad):
    """A code of 2.7 was truncated to 2 (counted as cropland, exit 0): validate and run refuse
    it with one line naming the file and the value, and write nothing."""
    lu = _codes().astype(np.float32)
    lu[100:110, 5:25] = bad           # in a block of its own, not the first one
    write_tif(tmp_path / "lu.tif", lu, T, nodata=0)
    p = _pipeline(tmp_path, CARBON_CLIMATE)
    for cmd in (["validate", p], ["run", p, "--out", tmp_path / "out", "--quiet"]):
        code, _, err = run_cli(cmd, capsys)
        assert code == 2, err
        assert "lu.tif" in err and repr(float(np.float32(bad))) in err and "integer" in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------- 18.5 nodata: the file's and the pipeline's

def test_pipeline_nodata_adds_to_the_files_own(tmp_path, capsys):
    """A layer's file declares -9999, the pipeline says -1: both are nodata (the file's -9999
    used to become a real value). Same for the land use: file 0, pipeline 9."""
    codes = _codes(1)
    codes[:5, :] = 9                  # the pipeline's land-use nodata
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    rate = np.full((NY, NX), 2.0, dtype=np.float32)
    rate[20:40, :] = -9999.0          # the file's nodata
    rate[:, 70:75] = -1.0             # the pipeline's nodata
    write_tif(tmp_path / "rate.tif", rate, T, nodata=-9999.0, unit="t C ha-1 a-1")
    params = {**CARBON_CLIMATE, "carbon_sequestration_rate": {"path": "rate.tif", "nodata": -1}}
    p = _pipeline(tmp_path, params, land_use_extra={"nodata": 9})
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    code, err = _run(p, tmp_path / "out", capsys)
    assert code == 0, err
    man = read_manifest(tmp_path / "out")
    lu_nodata = (codes == 0) | (codes == 9)
    assert man["pixel_stats"]["land_use_nodata"] == int(lu_nodata.sum())
    assert man["land_use"]["nodata"] == [0.0, 9.0]
    supplying = (codes == 1) | (codes == 2)
    gone = supplying & ((rate == -9999.0) | (rate == -1.0))
    tidy = _tidy(tmp_path / "out")
    carbon = tidy[(tidy.service == "carbon") & (tidy.measure == "value")]
    assert int(carbon.excluded_pixels.sum()) == int(gone.sum())
    # the value is 2 t C ha-1 a-1 x 44/12 x 100 yuan on every pixel left
    want = ((supplying & ~gone).sum() * HA) * 2.0 * 44.0 / 12.0 * 100.0
    assert _amount(tidy, "carbon") == pytest.approx(want, rel=1e-9)
    m = read_band(tmp_path / "out" / "maps" / "carbon_value.tif")
    assert_map_on_grid(tmp_path / "out" / "maps" / "carbon_value.tif", tmp_path / "lu.tif")
    assert np.isnan(m[gone]).all() and not np.isnan(m[supplying & ~gone]).any()


def test_two_nodata_values_cannot_go_through_bilinear_resampling(tmp_path, capsys):
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    shifted = Affine(30, 0, 600000 - 15, 0, -30, 3000000 + 15)   # half a pixel off the grid
    write_tif(tmp_path / "rate.tif", np.full((NY + 1, NX + 1), 2.0, np.float32), shifted,
              nodata=-9999.0, unit="t C ha-1 a-1")
    params = {**CARBON_CLIMATE, "carbon_sequestration_rate": {"path": "rate.tif", "nodata": -1}}
    code, _, err = run_cli(["validate", _pipeline(tmp_path, params)], capsys)
    assert code == 2 and "rate.tif" in err and "-9999" in err and "nearest" in err


# ------------------------------------------------ 18.6 land types that supply nothing: any value

@pytest.mark.parametrize("domain", ["error", "mask"])
def test_out_of_domain_values_on_a_no_service_land_type_are_ignored(tmp_path, capsys, domain):
    """METHOD: land types that supply nothing give 0 whatever the layers say. A C of 7 on the
    mine neither aborts the run nor counts as out of domain; on forest it does."""
    codes = _codes(2)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    c = np.full((NY, NX), 0.1, dtype=np.float32)
    c[codes == 3] = 7.0
    write_tif(tmp_path / "c.tif", c, T)
    params = {**SOIL, "cover_management_c": {"path": "c.tif"}}
    p = _pipeline(tmp_path, params, services=["soil"], options={"domain": domain})
    code, err = _run(p, tmp_path / "out", capsys)
    assert code == 0, err
    man = read_manifest(tmp_path / "out")
    assert man["pixel_stats"]["out_of_domain.cover_management_c"] == 0
    assert (read_band(tmp_path / "out" / "maps" / "soil_value.tif")[codes == 3] == 0.0).all()
    # the same value on forest pixels still aborts or is masked and counted
    c[:3, :][codes[:3, :] == 1] = 7.0
    write_tif(tmp_path / "c.tif", c, T)
    code, err = _run(p, tmp_path / "out2", capsys)
    n = int(((codes[:3, :] == 1)).sum())
    if domain == "error":
        assert code == 2 and "cover_management_c" in err and "pixels" in err
    else:
        assert code == 0
        assert (read_manifest(tmp_path / "out2")["pixel_stats"]["out_of_domain.cover_management_c"]
                == n)


# ------------------------------------------------------------ 18.7 two forms of one quantity

WATER = {"water_price": 2.0, "precipitation": 1200.0, "evapotranspiration": 600.0}


@pytest.mark.parametrize("keys", [
    {"runoff": 300.0, "runoff_coefficient": 0.5},
    {"water_retention_depth": 100.0, "runoff_coefficient": 0.5},
])
def test_two_forms_of_water_at_one_level_are_refused(tmp_path, capsys, keys):
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    p = _pipeline(tmp_path, {**WATER, **keys}, services=["water"])
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2, err
    for k in keys:
        assert repr(k) in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("keys", [
    {"agri_output_value_per_ha": 5000.0, "crop_yield": 500.0, "crop_price": 2.0},
    {"agri_output_value_per_ha": 5000.0, "crop_price": 2.0},
])
def test_two_forms_of_agricultural_output_are_refused(tmp_path, capsys, keys):
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    p = _pipeline(tmp_path, keys, services=["agriculture"])
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "'agri_output_value_per_ha'" in err and "'crop_" in err


@pytest.mark.parametrize("level", ["profile", "overrides"])
def test_a_higher_level_form_wins_and_the_manifest_says_so(tmp_path, capsys, level):
    """A user profile gives the runoff coefficient (0.5: 600 mm of runoff), the pipeline the
    runoff depth (300 mm): the pipeline's form wins (it used to be the coefficient, silently),
    and the manifest and report say which won."""
    codes = _codes(3)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    prof = {"name": "mine", "land_types": ["forest", "cropland"], "parameters": {
        "runoff_coefficient": {"value": 0.5, "unit": "1", "source": "test"},
        "precipitation": {"value": 1200, "unit": "mm a-1", "source": "test"}}}
    write_yaml(tmp_path / "prof.yaml", prof)
    with edited_yaml(_pipeline(tmp_path, {"water_price": 2.0, "evapotranspiration": 600.0},
                               services=["water"])) as doc:
        doc["profile"] = {"name": "prof.yaml"}
        if level == "profile":
            doc["parameters"]["runoff"] = 300.0
        else:
            doc["profile"]["overrides"] = {"runoff": 300.0}
        doc["options"]["report"] = True
    code, err = _run(tmp_path / "p.yaml", tmp_path / "out", capsys)
    assert code == 0, err
    supplying = ((codes == 1) | (codes == 2)).sum()
    # (P − R − ET) = 300 mm = 3000 m3 ha-1, at 2 yuan m-3
    assert _amount(_tidy(tmp_path / "out"), "water") == pytest.approx(
        supplying * HA * 3000.0 * 2.0, rel=1e-12)
    notes = read_manifest(tmp_path / "out")["parameter_forms"]
    assert len(notes) == 1 and "runoff" in notes[0] and "runoff_coefficient" in notes[0]
    assert notes[0].split(":")[1].strip().startswith("runoff (")
    html = (tmp_path / "out" / "report.html").read_text()
    assert "runoff_coefficient (mine)" in html


def test_productive_area_does_not_depend_on_the_price(tmp_path, capsys):
    """A yield of 500 kg ha-1 at price 0 is still productive land."""
    codes = _codes(4)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    p = _pipeline(tmp_path, {"crop_yield": {"by_land_type": {"forest": 0.0, "cropland": 500.0}},
                             "crop_price": 0.0}, services=["agriculture"])
    code, err = _run(p, tmp_path / "out", capsys)
    assert code == 0, err
    tidy = _tidy(tmp_path / "out")
    assert _amount(tidy, "agriculture", "productive_area") == pytest.approx(
        (codes == 2).sum() * HA, rel=1e-12)
    assert _amount(tidy, "agriculture") == 0.0


# ------------------------------------------------ 18.12 / 18.13 domains and non-finite values

@pytest.mark.parametrize("key, value", [
    ("ac_days", 6300.0), ("ac_days", 367.0), ("equivalent_value_coefficient", 2.0),
    ("n_to_fertilizer_factor", 0.5),
    ("carbon_price", float("inf")), ("electricity_price", float("-inf")),
])
def test_constants_outside_their_physical_domain_are_refused(tmp_path, capsys, key, value):
    """ac_days of 6300 a year was accepted; infinities gave GEP = inf with exit 0. A value is
    checked wherever it comes from, also when no enabled service uses it."""
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    for where in ("parameters", "overrides"):
        params = dict(CARBON_CLIMATE)
        with edited_yaml(_pipeline(tmp_path, params)) as doc:
            if where == "parameters":
                doc["parameters"][key] = value
            else:
                doc["profile"] = {"name": "prof.yaml", "overrides": {key: value}}
                write_yaml(tmp_path / "prof.yaml", {
                    "name": "x", "land_types": ["forest", "cropland"], "parameters": {}})
        code, _, err = run_cli(["validate", tmp_path / "p.yaml"], capsys)
        assert code == 2 and key in err, (where, err)


def test_a_profile_value_outside_its_domain_is_refused(tmp_path, capsys):
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    write_yaml(tmp_path / "prof.yaml", {
        "name": "x", "land_types": ["forest", "cropland"],
        "parameters": {"ac_days": {"value": 6300, "unit": "d a-1", "source": "test"}}})
    params = {k: v for k, v in CARBON_CLIMATE.items() if k != "ac_days"}
    with edited_yaml(_pipeline(tmp_path, params)) as doc:
        doc["profile"] = {"name": "prof.yaml"}
    code, _, err = run_cli(["validate", tmp_path / "p.yaml"], capsys)
    assert code == 2 and "ac_days" in err and "366" in err


def test_a_price_that_overflows_to_infinity_is_refused(tmp_path, capsys):
    write_tif(tmp_path / "lu.tif", _codes(), T, nodata=0)
    p = _pipeline(tmp_path, CARBON_CLIMATE)
    p.write_text(p.read_text().replace("carbon_price: 100.0", "carbon_price: 1.0e+400"))
    code, _, err = run_cli(["run", p, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "carbon_price" in err and "finite" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("domain", ["error", "mask"])
def test_infinite_pixels_are_out_of_every_domain(tmp_path, capsys, domain):
    """+inf pixels in a layer gave GEP = inf with exit 0: they abort the run (domain: error)
    or are left out and counted (domain: mask), like any value outside the domain."""
    codes = _codes(5)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    rate = np.full((NY, NX), 2.0, dtype=np.float32)
    rate[70:90, 60:100] = np.inf      # inside [0, inf] until the bounds were made finite
    write_tif(tmp_path / "rate.tif", rate, T, unit="t C ha-1 a-1")
    params = {**CARBON_CLIMATE, "carbon_sequestration_rate": {"path": "rate.tif"}}
    p = _pipeline(tmp_path, params, options={"domain": domain})
    code, err = _run(p, tmp_path / "out", capsys)
    supplying = (codes == 1) | (codes == 2)
    n = int((supplying & np.isinf(rate)).sum())
    if domain == "error":
        assert code == 2 and "carbon_sequestration_rate" in err and "pixels" in err
        return
    assert code == 0, err
    man = read_manifest(tmp_path / "out")
    assert man["pixel_stats"]["out_of_domain.carbon_sequestration_rate"] == n
    tidy = _tidy(tmp_path / "out")
    assert np.isfinite(_amount(tidy, "gep"))
    carbon = tidy[(tidy.service == "carbon") & (tidy.measure == "value")]
    assert int(carbon.excluded_pixels.sum()) == n


@pytest.mark.parametrize("nodata", [2.5, -3.4028235e38])
def test_transition_matrix_reads_float_land_use_nodata_as_a_run_does(tmp_path, nodata):
    """The comparison's transition matrix compares nodata as stored and adds the pipeline's
    to the file's: int(2.5) made every cropland pixel (code 2) nodata there."""
    from gepgeo.compare import transition_matrix
    from gepgeo.pipeline import load_pipeline

    before = _codes(6)
    write_tif(tmp_path / "before.tif", before, T, nodata=0)
    after = _codes(7).astype(np.float32)
    gone = after == 0
    after[gone] = np.float32(nodata)
    after[:4, :] = 9.0                # nodata by the pipeline only
    write_tif(tmp_path / "after.tif", after, T, nodata=nodata)
    pb = _pipeline(tmp_path, CARBON_CLIMATE, lu="before.tif", name="b.yaml")
    pa = _pipeline(tmp_path, CARBON_CLIMATE, lu="after.tif", name="a.yaml",
                   land_use_extra={"nodata": 9})
    m = transition_matrix(load_pipeline(pb), load_pipeline(pa))
    valid = (before != 0) & ~gone
    valid[:4, :] = False
    lts = ["forest", "cropland", "mine"]
    assert m.loc[lts, lts].to_numpy().sum() == pytest.approx(valid.sum() * HA, rel=1e-12)
    both_crop = valid & (before == 2) & (after == 2)
    assert m.loc["cropland", "cropland"] == pytest.approx(both_crop.sum() * HA, rel=1e-12)
