"""Vector zones (parcels, townships, watersheds): read, reproject, rasterise lazily per block.

Rasterisation rule: a pixel belongs to a zone when the zone's polygon contains the pixel
centre (GDAL's default rule, ``all_touched=False``); where polygons overlap, the later feature in
the file wins. Zones are numbered 0..n-1 in file order; -1 is outside every zone. Each block of
the zone raster is burned when the kernel needs it, from the features whose bounding box meets
the block, so no full-size zone raster is ever held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS, Geod

from .area import ellipsoid_of
from .errors import InputFileError, RasterError, brief, file_problem
from .grid import Grid

__all__ = ["ZoneLayerData", "grid_bounds", "read_zones", "zone_raster", "polygon_areas_ha"]


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
    warnings : list of str
        What the analyst should know about the layer (repaired polygons, zones off the grid).
    """

    name: str
    path: Path
    gdf: Any
    ids: list[Any]
    polygon_area_ha: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.gdf)


def polygon_areas_ha(gdf: Any) -> np.ndarray:
    """True area of each polygon on the ellipsoid of its CRS, ha (pyproj geodesic areas)."""
    crs = CRS.from_user_input(gdf.crs)
    ell = ellipsoid_of(crs)
    geo = gdf.to_crs(crs.geodetic_crs) if not crs.is_geographic else gdf
    geod = Geod(a=ell.semi_major_metre, b=ell.semi_minor_metre)
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) / 1e4 if g is not None else 0.0
                     for g in geo.geometry])


def grid_bounds(transform: Affine, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a grid of ``shape`` (rows, columns), in its CRS units
    (:attr:`gepgeo.grid.Grid.bounds`)."""
    return Grid(None, transform, shape).bounds


def read_zones(path: Path, *, grid_crs: Any, layer: str | None = None, id_field: str | None = None,
               name: str | None = None,
               grid_bounds: tuple[float, float, float, float] | None = None) -> ZoneLayerData:
    """Read a zone layer (GeoPackage, Shapefile, GeoJSON ...) and reproject it to ``grid_crs``.

    Invalid polygons (self-intersecting "bow ties", rings that touch themselves) are repaired
    with GEOS ``make_valid`` (their area was counted with opposite signs, e.g. 0 ha for a bow
    tie) and named in a warning. With ``grid_bounds`` (left, bottom, right, top in the grid's
    CRS), zones that do not overlap the grid are named in a warning (their rows are 0 ha).

    Raises
    ------
    InputFileError
        Missing or unreadable file, unknown layer, no features, no polygons, repeated zone ids.
    RasterError
        The layer has no CRS.
    """
    import geopandas as gpd

    where = f"zones: {str(path)!r}"
    if not path.exists():
        problem = file_problem(path)   # GDAL opens some folders (a .gdb): only say what is missing
        raise InputFileError(f"zones: file {str(path)!r} {problem or 'does not exist'}")
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several classes
        raise InputFileError(f"{where} cannot be read as a vector layer "
                             f"({str(exc).splitlines()[0]})") from None
    if len(gdf) == 0:
        raise InputFileError(f"{where} has no features")
    if gdf.crs is None:
        raise RasterError(f"{where} has no CRS; set one (e.g. ogr2ogr -a_srs)")
    kinds = set(gdf.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputFileError(f"{where} holds {', '.join(sorted(kinds))} features; "
                             "zones must be polygons")
    if id_field is not None:
        if id_field not in gdf.columns:
            raise InputFileError(f"{where} has no attribute {id_field!r} (attributes: "
                                 f"{', '.join(c for c in gdf.columns if c != 'geometry')})")
        ids = gdf[id_field].tolist()
        _check_unique_ids(ids, id_field, where)
    else:
        ids = list(range(len(gdf)))
    label = name or path.stem
    notes: list[str] = []
    gdf, note = _repair(gdf, ids, label)
    if note:
        notes.append(note)
    areas = polygon_areas_ha(gdf)
    gdf = gdf.to_crs(CRS.from_user_input(grid_crs))
    if grid_bounds is not None:
        note = _off_grid_note(gdf, ids, label, grid_bounds)
        if note:
            notes.append(note)
    return ZoneLayerData(label, path, gdf, ids, areas, notes)


def _check_unique_ids(ids: list[Any], id_field: str, where: str) -> None:
    """Refuse repeated zone ids: the tables are keyed by id, so two zones with one id would
    read as one (and a join on the id would double them)."""
    first: dict[Any, int] = {}
    for i, z in enumerate(ids):
        key = None if z is None or (isinstance(z, float) and np.isnan(z)) else z
        if key is None:
            raise InputFileError(f"{where}: feature {i} has no {id_field!r} (empty); every zone "
                                 "needs an id")
        if key in first:
            raise InputFileError(f"{where}: zone id {brief(z)} ({id_field!r}) is given to "
                                 f"features {first[key]} and {i}; zone ids must be unique (or "
                                 "leave out `id:` to number the features)")
        first[key] = i


def _repair(gdf: Any, ids: list[Any], label: str) -> tuple[Any, str | None]:
    """``gdf`` with invalid polygons made valid (their polygonal part), and a note naming them."""
    import shapely

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    present = np.array([g is not None and not g.is_empty for g in geoms])
    valid = np.ones(len(geoms), dtype=bool)
    valid[present] = shapely.is_valid(geoms[present])
    bad = np.flatnonzero(~valid)
    if bad.size == 0:
        return gdf, None
    reason = shapely.is_valid_reason(geoms[bad[0]])
    fixed = shapely.make_valid(geoms[bad])
    # make_valid may return lines or points besides the polygons (a collapsed spike): keep areas
    fixed = [_polygonal(g) for g in fixed]
    gdf = gdf.copy()
    gdf.loc[gdf.index[bad], gdf.geometry.name] = fixed
    shown = ", ".join(brief(ids[i]) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
    return gdf, (f"zones {label!r}: {bad.size} polygon(s) were not valid and were repaired "
                 f"(GEOS make_valid): zone id(s) {shown}; first problem: {reason}. Check them: "
                 "a self-intersecting polygon's area counts with opposite signs")


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a geometry (a GeometryCollection from ``make_valid``)."""
    from shapely.geometry import GeometryCollection, MultiPolygon, Polygon

    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    if isinstance(geom, GeometryCollection):
        parts: list[Any] = []
        for g in geom.geoms:
            if isinstance(g, Polygon):
                parts.append(g)
            elif isinstance(g, MultiPolygon):
                parts.extend(g.geoms)
        return MultiPolygon(parts) if parts else Polygon()
    return Polygon()


def _off_grid_note(gdf: Any, ids: list[Any], label: str,
                   grid_bounds: tuple[float, float, float, float]) -> str | None:
    """A note naming the zones that do not overlap the grid (or saying that none does)."""
    from shapely.geometry import box

    grid = box(*grid_bounds)
    inside = np.array([g is not None and not g.is_empty and g.intersects(grid)
                       for g in gdf.geometry])
    if inside.all():
        return None
    if not inside.any():
        return (f"zones {label!r}: no zone overlaps the land-use grid (layer bounds "
                f"{', '.join(f'{v:.6g}' for v in gdf.total_bounds)} vs grid "
                f"{', '.join(f'{v:.6g}' for v in grid_bounds)} in the grid's CRS); every zone "
                "is 0 ha. Check the layer's CRS and extent")
    out = np.flatnonzero(~inside)
    shown = ", ".join(brief(ids[i]) for i in out[:5]) + (", ..." if out.size > 5 else "")
    return (f"zones {label!r}: {out.size} of {len(inside)} zones do not overlap the land-use "
            f"grid and are 0 ha: zone id(s) {shown}")


def _burn(block: Grid, geoms: list[Any], bounds: np.ndarray) -> np.ndarray:
    """The zone indices of the pixels of ``block`` (a window of the grid), -1 outside every
    zone, from the features whose bounding box (``bounds``: rows of left, bottom, right, top)
    meets the block's."""
    from rasterio.features import rasterize

    x0, y0, x1, y1 = block.bounds
    hit = np.flatnonzero((bounds[:, 0] <= x1) & (bounds[:, 2] >= x0)
                         & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0))
    if hit.size == 0:
        return np.full(block.shape, -1, dtype=np.int32)
    shapes = [(geoms[i], int(i)) for i in hit]
    return rasterize(shapes, out_shape=block.shape, transform=block.transform, fill=-1,
                     dtype="int32", all_touched=False)


def zone_raster(zl: ZoneLayerData, transform: Affine, shape: tuple[int, int],
                chunks: tuple[tuple[int, ...], tuple[int, ...]]) -> da.Array:
    """Lazy int32 zone-index raster on the grid (``transform``, ``shape``), one rasterize call
    per block of ``chunks``."""
    geoms = list(zl.gdf.geometry)
    bounds = np.asarray(zl.gdf.geometry.bounds.values, dtype=np.float64)
    grid = Grid(None, transform, shape)

    def block(block_info=None):
        info = block_info[None]
        (r0, r1), (c0, c1) = info["array-location"]
        return _burn(grid.window(r0, c0, r1 - r0, c1 - c0), geoms, bounds)

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
        frames.append(pd.concat([front.reset_index(drop=True), tidy.reset_index(drop=True)],
                                axis=1))
    return pd.concat(frames, ignore_index=True)
