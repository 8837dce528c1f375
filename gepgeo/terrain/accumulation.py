"""The ``contributing_area`` LS method: L from the upslope contributing area (Desmet & Govers
1996), whole array in memory (numba kernels).

1. **D8 directions** of the DEM *as given* (no pit filling): :func:`.flowpath.d8_slope`, the
   same codes (0..7 = E, SE, S, SW, W, NW, N, NE), the same tie order and the same rule for
   cells without a lower valid neighbour (flats, pits, cells on the edge or beside nodata that
   cannot drain inside the DEM): no direction. Flow reaching such a cell accumulates there and
   stops. Condition the DEM first (pysheds, richdem, WhiteboxTools ``FillDepressions``) where
   pits are artefacts.
2. **Contributing area** flowing *into* each cell, A_in (m², the cell itself excluded):
   ``A_in(X) = Σ over U → X of (A_in(U) + a)``, a = dx · dy the cell area, by one topological
   (in-degree) pass over the whole array (D8 on strictly decreasing elevations has no cycles).
   Uncapped. Nodata cells neither give nor receive flow.
3. **Slope and aspect** from the finite-difference gradient (Zevenbergen & Thorne 1987: central
   differences of the four cardinal neighbours), ``∂z/∂x = (z_E − z_W) / 2dx``,
   ``∂z/∂y = (z_N − z_S) / 2dy``; where one of the pair is missing (DEM edge, nodata) the
   one-sided difference with the cell itself, where both are, 0. θ = atan |∇z| in degrees; a cell
   with θ = 0 gets the minimum slope (as in the flow-path method). The aspect α (compass bearing
   of the downslope direction) enters only through |sin α| = |∂z/∂x| / |∇z| and
   |cos α| = |∂z/∂y| / |∇z|; at |∇z| = 0, α = 0.
4. **L** (Desmet & Govers 1996; InVEST SDR before 3.14; SAGA ``LS Factor, Field Based``)::

       L = ((A_in + a)^(m+1) − A_in^(m+1)) / (a · W^m · 22.13^m)
       W = dx · |cos α| + dy · |sin α|

   W is the effective contour width, the width of the cell across the flow; for square cells
   (dx = dy = D) ``a · W^m = D^(m+2) · x^m`` with x = |sin α| + |cos α|, the published form. The
   numerator is computed as ``A_in^(m+1) · expm1((m+1) · log1p(a / A_in))`` (no cancellation
   for A_in ≫ a), and as a^(m+1) at A_in = 0. m from the m table of θ, S from θ with the S
   breaks: :mod:`.factors`, as in the flow-path method.

Here the whole grid is one array (the contributing area is not local: no halo makes a block
exact), limited to :data:`MAX_IN_MEMORY_PIXELS` cells: the plain form, and the one the tiled
accumulation (:mod:`.tiled_accumulation`, Barnes 2017) is checked against. The command and
pipelines use the tiled accumulation, on grids of any size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numba import njit

from ..errors import TerrainError
from .factors import DEG2RAD, RAD2DEG, UNIT_PLOT_M, exponent_of_sine, steepness_of_sine
from .flowpath import DC, DR, d8_slope

__all__ = ["MAX_IN_MEMORY_PIXELS", "REFUSED_OPTIONS", "INVEST_REFUSED", "REFUSAL",
           "refused_by", "check_size", "refused_options",
           "options_dict", "gradient_at", "gradient_slope_width", "inflow_sum", "inflow_sum_seeded",
           "ls_of_cell", "contributing_area_window", "contributing_area_array", "tiled_array"]

#: the largest grid the method computes, pixels (8192²): the whole grid is held in memory,
#: about 80 bytes a cell while the kernels run (8192²: about 5.5 GB; measured: 546 MB peak RSS
#: for a 2000² DEM, the interpreter and libraries included)
MAX_IN_MEMORY_PIXELS = 8192 * 8192

#: options of the flow-path method that mean nothing here: (pipeline key, command flag)
REFUSED_OPTIONS = (("max_slope_length", "--max-slope-length"),
                   ("cutoff_gentle", "--cutoff-gentle"), ("cutoff_steep", "--cutoff-steep"))

#: ... and those that mean nothing to the ``invest`` method (its m, S and slope are InVEST's)
INVEST_REFUSED = REFUSED_OPTIONS + (("min_slope", "--min-slope"), ("m_table", "--m-table"),
                                    ("s_breaks", "--s-breaks"))

#: why each method refuses them
REFUSAL = {"contributing_area": "its slope length is the upslope area, uncapped and never cut",
           "invest": "it reproduces InVEST's LS formula, whose slope, m and S are fixed"}


def refused_by(method: str) -> tuple[tuple[str, str], ...]:
    """(pipeline key, flag) of the options ``method`` refuses (none for ``flowpath``)."""
    return {"contributing_area": REFUSED_OPTIONS, "invest": INVEST_REFUSED}.get(method, ())


def refused_options(opts: Any, given: Iterable[str] = (),
                    method: str = "contributing_area") -> list[tuple[str, str]]:
    """(pipeline key, flag) of each option ``method`` refuses that is in ``given`` (names as
    pipeline keys) or set to other than its default in ``opts`` (a
    :class:`.tiled.FlowpathOptions`)."""
    from .tiled import FlowpathOptions

    default = FlowpathOptions()
    fields = {"max_slope_length": "max_slope_length_m", "cutoff_gentle": "cutoff_gentle",
              "cutoff_steep": "cutoff_steep", "min_slope": "min_slope_deg",
              "m_table": "m_table", "s_breaks": "s_breaks"}
    given = set(given)
    return [(key, flag) for key, flag in refused_by(method)
            if key in given or getattr(opts, fields[key]) != getattr(default, fields[key])]


def options_dict(opts: Any, method: str = "contributing_area") -> dict[str, float | str]:
    """The options the method uses, as written into the manifest and tags."""
    if method == "invest":
        return {"l_max": opts.l_max}
    return {"min_slope_deg": opts.min_slope_deg, "m_table": opts.m_table,
            "s_breaks": opts.s_breaks}


def check_size(shape: tuple[int, int], what: str = "contributing_area_array") -> None:
    """Refuse a grid over :data:`MAX_IN_MEMORY_PIXELS` cells.

    Raises
    ------
    TerrainError
    """
    n = int(shape[0]) * int(shape[1])
    if n > MAX_IN_MEMORY_PIXELS:
        raise TerrainError(
            f"{what}: the grid has {shape[0]} x {shape[1]} = {n} pixels, more than the "
            f"{MAX_IN_MEMORY_PIXELS} (8192²) the whole-array computation holds in memory; pass "
            "block= to use the tiled accumulation (gepgeo.terrain.tiled_accumulation)")


@njit(cache=True, nogil=True)
def gradient_at(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, min_slope_deg: float,
                r: int, c: int) -> tuple[float, float, float]:
    """Slope θ (degrees), sin θ and contour width W (m) of the valid cell (``r``, ``c``) from
    the finite-difference gradient (module docstring, step 3)."""
    h, w = z.shape
    zc = z[r, c]
    e = c + 1 < w and valid[r, c + 1]
    wv = c > 0 and valid[r, c - 1]
    if e and wv:
        gx = (z[r, c + 1] - z[r, c - 1]) / (2.0 * dx)
    elif e:
        gx = (z[r, c + 1] - zc) / dx
    elif wv:
        gx = (zc - z[r, c - 1]) / dx
    else:
        gx = 0.0
    n = r > 0 and valid[r - 1, c]
    s = r + 1 < h and valid[r + 1, c]
    if n and s:
        gy = (z[r - 1, c] - z[r + 1, c]) / (2.0 * dy)
    elif n:
        gy = (z[r - 1, c] - zc) / dy
    elif s:
        gy = (zc - z[r + 1, c]) / dy
    else:
        gy = 0.0
    g = math.sqrt(gx * gx + gy * gy)
    theta = math.atan(g) * RAD2DEG
    if theta > 0.0:
        width = (dx * abs(gy) + dy * abs(gx)) / g
    else:
        theta = min_slope_deg
        width = dx
    return theta, math.sin(theta * DEG2RAD), width


@njit(cache=True, nogil=True)
def gradient_slope_width(z: np.ndarray, valid: np.ndarray, dx: float, dy: float,
                         min_slope_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope θ (degrees, NaN at nodata), sin θ, and the contour width W (m) of every cell, from
    the finite-difference gradient (module docstring, step 3; :func:`gradient_at`)."""
    h, w = z.shape
    slope = np.full((h, w), np.nan)
    sin_t = np.zeros((h, w))
    width = np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            if valid[r, c]:
                slope[r, c], sin_t[r, c], width[r, c] = gradient_at(z, valid, dx, dy,
                                                                    min_slope_deg, r, c)
    return slope, sin_t, width


@njit(cache=True, nogil=True)
def inflow_sum_seeded(direction: np.ndarray, valid: np.ndarray, weight: float,
                      seed: np.ndarray) -> np.ndarray:
    """``A(X) = seed(X) + Σ over U → X of (A(U) + weight)`` along the D8 directions (NaN at
    nodata), by one in-degree (topological) pass; ``seed`` is the area entering a cell from
    outside the array (the tiled accumulation's inflow from other tiles; zeros otherwise)."""
    h, w = direction.shape
    n = h * w
    indeg = np.zeros(n, dtype=np.int8)
    for r in range(h):
        for c in range(w):
            k = direction[r, c]
            if k >= 0:
                indeg[(r + DR[k]) * w + c + DC[k]] += 1
    acc = seed.copy().reshape(n)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        if indeg[i] == 0:
            stack[top] = i
            top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        r = i // w
        c = i - r * w
        k = direction[r, c]
        if k < 0:
            continue
        j = (r + DR[k]) * w + c + DC[k]
        acc[j] += acc[i] + weight
        indeg[j] -= 1
        if indeg[j] == 0:
            stack[top] = j
            top += 1
    out = acc.reshape((h, w))
    for r in range(h):
        for c in range(w):
            if not valid[r, c]:
                out[r, c] = np.nan
    return out


@njit(cache=True, nogil=True)
def inflow_sum(direction: np.ndarray, valid: np.ndarray, weight: float) -> np.ndarray:
    """``A(X) = Σ over U → X of (A(U) + weight)`` along the D8 directions (0 where nothing flows
    in, NaN at nodata), by one in-degree (topological) pass: with ``weight`` = 1 the number of
    upstream cells, with the cell area the contributing area flowing into X."""
    return inflow_sum_seeded(direction, valid, weight, np.zeros(direction.shape))


@njit(cache=True, nogil=True)
def ls_of_cell(big_a: float, a: float, theta: float, sin_t: float, width: float, m_table: int,
               b1_deg: float, b2_deg: float) -> float:
    """LS of one cell from its contributing area ``big_a`` (m², the cell excluded), cell area
    ``a`` (m²), slope θ (degrees) and sin θ, and contour width W (m): step 4 of the module
    docstring."""
    m = exponent_of_sine(sin_t, theta, m_table)
    if big_a > 0.0:
        num = big_a ** (m + 1.0) * math.expm1((m + 1.0) * math.log1p(a / big_a))
    else:
        num = a ** (m + 1.0)
    ell = num / (a * width ** m * UNIT_PLOT_M ** m)
    return ell * steepness_of_sine(sin_t, theta, b1_deg, b2_deg)


@njit(cache=True, nogil=True)
def contributing_area_window(z: np.ndarray, valid: np.ndarray, dx: float, dy: float,
                             min_slope_deg: float, m_table: int, b1_deg: float, b2_deg: float,
                             out_slope: np.ndarray, out_area: np.ndarray,
                             out_ls: np.ndarray) -> None:
    """Slope θ (degrees), contributing area A_in (m²) and LS of every cell of a whole DEM
    (module docstring); NaN at nodata. Outputs have ``z``'s shape."""
    direction, _ = d8_slope(z, valid, dx, dy, min_slope_deg)
    a = dx * dy
    area = inflow_sum(direction, valid, a)
    slope, sin_t, width = gradient_slope_width(z, valid, dx, dy, min_slope_deg)
    h, w = z.shape
    for r in range(h):
        for c in range(w):
            if not valid[r, c]:
                out_slope[r, c] = np.nan
                out_area[r, c] = np.nan
                out_ls[r, c] = np.nan
                continue
            theta = slope[r, c]
            out_slope[r, c] = theta
            out_area[r, c] = area[r, c]
            out_ls[r, c] = ls_of_cell(area[r, c], a, theta, sin_t[r, c], width[r, c], m_table,
                                      b1_deg, b2_deg)


def contributing_area_array(z: np.ndarray, dx: float, dy: float | None = None, *,
                            valid: np.ndarray | None = None, min_slope_deg: float = 0.1,
                            m_table: str = "mccool", s_breaks: str = "5deg/10deg",
                            dtype: type = np.float64, block: int | None = None,
                            threads: int | None = 1) -> dict[str, np.ndarray]:
    """Slope, contributing area and LS of an in-memory DEM by the contributing-area method.

    Parameters
    ----------
    z : 2-D array
        Elevations, m.
    dx, dy : float
        Cell width and height, m (``dy`` defaults to ``dx``).
    valid : 2-D bool array, optional
        False at nodata (default: where ``z`` is finite).
    min_slope_deg, m_table, s_breaks
        As for the flow-path method (:class:`gepgeo.terrain.FlowpathOptions`).
    dtype : type
        The maps' data type.
    block : int, optional
        Tile side of the tiled accumulation (:mod:`.tiled_accumulation`); default: the whole
        array at once (at most :data:`MAX_IN_MEMORY_PIXELS` cells).
    threads : int, optional
        Worker threads of the tiled accumulation (1 by default).

    Returns
    -------
    dict
        ``slope_deg``, ``contributing_area_m2``, ``slope_length_steepness_ls``; NaN at nodata.

    Raises
    ------
    TerrainError
        No ``block`` and the grid has more than :data:`MAX_IN_MEMORY_PIXELS` cells.
    """
    from .factors import M_TABLES, s_breaks as breaks_of

    z = np.asarray(z, dtype=np.float64)
    shape = (int(z.shape[0]), int(z.shape[1]))
    dy = dx if dy is None else dy
    valid = np.isfinite(z) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(z)
    if block is not None:
        from .tiled import FlowpathOptions

        opts = FlowpathOptions(min_slope_deg=min_slope_deg, m_table=m_table, s_breaks=s_breaks)
        return tiled_array(z, valid, float(dx), float(dy), opts, dtype, block, threads)
    check_size(shape)
    b1, b2 = breaks_of(s_breaks)
    out: list[np.ndarray] = [np.empty(shape, dtype=dtype) for _ in range(3)]
    contributing_area_window(np.ascontiguousarray(z), np.ascontiguousarray(valid), float(dx),
                             float(dy), float(min_slope_deg), M_TABLES[m_table], b1, b2,
                             out[0], out[1], out[2])
    return {"slope_deg": out[0], "contributing_area_m2": out[1],
            "slope_length_steepness_ls": out[2]}


def tiled_array(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, opts: Any,
                dtype: type, block: int, threads: int | None,
                method: str = "contributing_area") -> dict[str, np.ndarray]:
    """The maps of an in-memory DEM by the tiled accumulation (``method``
    ``contributing_area`` or ``invest``), keyed as :func:`contributing_area_array`'s."""
    from .tiled_accumulation import contributing_area_blocks

    opts.check()
    names = ("slope_deg", "contributing_area_m2", "slope_length_steepness_ls")
    out: dict[str, np.ndarray] = {k: np.full(z.shape, np.nan, dtype=dtype) for k in names}

    def read(r: int, c: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        return z[r:r + h, c:c + w], valid[r:r + h, c:c + w]

    def emit(r: int, c: int, *maps: np.ndarray) -> None:
        for k, v in zip(names, maps):
            out[k][r:r + v.shape[0], c:c + v.shape[1]] = v

    contributing_area_blocks(read, (int(z.shape[0]), int(z.shape[1])), dx, dy, opts, emit,
                             block=block, threads=threads, dtype=dtype, method=method)
    return out
