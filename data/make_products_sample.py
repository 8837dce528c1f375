"""Write the synthetic valley of ``make_natl_sample.py`` as the public products ship their data.

An analyst's downloads are not on the run's grid: each product has its own CRS, pixel size,
encoding and unit, and most carry no unit tags. This script samples the same made-up valley
(the closed formulas of ``make_natl_sample.py``, evaluated at each product's pixel centres) on
the grids and in the encodings of five public products, so that the path from such files to an
account (``data/prepare_landscape.py``, then ``pipelines/products_sample.yaml``) can be run and
tested without downloads. **Every value is synthetic**; only the formats follow the products:

===========================  ===================================================================
file                         format written (the product's CRS, pixel size and units)
===========================  ===================================================================
``worldcover_2021.tif``      ESA WorldCover 2021 v200: uint8 class codes (10 tree cover ... 90
                             herbaceous wetland), 0 = no data, EPSG:4326, 1/12 000 degree
``glo30_dem.tif``            Copernicus DEM GLO-30: float32 height, m, EPSG:4326, 1 arc second
``worldclim_prec_MM.tif``    WorldClim 2.1 monthly precipitation (30 arc seconds): one file a
                             month, int16 mm, -32768 = no data, EPSG:4326, 1/120 degree
``soilgrids_sand.tif``,      SoilGrids 2.0 (0-5 cm mean): int16 sand / silt / clay in g/kg and
``..._silt``, ``..._clay``,  organic carbon in dg/kg, -32768 = no data, Interrupted Goode
``soilgrids_soc.tif``        Homolosine, 250 m
``mod13q1_ndvi.tif``         MODIS MOD13Q1 NDVI: int16 NDVI x 10 000, -3000 = fill, MODIS
                             sinusoidal, 231.656 m (the MODIS tile lattice)
===========================  ===================================================================

None of the files carries a unit or scale tag: the pipeline states them, as it must for
downloads that carry none. The data types and nodata values are this script's choice where a
product's own were not checked. The land cover is the CLCD valley recoded to WorldCover
classes (CLCD 1 cropland → 40, 2 forest → 10, 3 shrub → 20, 4 grassland → 30, 5 water → 80,
7 barren → 60, 8 impervious → 50, 9 wetland → 90).

Usage::

    python data/make_products_sample.py --out out/products_sample/raw
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from rasterio.warp import transform_bounds

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_natl_sample as valley  # noqa: E402

SOURCE = ("synthetic valley of data/make_natl_sample.py written in a public product's format "
          "by data/make_products_sample.py; not a real place or measurement")

#: CLCD code → ESA WorldCover 2021 code (0 stays no data)
CLCD_TO_WORLDCOVER = {1: 40, 2: 10, 3: 20, 4: 30, 5: 80, 6: 70, 7: 60, 8: 50, 9: 90}

#: Interrupted Goode Homolosine, the CRS of SoilGrids 2.0's maps (ESRI:54052)
HOMOLOSINE = "+proj=igh +lon_0=0 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
#: the MODIS sinusoidal grid's CRS and its 250 m lattice (tile h00v00's upper left corner)
MODIS_SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_250M = 231.65635826395825
MODIS_ORIGIN = (-20015109.354, 10007554.677)

#: the valley's mean elevation on its own grid, m (the precipitation formula's reference)
Z_MEAN = float(valley.dem().mean())
#: margin around the valley each product covers, degrees (more than one WorldClim cell)
MARGIN_DEG = 0.02


@dataclass(frozen=True)
class ProductGrid:
    """A product's pixel lattice: CRS, pixel size and the lattice origin (units of the CRS)."""

    crs: str
    res: float
    origin: tuple[float, float] = (0.0, 0.0)


GRIDS = {
    "worldcover": ProductGrid("EPSG:4326", 1 / 12000, (-180.0, 90.0)),
    "glo30": ProductGrid("EPSG:4326", 1 / 3600, (-180.0, 90.0)),
    "worldclim": ProductGrid("EPSG:4326", 1 / 120, (-180.0, 90.0)),
    "soilgrids": ProductGrid(HOMOLOSINE, 250.0),
    "modis": ProductGrid(MODIS_SINUSOIDAL, MODIS_250M, MODIS_ORIGIN),
}


def valley_lonlat_bounds() -> tuple[float, float, float, float]:
    """The valley grid's bounds in longitude / latitude (west, south, east, north)."""
    west, north = valley.X0, valley.Y0
    east, south = west + valley.WIDTH * valley.PIXEL, north - valley.HEIGHT * valley.PIXEL
    return transform_bounds(CRS.from_epsg(valley.EPSG), "EPSG:4326", west, south, east, north,
                            densify_pts=21)


def lattice(grid: ProductGrid) -> tuple[Affine, int, int]:
    """Transform, width and height of the product's pixels covering the valley plus a margin."""
    w, s, e, n = valley_lonlat_bounds()
    w, s, e, n = transform_bounds("EPSG:4326", grid.crs, w - MARGIN_DEG, s - MARGIN_DEG,
                                  e + MARGIN_DEG, n + MARGIN_DEG, densify_pts=21)
    ox, oy = grid.origin
    col0 = int(np.floor((w - ox) / grid.res))
    col1 = int(np.ceil((e - ox) / grid.res))
    row0 = int(np.floor((oy - n) / grid.res))
    row1 = int(np.ceil((oy - s) / grid.res))
    transform = Affine(grid.res, 0.0, ox + col0 * grid.res, 0.0, -grid.res, oy - row0 * grid.res)
    return transform, col1 - col0, row1 - row0


def valley_xy(grid: ProductGrid, transform: Affine, width: int, height: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The product's pixel centres as the valley formulas' coordinates (metres east and north of
    the centre of the valley grid's SW pixel, in UTM 48N)."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    ex, ny = warp_transform(grid.crs, CRS.from_epsg(valley.EPSG), xs.ravel(), ys.ravel())
    x0 = valley.X0 + valley.PIXEL / 2
    y0 = valley.Y0 - valley.HEIGHT * valley.PIXEL + valley.PIXEL / 2
    return ((np.asarray(ex) - x0).reshape(rows.shape), (np.asarray(ny) - y0).reshape(rows.shape))


def _write(path: Path, bands: np.ndarray, grid: ProductGrid, transform: Affine, *,
           nodata: float | None, description: str) -> Path:
    data = bands if bands.ndim == 3 else bands[None]
    prof: dict[str, Any] = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
        "count": data.shape[0], "dtype": data.dtype.name, "crs": CRS.from_user_input(grid.crs),
        "transform": transform, "nodata": nodata, "compress": "deflate"}
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data)
        dst.set_band_description(1, description)
        dst.update_tags(source=SOURCE)
    return path


def write_products(out: Path) -> dict[str, Path]:
    """Write every file into ``out``; returns them by name (``prec_01`` ... ``prec_12`` for the
    twelve WorldClim months)."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    g = GRIDS["worldcover"]
    t, w, h = lattice(g)
    xy = valley_xy(g, t, w, h)
    clcd = valley.land_cover(valley.dem(xy), xy)
    lut = np.zeros(256, dtype=np.uint8)
    for c, wc in CLCD_TO_WORLDCOVER.items():
        lut[c] = wc
    paths["land_cover"] = _write(out / "worldcover_2021.tif", lut[clcd], g, t, nodata=0,
                                 description="ESA WorldCover 2021 class (synthetic)")

    g = GRIDS["glo30"]
    t, w, h = lattice(g)
    z = valley.dem(valley_xy(g, t, w, h)).astype(np.float32)
    paths["dem"] = _write(out / "glo30_dem.tif", z, g, t, nodata=None,
                          description="height, m (synthetic)")

    g = GRIDS["worldclim"]
    t, w, h = lattice(g)
    xy = valley_xy(g, t, w, h)
    prec = valley.precipitation(valley.dem(xy), xy, z_mean=Z_MEAN)
    for m in range(12):
        paths[f"prec_{m + 1:02d}"] = _write(
            out / f"worldclim_prec_{m + 1:02d}.tif", prec[m], g, t, nodata=-32768,
            description=f"precipitation, mm, month {m + 1} (synthetic)")

    g = GRIDS["soilgrids"]
    t, w, h = lattice(g)
    xy = valley_xy(g, t, w, h)
    sand, silt, clay = valley.texture(xy)
    soc = valley.organic_carbon(valley.land_cover(valley.dem(xy), xy), xy)   # 0.1 %
    for name, pct in (("sand", sand), ("silt", silt), ("clay", clay)):
        paths[name] = _write(out / f"soilgrids_{name}.tif", pct.astype(np.int16) * 10, g, t,
                             nodata=-32768, description=f"{name}, g/kg (synthetic)")
    # 0.1 % = 1 g/kg = 10 dg/kg
    paths["soc"] = _write(out / "soilgrids_soc.tif", soc.astype(np.int16) * 10, g, t,
                          nodata=-32768, description="soil organic carbon, dg/kg (synthetic)")

    g = GRIDS["modis"]
    t, w, h = lattice(g)
    xy = valley_xy(g, t, w, h)
    nd = valley.ndvi(valley.land_cover(valley.dem(xy), xy), xy)
    paths["ndvi"] = _write(out / "mod13q1_ndvi.tif", nd, g, t, nodata=valley.NDVI_NODATA,
                           description="NDVI x 10000 (synthetic)")
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    paths = write_products(args.out)
    for name, p in paths.items():
        with rasterio.open(p) as src:
            print(f"{name:10s} {p.name:28s} {src.crs.to_string()[:40]:40s} "
                  f"{src.width} x {src.height}")
    w, s, e, n = valley_lonlat_bounds()
    print(f"the valley: --bbox {w:.5f} {s:.5f} {e:.5f} {n:.5f}")


if __name__ == "__main__":
    main()
