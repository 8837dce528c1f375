"""Carbon fixation (method service 5).

    Cf    = rate · (1 + β)          [t C ha⁻¹ a⁻¹]   (β: forest soil coefficient, 0 elsewhere)
    Q_CO2 = k · Cf                  [t CO2 ha⁻¹ a⁻¹] (k = 44/12 unless the profile sets it)
    V_C   = Q_CO2 · p_CO2           [yuan ha⁻¹ a⁻¹]
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step
from .common import scalar, times

__all__ = ["SERVICE", "carbon_fixed", "CARBON_STEPS"]


@scalar
def carbon_fixed(rate: float, beta: float) -> float:
    """Carbon fixed, rate · (1 + β) (t C ha⁻¹ a⁻¹)."""
    return rate * (1.0 + beta)


_P = ParameterSpec

#: carbon and CO2 fixed per ha: the first steps of carbon fixation and of oxygen release
CARBON_STEPS = (
    Step("carbon", carbon_fixed, ("carbon_sequestration_rate", "forest_soil_carbon_beta")),
    Step("co2", times, ("co2_per_c", "carbon")),
)

SERVICE = Service(
    name="carbon", title="Carbon fixation", category="regulating", module=__name__,
    parameters=(
        _P("carbon_sequestration_rate", "rate", "tc_per_ha_a", "t C ha-1 a-1", 0, INF,
           "carbon fixed by vegetation per ha"),
        _P("forest_soil_carbon_beta", "β", "dimensionless", "1", 0, INF,
           "forest soil carbon coefficient (0 outside forest)", default=0.0),
        _P("co2_per_c", "k", "t_per_t", "t t-1", 0, INF, "t CO2 per t C (44/12)",
           default=44.0 / 12.0),
        _P("carbon_price", "p_CO2", "yuan_per_t_co2", "yuan t-1 CO2", 0, INF,
           "carbon price per t CO2 (a price per t C is converted with co2_per_c)", price=True),
    ),
    measures=(
        Measure("carbon", "carbon", "t C a-1", "t C ha-1 a-1", "carbon fixed (t C)"),
        Measure("carbon", "co2", "t CO2 a-1", "t CO2 ha-1 a-1", "CO2 fixed (t CO2)"),
        Measure("carbon", "value", *VALUE_UNITS, "carbon fixation value"),
    ),
    steps=CARBON_STEPS + (Step("value", times, ("co2", "carbon_price")),),
)
