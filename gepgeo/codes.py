"""What a land-use raster holds: its codes with pixel counts, hectares and shares.

``gepgeo codes LANDUSE.tif`` streams the raster block by block (any size, constant memory) and
prints one row per code, then a ``codes:`` block to paste into a pipeline. Areas follow the
pipeline's planar convention (docs/METHOD.md, Area): one pixel area on a projected grid, the
true area of each row on a geographic grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from .area import grid_row_areas_ha
from .errors import RasterError
from .io import read_info
from .nodata import nodata_mask

__all__ = ["MAX_CODES", "CodeCount", "CodeTable", "codes_block", "count_codes", "matching_products",
           "products_line"]

#: More distinct values than this and the raster is not a classification (a DEM, NDVI ...)
MAX_CODES = 10_000


@dataclass(frozen=True)
class CodeCount:
    """One land-use code.

    Attributes
    ----------
    code : float
        The pixel value (integral for every usable code).
    pixels : int
    area_ha : float
        Σ pixel area, ha (planar on projected grids, per-row true area on geographic grids).
    share : float
        Share of the valid (non-nodata) area, 0–1.
    """

    code: float
    pixels: int
    area_ha: float
    share: float

    @property
    def integral(self) -> bool:
        """Whether the code is a whole number (a float raster's 3.0 is; 2.7 is not)."""
        return math.isfinite(self.code) and float(self.code).is_integer()


@dataclass(frozen=True)
class CodeTable:
    """The codes of one raster band, in ascending order, with the nodata that was left out."""

    path: Path
    band: int
    dtype: str
    nodata: tuple[float, ...]
    codes: tuple[CodeCount, ...]
    nodata_pixels: int

    @property
    def pixels(self) -> int:
        """Valid (counted) pixels."""
        return sum(c.pixels for c in self.codes)

    @property
    def area_ha(self) -> float:
        """Valid area, ha."""
        return math.fsum(c.area_ha for c in self.codes)


def count_codes(path: Path, *, band: int = 1, nodata: float | None = None) -> CodeTable:
    """Count the pixels and hectares of every code of a land-use raster, streaming.

    Parameters
    ----------
    path : Path
        The land-use raster.
    band : int
        Band number (1-based).
    nodata : float, optional
        A nodata value besides the file's own (both are left out).

    Returns
    -------
    CodeTable

    Raises
    ------
    InputFileError, RasterError
        The file cannot be read, or has no CRS (areas need one).
    """
    info = read_info(path, what="land use", band=band)
    if info.crs is None:
        raise RasterError(f"land use: {str(path)!r} has no CRS, so pixel areas are unknown; "
                          "set one (e.g. gdal_edit.py -a_srs EPSG:...)")
    nd = tuple(v for v in (info.nodata, nodata) if v is not None)
    # a run's planar per-row areas (no areal-scale warning: the table only lists areas)
    rows = grid_row_areas_ha(info.grid, mode="planar", check_scale=False)
    assert rows is not None     # planar mode always gives per-row areas
    pixels: dict[float, int] = {}
    areas: dict[float, list[float]] = {}
    n_nodata = 0
    with rasterio.open(path) as src:
        for _, window in src.block_windows(band):
            blk = src.read(band, window=window)
            bad = nodata_mask(blk, nd)   # the run's rule: compared as stored
            n_nodata += int(bad.sum())
            if bad.all():
                continue
            r0 = window.row_off
            weights = np.broadcast_to(rows[r0:r0 + blk.shape[0], None], blk.shape)
            vals, inv = np.unique(blk[~bad], return_inverse=True)
            cnt = np.bincount(inv, minlength=vals.size)
            area = np.bincount(inv, weights=weights[~bad], minlength=vals.size)
            for v, c, a in zip(vals.tolist(), cnt.tolist(), area.tolist()):
                key = float(v)
                pixels[key] = pixels.get(key, 0) + int(c)
                areas.setdefault(key, []).append(float(a))
            if len(pixels) > MAX_CODES:
                raise RasterError(f"land use: {str(path)!r} holds more than {MAX_CODES} distinct "
                                  "values; it does not look like a classified land-use raster")
    total = math.fsum(math.fsum(a) for a in areas.values())
    codes = tuple(
        CodeCount(code=k, pixels=pixels[k], area_ha=math.fsum(areas[k]),
                  share=(math.fsum(areas[k]) / total) if total > 0 else 0.0)
        for k in sorted(pixels))
    return CodeTable(path=path, band=band, dtype=info.dtype, nodata=nd, codes=codes,
                     nodata_pixels=n_nodata)


def _code_text(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else repr(code)


def codes_block(table: CodeTable, *, path_text: str | None = None) -> str:
    """The ``land_use:`` block of a pipeline for ``table``, to paste and then rename.

    Every code gets a placeholder land type ``code_<N>``; a comment on its line gives its
    pixels, hectares and share, so the analyst can name the classes and merge small ones.
    Non-integral codes (a float raster's 2.7) cannot be land-use codes and are listed in a
    comment instead.
    """
    lines = ["land_use:", f"  path: {path_text or table.path.as_posix()}"]
    if table.nodata:
        lines.append(f"  # nodata declared by the file"
                     f"{' and --nodata' if len(table.nodata) > 1 else ''}: "
                     + ", ".join(f"{v:g}" for v in table.nodata))
    matches = matching_products(table)
    if matches:
        from .products import load_preset

        best = load_preset(matches[0].product)
        here = {int(c.code) for c in table.codes}
        absent = [c.name for c in best.classes if c.code not in here]
        lines.append(f"  # {products_line(table)}; to take the codes and class names from "
                     f"it, replace codes: below with  product: {best.product}")
        if absent:
            lines.append(f"  # classes of {best.product} absent here (declare them under "
                         f"no_services: or give their parameters): {', '.join(absent)}")
    lines.append("  codes:")
    bad = []
    for c in table.codes:
        if not c.integral:
            bad.append(c)
            continue
        lines.append(f"    {_code_text(c.code)}: code_{_code_text(c.code)}"
                     f"    # {c.pixels} px, {c.area_ha:.2f} ha, {100 * c.share:.2f} %")
    if bad:
        lines.append("  # not land-use codes (not whole numbers): "
                     + ", ".join(f"{c.code:.7g} ({c.pixels} px)" for c in bad[:20])
                     + (" ..." if len(bad) > 20 else ""))
    return "\n".join(lines) + "\n"


def matching_products(table: CodeTable) -> list[Any]:
    """The land-cover product presets whose legend holds every code of ``table``, best first
    (:func:`gepgeo.products.match_products`); none when a code is not a whole number."""
    from .products import match_products

    return match_products([c.code for c in table.codes])


def products_line(table: CodeTable) -> str | None:
    """One line naming the products whose legend holds the raster's codes, or None."""
    matches = matching_products(table)
    if not matches:
        return None
    parts = []
    for m in matches:
        fill = (f", fill code {', '.join(map(str, m.nodata_found))} present"
                if m.nodata_found else "")
        parts.append(f"{m.product} ({m.found} of its {m.classes} classes{fill})")
    head = "codes match product" + ("s" if len(matches) > 1 else "")
    return f"{head}: " + "; ".join(parts)
