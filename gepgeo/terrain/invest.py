"""The ``invest`` LS method: the LS formula of InVEST's SDR model (3.14 and later), for
comparison with InVEST runs. Not gepgeo's recommendation (see the notes below).

InVEST 3.14's ``_calculate_ls_factor`` (``natcap/invest/sdr/sdr.py``), with the percent
slope p of pygeoprocessing's ``calculate_slope`` and the D8 flow accumulation FA (pixels, the
pixel itself included), for square cells of side D (m) and area a = D²::

    A = √((FA − 1) · a)                 (m; "the square root of the catchment area")
    θ = atan(p / 100)
    x = |sin θ| + |cos θ|
    S = 10.8 sin θ + 0.03   (p < 9)     16.8 sin θ − 0.5   (p ≥ 9)
    m = 0.2 (p ≤ 1), 0.3 (p ≤ 3.5), 0.4 (p ≤ 5), 0.5 (p ≤ 9), β / (1 + β) above,
        β = (sin θ / 0.0896) / (3 sin^0.8 θ + 0.56)
    L = min(l_max, ((A + a)^(m+1) − A^(m+1)) / (D^(m+2) · x^m · 22.13^m))
    LS = L · S

Here (FA − 1) · a is the contributing area A_in of :mod:`.accumulation` (the area draining
into the cell, the cell excluded), so A = √A_in; the accumulation is gepgeo's tiled one.
The slope p is pygeoprocessing's: the 3 × 3 finite difference with weights 1, 2, 1 (the Horn /
Sobel stencil) ``dz/dx = ((c + 2f + i) − (a + 2d + g)) / 8D`` (cells ``abc / def / ghi``), and
``dz/dy`` likewise, where a missing neighbour (nodata, outside the grid) is replaced as
pygeoprocessing does: a row or column pair with one end missing uses its middle cell, and a
lone corner its difference with the centre times √2, each with its own weight in the
denominator; p = 100 · |∇z|.

What the formula does that gepgeo's ``contributing_area`` method does not (InVEST's own
ADR-0005 discusses both): A is a length (√m²) added to the area a (m²), and x is computed from
the slope θ where Desmet & Govers use the aspect α. ``l_max`` is InVEST's "maximum L value"
argument and has no default here: give the value of the InVEST run to compare with.

Differences from an InVEST run that remain: InVEST fills every depression of the DEM and routes
flow across flats (pygeoprocessing's ``fill_pits`` and ``flow_dir_d8``) before accumulating;
here the DEM is used as given (pits are sinks, flats stop the flow), as in the
``contributing_area`` method. Give the DEM InVEST wrote as ``pit_filled_dem.tif`` to share
its filling; LS then still differs where flow crosses flats. InVEST also rounds every
intermediate raster to float32 and leaves stream pixels nodata in its ``rkls.tif``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import TerrainError
from .factors import UNIT_PLOT_M

__all__ = ["horn_slope_percent", "invest_ls_of_cell", "check_square", "invest_array", "SQRT2"]

SQRT2 = math.sqrt(2.0)


@njit(cache=True, nogil=True, inline="always")
def _pair(v_lo: bool, z_lo: float, v_mid: bool, z_mid: float, v_hi: bool, z_hi: float,
          ze: float) -> tuple[float, int]:
    """(difference, weight) of one outer row or column of the 3 × 3 stencil, lo − hi."""
    if v_lo and v_hi:
        return z_lo - z_hi, 2
    if v_lo and v_mid:
        return z_lo - z_mid, 1
    if v_mid and v_hi:
        return z_mid - z_hi, 1
    if v_lo:
        return (z_lo - ze) * SQRT2, 1
    if v_hi:
        return (ze - z_hi) * SQRT2, 1
    return 0.0, 0


@njit(cache=True, nogil=True, inline="always")
def _centre(v_lo: bool, z_lo: float, v_hi: bool, z_hi: float, ze: float) -> tuple[float, int]:
    """(difference, weight) of the middle row or column (weight 2), lo − hi."""
    if v_lo and v_hi:
        return 2.0 * (z_lo - z_hi), 4
    if v_lo:
        return 2.0 * (z_lo - ze), 2
    if v_hi:
        return 2.0 * (ze - z_hi), 2
    return 0.0, 0


@njit(cache=True, nogil=True)
def horn_slope_percent(z: np.ndarray, valid: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Percent slope 100 · |∇z| of every cell by pygeoprocessing's stencil (module docstring);
    NaN at nodata. Cells outside the array count as nodata."""
    h, w = z.shape
    out = np.full((h, w), np.nan)
    v = np.zeros(9, dtype=np.bool_)     # a b c / d e f / g h i
    q = np.zeros(9)
    for r in range(h):
        for c in range(w):
            if not valid[r, c]:
                continue
            for k in range(9):
                rr = r + k // 3 - 1
                cc = c + k % 3 - 1
                v[k] = 0 <= rr < h and 0 <= cc < w and valid[rr, cc]
                q[k] = z[rr, cc] if v[k] else 0.0
            ze = q[4]
            # x: columns a-c (top row), d-f, g-i; differences west − east
            s1, n1 = _pair(v[0], q[0], v[1], q[1], v[2], q[2], ze)
            s2, n2 = _centre(v[3], q[3], v[5], q[5], ze)
            s3, n3 = _pair(v[6], q[6], v[7], q[7], v[8], q[8], ze)
            nx = n1 + n2 + n3
            gx = (s1 + s2 + s3) / (nx * dx) if nx > 0 else 0.0
            # y: a-g (left column), b-h, c-i; differences north − south
            t1, m1 = _pair(v[0], q[0], v[3], q[3], v[6], q[6], ze)
            t2, m2 = _centre(v[1], q[1], v[7], q[7], ze)
            t3, m3 = _pair(v[2], q[2], v[5], q[5], v[8], q[8], ze)
            ny = m1 + m2 + m3
            gy = (t1 + t2 + t3) / (ny * dy) if ny > 0 else 0.0
            out[r, c] = 100.0 * math.sqrt(gx * gx + gy * gy)
    return out


@njit(cache=True, nogil=True)
def invest_ls_of_cell(big_a: float, a: float, side: float, pct: float, l_max: float) -> float:
    """InVEST 3.14's LS of one cell (module docstring) from the contributing area ``big_a``
    (m², the cell excluded), the cell area ``a`` (m²) and side (m), the percent slope and the
    cap on L."""
    theta = math.atan(pct / 100.0)
    s = math.sin(theta)
    x = abs(s) + abs(math.cos(theta))
    steep = 10.8 * s + 0.03 if pct < 9.0 else 16.8 * s - 0.5
    if pct <= 1.0:
        m = 0.2
    elif pct <= 3.5:
        m = 0.3
    elif pct <= 5.0:
        m = 0.4
    elif pct <= 9.0:
        m = 0.5
    else:
        beta = (s / 0.0896) / (3.0 * s ** 0.8 + 0.56)
        m = beta / (1.0 + beta)
    root = math.sqrt(big_a)
    if root > 0.0:   # (A + a)^(m+1) − A^(m+1) without cancellation when A ≫ a
        num = root ** (m + 1.0) * math.expm1((m + 1.0) * math.log1p(a / root))
    else:
        num = a ** (m + 1.0)
    ell = num / (side ** (m + 2.0) * x ** m * UNIT_PLOT_M ** m)
    return min(ell, l_max) * steep


def check_square(dx: float, dy: float, what: str) -> None:
    """Refuse cells that are not square (InVEST's formula has one cell side D).

    Raises
    ------
    TerrainError
    """
    if abs(dx - dy) > 1e-9 * max(dx, dy):
        raise TerrainError(f"{what}: InVEST's LS formula needs square cells, these are "
                           f"{dx:g} x {dy:g} m; warp the DEM to square pixels first "
                           f"(gdalwarp -tr {min(dx, dy):g} {min(dx, dy):g})")


def invest_array(z: np.ndarray, cell: float, *, l_max: float, valid: np.ndarray | None = None,
                 block: int | None = None, threads: int | None = 1,
                 dtype: type = np.float64) -> dict[str, np.ndarray]:
    """Slope (°), contributing area (m²) and LS by the ``invest`` method of an in-memory DEM
    with square cells of side ``cell`` (m), by the tiled accumulation (``block``: tile side;
    default the whole array as one tile); NaN at nodata."""
    from .accumulation import tiled_array
    from .tiled import FlowpathOptions

    z = np.asarray(z, dtype=np.float64)
    valid = np.isfinite(z) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(z)
    side = block if block is not None else max(z.shape)
    return tiled_array(z, valid, float(cell), float(cell), FlowpathOptions(l_max=l_max), dtype,
                       side, threads, "invest")
