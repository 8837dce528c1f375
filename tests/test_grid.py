"""The grid object (gepgeo.grid.Grid): one rule for "the same grid", block transforms, areas,
and the nodata helpers every reader shares (gepgeo.nodata)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from gepgeo.area import grid_block_areas_ha, grid_row_areas_ha, row_areas_ha
from gepgeo.errors import AreaScaleWarning
from gepgeo.grid import SAME_GRID_TOLERANCE, Grid
from gepgeo.io import read_info
from gepgeo.nodata import nodata_list, nodata_mask, nodata_pair

from .conftest import write_tif

UTM = "EPSG:32648"
T = Affine(30.0, 0.0, 600000.0, 0.0, -30.0, 3000000.0)


def _grid(transform=T, crs=UTM, shape=(150, 130)):
    return Grid(rasterio.crs.CRS.from_user_input(crs), transform, shape)


# ---------------------------------------------------------------------------- same_as

@pytest.mark.parametrize("coef", range(6))
def test_same_as_tolerance_at_the_boundary_both_ways(coef):
    """Each coefficient may differ by just under 1e-9 (CRS units), not by 1e-9 or more."""
    base = Affine(1.0e-3, 0.0, 0.0, 0.0, -1.0e-3, 0.0)    # exact offsets from 0
    g = _grid(base, "EPSG:4326")

    def moved(delta):
        coefs = list(base)[:6]
        coefs[coef] += delta
        return dataclasses.replace(g, transform=Affine(*coefs))

    assert SAME_GRID_TOLERANCE == 1e-9
    for delta in (0.999e-9, -0.999e-9, 0.5e-9):
        assert g.same_as(moved(delta)) and moved(delta).same_as(g), delta
    # exactly 1e-9 apart only where the sum is exact (a coefficient of 0)
    for delta in ((1.0e-9, -1.0e-9) if base[coef] == 0 else ()) + (1.001e-9, -1.001e-9, 1e-5):
        assert not g.same_as(moved(delta)) and not moved(delta).same_as(g), delta


def test_same_as_needs_the_same_crs_and_shape():
    g = _grid()
    assert g.same_as(_grid())
    assert not g.same_as(_grid(crs="EPSG:32649"))
    assert not g.same_as(_grid(shape=(150, 131)))
    assert not g.same_as(dataclasses.replace(g, crs=None))


def test_io_and_compare_use_the_same_rule(tmp_path):
    """A pixel size 1e-6 m off the land-use grid's is another grid for a layer (io) and for
    the comparison's after scenario (which used to read it as is: affine's default 1e-5)."""
    from rasterio.enums import Resampling

    from gepgeo.compare import _open_aligned
    from gepgeo.io import open_aligned

    values = np.arange(150 * 130, dtype=np.float32).reshape(150, 130)
    ref = write_tif(tmp_path / "ref.tif", values, T)
    off = write_tif(tmp_path / "off.tif", values, Affine(30.0 + 1e-6, 0.0, 600000.0,
                                                          0.0, -30.0, 3000000.0))
    on = write_tif(tmp_path / "on.tif", values, Affine(30.0 + 1e-10, 0.0, 600000.0,
                                                        0.0, -30.0, 3000000.0))
    info = read_info(ref, what="ref")
    _, _, note = open_aligned(on, info, what="layer", resampling="nearest")
    assert note is None
    _, _, note = open_aligned(off, info, what="layer", resampling="nearest")
    assert note is not None and "another grid" in note
    with rasterio.open(ref) as r:
        reader, handle = _open_aligned(on, r, Resampling.nearest, None)
        assert reader is handle
        reader.close()
        reader, handle = _open_aligned(off, r, Resampling.nearest, None)
        assert reader is not handle
        reader.close()
        handle.close()


# ---------------------------------------------------------------------------- sub-grids

@pytest.mark.parametrize("transform", [
    T,
    Affine(0.000277777777778, 0.0, 103.123456789, 0.0, -0.000277777777778, 28.987654321),
    Affine(-10.0, 0.0, 500010.5, 0.0, 10.0, 2000000.25),           # east-left, south-up
])
@pytest.mark.parametrize("size", [64, (48, 80)])
def test_block_transform_equals_rasterio_window_transform(transform, size):
    """150 x 130 pixels in 64 x 64 (or 48 x 80) blocks: the edge blocks are partial."""
    g = _grid(transform, "EPSG:4326" if abs(transform.a) < 1 else UTM)
    bh, bw = (size, size) if isinstance(size, int) else size
    nbr, nbc = -(-150 // bh), -(-130 // bw)
    seen = 0
    for i in range(nbr):
        for j in range(nbc):
            b = g.block(i, j, size)
            win = Window(j * bw, i * bh, min(bw, 130 - j * bw), min(bh, 150 - i * bh))
            assert b.shape == (win.height, win.width)
            assert b.transform == window_transform(win, transform)      # bit for bit
            assert b.crs == g.crs
            seen += b.shape[0] * b.shape[1]
    assert seen == 150 * 130
    with pytest.raises(IndexError):
        g.block(nbr, 0, size)


def test_block_with_dask_chunks_and_a_rotated_grid():
    rot = Affine.rotation(12.5) @ Affine.scale(30.0, -30.0)
    g = _grid(Affine.translation(600000.0, 3000000.0) @ rot)
    chunks = ((64, 64, 22), (100, 30))
    b = g.block(2, 1, chunks)
    win = Window(100, 128, 30, 22)
    assert b.shape == (22, 30)
    assert b.transform.almost_equals(window_transform(win, g.transform), precision=1e-6)
    # the block's corners are the grid's pixel corners
    assert b.transform @ (0, 0) == pytest.approx(g.transform @ (100, 128), abs=1e-6)
    assert b.transform @ (30, 22) == pytest.approx(g.transform @ (130, 150), abs=1e-6)
    with pytest.raises(ValueError):
        g.block(0, 0, ((64, 64), (100, 30)))


def test_window_and_zone_burning_agree_with_a_whole_grid_burn():
    """zones._burn block by block gives the zone raster rasterize gives for the whole grid."""
    from rasterio.features import rasterize
    from shapely.geometry import box

    from gepgeo.zones import _burn

    g = _grid()
    left, bottom, right, top = g.bounds
    geoms = [box(left + 95, bottom + 40, left + 2000, top - 1000),
             box(left + 1500, bottom - 100, right + 10, bottom + 2500)]
    bounds = np.array([gm.bounds for gm in geoms])
    whole = rasterize([(gm, i) for i, gm in enumerate(geoms)], out_shape=g.shape,
                      transform=g.transform, fill=-1, dtype="int32")
    for i in range(3):
        for j in range(3):
            b = g.block(i, j, 64)
            r0, c0 = i * 64, j * 64
            got = _burn(b, geoms, bounds)
            assert np.array_equal(got, whole[r0:r0 + b.shape[0], c0:c0 + b.shape[1]])


# ---------------------------------------------------------------------------- geometry

def test_geographic_and_projected():
    geo = _grid(Affine(0.01, 0, 100.0, 0, -0.01, 30.0), "EPSG:4326", (50, 80))
    utm = _grid()
    assert geo.is_geographic and not utm.is_geographic
    assert not dataclasses.replace(utm, crs=None).is_geographic
    assert geo.resolution == pytest.approx((0.01, 0.01))
    assert utm.resolution == (30.0, 30.0)
    assert utm.bounds == (600000.0, 3000000.0 - 150 * 30, 600000.0 + 130 * 30, 3000000.0)
    assert geo.bounds == pytest.approx((100.0, 29.5, 100.8, 30.0))
    # bounds are ordered whatever the direction of the rows and columns
    flipped = _grid(Affine(-30.0, 0, 600000.0, 0, 30.0, 3000000.0))
    left, bottom, right, top = flipped.bounds
    assert left < right and bottom < top
    # per-row areas: true areas shrinking with latitude on a geographic grid, one planar area
    # on a projected one
    rows = grid_row_areas_ha(geo)
    assert rows.shape == (50,) and np.all(np.diff(rows) > 0)     # rows run southwards
    np.testing.assert_array_equal(rows, row_areas_ha(geo.transform, CRS.from_epsg(4326), (50, 80)))
    assert np.all(grid_row_areas_ha(utm) == 30 * 30 / 1e4)
    assert grid_row_areas_ha(utm, mode="ellipsoidal") is None
    assert grid_row_areas_ha(geo, mode="ellipsoidal") is not None
    block = grid_block_areas_ha(utm, slice(64, 128), slice(0, 64), None)
    assert block.shape == (64, 64) and np.all(np.abs(block / 0.09 - 1) < 0.01)
    assert grid_block_areas_ha(geo, slice(3, 5), slice(0, 7), rows).shape == (2, 7)


def _areas(grid):
    return grid_row_areas_ha(grid)


def _areas_legacy(grid):
    return row_areas_ha(grid.transform, grid.crs, grid.shape)


def test_areal_scale_warning_names_the_callers_caller_and_can_be_left_out():
    """As row_areas_ha's always did: the line that called the function that asked for areas
    (build_dataset's caller, say)."""
    merc = _grid(Affine(30.0, 0, 11_000_000.0, 0, -30.0, 3_400_000.0), "EPSG:3857", (100, 100))
    for fn in (_areas, _areas_legacy):
        with pytest.warns(AreaScaleWarning, match="areal scale") as rec:
            fn(merc)
        assert rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid_row_areas_ha(merc, check_scale=False)


def test_grid_of_files_datasets_and_arrays(tmp_path):
    path = write_tif(tmp_path / "a.tif", np.zeros((150, 130), np.uint8), T)
    g = Grid.from_file(path)
    assert g == _grid()
    assert g.shape == (150, 130) and g.transform == T and (g.height, g.width) == (150, 130)
    with rasterio.open(path) as ds:
        assert Grid.of(ds) == g
    assert Grid.of(read_info(path, what="x")) == g
    assert read_info(path, what="x").grid == g
    assert Grid.of(g) is g
    arr = xr.DataArray(np.zeros((150, 130)), dims=("y", "x"))
    arr = arr.rio.write_crs(UTM).rio.write_transform(T)
    ga = Grid.of(arr)
    assert ga.transform == T and ga.shape == (150, 130) and ga.same_as(g)
    assert Grid.of(arr.to_dataset(name="v")).shape == (150, 130)
    with pytest.raises(TypeError):
        Grid.of(object())
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.shape = (1, 1)   # type: ignore[misc]
    assert Grid(None, tuple(T)[:6], (np.int64(3), 4)).shape == (3, 4)
    with pytest.raises(ValueError):
        Grid(None, T, (3, -1))


def test_offset_in_finds_the_shared_pixel_lattice():
    g = _grid()
    bigger = Grid(g.crs, T @ Affine.translation(-3, -2), (160, 140))
    assert g.offset_in(bigger) == (2, 3)
    assert g.offset_in(Grid(g.crs, T @ Affine.translation(5, 7), (10, 10))) == (-7, -5)
    assert g.offset_in(Grid(g.crs, T @ Affine.translation(0.37, 0), (150, 130))) is None
    assert g.offset_in(_grid(Affine(30.001, 0, 600000.0, 0, -30.0, 3000000.0))) is None
    assert g.offset_in(_grid(crs="EPSG:32649")) is None
    rotated = Grid(g.crs, Affine.rotation(90) @ T, (150, 130))    # a == 0: no division
    assert g.offset_in(rotated) is None


# ---------------------------------------------------------------------------- nodata helpers

def test_nodata_pair_and_list():
    assert nodata_pair(None, None) == (None, ())
    assert nodata_pair(None, 5.0) == (5.0, ())
    assert nodata_pair(0.0, None) == (0.0, ())
    assert nodata_pair(0.0, 0.0) == (0.0, ())
    assert nodata_pair(0.0, 9.0) == (0.0, (9.0,))
    assert nodata_list(0.0, 9.0) == [0.0, 9.0]
    assert nodata_list(None, None) == []


def test_nodata_mask_compares_values_as_stored():
    f = np.array([np.nan, -3.4028234663852886e38, 2.0, 9.0, np.inf], dtype=np.float32)
    assert nodata_mask(f, [-3.4028235e38]).tolist() == [True, True, False, False, False]
    assert nodata_mask(f, [9, 1e300]).tolist() == [True, False, False, True, True]
    i = np.array([0, 2, 3, 255], dtype=np.uint8)
    assert nodata_mask(i, [2.5]).tolist() == [False] * 4        # int(2.5) is not nodata
    assert nodata_mask(i, [255.0, 0]).tolist() == [True, False, False, True]
    assert nodata_mask(i, [float("nan"), float("inf")]).tolist() == [False] * 4
