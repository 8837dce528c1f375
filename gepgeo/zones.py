"""Vector zones (parcels, townships, watersheds): read, reproject, rasterise lazily per block.

Rasterisation rule: a pixel belongs to a zone when the zone's polygon contains the pixel
centre (GDAL's default rule, ``all_touched=False``); where polygons overlap, the later feature in
the file wins. Zones are numbered 0..n-1 in file order; -1 is outside every zone. Each block of
the zone raster is burned when the kernel needs it, from the features whose bounding box meets
the block, so no full-size zone raster is ever held.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS, Geod

from .errors import InputFileError, RasterError

__all__ = ["ZoneLayerData", "read_zones", "zone_raster", "polygon_areas_ha"]


@dataclass
class ZoneLayerData:
    """A zone layer read into memory and reprojected to the grid.

    Attributes
    ----------
    name : str
        Layer name used in tables (the pipeline's ``name`` or the file stem).
    path : Path
    gdf : geopandas.GeoDataFrame
        Features in the grid's CRS, in file order.
    ids : list
        Zone identifiers (the ``id`` attribute, or the feature index).
    polygon_area_ha : numpy.ndarray
        True (ellipsoidal) area of each polygon, ha.
    """

    name: str
    path: Path
    gdf: Any
    ids: list[Any]
    polygon_area_ha: np.ndarray

    @property
    def count(self) -> int:
        return len(self.gdf)


def polygon_areas_ha(gdf: Any) -> np.ndarray:
    """True area of each polygon on the ellipsoid of its CRS, ha (pyproj geodesic areas)."""
    crs = CRS.from_user_input(gdf.crs)
    geo = gdf.to_crs(crs.geodetic_crs) if not crs.is_geographic else gdf
    ell = crs.ellipsoid
    geod = Geod(a=ell.semi_major_metre, b=ell.semi_minor_metre)
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) / 1e4 if g is not None else 0.0
                     for g in geo.geometry])


def read_zones(path: Path, *, grid_crs: Any, layer: str | None = None, id_field: str | None = None,
               name: str | None = None) -> ZoneLayerData:
    """Read a zone layer (GeoPackage, Shapefile, GeoJSON ...) and reproject it to ``grid_crs``.

    Raises
    ------
    InputFileError
        Missing or unreadable file, unknown layer, no features, no polygons.
    RasterError
        The layer has no CRS.
    """
    import geopandas as gpd

    if not path.exists():
        raise InputFileError(f"zones: file {str(path)!r} does not exist")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several classes for unreadable data
        raise InputFileError(f"zones: {str(path)!r} cannot be read as a vector layer "
                             f"({str(exc).splitlines()[0]})") from None
    if len(gdf) == 0:
        raise InputFileError(f"zones: {str(path)!r} has no features")
    if gdf.crs is None:
        raise RasterError(f"zones: {str(path)!r} has no CRS; set one (e.g. ogr2ogr -a_srs)")
    kinds = set(gdf.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputFileError(f"zones: {str(path)!r} holds {', '.join(sorted(kinds))} features; "
                             "zones must be polygons")
    if id_field is not None:
        if id_field not in gdf.columns:
            raise InputFileError(f"zones: {str(path)!r} has no attribute {id_field!r} "
                                 f"(attributes: {', '.join(c for c in gdf.columns if c != 'geometry')})")
        ids = gdf[id_field].tolist()
    else:
        ids = list(range(len(gdf)))
    areas = polygon_areas_ha(gdf)
    gdf = gdf.to_crs(CRS.from_user_input(grid_crs))
    return ZoneLayerData(name or path.stem, path, gdf, ids, areas)


def _burn(block_shape: tuple[int, int], r0: int, c0: int, transform: Affine, geoms: list[Any],
          bounds: np.ndarray) -> np.ndarray:
    from rasterio.features import rasterize

    h, w = block_shape
    t = Affine(transform.a, transform.b, transform.c + transform.a * c0 + transform.b * r0,
               transform.d, transform.e, transform.f + transform.d * c0 + transform.e * r0)
    xs = [t.c, t.c + t.a * w]
    ys = [t.f, t.f + t.e * h]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    hit = np.flatnonzero((bounds[:, 0] <= x1) & (bounds[:, 2] >= x0)
                         & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0))
    if hit.size == 0:
        return np.full((h, w), -1, dtype=np.int32)
    shapes = [(geoms[i], int(i)) for i in hit]
    return rasterize(shapes, out_shape=(h, w), transform=t, fill=-1, dtype="int32",
                     all_touched=False)


def zone_raster(zl: ZoneLayerData, transform: Affine, shape: tuple[int, int],
                chunks: tuple[tuple[int, ...], tuple[int, ...]]) -> da.Array:
    """Lazy int32 zone-index raster on the grid (one rasterize call per block)."""
    geoms = list(zl.gdf.geometry)
    bounds = np.asarray(zl.gdf.geometry.bounds.values, dtype=np.float64)

    def block(block_info=None):
        info = block_info[None]
        (r0, r1), (c0, c1) = info["array-location"]
        return _burn((r1 - r0, c1 - c0), r0, c0, transform, geoms, bounds)

    return da.map_blocks(block, chunks=chunks, dtype=np.int32, meta=np.empty((0, 0), np.int32),
                         name=f"gepgeo-zones-{zl.name}-{id(zl)}")


def zone_table(zl: ZoneLayerData, tidy_by_zone: list[pd.DataFrame],
               rasterised_area_ha: np.ndarray) -> pd.DataFrame:
    """Tidy rows of every zone, with the zone's id, attributes and its two areas in front."""
    attrs = [c for c in zl.gdf.columns if c != "geometry"]
    frames = []
    for z, tidy in enumerate(tidy_by_zone):
        head = {"zone_layer": zl.name, "zone_id": zl.ids[z]}
        for a in attrs:
            head[a if a.startswith("zone_") else f"zone_{a}"] = zl.gdf.iloc[z][a]
        head["polygon_area_ha"] = float(zl.polygon_area_ha[z])
        head["rasterised_area_ha"] = float(rasterised_area_ha[z])
        front = pd.DataFrame([head] * len(tidy))
        frames.append(pd.concat([front.reset_index(drop=True), tidy.reset_index(drop=True)], axis=1))
    return pd.concat(frames, ignore_index=True)
