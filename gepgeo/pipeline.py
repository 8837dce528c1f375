"""Pipeline files: what to compute, from which layers, with which parameters.

A pipeline is a YAML file (loaded with a safe loader) validated by the pydantic models below.
Unknown keys are errors; every error is reported as one line naming the key and the fix.
Relative paths are relative to the pipeline file. Example (``pipelines/jinsha_before.yaml``)::

    name: jinsha-before
    land_use:
      path: ../data/jinsha/landuse_before.tif
      codes: {1: mining, 2: dryland, 3: forest, 4: grassland, 5: construction}
    no_services: [mining, construction]
    profile:
      name: jinsha-as-published
      scenario: before
    parameters:
      rainfall_erosivity_r: {path: ../data/jinsha/rainfall_erosivity_r.tif}
      slope_length_steepness_ls: {path: ../data/jinsha/slope_length_steepness_ls.tif}
    output: ../out/jinsha_before

A parameter under ``parameters:`` (or ``profile.overrides:``) is one of

* a number: a constant in the parameter's canonical unit;
* ``{value: 0.16, unit: "m3 t-1"}``: a constant with its unit;
* ``{by_land_type: {forest: 0.001, dryland: 0.13}, unit: "1"}``: a table by land type;
* ``{path: r.tif, unit: "MJ mm ha-1 h-1 a-1", band: 1, nodata: -9999, scale: 0.1, offset: 0}``: a
  raster layer (unit, scale and offset default to the GeoTIFF's own tags);
* for ``slope_length_steepness_ls`` only, ``{from_dem: {path: dem.tif, method: flowpath, ...}}``:
  LS computed from a DEM inside the pass (:class:`FromDem`, :mod:`gepgeo.terrain.layer`).
* for ``rainfall_erosivity_r``, ``soil_erodibility_k``, ``cover_management_c``,
  ``precipitation``, ``evapotranspiration`` and ``runoff``,
  ``{derive: {method: fournier_monthly, path: precip_monthly.tif}}`` and the like: the layer
  derived per pixel from precipitation, soil texture, NDVI or the periods of a year inside the
  pass (:data:`gepgeo.derive.DERIVABLE`, :class:`gepgeo.derive.spec.Derive`,
  :mod:`gepgeo.derive.layer`).

``parameters:`` wins over ``profile.overrides:``, which wins over the profile(s); a table over
a table wins land type by land type (:func:`gepgeo.resolve.merge_param`).

``valuation: false`` computes physical quantities only: no price is needed and no value, GEP or
value map is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._yaml import load_yaml_file, number_hint
from .csvtables import expand_csv_tables
from .derive.spec import DERIVABLE, METHODS, DeriveParam
from .errors import (
    MAX_VALUE,
    ConfigError,
    InputFileError,
    Problems,
    brief,
    has_control_characters,
    shorten,
)
from .parameters import PARAM_INDEX, suggest_key

__all__ = ["Pipeline", "LandUse", "ProfileRef", "RasterParam", "ConstantParam", "TableParam",
           "FromDem", "DemParam", "DeriveParam", "ZoneLayer", "Options", "RangeParam",
           "UncertaintyOptions", "load_pipeline", "parse_pipeline", "is_money",
           "check_price_basis"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RasterParam(_Strict):
    """A parameter read from a raster layer."""

    path: Path
    unit: str | None = None
    band: int = Field(1, ge=1)
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    resampling: Literal["nearest", "bilinear", "cubic", "average"] = "bilinear"


class ConstantParam(_Strict):
    """A constant with its unit (and optionally its range, :mod:`gepgeo.uncertainty`)."""

    value: float
    unit: str | None = None
    source: str | None = None
    note: str | None = None
    uncertainty: dict[str, Any] | None = None
    #: a price's year (the money its yuan are of), for ``gepgeo series`` at constant prices;
    #: prices only (:func:`is_money`)
    price_year: int | None = Field(None, ge=1, le=9999)


class TableParam(_Strict):
    """A table by land type with its unit (and optionally its range)."""

    by_land_type: dict[str, float]
    unit: str | None = None
    source: str | None = None
    note: str | None = None
    uncertainty: dict[str, Any] | None = None
    #: as :attr:`ConstantParam.price_year`
    price_year: int | None = Field(None, ge=1, le=9999)


def is_money(key: str) -> bool:
    """Whether parameter ``key`` is an amount of money (a price, a cost, a value per ha: its
    unit in yuan), the parameters that carry a price year. An equivalent factor or a grain
    yield is declared with the prices but carries no money."""
    from .parameters import spec_for

    spec = spec_for(key, where="pipeline")
    return bool(spec.price) and "yuan" in spec.unit


class RangeParam(_Strict):
    """Only a range, ``{uncertainty: {...}}``, for the value a lower level (the profile) gives."""

    uncertainty: dict[str, Any]


#: the only parameter a DEM can stand in for
DEM_KEY = "slope_length_steepness_ls"


class FromDem(_Strict):
    """LS computed from a DEM in the pass: the DEM, the method and its options (the options of
    ``gepgeo terrain``, named as its flags without the dashes; defaults as there)."""

    path: Path
    method: str = "flowpath"
    #: horizontal units per elevation unit (ArcGIS's z-factor)
    z_factor: float = 1.0
    resampling: Literal["nearest", "bilinear", "cubic", "average"] = "bilinear"
    max_slope_length: float = 304.8
    min_slope: float = 0.1
    cutoff_gentle: float = 0.7
    cutoff_steep: float = 0.5
    m_table: str = "mccool"
    s_breaks: str = "5deg/10deg"
    #: the cap on L of method invest (InVEST's "maximum L value"), required there
    l_max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> FromDem:
        from .errors import TerrainError
        from .terrain.write import METHODS, PLANNED

        if self.method not in METHODS:
            planned = " (planned, not implemented yet)" if self.method in PLANNED else ""
            raise ValueError(f"method: {self.method!r} is not available{planned}; use one of "
                             f"{', '.join(METHODS)}")
        if not (math.isfinite(self.z_factor) and self.z_factor > 0):
            raise ValueError(f"z_factor: expected a positive number (horizontal units per "
                             f"elevation unit; 1 when both are metres), got {self.z_factor!r}")
        if self.method != "flowpath":
            from .terrain.accumulation import REFUSAL, refused_by

            for key, _ in refused_by(self.method):
                if key in self.model_fields_set:
                    raise ValueError(f"{key}: not an option of method {self.method} "
                                     f"({REFUSAL[self.method]})")
        if self.method == "invest" and self.l_max is None:
            raise ValueError("l_max: method invest needs InVEST's maximum L value (the l_max "
                             "of the InVEST SDR run to compare with)")
        if self.method != "invest" and self.l_max is not None:
            raise ValueError(f"l_max: only method invest has a cap on L, not {self.method}")
        try:
            self.flowpath_options().check()
        except TerrainError as exc:   # "--max-slope-length: ..." → "max_slope_length: ..."
            flag, _, rest = str(exc).partition(": ")
            raise ValueError(f"{flag.lstrip('-').replace('-', '_')}: {rest}") from None
        return self

    def flowpath_options(self) -> Any:
        """The options as :class:`gepgeo.terrain.FlowpathOptions`."""
        from .terrain.tiled import FlowpathOptions

        return FlowpathOptions(max_slope_length_m=self.max_slope_length,
                               min_slope_deg=self.min_slope, cutoff_gentle=self.cutoff_gentle,
                               cutoff_steep=self.cutoff_steep, m_table=self.m_table,
                               s_breaks=self.s_breaks, l_max=self.l_max)


class DemParam(_Strict):
    """A parameter (LS) computed from a DEM inside the pass."""

    from_dem: FromDem


ParamSpecT = (float | ConstantParam | TableParam | RasterParam | DemParam | DeriveParam
              | RangeParam)


def _parse_param(key: str, raw: Any) -> ParamSpecT:
    if key not in PARAM_INDEX:
        raise ValueError(f"unknown parameter {brief(key)}{suggest_key(key)}")
    if isinstance(raw, bool):
        raise ValueError(f"{key}: expected a number, {{value: ...}}, {{by_land_type: ...}} or "
                         f"{{path: ...}}, got {brief(raw)}")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, Mapping):
        model: type[_Strict]
        if "from_dem" in raw:
            if key != DEM_KEY:
                raise ValueError(f"{key}: from_dem: only {DEM_KEY} can be computed from a DEM; "
                                 f"give {key} as a number, {{value: ...}}, {{by_land_type: ...}} "
                                 "or {path: ...}")
            model = DemParam
        elif "derive" in raw:
            if key not in DERIVABLE:
                raise ValueError(f"{key}: derive: only {', '.join(DERIVABLE)} can be derived; "
                                 f"give {key} as a number, {{value: ...}}, {{by_land_type: ...}} "
                                 "or {path: ...}")
            d = raw["derive"]
            m = d.get("method") if isinstance(d, Mapping) else None
            if isinstance(m, str) and m in METHODS and key not in METHODS[m].keys:
                raise ValueError(f"{key}.derive.method: {m} derives "
                                 f"{' or '.join(METHODS[m].keys)}, not {key}; "
                                 f"methods for {key}: {', '.join(DERIVABLE[key])}")
            try:
                return DeriveParam.model_validate(raw)
            except ValidationError as exc:
                raise ValueError(f"{key}.{_first_error(exc)}") from None
        elif "path" in raw:
            model = RasterParam
        elif "by_land_type" in raw:
            model = TableParam
        elif "value" in raw:
            model = ConstantParam
        elif set(raw) == {"uncertainty"}:
            model = RangeParam
        else:
            forms = ("'value', 'by_land_type', 'path' or 'from_dem'" if key == DEM_KEY
                     else "'value', 'by_land_type', 'path' or 'derive'" if key in DERIVABLE
                     else "'value', 'by_land_type' or 'path'")
            raise ValueError(f"{key}: give a number, or a mapping with one of {forms} "
                             f"(got keys "
                             f"{', '.join(brief(k) for k in list(raw)[:8])}"
                             f"{', ...' if len(raw) > 8 else ''})")
        try:
            parsed = model.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{key}.{_first_error(exc)}") from None
        if getattr(parsed, "price_year", None) is not None and not is_money(key):
            raise ValueError(f"{key}.price_year: only an amount of money (a price in yuan) has a "
                             f"price year; {key} is not one: remove price_year")
        unc = getattr(parsed, "uncertainty", None)
        if unc is not None:
            from .uncertainty import parse_uncertainty

            parse_uncertainty(unc, f"{key}.uncertainty",
                              "table" if isinstance(parsed, TableParam) else
                              "constant" if isinstance(parsed, ConstantParam) else "any")
        return parsed
    raise ValueError(f"{key}: expected a number, {{value: ...}}, {{by_land_type: ...}} or "
                     f"{{path: ...}}, got {brief(raw)}{number_hint(raw)}")


class LandUse(_Strict):
    """The land-use raster and the mapping of its codes to land types.

    With ``product:`` (a preset of :mod:`gepgeo.products`) the mapping comes from the
    product's legend: each class its own land type, or (``land_types: ecosystem``) the classes
    merged into their ecosystem types; ``rename:`` renames (or merges) those land types and
    ``codes:`` then replaces or adds codes. ``codes`` holds the resulting mapping after
    validation, so that the rest of gepgeo sees one mapping however it was given. The product's
    fill code becomes ``nodata`` unless the pipeline gives one (or maps that code).
    """

    path: Path
    band: int = Field(1, ge=1)
    nodata: float | None = None
    product: str | None = None
    land_types: Literal["product", "ecosystem"] = "product"
    rename: dict[str, str] = Field(default_factory=dict)
    codes: dict[int, str]

    @model_validator(mode="before")
    @classmethod
    def _from_product(cls, v: Any) -> Any:
        """Expand ``product:`` into ``codes:`` (and the product's fill code into ``nodata``)."""
        if not isinstance(v, Mapping):
            return v
        name = v.get("product")
        if name is None:
            for key in ("land_types", "rename"):
                if key in v:
                    raise ValueError(f"{key}: needs product: (a land-cover product preset)")
            return v
        from .errors import GepgeoError
        from .products import land_use_codes, load_preset

        from .products import product_names

        if not isinstance(name, str):
            raise ValueError(f"product: expected a product name, got {brief(name)}; known "
                             f"products: {', '.join(product_names())}")
        own = v.get("codes") or {}
        rename = v.get("rename") or {}
        land_types = v.get("land_types", "product")
        if land_types not in ("product", "ecosystem"):
            raise ValueError(f"land_types: expected 'product' (the product's own classes) or "
                             f"'ecosystem' (merged by the crosswalk), got {brief(land_types)}")
        for key, val in (("codes", own), ("rename", rename)):
            if not isinstance(val, Mapping):
                raise ValueError(f"{key}: expected a mapping, got {brief(val)}")
        for old, new in rename.items():
            if not isinstance(new, str) or not new.strip() or has_control_characters(new):
                raise ValueError(f"rename: {brief(old)}: the new name must be a non-empty name "
                                 "on one line")
        own_int: dict[int, Any] = {}
        for k, val in own.items():
            try:
                ok = not isinstance(k, bool) and float(k) == int(float(k))
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                raise ValueError(f"codes: {brief(k)} is not a whole-number code")
            own_int[int(float(k))] = val
        try:
            cls._distinct_codes(own)
            preset = load_preset(name)
            codes = land_use_codes(name, land_types=land_types, rename=dict(rename),
                                   codes=own_int)
        except (TypeError, ValueError, OverflowError) as exc:
            msg = str(exc)
            if isinstance(exc, GepgeoError):
                msg = msg.removeprefix("land_use.")
            raise ValueError(msg) from None
        out = {**v, "codes": codes}
        if v.get("nodata") is None and preset.nodata and preset.nodata[0] not in own_int:
            out["nodata"] = preset.nodata[0]
        return out

    @field_validator("codes", mode="before")
    @classmethod
    def _distinct_codes(cls, v: Any) -> Any:
        """Refuse two keys that are one code (``1`` and ``"1"``, ``1`` and ``1.0``): the
        conversion to integers would silently keep only the last."""
        if not isinstance(v, Mapping):
            return v
        seen: dict[Any, Any] = {}
        for key in v:
            try:
                code = (int(key) if not isinstance(key, bool) and float(key) == int(float(key))
                        else key)
            except (TypeError, ValueError, OverflowError):
                code = key
            if code in seen:
                raise ValueError(f"code {code} is given twice ({brief(seen[code])} and "
                                 f"{brief(key)}); keep one")
            seen[code] = key
        return v

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: dict[int, str]) -> dict[int, str]:
        if not v:
            raise ValueError("the mapping from raster codes to land types is empty")
        for code, lt in v.items():
            if not isinstance(lt, str) or not lt.strip():
                raise ValueError(f"code {code}: land type must be a non-empty name")
            if has_control_characters(lt):
                # names become table columns, CSV cells and report rows: one line each
                raise ValueError(f"code {code}: land type {brief(lt)} contains a line break or "
                                 "another control character")
        return v


class ProfileRef(_Strict):
    """Which profile(s) give the parameters."""

    name: str
    scenario: str | None = None
    valuation: str | None = None
    valuation_scenario: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {k: _parse_param(k, raw) for k, raw in v.items()}


class ZoneLayer(_Strict):
    """A vector layer of zones (parcels, townships, watersheds)."""

    path: Path
    layer: str | None = None
    id: str | None = None
    name: str | None = None


class UncertaintyOptions(_Strict):
    """``options.uncertainty``: how the parameters that carry a range are drawn."""

    draws: int = Field(10000, ge=0, le=1_000_000)
    seed: int = Field(1, ge=0)
    method: Literal["sobol", "lhs", "random"] = "sobol"
    #: Sobol' indices (tables/sensitivity.csv)
    sensitivity: bool = True


class Options(_Strict):
    """How to compute and write."""

    water_deficit: Literal["clamp", "signed"] = "clamp"
    area: Literal["planar", "ellipsoidal"] = "planar"
    domain: Literal["error", "mask"] = "error"
    strict_grid: bool = False
    #: block side, pixels; None: 1024, or 512 for grids of fewer than 16 such blocks
    #: (:func:`gepgeo.io.auto_chunk`)
    chunk_size: int | None = Field(None, ge=64, le=16384, multiple_of=16)
    codec: Literal["zstd", "deflate", "none"] = "zstd"
    cog: bool = False
    report: bool = True
    #: language of report.html: ``en`` or ``zh`` (Chinese; CSV files stay English)
    report_lang: Literal["en", "zh"] = "en"
    value_maps: bool = True
    scheduler: str | None = None
    workers: int | None = Field(None, ge=1)
    #: draws of the parameters that carry a range (:mod:`gepgeo.uncertainty`); None: none
    uncertainty: UncertaintyOptions | None = None
    #: ``gepgeo series`` only (``--price-basis`` wins; a single run does not use it):
    #: ``current`` or ``constant:<year>``
    price_basis: str | None = None
    #: ``gepgeo series`` only (``--deflator`` wins): a deflator table, CSV ``year,index``
    #: (relative to the pipeline file), or the name of a shipped table (``cn-cpi-worldbank``)
    deflator: str | None = Field(None, min_length=1)

    @field_validator("price_basis")
    @classmethod
    def _price_basis(cls, v: str | None) -> str | None:
        return check_price_basis(v)


def check_price_basis(v: str | None) -> str | None:
    """``v`` as ``current`` or ``constant:<year>`` (spaces dropped) when it is a price basis;
    None stays None.

    Raises
    ------
    ValueError
        Anything else (the caller names the key).
    """
    if v is None:
        return v
    t = v.strip()
    head, _, year = t.partition(":")
    if t == "current":
        return t
    if head.strip() == "constant" and year.strip().isdigit():
        return f"constant:{int(year)}"
    raise ValueError(f"expected 'current' or 'constant:<year>' (e.g. constant:2015), "
                     f"got {brief(v)}")


class Pipeline(_Strict):
    """A validated pipeline file.

    Attributes
    ----------
    name : str
        Name of the run (defaults to the file stem).
    land_use : LandUse
    no_services : list of str
        Land types declared to supply no services.
    profile : ProfileRef, optional
    parameters : dict
        Parameters given by the pipeline (win over the profile).
    services : list of str, optional
        Services to compute (default all eight).
    valuation : bool
        False: physical quantities only (no prices needed; no value maps, no GEP, tables
        without value rows).
    zones : list of ZoneLayer
    maps : list of str
        Extra maps to write besides GEP and the service values.
    options : Options
    output : Path, optional
        Output folder (``--out`` wins).
    year : int, optional
        The year the pipeline describes, for ``gepgeo series`` (``--years`` wins); a single run
        does not use it.
    """

    name: str | None = None
    description: str | None = None
    land_use: LandUse
    no_services: list[str] = Field(default_factory=list)
    profile: ProfileRef | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    services: list[str] | None = None
    valuation: bool = True
    zones: list[ZoneLayer] = Field(default_factory=list)
    maps: list[str] = Field(default_factory=list)
    options: Options = Field(default_factory=Options)
    output: Path | None = None
    year: int | None = Field(None, ge=1, le=9999)
    source_path: Path | None = Field(None, exclude=True)
    #: CSV files read for ``by_land_type: {csv:, column:}`` tables (inputs of the run)
    table_files: list[Path] = Field(default_factory=list, exclude=True)

    @field_validator("parameters")
    @classmethod
    def _params(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {k: _parse_param(k, raw) for k, raw in v.items()}

    def resolve(self, p: Path) -> Path:
        """``p`` relative to the pipeline file's folder (absolute paths unchanged)."""
        base = self.source_path.parent if self.source_path else Path.cwd()
        return p if p.is_absolute() else (base / p)


def _first_error(exc: ValidationError) -> str:
    return _format_error(exc.errors(include_input=False, include_url=False)[0])


def _all_errors(exc: ValidationError) -> list[str]:
    """Every error of a validation, one line each (the same text :func:`_first_error` gives
    for the first), without repeats."""
    out = [_format_error(e) for e in exc.errors(include_input=False, include_url=False)]
    return list(dict.fromkeys(out))


def _format_error(err: Any) -> str:
    loc = ".".join(shorten(str(x), MAX_VALUE) for x in err["loc"]
                   if not str(x).startswith("function-"))
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key {brief(str(err['loc'][-1]))}"
        loc = ".".join(shorten(str(x), MAX_VALUE) for x in err["loc"][:-1])
        return (f"{loc + ': ' if loc else ''}{msg}; remove it or check its spelling")
    if err["type"] == "missing":
        return f"{loc}: required key is missing"
    return f"{loc}: {msg}" if loc else msg


def _split_params(raw: Any, loc: str) -> tuple[Any, list[str]]:
    """The parameters of ``raw`` (a ``parameters:`` or ``profile.overrides:`` mapping) that
    parse, and one line (``loc: problem``) per parameter that does not: each parameter is
    checked on its own, so that every bad one is reported at once."""
    if not isinstance(raw, Mapping):
        return raw, []
    good: dict[Any, Any] = {}
    problems = []
    for k, v in raw.items():
        try:
            _parse_param(k, v)
        except ValueError as exc:
            problems.append(f"{loc}: {exc}")
            continue
        good[k] = v
    return good, problems


def _with_csv_tables(doc: Mapping[str, Any], base: Path,
                     problems: Problems | None = None) -> dict[str, Any]:
    """``doc`` with every ``by_land_type: {csv:, column:}`` of ``parameters`` and
    ``profile.overrides`` read from its CSV file (the caller's mapping is not changed), and
    the files read under ``table_files``."""
    out = dict(doc)
    files: list[Path] = []
    if isinstance(out.get("parameters"), Mapping):
        out["parameters"] = {k: dict(v) if isinstance(v, Mapping) else v
                             for k, v in out["parameters"].items()}
        files += expand_csv_tables(out["parameters"], base, where="parameters",
                                   problems=problems)
    prof = out.get("profile")
    if isinstance(prof, Mapping) and isinstance(prof.get("overrides"), Mapping):
        out["profile"] = dict(prof)
        out["profile"]["overrides"] = {k: dict(v) if isinstance(v, Mapping) else v
                                       for k, v in prof["overrides"].items()}
        files += expand_csv_tables(out["profile"]["overrides"], base, where="profile.overrides",
                                   problems=problems)
    if files:
        out["table_files"] = files
    return out


def parse_pipeline(doc: Any, *, source: Path | None = None) -> Pipeline:
    """Validate a pipeline given as a mapping (e.g. parsed YAML).

    Raises
    ------
    ConfigError
        With one line naming the key at fault and what would fix it.
    """
    where = str(source) if source else "pipeline"
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level")
    if "table_files" in doc:     # filled in from the CSV tables, not a key of the file
        raise ConfigError(f"{where}: unknown key 'table_files'; remove it or check its spelling")
    problems = Problems()
    doc = _with_csv_tables(doc, source.parent if source else Path.cwd(), problems)
    found: list[str] = []
    doc["parameters"], bad = _split_params(doc.get("parameters", {}), "parameters")
    found += bad
    prof = doc.get("profile")
    if isinstance(prof, Mapping) and "overrides" in prof:
        prof = dict(prof)
        prof["overrides"], bad = _split_params(prof["overrides"], "profile.overrides")
        doc["profile"] = prof
        found += bad
    pipe = None
    try:
        pipe = Pipeline.model_validate({**doc, "source_path": source})
    except ValidationError as exc:
        found += _all_errors(exc)
    for line in found:
        problems.add(ConfigError(f"{where}: {line}"))
    problems.raise_if_any()
    assert pipe is not None
    return pipe


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate a pipeline YAML file.

    Raises
    ------
    InputFileError
        The file does not exist, cannot be read, or is larger than
        :data:`gepgeo._yaml.MAX_YAML_BYTES`.
    ConfigError
        The YAML is malformed, repeats a key, uses aliases, or does not follow the schema.
    """
    p = Path(path)
    doc = load_yaml_file(p, "pipeline file", InputFileError, ConfigError)
    return parse_pipeline(doc, source=p.resolve())
