"""Layer decoding: GeoTIFF scale/offset and unit tags, named unit conversions, sentinel nodata,
domain policy, and the ellipsoidal area option — each through a real pipeline run."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from gepgeo.errors import DomainError, UnitError
from gepgeo.pipeline import parse_pipeline
from gepgeo.run import run_pipeline

from .helpers import edited_yaml, read_yaml, write_tif, write_yaml

T = Affine(30, 0, 600000, 0, -30, 3000000)
CODES = {1: "forest", 2: "cropland"}


def _base(tmp_path, **params):
    lu = np.array([[1, 2, 1], [2, 1, 0]], dtype=np.uint8)
    write_tif(tmp_path / "lu.tif", lu, T, nodata=0)
    doc = {
        "land_use": {"path": "lu.tif", "codes": CODES},
        "services": ["water", "soil"],
        "parameters": {
            "water_price": 2.0,
            "runoff_coefficient": {"by_land_type": {"forest": 0.05, "cropland": 0.3}},
            "slope_length_steepness_ls": 2.0, "cover_management_c": 0.1,
            "support_practice_p": 1.0, "lambda_over_rho": 0.2, "dredging_cost": 10.0,
            "soil_n_content": 1.0, "soil_p_content": 0.5, "n_to_fertilizer_factor": 1.0,
            "p_to_fertilizer_factor": 1.0, "n_fertilizer_price": 1000.0,
            "p_fertilizer_price": 1000.0, **params},
    }
    if "water_retention_depth" in params:   # one form of the water balance per level
        del doc["parameters"]["runoff_coefficient"]
    return write_yaml(tmp_path / "p.yaml", doc)


def _run(path, tmp_path, name="out"):
    pipe = parse_pipeline(read_yaml(path), source=path)
    return run_pipeline(pipe, tmp_path / name, quiet=True)


def _density(res, svc, measure):
    t = res.tidy
    return t[(t.service == svc) & (t.measure == measure)].set_index("land_type").amount


def test_scale_offset_and_unit_tags_are_applied(tmp_path):
    # precipitation stored as integer tenths of mm with nodata -1; ET in metres (unit tag)
    p_raw = np.array([[12000, 12000, 12000], [12000, -1, 12000]], dtype=np.int16)
    write_tif(tmp_path / "p.tif", p_raw, T, nodata=-1, unit="mm a-1", scale=0.1)
    write_tif(tmp_path / "et.tif", np.full((2, 3), 0.6, dtype=np.float32), T, unit="m a-1")
    path = _base(tmp_path, precipitation={"path": "p.tif"}, evapotranspiration={"path": "et.tif"},
                 rainfall_erosivity_r=1000.0, soil_erodibility_k=0.03)
    res = _run(path, tmp_path)
    q = _density(res, "water", "water_conservation")
    area = 0.09
    et = float(np.float32(0.6)) * 1000
    forest = (1200 - 1200 * 0.05 - et) * 10 * area  # 3 forest pixels... one has P nodata
    cropland = (1200 - 1200 * 0.3 - et) * 10 * area
    assert q["forest"] == pytest.approx(2 * forest, rel=1e-6)   # the third forest pixel: P nodata
    assert q["cropland"] == pytest.approx(2 * cropland, rel=1e-6)
    excl = res.tidy.query("service == 'water' and measure == 'value'").set_index("land_type")
    assert int(excl.excluded_pixels["forest"]) == 1


def test_us_customary_r_and_k(tmp_path):
    write_tif(tmp_path / "r.tif", np.full((2, 3), 300.0, dtype=np.float32), T)
    path = _base(tmp_path, rainfall_erosivity_r={"path": "r.tif", "unit": "US"},
                 soil_erodibility_k={"value": 0.3, "unit": "US"}, water_retention_depth=100.0)
    res = _run(path, tmp_path)
    q = _density(res, "soil", "soil_retention")
    per_ha = 300 * 17.02 * 0.3 * 0.1317 * 2.0 * (1 - 0.1)
    assert q["forest"] == pytest.approx(3 * 0.09 * per_ha, rel=1e-6)


def test_dimensional_raster_without_unit_is_refused(tmp_path):
    write_tif(tmp_path / "r.tif", np.full((2, 3), 300.0, dtype=np.float32), T)
    path = _base(tmp_path, rainfall_erosivity_r={"path": "r.tif"}, soil_erodibility_k=0.03,
                 water_retention_depth=100.0)
    with pytest.raises(UnitError, match="rainfall_erosivity_r"):
        _run(path, tmp_path)


def test_unknown_unit_is_refused(tmp_path):
    path = _base(tmp_path, rainfall_erosivity_r={"value": 300, "unit": "furlongs"},
                 soil_erodibility_k=0.03, water_retention_depth=100.0)
    with pytest.raises(UnitError, match="furlongs"):
        _run(path, tmp_path)


def test_out_of_domain_cover_is_an_error_or_masked(tmp_path):
    c = np.array([[0.1, 1.5, 0.1], [0.1, 0.1, 0.1]], dtype=np.float32)
    write_tif(tmp_path / "c.tif", c, T)
    path = _base(tmp_path, rainfall_erosivity_r=1000.0, soil_erodibility_k=0.03,
                 water_retention_depth=100.0, cover_management_c={"path": "c.tif"})
    with pytest.raises(DomainError, match="cover_management_c"):
        _run(path, tmp_path)
    assert not (tmp_path / "out").exists()
    with edited_yaml(path) as doc:
        doc["options"] = {"domain": "mask"}
    res = _run(path, tmp_path)
    assert res.manifest["pixel_stats"]["out_of_domain.cover_management_c"] == 1
    excl = res.tidy.query("service == 'soil' and measure == 'value'").set_index("land_type")
    assert int(excl.excluded_pixels["cropland"]) == 1


def test_ellipsoidal_area_in_web_mercator(tmp_path):
    t = Affine(100, 0, 11_800_000, 0, -100, 3_150_000)  # ~106 E, 27 N: areal scale ~1.27
    lu = np.ones((4, 4), dtype=np.uint8)
    write_tif(tmp_path / "lu.tif", lu, t, crs="EPSG:3857", nodata=0)
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "forest"}}, "services": ["landscape"],
           "parameters": {"landscape_equivalent_factor": 1.0, "grain_output_value_per_ha": 7.0},
           "options": {"area": "ellipsoidal"}}
    write_yaml(tmp_path / "p.yaml", doc)
    res = _run(tmp_path / "p.yaml", tmp_path)
    area = float(res.land_use.set_index("land_type").area_ha["forest"])
    from pyproj import Geod, Transformer
    to_geo = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    xs = [11_800_000, 11_800_400, 11_800_400, 11_800_000]
    ys = [3_150_000, 3_150_000, 3_149_600, 3_149_600]
    lon, lat = to_geo.transform(xs, ys)
    true, _ = Geod(ellps="WGS84").polygon_area_perimeter(lon, lat)
    assert area == pytest.approx(abs(true) / 1e4, rel=1e-4)
    # planar mode warns and is off by the areal scale
    doc["options"] = {"area": "planar"}
    write_yaml(tmp_path / "p.yaml", doc)
    with pytest.warns(UserWarning, match="areal scale"):
        res2 = _run(tmp_path / "p.yaml", tmp_path, name="out2")
    assert float(res2.land_use.set_index("land_type").area_ha["forest"]) == pytest.approx(16 * 1.0)
    assert any("areal scale" in w for w in res2.manifest["warnings"])


def test_table_and_map_units_name_their_basis(tmp_path):
    # carbon, CO2 and oxygen all read "t a-1" in the tables: a tonne of C is 3.67 t of CO2
    from gepgeo.demo import sample_root
    from gepgeo.pipeline import load_pipeline
    from gepgeo.services import MEASURE_INDEX, MEASURES

    pipe = load_pipeline(sample_root() / "pipelines" / "jinsha_after.yaml")
    maps = ["carbon", "co2", "o2", "so2", "nox"]
    pipe = pipe.model_copy(update={"maps": maps, "options": pipe.options.model_copy(
        update={"cog": False, "report": False})})
    res = run_pipeline(pipe, tmp_path / "out", quiet=True)
    units = dict(zip(res.tidy.measure, res.tidy.unit))
    expected = {"carbon": "t C", "co2": "t CO2", "o2": "t O2", "so2": "t SO2", "nox": "t NOx"}
    for measure, basis in expected.items():
        assert units[measure] == f"{basis} a-1", measure
        with rasterio.open(tmp_path / "out" / "maps" / f"{measure}.tif") as src:
            assert src.units[0] == f"{basis} ha-1 a-1", measure
    # every density unit is its table unit per hectare
    for m in MEASURES:
        if m.unit == "ha":
            assert m.density_unit == "ha ha-1"
            continue
        head, _, tail = m.unit.rpartition(" a-1")
        assert tail == "" and m.density_unit == f"{head} ha-1 a-1", m
    assert MEASURES[MEASURE_INDEX[("carbon", "carbon")]].unit == "t C a-1"
