"""The RUSLE slope-length factor L and slope-steepness factor S, as scalar functions of a cell's
slope angle θ (degrees) and slope length λ (metres).

    L = (λ / 22.13)^m                                  (Wischmeier & Smith 1978; McCool et al. 1989)
    S = 10.8 sin θ + 0.03     θ < b₁                    (McCool et al. 1987)
        16.8 sin θ − 0.50     b₁ ≤ θ < b₂               (McCool et al. 1987)
        21.91 sin θ − 0.96    θ ≥ b₂                    (Liu et al. 1994)

22.13 m (72.6 ft) is the length of the unit plot. McCool et al. (1987) have one break, a 9 %
gradient; Liu et al. (1994) fitted S = 21.91 sin θ − 0.96 on slopes of 9–55 %, with no break of
their own: 18 % is the usual threshold of that branch in applications. The slope breaks b₁, b₂
are parameters (:data:`S_BREAKS`):

``5deg/10deg`` (default)
    5° / 10°, the practice of Chinese RUSLE / CSLE studies (e.g. Liu Baoyuan et al. 2002;
    LS-TOOL, Zhang et al. 2013).
``9%/18%``
    McCool's 9 % break, Liu's branch from 18 % (5.142765° / 10.203974°, computed as atan; the
    AML, which has no Liu branch, writes the literal 5.1428°).
``5deg/14deg``
    5° / 14°: no source found; kept for users who need it.

The exponent m comes from one of three tables (:data:`M_TABLES`):

``mccool`` (default)
    m = β / (1 + β), β = (sin θ / 0.0896) / (3 sin^0.8 θ + 0.56): McCool et al. (1989), the
    moderate rill-to-interrill ratio of RUSLE (McCool et al. 1997, eq. 4-5), the L of LS-TOOL.
``wischmeier_smith``
    m = 0.2 below a 1 % gradient, 0.3 from 1 % to 3 %, 0.4 above 3 % and below 5 %, 0.5 at 5 % and
    above. Wischmeier & Smith (1978, AH 537) give 0.5 "if the percent slope is 5 or more",
    0.4 on 3.5–4.5 %, 0.3 on 1–3 % and 0.2 below 1 %; the gaps (3–3.5 %, 4.5–5 %) go to 0.4, as
    usual in GIS practice.
``van_remortel``
    The table of the RUSLE AML of Van Remortel et al. (2001, 2004): McCool et al. (1997) Table
    4-5 for a low rill-to-interrill ratio (rangeland, woodland) with its end members extended,
    by slope angle in degrees (0.01 at θ ≤ 0.1° up to 0.56 at θ ≥ 37.2°).

Every function is a numba scalar function (``cache=True, nogil=True``), used by the per-cell
kernels of :mod:`gepgeo.terrain.flowpath`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["UNIT_PLOT_M", "M_TABLES", "S_BREAKS", "DEFAULT_S_BREAKS", "RAD2DEG", "DEG2RAD",
           "gradient_deg", "slope_length_exponent", "l_factor", "s_factor", "s_breaks",
           "m_table_code"]

#: length of the RUSLE unit plot, m (72.6 ft)
UNIT_PLOT_M = 22.13

#: degrees per radian and radians per degree (one constant each, so that every caller
#: converts with the same multiplication)
RAD2DEG = 180.0 / math.pi
DEG2RAD = math.pi / 180.0

#: the m tables by name → the code the kernels take
M_TABLES: dict[str, int] = {"mccool": 0, "wischmeier_smith": 1, "van_remortel": 2}


def gradient_deg(percent: float) -> float:
    """The slope angle, degrees, of a gradient in percent (atan(percent / 100))."""
    return math.atan(percent / 100.0) * RAD2DEG


#: the S slope breaks (b₁, b₂) by name, degrees
S_BREAKS: dict[str, tuple[float, float]] = {
    "5deg/10deg": (5.0, 10.0),
    "9%/18%": (gradient_deg(9.0), gradient_deg(18.0)),
    "5deg/14deg": (5.0, 14.0),
}

#: the default S breaks: 5° / 10°, the practice of Chinese RUSLE / CSLE studies (module docstring)
DEFAULT_S_BREAKS = "5deg/10deg"

# the van_remortel table: m for θ below each bound (degrees), the last one above all bounds
# (RUSLE_LS_4_PC.AML; McCool et al. 1997 Table 4-5, low rill/interrill ratio). The AML's first
# class is θ ≤ 0.1° (m = 0.01), then θ < 0.2° (0.02) and so on.
_VR_BOUNDS = np.array([0.2, 0.4, 0.85, 1.4, 2.0, 2.6, 3.1, 3.7, 5.2, 6.3, 7.4, 8.6, 10.3, 12.9,
                       15.7, 20.0, 25.8, 31.5, 37.2])
_VR_M = np.array([0.02, 0.04, 0.08, 0.14, 0.18, 0.22, 0.25, 0.28, 0.32, 0.35, 0.37, 0.40, 0.41,
                  0.44, 0.47, 0.49, 0.52, 0.54, 0.55, 0.56])


def m_table_code(name: str) -> int:
    """The kernel code of the m table ``name`` (:data:`M_TABLES`); KeyError if unknown."""
    return M_TABLES[name]


def s_breaks(name: str) -> tuple[float, float]:
    """The S slope breaks (b₁, b₂), degrees, of the variant ``name`` (:data:`S_BREAKS`)."""
    return S_BREAKS[name]


@njit(cache=True, nogil=True)
def slope_length_exponent(theta_deg: float, table: int) -> float:
    """The slope-length exponent m of a cell.

    Parameters
    ----------
    theta_deg : float
        Slope angle θ, degrees (> 0).
    table : int
        0 ``mccool`` (β/(1+β), McCool et al. 1989), 1 ``wischmeier_smith`` (0.2/0.3/0.4/0.5 by
        percent gradient, Wischmeier & Smith 1978), 2 ``van_remortel`` (McCool et al. 1997
        Table 4-5 as in Van Remortel et al.'s AML); see the module docstring.

    Returns
    -------
    float
        m, dimensionless.
    """
    return exponent_of_sine(math.sin(theta_deg * DEG2RAD), theta_deg, table)


@njit(cache=True, nogil=True)
def exponent_of_sine(s: float, theta_deg: float, table: int) -> float:
    """:func:`slope_length_exponent` given also ``s`` = sin θ (the kernel computes it once for
    m and S)."""
    if table == 0:
        beta = (s / 0.0896) / (3.0 * s ** 0.8 + 0.56)
        return beta / (1.0 + beta)
    if table == 1:
        pct = math.tan(theta_deg * DEG2RAD) * 100.0
        if pct < 1.0:
            return 0.2
        if pct <= 3.0:
            return 0.3
        if pct < 5.0:
            return 0.4
        return 0.5
    if theta_deg <= 0.1:
        return 0.01
    for i in range(_VR_BOUNDS.size):
        if theta_deg < _VR_BOUNDS[i]:
            return _VR_M[i]
    return _VR_M[_VR_M.size - 1]


@njit(cache=True, nogil=True)
def l_factor(length_m: float, m: float) -> float:
    """Slope-length factor L = (λ / 22.13)^m (λ: horizontal slope length, m; m: exponent);
    dimensionless (Wischmeier & Smith 1978; McCool et al. 1997 eq. 4-1)."""
    return (length_m / UNIT_PLOT_M) ** m


@njit(cache=True, nogil=True)
def s_factor(theta_deg: float, b1_deg: float, b2_deg: float) -> float:
    """Slope-steepness factor S, dimensionless.

    ``10.8 sin θ + 0.03`` for θ < b₁ and ``16.8 sin θ − 0.50`` for b₁ ≤ θ < b₂ (McCool et al.
    1987, whose one break is a 9 % gradient), ``21.91 sin θ − 0.96`` for θ ≥ b₂ (Liu et al.
    1994, fitted on 9–55 % slopes). θ, b₁, b₂ in degrees.
    """
    return steepness_of_sine(math.sin(theta_deg * DEG2RAD), theta_deg, b1_deg, b2_deg)


@njit(cache=True, nogil=True)
def steepness_of_sine(s: float, theta_deg: float, b1_deg: float, b2_deg: float) -> float:
    """:func:`s_factor` given also ``s`` = sin θ."""
    if theta_deg < b1_deg:
        return 10.8 * s + 0.03
    if theta_deg < b2_deg:
        return 16.8 * s - 0.50
    return 21.91 * s - 0.96
