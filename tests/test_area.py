"""Pixel areas against independently known values."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS, Geod

from gepgeo.area import areal_scale, geographic_row_area_ha, planar_pixel_area_ha, row_areas_ha
from gepgeo.errors import AreaScaleWarning


def test_projected_metres():
    area = planar_pixel_area_ha(Affine(30, 0, 0, 0, -30, 0), CRS.from_epsg(32648))
    assert area == pytest.approx(0.09)


def test_projected_us_feet():
    # NAD83 / California zone 3 (ftUS): a 100 ft pixel is (100 * 1200/3937 m)^2
    crs = CRS.from_epsg(2227)
    want = (100 * 1200 / 3937) ** 2 / 1e4
    area = planar_pixel_area_ha(Affine(100, 0, 0, 0, -100, 0), crs)
    assert area == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("lat", [0.0, 60.0, -45.0, 89.0])
def test_geographic_cells_match_geodesic_areas(lat):
    # a 0.5-degree cell: pyproj's geodesic polygon differs from the parallel-bounded cell by
    # well under 1e-5 at this size
    t = Affine(0.5, 0, 10.0, 0, -0.5, lat + 0.5)
    got = geographic_row_area_ha(t, CRS.from_epsg(4326), 1)[0]
    geod = Geod(ellps="WGS84")
    a, _ = geod.polygon_area_perimeter([10, 10.5, 10.5, 10], [lat + 0.5, lat + 0.5, lat, lat])
    assert got == pytest.approx(abs(a) / 1e4, rel=2e-5)


def test_equator_and_sixty_north_ratio():
    # one arc-second cells at the equator and at 60° N
    res = 1 / 3600
    eq = geographic_row_area_ha(Affine(res, 0, 0, 0, -res, res / 2), CRS.from_epsg(4326), 1)[0]
    n60 = geographic_row_area_ha(Affine(res, 0, 0, 0, -res, 60 + res / 2), CRS.from_epsg(4326),
                                 1)[0]
    # at the equator: width a·Δλ, height M(0)·Δφ with the meridional radius M(0) = a (1 − e²)
    a, e2 = 6378137.0, 0.00669437999014
    d = np.radians(res)
    assert eq == pytest.approx(a * d * a * (1 - e2) * d / 1e4, rel=1e-7)  # ≈ 30.92 m × 30.72 m
    # area element ∝ cos φ / (1 − e² sin² φ)²: 0.5 at 60° N times the ellipsoid's correction
    assert n60 / eq == pytest.approx(0.5 / (1 - e2 * 0.75) ** 2, rel=1e-6)


def test_web_mercator_warns():
    t = Affine(10, 0, 11_800_000, 0, -10, 3_150_000)  # about 106 E, 27 N
    assert areal_scale(t, CRS.from_epsg(3857), (100, 100)) == pytest.approx(1.27, rel=0.02)
    with pytest.warns(AreaScaleWarning):
        row_areas_ha(t, CRS.from_epsg(3857), (100, 100))


def test_utm_near_central_meridian_does_not_warn(recwarn):
    t = Affine(10, 0, 635090, 0, -10, 3018740)
    rows = row_areas_ha(t, CRS.from_epsg(32648), (5, 5))
    assert np.allclose(rows, 0.01)
    assert not [w for w in recwarn if issubclass(w.category, AreaScaleWarning)]


def test_a_crs_without_an_ellipsoid_is_a_clear_error():
    """True areas need an ellipsoid; a local engineering CRS has none: one clear line."""
    from pyproj import CRS

    from gepgeo.area import ellipsoid_of
    from gepgeo.errors import RasterError

    local = CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],'
                         'AXIS["Northing",NORTH]]')
    with pytest.raises(RasterError, match="site grid.*has no ellipsoid"):
        ellipsoid_of(local)
    assert ellipsoid_of(CRS.from_epsg(4326)).semi_major_metre == 6378137.0
