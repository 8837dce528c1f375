"""Landscape / aesthetic value (METHOD.md service 8): equivalent-factor method.

    V_land = E · k · Pa·Pb          [yuan ha⁻¹ a⁻¹]

E is the land type's equivalent factor, k = 1/7 the value of one factor as a share of the grain
output value per ha, Pa·Pb the grain output value per ha (price yuan kg⁻¹ × yield kg ha⁻¹ a⁻¹).
No physical quantity.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def landscape_value(factor: float, coefficient: float, grain_value_per_ha: float) -> float:
    """Landscape value per ha, E · k · Pa·Pb (yuan ha⁻¹ a⁻¹)."""
    return factor * coefficient * grain_value_per_ha
