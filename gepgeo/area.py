"""Pixel area in hectares (METHOD.md, Conventions: Area).

* Projected CRS: ``|det(transform)|`` in the CRS's linear unit squared, converted to m², / 10⁴.
  This is the map-plane area; :func:`areal_scale` tells how far it is from the true area.
* Geographic CRS: the true area of each row's cells on the CRS's ellipsoid, which shrinks with
  latitude; all cells of a row have the same area.
* ``area: ellipsoidal`` on a projected CRS: each pixel's planar area divided by the projection's
  areal scale at the pixel centre (pyproj projection factors).

:func:`grid_row_areas_ha` and :func:`grid_block_areas_ha` take a :class:`gepgeo.grid.Grid`;
the functions taking a transform, a CRS and a shape are the same computations for callers that
hold no grid.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer

from .errors import AreaScaleWarning, RasterError
from .grid import as_pyproj as _as_pyproj

if TYPE_CHECKING:
    from .grid import Grid

__all__ = ["planar_pixel_area_ha", "geographic_row_area_ha", "areal_scale",
           "ellipsoidal_area_ha", "row_areas_ha", "grid_row_areas_ha", "grid_block_areas_ha",
           "AREA_SCALE_TOLERANCE"]

AREA_SCALE_TOLERANCE = 0.005


def planar_pixel_area_ha(transform: Affine, crs: CRS) -> float:
    """Map-plane area of one pixel of a projected grid, ha."""
    crs = _as_pyproj(crs)
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    det = abs(transform.a * transform.e - transform.b * transform.d)
    return det * factor * factor / 1.0e4


def _q(phi: np.ndarray, e: float) -> np.ndarray:
    """Authalic function q(φ) (Snyder 1987, eq. 3-12); area between parallels ∝ Δq."""
    s = np.sin(phi)
    if e == 0.0:
        return 2.0 * s
    es = e * s
    return (1.0 - e * e) * (s / (1.0 - es * es)
                            - (1.0 / (2.0 * e)) * np.log((1.0 - es) / (1.0 + es)))


def ellipsoid_of(crs: CRS) -> Any:
    """The ellipsoid of ``crs`` (a :class:`pyproj.crs.Ellipsoid`).

    Raises
    ------
    RasterError
        ``crs`` has none (an engineering or other local CRS): true areas cannot be computed.
    """
    ell = crs.ellipsoid
    if ell is None:
        raise RasterError(f"the CRS {crs.name!r} has no ellipsoid, so true areas cannot be "
                          "computed on it; assign or warp the rasters to a geographic or "
                          "projected CRS")
    return ell


def _geodetic(crs: CRS) -> CRS:
    """The geodetic CRS of ``crs`` (same error as :func:`ellipsoid_of` when it has none)."""
    geo = crs.geodetic_crs
    if geo is None:
        ellipsoid_of(crs)     # raises for a CRS without an ellipsoid
        raise RasterError(f"the CRS {crs.name!r} has no geodetic CRS")
    return geo


def geographic_row_area_ha(transform: Affine, crs: CRS, height: int) -> np.ndarray:
    """True area of the cells of each row of a north-up geographic grid on its ellipsoid, ha.

    The area of a cell between latitudes φ1 and φ2 and Δλ radians wide is
    ``a² Δλ |q(φ2) − q(φ1)| / 2`` (Snyder 1987, ch. 3).
    """
    crs = _as_pyproj(crs)
    if transform.b != 0 or transform.d != 0:
        raise RasterError("a rotated geographic grid is not supported; warp it north-up first")
    ell = ellipsoid_of(crs)
    a = ell.semi_major_metre
    inv_f = ell.inverse_flattening
    f = 0.0 if not inv_f or math.isinf(inv_f) else 1.0 / inv_f
    e = math.sqrt(f * (2.0 - f))
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else math.pi / 180.0
    dlon = abs(transform.a) * factor
    rows = np.arange(height + 1, dtype=np.float64)
    lat = np.clip((transform.f + transform.e * rows) * factor, -math.pi / 2, math.pi / 2)
    q = _q(lat, e)
    return a * a * dlon * np.abs(np.diff(q)) / 2.0 / 1.0e4


def _to_lonlat(crs: CRS) -> Callable[[Any, Any], tuple[Any, Any]]:
    """(x, y) in ``crs`` → (lon, lat) in degrees on its own geodetic CRS (longitude from its
    prime meridian): the projection's inverse, no datum shift, ~0.4 ms to set up."""
    geo = _geodetic(crs)
    to_geo = Transformer.from_crs(crs, geo, always_xy=True)
    rad = geo.axis_info[0].unit_conversion_factor if geo.axis_info else math.pi / 180.0
    scale = rad * 180.0 / math.pi
    if abs(scale - 1.0) < 1e-12:
        return to_geo.transform

    def to_degrees(x: Any, y: Any) -> tuple[Any, Any]:
        lon, lat = to_geo.transform(x, y)
        return np.multiply(lon, scale), np.multiply(lat, scale)

    return to_degrees


def _equal_area(crs: CRS, lon0: float, lat0: float) -> Callable[[Any, Any], tuple[Any, Any]]:
    """(x, y) in ``crs`` → (x, y) in metres in an ellipsoidal Lambert azimuthal equal-area
    projection centred on (lon0, lat0) (degrees, as :func:`_to_lonlat` gives them), on the same
    ellipsoid: map-plane areas there are true areas.

    The two steps (the CRS's inverse, then the forward equal-area projection from a PROJ
    string) are the operation PROJ would build for ``crs`` → LAEA, but cost ~1 ms to set up
    instead of ~12 ms of database lookups (once per run, and once per block with
    ``area: ellipsoidal``).
    """
    ell = ellipsoid_of(crs)
    inv_f = ell.inverse_flattening
    shape = (f"+a={ell.semi_major_metre!r} +rf={inv_f!r}" if inv_f and not math.isinf(inv_f)
             else f"+R={ell.semi_major_metre!r}")
    laea = Proj(f"+proj=laea +lat_0={lat0!r} +lon_0={lon0!r} {shape} +units=m +no_defs")
    to_lonlat = _to_lonlat(crs)

    def project(x: Any, y: Any) -> tuple[Any, Any]:
        lon, lat = to_lonlat(x, y)
        return laea(lon, lat)

    return project


def _centre_lonlat(transform: Affine, crs: CRS, shape: tuple[int, int],
                   origin: tuple[int, int] = (0, 0)) -> tuple[float, float]:
    """lon, lat (degrees) of the centre of the ``shape`` pixels starting at pixel ``origin``."""
    h, w = shape
    col = origin[1] + w / 2.0
    row = origin[0] + h / 2.0
    x = transform.c + transform.a * col + transform.b * row
    y = transform.f + transform.d * col + transform.e * row
    lon, lat = _to_lonlat(crs)(x, y)
    return float(lon), float(lat)


def _quad_areas_m2(transform: Affine, to_ea: Callable[[Any, Any], tuple[Any, Any]],
                   rows: slice, cols: slice) -> np.ndarray:
    r = np.arange(rows.start, rows.stop + 1, dtype=np.float64)
    c = np.arange(cols.start, cols.stop + 1, dtype=np.float64)
    cc, rr = np.meshgrid(c, r)
    xs = transform.c + transform.a * cc + transform.b * rr
    ys = transform.f + transform.d * cc + transform.e * rr
    ex, ey = to_ea(xs, ys)
    # shoelace over each pixel's four corners (the corners' order is the same for every pixel)
    x0, y0 = ex[:-1, :-1], ey[:-1, :-1]
    x1, y1 = ex[:-1, 1:], ey[:-1, 1:]
    x2, y2 = ex[1:, 1:], ey[1:, 1:]
    x3, y3 = ex[1:, :-1], ey[1:, :-1]
    return 0.5 * np.abs((x0 * y1 - x1 * y0) + (x1 * y2 - x2 * y1) + (x2 * y3 - x3 * y2)
                        + (x3 * y0 - x0 * y3))


def areal_scale(transform: Affine, crs: CRS, shape: tuple[int, int]) -> float:
    """Planar over true area of the centre pixel of a projected grid (1 for equal-area).

    The true area comes from the pixel's corners in an ellipsoidal equal-area projection (not
    from PROJ's scale factors, which are wrong for non-conformal cases such as Web Mercator).
    """
    crs = _as_pyproj(crs)
    h, w = shape
    lon0, lat0 = _centre_lonlat(transform, crs, shape)
    true = _quad_areas_m2(transform, _equal_area(crs, lon0, lat0),
                          slice(h // 2, h // 2 + 1), slice(w // 2, w // 2 + 1))[0, 0]
    return planar_pixel_area_ha(transform, crs) * 1.0e4 / float(true)


def ellipsoidal_area_ha(transform: Affine, crs: CRS, rows: slice, cols: slice,
                        centre: tuple[float, float] | None = None) -> np.ndarray:
    """True area of the pixels ``[rows, cols]`` of a projected grid, ha.

    Each pixel's corners are projected to an ellipsoidal Lambert azimuthal equal-area
    projection centred on ``centre`` (lon, lat; default the block's centre) and its area taken
    there; edges that are straight in the source CRS are nearly straight there (the error is of
    second order in the pixel size).
    """
    crs = _as_pyproj(crs)
    if centre is None:
        centre = _centre_lonlat(transform, crs, (rows.stop - rows.start, cols.stop - cols.start),
                                (rows.start, cols.start))
    to_ea = _equal_area(crs, *centre)
    return _quad_areas_m2(transform, to_ea, rows, cols) / 1.0e4


def row_areas_ha(transform: Affine, crs: CRS, shape: tuple[int, int], *,
                 mode: str = "planar") -> np.ndarray | None:
    """Per-row pixel areas (ha) for planar and geographic grids; None when per-pixel is needed.

    :func:`grid_row_areas_ha` for a grid given as its transform, CRS and shape (rows, columns).

    Parameters
    ----------
    mode : {"planar", "ellipsoidal"}
        ``ellipsoidal`` on a projected CRS returns None: the caller computes per-pixel areas
        with :func:`ellipsoidal_area_ha`. For projected grids in ``planar`` mode it warns
        (:class:`AreaScaleWarning`) when the areal scale differs from 1 by more than 0.5 %.
    """
    return _row_areas(transform, crs, shape, mode, check_scale=True)


def grid_row_areas_ha(grid: Grid, *, mode: str = "planar",
                      check_scale: bool = True) -> np.ndarray | None:
    """Pixel area of each row of ``grid`` (float64, ha, one value per row), or None when each
    pixel needs its own area (``ellipsoidal`` on a projected CRS: :func:`grid_block_areas_ha`).

    Geographic grids get the true area of each row's cells on the ellipsoid (any ``mode``);
    projected grids in ``planar`` mode the map-plane area of a pixel, on every row.

    Parameters
    ----------
    grid : Grid
        The grid; its CRS must be set.
    mode : {"planar", "ellipsoidal"}
        The pipeline's ``area:`` option.
    check_scale : bool
        For projected grids in ``planar`` mode, warn (:class:`AreaScaleWarning`) when the
        projection's areal scale at the grid centre differs from 1 by more than 0.5 %
        (:data:`AREA_SCALE_TOLERANCE`). ``gepgeo codes`` passes False: it only lists areas.

    Raises
    ------
    RasterError
        No CRS, a CRS without an ellipsoid (geographic), or an unknown ``mode``.
    """
    return _row_areas(grid.transform, grid.pyproj_crs, grid.shape, mode, check_scale)


def _row_areas(transform: Affine, crs: Any, shape: tuple[int, int], mode: str,
               check_scale: bool) -> np.ndarray | None:
    """:func:`row_areas_ha` / :func:`grid_row_areas_ha` (the warning names their caller's
    caller, as it always did)."""
    if crs is None:
        raise RasterError("the land-use raster has no CRS; set one (e.g. gdal_edit.py -a_srs)")
    crs = _as_pyproj(crs)
    if mode not in ("planar", "ellipsoidal"):
        raise RasterError(f"area: expected 'planar' or 'ellipsoidal', got {mode!r}")
    if crs.is_geographic:
        return geographic_row_area_ha(transform, crs, shape[0])
    if mode == "ellipsoidal":
        return None
    if check_scale:
        try:
            k = areal_scale(transform, crs, shape)
        except Exception:  # noqa: BLE001  # pragma: no cover - projections pyproj cannot evaluate
            k = 1.0
        if abs(k - 1.0) > AREA_SCALE_TOLERANCE:
            warnings.warn(
                f"the projection's areal scale at the grid centre is {k:.4f} (more than 0.5 % "
                "from 1): planar pixel areas are off by that factor; set `area: ellipsoidal` "
                "for true areas", AreaScaleWarning, stacklevel=4)
    return np.full(shape[0], planar_pixel_area_ha(transform, crs), dtype=np.float64)


def grid_block_areas_ha(grid: Grid, rows: slice, cols: slice,
                        row_areas: np.ndarray | None) -> np.ndarray:
    """Pixel areas (ha) of the window ``[rows, cols]`` of ``grid`` (unit-step slices of pixel
    indices into the whole grid), shaped like the window.

    Parameters
    ----------
    row_areas : numpy.ndarray or None
        :func:`grid_row_areas_ha` of the grid: broadcast over the window's columns (a
        read-only view). None: each pixel's true area (:func:`ellipsoidal_area_ha`, centred on
        the window).
    """
    if row_areas is None:
        crs = grid.pyproj_crs
        if crs is None:
            raise RasterError("the land-use raster has no CRS; set one (e.g. gdal_edit.py "
                              "-a_srs)")
        return ellipsoidal_area_ha(grid.transform, crs, rows, cols)
    return np.broadcast_to(row_areas[rows, None], (rows.stop - rows.start, cols.stop - cols.start))
