"""Uncertainty of the accounts: intervals on every value and on GEP, and what drives them.

A constant or a table by land type may carry a range (``uncertainty:``, :func:`parse_uncertainty`).
The run's single pass already accumulates, per zone and land type, the land area and, for the
linear services (soil, water; :mod:`gepgeo.kernel`), Σ driver × area. Every total of a service
is then one of

* ``density[land type] × area`` for a service computed from constants and tables only
  (the densities come from the services' formulas, :func:`gepgeo.kernel.class_densities`);
* ``Σ driver × area × coef[land type]`` for a linear service (the coefficients from the
  formulas too, :func:`gepgeo.kernel.linear_coefficients`);
* a per-pixel sum otherwise (a service evaluated in full per pixel).

A draw of the parameters therefore gives the draw's totals exactly by table arithmetic
(:class:`TableModel`): the densities and coefficients are re-evaluated with the drawn table, for
every draw at once, and multiplied by the sums of the pass. A parameter that enters a per-pixel
sum non-linearly (a term of the water balance with raster terms, C or P beside a raster C or P,
any parameter of a service evaluated in full per pixel) cannot be drawn this way: it is left
fixed and the outputs say why (:meth:`TableModel.fixed`). docs/METHOD.md § 10 states the model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UncertaintyError, brief
from .parameters import PARAM_INDEX, spec_for

__all__ = ["RangeSpec", "parse_range", "parse_uncertainty", "Dim", "TableModel", "sample",
           "quantile_row", "QUANTILES", "DISTS", "METHODS", "sobol_table", "change_table",
           "Settings", "dims_of", "check_plan"]

#: distributions a range may have
DISTS = ("uniform", "triangular", "normal", "lognormal")
#: sampling methods
METHODS = ("sobol", "lhs", "random")
#: the quantiles of every output table (fractions) and their column names
QUANTILES = ((0.025, "p2.5"), (0.05, "p5"), (0.5, "median"), (0.95, "p95"), (0.975, "p97.5"))
_FIELDS = {"dist", "low", "high", "mode", "sd", "source", "relative", "group"}
#: which fields each distribution takes (besides source, relative, group) and which it needs
_TAKES = {"uniform": ({"low", "high"}, {"low", "high"}),
          "triangular": ({"low", "high", "mode"}, {"low", "high"}),
          "normal": ({"sd", "low", "high"}, {"sd"}),
          "lognormal": ({"sd"}, {"sd"})}


@dataclass(frozen=True)
class RangeSpec:
    """One parameter's distribution, as given.

    Bounds and the mode are in the unit the value is given in (or multipliers of the value
    with ``relative``). ``uniform``: ``low``–``high``. ``triangular``: ``low``, ``high`` and
    ``mode`` (default: the value itself). ``normal``: mean the value, standard deviation
    ``sd``, truncated at ``low``/``high`` when given and always at the parameter's domain.
    ``lognormal``: median the value, ``sd`` the standard deviation of its natural logarithm
    (dimensionless), truncated at the domain. ``group``: parameters with the same group are
    drawn from one uniform number (rank correlation 1, e.g. prices from one source).
    """

    dist: str
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    sd: float | None = None
    source: str = ""
    relative: bool = False
    group: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("dist", self.dist), ("low", self.low), ("high", self.high),
                                  ("mode", self.mode), ("sd", self.sd),
                                  ("relative", self.relative or None),
                                  ("group", self.group or None), ("source", self.source))
                if v is not None}


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise UncertaintyError(f"{where}: expected a finite number, got {brief(raw)}")
    return float(raw)


def parse_range(raw: Any, where: str) -> RangeSpec:
    """Check one ``{dist:, low:, high:, mode:, sd:, source:, relative:, group:}`` mapping.

    Raises
    ------
    UncertaintyError
        Unknown field or distribution, a field the distribution does not take, a missing
        bound or source, ``low > high``, a mode outside ``[low, high]``, a negative ``sd``.
    """
    if not isinstance(raw, Mapping):
        raise UncertaintyError(f"{where}: expected a mapping {{dist:, low:, high:, source:}}, "
                               f"got {brief(raw)}")
    extra = set(raw) - _FIELDS
    if extra:
        raise UncertaintyError(f"{where}: unknown field(s) {', '.join(sorted(map(str, extra)))} "
                               f"(allowed: {', '.join(sorted(_FIELDS))})")
    dist = raw.get("dist")
    if dist not in DISTS:
        raise UncertaintyError(f"{where}.dist: expected one of {', '.join(DISTS)}, got "
                               f"{brief(dist)}")
    takes, needs = _TAKES[dist]
    given = {k for k in ("low", "high", "mode", "sd") if raw.get(k) is not None}
    if given - takes:
        raise UncertaintyError(f"{where}: a {dist} range takes {', '.join(sorted(takes))}, not "
                               f"{', '.join(sorted(given - takes))}")
    if needs - given:
        raise UncertaintyError(f"{where}: a {dist} range needs {', '.join(sorted(needs - given))}")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise UncertaintyError(f"{where}.source: say where the range comes from (a reference); "
                               "gepgeo has no default ranges")
    rel = raw.get("relative", False)
    if not isinstance(rel, bool):
        raise UncertaintyError(f"{where}.relative: expected true or false, got {brief(rel)}")
    group = raw.get("group", "")
    if not isinstance(group, str):
        raise UncertaintyError(f"{where}.group: expected a name, got {brief(group)}")
    num = {k: _number(raw[k], f"{where}.{k}") for k in given}
    lo, hi, mode, sd = (num.get(k) for k in ("low", "high", "mode", "sd"))
    if lo is not None and hi is not None and lo > hi:
        raise UncertaintyError(f"{where}: low {lo:g} is above high {hi:g}")
    if mode is not None and lo is not None and hi is not None and not lo <= mode <= hi:
        raise UncertaintyError(f"{where}: mode {mode:g} is outside [{lo:g}, {hi:g}]")
    if sd is not None and sd < 0:
        raise UncertaintyError(f"{where}.sd: must be 0 or more, got {sd:g}")
    if rel and lo is not None and lo < 0:
        raise UncertaintyError(f"{where}: a relative range is of multipliers of the value; "
                               f"low {lo:g} is negative")
    return RangeSpec(dist, lo, hi, mode, sd, source.strip(), rel, group)


def parse_uncertainty(raw: Any, where: str, kind: str) -> RangeSpec | dict[str, RangeSpec]:
    """The ``uncertainty:`` of a constant (``kind='constant'``) or a table (``'table'``).

    A constant takes one range. A table takes one range with ``relative: true`` (one
    multiplier, drawn once, for every land type's value), or ``{by_land_type: {forest: {...},
    ...}}``: a range per land type, each drawn independently (unless grouped).

    Raises
    ------
    UncertaintyError
    """
    if isinstance(raw, Mapping) and "by_land_type" in raw:
        if kind == "constant":
            raise UncertaintyError(f"{where}: ranges by land type need the value as a table "
                                   "(by_land_type)")
        if set(raw) != {"by_land_type"} or not isinstance(raw["by_land_type"], Mapping) \
                or not raw["by_land_type"]:
            raise UncertaintyError(f"{where}: expected {{by_land_type: {{LAND_TYPE: {{dist:, "
                                   "...}}}}}} and nothing else")
        return {str(lt): parse_range(r, f"{where}.by_land_type.{lt}")
                for lt, r in raw["by_land_type"].items()}
    rs = parse_range(raw, where)
    if kind == "table" and not rs.relative:
        raise UncertaintyError(f"{where}: one range for a table is a multiplier of every land "
                               "type's value: add `relative: true` (bounds as multipliers, e.g. "
                               "0.8 and 1.2), or give ranges under by_land_type")
    return rs


# --------------------------------------------------------------------------------------------
# dimensions: what is drawn


@dataclass(frozen=True)
class Dim:
    """One drawn quantity: a constant, one land type's table value, or a table's multiplier.

    ``point`` is the value in the given unit (1 for a multiplier), ``factor`` converts the
    given unit to the canonical one; ``name`` is the column of the uniform sample it reads
    (its group, else ``key`` or ``key[land_type]``).
    """

    key: str
    land_type: str
    spec: RangeSpec
    point: float
    factor: float
    multiplier: bool       # a relative range: the draw multiplies the value(s)
    bounds: tuple[float, float]   # truncation, in the draw's own scale
    unit: str = ""

    @property
    def name(self) -> str:
        return self.spec.group or (f"{self.key}[{self.land_type}]" if self.land_type else self.key)

    @property
    def label(self) -> str:
        return f"{self.key}[{self.land_type}]" if self.land_type else self.key

    def draw(self, u: np.ndarray) -> np.ndarray:
        """The draw's values for uniform numbers ``u`` in [0, 1): multipliers for a relative
        range, else the value in the given unit."""
        s = self.spec
        centre = 1.0 if self.multiplier else self.point
        if s.dist == "uniform":
            assert s.low is not None and s.high is not None
            return s.low + u * (s.high - s.low)
        if s.dist == "triangular":
            assert s.low is not None and s.high is not None
            lo, hi = s.low, s.high
            mode = centre if s.mode is None else s.mode
            if hi == lo:
                return np.full_like(u, lo)
            c = (mode - lo) / (hi - lo)
            # inverse CDF of the triangular distribution
            return np.where(u < c, lo + np.sqrt(u * (hi - lo) * (mode - lo)),
                            hi - np.sqrt((1.0 - u) * (hi - lo) * (hi - mode)))
        from . import sampling

        assert s.sd is not None
        if s.sd == 0.0:
            return np.full_like(u, centre)
        # the truncated distribution by its inverse CDF (scipy.stats.norm / lognorm's numbers)
        a, b = self.bounds
        if s.dist == "normal":
            fa, fb = sampling.normal_cdf(a, centre, s.sd), sampling.normal_cdf(b, centre, s.sd)
            return sampling.normal_ppf(fa + u * (fb - fa), centre, s.sd)
        fa, fb = sampling.lognormal_cdf(a, s.sd, centre), sampling.lognormal_cdf(b, s.sd, centre)
        return sampling.lognormal_ppf(fa + u * (fb - fa), s.sd, centre)


@dataclass(frozen=True)
class Settings:
    """``options.uncertainty``: number of draws, seed, sampling method, sensitivity."""

    draws: int = 10000
    seed: int = 1
    method: str = "sobol"
    sensitivity: bool = True


def sample(names: Sequence[str], settings: Settings) -> np.ndarray:
    """Uniform numbers in [0, 1), ``[draws, len(names)]``: column ``j`` drives ``names[j]``.

    ``sobol``: a scrambled Sobol' sequence (any number of draws, the balance being best at
    powers of two); ``lhs``: a Latin hypercube; ``random``: independent uniforms. All seeded:
    the same settings and names give the same numbers. The first two are
    ``scipy.stats.qmc.Sobol(d, rng=seed)`` and ``qmc.LatinHypercube(d, rng=seed)``, computed
    bit for bit by :mod:`gepgeo.sampling` without importing ``scipy.stats``.
    """
    from . import sampling

    d, n = len(names), settings.draws
    if d == 0 or n == 0:
        return np.zeros((n, d))
    if settings.method == "sobol":
        return sampling.sobol(d, n, settings.seed)
    if settings.method == "lhs":
        return sampling.latin_hypercube(d, n, settings.seed)
    if settings.method == "random":
        return np.random.default_rng(settings.seed).random((n, d))
    raise UncertaintyError(f"options.uncertainty.method: expected one of {', '.join(METHODS)}, "
                           f"got {settings.method!r}")


# --------------------------------------------------------------------------------------------
# which parameters a table draw can vary exactly


def _exactness(plan: Any, lin: np.ndarray) -> dict[str, str]:
    """Per parameter key read by the run: ``""`` when a draw of it is exact on the tables,
    else the reason it is not."""
    from . import kernel as K
    from .services import SERVICES

    modes = K.METHOD.mode_map(plan.modes)
    reasons: dict[str, str] = {}
    names_of = {i: pv.key for i, pv in enumerate(plan.rasters)}
    for si, svc in enumerate(SERVICES):
        if not plan.services_on[si]:
            continue
        keys = svc.required(modes)
        need = int(plan.need[si])
        driver: set[str] = set()
        if need and lin[si]:
            v = K._DRIVER_VARIANT[si]
            settings = K._DRIVER_SETTINGS[si][int(plan.modes[v]) if v >= 0 else 0]
            cp = si == K.S_S and bool(K._cp_by_land_type(plan.src))
            driver = {k for k in keys if PARAM_INDEX[k] in {p for p, _, _ in settings}}
            if cp:
                driver -= {"cover_management_c", "support_practice_p"}
        for key in keys:
            why = ""
            if plan.src[PARAM_INDEX[key]] >= 0:
                why = "a raster layer: error fields on rasters are not drawn"
            elif need and not lin[si]:
                layers = ", ".join(names_of[b] for b in range(64) if need >> b & 1)
                why = (f"read by {svc.name}, which is evaluated in full per pixel (it reads "
                       f"{layers}): a draw is not exact on tables")
            elif key in driver:
                if si == K.S_S and key in ("rainfall_erosivity_r", "soil_erodibility_k",
                                          "slope_length_steepness_ls"):
                    row = plan.table[PARAM_INDEX[key]]
                    zero = [lt for lt, v, s in zip(plan.land_types, row, plan.supplies)
                            if s and v == 0.0]
                    if zero:
                        why = (f"a factor of the soil driver R·K·LS, 0 on {', '.join(zero)}: "
                               "the driver's sum cannot be rescaled there")
                elif si == K.S_S:
                    why = ("C·P enters the soil driver per pixel beside a raster C or P: a draw "
                           "is not exact on tables")
                else:
                    clamp = plan.water_deficit == "clamp"
                    why = ("a term of the water balance P − R − ET, computed per pixel with "
                           "raster terms" + (" and clamped at 0" if clamp else "")
                           + ": a draw is not exact on tables")
            if why:
                reasons[key] = reasons.get(key) or why
            else:
                reasons.setdefault(key, "")
    return reasons


def dims_of(plan: Any) -> tuple[list[Dim], list[dict[str, str]]]:
    """The drawn dimensions of a run's parameters and the list of what stays fixed.

    Returns
    -------
    dims : list of Dim
        In the order of the parameter keys, then land types.
    fixed : list of dict
        ``{parameter, land_type, reason}`` for every parameter (or land type of one) the run
        reads that is not drawn, and every range given that is not used.

    Raises
    ------
    UncertaintyError
        A range lies outside the parameter's domain, a lognormal's value is not positive, a
        triangular range's implied mode (the value) is outside its bounds, a range by land
        type names a land type the table lacks.
    """
    from . import kernel as K
    from .resolve import _factor

    lin, _ = K.linear_coefficients(plan.table, plan.supplies, plan.services_on, plan.need,
                                   plan.src, plan.modes)
    reasons = _exactness(plan, lin)
    dims: list[Dim] = []
    fixed: list[dict[str, str]] = []
    supplying = {lt for lt, s in zip(plan.land_types, plan.supplies) if s}
    for key in sorted(plan.used):
        pv = plan.used[key]
        unc = getattr(pv, "uncertainty", None)
        why = reasons.get(key, "")
        if unc is None:
            fixed.append({"parameter": key, "land_type": "",
                          "reason": why if pv.kind == "raster" else "no range given"})
            continue
        if why:
            fixed.append({"parameter": key, "land_type": "", "reason": "range not drawn: " + why})
            continue
        where = f"parameter {key!r}" + (f" ({pv.origin})" if pv.origin else "") + ".uncertainty"
        factor = _factor(pv, plan.used)
        spec = spec_for(key, where=where)
        dom = (spec.low, spec.high)
        if isinstance(unc, RangeSpec):
            if pv.kind == "constant":
                dims.append(_dim(key, "", unc, float(pv.value), factor, dom, where, pv.unit))
            else:
                vals = [float(v) for lt, v in dict(pv.value).items() if lt in supplying]
                dims.append(_dim(key, "", unc, 1.0, factor, dom, where, pv.unit, table=vals))
        else:
            table = dict(pv.value) if pv.kind == "table" else {}
            for lt in sorted(unc):
                if lt not in table:
                    raise UncertaintyError(f"{where}.by_land_type: land type {lt!r} has no "
                                           f"value in the table of {key}")
                if lt not in supplying:
                    fixed.append({"parameter": key, "land_type": lt,
                                  "reason": "land type not mapped, or supplies no services"})
                    continue
                dims.append(_dim(key, lt, unc[lt], float(table[lt]), factor, dom,
                                 f"{where}.by_land_type.{lt}", pv.unit))
            for lt in sorted(set(table) & supplying - set(unc)):
                fixed.append({"parameter": key, "land_type": lt, "reason": "no range given"})
    for key in sorted(getattr(plan, "unused", [])):
        fixed.append({"parameter": key, "land_type": "", "reason": "not used by this run"})
    return dims, fixed


def _dim(key: str, lt: str, spec: RangeSpec, point: float, factor: float,
         dom: tuple[float, float], where: str, unit: str,
         table: list[float] | None = None) -> Dim:
    """A :class:`Dim`, its bounds checked against the domain (canonical unit)."""
    mult = spec.relative or table is not None
    # canonical values a draw x (in the draw's scale) maps to, per value it multiplies
    if not mult:
        scales = [factor]
    elif table is not None:
        scales = [factor * v for v in table]
    else:
        scales = [factor * point]
    lo_d, hi_d = -math.inf, math.inf    # the domain in the draw's scale (scales are ≥ 0)
    for sc in scales:
        if sc > 0:
            lo_d, hi_d = max(lo_d, dom[0] / sc), min(hi_d, dom[1] / sc)
        elif sc < 0:
            lo_d, hi_d = max(lo_d, dom[1] / sc), min(hi_d, dom[0] / sc)
    if mult:
        lo_d = max(lo_d, 0.0)
    centre = 1.0 if mult else point
    if spec.dist == "lognormal" and not centre > 0:
        raise UncertaintyError(f"{where}: a lognormal range needs a positive value (its "
                               f"median), got {point:g}")
    if spec.dist == "triangular" and spec.mode is None:
        assert spec.low is not None and spec.high is not None
        if not spec.low <= centre <= spec.high:
            raise UncertaintyError(f"{where}: the value {centre:g} (the mode) is outside "
                                   f"[{spec.low:g}, {spec.high:g}]; give mode:")
    for name, b in (("low", spec.low), ("high", spec.high)):
        if b is not None and not (lo_d - 1e-12 * abs(lo_d) <= b <= hi_d + 1e-12 * abs(hi_d)):
            raise UncertaintyError(f"{where}.{name}: {b:g} is outside the parameter's domain "
                                   f"[{dom[0]}, {dom[1]}] ({spec_for(key, where=where).unit}"
                                   f"{', as a multiplier' if mult else ''})")
    a = lo_d if spec.low is None else max(lo_d, spec.low)
    b = hi_d if spec.high is None else min(hi_d, spec.high)
    if spec.dist == "normal" and spec.sd and not a < b:
        raise UncertaintyError(f"{where}: the truncation bounds leave no range")
    return Dim(key, lt, spec, point, factor, mult, (a, b), unit)


def check_plan(plan: Any, options: Any = None) -> None:
    """Check every range of a planned run and its ``options.uncertainty`` (``gepgeo
    validate`` and ``prepare``).

    Raises
    ------
    UncertaintyError
    """
    if options is not None and options.draws and not plan.valuation:
        raise UncertaintyError("options.uncertainty: a run with valuation: false has no value "
                               "to draw; remove options.uncertainty or set valuation: true")
    if any(getattr(pv, "uncertainty", None) is not None for pv in plan.used.values()):
        dims_of(plan)


# --------------------------------------------------------------------------------------------
# the table model


@dataclass
class TableModel:
    """A run's totals as functions of its drawn parameters (see the module docstring).

    Attributes
    ----------
    plan : gepgeo.resolve.Plan
    totals : float64[nslot, nclass, ncolumn]
        The pass's totals (slot 0: the whole grid; then one slot per zone).
    drivers : float64[nslot, nclass, nservice]
        Σ driver × area of the linear services (t a⁻¹ for soil, mm ha a⁻¹ for water).
    zone_labels : list of str
    dims, fixed :
        From :func:`dims_of`.
    """

    plan: Any
    totals: np.ndarray
    drivers: np.ndarray
    zone_labels: list[str] = field(default_factory=list)
    dims: list[Dim] = field(default_factory=list)
    fixed: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        from . import kernel as K
        from .services import MEASURES, SERVICES

        pl = self.plan
        self.lin, _ = K.linear_coefficients(pl.table, pl.supplies, pl.services_on, pl.need,
                                            pl.src, pl.modes)
        if not self.dims and not self.fixed:
            self.dims, self.fixed = dims_of(pl)
        self.mstart, self.mstop, self.value_idx = K.service_layout()
        self.on = [si for si in range(len(SERVICES)) if pl.services_on[si]]
        # value measures of the services on: the service "value" columns first, by service
        self.values = [int(self.value_idx[si]) for si in self.on]
        self.parts = [m for si in self.on for m in range(self.mstart[si], self.mstop[si])
                      if MEASURES[m].is_value and m not in self.values]
        nm = K.N_MEASURES
        nslot, nclass = self.totals.shape[:2]
        base = np.zeros((nslot, nclass, nm))
        area = self.totals[:, :, K.COL_AREA]
        for si in self.on:
            sl = slice(self.mstart[si], self.mstop[si])
            if pl.need[si] == 0:
                base[:, :, sl] = area[:, :, None]
            elif self.lin[si]:
                base[:, :, sl] = self.drivers[:, :, si, None]
        self.base = base
        self.point_totals = self.totals[:, :, :nm]
        self.point_units = self.units({})[0]

    @property
    def names(self) -> list[str]:
        """The sample columns this run reads, sorted."""
        return sorted({d.name for d in self.dims})

    def tables_for(self, cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The kernel's parameter table for each of ``n`` draws, ``[nparam, n, nclass]``
        (canonical units), from the uniform numbers ``cols`` of each sample column."""
        pl = self.plan
        t = np.repeat(pl.table[:, None, :], n, axis=1)
        for d in self.dims:
            if d.name not in cols:
                continue
            x = d.draw(np.asarray(cols[d.name], dtype=np.float64))
            p = PARAM_INDEX[d.key]
            if d.land_type:
                c = pl.land_types.index(d.land_type)
                t[p, :, c] = (x * d.point if d.multiplier else x) * d.factor
            elif d.multiplier:
                t[p] = pl.table[p][None, :] * x[:, None]
            else:
                t[p] = (x * d.factor)[:, None]
        return t

    def _driver_plan(self) -> tuple[list[tuple[int, tuple[tuple[int, float, float], ...],
                                               list[int]]], np.ndarray, bool]:
        """The linear services drawn from their coefficients: ``(service, driver settings,
        the tabled factors R, K, LS of the soil driver)``; the services computed from tables
        (``static``); and whether one evaluation of the formulas serves them all (no service
        reads a parameter that another one's driver settings overwrite)."""
        cached = getattr(self, "_dplan", None)
        if cached is not None:
            return cached
        from . import kernel as K
        from .services import SERVICES

        pl = self.plan
        static = np.array([1 if (pl.services_on[s] and pl.need[s] == 0) else 0
                           for s in range(len(pl.services_on))], dtype=np.uint8)
        linear = []
        for si in self.on:
            if not (pl.need[si] and self.lin[si]):
                continue
            v = K._DRIVER_VARIANT[si]
            settings = K._DRIVER_SETTINGS[si][int(pl.modes[v]) if v >= 0 else 0]
            if si == K.S_S and K._cp_by_land_type(pl.src):
                settings = tuple(st for st in settings if st[0] not in (K.P_C, K.P_P))
            factors = ([p for p, _, _ in settings if pl.src[p] < 0 and p not in (K.P_C, K.P_P)]
                       if si == K.S_S else [])
            linear.append((si, settings, factors))
        modes = K.METHOD.mode_map(pl.modes)
        evaluated = [si for si in range(len(SERVICES)) if static[si]] + [si for si, _, _ in linear]
        reads = {si: {PARAM_INDEX[k] for k in SERVICES[si].required(modes)} for si in evaluated}
        one = all(not (reads[sj] & {p for p, _, _ in settings})
                  for si, settings, _ in linear for sj in evaluated if sj != si)
        self._dplan = (linear, static, one)
        return self._dplan

    def units(self, cols: Mapping[str, np.ndarray], n: int = 1,
              measures: Sequence[int] | None = None) -> np.ndarray:
        """Per draw, each measure's total per unit of the pass's sum it multiplies
        (``[n, nclass, nmeasure]``, or only the columns ``measures``): the density (per ha of
        the land type) of a service computed from tables, the coefficient (per unit driver) of
        a linear service, times the rescaling of the soil driver; 0 for a service evaluated in
        full per pixel.

        The formulas are evaluated once for every draw and land type, with each linear
        service's driver set to 1 (its coefficient), when no service reads a parameter that
        sets another one's driver; else once per linear service."""
        from . import kernel as K

        pl = self.plan
        nm = K.N_MEASURES
        mcols = np.arange(nm) if measures is None else np.asarray(measures, dtype=np.intp)
        t = self.tables_for(cols, n)
        nparam, _, nclass = t.shape
        flat = t.reshape(nparam, n * nclass)
        sup = np.tile(pl.supplies, n)
        linear, static, one = self._driver_plan()
        service_of = np.zeros(nm, dtype=np.intp)
        for si in range(len(self.mstart)):
            service_of[self.mstart[si]:self.mstop[si]] = si
        col_service = service_of[mcols]
        # R, K, LS from tables are factors of the soil driver R·K·LS: their draws rescale it
        scales = {}
        for si, _, factors in linear:
            if not factors:
                continue
            scale = np.ones((n, nclass))
            for p in factors:
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = t[p] / pl.table[p][None, :]
                scale *= np.where(np.isfinite(r), r, 1.0)
            scales[si] = scale
        # linearity in the driver, checked at 2 on the first draws (the point run checked it
        # at 0, 1 and 2; the formulas are products, whatever the drawn values)
        k = min(n, 8) * nclass
        check = flat[:, :k].copy()
        evaluated = [*np.flatnonzero(static).tolist(), *(si for si, _, _ in linear)]
        out = np.zeros((n * nclass, len(mcols)))
        if one:
            # one evaluation: the drivers' parameters set in place (no service reads another's)
            on = static.copy()
            for si, settings, _ in linear:
                on[si] = 1
                for p, mult, const in settings:
                    flat[p, :] = mult * 1.0 + const
            if evaluated:
                take = np.isin(col_service, evaluated)
                dens = K.class_densities(flat, sup, on, pl.modes, nm)[0]
                out[:, take] = dens[:, mcols[take]]
            evals = {si: dens for si in evaluated}
        else:
            evals = {}
            if static.any():
                dens = K.class_densities(flat, sup, static, pl.modes, nm)[0]
                evals.update({si: dens for si in np.flatnonzero(static).tolist()})
            for si, settings, _ in linear:
                only = np.zeros_like(pl.services_on)
                only[si] = 1
                tx = flat.copy()
                for p, mult, const in settings:
                    tx[p, :] = mult * 1.0 + const
                evals[si] = K.class_densities(tx, sup, only, pl.modes, nm)[0]
            for si in evaluated:
                take = col_service == si
                out[:, take] = evals[si][:, mcols[take]]
        out = out.reshape(n, nclass, len(mcols))
        for si, settings, _ in linear:
            sl = slice(self.mstart[si], self.mstop[si])
            only = np.zeros_like(pl.services_on)
            only[si] = 1
            t2 = check.copy()
            for p, mult, const in settings:
                t2[p, :] = mult * 2.0 + const
            d2 = K.class_densities(t2, sup[:k], only, pl.modes, nm)[0][:, sl]
            if not np.allclose(d2, 2.0 * evals[si][:k, sl], rtol=1e-12, atol=0.0,
                               equal_nan=True):
                raise UncertaintyError(f"a draw made {K.SERVICES[si].name} non-linear in its "
                                       "driver; report this (the point run was linear)")
            if si in scales:
                take = col_service == si
                out[:, :, take] = scales[si][:, :, None] * out[:, :, take]
        return out

    def draw_totals(self, units: np.ndarray, slots: slice | Sequence[int] = slice(0, 1),
                    measures: Sequence[int] | None = None) -> np.ndarray:
        """Totals of every measure for the draws of ``units``: ``[n, nslot, nclass,
        nmeasure]`` (yuan a⁻¹ for values), as the point totals plus the pass's sums times the
        change of the units (a zero-width draw gives the point totals exactly). With
        ``measures``, ``units`` holds those columns only (:meth:`units`) and so does the
        result."""
        base = self.base[slots]
        point = self.point_totals[slots]
        pu = self.point_units
        if measures is not None:
            m = list(measures)
            base, point, pu = base[..., m], point[..., m], pu[..., m]
        return point[None] + base[None] * (units[:, None] - pu[None, None])

    def cols_of(self, u: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The sample columns of this run from a sample ``u`` over ``names``."""
        pos = {nm: j for j, nm in enumerate(names)}
        return {nm: u[:, pos[nm]] for nm in self.names}

    def outputs(self, cols: Mapping[str, np.ndarray], n: int, batch: int = 2048,
                zones: bool = True, parts: bool = True) -> dict[str, Any]:
        """GEP and every value (the service values only without ``parts``) of the whole grid
        and by land type, and GEP and the service values by zone, for each of ``n`` draws
        (computed ``batch`` draws at a time)."""
        nclass = self.totals.shape[1]
        nz = self.totals.shape[0] - 1
        vcols = self.values + (self.parts if parts else [])
        nv = len(self.values)
        by_lt = np.zeros((n, nclass, len(vcols) + 1))
        by_zone = np.zeros((n, nz, nv + 1)) if nz and zones else None
        for b0 in range(0, n, batch):
            b1 = min(n, b0 + batch)
            u = self.units({k: v[b0:b1] for k, v in cols.items()}, b1 - b0, vcols)
            tot = self.draw_totals(u, measures=vcols)[:, 0]      # [nb, nclass, len(vcols)]
            by_lt[b0:b1, :, :-1] = tot
            by_lt[b0:b1, :, -1] = _sum_in_order(tot[:, :, :nv])
            if by_zone is not None:
                for z0 in range(0, nz, 64):
                    z1 = min(nz, z0 + 64)
                    zt = self.draw_totals(u[..., :nv], slice(1 + z0, 1 + z1),
                                          measures=self.values)
                    # over land types, summed pairwise along a contiguous axis (as before)
                    zt = np.ascontiguousarray(np.moveaxis(zt, 2, -1)).sum(axis=-1)
                    by_zone[b0:b1, z0:z1, :-1] = zt
                    by_zone[b0:b1, z0:z1, -1] = _sum_in_order(zt)
        return {"by_land_type": by_lt, "by_service": by_lt.sum(axis=1), "by_zone": by_zone,
                "columns": vcols}

    def labels(self, cols: Sequence[int]) -> list[tuple[str, str]]:
        """(service, measure) of value columns, then GEP."""
        from .services import MEASURES

        return [(MEASURES[m].service, MEASURES[m].name) for m in cols] + [("gep", "value")]

    def point_outputs(self) -> dict[str, np.ndarray]:
        """GEP and the values at the point (the pass's own totals), shaped as :meth:`outputs`."""
        vcols = self.values + self.parts
        tot = self.point_totals[0]
        lt = np.concatenate([tot[:, vcols], tot[:, self.values].sum(axis=1, keepdims=True)],
                            axis=1)
        return {"by_land_type": lt, "by_service": lt.sum(axis=0)}


def _sum_in_order(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, adding the numbers one by one in order: NumPy's sum adds 8 or
    more contiguous numbers pairwise, so its result would depend on the array's layout."""
    out = np.zeros(x.shape[:-1])
    if x.shape[-1]:
        out[...] = x[..., 0]
    for j in range(1, x.shape[-1]):
        out += x[..., j]
    return out


def quantile_row(x: np.ndarray) -> dict[str, float]:
    """Mean, standard deviation and the quantiles of :data:`QUANTILES` of draws ``x``."""
    # about the first draw: a constant output gives its value and sd 0 exactly
    x0 = x[0] if x.size else 0.0
    row = {"mean": float(x0 + np.mean(x - x0)),
           "sd": float(np.std(x - x0, ddof=1)) if x.size > 1 else 0.0}
    qs = quantiles(np.reshape(x, (-1, 1)), [q for q, _ in QUANTILES])[:, 0]
    row.update({name: float(v) for (_, name), v in zip(QUANTILES, qs)})
    return row


def quantiles(x: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """``np.quantile(x, q, axis=0)`` (its default, linear interpolation) of ``x[draws, k]``,
    equal to it bit for bit, from one sort of each column: the sort is 4-5 times faster than
    NumPy's partitions around ten order statistics. A column holding NaN gives NaN."""
    n, k = x.shape
    qa = np.asarray(q, dtype=np.float64)
    if n == 0:
        raise UncertaintyError("quantiles of no draws")
    xs = np.sort(x.T, axis=1)                      # [k, n], NaN last
    if n == 1:
        out = np.repeat(xs[:, :1], len(qa), axis=1)
    else:
        v = (n - 1) * qa                           # virtual index, as NumPy's 'linear'
        lo = np.floor(v).astype(np.intp)
        hi = np.minimum(lo + 1, n - 1)
        g = v - lo
        a, b = xs[:, lo], xs[:, hi]
        diff = b - a
        # NumPy's _lerp: a + (b − a)·g, and b − (b − a)·(1 − g) from g = 0.5 on
        out = np.where(g >= 0.5, b - diff * (1 - g), a + diff * g)
    out[np.isnan(xs[:, -1])] = np.nan
    return out.T


def _rows(x: np.ndarray) -> list[dict[str, float]]:
    """:func:`quantile_row` of each column of ``x`` (``[draws, k]``), in one pass."""
    x = x.reshape(x.shape[0], -1)
    x0 = x[:1] if x.shape[0] else np.zeros((1, x.shape[1]))
    d = x - x0
    mean = x0[0] + d.mean(axis=0)
    sd = d.std(axis=0, ddof=1) if x.shape[0] > 1 else np.zeros(x.shape[1])
    qs = quantiles(x, [q for q, _ in QUANTILES])
    return [{"mean": float(mean[j]), "sd": float(sd[j]),
             **{name: float(qs[i, j]) for i, (_, name) in enumerate(QUANTILES)}}
            for j in range(x.shape[1])]


def interval_tables(model: TableModel, out: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """``uncertainty_by_service``, ``uncertainty_by_land_type`` (and ``_by_zone``) tables."""
    labels = model.labels(out["columns"])
    point = model.point_outputs()
    rows = []
    stats = _rows(out["by_service"])
    for j, (svc, meas) in enumerate(labels):
        rows.append({"service": svc, "measure": meas, "unit": "yuan a-1",
                     "point": float(point["by_service"][j]), **stats[j]})
    tables = {"uncertainty_by_service": pd.DataFrame(rows)}
    rows = []
    by_lt = out["by_land_type"]
    sup = [c for c in range(len(model.plan.land_types)) if model.plan.supplies[c]]
    stats = _rows(by_lt[:, sup])                   # the land types that supply services
    for i, c in enumerate(sup):
        lt = model.plan.land_types[c]
        for j, (svc, meas) in enumerate(labels):
            rows.append({"land_type": lt, "service": svc, "measure": meas, "unit": "yuan a-1",
                         "point": float(point["by_land_type"][c, j]),
                         **stats[i * by_lt.shape[2] + j]})
    tables["uncertainty_by_land_type"] = pd.DataFrame(rows)
    if out["by_zone"] is not None:
        zl = labels[:len(model.values)] + [("gep", "value")]
        pz = model.point_totals[1:][:, :, model.values].sum(axis=1)
        rows = []
        bz = out["by_zone"]
        stats = _rows(bz)
        for z, zone in enumerate(model.zone_labels):
            layer, _, zid = zone.partition(":")
            for j, (svc, meas) in enumerate(zl):
                p = float(pz[z].sum() if svc == "gep" else pz[z, j])
                rows.append({"zone_layer": layer, "zone": zid, "service": svc, "measure": meas,
                             "unit": "yuan a-1", "point": p, **stats[z * bz.shape[2] + j]})
        tables["uncertainty_by_zone"] = pd.DataFrame(rows)
    return tables


def parameter_table(model: TableModel) -> pd.DataFrame:
    """Every parameter the run reads: drawn (with its distribution) or fixed (with why)."""
    rows = []
    for d in model.dims:
        s = d.spec
        rows.append({"parameter": d.key, "land_type": d.land_type, "drawn": "yes",
                     "sample_column": d.name, "dist": s.dist,
                     "scale": "multiplier" if d.multiplier else (d.unit or "canonical"),
                     "value": d.point, "low": s.low, "high": s.high, "mode": s.mode, "sd": s.sd,
                     "source": s.source, "reason": ""})
    for f in model.fixed:
        rows.append({"parameter": f["parameter"], "land_type": f["land_type"], "drawn": "no",
                     "reason": f["reason"]})
    cols = ["parameter", "land_type", "drawn", "sample_column", "dist", "scale", "value", "low",
            "high", "mode", "sd", "source", "reason"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# sensitivity


def sobol_table(model: TableModel, settings: Settings, names: Sequence[str] | None = None
                ) -> tuple[pd.DataFrame, int]:
    """First-order and total Sobol' indices of GEP and each service value over the sample
    columns (the Saltelli 2010 first-order and Jansen total estimators of
    ``scipy.stats.sobol_indices``, computed bit for bit by :func:`gepgeo.sampling.sobol_indices`,
    on the table model). Returns the table and the base sample size n (the model runs
    n·(d + 2) times)."""
    from . import sampling

    names = list(names if names is not None else model.names)
    d = len(names)
    cols_out = ["output", "parameter", "first_order", "total_order"]
    if d == 0:
        return pd.DataFrame(columns=cols_out), 0
    # n·(d + 2) evaluations in about as many draws as the intervals use, 256 ≤ n ≤ 8192
    n = 2 ** int(np.clip(np.floor(np.log2(max(settings.draws, 1) / (d + 2))), 8, 13))

    def func(x: np.ndarray) -> np.ndarray:
        cols = {nm: x[j] for j, nm in enumerate(names)}
        out = model.outputs(cols, x.shape[1], zones=False, parts=False)
        return out["by_service"].T

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        first, total = sampling.sobol_indices(func, d, n, settings.seed)
    labels = model.labels([model.values[i] for i in range(len(model.values))])
    rows = []
    first = first.reshape(len(labels), d)
    total = total.reshape(len(labels), d)
    for i, (svc, _) in enumerate(labels):
        name = "gep" if svc == "gep" else svc
        for j, p in enumerate(names):
            rows.append({"output": name, "parameter": p, "first_order": float(first[i, j]),
                         "total_order": float(total[i, j])})
    return pd.DataFrame(rows, columns=cols_out), n


# --------------------------------------------------------------------------------------------
# comparison


def change_table(before: TableModel, after: TableModel, out_b: Mapping[str, Any],
                 out_a: Mapping[str, Any]) -> pd.DataFrame:
    """The interval of after − before for GEP and each service value, draw by draw, and the
    probability that it rose (the share of draws where after > before)."""
    lb = dict(zip(before.labels(out_b["columns"]), range(out_b["by_service"].shape[1])))
    la = dict(zip(after.labels(out_a["columns"]), range(out_a["by_service"].shape[1])))
    pb, pa = before.point_outputs()["by_service"], after.point_outputs()["by_service"]
    keys = [k for k in lb if k in la and (k[1] == "value")]
    keys += [k for k in la if k not in lb and k[1] == "value"]
    keys += [k for k in lb if k not in la and k[1] == "value"]
    keys = sorted(set(keys), key=lambda k: (k[0] == "gep", list(lb).index(k) if k in lb else 99))
    n = out_b["by_service"].shape[0]
    rows = []
    for k in keys:
        xb = out_b["by_service"][:, lb[k]] if k in lb else np.zeros(n)
        xa = out_a["by_service"][:, la[k]] if k in la else np.zeros(n)
        delta = xa - xb
        rows.append({"service": k[0], "measure": k[1], "unit": "yuan a-1",
                     "before": float(pb[lb[k]]) if k in lb else 0.0,
                     "after": float(pa[la[k]]) if k in la else 0.0,
                     "change": (float(pa[la[k]]) if k in la else 0.0)
                     - (float(pb[lb[k]]) if k in lb else 0.0),
                     **quantile_row(delta), "p_rose": float(np.mean(delta > 0))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# a run's outputs

#: the tables written into a run's ``tables/`` (``uncertainty_by_zone`` with zones)
TABLES = ("uncertainty_by_service", "uncertainty_by_land_type", "uncertainty_by_zone",
          "uncertainty_parameters", "sensitivity")


def settings_of(options: Any) -> Settings:
    """:class:`Settings` from a pipeline's ``options.uncertainty``."""
    return Settings(draws=int(options.draws), seed=int(options.seed), method=str(options.method),
                    sensitivity=bool(options.sensitivity))


def model_of_run(prep: Any, res: Mapping[str, Any]) -> TableModel:
    """The :class:`TableModel` of a computed run (:func:`gepgeo.execute.execute`'s result)."""
    ds = res["dataset"]
    totals = np.asarray(res["totals"])[None]
    if res.get("zone_totals") is not None:
        totals = np.concatenate([totals, np.asarray(res["zone_totals"])], axis=0)
    drivers = np.asarray(res["driver_totals"])
    zone_labels = [str(z) for z in ds.coords["zone"].values] if "zone" in ds.coords else []
    return TableModel(prep.plan, totals, drivers, zone_labels)


def analyse(model: TableModel, settings: Settings, u: np.ndarray | None = None,
            names: Sequence[str] | None = None) -> dict[str, Any]:
    """The draws of a run (from the sample ``u`` over ``names``, by default its own sample),
    their interval tables, the parameter table and (``settings.sensitivity``) the Sobol'
    indices."""
    names = list(model.names if names is None else names)
    if u is None:
        u = sample(names, settings)
    cols = model.cols_of(u, names)
    out = model.outputs(cols, settings.draws)
    tables = interval_tables(model, out)
    tables["uncertainty_parameters"] = parameter_table(model)
    n_sens = 0
    if settings.sensitivity:
        tables["sensitivity"], n_sens = sobol_table(model, settings)
    return {"outputs": out, "tables": tables, "sensitivity_n": n_sens, "names": names}


def manifest_entry(model: TableModel, settings: Settings, result: Mapping[str, Any],
                   common: str = "") -> dict[str, Any]:
    """The manifest's ``uncertainty`` record: settings, what is drawn and what is fixed, the
    GEP interval."""
    gep = result["tables"]["uncertainty_by_service"]
    g = gep[gep.service == "gep"].iloc[0].to_dict() if len(gep) else {}
    return {
        "draws": settings.draws, "seed": settings.seed, "method": settings.method,
        "model": "table (exact for the drawn parameters; docs/METHOD.md § 10)",
        "sample_columns": list(result["names"]),
        **({"common_random_numbers": common} if common else {}),
        "drawn": [{"parameter": d.key, **({"land_type": d.land_type} if d.land_type else {}),
                   "column": d.name, "scale": "multiplier" if d.multiplier else
                   (d.unit or "canonical"), "value": d.point, **d.spec.as_dict()}
                  for d in model.dims],
        "fixed": list(model.fixed),
        "sensitivity_base_n": result["sensitivity_n"],
        "gep": {k: g[k] for k in ("point", "mean", "p2.5", "p5", "median", "p95", "p97.5")
                if k in g},
    }


def write_tables(folder: Path, result: Mapping[str, Any]) -> list[str]:
    """Write the uncertainty tables into a run's ``tables/`` folder; their manifest entries."""
    from .tabulate import FLOAT_FORMAT

    files = []
    for name in TABLES:
        table = result["tables"].get(name)
        if table is None:
            continue
        table.to_csv(folder / f"{name}.csv", index=False, float_format=FLOAT_FORMAT)
        files.append(f"tables/{name}.csv")
    return files


def compare(before: TableModel, after: TableModel, settings: Settings, *, common: bool = True
            ) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """Draw both scenarios and tabulate the change (:func:`change_table`).

    With ``common`` (common random numbers) both scenarios read one sample over the union of
    their sample columns: a parameter both share gets the same uniform number in each draw
    (the same value when its range is the same), so the change reflects what differs between
    them. Without, the after scenario's draws are the same sample's rows in a random order
    (seeded), so that no draw of the after scenario is paired with its own parameters in the
    before scenario: for comparison only (two scrambled Sobol' sequences of different seeds
    are not independent enough for this: their GEPs correlated at −0.75 on the Jinsha pair).
    """
    names = sorted(set(before.names) | set(after.names))
    u = sample(names, settings)
    rb = analyse(before, settings, u, names)
    if common:
        ra = analyse(after, settings, u, names)
    else:
        order = np.random.default_rng(settings.seed + 1).permutation(settings.draws)
        ra = analyse(after, settings, u[order], names)
    return rb, ra, change_table(before, after, rb["outputs"], ra["outputs"])


def model_of_pipeline(pipe: Any) -> TableModel:
    """The :class:`TableModel` of a pipeline from a tables-only pass (no map written; zones
    are left out): the Python API's way to draw a pipeline, e.g.
    ``analyse(model_of_pipeline(load_pipeline(path)), Settings(draws=10000))``."""
    import dask

    from .compute import build_dataset
    from .io import seeded_handles
    from .prepare import prepare
    from .scheduler import _scheduler_of, _small_gdal_cache

    with seeded_handles():
        prep = prepare(pipe)
        ds = build_dataset(prep.land_use, prep.codes, prep.plan, maps=[],
                           area=pipe.options.area, domain=pipe.options.domain, chunks=prep.chunk)
        with _small_gdal_cache():
            totals, drivers = dask.compute(ds["totals"].data, ds["driver_totals"].data,
                                           scheduler=_scheduler_of(None))
    return TableModel(prep.plan, np.asarray(totals)[None], np.asarray(drivers)[:1])
