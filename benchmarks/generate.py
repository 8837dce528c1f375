"""Generate realistic benchmark inputs at any size, block by block (constant memory).

Smooth factor fields (sums of long-wave sinusoids plus small noise), a patchy land-use map with
six classes (thresholds of two smooth fields), and a nodata margin outside an ellipse, written as
tiled (512²) compressed GeoTIFFs in EPSG:32648 with 30 m pixels, plus a pipeline file that uses
every layer as a raster.

    python benchmarks/generate.py 4000 /tmp/bench4k          # 4000 x 4000 pixels
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import rasterio
import yaml
from affine import Affine
from rasterio.windows import Window

LAYERS = {  # name -> (unit, low, high, nodata)
    "rainfall_erosivity_r": ("MJ mm ha-1 h-1 a-1", 2000.0, 8000.0, -9999.0),
    "soil_erodibility_k": ("t ha h ha-1 MJ-1 mm-1", 0.01, 0.06, -9999.0),
    "slope_length_steepness_ls": ("1", 0.0, 25.0, -9999.0),
    "precipitation": ("mm a-1", 800.0, 1600.0, -9999.0),
    "evapotranspiration": ("mm a-1", 400.0, 900.0, -9999.0),
}
CLASSES = {1: "forest", 2: "shrub", 3: "grassland", 4: "cropland", 5: "water_body",
           6: "built_up"}
BLOCK = 512
PIXEL = 30.0
ORIGIN = (500000.0, 3100000.0)


def _field(rows: np.ndarray, cols: np.ndarray, seed: int, n: int) -> np.ndarray:
    """Smooth field in [0, 1] at the given pixel coordinates."""
    rng = np.random.default_rng(seed)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = np.zeros(rr.shape, dtype=np.float64)
    for _ in range(4):
        kx, ky = rng.uniform(0.5, 4.0, 2) * 2 * np.pi / max(n, 1)
        phase = rng.uniform(0, 2 * np.pi)
        out += np.sin(kx * cc + ky * rr + phase)
    out = (out / 4.0 + 1.0) / 2.0
    return out


def _field_fast(rows: np.ndarray, cols: np.ndarray, seed: int, n: int) -> np.ndarray:
    """A cheaper smooth field in [0, 1] for huge grids: a sum of 1-D waves in x and in y."""
    rng = np.random.default_rng(seed)
    kx, ky = rng.uniform(0.5, 4.0, 2) * 2 * np.pi / max(n, 1)
    px, py = rng.uniform(0, 2 * np.pi, 2)
    fx = np.sin(kx * cols + px) + 0.5 * np.sin(3.1 * kx * cols + py)
    fy = np.sin(ky * rows + py) + 0.5 * np.sin(2.3 * ky * rows + px)
    return ((fy[:, None] + fx[None, :]) / 3.0 + 1.0) / 2.0


def _profile(n: int, dtype: str, nodata: float) -> dict:
    return {"driver": "GTiff", "height": n, "width": n, "count": 1, "dtype": dtype,
            "crs": "EPSG:32648", "transform": Affine(PIXEL, 0, ORIGIN[0], 0, -PIXEL, ORIGIN[1]),
            "nodata": nodata, "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
            "compress": "zstd", "zstd_level": 1, "predictor": 2 if dtype == "uint8" else 3,
            "bigtiff": "if_safer"}


def _write_files(n: int, out: Path, names: list[str], fast: bool) -> None:
    """Write the files ``names`` block by block (each file is written by one process)."""
    field = _field_fast if fast else _field
    noise_tile = np.random.default_rng(0).normal(0, 1, (BLOCK, BLOCK))
    noise = np.random.default_rng(0)
    dsts = {}
    for name in names:
        dtype, nd = ("uint8", 0) if name == "land_use" else ("float32", LAYERS[name][3])
        dsts[name] = rasterio.open(out / f"{name}.tif", "w", **_profile(n, dtype, nd))
        if name != "land_use":
            dsts[name].units = (LAYERS[name][0],)
    layer_index = {name: i for i, name in enumerate(LAYERS)}
    for r0 in range(0, n, BLOCK):
        for c0 in range(0, n, BLOCK):
            h, w = min(BLOCK, n - r0), min(BLOCK, n - c0)
            rows = np.arange(r0, r0 + h, dtype=np.float64)
            cols = np.arange(c0, c0 + w, dtype=np.float64)
            win = Window(c0, r0, w, h)
            rr = rows[:, None]
            cc = cols[None, :]
            inside = ((rr - n / 2) / (0.48 * n)) ** 2 + ((cc - n / 2) / (0.47 * n)) ** 2 <= 1.0
            for name, dst in dsts.items():
                if name == "land_use":
                    a = field(rows, cols, 1, n)
                    b = field(rows, cols, 2, n)
                    lu = np.select([a > 0.62, a > 0.52, b > 0.6, b > 0.3, a < 0.2],
                                   [1, 2, 3, 4, 5], default=6).astype(np.uint8)
                    lu[~inside] = 0
                    dst.write(lu, 1, window=win)
                    continue
                unit, lo, hi, nd = LAYERS[name]
                f = field(rows, cols, 10 + layer_index[name], n)
                eps = noise_tile[:h, :w] if fast else noise.normal(0, 1, f.shape)
                v = np.clip(lo + (hi - lo) * f + 0.01 * (hi - lo) * eps, lo, hi).astype(np.float32)
                v[~inside & (cc < n * 0.03)] = nd  # a sliver of layer nodata at the margin
                dst.write(v, 1, window=win)
    for d in dsts.values():
        d.close()


def generate(n: int, out: Path, *, fast: bool | None = None, processes: int = 1) -> Path:
    """Write the inputs and ``pipeline.yaml`` for an n × n grid into ``out``; return the pipeline.

    ``fast`` (default: for n > 12 000) uses separable fields and a repeated noise tile;
    ``processes`` > 1 writes the files in parallel (each file by one process).
    """
    out.mkdir(parents=True, exist_ok=True)
    fast = n > 12000 if fast is None else fast
    names = ["land_use", *LAYERS]
    groups = [names[i::processes] for i in range(max(processes, 1))]
    if processes > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(processes) as pool:
            pool.starmap(_write_files, [(n, out, g, fast) for g in groups if g])
    else:
        _write_files(n, out, names, fast)
    return _write_pipeline(n, out)


def _write_pipeline(n: int, out: Path) -> Path:
    pipeline = {
        "name": f"bench-{n}",
        "land_use": {"path": "land_use.tif", "codes": CLASSES},
        "no_services": ["built_up"],
        "profile": {"name": "ouyang-garze-2010"},
        "parameters": {
            **{k: {"path": f"{k}.tif"} for k in LAYERS},
            "cover_management_c": {"by_land_type": {"forest": 0.006, "shrub": 0.02,
                                                    "grassland": 0.04, "cropland": 0.23,
                                                    "water_body": 0.0}},
            "support_practice_p": {"by_land_type": {"forest": 1, "shrub": 1, "grassland": 1,
                                                    "cropland": 0.4, "water_body": 0.0}},
            "runoff_coefficient": {"by_land_type": {"forest": 0.0267, "shrub": 0.0426,
                                                    "grassland": 0.082, "cropland": 0.35,
                                                    "water_body": 0.0}},
            "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
            "so2_uptake_rate": {"by_land_type": {"forest": 0.088, "shrub": 0.05,
                                                 "grassland": 0.03, "cropland": 0.045,
                                                 "water_body": 0.0}},
            "nox_uptake_rate": {"by_land_type": {"forest": 0.006, "shrub": 0.004,
                                                 "grassland": 0.003, "cropland": 0.0033,
                                                 "water_body": 0.0}},
            "dust_uptake_rate": {"by_land_type": {"forest": 30.0, "shrub": 10.0,
                                                  "grassland": 3.0, "cropland": 0.95,
                                                  "water_body": 0.0}},
            "carbon_sequestration_rate": {"by_land_type": {"forest": 1.2, "shrub": 0.6,
                                                           "grassland": 0.2, "cropland": 0.05,
                                                           "water_body": 0.0}},
            "forest_soil_carbon_beta": {"by_land_type": {"forest": 0.5, "shrub": 0.0,
                                                         "grassland": 0.0, "cropland": 0.0,
                                                         "water_body": 0.0}},
            "heat_absorption": 81100.0, "ac_days": 63.0,
            "landscape_equivalent_factor": {"by_land_type": {"forest": 0.82, "shrub": 0.6,
                                                             "grassland": 0.56, "cropland": 0.06,
                                                             "water_body": 1.9}},
            "grain_output_value_per_ha": 10000.0,
            "agri_output_value_per_ha": {"by_land_type": {"forest": 0, "shrub": 0,
                                                          "grassland": 0, "cropland": 9000,
                                                          "water_body": 0}},
        },
    }
    # the HTML report is a fixed cost (~1-2 s of matplotlib), not per-pixel work: the
    # benchmark times the pass, maps and tables, and leaves the report out
    pipeline["options"] = {"report": False}
    path = out / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("size", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--processes", type=int, default=1)
    args = ap.parse_args(argv)
    print(generate(args.size, args.out, processes=args.processes))


if __name__ == "__main__":
    main(sys.argv[1:])
