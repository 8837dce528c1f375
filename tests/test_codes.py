"""``gepgeo codes``: a land-use raster's codes with pixels, hectares and share, streamed."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import Geod

from gepgeo.codes import count_codes

from .helpers import read_yaml, run_cli, write_tif


def test_counts_on_a_multi_block_grid_equal_numpy(tmp_path):
    rng = np.random.default_rng(3)
    lu = rng.choice(np.array([0, 11, 21, 42, 90], dtype=np.uint8), size=(1100, 1300),
                    p=[0.1, 0.3, 0.3, 0.2, 0.1])
    t = Affine(30.0, 0, 500_000, 0, -30.0, 4_000_000)
    path = write_tif(tmp_path / "lu.tif", lu, t, "EPSG:5070", nodata=0, block=256)  # CONUS Albers
    table = count_codes(path)
    vals, cnt = np.unique(lu[lu != 0], return_counts=True)
    assert [c.code for c in table.codes] == vals.tolist()
    assert [c.pixels for c in table.codes] == cnt.tolist()
    assert table.nodata_pixels == int((lu == 0).sum())
    for c, n in zip(table.codes, cnt):
        assert c.area_ha == pytest.approx(n * 0.09, rel=1e-12)
    assert sum(c.share for c in table.codes) == pytest.approx(1.0, rel=1e-12)


def test_float_geographic_raster_with_arcgis_nodata_and_extra_nodata(tmp_path):
    """Float codes, ±3.4028235e38 nodata, NaN pixels, an extra --nodata, true row areas."""
    nd = float(np.finfo(np.float32).min)
    lu = np.full((600, 700), 3.0, dtype=np.float32)
    lu[:, 300:] = 7.0
    lu[100:150, :] = nd
    lu[0, :10] = np.nan
    lu[500:, 650:] = 255.0
    t = Affine(0.001, 0, 100.0, 0, -0.001, 40.0)
    path = write_tif(tmp_path / "lu.tif", lu, t, "EPSG:4326", nodata=nd, block=256)
    table = count_codes(path, nodata=255)
    assert [c.code for c in table.codes] == [3.0, 7.0]
    assert table.nodata_pixels == 50 * 700 + 10 + 100 * 50
    geod = Geod(ellps="WGS84")
    want = {3.0: 0.0, 7.0: 0.0}
    for r in range(600):
        lat1, lat0 = 40.0 - 0.001 * r, 40.0 - 0.001 * (r + 1)
        a_m2, _ = geod.polygon_area_perimeter([100, 100.001, 100.001, 100],
                                              [lat0, lat0, lat1, lat1])
        row = lu[r].astype(np.float64)
        for code in want:
            want[code] += abs(a_m2) / 1e4 * np.count_nonzero(row == code)
    for c in table.codes:
        assert c.area_ha == pytest.approx(want[c.code], rel=1e-6)


def test_cli_prints_table_and_writes_a_codes_block_that_loads(tmp_path, capsys):
    lu = np.array([[1, 1, 2], [5, 0, 2]], dtype=np.int16)
    path = write_tif(tmp_path / "lu.tif", lu, Affine(10, 0, 0, 0, -10, 0), nodata=0)
    rc, out, err = run_cli(["codes", path, "--write", tmp_path / "codes.yaml"], capsys)
    assert rc == 0, err
    assert "3 codes, 5 valid pixels" in out
    block = read_yaml(tmp_path / "codes.yaml")
    assert block["land_use"]["codes"] == {1: "code_1", 2: "code_2", 5: "code_5"}
    assert block["land_use"]["path"] == str(path)


def test_cli_refuses_non_integral_codes(tmp_path, capsys):
    lu = np.array([[1.0, 2.7], [2.0, 1.0]], dtype=np.float32)
    path = write_tif(tmp_path / "lu.tif", lu, Affine(10, 0, 0, 0, -10, 0))
    rc, _, err = run_cli(["codes", path], capsys)
    assert rc == 2
    assert "2.7" in err and "not whole numbers" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_refuses_a_continuous_raster(tmp_path, capsys):
    dem = np.random.default_rng(0).random((200, 200)).astype(np.float32)
    path = write_tif(tmp_path / "dem.tif", dem, Affine(10, 0, 0, 0, -10, 0))
    rc, _, err = run_cli(["codes", path], capsys)
    assert rc == 2 and "distinct values" in err


def test_nodata_is_matched_as_the_raster_stores_it(tmp_path):
    """A float land use whose nodata (given on the command line) is not a round number: its
    pixels hold float32(-9999.9), which a float64 comparison with -9999.9 missed (they were
    listed as a code). The run compares in the raster's type; so does `gepgeo codes`."""
    lu = np.array([[1, 2, -9999.9], [2, -9999.9, 1]], dtype=np.float32)
    path = tmp_path / "lu.tif"
    write_tif(path, lu, Affine(30, 0, 500_000, 0, -30, 3_000_000))
    table = count_codes(path, nodata=-9999.9)
    assert table.nodata_pixels == 2
    assert sorted(c.code for c in table.codes) == [1, 2]
