"""LS from a DEM inside a run (issue 22, second slice): ``slope_length_steepness_ls:
{from_dem: {...}}`` in a pipeline's ``parameters:``.

The reference is the LS map ``gepgeo terrain DEM --grid LANDUSE`` writes, given to the same
pipeline as a raster: maps and tables must be identical, bit for bit, on grids of several
blocks whose sizes are not multiples of the block size, in a projected CRS that is not UTM,
with a DEM on another grid than the land use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

from .helpers import (folder_files, read_band, read_manifest, read_table, read_yaml, run_cli,
                      write_tif, write_yaml)

#: China Albers (a custom equal-area projection, metres)
ALBERS = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 "
          "+units=m +no_defs")
T = Affine(30, 0, 200000, 0, -30, 3000000)
NY, NX = 150, 203          # 64-px blocks: 3 x 4 blocks, none whole at the far edges
CODES = {1: "forest", 2: "cropland", 3: "mine"}
SOIL = {
    "rainfall_erosivity_r": 5000.0, "soil_erodibility_k": 0.03, "cover_management_c": 0.2,
    "support_practice_p": 1.0, "lambda_over_rho": 0.2,
    "dredging_cost": 10.0, "soil_n_content": 1.0, "soil_p_content": 0.5,
    "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
    "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0,
}
LS = "slope_length_steepness_ls"


def _codes(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([0, 1, 2, 3], dtype=np.uint8), size=(NY, NX),
                      p=[0.05, 0.5, 0.3, 0.15])


def _relief(x: np.ndarray, y: np.ndarray, seed: int = 1) -> np.ndarray:
    """Hills and valleys with slopes from flat to steep, plus a little noise (m)."""
    rng = np.random.default_rng(seed)
    z = (800 + 60 * np.sin(x / 700.0) * np.cos(y / 450.0) + 25 * np.sin((x + y) / 260.0)
         + 0.02 * x + rng.normal(0, 0.3, x.shape))
    return z.astype(np.float32)


def _dem(path, transform: Affine, shape: tuple[int, int], crs: str, *, holes: bool = True,
         nodata: float = -9999.0):
    ny, nx = shape
    cols, rows = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    x, y = transform * (cols, rows)
    if crs != ALBERS:      # the same relief wherever the DEM's grid lies
        from rasterio.warp import transform as warp_points
        xa, ya = warp_points(crs, ALBERS, x.ravel(), y.ravel())
        x, y = np.reshape(xa, x.shape), np.reshape(ya, y.shape)
    z = _relief(np.asarray(x) - 200000, 3000000 - np.asarray(y))
    if holes:
        z[ny // 3:ny // 3 + 6, nx // 4:nx // 4 + 9] = nodata
        z[-4:, :5] = nodata
    write_tif(path, z, transform, crs=crs, nodata=nodata, compress="deflate")
    return path


def _land_use(tmp_path):
    codes = _codes()
    write_tif(tmp_path / "lu.tif", codes, T, crs=ALBERS, nodata=0)
    return codes


def _pipeline(tmp_path, ls, *, name="p.yaml", maps=("soil_retention", "soil_value"),
              options=None):
    doc = {"land_use": {"path": "lu.tif", "codes": CODES}, "no_services": ["mine"],
           "services": ["soil"], "parameters": {**SOIL, LS: ls}, "maps": list(maps),
           "options": {"chunk_size": 64, "report": False, **(options or {})}}
    return write_yaml(tmp_path / name, doc)


def _run(path, out, capsys):
    code, _, err = run_cli(["run", path, "--out", out, "--quiet"], capsys)
    return code, err


def _dem_grids():
    """(name, transform, shape, crs) of DEMs on other grids than the land use's."""
    # coarser (45 m), shifted by a fraction of a pixel, extending past the land use
    yield "coarser", Affine(45, 0, 200000 - 300 + 7, 0, -45, 3000000 + 300 - 11), (115, 150), ALBERS
    # another projected CRS (EASE-Grid 2.0, cylindrical equal area), 40 m
    left, bottom, right, top = transform_bounds(ALBERS, "EPSG:6933", 200000, 3000000 - NY * 30,
                                                200000 + NX * 30, 3000000)
    t = Affine(40, 0, left - 400, 0, -40, top + 400)
    yield ("ease2", t, (int((top - bottom + 800) / 40) + 1, int((right - left + 800) / 40) + 1),
           "EPSG:6933")


@pytest.mark.parametrize("grid", list(_dem_grids()), ids=lambda g: g[0])
def test_from_dem_equals_the_terrain_ls_raster(tmp_path, capsys, grid):
    """The run given the DEM writes the same maps and tables, bit for bit, as the run given
    the LS raster that `gepgeo terrain DEM --grid LANDUSE` wrote; the DEM's holes are LS
    nodata, counted as excluded pixels in both."""
    name, t, shape, crs = grid
    _land_use(tmp_path)
    dem = _dem(tmp_path / "dem.tif", t, shape, crs)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "terrain", "--grid",
                            tmp_path / "lu.tif", "--quiet"], capsys)
    assert code == 0, err
    ref = _pipeline(tmp_path, {"path": "terrain/slope_length_steepness_ls.tif"}, name="ref.yaml")
    got = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}}, name="dem.yaml")
    assert _run(ref, tmp_path / "out_ref", capsys)[0] == 0
    with pytest.warns(Warning, match="bilinear"):
        code, err = _run(got, tmp_path / "out_dem", capsys)
    assert code == 0, err
    for part in ("maps/*.tif", "tables/*.csv"):
        a = folder_files(tmp_path / "out_ref", part)
        b = folder_files(tmp_path / "out_dem", part)
        assert a.keys() == b.keys() and a, part
        for k in a:
            if k.endswith(".tif"):
                np.testing.assert_array_equal(read_band(tmp_path / "out_ref" / k),
                                              read_band(tmp_path / "out_dem" / k), err_msg=k)
            else:
                assert a[k] == b[k], k
    man_ref, man = read_manifest(tmp_path / "out_ref"), read_manifest(tmp_path / "out_dem")
    assert man["pixel_stats"] == man_ref["pixel_stats"]
    ls_ref = read_band(tmp_path / "terrain" / "slope_length_steepness_ls.tif")
    codes = read_band(tmp_path / "lu.tif")
    holes = int((np.isnan(ls_ref) & (codes != 0) & (codes != 3)).sum())
    assert holes > 0
    tidy = read_table(tmp_path / "out_dem", "services_by_land_type")
    soil = tidy[tidy.service == "soil"].groupby("land_type").excluded_pixels.max()
    assert int(soil.sum()) == holes, soil
    rec = man["parameters"][LS]["from_dem"]
    assert rec["path"] == str(tmp_path / "dem.tif") and rec["method"] == "flowpath"
    assert rec["resampling"] == "bilinear" and rec["aligned"] and "bilinear" in rec["alignment"]
    assert rec["halo_cells"] == 13 and rec["options"]["max_slope_length_m"] == 304.8
    assert rec["sha256"] == man["inputs"][LS]["sha256"] and len(rec["sha256"]) == 64
    assert any("bilinear" in w for w in man["warnings"])


def test_from_dem_on_the_land_use_grid_any_block_size(tmp_path, capsys):
    """A DEM on the land-use grid is read as it is; LS in the pass equals the terrain map for
    block sizes that cut the flow paths anywhere (64, 80) wherever the land use has data, and
    is NaN (not computed) where it has none: scattered pixels, and whole blocks of nodata
    (whose DEM windows are not read); the options reach the method."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    codes = _codes()
    codes[:70, :80] = 0                   # a whole 64-px block and parts of others: no data
    write_tif(tmp_path / "lu.tif", codes, T, crs=ALBERS, nodata=0)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    code, _, err = run_cli(["terrain", tmp_path / "dem.tif", "--out", tmp_path / "terrain",
                            "--max-slope-length", "150", "--m-table", "van_remortel", "--quiet"],
                           capsys)
    assert code == 0, err
    want = read_band(tmp_path / "terrain" / "slope_length_steepness_ls.tif")
    has_data = codes != 0
    for chunk in (64, 80):
        p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif", "max_slope_length": 150,
                                              "m_table": "van_remortel"}},
                      options={"chunk_size": chunk})
        prep = prepare(load_pipeline(p))
        layer = prep.plan.used[LS].value
        assert layer.data.data.chunks[0][0] == chunk and layer.source is None
        got = layer.data.values
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got[has_data], want[has_data])
        assert np.isnan(got[~has_data]).all() and np.isfinite(want[~has_data]).sum() > 4000
        assert not prep.warnings      # nothing resampled


def test_from_dem_validate_and_maps(tmp_path, capsys):
    """`gepgeo validate` opens the DEM and says how it was aligned; the LS map is written
    when asked for (tests/test_layer_maps.py compares it with `gepgeo terrain`'s)."""
    _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", Affine(45, 0, 199990, 0, -45, 3000010), (110, 140), ALBERS)
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}})
    with pytest.warns(Warning, match="bilinear"):
        code, out, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    assert "ok" in out and "bilinear" in out
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}}, maps=[LS])
    with pytest.warns(Warning, match="bilinear"):
        code, out, err = run_cli(["run", p, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "o" / "maps" / f"{LS}.tif").is_file()


@pytest.mark.parametrize("ls, words", [
    ({"from_dem": {"path": "dem.tif", "max_slop_length": 100}},
     ["from_dem", "unknown key 'max_slop_length'"]),
    ({"from_dem": {"path": "dem.tif", "method": "lstool"}},
     ["method", "not available", "flowpath"]),
    ({"from_dem": {"path": "dem.tif", "method": "invest"}}, ["l_max", "InVEST"]),
    ({"from_dem": {"path": "dem.tif", "max_slope_length": -5}}, ["max_slope_length", "positive"]),
    ({"from_dem": {"path": "dem.tif", "m_table": "x"}}, ["m_table", "mccool"]),
    ({"from_dem": {"path": "dem.tif", "z_factor": 0}}, ["z_factor", "positive"]),
    ({"from_dem": {}}, ["from_dem.path", "required"]),
])
def test_bad_from_dem_options_exit_2(tmp_path, capsys, ls, words):
    _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    code, err = _run(_pipeline(tmp_path, ls), tmp_path / "out", capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err


def test_from_dem_only_for_ls(tmp_path, capsys):
    _land_use(tmp_path)
    doc = {"land_use": {"path": "lu.tif", "codes": CODES}, "services": ["soil"],
           "parameters": {**SOIL, LS: 2.0, "rainfall_erosivity_r": {"from_dem": {"path": "d.tif"}}}}
    code, err = _run(write_yaml(tmp_path / "p.yaml", doc), tmp_path / "out", capsys)
    assert code == 2 and "only slope_length_steepness_ls" in err and "rainfall_erosivity_r" in err


@pytest.mark.parametrize("dem_crs, lu_crs, words", [
    ("EPSG:4326", ALBERS, ["dem.tif", "geographic", "reproject it"]),
    (None, ALBERS, ["no CRS"]),
    (ALBERS, "EPSG:4326", ["land-use grid", "reproject the land use"]),
])
def test_no_metric_cells_exit_2(tmp_path, capsys, dem_crs, lu_crs, words):
    """A geographic DEM, one without a CRS, or a geographic land-use grid: one line, exit 2,
    what to do; never degrees taken as metres."""
    codes = _codes()
    t_geo = Affine(0.0003, 0, 106.0, 0, -0.0003, 27.0)
    write_tif(tmp_path / "lu.tif", codes, t_geo if lu_crs == "EPSG:4326" else T, crs=lu_crs,
              nodata=0)
    z = _relief(*np.meshgrid(np.arange(NX) * 30.0, np.arange(NY) * 30.0))
    write_tif(tmp_path / "dem.tif", z, t_geo if dem_crs == "EPSG:4326" else T, crs=dem_crs)
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}})
    for cmd in (["run", p, "--out", tmp_path / "out", "--quiet"], ["validate", p]):
        code, _, err = run_cli(cmd, capsys)
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert "slope_length_steepness_ls.from_dem" in err, err
        for w in words:
            assert w in err, err
    assert not (tmp_path / "out").exists()


def test_dem_layer_reads_windows_only(tmp_path, monkeypatch):
    """Each block task reads one window of the DEM: its block plus the halo, never the whole
    DEM."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare
    from gepgeo.terrain import dem as dem_mod

    _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    prep = prepare(load_pipeline(_pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}})))
    seen = []
    real = dem_mod.read_window

    def spy(src, row, col, h, w, out=None):
        seen.append((row, col, h, w))
        return real(src, row, col, h, w, out=out)

    monkeypatch.setattr(dem_mod, "read_window", spy)
    prep.plan.used[LS].value.data.data.compute(scheduler="sync")
    assert len(seen) == 12                       # 3 x 4 blocks, one window each
    assert (0, 0, 64 + 13, 64 + 13) in seen      # a corner block: the halo clipped at the edges
    assert (64 - 13, 64 - 13, 64 + 26, 64 + 26) in seen
    assert all(h < NY or w < NX for _, _, h, w in seen)


def test_nodata_of_a_dem_on_the_grid(tmp_path):
    """A DEM on the land-use grid with a nodata value: LS is NaN exactly there (and where a
    neighbour's nodata leaves no slope: never), as in the terrain map, and where the land use
    has no data (not computed)."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    codes = _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    z = read_band(tmp_path / "dem.tif")
    prep = prepare(load_pipeline(_pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}})))
    ls = prep.plan.used[LS].value.data.values
    np.testing.assert_array_equal(np.isnan(ls), (z == -9999.0) | (codes == 0))
    with rasterio.open(tmp_path / "dem.tif") as src:
        assert src.nodata == -9999.0


# ------------------------------------------------------------------------------- the sample

def test_dem_sample_pipeline(tmp_path, capsys):
    """pipelines/dem_sample.yaml runs; its LS is the terrain map of the sample DEM, and the
    DEM is regenerated pixel for pixel by data/make_dem_sample.py."""
    import subprocess
    import sys

    from gepgeo.demo import sample_root

    root = sample_root()
    pipe = root / "pipelines" / "dem_sample.yaml"
    dem = root / "data" / "dem_sample" / "dem.tif"
    assert dem.stat().st_size < 200_000
    code, _, err = run_cli(["run", pipe, "--out", tmp_path / "out", "--quiet"], capsys)
    assert code == 0, err
    man = read_manifest(tmp_path / "out")
    rec = man["parameters"][LS]["from_dem"]
    assert rec["method"] == "flowpath" and not rec["aligned"] and rec["halo_cells"] == 33
    assert Path(man["inputs"][LS]["path"]).resolve() == dem.resolve()
    soil = read_band(tmp_path / "out" / "maps" / "soil_retention.tif")
    assert np.isfinite(soil).any()
    # the LS the run used is the terrain command's map of the same DEM
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "terrain", "--quiet"], capsys)
    assert code == 0, err
    doc = read_yaml(pipe)       # the same pipeline given the LS map as a raster
    doc.pop("output")
    doc["land_use"]["path"] = str(root / "data" / "jinsha" / "landuse_after.tif")
    doc["parameters"]["rainfall_erosivity_r"]["path"] = str(
        root / "data" / "jinsha" / "rainfall_erosivity_r.tif")
    doc["parameters"][LS] = {"path": str(tmp_path / "terrain" / f"{LS}.tif")}
    ref = write_yaml(tmp_path / "ref.yaml", doc)
    code, _, err = run_cli(["run", ref, "--out", tmp_path / "ref", "--quiet"], capsys)
    assert code == 0, err
    assert folder_files(tmp_path / "out", "tables/*.csv") == folder_files(tmp_path / "ref",
                                                                         "tables/*.csv")
    script = root / "data" / "make_dem_sample.py"
    if script.exists():      # a source checkout (wheels carry the data, not the script)
        subprocess.run([sys.executable, script, "--out", tmp_path / "regen"], check=True,
                       capture_output=True)
        np.testing.assert_array_equal(read_band(tmp_path / "regen" / "dem.tif"),
                                      read_band(dem))


def test_dem_layer_pickles(tmp_path):
    """The block tasks travel to distributed workers: the DEM reader and the task pickle."""
    import pickle

    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", Affine(45, 0, 199990, 0, -45, 3000010), (110, 140), ALBERS)
    with pytest.warns(Warning, match="bilinear"):
        prep = prepare(load_pipeline(_pipeline(tmp_path, {"from_dem": {"path": "dem.tif"}})))
    arr = prep.plan.used[LS].value.data.data
    want = arr.compute(scheduler="sync")
    again = pickle.loads(pickle.dumps(arr))
    np.testing.assert_array_equal(again.compute(scheduler="threads"), want)


def test_a_halo_too_large_is_named_as_the_pipeline_names_it(tmp_path, capsys):
    """λ_max of 10⁶ m over 30 m cells needs a 33 336-cell halo: refused, one line, naming the
    pipeline's key (not the terrain command's flag)."""
    _land_use(tmp_path)
    _dem(tmp_path / "dem.tif", T, (NY, NX), ALBERS)
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif", "max_slope_length": 1e6}})
    code, err = _run(p, tmp_path / "out", capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "max_slope_length:" in err and "--max-slope-length" not in err, err
    assert "slope_length_steepness_ls.from_dem" in err, err
    assert not (tmp_path / "out").exists()
