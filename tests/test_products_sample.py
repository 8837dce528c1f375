"""From inputs in the public products' formats to an account (pipelines/products_sample.yaml).

The synthetic valley written as ESA WorldCover, Copernicus GLO-30, WorldClim 2.1, SoilGrids 2.0
and MOD13Q1 ship their files (data/make_products_sample.py: five CRSs, four pixel sizes, g/kg,
dg/kg, x 10 000, 12 files, no unit tags), the land cover and DEM put on one UTM grid by
data/prepare_landscape.py, then the shipped pipeline run with its paths pointed there:

- the prepared grid: the UTM zone of the box, 30 m edges at multiples of 30, covering the box;
  the land cover is the source's code at each pixel centre (nearest, checked by a plain
  look-up of the centres in the source's lattice);
- the derived R, K and C maps equal the methods applied to the downloads reprojected here
  with rasterio and decoded by hand (mm; g/kg → %; dg/kg → %; NDVI x 10 000 → NDVI), R from
  a plain-NumPy Fournier sum;
- the landscape value by ecosystem type equals a hand computation from the prepared codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.warp import transform as warp_transform

from gepgeo.derive.cover import cai2000
from gepgeo.derive.erodibility import epic_zhang2007
from gepgeo.errors import GridAlignmentWarning

from .helpers import run_cli

# every download is on another grid: the run warns once per file (checked below on stderr)
pytestmark = pytest.mark.filterwarnings("ignore::gepgeo.errors.GridAlignmentWarning")

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "products_sample.yaml"


def _scripts():
    sys.path.insert(0, str(ROOT / "data"))
    try:
        import make_products_sample
        import prepare_landscape
    finally:
        sys.path.remove(str(ROOT / "data"))
    return make_products_sample, prepare_landscape


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Products written, prepared, and the shipped pipeline run on them (blocks of 64 on the
    92 x 112 grid)."""
    mps, prep = _scripts()
    base = tmp_path_factory.mktemp("products")
    raw, prepared, out = base / "raw", base / "prepared", base / "run"
    files = mps.write_products(raw)
    bbox = mps.valley_lonlat_bounds()
    record = prep.prepare(files["land_cover"], files["dem"], prepared, bbox=bbox)
    text = PIPELINE.read_text(encoding="utf-8").replace("../out/products_sample/", f"{base}/")
    doc = yaml.safe_load(text)
    doc["options"] = {"chunk_size": 64, "report": False}
    p = base / "products.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return {"files": files, "bbox": bbox, "record": record, "prepared": prepared,
            "pipeline": p, "out": out}


def test_prepared_grid_is_utm_and_land_cover_is_the_code_at_each_centre(run):
    mps, prep = _scripts()
    assert prep.utm_epsg(105.42, 27.3) == 32648 and prep.utm_epsg(-70.0, -45.0) == 32719
    with rasterio.open(run["prepared"] / "land_cover.tif") as lc_src:
        lc = lc_src.read(1)
        t, crs = lc_src.transform, lc_src.crs
        assert crs.to_epsg() == 32648 and (t.a, t.e) == (30.0, -30.0)
        assert t.c % 30 == 0 and t.f % 30 == 0 and lc_src.nodata == 0
        # the box, projected, lies inside the grid
        w, s, e, n = rasterio.warp.transform_bounds("EPSG:4326", crs, *run["bbox"])
        b = lc_src.bounds
        assert b.left <= w and b.bottom <= s and b.right >= e and b.top >= n
        assert b.right - e < 30 + 1e-6 and n - b.top > -30 - 1e-6
    with rasterio.open(run["prepared"] / "dem.tif") as dem_src:
        assert (dem_src.crs, dem_src.transform, dem_src.shape) == (crs, t, lc.shape)
        assert 850 < dem_src.read(1).min() and dem_src.read(1).max() < 1400
    # every prepared pixel: the source code of the source pixel holding its centre
    rows, cols = np.mgrid[0:lc.shape[0], 0:lc.shape[1]]
    xs, ys = t * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    lon, lat = warp_transform(crs, "EPSG:4326", xs, ys)
    with rasterio.open(run["files"]["land_cover"]) as src:
        wc, st = src.read(1), src.transform
    c = np.floor((np.asarray(lon) - st.c) / st.a).astype(int)
    r = np.floor((np.asarray(lat) - st.f) / st.e).astype(int)
    want = wc[r, c].reshape(lc.shape)
    # GDAL's warper maps centres through an approximate transformer (error ≤ 1/8 pixel):
    # a centre within that distance of a source edge may take the neighbour's code
    frac_c = (np.asarray(lon) - st.c) / st.a - c
    frac_r = (np.asarray(lat) - st.f) / st.e - r
    near_edge = ((np.minimum(frac_c, 1 - frac_c) < 0.125)
                 | (np.minimum(frac_r, 1 - frac_r) < 0.125)).reshape(lc.shape)
    assert np.array_equal(lc[~near_edge], want[~near_edge])
    assert (lc[near_edge] == want[near_edge]).mean() > 0.9
    assert set(np.unique(lc)) == {0, 10, 20, 30, 40, 50, 60, 80, 90}
    rec = json.loads((run["prepared"] / "prepared.json").read_text(encoding="utf-8"))
    assert rec == json.loads(json.dumps(run["record"]))
    assert rec["grid"]["crs"] == "EPSG:32648" and len(rec["land_cover"]["sha256"]) == 64


def _warp(path: Path, like: Path) -> np.ndarray:
    """A band reprojected bilinearly onto the grid of ``like``, NaN where nodata."""
    with rasterio.open(path) as src, rasterio.open(like) as ref:
        out = np.full(ref.shape, np.nan, dtype=np.float64)
        reproject(src.read(1).astype(np.float64), out, src_transform=src.transform,
                  src_crs=src.crs, src_nodata=src.nodata, dst_transform=ref.transform,
                  dst_crs=ref.crs, dst_nodata=np.nan, resampling=Resampling.bilinear)
    return out


def _fournier_numpy(p: np.ndarray) -> np.ndarray:
    """R = 17.02 Σ 1.735 · 10^(1.5 log10(p_i² / P) − 0.8188), plain NumPy (p: 12 × pixels)."""
    total = p.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 1.735 * 10.0 ** (1.5 * np.log10(p ** 2 / total) - 0.8188)
    return 17.02 * np.where(p > 0, terms, 0.0).sum(axis=0)


def test_products_pipeline_derives_from_the_downloads_and_values_by_ecosystem(run, capsys):
    out = run["out"]
    with pytest.warns(GridAlignmentWarning) as warned:
        code, _, err = run_cli(["run", run["pipeline"], "--out", out, "--quiet"], capsys)
    assert code == 0, err
    # each of the 17 downloads aligned to the land-cover grid, and said so
    said = [str(w.message) for w in warned if issubclass(w.category, GridAlignmentWarning)]
    assert len(said) == 17 and all("with bilinear resampling" in m for m in said), said
    lc_path = run["prepared"] / "land_cover.tif"
    with rasterio.open(lc_path) as src:
        lc = src.read(1)
        cell_ha = abs(src.transform.a * src.transform.e) / 1e4
    valid = lc != 0

    def layer(name: str) -> np.ma.MaskedArray:
        with rasterio.open(out / "maps" / f"{name}.tif") as src:
            return src.read(1, masked=True)

    files = run["files"]
    # R from 12 WorldClim files (mm, no unit tag)
    prec = np.stack([_warp(files[f"prec_{m:02d}"], lc_path) for m in range(1, 13)])
    r_map = layer("rainfall_erosivity_r")
    r_want = _fournier_numpy(prec.reshape(12, -1)).reshape(lc.shape)
    assert not r_map.mask[valid].any()
    np.testing.assert_allclose(r_map[valid], r_want[valid], rtol=1e-5)
    assert 2000 < r_want[valid].min() and r_want[valid].max() < 20000
    # K from SoilGrids encodings: g/kg / 10 = %, dg/kg / 100 = %
    sand, silt, clay, soc = (_warp(files[k], lc_path) for k in ("sand", "silt", "clay", "soc"))
    k_want = epic_zhang2007(sand / 10, silt / 10, clay / 10, soc / 100)
    k_map = layer("soil_erodibility_k")
    assert not k_map.mask[valid].any()
    np.testing.assert_allclose(k_map[valid], k_want[valid], rtol=1e-5)
    # C from MOD13Q1 NDVI x 10 000 with its fill -3000
    nd = _warp(files["ndvi"], lc_path) * 1e-4
    c_map = layer("cover_management_c")
    ok = valid & np.isfinite(nd)
    assert ok.sum() > 0.95 * valid.sum()
    # (the two warps differ by ~1e-9 in C where C is ~1e-4)
    np.testing.assert_allclose(c_map[ok], cai2000(nd, 0.05, 0.85)[ok], rtol=1e-5, atol=1e-8)
    assert c_map[ok].min() == 0 and 0.3 < c_map[ok].max() <= 1   # full cover gives 0
    assert c_map.mask[valid & ~np.isfinite(nd)].all()

    # landscape value: Σ area · E · k by ecosystem type of the prepared WorldCover codes
    eco = {10: "forest", 20: "shrub", 30: "grassland", 40: "cropland", 60: "bare",
           80: "water", 90: "wetland"}
    factors = {"shrub": 0.69, "wetland": 4.73, "water": 1.89,        # china-national
               "forest": 1.06, "grassland": 0.56, "cropland": 0.06, "bare": 0.01}  # pipeline
    want = {e: 0.0 for e in factors}
    for code_, e in eco.items():
        want[e] += np.count_nonzero(lc == code_) * cell_ha * factors[e] / 7 * 2.5 * 5800.0
    rows = {r.split(",")[0]: r.split(",") for r in
            (out / "tables" / "gep_by_land_type.csv").read_text().splitlines()}
    col = rows["land_type"].index("landscape_value")
    for e, v in want.items():
        assert float(rows[e][col]) == pytest.approx(v, rel=1e-9), e
    assert float(rows["built_up"][col]) == 0.0

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    derive = m["parameters"]["soil_erodibility_k"]["derive"]
    assert derive["method"] == "epic_zhang2007"
    assert m["profiles"][0]["name"] == "china-national"


def test_readme_walks_through_the_product_downloads():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From product downloads")[1].split("\n## ")[0]
    for word in ("make_products_sample.py", "prepare_landscape.py", "products_sample.yaml",
                 "esa_worldcover_2021", 'unit: "g kg-1"', "scale: 0.1", "scale: 0.0001",
                 "synthetic", "Why no real data ships"):
        assert word in section, word
    # the walkthrough's box is the valley's (the pipeline's comment says the same)
    mps, _ = _scripts()
    box = " ".join(f"{v:.5f}" for v in mps.valley_lonlat_bounds())
    assert f"--bbox {box}" in section and box in PIPELINE.read_text(encoding="utf-8")


#: an Albers equal-area CRS for China, as national products often use (projected, not UTM)
CHINA_ALBERS = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 "
                "+datum=WGS84 +units=m +no_defs")


def test_prepare_on_a_non_utm_grid_from_the_land_covers_extent(run, tmp_path):
    _, prep = _scripts()
    files = run["files"]
    rec = prep.prepare(files["land_cover"], files["dem"], tmp_path, crs=CHINA_ALBERS, res=45.0)
    with rasterio.open(tmp_path / "land_cover.tif") as lc_src, \
            rasterio.open(files["land_cover"]) as src:
        t = lc_src.transform
        assert not lc_src.crs.is_geographic and lc_src.crs.to_epsg() is None
        assert (t.a, t.e) == (45.0, -45.0) and t.c % 45 == 0 and t.f % 45 == 0
        # the default box is the whole source: its margin's codes are there too
        w, s, e, n = rasterio.warp.transform_bounds(src.crs, lc_src.crs, *src.bounds)
        b = lc_src.bounds
        assert b.left <= w and b.right >= e and b.bottom <= s and b.top >= n
        assert set(np.unique(lc_src.read(1))) <= {0, 10, 20, 30, 40, 50, 60, 70, 80, 90}
    assert rec["grid"]["res_m"] == 45.0 and rec["grid"]["width"] == lc_src.width


def test_prepare_refuses_bad_boxes_and_geographic_grids(run, tmp_path, capsys):
    _, prep = _scripts()
    files = run["files"]
    base = ["--land-cover", str(files["land_cover"]), "--dem", str(files["dem"]),
            "--out", str(tmp_path / "p")]
    for extra, words in ((["--crs", "EPSG:4326"], "not a projected CRS"),
                         (["--bbox", "105.44", "27.28", "105.40", "27.31"], "west south east"),
                         (["--res", "0"], "--res must be > 0")):
        with pytest.raises(SystemExit) as exc:
            prep.main(base + extra)
        assert exc.value.code == 2
        assert words in capsys.readouterr().err, extra
    assert not (tmp_path / "p" / "land_cover.tif").exists()
    assert prep.utm_epsg(-70.0, -45.0) == 32719 and prep.utm_epsg(180.0, 0.0) == 32660
    with pytest.raises(ValueError, match="outside the UTM zones"):
        prep.utm_epsg(10.0, 85.0)
