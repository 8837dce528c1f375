"""The pixel grid of a raster: CRS, affine transform and shape, in one immutable value.

:class:`Grid` is a small stand-in for odc-geo's ``GeoBox``: every place that needs to know
where pixels are (reading and aligning layers, burning zones per block, pixel areas, the
comparison's alignment, the dataset builder) takes one, so that "the same grid", "the transform
of a block" and "projected or geographic" are each decided once, here.

Conventions: ``shape`` is (rows, columns) = (ny, nx); ``transform`` maps (column, row) pixel
corner coordinates to map coordinates in the CRS's units (GDAL's geotransform as an
:class:`affine.Affine`); ``crs`` is the rasterio or pyproj CRS object the grid was made from
(kept as given: its WKT is written into outputs), or ``None``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from affine import Affine
from pyproj import CRS

__all__ = ["Grid", "SAME_GRID_TOLERANCE", "as_pyproj"]

#: Two grids are the same when they have the same CRS and shape and each of the six transform
#: coefficients differs by less than this, in the CRS's units (metres, feet or degrees; for the
#: rotation/shear terms, units per pixel). 1e-9 m is a nanometre and 1e-9° about 0.1 mm: far
#: below any pixel, above the last-digit noise of a geotransform written by another program.
SAME_GRID_TOLERANCE = 1e-9

#: Pixel-size agreement for two grids to share one pixel lattice (:meth:`Grid.offset_in`),
#: relative to the pixel size
LATTICE_SIZE_RTOL = 1e-9

#: How close to a whole number of pixels one grid's origin must lie in the other's lattice
#: (:meth:`Grid.offset_in`), pixels
LATTICE_OFFSET_TOL = 1e-6


def as_pyproj(crs: Any) -> CRS:
    """A pyproj CRS from a pyproj or rasterio CRS (or anything pyproj accepts).

    A rasterio CRS goes through its WKT, so the same CRS always gives the same pyproj CRS.
    """
    if isinstance(crs, CRS):
        return crs
    to_wkt = getattr(crs, "to_wkt", None)
    return CRS.from_user_input(to_wkt() if to_wkt else crs)


@dataclass(frozen=True)
class Grid:
    """A raster's pixel grid: CRS, affine transform and shape (ny, nx); immutable.

    Parameters
    ----------
    crs : rasterio.crs.CRS, pyproj.CRS or None
        The grid's CRS, kept as given (``==`` compares CRSs as their library does).
    transform : affine.Affine
        Pixel (column, row) → map (x, y), in the CRS's units; a sequence of its six
        coefficients (a, b, c, d, e, f) is accepted.
    shape : (int, int)
        Rows and columns, pixels.

    Notes
    -----
    Equality (``==``) is exact; :meth:`same_as` is the one tolerant comparison, used wherever
    gepgeo decides whether a raster is on another's grid.
    """

    crs: Any
    transform: Affine
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.transform, Affine):
            object.__setattr__(self, "transform", Affine(*tuple(self.transform)[:6]))
        shape = tuple(int(n) for n in self.shape)
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"Grid: shape must be (rows, columns) >= 0, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def of(cls, obj: Any) -> Grid:
        """The grid of ``obj``.

        Parameters
        ----------
        obj : Grid, xarray.DataArray or xarray.Dataset, rasterio dataset, or any object with
            ``crs``, ``transform`` and ``shape`` attributes (:class:`gepgeo.io.LayerInfo`)
            An xarray object's grid is rioxarray's (``.rio.crs``, ``.rio.transform()``, its
            ``y``/``x`` sizes); the CRS of a rasterio dataset or ``LayerInfo`` stays a rasterio
            CRS.

        Raises
        ------
        TypeError
            ``obj`` carries no grid.
        """
        if isinstance(obj, Grid):
            return obj
        import xarray as xr

        if isinstance(obj, (xr.DataArray, xr.Dataset)):
            import rioxarray  # noqa: F401 - registers the .rio accessor

            rio = obj.rio
            return cls(rio.crs, rio.transform(), (rio.height, rio.width))
        try:
            crs, transform, shape = obj.crs, obj.transform, obj.shape
        except AttributeError:
            raise TypeError(f"Grid.of: {type(obj).__name__} has no crs, transform and "
                            "shape") from None
        if callable(transform):
            transform = transform()
        return cls(crs, transform, tuple(shape)[-2:])   # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: str | Path) -> Grid:
        """The grid of a raster file (its metadata only; no pixel is read)."""
        import rasterio

        with rasterio.open(path) as ds:
            return cls.of(ds)

    def with_crs(self, crs: Any) -> Grid:
        """This grid with ``crs`` (another object for the same CRS, e.g. a pyproj one)."""
        return replace(self, crs=crs)

    # ------------------------------------------------------------------ geometry

    @property
    def height(self) -> int:
        """Rows, pixels."""
        return self.shape[0]

    @property
    def width(self) -> int:
        """Columns, pixels."""
        return self.shape[1]

    @functools.cached_property
    def pyproj_crs(self) -> CRS | None:
        """The CRS as a pyproj CRS (made once per grid), or None."""
        return None if self.crs is None else as_pyproj(self.crs)

    @property
    def is_geographic(self) -> bool:
        """Whether the CRS is geographic (longitude/latitude); False without a CRS.

        The test of :func:`gepgeo.area.row_areas_ha` (pyproj's), which decides between true
        per-row areas and planar areas.
        """
        crs = self.pyproj_crs
        return crs is not None and bool(crs.is_geographic)

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel width and height in the CRS's units (both positive; ``(|a|, |e|)`` when the
        grid is not rotated)."""
        t = self.transform
        return math.hypot(t.a, t.d), math.hypot(t.b, t.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the grid's extent, in the CRS's units, with
        left <= right and bottom <= top whatever the direction of the rows and columns (the
        bounding box of all four corners for a rotated grid)."""
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(self.shape[0], self.shape[1], self.transform)
        return (min(west, east), min(south, north), max(west, east), max(south, north))

    # ------------------------------------------------------------------ comparisons

    def same_as(self, other: Grid) -> bool:
        """Whether ``other`` is this grid: same shape, ``==`` CRSs, and each of the six
        transform coefficients within :data:`SAME_GRID_TOLERANCE` (1e-9, absolute, in the
        CRS's units).

        A raster on the same grid is read as it is; any other is resampled or refused, so
        "same" must not let a real offset or pixel-size difference through: 1e-9 of a unit
        is far below a pixel in metres, feet or degrees, and a difference of 1e-9 × the
        number of columns in the pixel size stays far below a pixel too.
        """
        return (self.shape == other.shape and self.crs == other.crs
                and self.transform.almost_equals(other.transform,
                                                 precision=SAME_GRID_TOLERANCE))

    def offset_in(self, other: Grid) -> tuple[int, int] | None:
        """(row, column) of this grid's first pixel in ``other``, when both grids share one
        pixel lattice (else None): ``==`` CRSs, neither rotated nor sheared, the same pixel size
        within :data:`LATTICE_SIZE_RTOL` of this grid's, and this grid's origin within
        :data:`LATTICE_OFFSET_TOL` pixels of a pixel corner of ``other``. The offsets may be
        negative or beyond ``other``'s shape (the grids need not overlap).
        """
        t, r = other.transform, self.transform
        if not (other.crs == self.crs and abs(t.a - r.a) < LATTICE_SIZE_RTOL * abs(r.a)
                and abs(t.e - r.e) < LATTICE_SIZE_RTOL * abs(r.e)
                and t.b == r.b == 0 and t.d == r.d == 0):
            return None
        col = (r.c - t.c) / t.a
        row = (r.f - t.f) / t.e
        if (abs(col - round(col)) < LATTICE_OFFSET_TOL
                and abs(row - round(row)) < LATTICE_OFFSET_TOL):
            return int(round(row)), int(round(col))
        return None

    # ------------------------------------------------------------------ sub-grids

    def window(self, row_off: int, col_off: int, height: int, width: int) -> Grid:
        """The sub-grid of ``height`` × ``width`` pixels whose first pixel is this grid's
        (``row_off``, ``col_off``); same CRS.

        Its transform is this one moved by the offset, ``c + a·col + b·row`` and
        ``f + d·col + e·row`` (``transform @ Affine.translation(col_off, row_off)``, summed
        in this order): for a grid that is not rotated it equals
        ``rasterio.windows.transform`` bit for bit. Offsets need not lie inside the grid.
        """
        t = self.transform
        moved = Affine(t.a, t.b, t.c + t.a * col_off + t.b * row_off,
                       t.d, t.e, t.f + t.d * col_off + t.e * row_off)
        return Grid(self.crs, moved, (height, width))

    def block(self, i: int, j: int,
              chunks: int | tuple[int, int] | tuple[tuple[int, ...], tuple[int, ...]]) -> Grid:
        """Block (``i``, ``j``) (row, column of blocks) of this grid cut into ``chunks``.

        Parameters
        ----------
        chunks : int, (int, int) or ((int, ...), (int, ...))
            Block side, (rows, columns) of a block, or dask's chunks: the rows of each block
            row and the columns of each block column. Blocks at the right and bottom edges
            are clipped to the grid.

        Raises
        ------
        IndexError
            No such block.
        """
        rows, cols = _chunks(chunks, self.shape)
        if not (0 <= i < len(rows) and 0 <= j < len(cols)):
            raise IndexError(f"Grid.block: no block ({i}, {j}) in {len(rows)} x {len(cols)} "
                             "blocks")
        return self.window(sum(rows[:i]), sum(cols[:j]), rows[i], cols[j])


def _chunks(chunks: Any, shape: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """dask-style chunks ((rows of each block row), (columns of each block column))."""
    if isinstance(chunks, int):
        chunks = (chunks, chunks)
    out = []
    for c, n in zip(chunks, shape):
        if isinstance(c, int):
            if c <= 0:
                raise ValueError(f"Grid.block: block side must be positive, got {c}")
            out.append(tuple(min(c, n - k) for k in range(0, n, c)))
        else:
            out.append(tuple(int(v) for v in c))
            if sum(out[-1]) != n:
                raise ValueError(f"Grid.block: chunks {c} do not add up to {n}")
    return out[0], out[1]
