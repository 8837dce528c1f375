"""Parameter profiles: versioned YAML files of every parameter with unit and source.

Profiles shipped with gepgeo live in ``gepgeo/data/profiles/<name>.yaml``; a user profile is any
file of the same format (see the README, "Parameter profiles"). A profile holds either one
``parameters:`` set or several ``scenarios:`` (e.g. ``before`` / ``after``), may ``extends:``
another profile (its values are merged key by key, scenario by scenario), lists the land types
its tables cover, its price year and what its source does not let one identify.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ._yaml import load_yaml_file, number_hint
from .csvtables import expand_csv_tables
from .errors import GepgeoError, Problems, ProfileError, brief, file_problem
from .parameters import PARAM_INDEX, spec_for, suggest_key
from .resolve import ParamValue, merge_param
from .scope import parse_scope
from .units import conversion_factor, is_per_t_carbon

__all__ = ["Profile", "list_profiles", "load_profile", "resolve_profile_parameters",
           "merge_profiles"]

_TOP_KEYS = {"name", "title", "version", "kind", "price_year", "source", "description",
             "extends", "land_types", "not_identifiable", "scenarios", "parameters",
             "alternatives", "scope", "extent"}
_ENTRY_KEYS = {"value", "by_land_type", "unit", "source", "ref", "note", "stated_value",
               "price_year", "uncertainty"}
_ALT_KEYS = _ENTRY_KEYS | {"key", "scenario"}


@dataclass
class Profile:
    """A loaded, validated parameter profile.

    Attributes
    ----------
    name : str
    path : Path
        File it was read from.
    kind : str
        ``full`` or ``valuation``.
    price_year : str or int
        ``unknown`` or a year.
    scenarios : dict of str to dict of str to ParamValue
        Parameter sets; a single-set profile has one scenario named ``default``.
    meta : dict
        title, version, source, description, land_types, not_identifiable, alternatives,
        scope (a :class:`gepgeo.scope.Scope` or None: where the values hold).
    """

    name: str
    path: Path
    kind: str
    price_year: str | int
    scenarios: dict[str, dict[str, ParamValue]]
    meta: dict[str, Any] = field(default_factory=dict)

    def parameters(self, scenario: str | None = None) -> dict[str, ParamValue]:
        """The parameter set of ``scenario`` (may be omitted when there is only one)."""
        if scenario is None:
            if len(self.scenarios) == 1:
                return dict(next(iter(self.scenarios.values())))
            raise ProfileError(f"profile {self.name!r} has scenarios "
                               f"{', '.join(self.scenarios)}; name one with profile.scenario")
        if scenario not in self.scenarios:
            if len(self.scenarios) == 1 and "default" in self.scenarios:
                raise ProfileError(f"profile {self.name!r} has no scenarios; remove "
                                   f"profile.scenario ({scenario!r})")
            raise ProfileError(f"profile {self.name!r}: no scenario {scenario!r}; it has "
                               f"{', '.join(self.scenarios)}")
        return dict(self.scenarios[scenario])


def _shipped_dir() -> Path:
    return Path(str(resources.files("gepgeo") / "data" / "profiles"))


def list_profiles() -> list[str]:
    """Names of the profiles shipped with gepgeo."""
    return sorted(p.stem for p in _shipped_dir().glob("*.yaml"))


def _locate(name_or_path: str | Path, base: Path | None = None) -> Path:
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        p = Path(text)
        if not p.is_absolute() and base is not None:
            p = base / p
        problem = file_problem(p)
        if problem is not None:
            raise ProfileError(f"profile file {str(p)!r} {problem}")
        return p
    p = _shipped_dir() / f"{text}.yaml"
    if not p.is_file():
        close = difflib.get_close_matches(text, list_profiles(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ProfileError(f"unknown profile {text!r}{hint} (shipped: {', '.join(list_profiles())}"
                           "; or give a path to a .yaml file)")
    return p


def _entry(key: str, raw: Any, where: str, land_types: list[str] | None, origin: str,
           price_year: Any) -> ParamValue:
    if key not in PARAM_INDEX:
        raise ProfileError(f"{where}: unknown parameter {brief(key)}{suggest_key(key)}")
    spec = spec_for(key, where=where)
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}.{key}: expected a mapping with value or by_land_type, unit "
                           "and source")
    extra = set(raw) - _ENTRY_KEYS
    if extra:
        raise ProfileError(f"{where}.{key}: unknown field(s) {', '.join(sorted(extra))} "
                           f"(allowed: {', '.join(sorted(_ENTRY_KEYS))})")
    if ("value" in raw) == ("by_land_type" in raw):
        raise ProfileError(f"{where}.{key}: give exactly one of 'value' or 'by_land_type'")
    unit = str(raw.get("unit", "") or "")
    if not (key == "carbon_price" and is_per_t_carbon(unit)):
        try:
            conversion_factor(unit, spec.family, what=f"{where}.{key}")
        except GepgeoError as exc:
            raise ProfileError(str(exc)) from None
    if "value" in raw:
        value: Any = raw["value"]
        if value is None:
            raise ProfileError(f"{where}.{key}.value is blank: fill in a number in "
                               f"{unit or 'the canonical unit'}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProfileError(f"{where}.{key}.value: expected a number, got {brief(value)}"
                               f"{number_hint(value)}")
        value = float(value)
    else:
        table = raw["by_land_type"]
        if not isinstance(table, Mapping) or not table:
            raise ProfileError(f"{where}.{key}.by_land_type: expected a mapping land type -> value")
        value = {}
        for lt, v in table.items():
            if land_types is not None and lt not in land_types:
                raise ProfileError(f"{where}.{key}.by_land_type: land type {brief(lt)} is not in "
                                   f"the profile's land_types ({', '.join(land_types)})")
            if v is None:
                raise ProfileError(f"{where}.{key}.by_land_type.{brief(lt)} is blank: "
                                   "fill in a number")
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ProfileError(f"{where}.{key}.by_land_type.{lt}: expected a number, got "
                                   f"{brief(v)}{number_hint(v)}")
            value[str(lt)] = float(v)
    unc = None
    if raw.get("uncertainty") is not None:
        from .uncertainty import parse_uncertainty

        try:
            unc = parse_uncertainty(raw["uncertainty"], f"{where}.{key}.uncertainty",
                                    "constant" if "value" in raw else "table")
        except GepgeoError as exc:
            raise ProfileError(str(exc)) from None
    return ParamValue(key, value, unit=unit, source=str(raw.get("source", "") or ""),
                      ref=str(raw.get("ref", "") or ""), note=str(raw.get("note", "") or ""),
                      price_year=raw.get("price_year", price_year), origin=origin,
                      uncertainty=unc)


def load_profile(name_or_path: str | Path, *, base: Path | None = None,
                 _seen: tuple[str, ...] = ()) -> Profile:
    """Load and validate a shipped profile (by name) or a user profile (by path).

    Raises
    ------
    ProfileError
        Unknown profile, unreadable YAML, unknown keys or fields, units the parameter does not
        accept, tables naming land types the profile does not declare, an ``extends`` cycle.
    """
    path = _locate(name_or_path, base)
    doc = load_yaml_file(path, "profile file", ProfileError)
    if not isinstance(doc, Mapping):
        raise ProfileError(f"profile {str(path)!r}: expected a mapping at the top level")
    where = f"profile {path.name}"
    # every problem of the entries is collected and reported at once (gepgeo validate)
    problems = Problems()
    for bad in sorted(set(doc) - _TOP_KEYS, key=str):
        close = difflib.get_close_matches(str(bad), _TOP_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.add(ProfileError(f"{where}: unknown key {brief(bad)}{hint}"))
    name = str(doc.get("name") or path.stem)
    if name in _seen:
        raise ProfileError(f"{where}: 'extends' forms a cycle ({' -> '.join(_seen + (name,))})")
    kind = str(doc.get("kind", "full"))
    if kind not in ("full", "valuation"):
        problems.add(ProfileError(f"{where}: kind must be 'full' or 'valuation', got "
                                  f"{brief(kind)}"))
    price_year = doc.get("price_year", "unknown")
    if not (price_year == "unknown" or isinstance(price_year, int)):
        problems.add(ProfileError(f"{where}: price_year must be a year or 'unknown', got "
                                  f"{brief(price_year)}"))
    parent: Profile | None = None
    if doc.get("extends"):
        with problems.check():
            parent = load_profile(str(doc["extends"]), base=path.parent,
                                  _seen=_seen + (name,))
    land_types = doc.get("land_types")
    if land_types is None and parent is not None:
        land_types = parent.meta.get("land_types")
    land_types = list(land_types) if land_types else []
    if ("scenarios" in doc) and ("parameters" in doc):
        raise ProfileError(f"{where}: give either 'parameters' or 'scenarios', not both")
    sets_raw: Mapping[str, Any]
    if "scenarios" in doc:
        sets_raw = doc["scenarios"] or {}
        if not isinstance(sets_raw, Mapping) or not sets_raw:
            raise ProfileError(f"{where}.scenarios: expected a mapping scenario -> parameters")
    else:
        sets_raw = {"default": doc.get("parameters") or {}}
    scenarios: dict[str, dict[str, ParamValue]] = {}
    # CSV files read for tables (the extended profile's too): inputs of a run
    table_files: list[Path] = list(parent.meta.get("table_files", [])) if parent else []
    failed: set[str] = set()   # keys of the entries that did not load
    if parent is not None:
        scenarios = {s: dict(p) for s, p in parent.scenarios.items()}
    for sname, params in sets_raw.items():
        if not isinstance(params, Mapping):
            problems.add(ProfileError(f"{where}.scenarios.{sname}: expected a mapping of "
                                      "parameters"))
            continue
        base_set = scenarios.get(str(sname), {})
        if parent is not None and str(sname) not in scenarios:
            problems.add(ProfileError(f"{where}: scenario {sname!r} is not in the extended "
                                      f"profile {parent.name!r} ({', '.join(parent.scenarios)})"))
            continue
        params = dict(params)
        keys = set(params)
        table_files += expand_csv_tables(params, path.parent, where=f"{where}.{sname}",
                                         problems=problems)
        failed |= {str(k) for k in keys - set(params)}
        for key, raw in params.items():
            before = len(problems)
            with problems.check():
                base_set[str(key)] = _entry(str(key), raw, f"{where}.{sname}",
                                            land_types or None, name, price_year)
            if len(problems) > before:
                failed.add(str(key))
        scenarios[str(sname)] = base_set
    alternatives = doc.get("alternatives") or {}
    for aname, alt in alternatives.items():
        with problems.check():
            if not isinstance(alt, Mapping) or "key" not in alt:
                raise ProfileError(f"{where}.alternatives.{aname}: expected a mapping with 'key'")
            extra = set(alt) - _ALT_KEYS
            if extra:
                raise ProfileError(f"{where}.alternatives.{aname}: unknown field(s) "
                                   f"{', '.join(sorted(extra))}")
            fields = {k: v for k, v in alt.items() if k not in ("key", "scenario")}
            _entry(str(alt["key"]), fields, f"{where}.alternatives.{aname}",
                   land_types or None, name, price_year)
    scope = None
    with problems.check():
        scope = parse_scope(doc, where)
    meta = {k: doc.get(k) for k in ("title", "version", "source", "description",
                                    "not_identifiable")}
    meta["land_types"] = land_types
    meta["alternatives"] = dict(alternatives)
    meta["extends"] = doc.get("extends")
    meta["scope"] = scope
    meta["table_files"] = table_files
    if parent is not None:
        if meta["scope"] is None:
            meta["scope"] = parent.meta.get("scope")
        for k in ("title", "source", "description", "not_identifiable"):
            if meta.get(k) is None:
                meta[k] = parent.meta.get(k)
    prof = Profile(name, path, kind, price_year, scenarios, meta)
    try:
        problems.raise_if_any()
    except GepgeoError as exc:
        # what did load, and the keys that did not: gepgeo validate goes on with the rest
        # and does not report a key that failed here as missing as well
        exc.partial = prof          # type: ignore[attr-defined]
        exc.failed_keys = failed    # type: ignore[attr-defined]
        raise
    return prof


def merge_profiles(*sets: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    """Merge parameter sets key by key, and a table over a table land type by land type
    (:func:`gepgeo.resolve.merge_param`); later sets win."""
    out: dict[str, ParamValue] = {}
    for s in sets:
        for key, pv in s.items():
            out[key] = merge_param(out[key], pv, out) if key in out else pv
    return out


def resolve_profile_parameters(profile: Any, scenario: str | None = None) -> dict[str, ParamValue]:
    """Parameters of a profile given by name, path or :class:`Profile`."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    return prof.parameters(scenario)
