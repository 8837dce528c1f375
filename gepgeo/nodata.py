"""Nodata rules (docs/METHOD.md, 2.6 Nodata), in one place.

* Which values are nodata: NaN always; the file's own nodata value; a pipeline's ``nodata:``
  adds a second value rather than replacing the file's (:func:`nodata_pair`,
  :func:`nodata_list`). A factor layer carries them as :attr:`gepgeo.layer.Layer.nodata`;
  the land use, and a DataArray given through the Python API, as its ``_FillValue`` and
  ``nodata_extra`` attributes (:func:`nodata_values` reads them).
* How pixels are compared with them: as the raster stores them (:func:`nodata_mask`,
  :func:`as_stored`), so a float32 raster's -3.4028235e38 matches its declared value and a
  non-integral value is never nodata on an integer raster (``int(2.5)`` would make code 2
  nodata).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["nodata_pair", "nodata_list", "nodata_values", "nodata_mask", "as_stored",
           "distinct_nodata", "declared_nodata"]


def nodata_pair(file_nodata: float | None,
                pipeline_nodata: float | None) -> tuple[float | None, tuple[float, ...]]:
    """The nodata values of a raster: the file's own and the pipeline's ``nodata:``, which adds
    to it (a value the file declares nodata is never turned into data).

    Returns
    -------
    first : float or None
        The file's nodata, else the pipeline's: the one value a resampled layer carries
        through GDAL's warper.
    extra : tuple of float
        The pipeline's when the file declares another one.
    """
    if file_nodata is None:
        return pipeline_nodata, ()
    if pipeline_nodata is None or pipeline_nodata == file_nodata:
        return file_nodata, ()
    return file_nodata, (pipeline_nodata,)


def nodata_list(file_nodata: float | None, pipeline_nodata: float | None) -> list[float]:
    """Every nodata value of a raster besides NaN, the file's first (:func:`nodata_pair` as
    one list; empty when neither the file nor the pipeline declares one)."""
    first, extra = nodata_pair(file_nodata, pipeline_nodata)
    return ([first] if first is not None else []) + list(extra)


def _fill_value(arr: Any) -> float | None:
    """A DataArray's declared nodata: ``_FillValue`` (attribute, then encoding), else
    ``rio.nodata``."""
    nd = arr.attrs.get("_FillValue", None)
    if nd is None:
        nd = arr.encoding.get("_FillValue", None)
    if nd is None:
        try:
            nd = arr.rio.nodata
        except Exception:  # noqa: BLE001  # pragma: no cover - no rio accessor
            nd = None
    return None if nd is None else float(nd)


def nodata_values(arr: Any) -> tuple[float, ...]:
    """Every value a raster (an ``xarray.DataArray``) declares nodata besides NaN (always
    nodata): its ``_FillValue`` / ``rio.nodata`` and the values of its ``nodata_extra``
    attribute (a pipeline's ``nodata:`` given for a file that declares another one: both are
    nodata), without repeats."""
    return distinct_nodata(_fill_value(arr), *arr.attrs.get("nodata_extra", ()))


def distinct_nodata(*values: float | None) -> tuple[float, ...]:
    """The values given, as floats, without None, NaN (always nodata anyway) and repeats, in
    order."""
    out: list[float] = []
    for v in values:
        if v is None:
            continue
        v = float(v)
        if not np.isnan(v) and v not in out:
            out.append(v)
    return tuple(out)


def declared_nodata(arr: Any) -> float | None:
    """The nodata value a DataArray declares itself (``_FillValue`` attribute or encoding,
    else ``rio.nodata``), or None."""
    return _fill_value(arr)


def as_stored(value: float, dtype: Any) -> float:
    """``value`` as a pixel of ``dtype`` holds it: a float32 raster's nodata written as
    -3.4028235e38 (ArcGIS's) is float32's lowest value, -3.4028234663852886e38, once stored."""
    if np.dtype(dtype) == np.float32:
        with np.errstate(over="ignore"):
            return float(np.float32(value))
    return float(value)


def nodata_mask(block: np.ndarray, nodata: Iterable[float]) -> np.ndarray:
    """Which pixels of ``block`` are nodata, comparing values as the raster stores them.

    Parameters
    ----------
    block : numpy.ndarray
        Raw pixel values (any shape), in the raster's data type.
    nodata : iterable of float
        The declared nodata values (:func:`nodata_list`); NaN among them changes nothing.

    Returns
    -------
    numpy.ndarray of bool
        ``block``'s shape. On a float raster: NaN, and pixels equal to a value converted to
        the raster's type (±3.4028235e38 on float32 included; a value beyond the type's range
        becomes ±inf and matches those pixels). On an integer raster: pixels equal to the
        whole-number values (compared in int64); a non-integral value matches nothing.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if block.dtype.kind == "f":
            isnd = np.isnan(block)
            for v in nodata:
                isnd |= block == block.dtype.type(v)
            return isnd
        isnd = np.zeros(block.shape, dtype=bool)
        for v in nodata:
            if float(v).is_integer() and abs(v) < 2.0**63:
                isnd |= block.astype(np.int64) == int(v)
        return isnd
