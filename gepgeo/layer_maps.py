"""Maps of a run's factor layers: the inputs as the kernel sees them, written on request.

A pipeline's ``maps:`` may name, besides the measures of the services, any raster factor layer
of the run (its parameter key: ``rainfall_erosivity_r``, ``slope_length_steepness_ls``, ...,
read from a file, derived per pixel with ``derive:`` or computed from a DEM with
``from_dem:``) and the parts computed with a layer (:class:`gepgeo.layer.LayerPart`: the
``slope_deg`` and ``slope_length_m`` or ``contributing_area_m2`` of an LS from a DEM).

Such a map is the layer on the land-use grid as the kernel decodes it
(:func:`decode_layer`): ``raw · scale · f + offset · f`` in the parameter's canonical unit
(``f`` the unit factor), NaN where the layer is nodata or its value is outside the
parameter's domain, and NaN where the land use is nodata, like every map of a run. The block
task of the pass writes it from the very block the kernel read (:mod:`gepgeo.compute`): a
layer is read (or derived, or computed from its DEM) once, whatever maps are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .layer import Layer
from .resolve import Plan

__all__ = ["FactorMap", "factor_maps", "decode_layer", "factor_map_tags"]


@dataclass(frozen=True)
class FactorMap:
    """A map of one factor layer, or of a part computed with it, that a run can write.

    Attributes
    ----------
    name : str
        The map's name: the layer's parameter key, or the part's name.
    unit : str
        The unit of the values written (the parameter's canonical unit, or the part's).
    description : str
        What the map shows.
    layer : int
        Index of the layer among the plan's rasters (``Plan.rasters``), or -1 for a parameter
        given as a constant or a table by land type.
    part : dask.array.Array or None
        A part's pixels (written as they are), or None for the layer itself (decoded).
    origin : str
        How the layer was obtained: ``file``, ``from_dem <method>``, ``derive <method>``,
        ``constant`` or ``table`` (by land type).
    param : int
        For a constant or table: the parameter's row in the plan's table (``Plan.table``).
    """

    name: str
    unit: str
    description: str
    layer: int
    part: Any = None
    origin: str = "file"
    param: int = -1


def _origin(derived: Any) -> str:
    if not derived:
        return "file"
    for how in ("from_dem", "derive"):
        rec = derived.get(how)
        if rec:
            return f"{how} {rec.get('method', '')}".strip()
    return "file"


def factor_maps(pl: Plan) -> dict[str, FactorMap]:
    """The factor-layer maps a run with the plan ``pl`` can write, by name: each raster layer
    of the pass (keys in ``pl.rasters``' order), then the parts of those layers.

    Parameters
    ----------
    pl : Plan
        The resolved plan (:func:`gepgeo.resolve.plan`).

    Returns
    -------
    dict of str to FactorMap
    """
    from .parameters import spec_for

    out: dict[str, FactorMap] = {}
    parts: dict[str, FactorMap] = {}
    for i, pv in enumerate(pl.rasters):
        spec = spec_for(pv.key, where="layers")
        origin = _origin(getattr(pv, "derived", None))
        out[pv.key] = FactorMap(pv.key, spec.unit, spec.description, i, None, origin)
        value = pv.value
        for part in (value.parts if isinstance(value, Layer) else ()):
            parts.setdefault(part.name, FactorMap(part.name, part.unit, part.description, i,
                                                  part.data, origin))
    for name, fm in parts.items():
        out.setdefault(name, fm)
    # the factors given as a constant or a table by land type: their value on each pixel's
    # land type, as the kernel looks it up (prices aside: a price is not a factor layer)
    from .parameters import PARAM_INDEX

    for key, pv in pl.used.items():
        p = PARAM_INDEX.get(key)
        if key in out or p is None or pl.src[p] >= 0:
            continue
        spec = spec_for(key, where="layers")
        if spec.price:
            continue
        kind = pv.kind
        derived = _origin(getattr(pv, "derived", None))
        out[key] = FactorMap(key, spec.unit, spec.description, -1, None,
                             kind if derived == "file" else f"{derived} ({kind})", p)
    return out


def factor_map_tags(fm: FactorMap, layer_key: str) -> dict[str, str]:
    """The GeoTIFF tags of a factor-layer map (besides the version): what it is a map of."""
    return {"service": "input", "measure": fm.name, "layer": layer_key, "origin": fm.origin}


def decode_layer(raw: np.ndarray, scale: float, offset: float, low: float, high: float,
                 has_nodata: bool, nodata: float, out: np.ndarray) -> None:
    """Decode a layer's raw block into ``out`` as the kernel does (:func:`gepgeo.kernel._decode`).

    Parameters
    ----------
    raw : numpy.ndarray
        The block as stored (float32 or float64; further nodata values already NaN).
    scale, offset : float
        ``value = raw · scale + offset``, in the parameter's canonical unit (the unit factor
        included).
    low, high : float
        The parameter's domain (closed); a value outside it is NaN.
    has_nodata : bool
        Whether ``nodata`` is a nodata value of the layer.
    nodata : float
        The layer's nodata value as stored; NaN is always nodata.
    out : numpy.ndarray
        Receives the decoded values (any float type; NaN where not valid).
    """
    r = raw.astype(np.float64, copy=False)
    v = r * scale + offset
    bad = np.isnan(r) | ~((v >= low) & (v <= high))
    if has_nodata:
        bad |= r == nodata
    v[bad] = np.nan
    out[...] = v
