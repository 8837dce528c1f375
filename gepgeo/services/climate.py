"""Climate regulation (method service 7): air-conditioning energy replaced.

    Q_cl = H · d / (3600 · EER)     [kWh ha⁻¹ a⁻¹]   (H in kJ ha⁻¹ d⁻¹; 3600 kJ kWh⁻¹)
    V_cl = Q_cl · p_elec            [yuan ha⁻¹ a⁻¹]
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step
from .common import scalar, times

__all__ = ["SERVICE", "KJ_PER_KWH", "cooling_energy"]

KJ_PER_KWH = 3600.0


@scalar
def cooling_energy(heat_kj: float, days: float, eer: float) -> float:
    """Electricity an air conditioner would use to remove the heat, H d / (3600 EER)
    (kWh ha⁻¹ a⁻¹)."""
    return heat_kj * days / (KJ_PER_KWH * eer)


_P = ParameterSpec

SERVICE = Service(
    name="climate", title="Climate regulation", category="regulating", module=__name__,
    parameters=(
        _P("heat_absorption", "H", "heat", "kJ ha-1 d-1", 0, INF,
           "heat absorbed by vegetation per ha per day"),
        _P("ac_days", "d", "days", "d a-1", 0, 366, "air-conditioning days per year"),
        _P("ac_energy_efficiency_ratio", "EER", "dimensionless", "1", 1e-9, INF,
           "air-conditioner energy-efficiency ratio"),
        _P("electricity_price", "p_elec", "yuan_per_kwh", "yuan kWh-1", 0, INF,
           "electricity price", price=True),
    ),
    measures=(
        Measure("climate", "cooling_energy", "kWh a-1", "kWh ha-1 a-1",
                "air-conditioning electricity replaced"),
        Measure("climate", "value", *VALUE_UNITS, "climate regulation value"),
    ),
    steps=(
        Step("cooling_energy", cooling_energy,
             ("heat_absorption", "ac_days", "ac_energy_efficiency_ratio")),
        Step("value", times, ("cooling_energy", "electricity_price")),
    ),
)
