"""Air purification (method service 4): treatment cost.

    Q_j   = q_j · m_air             [t ha⁻¹ a⁻¹], j ∈ {SO2, NOx, dust}
    V_j   = Q_j · c_j               [yuan ha⁻¹ a⁻¹]
    V_air = V_SO2 + V_NOx + V_dust  [yuan ha⁻¹ a⁻¹]

m_air (``air_rate_multiplier``, 1 unless a profile sets it) scales the stated uptake rates.
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step
from .common import times, total3

__all__ = ["SERVICE"]

_P = ParameterSpec
_M = "air_rate_multiplier"

SERVICE = Service(
    name="air", title="Air purification", category="regulating", module=__name__,
    parameters=(
        _P("so2_uptake_rate", "q_SO2", "t_per_ha_a", "t ha-1 a-1", 0, INF, "SO2 absorbed per ha"),
        _P("nox_uptake_rate", "q_NOx", "t_per_ha_a", "t ha-1 a-1", 0, INF, "NOx absorbed per ha"),
        _P("dust_uptake_rate", "q_dust", "t_per_ha_a", "t ha-1 a-1", 0, INF,
           "dust retained per ha"),
        _P(_M, "m_air", "dimensionless", "1", 0, INF,
           "factor applied to the three uptake rates", default=1.0),
        _P("so2_charge", "c_SO2", "yuan_per_t", "yuan t-1", 0, INF, "SO2 treatment cost",
           price=True),
        _P("nox_charge", "c_NOx", "yuan_per_t", "yuan t-1", 0, INF, "NOx treatment cost",
           price=True),
        _P("dust_charge", "c_dust", "yuan_per_t", "yuan t-1", 0, INF, "dust treatment cost",
           price=True),
    ),
    measures=(
        Measure("air", "so2", "t SO2 a-1", "t SO2 ha-1 a-1", "SO2 absorbed"),
        Measure("air", "nox", "t NOx a-1", "t NOx ha-1 a-1", "NOx absorbed"),
        Measure("air", "dust", "t a-1", "t ha-1 a-1", "dust retained"),
        Measure("air", "so2_value", *VALUE_UNITS, "SO2 treatment cost avoided"),
        Measure("air", "nox_value", *VALUE_UNITS, "NOx treatment cost avoided"),
        Measure("air", "dust_value", *VALUE_UNITS, "dust treatment cost avoided"),
        Measure("air", "value", *VALUE_UNITS, "air purification value"),
    ),
    steps=(
        Step("so2", times, ("so2_uptake_rate", _M)),
        Step("nox", times, ("nox_uptake_rate", _M)),
        Step("dust", times, ("dust_uptake_rate", _M)),
        Step("so2_value", times, ("so2", "so2_charge")),
        Step("nox_value", times, ("nox", "nox_charge")),
        Step("dust_value", times, ("dust", "dust_charge")),
        Step("value", total3, ("so2_value", "nox_value", "dust_value")),
    ),
)
