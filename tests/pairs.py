"""A generated before/after scenario pair on a grid of any shape (for ``gepgeo compare`` tests).

Smooth fields give a patchy land use of six classes (as in ``benchmarks/generate.py``) with a
nodata margin outside an ellipse; the *after* scenario turns a diagonal band of cropland and
grassland into forest and some forest into built-up land. Every spatial factor is a raster on the
land-use grid (EPSG:32648, 30 m pixels, 0.09 ha), tiled 256² so that no block of a run lines up
with the files' tiles by accident.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine

from .helpers import write_tif, write_yaml

PIXEL = 30.0
TRANSFORM = Affine(PIXEL, 0, 500000.0, 0, -PIXEL, 3100000.0)
CLASSES = {1: "forest", 2: "shrub", 3: "grassland", 4: "cropland", 5: "water_body", 6: "built_up"}
LAYERS = {  # name -> (unit, low, high)
    "rainfall_erosivity_r": ("MJ mm ha-1 h-1 a-1", 2000.0, 8000.0),
    "soil_erodibility_k": ("t ha h ha-1 MJ-1 mm-1", 0.01, 0.06),
    "slope_length_steepness_ls": ("1", 0.0, 25.0),
    "precipitation": ("mm a-1", 800.0, 1600.0),
    "evapotranspiration": ("mm a-1", 400.0, 900.0),
}


def _field(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    n = max(shape)
    out = np.zeros(shape)
    for _ in range(4):
        kx, ky = rng.uniform(0.5, 4.0, 2) * 2 * np.pi / n
        out += np.sin(kx * cc + ky * rr + rng.uniform(0, 2 * np.pi))
    return (out / 4.0 + 1.0) / 2.0


def _write(path: Path, data: np.ndarray, nodata: float, unit: str | None = None) -> None:
    write_tif(path, data, TRANSFORM, nodata=nodata, unit=unit, block=256, compress="deflate")


def land_use(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) land-use codes, 0 = nodata."""
    h, w = shape
    a, b = _field(shape, 1), _field(shape, 2)
    lu = np.select([a > 0.62, a > 0.52, b > 0.6, b > 0.3, a < 0.2], [1, 2, 3, 4, 5],
                   default=6).astype(np.uint8)
    rr, cc = np.mgrid[0:h, 0:w]
    lu[((rr - h / 2) / (0.48 * h)) ** 2 + ((cc - w / 2) / (0.47 * w)) ** 2 > 1.0] = 0
    after = lu.copy()
    band = np.abs(rr / h - cc / w) < 0.15
    after[band & ((lu == 3) | (lu == 4))] = 1
    after[(rr > 0.7 * h) & (lu == 1)] = 6
    return lu, after


def _parameters() -> dict:
    lt = ("forest", "shrub", "grassland", "cropland", "water_body")

    def table(*values: float) -> dict:
        return {"by_land_type": dict(zip(lt, values))}

    return {
        **{k: {"path": f"{k}.tif"} for k in LAYERS},
        "cover_management_c": table(0.006, 0.02, 0.04, 0.23, 0.0),
        "support_practice_p": table(1, 1, 1, 0.4, 0.0),
        "runoff_coefficient": table(0.0267, 0.0426, 0.082, 0.35, 0.0),
        "n_to_fertilizer_factor": 1.0, "p_to_fertilizer_factor": 1.0,
        "so2_uptake_rate": table(0.088, 0.05, 0.03, 0.045, 0.0),
        "nox_uptake_rate": table(0.006, 0.004, 0.003, 0.0033, 0.0),
        "dust_uptake_rate": table(30.0, 10.0, 3.0, 0.95, 0.0),
        "carbon_sequestration_rate": table(1.2, 0.6, 0.2, 0.05, 0.0),
        "forest_soil_carbon_beta": table(0.5, 0.0, 0.0, 0.0, 0.0),
        "heat_absorption": 81100.0, "ac_days": 63.0,
        "landscape_equivalent_factor": table(0.82, 0.6, 0.56, 0.06, 1.9),
        "grain_output_value_per_ha": 10000.0,
        "agri_output_value_per_ha": table(0, 0, 0, 9000, 0),
    }


def make_pair(folder: Path, shape: tuple[int, int], *, options: dict | None = None
              ) -> tuple[Path, Path]:
    """Write the inputs and ``before.yaml`` / ``after.yaml`` for a ``shape`` (rows, cols) grid
    into ``folder``; return the two pipeline paths."""
    folder.mkdir(parents=True, exist_ok=True)
    before, after = land_use(shape)
    _write(folder / "lu_before.tif", before, 0)
    _write(folder / "lu_after.tif", after, 0)
    for i, (name, (unit, lo, hi)) in enumerate(LAYERS.items()):
        v = (lo + (hi - lo) * _field(shape, 10 + i)).astype(np.float32)
        _write(folder / f"{name}.tif", v, -9999.0, unit)
    paths = []
    for scenario in ("before", "after"):
        doc = {"name": f"pair-{scenario}",
               "land_use": {"path": f"lu_{scenario}.tif", "codes": CLASSES},
               "no_services": ["built_up"], "profile": {"name": "ouyang-garze-2010"},
               "parameters": _parameters(), "options": dict(options or {})}
        paths.append(write_yaml(folder / f"{scenario}.yaml", doc, sort_keys=False))
    return paths[0], paths[1]
