"""The record of a run: ``manifest.json`` (OUTPUTS.md, "manifest.json").

:func:`_manifest` records what a run read (every input with its SHA-256, streamed in a
background thread while the pass runs: :func:`_digests_in_background`), the grid, the land-use
codes, the profiles, every parameter used with its source, the options, the pixel counts, the
maps and tables written, the warnings, the versions of gepgeo and its libraries, and the timings.
"""

from __future__ import annotations

import hashlib
import platform
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd

from . import __version__
from .nodata import nodata_list
from .prepare import Prepared
from .profiles import Profile
from .resolve import ParamValue

__all__: list[str] = []


def _input_paths(prep: Prepared) -> dict[str, Path]:
    pipe = prep.pipeline
    inputs: dict[str, Path] = {}
    if pipe.source_path:
        inputs["pipeline"] = pipe.source_path
    inputs["land_use"] = prep.land_use_info.path
    inputs.update({k: v.path for k, v in prep.layer_infos.items()})
    inputs.update({f"zones:{z.name}": z.path for z in prep.zones})
    shipped = Path(__file__).resolve().parent / "data" / "profiles"
    for prof in prep.profiles:
        if Path(prof.path).resolve().parent != shipped:     # a user's profile file
            inputs[f"profile:{prof.name}"] = Path(prof.path)
    for path in [*pipe.table_files,
                 *(f for prof in prep.profiles for f in prof.meta.get("table_files", []))]:
        inputs.setdefault(f"table:{path}", path)
    return inputs


@contextmanager
def _digests_in_background(inputs: Mapping[str, Path]) -> Iterator[Future]:
    """Checksums of the inputs, streamed in a background thread while the pass runs (hashlib
    releases the GIL) instead of a second serial read afterwards; a failed or interrupted run
    stops the thread at its next 4 MiB read rather than waiting for it at exit."""
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gepgeo-sha256")
    future = pool.submit(_input_digests, inputs, stop)
    pool.shutdown(wait=False)
    try:
        yield future
    except BaseException:
        stop.set()
        raise


def _input_digests(inputs: Mapping[str, Path],
                   stop: threading.Event | None = None) -> dict[str, dict[str, Any]]:
    return {k: {"path": str(p), "size_bytes": Path(p).stat().st_size,
                "sha256": _sha256(Path(p), stop)}
            for k, p in inputs.items()}


def _gep_map_record(totals: np.ndarray, value: float) -> dict[str, Any]:
    """What the GEP map covers, from the pass itself (no second read of the map): its
    hectares with data (the classified area less where some service is nodata) and
    Σ(GEP map × pixel area) over them (``value``, yuan a⁻¹)."""
    from . import kernel as K
    return {"valid_ha": float(totals[:, K.COL_AREA].sum() - totals[:, K.COL_GEP_NODATA_HA].sum()),
            "value": value, "unit": "yuan a-1"}


def _manifest(prep: Prepared, res: Mapping[str, Any], target: Path, seconds: float,
              digests: Mapping[str, Any], tables: list[str]) -> dict[str, Any]:
    """The manifest of a run into ``target``: ``res`` is what :func:`gepgeo.execute.execute`
    returned, ``digests`` the inputs' (:func:`_digests_in_background`), ``tables`` the files
    of ``tables/`` (:func:`gepgeo.tabulate.write_tables`), ``seconds`` the run's time."""
    pipe = prep.pipeline
    info = prep.land_use_info
    stats = dict(zip(res["stat_names"], (int(x) for x in res["stats"])))
    totals = res["totals"]
    from . import kernel as K
    clamped = int(round(float(totals[:, K.COL_CLAMP_N].sum())))
    return {
        "gepgeo_version": __version__,
        "name": pipe.name or (pipe.source_path.stem if pipe.source_path else "run"),
        "output": str(target),
        "inputs": dict(digests),
        "grid": {"crs_wkt": info.crs.to_wkt() if info.crs else None,
                 "crs": info.crs.to_string() if info.crs else None,
                 "transform": list(info.transform)[:6], "shape": list(info.shape)},
        "land_use": {"codes": {str(k): v for k, v in pipe.land_use.codes.items()},
                     "no_services": list(pipe.no_services),
                     # every value that is nodata: the file's and the pipeline's
                     "nodata": nodata_list(info.nodata, pipe.land_use.nodata),
                     "nodata_from": {"file": info.nodata, "pipeline": pipe.land_use.nodata},
                     **_product_record(pipe)},
        "profiles": [{"name": p.name, "path": str(p.path), "kind": p.kind,
                      "price_year": p.price_year, **_scope_record(p)} for p in prep.profiles],
        "scenario": pipe.profile.scenario if pipe.profile else None,
        "services": prep.plan.enabled_services,
        # false: physical quantities only (no prices used, no value maps, no GEP)
        "valuation": prep.plan.valuation,
        "parameters": {k: _param_record(v, digests) for k, v in prep.plan.used.items()},
        "parameters_not_used": prep.plan.unused,
        # alternative forms of one quantity given at two levels: which won (resolve.merge_levels)
        "parameter_forms": prep.plan.form_notes,
        # chunk_size as run (the block side fixes the order of the sums, to the last bit)
        "options": {**pipe.options.model_dump(), "chunk_size": prep.chunk},
        "engine": res.get("engine", "threads"),
        "water_deficit": {"policy": pipe.options.water_deficit, "clamped_pixels": clamped},
        "pixel_stats": stats,
        "maps": {m: f"maps/{m}.tif" for m in res["maps"]},
        "map_units": res.get("map_units", {}),
        # maps of factor layers (maps: [slope_length_steepness_ls, ...]): what each shows
        **({"factor_maps": res["factor_maps"]} if res.get("factor_maps") else {}),
        **({"gep_map": _gep_map_record(totals, res["gep_map_value"])}
           if res.get("gep_map_value") is not None else {}),
        "tables": list(tables),
        "warnings": prep.warnings,
        "scope_warnings": prep.scope_warnings,
        "versions": _versions(),
        "timings_s": {**res["timings"], "total_s": seconds},
    }


def _sha256(path: Path, stop: threading.Event | None = None) -> str:
    """SHA-256 of a file, streamed through one reused 256 KiB buffer (it stays in the CPU
    cache: 20 % less CPU than hashing fresh 4 MiB reads); gives up (returns "") once ``stop``
    is set."""
    h = hashlib.sha256()
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            if stop is not None and stop.is_set():
                return ""
            h.update(view[:n])
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import numba
    import rasterio
    import xarray

    return {"gepgeo": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "dask": dask.__version__,
            "xarray": xarray.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "pandas": pd.__version__}


def _scope_record(prof: Profile) -> dict[str, Any]:
    """A profile's declared scope and extent for the manifest (empty when it declares none)."""
    scope = prof.meta.get("scope")
    if scope is None:
        return {}
    return {"scope": scope.level, "extent": list(scope.extent) if scope.extent else None}


def _param_record(pv: ParamValue, digests: Mapping[str, Any] | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": pv.kind, "unit": pv.unit, "source": pv.source,
                           "origin": pv.origin}
    if pv.kind == "raster":
        rec["path"] = pv.source
    else:
        rec["value"] = pv.value if pv.kind == "constant" else dict(pv.value)
    for how, what in (pv.derived or {}).items():
        # e.g. from_dem: the DEM (with its digest, as in "inputs"), method, options, halo
        digest = (digests or {}).get(pv.key, {})
        rec[how] = {**what, **({"sha256": digest["sha256"]} if "sha256" in digest else {})}
    if pv.kind == "table" and pv.origins:
        # a table merged from several levels: which level (profile name, profile.overrides,
        # pipeline) gave each land type's value
        rec["origin_by_land_type"] = {lt: pv.origin_of(lt) for lt in dict(pv.value)}
    for k in ("ref", "note"):
        if getattr(pv, k):
            rec[k] = getattr(pv, k)
    if pv.price_year is not None:
        rec["price_year"] = pv.price_year
    return rec


def _product_record(pipe: Any) -> dict[str, Any]:
    """The land-cover product preset a pipeline's codes came from (``land_use.product``):
    its name, version and source, and how its classes became land types."""
    lu = pipe.land_use
    if lu.product is None:
        return {}
    from .products import load_preset

    p = load_preset(lu.product)
    return {"product": {"name": p.product, "title": p.name, "version": p.version,
                        "source": p.citation, "land_types": lu.land_types,
                        "rename": dict(lu.rename)}}
