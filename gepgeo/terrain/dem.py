"""A DEM opened for terrain analysis: its grid in metres, its elevations in metres, its windows.

Horizontal distances come from the CRS: a projected CRS in metres, feet or any linear unit is
converted to metres with the unit's factor (pyproj's ``unit_conversion_factor``). A geographic
CRS (degrees) is refused: a slope from degrees taken as metres is wrong by a factor of ~10⁵,
and a correct treatment (per-row metric cell sizes) is not implemented; the message says to
reproject. Elevations are taken to be in the horizontal unit (the AML's and ArcGIS's rule)
times ``z_factor`` (ArcGIS's z-factor: horizontal units per elevation unit, e.g. 3.2808 for
elevations in metres on a CRS in feet, 0.3048 for elevations in feet on a CRS in metres).

With ``grid`` (a land-use raster), the DEM is first resampled onto that grid with bilinear
interpolation (GDAL's warper), so that the maps line up with the land use pixel for pixel.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

from ..errors import TerrainError
from ..grid import Grid, as_pyproj
from ..io import BlockSource, LayerInfo, read_info, read_window
from ..nodata import nodata_mask

__all__ = ["DemSource", "DemWindows", "open_dem", "linear_unit_m", "elevation_unit_m",
           "elevation_to_m", "scale_error", "check_scale", "check_dem", "warp_args",
           "MAX_SCALE_ERROR"]


#: the largest distortion of distances, |scale factor − 1|, that a projected CRS may have anywhere
#: on the grid: within it the projected cell size is taken as the ground distance (as GIS tools
#: do; UTM stays within 0.1 %), beyond it slopes and slope lengths would be off by as much and
#: the DEM is refused (Web Mercator at 27° N: 12 %; a China-wide Albers, 25°/47°, reaches 1.9 %
#: at 36° N and 2.5 % at 18° N)
MAX_SCALE_ERROR = 0.02


def horizontal_crs(crs: Any) -> Any:
    """The horizontal part of a CRS (itself unless it is compound), as a pyproj CRS."""
    p = as_pyproj(crs)
    if p.is_compound:
        for sub in p.sub_crs_list:
            if not sub.is_vertical:
                return sub
    return p


def linear_unit_m(crs: Any) -> float:
    """Metres per unit of a projected CRS's first horizontal axis (1 for metres, 0.3048 for
    feet)."""
    p = horizontal_crs(crs)
    return float(p.axis_info[0].unit_conversion_factor) if p.axis_info else 1.0


def elevation_unit_m(crs: Any) -> float | None:
    """Metres per elevation unit when the CRS is compound with a vertical part (e.g.
    0.3048006 for NAVD88 height in US feet), else None (the CRS does not say)."""
    if crs is None:
        return None
    p = as_pyproj(crs)
    if p.is_compound:
        for sub in p.sub_crs_list:
            if sub.is_vertical and sub.axis_info:
                return float(sub.axis_info[0].unit_conversion_factor)
    return None


def elevation_to_m(crs: Any, z_factor: float, what: str, path: Path) -> float:
    """Metres per stored elevation unit: the CRS's vertical unit when it declares one (a
    ``z_factor`` other than 1 must then agree with it), else ``z_factor`` × the horizontal unit
    (ArcGIS's rule: elevations in the horizontal unit unless a z-factor says otherwise)."""
    h = linear_unit_m(crs)
    v = elevation_unit_m(crs)
    if v is None:
        return z_factor * h
    if z_factor == 1.0 or math.isclose(z_factor * h, v, rel_tol=1e-6):
        return v
    raise TerrainError(
        f"{what}: {str(path)!r} declares its elevations in {v:g} m units (its CRS's vertical "
        f"part) but z_factor {z_factor:g} says {z_factor * h:g} m: drop z_factor (the CRS's "
        "unit is used) or make it agree")


def scale_error(crs: Any, transform: Affine, shape: tuple[int, int]) -> float:
    """The largest |k − 1| of the CRS's meridional and parallel scale factors k at the grid's
    corners, edge midpoints and centre (pyproj's ``Proj.get_factors``); 0 if they cannot be
    computed there."""
    from pyproj import Proj, Transformer

    h = horizontal_crs(crs)
    to_geo = Transformer.from_crs(h, h.geodetic_crs, always_xy=True)
    proj = Proj(h)
    rows, cols = shape
    worst = 0.0
    for fr in (0.0, 0.5, 1.0):
        for fc in (0.0, 0.5, 1.0):
            x, y = transform * (fc * cols, fr * rows)
            lon, lat = to_geo.transform(x, y)
            try:
                f = proj.get_factors(lon, lat)
            except Exception:     # noqa: BLE001 - pyproj raises several kinds off its domain
                continue
            for k in (f.meridional_scale, f.parallel_scale):
                if math.isfinite(k):
                    worst = max(worst, abs(k - 1.0))
    return worst


def check_scale(crs: Any, transform: Affine, shape: tuple[int, int], what: str,
                path: Path) -> None:
    """Refuse a grid whose CRS distorts distances by more than :data:`MAX_SCALE_ERROR`."""
    err = scale_error(crs, transform, shape)
    if err > MAX_SCALE_ERROR:
        raise TerrainError(
            f"{what}: {str(path)!r} is in {horizontal_crs(crs).name}, which stretches distances "
            f"by up to {100 * err:.1f} % on this grid (more than {100 * MAX_SCALE_ERROR:g} %): "
            "slopes and slope lengths would be off by as much; reproject to a CRS suited to "
            "the area (its UTM zone, or an Albers or Lambert whose standard parallels span it)")


@dataclass
class DemSource:
    """An opened DEM, on its own grid or warped onto a land-use grid.

    Attributes
    ----------
    path : Path
    grid : Grid
        The grid the maps are computed on (the DEM's, or the land-use grid's with ``--grid``).
    dx_m, dy_m : float
        Cell width and height, m.
    z_to_m : float
        Metres per stored elevation unit (z_factor × the CRS's linear unit).
    note : str or None
        How the DEM was aligned, when it was (for the outputs' tags and manifest).
    """

    path: Path
    grid: Grid
    dx_m: float
    dy_m: float
    z_to_m: float
    nodata: list[float]
    warp: dict[str, Any] | None = None
    note: str | None = None
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _handles: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _dataset(self) -> Any:
        ds = getattr(self._local, "ds", None)
        if ds is None:
            src = rasterio.open(self.path)
            ds = src
            if self.warp is not None:
                from rasterio.vrt import WarpedVRT

                ds = WarpedVRT(src, **self.warp)
            with self._lock:
                self._handles.append(ds)
                if ds is not src:
                    self._handles.append(src)
            self._local.ds = ds
        return ds

    def read(self, row: int, col: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """A window of elevations in metres (float64) and its valid mask (one handle per
        thread)."""
        raw = self._dataset().read(1, window=Window(col, row, width, height))
        return _elevations(raw, self.nodata, self.warp is not None, self.z_to_m)

    def close(self) -> None:
        """Close every handle opened by the reading threads."""
        with self._lock:
            for ds in self._handles:
                try:
                    ds.close()
                except Exception:  # noqa: BLE001 - closing a read handle
                    pass
            self._handles.clear()


def warp_args(info: LayerInfo, grid: Grid, resampling: str = "bilinear"
              ) -> tuple[tuple[str, Any], ...]:
    """The ``WarpedVRT`` arguments that resample the DEM ``info`` onto ``grid`` (float64, NaN
    outside the DEM and at its nodata): one definition for ``gepgeo terrain --grid`` and for
    ``from_dem`` in a pipeline, so that both read the same elevations to the last bit."""
    from rasterio.enums import Resampling

    return (("crs", grid.crs.to_wkt()), ("transform", tuple(grid.transform)[:6]),
            ("width", grid.width), ("height", grid.height),
            ("resampling", Resampling[resampling]), ("src_nodata", info.nodata),
            ("nodata", np.nan), ("dtype", "float64"))


@dataclass(frozen=True)
class DemWindows:
    """Windows of a DEM on a grid (its own, or warped onto a land-use grid), picklable: the
    reader of ``from_dem`` layers, whose block tasks may run on distributed workers. Reads go
    through :func:`gepgeo.io.read_window` (one handle per thread and source)."""

    src: BlockSource
    nodata: tuple[float, ...]
    z_to_m: float

    def __call__(self, row: int, col: int, height: int, width: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """A window of elevations in metres (float64) and its valid mask, as
        :meth:`DemSource.read` reads it."""
        raw = read_window(self.src, row, col, height, width)
        return _elevations(raw, list(self.nodata), self.src.warp is not None, self.z_to_m)


def _elevations(raw: np.ndarray, nodata: list[float], warped: bool,
                z_to_m: float) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(raw) if warped else ~nodata_mask(raw, nodata)
    z = raw.astype(np.float64, copy=False)     # a warped window is float64 already, and ours
    if z_to_m != 1.0:                          # × 1 changes no value: skipped
        z *= z_to_m
        valid &= np.isfinite(z)
    elif not warped:
        valid &= np.isfinite(raw)              # ±inf in the file
    return z, valid


def check_dem(info: LayerInfo, what: str) -> None:
    """Refuse a DEM without a projected CRS or with rotated pixels (:class:`TerrainError`,
    ``what`` names it)."""
    _check_projected(info.crs, what, info.path)
    _check_transform(info.transform, what, info.path)


def _check_projected(crs: Any, what: str, path: Path) -> None:
    if crs is None:
        raise TerrainError(f"{what}: {str(path)!r} has no CRS; set its projected CRS (e.g. "
                           "gdal_edit.py -a_srs EPSG:32648) so that cell sizes are known")
    p = as_pyproj(crs)
    if p.is_geographic:
        raise TerrainError(
            f"{what}: {str(path)!r} is in a geographic CRS ({p.name}, degrees); slopes and "
            "slope lengths need distances in metres: reproject it to a projected CRS first "
            "(e.g. gdalwarp -t_srs EPSG:32648 -r bilinear dem.tif dem_utm.tif)")
    if not p.is_projected:
        raise TerrainError(f"{what}: {str(path)!r} has a CRS that is neither projected nor "
                           f"geographic ({p.name}); reproject it to a projected CRS first")


def _check_transform(t: Affine, what: str, path: Path) -> None:
    if t.b != 0 or t.d != 0:
        raise TerrainError(f"{what}: {str(path)!r} has rotated or sheared pixels; warp it to a "
                           "north-up grid first (gdalwarp)")


def open_dem(path: Path, *, z_factor: float = 1.0, grid: Path | None = None) -> DemSource:
    """Open a DEM for :mod:`gepgeo.terrain` (metadata only; windows are read later).

    Parameters
    ----------
    path : Path
        The DEM (band 1).
    z_factor : float
        Horizontal units per elevation unit (1: elevations in the CRS's unit).
    grid : Path, optional
        A land-use raster: the DEM is resampled onto its grid (bilinear).

    Raises
    ------
    InputFileError, RasterError
        The DEM (or ``grid``) cannot be read.
    TerrainError
        No CRS, a geographic CRS, rotated pixels, a bad ``z_factor``.
    """
    path = Path(path)
    if not (math.isfinite(z_factor) and z_factor > 0):
        raise TerrainError(f"--z-factor: expected a positive number (horizontal units per "
                           f"elevation unit; 1 when both are metres), got {z_factor!r}")
    info = read_info(path, what="DEM")
    _check_projected(info.crs, "DEM", path)
    _check_transform(info.transform, "DEM", path)
    from ..nodata import nodata_list

    nodata = nodata_list(info.nodata, None)
    z_to_m = elevation_to_m(info.crs, z_factor, "DEM", path)
    if grid is None:
        check_scale(info.crs, info.transform, info.shape, "DEM", path)
        g = info.grid
        unit = linear_unit_m(info.crs)
        return DemSource(path, g, abs(g.transform.a) * unit, abs(g.transform.e) * unit, z_to_m,
                         nodata)
    ref = read_info(Path(grid), what="--grid")
    _check_projected(ref.crs, "--grid", Path(grid))
    _check_transform(ref.transform, "--grid", Path(grid))
    check_scale(ref.crs, ref.transform, ref.shape, "--grid", Path(grid))
    g = ref.grid
    unit = linear_unit_m(ref.crs)
    if info.grid.same_as(g):
        return DemSource(path, g, abs(g.transform.a) * unit, abs(g.transform.e) * unit, z_to_m,
                         nodata)
    from ..io import _warp_kwargs

    warp = _warp_kwargs(warp_args(info, g))
    note = (f"DEM {path.name} resampled onto the grid of {Path(grid).name} with bilinear "
            "interpolation")
    return DemSource(path, g, abs(g.transform.a) * unit, abs(g.transform.e) * unit, z_to_m,
                     nodata, warp=warp, note=note)
