"""The fused kernel against the plain-NumPy oracle, on random grids (hypothesis).

Random land use with nodata and a no-service land type; every parameter randomly a constant, a
table by land type or a raster with nodata; random formula variants; random chunking; projected
and geographic CRSs. Maps must equal the oracle to rtol 1e-9 (NaN where the oracle is NaN) and
float64 totals by land type to rtol 1e-9.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gepgeo
import gepgeo.accounts
import gepgeo.area
import gepgeo.kernel
from gepgeo.services import MEASURES, map_name

from .conftest import examples
from .helpers import make_da
from .oracle import Oracle, cell_area_ha_geographic, cell_area_ha_projected, cell_area_ha_true

LTS = ["forest", "cropland", "grass", "mine"]
CODES = {1: "forest", 2: "cropland", 3: "grass", 7: "mine"}
RTOL = 1e-9

# parameter key -> (low, high) for random values
RANGES = {
    "rainfall_erosivity_r": (100, 9000), "soil_erodibility_k": (0.001, 0.08),
    "slope_length_steepness_ls": (0, 30), "cover_management_c": (0, 1),
    "support_practice_p": (0, 1), "lambda_over_rho": (0.01, 0.4),
    "sediment_deposition_coefficient_lambda": (0.05, 0.5), "soil_bulk_density_rho": (0.8, 1.8),
    "dredging_cost": (5, 30), "soil_n_content": (0.1, 15), "soil_p_content": (0.1, 3),
    "soil_k_content": (1, 25), "n_to_fertilizer_factor": (1, 3), "p_to_fertilizer_factor": (1, 6),
    "k_to_fertilizer_factor": (1, 2.5), "n_fertilizer_price": (500, 3000),
    "p_fertilizer_price": (500, 3000), "k_fertilizer_price": (500, 4000),
    "precipitation": (300, 2500), "runoff_coefficient": (0, 0.3), "runoff": (0, 400),
    "evapotranspiration": (200, 1200), "water_retention_depth": (-100, 600),
    "water_price": (1, 8), "so2_uptake_rate": (0, 0.2), "nox_uptake_rate": (0, 0.1),
    "dust_uptake_rate": (0, 30), "air_rate_multiplier": (0.5, 10), "so2_charge": (600, 1300),
    "nox_charge": (600, 1300), "dust_charge": (100, 200), "carbon_sequestration_rate": (0, 5),
    "forest_soil_carbon_beta": (0, 1), "co2_per_c": (3.6, 3.7), "carbon_price": (50, 1000),
    "o2_per_co2": (0.7, 0.75), "oxygen_price": (400, 1500), "heat_absorption": (1e4, 1e5),
    "ac_days": (30, 150), "ac_energy_efficiency_ratio": (2, 4), "electricity_price": (0.3, 1),
    "landscape_equivalent_factor": (0, 2), "equivalent_value_coefficient": (0.1, 0.2),
    "grain_price": (1, 4), "grain_yield": (3000, 9000), "grain_output_value_per_ha": (5000, 20000),
    "agri_output_value_per_ha": (0, 20000), "crop_yield": (0, 9000), "crop_price": (1, 5),
}
ALWAYS = ["rainfall_erosivity_r", "soil_erodibility_k", "slope_length_steepness_ls",
          "cover_management_c", "support_practice_p", "dredging_cost", "soil_n_content",
          "soil_p_content", "n_to_fertilizer_factor", "p_to_fertilizer_factor",
          "n_fertilizer_price", "p_fertilizer_price", "water_price", "so2_uptake_rate",
          "nox_uptake_rate", "dust_uptake_rate", "so2_charge", "nox_charge", "dust_charge",
          "carbon_sequestration_rate", "carbon_price", "oxygen_price", "heat_absorption",
          "ac_days", "ac_energy_efficiency_ratio", "electricity_price",
          "landscape_equivalent_factor"]
VARIANTS = {
    "water": [["water_retention_depth"],
              ["precipitation", "runoff_coefficient", "evapotranspiration"],
              ["precipitation", "runoff", "evapotranspiration"]],
    "sediment": [["lambda_over_rho"],
                 ["sediment_deposition_coefficient_lambda", "soil_bulk_density_rho"]],
    "grain": [["grain_output_value_per_ha"], ["grain_price", "grain_yield"]],
    "agri": [["agri_output_value_per_ha"], ["crop_yield", "crop_price"]],
    "potassium": [[], ["soil_k_content", "k_to_fertilizer_factor", "k_fertilizer_price"]],
    "defaults": [[], ["air_rate_multiplier", "forest_soil_carbon_beta", "co2_per_c",
                      "o2_per_co2", "equivalent_value_coefficient"]],
}


#: the parameters the per-pixel drivers of the linear path are computed from (gepgeo.kernel)
DRIVER_KEYS = {"rainfall_erosivity_r", "soil_erodibility_k", "slope_length_steepness_ls",
               "cover_management_c", "support_practice_p", "precipitation",
               "runoff_coefficient", "runoff", "evapotranspiration", "water_retention_depth"}


@st.composite
def scenarios(draw, drivers_only=False):
    ny = draw(st.integers(1, 9))
    nx = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    keys = list(ALWAYS)
    for options in VARIANTS.values():
        keys += options[draw(st.integers(0, len(options) - 1))]
    forms = {k: draw(st.sampled_from(["constant", "table", "raster"])) for k in keys}
    if drivers_only:   # rasters only for the drivers: soil and water take the linear path
        forms = {k: ("table" if f == "raster" and k not in DRIVER_KEYS else f)
                 for k, f in forms.items()}
        forms["rainfall_erosivity_r"] = "raster"
        for k in ("precipitation", "water_retention_depth"):
            if k in forms:
                forms[k] = "raster"
    # geographic grid (row areas), projected grid with planar areas (row areas), or with true
    # per-pixel areas (area: ellipsoidal; the kernel's per-pixel area path)
    geographic = draw(st.sampled_from([True, False, "ellipsoidal"]))
    chunks = (draw(st.integers(1, max(ny, 1))), draw(st.integers(1, max(nx, 1))))
    deficit = draw(st.sampled_from(["clamp", "signed"]))
    nodata_share = draw(st.sampled_from([0.0, 0.15]))
    # unsigned 8-bit codes take the kernel's 256-entry code table, others its range lookup
    lu_dtype = draw(st.sampled_from(["int16", "uint8"]))
    return ny, nx, rng, forms, geographic, chunks, deficit, nodata_share, lu_dtype


def _build(ny, nx, rng, forms, geographic, nodata_share, lu_dtype="int16"):
    lu = rng.choice(np.array([0, 1, 2, 3, 7], dtype=lu_dtype), size=(ny, nx),
                    p=[0.1, 0.3, 0.3, 0.2, 0.1])
    if geographic is True:
        lat0 = float(rng.uniform(-70, 70))
        res = 0.01
        transform = Affine(res, 0, 100.0, 0, -res, lat0)
        crs = "EPSG:4326"
        area = cell_area_ha_geographic(ny, nx, 100.0, lat0, res)
    elif geographic == "ellipsoidal":
        # 2 km pixels 330 km west of the UTM central meridian: true areas change by ~3e-5
        # from one pixel to the next along a row (the kernel's per-pixel area path). The
        # oracle takes gepgeo's true pixel areas (what is tested here is the totals given the
        # areas), checked first against geodesic polygons (straight edges in the projection
        # are not geodesics: ~1e-7 at 2 km)
        res = 2000.0
        transform = Affine(res, 0, 170000.0, 0, -res, 3000000.0)
        crs = "EPSG:32648"
        area = gepgeo.area.ellipsoidal_area_ha(transform, CRS.from_user_input(crs),
                                               slice(0, ny), slice(0, nx))
        np.testing.assert_allclose(area, cell_area_ha_true(ny, nx, transform, crs), rtol=1e-6)
    else:
        res = float(rng.choice([10.0, 30.0]))
        transform = Affine(res, 0, 500000.0, 0, -res, 3000000.0)
        crs = "EPSG:32648"
        area = cell_area_ha_projected(ny, nx, res, res)
    api_params, oracle_params = {}, {}
    for key, form in forms.items():
        lo, hi = RANGES[key]
        if form == "constant":
            v = float(rng.uniform(lo, hi))
            api_params[key] = oracle_params[key] = v
        elif form == "table":
            v = {lt: float(rng.uniform(lo, hi)) for lt in LTS[:3]}
            api_params[key] = oracle_params[key] = v
        else:
            arr = rng.uniform(lo, hi, size=(ny, nx))
            arr[rng.random((ny, nx)) < nodata_share] = np.nan
            oracle_params[key] = arr
            api_params[key] = make_da(arr, transform, crs)
    lu_da = make_da(lu, transform, crs, nodata=0)
    return lu, lu_da, api_params, oracle_params, area


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fast_path_equals_oracle(case):
    _check_against_oracle(case)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(drivers_only=True))
def test_linear_path_equals_oracle(case):
    """Soil and water as driver × coefficient (rasters only for R, K, LS, C, P, P, ET ...)."""
    ds = _check_against_oracle(case)
    assert set(ds.attrs["linear_services"].split(",")) == {"soil", "water"}


def _check_against_oracle(case):
    ny, nx, rng, forms, geographic, chunks, deficit, nodata_share, lu_dtype = case
    lu, lu_da, api_params, oracle_params, area = _build(ny, nx, rng, forms, geographic,
                                                        nodata_share, lu_dtype)
    area_rule = "ellipsoidal" if geographic == "ellipsoidal" else "planar"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gepgeo.errors.AreaScaleWarning)
        ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"],
                                     water_deficit=deficit, chunks=chunks,
                                     area=area_rule).compute()
    orc = Oracle(lu, CODES, 0, oracle_params, ["mine"], area, water_deficit=deficit)
    dens = orc.densities()
    tot = orc.totals(dens)
    # the tables-only path (no map) accumulates exactly the same sums
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gepgeo.errors.AreaScaleWarning)
        tables_only = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"],
                                              water_deficit=deficit, chunks=chunks, maps=[],
                                              area=area_rule)
    assert not [v for v in tables_only.data_vars if "y" in tables_only[v].dims]
    np.testing.assert_array_equal(tables_only["totals"].values, ds["totals"].values)
    np.testing.assert_array_equal(tables_only["pixel_stats"].values, ds["pixel_stats"].values)
    checked = 0
    for m in MEASURES:
        key = (m.service, m.name)
        name = map_name(m)
        if key not in dens:
            continue
        np.testing.assert_allclose(ds[name].values, dens[key], rtol=RTOL, atol=0,
                                   equal_nan=True, err_msg=name)
        col = f"{m.service}.{m.name}"
        for lt in CODES.values():
            got = float(ds["totals"].sel(land_type=lt, column=col))
            want = tot[("gep", "partial")][lt] if m.service == "gep" else tot[key][lt]
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12 * max(1.0, abs(want)),
                                       err_msg=f"{col} {lt}")
        checked += 1
    assert checked >= 25
    # land area and clamped pixels
    for lt in CODES.values():
        sel = orc.lt == lt
        np.testing.assert_allclose(float(ds["totals"].sel(land_type=lt, column="area_ha")),
                                   area[sel].sum(), rtol=RTOL)
        assert int(ds["totals"].sel(land_type=lt, column="water_clamped_pixels")) == int(
            (orc.clamped & sel).sum())
    assert int(ds["pixel_stats"].sel(stat="land_use_nodata")) == int((lu == 0).sum())
    # pixels and hectares left out per service (nodata in a layer it reads), and GEP nodata
    all_valid = np.ones(lu.shape, dtype=bool)
    for svc in gepgeo.services.SERVICES:
        valid = orc.valid(svc.name)
        all_valid &= valid
        for lt in CODES.values():
            out = (orc.lt == lt) & ~valid
            t = ds["totals"].sel(land_type=lt)
            assert int(t.sel(column=f"excluded_pixels.{svc.name}")) == int(out.sum())
            np.testing.assert_allclose(float(t.sel(column=f"excluded_ha.{svc.name}")),
                                       area[out].sum(), rtol=RTOL)
    tidy = gepgeo.accounts.tidy_table(ds["totals"].values, list(ds["land_type"].values),
                                      [s.name for s in gepgeo.services.SERVICES],
                                      np.zeros(gepgeo.kernel.N_MODES, dtype=np.int64))
    for lt in CODES.values():
        sel = orc.lt == lt
        t = ds["totals"].sel(land_type=lt)
        np.testing.assert_allclose(float(t.sel(column="gep_nodata_ha")),
                                   area[sel & ~all_valid].sum(), rtol=RTOL)
        assert int(t.sel(column="gep_nodata_pixels")) == int((sel & ~all_valid).sum())
        # the GEP rows of the table count the pixels where the GEP map is nodata
        row = tidy[(tidy.service == "gep") & (tidy.land_type == lt)].iloc[0]
        assert row.excluded_pixels == int((sel & ~all_valid).sum())
        np.testing.assert_allclose(row.excluded_ha, area[sel & ~all_valid].sum(), rtol=RTOL)
        assert row.excluded_pixels == int(np.isnan(ds["gep"].values[sel]).sum())
        np.testing.assert_allclose(float(t.sel(column="water_clamped_ha")),
                                   area[sel & orc.clamped].sum(), rtol=RTOL)
    return ds


def test_a_raster_price_or_nutrient_takes_the_full_per_pixel_path():
    """Soil is linear in q_sr only while its other parameters are constants or tables."""
    rng = np.random.default_rng(11)
    base = {k: "table" for k in ALWAYS + ["lambda_over_rho", "precipitation",
            "runoff_coefficient", "evapotranspiration", "grain_output_value_per_ha",
            "agri_output_value_per_ha"]}
    base.update({"rainfall_erosivity_r": "raster", "precipitation": "raster"})
    for extra, linear in ((None, {"soil", "water"}), ("soil_n_content", {"water"}),
                          ("water_price", {"soil"}), ("dredging_cost", {"water"})):
        forms = dict(base)
        if extra:
            forms[extra] = "raster"
        lu, lu_da, api_params, oracle_params, area = _build(6, 5, rng, forms, False, 0.1)
        ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"]).compute()
        assert set(ds.attrs["linear_services"].split(",")) == linear, extra
        orc = Oracle(lu, CODES, 0, oracle_params, ["mine"], area)
        dens = orc.densities()
        for name, key in (("soil_value", ("soil", "value")), ("water_value", ("water", "value")),
                          ("gep", ("gep", "value"))):
            np.testing.assert_allclose(ds[name].values, dens[key], rtol=RTOL, equal_nan=True,
                                       err_msg=f"{name} with {extra} as a raster")


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 7), st.integers(1, 7))
def test_chunking_does_not_change_results(seed, cy, cx):
    rng = np.random.default_rng(seed)
    forms = {k: rng.choice(["constant", "table", "raster"]) for k in ALWAYS + ["lambda_over_rho",
             "water_retention_depth", "grain_output_value_per_ha", "agri_output_value_per_ha"]}
    lu, lu_da, api_params, _, _ = _build(13, 11, rng, forms, False, 0.1)
    one = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"]).compute()
    many = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"],
                                   chunks=(cy, cx)).compute()
    for name in ("gep", "soil_retention", "water_value"):
        np.testing.assert_array_equal(one[name].values, many[name].values)
    np.testing.assert_allclose(one["totals"].values, many["totals"].values, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_retention_never_increases_with_cover_or_practice(c1, c2, p1, p2):
    from gepgeo.services.soil import soil_retention

    lo_c, hi_c = sorted((c1, c2))
    lo_p, hi_p = sorted((p1, p2))
    r, k, ls = 5823.42, 0.0339, 11.23
    assert soil_retention(r, k, ls, hi_c, lo_p) <= soil_retention(r, k, ls, lo_c, lo_p)
    assert soil_retention(r, k, ls, lo_c, hi_p) <= soil_retention(r, k, ls, lo_c, lo_p)
    assert soil_retention(r, k, ls, hi_c, hi_p) >= 0.0


def test_physical_quantities_are_non_negative():
    rng = np.random.default_rng(7)
    forms = {k: "raster" for k in ALWAYS + ["lambda_over_rho", "precipitation",
             "runoff_coefficient", "evapotranspiration", "grain_output_value_per_ha",
             "agri_output_value_per_ha"]}
    lu, lu_da, api_params, _, _ = _build(20, 20, rng, forms, False, 0.0)
    ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"]).compute()
    for m in MEASURES:
        name = map_name(m)
        if name in ds and m.name != "k_fertilizer":
            vals = ds[name].values
            assert np.nanmin(vals) >= 0.0, name  # clamp policy: water is never negative


def test_oracle_is_independent():
    """The oracle imports nothing from gepgeo (it must not share code with the fast path)."""
    src = (Path(__file__).parent / "oracle.py").read_text()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "gepgeo" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("gepgeo")
            assert node.level == 0 or node.module not in (None, "")


def test_no_service_land_type_is_zero_even_with_nodata_layers():
    rng = np.random.default_rng(3)
    forms = {k: "raster" for k in ALWAYS + ["lambda_over_rho", "water_retention_depth",
             "grain_output_value_per_ha", "agri_output_value_per_ha"]}
    lu, lu_da, api_params, _, _ = _build(10, 10, rng, forms, False, 0.5)
    ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"]).compute()
    mine = lu == 7
    assert mine.any()
    assert np.all(ds["gep"].values[mine] == 0.0)
    assert np.all(ds["soil_retention"].values[mine] == 0.0)


@settings(max_examples=examples(30), deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 40), st.integers(1, 40),
       st.sampled_from(["int16", "uint8"]))
def test_out_of_domain_counts_equal_a_numpy_count(seed, ny, nx, lu_dtype):
    """With ``domain: mask``, the pixels of each raster whose value is valid but outside the
    parameter's domain are counted where the land use is mapped (not where it is nodata).
    The kernel counts them only in rows where some mapped pixel is invalid: rows with and
    without such pixels, and nodata holes, are all drawn here."""
    from gepgeo.parameters import PARAMETERS

    rng = np.random.default_rng(seed)
    keys = ["rainfall_erosivity_r", "soil_erodibility_k", "cover_management_c",
            "landscape_equivalent_factor"]    # all with a finite lower bound
    forms = {k: "table" for k in ALWAYS + ["lambda_over_rho", "water_retention_depth",
                                           "grain_output_value_per_ha", "agri_output_value_per_ha"]}
    forms.update({k: "raster" for k in keys})
    lu, lu_da, api_params, oracle_params, _ = _build(ny, nx, rng, forms, False,
                                                     float(rng.choice([0.0, 0.1])), lu_dtype)
    spec = {p.key: p for p in PARAMETERS}
    expected = {}
    for k in keys:
        arr = oracle_params[k].copy()
        # a few rows get out-of-domain values, the others none
        rows = rng.random(ny) < 0.3
        out = rows[:, None] & (rng.random((ny, nx)) < 0.3) & ~np.isnan(arr)
        arr[out] = spec[k].low - 1.0
        api_params[k] = make_da(arr, lu_da.rio.transform(), lu_da.rio.crs)
        # counted where the land type supplies services: not on nodata, nor on "mine"
        # (no_services: it gives 0 whatever its layers say)
        expected[k] = int((out & (lu != 0) & (lu != 7)).sum())
    ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"],
                                 domain="mask", chunks=(7, 9)).compute()
    got = {k: int(ds["pixel_stats"].sel(stat=f"out_of_domain.{k}")) for k in keys}
    assert got == expected


def test_gep_rows_count_the_pixels_where_the_gep_map_is_nodata():
    """Two services with nodata on different pixels: the GEP rows' excluded_pixels and
    excluded_ha are those of the union (where the GEP map is nodata), not the larger count."""
    import gepgeo.accounts

    rng = np.random.default_rng(5)
    forms = {k: "table" for k in ALWAYS + ["lambda_over_rho", "water_retention_depth",
             "grain_output_value_per_ha", "agri_output_value_per_ha"]}
    forms.update({"rainfall_erosivity_r": "raster", "water_retention_depth": "raster"})
    lu, lu_da, api_params, oracle_params, area = _build(12, 10, rng, forms, False, 0.0)
    r = oracle_params["rainfall_erosivity_r"].copy()
    w = oracle_params["water_retention_depth"].copy()
    r[:4, :] = np.nan        # soil nodata in the top rows, water nodata in the bottom rows
    w[-3:, :] = np.nan
    t, crs = lu_da.rio.transform(), lu_da.rio.crs
    api_params.update(rainfall_erosivity_r=make_da(r, t, crs),
                      water_retention_depth=make_da(w, t, crs))
    oracle_params.update(rainfall_erosivity_r=r, water_retention_depth=w)
    ds = gepgeo.compute_services(lu_da, CODES, api_params, no_services=["mine"],
                                 chunks=(5, 4)).compute()
    orc = Oracle(lu, CODES, 0, oracle_params, ["mine"], area)
    gep = orc.densities()[("gep", "value")]
    tidy = gepgeo.accounts.tidy_table(ds["totals"].values, LTS, [s.name for s in
                                      gepgeo.services.SERVICES],
                                      np.zeros(gepgeo.kernel.N_MODES, dtype=np.int64))
    for lt in ("forest", "cropland", "grass"):
        sel = (orc.lt == lt) & np.isnan(gep)
        assert sel.sum() > 0
        row = tidy[(tidy.service == "gep") & (tidy.land_type == lt)].iloc[0]
        assert row.excluded_pixels == int(sel.sum())
        np.testing.assert_allclose(row.excluded_ha, area[sel].sum(), rtol=RTOL)
