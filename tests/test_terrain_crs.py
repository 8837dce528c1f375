"""Distances and elevations in metres, whatever the DEM's CRS says (issue 22: never a silent
slope in the wrong units): a compound CRS's vertical unit is used, a z-factor that contradicts
it is refused, and a projection that stretches distances by more than 2 % on the grid (Web
Mercator) is refused, by ``gepgeo terrain`` and by ``from_dem`` in a run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from .helpers import read_band, run_cli, write_tif, write_yaml

US_FT = 1200 / 3937                           # metres per US survey foot
T_UTM = Affine(30, 0, 500000, 0, -30, 4000000)
UTM_FT = "EPSG:32610+6360"                    # UTM 10N (m) + NAVD88 height (ftUS)
UTM_M = "EPSG:32610+5703"                     # UTM 10N (m) + NAVD88 height (m)
#: every soil parameter but LS, so that LS is the only problem of the pipeline
SOIL = {
    "rainfall_erosivity_r": 5000.0, "soil_erodibility_k": 0.03, "cover_management_c": 0.2,
    "support_practice_p": 1.0, "lambda_over_rho": 0.2, "dredging_cost": 10.0,
    "soil_n_content": 1.0, "soil_p_content": 0.5, "n_to_fertilizer_factor": 1.0,
    "p_to_fertilizer_factor": 1.0, "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0,
}


def _plane(path, crs: str, degrees: float, *, metres_per_unit: float = 1.0,
           transform: Affine = T_UTM):
    """A plane falling southwards at ``degrees``, stored in units of ``metres_per_unit``."""
    rows, cols = 24, 12
    z_m = 1000 - np.arange(rows)[:, None] * 30 * math.tan(math.radians(degrees)) * np.ones(cols)
    return write_tif(path, z_m / metres_per_unit, transform, crs=crs)


@pytest.mark.parametrize("crs, unit", [(UTM_FT, US_FT), (UTM_M, 1.0)])
def test_the_vertical_unit_of_a_compound_crs_is_used(tmp_path, capsys, crs, unit):
    """Heights in US feet under a UTM (metre) grid: the slope is the true 8°, not 24.7°."""
    dem = _plane(tmp_path / "dem.tif", crs, 8.0, metres_per_unit=unit)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "t"], capsys)
    assert code == 0, err
    slope = read_band(tmp_path / "t" / "slope_deg.tif")
    inner = slope[1:-2, 1:-1]                 # away from the edges, which have no downslope
    np.testing.assert_allclose(inner, 8.0, rtol=1e-5)


def test_a_z_factor_that_contradicts_the_crs_is_refused(tmp_path, capsys):
    dem = _plane(tmp_path / "dem.tif", UTM_FT, 8.0, metres_per_unit=US_FT)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "t", "--z-factor", "3"],
                           capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "z_factor" in err and "vertical" in err
    assert not (tmp_path / "t").exists()
    # a z-factor that agrees with the CRS (metres per foot, the horizontal unit being metres)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "t2", "--z-factor",
                            repr(US_FT)], capsys)
    assert code == 0, err


def test_web_mercator_is_refused(tmp_path, capsys):
    """EPSG:3857 at 27° N stretches distances by 12 %: slopes would be 12 % off."""
    dem = _plane(tmp_path / "dem.tif", "EPSG:3857", 8.0,
                 transform=Affine(30, 0, 11800000, 0, -30, 3100000))
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "t"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "stretches distances" in err and "12" in err and "reproject" in err
    assert not (tmp_path / "t").exists()


def test_web_mercator_land_use_is_refused_for_from_dem(tmp_path, capsys):
    t = Affine(30, 0, 11800000, 0, -30, 3100000)
    write_tif(tmp_path / "lu.tif", np.ones((24, 12), dtype=np.uint8), t, crs="EPSG:3857",
              nodata=0)
    _plane(tmp_path / "dem.tif", "EPSG:3857", 8.0, transform=t)
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "forest"}}, "services": ["soil"],
           "parameters": {**SOIL, "slope_length_steepness_ls": {"from_dem": {"path": "dem.tif"}}}}
    p = write_yaml(tmp_path / "p.yaml", doc)
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "land-use grid" in err and "stretches distances" in err


def test_scale_error_of_common_projections():
    """UTM within 0.1 %; China Albers (25°/47°) 1.8 % at 36° N; Web Mercator 12 % at 27° N."""
    from gepgeo.terrain.dem import scale_error

    small = (100, 100)
    assert scale_error("EPSG:32648", Affine(30, 0, 500000, 0, -30, 3000000), small) < 1e-3
    albers = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +datum=WGS84 +units=m"
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", albers, always_xy=True).transform(105.0, 36.0)
    err = scale_error(albers, Affine(30, 0, x, 0, -30, y), small)
    assert 0.015 < err < 0.02
    assert 0.11 < scale_error("EPSG:3857", Affine(30, 0, 11800000, 0, -30, 3100000), small) < 0.13
