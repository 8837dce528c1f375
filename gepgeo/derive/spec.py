"""The ``derive:`` form of a pipeline parameter: which methods exist, what each takes, and the
pydantic model that checks a pipeline's ``{derive: {method: ..., ...}}``.

::

    rainfall_erosivity_r: {derive: {method: fournier_monthly, path: precip_monthly.tif}}
    rainfall_erosivity_r: {derive: {method: fournier_monthly, paths: [p01.tif, ..., p12.tif]}}
    rainfall_erosivity_r: {derive: {method: renard_freimund_annual, path: precip_annual.tif}}
    soil_erodibility_k: {derive: {method: epic, sand: sand.tif, silt: {path: silt.tif},
                                  clay: 20, organic_carbon: {by_land_type: {forest: 2.1, ...}}}}
    cover_management_c: {derive: {method: cai2000, ndvi: ndvi.tif, ndvi_soil: 0.05,
                                  ndvi_veg: 0.85}}

An input is a raster path, ``{path:, band:, unit:, scale:, offset:, nodata:, resampling:}``, a
number (in the input's canonical unit), ``{value:, unit:}`` or ``{by_land_type: {...}, unit:}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import cover, erodibility, erosivity, totals

__all__ = ["METHODS", "DERIVABLE", "Method", "Input", "Derive", "DeriveParam", "INPUT_UNITS"]

R_KEY, K_KEY, C_KEY = "rainfall_erosivity_r", "soil_erodibility_k", "cover_management_c"

#: per kind of input: accepted units (normalised spelling, lower case) → factor to the
#: canonical unit (the first); a raster without a unit tag is read in the canonical unit
INPUT_UNITS: dict[str, dict[str, float]] = {
    "precipitation_monthly": {"mm": 1.0, "mm month-1": 1.0, "kg m-2": 1.0, "cm": 10.0,
                              "m": 1000.0, "0.1 mm": 0.1},
    "precipitation_annual": {"mm a-1": 1.0, "mm": 1.0, "kg m-2 a-1": 1.0, "kg m-2": 1.0,
                             "cm a-1": 10.0, "cm": 10.0, "m a-1": 1000.0, "m": 1000.0,
                             "0.1 mm a-1": 0.1, "0.1 mm": 0.1},
    "percent": {"%": 1.0, "percent": 1.0, "g kg-1": 0.1, "1": 100.0, "fraction": 100.0},
    "ndvi": {"1": 1.0, "-": 1.0, "dimensionless": 1.0},
    # the depth of one period (a month, 8 days) of an annual series
    "depth_period": {"mm": 1.0, "kg m-2": 1.0, "cm": 10.0, "m": 1000.0, "0.1 mm": 0.1},
}

#: per kind of input: its domain in the canonical unit (a pixel outside it makes the derived
#: pixel out of domain)
INPUT_DOMAINS: dict[str, tuple[float, float]] = {
    "precipitation_monthly": (0.0, math.inf),
    "precipitation_annual": (0.0, math.inf),
    "percent": (0.0, 100.0),
    "ndvi": (-1.0, 1.0),
    "depth_period": (0.0, math.inf),
}


@dataclass(frozen=True)
class Method:
    """A derivation method.

    Attributes
    ----------
    name : str
    key : str
        The parameter it derives (the first of ``keys``).
    inputs : tuple of (str, str)
        Its inputs and their kinds (:data:`INPUT_UNITS`); with ``bands``, the first is given
        inline (``path:``/``paths:``), the others under their own names.
    bands : int
        Bands or files of the inline input: 12 (months), 1, or -1 (any number, ≥ 1); 0 when
        it has none.
    params : tuple of (str, float or None)
        Its scalar parameters and their defaults (None: required).
    unit : str
        Unit of the derived layer (the parameter's canonical unit).
    equation, source : str
        For the manifest and the docs.
    """

    name: str
    key: str
    inputs: tuple[tuple[str, str], ...]
    bands: int
    params: tuple[tuple[str, float | None], ...]
    unit: str
    equation: str
    source: str
    #: further parameters it may derive
    also: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.also)

    @property
    def inline(self) -> str | None:
        """The name of the input given inline (``path:``/``paths:``), if any."""
        return self.inputs[0][0] if self.bands else None

    def compute(self, values: Mapping[str, np.ndarray], params: Mapping[str, float]
                ) -> np.ndarray:
        """The derived values from decoded inputs (canonical units), float64."""
        fn: Callable[..., np.ndarray] = _FUNCTIONS[self.name]
        if self.bands:
            return fn(values[self.inputs[0][0]])
        return fn(*(values[n] for n, _ in self.inputs), **params)


_R_UNIT, _K_UNIT = "MJ mm ha-1 h-1 a-1", "t ha h ha-1 MJ-1 mm-1"
_TEXTURE = (("sand", "percent"), ("silt", "percent"), ("clay", "percent"),
            ("organic_carbon", "percent"))

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("fournier_monthly", R_KEY, (("precipitation", "precipitation_monthly"),), 12, (),
           _R_UNIT,
           "R = 17.02 * sum_i 1.735 * 10^(1.5 log10(p_i^2 / P) - 0.8188), P = sum_i p_i (mm)",
           "FAO (1979) after Arnoldus (1977), FAO Soils Bulletin 34; x 17.02 US to SI "
           "(Renard et al. 1997, AH 703); offset and units not verified against the FAO text "
           "(docs/METHOD.md 9.1)"),
    Method("renard_freimund_annual", R_KEY, (("precipitation", "precipitation_annual"),), 1, (),
           _R_UNIT,
           "R = 0.0483 P^1.610 (P <= 850 mm); 587.8 - 1.219 P + 0.004105 P^2 (P > 850 mm)",
           "Renard & Freimund (1994), J. Hydrol. 157, 287-306"),
    Method("epic", K_KEY, _TEXTURE, 0, (), _K_UNIT,
           "K = 0.1317 * K_EPIC(sand, silt, clay, organic carbon; %)",
           "Sharpley & Williams (1990), USDA Tech. Bull. 1768; Williams (1995)"),
    Method("epic_zhang2007", K_KEY, _TEXTURE, 0, (), _K_UNIT,
           "K = 0.1317 * (-0.01383 + 0.51575 K_EPIC)",
           "Zhang Keli, Peng Wenying, Yang Hongli (2007), Acta Pedologica Sinica 44(1), 7-13"),
    Method("cai2000", C_KEY, (("ndvi", "ndvi"),), 0, (("ndvi_soil", None), ("ndvi_veg", None)),
           "1",
           "f = 100 clip((NDVI - NDVI_soil)/(NDVI_veg - NDVI_soil), 0, 1); C = 1 (f = 0), "
           "min(1, 0.6508 - 0.3436 log10 f) (0 < f < 78.3), 0 (f >= 78.3)",
           "Cai Chongfa et al. (2000), Journal of Soil and Water Conservation 14(2), 19-24"),
    Method("van_der_knijff2000", C_KEY, (("ndvi", "ndvi"),), 0,
           (("alpha", cover.KNIJFF_ALPHA), ("beta", cover.KNIJFF_BETA)), "1",
           "C = clip(exp(-alpha NDVI / (beta - NDVI)), 0, 1)",
           "van der Knijff, Jones & Montanarella (2000), EUR 19044 EN"),
    Method("annual_sum", "precipitation", (("periods", "depth_period"),), -1, (), "mm a-1",
           "annual total = sum of the depths of the periods (bands or files) of one year",
           "the definition of an annual total", also=("evapotranspiration", "runoff")),
)}

_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "fournier_monthly": erosivity.fournier_monthly,
    "renard_freimund_annual": erosivity.renard_freimund_annual,
    "epic": erodibility.epic,
    "epic_zhang2007": erodibility.epic_zhang2007,
    "cai2000": cover.cai2000,
    "van_der_knijff2000": cover.van_der_knijff2000,
    "annual_sum": totals.annual_sum,
}

#: parameter key → the methods that derive it
DERIVABLE: dict[str, tuple[str, ...]] = {}
for _m in METHODS.values():
    for _k in _m.keys:
        DERIVABLE[_k] = DERIVABLE.get(_k, ()) + (_m.name,)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Resampling = Literal["nearest", "bilinear", "cubic", "average"]


class Input(_Strict):
    """One input of a derived layer: a raster band, a constant or a table by land type."""

    path: Path | None = None
    band: int = Field(1, ge=1)
    value: float | None = None
    by_land_type: dict[str, float] | None = None
    unit: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    resampling: Resampling = "bilinear"

    @model_validator(mode="after")
    def _one_form(self) -> Input:
        forms = [k for k in ("path", "value", "by_land_type") if getattr(self, k) is not None]
        if len(forms) != 1:
            raise ValueError("give exactly one of 'path', 'value' or 'by_land_type' "
                             f"(got {', '.join(forms) or 'none'})")
        if self.path is None:
            extra = [k for k in ("band", "nodata", "scale", "offset", "resampling")
                     if k in self.model_fields_set]
            if extra:
                raise ValueError(f"{extra[0]}: only a raster input ('path') takes it")
        for k in ("value", "scale", "offset"):
            v = getattr(self, k)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{k}: expected a finite number, got {v!r}")
        for lt, v in (self.by_land_type or {}).items():
            if not math.isfinite(v):
                raise ValueError(f"by_land_type.{lt}: expected a finite number, got {v!r}")
        return self

    @property
    def kind(self) -> str:
        """``raster``, ``constant`` or ``table``."""
        return ("raster" if self.path is not None
                else "constant" if self.value is not None else "table")

    @classmethod
    def parse(cls, raw: Any) -> Input:
        """A path (string), a number or a mapping as an :class:`Input`."""
        if isinstance(raw, bool):
            raise ValueError(f"expected a raster path, a number, {{path: ...}}, {{value: ...}} or "
                             f"{{by_land_type: ...}}, got {raw!r}")
        if isinstance(raw, (int, float)):
            return cls(value=float(raw))
        if isinstance(raw, (str, Path)):
            return cls(path=Path(raw))
        return cls.model_validate(raw)


class Derive(_Strict):
    """A pipeline's ``derive:`` mapping (see the module's docstring)."""

    method: str
    # the precipitation input of the R methods, given inline
    path: Path | None = None
    paths: list[Path] | None = None
    band: int | None = Field(None, ge=1)
    bands: list[int] | None = None
    unit: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    resampling: Resampling = "bilinear"
    # the K and C inputs
    sand: Any = None
    silt: Any = None
    clay: Any = None
    organic_carbon: Any = None
    ndvi: Any = None
    # scalar parameters
    ndvi_soil: float | None = None
    ndvi_veg: float | None = None
    alpha: float | None = None
    beta: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Derive:
        m = METHODS.get(self.method)
        if m is None:
            raise ValueError(f"method: {self.method!r} is not a derivation method; use one of "
                             f"{', '.join(METHODS)}")
        inline = ("path", "paths", "band", "bands", "unit", "nodata", "scale", "offset",
                  "resampling")
        named = {n for n, _ in m.inputs if n != m.inline}
        params = {n for n, _ in m.params}
        for k in self.model_fields_set - {"method"}:
            if k in inline and m.bands:
                continue
            if k in named or k in params:
                continue
            takes = (["path", "paths"] if m.bands else []) + sorted(named) + sorted(params)
            raise ValueError(f"{k}: not an input or parameter of method {m.name} (it takes "
                             f"{', '.join(takes)})")
        if m.bands:
            self._check_precipitation(m)
        for n in sorted(named):
            raw = getattr(self, n)
            if raw is None:
                raise ValueError(f"{n}: required by method {m.name} (a raster path, a number "
                                 "or {by_land_type: ...})")
            try:
                Input.parse(raw)
            except ValidationError as exc:
                err = exc.errors(include_input=False, include_url=False)[0]
                loc = ".".join(str(x) for x in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = f"unknown key {str(err['loc'][-1])!r}; remove it or check its spelling"
                    loc = ".".join(str(x) for x in err["loc"][:-1])
                raise ValueError(f"{n}{'.' + loc if loc else ''}: {msg}") from None
        for n, default in m.params:
            v = getattr(self, n)
            if v is None and default is None:
                raise ValueError(f"{n}: required by method {m.name}")
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{n}: expected a finite number, got {v!r}")
        if m.name == "cai2000":
            lo, hi = self.ndvi_soil, self.ndvi_veg
            assert lo is not None and hi is not None
            if not (-1.0 <= lo < hi <= 1.0):
                raise ValueError(f"ndvi_soil, ndvi_veg: expected -1 <= ndvi_soil < ndvi_veg <= 1 "
                                 f"(NDVI of bare soil and of full cover), got {lo} and {hi}")
        if m.name == "van_der_knijff2000":
            for n in ("alpha", "beta"):
                v = self.param_values()[n]
                if not v > 0:
                    raise ValueError(f"{n}: expected a positive number, got {v!r}")
        return self

    def _check_precipitation(self, m: Method) -> None:
        if (self.path is None) == (self.paths is None):
            what = ("one raster of 12 bands (path:) or 12 files (paths:)" if m.bands == 12 else
                    "one raster (path:)" if m.bands == 1 else
                    "one raster of a band per period (path:, bands:) or a file per period "
                    "(paths:)")
            raise ValueError(f"give {'path' if m.bands == 1 else 'path or paths'}: method "
                             f"{m.name} takes {what}"
                             + (" (got both)" if self.path is not None else ""))
        if m.bands == -1:
            if self.band is not None:
                raise ValueError(f"band: method {m.name} sums bands; name them with bands: "
                                 "[...] (default: every band of the file)")
            n = len(self.paths if self.paths is not None else self.bands or [1])
            if n < 1 or (self.bands is not None and any(b < 1 for b in self.bands)):
                raise ValueError(f"{'paths' if self.paths is not None else 'bands'}: expected "
                                 "at least one (band numbers 1 or more)")
            if self.paths is not None and self.bands is not None:
                raise ValueError("bands: give the band of the files with paths: as band 1 of "
                                 "each (bands: is for one file of several bands)")
            return
        if m.bands == 1:
            if self.paths is not None or self.bands is not None:
                raise ValueError(f"{'paths' if self.paths is not None else 'bands'}: method "
                                 f"{m.name} takes one band of annual precipitation (path:, "
                                 "band:)")
            return
        if self.band is not None:
            raise ValueError(f"band: method {m.name} takes 12 months; name them with bands: "
                             "[...] (default 1 to 12)")
        if self.paths is not None:
            if len(self.paths) != 12:
                raise ValueError(f"paths: method {m.name} takes 12 monthly files, got "
                                 f"{len(self.paths)}")
            if self.bands is not None:
                raise ValueError("bands: give the band of the monthly files with paths: as "
                                 "band 1 of each (bands: is for one file of 12 bands)")
        if self.bands is not None:
            if len(self.bands) != 12 or any(b < 1 for b in self.bands):
                raise ValueError(f"bands: expected 12 band numbers (1 or more), got "
                                 f"{len(self.bands)}")
        for k in ("scale", "offset"):
            v = getattr(self, k)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{k}: expected a finite number, got {v!r}")

    @property
    def spec(self) -> Method:
        return METHODS[self.method]

    def param_values(self) -> dict[str, float]:
        """The scalar parameters, defaults filled in."""
        out = {}
        for n, default in self.spec.params:
            v = getattr(self, n)
            out[n] = float(default if v is None else v)  # type: ignore[arg-type]
        return out

    def inputs(self, n_bands: int | None = None) -> dict[str, list[Input]]:
        """Every input as :class:`Input` s: the inline one as its bands (or files) in order,
        the others one each. ``n_bands``: the bands of the inline input's file when no
        ``bands:`` names them (12 when not known)."""
        m = self.spec
        out: dict[str, list[Input]] = {}
        if m.inline is not None:
            common = {k: getattr(self, k) for k in ("unit", "nodata", "scale", "offset",
                                                    "resampling")
                      if getattr(self, k) is not None}
            if self.paths is not None:
                out[m.inline] = [Input(path=p, **common) for p in self.paths]
            elif m.bands == 12 or m.bands == -1:
                bands = self.bands or list(range(1, (n_bands or 12) + 1))
                out[m.inline] = [Input(path=self.path, band=b, **common) for b in bands]
            else:
                out[m.inline] = [Input(path=self.path, band=self.band or 1, **common)]
        for n, _ in m.inputs:
            if n != m.inline:
                out[n] = [Input.parse(getattr(self, n))]
        return out

    def input_paths(self) -> list[Path]:
        """The files the derivation reads (as written, relative to the pipeline)."""
        seen: list[Path] = []
        for ins in self.inputs().values():
            for i in ins:
                if i.path is not None and i.path not in seen:
                    seen.append(i.path)
        return seen


class DeriveParam(_Strict):
    """A parameter (R, K or C) derived per pixel from other inputs inside the pass."""

    derive: Derive
