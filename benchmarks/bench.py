"""Benchmark gepgeo end to end against the I/O floor and hand-written baselines.

One run of this script, for each grid size, generates the inputs once (cached in ``--data``),
then times every variant below in a fresh subprocess (this same script with the hidden
``--variant`` flag), and prints one table per size with the ratios PERFORMANCE.md asks for:

    gepgeo        ``run_pipeline``: all services, default maps (GEP + 8 values), tables
    io-floor      read every input block, write 9 float32 maps, no computation (1 and 2 threads)
    numpy-whole   the same formulas as NumPy expressions on whole arrays
    windowed      the same NumPy code per 512² window in a rasterio loop, one thread
    xarray-dask   the same formulas as xarray expressions on dask, ``rio.to_raster`` per map
    gepgeo-draws  ``run_pipeline`` plus 10 000 draws of eight prices (gepgeo.uncertainty)
    gepgeo-draws-nosens  the same without the Sobol indices
    tables-only   ``gepgeo.run.account``: totals only, no map
    read-floor    read every input block, nothing else (1 and 2 threads)

Usage::

    python benchmarks/bench.py --sizes 1000 4000 --markdown benchmarks/RESULTS.md
    python benchmarks/bench.py                 # 1000, 4000 and 10000
    python benchmarks/bench.py --huge          # ... and 40000 (about 1.6 Gpixel)

Timing is the minimum of ``--repeat`` runs, each in a new process that first runs the same
variant once on a small warm-up grid (imports, numba cache loading and GDAL driver set-up are
excluded). Peak RSS is sampled every 5 ms in a background thread and reported as the peak minus
the RSS just before the timed run (the largest over the repeats); the RSS after warm-up is
reported separately.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import rasterio
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import LAYERS, generate  # noqa: E402

#: default sizes (pixels per side); ``--huge`` adds :data:`HUGE`
SIZES = (1000, 4000, 10000)
HUGE = 40000
#: side of the warm-up grid (two blocks per side, the second partial)
WARMUP_SIZE = 600
#: InVEST 3.20 reference rates from PERFORMANCE.md, Mpixel/s (not measured here)
REFERENCE = {
    "InVEST 3.20 Carbon (end to end)": 3.6,
    "InVEST 3.20 raster_map R·K·LS·(1−C·P)": 6.0,
    "InVEST 3.20 SDR (routing-bound)": 0.13,
}
#: the maps a run writes by default, in gepgeo's order (gepgeo.compute.DEFAULT_MAPS)
MAPS = ("gep", "agriculture_value", "water_value", "soil_value", "air_value", "carbon_value",
        "oxygen_value", "climate_value", "landscape_value")
SERVICE_MAPS = MAPS[1:]
FLOAT_LAYERS = tuple(LAYERS)  # R, K, LS, precipitation, ET
#: naive NumPy on whole arrays: peak bytes added per pixel, measured at 1000² and 4000²
#: (rounded up); used to skip the variant where it would not fit
NAIVE_BYTES_PER_PIXEL = 150
NAIVE_MEMORY_LIMIT = 16 * 2**30
RESULT_TAG = "BENCH-RESULT "


# --------------------------------------------------------------------------------------------
# inputs and parameters
# --------------------------------------------------------------------------------------------

def ensure_inputs(n: int, data: Path) -> Path:
    """Folder with the n × n inputs and ``pipeline.yaml``; generated once and then reused."""
    folder = data / f"n{n}"
    if (folder / "pipeline.yaml").is_file():
        return folder
    tmp = data / f".n{n}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    print(f"generating {n}² inputs in {folder} ...", flush=True)
    generate(n, tmp)
    os.replace(tmp, folder)
    print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def input_paths(folder: Path) -> dict[str, Path]:
    """Land use and the five float layers of a generated folder."""
    return {"land_use": folder / "land_use.tif",
            **{name: folder / f"{name}.tif" for name in FLOAT_LAYERS}}


@dataclass
class Params:
    """The bench pipeline's parameters as the baselines use them.

    Lookup tables are indexed by land-use code (NaN for nodata and undeclared codes); the
    values come from gepgeo's resolved plan (metadata only, outside the timing), so every
    variant computes with the same numbers in the same units.
    """

    supply: np.ndarray              # 1 supplying, 0 declared to supply no services
    runoff_coefficient: np.ndarray
    c: np.ndarray                   # cover management C
    p: np.ndarray                   # support practice P
    constant_maps: dict[str, np.ndarray]  # class-constant service values, yuan ha-1 a-1
    water_price: float              # yuan m-3
    sediment_m3_per_t: float        # λ / ρ
    dredging_cost: float            # yuan m-3
    n_t_per_t: float                # soil N content × 1e-3 × fertilizer factor
    n_price: float
    p_t_per_t: float
    p_price: float
    nodata: dict[str, float]        # nodata of each float layer
    pixel_ha: float
    codes: dict[int, str]           # land-use code → land type


def load_params(folder: Path) -> Params:
    """Resolve the bench pipeline with gepgeo and turn it into per-code lookup tables."""
    from gepgeo.kernel import MODE
    from gepgeo.parameters import PARAM_INDEX
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import prepare

    prep = prepare(load_pipeline(folder / "pipeline.yaml"))
    pl = prep.plan
    expect = {"water": 1, "sediment": 1, "grain": 0, "agriculture": 0, "water_signed": 0,
              "potassium": 0}
    got = {k: int(pl.modes[MODE[k]]) for k in expect}
    if got != expect:
        raise SystemExit(f"the baselines implement the bench pipeline's formulas {expect}; "
                         f"this pipeline uses {got}")
    codes = dict(prep.codes)
    size = max(codes) + 1

    def per_code(key: str) -> np.ndarray:
        row = pl.table[PARAM_INDEX[key]]
        tab = np.full(size, np.nan)
        for code, lt in codes.items():
            tab[code] = row[pl.land_types.index(lt)]
        return tab

    def const(key: str) -> float:
        vals = pl.table[PARAM_INDEX[key]][pl.supplies.astype(bool)]
        assert np.allclose(vals, vals[0]), f"{key} varies by land type"
        return float(vals[0])

    t = per_code
    supply = np.full(size, np.nan)
    for code, lt in codes.items():
        supply[code] = float(pl.supplies[pl.land_types.index(lt)])
    carbon_t = t("carbon_sequestration_rate") * (1 + t("forest_soil_carbon_beta"))
    co2 = carbon_t * t("co2_per_c")
    constant_maps = {
        "agriculture_value": t("agri_output_value_per_ha"),
        "air_value": t("air_rate_multiplier") * (t("so2_uptake_rate") * t("so2_charge")
                                                  + t("nox_uptake_rate") * t("nox_charge")
                                                  + t("dust_uptake_rate") * t("dust_charge")),
        "carbon_value": co2 * t("carbon_price"),
        "oxygen_value": co2 * t("o2_per_co2") * t("oxygen_price"),
        "climate_value": (t("heat_absorption") * t("ac_days")
                          / (3600.0 * t("ac_energy_efficiency_ratio")) * t("electricity_price")),
        "landscape_value": (t("landscape_equivalent_factor") * t("equivalent_value_coefficient")
                            * t("grain_output_value_per_ha")),
    }
    # land types that supply no services have valid zeros (their parameters may be missing)
    constant_maps = {k: np.where(supply == 0, 0.0, v) for k, v in constant_maps.items()}
    tr = prep.land_use_info.transform
    return Params(
        supply=supply, runoff_coefficient=per_code("runoff_coefficient"),
        c=per_code("cover_management_c"), p=per_code("support_practice_p"),
        constant_maps=constant_maps, water_price=const("water_price"),
        sediment_m3_per_t=(const("sediment_deposition_coefficient_lambda")
                           / const("soil_bulk_density_rho")),
        dredging_cost=const("dredging_cost"),
        n_t_per_t=const("soil_n_content") * 1e-3 * const("n_to_fertilizer_factor"),
        n_price=const("n_fertilizer_price"),
        p_t_per_t=const("soil_p_content") * 1e-3 * const("p_to_fertilizer_factor"),
        p_price=const("p_fertilizer_price"),
        nodata={k: float(v.nodata) for k, v in prep.layer_infos.items()},
        pixel_ha=abs(tr.a * tr.e) / 1e4, codes=codes)


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------

def map_profile(src: rasterio.io.DatasetReader) -> dict[str, Any]:
    """Creation options of an output map: gepgeo's (float32, tiled 512, NaN nodata, ZSTD)."""
    from gepgeo.io import CODECS

    return {"driver": "GTiff", "height": src.height, "width": src.width, "count": 1,
            "dtype": "float32", "crs": src.crs, "transform": src.transform, "nodata": np.nan,
            "tiled": True, "blockxsize": 512, "blockysize": 512, "bigtiff": "if_safer",
            **CODECS["zstd"]}


def block_windows(path: Path) -> list[Window]:
    """The 512² tile windows of a raster."""
    with rasterio.open(path) as src:
        return [w for _, w in src.block_windows(1)]


@contextmanager
def small_gdal_cache() -> Iterator[None]:
    """The GDAL block cache gepgeo uses during its pass (for the floors, to compare like with
    like)."""
    from gepgeo.run import _small_gdal_cache

    with _small_gdal_cache():
        yield


def numpy_maps(lu: np.ndarray, layers: dict[str, np.ndarray], prm: Params) -> dict[str, np.ndarray]:
    """The nine value maps (float64, yuan ha-1 a-1) as NumPy expressions, for any array shape.

    Formulas (METHOD.md, with the bench pipeline's variants): water = 10 · max(P − P·α − ET, 0)
    · price; soil = RUSLE q = R·K·LS·(1 − C·P) valued as sediment (q·λ/ρ·dredging cost) plus N
    and P fertilizer (q·content·1e-3·factor·price); the six other services are constant per land
    type and looked up with ``np.take``. Land types that supply no services get 0; land-use or
    layer nodata gives NaN; GEP is the sum of the eight values.
    """
    def look(table: np.ndarray) -> np.ndarray:
        return np.take(table, lu)

    r, k, ls, precip, et = (np.where(layers[n] == prm.nodata[n], np.nan, layers[n])
                            for n in FLOAT_LAYERS)
    no_service = look(prm.supply) == 0
    depth = np.maximum(precip - precip * look(prm.runoff_coefficient) - et, 0.0)
    water = np.where(no_service, 0.0, 10.0 * depth * prm.water_price)
    q = r * k * ls * (1.0 - look(prm.c) * look(prm.p))
    soil = np.where(no_service, 0.0,
                    q * prm.sediment_m3_per_t * prm.dredging_cost
                    + q * prm.n_t_per_t * prm.n_price + q * prm.p_t_per_t * prm.p_price)
    maps = {"water_value": water, "soil_value": soil,
            **{name: look(tab) for name, tab in prm.constant_maps.items()}}
    maps["gep"] = sum(maps[name] for name in SERVICE_MAPS)
    return {name: maps[name] for name in MAPS}


def numpy_totals(lu: np.ndarray, maps: dict[str, np.ndarray], prm: Params) -> dict[str, np.ndarray]:
    """Per-code totals (yuan a-1) of the eight service maps with ``np.bincount``; nodata skipped."""
    size = len(prm.supply)
    flat = lu.ravel()
    return {name: np.bincount(flat, weights=np.nan_to_num(maps[name].ravel()), minlength=size)
            * prm.pixel_ha for name in SERVICE_MAPS}


def by_land_type(per_code: dict[str, np.ndarray], prm: Params) -> dict[str, dict[str, float]]:
    """``{service map: {land type: total}}`` from per-code totals."""
    return {name: {lt: float(v[code]) for code, lt in prm.codes.items()}
            for name, v in per_code.items()}


# --------------------------------------------------------------------------------------------
# variants (each runs in its own subprocess; returns optional totals and extras)
# --------------------------------------------------------------------------------------------

def run_gepgeo(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """gepgeo end to end: ``run_pipeline`` into a new run folder (maps, tables, manifest)."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    res = run_pipeline(load_pipeline(folder / "pipeline.yaml"), out, quiet=True)
    vals = res.tidy[(res.tidy.measure == "value") & (res.tidy.service != "gep")]
    totals = {f"{s}_value": {} for s in vals.service.unique()}
    for s, lt, amount in zip(vals.service, vals.land_type, vals.amount):
        totals[f"{s}_value"][lt] = float(amount)
    return {"totals": totals, "extra": {"timings": res.manifest["timings_s"]}}


#: prices drawn by the ``gepgeo-draws`` variant: synthetic ±20 % ranges (a benchmark of
#: the cost of drawing, not a case), with the options of ``options.uncertainty``
DRAWN_PRICES = ("water_price", "dredging_cost", "n_fertilizer_price", "p_fertilizer_price",
                "carbon_price", "oxygen_price", "so2_charge", "electricity_price")


def run_gepgeo_draws(folder: Path, out: Path, prm: Params,
                     sensitivity: bool = True) -> dict[str, Any]:
    """``run_pipeline`` with 10 000 draws of eight prices (intervals and, with
    ``sensitivity``, Sobol indices)."""
    import yaml

    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    doc = yaml.safe_load((folder / "pipeline.yaml").read_text())
    for key in DRAWN_PRICES:
        doc["parameters"][key] = {"uncertainty": {
            "dist": "uniform", "low": 0.8, "high": 1.2, "relative": True,
            "source": "benchmark: synthetic +-20 %"}}
    doc.setdefault("options", {})["uncertainty"] = {"draws": 10000, "seed": 1,
                                                    "sensitivity": sensitivity}
    path = folder / f"pipeline_draws{'' if sensitivity else '_nosens'}.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = run_pipeline(load_pipeline(path), out, quiet=True)
    vals = res.tidy[(res.tidy.measure == "value") & (res.tidy.service != "gep")]
    totals = {f"{s}_value": {} for s in vals.service.unique()}
    for s, lt, amount in zip(vals.service, vals.land_type, vals.amount):
        totals[f"{s}_value"][lt] = float(amount)
    return {"totals": totals, "extra": {"timings": res.manifest["timings_s"]}}


def run_gepgeo_draws_nosens(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """``run_pipeline`` with 10 000 draws of eight prices, intervals only."""
    return run_gepgeo_draws(folder, out, prm, sensitivity=False)


def run_tables(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """gepgeo tables only: ``account`` = ``build_dataset(maps=[])`` + compute ``totals``."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import account

    tidy = account(load_pipeline(folder / "pipeline.yaml"))
    vals = tidy[(tidy.measure == "value") & (tidy.service != "gep")]
    totals: dict[str, dict[str, float]] = {}
    for s, lt, amount in zip(vals.service, vals.land_type, vals.amount):
        totals.setdefault(f"{s}_value", {})[lt] = float(amount)
    return {"totals": totals}


def _io_floor(folder: Path, out: Path, threads: int, write: bool) -> dict[str, Any]:
    """Read every input block; optionally write 9 maps with gepgeo's creation options.

    Nothing is computed. To write data about as compressible as gepgeo's maps, the six maps of
    class-constant services receive the land-use block (cast to float32) and GEP, soil and
    water receive the R, LS and precipitation blocks.
    """
    paths = input_paths(folder)
    windows = block_windows(paths["land_use"])
    sources = ["land_use"] * len(MAPS)
    for name, layer in (("gep", "rainfall_erosivity_r"),
                        ("soil_value", "slope_length_steepness_ls"),
                        ("water_value", "precipitation")):
        sources[MAPS.index(name)] = layer
    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def readers() -> dict[str, Any]:
        if not hasattr(local, "src"):
            local.src = {k: rasterio.open(p) for k, p in paths.items()}
            with lock:
                opened.extend(local.src.values())
        return local.src

    dsts, locks = [], []
    with small_gdal_cache():
        if write:
            (out / "maps").mkdir(parents=True)
            with rasterio.open(paths["land_use"]) as src:
                profile = map_profile(src)
            dsts = [rasterio.open(out / "maps" / f"{m}.tif", "w", **profile) for m in MAPS]
            locks = [threading.Lock() for _ in MAPS]

        def one(i: int) -> None:
            win = windows[i]
            blocks = {k: src.read(1, window=win) for k, src in readers().items()}
            for j in range(len(dsts)):
                m = (i + j) % len(dsts)  # threads start on different files
                with locks[m]:
                    dsts[m].write(blocks[sources[m]].astype(np.float32), 1, window=win)

        try:
            if threads == 1:
                for i in range(len(windows)):
                    one(i)
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(one, range(len(windows))))
        finally:
            for d in dsts + opened:
                d.close()
    return {}


def run_io_floor_1(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """I/O floor, one thread: read all input blocks, write 9 maps, no computation."""
    return _io_floor(folder, out, 1, write=True)


def run_io_floor_2(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """I/O floor, two threads over windows (one handle per thread, a lock per output file)."""
    return _io_floor(folder, out, 2, write=True)


def run_read_floor_1(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """Read floor, one thread: read every block of the six inputs, nothing else."""
    return _io_floor(folder, out, 1, write=False)


def run_read_floor_2(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """Read floor, two threads over windows."""
    return _io_floor(folder, out, 2, write=False)


def run_numpy_whole(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """Naive NumPy: read whole rasters, compute whole maps, write 9 whole maps, bincount totals."""
    paths = input_paths(folder)
    with rasterio.open(paths["land_use"]) as src:
        lu = src.read(1)
        profile = map_profile(src)
    layers = {}
    for name in FLOAT_LAYERS:
        with rasterio.open(paths[name]) as src:
            layers[name] = src.read(1)
    maps = numpy_maps(lu, layers, prm)
    (out / "maps").mkdir(parents=True)
    for name, arr in maps.items():
        with rasterio.open(out / "maps" / f"{name}.tif", "w", **profile) as dst:
            dst.write(arr.astype(np.float32), 1)
    return {"totals": by_land_type(numpy_totals(lu, maps, prm), prm)}


def run_windowed(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """Windowed rasterio loop, one thread: per 512² window read, compute (NumPy), write,
    bincount."""
    paths = input_paths(folder)
    srcs = {k: rasterio.open(p) for k, p in paths.items()}
    profile = map_profile(srcs["land_use"])
    (out / "maps").mkdir(parents=True)
    dsts = {m: rasterio.open(out / "maps" / f"{m}.tif", "w", **profile) for m in MAPS}
    totals = {m: np.zeros(len(prm.supply)) for m in SERVICE_MAPS}
    try:
        for _, win in srcs["land_use"].block_windows(1):
            lu = srcs["land_use"].read(1, window=win)
            layers = {n: srcs[n].read(1, window=win) for n in FLOAT_LAYERS}
            maps = numpy_maps(lu, layers, prm)
            for name, arr in maps.items():
                dsts[name].write(arr.astype(np.float32), 1, window=win)
            for name, tot in numpy_totals(lu, maps, prm).items():
                totals[name] += tot
    finally:
        for d in [*srcs.values(), *dsts.values()]:
            d.close()
    return {"totals": by_land_type(totals, prm)}


def _take(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.take(table, codes)


def run_xarray_dask(folder: Path, out: Path, prm: Params) -> dict[str, Any]:
    """xarray expressions on dask: ``open_rasterio(chunks=512, lock=False)``, the formulas as
    xarray expressions, one ``rio.to_raster(compute=False)`` per map and per-class sums
    ``(value * (lu == code)).sum()``, all computed together in one ``dask.compute``."""
    import dask
    import rioxarray
    import xarray as xr

    from gepgeo.io import CODECS

    paths = input_paths(folder)

    def open_(path: Path, **kw: Any) -> xr.DataArray:
        return (rioxarray.open_rasterio(path, chunks=512, lock=False, **kw)
                .squeeze("band", drop=True))

    lu = open_(paths["land_use"])  # uint8 codes, 0 = nodata (lookup tables give NaN)
    r, k, ls, precip, et = (open_(paths[n], masked=True) for n in FLOAT_LAYERS)

    def look(table: np.ndarray) -> xr.DataArray:
        return xr.apply_ufunc(_take, lu, kwargs={"table": table}, dask="parallelized",
                              output_dtypes=[np.float64])

    no_service = look(prm.supply) == 0
    depth = (precip - precip * look(prm.runoff_coefficient) - et).clip(min=0.0)
    water = xr.where(no_service, 0.0, 10.0 * depth * prm.water_price)
    q = r * k * ls * (1.0 - look(prm.c) * look(prm.p))
    soil = xr.where(no_service, 0.0,
                    q * prm.sediment_m3_per_t * prm.dredging_cost
                    + q * prm.n_t_per_t * prm.n_price + q * prm.p_t_per_t * prm.p_price)
    maps = {"water_value": water, "soil_value": soil,
            **{name: look(tab) for name, tab in prm.constant_maps.items()}}
    maps["gep"] = sum(maps[name] for name in SERVICE_MAPS)
    (out / "maps").mkdir(parents=True)
    writes = []
    for name in MAPS:
        arr = maps[name].astype(np.float32).rio.write_crs(lu.rio.crs).rio.write_nodata(np.nan)
        writes.append(arr.rio.to_raster(out / "maps" / f"{name}.tif", tiled=True,
                                        blockxsize=512, blockysize=512, bigtiff="IF_SAFER",
                                        lock=threading.Lock(), compute=False,
                                        **CODECS["zstd"]))
    sums = {name: {lt: (maps[name] * (lu == code)).sum() * prm.pixel_ha
                   for code, lt in prm.codes.items()} for name in SERVICE_MAPS}
    _, sums = dask.compute(writes, sums)
    return {"totals": {name: {lt: float(v) for lt, v in d.items()} for name, d in sums.items()}}


@dataclass(frozen=True)
class Variant:
    """A timed variant: function, table label, whether it writes maps, a short description."""

    name: str
    fn: Callable[[Path, Path, Params], dict[str, Any]]
    label: str
    writes: bool = True
    group: str = "e2e"
    baseline: bool = False      # a hand-written alternative, slow: fewer repeats at 10 000²


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("gepgeo", run_gepgeo, "gepgeo end to end (9 maps + tables)"),
    Variant("gepgeo-draws", run_gepgeo_draws,
            "gepgeo end to end + 10 000 draws of 8 prices (intervals, Sobol indices)"),
    Variant("gepgeo-draws-nosens", run_gepgeo_draws_nosens,
            "gepgeo end to end + 10 000 draws of 8 prices (intervals only)"),
    Variant("io-floor-1", run_io_floor_1, "I/O floor, 1 thread (read 6, write 9)"),
    Variant("io-floor-2", run_io_floor_2, "I/O floor, 2 threads"),
    Variant("numpy-whole", run_numpy_whole, "naive NumPy, whole arrays", baseline=True),
    Variant("windowed", run_windowed, "windowed rasterio + NumPy, 1 thread", baseline=True),
    Variant("xarray-dask", run_xarray_dask, "xarray expressions on dask", baseline=True),
    Variant("tables", run_tables, "gepgeo tables only (no maps)", writes=False, group="tables"),
    Variant("read-floor-1", run_read_floor_1, "read floor, 1 thread", writes=False,
            group="tables"),
    Variant("read-floor-2", run_read_floor_2, "read floor, 2 threads", writes=False,
            group="tables"),
)}


# --------------------------------------------------------------------------------------------
# the measuring subprocess
# --------------------------------------------------------------------------------------------

class PeakRSS:
    """Context manager sampling this process's RSS every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self._proc = psutil.Process()
        self.before = self.peak = 0

    def _rss(self) -> int:
        return self._proc.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRSS:
        self.before = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def measure(variant: str, folder: Path, warmup: Path, out: Path) -> dict[str, Any]:
    """Warm up on the small grid, then time one run of ``variant`` on ``folder`` into ``out``."""
    v = VARIANTS[variant]
    warm_out = out.parent / f".{out.name}.warmup"
    shutil.rmtree(warm_out, ignore_errors=True)
    rss_start = psutil.Process().memory_info().rss
    v.fn(warmup, warm_out, load_params(warmup))
    shutil.rmtree(warm_out, ignore_errors=True)
    prm = load_params(folder)
    shutil.rmtree(out, ignore_errors=True)
    gc.collect()
    me = psutil.Process()
    with PeakRSS() as rss:
        cpu0, busy0 = me.cpu_times(), system_busy()
        t0 = time.perf_counter()
        res = v.fn(folder, out, prm)
        seconds = time.perf_counter() - t0
        cpu1, busy1 = me.cpu_times(), system_busy()
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {"variant": variant, "seconds": seconds, "cpu_s": cpu,
            "others_cores": max(0.0, (busy1 - busy0 - cpu) / seconds), "rss_start": rss_start,
            "rss_before": rss.before, "rss_peak": rss.peak, **res}


def system_busy() -> float:
    """CPU seconds spent busy so far by the whole machine (all cores, all processes)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """Result of a variant at one size (min time over repeats, max RSS added)."""

    variant: str
    seconds: float = float("nan")
    rss_added: int = 0
    rss_base: int = 0
    cpu_s: float = float("nan")
    others_cores: float = 0.0
    bytes_written: int = 0
    totals: dict[str, dict[str, float]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note


def folder_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_variant(variant: str, n: int, folder: Path, warmup: Path, out_root: Path,
                repeat: int) -> Outcome:
    """Run ``variant`` ``repeat`` times in fresh subprocesses; keep the last output folder."""
    oc = Outcome(variant)
    best = None
    for i in range(repeat):
        out = out_root / f"{variant}-{i}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--variant", variant,
               "--folder", str(folder), "--warmup", str(warmup), "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
        if proc.returncode != 0 or not lines:
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            oc.note = f"failed: {err}"
            print(proc.stderr[-3000:], file=sys.stderr)
            return oc
        res = json.loads(lines[-1][len(RESULT_TAG):])
        if out.exists():
            oc.bytes_written = folder_bytes(out)
            if i < repeat - 1:
                shutil.rmtree(out)
        oc.rss_added = max(oc.rss_added, res["rss_peak"] - res["rss_before"])
        oc.rss_base = max(oc.rss_base, res["rss_before"])
        if best is None or res["seconds"] < best["seconds"]:
            best = res
        print(f"  {n}² {variant:<13} run {i + 1}/{repeat}: {res['seconds']:8.3f} s, "
              f"CPU {res['cpu_s']:7.2f} s, +{(res['rss_peak'] - res['rss_before']) / 2**20:7.1f} "
              f"MiB, others busy {res['others_cores']:.2f} cores", flush=True)
    assert best is not None
    oc.seconds = best["seconds"]
    oc.cpu_s = best["cpu_s"]
    oc.others_cores = best["others_cores"]
    oc.totals = best.get("totals")
    oc.extra = best.get("extra", {})
    return oc


def naive_skip_reason(n: int) -> str:
    """Why naive NumPy is not run at this size ('' when it is)."""
    if n > 10000:
        return f"skipped: whole arrays above 10000² do not fit (≈ {NAIVE_BYTES_PER_PIXEL} B/pixel)"
    need = NAIVE_BYTES_PER_PIXEL * n * n
    avail = psutil.virtual_memory().available
    if need > NAIVE_MEMORY_LIMIT or need > 0.8 * avail:
        return (f"skipped: needs ≈ {need / 2**30:.1f} GiB (limit {NAIVE_MEMORY_LIMIT / 2**30:.0f} "
                f"GiB, {avail / 2**30:.1f} GiB available)")
    return ""


def compare_totals(ref: dict[str, dict[str, float]], got: dict[str, dict[str, float]]) -> float:
    """Largest relative difference of the service totals by land type against ``ref``."""
    worst = 0.0
    for name, per_lt in ref.items():
        for lt, a in per_lt.items():
            b = got.get(name, {}).get(lt, float("nan"))
            worst = max(worst, abs(b - a) / max(abs(a), 1e-9)) if np.isfinite(b) else float("inf")
    return worst


def compare_maps(ref: Path, got: Path) -> float:
    """Largest relative difference of the 9 maps on three 512² windows (first, middle, last);
    inf when the NaN patterns differ."""
    worst = 0.0
    with rasterio.open(ref / "maps" / "gep.tif") as src:
        h, w = src.height, src.width
    wins = [Window(0, 0, min(512, w), min(512, h)),
            Window(max(0, w // 2 - 256), max(0, h // 2 - 256), min(512, w), min(512, h)),
            Window(max(0, w - 512), max(0, h - 512), min(512, w), min(512, h))]
    for name in MAPS:
        with rasterio.open(ref / "maps" / f"{name}.tif") as a, \
                rasterio.open(got / "maps" / f"{name}.tif") as b:
            for win in wins:
                x = a.read(1, window=win).astype(np.float64)
                y = b.read(1, window=win).astype(np.float64)
                if not np.array_equal(np.isnan(x), np.isnan(y)):
                    return float("inf")
                ok = ~np.isnan(x)
                if ok.any():
                    rel = np.abs(y[ok] - x[ok]) / np.maximum(np.abs(x[ok]), 1e-6)
                    worst = max(worst, float(rel.max()))
    return worst


def default_repeat(n: int, variant: str) -> int:
    """Runs per variant: 3 up to 10 000² (the ratios the targets need vary by several
    per cent from run to run), 1 for the slow baselines above 4 000² and for everything
    above 10 000²."""
    if n <= 4000 or (n <= 10000 and not VARIANTS[variant].baseline):
        return 3
    return 1


def factor_share_read(folder: Path) -> float:
    """Share of the factor-layer pixels gepgeo reads: it skips the tiles in which the land use
    is all nodata (``gepgeo.io.read_needed``), the floors and baselines read every pixel."""
    from gepgeo.io import _tile_bands, auto_chunk

    paths = input_paths(folder)
    factor = next(p for k, p in paths.items() if k != "land_use")
    read = total = 0
    with rasterio.open(paths["land_use"]) as lu, rasterio.open(factor) as f:
        bh, bw = f.block_shapes[0]
        chunk = auto_chunk(lu.shape)
        for r in range(0, lu.height, chunk):
            for c in range(0, lu.width, chunk):
                block = lu.read(1, window=Window(c, r, min(chunk, lu.width - c),
                                                 min(chunk, lu.height - r)))
                needed = block != lu.nodata
                total += needed.size
                if needed.all():
                    read += needed.size
                    continue
                read += sum((b - a) * (c1 - c0)
                            for a, b, c0, c1 in _tile_bands(needed, bh, bw, r % bh, c % bw))
    return read / total


def bench_size(n: int, args: argparse.Namespace, warmup: Path) -> dict[str, Outcome]:
    """All variants at one size."""
    folder = ensure_inputs(n, args.data)
    out_root = args.out / f"n{n}"
    shutil.rmtree(out_root, ignore_errors=True)
    out_root.mkdir(parents=True)
    results: dict[str, Outcome] = {}
    repeats: dict[str, int] = {}
    for name in args.only or VARIANTS:
        if name == "numpy-whole" and (why := naive_skip_reason(n)):
            results[name] = Outcome(name, note=why)
            print(f"  {n}² {name:<13} {why}", flush=True)
            continue
        repeats[name] = args.repeat or default_repeat(n, name)
        results[name] = run_variant(name, n, folder, warmup, out_root, repeats[name])
    ref = results.get("gepgeo")
    if ref is not None and ref.ok:
        ref.extra["factor_share_read"] = factor_share_read(folder)
    ref_out = out_root / f"gepgeo-{repeats.get('gepgeo', 1) - 1}"
    for name, oc in results.items():
        if name == "gepgeo" or not oc.ok or ref is None or not ref.ok:
            continue
        if oc.totals is not None and ref.totals is not None:
            oc.extra["totals_rel_diff"] = compare_totals(ref.totals, oc.totals)
        got = out_root / f"{name}-{repeats[name] - 1}"
        if VARIANTS[name].group == "e2e" and not name.startswith("io-") and got.exists():
            oc.extra["maps_rel_diff"] = compare_maps(ref_out, got)
    if not args.keep:
        shutil.rmtree(out_root, ignore_errors=True)
    return results


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------

HEADER = ["variant", "seconds", "Mpixel/s", "CPU s", "peak RSS added (MiB)",
          "RSS after warm-up (MiB)", "MB written", "time / gepgeo"]


def size_report(n: int, res: dict[str, Outcome]) -> tuple[list[list[str]], list[str]]:
    """Table rows and the lines below them (ratios against targets, checks, notes)."""
    px = n * n
    ref = res.get("gepgeo")
    ref_s = ref.seconds if ref and ref.ok else float("nan")
    rows = []
    for name, oc in res.items():
        label = VARIANTS[name].label
        if not oc.ok:
            rows.append([label, "—", "—", "—", "—", "—", "—", oc.note])
            continue
        rows.append([label, f"{oc.seconds:.3f}", f"{px / oc.seconds / 1e6:.1f}",
                     f"{oc.cpu_s:.2f}", f"{oc.rss_added / 2**20:.0f}", f"{oc.rss_base / 2**20:.0f}",
                     f"{oc.bytes_written / 1e6:.1f}" if VARIANTS[name].writes else "—",
                     f"{oc.seconds / ref_s:.2f}"])
    for label, rate in REFERENCE.items():
        s = px / rate / 1e6
        rows.append([f"(reference, not measured) {label}", f"{s:.1f}", f"{rate:g}", "—", "—",
                     "—", "—", f"{s / ref_s:.1f}"])

    def sec(name: str) -> float:
        oc = res.get(name)
        return oc.seconds if oc is not None and oc.ok else float("nan")

    def best_of(a: str, b: str) -> tuple[float, str]:
        sa, sb = sec(a), sec(b)
        if np.isnan(sb) or sa <= sb:
            return sa, a
        return sb, b

    def check(value: float, target: float, higher: bool) -> str:
        if not np.isfinite(value):
            return "n/a"
        return "ok" if (value >= target if higher else value <= target) else "MISSED"

    io_s, io_which = best_of("io-floor-1", "io-floor-2")
    rd_s, rd_which = best_of("read-floor-1", "read-floor-2")
    lines = [
        f"gepgeo time / I/O floor time ({io_which}, the faster): {ref_s / io_s:.2f} "
        f"(target ≤ 1.25: {check(ref_s / io_s, 1.25, False)})",
        f"gepgeo speed-up over naive NumPy (its time / gepgeo's): "
        f"{sec('numpy-whole') / ref_s:.2f}×",
        f"gepgeo speed-up over the windowed loop: {sec('windowed') / ref_s:.2f}×",
        f"gepgeo speed-up over xarray-dask: {sec('xarray-dask') / ref_s:.2f}× "
        f"(target ≥ 3: {check(sec('xarray-dask') / ref_s, 3, True)})",
        f"tables-only throughput / read floor ({rd_which}, the faster): {rd_s / sec('tables'):.2f} "
        f"(target ≥ 0.8: {check(rd_s / sec('tables'), 0.8, True)})",
        f"gepgeo Mpixel/s / InVEST Carbon 3.6: {px / ref_s / 1e6 / 3.6:.1f}× "
        f"(target ≥ 2.5: {check(px / ref_s / 1e6 / 3.6, 2.5, True)}; the I/O floor itself, "
        f"which computes nothing: {px / io_s / 1e6 / 3.6:.1f}×"
        + (", so no implementation writing these maps can reach 2.5× at this size)"
           if px / io_s / 1e6 / 3.6 < 2.5 else ")"),
    ]
    share = ref.extra.get("factor_share_read") if ref is not None and ref.ok else None
    if share is not None:
        lines.append(f"gepgeo read {100 * share:.0f} % of the factor-layer pixels: it skips the "
                     "tiles where the land use is all nodata (outside the outline); the floors "
                     "and baselines read every pixel")
    t = ref.extra.get("timings", {}) if ref is not None and ref.ok else {}
    if "prepare_graph_s" in t and "compute_write_s" in t:
        rest = ref_s - t["prepare_graph_s"] - t["compute_write_s"]
        lines.append(f"gepgeo's own timings (manifest, fastest run): graph "
                     f"{t['prepare_graph_s']:.3f} s, compute+write {t['compute_write_s']:.3f} s, "
                     f"rest of the run (prepare, tables, manifest with input hashes, rename) "
                     f"{rest:.3f} s")
    for name, what in (("gepgeo-draws", "with Sobol indices"),
                       ("gepgeo-draws-nosens", "intervals only")):
        if np.isfinite(sec(name)):
            u = res[name].extra.get("timings", {}).get("uncertainty_s")
            lines.append(f"10 000 draws ({what}) add {100 * (sec(name) / ref_s - 1):+.1f} % to the "
                         f"run (target ≤ 10 %: {check(sec(name) / ref_s, 1.10, False)})"
                         + (f"; the manifest's uncertainty_s: {u:.3f} s" if u is not None else ""))
    checks = []
    for name, oc in res.items():
        if "totals_rel_diff" in oc.extra or "maps_rel_diff" in oc.extra:
            parts = [f"{k.split('_')[0]} {oc.extra[k]:.1e}"
                     for k in ("totals_rel_diff", "maps_rel_diff") if k in oc.extra]
            checks.append(f"{name}: " + ", ".join(parts))
    busy = [f"{name} {oc.others_cores:.1f}" for name, oc in res.items()
            if oc.ok and oc.others_cores > 0.2]
    if busy:
        lines.append("WARNING: other processes were using CPU during the fastest run of "
                     "(mean cores busy): " + ", ".join(busy) + "; those timings are pessimistic")
    if checks:
        lines.append("largest relative difference from gepgeo (service totals by land type; "
                     "maps on 3 windows): " + "; ".join(checks))
    return rows, lines


def render_plain(rows: list[list[str]]) -> str:
    """An aligned plain-text table."""
    table = [HEADER] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(HEADER), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def render_markdown(rows: list[list[str]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def machine_info() -> dict[str, str]:
    """CPU, memory, library versions, date, git commit."""
    import dask
    import numba
    import rioxarray
    import xarray

    import gepgeo

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": str(os.cpu_count()),
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(), "gepgeo": gepgeo.__version__,
        "git": commit, "numpy": np.__version__, "numba": numba.__version__,
        "dask": dask.__version__, "xarray": xarray.__version__,
        "rioxarray": rioxarray.__version__, "rasterio": rasterio.__version__,
        "GDAL": rasterio.__gdal_version__,
    }


def markdown_document(info: dict[str, str], reports: list[tuple[int, list[list[str]], list[str]]],
                      args: argparse.Namespace) -> str:
    """The results file: machine, then one table per size."""
    parts = ["# gepgeo benchmark results", "",
             f"`python benchmarks/bench.py {' '.join(args.argv)}`".replace("  ", " "), "",
             "| | |", "|---|---|"]
    parts += [f"| {k} | {v} |" for k, v in info.items()]
    for n, rows, lines in reports:
        parts += ["", f"## {n} × {n} ({n * n / 1e6:g} Mpixel)", "", render_markdown(rows), ""]
        parts += [f"- {ln}" for ln in lines]
    parts += ["", "Variants are described in `benchmarks/README.md`. Times are the minimum over "
              "the repeats; RSS added is the largest over the repeats.", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                    help="grid sizes (pixels per side); default 1000 4000 10000")
    ap.add_argument("--huge", action="store_true", help=f"add {HUGE}² (1.6 Gpixel)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per variant, the minimum is reported (default 3, but 1 for the "
                         "baselines above 4000² and for everything above 10000²)")
    ap.add_argument("--data", type=Path, default=HERE / "_data",
                    help="folder caching the generated inputs (default benchmarks/_data)")
    ap.add_argument("--out", type=Path, default=HERE / "_out",
                    help="scratch folder for outputs (default benchmarks/_out; emptied after)")
    ap.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run only these variants")
    ap.add_argument("--keep", action="store_true", help="keep the output maps of the last runs")
    ap.add_argument("--markdown", type=Path, help="also write the tables and machine info here")
    # hidden: the measuring subprocess
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.argv = argv

    if args.variant:
        res = measure(args.variant, args.folder, args.warmup, args.out)
        print(RESULT_TAG + json.dumps(res), flush=True)
        return

    sizes = list(dict.fromkeys(args.sizes + ([HUGE] if args.huge else [])))
    args.data = args.data.resolve()
    args.out = args.out.resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    warmup = ensure_inputs(WARMUP_SIZE, args.data)
    reports = []
    for n in sizes:
        print(f"\n== {n} × {n} ==", flush=True)
        res = bench_size(n, args, warmup)
        rows, lines = size_report(n, res)
        reports.append((n, rows, lines))
        print(f"\n{n} × {n} ({n * n / 1e6:g} Mpixel)\n" + render_plain(rows))
        print("\n".join(f"  {ln}" for ln in lines), flush=True)
    if args.markdown:
        args.markdown.write_text(markdown_document(info, reports, args), encoding="utf-8")
        print(f"\nwrote {args.markdown}")


if __name__ == "__main__":
    main()
