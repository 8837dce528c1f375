"""Factor layers derived per pixel in the pass (issue 23, item 2): ``{derive: {...}}`` for R
(monthly Fournier, annual Renard & Freimund), K (EPIC, Zhang Keli's China correction) and C
(Cai et al. 2000, van der Knijff et al. 2000).

The references here are written apart from :mod:`gepgeo.derive`: scalar ``math`` loops over
every pixel, following the published equations term by term. A run given the derived layers
must equal, bit for bit, the run given the same layers precomputed and written as rasters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine

from .helpers import (folder_files, read_band, read_manifest, read_table, run_cli, write_tif,
                      write_yaml)

ALBERS = ("+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +datum=WGS84 "
          "+units=m +no_defs")
T = Affine(30, 0, 200000, 0, -30, 3000000)
NY, NX = 150, 203          # 64-px blocks: 3 x 4, none whole at the far edges
CODES = {1: "forest", 2: "cropland", 3: "mine"}
R, K, C = "rainfall_erosivity_r", "soil_erodibility_k", "cover_management_c"
SOIL = {
    "slope_length_steepness_ls": 2.0, "support_practice_p": 1.0, "lambda_over_rho": 0.2,
    "dredging_cost": 10.0, "soil_n_content": 1.0, "soil_p_content": 0.5,
    "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
    "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0,
}


# --- independent references: the published equations, one pixel at a time --------------------

def ref_fournier(monthly: np.ndarray) -> np.ndarray:
    """FAO (1979) after Arnoldus (1977): R_US = Σ 1.735·10^(1.5 log10(p²/P) − 0.8188); ×17.02."""
    out = np.empty(monthly.shape[1:])
    for idx in np.ndindex(*monthly.shape[1:]):
        p = [float(monthly[(m, *idx)]) for m in range(12)]
        if any(math.isnan(x) for x in p):
            out[idx] = math.nan
            continue
        total = sum(p)
        r = 0.0
        for x in p:
            if x > 0:
                r += 1.735 * 10 ** (1.5 * math.log10(x * x / total) - 0.8188)
        out[idx] = 17.02 * r
    return out


def ref_renard_freimund(p: np.ndarray) -> np.ndarray:
    out = np.empty(p.shape)
    for idx in np.ndindex(*p.shape):
        x = float(p[idx])
        out[idx] = (math.nan if math.isnan(x) else 0.0483 * x ** 1.610 if x <= 850
                    else 587.8 - 1.219 * x + 0.004105 * x * x)
    return out


def ref_epic_us(san: float, sil: float, cla: float, c: float) -> float:
    a = 0.2 + 0.3 * math.exp(-0.0256 * san * (1 - sil / 100))
    b = (sil / (cla + sil)) ** 0.3 if cla + sil > 0 else 0.0
    d = 1 - 0.25 * c / (c + math.exp(3.72 - 2.95 * c))
    sn1 = 1 - san / 100
    e = 1 - 0.7 * sn1 / (sn1 + math.exp(-5.51 + 22.9 * sn1))
    return a * b * d * e


def ref_k(sand, silt, clay, oc, zhang: bool) -> np.ndarray:
    out = np.empty(np.shape(sand))
    for idx in np.ndindex(*out.shape):
        v = [float(np.asarray(a)[idx]) for a in (sand, silt, clay, oc)]
        if any(math.isnan(x) for x in v):
            out[idx] = math.nan
            continue
        k = ref_epic_us(*v)
        out[idx] = 0.1317 * (-0.01383 + 0.51575 * k if zhang else k)
    return out


def ref_cai(ndvi: np.ndarray, lo: float, hi: float) -> np.ndarray:
    out = np.empty(ndvi.shape)
    for idx in np.ndindex(*ndvi.shape):
        v = float(ndvi[idx])
        if math.isnan(v):
            out[idx] = math.nan
            continue
        f = 100 * min(1.0, max(0.0, (v - lo) / (hi - lo)))
        out[idx] = (1.0 if f == 0 else 0.0 if f >= 78.3
                    else min(1.0, 0.6508 - 0.3436 * math.log10(f)))
    return out


def ref_knijff(ndvi: np.ndarray, alpha: float = 2.0, beta: float = 1.0) -> np.ndarray:
    out = np.empty(ndvi.shape)
    for idx in np.ndindex(*ndvi.shape):
        v = float(ndvi[idx])
        out[idx] = (math.nan if math.isnan(v) else 0.0 if v >= beta
                    else min(1.0, max(0.0, math.exp(-alpha * v / (beta - v)))))
    return out


# --- the functions against the references ----------------------------------------------------

def test_functions_equal_the_references_on_random_inputs():
    from gepgeo.derive import cover, erodibility, erosivity

    rng = np.random.default_rng(7)
    shape = (17, 23)
    monthly = rng.gamma(0.8, 60.0, (12, *shape))
    monthly[:, 0, 0] = 0.0                        # a dry year
    monthly[rng.random((12, *shape)) < 0.1] = 0.0  # dry months
    monthly[5, 3, 4] = np.nan
    np.testing.assert_allclose(erosivity.fournier_monthly(monthly), ref_fournier(monthly),
                               rtol=1e-12, equal_nan=True)
    annual = rng.uniform(0, 2500, shape)
    annual[0, :3] = [0.0, 850.0, np.nan]
    np.testing.assert_allclose(erosivity.renard_freimund_annual(annual),
                               ref_renard_freimund(annual), rtol=1e-12, equal_nan=True)
    frac = rng.dirichlet([2, 2, 1], shape) * 100
    sand, silt, clay = frac[..., 0], frac[..., 1], frac[..., 2]
    sand[0, 0], silt[0, 0], clay[0, 0] = 100.0, 0.0, 0.0      # pure sand
    clay[1, 1] = np.nan
    oc = rng.uniform(0, 6, shape)
    for zhang, fn in ((False, erodibility.epic), (True, erodibility.epic_zhang2007)):
        np.testing.assert_allclose(fn(sand, silt, clay, oc), ref_k(sand, silt, clay, oc, zhang),
                                   rtol=1e-12, atol=1e-15, equal_nan=True)
    ndvi = rng.uniform(-0.3, 1.0, shape)
    ndvi[0, :4] = [0.05, 0.0508, 0.85, np.nan]
    np.testing.assert_allclose(cover.cai2000(ndvi, 0.05, 0.85), ref_cai(ndvi, 0.05, 0.85),
                               rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(cover.van_der_knijff2000(ndvi), ref_knijff(ndvi), rtol=1e-12,
                               equal_nan=True)
    np.testing.assert_allclose(cover.van_der_knijff2000(ndvi, 1.5, 1.2),
                               ref_knijff(ndvi, 1.5, 1.2), rtol=1e-12, equal_nan=True)


def test_hand_computed_values():
    """Values worked by hand from the published equations (4–5 significant digits)."""
    from gepgeo.derive import cover, erodibility, erosivity

    # Renard & Freimund: 0.0483·500^1.61 = 1069.8; 587.8 − 1219 + 4105 = 3473.8 at 1000 mm
    got = erosivity.renard_freimund_annual(np.array([500.0, 1000.0]))
    np.testing.assert_allclose(got, [1069.8, 3473.8], rtol=1e-4)
    # Fournier, 100 mm every month: 12 · 1.735 · 10^(1.5·log10(8.333) − 0.8188) = 76.02 US
    # units, · 17.02 = 1293.8; all 1200 mm in one month: 1.735 · 10^(1.5·3.0792 − 0.8188)
    # = 10946 US units → 186 308
    m = np.zeros((12, 2))
    m[:, 0] = 100.0
    m[6, 1] = 1200.0
    np.testing.assert_allclose(erosivity.fournier_monthly(m), [1293.8, 186308.0], rtol=1e-4)
    # EPIC, sand 40 %, silt 40 %, clay 20 %, OC 1 %: 0.36228 · 0.88547 · 0.92088 · 0.99989
    # = 0.29538 US units; · 0.1317 = 0.038902; Zhang: 0.1317 · (−0.01383 + 0.51575 · 0.29538)
    # = 0.018242
    args = [np.array(v) for v in (40.0, 40.0, 20.0, 1.0)]
    assert float(erodibility.epic_k_us(*args)) == pytest.approx(0.29538, rel=1e-4)
    assert float(erodibility.epic(*args)) == pytest.approx(0.038902, rel=1e-4)
    assert float(erodibility.epic_zhang2007(*args)) == pytest.approx(0.018242, rel=1e-4)
    # Cai: NDVI 0.45 between 0.05 and 0.85 → f = 50 %, C = 0.6508 − 0.3436·1.69897 = 0.067034;
    # f = 0.1 % → 0.9944; bare soil → 1; f ≥ 78.3 % → 0
    got = cover.cai2000(np.array([0.45, 0.0508, 0.05, -0.2, 0.85]), 0.05, 0.85)
    np.testing.assert_allclose(got, [0.067034, 0.9944, 1.0, 1.0, 0.0], rtol=1e-4)
    # van der Knijff: NDVI 0.5 → exp(−2) = 0.13534; 0 → 1; −0.2 → 1 (capped); 1 → 0
    got = cover.van_der_knijff2000(np.array([0.5, 0.0, -0.2, 1.0]))
    np.testing.assert_allclose(got, [0.13534, 1.0, 1.0, 0.0], rtol=1e-4)


def test_cai_break_is_where_the_log_branch_vanishes():
    """Cai et al. (2000)'s 78.3 % break is the root of its log branch with f in percent, so the
    two branches meet (f as a fraction would leave a jump of 0.687 at the break)."""
    from gepgeo.derive import cover

    root = 10.0 ** (cover.CAI_A / cover.CAI_B)
    assert root == pytest.approx(cover.CAI_FULL_COVER_PCT, abs=0.06)
    # just below the break (f = 78.2 %) the branch is 0.00029, next to the 0 above it
    below = cover.cai2000(np.array([0.05 + 0.8 * 0.782]), 0.05, 0.85)
    assert 0.0 < float(below[0]) < 4e-4
    assert cover.CAI_A - cover.CAI_B * np.log10(0.783) == pytest.approx(0.6873, abs=1e-4)


# --- generated inputs on the land-use grid ----------------------------------------------------

def _inputs(tmp_path):
    """Land use, 12-band monthly precipitation (int16 in 0.1 mm, -9999 nodata, a hole in
    August), sand and silt
    as int16 g/kg with a 0.1 scale tag (clay the rest), NDVI as int16 with MODIS's 0.0001
    scale and -3000 nodata. Returns the decoded arrays (NaN nodata)."""
    rng = np.random.default_rng(3)
    codes = rng.choice(np.array([0, 1, 2, 3], dtype=np.uint8), size=(NY, NX),
                       p=[0.05, 0.5, 0.3, 0.15])
    write_tif(tmp_path / "lu.tif", codes, T, crs=ALBERS, nodata=0)
    month = np.sin(np.linspace(0, np.pi, 12))[:, None, None]
    # tenths of mm, as int16 with a 0.1 scale tag on every band (e.g. a product in 0.1 mm)
    precip = np.round(rng.gamma(2.0, 200.0, (12, NY, NX)) * (0.3 + month)).astype(np.int16)
    precip[7, 40:44, 50:58] = -9999
    with rasterio.open(tmp_path / "precip12.tif", "w", driver="GTiff", height=NY, width=NX,
                       count=12, dtype="int16", crs=ALBERS, transform=T, nodata=-9999) as dst:
        dst.write(precip)
        dst.units = ("mm",) * 12
        dst.scales = (0.1,) * 12
    pdec = precip * 0.1
    pdec[precip == -9999] = np.nan
    sand = rng.integers(100, 700, (NY, NX)).astype(np.int16)
    silt = rng.integers(100, 1000 - sand).astype(np.int16)
    clay = (1000 - sand - silt) / 10.0
    write_tif(tmp_path / "sand.tif", sand, T, crs=ALBERS, scale=0.1, unit="%")
    write_tif(tmp_path / "silt.tif", silt, T, crs=ALBERS, nodata=-1, scale=0.1)
    write_tif(tmp_path / "clay.tif", clay.astype(np.float32), T, crs=ALBERS)
    ndvi = rng.integers(-1500, 9500, (NY, NX)).astype(np.int16)
    ndvi[100:103, 10:20] = -3000
    write_tif(tmp_path / "ndvi.tif", ndvi, T, crs=ALBERS, nodata=-3000, scale=0.0001)
    ndec = ndvi * 0.0001
    ndec[ndvi == -3000] = np.nan
    return {"codes": codes, "precip": pdec, "sand": sand * 0.1, "silt": silt * 0.1,
            "clay": clay.astype(np.float32).astype(np.float64), "ndvi": ndec}


OC = {"forest": 2.5, "cropland": 1.2}
K_DERIVE = {"method": "epic_zhang2007", "sand": "sand.tif",
            "silt": {"path": "silt.tif", "unit": "%"}, "clay": {"path": "clay.tif", "unit": "%"},
            "organic_carbon": {"by_land_type": OC}}
C_DERIVE = {"method": "cai2000", "ndvi": "ndvi.tif", "ndvi_soil": 0.05, "ndvi_veg": 0.85}


def _pipeline(tmp_path, params, *, name="p.yaml", chunk=64, options=None, maps=("soil_retention",)):
    doc = {"land_use": {"path": "lu.tif", "codes": CODES}, "no_services": ["mine"],
           "services": ["soil"], "parameters": {**SOIL, **params}, "maps": list(maps),
           "options": {"chunk_size": chunk, "report": False, **(options or {})}}
    return write_yaml(tmp_path / name, doc)


def _oc_raster(codes):
    oc = np.full(codes.shape, np.nan)
    for c, lt in CODES.items():
        if lt in OC:
            oc[codes == c] = OC[lt]
    return oc


@pytest.mark.parametrize("chunk", [64, 80])
def test_layers_equal_the_functions_at_any_block_size(tmp_path, chunk):
    """The lazy layers (blocks of 64 and 80 on a 150 × 203 grid) equal the functions on the
    whole decoded grid as float32, and the scalar references to float32 precision; scale
    tags and nodata of multi-band, int16 and table inputs decode as a single file's do."""
    from gepgeo.derive import cover, erodibility, erosivity
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    a = _inputs(tmp_path)
    p = _pipeline(tmp_path, {R: {"derive": {"method": "fournier_monthly", "path": "precip12.tif"}},
                             K: {"derive": K_DERIVE}, C: {"derive": C_DERIVE}}, chunk=chunk)
    prep = prepare(load_pipeline(p))
    oc = _oc_raster(a["codes"])
    want = {R: erosivity.fournier_monthly(a["precip"]),
            K: erodibility.epic_zhang2007(a["sand"], a["silt"], a["clay"], oc),
            C: cover.cai2000(a["ndvi"], 0.05, 0.85)}
    sub = (slice(None, None, 3), slice(1, None, 3))   # the scalar references on every 9th pixel
    refs = {R: ref_fournier(a["precip"][(slice(None), *sub)]),
            K: ref_k(a["sand"][sub], a["silt"][sub], a["clay"][sub], oc[sub], True),
            C: ref_cai(a["ndvi"][sub], 0.05, 0.85)}
    for key in (R, K, C):
        layer = prep.plan.used[key].value
        assert layer.data.data.chunks[0][0] == chunk and layer.source is None
        got = layer.data.values
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want[key].astype(np.float32), err_msg=key)
        np.testing.assert_allclose(got[sub], refs[key], rtol=2e-7, atol=1e-9, equal_nan=True,
                                   err_msg=key)
    r = prep.plan.used[R].value.data.values
    assert np.isnan(r[40:44, 50:58]).all() and np.isfinite(r[:40]).all()   # a month's nodata
    assert np.isnan(prep.plan.used[C].value.data.values[100:103, 10:20]).all()
    k = prep.plan.used[K].value.data.values
    assert np.isnan(k[a["codes"] == 3]).all() and np.isnan(k[a["codes"] == 0]).all()


def test_run_with_derived_layers_equals_run_with_them_as_rasters(tmp_path, capsys):
    """End to end: R from 12 monthly files, K and C derived, against the same three layers
    precomputed and given as rasters: identical maps and tables; the manifest records the
    derivations and the input files."""
    from gepgeo.derive import cover, erodibility, erosivity

    a = _inputs(tmp_path)
    with rasterio.open(tmp_path / "precip12.tif") as src:
        for m in range(12):   # the 12 bands as 12 files, each with its own tags
            write_tif(tmp_path / f"p{m + 1:02d}.tif", src.read(m + 1), T, crs=ALBERS,
                      nodata=-9999, unit="mm", scale=0.1)
    oc = _oc_raster(a["codes"])
    layers = {R: erosivity.fournier_monthly(a["precip"]),
              K: erodibility.epic_zhang2007(a["sand"], a["silt"], a["clay"], oc),
              C: cover.cai2000(a["ndvi"], 0.05, 0.85)}
    units = {R: "MJ mm ha-1 h-1 a-1", K: "t ha h ha-1 MJ-1 mm-1", C: "1"}
    for key, v in layers.items():
        write_tif(tmp_path / f"{key}.tif", v.astype(np.float32), T, crs=ALBERS, nodata=np.nan,
                  unit=units[key])
    ref = _pipeline(tmp_path, {key: {"path": f"{key}.tif"} for key in layers}, name="ref.yaml")
    got = _pipeline(tmp_path, {
        R: {"derive": {"method": "fournier_monthly",
                       "paths": [f"p{m + 1:02d}.tif" for m in range(12)]}},
        K: {"derive": K_DERIVE}, C: {"derive": C_DERIVE}}, name="got.yaml")
    for p, out in ((ref, "out_ref"), (got, "out_got")):
        code, _, err = run_cli(["run", p, "--out", tmp_path / out, "--quiet"], capsys)
        assert code == 0, err
    for part in ("maps/*.tif", "tables/*.csv"):
        x, y = folder_files(tmp_path / "out_ref", part), folder_files(tmp_path / "out_got", part)
        assert x.keys() == y.keys() and x, part
        for f in x:
            if f.endswith(".tif"):
                np.testing.assert_array_equal(read_band(tmp_path / "out_ref" / f),
                                              read_band(tmp_path / "out_got" / f), err_msg=f)
            else:
                assert x[f] == y[f], f
    man = read_manifest(tmp_path / "out_got")
    assert man["pixel_stats"] == read_manifest(tmp_path / "out_ref")["pixel_stats"]
    rec = man["parameters"][R]["derive"]
    assert rec["method"] == "fournier_monthly" and "0.8188" in rec["equation"]
    assert len(rec["inputs"]["precipitation"]) == 12
    assert rec["inputs"]["precipitation"][7]["path"] == str(tmp_path / "p08.tif")
    assert man["parameters"][K]["derive"]["inputs"]["sand"]["scale"] == pytest.approx(0.1)
    assert man["parameters"][K]["derive"]["inputs"]["organic_carbon"] == {
        "by_land_type": OC, "unit": "%"}
    assert man["parameters"][C]["derive"]["parameters"] == {"ndvi_soil": 0.05, "ndvi_veg": 0.85}
    assert man["parameters"][C]["note"].startswith("derived per pixel by cai2000")
    for name in (f"{R}.precipitation[8]", f"{K}.sand", f"{C}.ndvi"):
        assert len(man["inputs"][name]["sha256"]) == 64, name
    # the pixels where a month of precipitation is nodata are left out of soil, and counted
    holes = int(((a["codes"] == 1) | (a["codes"] == 2))[40:44, 50:58].sum()
                + ((a["codes"] == 1) | (a["codes"] == 2))[100:103, 10:20].sum())
    tidy = read_table(tmp_path / "out_got", "services_by_land_type")
    soil = tidy[tidy.service == "soil"].groupby("land_type").excluded_pixels.max()
    assert int(soil.sum()) == holes > 0


def test_annual_and_van_der_knijff_and_constant_inputs(tmp_path):
    """R from annual precipitation in cm (converted), C by van der Knijff, and K from
    constants and tables only: a table by land type, computed once."""
    from gepgeo.derive import cover, erodibility, erosivity
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    a = _inputs(tmp_path)
    # hundredths of cm as int32, the scale and the unit given by the pipeline
    annual = np.round(np.nansum(a["precip"], axis=0) * 10).astype(np.int32)
    write_tif(tmp_path / "annual.tif", annual, T, crs=ALBERS)
    p = _pipeline(tmp_path, {
        R: {"derive": {"method": "renard_freimund_annual", "path": "annual.tif", "unit": "cm a-1",
                       "scale": 0.01}},
        K: {"derive": {"method": "epic", "sand": 40, "silt": {"value": 0.4, "unit": "fraction"},
                       "clay": 20, "organic_carbon": {"by_land_type": {"forest": 1.0,
                                                                       "cropland": 2.0}}}},
        C: {"derive": {"method": "van_der_knijff2000", "ndvi": "ndvi.tif"}}}, chunk=80)
    prep = prepare(load_pipeline(p))
    np.testing.assert_array_equal(
        prep.plan.used[R].value.data.values,
        erosivity.renard_freimund_annual(annual * 0.01 * 10).astype(np.float32))
    np.testing.assert_array_equal(prep.plan.used[C].value.data.values,
                                  cover.van_der_knijff2000(a["ndvi"]).astype(np.float32))
    k = prep.plan.used[K]
    assert k.kind == "table"
    assert k.value["forest"] == pytest.approx(0.038902, rel=1e-4)     # the hand value above
    assert k.value["cropland"] == float(erodibility.epic(*(np.array(v) for v in (40, 40, 20, 2))))


def test_inputs_outside_their_domain_are_refused_or_masked(tmp_path, capsys):
    """A sand fraction above 100 % makes its K pixel out of domain: the run stops naming K
    (``domain: error``) or leaves the pixel out (``domain: mask``)."""
    a = _inputs(tmp_path)
    sand = (a["sand"] * 10).astype(np.int16)
    bad = tuple(np.argwhere(a["codes"] == 1)[0])     # a forest pixel: soil is computed there
    sand[bad] = 1200
    write_tif(tmp_path / "sand.tif", sand, T, crs=ALBERS, scale=0.1, unit="%")
    params = {R: 5000.0, K: {"derive": K_DERIVE}, C: 0.2}
    code, _, err = run_cli(["run", _pipeline(tmp_path, params), "--out", tmp_path / "o",
                            "--quiet"], capsys)
    assert code == 2 and K in err and "domain" in err and "1 pixels" in err, err
    code, _, err = run_cli(["run", _pipeline(tmp_path, params, options={"domain": "mask"},
                                             name="m.yaml"),
                            "--out", tmp_path / "m", "--quiet"], capsys)
    assert code == 0, err
    assert read_manifest(tmp_path / "m")["pixel_stats"][f"out_of_domain.{K}"] == 1


@pytest.mark.parametrize("derive, key, words", [
    ({"method": "fournier_monthly", "path": "sand.tif"}, R, ["1 band", "12"]),
    ({"method": "fournier_monthly", "paths": ["sand.tif"] * 11}, R, ["paths", "12", "11"]),
    ({"method": "epic", "sand": 40, "silt": 40, "clay": 20}, K,
     ["organic_carbon", "required"]),
    ({"method": "cai2000", "ndvi": "ndvi.tif"}, C, ["ndvi_soil", "required"]),
    ({"method": "cai2000", "ndvi": "ndvi.tif", "ndvi_soil": 0.9, "ndvi_veg": 0.1}, C,
     ["ndvi_soil", "ndvi_veg"]),
    ({"method": "cai2000", "ndvi": "ndvi.tif", "ndvi_soil": 0.1, "ndvi_veg": 0.8}, R,
     ["cai2000 derives cover_management_c", "fournier_monthly"]),
    ({"method": "fournier", "path": "precip12.tif"}, R, ["method", "fournier_monthly"]),
    ({"method": "fournier_monthly", "path": "precip12.tif", "unit": "inch"}, R,
     ["unknown unit 'inch'", "mm"]),
    ({"method": "epic", "sand": 40, "silt": 40, "clay": 20, "organic_carbon": -1}, K,
     ["organic_carbon", "outside"]),
    ({"method": "epic", "sand": 40, "silt": 40, "clay": 20,
      "organic_carbon": {"by_land_type": {"forest": 1}}}, K, ["cropland", "no value"]),
    ({"method": "epic", "sand": "nope.tif", "silt": 40, "clay": 20, "organic_carbon": 1}, K,
     ["nope.tif", "does not exist"]),
    ({"method": "renard_freimund_annual", "path": "sand.tif", "ndvi": "ndvi.tif"}, R,
     ["ndvi", "not an input"]),
    ({"method": "epic", "sand": 40, "silt": "silt.tif", "clay": 20, "organic_carbon": 1}, K,
     ["silt", "no unit", "%"]),
    ({"method": "annual_sum", "path": "precip12.tif"}, K,
     ["annual_sum derives precipitation or evapotranspiration or runoff"]),
    ({"method": "annual_sum", "path": "precip12.tif", "band": 3}, "evapotranspiration",
     ["band", "bands: [...]"]),
])
def test_bad_derive_exits_2_with_one_line(tmp_path, capsys, derive, key, words):
    _inputs(tmp_path)
    params = {R: 5000.0, K: 0.03, C: 0.2, key: {"derive": derive}}
    if key == "evapotranspiration":
        params = {**params, "precipitation": 1000.0, "runoff_coefficient": 0.2,
                  "water_price": 1.0}
    code, _, err = run_cli(["run", _pipeline(tmp_path, params), "--out", tmp_path / "o",
                            "--quiet"], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


def test_derive_only_for_r_k_c_and_written_as_maps_on_request(tmp_path, capsys):
    _inputs(tmp_path)
    p = _pipeline(tmp_path, {R: 5000.0, K: 0.03, C: 0.2,
                             "support_practice_p": {"derive": {"method": "cai2000"}}})
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "support_practice_p" in err and "can be derived" in err
    p = _pipeline(tmp_path, {R: {"derive": {"method": "fournier_monthly",
                                            "path": "precip12.tif"}}, K: 0.03, C: 0.2},
                  maps=[R])
    code, _, err = run_cli(["run", p, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 0, err     # the map is compared with the function in test_layer_maps.py
    assert (tmp_path / "o" / "maps" / f"{R}.tif").is_file()


def test_input_on_another_grid_is_resampled_and_recorded(tmp_path, capsys):
    """NDVI on a coarser, shifted grid is warped onto the land-use grid (bilinear, said in a
    warning and in the manifest); the run writes C-dependent maps and records the alignment."""
    a = _inputs(tmp_path)
    t = Affine(45, 0, 200000 - 100 + 7, 0, -45, 3000000 + 100 - 11)
    ndvi = np.random.default_rng(5).integers(-2000, 9000, (105, 140)).astype(np.int16)
    write_tif(tmp_path / "ndvi45.tif", ndvi, t, crs=ALBERS, nodata=-3000, scale=0.0001)
    p = _pipeline(tmp_path, {R: 5000.0, K: 0.03,
                             C: {"derive": {**C_DERIVE, "ndvi": "ndvi45.tif"}}})
    with pytest.warns(Warning, match="bilinear"):
        code, _, err = run_cli(["run", p, "--out", tmp_path / "o", "--quiet"], capsys)
    assert code == 0, err
    man = read_manifest(tmp_path / "o")
    rec = man["parameters"][C]["derive"]["inputs"]["ndvi"]
    assert rec["aligned"] and "bilinear" in rec["alignment"] and rec["scale"] == 0.0001
    assert any("ndvi45.tif" in w for w in man["warnings"])
    soil = read_band(tmp_path / "o" / "maps" / "soil_retention.tif")
    valid = (a["codes"] == 1) | (a["codes"] == 2)
    # inside the NDVI's extent every soil pixel has a value; R·K·LS = 5000·0.03·2 = 300 bounds it
    inner = valid[5:-5, 5:-5]
    got = soil[5:-5, 5:-5][inner]
    assert np.isfinite(got).all() and (got >= 0).all() and (got <= 300 + 1e-3).all()


def test_annual_sums_of_bands_and_files_with_their_scale_tags(tmp_path, capsys):
    """Precipitation as the sum of the 12 bands of one file and evapotranspiration as the sum
    of 12 files (int16 in 0.1 mm with a scale tag each, MOD16's fill value as nodata): the
    water run equals the run given the two sums as rasters; a missing period is nodata, not
    0."""
    a = _inputs(tmp_path)
    rng = np.random.default_rng(11)
    et = rng.integers(0, 600, (12, NY, NX)).astype(np.int16)
    et[3, 20:25, 30:40] = 32767
    for m in range(12):
        write_tif(tmp_path / f"et{m + 1:02d}.tif", et[m], T, crs=ALBERS, nodata=32767,
                  unit="mm", scale=0.1)
    etdec = et * 0.1
    etdec[et == 32767] = np.nan
    p_sum, et_sum = a["precip"].sum(axis=0), etdec.sum(axis=0)
    # the references: the periods added one by one
    ref_p = sum(a["precip"][m] for m in range(12))
    np.testing.assert_allclose(p_sum, ref_p, rtol=1e-12, equal_nan=True)
    assert np.isnan(et_sum[20:25, 30:40]).all() and np.isfinite(et_sum[:20]).all()
    write_tif(tmp_path / "p_sum.tif", p_sum.astype(np.float32), T, crs=ALBERS, nodata=np.nan,
              unit="mm a-1")
    write_tif(tmp_path / "et_sum.tif", et_sum.astype(np.float32), T, crs=ALBERS,
              nodata=np.nan, unit="mm a-1")
    water = {"runoff_coefficient": 0.2, "water_price": 1.0}
    docs = {
        "ref": {"precipitation": {"path": "p_sum.tif"},
                "evapotranspiration": {"path": "et_sum.tif"}},
        "got": {"precipitation": {"derive": {"method": "annual_sum", "path": "precip12.tif"}},
                "evapotranspiration": {"derive": {
                    "method": "annual_sum", "paths": [f"et{m + 1:02d}.tif" for m in range(12)]}}},
    }
    for name, params in docs.items():
        doc = {"land_use": {"path": "lu.tif", "codes": CODES}, "no_services": ["mine"],
               "services": ["water"], "parameters": {**water, **params},
               "maps": ["water_conservation"],
               "options": {"chunk_size": 64, "report": False}}
        code, _, err = run_cli(["run", write_yaml(tmp_path / f"{name}.yaml", doc), "--out",
                                tmp_path / name, "--quiet"], capsys)
        assert code == 0, err
    for part in ("maps/*.tif", "tables/*.csv"):
        x, y = folder_files(tmp_path / "ref", part), folder_files(tmp_path / "got", part)
        assert x.keys() == y.keys() and x, part
        for f in x:
            if f.endswith(".tif"):
                np.testing.assert_array_equal(read_band(tmp_path / "ref" / f),
                                              read_band(tmp_path / "got" / f), err_msg=f)
            else:
                assert x[f] == y[f], f
    man = read_manifest(tmp_path / "got")
    assert len(man["parameters"]["precipitation"]["derive"]["inputs"]["periods"]) == 12
    assert man["parameters"]["evapotranspiration"]["derive"]["inputs"]["periods"][0]["scale"] \
        == pytest.approx(0.1)
