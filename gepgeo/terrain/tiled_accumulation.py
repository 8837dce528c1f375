"""The ``contributing_area`` method on a grid of any size: tiled D8 flow accumulation after
Barnes (2017), equal to the whole-array computation of :mod:`.accumulation`.

Barnes, R. (2017). Parallel non-divergent flow accumulation for trillion cell digital
elevation models on desktops or clusters. *Environmental Modelling & Software* 92, 202–212.
doi:10.1016/j.envsoft.2017.02.022.

The grid is cut into ``block`` × ``block`` tiles (cores). Every value a tile needs except the
flow entering it from other tiles depends on its 3 × 3 neighbourhood only (the D8 direction,
the finite-difference gradient), so each tile is read with a one-cell halo (clipped at the
grid's edges; what lies outside the grid is absent, as in the whole-array computation).

1. **Per tile, local accumulation and exit links.** The D8 directions of the core; a direction
   that leaves the core makes its cell an *exit*. The contributing area flowing into each cell
   from inside the tile, A_loc, by the in-degree pass of :func:`.accumulation.inflow_sum` with
   the outward directions cut. For every perimeter cell p, ``link(p)``: the exit its flow path
   reaches inside the tile (itself if it is an exit; none if the path ends in a sink or a flat
   inside the tile). Kept per perimeter cell: its global index, A_loc, the link and, for an
   exit, the cell its flow enters (a perimeter cell of the neighbouring tile): about 28 bytes
   a perimeter cell, nothing else of the tile.
2. **One global solve over the perimeter cells.** Let X(q) be the area entering perimeter
   cell q from other tiles, ``X(q) = Σ over exits e → q of (A_loc(e) + T(e) + a)``, where
   ``T(e) = Σ over perimeter cells q' with link(q') = e of X(q')`` is the outside area that
   passes through e. The perimeter cells with the edges q → link(q) and e → (cell e flows
   into) form a directed acyclic graph (each edge follows the flow, and D8 on strictly
   decreasing elevations has no cycles), solved in one in-degree pass.
3. **Per tile again, seeded accumulation and LS.** The tile is read and its directions
   computed again, the in-degree pass is seeded with X at its perimeter cells, and
   ``A_in = A_loc + (the X of every perimeter cell upstream inside the tile)`` at every cell,
   the whole-array contributing area (all terms are sums of non-negative areas taken in
   another order: equal to within a few units in the last place). Slope, contour width and LS
   then follow per cell exactly as in :func:`.accumulation.contributing_area_window`.

Memory: one tile window per thread in steps 1 and 3, plus the perimeter data of step 2 (at
40 000² with 1 024-pixel tiles, 6.2 M perimeter cells, about 0.2 GB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ..errors import TerrainError
from .accumulation import gradient_at, inflow_sum_seeded, ls_of_cell
from .factors import M_TABLES, RAD2DEG, s_breaks
from .flowpath import DC, DR
from .invest import horn_slope_percent, invest_ls_of_cell
from .tiled import DEFAULT_BLOCK, Emit, FlowpathOptions, Reader, core_blocks

__all__ = ["Perimeter", "FORMULAS", "tile_links", "solve_inflows", "tile_area_ls", "solve",
           "contributing_area_blocks", "core_window", "tile_perimeter"]

#: (global index, local contributing area m², global index of the link or −1, global index
#: of the cell an exit flows into or −1) of a tile's perimeter cells
Perimeter = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@njit(cache=True, nogil=True)
def _core_directions(z: np.ndarray, valid: np.ndarray, dx: float, dy: float,
                     min_slope_deg: float, r0: int, c0: int, bh: int, bw: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """D8 directions of the core ``[r0:r0+bh, c0:c0+bw]`` of a window: inside the core (−1
    where none or outward) and outward (−1 where the flow stays in the core or stops).

    The directions of :func:`.flowpath.d8_slope` (the same drops, divisions and tie order),
    computed at the core's cells only and without their slope (``min_slope_deg`` unused)."""
    h, w = z.shape
    diag = math.sqrt(dx * dx + dy * dy)
    dist = np.empty(8)
    for k in range(8):
        dist[k] = diag if k % 2 == 1 else (dx if DR[k] == 0 else dy)
    inner = np.full((bh, bw), -1, dtype=np.int8)
    outward = np.full((bh, bw), -1, dtype=np.int8)
    for r in range(bh):
        for c in range(bw):
            wr = r0 + r
            wc = c0 + c
            if not valid[wr, wc]:
                continue
            zc = z[wr, wc]
            best = 0.0
            kbest = -1
            for k in range(8):
                rr = wr + DR[k]
                cc = wc + DC[k]
                if rr < 0 or rr >= h or cc < 0 or cc >= w or not valid[rr, cc]:
                    continue
                drop = (zc - z[rr, cc]) / dist[k]
                if drop > best:
                    best = drop
                    kbest = k
            if kbest < 0:
                continue
            if 0 <= r + DR[kbest] < bh and 0 <= c + DC[kbest] < bw:
                inner[r, c] = kbest
            else:
                outward[r, c] = kbest
    return inner, outward


@njit(cache=True, nogil=True)
def tile_perimeter(bh: int, bw: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a ``bh`` × ``bw`` tile's perimeter cells, row by row."""
    n = 0
    for r in range(bh):
        if r == 0 or r == bh - 1:
            n += bw
        else:
            n += 2 if bw > 1 else 1
    rows = np.empty(n, dtype=np.int64)
    cols = np.empty(n, dtype=np.int64)
    i = 0
    for r in range(bh):
        if r == 0 or r == bh - 1:
            for c in range(bw):
                rows[i] = r
                cols[i] = c
                i += 1
        else:
            rows[i] = r
            cols[i] = 0
            i += 1
            if bw > 1:
                rows[i] = r
                cols[i] = bw - 1
                i += 1
    return rows, cols


@njit(cache=True, nogil=True)
def tile_links(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, min_slope_deg: float,
               r0: int, c0: int, bh: int, bw: int, grow: int, gcol: int, width: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step 1 of the module docstring for the core ``[r0:r0+bh, c0:c0+bw]`` of a window whose
    core starts at global cell (``grow``, ``gcol``) of a grid ``width`` cells wide.

    Returns
    -------
    gid, area, link, target : 1-D arrays over the perimeter cells (:func:`tile_perimeter`)
        Global flat index; contributing area from inside the tile, m² (0 at nodata); global
        index of the exit its path reaches (−1: none); global index of the cell an exit flows
        into (−1: not an exit).
    """
    inner, outward = _core_directions(z, valid, dx, dy, min_slope_deg, r0, c0, bh, bw)
    vcore = np.ascontiguousarray(valid[r0:r0 + bh, c0:c0 + bw])
    acc = inflow_sum_seeded(inner, vcore, dx * dy, np.zeros((bh, bw)))
    rows, cols = tile_perimeter(bh, bw)
    n = rows.shape[0]
    label = np.full(bh * bw, -2, dtype=np.int64)    # −2: not known yet; −1: no exit
    path = np.empty(bh * bw, dtype=np.int64)
    gid = np.empty(n, dtype=np.int64)
    area = np.zeros(n)
    link = np.full(n, -1, dtype=np.int64)
    target = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        r = rows[i]
        c = cols[i]
        gid[i] = (grow + r) * width + gcol + c
        if not vcore[r, c]:
            continue
        area[i] = acc[r, c]
        k = outward[r, c]
        if k >= 0:
            target[i] = (grow + r + DR[k]) * width + gcol + c + DC[k]
        cell = r * bw + c
        m = 0
        lab = -1
        while True:                         # follow the path, labelling it once
            if label[cell] != -2:
                lab = label[cell]
                break
            path[m] = cell
            m += 1
            rr = cell // bw
            cc = cell - rr * bw
            if outward[rr, cc] >= 0:
                lab = cell
                break
            k = inner[rr, cc]
            if k < 0:
                lab = -1
                break
            cell = (rr + DR[k]) * bw + cc + DC[k]
        for j in range(m):
            label[path[j]] = lab
        if lab >= 0:
            lr = lab // bw
            link[i] = (grow + lr) * width + gcol + lab - lr * bw
    return gid, area, link, target


@njit(cache=True, nogil=True)
def solve_inflows(area: np.ndarray, link: np.ndarray, target: np.ndarray,
                  cell_area: float) -> np.ndarray:
    """Step 2 of the module docstring: X, the contributing area entering each perimeter cell
    from other tiles (m²), over node indices (``link``, ``target``: node index or −1)."""
    n = area.shape[0]
    indeg = np.zeros(n, dtype=np.int32)
    for p in range(n):
        if link[p] >= 0 and link[p] != p:
            indeg[link[p]] += 1
        if target[p] >= 0:
            indeg[target[p]] += 1
    ext = np.zeros(n)
    through = np.zeros(n)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for p in range(n):
        if indeg[p] == 0:
            stack[top] = p
            top += 1
    done = 0
    while top > 0:
        top -= 1
        p = stack[top]
        done += 1
        q = link[p]
        if q == p:
            through[p] += ext[p]
        elif q >= 0:
            through[q] += ext[p]
            indeg[q] -= 1
            if indeg[q] == 0:
                stack[top] = q
                top += 1
        t = target[p]
        if t >= 0:
            ext[t] += area[p] + through[p] + cell_area
            indeg[t] -= 1
            if indeg[t] == 0:
                stack[top] = t
                top += 1
    if done != n:
        raise ValueError("the perimeter flow graph has a cycle")
    return ext


@njit(cache=True, nogil=True)
def tile_area_ls(z: np.ndarray, valid: np.ndarray, dx: float, dy: float, min_slope_deg: float,
                 m_table: int, b1_deg: float, b2_deg: float, r0: int, c0: int,
                 seed: np.ndarray, out_slope: np.ndarray, out_area: np.ndarray,
                 out_ls: np.ndarray, formula: int, l_max: float, need: np.ndarray,
                 use_need: bool) -> None:
    """Step 3 of the module docstring: slope θ (degrees), contributing area A_in (m²) and LS of
    the core ``[r0:r0+bh, c0:c0+bw]`` (``seed``'s shape) of a window, ``seed`` holding X at
    the core's perimeter cells (0 elsewhere); NaN at nodata. ``formula`` 0: Desmet & Govers
    (:func:`.accumulation.ls_of_cell`); 1: InVEST's (:mod:`.invest`, L capped at ``l_max``).
    With ``use_need``, only the core cells where ``need`` (the core's shape) is True are
    computed past the accumulation; the others are NaN."""
    bh, bw = seed.shape
    inner, _ = _core_directions(z, valid, dx, dy, min_slope_deg, r0, c0, bh, bw)
    vcore = np.ascontiguousarray(valid[r0:r0 + bh, c0:c0 + bw])
    a = dx * dy
    acc = inflow_sum_seeded(inner, vcore, a, seed)
    # percent slope (InVEST's stencil) of the whole window, else none
    pct = horn_slope_percent(z, valid, dx, dy) if formula == 1 else np.empty((0, 0))
    for r in range(bh):
        for c in range(bw):
            if not vcore[r, c] or (use_need and not need[r, c]):
                out_slope[r, c] = np.nan
                out_area[r, c] = np.nan
                out_ls[r, c] = np.nan
                continue
            out_area[r, c] = acc[r, c]
            if formula == 1:
                g = pct[r0 + r, c0 + c]
                out_slope[r, c] = math.atan(g / 100.0) * RAD2DEG
                out_ls[r, c] = invest_ls_of_cell(acc[r, c], a, dx, g, l_max)
            else:                        # slope θ (degrees), sin θ, contour width
                theta, sin_t, width = gradient_at(z, valid, dx, dy, min_slope_deg, r0 + r,
                                                  c0 + c)
                out_slope[r, c] = theta
                out_ls[r, c] = ls_of_cell(acc[r, c], a, theta, sin_t, width, m_table, b1_deg,
                                          b2_deg)


def core_window(shape: tuple[int, int], core: tuple[int, int, int, int]
                ) -> tuple[int, int, int, int]:
    """(row, col, height, width) of a core's window: the core and a one-cell halo, clipped at
    the grid's edges."""
    r, c, bh, bw = core
    r0, c0 = max(0, r - 1), max(0, c - 1)
    return r0, c0, min(shape[0], r + bh + 1) - r0, min(shape[1], c + bw + 1) - c0


def _read_window(read: Reader, shape: tuple[int, int], core: tuple[int, int, int, int]
                 ) -> tuple[np.ndarray, np.ndarray, int, int]:
    wr, wc, wh, ww = core_window(shape, core)
    z, valid = read(wr, wc, wh, ww)
    return (np.ascontiguousarray(z, dtype=np.float64), np.ascontiguousarray(valid, dtype=bool),
            core[0] - wr, core[1] - wc)


def links_of_core(read: Reader, shape: tuple[int, int], core: tuple[int, int, int, int],
                  dx: float, dy: float, opts: FlowpathOptions) -> Perimeter:
    """Step 1 for one core, read through ``read``."""
    z, valid, r0, c0 = _read_window(read, shape, core)
    return tile_links(z, valid, float(dx), float(dy), float(opts.min_slope_deg), r0, c0,
                      core[2], core[3], core[0], core[1], shape[1])


def solve(perimeters: list[Perimeter], cell_area: float) -> tuple[np.ndarray, np.ndarray]:
    """Step 2 over the perimeters of every core: (global indices of the perimeter cells,
    sorted; X of each, m²)."""
    if not perimeters:
        return np.empty(0, dtype=np.int64), np.empty(0)
    gid = np.concatenate([p[0] for p in perimeters])
    order = np.argsort(gid, kind="stable")
    gid = gid[order]
    area = np.concatenate([p[1] for p in perimeters])[order]

    def nodes(g: np.ndarray) -> np.ndarray:
        g = g[order]
        idx = np.searchsorted(gid, g)
        idx[g < 0] = -1
        return idx.astype(np.int64)

    link = nodes(np.concatenate([p[2] for p in perimeters]))
    target = nodes(np.concatenate([p[3] for p in perimeters]))
    return gid, solve_inflows(area, link, target, float(cell_area))


def seed_of_core(solved: tuple[np.ndarray, np.ndarray], shape: tuple[int, int],
                 core: tuple[int, int, int, int]) -> np.ndarray:
    """X at a core's perimeter cells (0 elsewhere), m², from :func:`solve`'s result."""
    gid, ext = solved
    r, c, bh, bw = core
    rows, cols = tile_perimeter(bh, bw)
    seed = np.zeros((bh, bw))
    if gid.size:
        seed[rows, cols] = ext[np.searchsorted(gid, (r + rows) * shape[1] + c + cols)]
    return seed


#: the LS formulas of step 3, by method
FORMULAS = {"contributing_area": 0, "invest": 1}


def area_ls_of_core(read: Reader, shape: tuple[int, int], core: tuple[int, int, int, int],
                    dx: float, dy: float, opts: FlowpathOptions,
                    solved: tuple[np.ndarray, np.ndarray], dtype: type = np.float32,
                    method: str = "contributing_area", need: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 3 for one core: slope (°), contributing area (m²) and LS, as ``dtype``; with
    ``need`` (bool, the core's shape), computed only where it is True (NaN elsewhere; nothing
    is read when it is nowhere True)."""
    if need is not None and need.all():
        need = None
    out = [np.empty(core[2:], dtype=dtype) for _ in range(3)]
    if need is not None and not need.any():
        for o in out:
            o.fill(np.nan)
        return out[0], out[1], out[2]
    z, valid, r0, c0 = _read_window(read, shape, core)
    seed = seed_of_core(solved, shape, core)
    b1, b2 = s_breaks(opts.s_breaks)
    l_max = np.inf if opts.l_max is None else float(opts.l_max)
    tile_area_ls(z, valid, float(dx), float(dy), float(opts.min_slope_deg),
                 M_TABLES[opts.m_table], b1, b2, r0, c0, seed, out[0], out[1], out[2],
                 FORMULAS[method], l_max,
                 _NEED_ALL if need is None else np.ascontiguousarray(need), need is not None)
    return out[0], out[1], out[2]


#: an empty ``need`` for :func:`tile_area_ls` when every core cell is wanted
_NEED_ALL = np.ones((0, 0), dtype=bool)


def _map(fn: Callable[[tuple[int, int, int, int]], object],
         cores: list[tuple[int, int, int, int]], threads: int) -> list[object]:
    if threads == 1 or len(cores) == 1:
        return [fn(core) for core in cores]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(fn, cores))


def contributing_area_blocks(read: Reader, shape: tuple[int, int], dx: float, dy: float,
                             opts: FlowpathOptions, emit: Emit, *, block: int = DEFAULT_BLOCK,
                             threads: int | None = None, dtype: type = np.float32,
                             method: str = "contributing_area") -> None:
    """Compute the contributing-area maps of every core of a DEM and hand them to ``emit``
    (slope °, contributing area m², LS), reading each core's window twice.

    Parameters
    ----------
    read : Reader
        Reads a window of the DEM (elevations in metres as float64, valid mask); called from
        the worker threads.
    shape : (int, int)
        DEM rows and columns.
    dx, dy : float
        Cell width and height, m.
    opts : FlowpathOptions
        Only ``min_slope_deg``, ``m_table`` and ``s_breaks`` are used.
    emit : Emit
        Receives each core's maps; called from the worker threads.
    block : int
        Core side, pixels.
    threads : int, optional
        Worker threads (default: the CPU count).
    dtype : type
        The maps' data type.
    method : str
        ``contributing_area`` (Desmet & Govers) or ``invest`` (InVEST's formula, with
        ``opts.l_max``; square cells).
    """
    if block < 1:
        raise TerrainError(f"--block: expected a positive number of pixels, got {block}")
    n = max(1, threads if threads is not None else (os.cpu_count() or 1))
    cores = list(core_blocks(shape, block))
    perimeters = _map(lambda core: links_of_core(read, shape, core, dx, dy, opts), cores, n)
    solved = solve(perimeters, dx * dy)     # type: ignore[arg-type]
    del perimeters

    def second(core: tuple[int, int, int, int]) -> None:
        s, area, ls = area_ls_of_core(read, shape, core, dx, dy, opts, solved, dtype, method)
        emit(core[0], core[1], s, area, ls)

    _map(second, cores, n)
