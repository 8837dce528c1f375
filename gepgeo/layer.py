"""A factor layer: its lazy pixels and everything needed to decode them, in one typed object.

A pipeline's raster parameter is opened and aligned to the land-use grid once
(:mod:`gepgeo.prepare`); the result is a :class:`Layer` carrying the pixels with the unit,
scale, offset and nodata values that decode them, where it was read from, and, when the
pixels are a file's raw windows on the land-use grid, the block source the kernel's block task
may read itself. :func:`gepgeo.compute.build_dataset` reads these fields, nothing else.

Through the Python API a layer may also be a plain ``xarray.DataArray``: :meth:`Layer.of`
reads the CF-style attributes it documents (``units``, ``scale_factor``, ``add_offset``,
``_FillValue`` or ``rio.nodata``, ``nodata_extra``) once, at that edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import xarray as xr

from .errors import ConfigError
from .nodata import nodata_values

__all__ = ["Layer", "LayerPart"]


@dataclass(frozen=True)
class LayerPart:
    """A by-product of computing a layer, on the same grid and blocks, that a run can write as
    a map when asked (``maps:``), e.g. the slope of an LS computed from a DEM.

    Attributes
    ----------
    name : str
        The map's name (``slope_deg``).
    data : dask.array.Array
        The pixels (lazy, float32, NaN nodata), in the layer's blocks: computed only when
        the map is written, from the same tasks as the layer.
    unit, description : str
        The map's unit and description.
    """

    name: str
    data: Any
    unit: str
    description: str


@dataclass(frozen=True)
class Layer:
    """One factor layer on the land-use grid.

    Attributes
    ----------
    data : xarray.DataArray
        The pixels as stored (lazy), (y, x) on the land-use grid.
    unit : str
        Unit of the decoded values ('' when neither the pipeline nor the file says).
    scale, offset : float
        Decoding ``raw · scale + offset`` (before the unit conversion), from the pipeline or
        the file's tags.
    nodata : tuple of float
        Values that are nodata besides NaN, the file's first.
    path : str or None
        The file it was read from.
    source : object or None
        The block source (:class:`gepgeo.io.BlockSource`) whose raw windows ``data`` holds,
        unchanged, on the land-use grid: a block task may read it straight into its buffer.
    parts : tuple of LayerPart
        Further maps computed with the layer (the slope of an LS from a DEM), written only
        when a run asks for them.
    joint : dask.array.Array or None
        The same pixels as ``data``, from the tasks that compute the parts: a run writing a
        part reads the layer from these instead (one computation of each block for both).
    """

    data: xr.DataArray
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    nodata: tuple[float, ...] = ()
    path: str | None = None
    source: Any = None
    parts: tuple[LayerPart, ...] = ()
    joint: Any = None

    @classmethod
    def of(cls, value: Any, *, key: str = "layer") -> Layer:
        """``value`` as a Layer: a Layer as it is, a DataArray through its attributes.

        Raises
        ------
        ConfigError
            ``value`` is neither (``key`` names the parameter).
        """
        if isinstance(value, Layer):
            return value
        if not isinstance(value, xr.DataArray):
            raise ConfigError(f"parameter {key!r}: expected a DataArray layer")
        from .io import block_source
        return cls(data=value, unit=str(value.attrs.get("units", "") or ""),
                   scale=float(value.attrs.get("scale_factor", 1.0)),
                   offset=float(value.attrs.get("add_offset", 0.0)),
                   nodata=nodata_values(value), source=block_source(value.data))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> Any:
        return self.data.dtype
