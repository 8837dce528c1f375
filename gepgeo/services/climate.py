"""Climate regulation (METHOD.md service 7): air-conditioning energy replaced.

    Q_cl = H · d / (3600 · EER)     [kWh ha⁻¹ a⁻¹]   (H in kJ ha⁻¹ d⁻¹; 3600 kJ kWh⁻¹)
    V_cl = Q_cl · p_elec            [yuan ha⁻¹ a⁻¹]
"""

from __future__ import annotations

from numba import njit

KJ_PER_KWH = 3600.0


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def cooling_energy(heat_kj: float, days: float, eer: float) -> float:
    """Electricity an air conditioner would use to remove the heat, H d / (3600 EER)
    (kWh ha⁻¹ a⁻¹)."""
    return heat_kj * days / (KJ_PER_KWH * eer)
