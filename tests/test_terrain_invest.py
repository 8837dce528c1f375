"""The ``invest`` LS method: InVEST 3.14's SDR formula on gepgeo's tiled D8 accumulation
(docs/METHOD.md § 8.6).

* pygeoprocessing's slope stencil (with its rules for missing neighbours) equals a vectorised
  reference written separately (:func:`tests.terrain_oracle.horn_percent_reference`);
* LS equals a reference evaluating InVEST's formula literally in 50-digit decimals, for several
  tile sizes, with the cap on L reached on some cells;
* the command and a pipeline ``from_dem: {method: invest}``; what the method refuses.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from gepgeo.terrain.invest import horn_slope_percent, invest_array

from .helpers import read_band, run_cli, write_tif, write_yaml
from .terrain_oracle import horn_percent_reference, invest_reference
from .test_terrain import fractal, holes, tilted, with_flats, with_pits


def _dems() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    shape = (29, 33)
    full = np.ones(shape, dtype=bool)
    return [("fractal", fractal(rng, shape) * 3.0, full),
            ("tilted with holes", tilted(rng, shape), holes(rng, shape)),
            ("flats and pits", with_pits(rng, with_flats(fractal(rng, shape))), holes(rng, shape))]


DEMS = _dems()


@pytest.mark.parametrize("case", range(len(DEMS)))
def test_slope_stencil_equals_reference(case: int) -> None:
    name, z, valid = DEMS[case]
    got = horn_slope_percent(z, valid, 30.0, 30.0)
    want = horn_percent_reference(z, valid, 30.0)
    assert np.array_equal(np.isnan(got), ~valid), name
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", range(len(DEMS)))
def test_ls_equals_reference(case: int) -> None:
    name, z, valid = DEMS[case]
    free = invest_array(z, 10.0, l_max=1e9, valid=valid)
    ls, deg = free["slope_length_steepness_ls"], np.radians(free["slope_deg"])
    s_free = np.where(np.tan(deg) * 100 < 9, 10.8 * np.sin(deg) + 0.03, 16.8 * np.sin(deg) - 0.5)
    l_max = float(np.nanmedian(ls / s_free))     # half the cells above the cap
    want = invest_reference(z, valid, 10.0, l_max)
    capped = 0
    for block in (None, 4, 11):
        got = invest_array(z, 10.0, l_max=l_max, valid=valid, block=block)
        for key, ref in want.items():
            g = got[key]
            assert np.array_equal(np.isnan(g), np.isnan(ref)), f"{name} {block}: {key}"
            ok = ~np.isnan(ref)
            np.testing.assert_allclose(g[ok], ref[ok], rtol=1e-11, atol=1e-12,
                                       err_msg=f"{name}, block {block}: {key}")
        s = np.where(np.tan(np.radians(got["slope_deg"])) * 100 < 9,
                     10.8 * np.sin(np.radians(got["slope_deg"])) + 0.03,
                     16.8 * np.sin(np.radians(got["slope_deg"])) - 0.5)
        capped += int(np.sum(np.isclose(got["slope_length_steepness_ls"], l_max * s)))
    assert capped > 3 * valid.sum() // 4    # the cap on L reached on many cells, thrice


def test_the_units_of_invest_differ_from_desmet_govers() -> None:
    """On a plane the two methods share slope and area but not L: InVEST adds √A (m) to the
    cell area (m²) and takes x from the slope; the flow reaching a row grows its L more slowly."""
    from gepgeo.terrain.accumulation import contributing_area_array

    z = np.tile(np.arange(40, 0, -1, dtype=float)[:, None] * 3.0, (1, 9))   # 10 % south
    inv = invest_array(z, 30.0, l_max=1e9)
    dg = contributing_area_array(z, 30.0)
    np.testing.assert_array_equal(inv["contributing_area_m2"], dg["contributing_area_m2"])
    assert inv["slope_length_steepness_ls"][30, 4] < dg["slope_length_steepness_ls"][30, 4]


T = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def _dem(tmp_path, transform=T):
    z = (fractal(np.random.default_rng(5), (70, 90)) * 3.0).astype(np.float32)
    return write_tif(tmp_path / "dem.tif", z, transform, nodata=-9999.0), z


def test_cli(tmp_path, capsys) -> None:
    dem, z = _dem(tmp_path)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--method", "invest",
                            "--l-max", "3", "--block", "16"], capsys)
    assert code == 0, err
    want = invest_array(z.astype(np.float64), 30.0, l_max=3.0, block=16, dtype=np.float32)
    for name in ("slope_length_steepness_ls", "slope_deg", "contributing_area_m2"):
        with rasterio.open(tmp_path / "o" / f"{name}.tif") as ds:
            assert ds.tags()["l_max"] == "3.0"
            np.testing.assert_array_equal(ds.read(1), want[name])


@pytest.mark.parametrize("args,words", [
    ([], ["--l-max", "InVEST"]),
    (["--l-max", "3", "--m-table", "wischmeier_smith"], ["--m-table", "invest"]),
    (["--l-max", "3", "--max-slope-length", "100"], ["--max-slope-length", "invest"]),
    (["--l-max", "-1"], ["--l-max", "positive"]),
])
def test_cli_refusals(tmp_path, capsys, args, words) -> None:
    dem, _ = _dem(tmp_path)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--method", "invest",
                            *args], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert all(w in err for w in words), err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_non_square_cells(tmp_path, capsys) -> None:
    dem, _ = _dem(tmp_path, Affine(30.0, 0.0, 500000.0, 0.0, -25.0, 3000000.0))
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--method", "invest",
                            "--l-max", "3"], capsys)
    assert code == 2 and "square" in err, err
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o2", "--l-max", "3"], capsys)
    assert code == 2 and "--l-max" in err and "flowpath" in err, err


def test_pipeline_from_dem_invest(tmp_path, capsys) -> None:
    from .test_terrain_accumulation import SOIL

    _dem(tmp_path)
    codes = np.random.default_rng(1).integers(1, 3, size=(70, 90)).astype(np.uint8)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    code, _, err = run_cli(["terrain", tmp_path / "dem.tif", "--out", tmp_path / "t",
                            "--method", "invest", "--l-max", "4", "--block", "64",
                            "--quiet"], capsys)
    assert code == 0, err
    ls = "slope_length_steepness_ls"

    def pipeline(name, spec):  # type: ignore[no-untyped-def]
        doc = {"land_use": {"path": "lu.tif", "codes": {1: "forest", 2: "cropland"}},
               "services": ["soil"], "parameters": {**SOIL, ls: spec},
               "maps": ["soil_retention"], "options": {"chunk_size": 64, "report": False}}
        return write_yaml(tmp_path / name, doc)

    p = pipeline("inv.yaml", {"from_dem": {"path": "dem.tif", "method": "invest", "l_max": 4}})
    ref = pipeline("ref.yaml", {"path": f"t/{ls}.tif"})
    for pipe, out in ((p, "out_inv"), (ref, "out_ref")):
        code, _, err = run_cli(["run", pipe, "--out", tmp_path / out, "--quiet"], capsys)
        assert code == 0, err
    np.testing.assert_array_equal(read_band(tmp_path / "out_inv/maps/soil_retention.tif"),
                                  read_band(tmp_path / "out_ref/maps/soil_retention.tif"))
    bad = pipeline("bad.yaml", {"from_dem": {"path": "dem.tif", "method": "invest"}})
    code, _, err = run_cli(["validate", bad], capsys)
    assert code == 2 and "l_max" in err, err
