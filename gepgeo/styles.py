"""QGIS styles (``.qml``) for the density maps, and the decimated raster read they share with
the report.

Every ``maps/<name>.tif`` of a run folder gets a ``maps/<name>.qml`` beside it, which QGIS 3
loads automatically with the layer: a single-band pseudocolour renderer with a 5-stop colour ramp
between the map's minimum and maximum (viridis), or a diverging ramp symmetric about 0 (red for
losses, blue for gains) for the difference maps of a comparison (``*_change.tif``). The unit is
in every legend label.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import rasterio
from rasterio.enums import Resampling

from ._files import atomic_write_text
from .grid import Grid

__all__ = ["Overview", "read_overview", "write_qml", "style_maps", "SEQUENTIAL_RAMP",
           "DIVERGING_RAMP", "MAX_SIDE", "Previews", "overview_shape", "nearest_rows",
           "nearest_cols", "preview_key", "preview_of"]

#: Longest side, in pixels, of the decimated reads used for styles and report figures.
MAX_SIDE = 800

#: Decimated arrays of maps sampled while they were written (:class:`gepgeo.io.GeoTiffBlockWriter`
#: ``preview``), by :func:`preview_key` of the map's path: what :func:`read_overview` would read.
Previews = Mapping[Path, np.ndarray]

#: 5 stops of matplotlib's viridis (0, ¼, ½, ¾, 1): the report's colour map for values.
SEQUENTIAL_RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
#: 5 stops of ColorBrewer's RdBu: losses red, no change white, gains blue (the report's "RdBu").
DIVERGING_RAMP = ("#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac")


@dataclass
class Overview:
    """A decimated read of one band, with what is needed to draw or style it.

    Attributes
    ----------
    data : numpy.ndarray
        The decimated band; float rasters as float64 with nodata as NaN, integer rasters as read.
    bounds : tuple of float
        ``(left, bottom, right, top)`` in the raster's CRS.
    crs : rasterio.crs.CRS or None
    nodata : float or None
        The file's nodata value (already NaN in ``data`` for float rasters).
    unit : str
        The band's unit (``""`` if none).
    description : str
        The band's description (``""`` if none).
    shape : tuple of int
        The full-resolution ``(rows, cols)``.
    colormap : dict or None
        The band's colour table (code → RGBA), if the file has one.
    """

    data: np.ndarray
    bounds: tuple[float, float, float, float]
    crs: object
    nodata: float | None
    unit: str
    description: str
    shape: tuple[int, int]
    colormap: dict[int, tuple[int, int, int, int]] | None = field(default=None)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(left, right, bottom, top)``, as matplotlib's ``imshow`` wants it."""
        left, bottom, right, top = self.bounds
        return left, right, bottom, top


def _out_shape(height: int, width: int, max_side: int) -> tuple[int, int]:
    """Shape of a read whose longest side is at most ``max_side`` (never upsampled)."""
    scale = max(height, width) / max_side
    if scale <= 1:
        return height, width
    return max(1, int(round(height / scale))), max(1, int(round(width / scale)))


def overview_shape(height: int, width: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Shape of :func:`read_overview`'s array for a ``height`` × ``width`` raster."""
    return _out_shape(height, width, max_side)


#: GDAL's nudge before truncating a source coordinate (``GDALRasterBand::IRasterIO``).
_GDAL_EPS = 1.0e-10


def nearest_rows(n_src: int, n_out: int) -> np.ndarray:
    """Source rows GDAL's nearest-neighbour decimation reads for ``n_out`` rows of ``n_src``.

    GDAL's generic ``IRasterIO`` read (a raster without overviews): row ``i`` of the buffer is
    source row ``int((i + 0.5) * (n_src / n_out) + 1e-10)``, clamped to the raster, computed in
    double precision. Checked against GDAL 3.10 reads on thousands of sizes (see the tests).

    Parameters
    ----------
    n_src, n_out : int
        Rows of the raster and of the decimated read (``1 <= n_out``).

    Returns
    -------
    numpy.ndarray
        ``n_out`` increasing int64 row indices.
    """
    inc = n_src / n_out
    return np.array([int(min(max(0.0, (i + 0.5) * inc + _GDAL_EPS), n_src - 1))
                     for i in range(n_out)], dtype=np.int64)


def nearest_cols(n_src: int, n_out: int) -> np.ndarray:
    """Source columns GDAL's nearest-neighbour decimation reads for ``n_out`` of ``n_src``.

    Unlike rows, GDAL steps along a row by adding the increment ``n_src / n_out`` to a running
    double (from ``0.5 * inc + 1e-10``) and truncates each sum, so rounding accumulates; with an
    integer increment it steps in integers from ``int(0.5 * inc + 1e-10)``. Either way clamped
    to the raster. This reproduces both, bit for bit.

    Parameters
    ----------
    n_src, n_out : int
        Columns of the raster and of the decimated read (``1 <= n_out``).

    Returns
    -------
    numpy.ndarray
        ``n_out`` increasing int64 column indices.
    """
    inc = n_src / n_out
    start = 0.5 * inc + _GDAL_EPS
    if int(inc) == inc:
        cols = int(start) + int(inc) * np.arange(n_out, dtype=np.int64)
        return np.minimum(cols, n_src - 1)
    out = np.empty(n_out, dtype=np.int64)
    x = start
    for i in range(n_out):
        out[i] = int(min(max(0.0, x), n_src - 1))
        x += inc
    return out


def preview_key(path: Path | str) -> Path:
    """The key of a map's path in :data:`Previews` (absolute, not resolved)."""
    return Path(os.path.abspath(path))


def preview_of(previews: Previews | None, path: Path | str) -> np.ndarray | None:
    """The preview of the map at ``path`` in ``previews``, if there is one."""
    if not previews:
        return None
    return previews.get(preview_key(path))


def read_overview(path: Path, *, max_side: int = MAX_SIDE, band: int = 1,
                  preview: np.ndarray | None = None) -> Overview:
    """Read one band decimated so that its longest side is at most ``max_side`` pixels.

    Nearest-neighbour decimation; GDAL uses the file's internal overviews when there are any
    (Cloud-Optimized GeoTIFFs), so memory and time stay small for any raster size.

    With ``preview``, the decimated band sampled while the map was written (see
    :class:`gepgeo.io.GeoTiffBlockWriter`), no pixel is decoded: only the file's metadata is
    read, and the pixels are ``preview`` (used if it has the read's shape and the band's dtype,
    else the band is read).

    Parameters
    ----------
    path : Path
        A raster GDAL can read.
    max_side : int
        Longest side of the returned array.
    band : int
        Band index (1-based).
    preview : numpy.ndarray, optional
        The decimated band, already sampled (exactly the pixels GDAL would read).

    Returns
    -------
    Overview
    """
    with rasterio.open(path) as src:
        shape = _out_shape(src.height, src.width, max_side)
        if (preview is not None and preview.shape == shape
                and preview.dtype == np.dtype(src.dtypes[band - 1])):
            data = np.array(preview, copy=True)
        else:
            data = src.read(band, out_shape=shape, resampling=Resampling.nearest)
        nodata = src.nodatavals[band - 1]
        if data.dtype.kind == "f":
            data = data.astype(np.float64)
            if nodata is not None and not math.isnan(nodata):
                data[data == nodata] = np.nan
        try:
            cmap = src.colormap(band)
        except ValueError:
            cmap = None
        unit = (src.units[band - 1] if src.units else "") or src.tags(band).get("units", "")
        desc = src.descriptions[band - 1] or src.tags(band).get("long_name", "")
        # drawn north-up and west to east: rows that run south to north (or columns east to
        # west) are flipped, and the bounds taken with bottom <= top (rasterio's are not)
        t = src.transform
        if t.e > 0:
            data = data[::-1]
        if t.a < 0:
            data = data[:, ::-1]
        return Overview(data=data, bounds=Grid.of(src).bounds, crs=src.crs, nodata=nodata,
                        unit=unit or "", description=desc or "",
                        shape=(src.height, src.width), colormap=cmap)


def _label_number(x: float) -> str:
    """A short, exact-enough number for a legend label."""
    if x == 0:
        return "0"
    return f"{x:.6g}"


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (mode as any
    other output file: :func:`gepgeo._files.atomic_write_text`)."""
    atomic_write_text(path, text)


def _hex_to_rgba(colour: str) -> str:
    """``#rrggbb`` → ``r,g,b,255`` (QGIS colour-ramp option syntax)."""
    c = colour.lstrip("#")
    return ",".join(str(int(c[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def qml_text(*, vmin: float, vmax: float, unit: str, diverging: bool = False) -> str:
    """The text of a QGIS 3 single-band pseudocolour style (see :func:`write_qml`)."""
    ramp = DIVERGING_RAMP if diverging else SEQUENTIAL_RAMP
    values = [vmin + (vmax - vmin) * i / 4 for i in range(5)]
    suffix = f" {unit}" if unit else ""
    items = "\n".join(
        f'          <item alpha="255" value={quoteattr(repr(float(v)))} '
        f'label={quoteattr(_label_number(v) + suffix)} color="{c}"/>'
        for v, c in zip(values, ramp))
    stops = ":".join(f"{q};{_hex_to_rgba(c)}" for q, c in zip((0.25, 0.5, 0.75), ramp[1:4]))
    lo, hi = quoteattr(repr(float(vmin))), quoteattr(repr(float(vmax)))
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28" styleCategories="AllStyleCategories" hasScaleBasedVisibilityFlag="0" maxScale="0" minScale="1e+08">
  <pipe>
    <provider>
      <resampling enabled="false" maxOversampling="2" zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour"/>
    </provider>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" nodataColor="" classificationMin={lo} classificationMax={hi}>
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue={lo} maximumValue={hi} labelPrecision="4">
          <colorramp type="gradient" name="[source]">
            <Option type="Map">
              <Option type="QString" name="color1" value="{_hex_to_rgba(ramp[0])}"/>
              <Option type="QString" name="color2" value="{_hex_to_rgba(ramp[-1])}"/>
              <Option type="QString" name="discrete" value="0"/>
              <Option type="QString" name="rampType" value="gradient"/>
              <Option type="QString" name="stops" value="{stops}"/>
            </Option>
          </colorramp>
{items}
          <rampLegendSettings minimumLabel="" maximumLabel="" prefix="" suffix={quoteattr(suffix)} orientation="2" direction="0" useContinuousLegend="1"/>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeOn="0" colorizeRed="255" colorizeGreen="128" colorizeBlue="128" colorizeStrength="100" grayscaleMode="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def write_qml(map_path: Path, *, vmin: float, vmax: float, unit: str,
              diverging: bool = False) -> Path:
    """Write a QGIS style ``<stem>.qml`` next to ``map_path``.

    Parameters
    ----------
    map_path : Path
        The GeoTIFF the style is for; QGIS loads ``<stem>.qml`` with it automatically.
    vmin, vmax : float
        Ends of the colour ramp (the data's minimum and maximum). For a diverging ramp pass
        ``-m, m``; the middle stop is then 0.
    unit : str
        Shown after every legend value (e.g. ``yuan ha-1 a-1``).
    diverging : bool
        Red–white–blue ramp for differences instead of viridis.

    Returns
    -------
    Path
        The ``.qml`` written.

    Raises
    ------
    ValueError
        ``vmin`` or ``vmax`` is not finite, or ``vmin > vmax``.
    """
    if not (math.isfinite(vmin) and math.isfinite(vmax)) or vmin > vmax:
        raise ValueError(f"write_qml: need finite vmin <= vmax, got {vmin!r}, {vmax!r}")
    map_path = Path(map_path)
    out = map_path.with_suffix(".qml")
    _atomic_write(out, qml_text(vmin=vmin, vmax=vmax, unit=unit, diverging=diverging))
    return out


def _limits(data: np.ndarray, diverging: bool) -> tuple[float, float]:
    """Colour-ramp ends from a decimated read, ignoring NaN (symmetric about 0 if diverging).

    A constant or empty map gets a unit-wide ramp so that QGIS has distinct stops.
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if diverging:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    if lo == hi:
        return lo, lo + 1.0
    return lo, hi


def style_maps(run_dir: Path, *, max_side: int = MAX_SIDE,
               previews: Previews | None = None) -> list[Path]:
    """Write a ``.qml`` for every ``maps/*.tif`` of a run (or comparison) folder.

    Minimum and maximum come from a decimated read (``max_side`` pixels on the longest side),
    NaN ignored; maps named ``*_change`` (the differences of a comparison) get a diverging ramp
    symmetric about 0.

    Parameters
    ----------
    run_dir : Path
        A run folder (or a comparison's ``change`` folder).
    max_side : int
        Longest side of the decimated read.
    previews : mapping, optional
        Maps sampled while they were written (:data:`Previews`): these are not read again.

    Returns
    -------
    list of Path
        The styles written, in file-name order.
    """
    written = []
    for tif in sorted((Path(run_dir) / "maps").glob("*.tif")):
        ov = read_overview(tif, max_side=max_side, preview=preview_of(previews, tif))
        diverging = tif.stem.endswith("_change")
        data = ov.data.astype(np.float64)
        if ov.data.dtype.kind != "f" and ov.nodata is not None:
            data[ov.data == ov.nodata] = np.nan
        vmin, vmax = _limits(data, diverging)
        written.append(write_qml(tif, vmin=vmin, vmax=vmax, unit=ov.unit, diverging=diverging))
    return written
