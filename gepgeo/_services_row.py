"""Per-pixel evaluation of every service (GENERATED: do not edit).

Written by :mod:`gepgeo.codegen` from the declarations in gepgeo/services/; run
``python -m gepgeo.codegen`` after changing a service. A test fails when this file drifts from
the declarations.
"""

# ruff: noqa: E501

from numba import njit

# source digest of the step functions: 5b2a30444aa18172

from gepgeo.services.agriculture import productive as f_agriculture_productive
from gepgeo.services.carbon import carbon_fixed as f_carbon_carbon_fixed
from gepgeo.services.climate import cooling_energy as f_climate_cooling_energy
from gepgeo.services.common import given as f_common_given
from gepgeo.services.common import times as f_common_times
from gepgeo.services.common import total3 as f_common_total3
from gepgeo.services.common import total4 as f_common_total4
from gepgeo.services.landscape import landscape_value as f_landscape_landscape_value
from gepgeo.services.soil import fertilizer_equivalent as f_soil_fertilizer_equivalent
from gepgeo.services.soil import ratio as f_soil_ratio
from gepgeo.services.soil import sediment_volume as f_soil_sediment_volume
from gepgeo.services.soil import soil_retention as f_soil_soil_retention
from gepgeo.services.water import balance_depth as f_water_balance_depth
from gepgeo.services.water import balance_depth_coefficient as f_water_balance_depth_coefficient
from gepgeo.services.water import clamp_deficit as f_water_clamp_deficit
from gepgeo.services.water import water_volume as f_water_water_volume

# parameter slots (rows of the table pv, entries of src)
P_AGRI_OUTPUT_VALUE_PER_HA = 0
P_CROP_YIELD = 1
P_CROP_PRICE = 2
P_PRECIPITATION = 3
P_RUNOFF_COEFFICIENT = 4
P_RUNOFF = 5
P_EVAPOTRANSPIRATION = 6
P_WATER_RETENTION_DEPTH = 7
P_WATER_PRICE = 8
P_RAINFALL_EROSIVITY_R = 9
P_SOIL_ERODIBILITY_K = 10
P_SLOPE_LENGTH_STEEPNESS_LS = 11
P_COVER_MANAGEMENT_C = 12
P_SUPPORT_PRACTICE_P = 13
P_LAMBDA_OVER_RHO = 14
P_SEDIMENT_DEPOSITION_COEFFICIENT_LAMBDA = 15
P_SOIL_BULK_DENSITY_RHO = 16
P_DREDGING_COST = 17
P_SOIL_N_CONTENT = 18
P_SOIL_P_CONTENT = 19
P_N_TO_FERTILIZER_FACTOR = 20
P_P_TO_FERTILIZER_FACTOR = 21
P_N_FERTILIZER_PRICE = 22
P_P_FERTILIZER_PRICE = 23
P_SOIL_K_CONTENT = 24
P_K_TO_FERTILIZER_FACTOR = 25
P_K_FERTILIZER_PRICE = 26
P_SO2_UPTAKE_RATE = 27
P_NOX_UPTAKE_RATE = 28
P_DUST_UPTAKE_RATE = 29
P_AIR_RATE_MULTIPLIER = 30
P_SO2_CHARGE = 31
P_NOX_CHARGE = 32
P_DUST_CHARGE = 33
P_CARBON_SEQUESTRATION_RATE = 34
P_FOREST_SOIL_CARBON_BETA = 35
P_CO2_PER_C = 36
P_CARBON_PRICE = 37
P_O2_PER_CO2 = 38
P_OXYGEN_PRICE = 39
P_HEAT_ABSORPTION = 40
P_AC_DAYS = 41
P_AC_ENERGY_EFFICIENCY_RATIO = 42
P_ELECTRICITY_PRICE = 43
P_LANDSCAPE_EQUIVALENT_FACTOR = 44
P_EQUIVALENT_VALUE_COEFFICIENT = 45
P_GRAIN_PRICE = 46
P_GRAIN_YIELD = 47
P_GRAIN_OUTPUT_VALUE_PER_HA = 48
# measure slots (columns of dens)
M_AGRICULTURE_PRODUCTIVE_AREA = 0
M_AGRICULTURE_PRODUCT_MASS = 1
M_AGRICULTURE_VALUE = 2
M_WATER_WATER_CONSERVATION = 3
M_WATER_VALUE = 4
M_SOIL_SOIL_RETENTION = 5
M_SOIL_SEDIMENT_VOLUME = 6
M_SOIL_N_FERTILIZER = 7
M_SOIL_P_FERTILIZER = 8
M_SOIL_K_FERTILIZER = 9
M_SOIL_SEDIMENT_VALUE = 10
M_SOIL_N_FERTILIZER_VALUE = 11
M_SOIL_P_FERTILIZER_VALUE = 12
M_SOIL_K_FERTILIZER_VALUE = 13
M_SOIL_VALUE = 14
M_AIR_SO2 = 15
M_AIR_NOX = 16
M_AIR_DUST = 17
M_AIR_SO2_VALUE = 18
M_AIR_NOX_VALUE = 19
M_AIR_DUST_VALUE = 20
M_AIR_VALUE = 21
M_CARBON_CARBON = 22
M_CARBON_CO2 = 23
M_CARBON_VALUE = 24
M_OXYGEN_O2 = 25
M_OXYGEN_VALUE = 26
M_CLIMATE_COOLING_ENERGY = 27
M_CLIMATE_VALUE = 28
M_LANDSCAPE_VALUE = 29
M_GEP_VALUE = 30
# service slots (entries of on, rows of ok)
S_AGRICULTURE = 0
S_WATER = 1
S_SOIL = 2
S_AIR = 3
S_CARBON = 4
S_OXYGEN = 5
S_CLIMATE = 6
S_LANDSCAPE = 7
# variant slots (entries of modes)
V_AGRICULTURE = 0
V_WATER = 1
V_WATER_SIGNED = 2
V_SEDIMENT = 3
V_POTASSIUM = 4
V_GRAIN = 5


@njit(cache=True, nogil=True, error_model="numpy")
def services_row(pv, cls, j0, n, vals, src, modes, on, ok, dens, clamp_out):
    """Evaluate the enabled services at pixels ``j0..n-1`` of a row into ``dens[j]``
    (per-ha densities) where ``ok[s, j]``; ``clamp_out[j]`` = 1 where a deficit was clamped.

    Pixel j has land type ``cls[j]`` (skipped when negative). Parameter p comes from the
    raster row ``vals[src[p], j]`` when ``src[p] >= 0``, else from the table ``pv[p, cls[j]]``;
    ``modes`` holds the form of each variant and ``on`` the enabled services.
    """
    l_agri_output_value_per_ha = src[P_AGRI_OUTPUT_VALUE_PER_HA]
    l_crop_yield = src[P_CROP_YIELD]
    l_crop_price = src[P_CROP_PRICE]
    l_precipitation = src[P_PRECIPITATION]
    l_runoff_coefficient = src[P_RUNOFF_COEFFICIENT]
    l_runoff = src[P_RUNOFF]
    l_evapotranspiration = src[P_EVAPOTRANSPIRATION]
    l_water_retention_depth = src[P_WATER_RETENTION_DEPTH]
    l_water_price = src[P_WATER_PRICE]
    l_rainfall_erosivity_r = src[P_RAINFALL_EROSIVITY_R]
    l_soil_erodibility_k = src[P_SOIL_ERODIBILITY_K]
    l_slope_length_steepness_ls = src[P_SLOPE_LENGTH_STEEPNESS_LS]
    l_cover_management_c = src[P_COVER_MANAGEMENT_C]
    l_support_practice_p = src[P_SUPPORT_PRACTICE_P]
    l_lambda_over_rho = src[P_LAMBDA_OVER_RHO]
    l_sediment_deposition_coefficient_lambda = src[P_SEDIMENT_DEPOSITION_COEFFICIENT_LAMBDA]
    l_soil_bulk_density_rho = src[P_SOIL_BULK_DENSITY_RHO]
    l_dredging_cost = src[P_DREDGING_COST]
    l_soil_n_content = src[P_SOIL_N_CONTENT]
    l_soil_p_content = src[P_SOIL_P_CONTENT]
    l_n_to_fertilizer_factor = src[P_N_TO_FERTILIZER_FACTOR]
    l_p_to_fertilizer_factor = src[P_P_TO_FERTILIZER_FACTOR]
    l_n_fertilizer_price = src[P_N_FERTILIZER_PRICE]
    l_p_fertilizer_price = src[P_P_FERTILIZER_PRICE]
    l_soil_k_content = src[P_SOIL_K_CONTENT]
    l_k_to_fertilizer_factor = src[P_K_TO_FERTILIZER_FACTOR]
    l_k_fertilizer_price = src[P_K_FERTILIZER_PRICE]
    l_so2_uptake_rate = src[P_SO2_UPTAKE_RATE]
    l_nox_uptake_rate = src[P_NOX_UPTAKE_RATE]
    l_dust_uptake_rate = src[P_DUST_UPTAKE_RATE]
    l_air_rate_multiplier = src[P_AIR_RATE_MULTIPLIER]
    l_so2_charge = src[P_SO2_CHARGE]
    l_nox_charge = src[P_NOX_CHARGE]
    l_dust_charge = src[P_DUST_CHARGE]
    l_carbon_sequestration_rate = src[P_CARBON_SEQUESTRATION_RATE]
    l_forest_soil_carbon_beta = src[P_FOREST_SOIL_CARBON_BETA]
    l_co2_per_c = src[P_CO2_PER_C]
    l_carbon_price = src[P_CARBON_PRICE]
    l_o2_per_co2 = src[P_O2_PER_CO2]
    l_oxygen_price = src[P_OXYGEN_PRICE]
    l_heat_absorption = src[P_HEAT_ABSORPTION]
    l_ac_days = src[P_AC_DAYS]
    l_ac_energy_efficiency_ratio = src[P_AC_ENERGY_EFFICIENCY_RATIO]
    l_electricity_price = src[P_ELECTRICITY_PRICE]
    l_landscape_equivalent_factor = src[P_LANDSCAPE_EQUIVALENT_FACTOR]
    l_equivalent_value_coefficient = src[P_EQUIVALENT_VALUE_COEFFICIENT]
    l_grain_price = src[P_GRAIN_PRICE]
    l_grain_yield = src[P_GRAIN_YIELD]
    l_grain_output_value_per_ha = src[P_GRAIN_OUTPUT_VALUE_PER_HA]
    on_agriculture = on[S_AGRICULTURE] != 0
    on_water = on[S_WATER] != 0
    on_soil = on[S_SOIL] != 0
    on_air = on[S_AIR] != 0
    on_carbon = on[S_CARBON] != 0
    on_oxygen = on[S_OXYGEN] != 0
    on_climate = on[S_CLIMATE] != 0
    on_landscape = on[S_LANDSCAPE] != 0
    mode_agriculture = modes[V_AGRICULTURE]
    mode_water = modes[V_WATER]
    mode_water_signed = modes[V_WATER_SIGNED]
    mode_sediment = modes[V_SEDIMENT]
    mode_potassium = modes[V_POTASSIUM]
    mode_grain = modes[V_GRAIN]
    for j in range(j0, n):
        c = cls[j]
        if c < 0:
            continue
        clamped = 0
        # --- agriculture: Agricultural products (gepgeo.services.agriculture)
        if on_agriculture and ok[S_AGRICULTURE, j] != 0:
            agriculture_value = 0.0
            agriculture_productive_area = 0.0
            agriculture_product_mass = 0.0
            if mode_agriculture == 0:
                p_agri_output_value_per_ha = (vals[l_agri_output_value_per_ha, j] if l_agri_output_value_per_ha >= 0 else pv[P_AGRI_OUTPUT_VALUE_PER_HA, c])
                agriculture_value = f_common_given(p_agri_output_value_per_ha)
                agriculture_productive_area = f_agriculture_productive(agriculture_value)
            if mode_agriculture == 1:
                p_crop_yield = (vals[l_crop_yield, j] if l_crop_yield >= 0 else pv[P_CROP_YIELD, c])
                agriculture_product_mass = f_common_given(p_crop_yield)
                p_crop_price = (vals[l_crop_price, j] if l_crop_price >= 0 else pv[P_CROP_PRICE, c])
                agriculture_value = f_common_times(agriculture_product_mass, p_crop_price)
                agriculture_productive_area = f_agriculture_productive(agriculture_product_mass)
            dens[j, M_AGRICULTURE_PRODUCTIVE_AREA] = agriculture_productive_area
            dens[j, M_AGRICULTURE_PRODUCT_MASS] = agriculture_product_mass
            dens[j, M_AGRICULTURE_VALUE] = agriculture_value
        # --- water: Water conservation (gepgeo.services.water)
        if on_water and ok[S_WATER, j] != 0:
            water_depth = 0.0
            water_clamped = 0.0
            water_water_conservation = 0.0
            water_value = 0.0
            if mode_water == 0:
                p_water_retention_depth = (vals[l_water_retention_depth, j] if l_water_retention_depth >= 0 else pv[P_WATER_RETENTION_DEPTH, c])
                water_depth = f_common_given(p_water_retention_depth)
            if mode_water == 1:
                p_precipitation = (vals[l_precipitation, j] if l_precipitation >= 0 else pv[P_PRECIPITATION, c])
                p_runoff_coefficient = (vals[l_runoff_coefficient, j] if l_runoff_coefficient >= 0 else pv[P_RUNOFF_COEFFICIENT, c])
                p_evapotranspiration = (vals[l_evapotranspiration, j] if l_evapotranspiration >= 0 else pv[P_EVAPOTRANSPIRATION, c])
                water_depth = f_water_balance_depth_coefficient(p_precipitation, p_runoff_coefficient, p_evapotranspiration)
            if mode_water == 2:
                p_precipitation = (vals[l_precipitation, j] if l_precipitation >= 0 else pv[P_PRECIPITATION, c])
                p_runoff = (vals[l_runoff, j] if l_runoff >= 0 else pv[P_RUNOFF, c])
                p_evapotranspiration = (vals[l_evapotranspiration, j] if l_evapotranspiration >= 0 else pv[P_EVAPOTRANSPIRATION, c])
                water_depth = f_water_balance_depth(p_precipitation, p_runoff, p_evapotranspiration)
            if mode_water_signed == 0:
                water_depth, water_clamped = f_water_clamp_deficit(water_depth)
                if water_clamped != 0.0:
                    clamped = 1
            water_water_conservation = f_water_water_volume(water_depth)
            p_water_price = (vals[l_water_price, j] if l_water_price >= 0 else pv[P_WATER_PRICE, c])
            water_value = f_common_times(water_water_conservation, p_water_price)
            dens[j, M_WATER_WATER_CONSERVATION] = water_water_conservation
            dens[j, M_WATER_VALUE] = water_value
        # --- soil: Soil conservation (gepgeo.services.soil)
        if on_soil and ok[S_SOIL, j] != 0:
            soil_soil_retention = 0.0
            soil_lrho = 0.0
            soil_sediment_volume = 0.0
            soil_n_fertilizer = 0.0
            soil_p_fertilizer = 0.0
            soil_sediment_value = 0.0
            soil_n_fertilizer_value = 0.0
            soil_p_fertilizer_value = 0.0
            soil_k_fertilizer = 0.0
            soil_k_fertilizer_value = 0.0
            soil_value = 0.0
            p_rainfall_erosivity_r = (vals[l_rainfall_erosivity_r, j] if l_rainfall_erosivity_r >= 0 else pv[P_RAINFALL_EROSIVITY_R, c])
            p_soil_erodibility_k = (vals[l_soil_erodibility_k, j] if l_soil_erodibility_k >= 0 else pv[P_SOIL_ERODIBILITY_K, c])
            p_slope_length_steepness_ls = (vals[l_slope_length_steepness_ls, j] if l_slope_length_steepness_ls >= 0 else pv[P_SLOPE_LENGTH_STEEPNESS_LS, c])
            p_cover_management_c = (vals[l_cover_management_c, j] if l_cover_management_c >= 0 else pv[P_COVER_MANAGEMENT_C, c])
            p_support_practice_p = (vals[l_support_practice_p, j] if l_support_practice_p >= 0 else pv[P_SUPPORT_PRACTICE_P, c])
            soil_soil_retention = f_soil_soil_retention(p_rainfall_erosivity_r, p_soil_erodibility_k, p_slope_length_steepness_ls, p_cover_management_c, p_support_practice_p)
            if mode_sediment == 0:
                p_lambda_over_rho = (vals[l_lambda_over_rho, j] if l_lambda_over_rho >= 0 else pv[P_LAMBDA_OVER_RHO, c])
                soil_lrho = f_common_given(p_lambda_over_rho)
            if mode_sediment == 1:
                p_sediment_deposition_coefficient_lambda = (vals[l_sediment_deposition_coefficient_lambda, j] if l_sediment_deposition_coefficient_lambda >= 0 else pv[P_SEDIMENT_DEPOSITION_COEFFICIENT_LAMBDA, c])
                p_soil_bulk_density_rho = (vals[l_soil_bulk_density_rho, j] if l_soil_bulk_density_rho >= 0 else pv[P_SOIL_BULK_DENSITY_RHO, c])
                soil_lrho = f_soil_ratio(p_sediment_deposition_coefficient_lambda, p_soil_bulk_density_rho)
            soil_sediment_volume = f_soil_sediment_volume(soil_soil_retention, soil_lrho)
            p_soil_n_content = (vals[l_soil_n_content, j] if l_soil_n_content >= 0 else pv[P_SOIL_N_CONTENT, c])
            p_n_to_fertilizer_factor = (vals[l_n_to_fertilizer_factor, j] if l_n_to_fertilizer_factor >= 0 else pv[P_N_TO_FERTILIZER_FACTOR, c])
            soil_n_fertilizer = f_soil_fertilizer_equivalent(soil_soil_retention, p_soil_n_content, p_n_to_fertilizer_factor)
            p_soil_p_content = (vals[l_soil_p_content, j] if l_soil_p_content >= 0 else pv[P_SOIL_P_CONTENT, c])
            p_p_to_fertilizer_factor = (vals[l_p_to_fertilizer_factor, j] if l_p_to_fertilizer_factor >= 0 else pv[P_P_TO_FERTILIZER_FACTOR, c])
            soil_p_fertilizer = f_soil_fertilizer_equivalent(soil_soil_retention, p_soil_p_content, p_p_to_fertilizer_factor)
            p_dredging_cost = (vals[l_dredging_cost, j] if l_dredging_cost >= 0 else pv[P_DREDGING_COST, c])
            soil_sediment_value = f_common_times(soil_sediment_volume, p_dredging_cost)
            p_n_fertilizer_price = (vals[l_n_fertilizer_price, j] if l_n_fertilizer_price >= 0 else pv[P_N_FERTILIZER_PRICE, c])
            soil_n_fertilizer_value = f_common_times(soil_n_fertilizer, p_n_fertilizer_price)
            p_p_fertilizer_price = (vals[l_p_fertilizer_price, j] if l_p_fertilizer_price >= 0 else pv[P_P_FERTILIZER_PRICE, c])
            soil_p_fertilizer_value = f_common_times(soil_p_fertilizer, p_p_fertilizer_price)
            if mode_potassium == 1:
                p_soil_k_content = (vals[l_soil_k_content, j] if l_soil_k_content >= 0 else pv[P_SOIL_K_CONTENT, c])
                p_k_to_fertilizer_factor = (vals[l_k_to_fertilizer_factor, j] if l_k_to_fertilizer_factor >= 0 else pv[P_K_TO_FERTILIZER_FACTOR, c])
                soil_k_fertilizer = f_soil_fertilizer_equivalent(soil_soil_retention, p_soil_k_content, p_k_to_fertilizer_factor)
                p_k_fertilizer_price = (vals[l_k_fertilizer_price, j] if l_k_fertilizer_price >= 0 else pv[P_K_FERTILIZER_PRICE, c])
                soil_k_fertilizer_value = f_common_times(soil_k_fertilizer, p_k_fertilizer_price)
            soil_value = f_common_total4(soil_sediment_value, soil_n_fertilizer_value, soil_p_fertilizer_value, soil_k_fertilizer_value)
            dens[j, M_SOIL_SOIL_RETENTION] = soil_soil_retention
            dens[j, M_SOIL_SEDIMENT_VOLUME] = soil_sediment_volume
            dens[j, M_SOIL_N_FERTILIZER] = soil_n_fertilizer
            dens[j, M_SOIL_P_FERTILIZER] = soil_p_fertilizer
            dens[j, M_SOIL_K_FERTILIZER] = soil_k_fertilizer
            dens[j, M_SOIL_SEDIMENT_VALUE] = soil_sediment_value
            dens[j, M_SOIL_N_FERTILIZER_VALUE] = soil_n_fertilizer_value
            dens[j, M_SOIL_P_FERTILIZER_VALUE] = soil_p_fertilizer_value
            dens[j, M_SOIL_K_FERTILIZER_VALUE] = soil_k_fertilizer_value
            dens[j, M_SOIL_VALUE] = soil_value
        # --- air: Air purification (gepgeo.services.air)
        if on_air and ok[S_AIR, j] != 0:
            air_so2 = 0.0
            air_nox = 0.0
            air_dust = 0.0
            air_so2_value = 0.0
            air_nox_value = 0.0
            air_dust_value = 0.0
            air_value = 0.0
            p_so2_uptake_rate = (vals[l_so2_uptake_rate, j] if l_so2_uptake_rate >= 0 else pv[P_SO2_UPTAKE_RATE, c])
            p_air_rate_multiplier = (vals[l_air_rate_multiplier, j] if l_air_rate_multiplier >= 0 else pv[P_AIR_RATE_MULTIPLIER, c])
            air_so2 = f_common_times(p_so2_uptake_rate, p_air_rate_multiplier)
            p_nox_uptake_rate = (vals[l_nox_uptake_rate, j] if l_nox_uptake_rate >= 0 else pv[P_NOX_UPTAKE_RATE, c])
            air_nox = f_common_times(p_nox_uptake_rate, p_air_rate_multiplier)
            p_dust_uptake_rate = (vals[l_dust_uptake_rate, j] if l_dust_uptake_rate >= 0 else pv[P_DUST_UPTAKE_RATE, c])
            air_dust = f_common_times(p_dust_uptake_rate, p_air_rate_multiplier)
            p_so2_charge = (vals[l_so2_charge, j] if l_so2_charge >= 0 else pv[P_SO2_CHARGE, c])
            air_so2_value = f_common_times(air_so2, p_so2_charge)
            p_nox_charge = (vals[l_nox_charge, j] if l_nox_charge >= 0 else pv[P_NOX_CHARGE, c])
            air_nox_value = f_common_times(air_nox, p_nox_charge)
            p_dust_charge = (vals[l_dust_charge, j] if l_dust_charge >= 0 else pv[P_DUST_CHARGE, c])
            air_dust_value = f_common_times(air_dust, p_dust_charge)
            air_value = f_common_total3(air_so2_value, air_nox_value, air_dust_value)
            dens[j, M_AIR_SO2] = air_so2
            dens[j, M_AIR_NOX] = air_nox
            dens[j, M_AIR_DUST] = air_dust
            dens[j, M_AIR_SO2_VALUE] = air_so2_value
            dens[j, M_AIR_NOX_VALUE] = air_nox_value
            dens[j, M_AIR_DUST_VALUE] = air_dust_value
            dens[j, M_AIR_VALUE] = air_value
        # --- carbon: Carbon fixation (gepgeo.services.carbon)
        if on_carbon and ok[S_CARBON, j] != 0:
            carbon_carbon = 0.0
            carbon_co2 = 0.0
            carbon_value = 0.0
            p_carbon_sequestration_rate = (vals[l_carbon_sequestration_rate, j] if l_carbon_sequestration_rate >= 0 else pv[P_CARBON_SEQUESTRATION_RATE, c])
            p_forest_soil_carbon_beta = (vals[l_forest_soil_carbon_beta, j] if l_forest_soil_carbon_beta >= 0 else pv[P_FOREST_SOIL_CARBON_BETA, c])
            carbon_carbon = f_carbon_carbon_fixed(p_carbon_sequestration_rate, p_forest_soil_carbon_beta)
            p_co2_per_c = (vals[l_co2_per_c, j] if l_co2_per_c >= 0 else pv[P_CO2_PER_C, c])
            carbon_co2 = f_common_times(p_co2_per_c, carbon_carbon)
            p_carbon_price = (vals[l_carbon_price, j] if l_carbon_price >= 0 else pv[P_CARBON_PRICE, c])
            carbon_value = f_common_times(carbon_co2, p_carbon_price)
            dens[j, M_CARBON_CARBON] = carbon_carbon
            dens[j, M_CARBON_CO2] = carbon_co2
            dens[j, M_CARBON_VALUE] = carbon_value
        # --- oxygen: Oxygen release (gepgeo.services.oxygen)
        if on_oxygen and ok[S_OXYGEN, j] != 0:
            oxygen_carbon = 0.0
            oxygen_co2 = 0.0
            oxygen_o2 = 0.0
            oxygen_value = 0.0
            p_carbon_sequestration_rate = (vals[l_carbon_sequestration_rate, j] if l_carbon_sequestration_rate >= 0 else pv[P_CARBON_SEQUESTRATION_RATE, c])
            p_forest_soil_carbon_beta = (vals[l_forest_soil_carbon_beta, j] if l_forest_soil_carbon_beta >= 0 else pv[P_FOREST_SOIL_CARBON_BETA, c])
            oxygen_carbon = f_carbon_carbon_fixed(p_carbon_sequestration_rate, p_forest_soil_carbon_beta)
            p_co2_per_c = (vals[l_co2_per_c, j] if l_co2_per_c >= 0 else pv[P_CO2_PER_C, c])
            oxygen_co2 = f_common_times(p_co2_per_c, oxygen_carbon)
            p_o2_per_co2 = (vals[l_o2_per_co2, j] if l_o2_per_co2 >= 0 else pv[P_O2_PER_CO2, c])
            oxygen_o2 = f_common_times(p_o2_per_co2, oxygen_co2)
            p_oxygen_price = (vals[l_oxygen_price, j] if l_oxygen_price >= 0 else pv[P_OXYGEN_PRICE, c])
            oxygen_value = f_common_times(oxygen_o2, p_oxygen_price)
            dens[j, M_OXYGEN_O2] = oxygen_o2
            dens[j, M_OXYGEN_VALUE] = oxygen_value
        # --- climate: Climate regulation (gepgeo.services.climate)
        if on_climate and ok[S_CLIMATE, j] != 0:
            climate_cooling_energy = 0.0
            climate_value = 0.0
            p_heat_absorption = (vals[l_heat_absorption, j] if l_heat_absorption >= 0 else pv[P_HEAT_ABSORPTION, c])
            p_ac_days = (vals[l_ac_days, j] if l_ac_days >= 0 else pv[P_AC_DAYS, c])
            p_ac_energy_efficiency_ratio = (vals[l_ac_energy_efficiency_ratio, j] if l_ac_energy_efficiency_ratio >= 0 else pv[P_AC_ENERGY_EFFICIENCY_RATIO, c])
            climate_cooling_energy = f_climate_cooling_energy(p_heat_absorption, p_ac_days, p_ac_energy_efficiency_ratio)
            p_electricity_price = (vals[l_electricity_price, j] if l_electricity_price >= 0 else pv[P_ELECTRICITY_PRICE, c])
            climate_value = f_common_times(climate_cooling_energy, p_electricity_price)
            dens[j, M_CLIMATE_COOLING_ENERGY] = climate_cooling_energy
            dens[j, M_CLIMATE_VALUE] = climate_value
        # --- landscape: Landscape value (gepgeo.services.landscape)
        if on_landscape and ok[S_LANDSCAPE, j] != 0:
            landscape_grain_value = 0.0
            landscape_value = 0.0
            if mode_grain == 0:
                p_grain_output_value_per_ha = (vals[l_grain_output_value_per_ha, j] if l_grain_output_value_per_ha >= 0 else pv[P_GRAIN_OUTPUT_VALUE_PER_HA, c])
                landscape_grain_value = f_common_given(p_grain_output_value_per_ha)
            if mode_grain == 1:
                p_grain_price = (vals[l_grain_price, j] if l_grain_price >= 0 else pv[P_GRAIN_PRICE, c])
                p_grain_yield = (vals[l_grain_yield, j] if l_grain_yield >= 0 else pv[P_GRAIN_YIELD, c])
                landscape_grain_value = f_common_times(p_grain_price, p_grain_yield)
            p_landscape_equivalent_factor = (vals[l_landscape_equivalent_factor, j] if l_landscape_equivalent_factor >= 0 else pv[P_LANDSCAPE_EQUIVALENT_FACTOR, c])
            p_equivalent_value_coefficient = (vals[l_equivalent_value_coefficient, j] if l_equivalent_value_coefficient >= 0 else pv[P_EQUIVALENT_VALUE_COEFFICIENT, c])
            landscape_value = f_landscape_landscape_value(p_landscape_equivalent_factor, p_equivalent_value_coefficient, landscape_grain_value)
            dens[j, M_LANDSCAPE_VALUE] = landscape_value
        clamp_out[j] = clamped
