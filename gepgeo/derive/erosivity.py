"""Rainfall erosivity R from precipitation: monthly (modified Fournier index) and annual.

Pure NumPy functions on arrays of any shape (a block of a run, or a whole grid); NaN in,
NaN out. Every function returns R in gepgeo's unit of R, MJ mm ha⁻¹ h⁻¹ a⁻¹
(:data:`gepgeo.units.UNIT_FAMILIES` ``erosivity``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["US_TO_SI_R", "FOURNIER_A", "FOURNIER_B", "fournier_monthly", "modified_fournier_index",
           "renard_freimund_annual", "RF_BREAK_MM"]

#: hundreds of ft·tonf·in acre⁻¹ h⁻¹ a⁻¹ → MJ mm ha⁻¹ h⁻¹ a⁻¹ (Renard et al. 1997, AH 703;
#: the factor of ``gepgeo.units``' ``US`` erosivity)
US_TO_SI_R = 17.02
#: coefficient and exponent offset of the monthly Fournier relation (FAO 1979, after Arnoldus
#: 1977): R_US = Σ FOURNIER_A · 10^(1.5 · log10(p_i² / P) − FOURNIER_B). Not verified against
#: the primary texts; the literature also prints 0.08188 with R read as SI (a factor 3.119
#: lower): see fournier_monthly and docs/METHOD.md § 9.1.
FOURNIER_A = 1.735
FOURNIER_B = 0.8188
#: annual precipitation (mm) where Renard & Freimund (1994) switch from the power law to the
#: quadratic
RF_BREAK_MM = 850.0


def modified_fournier_index(monthly: np.ndarray) -> np.ndarray:
    """Modified Fournier index (Arnoldus 1980): F = Σ_i p_i² / P, mm.

    Parameters
    ----------
    monthly : numpy.ndarray
        Monthly precipitation, mm, months along axis 0 (12, ...); ≥ 0.

    Returns
    -------
    numpy.ndarray
        F, mm (0 where P = 0); NaN where any month is NaN.
    """
    p = np.asarray(monthly, dtype=np.float64)
    total = p.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (p * p).sum(axis=0) / total
    return np.where(total == 0.0, 0.0, f)


def fournier_monthly(monthly: np.ndarray) -> np.ndarray:
    """R from 12 monthly precipitation totals, the modified-Fournier relation of the FAO
    (1979) methodology after Arnoldus (1977), as applied in Wischmeier–Smith USLE practice.

    .. math::

        R_{US} = \\sum_{i=1}^{12} 1.735 \\cdot 10^{\\,1.5 \\log_{10}(p_i^2 / P) - 0.8188},
        \\qquad R = 17.02 \\, R_{US}

    with p_i the precipitation of month i (mm), P = Σ p_i the annual total (mm), R_US in
    hundreds of ft·tonf·in acre⁻¹ h⁻¹ a⁻¹ and R in MJ mm ha⁻¹ h⁻¹ a⁻¹ (×17.02, Renard et al.
    1997). A dry month (p_i = 0) adds 0 (the limit of its term, ∝ p_i³); a dry year gives 0.
    Evaluated as 1.735 · 10^−0.8188 · (p_i²/P)^1.5, the same value.

    Verification status (see docs/METHOD.md § 9.1): NOT verified against the FAO (1979) or
    Arnoldus (1977) text, which were not found in the sources searched. The relation circulates
    in two forms: offset −0.8188 with R in US units (then × 17.02, the form used here) and
    offset −0.08188 with R read directly as SI. The two readings differ by a constant factor
    17.02 · 10^−0.8188 / 10^−0.08188 = 3.119 (the −0.8188 reading is the larger). No station
    with published monthly precipitation and published R under this relation was found to
    decide between them, so the choice stays open; the −0.8188 / US-units reading is kept.

    Parameters
    ----------
    monthly : numpy.ndarray
        Monthly precipitation, mm, months along axis 0 (12, ...); ≥ 0.

    Returns
    -------
    numpy.ndarray
        R, MJ mm ha⁻¹ h⁻¹ a⁻¹, float64; NaN where any month is NaN.

    References
    ----------
    Arnoldus, H.M.J. (1977). Methodology used to determine the maximum potential average annual
    soil loss due to sheet and rill erosion in Morocco. FAO Soils Bulletin 34, 39–51.
    FAO (1979). A provisional methodology for soil degradation assessment. Rome.
    Renard, K.G. et al. (1997). Predicting soil erosion by water (RUSLE). USDA AH 703.
    """
    p = np.asarray(monthly, dtype=np.float64)
    flat = np.ascontiguousarray(p.reshape(p.shape[0], -1))
    return _fournier_kernel(flat, FOURNIER_A * 10.0 ** (-FOURNIER_B),
                            US_TO_SI_R).reshape(p.shape[1:])


@njit(cache=True, nogil=True)
def _fournier_kernel(p: np.ndarray, coef: float, to_si: float) -> np.ndarray:  # pragma: no cover
    """:func:`fournier_monthly` on (months, pixels), month by month along the contiguous pixels
    (numba; the NumPy form made four temporaries of the 12 months and ran 8 times slower)."""
    nm, n = p.shape
    total = np.zeros(n)
    for i in range(nm):
        for j in range(n):
            total[j] += p[i, j]
    r = np.zeros(n)
    for i in range(nm):
        for j in range(n):
            if total[j] > 0.0:
                ratio = p[i, j] * p[i, j] / total[j]
                r[j] += coef * ratio * np.sqrt(ratio)
    for j in range(n):
        r[j] = np.nan if np.isnan(total[j]) else to_si * r[j]
    return r


def renard_freimund_annual(annual: np.ndarray) -> np.ndarray:
    """R from annual precipitation P (Renard & Freimund 1994, their eqs. for the contiguous
    USA):

    .. math::

        R = 0.0483 \\, P^{1.610} \\quad (P \\le 850\\,\\mathrm{mm}), \\qquad
        R = 587.8 - 1.219 \\, P + 0.004105 \\, P^2 \\quad (P > 850\\,\\mathrm{mm})

    Parameters
    ----------
    annual : numpy.ndarray
        Annual precipitation, mm a⁻¹; ≥ 0.

    Returns
    -------
    numpy.ndarray
        R, MJ mm ha⁻¹ h⁻¹ a⁻¹, float64; NaN where P is NaN.

    References
    ----------
    Renard, K.G., Freimund, J.R. (1994). Using monthly precipitation data to estimate the
    R-factor in the revised USLE. Journal of Hydrology 157, 287–306.
    """
    p = np.asarray(annual, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        low = 0.0483 * np.power(p, 1.610)
    high = 587.8 - 1.219 * p + 0.004105 * p * p
    return np.where(p > RF_BREAK_MM, high, low)

