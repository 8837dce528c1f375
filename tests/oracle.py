"""Plain-NumPy reference implementation of METHOD.md: the oracle the fast path is tested against.

Written separately from gepgeo's kernels, in whole-array NumPy, straight from the formulas of
METHOD.md. It imports nothing from gepgeo (``test_oracle_is_independent`` checks that).

Inputs are already decoded: every raster parameter is a float64 array in canonical units with
NaN as nodata; constants are numbers; tables are ``{land_type: value}``.
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod

DEFAULTS = {"air_rate_multiplier": 1.0, "forest_soil_carbon_beta": 0.0,
            "co2_per_c": 44.0 / 12.0, "o2_per_co2": 32.0 / 44.0,
            "equivalent_value_coefficient": 1.0 / 7.0}

SERVICES = ["agriculture", "water", "soil", "air", "carbon", "oxygen", "climate", "landscape"]


def cell_area_ha_projected(ny, nx, res_x, res_y, metres_per_unit=1.0):
    """Pixel area of a projected north-up grid (map plane), ha."""
    return np.full((ny, nx), abs(res_x * res_y) * metres_per_unit**2 / 1e4)


def cell_area_ha_geographic(ny, nx, west, north, res_deg, ellps="WGS84"):
    """True areas of the cells of a geographic grid (bounded by parallels and meridians), ha.

    Integrates the ellipsoid's area element dA = M(φ) N(φ) cos φ dφ dλ
    = a² (1 − e²) cos φ / (1 − e² sin² φ)² dφ dλ with 40-point Gauss–Legendre quadrature per
    row: a derivation independent of gepgeo's closed form. (pyproj's geodesic polygon area is
    not used here: geodesic edges bulge away from the parallels, ~1e-9 relative at 0.01°.)
    """
    ell = Geod(ellps=ellps)
    a, f = ell.a, ell.f
    e2 = f * (2 - f)
    x, w = np.polynomial.legendre.leggauss(40)
    dlon = np.radians(res_deg)
    out = np.empty((ny, nx))
    for i in range(ny):
        p2 = np.radians(north - i * res_deg)
        p1 = np.radians(north - (i + 1) * res_deg)
        phi = 0.5 * (p2 - p1) * x + 0.5 * (p2 + p1)
        g = a * a * (1 - e2) * np.cos(phi) / (1 - e2 * np.sin(phi) ** 2) ** 2
        out[i, :] = dlon * 0.5 * (p2 - p1) * np.sum(w * g) / 1e4
    return out


def cell_area_ha_true(ny, nx, transform, crs):
    """True areas of the pixels of a projected grid, ha: each pixel's corners taken to
    longitude/latitude and the geodesic polygon's area on the ellipsoid (pyproj's Geod). Edges
    straight in the projection differ from geodesics by ~1e-11 relative at 10–30 m pixels."""
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(crs)
    to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    geod = Geod(a=crs.ellipsoid.semi_major_metre, rf=crs.ellipsoid.inverse_flattening)
    a, _, c, _, e, f = transform[:6]
    out = np.empty((ny, nx))
    for i in range(ny):
        for j in range(nx):
            xs = [c + a * j, c + a * (j + 1), c + a * (j + 1), c + a * j]
            ys = [f + e * i, f + e * i, f + e * (i + 1), f + e * (i + 1)]
            lon, lat = to_geo.transform(xs, ys)
            out[i, j] = abs(geod.polygon_area_perimeter(lon, lat)[0]) / 1e4
    return out


class Oracle:
    """Evaluate every service on whole arrays.

    Parameters
    ----------
    lu : int array (ny, nx)
    codes : dict code -> land type
    lu_nodata : int or None
    params : dict key -> number | dict | float array (NaN = nodata)
    no_services : iterable of land types
    area : float array (ny, nx), ha
    water_deficit : "clamp" or "signed"
    """

    def __init__(self, lu, codes, lu_nodata, params, no_services, area, water_deficit="clamp"):
        self.lu = lu
        self.codes = codes
        self.params = dict(params)
        for k, v in DEFAULTS.items():
            self.params.setdefault(k, v)
        self.area = area
        self.water_deficit = water_deficit
        self.lu_valid = np.array([[(c != lu_nodata) and (c in codes) for c in row] for row in lu],
                                 dtype=bool)
        self.lt = np.array([[codes.get(c, "") if v else "" for c, v in zip(row, vrow)]
                            for row, vrow in zip(lu, self.lu_valid)], dtype=object)
        self.no_supply = np.isin(self.lt, list(no_services))
        self.raster_keys = {k for k, v in self.params.items() if isinstance(v, np.ndarray)}

    def has(self, key):
        return key in self.params

    def get(self, key):
        v = self.params[key]
        if isinstance(v, np.ndarray):
            return v.astype(np.float64)
        if isinstance(v, dict):
            out = np.full(self.lu.shape, np.nan)
            for lt, x in v.items():
                out[self.lt == lt] = x
            return out
        return np.full(self.lu.shape, float(v))

    def keys_for(self, service):
        h = self.has
        if service == "agriculture":
            value_per_ha = h("agri_output_value_per_ha") or not h("crop_yield")
            return ["agri_output_value_per_ha"] if value_per_ha else ["crop_yield", "crop_price"]
        if service == "water":
            if h("water_retention_depth"):
                base = ["water_retention_depth"]
            elif h("runoff_coefficient") or not h("runoff"):
                base = ["precipitation", "runoff_coefficient", "evapotranspiration"]
            else:
                base = ["precipitation", "runoff", "evapotranspiration"]
            return base + ["water_price"]
        if service == "soil":
            sed = (["lambda_over_rho"] if h("lambda_over_rho")
                   else ["sediment_deposition_coefficient_lambda", "soil_bulk_density_rho"])
            pot = (["soil_k_content", "k_to_fertilizer_factor", "k_fertilizer_price"]
                   if h("soil_k_content") else [])
            return ["rainfall_erosivity_r", "soil_erodibility_k", "slope_length_steepness_ls",
                    "cover_management_c", "support_practice_p", *sed, "dredging_cost",
                    "soil_n_content", "soil_p_content", "n_to_fertilizer_factor",
                    "p_to_fertilizer_factor", "n_fertilizer_price", "p_fertilizer_price", *pot]
        if service == "air":
            return ["so2_uptake_rate", "nox_uptake_rate", "dust_uptake_rate",
                    "air_rate_multiplier", "so2_charge", "nox_charge", "dust_charge"]
        if service == "carbon":
            return ["carbon_sequestration_rate", "forest_soil_carbon_beta", "co2_per_c",
                    "carbon_price"]
        if service == "oxygen":
            return ["carbon_sequestration_rate", "forest_soil_carbon_beta", "co2_per_c",
                    "o2_per_co2", "oxygen_price"]
        if service == "climate":
            return ["heat_absorption", "ac_days", "ac_energy_efficiency_ratio",
                    "electricity_price"]
        if service == "landscape":
            g = (["grain_output_value_per_ha"] if h("grain_output_value_per_ha")
                 else ["grain_price", "grain_yield"])
            return ["landscape_equivalent_factor", "equivalent_value_coefficient", *g]
        raise KeyError(service)

    def valid(self, service):
        ok = self.lu_valid.copy()
        for k in self.keys_for(service):
            if k in self.raster_keys:
                ok &= ~np.isnan(self.params[k]) | self.no_supply
        return ok

    def densities(self):
        """dict (service, measure) -> density array, NaN where invalid; and clamped mask."""
        g = self.get
        d = {}
        # productive area is physical: land with a crop yield, whatever the crop's price; with
        # only an output value per ha, land whose output is worth something
        if self.has("agri_output_value_per_ha") or not self.has("crop_yield"):
            v = g("agri_output_value_per_ha")
            productive = v > 0
        else:
            mass = g("crop_yield")
            d[("agriculture", "product_mass")] = mass
            v = mass * g("crop_price")
            productive = mass > 0
        d[("agriculture", "value")] = v
        d[("agriculture", "productive_area")] = productive.astype(float)
        if self.has("water_retention_depth"):
            depth = g("water_retention_depth")
        elif self.has("runoff_coefficient") or not self.has("runoff"):
            p = g("precipitation")
            depth = p - p * g("runoff_coefficient") - g("evapotranspiration")
        else:
            depth = g("precipitation") - g("runoff") - g("evapotranspiration")
        self.clamped = (depth < 0) & (self.water_deficit == "clamp")
        if self.water_deficit == "clamp":
            depth = np.where(depth < 0, 0.0, depth)
        q = depth * 1e-3 * 1e4          # m3 per ha: mm -> m, times m2 per ha
        d[("water", "water_conservation")] = q
        d[("water", "value")] = q * g("water_price")
        qsr = (g("rainfall_erosivity_r") * g("soil_erodibility_k") * g("slope_length_steepness_ls")
               * (1 - g("cover_management_c") * g("support_practice_p")))
        lrho = (g("lambda_over_rho") if self.has("lambda_over_rho")
                else g("sediment_deposition_coefficient_lambda") / g("soil_bulk_density_rho"))
        vol = qsr * lrho
        n = qsr * g("soil_n_content") / 1000 * g("n_to_fertilizer_factor")
        ph = qsr * g("soil_p_content") / 1000 * g("p_to_fertilizer_factor")
        d[("soil", "soil_retention")] = qsr
        d[("soil", "sediment_volume")] = vol
        d[("soil", "n_fertilizer")] = n
        d[("soil", "p_fertilizer")] = ph
        d[("soil", "sediment_value")] = vol * g("dredging_cost")
        d[("soil", "n_fertilizer_value")] = n * g("n_fertilizer_price")
        d[("soil", "p_fertilizer_value")] = ph * g("p_fertilizer_price")
        total = (d[("soil", "sediment_value")] + d[("soil", "n_fertilizer_value")]
                 + d[("soil", "p_fertilizer_value")])
        if self.has("soil_k_content"):
            kk = qsr * g("soil_k_content") / 1000 * g("k_to_fertilizer_factor")
            d[("soil", "k_fertilizer")] = kk
            d[("soil", "k_fertilizer_value")] = kk * g("k_fertilizer_price")
            total = total + d[("soil", "k_fertilizer_value")]
        d[("soil", "value")] = total
        m = g("air_rate_multiplier")
        air_total = 0
        for j in ("so2", "nox", "dust"):
            qj = g(f"{j}_uptake_rate") * m
            d[("air", j)] = qj
            d[("air", f"{j}_value")] = qj * g(f"{j}_charge")
            air_total = air_total + d[("air", f"{j}_value")]
        d[("air", "value")] = air_total
        cf = g("carbon_sequestration_rate") * (1 + g("forest_soil_carbon_beta"))
        co2 = g("co2_per_c") * cf
        d[("carbon", "carbon")] = cf
        d[("carbon", "co2")] = co2
        d[("carbon", "value")] = co2 * g("carbon_price")
        o2 = g("o2_per_co2") * co2
        d[("oxygen", "o2")] = o2
        d[("oxygen", "value")] = o2 * g("oxygen_price")
        e = g("heat_absorption") * g("ac_days") / (3600 * g("ac_energy_efficiency_ratio"))
        d[("climate", "cooling_energy")] = e
        d[("climate", "value")] = e * g("electricity_price")
        gv = (g("grain_output_value_per_ha") if self.has("grain_output_value_per_ha")
              else g("grain_price") * g("grain_yield"))
        d[("landscape", "value")] = (g("landscape_equivalent_factor")
                                     * g("equivalent_value_coefficient") * gv)
        # no-service land types: valid zeros; invalid pixels: NaN
        out = {}
        for (svc, meas), arr in d.items():
            arr = np.where(self.no_supply, 0.0, arr)
            out[(svc, meas)] = np.where(self.valid(svc), arr, np.nan)
        gep = sum(np.where(np.isnan(out[(s, "value")]), 0.0, out[(s, "value")]) for s in SERVICES)
        all_valid = np.logical_and.reduce([self.valid(s) for s in SERVICES])
        out[("gep", "value")] = np.where(all_valid, gep, np.nan)
        out[("gep", "partial")] = np.where(self.lu_valid, gep, np.nan)
        self.clamped &= self.valid("water") & ~self.no_supply
        return out

    def totals(self, dens):
        """dict (service, measure) -> {land_type: total (density x area over valid pixels)}."""
        res = {}
        lts = sorted(set(self.codes.values()))
        for key, arr in dens.items():
            res[key] = {}
            for lt in lts:
                sel = (self.lt == lt) & ~np.isnan(arr)
                res[key][lt] = float(np.sum(arr[sel] * self.area[sel]))
        return res
