"""The flow-path slope length and the LS factor on one DEM window (numba kernels).

The practice of Hickey (2000) and Van Remortel et al. (2001, 2004) — the RUSLE AML
``RUSLE_LS_4_PC.AML`` and its C++ port — which LS-TOOL (Zhang et al. 2013) extends:

1. **One-cell pits filled.** A valid cell whose eight neighbours all exist (inside the DEM, not
   nodata) and are all strictly higher is raised to its lowest neighbour (Hickey's annulus
   ``focalmin`` on ``focalflow == 255``). One pass is the AML's fixed point: a filled pit is no
   longer lower than all its neighbours, and raising it cannot make a neighbour a strict pit
   (that neighbour is at least as high as the pit's new level), so the AML's second pass never
   changes anything.
2. **D8 steepest descent.** Each valid cell flows to the valid neighbour with the largest drop
   ``(z − z_n) / d`` (d: the cardinal or diagonal distance between cell centres), if any drop is
   positive. Ties go to the first of E, SE, S, SW, W, NW, N, NE: an order of gepgeo's own (not
   ArcGIS's, whose flow direction resolves ties otherwise, so the two can differ on tied drops),
   fixed so that the result never depends on the order cells are visited. A cell with no lower valid
   neighbour (a flat, a filled pit, a cell on the DEM's edge or beside nodata that cannot drain
   inside it) has no direction: nothing leaves the DEM or enters nodata.
3. **Slope** θ = atan(drop) in degrees along that direction; a cell without a direction (or
   with θ = 0) gets the minimum slope (LS-TOOL / the AML: 0.1°, "> 0 and < 0.57°, the angle of a
   1 % gradient", so that every cell keeps an LS > 0).
4. **Non-cumulative slope length** ℓ of a cell: the cell side along a cardinal direction, the
   cell diagonal along a diagonal one (the AML: ``celldiag = 1.4142 · cell``; here √(dx² + dy²)
   exactly), the cell size when the cell has no direction.
5. **Cumulative slope length** λ, from high points down each flow path (the AML's iteration
   reached in one topological pass):

       λ(X) = max( beg(X), max over U → X not cut: λ(U) + ℓ(U) )
       beg(X) = ℓ(X) / 2 if no cell flows into X (a high point), else the cell size
       cut(U → X) ⇔ θ(X) < θ(U) · f(X),  f(X) = 0.7 if θ(X) < atan 5 %, else 0.5

   The slope-cutoff factors f (0.7 below a 5 % gradient, 0.5 at or above) are the AML's and
   LS-TOOL's defaults, parameters here; the cut is strict, as the AML's ``lt``. The break
   atan 5 % = 2.862405° is computed here; the AML writes the literal 2.8624. λ is a horizontal
   length (McCool et al. 1997).
6. **Cap.** The slope length used (and written) is min(λ, λ_max); see
   :data:`DEFAULT_MAX_SLOPE_LENGTH_M`. The cap is gepgeo's addition: the AML has none (λ
   accumulates without a bound); it is what makes the method local, so that blocks with a
   finite halo give the whole-array result. Then LS = L(λ, m(θ)) · S(θ) (:mod:`.factors`).

Cells are addressed in the window only: a neighbour outside the window is treated as absent,
exactly like a neighbour outside the DEM. :mod:`gepgeo.terrain.tiled` cuts a DEM into windows
with a halo wide enough that the cells it keeps are those for which this makes no difference.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .factors import DEG2RAD, RAD2DEG, exponent_of_sine, l_factor, steepness_of_sine

__all__ = ["DEFAULT_MIN_SLOPE_DEG", "DEFAULT_CUTOFF_GENTLE", "DEFAULT_CUTOFF_STEEP",
           "CUTOFF_BREAK_PERCENT", "DEFAULT_MAX_SLOPE_LENGTH_M", "DR", "DC",
           "fill_single_pits", "d8_slope", "cumulative_length", "flowpath_window"]

#: slope given to cells without a downslope neighbour (flats, filled pits), degrees: the value
#: suggested by Van Remortel et al.'s AML (RUSLE_LS_4_PC.AML) and LS-TOOL, "> 0.00 and < 0.57
#: (inverse tangent of a 1 % gradient)"
DEFAULT_MIN_SLOPE_DEG = 0.1

#: slope-cutoff factor below a 5 % gradient (Van Remortel et al. 2001; LS-TOOL default)
DEFAULT_CUTOFF_GENTLE = 0.7

#: slope-cutoff factor at a 5 % gradient or steeper (Van Remortel et al. 2001; LS-TOOL default)
DEFAULT_CUTOFF_STEEP = 0.5

#: gradient separating the two cutoff factors, percent: atan 5 % = 2.862405°, computed (the AML
#: writes the literal 2.8624°)
CUTOFF_BREAK_PERCENT = 5.0

#: default maximum slope length, m: 1 000 ft (304.8 m), the longest slope length of the LS
#: tables of AH 703 (Renard et al. 1997); a parameter (``--max-slope-length``). The cap is
#: gepgeo's addition: the AML has none
DEFAULT_MAX_SLOPE_LENGTH_M = 304.8

#: row and column offsets of the eight directions, in tie-break order: E, SE, S, SW, W, NW, N, NE
#: (rows grow southwards); odd indices are diagonal
DR = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)


@njit(cache=True, nogil=True)
def fill_single_pits(z: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One-cell pits raised to their lowest neighbour (Hickey 2000).

    Parameters
    ----------
    z : 2-D float64 array
        Elevations, m.
    valid : 2-D bool array
        False at nodata.

    Returns
    -------
    2-D float64 array
        ``z`` with every valid cell whose 8 neighbours exist, are valid and are all strictly
        higher set to the lowest of them; other cells unchanged.
    """
    h, w = z.shape
    out = z.copy()
    for r in range(1, h - 1):
        for c in range(1, w - 1):
            if not valid[r, c]:
                continue
            zc = z[r, c]
            low = np.inf
            pit = True
            for k in range(8):
                rr = r + DR[k]
                cc = c + DC[k]
                if not valid[rr, cc] or z[rr, cc] <= zc:
                    pit = False
                    break
                if z[rr, cc] < low:
                    low = z[rr, cc]
            if pit:
                out[r, c] = low
    return out


@njit(cache=True, nogil=True)
def d8_slope(zf: np.ndarray, valid: np.ndarray, dx: float, dy: float,
             min_slope_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """D8 steepest-descent direction and slope angle of every cell.

    Parameters
    ----------
    zf : 2-D float64 array
        Pit-filled elevations, m.
    valid : 2-D bool array
    dx, dy : float
        Cell width (along a row) and height, m.
    min_slope_deg : float
        Slope of cells without a downslope neighbour, degrees.

    Returns
    -------
    direction : 2-D int8 array
        0..7 (E, SE, S, SW, W, NW, N, NE), −1 for none (and at nodata).
    slope_deg : 2-D float64 array
        θ, degrees (NaN at nodata).
    """
    h, w = zf.shape
    dist = np.empty(8)
    diag = math.sqrt(dx * dx + dy * dy)
    for k in range(8):
        dist[k] = diag if k % 2 == 1 else (dx if DR[k] == 0 else dy)
    direction = np.full((h, w), -1, dtype=np.int8)
    slope = np.full((h, w), np.nan)
    for r in range(h):
        for c in range(w):
            if not valid[r, c]:
                continue
            best = 0.0
            kbest = -1
            for k in range(8):
                rr = r + DR[k]
                cc = c + DC[k]
                if rr < 0 or rr >= h or cc < 0 or cc >= w or not valid[rr, cc]:
                    continue
                drop = (zf[r, c] - zf[rr, cc]) / dist[k]
                if drop > best:
                    best = drop
                    kbest = k
            direction[r, c] = kbest
            theta = math.atan(best) * RAD2DEG if kbest >= 0 else 0.0
            slope[r, c] = theta if theta > 0.0 else min_slope_deg
    return direction, slope


@njit(cache=True, nogil=True)
def cumulative_length(direction: np.ndarray, slope_deg: np.ndarray, valid: np.ndarray,
                      dx: float, dy: float, cutoff_gentle: float, cutoff_steep: float,
                      cutoff_break_deg: float) -> np.ndarray:
    """Cumulative slope length λ along the D8 flow paths (uncapped), m; NaN at nodata.

    ``λ(X) = max(beg(X), max over U → X not cut of λ(U) + ℓ(U))`` (see the module docstring),
    computed in one topological pass from the cells nothing flows into (D8 on strictly
    decreasing elevations has no cycles). ``max`` is exact and each term is one addition, so
    λ(X) is a function of X's upstream tree alone, whatever the order cells are visited in.
    """
    h, w = direction.shape
    n = h * w
    cell = max(dx, dy)
    diag = math.sqrt(dx * dx + dy * dy)
    indeg = np.zeros(n, dtype=np.int8)
    for r in range(h):
        for c in range(w):
            k = direction[r, c]
            if k >= 0:
                indeg[(r + DR[k]) * w + c + DC[k]] += 1
    acc = np.zeros(n)
    lam = np.full((h, w), np.nan)
    beg = np.empty(n)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for r in range(h):
        for c in range(w):
            i = r * w + c
            if not valid[r, c]:
                continue
            k = direction[r, c]
            ell = cell if k < 0 else (diag if k % 2 == 1 else (dx if DR[k] == 0 else dy))
            beg[i] = cell if indeg[i] > 0 else 0.5 * ell
            if indeg[i] == 0:
                stack[top] = i
                top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        r = i // w
        c = i - r * w
        value = max(beg[i], acc[i])
        lam[r, c] = value
        k = direction[r, c]
        if k < 0:
            continue
        rr = r + DR[k]
        cc = c + DC[k]
        j = rr * w + cc
        ell = diag if k % 2 == 1 else (dx if DR[k] == 0 else dy)
        theta_d = slope_deg[rr, cc]
        f = cutoff_gentle if theta_d < cutoff_break_deg else cutoff_steep
        if not theta_d < slope_deg[r, c] * f:
            carried = value + ell
            if carried > acc[j]:
                acc[j] = carried
        indeg[j] -= 1
        if indeg[j] == 0:
            stack[top] = j
            top += 1
    return lam


@njit(cache=True, nogil=True)
def flowpath_window(z: np.ndarray, valid: np.ndarray, dx: float, dy: float,
                    min_slope_deg: float, cutoff_gentle: float, cutoff_steep: float,
                    cutoff_break_deg: float, max_length_m: float, m_table: int,
                    b1_deg: float, b2_deg: float, r0: int, c0: int,
                    out_slope: np.ndarray, out_length: np.ndarray, out_ls: np.ndarray,
                    need: np.ndarray, use_need: bool) -> None:
    """Slope, capped slope length and LS of the cells of a window's core.

    The steps of :func:`fill_single_pits`, :func:`d8_slope` and :func:`cumulative_length`
    fused into one kernel, with the same arithmetic in the same order, so that the maps are
    the same bit for bit (``tests/test_terrain.py`` checks it), in fewer passes and less memory:

    * the elevations are copied once into a grid with a one-cell border, NaN on the border and
      at nodata: a NaN neighbour is neither higher nor lower than anything, exactly as an absent
      one, so the neighbour loops need no bounds or validity tests (and the D8 drops of a row
      are computed by vector instructions);
    * single-cell pits are filled in place: no neighbour of a pit is a pit (it would have to be
      both higher and lower than the pit), and a filled pit is no lower than any of its
      neighbours, so no cell's pit test or lowest neighbour changes;
    * the in-degrees are counted in the D8 pass, and the cumulative slope length walks down each
      flow path from a cell nothing flows into, going on while the next cell has received all
      its inflows (a topological order without a stack; the start value of a walk's first cell
      is ℓ/2, of every later cell the cell size, as in :func:`cumulative_length`);
    * work arrays: filled elevations, slope and λ (float64), direction and in-degree (int8):
      26 bytes a window cell.

    Parameters
    ----------
    z : 2-D float64 array
        The window's elevations, m (vertical and horizontal units made metres by the caller).
    valid : 2-D bool array
        False at nodata (``z`` finite where True).
    dx, dy : float
        Cell width and height, m.
    min_slope_deg, cutoff_gentle, cutoff_steep, cutoff_break_deg, max_length_m : float
        See the module docstring.
    m_table : int
        The L exponent table (:data:`gepgeo.terrain.factors.M_TABLES`).
    b1_deg, b2_deg : float
        The S slope breaks, degrees.
    r0, c0 : int
        Row and column of the core's first cell in the window.
    out_slope, out_length, out_ls : 2-D float arrays of the core's shape
        Filled with θ (degrees), min(λ, λ_max) (m) and LS; NaN at nodata.
    need : 2-D bool array of the core's shape
        With ``use_need``, the core cells whose maps are wanted (in a run: where the land use
        has data); the others are set to NaN without computing m, L or S.
    use_need : bool
        Whether ``need`` applies (else every cell is computed and ``need`` is not read).
    """
    h, w = z.shape
    ww = w + 2                       # row stride of the bordered grid
    n = (h + 2) * ww
    nan = np.nan
    diag = math.sqrt(dx * dx + dy * dy)
    cell = max(dx, dy)
    off = np.empty(8, dtype=np.int64)          # flat offset of each direction
    ell = np.empty(8)                          # its cell length ℓ
    for k in range(8):
        off[k] = DR[k] * ww + DC[k]
        ell[k] = diag if k % 2 == 1 else (dx if DR[k] == 0 else dy)
    # 1. elevations with a NaN border, NaN at nodata
    zf = np.full(n, nan)
    for r in range(h):
        base = (r + 1) * ww + 1
        for c in range(w):
            if valid[r, c]:
                zf[base + c] = z[r, c]
    # 2. single-cell pits raised to their lowest neighbour, in place (see above)
    for r in range(1, h + 1):
        for i in range(r * ww + 1, r * ww + w + 1):
            zc = zf[i]
            a0 = zf[i + 1]
            a1 = zf[i + ww + 1]
            a2 = zf[i + ww]
            a3 = zf[i + ww - 1]
            a4 = zf[i - 1]
            a5 = zf[i - ww - 1]
            a6 = zf[i - ww]
            a7 = zf[i - ww + 1]
            if ((a0 > zc) & (a1 > zc) & (a2 > zc) & (a3 > zc) & (a4 > zc) & (a5 > zc)
                    & (a6 > zc) & (a7 > zc)):
                low = a0                     # the first lowest, as fill_single_pits
                if a1 < low:
                    low = a1
                if a2 < low:
                    low = a2
                if a3 < low:
                    low = a3
                if a4 < low:
                    low = a4
                if a5 < low:
                    low = a5
                if a6 < low:
                    low = a6
                if a7 < low:
                    low = a7
                zf[i] = low
    # 3. D8 (the first largest positive drop in the order of DR, DC), slope, in-degrees
    direction = np.full(n, -1, dtype=np.int8)
    slope = np.full(n, nan)
    indeg = np.zeros(n, dtype=np.int8)
    best_row = np.empty(ww)
    k_row = np.empty(ww, dtype=np.int8)
    for r in range(1, h + 1):
        rb = r * ww
        for c in range(1, w + 1):            # no calls, no stores but two: vectorised
            i = rb + c
            zc = zf[i]
            best = 0.0
            kb = -1
            q = (zc - zf[i + 1]) / dx
            if q > best:
                best = q
                kb = 0
            q = (zc - zf[i + ww + 1]) / diag
            if q > best:
                best = q
                kb = 1
            q = (zc - zf[i + ww]) / dy
            if q > best:
                best = q
                kb = 2
            q = (zc - zf[i + ww - 1]) / diag
            if q > best:
                best = q
                kb = 3
            q = (zc - zf[i - 1]) / dx
            if q > best:
                best = q
                kb = 4
            q = (zc - zf[i - ww - 1]) / diag
            if q > best:
                best = q
                kb = 5
            q = (zc - zf[i - ww]) / dy
            if q > best:
                best = q
                kb = 6
            q = (zc - zf[i - ww + 1]) / diag
            if q > best:
                best = q
                kb = 7
            best_row[c] = best
            k_row[c] = kb
        for c in range(1, w + 1):
            if not valid[r - 1, c - 1]:
                continue
            i = rb + c
            kb = k_row[c]
            direction[i] = kb
            theta = math.atan(best_row[c]) * RAD2DEG if kb >= 0 else 0.0
            slope[i] = theta if theta > 0.0 else min_slope_deg
            if kb >= 0:
                indeg[i + off[kb]] += 1
    # 4. cumulative slope length λ: a walk down from each cell nothing flows into, going on
    #    while the next cell has all its inflows; a cell done is marked with in-degree −1
    lam = np.zeros(n)
    for r in range(1, h + 1):
        for c in range(1, w + 1):
            i = r * ww + c
            if indeg[i] != 0 or not valid[r - 1, c - 1]:
                continue
            k = direction[i]
            value = 0.5 * (cell if k < 0 else ell[k])        # beg of a high point
            j = i
            while True:
                lam[j] = value
                indeg[j] = -1
                if k < 0:
                    break
                t = j + off[k]
                theta_d = slope[t]
                f = cutoff_gentle if theta_d < cutoff_break_deg else cutoff_steep
                if not theta_d < slope[j] * f:
                    carried = value + ell[k]
                    if carried > lam[t]:
                        lam[t] = carried
                indeg[t] -= 1
                if indeg[t] != 0:
                    break
                j = t
                k = direction[j]
                value = max(cell, lam[j])                    # beg of a cell with inflow
    # 5. L, S and LS of the core
    hh, wc = out_ls.shape
    for r in range(hh):
        for c in range(wc):
            if not valid[r0 + r, c0 + c] or (use_need and not need[r, c]):
                out_slope[r, c] = nan
                out_length[r, c] = nan
                out_ls[r, c] = nan
                continue
            i = (r0 + r + 1) * ww + c0 + c + 1
            theta = slope[i]
            length = min(lam[i], max_length_m)
            sin_t = math.sin(theta * DEG2RAD)      # once for m and S
            m = exponent_of_sine(sin_t, theta, m_table)
            out_slope[r, c] = theta
            out_length[r, c] = length
            out_ls[r, c] = l_factor(length, m) * steepness_of_sine(sin_t, theta, b1_deg, b2_deg)
