"""The flow-path LS of a whole DEM, block by block, equal to the whole-array result.

A DEM is cut into ``block`` × ``block`` cores; each core is computed from one window, the core
plus a halo of :func:`halo_cells` cells on every side (clipped at the DEM's edges), by
:func:`gepgeo.terrain.flowpath.flowpath_window`. Memory is one window per thread, whatever the
DEM's size: about 35 bytes a window cell while the kernel runs (elevations and mask 9 B, the
fused kernel's work arrays 26 B), about 40 B a window cell counting the reader's copies too
(the raw float32 window and its mask).

Why the halo makes the result exact
-----------------------------------
Let c = min(dx, dy) be the shortest cell side and K = ⌈λ_max / c⌉. The window treats what lies
outside it as absent, as the whole-array computation treats what lies outside the DEM, so a
window cell can differ from the whole-array cell only through cells near the window's edge
(where the window's edge is not the DEM's edge):

* the filled elevation of a cell depends on its 3 × 3 neighbourhood: exact at distance ≥ 1
  from the window's edge;
* its direction, slope θ and cell length ℓ depend on the filled elevations of its 3 × 3
  neighbourhood: exact at distance ≥ 2;
* its inflows (which neighbours flow into it), its start value beg and the cutoff test of each
  inflow depend on the directions and slopes of its 3 × 3 neighbourhood.

Take a core cell X at distance ≥ K + 2 from the window's edge (that is the halo), and the tree
of uncut flow paths that end at X, U_K → … → U_1 → X (each step one neighbour, Chebyshev
distance ≤ K from X, so every cell involved is at distance ≥ 2 from the edge and has exact
directions, slopes and lengths; every node of depth < K has exact inflows, beg and cutoffs).

* If no uncut path reaches depth K, λ(X) is a function of nodes of depth < K only, all exact;
  ``max`` is exact and each step is one addition, so the window's λ(X) equals the whole-array
  λ(X) bit for bit.
* If one does, both computations see that same path (its nodes are exact) and both give
  λ(X) ≥ ℓ(U_1) + … + ℓ(U_K) + λ(U_K) ≥ K·c + c/2 > λ_max (each ℓ ≥ c and every λ ≥ half a
  cell; rounding cannot eat the half-cell margin), so both write min(λ, λ_max) = λ_max.

θ(X), and so S and m, are exact already at distance 2. Hence a halo of K + 2 cells gives the
whole-array slope, capped slope length and LS at every core cell, for any block size. The
cutoff resets need nothing more (a reset only shortens paths: a path reset inside the K-cell
disc is seen identically by both), nor do ties (the tie-break is a fixed order of neighbours).
Without a cap (λ_max = ∞) no finite halo is exact; the cap is what makes the method local. The
cap is gepgeo's addition (the AML's λ accumulates without one). :func:`halo_cells` refuses a
halo over :data:`MAX_HALO_CELLS` cells.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import TerrainError
from .factors import M_TABLES, S_BREAKS, DEFAULT_S_BREAKS, gradient_deg, s_breaks
from .flowpath import (CUTOFF_BREAK_PERCENT, DEFAULT_CUTOFF_GENTLE, DEFAULT_CUTOFF_STEEP,
                       DEFAULT_MAX_SLOPE_LENGTH_M, DEFAULT_MIN_SLOPE_DEG, flowpath_window)

__all__ = ["FlowpathOptions", "halo_cells", "MAX_HALO_CELLS", "core_blocks", "flowpath_blocks",
           "flowpath_array", "DEFAULT_BLOCK", "Reader", "Emit"]

#: core side of a block, pixels, unless ``--block`` says otherwise
DEFAULT_BLOCK = 1024

#: ``read(row, col, height, width)`` → (elevations in metres as float64, valid mask)
Reader = Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]

#: ``emit(row, col, slope_deg, slope_length_m, ls)`` receives each computed core
Emit = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class FlowpathOptions:
    """Parameters of the ``flowpath`` method (defaults and sources: :mod:`.flowpath`).

    Attributes
    ----------
    max_slope_length_m : float
        λ_max, m (default 304.8 m = 1 000 ft).
    min_slope_deg : float
        Slope of cells without a downslope neighbour, degrees (0.1).
    cutoff_gentle, cutoff_steep : float
        Slope-cutoff factors below / at or above a 5 % gradient (0.7, 0.5).
    m_table : str
        ``mccool`` (default), ``wischmeier_smith`` or ``van_remortel``.
    s_breaks : str
        ``5deg/10deg`` (default), ``9%/18%`` or ``5deg/14deg``.
    l_max : float, optional
        The cap on L of the ``invest`` method (InVEST's "maximum L value"; required there,
        meaningless elsewhere).
    """

    max_slope_length_m: float = DEFAULT_MAX_SLOPE_LENGTH_M
    min_slope_deg: float = DEFAULT_MIN_SLOPE_DEG
    cutoff_gentle: float = DEFAULT_CUTOFF_GENTLE
    cutoff_steep: float = DEFAULT_CUTOFF_STEEP
    m_table: str = "mccool"
    s_breaks: str = DEFAULT_S_BREAKS
    l_max: float | None = None

    def check(self) -> None:
        """Refuse impossible values, naming the option.

        Raises
        ------
        TerrainError
        """
        lm = self.max_slope_length_m
        if not (isinstance(lm, (int, float)) and math.isfinite(lm) and lm > 0):
            raise TerrainError(f"--max-slope-length: expected a positive finite length in "
                               f"metres (default {DEFAULT_MAX_SLOPE_LENGTH_M:g}), got {lm!r}")
        if not (math.isfinite(self.min_slope_deg) and 0 < self.min_slope_deg < 90):
            raise TerrainError(f"--min-slope: expected an angle in degrees above 0 and below 90 "
                               f"(default {DEFAULT_MIN_SLOPE_DEG:g}), got {self.min_slope_deg!r}")
        for name, f in (("--cutoff-gentle", self.cutoff_gentle),
                        ("--cutoff-steep", self.cutoff_steep)):
            if not (math.isfinite(f) and 0 <= f <= 1):
                raise TerrainError(f"{name}: expected a slope-cutoff factor from 0 to 1, got "
                                   f"{f!r}")
        if self.m_table not in M_TABLES:
            raise TerrainError(f"--m-table: expected one of {', '.join(M_TABLES)}, got "
                               f"{self.m_table!r}")
        if self.l_max is not None and not (isinstance(self.l_max, (int, float))
                                           and math.isfinite(self.l_max) and self.l_max > 0):
            raise TerrainError(f"--l-max: expected a positive finite number (InVEST's maximum "
                               f"L value), got {self.l_max!r}")
        if self.s_breaks not in S_BREAKS:
            raise TerrainError(f"--s-breaks: expected one of {', '.join(S_BREAKS)}, got "
                               f"{self.s_breaks!r}")

    def as_dict(self) -> dict[str, float | str]:
        """The options as written into the output's manifest and tags."""
        return {"max_slope_length_m": self.max_slope_length_m,
                "min_slope_deg": self.min_slope_deg, "cutoff_gentle": self.cutoff_gentle,
                "cutoff_steep": self.cutoff_steep, "cutoff_break_percent": CUTOFF_BREAK_PERCENT,
                "m_table": self.m_table, "s_breaks": self.s_breaks}


#: the widest halo accepted, cells: beyond it a window is mostly halo (4096 cells at 30 m is
#: a 122 km maximum slope length) and, on most DEMs, nearly the whole DEM
MAX_HALO_CELLS = 4096


def halo_cells(opts: FlowpathOptions, dx: float, dy: float) -> int:
    """Halo, cells, that makes a block's core exact: ⌈λ_max / min(dx, dy)⌉ + 2 (module
    docstring).

    Raises
    ------
    TerrainError
        If that exceeds :data:`MAX_HALO_CELLS` (a maximum slope length far beyond any slope).
    """
    halo = int(math.ceil(opts.max_slope_length_m / min(dx, dy))) + 2
    if halo > MAX_HALO_CELLS:
        limit = (MAX_HALO_CELLS - 2) * min(dx, dy)
        raise TerrainError(
            f"--max-slope-length: {opts.max_slope_length_m:g} m over {min(dx, dy):g} m cells "
            f"needs a halo of {halo} cells around every block (at most {MAX_HALO_CELLS}); give "
            f"a maximum slope length of at most {limit:g} m (default "
            f"{DEFAULT_MAX_SLOPE_LENGTH_M:g} m)")
    return halo


def core_blocks(shape: tuple[int, int], block: int) -> Iterator[tuple[int, int, int, int]]:
    """(row, col, height, width) of each core, row-major, clipped at the grid's edges."""
    h, w = shape
    for r in range(0, h, block):
        for c in range(0, w, block):
            yield r, c, min(block, h - r), min(block, w - c)


#: an empty ``need`` for the kernel when every core cell is wanted
_ALL = np.ones((0, 0), dtype=bool)


def _compute_core(read: Reader, shape: tuple[int, int], core: tuple[int, int, int, int],
                  halo: int, dx: float, dy: float, opts: FlowpathOptions, dtype: type,
                  need: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slope °, capped slope length m, LS) of one core, from one window (core + halo).

    ``need`` (bool, the core's shape): the cells whose maps are wanted, NaN elsewhere (a run
    passes where its land use has data). The window is then cut around the wanted cells only
    (their bounding rectangle plus the halo; nothing is read when none is wanted), and m, L and
    S are computed at them only. Every computed cell equals the whole-grid result all the same:
    the halo makes any rectangle of cells exact (module docstring).
    """
    r, c, bh, bw = core
    if need is None or need.all():
        return _window(read, shape, core, halo, dx, dy, opts, dtype, None)
    out: list[np.ndarray] = [np.full((bh, bw), np.nan, dtype=dtype) for _ in range(3)]
    rows = np.flatnonzero(need.any(axis=1))
    if rows.size == 0:
        return out[0], out[1], out[2]
    cols = np.flatnonzero(need.any(axis=0))
    ra, rb, ca, cb = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    sub = _window(read, shape, (r + ra, c + ca, rb - ra, cb - ca), halo, dx, dy, opts, dtype,
                  np.ascontiguousarray(need[ra:rb, ca:cb]))
    for o, part in zip(out, sub):
        o[ra:rb, ca:cb] = part
    return out[0], out[1], out[2]


def _window(read: Reader, shape: tuple[int, int], core: tuple[int, int, int, int], halo: int,
            dx: float, dy: float, opts: FlowpathOptions, dtype: type,
            need: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel on the window of ``core`` (``need``: the core's cells wanted, or None)."""
    r, c, bh, bw = core
    h, w = shape
    wr0, wc0 = max(0, r - halo), max(0, c - halo)
    wr1, wc1 = min(h, r + bh + halo), min(w, c + bw + halo)
    z, valid = read(wr0, wc0, wr1 - wr0, wc1 - wc0)
    b1, b2 = s_breaks(opts.s_breaks)
    res: list[np.ndarray] = [np.empty((bh, bw), dtype=dtype) for _ in range(3)]
    flowpath_window(np.ascontiguousarray(z, dtype=np.float64), np.ascontiguousarray(valid),
                    float(dx), float(dy), float(opts.min_slope_deg), float(opts.cutoff_gentle),
                    float(opts.cutoff_steep), gradient_deg(CUTOFF_BREAK_PERCENT),
                    float(opts.max_slope_length_m), M_TABLES[opts.m_table], b1, b2,
                    r - wr0, c - wc0, res[0], res[1], res[2],
                    _ALL if need is None else need, need is not None)
    return res[0], res[1], res[2]


def flowpath_blocks(read: Reader, shape: tuple[int, int], dx: float, dy: float,
                    opts: FlowpathOptions, emit: Emit, *, block: int = DEFAULT_BLOCK,
                    threads: int | None = None, dtype: type = np.float32,
                    need: np.ndarray | None = None) -> int:
    """Compute every core of a DEM and hand it to ``emit``.

    Parameters
    ----------
    read : Reader
        Reads a window of the DEM: elevations in metres (float64) and the valid mask. Called
        from the worker threads (it must be safe to call from several at once).
    shape : (int, int)
        DEM rows and columns.
    dx, dy : float
        Cell width and height, m.
    opts : FlowpathOptions
    emit : Emit
        Receives each core's maps (slope °, slope length m, LS), in the order computed; called
        from the worker threads.
    block : int
        Core side, pixels.
    threads : int, optional
        Worker threads (default: the CPU count). Cores are submitted in row-major order, at most
        two per thread ahead, so memory stays a few windows per thread.
    dtype : type
        The maps' data type (float32 for files, float64 to compare with a reference).
    need : 2-D bool array of the DEM's shape, optional
        The cells whose maps are wanted; the others are NaN (:func:`_compute_core`).

    Returns
    -------
    int
        The halo used, cells.
    """
    opts.check()
    if block < 1:
        raise TerrainError(f"--block: expected a positive number of pixels, got {block}")
    halo = halo_cells(opts, dx, dy)
    n = max(1, threads if threads is not None else (os.cpu_count() or 1))
    cores = list(core_blocks(shape, block))

    def task(core: tuple[int, int, int, int]) -> None:
        r, c, bh, bw = core
        s, length, ls = _compute_core(read, shape, core, halo, dx, dy, opts, dtype,
                                      None if need is None else need[r:r + bh, c:c + bw])
        emit(core[0], core[1], s, length, ls)

    if n == 1 or len(cores) == 1:
        for core in cores:
            task(core)
        return halo
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=n) as pool:
        try:
            for core in cores:
                if len(pending) >= 2 * n:
                    pending.pop(0).result()
                pending.append(pool.submit(task, core))
            for f in pending:
                f.result()
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    return halo


def flowpath_array(z: np.ndarray, dx: float, dy: float | None = None, *,
                   valid: np.ndarray | None = None, opts: FlowpathOptions | None = None,
                   block: int | None = None, threads: int | None = 1,
                   need: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Slope, capped slope length and LS of an in-memory DEM (float64 maps).

    Parameters
    ----------
    z : 2-D array
        Elevations, m.
    dx, dy : float
        Cell width and height, m (``dy`` defaults to ``dx``).
    valid : 2-D bool array, optional
        False at nodata (default: where ``z`` is finite).
    opts : FlowpathOptions, optional
    block : int, optional
        Core side for the block-by-block computation (default: the whole array in one window).
    threads : int, optional
        Worker threads (1 by default).
    need : 2-D bool array, optional
        The cells whose maps are wanted (default: all); NaN elsewhere.

    Returns
    -------
    dict
        ``slope_deg``, ``slope_length_m``, ``slope_length_steepness_ls``: float64 arrays of
        ``z``'s shape, NaN at nodata.
    """
    z = np.asarray(z, dtype=np.float64)
    dy = dx if dy is None else dy
    valid = np.isfinite(z) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(z)
    opts = opts or FlowpathOptions()
    shape = (int(z.shape[0]), int(z.shape[1]))
    out = {k: np.full(shape, np.nan) for k in ("slope_deg", "slope_length_m",
                                                "slope_length_steepness_ls")}
    lock = threading.Lock()

    def read(r: int, c: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        return z[r:r + h, c:c + w], valid[r:r + h, c:c + w]

    def emit(r: int, c: int, s: np.ndarray, length: np.ndarray, ls: np.ndarray) -> None:
        with lock:
            h, w = s.shape
            out["slope_deg"][r:r + h, c:c + w] = s
            out["slope_length_m"][r:r + h, c:c + w] = length
            out["slope_length_steepness_ls"][r:r + h, c:c + w] = ls

    side = block if block is not None else max(shape)
    flowpath_blocks(read, shape, float(dx), float(dy), opts, emit, block=side, threads=threads,
                    dtype=np.float64, need=None if need is None else np.asarray(need, dtype=bool))
    return out
