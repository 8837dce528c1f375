"""The fused per-block kernel: every service, every pixel, one traversal.

:func:`gep_block` walks a block of the land-use grid once. For each pixel it maps the land-use
code to a land type, decodes and validates the factor layers, looks up every parameter (from a
table by land type or from a layer), evaluates the formulas of :mod:`gepgeo.services`, writes the
requested density maps and adds ``density × pixel area`` into float64 accumulators by zone and
land type. It never touches files, xarray or dask: :mod:`gepgeo.compute` feeds it NumPy blocks.

Linear services. Every measure of soil retention is q_sr = R·K·LS·(1 − C·P) times a product of
parameters (λ/ρ, nutrient contents, prices ...), and every measure of water conservation is the
(clamped) balance depth times M3_PER_HA_PER_MM and the water price. When those other parameters
come from constants or tables, a measure is ``driver × coef[land type]``: the kernel then
evaluates only the driver per pixel (:func:`_drivers_row`), accumulates Σ driver × area per land
type and zone, and :func:`finish_block` multiplies by the coefficients. The coefficients come
from the service formulas themselves, evaluated per land type at a unit driver, and the
linearity is checked there, at driver 0, 1 and 2 (:func:`linear_coefficients`); a service that
fails the check, or whose other parameters come from rasters, is evaluated in full per pixel.
The totals are the same sums, added in another order (relative differences ~1e-15).

Layout of the accumulator (last axis, see :data:`COLUMNS`): one column per measure of
:data:`gepgeo.services.MEASURES` (totals: density × area), then per service the pixels and
hectares left out for nodata, then land area, pixel count, water-deficit pixels and hectares
clamped, and hectares and pixels where the GEP map is nodata; the kernel's accumulator has one
more column (:data:`COL_GEP_MAP_VALUE`): Σ(GEP map × pixel area) over the pixels where the GEP
map has data (yuan a⁻¹; 0 when the GEP map is not written).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import config as _numba_config
from numba import njit

from .codegen import method_cache_dir, services_row_for
from .parameters import PARAM_INDEX
from .services import MEASURE_INDEX, MEASURES, METHOD, SERVICE_INDEX, SERVICES
from .services.soil import soil_retention
from .services.water import balance_depth

#: the per-pixel evaluation of every service, generated from their declarations
_services_row = services_row_for(METHOD)
# With services added by plugins, this module's constants and the code it calls differ from
# the shipped method's, but numba's cache knows a function only by its own bytecode: such a
# method's kernel is cached in a folder of its own (restored at the end of the module).
_method_dir = method_cache_dir(METHOD)
_numba_cache_dir = getattr(_numba_config, "CACHE_DIR", "")
if _method_dir is not None:
    setattr(_numba_config, "CACHE_DIR", str(_method_dir / "numba"))  # noqa: B010

__all__ = ["gep_block", "KernelPlan", "ExtendedTables", "extended_tables", "row_buffers", "class_densities", "linear_coefficients", "finish_block", "service_layout", "COLUMNS", "GEP_COLUMN", "N_MEASURES", "N_SERVICES", "MODE", "measure_services"]

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
COL_GEP_NODATA_N = COL_AREA + 5
N_COLUMNS = COL_AREA + 6
# one accumulator column after the table columns: Σ(GEP map × pixel area) where the GEP map has
# data, summed only when the GEP map is written (so it is not one of the totals' COLUMNS, which
# are the same whichever maps a pass writes)
COL_GEP_MAP_VALUE = N_COLUMNS
N_ACC = N_COLUMNS + 1

COLUMNS: tuple[str, ...] = (
    tuple(f"{m.service}.{m.name}" for m in MEASURES)
    + tuple(f"excluded_pixels.{s.name}" for s in SERVICES)
    + tuple(f"excluded_ha.{s.name}" for s in SERVICES)
    + ("area_ha", "pixels", "water_clamped_pixels", "water_clamped_ha", "gep_nodata_ha",
       "gep_nodata_pixels")
)

#: positions in the ``modes`` vector: one per formula variant the services declare
MODE = METHOD.mode_index
N_MODES = len(MODE)
V_WATER, V_WATER_SIGNED = MODE["water"], MODE["water_signed"]


def measure_services() -> np.ndarray:
    """Service index of each measure (-1 for GEP), as the kernel expects it."""
    return np.array([SERVICE_INDEX.get(m.service, -1) for m in MEASURES], dtype=np.int64)


# parameter slots (compile-time constants for numba)
_P = PARAM_INDEX
P_R, P_K, P_LS, P_C, P_P = (_P["rainfall_erosivity_r"], _P["soil_erodibility_k"],
                            _P["slope_length_steepness_ls"], _P["cover_management_c"],
                            _P["support_practice_p"])
P_PRECIP, P_RCOEF, P_RUNOFF, P_ET, P_DEPTH = (
    _P["precipitation"], _P["runoff_coefficient"], _P["runoff"], _P["evapotranspiration"],
    _P["water_retention_depth"])
N_PARAMS = len(PARAM_INDEX)

_M = MEASURE_INDEX
M_GEP = _M[("gep", "value")]
GEP_COLUMN = M_GEP

S_W, S_S = SERVICE_INDEX["water"], SERVICE_INDEX["soil"]


#: numba options of the kernel's stages, called only from compiled code: no wrappers for
#: calls from Python or as C functions (each is code that LLVM would compile and throw away)
_STAGE: dict[str, Any] = dict(cache=True, nogil=True, no_cpython_wrapper=True,
                              no_cfunc_wrapper=True)


#: rows after the layers in the kernel's row buffer ``vals``: table-supplied driver parameters
N_SCRATCH = 3


@njit(**_STAGE, error_model="numpy")
def _param_index(p, pv, cls, vals, src, scratch, j0, j1, long_runs, nruns, run_start, run_cls):
    """Row of ``vals`` holding parameter ``p`` at pixels ``j0..j1-1`` of a row: the layer's
    decoded row when a raster supplies it, else row ``scratch``, filled here with the table
    value of each pixel's land type.

    An index rather than the row itself: a row that is one of two arrays made the loops that
    read it twice as slow (measured on the soil driver)."""
    layer = src[p]
    if layer >= 0:
        return layer
    row = vals[scratch]
    if long_runs:            # the runs of one land type cover j0..j1-1
        col = pv[p]
        for r in range(nruns):
            v = col[run_cls[r]]
            for j in range(np.uint64(run_start[r]), np.uint64(run_start[r + 1])):
                row[j] = v
    else:
        for j in range(j0, j1):
            row[j] = pv[p, cls[j]]
    return scratch


@njit(**_STAGE, error_model="numpy")
def _drivers_row(pv, cls, j0, j1, vals, nl, src, modes, lin, ok, drv, clamp_out,
                 long_runs, nruns, run_start, run_cls):
    """The per-pixel driver of each linear service (``lin[s]``) at pixels ``j0..j1-1`` of a
    row, 0 where the service is not valid (``ok[s, j] == 0``): ``drv[S_S, j]`` = soil retention q_sr
    (t ha⁻¹ a⁻¹), ``drv[S_W, j]`` = water balance depth (mm, clamped at 0 unless deficits are
    kept signed; ``clamp_out[j]`` = 1 where clamped).

    ``vals[:nl]`` are the decoded layer rows, ``vals[nl:nl + N_SCRATCH]`` scratch rows for the
    table-supplied parameters; ``pv[p, c]`` is parameter p of land type ``cls[j]`` (extended
    with the pseudo land types, see :func:`gep_block`). Each step is one branch-free loop over
    the row, so that LLVM vectorises it; the formulas are those of :mod:`gepgeo.services`.
    Every other measure of the service is ``driver × coef`` (see :func:`linear_coefficients`).
    """
    # parameter indices go in as np.int64: numba types a bare global constant as a literal and
    # compiles _param_index once per constant (10 variants, seconds of first-run compile)
    if lin[S_S] != 0:
        ds = drv[S_S]
        os_ = ok[S_S]
        r = vals[_param_index(np.int64(P_R), pv, cls, vals, src, nl, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
        k = vals[_param_index(np.int64(P_K), pv, cls, vals, src, nl + 1, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
        ls = vals[_param_index(np.int64(P_LS), pv, cls, vals, src, nl + 2, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
        if _cp_by_land_type(src):    # (1 − C·P) is in the coefficients: driver R·K·LS
            for j in range(j0, j1):
                q = soil_retention(r[j], k[j], ls[j], 0.0, 0.0)
                ds[j] = q if os_[j] != 0 else 0.0
        else:
            for j in range(j0, j1):
                ds[j] = r[j] * k[j] * ls[j]
            c = vals[_param_index(np.int64(P_C), pv, cls, vals, src, nl, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
            p = vals[_param_index(np.int64(P_P), pv, cls, vals, src, nl + 1, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
            for j in range(j0, j1):
                q = soil_retention(ds[j], 1.0, 1.0, c[j], p[j])
                ds[j] = q if os_[j] != 0 else 0.0
    if lin[S_W] != 0:
        wm = modes[V_WATER]
        signed = modes[V_WATER_SIGNED] != 0
        dw = drv[S_W]
        ow = ok[S_W]
        if wm == 0:
            depth = vals[_param_index(np.int64(P_DEPTH), pv, cls, vals, src, nl, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
            for j in range(j0, j1):
                _clamp_water(depth[j], ow[j] != 0, signed, dw, clamp_out, j)
        else:
            precip = vals[_param_index(np.int64(P_PRECIP), pv, cls, vals, src, nl, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
            et = vals[_param_index(np.int64(P_ET), pv, cls, vals, src, nl + 1, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
            if wm == 1:
                rc = vals[_param_index(np.int64(P_RCOEF), pv, cls, vals, src, nl + 2, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
                for j in range(j0, j1):
                    d = balance_depth(precip[j], precip[j] * rc[j], et[j])
                    _clamp_water(d, ow[j] != 0, signed, dw, clamp_out, j)
            else:
                runoff = vals[_param_index(np.int64(P_RUNOFF), pv, cls, vals, src, nl + 2, j0, j1,
                             long_runs, nruns, run_start, run_cls)]
                for j in range(j0, j1):
                    d = balance_depth(precip[j], runoff[j], et[j])
                    _clamp_water(d, ow[j] != 0, signed, dw, clamp_out, j)


@njit(cache=True, nogil=True, inline="always")
def _clamp_water(d, valid, signed, out, clamp_out, j):
    """Store water balance depth ``d`` of a pixel as the driver: 0 where not ``valid`` and,
    unless deficits are kept ``signed``, where negative (``clamp_out[j]`` = 1 there)."""
    clamp = valid & (d < 0.0) & (not signed)
    clamp_out[j] = clamp
    out[j] = 0.0 if (clamp or not valid) else d


@njit(cache=True, nogil=True)
def _cp_by_land_type(src):
    """True when neither C nor P comes from a raster: the soil driver is then R·K·LS and the
    per-land-type factor (1 − C·P) of RUSLE is folded into the coefficients (two gathers
    fewer per pixel)."""
    return src[P_C] < 0 and src[P_P] < 0


#: the parameters each linear service's driver is computed from, and how to set them to make
#: the driver equal to x (by form of the service's variant): (parameter, multiplier of x,
#: constant), from the services' declarations (:class:`gepgeo.services.Linear`); for soil, C
#: and P keep their table values when :func:`_cp_by_land_type`
_DRIVER_SETTINGS: dict[int, tuple[tuple[tuple[int, float, float], ...], ...]] = {
    SERVICE_INDEX[s.name]: tuple(tuple((PARAM_INDEX[k], a, b) for k, a, b in form)
                                 for form in s.linear.settings)
    for s in SERVICES if s.linear is not None
}
#: the variant whose form picks a linear service's settings (-1: a single form)
_DRIVER_VARIANT = {SERVICE_INDEX[s.name]: (MODE[s.linear.variant] if s.linear.variant else -1)
                   for s in SERVICES if s.linear is not None}


def linear_coefficients(table: np.ndarray, supplies: np.ndarray, on: np.ndarray,
                        need: np.ndarray, src: np.ndarray,
                        modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which raster-reading services are linear in their driver, and their coefficients.

    A service qualifies when it reads rasters only for its driver's parameters (soil: R, K, LS,
    C, P; water: the balance terms) and its formulas, evaluated per land type with the driver
    set to 0, 1 and 2, give 0, ``coef`` and 2 ``coef`` (to 1e-12) for every measure. When C
    and P both come from tables, the soil driver is R·K·LS and ``coef`` includes (1 − C·P).

    Returns
    -------
    lin : uint8[nservice]
        1 for the services evaluated as ``driver × coef``.
    coef : float64[nclass, nmeasure]
        Each measure of a linear service per unit driver, by land type (0 elsewhere).
    """
    nclass = table.shape[1]
    lin = np.zeros(N_SERVICES, dtype=np.uint8)
    coef = np.zeros((nclass, N_MEASURES), dtype=np.float64)
    mstart, mstop, _ = service_layout()
    supplying = supplies != 0
    for s, variants in _DRIVER_SETTINGS.items():
        # the per-pixel drivers are written for soil and water only (_drivers_row): another
        # service declaring a linear driver is evaluated in full
        if on[s] == 0 or need[s] == 0 or s not in (S_S, S_W):
            continue
        v = _DRIVER_VARIANT[s]
        settings = variants[int(modes[v]) if v >= 0 else 0]
        if s == S_S and _cp_by_land_type(src):
            settings = tuple(st for st in settings if st[0] not in (P_C, P_P))
        driver_layers = 0
        for p, _, _ in settings:
            if src[p] >= 0:
                driver_layers |= 1 << int(src[p])
        if need[s] & ~driver_layers:
            continue                     # another parameter of the service comes from a raster
        only = np.zeros_like(on)
        only[s] = 1
        at = []
        for x in (0.0, 1.0, 2.0):
            t = table.copy()
            for p, mult, const in settings:
                t[p, :] = mult * x + const
            at.append(class_densities(t, supplies, only, modes, N_MEASURES)[0][:, mstart[s]:mstop[s]])
        d0, d1, d2 = at
        if not (np.isfinite(d1[supplying]).all() and (d0 == 0.0).all()
                and np.allclose(d2, 2.0 * d1, rtol=1e-12, atol=0.0)):
            continue
        lin[s] = 1
        coef[:, mstart[s]:mstop[s]] = d1
    return lin, coef


@njit(cache=True, nogil=True, error_model="numpy")
def class_densities(table, supplies, on, modes, nmeas):
    """Densities of every service for each land type from constants and tables alone.

    Returns ``dclass[nclass, nmeasure]`` (0 for land types that supply nothing) and
    ``clamp[nclass]`` (1 where the water balance of the land type was clamped). Services that
    read a raster get NaN here and are evaluated per pixel instead.
    """
    nparam, nclass = table.shape
    dclass = np.zeros((nclass, nmeas), dtype=np.float64)
    clamp = np.zeros(nclass, dtype=np.uint8)
    ok = np.ones((on.shape[0], nclass), dtype=np.uint8)
    cls = np.empty(nclass, dtype=np.int64)
    for c in range(nclass):
        cls[c] = c if supplies[c] != 0 else -1
    no_layers = np.empty((0, nclass), dtype=np.float64)
    no_src = np.full(nparam, -1, dtype=np.int64)
    # the same argument types as gep_block's call: one compiled variant serves both
    _services_row(table, cls, np.uint64(0), np.uint64(nclass), no_layers, no_src, modes, on, ok,
                  dclass, clamp)
    return dclass, clamp


def class_densities_args() -> tuple[Any, ...]:
    """Arguments of :func:`class_densities` of the types a pass calls it with (one land type,
    nothing enabled): compiling for them compiles the generated ``services_row`` for the types
    :func:`gep_block` calls it with too (:mod:`gepgeo.warmup`)."""
    return (np.zeros((N_PARAMS, 1), dtype=np.float64), np.ones(1, dtype=np.uint8),
            np.zeros(N_SERVICES, dtype=np.uint8), np.zeros(N_MODES, dtype=np.int64), N_MEASURES)


def accumulate_row_signature() -> tuple[Any, ...]:
    """The argument types :func:`gep_block` calls :func:`_accumulate_row` with (the same for
    every pass: one compiled variant), for :mod:`gepgeo.warmup` to compile it beforehand."""
    import numba

    (cls, sup, arow, vals, bits, ok, dens, drv, gmap, gep, gnd, clamped, dclamp, dcls, bad, key,
     slot, run_start, run_cls, chg) = row_buffers(1, 1)
    i64 = np.zeros(1, dtype=np.int64)
    n = np.int64(0)
    yes = True
    args = (i64, i64, i64, n, n, np.zeros((0, 1, 1), dtype=np.int32), np.zeros((1, 1)),
            np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), cls, sup, arow, ok, dens, sup, n, clamped,
            gnd, bad, drv, gmap, yes, yes, yes, slot, key, n, n, n, run_start, run_cls)
    return tuple(numba.typeof(a) for a in args)


def class_densities_cached() -> bool:
    """Whether :func:`class_densities` is compiled in this process or in numba's on-disk cache
    for the types a pass uses (it and the services' code are then compiled once already)."""
    import numba

    sig = tuple(numba.typeof(a) for a in class_densities_args())
    if sig in class_densities.overloads:
        return True
    cache: Any = class_densities._cache  # type: ignore[attr-defined]
    return cache.load_overload(sig, class_densities.targetctx) is not None


@njit(cache=True, nogil=True, inline="always")
def _decode(raw, sc, of, lo, hi, hnd, nd):
    """Decoded value of a raw layer value and whether it is valid (not nodata, in its domain);
    NaN where not valid."""
    v = raw * sc + of
    nodata = np.isnan(raw) | (hnd & (raw == nd))
    inside = (v >= lo) & (v <= hi)          # False for NaN
    good = inside & (not nodata)
    return (v if good else np.nan), good


@njit(cache=True, nogil=True, inline="always")
def _land_type(code, lutx, lut_offset, nlut, lu_has_nodata, lu_nodata, nodata_lt, unmapped_lt):
    """Land type of a land-use code, the pseudo land types for nodata and unmapped codes."""
    li = code - lut_offset
    inside = (li >= 0) & (li < nlut)
    c = lutx[li if inside else 0]
    c = c if inside else unmapped_lt
    return nodata_lt if (lu_has_nodata & (code == lu_nodata)) else c


@njit(**_STAGE, error_model="numpy")
def _count_out(raw_row, sup, j0, j1, sc, of, lo, hi, hnd, nd):
    """Pixels ``j0..j1-1`` of land types that supply services (``sup != 0``) whose value is
    not nodata but decodes outside the domain ``[lo, hi]`` (±inf included: the bounds are
    finite). Land types that supply nothing give 0 whatever their layers say (METHOD.md)."""
    n = 0
    for j in range(j0, j1):
        raw = raw_row[j]
        v = raw * sc + of
        nodata = np.isnan(raw) | (hnd & (raw == nd))
        inside = (v >= lo) & (v <= hi)
        n += (not inside) & (not nodata) & (sup[j] != 0)
    return n


@njit(**_STAGE)
def _sum_run(x):
    """Sum of a 1-D float64 run in eight interleaved partial sums, added in a fixed order."""
    n = x.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += x[j]
        s1 += x[j + 1]
        s2 += x[j + 2]
        s3 += x[j + 3]
        s4 += x[j + 4]
        s5 += x[j + 5]
        s6 += x[j + 6]
        s7 += x[j + 7]
    t = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(m, n):
        t += x[j]
    return t


@njit(**_STAGE)
def _count_run(x):
    """Sum of a 1-D uint8 run."""
    n = 0
    for j in range(x.shape[0]):
        n += x[j]
    return n


@njit(**_STAGE)
def _dot_run(x, w):
    """Σ x·w over a 1-D run, in eight interleaved partial sums added in a fixed order."""
    n = x.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += x[j] * w[j]
        s1 += x[j + 1] * w[j + 1]
        s2 += x[j + 2] * w[j + 2]
        s3 += x[j + 3] * w[j + 3]
        s4 += x[j + 4] * w[j + 4]
        s5 += x[j + 5] * w[j + 5]
        s6 += x[j + 6] * w[j + 6]
        s7 += x[j + 7] * w[j + 7]
    t = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(m, n):
        t += x[j] * w[j]
    return t


@njit(**_STAGE)
def _add_run(acc, dacc, sl, c, j0, j1, row_area, a, arow, clamped, gnd, bad_s, bad_w,
             drv_s, drv_w, lin_soil, lin_water, gmap, gep_on):
    """Add the pixels ``j0..j1-1`` of a row, all of land type ``c`` in accumulator slot ``sl``,
    to the totals: pixels, area, clamped water, GEP nodata (pixels and ha), with the GEP map
    (``gep_on``) Σ(GEP map × pixel area) where it has data (``gmap``: the map's row, 0 where
    it is nodata), and for the linear services
    Σ driver × area and the pixels left out. ``a`` is the pixel area of the row when
    ``row_area``, else ``arow`` holds each pixel's."""
    npx = j1 - j0
    n_cl = _count_run(clamped[j0:j1])
    w = arow[j0:j1]
    n_gnd = _count_run(gnd[j0:j1])
    acc[sl, c, COL_PIXELS] += npx
    acc[sl, c, COL_CLAMP_N] += n_cl
    acc[sl, c, COL_GEP_NODATA_N] += n_gnd
    if row_area:
        acc[sl, c, COL_AREA] += npx * a
        acc[sl, c, COL_CLAMP_HA] += n_cl * a
        acc[sl, c, COL_GEP_NODATA_HA] += n_gnd * a
    else:
        acc[sl, c, COL_AREA] += _sum_run(w)
        acc[sl, c, COL_CLAMP_HA] += _dot_run(clamped[j0:j1], w)
        acc[sl, c, COL_GEP_NODATA_HA] += _dot_run(gnd[j0:j1], w)
    if gep_on:    # gmap: the GEP map's pixels, 0 where it is nodata
        if row_area:
            acc[sl, c, COL_GEP_MAP_VALUE] += _sum_run(gmap[j0:j1]) * a
        else:
            acc[sl, c, COL_GEP_MAP_VALUE] += _dot_run(gmap[j0:j1], w)
    if lin_soil:
        _add_linear_run(acc, dacc, sl, c, np.int64(S_S), bad_s[j0:j1], drv_s[j0:j1], row_area, a, w)
    if lin_water:
        _add_linear_run(acc, dacc, sl, c, np.int64(S_W), bad_w[j0:j1], drv_w[j0:j1], row_area, a, w)


@njit(**_STAGE)
def _add_linear_run(acc, dacc, sl, c, s, bad, drv, row_area, a, w):
    """For linear service ``s`` over a run (see :func:`_add_run`): Σ driver × area, and the
    pixels and hectares left out (``bad``)."""
    n_x = _count_run(bad)
    acc[sl, c, COL_EXCL_N + s] += n_x
    if row_area:
        dacc[sl, c, s] += _sum_run(drv) * a
        acc[sl, c, COL_EXCL_HA + s] += n_x * a
    else:
        dacc[sl, c, s] += _dot_run(drv, w)
        acc[sl, c, COL_EXCL_HA + s] += _dot_run(bad, w)


@njit(**_STAGE)
def _class_runs(cls, jl, jh, chg, run_start, run_cls):
    """Runs of one land type in ``cls[jl:jh]``: run r is ``run_start[r]..run_start[r + 1]-1``
    of land type ``run_cls[r]``; returns the number of runs.

    ``chg`` (uint8, ≥ jh − jl + 8 long) is scratch: the run starts are flagged in one
    vectorised loop, then found eight flags at a time (long runs leave most words zero)."""
    m = jh - jl
    if m <= 0:
        run_start[0] = jh
        return 0
    a = cls[jl + 1:jh]
    b = cls[jl:jh - 1]
    chg[0] = 1
    for k in range(m - 1):
        chg[k + 1] = a[k] != b[k]
    for k in range(m, m + 8):
        chg[k] = 0
    words = chg.view(np.uint64)
    n = 0
    for w in range((m + 7) // 8):
        x = words[w]
        if x == 0:
            continue
        for t in range(8):
            if chg[w * 8 + t] != 0:
                j = jl + w * 8 + t
                run_start[n] = j
                run_cls[n] = cls[j]
                n += 1
    run_start[n] = jh
    return n


class KernelPlan(NamedTuple):
    """Everything :func:`gep_block` reads besides a block's pixels, by name.

    Built once per pass (:func:`gepgeo.compute.build_dataset`) and handed to numba as one typed
    argument: a field is read by its name, so two arrays of the same type cannot be swapped by
    position.

    Attributes
    ----------
    lu_nodata : int64
        Land-use nodata code (ignored unless ``lu_has_nodata``).
    lu_has_nodata : bool
    lut : int32[ncodes]
        Land-type index of code ``lut_offset + i``; -1 for codes the mapping does not declare.
    lut_offset : int64
    lay_stack, lay_pos : uint8[nl], int64[nl]
        Where each layer's pixels are: ``layers64`` if ``lay_stack`` else ``layers32``, at
        index ``lay_pos`` (see :func:`gep_block`).
    lay_nodata, lay_has_nodata : float64[nl], uint8[nl]
        Nodata value of each layer (NaN is always nodata).
    lay_scale, lay_offset : float64[nl]
        Decoding ``raw · scale + offset`` into the parameter's canonical unit.
    lay_low, lay_high : float64[nl]
        Domain of each layer's parameter; a decoded value outside it is left out and counted.
    src : int64[nparam]
        Layer that supplies each parameter (-1: the table).
    zone_offset : int64[nzl]
        First accumulator slot (minus one) of each zone layer.
    table : float64[nparam, nclass]
        Parameter values by land type (canonical units).
    supplies : uint8[nclass]
        0 for land types declared to supply no services (every service is a valid 0 there).
    on, dyn : uint8[nservice]
        Services enabled; services that read at least one raster layer.
    need : int64[nservice]
        Bit mask of the layers each service needs.
    modes : int64[N_MODES]
        Form of each formula variant, see :data:`MODE`.
    msvc : int64[nmeasure]
        Service index of each measure (-1 for GEP).
    mstart, mstop : int64[nservice]
        The measures of service s are ``mstart[s]:mstop[s]``.
    value_idx : int64[nservice]
        Measure index of each service's value.
    dclass, clamp_class : float64[nclass, nmeasure], uint8[nclass]
        From :func:`class_densities`.
    lin, coef : uint8[nservice], float64[nclass, nmeasure]
        From :func:`linear_coefficients`: services evaluated as driver × coefficient.
    map_idx : int64[nmaps]
        Measure written to each band of the maps.
    """

    lu_nodata: Any
    lu_has_nodata: bool
    lut: np.ndarray
    lut_offset: Any
    lay_stack: np.ndarray
    lay_pos: np.ndarray
    lay_nodata: np.ndarray
    lay_has_nodata: np.ndarray
    lay_scale: np.ndarray
    lay_offset: np.ndarray
    lay_low: np.ndarray
    lay_high: np.ndarray
    src: np.ndarray
    zone_offset: np.ndarray
    table: np.ndarray
    supplies: np.ndarray
    on: np.ndarray
    dyn: np.ndarray
    need: np.ndarray
    modes: np.ndarray
    msvc: np.ndarray
    mstart: np.ndarray
    mstop: np.ndarray
    value_idx: np.ndarray
    dclass: np.ndarray
    clamp_class: np.ndarray
    lin: np.ndarray
    coef: np.ndarray
    map_idx: np.ndarray


@njit(cache=True, nogil=True, error_model="numpy")
def gep_block(plan, ext, work, lu8, lu16, luw, layers32, layers64, zones, area, out, acc, dacc,
              stats):
    """Compute all services for one block, write density maps and accumulate totals.

    Services whose parameters are all constants or tables (``plan.dyn[s] == 0``) are evaluated
    once per land type (``plan.dclass``, from :func:`class_densities`); their maps are looked
    up per pixel and their totals are added afterwards by :func:`finish_block` as density ×
    land-type area. Services that read a raster are evaluated per pixel: as driver ×
    coefficient when linear (``plan.lin[s]``), else in full (the generated ``services_row``).

    The block is processed row by row, in short branch-free loops over the row that LLVM
    vectorises; each row only between its first and last pixel with land-use data (the
    nodata margins around a county's outline are written as nodata and skipped). Land type
    ``nclass`` stands for land-use nodata and ``nclass + 1`` for codes the mapping does not
    declare; the per-land-type tables are extended with those two rows (NaN in maps, no
    totals), so that no loop has to test for them. Per row: (1) decode the land types,
    (2) decode and validate the layers, (3) evaluate the services, (4) write the maps,
    (5) accumulate the totals.

    Parameters
    ----------
    plan : KernelPlan
        What does not depend on the pixels.
    ext : ExtendedTables
        The pass's tables by extended land type, from :func:`extended_tables`.
    work : tuple of arrays
        Row buffers for rows of ``nx`` pixels, from :func:`row_buffers` (overwritten).
    lu8, lu16, luw : uint8, uint16, int64[ny, nx]
        Land-use codes, in the one of the three that is not empty (shape ``(0, 0)``): one
        compiled kernel serves every land-use data type (the others are widened to int64).
    layers32, layers64 : float32[n32, ny, nx], float64[n64, ny, nx]
        Raw factor-layer values as stored in their files: layer ``l`` is
        ``layers32[plan.lay_pos[l]]`` where ``plan.lay_stack[l] == 0`` (types that float32
        holds exactly), else ``layers64[plan.lay_pos[l]]``.
    zones : int32[nzl, ny, nx]
        Zone index of each pixel for each zone layer (-1 outside every zone).
    area : float64[ny, 1] or float64[ny, nx]
        Pixel area, ha.
    out : float32 or float64[nmaps, ny, nx]
        Density maps (filled; NaN where the measure is nodata).
    acc : float64[nslot, nclass, N_ACC]
        Accumulators (added to); slot 0 is the whole grid, slot 1 + zone_offset[l] + z is zone z
        of zone layer l.
    dacc : float64[nslot, nclass, nservice]
        Σ driver × area (t a⁻¹ for soil, mm ha a⁻¹ for water) of the linear services (added to);
        :func:`finish_block` turns them into measure totals.
    stats : int64[2 + nl]
        Added to: land-use nodata pixels, unmapped-code pixels, out-of-domain pixels per layer
        (on land types that supply services only: the others give 0 whatever a layer says).
    """
    # the stages take arrays, not the plan (numba compiled every function that took the
    # 27-field plan seconds more slowly)
    ny, nx = out.shape[1], out.shape[2]
    nl = plan.lay_stack.shape[0]
    small_codes = lu8.shape[0] > 0          # unsigned 8-bit codes: one table lookup each
    wide_codes = luw.shape[0] > 0
    nclass = plan.table.shape[1]
    nodata_lt = nclass          # pseudo land types, see the docstring
    unmapped_lt = nclass + 1
    dyn_on, full_on, lin_on = _service_switches(plan.on, plan.dyn, plan.lin)
    n_dyn = np.int64(dyn_on.sum())
    n_full = np.int64(full_on.sum())
    lin_soil = lin_on[S_S] != 0
    lin_water = lin_on[S_W] != 0
    water_dyn = dyn_on[S_W] != 0
    water_const = plan.on[S_W] != 0 and not water_dyn
    lut_all, lutx, sup_x, fill_x, gep_x, clamp_x, dclass_t, coef_t, pv_x = ext
    # a count, not a flag set in the loop: a flag would be typed Literal[bool](False) at first
    # and compile every stage it is passed to twice (seconds of first-run compile)
    n_gep_bands = 0
    for m in range(plan.map_idx.shape[0]):
        n_gep_bands += plan.msvc[plan.map_idx[m]] < 0
    gep_map = n_gep_bands > 0
    # row buffers, reused for every row of the block
    (cls, sup, arow, vals, bits, ok, dens, drv, gmap, gep, gnd, clamped, dclamp, dcls,
     bad, key, slot, run_start, run_cls, chg) = work
    for i in range(ny):
        # 1. land type of each pixel, its area, the span with data, runs of one land type
        # (8- and 16-bit codes widened into ``key``, free until step 5: one compiled version)
        if small_codes:
            _widen_row(lu8[i], key, 0, nx)
        elif not wide_codes:
            _widen_row(lu16[i], key, 0, nx)
        n_nd, n_un = _land_types_row(luw[i] if wide_codes else key, small_codes, lut_all, lutx,
                                     plan.lut.shape[0], plan.lut_offset, plan.lu_has_nodata,
                                     plan.lu_nodata, sup_x, nodata_lt, unmapped_lt, cls, sup)
        stats[0] += n_nd
        stats[1] += n_un
        if area.shape[1] > 1:
            for j in range(nx):
                arow[j] = area[i, j]
        elif n_full > 0:
            a_row = area[i, 0]
            for j in range(nx):
                arow[j] = a_row
        jl, jh = _data_span(cls, n_nd, nodata_lt)
        # unsigned loop bounds: numba checks every signed index for wraparound (a negative
        # index counts from the end), which stops LLVM from vectorising a loop that does not
        # start at a constant
        ul = np.uint64(jl)
        uh = np.uint64(jh)
        nruns = _class_runs(cls, jl, jh, chg, run_start, run_cls)
        long_runs = 8 * nruns < jh - jl
        if n_dyn > 0:
            # 2. decode and validate the layers, and each raster-reading service
            _decode_row(layers32, layers64, plan.lay_stack, plan.lay_pos, i, plan.lay_scale,
                        plan.lay_offset, plan.lay_low, plan.lay_high, plan.lay_has_nodata,
                        plan.lay_nodata, vals, bits, sup, ul, uh, stats)
            _validity_row(dyn_on, plan.need, bits, sup, ok, bad, gnd, ul, uh)
            # 3. the services themselves
            if n_full > 0:
                for j in range(ul, uh):
                    dcls[j] = cls[j] if sup[j] != 0 else -1
                _services_row(plan.table, dcls, ul, uh, vals, plan.src, plan.modes, full_on,
                              ok, dens, dclamp)
            if lin_soil or lin_water:
                # the linear water driver flags its clamped pixels (all valid, so supplying)
                _drivers_row(pv_x, cls, ul, uh, vals, nl, plan.src, plan.modes, lin_on, ok,
                             drv, clamped, long_runs, nruns, run_start, run_cls)
        # water deficits clamped to 0, counted per land type
        if water_dyn and not lin_water:
            for j in range(ul, uh):
                clamped[j] = dclamp[j] & sup[j]
        elif water_const:
            for j in range(ul, uh):
                clamped[j] = clamp_x[cls[j]]
        # 4. maps, one band at a time (1-D views and gathers from 1-D tables vectorise)
        if gep_map:
            _gep_row(plan.value_idx, dyn_on, lin_on, cls, gep_x, coef_t, drv, dens, ok, gnd,
                     gep, gmap, ul, uh)
        _maps_row(plan.map_idx, plan.msvc, i, out, dyn_on, lin_on, cls, fill_x, dclass_t,
                  coef_t, drv, dens, ok, gnd, gep, jl, jh, long_runs, nruns, run_start, run_cls)
        # 5. totals, for the whole grid (slot 0) and each zone layer's zone
        _accumulate_row(plan.zone_offset, plan.mstart, plan.mstop, nclass, i, zones, area, acc,
                        dacc, cls, sup, arow, ok, dens, full_on, n_full, clamped, gnd, bad, drv,
                        gmap, gep_map, lin_soil, lin_water, slot, key, jl, jh, nruns, run_start,
                        run_cls)


def row_buffers(nx: int, nl: int, nserv: int = N_SERVICES, nmeas: int = N_MEASURES
                ) -> tuple[np.ndarray, ...]:
    """The row buffers of :func:`gep_block` for rows of ``nx`` pixels, ``nl`` layers,
    ``nserv`` services and ``nmeas`` measures (each reused for every row of a block).

    Allocated by the caller, in NumPy: allocating them in the kernel compiled a dozen variants
    of numba's array constructors on a first run (seconds)."""
    cls = np.empty(nx, dtype=np.int64)
    sup = np.empty(nx, dtype=np.uint8)
    arow = np.empty(nx, dtype=np.float64)
    vals = np.empty((nl + N_SCRATCH, nx), dtype=np.float64)   # decoded layers, scratch
    bits = np.zeros(nx, dtype=np.int64)
    ok = np.zeros((nserv, nx), dtype=np.uint8)          # per service, per pixel
    dens = np.zeros((nx, nmeas), dtype=np.float64)      # densities (full services)
    drv = np.zeros((nserv, nx), dtype=np.float64)       # per pixel drivers (linear services)
    gmap = np.zeros(nx, dtype=np.float64)
    gep = np.zeros(nx, dtype=np.float64)
    gnd = np.zeros(nx, dtype=np.uint8)                  # supplying, and GEP nodata
    clamped = np.zeros(nx, dtype=np.uint8)
    dclamp = np.zeros(nx, dtype=np.uint8)
    dcls = np.full(nx, -1, dtype=np.int64)
    bad = np.zeros((nserv, nx), dtype=np.uint8)         # service invalid, supplying
    key = np.empty(nx, dtype=np.int64)
    slot = np.empty(nx, dtype=np.int64)
    run_start = np.empty(nx + 1, dtype=np.int64)
    run_cls = np.empty(nx, dtype=np.int64)
    chg = np.zeros(8 * ((nx + 15) // 8), dtype=np.uint8)   # whole uint64 words, ≥ nx + 8
    return (cls, sup, arow, vals, bits, ok, dens, drv, gmap, gep, gnd, clamped, dclamp, dcls, bad,
            key, slot, run_start, run_cls, chg)


@njit(**_STAGE)
def _service_switches(on, dyn, lin):
    """Per service: raster-reading (``dyn_on``), evaluated in full per pixel (``full_on``) or
    as driver × coefficient (``lin_on``), among the enabled ones."""
    nserv = on.shape[0]
    dyn_on = np.zeros(nserv, dtype=np.uint8)
    full_on = np.zeros(nserv, dtype=np.uint8)
    lin_on = np.zeros(nserv, dtype=np.uint8)
    for s in range(nserv):
        if on[s] != 0 and dyn[s] != 0:
            dyn_on[s] = 1
            if lin[s] != 0:
                lin_on[s] = 1
            else:
                full_on[s] = 1
    return dyn_on, full_on, lin_on


class ExtendedTables(NamedTuple):
    """The per-land-type tables of a pass, extended with the pseudo land types of land-use
    nodata (``nclass``) and of codes the mapping does not declare (``nclass + 1``), see
    :func:`extended_tables`."""

    lut_all: np.ndarray
    lutx: np.ndarray
    sup_x: np.ndarray
    fill_x: np.ndarray
    gep_x: np.ndarray
    clamp_x: np.ndarray
    dclass_t: np.ndarray
    coef_t: np.ndarray
    pv_x: np.ndarray


def extended_tables(plan: KernelPlan) -> ExtendedTables:
    """The per-land-type tables of a pass for :func:`gep_block` (computed once per pass, in
    NumPy).

    ``lut_all``: land type of each of the 256 codes of unsigned 8-bit land use, nodata and
    unmapped included; ``lutx``: land type of code ``lut_offset + i``; by extended land type:
    supplies services, map value where a raster service is invalid, GEP of the class-constant
    services, water clamped (class-constant water), each measure (``[nmeasure, next]``), each
    linear coefficient and each parameter (``[nparam, next]``).
    """
    table, supplies, on, dyn = plan.table, plan.supplies, plan.on, plan.dyn
    nparam, nclass = table.shape
    nmeas = plan.msvc.shape[0]
    nlut = plan.lut.shape[0]
    nodata_lt = nclass
    unmapped_lt = nclass + 1
    next_ = nclass + 2
    water_const = bool(on[S_W] != 0 and dyn[S_W] == 0)
    lutx = np.full(max(nlut, 1), unmapped_lt, dtype=np.int64)
    lutx[:nlut] = np.where(plan.lut >= 0, plan.lut, unmapped_lt)
    supplying = supplies != 0
    sup_x = np.zeros(next_, dtype=np.uint8)
    sup_x[:nclass] = supplying
    fill_x = np.full(next_, np.nan)
    fill_x[:nclass] = np.where(supplying, np.nan, 0.0)
    gep_x = np.full(next_, np.nan)
    for c in range(nclass):
        g = 0.0       # added in service order, as the kernel always did
        for s in range(on.shape[0]):
            if on[s] != 0 and dyn[s] == 0 and supplying[c]:
                g += float(plan.dclass[c, plan.value_idx[s]])
        gep_x[c] = g
    clamp_x = np.zeros(next_, dtype=np.uint8)
    if water_const:
        clamp_x[:nclass] = np.where(supplying, plan.clamp_class, 0)
    dclass_t = np.full((nmeas, next_), np.nan)
    dclass_t[:, :nclass] = plan.dclass.T
    coef_t = np.zeros((nmeas, next_), dtype=np.float64)
    coef_t[:, :nclass] = plan.coef.T
    pv_x = np.zeros((nparam, next_), dtype=np.float64)
    pv_x[:, :nclass] = table
    land_type = _land_type.py_func   # type: ignore[attr-defined]
    lut_all = np.array([land_type(np.int64(code), lutx, plan.lut_offset, nlut,
                                  plan.lu_has_nodata, plan.lu_nodata, nodata_lt, unmapped_lt)
                        for code in range(256)], dtype=np.int64)
    return ExtendedTables(lut_all, lutx, sup_x, fill_x, gep_x, clamp_x, dclass_t, coef_t, pv_x)


@njit(**_STAGE)
def _land_types_row(lu_row, small_codes, lut_all, lutx, nlut, lut_offset, lu_has_nodata,
                    lu_nodata, sup_x, nodata_lt, unmapped_lt, cls, sup):
    """Land type ``cls[j]`` and whether it supplies services ``sup[j]`` for every pixel of a
    row; returns the numbers of land-use nodata and unmapped-code pixels."""
    nx = lu_row.shape[0]
    n_nd = 0
    n_un = 0
    if small_codes:
        for j in range(nx):
            c = lut_all[lu_row[j]]
            cls[j] = c
            sup[j] = sup_x[c]
            n_nd += c == nodata_lt
            n_un += c == unmapped_lt
    else:
        for j in range(nx):
            c = _land_type(np.int64(lu_row[j]), lutx, lut_offset, nlut, lu_has_nodata,
                           lu_nodata, nodata_lt, unmapped_lt)
            cls[j] = c
            sup[j] = sup_x[c]
            n_nd += c == nodata_lt
            n_un += c == unmapped_lt
    return n_nd, n_un


@njit(**_STAGE)
def _data_span(cls, n_nd, nodata_lt):
    """The row's span ``jl..jh-1`` from its first to its last pixel with land-use data: the
    nodata margins (outside a county's outline, say) are skipped by every later step."""
    nx = cls.shape[0]
    jl = 0
    jh = nx
    if n_nd > 0:
        while jl < nx and cls[jl] == nodata_lt:
            jl += 1
        while jh > jl and cls[jh - 1] == nodata_lt:
            jh -= 1
    return jl, jh


@njit(**_STAGE, error_model="numpy")
def _decode_row(layers32, layers64, lay_stack, lay_pos, i, lay_scale, lay_offset, lay_low,
                lay_high, lay_has_nodata, lay_nodata, vals, bits, sup, ul, uh, stats):
    """Decode row ``i`` of every layer into ``vals`` (NaN where not valid) and set bit l of
    ``bits[j]`` where layer l is valid; count the out-of-domain values of supplying pixels
    into ``stats[2 + l]`` (only in rows where some mapped pixel has an invalid value: they
    are rare). Layer l is row ``i`` of ``layers32[lay_pos[l]]`` or, where ``lay_stack[l]``,
    of ``layers64[lay_pos[l]]`` (see :func:`gep_block`); it is widened into ``vals`` and
    decoded there, in float64 whatever its type."""
    nl = lay_stack.shape[0]
    all_bits = (np.int64(1) << nl) - 1
    n_bad = 0
    for layer in range(nl):
        sc = lay_scale[layer]
        of = lay_offset[layer]
        lo = lay_low[layer]
        hi = lay_high[layer]
        hnd = lay_has_nodata[layer] != 0
        nd = lay_nodata[layer]
        bit = np.int64(1) << layer
        keep = np.int64(0) if layer == 0 else np.int64(-1)    # the first layer sets
        vrow = vals[layer]
        if lay_stack[layer] == 0:
            _widen_row(layers32[lay_pos[layer], i], vrow, ul, uh)
        else:
            _widen_row(layers64[lay_pos[layer], i], vrow, ul, uh)
        if layer < nl - 1:
            for j in range(ul, uh):
                v, good = _decode(vrow[j], sc, of, lo, hi, hnd, nd)
                vrow[j] = v
                bits[j] = (bits[j] & keep) | (bit * good)
        else:
            for j in range(ul, uh):
                v, good = _decode(vrow[j], sc, of, lo, hi, hnd, nd)
                vrow[j] = v
                b = (bits[j] & keep) | (bit * good)
                bits[j] = b
                n_bad += (b != all_bits) & (sup[j] != 0)
    if n_bad > 0:
        raw = vals[nl]     # a scratch row (the drivers' table parameters are set later)
        for layer in range(nl):
            if lay_stack[layer] == 0:
                _widen_row(layers32[lay_pos[layer], i], raw, ul, uh)
            else:
                _widen_row(layers64[lay_pos[layer], i], raw, ul, uh)
            stats[2 + layer] += _count_out(raw, sup, ul, uh, lay_scale[layer], lay_offset[layer],
                                           lay_low[layer], lay_high[layer],
                                           lay_has_nodata[layer] != 0, lay_nodata[layer])


@njit(**_STAGE)
def _widen_row(src, dst, j0, j1):
    """``dst[j0:j1] = src[j0:j1]`` into a wider type (exact: uint8/uint16 codes into int64,
    float32 values into float64)."""
    for j in range(j0, j1):
        dst[j] = src[j]


@njit(**_STAGE)
def _validity_row(dyn_on, need, bits, sup, ok, bad, gnd, ul, uh):
    """Per raster-reading service: ``ok`` where every layer it needs is valid (supplying land
    types only), ``bad`` where a supplying pixel is not; ``gnd`` where any service is bad (the
    GEP map's nodata)."""
    keep_g = np.uint8(0)          # the first service sets gnd, the others add
    for s in range(dyn_on.shape[0]):
        if dyn_on[s] == 0:
            continue
        ns_ = need[s]
        okr = ok[s]
        badr = bad[s]
        for j in range(ul, uh):
            o = sup[j] & ((bits[j] & ns_) == ns_)
            okr[j] = o
            b = sup[j] & (o ^ 1)
            badr[j] = b
            gnd[j] = (gnd[j] & keep_g) | b
        keep_g = np.uint8(1)


@njit(**_STAGE)
def _gep_row(value_idx, dyn_on, lin_on, cls, gep_x, coef_t, drv, dens, ok, gnd, gep, gmap, ul, uh):
    """GEP of each pixel (``gep``: class-constant services plus the raster-reading ones where
    valid) and the GEP map's pixels for the sums (``gmap``: 0 where the map is nodata)."""
    for j in range(ul, uh):
        gep[j] = gep_x[cls[j]]
    for s in range(dyn_on.shape[0]):
        if dyn_on[s] == 0:
            continue
        kv = value_idx[s]
        okr = ok[s]
        if lin_on[s] != 0:
            d = drv[s]
            cf = coef_t[kv]
            for j in range(ul, uh):
                gep[j] += d[j] * cf[cls[j]]           # d is 0 where invalid
        else:
            for j in range(ul, uh):
                gep[j] += dens[j, kv] if okr[j] != 0 else 0.0
    for j in range(ul, uh):
        v = gep[j]
        gmap[j] = v if (gnd[j] == 0) & np.isfinite(v) else 0.0


@njit(**_STAGE)
def _maps_row(map_idx, msvc, i, out, dyn_on, lin_on, cls, fill_x, dclass_t, coef_t, drv, dens,
              ok, gnd, gep, jl, jh, long_runs, nruns, run_start, run_cls):
    """Row ``i`` of every map band (NaN outside the span with land-use data)."""
    nan = np.nan
    nx = cls.shape[0]
    ul = np.uint64(jl)
    uh = np.uint64(jh)
    for m in range(map_idx.shape[0]):
        k = map_idx[m]
        s = msvc[k]
        o = out[m, i]
        for j in range(jl):
            o[j] = nan
        for j in range(jh, nx):
            o[j] = nan
        if s < 0:
            for j in range(ul, uh):
                o[j] = nan if gnd[j] != 0 else gep[j]
        elif dyn_on[s] != 0 and lin_on[s] != 0:
            d = drv[s]
            okr = ok[s]
            cf = coef_t[k]
            for j in range(ul, uh):
                c = cls[j]
                o[j] = d[j] * cf[c] if okr[j] != 0 else fill_x[c]
        elif dyn_on[s] != 0:
            okr = ok[s]
            for j in range(ul, uh):
                o[j] = dens[j, k] if okr[j] != 0 else fill_x[cls[j]]
        elif long_runs:
            col = dclass_t[k]
            for r in range(nruns):
                v = col[run_cls[r]]
                for j in range(np.uint64(run_start[r]), np.uint64(run_start[r + 1])):
                    o[j] = v           # unsigned bounds: vectorised (see ``ul``)
        else:
            col = dclass_t[k]
            for j in range(ul, uh):
                o[j] = col[cls[j]]


@njit(**_STAGE)
def _accumulate_row(zone_offset, mstart, mstop, nclass, i, zones, area, acc, dacc, cls, sup, arow,
                    ok, dens, full_on, n_full, clamped, gnd, bad, drv, gmap, gep_map, lin_soil,
                    lin_water, slot, key, jl, jh, nruns, run_start, run_cls):
    """Add row ``i`` to the accumulators of the whole grid (slot 0) and of each zone layer's
    zone: sums over runs of one (zone, land type) along the row, added once per run (adding
    every pixel into the same accumulator would chain each addition to the previous one
    through memory). For the whole grid, the runs are the land-type runs."""
    row_area = area.shape[1] == 1
    a_row = area[i, 0]
    bad_s = bad[S_S]
    bad_w = bad[S_W]
    drv_s = drv[S_S]
    drv_w = drv[S_W]
    ul = np.uint64(jl)
    uh = np.uint64(jh)
    for t in range(zones.shape[0] + 1):
        if t == 0:
            if n_full > 0:
                for j in range(ul, uh):
                    slot[j] = 0 if cls[j] < nclass else -1
            for r in range(nruns):
                c = run_cls[r]
                if c < nclass:
                    _add_run(acc, dacc, np.int64(0), c, run_start[r], run_start[r + 1],
                             row_area, a_row, arow, clamped, gnd, bad_s, bad_w, drv_s,
                             drv_w, lin_soil, lin_water, gmap, gep_map)
        else:
            zrow = zones[t - 1, i]
            zoff = 1 + zone_offset[t - 1]
            for j in range(ul, uh):
                c = cls[j]
                z = zrow[j]
                sl = zoff + z if z >= 0 else -1
                slot[j] = sl if c < nclass else -1
                key[j] = sl * nclass + c if (c < nclass and sl >= 0) else -1
            j0 = jl
            while j0 < jh:
                cur = key[j0]
                j1 = j0 + 1
                while j1 < jh and key[j1] == cur:
                    j1 += 1
                if cur >= 0:
                    sl = cur // nclass
                    _add_run(acc, dacc, sl, cur - sl * nclass, j0, j1, row_area, a_row, arow,
                             clamped, gnd, bad_s, bad_w, drv_s, drv_w, lin_soil, lin_water,
                             gmap, gep_map)
                j0 = j1
        if n_full > 0:
            _add_full_services(acc, mstart, mstop, full_on, slot, cls, sup, arow, ok,
                               dens, ul, uh)


@njit(**_STAGE)
def _add_full_services(acc, mstart, mstop, full_on, slot, cls, sup, arow, ok, dens, ul, uh):
    """Add density × area of the services evaluated in full per pixel, and their pixels and
    hectares left out, into each pixel's accumulator slot."""
    for s in range(full_on.shape[0]):
        if full_on[s] == 0:
            continue
        k0 = mstart[s]
        k1 = mstop[s]
        for j in range(ul, uh):
            sl = slot[j]
            c = cls[j]
            if sl < 0 or sup[j] == 0:
                continue
            a = arow[j]
            if ok[s, j] != 0:
                for k in range(k0, k1):
                    acc[sl, c, k] += dens[j, k] * a
            else:
                acc[sl, c, COL_EXCL_N + s] += 1.0
                acc[sl, c, COL_EXCL_HA + s] += a


def finish_block(acc: np.ndarray, dacc: np.ndarray, dclass: np.ndarray, lin: np.ndarray,
                 coef: np.ndarray, on: np.ndarray, dyn: np.ndarray, mstart: np.ndarray,
                 mstop: np.ndarray, value_idx: np.ndarray) -> None:
    """Add the totals of class-constant services (density × land-type area), of linear services
    (Σ driver × area × coefficient) and the GEP column.

    The GEP total is the sum of the service value totals (METHOD.md: each over its own valid
    pixels).
    """
    for s in range(on.shape[0]):
        if on[s] != 0 and dyn[s] != 0 and lin[s] != 0:
            acc[:, :, mstart[s]:mstop[s]] += (dacc[:, :, s, None]
                                             * coef[None, :, mstart[s]:mstop[s]])
    area = acc[:, :, COL_AREA]
    for s in range(on.shape[0]):
        if on[s] != 0 and dyn[s] == 0:
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


setattr(_numba_config, "CACHE_DIR", _numba_cache_dir)  # noqa: B010
