"""Soil conservation (METHOD.md service 3): RUSLE retention, sediment and nutrient values.

Soil retained is potential minus actual soil loss of the Revised Universal Soil Loss Equation
(Renard et al. 1997), as used by Ouyang et al. (2013) and the NDRC & NBS (2022) specification:

    q_sr = R · K · LS · (1 − C · P)                      [t ha⁻¹ a⁻¹]

Its value has two parts, both replacement costs:

    sediment volume  v_sd = q_sr · λ/ρ                   [m³ ha⁻¹ a⁻¹]
    sediment value   V_sd = v_sd · c                     [yuan ha⁻¹ a⁻¹]
    fertilizer       f_j  = q_sr · C_j · 10⁻³ · α_j      [t ha⁻¹ a⁻¹], j ∈ {N, P, K}
    nutrient value   V_j  = f_j · p_j                    [yuan ha⁻¹ a⁻¹]

All functions are per-hectare densities; totals are density × pixel area (ha).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def soil_retention(r: float, k: float, ls: float, c: float, p: float) -> float:
    """RUSLE soil retention, potential minus actual soil loss.

    Parameters
    ----------
    r : float
        Rainfall erosivity R, MJ mm ha⁻¹ h⁻¹ a⁻¹.
    k : float
        Soil erodibility K, t ha h ha⁻¹ MJ⁻¹ mm⁻¹.
    ls : float
        Slope length-steepness factor LS, dimensionless.
    c, p : float
        Cover-management C and support-practice P, dimensionless, in [0, 1].

    Returns
    -------
    float
        Soil retained q_sr = R K LS (1 − C P), t ha⁻¹ a⁻¹.
    """
    return r * k * ls * (1.0 - c * p)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sediment_volume(q_sr: float, lambda_over_rho: float) -> float:
    """Sediment kept out of reservoirs, v = q_sr · λ/ρ (m³ ha⁻¹ a⁻¹; λ/ρ in m³ t⁻¹)."""
    return q_sr * lambda_over_rho


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def fertilizer_equivalent(q_sr: float, content_g_per_kg: float, factor: float) -> float:
    """Fertilizer equivalent of a nutrient kept in the soil, q_sr · C_j · 10⁻³ · α_j (t ha⁻¹ a⁻¹).

    ``content_g_per_kg`` is the soil nutrient content C_j in g kg⁻¹ (10⁻³ turns it into a mass
    fraction); ``factor`` is α_j, t fertilizer per t nutrient.
    """
    return q_sr * content_g_per_kg * 1.0e-3 * factor
