"""Resolve parameters: from what a profile and a pipeline give to what the kernel reads.

A parameter is given one of three ways (METHOD.md, Conventions): a constant for the whole grid,
a table by land type, or a raster layer aligned to the land-use grid. :class:`ParamValue` holds
one of them with its unit and provenance. :func:`plan` decides, from the keys available, which
form of each formula applies (e.g. the net ``water_retention_depth`` wins over P − R − ET), checks
that every enabled service has every parameter it needs for every land type that supplies
services, and converts constants and tables to canonical units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import (ConfigError, DomainError, GepgeoError, MissingParameterError, Problems,
                     UnitError,
                     brief)
from .parameters import METHOD_DEFAULTS, PARAM_INDEX, PARAMETERS, spec_for
from .services import METHOD, SERVICES
from .units import conversion_factor, is_per_t_carbon, normalise_unit

__all__ = ["ParamValue", "Plan", "plan", "as_param_value", "required_parameters", "FORMS",
           "merge_levels", "merge_param", "PRICE_PARAMETERS", "VALUE_ONLY_SERVICES"]


@dataclass(frozen=True)
class ParamValue:
    """One parameter as given, with its unit and where it comes from.

    Attributes
    ----------
    key : str
        Parameter key (see :mod:`gepgeo.parameters`).
    value : float, mapping or raster
        A constant, a mapping ``{land_type: value}``, or a raster (an ``xarray.DataArray`` or
        any object the caller later turns into a lazy block source).
    unit : str
        Unit the value is given in ("" = canonical for constants and tables).
    source : str
        Provenance (``stated``, ``inferred``, ``pipeline``, ``method default``, a file path...).
    ref, note : str
        Table or clause cited, and a free note.
    price_year : str or int or None
        Price year of a price.
    """

    key: str
    value: Any
    unit: str = ""
    source: str = ""
    ref: str = ""
    note: str = ""
    price_year: str | int | None = None
    origin: str = ""  # profile name or "pipeline"
    #: for a table merged from several levels (:func:`merge_param`): the origin of each land
    #: type's value (None: every value has ``origin``)
    origins: Mapping[str, str] | None = field(default=None, compare=False)
    #: how a raster was computed from other inputs (``{"from_dem": {...}}``), for the manifest
    derived: Mapping[str, Any] | None = field(default=None, compare=False)
    #: the value's range (:func:`gepgeo.uncertainty.parse_uncertainty`): one
    #: :class:`~gepgeo.uncertainty.RangeSpec`, or one per land type; None: fixed
    uncertainty: Any = field(default=None, compare=False)

    def origin_of(self, land_type: str) -> str:
        """Where the value of ``land_type`` comes from (a table merged from several levels
        names each land type's level)."""
        return (self.origins or {}).get(land_type, self.origin)

    @property
    def kind(self) -> str:
        """``constant``, ``table`` or ``raster``."""
        if isinstance(self.value, (int, float, np.floating, np.integer)):
            return "constant"
        if isinstance(self.value, Mapping):
            return "table"
        return "raster"


def as_param_value(key: str, value: Any, *, source: str = "api", origin: str = "api") -> ParamValue:
    """Wrap a plain constant, mapping or DataArray (or pass a :class:`ParamValue` through)."""
    if isinstance(value, ParamValue):
        return value
    if isinstance(value, bool):
        raise ConfigError(f"parameter {key!r}: expected a number, a table or a raster, got "
                          f"{brief(value)}")
    unit = str(getattr(value, "unit", "") or "")     # a Layer
    attrs = getattr(value, "attrs", None)            # a DataArray
    if attrs is not None:
        unit = str(attrs.get("units", "") or "")
    return ParamValue(key, value, unit=unit, source=source, origin=origin)


#: Quantities the method lets one give in alternative forms: per quantity, each form and the
#: keys that make it up, in the order of preference when the keys given do not decide (declared
#: by the services' variants, :mod:`gepgeo.services`).
FORMS: dict[str, dict[str, tuple[str, ...]]] = METHOD.forms


def _forms_fitting(keys: Iterable[str], forms: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The forms that contain every one of ``keys``."""
    ks = set(keys)
    return [f for f, fk in forms.items() if ks <= set(fk)]


def _clashing_pair(keys: Sequence[str], forms: Mapping[str, tuple[str, ...]]
                   ) -> tuple[str, str]:
    """Two of ``keys`` that no one form holds together, the most telling pair first (keys
    that belong to a single form, e.g. ``runoff`` and ``runoff_coefficient`` rather than
    ``precipitation``)."""
    def forms_of(k: str) -> int:
        return sum(k in fk for fk in forms.values())
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]
             if not _forms_fitting([a, b], forms)]
    if not pairs:
        return keys[0], keys[1]
    return min(pairs, key=lambda ab: forms_of(ab[0]) + forms_of(ab[1]))


def merge_param(low: ParamValue, high: ParamValue,
                given: Mapping[str, ParamValue] | None = None) -> ParamValue:
    """``high`` given over ``low`` for one key: a table over a table merges land type by land
    type (``high`` wins for the land types it gives, ``low`` keeps the others); anything else
    is replaced whole.

    Tables in different units are both converted to the parameter's canonical unit first
    (``given``, the other parameters, serves a carbon price per t C). The merged value records
    which level gave each land type (:attr:`ParamValue.origins`).
    """
    if low.kind != "table" or high.kind != "table":
        return high
    lo, hi = dict(low.value), dict(high.value)
    unit = high.unit
    if normalise_unit(low.unit) != normalise_unit(high.unit):
        try:
            f_lo, f_hi = _factor(low, given or {}), _factor(high, given or {})
            lo = {k: float(v) * f_lo for k, v in lo.items()}
            hi = {k: float(v) * f_hi for k, v in hi.items()}
        except (GepgeoError, TypeError, ValueError):
            return high   # its unit or values are reported when it is used
        unit = spec_for(high.key, where=high.origin or "parameters").unit
    origins = {lt: low.origin_of(lt) for lt in lo}
    origins.update({lt: high.origin_of(lt) for lt in hi})
    return replace(high, value={**lo, **hi}, unit=unit, origins=origins)


def merge_levels(levels: Sequence[tuple[str, Mapping[str, ParamValue]]]
                 ) -> tuple[dict[str, ParamValue], list[str]]:
    """Merge the parameter sets of several levels, lowest first (profile, valuation profile,
    ``profile.overrides``, pipeline ``parameters:``; or profile, then API parameters).

    A later level wins key by key, and land type by land type for a table given over a table
    (:func:`merge_param`). For a quantity given in alternative forms (:data:`FORMS`,
    e.g. ``runoff`` or ``runoff_coefficient``), the form of the highest level that gives one
    wins as a whole: the keys of the other forms, from lower levels, are left out and a note
    says which won.

    Parameters
    ----------
    levels : sequence of (str, mapping of str to ParamValue)
        Each level's name (for messages) and its parameters.

    Returns
    -------
    merged : dict of str to ParamValue
    notes : list of str
        One line per quantity whose form one level overrode in another.

    Raises
    ------
    ConfigError
        One level gives two forms of one quantity (e.g. ``runoff`` and ``runoff_coefficient``);
        the message names both keys.
    """
    merged: dict[str, ParamValue] = {}
    for _, params in levels:
        for key, pv in params.items():
            merged[key] = merge_param(merged[key], pv, merged) if key in merged else pv
    notes: list[str] = []
    problems = Problems()
    for quantity, forms in FORMS.items():
        group = {k for fk in forms.values() for k in fk}
        cand = list(forms)
        for level, params in reversed(levels):
            keys = [k for k in params if k in group]
            if not keys:
                continue
            fits = _forms_fitting(keys, forms)
            if not fits:
                a, b = _clashing_pair(keys, forms)
                problems.add(ConfigError(
                    f"{level}: {a!r} and {b!r} are two forms of the {quantity}; give only one "
                    f"of them (forms: {'; '.join(' + '.join(fk) for fk in forms.values())})"))
                continue
            narrowed = [f for f in cand if f in fits]
            if narrowed:
                cand = narrowed
        chosen = forms[cand[0]]
        dropped = sorted(k for k in merged if k in group and k not in chosen)
        if dropped:
            # name the keys given that only the winning form has (else all of its keys given)
            own = [k for k in chosen if k in merged
                   and sum(k in fk for fk in forms.values()) == 1]
            won = ", ".join(f"{k} ({merged[k].origin})"
                            for k in own or [k for k in chosen if k in merged])
            lost = ", ".join(f"{k} ({merged.pop(k).origin})" for k in dropped)
            notes.append(f"{quantity}: {won or 'the ' + cand[0] + ' form'} wins over {lost}")
    # a value one level overrides is checked all the same: out of its domain, it is wrong
    kept = {id(pv) for pv in merged.values()}
    for _, params in levels:
        for pv in params.values():
            if id(pv) not in kept:
                _check_given(pv, merged, problems)
    problems.raise_if_any()
    return merged, notes


#: Parameters that are prices or money (yuan): not needed when a run computes physical
#: quantities only (``valuation: false``); declared with ``price=True`` by their services.
PRICE_PARAMETERS: frozenset[str] = METHOD.price_parameters

#: Services that have no physical quantity (only a value): not computed without valuation
VALUE_ONLY_SERVICES: tuple[str, ...] = METHOD.value_only_services


def _modes(avail: Mapping[str, ParamValue], water_deficit: str,
           valuation: bool = True) -> np.ndarray:
    """The form of each formula variant, from the keys available (the services' variants)."""
    if water_deficit not in ("clamp", "signed"):
        raise ConfigError(f"water_deficit: expected 'clamp' or 'signed', got {water_deficit!r}")
    return METHOD.modes(set(avail), {"water_deficit": water_deficit, "valuation": valuation})


def required_parameters(service: str, modes: np.ndarray, valuation: bool = True
                        ) -> tuple[str, ...]:
    """Keys a service needs under the formula variants ``modes`` (see :func:`plan`); without
    ``valuation``, only those of its physical quantities (no :data:`PRICE_PARAMETERS`)."""
    keys = _required(service, modes)
    return keys if valuation else tuple(k for k in keys if k not in PRICE_PARAMETERS)


def _required(service: str, modes: np.ndarray) -> tuple[str, ...]:
    if service not in METHOD.service_index:
        raise ConfigError(f"unknown service {service!r}")
    return METHOD.required(service, modes)


@dataclass
class Plan:
    """Everything the kernel needs besides the pixels, plus what the manifest records.

    Attributes
    ----------
    land_types : list of str
        Land types in kernel order (class index = position).
    table : float64[nparam, nclass]
        Constants and tables in canonical units (NaN where not given / not needed).
    src : int64[nparam]
        Layer index per parameter (-1 = table).
    rasters : list of ParamValue
        Raster parameters in layer order.
    layer_factor : list of float
        Unit factor of each raster layer (to canonical).
    services_on : uint8[nservice]
    need : int64[nservice]
        Layer bit mask per service.
    modes : int64[N_MODES]
    supplies : uint8[nclass]
    used : dict
        key -> ParamValue actually used, for provenance.
    unused : list of str
        Keys given but not used by any enabled service under the chosen formulas.
    """

    land_types: list[str]
    table: np.ndarray
    src: np.ndarray
    rasters: list[ParamValue]
    layer_factor: list[float]
    services_on: np.ndarray
    need: np.ndarray
    modes: np.ndarray
    supplies: np.ndarray
    used: dict[str, ParamValue] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    water_deficit: str = "clamp"
    #: which form of a quantity won where two levels gave different ones (:func:`merge_levels`)
    form_notes: list[str] = field(default_factory=list)
    #: False: physical quantities only (prices are 0 inside the kernel; no value is written)
    valuation: bool = True

    @property
    def enabled_services(self) -> list[str]:
        return [s.name for s, on in zip(SERVICES, self.services_on) if on]


def _factor(pv: ParamValue, given: Mapping[str, ParamValue]) -> float:
    spec = spec_for(pv.key, where=pv.origin or "parameters")
    unit = normalise_unit(pv.unit)
    if pv.key == "carbon_price" and is_per_t_carbon(unit):
        k = given.get("co2_per_c")
        kval = METHOD_DEFAULTS["co2_per_c"] if k is None else k.value
        if not isinstance(kval, (int, float)):
            raise UnitError("carbon_price: a price per t C needs co2_per_c as one constant "
                            "to convert it to yuan t-1 CO2")
        return 1.0 / float(kval)
    what = f"parameter {pv.key!r}" + (f" ({pv.origin})" if pv.origin else "")
    # a pipeline's raster must say its unit (or carry a unit tag); through the Python API a
    # DataArray without a `units` attribute is taken to be in the canonical unit (documented)
    if (pv.kind == "raster" and not unit and pv.origin != "api"
            and spec.family not in ("dimensionless", "t_per_t")):
        raise UnitError(f"layer {pv.key!r}: no unit given and none in the file; declare "
                        f"`unit:` in the pipeline (the method's unit is {spec.unit!r})")
    return conversion_factor(pv.unit, spec.family, what=what)


def _check_domain(key: str, value: float, where: str) -> None:
    """Refuse a constant or table value (canonical unit) that is not finite or lies outside
    the parameter's domain (:mod:`gepgeo.parameters`); infinities are outside every domain."""
    spec = spec_for(key, where=where)
    if not math.isfinite(value):
        raise DomainError(f"{where}: {key} = {value!r} is not a finite number; give a value in "
                          f"[{spec.low}, {spec.high}] ({spec.unit})")
    if not (spec.low <= value <= spec.high):
        raise DomainError(f"{where}: {key} = {value!r} is outside its domain "
                          f"[{spec.low}, {spec.high}] ({spec.unit})")


def _canonical(key: str, raw: Any, factor: float, where: str, lt: str) -> float:
    """One constant or table value in the canonical unit, checked against its domain.

    Raises
    ------
    ConfigError, DomainError
        Not a number, or outside the parameter's domain (``where`` and ``lt`` name it).
    """
    try:
        v = float(raw) * factor
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: value for {lt!r} is not a number: {brief(raw)}") from None
    _check_domain(key, v, where + (f", land type {lt!r}" if lt else ""))
    return v


def _check_given(pv: ParamValue, given: Mapping[str, ParamValue],
                 problems: Problems | None = None) -> None:
    """Check a constant or table that no enabled service uses against its domain all the same
    (a value out of its domain is wrong wherever it comes from); rasters are checked per pixel.
    Every value out of its domain is recorded in ``problems`` (else the first raises)."""
    if pv.kind == "raster":
        return
    own = Problems() if problems is None else problems
    where = f"parameter {pv.key!r}" + (f" ({pv.origin})" if pv.origin else "")
    with own.check():
        factor = _factor(pv, given)
        items = [("", pv.value)] if pv.kind == "constant" else list(dict(pv.value).items())
        for lt, raw in items:
            with own.check():
                _canonical(pv.key, raw, factor, where, lt)
    if problems is None:
        own.raise_if_any()


def plan(
    given: Mapping[str, ParamValue],
    land_types: Iterable[str],
    *,
    no_services: Iterable[str] = (),
    services: Iterable[str] | None = None,
    water_deficit: str = "clamp",
    valuation: bool = True,
) -> Plan:
    """Check and arrange parameters for the kernel.

    Parameters
    ----------
    given : mapping of str to ParamValue
        Every parameter available (profile values already overridden by the pipeline's).
    land_types : iterable of str
        Land types of the land-use mapping, in class order.
    no_services : iterable of str
        Land types declared to supply no services (valid zeros in every service).
    services : iterable of str, optional
        Services to compute; all eight by default.
    water_deficit : {"clamp", "signed"}
        Policy for negative P − R − ET.
    valuation : bool
        False: physical quantities only. No price is needed (:data:`PRICE_PARAMETERS`; the
        kernel is given 0 for each, so every value it computes is 0 and is not written), the
        agriculture service needs a crop yield, and services with only a value
        (:data:`VALUE_ONLY_SERVICES`) are left out (an error when asked for by name).

    Raises
    ------
    MissingParameterError
        A service lacks a parameter, or a table lacks a land type that supplies services.
    ConfigError, UnitError, DomainError
        Unknown service or land type, unknown unit, a constant or table value out of its domain.
    """
    lts = list(dict.fromkeys(land_types))
    lt_index = {lt: i for i, lt in enumerate(lts)}
    nos = set(no_services)
    # every problem (each missing parameter, each value out of its domain) is collected and
    # reported at once
    problems = Problems()
    for lt in nos:
        if lt not in lt_index:
            problems.add(ConfigError(
                f"no_services: land type {lt!r} is not in the land-use mapping "
                f"(land types: {', '.join(lts)})"))
    names = [s.name for s in SERVICES]
    chosen = names if services is None else list(services)
    for s in chosen:
        if s not in names:
            problems.add(ConfigError(f"services: unknown service {s!r}; choose from "
                                     f"{', '.join(names)}"))
    if not valuation:
        if services is None:
            chosen = [s for s in names if s not in VALUE_ONLY_SERVICES]
        for s in chosen:
            if s in VALUE_ONLY_SERVICES:
                problems.add(ConfigError(
                    f"services: {s!r} has no physical quantity, only a value; remove it from "
                    "services or set valuation: true"))
    avail: dict[str, ParamValue] = dict(given)
    for key, val in METHOD_DEFAULTS.items():
        if key not in avail:
            avail[key] = ParamValue(key, val, source="method default", ref="METHOD.md",
                                    origin="method")
    modes = _modes(avail, water_deficit, valuation)
    supplying = [lt for lt in lts if lt not in nos]
    nparam = len(PARAMETERS)
    table = np.full((nparam, max(len(lts), 1)), np.nan, dtype=np.float64)
    src = np.full(nparam, -1, dtype=np.int64)
    rasters: list[ParamValue] = []
    factors: list[float] = []
    on = np.zeros(len(SERVICES), dtype=np.uint8)
    need = np.zeros(len(SERVICES), dtype=np.int64)
    used: dict[str, ParamValue] = {}
    layer_of: dict[str, int] = {}
    missing: set[str] = set()
    for si, sname in enumerate(names):
        if sname not in chosen:
            continue
        on[si] = 1
        for key in required_parameters(sname, modes, valuation):
            pv = avail.get(key)
            if pv is None:
                if key not in missing:   # one line per parameter, for the first service
                    missing.add(key)
                    lt_txt = ", ".join(supplying) or "(none)"
                    exc = MissingParameterError(
                        f"service {sname!r} needs parameter {key!r} for land types {lt_txt}; "
                        f"give it in the profile or under `parameters:` in the pipeline")
                    exc.key = key   # type: ignore[attr-defined]
                    problems.add(exc)
                continue
            if key not in used:
                used[key] = pv
                _fill(pv, avail, table, src, rasters, factors, layer_of, lts, supplying, sname,
                      problems)
            if pv.kind == "raster":
                need[si] |= 1 << layer_of[key]
    if not valuation:
        # prices are 0: the kernel's values are 0 and no value is written
        for key in PRICE_PARAMETERS:
            table[PARAM_INDEX[key], :] = 0.0
    if len(rasters) > 62:
        problems.add(ConfigError("more than 62 raster layers are not supported in one run"))
    supplies = np.array([0 if lt in nos else 1 for lt in lts] or [1], dtype=np.uint8)
    unused = sorted(k for k in given if k not in used)
    for k in unused:
        _check_given(given[k], avail, problems)
    problems.raise_if_any()
    return Plan(lts, table, src, rasters, factors, on, need, modes, supplies, used, unused,
                water_deficit, valuation=valuation)


def _fill(pv, avail, table, src, rasters, factors, layer_of, lts, supplying, sname,
          problems: Problems) -> None:
    """Put one parameter into the kernel's table (constants, tables) or layer list (rasters),
    in canonical units; each problem (unit, missing land type, value out of domain) is
    recorded in ``problems``."""
    idx = PARAM_INDEX[pv.key]
    where = f"parameter {pv.key!r}" + (f" ({pv.origin})" if pv.origin else "")
    try:
        factor = _factor(pv, avail)
    except GepgeoError as exc:
        problems.add(exc)
        if pv.kind == "raster":   # keep the layer slots consistent for the services' masks
            layer_of[pv.key] = len(rasters)
            src[idx] = len(rasters)
            rasters.append(pv)
            factors.append(1.0)
        return
    if pv.kind == "constant":
        v = float(pv.value) * factor
        with problems.check():
            _check_domain(pv.key, v, where)
        table[idx, :] = v
    elif pv.kind == "table":
        values = dict(pv.value)
        missing = [lt for lt in supplying if lt not in values]
        if missing:
            problems.add(MissingParameterError(
                f"service {sname!r}: {where} has no value for land type(s) "
                f"{', '.join(missing)}; add them to its table or declare them under no_services"))
        for lt, raw in values.items():
            at = f"parameter {pv.key!r}" + (f" ({pv.origin_of(lt)})" if pv.origin_of(lt) else "")
            with problems.check():
                # checked even for land types this landscape does not map (a wrong value is
                # wrong wherever it stands, as for parameters no service uses)
                v = _canonical(pv.key, raw, factor, at, lt)
                if lt in lts:
                    table[idx, lts.index(lt)] = v
    else:
        layer_of[pv.key] = len(rasters)
        src[idx] = len(rasters)
        rasters.append(pv)
        factors.append(factor)
