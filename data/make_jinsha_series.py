"""Generate the middle year of the three-year Jinsha sample series (landuse_middle.tif).

Synthetic, for ``pipelines/jinsha_series_*.yaml`` only: the restoration half done. Every pixel
whose class differs between ``landuse_before.tif`` and ``landuse_after.tif`` takes its after class
when it lies in the northern half of the changed pixels (rows above the median row of the changed
pixels), its before class otherwise. No random numbers: re-running gives the same file.

Usage::

    python data/make_jinsha_series.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent / "jinsha"


def middle(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The half-restored land use: changed pixels north of their median row take the after
    class."""
    changed = before != after
    rows = np.nonzero(changed)[0]
    cut = int(np.median(rows))
    out = before.copy()
    north = changed & (np.arange(before.shape[0])[:, None] < cut)
    out[north] = after[north]
    return out


def main() -> None:
    with rasterio.open(HERE / "landuse_before.tif") as src:
        before, profile = src.read(1), src.profile
        cmap = src.colormap(1)
        tags = src.tags()
    with rasterio.open(HERE / "landuse_after.tif") as src:
        after = src.read(1)
    mid = middle(before, after)
    tags["scenario"] = "middle"
    tags["SOURCE"] = ("synthetic sample for gepgeo: half-restored middle year of the Jinsha "
                      "series (data/make_jinsha_series.py)")
    with rasterio.open(HERE / "landuse_middle.tif", "w", **profile) as dst:
        dst.write(mid, 1)
        dst.write_colormap(1, cmap)
        dst.update_tags(**tags)


if __name__ == "__main__":
    main()
