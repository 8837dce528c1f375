"""A blank parameter profile for a new landscape: every parameter the chosen services need.

``gepgeo profiles template --land-types forest,cropland,grassland [--services soil,water]``
writes a profile skeleton with one entry per parameter the services need (in their default
formula variant), each with its symbol, canonical unit, domain and description as a comment,
a blank ``value`` (or a blank ``by_land_type`` table for quantities that vary by land type) and
a blank ``source``. Filling in the blanks gives a profile that loads and runs; the loader names
every blank still left.
"""

from __future__ import annotations

import math


from .errors import ConfigError
from .parameters import METHOD_DEFAULTS, spec_for
from .services import METHOD, SERVICES

__all__ = ["BY_LAND_TYPE", "profile_template", "template_keys"]

#: Parameters that usually differ between land types: the template gives them a table
BY_LAND_TYPE = frozenset({
    "soil_erodibility_k", "cover_management_c", "support_practice_p", "water_retention_depth",
    "runoff_coefficient", "runoff", "evapotranspiration", "so2_uptake_rate", "nox_uptake_rate",
    "dust_uptake_rate", "carbon_sequestration_rate", "forest_soil_carbon_beta",
    "heat_absorption", "landscape_equivalent_factor", "agri_output_value_per_ha", "crop_yield",
    "soil_n_content", "soil_p_content", "soil_k_content",
})

#: Other forms a parameter can take (the template uses the first, default form)
_ALTERNATIVES = {
    "water_retention_depth": "or precipitation, runoff_coefficient (or runoff) and "
                             "evapotranspiration",
    "lambda_over_rho": "or sediment_deposition_coefficient_lambda and soil_bulk_density_rho",
    "grain_output_value_per_ha": "or grain_price and grain_yield",
    "agri_output_value_per_ha": "or crop_yield and crop_price",
}

_SERVICE_NAMES = tuple(s.name for s in SERVICES)


def template_keys(services: list[str] | None = None, *, valuation: bool = True
                  ) -> list[tuple[str, list[str]]]:
    """(service, parameter keys) for each chosen service, in service order, each key once;
    without ``valuation``, no price (:data:`gepgeo.resolve.PRICE_PARAMETERS`) and no
    value-only service (landscape).

    Raises
    ------
    ConfigError
        An unknown service name.
    """
    from .resolve import VALUE_ONLY_SERVICES, required_parameters

    chosen = list(_SERVICE_NAMES) if not services else services
    unknown = [s for s in chosen if s not in _SERVICE_NAMES]
    if unknown:
        raise ConfigError(f"--services: unknown service {unknown[0]!r} (services: "
                          f"{', '.join(_SERVICE_NAMES)})")
    if not valuation:
        value_only = [s for s in chosen if s in VALUE_ONLY_SERVICES and services]
        if value_only:
            raise ConfigError(f"--services: {value_only[0]!r} has only a value; leave it out "
                              "with --no-valuation")
        chosen = [s for s in chosen if s not in VALUE_ONLY_SERVICES]
    # the first form of each formula variant, unless the options decide (without valuation
    # the crop yield is the agricultural quantity)
    first = {k for v in METHOD.variants for k in next(iter(v.forms.values()))}
    modes = METHOD.modes(first, {"water_deficit": "clamp", "valuation": valuation})
    seen: set[str] = set()
    out = []
    for name in _SERVICE_NAMES:
        if name not in chosen:
            continue
        keys = [k for k in required_parameters(name, modes, valuation) if k not in seen]
        seen.update(keys)
        out.append((name, keys))
    return out


def _domain(low: float, high: float) -> str:
    """``[0, 1]``, ``[0, ∞)``, ``(-∞, ∞)``: closed ends where the bound is finite."""
    lo = "(-∞" if math.isinf(low) else f"[{low:g}"
    hi = "∞)" if math.isinf(high) else f"{high:g}]"
    return f"{lo}, {hi}"


def _name_ok(text: str) -> bool:
    return bool(text) and text.replace("_", "").replace("-", "").isalnum()


def profile_template(land_types: list[str], services: list[str] | None = None, *,
                     name: str = "my-landscape", valuation: bool = True) -> str:
    """The YAML text of a blank profile for ``land_types`` and ``services``.

    Parameters
    ----------
    land_types : list of str
        The land types that supply services (those of the pipeline's ``codes:`` minus
        ``no_services:``).
    services : list of str, optional
        Service names (default: all eight).
    name : str
        The profile's name.
    valuation : bool
        False: the physical parameters only, for a pipeline with ``valuation: false``.

    Raises
    ------
    ConfigError
        No land type, a land-type name that is not a plain identifier, or an unknown service.
    """
    if not land_types:
        raise ConfigError("--land-types: give at least one land type, e.g. "
                          "--land-types forest,cropland,grassland")
    bad = [lt for lt in land_types if not _name_ok(lt)]
    if bad:
        raise ConfigError(f"--land-types: {bad[0][:40]!r} is not a plain name (letters, digits, "
                          "_ and - only)")
    if len(set(land_types)) != len(land_types):
        raise ConfigError("--land-types: a land type is named twice")
    blank_table = "{" + ", ".join(f"{lt}: " for lt in land_types) + "}"
    lines = [
        "# gepgeo parameter profile: fill in every blank value and source, then name this file",
        "# in a pipeline (profile: {name: path/to/this.yaml}). Units are the canonical ones; "
        "another",
        "# unit the parameter accepts may be given instead. A parameter may also come from a "
        "raster",
        "# in the pipeline's parameters: then delete it here.",
        f"name: {name}",
        'title: ""',
        "version: 1",
        "kind: full",
        "price_year: unknown          # the year of the prices, e.g. 2020",
        "scope: site                  # site | regional | national: where these values hold",
        "extent: [0, 0, 0, 0]         # [west, south, east, north], degrees (WGS 84); "
        "required for site",
        'source: ""',
        f"land_types: [{', '.join(land_types)}]",
        "parameters:",
    ]
    defaults = []
    for service, keys in template_keys(services, valuation=valuation):
        lines.append(f"  # --- {service}")
        for key in keys:
            spec = spec_for(key, where="template")
            if key in METHOD_DEFAULTS:
                defaults.append(f"  # {key}: method default {METHOD_DEFAULTS[key]:.6g} "
                                f"{spec.unit} (give an entry to change it)")
                continue
            alt = f"; {_ALTERNATIVES[key]}" if key in _ALTERNATIVES else ""
            lines.append(f"  {key}:    # {spec.symbol}, {spec.unit}, domain "
                         f"{_domain(spec.low, spec.high)}: {spec.description}{alt}")
            if key in BY_LAND_TYPE:
                lines.append(f"    by_land_type: {blank_table}")
            else:
                lines.append("    value:")
            lines.append(f'    unit: "{spec.unit}"')
            lines.append('    source: ""     # stated | inferred | assumed ..., and the reference')
    if defaults:
        lines.append("  # --- constants of the method, used unless given here")
        lines.extend(defaults)
    return "\n".join(lines) + "\n"
