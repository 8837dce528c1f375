"""Units of parameters and layers, and the conversions gepgeo knows by name.

Every parameter has one canonical unit (the unit its formula in ``METHOD.md`` is written in).
A profile, a pipeline or a GeoTIFF tag may give a value in another unit; it is converted once,
when parameters are resolved, by a factor from the tables below. Unknown units are an error:
gepgeo never guesses a unit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import UnitError, brief

__all__ = ["UNIT_FAMILIES", "normalise_unit", "conversion_factor", "is_per_t_carbon"]

# family name -> {accepted spelling (normalised) -> factor to the canonical unit}; the first
# entry of each family is its canonical spelling.
UNIT_FAMILIES: dict[str, dict[str, float]] = {
    "dimensionless": {"1": 1.0, "": 1.0, "-": 1.0, "fraction": 1.0, "dimensionless": 1.0},
    "percent_as_fraction": {"1": 1.0, "fraction": 1.0, "%": 0.01},
    "erosivity": {
        "MJ mm ha-1 h-1 a-1": 1.0,
        "MJ mm ha-1 h-1": 1.0,
        "MJ mm ha-1 h-1 yr-1": 1.0,
        # US customary: hundreds of ft tonf in acre-1 h-1 a-1 (Renard et al. 1997, x 17.02)
        "US": 17.02,
        "hundreds of ft tonf in acre-1 h-1 a-1": 17.02,
    },
    "erodibility": {
        "t ha h ha-1 MJ-1 mm-1": 1.0,
        # US customary: short ton acre h (hundreds of acre ft tonf in)-1 (x 0.1317)
        "US": 0.1317,
        "short ton acre h (hundreds of acre ft tonf in)-1": 0.1317,
    },
    "depth_rate": {"mm a-1": 1.0, "mm": 1.0, "mm yr-1": 1.0, "cm a-1": 10.0, "m a-1": 1000.0,
                   "0.1 mm a-1": 0.1},
    "yuan_per_m3": {"yuan m-3": 1.0},
    "yuan_per_t": {"yuan t-1": 1.0, "yuan kg-1": 1000.0, "1e4 yuan t-1": 1.0e4},
    "yuan_per_kg": {"yuan kg-1": 1.0, "yuan t-1": 0.001},
    "yuan_per_t_co2": {"yuan t-1 CO2": 1.0, "yuan t-1": 1.0},
    "yuan_per_kwh": {"yuan kWh-1": 1.0},
    "yuan_per_ha_a": {"yuan ha-1 a-1": 1.0, "1e4 yuan ha-1 a-1": 1.0e4},
    "m3_per_t": {"m3 t-1": 1.0},
    "t_per_m3": {"t m-3": 1.0, "g cm-3": 1.0, "kg m-3": 0.001},
    "content_g_per_kg": {"g kg-1": 1.0, "%": 10.0, "1": 1000.0, "fraction": 1000.0},
    "t_per_ha_a": {"t ha-1 a-1": 1.0, "kg ha-1 a-1": 0.001},
    "kg_per_ha_a": {"kg ha-1 a-1": 1.0, "t ha-1 a-1": 1000.0},
    "tc_per_ha_a": {"t C ha-1 a-1": 1.0, "kg C ha-1 a-1": 0.001},
    "t_per_t": {"t t-1": 1.0, "1": 1.0},
    "heat": {"kJ ha-1 d-1": 1.0, "MJ ha-1 d-1": 1000.0},
    "days": {"d a-1": 1.0, "d": 1.0},
}

_SUBS = [
    (re.compile(r"\s+"), " "),
    (re.compile(r"·|\*"), " "),
    (re.compile(r"\bhm-?2\b"), "ha"),
    (re.compile(r"\byr\b"), "a"),
]


def normalise_unit(unit: str | None) -> str:
    """Return ``unit`` with white space folded and common variants unified (``hm2`` → ``ha``).

    Parameters
    ----------
    unit : str or None
        A unit string as written by a user, a profile or a GeoTIFF tag.

    Returns
    -------
    str
        The normalised spelling (``""`` for None).
    """
    if unit is None:
        return ""
    out = str(unit).strip()
    for pattern, repl in _SUBS:
        out = pattern.sub(repl, out)
    return out.strip()


def is_per_t_carbon(unit: str | None) -> bool:
    """Whether ``unit`` is a carbon price per t of carbon (``yuan t-1 C``, ``yuan/tC``): the one
    unit of ``carbon_price`` whose conversion needs ``co2_per_c`` (yuan t⁻¹ CO2 = yuan t⁻¹ C ÷
    co2_per_c), so it is accepted by profiles and pipelines alike and converted at resolution."""
    return normalise_unit(unit).replace(" ", "").lower() in ("yuant-1c", "yuan/tc")


def conversion_factor(unit: str | None, family: str, *, what: str) -> float:
    """Factor that converts a value in ``unit`` to the canonical unit of ``family``.

    Parameters
    ----------
    unit : str or None
        The unit given; None or empty means "the canonical unit" only for dimensionless families.
    family : str
        A key of :data:`UNIT_FAMILIES`.
    what : str
        Names the parameter or layer in the error message.

    Raises
    ------
    UnitError
        If ``unit`` is not an accepted spelling for ``family``.
    """
    table: Mapping[str, float] = UNIT_FAMILIES[family]
    norm = normalise_unit(unit)
    if not norm:
        if family in ("dimensionless", "t_per_t"):
            return 1.0
        norm = next(iter(table))  # canonical unit when none is given for a profile value
    lowered = {k.lower(): v for k, v in table.items()}
    if norm in table:
        return table[norm]
    if norm.lower() in lowered:
        return lowered[norm.lower()]
    accepted = ", ".join(repr(k) for k in table if k)
    raise UnitError(f"{what}: unknown unit {brief(unit)}; accepted: {accepted}")
