"""Carbon fixation and oxygen release (METHOD.md services 5 and 6).

    Cf    = rate · (1 + β)          [t C ha⁻¹ a⁻¹]   (β: forest soil coefficient, 0 elsewhere)
    Q_CO2 = k · Cf                  [t CO2 ha⁻¹ a⁻¹] (k = 44/12 unless the profile sets it)
    V_C   = Q_CO2 · p_CO2           [yuan ha⁻¹ a⁻¹]
    Q_O2  = (32/44) · Q_CO2         [t O2 ha⁻¹ a⁻¹]  (same carbon basis as fixation)
    V_O2  = Q_O2 · p_O2             [yuan ha⁻¹ a⁻¹]
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def carbon_fixed(rate: float, beta: float) -> float:
    """Carbon fixed, rate · (1 + β) (t C ha⁻¹ a⁻¹)."""
    return rate * (1.0 + beta)
