"""gepgeo.sampling: the NumPy Sobol' sequence, Latin hypercube and Sobol' indices give SciPy's
numbers bit for bit, and a draw does not import scipy.stats."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from gepgeo import sampling as S


@pytest.mark.parametrize("bits", [30, 64])
@pytest.mark.parametrize("d,n,seed", [(1, 1, 0), (2, 37, 1), (8, 1024, 1), (17, 1000, 12345),
                                      (40, 129, 7)])
def test_sobol_equals_scipy(d, n, seed, bits):
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = qmc.Sobol(d, scramble=True, bits=bits, rng=seed).random(n)
    got = S.sobol(d, n, seed, bits=bits)
    assert got.dtype == np.float64 and got.shape == (n, d)
    assert np.array_equal(got, ref)


def test_sobol_from_a_generator_equals_scipy():
    from scipy.stats import qmc

    ref = qmc.Sobol(6, bits=64, rng=np.random.default_rng(9)).random(256)
    assert np.array_equal(S.sobol(6, 256, np.random.default_rng(9), bits=64), ref)


def test_sobol_is_a_balanced_digital_net():
    # each of the 2^k elementary intervals of each axis holds one point of 2^k
    x = S.sobol(5, 256, 3)
    for j in range(5):
        assert np.array_equal(np.bincount((x[:, j] * 256).astype(int), minlength=256),
                              np.ones(256, dtype=int))
    assert ((x >= 0) & (x < 1)).all()


@pytest.mark.parametrize("d,n,seed", [(1, 10, 0), (3, 50, 1), (12, 999, 4)])
def test_latin_hypercube_equals_scipy(d, n, seed):
    from scipy.stats import qmc

    got = S.latin_hypercube(d, n, seed)
    assert np.array_equal(got, qmc.LatinHypercube(d, rng=seed).random(n))
    for j in range(d):   # one point per stratum
        assert sorted((got[:, j] * n).astype(int)) == list(range(n))


def _ishigami_like(x: np.ndarray) -> np.ndarray:
    # three outputs: a non-additive function, a constant (indices 0), a function of x0 only
    return np.vstack([np.sin(2 * np.pi * x[0]) + 7 * np.sin(2 * np.pi * x[1]) ** 2
                      + 0.1 * x[2] ** 4 * np.sin(2 * np.pi * x[0]),
                      np.ones(x.shape[1]), x[0] ** 2])


def test_sobol_indices_equal_scipy():
    from scipy import stats

    with np.errstate(divide="ignore", invalid="ignore"):
        ref = stats.sobol_indices(func=_ishigami_like, n=512, dists=[stats.uniform()] * 3,
                                  rng=np.random.default_rng(5))
        first, total = S.sobol_indices(_ishigami_like, 3, 512, 5)
    assert np.array_equal(first, ref.first_order)
    assert np.array_equal(total, ref.total_order)
    # the constant output has no variance: its indices are 0; x0² depends on x0 only
    assert (first[1] == 0).all() and (total[1] == 0).all()
    assert first[2, 0] == pytest.approx(1, abs=0.05) and total[2, 1:] == pytest.approx(0)


def test_sobol_indices_of_a_linear_function_are_its_variance_shares():
    # y = 1·x0 + 2·x1 on uniforms: shares 1/5 and 4/5, first order = total
    first, total = S.sobol_indices(lambda x: x[0] + 2 * x[1], 2, 1024, 1)
    assert first[0] == pytest.approx([0.2, 0.8], abs=0.01)
    assert total[0] == pytest.approx([0.2, 0.8], abs=0.01)


def test_sobol_indices_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2"):
        S.sobol_indices(lambda x: x[0], 1, 100, 1)


def test_drawing_does_not_import_scipy_stats():
    code = ("import sys; from gepgeo import sampling as S, uncertainty as U\n"
            "U.sample(['a', 'b'], U.Settings(draws=100)); "
            "U.sample(['a'], U.Settings(draws=10, method='lhs'))\n"
            "S.sobol_indices(lambda x: x[0] + x[1], 2, 256, 1)\n"
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_without_scipys_table_file_sobol_falls_back_to_scipy(monkeypatch):
    from scipy.stats import qmc

    monkeypatch.setattr(S, "direction_numbers_path", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = qmc.Sobol(3, rng=2).random(100)
    assert np.array_equal(S.sobol(3, 100, 2), ref)


def test_normal_and_lognormal_equal_scipy_stats_bit_for_bit():
    from scipy import stats

    rng = np.random.default_rng(0)
    q = np.concatenate([rng.random(500), [0.0, 1.0, 0.5]])
    for loc, sc in [(0.0, 1.0), (3.5, 0.01), (1200.0, 300.0)]:
        x = np.concatenate([rng.normal(loc, 3 * sc, 500), [-np.inf, np.inf, loc]])
        ref = stats.norm(loc=loc, scale=sc)
        assert np.array_equal(S.normal_cdf(x, loc, sc), ref.cdf(x))
        assert np.array_equal(S.normal_ppf(q, loc, sc), ref.ppf(q))
    for s, scale in [(0.3, 1.0), (1.2, 450.0)]:
        x = np.concatenate([np.abs(rng.normal(scale, 2 * scale, 500)), [0.0, -1.0, np.inf]])
        ref = stats.lognorm(s=s, scale=scale)
        assert np.array_equal(S.lognormal_cdf(x, s, scale), ref.cdf(x))
        assert np.array_equal(S.lognormal_ppf(q, s, scale), ref.ppf(q))
