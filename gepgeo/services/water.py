"""Water conservation (method service 2): water balance, valued at a replacement cost.

    depth  = P − R − ET,  with R = P · α (runoff coefficient) or a runoff layer   [mm a⁻¹]
    Q_wr   = depth · 10⁻³ m mm⁻¹ · 10⁴ m² ha⁻¹ = 10 · depth                       [m³ ha⁻¹ a⁻¹]
    V_wr   = Q_wr · C_w                                                            [yuan ha⁻¹ a⁻¹]

The depth may also be given net (``water_retention_depth``). A negative depth is a water
deficit: clamped to 0 by default and counted, or kept signed on request
(``water_deficit: signed``).
"""

from __future__ import annotations

from .declare import INF, VALUE_UNITS, Linear, Measure, ParameterSpec, Service, Step, Variant
from .common import given, scalar, times

__all__ = ["SERVICE", "M3_PER_HA_PER_MM", "balance_depth", "water_volume", "clamp_deficit"]

#: m³ of water per ha per mm of depth: 10⁻³ m mm⁻¹ × 10⁴ m² ha⁻¹.
M3_PER_HA_PER_MM = 10.0


@scalar
def balance_depth(precipitation: float, runoff: float, evapotranspiration: float) -> float:
    """Net water conservation depth P − R − ET (mm a⁻¹); may be negative (a deficit)."""
    return precipitation - runoff - evapotranspiration


@scalar
def balance_depth_coefficient(precipitation: float, runoff_coefficient: float,
                              evapotranspiration: float) -> float:
    """P − P·α − ET (mm a⁻¹), the runoff as a share α of the precipitation P."""
    return balance_depth(precipitation, precipitation * runoff_coefficient, evapotranspiration)


@scalar
def clamp_deficit(depth_mm: float) -> tuple[float, float]:
    """A deficit (negative depth) clamped to 0: ``(max(depth, 0), 1.0 if clamped else 0.0)``;
    NaN stays NaN, unclamped."""
    if depth_mm < 0.0:
        return 0.0, 1.0
    return depth_mm, 0.0


@scalar
def water_volume(depth_mm: float) -> float:
    """Water conserved per ha, 10 · depth (m³ ha⁻¹ a⁻¹) for a depth in mm a⁻¹."""
    return depth_mm * M3_PER_HA_PER_MM


def _water_form(keys, opts) -> int:
    if "water_retention_depth" in keys:
        return 0
    if "runoff" in keys and "runoff_coefficient" not in keys:
        return 2
    return 1


_P = ParameterSpec
_PRECIP, _RC, _RUNOFF, _ET, _DEPTH = ("precipitation", "runoff_coefficient", "runoff",
                                      "evapotranspiration", "water_retention_depth")

SERVICE = Service(
    name="water", title="Water conservation", category="regulating", module=__name__,
    parameters=(
        _P(_PRECIP, "P", "depth_rate", "mm a-1", 0, INF, "annual precipitation"),
        _P(_RC, "α", "dimensionless", "1", 0, 1, "storm runoff as a share of precipitation"),
        _P(_RUNOFF, "R", "depth_rate", "mm a-1", 0, INF,
           "annual storm runoff depth (instead of a runoff coefficient)"),
        _P(_ET, "ET", "depth_rate", "mm a-1", 0, INF, "annual actual evapotranspiration"),
        _P(_DEPTH, "P−R−ET", "depth_rate", "mm a-1", -INF, INF,
           "net water conservation depth, when only P − R − ET is known (wins)"),
        _P("water_price", "C_w", "yuan_per_m3", "yuan m-3", 0, INF,
           "water price or reservoir construction cost per m3 of storage", price=True),
    ),
    variants=(
        Variant("water", {"net depth": (_DEPTH,),
                          "runoff coefficient": (_PRECIP, _RC, _ET),
                          "runoff depth": (_PRECIP, _RUNOFF, _ET)},
                _water_form, quantity="water conservation depth"),
        Variant("water_signed", {"clamp": (), "signed": ()},
                lambda keys, opts: 1 if opts.get("water_deficit") == "signed" else 0),
    ),
    measures=(
        Measure("water", "water_conservation", "m3 a-1", "m3 ha-1 a-1",
                "water conserved, P − R − ET"),
        Measure("water", "value", *VALUE_UNITS, "water conservation value"),
    ),
    steps=(
        Step("depth", given, (_DEPTH,), when=("water", 0)),
        Step("depth", balance_depth_coefficient, (_PRECIP, _RC, _ET), when=("water", 1)),
        Step("depth", balance_depth, (_PRECIP, _RUNOFF, _ET), when=("water", 2)),
        Step(("depth", "clamped"), clamp_deficit, ("depth",), when=("water_signed", 0)),
        Step("water_conservation", water_volume, ("depth",)),
        Step("value", times, ("water_conservation", "water_price")),
    ),
    # the driver is the (clamped) depth, carried by the first term of each form
    linear=Linear(variant="water", settings=(
        ((_DEPTH, 1.0, 0.0),),
        ((_PRECIP, 1.0, 0.0), (_RC, 0.0, 0.0), (_ET, 0.0, 0.0)),
        ((_PRECIP, 1.0, 0.0), (_RUNOFF, 0.0, 0.0), (_ET, 0.0, 0.0)),
    )),
)
