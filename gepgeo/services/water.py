"""Water conservation (METHOD.md service 2): water balance, valued at a replacement cost.

    depth  = P − R − ET,  with R = P · α (runoff coefficient) or a runoff layer   [mm a⁻¹]
    Q_wr   = depth · 10⁻³ m mm⁻¹ · 10⁴ m² ha⁻¹ = 10 · depth                       [m³ ha⁻¹ a⁻¹]
    V_wr   = Q_wr · C_w                                                            [yuan ha⁻¹ a⁻¹]

A negative depth is a water deficit: clamped to 0 by default and counted, or kept signed on
request (``water_deficit: signed``).
"""

from __future__ import annotations

from numba import njit

#: m³ of water per ha per mm of depth: 10⁻³ m mm⁻¹ × 10⁴ m² ha⁻¹.
M3_PER_HA_PER_MM = 10.0


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def balance_depth(precipitation: float, runoff: float, evapotranspiration: float) -> float:
    """Net water conservation depth P − R − ET (mm a⁻¹); may be negative (a deficit)."""
    return precipitation - runoff - evapotranspiration


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def water_volume(depth_mm: float) -> float:
    """Water conserved per ha, 10 · depth (m³ ha⁻¹ a⁻¹) for a depth in mm a⁻¹."""
    return depth_mm * M3_PER_HA_PER_MM
