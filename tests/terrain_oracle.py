"""A plain-NumPy whole-array reference of the flow-path LS, written from Van Remortel et al.'s
RUSLE AML (RUSLE_LS_4_PC.AML) plus gepgeo's documented deviations from it — not from a separate
specification, and not from gepgeo.terrain's code (it imports nothing from gepgeo):

* the maximum slope length ``max_length`` (the AML has no cap; λ accumulates without one);
* ties between equal steepest drops go to the first of E, SE, S, SW, W, NW, N, NE (gepgeo's
  order; ArcGIS's flow direction resolves ties otherwise);
* the cell length of a cell without a direction and the start value of a cell with inflow is
  max(dx, dy) (the AML has square cells);
* the cutoff break is atan 5 % computed (2.862405°; the AML writes the literal 2.8624), and
  the diagonal is √(dx² + dy²) (the AML: 1.4142 · cell).

It is thus a second implementation of the same reading of the AML, not an independent check of
that reading. It keeps the AML's map-algebra structure: every step is a whole-grid operation
over the eight neighbour shifts, and the cumulative slope length is the AML's iteration — start
every cell that receives flow as "unknown" (NaN), then repeat ``cum = max(beg, max over inflows
of (0 if cut else prev(U) + cell(U)))`` until no cell is unknown — instead of gepgeo's one
topological pass and its windows.
Transcendental functions are Python's ``math`` ones, one cell at a time.

:func:`contributing_area_reference` is the reference of the ``contributing_area`` method
(Desmet & Govers 1996), plain Python loops written from docs/METHOD.md § 8.5.
"""

from __future__ import annotations

import math

import numpy as np

R2D = 180.0 / math.pi
D2R = math.pi / 180.0

# the eight neighbours in the tie-break order E, SE, S, SW, W, NW, N, NE (row, col offsets)
OFFSETS = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]


def shifted(a: np.ndarray, dr: int, dc: int, fill: float | bool) -> np.ndarray:
    """``out[r, c] = a[r + dr, c + dc]``, ``fill`` where that lies outside the grid."""
    h, w = a.shape
    out = np.full(a.shape, fill, dtype=a.dtype)
    r0, r1 = max(0, -dr), min(h, h - dr)
    c0, c1 = max(0, -dc), min(w, w - dc)
    out[r0:r1, c0:c1] = a[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
    return out


def emap(f, a: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``f`` applied to every element with Python's math (no vectorised approximations)."""
    return np.array([f(float(v)) for v in a.ravel()]).reshape(a.shape)


def m_exponent(theta: float, table: str) -> float:
    if table == "mccool":
        s = math.sin(theta * D2R)
        beta = (s / 0.0896) / (3.0 * s ** 0.8 + 0.56)
        return beta / (1.0 + beta)
    if table == "wischmeier_smith":
        p = math.tan(theta * D2R) * 100.0
        return 0.2 if p < 1 else 0.3 if p <= 3 else 0.4 if p < 5 else 0.5
    # the AML's table, literally
    if theta <= 0.1:
        return 0.01
    rows = [(0.2, 0.02), (0.4, 0.04), (0.85, 0.08), (1.4, 0.14), (2.0, 0.18), (2.6, 0.22),
            (3.1, 0.25), (3.7, 0.28), (5.2, 0.32), (6.3, 0.35), (7.4, 0.37), (8.6, 0.40),
            (10.3, 0.41), (12.9, 0.44), (15.7, 0.47), (20.0, 0.49), (25.8, 0.52),
            (31.5, 0.54), (37.2, 0.55)]
    for bound, m in rows:
        if theta < bound:
            return m
    return 0.56


def s_steepness(theta: float, b1: float, b2: float) -> float:
    s = math.sin(theta * D2R)
    if theta >= b2:
        return 21.91 * s - 0.96
    if theta >= b1:
        return 16.8 * s - 0.50
    return 10.8 * s + 0.03


def flowpath_reference(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, *,
                       max_length: float = 304.8, min_slope: float = 0.1,
                       cut_gentle: float = 0.7, cut_steep: float = 0.5,
                       m_table: str = "mccool", b1: float = 5.0, b2: float = 10.0,
                       counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Slope (°), capped slope length (m) and LS of a whole DEM (metres); NaN at nodata.

    ``counts``, if given, receives ``tied`` (cells whose steepest positive drop is shared by
    two or more neighbours, where the tie order decides) and ``cut`` (inflows cut by the slope
    cutoff rule)."""
    z = np.asarray(z, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    h, w = z.shape
    nan = np.nan
    zv = np.where(valid, z, nan)

    # 1. single-cell pits: all eight neighbours present, valid and strictly higher
    nbs = [shifted(zv, dr, dc, nan) for dr, dc in OFFSETS]
    with np.errstate(invalid="ignore"):
        higher = np.ones((h, w), dtype=bool)
        for nb in nbs:
            higher &= np.isfinite(nb) & (nb > zv)
    pit = valid & higher
    zf = np.where(pit, np.min(np.stack(nbs), axis=0), zv)

    # 2. D8 on the filled DEM: the first largest positive drop in the fixed order
    diag = math.sqrt(dx * dx + dy * dy)
    dist = [dx if dr == 0 else dy if dc == 0 else diag for dr, dc in OFFSETS]
    drops = np.full((8, h, w), -np.inf)
    for k, (dr, dc) in enumerate(OFFSETS):
        nb = shifted(zf, dr, dc, nan)
        ok = valid & np.isfinite(nb)
        drops[k][ok] = (zf[ok] - nb[ok]) / dist[k]
    best = drops.max(axis=0)
    kbest = drops.argmax(axis=0)                  # first index of the maximum
    flows = valid & (best > 0)
    direction = np.where(flows, kbest, -1)
    if counts is not None:
        counts["tied"] = int((flows & ((drops == best).sum(axis=0) > 1)).sum())

    # 3. downslope angle, flats and no-outflow cells at the minimum slope
    theta = np.where(flows, emap(lambda v: math.atan(v) * R2D if v > 0 else 0.0,
                                 np.where(flows, best, 0.0)), 0.0)
    theta = np.where(theta == 0.0, min_slope, theta)
    theta = np.where(valid, theta, nan)

    # 4. non-cumulative cell length
    cell = max(dx, dy)
    ell = np.full((h, w), cell)
    for k in range(8):
        ell[direction == k] = dist[k]

    # 5. the AML's iteration. inflow[k] at X: the neighbour at OFFSETS[k] flows into X
    inflow = []
    for k, (dr, dc) in enumerate(OFFSETS):
        back = (k + 4) % 8                        # the direction from that neighbour to X
        inflow.append(valid & (shifted(direction, dr, dc, -1) == back))
    has_in = np.any(np.stack(inflow), axis=0)
    beg = np.where(has_in, cell, 0.5 * ell)
    cum = np.where(has_in, nan, 0.5 * ell)
    cum = np.where(valid, cum, nan)
    theta_5 = math.atan(0.05) * R2D
    fac = np.where(theta < theta_5, cut_gentle, cut_steep)
    if counts is not None:
        counts["cut"] = 0
        for k, (dr, dc) in enumerate(OFFSETS):
            with np.errstate(invalid="ignore"):
                counts["cut"] += int((inflow[k] & (theta < shifted(theta, dr, dc, nan) * fac))
                                     .sum())
    for _ in range(h * w + 1):
        prev = cum
        best_in = beg.copy()
        for k, (dr, dc) in enumerate(OFFSETS):
            th_u = shifted(theta, dr, dc, nan)
            with np.errstate(invalid="ignore"):
                cut = theta < th_u * fac
            carried = shifted(prev, dr, dc, nan) + shifted(ell, dr, dc, nan)
            contrib = np.where(inflow[k], np.where(cut, 0.0, carried), 0.0)
            best_in = np.maximum(best_in, contrib)   # NaN (unknown) wins, as in Grid's max
        cum = np.where(valid, best_in, nan)
        if not np.isnan(cum[valid]).any():
            break
    length = np.minimum(cum, max_length)

    # 6. L, S, LS
    ls = np.full((h, w), nan)
    for r, c in zip(*np.nonzero(valid)):
        t = float(theta[r, c])
        m = m_exponent(t, m_table)
        ls[r, c] = (float(length[r, c]) / 22.13) ** m * s_steepness(t, b1, b2)
    return {"slope_deg": theta, "slope_length_m": np.where(valid, length, nan),
            "slope_length_steepness_ls": ls}


def d8_reference(z: np.ndarray, valid: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """D8 codes (0..7 in the order of :data:`OFFSETS`, −1 for none and at nodata) of the DEM as
    given (no pit filling): the first largest strictly positive drop, one cell at a time."""
    h, w = z.shape
    diag = math.sqrt(dx * dx + dy * dy)
    out = np.full((h, w), -1, dtype=np.int64)
    for r in range(h):
        for c in range(w):
            if not valid[r, c]:
                continue
            best = 0.0
            for k, (dr, dc) in enumerate(OFFSETS):
                rr, cc = r + dr, c + dc
                if not (0 <= rr < h and 0 <= cc < w and valid[rr, cc]):
                    continue
                d = dx if dr == 0 else dy if dc == 0 else diag
                drop = (float(z[r, c]) - float(z[rr, cc])) / d
                if drop > best:
                    best, out[r, c] = drop, k
    return out


def contributing_area_reference(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, *,
                                min_slope: float = 0.1, m_table: str = "mccool",
                                b1: float = 5.0, b2: float = 10.0) -> dict[str, np.ndarray]:
    """Slope (°), contributing area flowing into each cell (m²) and LS of a whole DEM by the
    contributing-area method (Desmet & Govers 1996), NaN at nodata, written from the equations
    of docs/METHOD.md § 8.5, not from gepgeo's code:

    * D8 on the DEM as given (:func:`d8_reference`), the area carried down the cells sorted by
      decreasing elevation (every cell comes after all the cells upstream of it, since flow goes
      strictly downhill) instead of gepgeo's in-degree stack;
    * slope and aspect from the central-difference gradient (one-sided at the DEM's edge and
      beside nodata, 0 where both neighbours are missing), the aspect as an angle
      α = atan2(−∂z/∂x, −∂z/∂y) and W = dx·|cos α| + dy·|sin α|;
    * L = ((A + a)^(m+1) − A^(m+1)) / (a · W^m · 22.13^m) evaluated literally in 50-digit
      decimal arithmetic (no cancellation to avoid).
    """
    from decimal import Decimal, localcontext

    z = np.asarray(z, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    h, w = z.shape
    a = dx * dy
    direction = d8_reference(z, valid, dx, dy)
    area = np.where(valid, 0.0, np.nan)
    cells = sorted(((float(z[r, c]), r, c) for r, c in zip(*np.nonzero(valid))),
                   key=lambda t: -t[0])
    for _, r, c in cells:
        k = direction[r, c]
        if k >= 0:
            dr, dc = OFFSETS[k]
            area[r + dr, c + dc] += area[r, c] + a

    def ok(r: int, c: int) -> bool:
        return 0 <= r < h and 0 <= c < w and bool(valid[r, c])

    def diff(lo: tuple[int, int], mid: tuple[int, int], hi: tuple[int, int],
             step: float) -> float:
        """(z(hi) − z(lo)) over their distance, with ``mid`` standing in for a missing end."""
        has_lo, has_hi = ok(*lo), ok(*hi)
        if has_lo and has_hi:
            return (float(z[hi]) - float(z[lo])) / (2 * step)
        if has_hi:
            return (float(z[hi]) - float(z[mid])) / step
        if has_lo:
            return (float(z[mid]) - float(z[lo])) / step
        return 0.0

    theta = np.full((h, w), np.nan)
    ls = np.full((h, w), np.nan)
    for r, c in zip(*np.nonzero(valid)):
        gx = diff((r, c - 1), (r, c), (r, c + 1), dx)          # eastward rise
        gy = diff((r + 1, c), (r, c), (r - 1, c), dy)          # northward rise (rows go south)
        g = math.hypot(gx, gy)
        t = math.degrees(math.atan(g))
        if t > 0:
            alpha = math.atan2(-gx, -gy)
            width = dx * abs(math.cos(alpha)) + dy * abs(math.sin(alpha))
        else:
            t, width = min_slope, dx
        m = m_exponent(t, m_table)
        with localcontext() as ctx:
            ctx.prec = 50
            dm = Decimal(m) + 1
            num = (Decimal(area[r, c]) + Decimal(a)) ** dm - Decimal(area[r, c]) ** dm \
                if area[r, c] > 0 else Decimal(a) ** dm
            den = Decimal(a) * Decimal(width) ** Decimal(m) * Decimal("22.13") ** Decimal(m)
            ell = float(num / den)
        theta[r, c] = t
        ls[r, c] = ell * s_steepness(t, b1, b2)
    return {"slope_deg": theta, "contributing_area_m2": area, "slope_length_steepness_ls": ls}


def horn_percent_reference(z: np.ndarray, valid: np.ndarray, d: float) -> np.ndarray:
    """Percent slope by pygeoprocessing's ``calculate_slope`` stencil, written from its
    description (docs/METHOD.md § 8.6), whole arrays at once: each of the three rows (for
    ∂z/∂x) or columns (∂z/∂y) of the 3 × 3 window gives a difference and a weight, chosen by
    which of its cells exist; NaN at nodata."""
    z = np.where(valid, np.asarray(z, dtype=np.float64), 0.0)
    v = {(dr, dc): shifted(valid, dr, dc, False) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    q = {(dr, dc): shifted(z, dr, dc, 0.0) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    e = z
    root2 = math.sqrt(2.0)

    def outer(lo, mid, hi):  # type: ignore[no-untyped-def]
        conds = [v[lo] & v[hi], v[lo] & v[mid], v[mid] & v[hi], v[lo], v[hi]]
        diffs = [q[lo] - q[hi], q[lo] - q[mid], q[mid] - q[hi], (q[lo] - e) * root2,
                 (e - q[hi]) * root2]
        weights = [2, 1, 1, 1, 1]
        return np.select(conds, diffs, 0.0), np.select(conds, weights, 0)

    def middle(lo, hi):  # type: ignore[no-untyped-def]
        conds = [v[lo] & v[hi], v[lo], v[hi]]
        return (np.select(conds, [2 * (q[lo] - q[hi]), 2 * (q[lo] - e), 2 * (e - q[hi])], 0.0),
                np.select(conds, [4, 2, 2], 0))

    parts_x = [outer((-1, -1), (-1, 0), (-1, 1)), middle((0, -1), (0, 1)),
               outer((1, -1), (1, 0), (1, 1))]
    parts_y = [outer((-1, -1), (0, -1), (1, -1)), middle((-1, 0), (1, 0)),
               outer((-1, 1), (0, 1), (1, 1))]

    def grad(parts):  # type: ignore[no-untyped-def]
        s = sum(p[0] for p in parts)
        n = sum(p[1] for p in parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s / (n * d), 0.0)

    gx, gy = grad(parts_x), grad(parts_y)
    return np.where(valid, 100.0 * np.sqrt(gx * gx + gy * gy), np.nan)


def invest_reference(z: np.ndarray, valid: np.ndarray, d: float, l_max: float
                     ) -> dict[str, np.ndarray]:
    """LS by InVEST 3.14's SDR formula (docs/METHOD.md § 8.6) with the contributing area of
    :func:`contributing_area_reference` (A_in = (FA − 1) · D²) and the slope of
    :func:`horn_percent_reference`; L evaluated literally in 50-digit decimals."""
    from decimal import Decimal, localcontext

    area = contributing_area_reference(z, valid, d, d)["contributing_area_m2"]
    pct = horn_percent_reference(z, valid, d)
    ls = np.full(z.shape, np.nan)
    for r, c in zip(*np.nonzero(valid)):
        p = float(pct[r, c])
        t = math.atan(p / 100)
        x = abs(math.sin(t)) + abs(math.cos(t))
        s = 10.8 * math.sin(t) + 0.03 if p < 9 else 16.8 * math.sin(t) - 0.5
        m = (0.2 if p <= 1 else 0.3 if p <= 3.5 else 0.4 if p <= 5 else 0.5 if p <= 9 else
             (lambda b: b / (1 + b))((math.sin(t) / 0.0896) / (3 * math.sin(t) ** 0.8 + 0.56)))
        with localcontext() as ctx:
            ctx.prec = 50
            big = Decimal(float(area[r, c])).sqrt()
            a = Decimal(d) * Decimal(d)
            dm = Decimal(m) + 1
            num = (big + a) ** dm - big ** dm
            den = Decimal(d) ** (dm + 1) * Decimal(x) ** Decimal(m) * Decimal("22.13") ** Decimal(m)
            ell = float(num / den)
        ls[r, c] = min(ell, l_max) * s
    return {"slope_deg": np.degrees(np.arctan(pct / 100)), "contributing_area_m2": area,
            "slope_length_steepness_ls": ls}
