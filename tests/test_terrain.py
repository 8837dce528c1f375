"""Terrain: the flow-path LS factor from a DEM (issue 22, first slice).

* the block-by-block fast path equals the plain-NumPy reference (``terrain_oracle.py``, written
  from the AML plus gepgeo's documented deviations, importing nothing from gepgeo) on random
  DEMs, for block sizes that do and do not divide the grid, down to blocks of 1 pixel; with
  caps of a few cells the halo is shown exact and tight (one cell less breaks some cores);
* closed forms on a uniform inclined plane (λ = (i + ½)·cell down each column, the cap);
* L and S against hand-computed values at and around the slope breaks;
* the fused window kernel equals its three readable step kernels bit for bit;
* ``gepgeo terrain`` writes the three maps on the DEM's grid; bad DEMs exit 2 with one line.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from affine import Affine

from gepgeo.terrain import FlowpathOptions, flowpath_array, halo_cells
from gepgeo.terrain.factors import (M_TABLES, S_BREAKS, gradient_deg, l_factor, s_factor,
                                    slope_length_exponent)
from gepgeo.terrain.flowpath import (cumulative_length, d8_slope, fill_single_pits,
                                     flowpath_window)

from .helpers import run_cli, write_tif
from .terrain_oracle import flowpath_reference

D2R = math.pi / 180.0


# ------------------------------------------------------------------------------ random DEMs

def random_walk(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return np.cumsum(np.cumsum(rng.normal(size=shape), 0), 1) * 0.5 + 500.0


def fractal(rng: np.random.Generator, shape: tuple[int, int], beta: float = 2.2) -> np.ndarray:
    """Spectral-synthesis relief: white noise filtered by 1/f^beta."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    spec = np.fft.rfft2(rng.normal(size=shape)) / f ** (beta / 2)
    z = np.fft.irfft2(spec, s=shape)
    return 400.0 + 60.0 * (z - z.min()) / (z.max() - z.min())


def tilted(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    r, c = np.mgrid[0:h, 0:w]
    return 300.0 - 0.8 * r - 0.3 * c + rng.normal(scale=0.4, size=shape)


def with_flats(z: np.ndarray) -> np.ndarray:
    """Elevations rounded to whole metres: flats and tied drops everywhere."""
    return np.round(z)


def with_pits(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    z = z.copy()
    n = z.size // 40
    z[rng.integers(0, z.shape[0], n), rng.integers(0, z.shape[1], n)] -= 25.0
    return z


def holes(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A valid mask with a few rectangular nodata holes and scattered nodata pixels."""
    valid = rng.random(shape) > 0.02
    for _ in range(3):
        r, c = rng.integers(0, shape[0] - 5), rng.integers(0, shape[1] - 5)
        valid[r:r + rng.integers(2, 6), c:c + rng.integers(2, 8)] = False
    return valid


def dems() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(22)
    shape = (47, 53)
    out = []
    full = np.ones(shape, dtype=bool)
    out.append(("random walk", random_walk(rng, shape), full))
    out.append(("fractal", fractal(rng, shape), full))
    out.append(("tilted plane", tilted(rng, shape), full))
    out.append(("flats", with_flats(fractal(rng, shape)), full))
    out.append(("pits", with_pits(rng, random_walk(rng, shape)), full))
    out.append(("nodata holes", with_pits(rng, fractal(rng, shape)), holes(rng, shape)))
    out.append(("flat holes", with_flats(tilted(rng, shape)), holes(rng, shape)))
    return out


DEMS = dems()
CASES = [  # (options, cell size dx, dy)
    (FlowpathOptions(), 10.0, 10.0),
    (FlowpathOptions(max_slope_length_m=60.0, m_table="wischmeier_smith",
                     s_breaks="9%/18%"), 10.0, 10.0),
    (FlowpathOptions(max_slope_length_m=95.0, cutoff_gentle=0.9, cutoff_steep=0.3,
                     m_table="van_remortel", s_breaks="5deg/14deg", min_slope_deg=0.05),
     7.5, 9.0),
]


#: the S slope breaks, degrees, written out here: the reference must not take gepgeo's values
REFERENCE_S_BREAKS = {"5deg/10deg": (5.0, 10.0),
                      "9%/18%": (math.atan(0.09) * 180.0 / math.pi,
                                 math.atan(0.18) * 180.0 / math.pi),
                      "5deg/14deg": (5.0, 14.0)}


def reference(z: np.ndarray, valid: np.ndarray, opts: FlowpathOptions, dx: float,
              dy: float, counts: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    b1, b2 = REFERENCE_S_BREAKS[opts.s_breaks]
    return flowpath_reference(z, valid, dx, dy, max_length=opts.max_slope_length_m,
                              min_slope=opts.min_slope_deg, cut_gentle=opts.cutoff_gentle,
                              cut_steep=opts.cutoff_steep, m_table=opts.m_table, b1=b1, b2=b2,
                              counts=counts)


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str) -> None:
    for key, ref in want.items():
        g = got[key]
        assert np.array_equal(np.isnan(g), np.isnan(ref)), f"{what}: {key}: nodata differs"
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(g[ok], ref[ok], rtol=1e-12, atol=0, err_msg=f"{what}: {key}")


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fast_path_equals_reference_for_every_block_size(case: int) -> None:
    opts, dx, dy = CASES[case]
    capped = tied = cut = 0
    for name, z, valid in DEMS:
        counts: dict[str, int] = {}
        want = reference(z, valid, opts, dx, dy, counts)
        capped += int((want["slope_length_m"] == opts.max_slope_length_m).sum())
        tied += counts["tied"]
        cut += counts["cut"]
        whole = flowpath_array(z, dx, dy, valid=valid, opts=opts)
        assert_same(whole, want, f"{name}, whole array")
        for block in (4, 7, 16, 25):
            got = flowpath_array(z, dx, dy, valid=valid, opts=opts, block=block,
                                 threads=2 if block == 7 else 1)
            for key in want:       # blocks give the whole-array maps bit for bit
                assert np.array_equal(got[key], whole[key], equal_nan=True), \
                    f"{name}, block {block}: {key}"
    # the short caps (60 m, 95 m) bind on many cells; the default 304.8 m on none of these grids
    assert (capped > 0) == (opts.max_slope_length_m < 100)
    # the tie order decides many cells' direction and the cutoff rule cuts many inflows
    assert tied > 50 and cut > 50, (tied, cut)


def stepwise(z: np.ndarray, valid: np.ndarray, opts: FlowpathOptions, dx: float, dy: float,
             r0: int, c0: int, hh: int, ww: int) -> list[np.ndarray]:
    """The window's core computed by the three step kernels one after the other (the readable
    form the fused ``flowpath_window`` must equal bit for bit)."""
    b1, b2 = S_BREAKS[opts.s_breaks]
    zf = fill_single_pits(z, valid)
    direction, slope = d8_slope(zf, valid, dx, dy, opts.min_slope_deg)
    lam = cumulative_length(direction, slope, valid, dx, dy, opts.cutoff_gentle,
                            opts.cutoff_steep, gradient_deg(5.0))
    theta = slope[r0:r0 + hh, c0:c0 + ww]
    length = np.minimum(lam[r0:r0 + hh, c0:c0 + ww], opts.max_slope_length_m)
    ls = np.full((hh, ww), np.nan)
    for r, c in zip(*np.nonzero(valid[r0:r0 + hh, c0:c0 + ww])):
        t = float(theta[r, c])
        m = slope_length_exponent(t, M_TABLES[opts.m_table])
        ls[r, c] = l_factor(float(length[r, c]), m) * s_factor(t, b1, b2)
    return [theta, length, ls]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fused_kernel_equals_the_step_kernels_bit_for_bit(case: int) -> None:
    opts, dx, dy = CASES[case]
    b1, b2 = S_BREAKS[opts.s_breaks]
    for name, z, valid in DEMS:
        h, w = z.shape
        for r0, c0, hh, ww in ((0, 0, h, w), (3, 2, h - 7, w - 4), (1, 5, 9, 1)):
            got = [np.empty((hh, ww)) for _ in range(3)]
            flowpath_window(z, valid, dx, dy, opts.min_slope_deg, opts.cutoff_gentle,
                            opts.cutoff_steep, gradient_deg(5.0), opts.max_slope_length_m,
                            M_TABLES[opts.m_table], b1, b2, r0, c0, *got,
                            np.ones((0, 0), dtype=bool), False)
            want = stepwise(z, valid, opts, dx, dy, r0, c0, hh, ww)
            for key, g, ref in zip(("slope", "length", "ls"), got, want):
                assert np.array_equal(g, ref, equal_nan=True), f"{name} {r0, c0}: {key}"


def test_cells_not_needed_are_nan_and_the_others_exact() -> None:
    """With ``need`` (a run: where the land use has data) the cells wanted equal the
    whole-array maps bit for bit, whatever the block size, and the others are NaN; blocks
    without any wanted cell and windows cut around the wanted cells included."""
    opts, dx, dy = CASES[1]
    rng = np.random.default_rng(5)
    for name, z, valid in DEMS[:4]:
        whole = flowpath_array(z, dx, dy, valid=valid, opts=opts)
        need = rng.random(z.shape) > 0.3
        need[:20, :25] = False                     # whole blocks of 7 and 16 without data
        need[30:, 40:] = False
        for block in (7, 16, 100):
            got = flowpath_array(z, dx, dy, valid=valid, opts=opts, block=block, need=need)
            for key in whole:
                assert np.array_equal(got[key][need], whole[key][need], equal_nan=True), \
                    f"{name}, block {block}: {key}"
                assert np.isnan(got[key][~need]).all(), f"{name}, block {block}: {key}"


def test_blocks_far_smaller_than_the_flow_paths() -> None:
    """A 120 x 90 tilted plane with noise: flow paths ~100 cells long cross up to 33 borders of
    3-pixel blocks; the cap (400 m at 5 m: 80 cells) is reached inside the grid."""
    rng = np.random.default_rng(5)
    r, c = np.mgrid[0:120, 0:90]
    z = 300.0 - 2.0 * r - 0.3 * c + rng.normal(scale=0.05, size=r.shape)
    opts = FlowpathOptions(max_slope_length_m=400.0)
    want = reference(z, np.ones(z.shape, bool), opts, 5.0, 5.0)
    assert np.nanmax(want["slope_length_m"]) == 400.0
    for block in (3, 11, 64):
        got = flowpath_array(z, 5.0, opts=opts, block=block)
        assert_same(got, want, f"block {block}")


def small_cap_cases(n: int) -> list[tuple[np.ndarray, np.ndarray, float, float,
                                          FlowpathOptions]]:
    """Small random DEMs where caps of 0.5-9 cells bind everywhere: integer elevations (flats,
    ties, pits) or rounded random walks, 10 % nodata, mostly non-square cells, cutoff factors
    0 / 0.5-0.7 / 1."""
    rng = np.random.default_rng(2205)
    out = []
    for t in range(n):
        h, w = (int(v) for v in rng.integers(6, 16, 2))
        z = (rng.integers(0, 4, (h, w)).astype(float) if t % 2 == 0
             else np.round(np.cumsum(np.cumsum(rng.normal(size=(h, w)), 0), 1)))
        valid = rng.random((h, w)) > 0.1
        dx, dy = float(rng.choice([1.0, 2.0, 3.0])), float(rng.choice([1.0, 2.0, 5.0]))
        cap = float(rng.choice([0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0])) * min(dx, dy)
        opts = FlowpathOptions(max_slope_length_m=cap,
                               cutoff_gentle=float(rng.choice([0.0, 0.7, 1.0])),
                               cutoff_steep=float(rng.choice([0.0, 0.5, 1.0])))
        out.append((z, valid, dx, dy, opts))
    return out


def test_the_halo_is_exact_and_tight(monkeypatch) -> None:
    """With caps of a few cells the cap binds inside every window: blocks of 1, 2, 3, 5 pixels
    give the whole-array maps bit for bit at the real halo, and one cell less breaks some."""
    from gepgeo.terrain import tiled

    cases = small_cap_cases(400)

    def differing() -> int:
        n = 0
        for z, valid, dx, dy, opts in cases:
            whole = flowpath_array(z, dx, dy, valid=valid, opts=opts)
            for block in (1, 2, 3, 5):
                got = flowpath_array(z, dx, dy, valid=valid, opts=opts, block=block)
                if not all(np.array_equal(got[k], whole[k], equal_nan=True) for k in whole):
                    n += 1
                    break
        return n

    assert differing() == 0
    real = tiled.halo_cells
    monkeypatch.setattr(tiled, "halo_cells", lambda o, dx, dy: real(o, dx, dy) - 1)
    assert differing() > 0


def test_halo_is_cap_over_cell_plus_two() -> None:
    assert halo_cells(FlowpathOptions(), 30.0, 30.0) == math.ceil(304.8 / 30) + 2 == 13
    assert halo_cells(FlowpathOptions(max_slope_length_m=100.0), 10.0, 12.5) == 12


def test_a_halo_wider_than_4096_cells_is_refused(tmp_path, capsys) -> None:
    """1e6 m at 10 m cells would need a 100 002-cell halo (every window the whole DEM)."""
    from gepgeo.errors import TerrainError

    assert halo_cells(FlowpathOptions(max_slope_length_m=40940.0), 10.0, 10.0) == 4096
    with pytest.raises(TerrainError, match=r"--max-slope-length: 1e\+06 m over 10 m cells "
                                           r"needs a halo of 100002 cells.*at most 40940 m"):
        flowpath_array(plane(5.0, 5, 5, 10.0), 10.0,
                       opts=FlowpathOptions(max_slope_length_m=1e6))
    dem = write_tif(tmp_path / "dem.tif", plane(5.0, 10, 10, 30.0).astype(np.float32), T)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", "--max-slope-length",
                            "1e6"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "halo of 33336" in err, err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ closed forms

def plane(theta_deg: float, rows: int, cols: int, cell: float) -> np.ndarray:
    """A plane falling southwards (down the rows) at ``theta_deg``."""
    g = math.tan(theta_deg * D2R)
    r = np.arange(rows, dtype=float)[:, None] * np.ones((1, cols))
    return 1000.0 - r * cell * g


@pytest.mark.parametrize("theta", [0.3, 2.0, 7.0, 12.0, 30.0])
@pytest.mark.parametrize("cell", [5.0, 30.0])
def test_uniform_plane_closed_form(theta: float, cell: float) -> None:
    rows, cols = 40, 6
    got = flowpath_array(plane(theta, rows, cols, cell), cell, block=9)
    s = math.sin(theta * D2R)
    beta = (s / 0.0896) / (3 * s ** 0.8 + 0.56)
    m = beta / (1 + beta)
    big_s = (10.8 * s + 0.03 if theta < 5 else 16.8 * s - 0.5 if theta < 10
             else 21.91 * s - 0.96)
    for i in range(rows - 1):          # the last row has no lower neighbour: a flat
        lam = min((i + 0.5) * cell, 304.8)
        # elevations 1000 − r·cell·tan θ are rounded: θ comes back within ~1e-12 relative
        np.testing.assert_allclose(got["slope_deg"][i], theta, rtol=1e-9)
        np.testing.assert_allclose(got["slope_length_m"][i], lam, rtol=1e-12)
        np.testing.assert_allclose(got["slope_length_steepness_ls"][i],
                                   (lam / 22.13) ** m * big_s, rtol=1e-9)
    # bottom row: no outflow, minimum slope 0.1°, the steeper inflow is cut: λ = one cell
    assert np.all(got["slope_deg"][-1] == 0.1)
    assert np.all(got["slope_length_m"][-1] == cell)
    if cell == 30.0:                   # λ passes 304.8 m from row 10 (10.5 cells = 315 m)
        assert np.all(got["slope_length_m"][10:-1] == 304.8)
        assert np.all(got["slope_length_m"][9] == 285.0)


def test_plane_hand_values() -> None:
    """30°, 10 m cells, 4th row: λ = 35 m, sin θ = ½, S = 21.91/2 − 0.96 = 9.995,
    β = (0.5/0.0896)/(3·0.5^0.8 + 0.56) = 2.44426, m = 0.709662,
    L = (35/22.13)^0.709662 = 1.38446, LS = 13.8377."""
    got = flowpath_array(plane(30.0, 12, 3, 10.0), 10.0)
    assert got["slope_length_m"][3, 1] == pytest.approx(35.0, rel=1e-12)
    assert got["slope_length_steepness_ls"][3, 1] == pytest.approx(13.8377, rel=2e-5)


def test_slope_cutoff_restarts_the_slope_length() -> None:
    """A 20° slope onto a 5° one: 5 < 20 · 0.5, so λ restarts at one cell on the gentle part;
    onto a 15° one it does not (15 ≥ 20 · 0.5)."""
    cell = 10.0
    for lower, restarts in ((5.0, True), (15.0, False)):
        g1, g2 = math.tan(20 * D2R) * cell, math.tan(lower * D2R) * cell
        col = np.concatenate([1000 - g1 * np.arange(10), 1000 - 9 * g1 - g2 * np.arange(1, 11)])
        z = np.repeat(col[:, None], 4, axis=1)
        got = flowpath_array(z, cell)["slope_length_m"][:, 1]
        assert got[8] == pytest.approx(85.0)
        # row 9 drains at the gentle slope (its lower neighbour is on the gentle part)
        assert got[9] == pytest.approx(cell if restarts else 95.0)


@pytest.mark.parametrize("drop, opts", [
    (2.0, FlowpathOptions(cutoff_steep=1.0)),      # 20 % gradient: the steep factor
    (0.25, FlowpathOptions(cutoff_gentle=1.0)),    # 2.5 %: the gentle factor
])
def test_a_cutoff_factor_of_one_does_not_cut_a_uniform_plane(drop: float,
                                                             opts: FlowpathOptions) -> None:
    """The cut is strict (the AML's ``down_slp_ang lt (...)``): on a plane θ(X) = θ(U)·1 is no
    cut, so λ = (i + ½)·cell down the plane (capped). Elevations are multiples of 0.25 m, so
    every drop, and θ, is the same to the bit."""
    rows, cell = 40, 10.0
    z = np.repeat((1000.0 - drop * np.arange(rows))[:, None], 5, axis=1)
    got = flowpath_array(z, cell, opts=opts, block=7)["slope_length_m"]
    for i in range(rows - 1):
        assert np.all(got[i] == min((i + 0.5) * cell, 304.8)), i
    assert np.all(got[-1] == cell)     # the flat bottom row (0.1°) is cut


# ------------------------------------------------------------------------------ factors

def test_s_factor_at_and_around_the_breaks() -> None:
    b1, b2 = S_BREAKS["5deg/10deg"]
    assert s_factor(4.999999, b1, b2) == pytest.approx(10.8 * math.sin(4.999999 * D2R) + 0.03)
    # 16.8 sin 5° − 0.5 and 21.91 sin 10° − 0.96
    assert s_factor(5.0, b1, b2) == pytest.approx(0.9642164781606573, rel=1e-12)
    assert s_factor(9.999999, b1, b2) == pytest.approx(16.8 * math.sin(9.999999 * D2R) - 0.5)
    assert s_factor(10.0, b1, b2) == pytest.approx(2.844631572682444, rel=1e-12)
    assert s_factor(30.0, b1, b2) == pytest.approx(9.995, rel=1e-12)
    assert s_factor(2.0, b1, b2) == pytest.approx(0.40691456438701046, rel=1e-12)
    c1, c2 = S_BREAKS["9%/18%"]
    assert c1 == pytest.approx(5.142764557884242) and c2 == pytest.approx(10.203973721731684)
    assert s_factor(5.1, c1, c2) == pytest.approx(10.8 * math.sin(5.1 * D2R) + 0.03)
    assert s_factor(5.2, c1, c2) == pytest.approx(16.8 * math.sin(5.2 * D2R) - 0.5)
    assert s_factor(10.2, c1, c2) == pytest.approx(16.8 * math.sin(10.2 * D2R) - 0.5)
    assert s_factor(10.21, c1, c2) == pytest.approx(21.91 * math.sin(10.21 * D2R) - 0.96)
    d1, d2 = S_BREAKS["5deg/14deg"]
    assert s_factor(13.9, d1, d2) == pytest.approx(16.8 * math.sin(13.9 * D2R) - 0.5)
    assert s_factor(14.0, d1, d2) == pytest.approx(21.91 * math.sin(14.0 * D2R) - 0.96)


def test_m_tables() -> None:
    # McCool et al. (1989): β/(1+β)
    assert slope_length_exponent(30.0, 0) == pytest.approx(0.709662, abs=1e-6)
    assert slope_length_exponent(5.0, 0) == pytest.approx(0.4966229360176838, rel=1e-12)
    assert slope_length_exponent(2.0, 0) == pytest.approx(0.33742941458274484, rel=1e-12)
    # Wischmeier & Smith (1978) classes by percent gradient
    ws = [(0.99, 0.2), (1.01, 0.3), (2.99, 0.3), (3.01, 0.4), (4.99, 0.4), (5.01, 0.5),
          (40.0, 0.5)]
    for pct, m in ws:
        assert slope_length_exponent(gradient_deg(pct), 1) == m, pct
    # the AML's table (McCool et al. 1997, Table 4-5, low rill/interrill)
    for theta, m in [(0.1, 0.01), (0.15, 0.02), (0.2, 0.04), (5.19, 0.32), (5.2, 0.35),
                     (37.19, 0.55), (37.2, 0.56), (60.0, 0.56)]:
        assert slope_length_exponent(theta, 2) == m, theta
    assert l_factor(22.13, 0.5) == 1.0
    assert l_factor(88.52, 0.5) == pytest.approx(2.0, rel=1e-12)


def test_bad_options_are_refused() -> None:
    from gepgeo.errors import TerrainError

    z = plane(5.0, 5, 5, 10.0)
    for bad in (FlowpathOptions(max_slope_length_m=0.0), FlowpathOptions(m_table="x"),
                FlowpathOptions(s_breaks="1/2"), FlowpathOptions(cutoff_steep=1.5),
                FlowpathOptions(min_slope_deg=0.0)):
        with pytest.raises(TerrainError):
            flowpath_array(z, 10.0, opts=bad)


# ------------------------------------------------------------------------------ command line

T = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def test_cli_writes_the_three_maps_on_the_dems_grid(tmp_path, capsys) -> None:
    rng = np.random.default_rng(3)
    z = fractal(rng, (70, 90)).astype(np.float32)
    valid = holes(rng, z.shape)
    z[~valid] = -9999.0
    dem = write_tif(tmp_path / "dem.tif", z, T, nodata=-9999.0)
    out = tmp_path / "terrain"
    code, _, err = run_cli(["terrain", dem, "--out", out, "--block", "16"], capsys)
    assert code == 0, err
    want = flowpath_array(z.astype(np.float64), 30.0, valid=valid)
    for name in ("slope_length_steepness_ls", "slope_deg", "slope_length_m"):
        with rasterio.open(out / f"{name}.tif") as ds:
            assert ds.crs == rasterio.crs.CRS.from_epsg(32648)
            assert ds.transform == T
            assert ds.dtypes[0] == "float32" and math.isnan(ds.nodata)
            assert ds.profile["tiled"] and ds.profile["compress"] in ("zstd", "ZSTD")
            assert ds.tags()["max_slope_length_m"] == "304.8"
            got = ds.read(1)
        np.testing.assert_array_equal(got, want[name].astype(np.float32))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "terrain" and manifest["halo_cells"] == 13
    # an existing output folder: refused, then replaced with --overwrite
    code, _, err = run_cli(["terrain", dem, "--out", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["terrain", dem, "--out", out, "--overwrite"], capsys)
    assert code == 0, err


def test_cli_feet_crs_and_z_factor(tmp_path, capsys) -> None:
    """A DEM in US survey feet (EPSG:2227) with elevations in metres (--z-factor 3.2808333)
    gives the metric result of the same terrain."""
    z = plane(8.0, 20, 10, 30.0).astype(np.float32)          # metres, 30 m cells
    ft = 1200.0 / 3937.0                                      # m per US survey foot
    t = Affine(30.0 / ft, 0.0, 6000000.0, 0.0, -30.0 / ft, 2000000.0)
    dem = write_tif(tmp_path / "dem_ft.tif", z, t, crs="EPSG:2227")
    out = tmp_path / "o"
    code, _, err = run_cli(["terrain", dem, "--out", out, "--z-factor", str(1 / ft)], capsys)
    assert code == 0, err
    with rasterio.open(out / "slope_deg.tif") as ds:
        slope = ds.read(1)
    np.testing.assert_allclose(slope[:-1], 8.0, rtol=1e-5)


def test_cli_grid_aligns_the_dem_bilinearly(tmp_path, capsys) -> None:
    z = plane(6.0, 30, 30, 30.0).astype(np.float32)
    dem = write_tif(tmp_path / "dem.tif", z, T)
    lu_t = Affine(15.0, 0.0, 500000.0 + 150.0, 0.0, -15.0, 3000000.0 - 150.0)
    lu = write_tif(tmp_path / "lu.tif", np.ones((40, 40), np.uint8), lu_t, nodata=0)
    out = tmp_path / "o"
    code, _, err = run_cli(["terrain", dem, "--out", out, "--grid", lu], capsys)
    assert code == 0, err
    with rasterio.open(out / "slope_deg.tif") as ds:
        assert ds.transform == lu_t and ds.shape == (40, 40)
        assert "bilinear" in ds.tags()["alignment"]
        slope = ds.read(1)
    np.testing.assert_allclose(slope[:-1], 6.0, rtol=1e-4)   # a plane stays a plane


@pytest.mark.parametrize("crs, words", [("EPSG:4326", "geographic"), (None, "no CRS")])
def test_cli_refuses_a_dem_without_metric_cells(tmp_path, capsys, crs, words) -> None:
    t = Affine(0.001, 0.0, 100.0, 0.0, -0.001, 30.0)
    dem = write_tif(tmp_path / "dem.tif", plane(5.0, 10, 10, 100.0).astype(np.float32), t,
                    crs=crs)
    code, out, err = run_cli(["terrain", dem, "--out", tmp_path / "o"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "dem.tif" in lines[0], err
    if crs:
        assert "reproject" in lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, words", [
    (["--m-table", "foo"], "--m-table"), (["--max-slope-length", "-1"], "--max-slope-length"),
    (["--method", "lstool"], "not available"), (["--method", "invest"], "--l-max"),
    (["--block", "0"], "--block"),
    (["--z-factor", "0"], "--z-factor")])
def test_cli_bad_options_exit_2(tmp_path, capsys, args, words) -> None:
    dem = write_tif(tmp_path / "dem.tif", plane(5.0, 10, 10, 30.0).astype(np.float32), T)
    code, _, err = run_cli(["terrain", dem, "--out", tmp_path / "o", *args], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "o").exists()


def test_terrain_help(capsys) -> None:
    code, out, _ = run_cli(["terrain", "--help"], capsys)
    assert code == 0 and "Usage" in out and "--max-slope-length" in out
