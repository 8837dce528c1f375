"""Time R, K and C derived in the pass against the same layers given as rasters.

    python benchmarks/derive.py [--size 2000] [--chunk 512] [--data DIR]

Generates (once, cached in ``--data``) a land use, 12-band monthly precipitation (int16, 0.1 mm
scale tag), sand/silt/clay (int16 g kg⁻¹) and NDVI (int16, 0.0001 scale) on one grid, and the
R, K and C they give, as float32 rasters. Then times, with the threaded scheduler (2 threads):

    read      every block of the inputs read, nothing computed
    derived   the three derived layers computed block by block (no run)
    run-rasters  ``run_pipeline`` (soil only, GEP and soil value maps, no report) given R, K, C
    run-derived  the same run given the raw inputs and ``derive:``

Each timing is the minimum of ``--repeat`` runs in this process (imports excluded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dask
import numpy as np
import rasterio
import yaml
from affine import Affine

CRS = "EPSG:32648"


def _write(path: Path, arr: np.ndarray, t: Affine, **tags) -> None:
    count = 1 if arr.ndim == 2 else arr.shape[0]
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[-2], width=arr.shape[-1],
                       count=count, dtype=arr.dtype, crs=CRS, transform=t, tiled=True,
                       blockxsize=256, blockysize=256, compress="zstd",
                       nodata=tags.pop("nodata", None)) as dst:
        dst.write(arr if arr.ndim == 3 else arr[None])
        if "scale" in tags:
            dst.scales = (tags["scale"],) * count
        if "unit" in tags:
            dst.units = (tags["unit"],) * count


def generate(d: Path, n: int) -> None:
    from gepgeo.derive import cover, erodibility, erosivity

    if (d / "c.tif").exists():
        return
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = Affine(30, 0, 500000, 0, -30, 3000000)
    _write(d / "lu.tif", rng.integers(1, 4, (n, n)).astype(np.uint8), t, nodata=0)
    season = np.sin(np.linspace(0, np.pi, 12))[:, None, None]
    p = np.round(rng.gamma(2.0, 200.0, (12, n, n)) * (0.3 + season)).astype(np.int16)
    _write(d / "precip12.tif", p, t, nodata=-9999, scale=0.1, unit="mm")
    sand = rng.integers(100, 600, (n, n)).astype(np.int16)
    silt = rng.integers(100, 1000 - sand).astype(np.int16)
    clay = (1000 - sand - silt).astype(np.int16)
    for name, a in (("sand", sand), ("silt", silt), ("clay", clay)):
        _write(d / f"{name}.tif", a, t, unit="g kg-1")
    ndvi = rng.integers(-1000, 9000, (n, n)).astype(np.int16)
    _write(d / "ndvi.tif", ndvi, t, nodata=-3000, scale=0.0001)
    r = erosivity.fournier_monthly(p * 0.1).astype(np.float32)
    k = erodibility.epic(sand / 10, silt / 10, clay / 10, np.full((n, n), 1.5)).astype(np.float32)
    c = cover.cai2000(ndvi * 1e-4, 0.05, 0.85).astype(np.float32)
    _write(d / "r.tif", r, t, unit="MJ mm ha-1 h-1 a-1")
    _write(d / "k.tif", k, t, unit="t ha h ha-1 MJ-1 mm-1")
    _write(d / "c.tif", c, t, unit="1")


SOIL = {"slope_length_steepness_ls": 2.0, "support_practice_p": 1.0, "lambda_over_rho": 0.2,
        "dredging_cost": 10.0, "soil_n_content": 1.0, "soil_p_content": 0.5,
        "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
        "n_fertilizer_price": 1000.0, "p_fertilizer_price": 1000.0}
DERIVED = {
    "rainfall_erosivity_r": {"derive": {"method": "fournier_monthly", "path": "precip12.tif"}},
    "soil_erodibility_k": {"derive": {"method": "epic", "sand": "sand.tif", "silt": "silt.tif",
                                      "clay": "clay.tif", "organic_carbon": 1.5}},
    "cover_management_c": {"derive": {"method": "cai2000", "ndvi": "ndvi.tif",
                                      "ndvi_soil": 0.05, "ndvi_veg": 0.85}}}
RASTERS = {"rainfall_erosivity_r": {"path": "r.tif"}, "soil_erodibility_k": {"path": "k.tif"},
           "cover_management_c": {"path": "c.tif"}}


def pipeline(d: Path, params: dict, chunk: int, name: str) -> Path:
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "forest", 2: "cropland", 3: "grass"}},
           "services": ["soil"], "parameters": {**SOIL, **params},
           "options": {"chunk_size": chunk, "report": False, "workers": 2}}
    p = d / name
    p.write_text(yaml.safe_dump(doc))
    return p


def best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "gepgeo-derive")
    ns = ap.parse_args()
    d = ns.data / str(ns.size)
    generate(d, ns.size)
    from gepgeo.pipeline import load_pipeline
    from gepgeo.prepare import prepare
    from gepgeo.run import run_pipeline

    der = pipeline(d, DERIVED, ns.chunk, "derived.yaml")
    ras = pipeline(d, RASTERS, ns.chunk, "rasters.yaml")
    prep = prepare(load_pipeline(der))
    layers = [prep.plan.used[k].value.data.data for k in DERIVED]
    from gepgeo.io import open_aligned

    raw = []
    for name, bands in (("precip12", 12), ("sand", 1), ("silt", 1), ("clay", 1), ("ndvi", 1)):
        for b in range(1, bands + 1):
            raw.append(open_aligned(d / f"{name}.tif", prep.land_use_info, what=name, band=b,
                                    chunks=ns.chunk)[0].data)
    px = ns.size * ns.size / 1e6
    with dask.config.set(scheduler="threads", num_workers=2):
        t_read = best(lambda: dask.compute(*[a.sum() for a in raw]), ns.repeat)
        t_der = best(lambda: dask.compute(*[a.sum() for a in layers]), ns.repeat)
    out = Path(tempfile.mkdtemp())
    i = iter(range(10**6))
    pr, pd = load_pipeline(ras), load_pipeline(der)
    t_ras = best(lambda: run_pipeline(pr, out / f"r{next(i)}", report=False), ns.repeat)
    t_drv = best(lambda: run_pipeline(pd, out / f"d{next(i)}", report=False), ns.repeat)
    print(f"{ns.size}² ({px:.1f} Mpixel), blocks {ns.chunk}, 2 threads")
    print(f"read (16 input bands)     {t_read:6.2f} s  {px / t_read:6.1f} Mpixel/s")
    print(f"derived R, K, C           {t_der:6.2f} s  {px / t_der:6.1f} Mpixel/s")
    print(f"run given R, K, C rasters {t_ras:6.2f} s")
    print(f"run given derive:         {t_drv:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
