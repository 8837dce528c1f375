"""Put a land-cover product and a DEM onto one projected grid, the grid of a gepgeo run.

Land-cover products and DEMs are often distributed in longitude / latitude (ESA WorldCover,
Copernicus DEM GLO-30, SRTM: EPSG:4326). gepgeo's run grid is the land cover's, and LS from a
DEM needs slopes and slope lengths in metres: it refuses a geographic DEM or land-use grid. This
script writes both onto one grid of square pixels in a projected CRS:

- the grid covers ``--bbox`` (west south east north, degrees; default: the land cover's
  extent), with ``--res`` metre pixels (default 30) whose edges are multiples of ``--res``, in
  ``--crs`` (default: the WGS 84 UTM zone of the box's centre);
- ``land_cover.tif``: nearest neighbour (a code stays a code), the source's nodata (or
  ``--nodata``, default 0) where the source has none or nothing;
- ``dem.tif``: bilinear, float32, nodata -9999 where the source has none;
- ``prepared.json``: each source's path, size and SHA-256, and the grid.

The other inputs (monthly precipitation, soil texture and carbon, NDVI) stay as they were
downloaded: a run aligns each to the land-cover grid itself (``resampling:``, default bilinear)
and records it in its manifest.

Usage::

    python data/prepare_landscape.py --land-cover worldcover.tif --dem glo30_dem.tif \\
        --bbox 105.404 27.284 105.438 27.309 --out out/products_sample/prepared
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

DEM_NODATA = -9999.0


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone containing (lon, lat) (zones of 6 degrees from 180° W;
    the Norway and Svalbard exceptions are not applied)."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise ValueError(f"({lon}, {lat}) is outside the UTM zones (80° S to 84° N)")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def target_grid(bbox: tuple[float, float, float, float], crs: CRS, res: float
                ) -> tuple[Affine, int, int]:
    """Transform, width and height of the grid of ``res`` pixels (edges at multiples of
    ``res``) covering the lon/lat box ``bbox`` once projected to ``crs``."""
    if res <= 0:
        raise ValueError(f"--res must be > 0 (got {res})")
    w, s, e, n = transform_bounds("EPSG:4326", crs, *bbox, densify_pts=21)
    left, right = math.floor(w / res) * res, math.ceil(e / res) * res
    bottom, top = math.floor(s / res) * res, math.ceil(n / res) * res
    return (Affine(res, 0.0, left, 0.0, -res, top), round((right - left) / res),
            round((top - bottom) / res))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reproject_file(src_path: Path, dst_path: Path, crs: CRS, transform: Affine, width: int,
                    height: int, *, resampling: Resampling, dtype: str, nodata: float) -> None:
    with rasterio.open(src_path) as src:
        src_nodata = src.nodata if src.nodata is not None else nodata
        out = np.full((src.count, height, width), nodata, dtype=dtype)
        for b in range(src.count):
            reproject(rasterio.band(src, b + 1), out[b], src_nodata=src_nodata,
                      dst_transform=transform, dst_crs=crs, dst_nodata=nodata,
                      resampling=resampling)
        prof: dict[str, Any] = {
            "driver": "GTiff", "width": width, "height": height, "count": src.count,
            "dtype": dtype, "crs": crs, "transform": transform, "nodata": nodata,
            "compress": "deflate"}
        tmp = dst_path.with_name(dst_path.name + ".part")
        with rasterio.open(tmp, "w", **prof) as dst:
            dst.write(out)
            dst.update_tags(**src.tags())
            for b in range(src.count):
                if src.descriptions[b]:
                    dst.set_band_description(b + 1, src.descriptions[b])
            if any(src.units):
                dst.units = src.units
        tmp.replace(dst_path)


def prepare(land_cover: Path, dem: Path, out: Path, *,
            bbox: tuple[float, float, float, float] | None = None, crs: str | None = None,
            res: float = 30.0, nodata: int = 0) -> dict[str, Any]:
    """Write ``land_cover.tif``, ``dem.tif`` and ``prepared.json`` into ``out``; returns the
    record written to ``prepared.json``."""
    with rasterio.open(land_cover) as src:
        if bbox is None:
            bbox = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
        lc_dtype, lc_nodata = src.dtypes[0], src.nodata
    if not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise ValueError(f"--bbox must be west south east north (got {bbox})")
    dst_crs = CRS.from_user_input(crs) if crs else CRS.from_epsg(
        utm_epsg((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2))
    if not dst_crs.is_projected:
        raise ValueError(f"--crs {crs} is not a projected CRS")
    transform, width, height = target_grid(bbox, dst_crs, res)
    out.mkdir(parents=True, exist_ok=True)
    lc_fill = lc_nodata if lc_nodata is not None else nodata
    _reproject_file(land_cover, out / "land_cover.tif", dst_crs, transform, width, height,
                    resampling=Resampling.nearest, dtype=lc_dtype, nodata=lc_fill)
    _reproject_file(dem, out / "dem.tif", dst_crs, transform, width, height,
                    resampling=Resampling.bilinear, dtype="float32", nodata=DEM_NODATA)
    record = {
        "grid": {"crs": dst_crs.to_string(), "transform": list(transform)[:6],
                 "width": width, "height": height, "res_m": res, "bbox_lonlat": list(bbox)},
        "land_cover": {"source": str(land_cover), "bytes": land_cover.stat().st_size,
                       "sha256": _sha256(land_cover), "resampling": "nearest",
                       "nodata": lc_fill},
        "dem": {"source": str(dem), "bytes": dem.stat().st_size, "sha256": _sha256(dem),
                "resampling": "bilinear", "nodata": DEM_NODATA},
    }
    tmp = out / "prepared.json.part"
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / "prepared.json")
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--land-cover", type=Path, required=True)
    parser.add_argument("--dem", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bbox", type=float, nargs=4, metavar=("WEST", "SOUTH", "EAST", "NORTH"))
    parser.add_argument("--crs", help="a projected CRS (default: the UTM zone of the centre)")
    parser.add_argument("--res", type=float, default=30.0, help="pixel size, m (default 30)")
    parser.add_argument("--nodata", type=int, default=0,
                        help="land-cover nodata when the source declares none (default 0)")
    args = parser.parse_args(argv)
    try:
        rec = prepare(args.land_cover, args.dem, args.out,
                      bbox=tuple(args.bbox) if args.bbox else None, crs=args.crs, res=args.res,
                      nodata=args.nodata)
    except (ValueError, rasterio.errors.RasterioError) as exc:
        parser.exit(2, f"prepare_landscape: {exc}\n")
    g = rec["grid"]
    print(f"wrote land_cover.tif and dem.tif to {args.out}: {g['height']} x {g['width']} "
          f"pixels of {g['res_m']:g} m in {g['crs']}")


if __name__ == "__main__":
    main()
