"""Generate the synthetic Jinsha sample rasters in ``data/jinsha/``.

The paper (Xu et al.) publishes class areas only (Table 1), no maps. This script lays out a
plausible, purely synthetic site on a 10 m grid (0.01 ha per pixel) so that every class area
matches Table 1 exactly, and writes two constant factor layers (R, LS) on the same grid.

The layout is purely geometric (no random numbers): every class is chosen by ranking pixels
on a deterministic score and taking exactly the required number, with ties broken by pixel
index. Re-running the script gives byte-identical files.

Usage::

    python data/make_jinsha.py            # writes data/jinsha/*.tif
    python data/make_jinsha.py --out DIR  # writes somewhere else
"""

from __future__ import annotations

import argparse
from collections import deque
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.transform import Affine, from_origin

# --------------------------------------------------------------------------------------------
# Grid
# --------------------------------------------------------------------------------------------
SITE_LON, SITE_LAT = 106.37, 27.28
EPSG = 32648  # WGS 84 / UTM zone 48N
PIXEL = 10.0  # metres -> 0.01 ha per pixel
HEIGHT, WIDTH = 110, 100  # rows, cols

# --------------------------------------------------------------------------------------------
# Classes and target pixel counts (areas in ha from Xu et al., Table 1, divided by 0.01 ha)
# --------------------------------------------------------------------------------------------
NODATA_LU = 0
MINING, DRYLAND, FOREST, GRASSLAND, CONSTRUCTION = 1, 2, 3, 4, 5
CLASS_NAMES = {
    MINING: "mining",
    DRYLAND: "dryland",
    FOREST: "forest",
    GRASSLAND: "grassland",
    CONSTRUCTION: "construction",
}
COLORMAP = {
    NODATA_LU: (0, 0, 0, 0),
    MINING: (150, 125, 100, 255),  # grey-brown
    DRYLAND: (240, 215, 70, 255),  # yellow
    FOREST: (20, 100, 40, 255),  # dark green
    GRASSLAND: (150, 215, 110, 255),  # light green
    CONSTRUCTION: (215, 40, 40, 255),  # red
}
TARGET_BEFORE = {MINING: 7091, DRYLAND: 95, FOREST: 257, GRASSLAND: 111, CONSTRUCTION: 183}
TARGET_AFTER = {MINING: 0, DRYLAND: 4142, FOREST: 3407, GRASSLAND: 188, CONSTRUCTION: 0}
N_VALID = 7737
assert sum(TARGET_BEFORE.values()) == N_VALID == sum(TARGET_AFTER.values())

# Constant factor layers (site-wide constants in the paper)
NODATA_F = -9999.0
R_VALUE = 5823.42
LS_VALUE = 11.23

SOURCE = "synthetic sample for gepgeo; areas from Xu et al., Table 1"

# --------------------------------------------------------------------------------------------
# Layout geometry (row/col pixel coordinates; rows grow southwards)
# --------------------------------------------------------------------------------------------
ROW_C, COL_C = 57.5, 48.5  # footprint centre
SEMI_ROW, SEMI_COL = 51.0, 47.0  # footprint ellipse semi-axes before trimming
# before: seeds of the small patches around the edge of the pit
DRYLAND_SEED = (62.0, 3.0)  # west edge
FOREST_SEED = (2.0, 46.0)  # north edge (upslope, undisturbed)
GRASSLAND_SEED = (44.0, 97.0)  # east edge
ROAD = ((107.0, 62.0), (92.0, 86.0))  # haul road + yard entering from the south-east edge
# after: terraces follow the contours of a synthetic hillside falling to the south
TERRACE_PERIOD = 8.0  # elevation interval between terrace risers (~8 px = 80 m apart)
RISER_WIDTH = 1.6  # vegetated (forest) riser width, in pixels of distance
MIN_RISER_PIXELS = 20  # shorter riser fragments are left as dryland


def grid_transform() -> Affine:
    """Grid centred near the site, top-left corner snapped to a multiple of 10 m."""
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{EPSG}", always_xy=True)
    east, north = to_utm.transform(SITE_LON, SITE_LAT)
    x0 = round((east - WIDTH * PIXEL / 2) / PIXEL) * PIXEL
    y0 = round((north + HEIGHT * PIXEL / 2) / PIXEL) * PIXEL
    return from_origin(float(x0), float(y0), PIXEL, PIXEL)


def take_lowest(score: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the ``n`` candidate pixels with the lowest score (ties: pixel index)."""
    flat_idx = np.flatnonzero(candidates.ravel())
    if n > flat_idx.size:
        raise ValueError(f"need {n} pixels, only {flat_idx.size} candidates")
    order = np.lexsort((flat_idx, score.ravel()[flat_idx]))
    out = np.zeros(score.size, dtype=bool)
    out[flat_idx[order[:n]]] = True
    return out.reshape(score.shape)


def dist_to_point(rr: np.ndarray, cc: np.ndarray, p: tuple[float, float]) -> np.ndarray:
    return np.hypot(rr - p[0], cc - p[1])


def dist_to_segment(
    rr: np.ndarray, cc: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    ar, ac = a
    br, bc = b
    vr, vc = br - ar, bc - ac
    t = ((rr - ar) * vr + (cc - ac) * vc) / (vr * vr + vc * vc)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(rr - (ar + t * vr), cc - (ac + t * vc))


def build_layout() -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    everything = np.ones((HEIGHT, WIDTH), dtype=bool)

    # ---- footprint: a lobed, star-shaped outline (no holes), exactly N_VALID pixels ----------
    dr, dc = (rr - ROW_C) / SEMI_ROW, (cc - COL_C) / SEMI_COL
    theta = np.arctan2(dr, dc)
    wobble = 1.0 + 0.056 * np.sin(3 * theta + 0.6) + 0.036 * np.cos(5 * theta + 1.9)
    wobble += 0.02 * np.sin(8 * theta + 0.3)
    footprint = take_lowest(np.hypot(dr, dc) / wobble, everything, N_VALID)

    # ---- before: remaining classes grown from seeds at the edge, pit = the rest -------------
    before = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    free = footprint.copy()
    patches = [
        (CONSTRUCTION, dist_to_segment(rr, cc, *ROAD)),
        (FOREST, dist_to_point(rr, cc, FOREST_SEED)),
        (GRASSLAND, dist_to_point(rr, cc, GRASSLAND_SEED)),
        (DRYLAND, dist_to_point(rr, cc, DRYLAND_SEED)),
    ]
    for code, score in patches:
        sel = take_lowest(score, free, TARGET_BEFORE[code])
        before[sel] = code
        free &= ~sel
    before[free] = MINING

    # ---- after ------------------------------------------------------------------------------
    after = np.zeros_like(before)
    # existing forest, grassland and dryland patches keep their class
    for code in (FOREST, GRASSLAND, DRYLAND):
        after[before == code] = code
    free = footprint & (after == 0)
    # grassland grows outwards from its patch
    n_grow = TARGET_AFTER[GRASSLAND] - TARGET_BEFORE[GRASSLAND]
    grow = take_lowest(dist_to_point(rr, cc, GRASSLAND_SEED), free, n_grow)
    after[grow] = GRASSLAND
    free &= ~grow

    # Synthetic elevation (pixel units): hillside falling to the south with a shallow hollow
    # down the middle, so contours are gentle arcs. Terraces are benches between contours.
    z = (HEIGHT - rr) + 0.006 * (cc - COL_C) ** 2 + 4.0 * np.sin(cc / 17.0)
    dz_dc = 0.012 * (cc - COL_C) + (4.0 / 17.0) * np.cos(cc / 17.0)
    grad = np.hypot(1.0, dz_dc)  # |grad z|; dz/drow is -1 everywhere
    # riser contours every TERRACE_PERIOD elevation units (~pixels, |grad z| is close to 1);
    # dividing by |grad z| turns the elevation offset into a distance across the contour
    riser = (np.mod(z, TERRACE_PERIOD) / grad) < RISER_WIDTH
    riser &= free
    # drop riser slivers cut off by the outline or the grassland patch (they become dryland)
    for cells in component_cells(riser):
        if len(cells) < MIN_RISER_PIXELS:
            riser[tuple(np.array(cells).T)] = False

    n_forest_new = TARGET_AFTER[FOREST] - TARGET_BEFORE[FOREST]
    if riser.sum() >= n_forest_new:
        raise RuntimeError("terrace risers alone exceed the forest target")
    # forest = all vegetated risers + the highest (steep upper pit wall) part of the rest
    upper = take_lowest(-z, free & ~riser, n_forest_new - int(riser.sum()))
    forest_new = riser | upper
    # risers that run inside the upper forest are simply forest; risers below it separate the
    # dryland benches.
    after[forest_new] = FOREST
    free &= ~forest_new
    after[free] = DRYLAND
    return before, after


def counts(arr: np.ndarray) -> dict[int, int]:
    return {code: int((arr == code).sum()) for code in CLASS_NAMES}


def component_cells(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """Pixels of each 4-connected component of ``mask``, in scan order (deterministic)."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    h, w = mask.shape
    for r0, c0 in zip(*np.nonzero(mask)):
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        q = deque([(int(r0), int(c0))])
        cells = []
        while q:
            r, c = q.popleft()
            cells.append((r, c))
            for rn, cn in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rn < h and 0 <= cn < w and mask[rn, cn] and not seen[rn, cn]:
                    seen[rn, cn] = True
                    q.append((rn, cn))
        out.append(cells)
    return out


def components(mask: np.ndarray) -> list[int]:
    """Sizes of 4-connected components of ``mask`` (largest first)."""
    return sorted((len(c) for c in component_cells(mask)), reverse=True)


def profile(dtype: str, nodata: float, transform: Affine) -> dict:
    prof = {
        "driver": "GTiff",
        "width": WIDTH,
        "height": HEIGHT,
        "count": 1,
        "dtype": dtype,
        "crs": CRS.from_epsg(EPSG),
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    if WIDTH >= 64 and HEIGHT >= 64:
        prof.update(tiled=True, blockxsize=64, blockysize=64)
    return prof


def write_landuse(path: Path, arr: np.ndarray, scenario: str, transform: Affine) -> None:
    with rasterio.open(path, "w", **profile("uint8", NODATA_LU, transform)) as dst:
        dst.write(arr, 1)
        dst.set_band_description(1, f"land use, {scenario} reclamation")
        dst.units = ("class",)
        dst.write_colormap(1, COLORMAP)
        dst.update_tags(source=SOURCE, scenario=scenario, pixel_area_ha="0.01")
        dst.update_tags(1, **{f"class_{code}": name for code, name in CLASS_NAMES.items()})


def write_constant(
    path: Path, value: float, description: str, unit: str, transform: Affine
) -> None:
    arr = np.full((HEIGHT, WIDTH), value, dtype=np.float32)
    with rasterio.open(path, "w", **profile("float32", NODATA_F, transform)) as dst:
        dst.write(arr, 1)
        dst.set_band_description(1, description)
        dst.units = (unit,)
        dst.update_tags(source=SOURCE, constant="true")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "jinsha")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    before, after = build_layout()
    got_before, got_after = counts(before), counts(after)
    assert got_before == TARGET_BEFORE, got_before
    assert got_after == TARGET_AFTER, got_after
    assert ((before != NODATA_LU) == (after != NODATA_LU)).all(), "footprints differ"
    assert int((before != NODATA_LU).sum()) == N_VALID

    transform = grid_transform()
    write_landuse(out / "landuse_before.tif", before, "before", transform)
    write_landuse(out / "landuse_after.tif", after, "after", transform)
    write_constant(
        out / "rainfall_erosivity_r.tif",
        R_VALUE,
        "rainfall erosivity factor R (constant)",
        "MJ mm ha-1 h-1 a-1",
        transform,
    )
    write_constant(
        out / "slope_length_steepness_ls.tif",
        LS_VALUE,
        "slope length and steepness factor LS (constant)",
        "1",
        transform,
    )
    for name in ("before", "after"):
        arr = before if name == "before" else after
        print(f"{name}: " + ", ".join(f"{CLASS_NAMES[k]}={v}" for k, v in counts(arr).items()))
    print(f"wrote 4 rasters to {out}")


if __name__ == "__main__":
    main()
