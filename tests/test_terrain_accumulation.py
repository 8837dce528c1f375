"""The ``contributing_area`` LS method (Desmet & Govers 1996; docs/METHOD.md § 8.5).

* the numba fast path equals a plain reference written separately from it
  (:func:`tests.terrain_oracle.contributing_area_reference`) on random DEMs;
* closed forms on uniform inclined planes (the upslope area grows linearly downslope);
* the upstream cell counts equal pyflwdir's accumulation over the same D8 directions;
* the tiled accumulation (Barnes 2017) equals the whole-array computation for every block size,
  with flow paths crossing many blocks;
* the command (``gepgeo terrain --method contributing_area``), a pipeline with
  ``from_dem: {method: contributing_area}``, the refused options, and grids over the
  whole-array function's size limit.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import rasterio
from affine import Affine

from gepgeo.errors import TerrainError
from gepgeo.terrain.accumulation import (MAX_IN_MEMORY_PIXELS, check_size,
                                         contributing_area_array, inflow_sum)
from gepgeo.terrain.flowpath import d8_slope

from .helpers import read_band, read_manifest, run_cli, write_tif, write_yaml
from .terrain_oracle import contributing_area_reference, d8_reference
from .test_terrain import REFERENCE_S_BREAKS, fractal, holes, random_walk, tilted, with_flats
from .test_terrain import with_pits

D2R = math.pi / 180.0


def _dems() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2024)
    out = []
    for shape in ((23, 37), (41, 19), (31, 29)):
        full = np.ones(shape, dtype=bool)
        out.append((f"fractal {shape}", fractal(rng, shape), full))
        out.append((f"random walk {shape}", random_walk(rng, shape), full))
        out.append((f"tilted {shape}", tilted(rng, shape), full))
        out.append((f"flats {shape}", with_flats(fractal(rng, shape)), full))
        out.append((f"pits {shape}", with_pits(rng, random_walk(rng, shape)), full))
        out.append((f"holes {shape}", with_pits(rng, fractal(rng, shape)), holes(rng, shape)))
        out.append((f"flat holes {shape}", with_flats(tilted(rng, shape)), holes(rng, shape)))
    return out


DEMS = _dems()
CASES = [  # (min slope, m table, S breaks, dx, dy)
    (0.1, "mccool", "5deg/10deg", 10.0, 10.0),
    (0.1, "wischmeier_smith", "9%/18%", 30.0, 30.0),
    (0.05, "van_remortel", "5deg/14deg", 7.5, 9.0),
    (0.2, "mccool", "9%/18%", 12.0, 5.0),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fast_path_equals_reference(case: int) -> None:
    # every kind of relief in every case, on one of the three shapes per case (the reference's
    # 50-digit L made all 21 DEMs x 4 cases take 34 s of the suite's time)
    min_slope, table, breaks, dx, dy = CASES[case]
    b1, b2 = REFERENCE_S_BREAKS[breaks]
    big = 0
    per_shape = len(DEMS) // 3
    first = (case % 3) * per_shape
    for name, z, valid in DEMS[first:first + per_shape]:
        got = contributing_area_array(z, dx, dy, valid=valid, min_slope_deg=min_slope,
                                      m_table=table, s_breaks=breaks)
        want = contributing_area_reference(z, valid, dx, dy, min_slope=min_slope,
                                           m_table=table, b1=b1, b2=b2)
        for key, ref in want.items():
            g = got[key]
            assert np.array_equal(np.isnan(g), np.isnan(ref)), f"{name}: {key}: nodata differs"
            assert np.array_equal(np.isnan(g), ~valid), f"{name}: {key}"
            ok = ~np.isnan(ref)
            np.testing.assert_allclose(g[ok], ref[ok], rtol=1e-12, atol=0,
                                       err_msg=f"{name}: {key}")
        big = max(big, int(np.nanmax(got["contributing_area_m2"]) / (dx * dy)))
    assert big > 50       # long flow paths were exercised (large A, where the cancellation is)


def _assert_close(got: dict, want: dict, what: str, rtol: float = 1e-12) -> None:
    for key, ref in want.items():
        g = got[key]
        assert np.array_equal(np.isnan(g), np.isnan(ref)), f"{what}: {key}: nodata differs"
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(g[ok], ref[ok], rtol=rtol, atol=0, err_msg=f"{what}: {key}")


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 40])
def test_tiled_equals_whole_array(block: int) -> None:
    """Every kind of relief (flats, pits, nodata holes), cut into blocks of every size from one
    cell (every cell a perimeter cell) to more than the grid; sums over other orders, so equal
    to within rounding."""
    crossings = 0
    for name, z, valid in DEMS[block % 3::3]:
        want = contributing_area_array(z, 10.0, 12.0, valid=valid)
        got = contributing_area_array(z, 10.0, 12.0, valid=valid, block=block,
                                      threads=2 if block in (5, 13) else 1)
        _assert_close(got, want, f"{name}, block {block}")
        crossings = max(crossings, int(np.nanmax(want["contributing_area_m2"]) / 120.0) // block)
    assert crossings >= 3 or block == 40   # flow paths over several blocks


@pytest.mark.parametrize("method", ["contributing_area", "invest"])
def test_ls_step_only_where_needed(method: str) -> None:
    """Step 3 with ``need`` (a run: where the land use has data) equals step 3 without it, bit
    for bit, at the cells needed, and is NaN elsewhere; a block needing nothing reads nothing."""
    from gepgeo.terrain.tiled import FlowpathOptions, core_blocks
    from gepgeo.terrain.tiled_accumulation import area_ls_of_core, links_of_core, solve

    name, z, valid = DEMS[5]
    shape = z.shape
    reads: list[tuple[int, int]] = []

    def read(r: int, c: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        reads.append((r, c))
        return z[r:r + h, c:c + w], valid[r:r + h, c:c + w]

    opts = FlowpathOptions(l_max=1000.0)
    cores = list(core_blocks(shape, 16))
    solved = solve([links_of_core(read, shape, core, 10.0, 10.0, opts) for core in cores], 100.0)
    need = np.random.default_rng(3).random(shape) > 0.4
    need[:16, :16] = False
    for core in cores:
        r, c, bh, bw = core
        sub = need[r:r + bh, c:c + bw]
        want = area_ls_of_core(read, shape, core, 10.0, 10.0, opts, solved, np.float64, method)
        del reads[:]
        got = area_ls_of_core(read, shape, core, 10.0, 10.0, opts, solved, np.float64, method,
                              sub)
        assert bool(reads) == bool(sub.any())
        for g, w in zip(got, want):
            assert np.array_equal(g[sub], w[sub], equal_nan=True), (name, core)
            assert np.isnan(g[~sub]).all(), (name, core)


def test_tiled_long_paths_across_many_blocks() -> None:
    """A tilted fractal whose flow crosses dozens of blocks, with a nodata band and flats; the
    tiled result also equals the plain reference."""
    rng = np.random.default_rng(7)
    z = tilted(rng, (97, 83)) * 3.0 + fractal(rng, (97, 83)) * 0.2
    z[40:43, 10:60] = np.nan
    z[60:70, 30:50] = np.round(z[60:70, 30:50])
    valid = np.isfinite(z)
    want = contributing_area_array(z, 30.0, valid=valid)
    assert np.nanmax(want["contributing_area_m2"]) / 900.0 > 200
    for block in (4, 9, 32):
        _assert_close(contributing_area_array(z, 30.0, valid=valid, block=block, threads=2),
                      want, f"block {block}")
    b1, b2 = REFERENCE_S_BREAKS["5deg/10deg"]
    ref = contributing_area_reference(np.where(valid, z, 0.0), valid, 30.0, 30.0,
                                      min_slope=0.1, m_table="mccool", b1=b1, b2=b2)
    _assert_close(contributing_area_array(z, 30.0, valid=valid, block=6), ref, "reference")


def test_the_dem_is_used_as_given() -> None:
    """A one-cell pit keeps its inflow (no filling): the flow stops there, the cells below it
    receive nothing from above; nodata cells give and receive nothing."""
    z = np.tile(np.arange(10, 0, -1, dtype=float)[:, None] * 10.0, (1, 5))   # falls south
    z[4, 2] = 0.0                                     # a pit in the middle column
    got = contributing_area_array(z, 10.0)
    area = got["contributing_area_m2"] / 100.0        # in cells
    assert area[4, 2] >= 4                            # the 4 cells above flow into the pit
    assert area[5, 2] == 0.0                          # ... and no further
    valid = np.ones(z.shape, dtype=bool)
    valid[3, 0] = False
    z2 = z.copy()
    z2[4, 2] = 60.0
    got = contributing_area_array(z2, 10.0, valid=valid)
    assert np.isnan(got["slope_length_steepness_ls"][3, 0])
    assert got["contributing_area_m2"][4, 0] == 0.0   # nothing crosses the hole


def plane(theta_deg: float, rows: int, cols: int, cell: float) -> np.ndarray:
    """A plane falling southwards (down the rows) at ``theta_deg``."""
    g = math.tan(theta_deg * D2R)
    return 1000.0 - np.arange(rows, dtype=float)[:, None] * cell * g * np.ones((1, cols))


def mccool_m(theta: float) -> float:
    s = math.sin(theta * D2R)
    beta = (s / 0.0896) / (3 * s ** 0.8 + 0.56)
    return beta / (1 + beta)


@pytest.mark.parametrize("theta", [0.3, 3.0, 7.0, 12.0, 30.0])
@pytest.mark.parametrize("cell", [5.0, 30.0])
def test_uniform_plane_closed_form(theta: float, cell: float) -> None:
    """On a plane every cell flows straight down (S), so A_in = i·D² on row i and
    L = (D/22.13)^m · ((i+1)^(m+1) − i^(m+1)); the slope is θ, the contour width D."""
    rows, cols = 60, 4
    got = contributing_area_array(plane(theta, rows, cols, cell), cell)
    m = mccool_m(theta)
    s = math.sin(theta * D2R)
    big_s = 10.8 * s + 0.03 if theta < 5 else 16.8 * s - 0.5 if theta < 10 else 21.91 * s - 0.96
    for i in range(rows):
        np.testing.assert_allclose(got["contributing_area_m2"][i], i * cell * cell, rtol=1e-12)
        np.testing.assert_allclose(got["slope_deg"][i], theta, rtol=1e-9)
        ell = (cell / 22.13) ** m * ((i + 1) ** (m + 1) - i ** (m + 1))
        np.testing.assert_allclose(got["slope_length_steepness_ls"][i], ell * big_s, rtol=1e-9)


def test_non_square_cells_use_the_contour_width() -> None:
    """A plane falling east on 12 m x 5 m cells: flow E, A_in = j·dx·dy in column j, the
    contour width across the flow is dy, so L = (dx/22.13)^m ((j+1)^(m+1) − j^(m+1))."""
    dx, dy, theta = 12.0, 5.0, 8.0
    cols = 30
    z = 500.0 - np.arange(cols, dtype=float)[None, :] * dx * math.tan(theta * D2R) \
        * np.ones((3, 1))
    got = contributing_area_array(z, dx, dy)
    m = mccool_m(theta)
    s = 16.8 * math.sin(theta * D2R) - 0.5
    for j in range(cols):
        np.testing.assert_allclose(got["contributing_area_m2"][:, j], j * dx * dy, rtol=1e-12)
        ell = (dx / 22.13) ** m * ((j + 1) ** (m + 1) - j ** (m + 1))
        np.testing.assert_allclose(got["slope_length_steepness_ls"][:, j], ell * s, rtol=1e-9)


def test_plane_hand_values() -> None:
    """30°, 10 m cells, row 3 (A_in = 300 m²): m = 0.709662 (β = 2.44426), S = 9.995,
    L = ((400^1.709662 − 300^1.709662) / (10^2.709662 · 22.13^0.709662)
      = (28 095.9 − 17 180.7) / (512.462 · 9.00497) = 2.36531, LS = 23.6413."""
    got = contributing_area_array(plane(30.0, 12, 3, 10.0), 10.0)
    assert got["contributing_area_m2"][3, 1] == pytest.approx(300.0, rel=1e-12)
    assert got["slope_length_steepness_ls"][3, 1] == pytest.approx(23.6413, rel=2e-5)


def test_large_areas_are_stable() -> None:
    """A 4000-cell-long plane: the last cells have A_in/a ≈ 4000, where the literal difference
    loses ~4 digits; the expm1/log1p form stays within 1e-12 of the closed form."""
    rows = 4000
    got = contributing_area_array(plane(12.0, rows, 1, 1.0), 1.0)
    m = mccool_m(12.0)
    i = np.arange(rows - 5, rows)
    from decimal import Decimal, getcontext

    getcontext().prec = 40
    dm = Decimal(m) + 1
    want = [float(((Decimal(int(k)) + 1) ** dm - Decimal(int(k)) ** dm)
                  / Decimal("22.13") ** Decimal(m)) for k in i]
    s = 21.91 * math.sin(12 * D2R) - 0.96   # 12°: clear of the 10° break
    np.testing.assert_allclose(got["slope_length_steepness_ls"][i, 0] / s, want, rtol=1e-12)


# ------------------------------------------------------------------------------ pyflwdir

def _no_flat_dems() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    out = []
    for shape in ((33, 45), (50, 27)):
        out.append(("fractal", fractal(rng, shape) + rng.random(shape) * 1e-6))
        out.append(("random walk", random_walk(rng, shape)))
        out.append(("tilted", tilted(rng, shape)))
    return out


@pytest.mark.parametrize("case", range(6))
def test_upstream_counts_equal_pyflwdir(case: int) -> None:
    """Upstream cell counts (the cell included) from gepgeo's in-degree accumulation equal
    pyflwdir's ``upstream_area``-style accumulation (``accuflux`` of ones) over the same D8
    directions, converted to pyflwdir's codes (1 E, 2 SE, 4 S ... 128 NE, 0 no outflow); the
    directions themselves are checked against the separately written reference D8."""
    pyflwdir = pytest.importorskip("pyflwdir")
    name, z = _no_flat_dems()[case]
    valid = np.ones(z.shape, dtype=bool)
    if case % 2:                       # and with nodata holes
        valid = holes(np.random.default_rng(case), z.shape)
    direction, _ = d8_slope(z, valid, 10.0, 10.0, 0.1)
    np.testing.assert_array_equal(direction, d8_reference(z, valid, 10.0, 10.0), err_msg=name)
    codes = np.where(direction >= 0, 2 ** np.maximum(direction, 0).astype(np.int64), 0)
    codes = codes.astype(np.uint8)
    codes[~valid] = 247                # pyflwdir's nodata code
    flw = pyflwdir.from_array(codes, ftype="d8", check_ftype=True)
    want = flw.accuflux(np.ones(z.shape))
    got = inflow_sum(direction, valid, 1.0) + 1.0
    np.testing.assert_array_equal(got[valid], want[valid], err_msg=name)
    assert want[valid].max() > 20, name   # long paths, not a trivial grid


# ------------------------------------------------------------------------------ command, pipeline

T = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def _dem_file(tmp_path, shape=(70, 90)):
    rng = np.random.default_rng(3)
    z = fractal(rng, shape).astype(np.float32)
    valid = holes(rng, z.shape)
    z[~valid] = -9999.0
    return write_tif(tmp_path / "dem.tif", z, T, nodata=-9999.0), z, valid


def test_cli_writes_ls_slope_and_area(tmp_path, capsys) -> None:
    dem, z, valid = _dem_file(tmp_path)
    out = tmp_path / "terrain"
    code, _, err = run_cli(["terrain", dem, "--out", out, "--block", "16", "--method",
                            "contributing_area", "--m-table", "wischmeier_smith"], capsys)
    assert code == 0, err
    assert "contributing_area_m2.tif" in err
    want = contributing_area_array(z.astype(np.float64), 30.0, valid=valid,
                                   m_table="wischmeier_smith", dtype=np.float32, block=16)
    whole = contributing_area_array(z.astype(np.float64), 30.0, valid=valid,
                                    m_table="wischmeier_smith", dtype=np.float32)
    _assert_close(want, whole, "16-px blocks against the whole array", rtol=1e-6)
    for name in ("slope_length_steepness_ls", "slope_deg", "contributing_area_m2"):
        with rasterio.open(out / f"{name}.tif") as ds:
            assert ds.transform == T and ds.dtypes[0] == "float32" and math.isnan(ds.nodata)
            assert ds.tags()["m_table"] == "wischmeier_smith"
            assert "max_slope_length_m" not in ds.tags()
            got = ds.read(1)
        np.testing.assert_array_equal(got, want[name])
    assert not (out / "slope_length_m.tif").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == "contributing_area" and manifest["halo_cells"] is None
    assert set(manifest["options"]) == {"min_slope_deg", "m_table", "s_breaks"}


@pytest.mark.parametrize("flag,value", [("--max-slope-length", "304.8"),
                                        ("--cutoff-gentle", "0.7"), ("--cutoff-steep", "0.2")])
def test_cli_refuses_flowpath_options(tmp_path, capsys, flag, value) -> None:
    dem, _, _ = _dem_file(tmp_path, (12, 12))
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--method",
                            "contributing_area", flag, value], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert flag in err and "contributing_area" in err
    assert not (tmp_path / "o").exists()


def test_the_size_limit(monkeypatch, tmp_path, capsys) -> None:
    """The whole-array function refuses grids over 8192²; the command, tiled, has no limit."""
    assert MAX_IN_MEMORY_PIXELS == 8192 * 8192
    check_size((8192, 8192))
    with pytest.raises(TerrainError, match="block="):
        check_size((8192, 8193))
    # through the command: the limit lowered below the DEM's size changes nothing
    import gepgeo.terrain.accumulation as acc

    monkeypatch.setattr(acc, "MAX_IN_MEMORY_PIXELS", 100)
    with pytest.raises(TerrainError, match="12 x 12"):
        contributing_area_array(np.ones((12, 12)), 10.0)
    dem, _, _ = _dem_file(tmp_path, (12, 12))
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--method",
                            "contributing_area", "--block", "5"], capsys)
    assert code == 0, err
    assert (tmp_path / "o" / "contributing_area_m2.tif").exists()


SOIL = {
    "rainfall_erosivity_r": 5000.0, "soil_erodibility_k": 0.03, "cover_management_c": 0.2,
    "support_practice_p": 1.0, "lambda_over_rho": 0.2,
    "dredging_cost": 10.0, "soil_n_content": 1.0, "soil_p_content": 0.5,
    "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
    "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0,
}
LS = "slope_length_steepness_ls"


def _pipeline(tmp_path, ls, name):
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "forest", 2: "cropland"}},
           "services": ["soil"], "parameters": {**SOIL, LS: ls},
           "maps": ["soil_retention"], "options": {"chunk_size": 64, "report": False}}
    return write_yaml(tmp_path / name, doc)


def test_pipeline_from_dem_contributing_area(tmp_path, capsys) -> None:
    """A run with from_dem method contributing_area (the tiled accumulation on the run's
    64-px blocks) writes the same maps as the run given the terrain command's LS."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare

    dem, _, _ = _dem_file(tmp_path)
    codes = np.random.default_rng(1).integers(1, 3, size=(70, 90)).astype(np.uint8)
    write_tif(tmp_path / "lu.tif", codes, T, nodata=0)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "terrain", "--method",
                            "contributing_area", "--quiet", "--block", "64"], capsys)
    assert code == 0, err
    want = read_band(tmp_path / "terrain" / f"{LS}.tif")
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif", "method": "contributing_area"}},
                  "ca.yaml")
    layer = prepare(load_pipeline(p)).plan.used[LS].value
    arr = layer.data.data
    assert arr.chunks == ((64, 6), (64, 26))
    keys = [str(k) for k in dict(arr.__dask_graph__())]
    assert sum("ls-ca-solve" in k for k in keys) == 1, keys     # one solve between blocks
    assert sum("ls-ca-links" in k for k in keys) == 4, keys     # a task per block, twice
    assert sum("ls-ca-block" in k for k in keys) == 4, keys
    np.testing.assert_array_equal(layer.data.values, want)
    # the tasks travel to distributed workers
    again = pickle.loads(pickle.dumps(arr))
    np.testing.assert_array_equal(again.compute(scheduler="threads"), want)
    ref = _pipeline(tmp_path, {"path": f"terrain/{LS}.tif"}, "ref.yaml")
    for pipe, out in ((p, "out_ca"), (ref, "out_ref")):
        code, _, err = run_cli(["run", pipe, "--out", tmp_path / out, "--quiet"], capsys)
        assert code == 0, err
    np.testing.assert_array_equal(read_band(tmp_path / "out_ca" / "maps" / "soil_retention.tif"),
                                  read_band(tmp_path / "out_ref" / "maps" / "soil_retention.tif"))
    rec = read_manifest(tmp_path / "out_ca")["parameters"][LS]["from_dem"]
    assert rec["method"] == "contributing_area" and rec["halo_cells"] is None


@pytest.mark.parametrize("key", ["max_slope_length", "cutoff_gentle", "cutoff_steep"])
def test_pipeline_refuses_flowpath_options(tmp_path, capsys, key) -> None:
    _dem_file(tmp_path, (12, 12))
    write_tif(tmp_path / "lu.tif", np.ones((12, 12), dtype=np.uint8), T, nodata=0)
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif", "method": "contributing_area",
                                          key: 0.5}}, "bad.yaml")
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2, err
    assert key in err and "contributing_area" in err


def test_pipeline_over_the_whole_array_limit(monkeypatch, tmp_path, capsys) -> None:
    import gepgeo.terrain.accumulation as acc

    monkeypatch.setattr(acc, "MAX_IN_MEMORY_PIXELS", 100)
    _dem_file(tmp_path, (12, 12))
    write_tif(tmp_path / "lu.tif", np.ones((12, 12), dtype=np.uint8), T, nodata=0)
    p = _pipeline(tmp_path, {"from_dem": {"path": "dem.tif", "method": "contributing_area"}},
                  "big.yaml")
    code, _, err = run_cli(["run", p, "--out", tmp_path / "out", "--quiet"], capsys)
    assert code == 0, err
    assert np.isfinite(read_band(tmp_path / "out" / "maps" / "soil_retention.tif")).any()
