"""Cover-management factor C from NDVI: fractional vegetation cover (Cai et al. 2000) and the
exponential form of van der Knijff et al. (2000).

Pure NumPy functions on arrays of any shape; NaN in, NaN out. C is dimensionless, in [0, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = ["fractional_cover", "cai2000", "van_der_knijff2000", "CAI_A", "CAI_B",
           "CAI_FULL_COVER_PCT", "KNIJFF_ALPHA", "KNIJFF_BETA"]

#: Cai et al. (2000): C = CAI_A − CAI_B · log10(f), f in %, for 0 < f < 78.3 % (the break is
#: where the branch reaches 0: 10^(CAI_A / CAI_B) = 78.35 %)
CAI_A = 0.6508
CAI_B = 0.3436
CAI_FULL_COVER_PCT = 78.3
#: van der Knijff et al. (2000): C = exp(−α · NDVI / (β − NDVI)), their α and β
KNIJFF_ALPHA = 2.0
KNIJFF_BETA = 1.0


def fractional_cover(ndvi: np.ndarray, ndvi_soil: float, ndvi_veg: float) -> np.ndarray:
    """Fractional vegetation cover from NDVI by the two end-member (dimidiate pixel) model:

    .. math::

        f_c = \\mathrm{clip}\\left(\\frac{NDVI - NDVI_{soil}}{NDVI_{veg} - NDVI_{soil}},\\;
        0,\\; 1\\right)

    Parameters
    ----------
    ndvi : numpy.ndarray
        NDVI, dimensionless, in [−1, 1].
    ndvi_soil, ndvi_veg : float
        NDVI of bare soil and of full vegetation cover (the end members; ndvi_soil < ndvi_veg).

    Returns
    -------
    numpy.ndarray
        f_c, fraction in [0, 1]; NaN where NDVI is NaN.
    """
    v = np.asarray(ndvi, dtype=np.float64)
    fc = (v - ndvi_soil) / (ndvi_veg - ndvi_soil)
    return np.clip(fc, 0.0, 1.0)


def cai2000(ndvi: np.ndarray, ndvi_soil: float, ndvi_veg: float) -> np.ndarray:
    """C from fractional vegetation cover f (%, :func:`fractional_cover` × 100), Cai Chongfa
    et al. (2000):

    .. math::

        C = 1 \\; (f = 0), \\qquad C = 0.6508 - 0.3436 \\log_{10} f \\; (0 < f < 78.3\\,\\%),
        \\qquad C = 0 \\; (f \\ge 78.3\\,\\%)

    For 0 < f < 0.0963 % the logarithm gives more than 1; C is capped at 1 there, the value of
    bare soil (C is at most 1 by definition).

    Verification status (docs/METHOD.md § 9.3): the citation's journal, year, volume, pages,
    Chinese title and first three authors are confirmed by a citing paper's reference list; the
    paper itself was not read. The break follows from the coefficients: the logarithmic branch
    is 0 at f = 10^(0.6508/0.3436) = 78.35 %, so f is in percent (as a fraction the branch would
    still be 0.687 at 0.783).

    Parameters
    ----------
    ndvi : numpy.ndarray
        NDVI, dimensionless, in [−1, 1].
    ndvi_soil, ndvi_veg : float
        End members of :func:`fractional_cover`.

    Returns
    -------
    numpy.ndarray
        C, dimensionless, in [0, 1]; NaN where NDVI is NaN.

    References
    ----------
    Cai Chongfa, Ding Shuwen, Shi Zhihua, et al. (2000). Study of applying USLE and
    geographical information system IDRISI to predict soil erosion in small watershed
    (应用USLE模型与地理信息系统IDRISI预测小流域土壤侵蚀量的研究). Journal of Soil and Water
    Conservation (水土保持学报) 14(2), 19–24.
    """
    f = 100.0 * fractional_cover(ndvi, ndvi_soil, ndvi_veg)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = CAI_A - CAI_B * np.log10(f)
    c = np.where(f >= CAI_FULL_COVER_PCT, 0.0, np.minimum(c, 1.0))
    return np.where(np.isnan(f), np.nan, np.where(f <= 0.0, 1.0, c))


def van_der_knijff2000(ndvi: np.ndarray, alpha: float = KNIJFF_ALPHA,
                       beta: float = KNIJFF_BETA) -> np.ndarray:
    """C from NDVI by the exponential scaling of van der Knijff et al. (2000):

    .. math::

        C = \\exp\\left(-\\alpha \\, \\frac{NDVI}{\\beta - NDVI}\\right),
        \\qquad \\alpha = 2, \\; \\beta = 1

    clipped to [0, 1]: NDVI ≥ β gives 0 (the limit as NDVI → β), NDVI < 0 (water, bare
    rock, snow) gives 1.

    Parameters
    ----------
    ndvi : numpy.ndarray
        NDVI, dimensionless, in [−1, 1].
    alpha, beta : float
        Shape parameters (published values 2 and 1).

    Returns
    -------
    numpy.ndarray
        C, dimensionless, in [0, 1]; NaN where NDVI is NaN.

    References
    ----------
    van der Knijff, J.M., Jones, R.J.A., Montanarella, L. (2000). Soil erosion risk assessment
    in Europe. EUR 19044 EN, European Soil Bureau, JRC Ispra.
    """
    v = np.asarray(ndvi, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = np.exp(-alpha * v / (beta - v))
    c = np.where(v >= beta, 0.0, c)
    return np.where(np.isnan(v), np.nan, np.clip(c, 0.0, 1.0))
