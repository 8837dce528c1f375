"""Agricultural products (method service 1): market value.

    V_agri = v_agri                 [yuan ha⁻¹ a⁻¹]  net output value per ha, or
    V_agri = yield · price          (yield kg ha⁻¹ a⁻¹, price yuan kg⁻¹)

Physical quantities: productive area (ha; 1 ha ha⁻¹ where the land type produces: a crop yield
> 0, whatever its price, or, with no yield given, an output value > 0) and, when a yield is
given, product mass (kg ha⁻¹ a⁻¹).
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step, Variant
from .common import given, scalar, times

__all__ = ["SERVICE", "productive"]


@scalar
def productive(amount: float) -> float:
    """Productive area per ha: 1 where the land yields something (``amount`` > 0), else 0."""
    return 1.0 if amount > 0.0 else 0.0


def _agri_form(keys, opts) -> int:
    if not opts.get("valuation", True):   # the product mass (crop yield) is the quantity
        return 1
    return 0 if ("agri_output_value_per_ha" in keys or "crop_yield" not in keys) else 1


_P = ParameterSpec
_AV = "agri_output_value_per_ha"

SERVICE = Service(
    name="agriculture", title="Agricultural products", category="provisioning", module=__name__,
    parameters=(
        _P(_AV, "v_agri", "yuan_per_ha_a", "yuan ha-1 a-1", 0, INF,
           "net agricultural output value per ha (wins over crop yield x price)", price=True),
        _P("crop_yield", "yield", "kg_per_ha_a", "kg ha-1 a-1", 0, INF,
           "crop yield (one aggregated crop product)"),
        _P("crop_price", "price", "yuan_per_kg", "yuan kg-1", 0, INF, "crop price", price=True),
    ),
    variants=(
        Variant("agriculture", {"value per ha": (_AV,),
                                "yield × price": ("crop_yield", "crop_price")},
                _agri_form, quantity="agricultural output value"),
    ),
    measures=(
        Measure("agriculture", "productive_area", "ha", "ha ha-1",
                "area of land types with output"),
        Measure("agriculture", "product_mass", "kg a-1", "kg ha-1 a-1",
                "crop product (with yields)"),
        Measure("agriculture", "value", *VALUE_UNITS, "market value of agricultural products"),
    ),
    steps=(
        Step("value", given, (_AV,), when=("agriculture", 0)),
        Step("productive_area", productive, ("value",), when=("agriculture", 0)),
        Step("product_mass", given, ("crop_yield",), when=("agriculture", 1)),
        Step("value", times, ("product_mass", "crop_price"), when=("agriculture", 1)),
        Step("productive_area", productive, ("product_mass",), when=("agriculture", 1)),
    ),
)
