"""The parameters of the GEP method: names, canonical units, domains, defaults.

One row per parameter key of ``METHOD.md`` ("Parameter names"). Profiles, pipeline files and the
Python API all speak these keys; anything else is an error. The order of :data:`PARAMETERS` is
also the order of the parameter slots the fused kernel reads (:mod:`gepgeo.kernel`).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["ParameterSpec", "PARAMETERS", "PARAM_INDEX", "METHOD_DEFAULTS", "spec_for",
           "suggest_key"]


@dataclass(frozen=True)
class ParameterSpec:
    """Declaration of one method parameter.

    Attributes
    ----------
    key : str
        The name used in profiles and pipelines.
    symbol : str
        The symbol in ``METHOD.md``.
    family : str
        Unit family (see :data:`gepgeo.units.UNIT_FAMILIES`); its first unit is canonical.
    unit : str
        Canonical unit.
    low, high : float
        Closed domain; values outside it are rejected (tables, constants) or masked/refused
        (rasters, by the domain policy).
    description : str
        What the parameter is.
    """

    key: str
    symbol: str
    family: str
    unit: str
    low: float
    high: float
    description: str


_INF = math.inf

PARAMETERS: tuple[ParameterSpec, ...] = (
    # --- soil conservation (RUSLE), service 3
    ParameterSpec("rainfall_erosivity_r", "R", "erosivity", "MJ mm ha-1 h-1 a-1", 0, _INF,
                  "RUSLE rainfall erosivity"),
    ParameterSpec("soil_erodibility_k", "K", "erodibility", "t ha h ha-1 MJ-1 mm-1", 0, _INF,
                  "RUSLE soil erodibility"),
    ParameterSpec("slope_length_steepness_ls", "LS", "dimensionless", "1", 0, _INF,
                  "RUSLE slope length-steepness factor"),
    ParameterSpec("cover_management_c", "C", "dimensionless", "1", 0, 1,
                  "RUSLE cover-management factor"),
    ParameterSpec("support_practice_p", "P", "dimensionless", "1", 0, 1,
                  "RUSLE support-practice factor"),
    ParameterSpec("lambda_over_rho", "λ/ρ", "m3_per_t", "m3 t-1", 0, _INF,
                  "sediment accumulation coefficient over soil bulk density (wins over λ and ρ)"),
    ParameterSpec("sediment_deposition_coefficient_lambda", "λ", "dimensionless", "1", 0, 1,
                  "share of eroded soil that settles in reservoirs"),
    ParameterSpec("soil_bulk_density_rho", "ρ", "t_per_m3", "t m-3", 1e-9, _INF,
                  "soil bulk density"),
    ParameterSpec("dredging_cost", "c", "yuan_per_m3", "yuan m-3", 0, _INF,
                  "unit cost of reservoir dredging"),
    ParameterSpec("soil_n_content", "C_N", "content_g_per_kg", "g kg-1", 0, 1000,
                  "soil total nitrogen content"),
    ParameterSpec("soil_p_content", "C_P", "content_g_per_kg", "g kg-1", 0, 1000,
                  "soil total phosphorus content"),
    ParameterSpec("soil_k_content", "C_K", "content_g_per_kg", "g kg-1", 0, 1000,
                  "soil total potassium content (optional third nutrient)"),
    ParameterSpec("n_to_fertilizer_factor", "α_N", "t_per_t", "t t-1", 1, _INF,
                  "t fertilizer per t N (1 when the price is per t of nutrient)"),
    ParameterSpec("p_to_fertilizer_factor", "α_P", "t_per_t", "t t-1", 1, _INF,
                  "t fertilizer per t P (1 when the price is per t of nutrient)"),
    ParameterSpec("k_to_fertilizer_factor", "α_K", "t_per_t", "t t-1", 1, _INF,
                  "t fertilizer per t K (1 when the price is per t of nutrient)"),
    ParameterSpec("n_fertilizer_price", "p_N", "yuan_per_t", "yuan t-1", 0, _INF,
                  "price of nitrogen fertilizer (or N treatment cost)"),
    ParameterSpec("p_fertilizer_price", "p_P", "yuan_per_t", "yuan t-1", 0, _INF,
                  "price of phosphate fertilizer (or P treatment cost)"),
    ParameterSpec("k_fertilizer_price", "p_K", "yuan_per_t", "yuan t-1", 0, _INF,
                  "price of potash fertilizer"),
    # --- water conservation, service 2
    ParameterSpec("precipitation", "P", "depth_rate", "mm a-1", 0, _INF,
                  "annual precipitation"),
    ParameterSpec("runoff_coefficient", "α", "dimensionless", "1", 0, 1,
                  "storm runoff as a share of precipitation"),
    ParameterSpec("runoff", "R", "depth_rate", "mm a-1", 0, _INF,
                  "annual storm runoff depth (instead of a runoff coefficient)"),
    ParameterSpec("evapotranspiration", "ET", "depth_rate", "mm a-1", 0, _INF,
                  "annual actual evapotranspiration"),
    ParameterSpec("water_retention_depth", "P−R−ET", "depth_rate", "mm a-1", -_INF, _INF,
                  "net water conservation depth, when only P − R − ET is known (wins)"),
    ParameterSpec("water_price", "C_w", "yuan_per_m3", "yuan m-3", 0, _INF,
                  "water price or reservoir construction cost per m3 of storage"),
    # --- air purification, service 4
    ParameterSpec("so2_uptake_rate", "q_SO2", "t_per_ha_a", "t ha-1 a-1", 0, _INF,
                  "SO2 absorbed per ha"),
    ParameterSpec("nox_uptake_rate", "q_NOx", "t_per_ha_a", "t ha-1 a-1", 0, _INF,
                  "NOx absorbed per ha"),
    ParameterSpec("dust_uptake_rate", "q_dust", "t_per_ha_a", "t ha-1 a-1", 0, _INF,
                  "dust retained per ha"),
    ParameterSpec("air_rate_multiplier", "m_air", "dimensionless", "1", 0, _INF,
                  "factor applied to the three uptake rates"),
    ParameterSpec("so2_charge", "c_SO2", "yuan_per_t", "yuan t-1", 0, _INF, "SO2 treatment cost"),
    ParameterSpec("nox_charge", "c_NOx", "yuan_per_t", "yuan t-1", 0, _INF, "NOx treatment cost"),
    ParameterSpec("dust_charge", "c_dust", "yuan_per_t", "yuan t-1", 0, _INF,
                  "dust treatment cost"),
    # --- carbon fixation and oxygen release, services 5 and 6
    ParameterSpec("carbon_sequestration_rate", "rate", "tc_per_ha_a", "t C ha-1 a-1", 0, _INF,
                  "carbon fixed by vegetation per ha"),
    ParameterSpec("forest_soil_carbon_beta", "β", "dimensionless", "1", 0, _INF,
                  "forest soil carbon coefficient (0 outside forest)"),
    ParameterSpec("co2_per_c", "k", "t_per_t", "t t-1", 0, _INF, "t CO2 per t C (44/12)"),
    ParameterSpec("carbon_price", "p_CO2", "yuan_per_t_co2", "yuan t-1 CO2", 0, _INF,
                  "carbon price per t CO2 (a price per t C is converted with co2_per_c)"),
    ParameterSpec("o2_per_co2", "32/44", "t_per_t", "t t-1", 0, _INF, "t O2 per t CO2 (32/44)"),
    ParameterSpec("oxygen_price", "p_O2", "yuan_per_t", "yuan t-1", 0, _INF,
                  "industrial oxygen price"),
    # --- climate regulation, service 7
    ParameterSpec("heat_absorption", "H", "heat", "kJ ha-1 d-1", 0, _INF,
                  "heat absorbed by vegetation per ha per day"),
    ParameterSpec("ac_days", "d", "days", "d a-1", 0, 366, "air-conditioning days per year"),
    ParameterSpec("ac_energy_efficiency_ratio", "EER", "dimensionless", "1", 1e-9, _INF,
                  "air-conditioner energy-efficiency ratio"),
    ParameterSpec("electricity_price", "p_elec", "yuan_per_kwh", "yuan kWh-1", 0, _INF,
                  "electricity price"),
    # --- landscape value, service 8
    ParameterSpec("landscape_equivalent_factor", "E", "dimensionless", "1", 0, _INF,
                  "landscape (aesthetic) value equivalent factor"),
    ParameterSpec("equivalent_value_coefficient", "k", "dimensionless", "1", 0, 1,
                  "value of one equivalent factor as a share of grain output (1/7)"),
    ParameterSpec("grain_price", "Pa", "yuan_per_kg", "yuan kg-1", 0, _INF, "grain price"),
    ParameterSpec("grain_yield", "Pb", "kg_per_ha_a", "kg ha-1 a-1", 0, _INF, "grain yield"),
    ParameterSpec("grain_output_value_per_ha", "Pa·Pb", "yuan_per_ha_a", "yuan ha-1 a-1", 0,
                  _INF, "grain output value per ha, when only Pa × Pb is known (wins)"),
    # --- agricultural products, service 1
    ParameterSpec("agri_output_value_per_ha", "v_agri", "yuan_per_ha_a", "yuan ha-1 a-1", 0,
                  _INF, "net agricultural output value per ha (wins over crop yield x price)"),
    ParameterSpec("crop_yield", "yield", "kg_per_ha_a", "kg ha-1 a-1", 0, _INF,
                  "crop yield (one aggregated crop product)"),
    ParameterSpec("crop_price", "price", "yuan_per_kg", "yuan kg-1", 0, _INF, "crop price"),
)

PARAM_INDEX: dict[str, int] = {p.key: i for i, p in enumerate(PARAMETERS)}

#: Constants fixed by the method itself (METHOD.md); used when neither profile nor pipeline
#: gives the key, and recorded in the manifest with the source "method default".
METHOD_DEFAULTS: dict[str, float] = {
    "air_rate_multiplier": 1.0,
    "forest_soil_carbon_beta": 0.0,
    "co2_per_c": 44.0 / 12.0,
    "o2_per_co2": 32.0 / 44.0,
    "equivalent_value_coefficient": 1.0 / 7.0,
}


def suggest_key(key: str) -> str:
    """A ``"; did you mean 'x'?"`` hint for a misspelt parameter key ('' if none is close)."""
    close = difflib.get_close_matches(key, PARAM_INDEX, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def spec_for(key: str, *, where: str) -> ParameterSpec:
    """Return the :class:`ParameterSpec` of ``key``.

    Raises
    ------
    ConfigError
        If ``key`` is not a parameter of the method; the message names ``where`` it was found.
    """
    try:
        return PARAMETERS[PARAM_INDEX[key]]
    except KeyError:
        raise ConfigError(
            f"{where}: unknown parameter {key!r}{suggest_key(key)} "
            "(see 'Parameter names' in the README for the accepted keys)"
        ) from None
