"""The fused per-block kernel: every service, every pixel, one traversal.

:func:`gep_block` walks a block of the land-use grid once. For each pixel it maps the land-use
code to a land type, decodes and validates the factor layers, looks up every parameter (from a
table by land type or from a layer), evaluates the formulas of :mod:`gepgeo.services`, writes the
requested density maps and adds ``density × pixel area`` into float64 accumulators by zone and
land type. It never touches files, xarray or dask: :mod:`gepgeo.compute` feeds it NumPy blocks.

Layout of the accumulator (last axis, see :data:`COLUMNS`): one column per measure of
:data:`gepgeo.services.MEASURES` (totals: density × area), then per service the pixels and
hectares left out for nodata, then land area, pixel count, water-deficit pixels and hectares
clamped, and hectares where the GEP map is nodata.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .parameters import PARAM_INDEX
from .services import MEASURE_INDEX, MEASURES, SERVICE_INDEX, SERVICES
from .services.carbon import carbon_fixed
from .services.climate import cooling_energy
from .services.landscape import landscape_value
from .services.soil import fertilizer_equivalent, sediment_volume, soil_retention
from .services.water import balance_depth, water_volume

__all__ = ["gep_block", "class_densities", "finish_block", "service_layout", "COLUMNS", "GEP_COLUMN", "N_MEASURES", "N_SERVICES", "MODE", "measure_services"]

N_MEASURES = len(MEASURES)
N_SERVICES = len(SERVICES)

# accumulator columns after the measures
COL_EXCL_N = N_MEASURES                      # + service index
COL_EXCL_HA = N_MEASURES + N_SERVICES        # + service index
COL_AREA = N_MEASURES + 2 * N_SERVICES
COL_PIXELS = COL_AREA + 1
COL_CLAMP_N = COL_AREA + 2
COL_CLAMP_HA = COL_AREA + 3
COL_GEP_NODATA_HA = COL_AREA + 4
N_COLUMNS = COL_AREA + 5

COLUMNS: tuple[str, ...] = (
    tuple(f"{m.service}.{m.name}" for m in MEASURES)
    + tuple(f"excluded_pixels.{s.name}" for s in SERVICES)
    + tuple(f"excluded_ha.{s.name}" for s in SERVICES)
    + ("area_ha", "pixels", "water_clamped_pixels", "water_clamped_ha", "gep_nodata_ha")
)

#: positions in the ``modes`` vector
MODE = {
    "water": 0,          # 0 net depth, 1 P − P·α − ET, 2 P − runoff − ET
    "sediment": 1,       # 0 λ/ρ given, 1 λ and ρ
    "grain": 2,          # 0 Pa·Pb given, 1 price × yield
    "agriculture": 3,    # 0 value per ha, 1 yield × price
    "water_signed": 4,   # 0 clamp deficits to 0, 1 keep signed
    "potassium": 5,      # 1 when the K nutrient is part of the soil value
}
N_MODES = len(MODE)


def measure_services() -> np.ndarray:
    """Service index of each measure (-1 for GEP), as the kernel expects it."""
    return np.array([SERVICE_INDEX.get(m.service, -1) for m in MEASURES], dtype=np.int64)


# parameter slots (compile-time constants for numba)
_P = PARAM_INDEX
P_R, P_K, P_LS, P_C, P_P = (_P["rainfall_erosivity_r"], _P["soil_erodibility_k"],
                            _P["slope_length_steepness_ls"], _P["cover_management_c"],
                            _P["support_practice_p"])
P_LRHO, P_LAMBDA, P_RHO, P_DREDGE = (_P["lambda_over_rho"],
                                     _P["sediment_deposition_coefficient_lambda"],
                                     _P["soil_bulk_density_rho"], _P["dredging_cost"])
P_CN, P_CP, P_CK = _P["soil_n_content"], _P["soil_p_content"], _P["soil_k_content"]
P_AN, P_AP, P_AK = (_P["n_to_fertilizer_factor"], _P["p_to_fertilizer_factor"],
                    _P["k_to_fertilizer_factor"])
P_PN, P_PP, P_PK = _P["n_fertilizer_price"], _P["p_fertilizer_price"], _P["k_fertilizer_price"]
P_PRECIP, P_RCOEF, P_RUNOFF, P_ET, P_DEPTH, P_WPRICE = (
    _P["precipitation"], _P["runoff_coefficient"], _P["runoff"], _P["evapotranspiration"],
    _P["water_retention_depth"], _P["water_price"])
P_SO2, P_NOX, P_DUST, P_AIRM = (_P["so2_uptake_rate"], _P["nox_uptake_rate"],
                                _P["dust_uptake_rate"], _P["air_rate_multiplier"])
P_CSO2, P_CNOX, P_CDUST = _P["so2_charge"], _P["nox_charge"], _P["dust_charge"]
P_CRATE, P_BETA, P_CO2C, P_CPRICE = (_P["carbon_sequestration_rate"],
                                     _P["forest_soil_carbon_beta"], _P["co2_per_c"],
                                     _P["carbon_price"])
P_O2CO2, P_O2PRICE = _P["o2_per_co2"], _P["oxygen_price"]
P_HEAT, P_DAYS, P_EER, P_ELEC = (_P["heat_absorption"], _P["ac_days"],
                                 _P["ac_energy_efficiency_ratio"], _P["electricity_price"])
P_EQF, P_EQK, P_GPRICE, P_GYIELD, P_GVALUE = (
    _P["landscape_equivalent_factor"], _P["equivalent_value_coefficient"], _P["grain_price"],
    _P["grain_yield"], _P["grain_output_value_per_ha"])
P_AVALUE, P_CYIELD, P_CPRICE_CROP = (_P["agri_output_value_per_ha"], _P["crop_yield"],
                                     _P["crop_price"])
N_PARAMS = len(PARAM_INDEX)

_M = MEASURE_INDEX
M_AG_AREA, M_AG_MASS, M_AG_V = (_M[("agriculture", "productive_area")],
                                _M[("agriculture", "product_mass")], _M[("agriculture", "value")])
M_W_Q, M_W_V = _M[("water", "water_conservation")], _M[("water", "value")]
M_S_Q, M_S_VOL, M_S_N, M_S_P, M_S_K = (_M[("soil", "soil_retention")],
                                       _M[("soil", "sediment_volume")],
                                       _M[("soil", "n_fertilizer")], _M[("soil", "p_fertilizer")],
                                       _M[("soil", "k_fertilizer")])
M_S_VSED, M_S_VN, M_S_VP, M_S_VK, M_S_V = (_M[("soil", "sediment_value")],
                                           _M[("soil", "n_fertilizer_value")],
                                           _M[("soil", "p_fertilizer_value")],
                                           _M[("soil", "k_fertilizer_value")],
                                           _M[("soil", "value")])
M_A_SO2, M_A_NOX, M_A_DUST = _M[("air", "so2")], _M[("air", "nox")], _M[("air", "dust")]
M_A_VSO2, M_A_VNOX, M_A_VDUST, M_A_V = (_M[("air", "so2_value")], _M[("air", "nox_value")],
                                        _M[("air", "dust_value")], _M[("air", "value")])
M_C_C, M_C_CO2, M_C_V = _M[("carbon", "carbon")], _M[("carbon", "co2")], _M[("carbon", "value")]
M_O_O2, M_O_V = _M[("oxygen", "o2")], _M[("oxygen", "value")]
M_CL_E, M_CL_V = _M[("climate", "cooling_energy")], _M[("climate", "value")]
M_L_V = _M[("landscape", "value")]
M_GEP = _M[("gep", "value")]
GEP_COLUMN = M_GEP

S_AG, S_W, S_S, S_A, S_C, S_O, S_CL, S_L = (SERVICE_INDEX[n] for n in (
    "agriculture", "water", "soil", "air", "carbon", "oxygen", "climate", "landscape"))


@njit(cache=True, nogil=True, inline="always")
def _services(pv, modes, on, ok, dens):
    """Evaluate every enabled, valid service at one pixel into ``dens`` (per-ha densities).

    Returns 1 when the water balance was clamped from a deficit to 0, else 0.
    """
    clamped = 0
    if on[S_AG] and ok[S_AG]:
        if modes[3] == 0:
            v = pv[P_AVALUE]
            dens[M_AG_MASS] = 0.0
        else:
            mass = pv[P_CYIELD]
            dens[M_AG_MASS] = mass
            v = mass * pv[P_CPRICE_CROP]
        dens[M_AG_V] = v
        dens[M_AG_AREA] = 1.0 if v > 0.0 else 0.0
    if on[S_W] and ok[S_W]:
        wm = modes[0]
        if wm == 0:
            depth = pv[P_DEPTH]
        elif wm == 1:
            depth = balance_depth(pv[P_PRECIP], pv[P_PRECIP] * pv[P_RCOEF], pv[P_ET])
        else:
            depth = balance_depth(pv[P_PRECIP], pv[P_RUNOFF], pv[P_ET])
        if depth < 0.0 and modes[4] == 0:
            depth = 0.0
            clamped = 1
        q = water_volume(depth)
        dens[M_W_Q] = q
        dens[M_W_V] = q * pv[P_WPRICE]
    if on[S_S] and ok[S_S]:
        qsr = soil_retention(pv[P_R], pv[P_K], pv[P_LS], pv[P_C], pv[P_P])
        lrho = pv[P_LRHO] if modes[1] == 0 else pv[P_LAMBDA] / pv[P_RHO]
        vol = sediment_volume(qsr, lrho)
        fn = fertilizer_equivalent(qsr, pv[P_CN], pv[P_AN])
        fp = fertilizer_equivalent(qsr, pv[P_CP], pv[P_AP])
        dens[M_S_Q] = qsr
        dens[M_S_VOL] = vol
        dens[M_S_N] = fn
        dens[M_S_P] = fp
        dens[M_S_VSED] = vol * pv[P_DREDGE]
        dens[M_S_VN] = fn * pv[P_PN]
        dens[M_S_VP] = fp * pv[P_PP]
        if modes[5] == 1:
            fk = fertilizer_equivalent(qsr, pv[P_CK], pv[P_AK])
            dens[M_S_K] = fk
            dens[M_S_VK] = fk * pv[P_PK]
        else:
            dens[M_S_K] = 0.0
            dens[M_S_VK] = 0.0
        dens[M_S_V] = dens[M_S_VSED] + dens[M_S_VN] + dens[M_S_VP] + dens[M_S_VK]
    if on[S_A] and ok[S_A]:
        m = pv[P_AIRM]
        so2 = pv[P_SO2] * m
        nox = pv[P_NOX] * m
        dust = pv[P_DUST] * m
        dens[M_A_SO2] = so2
        dens[M_A_NOX] = nox
        dens[M_A_DUST] = dust
        dens[M_A_VSO2] = so2 * pv[P_CSO2]
        dens[M_A_VNOX] = nox * pv[P_CNOX]
        dens[M_A_VDUST] = dust * pv[P_CDUST]
        dens[M_A_V] = dens[M_A_VSO2] + dens[M_A_VNOX] + dens[M_A_VDUST]
    if (on[S_C] and ok[S_C]) or (on[S_O] and ok[S_O]):
        cf = carbon_fixed(pv[P_CRATE], pv[P_BETA])
        co2 = pv[P_CO2C] * cf
        if on[S_C] and ok[S_C]:
            dens[M_C_C] = cf
            dens[M_C_CO2] = co2
            dens[M_C_V] = co2 * pv[P_CPRICE]
        if on[S_O] and ok[S_O]:
            o2 = pv[P_O2CO2] * co2
            dens[M_O_O2] = o2
            dens[M_O_V] = o2 * pv[P_O2PRICE]
    if on[S_CL] and ok[S_CL]:
        e = cooling_energy(pv[P_HEAT], pv[P_DAYS], pv[P_EER])
        dens[M_CL_E] = e
        dens[M_CL_V] = e * pv[P_ELEC]
    if on[S_L] and ok[S_L]:
        gv = pv[P_GVALUE] if modes[2] == 0 else pv[P_GPRICE] * pv[P_GYIELD]
        dens[M_L_V] = landscape_value(pv[P_EQF], pv[P_EQK], gv)
    return clamped


@njit(cache=True, nogil=True)
def class_densities(table, supplies, on, modes, nmeas):
    """Densities of every service for each land type from constants and tables alone.

    Returns ``dclass[nclass, nmeasure]`` (0 for land types that supply nothing) and
    ``clamp[nclass]`` (1 where the water balance of the land type was clamped). Services that
    read a raster get NaN here and are evaluated per pixel instead.
    """
    nparam, nclass = table.shape
    dclass = np.zeros((nclass, nmeas), dtype=np.float64)
    clamp = np.zeros(nclass, dtype=np.uint8)
    ok = np.ones(on.shape[0], dtype=np.uint8)
    pv = np.empty(nparam, dtype=np.float64)
    for c in range(nclass):
        if supplies[c] == 0:
            continue
        for p in range(nparam):
            pv[p] = table[p, c]
        clamp[c] = _services(pv, modes, on, ok, dclass[c])
    return dclass, clamp


@njit(cache=True, nogil=True)
def gep_block(lu, lu_nodata, lu_has_nodata, lut, lut_offset,
              layers, lay_nodata, lay_has_nodata, lay_scale, lay_offset, lay_low, lay_high,
              param_of_layer, zones, zone_offset, area,
              table, supplies, on, dyn, need, modes, msvc, mstart, mstop, value_idx,
              dclass, clamp_class, map_idx, out, acc, stats):
    """Compute all services for one block, write density maps and accumulate totals.

    Services whose parameters are all constants or tables (``dyn[s] == 0``) are evaluated once
    per land type (``dclass``, from :func:`class_densities`); their maps are looked up per pixel
    and their totals are added afterwards by :func:`finish_block` as density × land-type area.
    Services that read a raster (``dyn[s] == 1``) are evaluated per pixel.

    Parameters
    ----------
    lu : int64[ny, nx]
        Land-use codes.
    lu_nodata : int64
        Land-use nodata code (ignored unless ``lu_has_nodata``).
    lut : int32[ncodes]
        Land-type index of code ``lut_offset + i``; -1 for codes the mapping does not declare.
    layers : float32 or float64[nl, ny, nx]
        Raw factor-layer values as stored in their files.
    lay_nodata, lay_has_nodata : float64[nl], uint8[nl]
        Nodata value of each layer (NaN is always nodata).
    lay_scale, lay_offset : float64[nl]
        Decoding ``raw · scale + offset`` into the parameter's canonical unit.
    lay_low, lay_high : float64[nl]
        Domain of each layer's parameter; a decoded value outside it is left out and counted.
    param_of_layer : int64[nl]
        Parameter slot each layer supplies.
    zones : int32[nzl, ny, nx]
        Zone index of each pixel for each zone layer (-1 outside every zone).
    zone_offset : int64[nzl]
        First accumulator slot (minus one) of each zone layer.
    area : float64[ny, 1] or float64[ny, nx]
        Pixel area, ha.
    table : float64[nparam, nclass]
        Parameter values by land type (canonical units); raster slots are overwritten per pixel.
    supplies : uint8[nclass]
        0 for land types declared to supply no services (every service is a valid 0 there).
    on, dyn : uint8[nservice]
        Services enabled; services that read at least one raster layer.
    need : int64[nservice]
        Bit mask of the layers each service needs.
    modes : int64[N_MODES]
        Formula variants, see :data:`MODE`.
    msvc : int64[nmeasure]
        Service index of each measure (-1 for GEP).
    mstart, mstop : int64[nservice]
        The measures of service s are ``mstart[s]:mstop[s]``.
    value_idx : int64[nservice]
        Measure index of each service's value.
    dclass, clamp_class : float64[nclass, nmeasure], uint8[nclass]
        From :func:`class_densities`.
    map_idx : int64[nmaps]
        Measure written to each band of ``out``.
    out : float32 or float64[nmaps, ny, nx]
        Density maps (filled; NaN where the measure is nodata).
    acc : float64[nslot, nclass, N_COLUMNS]
        Accumulators (added to); slot 0 is the whole grid, slot 1 + zone_offset[l] + z is zone z
        of zone layer l.
    stats : int64[2 + nl]
        Added to: land-use nodata pixels, unmapped-code pixels, out-of-domain pixels per layer.
    """
    ny, nx = lu.shape
    nl = layers.shape[0]
    nzl = zones.shape[0]
    nclass = table.shape[1]
    nparam = table.shape[0]
    nserv = on.shape[0]
    nmeas = msvc.shape[0]
    nmaps = map_idx.shape[0]
    nlut = lut.shape[0]
    area_cols = area.shape[1]
    # per-class scratch parameter vectors: table values, raster slots overwritten per pixel
    pvc = np.empty((nclass, nparam), dtype=np.float64)
    for c in range(nclass):
        for p in range(nparam):
            pvc[c, p] = table[p, c]
    dyn_on = np.zeros(nserv, dtype=np.uint8)
    any_dyn = False
    for s in range(nserv):
        if on[s] and dyn[s]:
            dyn_on[s] = 1
            any_dyn = True
    gep_const = np.zeros(nclass, dtype=np.float64)
    for c in range(nclass):
        for s in range(nserv):
            if on[s] and not dyn[s]:
                gep_const[c] += dclass[c, value_idx[s]]
    water = S_W
    water_dyn = dyn_on[water] == 1
    vals = np.empty(max(nl, 1), dtype=np.float64)
    pv = np.empty(nparam, dtype=np.float64)
    ok = np.zeros(nserv, dtype=np.uint8)
    dens = np.zeros(nmeas, dtype=np.float64)
    slots = np.empty(nzl + 1, dtype=np.int64)
    nan = np.nan
    for i in range(ny):
        for j in range(nx):
            code = lu[i, j]
            if lu_has_nodata and code == lu_nodata:
                stats[0] += 1
                for m in range(nmaps):
                    out[m, i, j] = nan
                continue
            li = code - lut_offset
            cls = -1
            if li >= 0 and li < nlut:
                cls = lut[li]
            if cls < 0:
                stats[1] += 1
                for m in range(nmaps):
                    out[m, i, j] = nan
                continue
            a = area[i, j if area_cols > 1 else 0]
            supplying = supplies[cls] != 0
            gep = 0.0
            gep_ok = True
            clamped = 0
            if supplying:
                gep = gep_const[cls]
                if on[water] and not water_dyn:
                    clamped = clamp_class[cls]
                if any_dyn:
                    bits = 0
                    for layer in range(nl):
                        raw = layers[layer, i, j]
                        if np.isnan(raw) or (lay_has_nodata[layer] and raw == lay_nodata[layer]):
                            continue
                        v = raw * lay_scale[layer] + lay_offset[layer]
                        if v < lay_low[layer] or v > lay_high[layer]:
                            stats[2 + layer] += 1
                            continue
                        vals[layer] = v
                        bits |= 1 << layer
                    for p in range(nparam):
                        pv[p] = pvc[cls, p]
                    for layer in range(nl):
                        pv[param_of_layer[layer]] = vals[layer] if (bits >> layer) & 1 else nan
                    for s in range(nserv):
                        ok[s] = 1 if (dyn_on[s] and (bits & need[s]) == need[s]) else 0
                    c2 = _services(pv, modes, dyn_on, ok, dens)
                    if water_dyn:
                        clamped = c2
                    for s in range(nserv):
                        if dyn_on[s]:
                            if ok[s]:
                                gep += dens[value_idx[s]]
                            else:
                                gep_ok = False
            # maps
            for m in range(nmaps):
                k = map_idx[m]
                s = msvc[k]
                if s < 0:
                    out[m, i, j] = gep if gep_ok else nan
                elif not supplying:
                    out[m, i, j] = 0.0
                elif dyn[s]:
                    out[m, i, j] = dens[k] if ok[s] else nan
                else:
                    out[m, i, j] = dclass[cls, k]
            # accumulators: whole grid and each zone layer's zone
            slots[0] = 0
            nslots = 1
            for zl in range(nzl):
                z = zones[zl, i, j]
                if z >= 0:
                    slots[nslots] = 1 + zone_offset[zl] + z
                    nslots += 1
            for t in range(nslots):
                sl = slots[t]
                acc[sl, cls, COL_AREA] += a
                acc[sl, cls, COL_PIXELS] += 1.0
                if clamped:
                    acc[sl, cls, COL_CLAMP_N] += 1.0
                    acc[sl, cls, COL_CLAMP_HA] += a
                if supplying and any_dyn:
                    for s in range(nserv):
                        if dyn_on[s]:
                            if ok[s]:
                                for k in range(mstart[s], mstop[s]):
                                    acc[sl, cls, k] += dens[k] * a
                            else:
                                acc[sl, cls, COL_EXCL_N + s] += 1.0
                                acc[sl, cls, COL_EXCL_HA + s] += a
                    if not gep_ok:
                        acc[sl, cls, COL_GEP_NODATA_HA] += a


def finish_block(acc: np.ndarray, dclass: np.ndarray, on: np.ndarray, dyn: np.ndarray,
                 mstart: np.ndarray, mstop: np.ndarray, value_idx: np.ndarray) -> None:
    """Add the totals of class-constant services (density × land-type area) and the GEP column.

    The GEP total is the sum of the service value totals (METHOD.md: each over its own valid
    pixels).
    """
    area = acc[:, :, COL_AREA]
    for s in range(on.shape[0]):
        if on[s] and not dyn[s]:
            acc[:, :, mstart[s]:mstop[s]] += dclass[None, :, mstart[s]:mstop[s]] * area[:, :, None]
    acc[:, :, M_GEP] = 0.0
    for s in range(on.shape[0]):
        if on[s]:
            acc[:, :, M_GEP] += acc[:, :, value_idx[s]]


def service_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mstart``, ``mstop`` and ``value_idx`` per service (measures are contiguous per service)."""
    msvc = measure_services()
    mstart = np.zeros(N_SERVICES, dtype=np.int64)
    mstop = np.zeros(N_SERVICES, dtype=np.int64)
    value_idx = np.zeros(N_SERVICES, dtype=np.int64)
    for s in range(N_SERVICES):
        idx = np.flatnonzero(msvc == s)
        assert idx.size and np.all(np.diff(idx) == 1), "measures of a service must be contiguous"
        mstart[s], mstop[s] = idx[0], idx[-1] + 1
        value_idx[s] = MEASURE_INDEX[(SERVICES[s].name, "value")]
    return mstart, mstop, value_idx
