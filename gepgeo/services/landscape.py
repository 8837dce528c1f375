"""Landscape / aesthetic value (method service 8): equivalent-factor method.

    V_land = E · k · Pa·Pb          [yuan ha⁻¹ a⁻¹]

E is the land type's equivalent factor, k = 1/7 the value of one factor as a share of the grain
output value per ha, Pa·Pb the grain output value per ha (price yuan kg⁻¹ × yield kg ha⁻¹ a⁻¹,
or given as one value). No physical quantity.
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step, Variant
from .common import given, scalar, times

__all__ = ["SERVICE", "landscape_value"]


@scalar
def landscape_value(factor: float, coefficient: float, grain_value_per_ha: float) -> float:
    """Landscape value per ha, E · k · Pa·Pb (yuan ha⁻¹ a⁻¹)."""
    return factor * coefficient * grain_value_per_ha


_P = ParameterSpec
_GV = "grain_output_value_per_ha"

SERVICE = Service(
    name="landscape", title="Landscape value", category="cultural", module=__name__,
    value_only=True,
    parameters=(
        _P("landscape_equivalent_factor", "E", "dimensionless", "1", 0, INF,
           "landscape (aesthetic) value equivalent factor", price=True),
        _P("equivalent_value_coefficient", "k", "dimensionless", "1", 0, 1,
           "value of one equivalent factor as a share of grain output (1/7)", price=True,
           default=1.0 / 7.0),
        _P("grain_price", "Pa", "yuan_per_kg", "yuan kg-1", 0, INF, "grain price", price=True),
        _P("grain_yield", "Pb", "kg_per_ha_a", "kg ha-1 a-1", 0, INF, "grain yield", price=True),
        _P(_GV, "Pa·Pb", "yuan_per_ha_a", "yuan ha-1 a-1", 0, INF,
           "grain output value per ha, when only Pa × Pb is known (wins)", price=True),
    ),
    variants=(
        Variant("grain", {"value per ha": (_GV,), "price × yield": ("grain_price", "grain_yield")},
                lambda keys, opts: 0 if _GV in keys else 1, quantity="grain output value"),
    ),
    measures=(
        Measure("landscape", "value", *VALUE_UNITS, "landscape (aesthetic) value"),
    ),
    steps=(
        Step("grain_value", given, (_GV,), when=("grain", 0)),
        Step("grain_value", times, ("grain_price", "grain_yield"), when=("grain", 1)),
        Step("value", landscape_value,
             ("landscape_equivalent_factor", "equivalent_value_coefficient", "grain_value")),
    ),
)
