"""The uncertainty of a run or a comparison as its report shows it (:mod:`gepgeo.uncertainty`).

Read from the folder's files only: ``tables/uncertainty_by_service.csv`` (GEP's and each
service's point value, mean, median and 2.5/5/95/97.5 % quantiles over the draws),
``tables/uncertainty_by_land_type.csv`` (the same per land type), ``tables/sensitivity.csv``
(first-order and total Sobol' indices), ``tables/uncertainty_parameters.csv`` (what is drawn,
with its distribution and source, and what is fixed and why), the manifest's ``uncertainty``
record (number of draws, sampling method, seed), and for a comparison
``change/tables/uncertainty_change.csv`` (the change's quantiles and P(GEP rose)).

A run without draws has none of these files and its report is unchanged. No scipy here: the
numbers were computed by the run; the report formats and draws them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from ..i18n import t
from .files import read_table
from .format import MONEY_UNIT, fmt_number, isnan, money
from .render import table_html

__all__ = ["ChangeInterval", "Interval", "RunUncertainty", "change_interval", "interval_text",
           "method_text", "outside_text", "run_uncertainty", "signed_money", "TORNADO_MAX"]

#: Parameters drawn in the tornado chart (the largest total indices; the CSV has them all).
TORNADO_MAX = 15


@dataclass(frozen=True)
class Interval:
    """A value's point estimate and its quantiles over the draws (yuan a⁻¹)."""

    point: float
    mean: float
    median: float
    p2_5: float
    p5: float
    p95: float
    p97_5: float

    @classmethod
    def of(cls, row: Mapping[str, Any], point: str = "point") -> Interval:
        return cls(float(row[point]), float(row["mean"]), float(row["median"]),
                   float(row["p2.5"]), float(row["p5"]), float(row["p95"]),
                   float(row["p97.5"]))

    def outside(self) -> tuple[str, str]:
        """(``below`` / ``above`` / ``""``, ``95`` / ``90``): where the point estimate lies
        against the widest interval it falls outside of."""
        for lo, hi, level in ((self.p2_5, self.p97_5, "95"), (self.p5, self.p95, "90")):
            if self.point < lo:
                return "below", level
            if self.point > hi:
                return "above", level
        return "", ""


def interval_text(lo: float, hi: float, signed: bool = False) -> str:
    """``74.90 to 119.37`` (10⁴ yuan; ``signed``: with a sign, as a change is printed)."""
    f = signed_money if signed else money
    return t("{lo} to {hi}", lo=f(lo), hi=f(hi))


def signed_money(yuan: float) -> str:
    """Yuan as signed 10⁴ yuan, 2 decimals (``+1,144.31``), as the change is printed."""
    return f"{yuan / MONEY_UNIT:+,.2f}"


def outside_text(iv: Interval, change: bool = False) -> str:
    """The one sentence a report says when the point estimate of GEP (``change``: of GEP's
    change) lies outside an interval of the draws (empty when it does not)."""
    side, level = iv.outside()
    if not side:
        return ""
    share = "97.5" if level == "95" else "95"
    what = t("the change of GEP") if change else "GEP"
    point = signed_money(iv.point) if change else money(iv.point)
    see = (t("the drawn parameters in each scenario's report") if change
           else t("the drawn parameters under Uncertainty"))
    if side == "below":
        return t("The point estimate of {what} ({point}) lies below its {level} % interval: the "
                 "run's own parameter values give a lower value than {share} % of the draws, "
                 "because the ranges drawn are not centred on those values but reach mostly "
                 "above them ({see}).", what=what, point=point, level=level, share=share, see=see)
    return t("The point estimate of {what} ({point}) lies above its {level} % interval: the "
             "run's own parameter values give a higher value than {share} % of the draws, "
             "because the ranges drawn are not centred on those values but reach mostly below "
             "them ({see}).", what=what, point=point, level=level, share=share, see=see)


#: the sampling methods as the report names them
METHOD_TEXT = {"sobol": "scrambled Sobol'", "lhs": "Latin hypercube", "random": "random"}


def method_text(method: str) -> str:
    """A sampling method's name in the report's language."""
    return t(METHOD_TEXT.get(method, method))


@dataclass
class RunUncertainty:
    """What a run's report shows of its draws."""

    gep: Interval
    draws: int
    method: str
    seed: Any
    n_drawn: int
    n_fixed: int
    common: str
    #: service → (5 %, 95 %) of its value, yuan a⁻¹ (the service chart's error bars)
    by_service: dict[str, tuple[float, float]]
    #: (land type, service) → (5 %, 95 %) of its value (the land-type chart's error bars)
    by_land_type: dict[tuple[str, str], tuple[float, float]]
    #: the GEP rows of sensitivity.csv (parameter, first_order, total_order), largest first
    sensitivity: pd.DataFrame | None
    #: (reason, [parameter or parameter[land type], ...]) of the fixed parameters
    fixed: list[tuple[str, list[str]]] = field(default_factory=list)
    drawn: Markup | None = None


def _quantile_map(df: pd.DataFrame | None, keys: list[str]) -> dict[Any, tuple[float, float]]:
    if df is None or not len(df):
        return {}
    rows = df[(df["measure"] == "value") & (df["service"] != "gep")]
    out: dict[Any, tuple[float, float]] = {}
    for rec in rows.to_dict("records"):
        key = tuple(str(rec[k]) for k in keys)
        out[key[0] if len(key) == 1 else key] = (float(rec["p5"]), float(rec["p95"]))
    return out


def run_uncertainty(run_dir: Path, manifest: Mapping[str, Any]) -> RunUncertainty | None:
    """The draws of a run as its report shows them; None when the run has none (no
    ``uncertainty`` record in the manifest or no ``tables/uncertainty_by_service.csv``)."""
    rec = manifest.get("uncertainty")
    if not isinstance(rec, Mapping):
        return None
    svc = read_table(run_dir, "uncertainty_by_service.csv")
    if svc is None or not len(svc):
        return None
    g = svc[(svc["service"] == "gep") & (svc["measure"] == "value")]
    if not len(g):
        return None
    sens = read_table(run_dir, "sensitivity.csv")
    if sens is not None:
        sens = sens[sens["output"] == "gep"].sort_values(
            ["total_order", "first_order"], ascending=False, kind="stable").reset_index(drop=True)
    params = read_table(run_dir, "uncertainty_parameters.csv")
    fixed: list[tuple[str, list[str]]] = []
    drawn = None
    n_drawn = len(rec.get("drawn") or [])
    n_fixed = len(rec.get("fixed") or [])
    if params is not None and len(params):
        params = params.astype(object).where(params.notna(), "")
        names = [f"{p}[{lt}]" if lt else str(p)
                 for p, lt in zip(params["parameter"], params["land_type"])]
        params = params.assign(name=names)
        no = params[params["drawn"] == "no"]
        for reason, rows in no.groupby("reason", sort=False):
            fixed.append((str(reason), rows["name"].tolist()))
        yes = params[params["drawn"] == "yes"]
        n_drawn, n_fixed = len(yes), len(no)
        if len(yes):
            cols = ["name", "dist", "scale", "value", "low", "high", "mode", "sd", "source"]
            shown = yes[cols].rename(columns={"name": "parameter"})
            shown = shown.replace("", np.nan)
            shown = shown[[c for c in shown.columns if c in ("parameter", "source")
                           or shown[c].notna().any()]]
            drawn = table_html(shown, formats={"parameter": str, "dist": _text, "scale": _text,
                                               "source": _text},
                               cell_classes={"source": "note wide"})
    return RunUncertainty(
        gep=Interval.of(g.iloc[0]), draws=int(rec.get("draws", 0)),
        method=str(rec.get("method", "")), seed=rec.get("seed", ""),
        n_drawn=n_drawn, n_fixed=n_fixed, common=str(rec.get("common_random_numbers", "")),
        by_service=_quantile_map(svc, ["service"]),
        by_land_type=_quantile_map(read_table(run_dir, "uncertainty_by_land_type.csv"),
                                   ["land_type", "service"]),
        sensitivity=sens, fixed=fixed, drawn=drawn)


def _text(v: Any) -> str:
    """A text cell of the drawn parameters (a distribution's or a scale's name translated)."""
    if isnan(v):
        return ""
    return t(str(v)) if str(v) in _WORDS else str(v)


_WORDS = ("multiplier", "canonical", "uniform", "triangular", "normal", "lognormal")


@dataclass(frozen=True)
class ChangeInterval:
    """The interval of GEP's change over the draws (common random numbers) and P(GEP rose)."""

    change: Interval
    p_rose: float
    draws: int

    @property
    def p_rose_text(self) -> str:
        return f"{self.p_rose:.3f}"

    @property
    def rose_draws(self) -> str:
        """Draws where GEP rose, of all (``9,987 of 10,000``)."""
        return t("{k} of {n}", k=fmt_number(int(round(self.p_rose * self.draws))),
                 n=fmt_number(self.draws))


def change_interval(change_dir: Path, runs: Mapping[str, Mapping[str, Any]]
                    ) -> ChangeInterval | None:
    """GEP's row of ``change/tables/uncertainty_change.csv``, if the comparison drew its
    parameters (the number of draws from the before run's manifest)."""
    ch = read_table(change_dir, "uncertainty_change.csv")
    if ch is None or not len(ch):
        return None
    g = ch[(ch["service"] == "gep") & (ch["measure"] == "value")]
    if not len(g):
        return None
    draws = 0
    for m in runs.values():
        draws = draws or int((m.get("uncertainty") or {}).get("draws", 0))
    return ChangeInterval(Interval.of(g.iloc[0], point="change"), float(g.iloc[0]["p_rose"]),
                          draws)
