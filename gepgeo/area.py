"""Pixel area in hectares (METHOD.md, Conventions: Area).

* Projected CRS: ``|det(transform)|`` in the CRS's linear unit squared, converted to m², / 10⁴.
  This is the map-plane area; :func:`areal_scale` tells how far it is from the true area.
* Geographic CRS: the true area of each row's cells on the CRS's ellipsoid, which shrinks with
  latitude; all cells of a row have the same area.
* ``area: ellipsoidal`` on a projected CRS: each pixel's planar area divided by the projection's
  areal scale at the pixel centre (pyproj projection factors).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer

from .errors import AreaScaleWarning, RasterError

__all__ = ["planar_pixel_area_ha", "geographic_row_area_ha", "areal_scale",
           "ellipsoidal_area_ha", "row_areas_ha", "AREA_SCALE_TOLERANCE"]

AREA_SCALE_TOLERANCE = 0.005


def planar_pixel_area_ha(transform: Affine, crs: CRS) -> float:
    """Map-plane area of one pixel of a projected grid, ha."""
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    det = abs(transform.a * transform.e - transform.b * transform.d)
    return det * factor * factor / 1.0e4


def _q(phi: np.ndarray, e: float) -> np.ndarray:
    """Authalic function q(φ) (Snyder 1987, eq. 3-12); area between parallels ∝ Δq."""
    s = np.sin(phi)
    if e == 0.0:
        return 2.0 * s
    es = e * s
    return (1.0 - e * e) * (s / (1.0 - es * es) - (1.0 / (2.0 * e)) * np.log((1.0 - es) / (1.0 + es)))


def geographic_row_area_ha(transform: Affine, crs: CRS, height: int) -> np.ndarray:
    """True area of the cells of each row of a north-up geographic grid on its ellipsoid, ha.

    The area of a cell between latitudes φ1 and φ2 and Δλ radians wide is
    ``a² Δλ |q(φ2) − q(φ1)| / 2`` (Snyder 1987, ch. 3).
    """
    if transform.b != 0 or transform.d != 0:
        raise RasterError("a rotated geographic grid is not supported; warp it north-up first")
    ell = crs.ellipsoid
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


def areal_scale(transform: Affine, crs: CRS, shape: tuple[int, int]) -> float:
    """Areal scale factor of a projected CRS at the grid centre (1 for equal-area)."""
    h, w = shape
    x = transform.c + transform.a * w / 2.0 + transform.b * h / 2.0
    y = transform.f + transform.d * w / 2.0 + transform.e * h / 2.0
    to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    return float(Proj(crs).get_factors(lon, lat).areal_scale)


def ellipsoidal_area_ha(transform: Affine, crs: CRS, rows: slice, cols: slice) -> np.ndarray:
    """True area of the pixels ``[rows, cols]`` of a projected grid, ha (planar / areal scale)."""
    r = np.arange(rows.start, rows.stop, dtype=np.float64) + 0.5
    c = np.arange(cols.start, cols.stop, dtype=np.float64) + 0.5
    cc, rr = np.meshgrid(c, r)
    xs = transform.c + transform.a * cc + transform.b * rr
    ys = transform.f + transform.d * cc + transform.e * rr
    to_geo = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = to_geo.transform(xs, ys)
    scale = np.asarray(Proj(crs).get_factors(lon, lat).areal_scale, dtype=np.float64)
    return planar_pixel_area_ha(transform, crs) / scale


def row_areas_ha(transform: Affine, crs: CRS, shape: tuple[int, int], *,
                 mode: str = "planar") -> np.ndarray | None:
    """Per-row pixel areas (ha) for planar and geographic grids; None when per-pixel is needed.

    Parameters
    ----------
    mode : {"planar", "ellipsoidal"}
        ``ellipsoidal`` on a projected CRS returns None: the caller computes per-pixel areas
        with :func:`ellipsoidal_area_ha`. For projected grids in ``planar`` mode it warns
        (:class:`AreaScaleWarning`) when the areal scale differs from 1 by more than 0.5 %.
    """
    if crs is None:
        raise RasterError("the land-use raster has no CRS; set one (e.g. gdal_edit.py -a_srs)")
    if mode not in ("planar", "ellipsoidal"):
        raise RasterError(f"area: expected 'planar' or 'ellipsoidal', got {mode!r}")
    if crs.is_geographic:
        return geographic_row_area_ha(transform, crs, shape[0])
    if mode == "ellipsoidal":
        return None
    try:
        k = areal_scale(transform, crs, shape)
    except Exception:  # pragma: no cover - projections pyproj cannot evaluate
        k = 1.0
    if abs(k - 1.0) > AREA_SCALE_TOLERANCE:
        warnings.warn(
            f"the projection's areal scale at the grid centre is {k:.4f} (more than 0.5 % from "
            "1): planar pixel areas are off by that factor; set `area: ellipsoidal` for true "
            "areas", AreaScaleWarning, stacklevel=3)
    return np.full(shape[0], planar_pixel_area_ha(transform, crs), dtype=np.float64)
