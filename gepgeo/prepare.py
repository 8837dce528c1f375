"""Prepare a pipeline for a run: open its inputs lazily, resolve its parameters, check them.

:func:`prepare` reads metadata only (the pipeline, the profile(s), every raster's header, the
zone layers) and returns a :class:`Prepared` run; :func:`validate` (``gepgeo validate``) adds the
scan of the land-use codes. Every independent problem is collected and all are reported at once.
:func:`pipeline_inputs` names the files a pipeline reads, without opening any.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .compute import ALL_MAPS, check_map, measure_for_map
from .parameters import PARAM_INDEX
from .errors import (ConfigError, GepgeoError, GepgeoWarning, GridAlignmentWarning,
                     MissingParameterError, Problems, ProfileScopeWarning, RasterError,
                     UnmappedCodesError)
from .io import (CHUNK, LayerInfo, auto_chunk, block_source, check_nodata_fits, open_aligned,
                 open_layer, scan_codes)
from .layer import Layer
from .nodata import declared_nodata, distinct_nodata, nodata_list, nodata_pair
from .pipeline import (ConstantParam, DemParam, DeriveParam, Pipeline, RangeParam, RasterParam,
                       TableParam)
from .profiles import Profile, load_profile
from .resolve import ParamValue, Plan, merge_levels, plan
from .services import MEASURES

__all__ = ["Prepared", "prepare", "validate", "check_codes", "nodata_pair", "pipeline_inputs"]


@dataclass
class Prepared:
    """A pipeline whose inputs are opened (lazily) and whose parameters are resolved."""

    pipeline: Pipeline
    land_use: Any
    land_use_info: LayerInfo
    plan: Plan
    profiles: list[Profile]
    layer_infos: dict[str, LayerInfo] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    zones: list[Any] = field(default_factory=list)
    chunk: int = CHUNK   # block side of the run, pixels (the pipeline's or :func:`auto_chunk`'s)
    #: profiles used outside their declared extent (also in ``warnings``; the report's headline)
    scope_warnings: list[str] = field(default_factory=list)

    @property
    def codes(self) -> dict[int, str]:
        return dict(self.pipeline.land_use.codes)


def _range_of(key: str, spec: Any, kind: str, origin: str) -> Any:
    """The parsed ``uncertainty:`` of a pipeline parameter (None without one)."""
    if getattr(spec, "uncertainty", None) is None:
        return None
    from .uncertainty import parse_uncertainty

    return parse_uncertainty(spec.uncertainty, f"{origin}: {key}.uncertainty", kind)


def _with_ranges(given: dict[str, ParamValue], ranges: Mapping[str, tuple[Any, str]]) -> None:
    """Attach the ranges given alone (``{uncertainty: ...}``, :class:`RangeParam`) to the
    values the other levels give (in place).

    Raises
    ------
    UncertaintyError
        No level gives the parameter a value, or the range does not fit its form (a range by
        land type for a constant, one absolute range for a table).
    """
    from .errors import UncertaintyError
    from .uncertainty import parse_uncertainty

    for key, (raw, origin) in ranges.items():
        pv = given.get(key)
        where = f"{origin}: {key}.uncertainty"
        if pv is None:
            raise UncertaintyError(f"{where}: a range for {key}, but no level gives it a value")
        if pv.kind == "raster":
            raise UncertaintyError(f"{where}: {key} is a raster layer; ranges apply to "
                                   "constants and tables")
        given[key] = replace(pv, uncertainty=parse_uncertainty(raw, where, pv.kind))


def _pipeline_param(key: str, spec: Any, pipe: Pipeline, lu_info: LayerInfo | None, chunk: int,
                    infos: dict[str, LayerInfo], origin: str, notes: list[str],
                    lu_arr: Any = None) -> ParamValue:
    if isinstance(spec, float):
        return ParamValue(key, spec, source="pipeline", origin=origin)
    if isinstance(spec, ConstantParam):
        return ParamValue(key, spec.value, unit=spec.unit or "", source=spec.source or "pipeline",
                          note=spec.note or "", origin=origin, price_year=spec.price_year,
                          uncertainty=_range_of(key, spec, "constant", origin))
    if isinstance(spec, TableParam):
        return ParamValue(key, dict(spec.by_land_type), unit=spec.unit or "",
                          source=spec.source or "pipeline", note=spec.note or "", origin=origin,
                          price_year=spec.price_year,
                          uncertainty=_range_of(key, spec, "table", origin))
    if isinstance(spec, DemParam):
        assert lu_info is not None
        return _dem_param(key, spec, pipe, lu_info, chunk, infos, origin, notes, lu_arr)
    if isinstance(spec, DeriveParam):
        assert lu_info is not None
        return _derive_param(key, spec, pipe, lu_info, chunk, infos, origin, notes)
    assert isinstance(spec, RasterParam) and lu_info is not None   # a raster needs the grid
    path = pipe.resolve(spec.path)
    arr, info, note = open_aligned(path, lu_info, what=f"layer {key!r}", band=spec.band,
                                   chunks=chunk, resampling=spec.resampling,
                                   nodata=spec.nodata, strict=pipe.options.strict_grid)
    if note is not None:
        notes.append(note)
        warnings.warn(note, GridAlignmentWarning, stacklevel=4)
    infos[key] = info
    check_nodata_fits(spec.nodata, info.dtype,
                      f"{'parameters' if origin == 'pipeline' else origin}.{key}.nodata")
    unit = spec.unit if spec.unit is not None else info.unit
    nodata, extra = nodata_pair(info.nodata, spec.nodata)
    scale = spec.scale if spec.scale is not None else info.scale
    offset = spec.offset if spec.offset is not None else info.offset
    for name, v in (("scale", scale), ("offset", offset)):
        if v is not None and not math.isfinite(v):
            raise ConfigError(f"layer {key!r}: {name} {v!r} of {str(path)!r} is not a finite "
                              "number")
    layer = Layer(data=arr, unit=unit or "", scale=1.0 if scale is None else float(scale),
                  offset=0.0 if offset is None else float(offset),
                  nodata=distinct_nodata(nodata if nodata is not None else declared_nodata(arr),
                                         *extra),
                  path=str(path), source=block_source(arr.data))
    return ParamValue(key, layer, unit=unit or "", source=str(path), origin=origin)


def _dem_param(key: str, spec: DemParam, pipe: Pipeline, lu_info: LayerInfo, chunk: int,
               infos: dict[str, LayerInfo], origin: str, notes: list[str],
               lu_arr: Any = None) -> ParamValue:
    """LS computed from a DEM in the pass (:mod:`gepgeo.terrain.layer`): a lazy layer on the
    land-use grid, the DEM among the run's inputs, the derivation in the parameter's record.
    With the land use (``lu_arr``), LS is computed only where the land use has data."""
    from .terrain.layer import dem_layer

    fd = spec.from_dem
    path = pipe.resolve(fd.path)
    where = f"{'parameters' if origin == 'pipeline' else origin}.{key}.from_dem"
    got = dem_layer(path, lu_info, what=where, chunks=chunk, method=fd.method,
                    opts=fd.flowpath_options(), z_factor=fd.z_factor, resampling=fd.resampling,
                    strict=pipe.options.strict_grid, land_use=lu_arr)
    if got.note is not None:
        notes.append(got.note)
        warnings.warn(got.note, GridAlignmentWarning, stacklevel=5)
    infos[key] = got.info
    return ParamValue(key, got.layer, unit="1", source=str(path), origin=origin,
                      derived={"from_dem": got.record})


def _derive_param(key: str, spec: DeriveParam, pipe: Pipeline, lu_info: LayerInfo, chunk: int,
                  infos: dict[str, LayerInfo], origin: str, notes: list[str]) -> ParamValue:
    """A layer derived per pixel in the pass (R, K, C, an annual total;
    :mod:`gepgeo.derive.layer`): a lazy layer on
    the land-use grid (or a constant or table when no input is a raster), its input files
    among the run's inputs, the derivation in the parameter's record."""
    from .derive.layer import derive_layer

    where = f"{'parameters' if origin == 'pipeline' else origin}.{key}.derive"
    got = derive_layer(key, spec.derive, resolve=pipe.resolve, land_use=lu_info,
                       codes=pipe.land_use.codes, no_services=pipe.no_services, chunks=chunk,
                       what=where, strict=pipe.options.strict_grid,
                       land_use_nodata=nodata_list(lu_info.nodata, pipe.land_use.nodata))
    notes.extend(got.notes)
    infos.update(got.infos)
    source = ", ".join(str(i.path) for i in got.infos.values()) or "pipeline"
    m = spec.derive.spec
    return ParamValue(key, got.value, unit=m.unit, source=source, origin=origin,
                      note=f"derived per pixel by {m.name}: {m.equation} ({m.source})",
                      derived={"derive": got.record})


def prepare(pipe: Pipeline) -> Prepared:
    """Open inputs lazily and resolve parameters; reads metadata only.

    Raises
    ------
    GepgeoError
        One problem with the files, the profile or the parameters, as one clear message.
    ProblemsError
        Several problems: each independent check (each key, profile entry, file, missing
        parameter, value out of its domain) is made, and every problem is reported at once.
    """
    # independent checks: each problem is collected, all are reported at once (gepgeo validate)
    problems = Problems()
    lu_arr = lu_info = None
    chunk = pipe.options.chunk_size or CHUNK
    with problems.check():
        lu_arr, lu_info, chunk = _open_land_use(pipe)
    profiles: list[Profile] = []
    # the levels parameters come from, lowest first: a later level wins (resolve.merge_levels)
    levels: list[tuple[str, dict[str, ParamValue]]] = []
    # keys given but unusable (a profile entry, a layer that failed): not reported as missing too
    failed: set[str] = set()
    incomplete = False   # True: a whole profile failed, so "missing" says nothing new
    if pipe.profile is not None:
        base_dir = pipe.source_path.parent if pipe.source_path else None
        for name, scenario in ((pipe.profile.name, pipe.profile.scenario),
                               (pipe.profile.valuation, pipe.profile.valuation_scenario)):
            if not name:
                continue
            prof: Profile | None
            try:
                prof = load_profile(name, base=base_dir)
            except GepgeoError as bad:
                problems.add(bad)
                prof = getattr(bad, "partial", None)   # go on with the entries that loaded
                failed |= set(getattr(bad, "failed_keys", ()))
            if prof is None:
                incomplete = True
                continue
            try:
                levels.append((f"profile {prof.name!r}", prof.parameters(scenario)))
                profiles.append(prof)
            except GepgeoError as bad:
                problems.add(bad)
                incomplete = True
    lts = list(dict.fromkeys(pipe.land_use.codes.values()))
    infos: dict[str, LayerInfo] = {}
    notes: list[str] = []

    ranges: dict[str, tuple[Any, str]] = {}

    def given_by(specs: Mapping[str, Any], origin: str) -> dict[str, ParamValue]:
        out: dict[str, ParamValue] = {}
        for key, spec in specs.items():
            if isinstance(spec, RangeParam):   # a range for a lower level's value
                ranges[key] = (spec.uncertainty, origin)
                continue
            if lu_info is None and isinstance(spec, (RasterParam, DemParam, DeriveParam)):
                failed.add(key)
                continue   # cannot be aligned to a land use that did not open
            before = len(problems)
            with problems.check():
                out[key] = _pipeline_param(key, spec, pipe, lu_info, chunk, infos, origin,
                                           notes, lu_arr)
            if len(problems) > before:
                failed.add(key)
        return out

    if pipe.profile is not None:
        levels.append(("profile.overrides",
                       given_by(pipe.profile.overrides, "profile.overrides")))
    levels.append(("parameters", given_by(pipe.parameters, "pipeline")))
    pl = None
    planned = Problems()
    with planned.check():
        given, form_notes = merge_levels(levels)
        _with_ranges(given, ranges)
        pl = plan(given, lts, no_services=pipe.no_services, services=pipe.services,
                  water_deficit=pipe.options.water_deficit, valuation=pipe.valuation)
        pl.form_notes = form_notes
        from .uncertainty import check_plan

        check_plan(pl, pipe.options.uncertainty)
    for err in planned.errors:
        # a profile entry or layer that failed is not given: that it is missing says nothing new
        if not (isinstance(err, MissingParameterError)
                and (incomplete or str(getattr(err, "key", "")) in failed)):
            problems.add(err)
    for m in pipe.maps:
        with problems.check():
            if m not in ALL_MAPS:   # a factor layer of the run (gepgeo.layer_maps)?
                if pl is not None:
                    check_map(m, pl)
                else:   # the plan failed (said already): only a name nothing knows is refused
                    from .terrain.write import CA_MAPS, MAPS as TERRAIN_MAPS

                    if m not in PARAM_INDEX and m not in TERRAIN_MAPS and m not in CA_MAPS:
                        measure_for_map(m)
                continue
            if MEASURES[measure_for_map(m)].is_value and not pipe.valuation:
                raise ConfigError(f"maps: {m!r} is a value map; a run with valuation: false "
                                  "writes quantities only")
    zones = []
    names: set[str] = set()
    for zspec in pipe.zones:
        if lu_info is None:
            break
        from .zones import grid_bounds, read_zones

        with problems.check():
            zl = read_zones(pipe.resolve(zspec.path), grid_crs=lu_info.crs, layer=zspec.layer,
                            id_field=zspec.id, name=zspec.name,
                            grid_bounds=grid_bounds(lu_info.transform, lu_info.shape))
            for note in zl.warnings:   # repaired polygons, zones off the grid: also in the manifest
                notes.append(note)
                warnings.warn(note, GepgeoWarning, stacklevel=2)
            if zl.name in names:
                raise ConfigError(f"zones: two zone layers are named {zl.name!r}; give each a "
                                  "`name:`")
            names.add(zl.name)
            zones.append(zl)
    problems.raise_if_any()
    assert pl is not None and lu_info is not None
    scope_notes = _scope_warnings(profiles, lu_info)
    return Prepared(pipe, lu_arr, lu_info, pl, profiles, infos, warnings=notes + scope_notes,
                    zones=zones, chunk=chunk, scope_warnings=scope_notes)


def _open_land_use(pipe: Pipeline) -> tuple[Any, LayerInfo, int]:
    """The land-use raster of a pipeline, opened lazily and checked (CRS, integer codes,
    nodata), with the block side of the run."""
    lu_path = pipe.resolve(pipe.land_use.path)
    lu_arr, lu_info = open_layer(lu_path, what="land use", band=pipe.land_use.band,
                                 chunks=pipe.options.chunk_size)
    chunk = pipe.options.chunk_size or auto_chunk(lu_info.shape)   # as open_layer chose
    if lu_info.crs is None:
        raise RasterError(f"land use: {str(lu_path)!r} has no CRS; set one (e.g. gdal_edit.py "
                          "-a_srs EPSG:XXXX)")
    if lu_info.dtype.startswith("float") is False and lu_info.dtype not in (
            "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64"):
        raise RasterError(f"land use: {str(lu_path)!r} has dtype {lu_info.dtype}; expected integer "
                          "class codes")
    check_nodata_fits(pipe.land_use.nodata, lu_info.dtype, "land_use.nodata")
    nodata, extra = nodata_pair(lu_info.nodata, pipe.land_use.nodata)
    if nodata is not None:
        lu_arr.attrs["_FillValue"] = nodata
        lu_arr = lu_arr.rio.write_nodata(nodata)
    else:
        lu_arr.attrs.pop("_FillValue", None)
        lu_arr = lu_arr.rio.write_nodata(None)
    lu_arr.attrs["nodata_extra"] = extra
    return lu_arr, lu_info, chunk


def _scope_warnings(profiles: list[Profile], lu_info: LayerInfo) -> list[str]:
    """Warn (and return the notes) for each profile whose declared extent the grid lies
    mostly outside: site-specific values used on another landscape."""
    from .scope import grid_lonlat_bounds, scope_warning

    notes: list[str] = []
    scoped = [p for p in profiles if p.meta.get("scope") is not None
              and p.meta["scope"].extent is not None]
    if not scoped:
        return notes
    bounds = grid_lonlat_bounds(lu_info.transform, lu_info.crs, lu_info.shape)
    for prof in scoped:
        note = scope_warning(prof.name, prof.meta["scope"], bounds)
        if note is not None:
            notes.append(note)
            warnings.warn(note, ProfileScopeWarning, stacklevel=3)
    return notes


def check_codes(prep: Prepared) -> dict[int, int]:
    """Scan the land-use raster once; raise :class:`UnmappedCodesError` for undeclared codes."""
    return _check_codes(prep.land_use_info, prep.pipeline)


def _check_codes(info: LayerInfo, pipe: Pipeline) -> dict[int, int]:
    first, extra = nodata_pair(info.nodata, pipe.land_use.nodata)
    nodata = ([first] if first is not None else []) + list(extra)
    counts = scan_codes(info.path, band=info.band, nodata=nodata)
    missing = {c: n for c, n in counts.items() if c not in pipe.land_use.codes}
    if missing:
        raise UnmappedCodesError(_unmapped(missing, bool(nodata)))
    return counts


def _unmapped(missing: Mapping[int, int], has_nodata: bool) -> str:
    from .compute import _unmapped_message
    return _unmapped_message(missing, has_nodata)


def validate(pipe: Pipeline) -> Prepared:
    """``gepgeo validate``: everything :func:`prepare` does, plus the land-use code scan
    (made, and its problem reported with the others, also when :func:`prepare` finds some)."""
    problems = Problems()
    prep = None
    with problems.check():
        prep = prepare(pipe)
    with problems.check():
        if prep is not None:
            check_codes(prep)
        else:   # the land use's own problem, if any, is the same message: reported once
            _check_codes(_open_land_use(pipe)[1], pipe)
    problems.raise_if_any()
    assert prep is not None
    return prep


def pipeline_inputs(pipe: Pipeline) -> list[Path]:
    """Every file a pipeline names, without opening any raster: the pipeline file, the land
    use, the raster layers (``parameters:`` and ``profile.overrides:``), the zones, the profiles
    given by path and the CSV files of tables (the pipeline's and its profiles'). An output
    folder may never hold one of them (:func:`gepgeo.outputs.check_target`).
    """
    from .profiles import _locate

    paths: list[Path] = []
    if pipe.source_path:
        paths.append(Path(pipe.source_path))
    paths.append(pipe.resolve(pipe.land_use.path))
    paths += list(pipe.table_files)
    specs = list(pipe.parameters.values())
    if pipe.profile is not None:
        specs += list(pipe.profile.overrides.values())
        base = pipe.source_path.parent if pipe.source_path else None
        for name in (pipe.profile.name, pipe.profile.valuation):
            if name:
                try:
                    paths.append(_locate(name, base))
                    paths += load_profile(name, base=base).meta.get("table_files", [])
                except GepgeoError:
                    pass          # reported by prepare()
    paths += [pipe.resolve(s.path) for s in specs if isinstance(s, RasterParam)]
    paths += [pipe.resolve(s.from_dem.path) for s in specs if isinstance(s, DemParam)]
    paths += [pipe.resolve(p) for s in specs if isinstance(s, DeriveParam)
              for p in s.derive.input_paths()]
    paths += [pipe.resolve(z.path) for z in pipe.zones]
    return paths
