"""Soil erodibility K from soil texture and organic carbon: EPIC and its China correction.

Pure NumPy functions on arrays of any shape; NaN in, NaN out. K is returned in gepgeo's unit
of K, t ha h ha⁻¹ MJ⁻¹ mm⁻¹ (:data:`gepgeo.units.UNIT_FAMILIES` ``erodibility``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["US_TO_SI_K", "ZHANG_A", "ZHANG_B", "epic_k_us", "epic", "epic_zhang2007",
           "texture_out_of_domain"]

#: short ton acre h (hundreds of acre ft tonf in)⁻¹ → t ha h ha⁻¹ MJ⁻¹ mm⁻¹ (Renard et al.
#: 1997; the factor of ``gepgeo.units``' ``US`` erodibility)
US_TO_SI_K = 0.1317
#: Zhang Keli et al. (2007): K = ZHANG_A + ZHANG_B · K_EPIC, both in US units (coefficients as
#: in independent public implementations; the paper itself not checked, METHOD.md § 9.2)
ZHANG_A = -0.01383
ZHANG_B = 0.51575


def epic_k_us(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray,
              organic_carbon: np.ndarray) -> np.ndarray:
    """K of the EPIC model (Sharpley & Williams 1990; Williams 1995), US customary units.

    .. math::

        K_{EPIC} = \\left[0.2 + 0.3\\,e^{-0.0256\\,SAN\\,(1 - SIL/100)}\\right]
        \\left[\\frac{SIL}{CLA + SIL}\\right]^{0.3}
        \\left[1 - \\frac{0.25\\,C}{C + e^{3.72 - 2.95\\,C}}\\right]
        \\left[1 - \\frac{0.7\\,SN_1}{SN_1 + e^{-5.51 + 22.9\\,SN_1}}\\right],
        \\qquad SN_1 = 1 - SAN/100

    Parameters
    ----------
    sand, silt, clay : numpy.ndarray
        SAN, SIL, CLA: sand (0.05–2 mm), silt (0.002–0.05 mm) and clay (< 0.002 mm) contents,
        % by mass, in [0, 100].
    organic_carbon : numpy.ndarray
        C: organic carbon content, % by mass, ≥ 0.

    Returns
    -------
    numpy.ndarray
        K_EPIC, short ton acre h (hundreds of acre ft tonf in)⁻¹, float64. Where SIL + CLA = 0
        (pure sand) the texture term SIL/(CLA + SIL) is taken as 0, its limit along SIL = 0.

    References
    ----------
    Sharpley, A.N., Williams, J.R. (eds.) (1990). EPIC — Erosion/Productivity Impact
    Calculator: 1. Model documentation. USDA Technical Bulletin 1768.
    Williams, J.R. (1995). The EPIC model. In: Singh, V.P. (ed.), Computer Models of Watershed
    Hydrology, Water Resources Publications, 909–1000.
    """
    san = np.asarray(sand, dtype=np.float64)
    sil = np.asarray(silt, dtype=np.float64)
    cla = np.asarray(clay, dtype=np.float64)
    c = np.asarray(organic_carbon, dtype=np.float64)
    f_csand = 0.2 + 0.3 * np.exp(-0.0256 * san * (1.0 - sil / 100.0))
    fines = cla + sil
    with np.errstate(invalid="ignore", divide="ignore"):
        f_clsi = np.where(fines > 0.0, (sil / fines) ** 0.3,
                          np.where(np.isnan(fines), np.nan, 0.0))
    f_orgc = 1.0 - 0.25 * c / (c + np.exp(3.72 - 2.95 * c))
    sn1 = 1.0 - san / 100.0
    f_hisand = 1.0 - 0.7 * sn1 / (sn1 + np.exp(-5.51 + 22.9 * sn1))
    return f_csand * f_clsi * f_orgc * f_hisand


def texture_out_of_domain(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray,
                          organic_carbon: np.ndarray) -> np.ndarray:
    """Where an input is outside its domain: a fraction outside [0, 100] %, or negative organic
    carbon (NaN, nodata, is not out of domain)."""
    bad = np.zeros(np.broadcast(sand, silt, clay, organic_carbon).shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for f in (sand, silt, clay):
            f = np.asarray(f, dtype=np.float64)
            bad |= (f < 0.0) | (f > 100.0)
        bad |= np.asarray(organic_carbon, dtype=np.float64) < 0.0
    return bad


def epic(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray,
         organic_carbon: np.ndarray) -> np.ndarray:
    """EPIC K in SI units: K = 0.1317 · K_EPIC (:func:`epic_k_us`), t ha h ha⁻¹ MJ⁻¹ mm⁻¹.

    Inputs as :func:`epic_k_us` (%, by mass)."""
    return US_TO_SI_K * epic_k_us(sand, silt, clay, organic_carbon)


def epic_zhang2007(sand: np.ndarray, silt: np.ndarray, clay: np.ndarray,
                   organic_carbon: np.ndarray) -> np.ndarray:
    """EPIC K corrected to runoff-plot K of Chinese soils (Zhang Keli et al. 2007), SI units:

    .. math::

        K = 0.1317 \\, (-0.01383 + 0.51575 \\, K_{EPIC})

    with K_EPIC in US units (:func:`epic_k_us`). The regression is negative for
    K_EPIC < 0.02682 (US units); such a K is left as it is, outside K's domain, so that a run
    refuses it (``domain: error``) or leaves the pixel out (``domain: mask``).

    Verification status (docs/METHOD.md § 9.2): the coefficients and the form — regression on
    K_EPIC in US units, then × 0.1317 — match independent public implementations of the
    correction; read in SI instead, the intercept would make every K_EPIC below 0.027 negative.
    The paper itself was not found in the sources searched: the citation below is unchecked.

    References
    ----------
    Zhang Keli, Peng Wenying, Yang Hongli (2007). Soil erodibility and its estimation for
    agricultural soils in China (中国土壤可蚀性值及其估算). Acta Pedologica Sinica 44(1), 7–13.
    """
    return US_TO_SI_K * (ZHANG_A + ZHANG_B * epic_k_us(sand, silt, clay, organic_carbon))
