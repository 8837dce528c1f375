"""Seeded quasi-random samples and Sobol' indices in NumPy, without importing ``scipy.stats``.

``scipy.stats`` takes 0.5–1.5 s to import (it loads every distribution), more than the
10 000 draws of an uncertainty analysis cost (:mod:`gepgeo.uncertainty`). This module computes
the same numbers as the functions gepgeo used before, bit for bit (``tests/test_sampling.py``
compares them):

* :func:`sobol` — ``scipy.stats.qmc.Sobol(d, scramble=True, bits=bits, rng=seed).random(n)``:
  Sobol' points with the direction numbers of Joe & Kuo (2008, search criterion D(6), read
  from the table SciPy ships), scrambled by a random linear matrix scramble and a random
  digital shift (Matoušek 1998; Owen 2003), in Gray-code order (Antonov & Saleev 1979).
* :func:`latin_hypercube` — ``scipy.stats.qmc.LatinHypercube(d, rng=seed).random(n)``.
* :func:`sobol_indices` — ``scipy.stats.sobol_indices(func=..., n=n, dists=[uniform] * d,
  rng=np.random.default_rng(seed))``: first-order indices by Saltelli et al. (2010), Table 2
  (b), and total indices by Jansen (1999) (Saltelli et al. 2010, Table 2 (f)), on the
  A, B and A_B^(i) matrices of Saltelli (2002).
* :func:`normal_cdf`, :func:`normal_ppf`, :func:`lognormal_cdf`, :func:`lognormal_ppf` —
  ``scipy.stats.norm`` and ``lognorm``'s CDF and inverse CDF, with ``scipy.special`` (which a
  run imports anyway).

References
----------
Joe, S. & Kuo, F. Y. (2008) Constructing Sobol sequences with better two-dimensional
projections. SIAM J. Sci. Comput. 30, 2635–2654 (direction numbers: new-joe-kuo-6.21201).
Bratley, P. & Fox, B. L. (1988) Algorithm 659: implementing Sobol's quasirandom sequence
generator. ACM TOMS 14, 88–100.
Antonov, I. A. & Saleev, V. M. (1979) An economic method of computing LPτ-sequences. USSR
Comput. Math. Math. Phys. 19, 252–256.
Matoušek, J. (1998) On the L2-discrepancy for anchored boxes. J. Complexity 14, 527–556.
Owen, A. B. (2003) Variance with alternative scramblings of digital nets. ACM TOMACS 13, 363–378.
Saltelli, A. (2002) Making best use of model evaluations to compute sensitivity indices.
Comput. Phys. Commun. 145, 280–297.
Jansen, M. J. W. (1999) Analysis of variance designs for model output. Comput. Phys. Commun.
117, 35–43.
Saltelli, A. et al. (2010) Variance based sensitivity analysis of model output. Design and
estimator for the total sensitivity index. Comput. Phys. Commun. 181, 259–270.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["sobol", "latin_hypercube", "sobol_indices", "direction_numbers_path", "normal_cdf",
           "normal_ppf", "lognormal_cdf", "lognormal_ppf"]

#: the number of dimensions of the direction-number table
MAXDIM = 21201
_MAXDEG = 18


def _child_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """The generator a ``scipy.stats.qmc`` engine draws from: a spawned child of
    ``np.random.default_rng(seed)`` (SciPy's ``_rng_spawn``)."""
    parent = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    bg = parent.bit_generator
    seq = bg.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise TypeError("a generator seeded by a SeedSequence is needed")
    return np.random.Generator(type(bg)(seq.spawn(1)[0]))


@lru_cache(maxsize=1)
def direction_numbers_path() -> Path | None:
    """The direction-number table SciPy ships (``scipy/stats/_sobol_direction_numbers.npz``),
    found without importing ``scipy.stats``; None when it is not there."""
    spec = importlib.util.find_spec("scipy")
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / "stats" / "_sobol_direction_numbers.npz"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _direction_table() -> tuple[np.ndarray, np.ndarray]:
    path = direction_numbers_path()
    if path is None:
        raise FileNotFoundError("scipy/stats/_sobol_direction_numbers.npz")
    with np.load(path) as dns:
        return np.asarray(dns["poly"]), np.asarray(dns["vinit"])


@lru_cache(maxsize=16)
def _direction_numbers(d: int, bits: int) -> np.ndarray:
    """``v[d, bits]``: the direction numbers of the first ``d`` dimensions, left-aligned to
    ``bits`` bits (Bratley & Fox 1988, § 2), as SciPy's ``_initialize_v`` computes them in
    32- or 64-bit unsigned integers."""
    dtype = np.uint32 if bits <= 32 else np.uint64
    mask = (1 << (32 if bits <= 32 else 64)) - 1
    poly_all, vinit_all = _direction_table()
    rows: list[list[int]] = []
    for dim in range(d):
        if dim == 0:
            rows.append([1] * bits)
            continue
        p = int(poly_all[dim])
        m = p.bit_length() - 1
        v = [int(x) & mask for x in vinit_all[dim, :m]][:bits]
        for j in range(m, bits):
            newv = v[j - m]
            pow2 = 1
            for k in range(m):
                pow2 <<= 1
                if (p >> (m - 1 - k)) & 1:
                    newv ^= (pow2 * v[j - k - 1]) & mask
            v.append(newv)
        rows.append(v)
    out = [[(x << (bits - 1 - j)) & mask for j, x in enumerate(r)] for r in rows]
    return np.array(out, dtype=dtype).reshape(d, bits)


def _scramble(v: np.ndarray, ltm: np.ndarray, bits: int) -> np.ndarray:
    """Left linear matrix scramble of the direction numbers (SciPy's ``_cscramble``): bit
    ``bits − 1 − p`` of the new ``v[d, j]`` is the parity of row ``p`` of the lower-triangular
    ``ltm[d]`` (unit diagonal, read most significant bit first) and ``v[d, j]``."""
    dtype = v.dtype.type
    d = v.shape[0]
    ltm = ltm.copy()
    idx = np.arange(bits)
    ltm[:, idx, idx] = 1
    shifts = np.arange(bits, dtype=dtype)
    vbits = ((v[:, :, None] >> shifts[None, None, :]) & dtype(1)).astype(np.float64)  # [d,j,k]
    lbits = ltm[:, :, ::-1].astype(np.float64)                                         # [d,p,k]
    # counts of at most 64 ones: exact in float64
    par = (np.matmul(vbits, lbits.transpose(0, 2, 1)).astype(np.int64) & 1).astype(dtype)
    weights = dtype(1) << np.arange(bits - 1, -1, -1, dtype=dtype)                  # by p
    out = np.zeros((d, bits), dtype=dtype)
    for p in range(bits):
        out |= par[:, :, p] * weights[p]
    return out


def sobol(d: int, n: int, seed: int | np.random.Generator, bits: int = 30) -> np.ndarray:
    """``n`` points of a scrambled Sobol' sequence in ``[0, 1)^d``, ``float64[n, d]``.

    Equal, bit for bit, to ``scipy.stats.qmc.Sobol(d, scramble=True, bits=bits,
    rng=seed).random(n)`` (for a Generator ``seed``: its spawned child, as SciPy does); its
    balance is best when ``n`` is a power of 2.
    """
    if not 0 <= d <= MAXDIM:
        raise ValueError(f"Sobol' sequences have at most {MAXDIM} dimensions, got {d}")
    if not 0 < bits <= 64:
        raise ValueError(f"bits must be 1 to 64, got {bits}")
    if n > 2 ** bits:
        raise ValueError(f"at most 2**{bits} points, got {n}")
    if direction_numbers_path() is None:    # a SciPy without the table as a file: its engine
        import warnings

        from scipy.stats import qmc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # n not a power of 2
            return qmc.Sobol(d, scramble=True, bits=bits, rng=seed).random(n)
    dtype = np.uint32 if bits <= 32 else np.uint64
    rng = _child_rng(seed)
    v = _direction_numbers(d, bits).copy()
    shift = np.dot(rng.integers(2, size=(d, bits), dtype=dtype),
                   2 ** np.arange(bits, dtype=dtype))
    ltm = np.tril(rng.integers(2, size=(d, bits, bits), dtype=dtype))
    v = _scramble(v, ltm, bits)
    scale = 1.0 / 2 ** bits
    if n == 0:
        return np.empty((0, d))
    # Gray-code order: point i is point i − 1 with the direction number of the lowest set bit
    # of i added (XOR); point 0 is the shift
    i = np.arange(1, n, dtype=np.int64)
    low = np.log2(i & -i).astype(np.int64)          # exact for powers of 2
    steps = np.empty((n, d), dtype=dtype)
    steps[0] = shift
    steps[1:] = v.T[low]
    return np.bitwise_xor.accumulate(steps, axis=0) * scale


def latin_hypercube(d: int, n: int, seed: int | np.random.Generator) -> np.ndarray:
    """``scipy.stats.qmc.LatinHypercube(d, rng=seed).random(n)``, bit for bit: each column a
    random permutation of the ``n`` strata, a uniform point in each."""
    rng = _child_rng(seed)
    u = rng.uniform(size=(n, d))
    perms = np.tile(np.arange(1, n + 1), (d, 1))
    for i in range(d):
        rng.shuffle(perms[i, :])
    return (perms.T - u) / n


def sobol_indices(func: Callable[[np.ndarray], np.ndarray], d: int, n: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total Sobol' indices of the outputs of ``func`` over ``d`` independent
    uniform inputs on [0, 1), from ``n·(d + 2)`` evaluations (``n`` a power of 2).

    ``func`` maps ``x[d, m]`` (m points) to ``y[s, m]`` (s outputs). A and B are the two
    halves of a scrambled Sobol' sample in 2d dimensions (64 bits); A_B^(i) is A with column
    i from B (Saltelli 2002). With f centred on the mean of f(A) and f(B), and V their
    variance, S_i = mean(f(B)·(f(A_B^(i)) − f(A))) / V (Saltelli et al. 2010, Table 2 (b)) and
    S_Ti = mean((f(A) − f(A_B^(i)))²) / (2V) (Jansen 1999; Saltelli et al. 2010, Table 2 (f)).
    Indices that are not finite (an output that does not vary) are 0. Equal, bit for bit, to
    ``scipy.stats.sobol_indices(func=func, n=n, dists=[uniform()] * d,
    rng=np.random.default_rng(seed))``.

    Returns
    -------
    first, total : float64[s, d]
    """
    if n <= 0 or n & (n - 1):
        raise ValueError(f"n must be a power of 2, got {n}")
    ab = sobol(2 * d, n, np.random.default_rng(seed), bits=64).T.reshape(2, d, -1)
    a, b = ab[0], ab[1]
    mats = np.tile(a, (d, 1, 1))
    i = np.arange(d)
    mats[i, i] = b[i]
    f_a = np.atleast_2d(func(a))
    f_b = np.atleast_2d(func(b))
    # all A_B^(i) in one call, point-major as SciPy evaluates them
    f_ab = np.atleast_2d(func(np.moveaxis(mats, 0, -1).reshape(d, n * d)))
    f_ab = np.moveaxis(f_ab.reshape((-1, n, d)), -1, 0)             # [d, s, n]
    mean = np.mean([f_a, f_b], axis=(0, -1)).reshape(-1, 1)
    f_a = f_a - mean
    f_b = f_b - mean
    f_ab = f_ab - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.var([f_a, f_b], axis=(0, -1))
        first = np.mean(f_b * (f_ab - f_a), axis=-1) / var
        total = 0.5 * np.mean((f_a - f_ab) ** 2, axis=-1) / var
    first, total = first.T, total.T
    first[~np.isfinite(first)] = 0
    total[~np.isfinite(total)] = 0
    return first, total


# --------------------------------------------------------------------------------------------
# the normal and lognormal distributions of ranges, with scipy.special (imported by a run
# anyway) rather than scipy.stats


def normal_cdf(x: np.ndarray | float, loc: float, scale: float) -> np.ndarray:
    """``scipy.stats.norm(loc, scale).cdf(x)`` bit for bit (``scale > 0``): Φ((x − loc)/scale)."""
    from scipy import special

    return np.asarray(special.ndtr(np.asarray((np.asarray(x) - loc) / scale, dtype=np.float64)))


def normal_ppf(q: np.ndarray | float, loc: float, scale: float) -> np.ndarray:
    """``scipy.stats.norm(loc, scale).ppf(q)`` bit for bit (``scale > 0``, q in [0, 1]):
    Φ⁻¹(q)·scale + loc, −∞ and +∞ at 0 and 1."""
    from scipy import special

    return np.asarray(special.ndtri(np.asarray(q, dtype=np.float64)) * scale + loc)


def lognormal_cdf(x: np.ndarray | float, s: float, scale: float) -> np.ndarray:
    """``scipy.stats.lognorm(s, scale=scale).cdf(x)`` bit for bit (``s, scale > 0``):
    Φ(ln(x/scale)/s), 0 for x ≤ 0."""
    from scipy import special

    z = np.asarray(np.asarray(x) / scale, dtype=np.float64)
    out = np.zeros(z.shape)
    pos = z > 0
    with np.errstate(divide="ignore"):
        out[pos] = special.ndtr(np.log(z[pos]) / s)
    return out


def lognormal_ppf(q: np.ndarray | float, s: float, scale: float) -> np.ndarray:
    """``scipy.stats.lognorm(s, scale=scale).ppf(q)`` bit for bit (``s, scale > 0``, q in
    [0, 1]): exp(s·Φ⁻¹(q))·scale, 0 and +∞ at 0 and 1."""
    from scipy import special

    qa = np.asarray(q, dtype=np.float64)
    out = np.exp(s * special.ndtri(qa)) * scale + 0.0
    return np.where(qa == 0, 0.0, out)
