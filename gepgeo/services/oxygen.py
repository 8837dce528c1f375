"""Oxygen release (method service 6), on the same carbon basis as carbon fixation.

    Q_O2  = (32/44) · Q_CO2         [t O2 ha⁻¹ a⁻¹]  (Q_CO2 as in :mod:`gepgeo.services.carbon`)
    V_O2  = Q_O2 · p_O2             [yuan ha⁻¹ a⁻¹]
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step
from .carbon import CARBON_STEPS
from .common import times

__all__ = ["SERVICE"]

_P = ParameterSpec

SERVICE = Service(
    name="oxygen", title="Oxygen release", category="regulating", module=__name__,
    uses=("carbon_sequestration_rate", "forest_soil_carbon_beta", "co2_per_c"),
    parameters=(
        _P("o2_per_co2", "32/44", "t_per_t", "t t-1", 0, INF, "t O2 per t CO2 (32/44)",
           default=32.0 / 44.0),
        _P("oxygen_price", "p_O2", "yuan_per_t", "yuan t-1", 0, INF, "industrial oxygen price",
           price=True),
    ),
    measures=(
        Measure("oxygen", "o2", "t O2 a-1", "t O2 ha-1 a-1", "oxygen released (t O2)"),
        Measure("oxygen", "value", *VALUE_UNITS, "oxygen release value"),
    ),
    steps=CARBON_STEPS + (
        Step("o2", times, ("o2_per_co2", "co2")),
        Step("value", times, ("o2", "oxygen_price")),
    ),
)
