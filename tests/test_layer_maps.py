"""Maps of a run's factor layers (issue 22 item 1, issue 23 item 2): ``maps:`` (or ``--map``)
naming a factor layer of the run, or the slope and slope length of an LS from a DEM.

References: the LS, slope and slope-length maps ``gepgeo terrain DEM --grid LANDUSE`` writes;
:mod:`gepgeo.derive`'s function on the decoded inputs; a plain file decoded here with NumPy.
Grids of several blocks whose sizes are not multiples of the block, in China Albers (a
projected CRS that is not UTM)."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import rasterio
from affine import Affine

from .helpers import folder_files, read_band, read_manifest, run_cli, write_tif, write_yaml
from .test_terrain_pipeline import ALBERS, CODES, LS, NX, NY, SOIL, T, _dem, _land_use

C = "cover_management_c"


def _pipeline(tmp_path, params, *, name="p.yaml", maps=("soil_retention",), options=None):
    doc = {"land_use": {"path": "lu.tif", "codes": CODES}, "no_services": ["mine"],
           "services": ["soil"], "parameters": {**SOIL, **params}, "maps": list(maps),
           "options": {"chunk_size": 64, "report": False, **(options or {})}}
    return write_yaml(tmp_path / name, doc)


def _run(p, out, capsys, *extra):
    code, _, err = run_cli(["run", p, "--out", out, "--quiet", *extra], capsys)
    return code, err


def _counting(monkeypatch, module, name):
    """Count the calls of ``module.name`` (from any thread)."""
    calls = []
    lock = threading.Lock()
    fn = getattr(module, name)

    @functools.wraps(fn)      # keeps the signature (dask passes block_info by it)
    def counted(*a, **k):
        with lock:
            calls.append(1)
        return fn(*a, **k)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("method, parts", [
    ("flowpath", ("slope_deg", "slope_length_m")),
    ("contributing_area", ("slope_deg", "contributing_area_m2")),
])
def test_dem_maps_equal_terrain_output_in_one_pass(tmp_path, capsys, monkeypatch, method, parts):
    """LS and its parts written by a run equal `gepgeo terrain --grid` (NaN where the land use
    is nodata); the service maps and tables equal a run without them; each block's DEM window
    is computed once."""
    import gepgeo.terrain.layer as tl

    codes = _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", Affine(45, 0, 199993, 0, -45, 3000011), (112, 142), ALBERS)
    code, _, err = run_cli(["terrain", tmp_path / "dem.tif", "--out", tmp_path / "terrain",
                            "--grid", tmp_path / "lu.tif", "--method", method, "--block", "64",
                            "--quiet"], capsys)
    assert code == 0, err
    ls = {"from_dem": {"path": "dem.tif", "method": method}}
    plain = _pipeline(tmp_path, {LS: ls}, name="plain.yaml")
    more = _pipeline(tmp_path, {LS: ls}, name="more.yaml", maps=("soil_retention", LS, *parts))
    fp = method == "flowpath"
    parts_calls = _counting(monkeypatch, tl, "_parts_block" if fp else "_parts_of_core")
    ls_calls = _counting(monkeypatch, tl, "_ls_block" if fp else "_ls_of_core")
    with pytest.warns(Warning, match="bilinear"):
        assert _run(plain, tmp_path / "plain", capsys)[0] == 0
    assert (len(ls_calls), len(parts_calls)) == (3 * 4, 0), "without maps: LS alone"
    with pytest.warns(Warning, match="bilinear"):
        code, err = _run(more, tmp_path / "more", capsys)
    assert code == 0, err
    # one computation of each block's DEM window gives the kernel's LS and the three maps
    assert (len(ls_calls), len(parts_calls)) == (3 * 4, 3 * 4)
    lu_nodata = codes == 0
    assert lu_nodata.any()
    for name in (LS, *parts):
        want = read_band(tmp_path / "terrain" / f"{name}.tif")
        got = read_band(tmp_path / "more" / "maps" / f"{name}.tif")
        assert got.dtype == np.float32 and want.dtype == np.float32
        want[lu_nodata] = np.nan
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert np.isfinite(got).mean() > 0.8, name
        with rasterio.open(tmp_path / "more" / "maps" / f"{name}.tif") as src, \
                rasterio.open(tmp_path / "terrain" / f"{name}.tif") as ref:
            assert src.units[0] == ref.units[0] and src.units[0]
            assert src.crs == ref.crs and src.transform == ref.transform
            assert np.isnan(src.nodata) and src.profile["compress"] == "zstd"
            assert src.tags()["layer"] == LS and src.tags()["origin"] == f"from_dem {method}"
    a = folder_files(tmp_path / "plain", "tables/*.csv")
    b = folder_files(tmp_path / "more", "tables/*.csv")
    assert a == b and a
    np.testing.assert_array_equal(read_band(tmp_path / "plain" / "maps" / "soil_retention.tif"),
                                  read_band(tmp_path / "more" / "maps" / "soil_retention.tif"))
    man = read_manifest(tmp_path / "more")
    assert set(man["maps"]) == {"gep", "soil_value", "soil_retention", LS, *parts}
    assert man["map_units"][LS] == "1" and man["map_units"]["slope_deg"] == "degree"
    assert man["map_units"]["soil_retention"] == "t ha-1 a-1"
    assert man["factor_maps"][parts[1]]["layer"] == LS
    assert "factor_maps" not in read_manifest(tmp_path / "plain")


def test_derived_r_map_equals_the_derive_function(tmp_path, capsys):
    """R derived from 12 monthly bands (int16, 0.1 mm, a month's nodata): its map equals
    gepgeo.derive's function on the decoded inputs, as float32, NaN where the land use is
    nodata."""
    from gepgeo.derive.erosivity import fournier_monthly

    from .test_derive import _inputs

    a = _inputs(tmp_path)
    r = "rainfall_erosivity_r"
    p = _pipeline(tmp_path, {r: {"derive": {"method": "fournier_monthly", "path": "precip12.tif"}},
                             "soil_erodibility_k": 0.03, C: 0.2,
                             LS: 2.0}, maps=("soil_retention", r))
    code, err = _run(p, tmp_path / "o", capsys)
    assert code == 0, err
    want = fournier_monthly(a["precip"]).astype(np.float32)
    want[a["codes"] == 0] = np.nan
    got = read_band(tmp_path / "o" / "maps" / f"{r}.tif")
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[40:44, 50:58]).all() and np.isfinite(got[a["codes"] != 0][:100]).all()
    man = read_manifest(tmp_path / "o")
    assert man["factor_maps"][r]["origin"] == "derive fournier_monthly"
    assert man["map_units"][r] == "MJ mm ha-1 h-1 a-1"


def _cover_file(tmp_path, codes):
    """C as int16 in 1/10 000 with nodata -1; values above 1 (outside C's domain) on mine."""
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 10001, (NY, NX)).astype(np.int16)
    raw[10:14, 100:130] = -1
    raw[codes == 3] = 15000
    write_tif(tmp_path / "c.tif", raw, T, crs=ALBERS, nodata=-1, scale=1e-4, unit="1",
              block=32)
    return raw


def _decoded_cover(raw, codes):
    want = (raw.astype(np.float64) * 1e-4).astype(np.float32)
    want[(raw == -1) | (codes == 0) | (raw > 10000)] = np.nan
    return want


def test_file_layer_map_equals_the_decoded_input(tmp_path, capsys):
    """A plain file (int16, scale tag, nodata; read by the block task itself) asked for with
    --map: scale applied, NaN at nodata, outside the domain and where the land use is nodata;
    a rerun writes the same bytes; the Python API gives the same map in memory."""
    codes = _land_use(tmp_path)
    raw = _cover_file(tmp_path, codes)
    p = _pipeline(tmp_path, {C: {"path": "c.tif"}, LS: 2.0})
    for out in ("o1", "o2"):
        code, err = _run(p, tmp_path / out, capsys, "--map", C)
        assert code == 0, err
    want = _decoded_cover(raw, codes)
    got = read_band(tmp_path / "o1" / "maps" / f"{C}.tif")
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(got).mean() > 0.5
    assert ((tmp_path / "o1" / "maps" / f"{C}.tif").read_bytes()
            == (tmp_path / "o2" / "maps" / f"{C}.tif").read_bytes())
    from gepgeo.styles import style_maps

    assert tmp_path / "o1" / "maps" / f"{C}.qml" in style_maps(tmp_path / "o1")
    with rasterio.open(tmp_path / "o1" / "maps" / f"{C}.tif") as src:
        assert src.units == ("1",) and src.descriptions[0].startswith("input: ")
        assert src.tags()["origin"] == "file"

    from gepgeo.compute import build_dataset
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    prep = prepare(load_pipeline(p))
    ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=[C, "soil_retention"],
                       dtype=np.float32, chunks=prep.chunk)
    np.testing.assert_array_equal(ds[C].values, want)
    assert ds[C].attrs["units"] == "1"
    np.testing.assert_array_equal(ds["soil_retention"].values,
                                  read_band(tmp_path / "o1" / "maps" / "soil_retention.tif"))


def test_constant_and_table_maps_are_the_value_of_each_land_type(tmp_path, capsys):
    """A factor given as a constant or a table by land type maps to its value on each pixel's
    land type (in the canonical unit), NaN where the table has none and where the land use
    is nodata."""
    codes = _land_use(tmp_path)
    k = "soil_erodibility_k"
    p = _pipeline(tmp_path, {LS: 2.0, C: 0.2,
                             k: {"by_land_type": {"forest": 0.02, "cropland": 0.04}}},
                  maps=("soil_retention", LS, k))
    code, err = _run(p, tmp_path / "o", capsys)
    assert code == 0, err
    ls = read_band(tmp_path / "o" / "maps" / f"{LS}.tif")
    kk = read_band(tmp_path / "o" / "maps" / f"{k}.tif")
    np.testing.assert_array_equal(ls, np.where(codes == 0, np.nan, 2.0).astype(np.float32))
    want = np.select([codes == 1, codes == 2], [0.02, 0.04], np.nan).astype(np.float32)
    np.testing.assert_array_equal(kk, want)
    man = read_manifest(tmp_path / "o")
    assert man["factor_maps"][LS]["origin"] == "constant"
    assert man["factor_maps"][k]["origin"] == "table"


def test_estimate_counts_factor_maps(tmp_path):
    from gepgeo.execute import run_estimate
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    codes = _land_use(tmp_path)
    _cover_file(tmp_path, codes)
    base = prepare(load_pipeline(_pipeline(tmp_path, {C: {"path": "c.tif"}, LS: 2.0})))
    more = prepare(load_pipeline(_pipeline(tmp_path, {C: {"path": "c.tif"}, LS: 2.0},
                                           name="m.yaml", maps=("soil_retention", C))))
    assert run_estimate(more).bytes > run_estimate(base).bytes


@pytest.mark.parametrize("maps, ls, words", [
    (["soil_retension"], 2.0, ["unknown map 'soil_retension'", "soil_retention",
                               "cover_management_c"]),
    (["slope_deg"], 2.0, ["'slope_deg'", "from_dem", "gepgeo terrain"]),
    (["n_fertilizer_price"], 2.0, ["'n_fertilizer_price'", "price", "cover_management_c"]),
    (["water_price"], 2.0, ["'water_price'", "not used by the enabled services"]),
    (["contributing_area_m2"], {"from_dem": {"path": "dem.tif"}},
     ["'contributing_area_m2'", "not made by the method", "slope_length_m"]),
])
def test_a_map_the_run_cannot_write_exits_2(tmp_path, capsys, maps, ls, words):
    codes = _land_use(tmp_path)
    _cover_file(tmp_path, codes)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    p = _pipeline(tmp_path, {C: {"path": "c.tif"}, LS: ls}, maps=maps)
    code, err = _run(p, tmp_path / "o", capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "o").exists()
    code, _, err = run_cli(["run", _pipeline(tmp_path, {C: {"path": "c.tif"}, LS: ls},
                                             name="q.yaml"),
                            "--out", tmp_path / "o", "--quiet", "--map", maps[0]], capsys)
    assert code == 2 and words[0] in err, err
