"""Soil conservation (method service 3): RUSLE retention, sediment and nutrient values.

Soil retained is potential minus actual soil loss of the Revised Universal Soil Loss Equation
(Renard et al. 1997), as used by Ouyang et al. (2013) and the NDRC & NBS (2022) specification:

    q_sr = R · K · LS · (1 − C · P)                      [t ha⁻¹ a⁻¹]

Its value has two parts, both replacement costs:

    sediment volume  v_sd = q_sr · λ/ρ                   [m³ ha⁻¹ a⁻¹]
    sediment value   V_sd = v_sd · c                     [yuan ha⁻¹ a⁻¹]
    fertilizer       f_j  = q_sr · C_j · 10⁻³ · α_j      [t ha⁻¹ a⁻¹], j ∈ {N, P, K}
    nutrient value   V_j  = f_j · p_j                    [yuan ha⁻¹ a⁻¹]
    soil value       V_s  = V_sd + V_N + V_P + V_K       [yuan ha⁻¹ a⁻¹]

λ/ρ is given as one ratio or as λ and ρ; the K nutrient counts only when its soil content is
given. All functions are per-hectare densities; totals are density × pixel area (ha).
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Linear, Measure, ParameterSpec, Service, Step, Variant
from .common import given, scalar, times, total4

__all__ = ["SERVICE", "soil_retention", "sediment_volume", "fertilizer_equivalent", "ratio"]


@scalar
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


@scalar
def ratio(lam: float, rho: float) -> float:
    """λ/ρ from the deposition coefficient λ (1) and the bulk density ρ (t m⁻³), m³ t⁻¹."""
    return lam / rho


@scalar
def sediment_volume(q_sr: float, lambda_over_rho: float) -> float:
    """Sediment kept out of reservoirs, v = q_sr · λ/ρ (m³ ha⁻¹ a⁻¹; λ/ρ in m³ t⁻¹)."""
    return q_sr * lambda_over_rho


@scalar
def fertilizer_equivalent(q_sr: float, content_g_per_kg: float, factor: float) -> float:
    """Fertilizer equivalent of a nutrient kept in the soil, q_sr · C_j · 10⁻³ · α_j (t ha⁻¹ a⁻¹).

    ``content_g_per_kg`` is the soil nutrient content C_j in g kg⁻¹ (10⁻³ turns it into a mass
    fraction); ``factor`` is α_j, t fertilizer per t nutrient.
    """
    return q_sr * content_g_per_kg * 1.0e-3 * factor


_P = ParameterSpec
_K = ("soil_k_content", "k_to_fertilizer_factor", "k_fertilizer_price")

SERVICE = Service(
    name="soil", title="Soil conservation", category="regulating", module=__name__,
    parameters=(
        _P("rainfall_erosivity_r", "R", "erosivity", "MJ mm ha-1 h-1 a-1", 0, INF,
           "RUSLE rainfall erosivity"),
        _P("soil_erodibility_k", "K", "erodibility", "t ha h ha-1 MJ-1 mm-1", 0, INF,
           "RUSLE soil erodibility"),
        _P("slope_length_steepness_ls", "LS", "dimensionless", "1", 0, INF,
           "RUSLE slope length-steepness factor"),
        _P("cover_management_c", "C", "dimensionless", "1", 0, 1,
           "RUSLE cover-management factor"),
        _P("support_practice_p", "P", "dimensionless", "1", 0, 1,
           "RUSLE support-practice factor"),
        _P("lambda_over_rho", "λ/ρ", "m3_per_t", "m3 t-1", 0, INF,
           "sediment accumulation coefficient over soil bulk density (wins over λ and ρ)"),
        _P("sediment_deposition_coefficient_lambda", "λ", "dimensionless", "1", 0, 1,
           "share of eroded soil that settles in reservoirs"),
        _P("soil_bulk_density_rho", "ρ", "t_per_m3", "t m-3", 1e-9, INF, "soil bulk density"),
        _P("dredging_cost", "c", "yuan_per_m3", "yuan m-3", 0, INF,
           "unit cost of reservoir dredging", price=True),
        _P("soil_n_content", "C_N", "content_g_per_kg", "g kg-1", 0, 1000,
           "soil total nitrogen content"),
        _P("soil_p_content", "C_P", "content_g_per_kg", "g kg-1", 0, 1000,
           "soil total phosphorus content"),
        _P("n_to_fertilizer_factor", "α_N", "t_per_t", "t t-1", 1, INF,
           "t fertilizer per t N (1 when the price is per t of nutrient)"),
        _P("p_to_fertilizer_factor", "α_P", "t_per_t", "t t-1", 1, INF,
           "t fertilizer per t P (1 when the price is per t of nutrient)"),
        _P("n_fertilizer_price", "p_N", "yuan_per_t", "yuan t-1", 0, INF,
           "price of nitrogen fertilizer (or N treatment cost)", price=True),
        _P("p_fertilizer_price", "p_P", "yuan_per_t", "yuan t-1", 0, INF,
           "price of phosphate fertilizer (or P treatment cost)", price=True),
        _P("soil_k_content", "C_K", "content_g_per_kg", "g kg-1", 0, 1000,
           "soil total potassium content (optional third nutrient)"),
        _P("k_to_fertilizer_factor", "α_K", "t_per_t", "t t-1", 1, INF,
           "t fertilizer per t K (1 when the price is per t of nutrient)"),
        _P("k_fertilizer_price", "p_K", "yuan_per_t", "yuan t-1", 0, INF,
           "price of potash fertilizer", price=True),
    ),
    variants=(
        Variant("sediment", {"ratio": ("lambda_over_rho",),
                             "λ and ρ": ("sediment_deposition_coefficient_lambda",
                                         "soil_bulk_density_rho")},
                lambda keys, opts: 0 if "lambda_over_rho" in keys else 1,
                quantity="sediment ratio λ/ρ"),
        Variant("potassium", {"N and P": (), "N, P and K": _K},
                lambda keys, opts: 1 if "soil_k_content" in keys else 0),
    ),
    measures=(
        Measure("soil", "soil_retention", "t a-1", "t ha-1 a-1", "soil retained, R K LS (1 − C P)"),
        Measure("soil", "sediment_volume", "m3 a-1", "m3 ha-1 a-1",
                "sediment kept out of reservoirs"),
        Measure("soil", "n_fertilizer", "t a-1", "t ha-1 a-1", "N fertilizer equivalent retained"),
        Measure("soil", "p_fertilizer", "t a-1", "t ha-1 a-1", "P fertilizer equivalent retained"),
        Measure("soil", "k_fertilizer", "t a-1", "t ha-1 a-1", "K fertilizer equivalent retained"),
        Measure("soil", "sediment_value", *VALUE_UNITS,
                "reduced reservoir sediment (dredging cost)"),
        Measure("soil", "n_fertilizer_value", *VALUE_UNITS, "reduced N non-point pollution"),
        Measure("soil", "p_fertilizer_value", *VALUE_UNITS, "reduced P non-point pollution"),
        Measure("soil", "k_fertilizer_value", *VALUE_UNITS, "reduced K non-point pollution"),
        Measure("soil", "value", *VALUE_UNITS, "soil conservation value"),
    ),
    steps=(
        Step("soil_retention", soil_retention,
             ("rainfall_erosivity_r", "soil_erodibility_k", "slope_length_steepness_ls",
              "cover_management_c", "support_practice_p")),
        Step("lrho", given, ("lambda_over_rho",), when=("sediment", 0)),
        Step("lrho", ratio, ("sediment_deposition_coefficient_lambda", "soil_bulk_density_rho"),
             when=("sediment", 1)),
        Step("sediment_volume", sediment_volume, ("soil_retention", "lrho")),
        Step("n_fertilizer", fertilizer_equivalent,
             ("soil_retention", "soil_n_content", "n_to_fertilizer_factor")),
        Step("p_fertilizer", fertilizer_equivalent,
             ("soil_retention", "soil_p_content", "p_to_fertilizer_factor")),
        Step("sediment_value", times, ("sediment_volume", "dredging_cost")),
        Step("n_fertilizer_value", times, ("n_fertilizer", "n_fertilizer_price")),
        Step("p_fertilizer_value", times, ("p_fertilizer", "p_fertilizer_price")),
        Step("k_fertilizer", fertilizer_equivalent,
             ("soil_retention", "soil_k_content", "k_to_fertilizer_factor"),
             when=("potassium", 1)),
        Step("k_fertilizer_value", times, ("k_fertilizer", "k_fertilizer_price"),
             when=("potassium", 1)),
        Step("value", total4, ("sediment_value", "n_fertilizer_value", "p_fertilizer_value",
                               "k_fertilizer_value")),
    ),
    # the driver is q_sr: R carries it, K = LS = 1, C·P = 0 (C and P keep their tables when
    # neither comes from a raster, and (1 − C·P) joins the coefficients)
    linear=Linear(((("rainfall_erosivity_r", 1.0, 0.0), ("soil_erodibility_k", 0.0, 1.0),
                    ("slope_length_steepness_ls", 0.0, 1.0), ("cover_management_c", 0.0, 0.0),
                    ("support_practice_p", 0.0, 0.0)),)),
)
