"""``gepgeo demo``: the Jinsha reference case on the bundled sample data.

Compares ``pipelines/jinsha_before.yaml`` and ``pipelines/jinsha_after.yaml`` (synthetic grids
whose class areas are those of Xu et al., Table 1) into ``DIR/before``, ``DIR/after`` and
``DIR/change``, and sets every published figure beside gepgeo's in ``DIR/reproduction.csv`` (the
paper's figures ship as ``gepgeo/data/jinsha_published.csv``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from .errors import ConfigError
from .pipeline import Pipeline, load_pipeline
from .reproduction import reproduction_table
from .run import RunResult, account

__all__ = ["sample_root", "published_figures", "run_demo", "DemoResult", "SCENARIOS"]

SCENARIOS = ("before", "after")


def sample_root() -> Path:
    """Folder holding ``pipelines/`` and ``data/`` of the bundled sample.

    A wheel carries them inside the package (``gepgeo/_sample``); a source checkout (editable
    install) has them at the top of the repository.
    """
    inside = Path(str(resources.files("gepgeo"))) / "_sample"
    if (inside / "pipelines").is_dir():
        return inside
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pipelines").is_dir() and (repo / "data").is_dir():
        return repo
    raise FileNotFoundError("the bundled sample data is missing from this installation")


def published_figures() -> dict[str, dict[str, str]]:
    """The paper's published numbers (Xu et al.), keyed by row id."""
    path = Path(str(resources.files("gepgeo") / "data" / "jinsha_published.csv"))
    with open(path, newline="", encoding="utf-8") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@dataclass
class DemoResult:
    """The comparison of the two Jinsha scenarios, the reproduction table and the as-stated GEP."""

    out: Path
    runs: dict[str, RunResult]
    reproduction: pd.DataFrame
    as_stated_gep: dict[str, float]


def _pipeline(scenario: str, profile: str | None = None) -> Pipeline:
    pipe = load_pipeline(sample_root() / "pipelines" / f"jinsha_{scenario}.yaml")
    if profile is not None:
        assert pipe.profile is not None
        pipe = pipe.model_copy(
            update={"profile": pipe.profile.model_copy(update={"name": profile})})
    return pipe


def jinsha_ranges() -> dict[str, dict]:
    """The price ranges of the Jinsha case with their sources (``gepgeo/data/jinsha_ranges.yaml``,
    docs/JINSHA.md § 5), as ``{key: {uncertainty: {...}}}`` entries of ``parameters:``."""
    from ._yaml import load_yaml_file

    path = Path(str(resources.files("gepgeo") / "data" / "jinsha_ranges.yaml"))
    return dict(load_yaml_file(path, "Jinsha ranges", ConfigError))


def demo_pipeline(scenario: str, draws: int = 10000) -> Pipeline:
    """A Jinsha pipeline as the demo runs it: with the price ranges attached and, when
    ``draws``, ``options.uncertainty`` set to draw them."""
    from .pipeline import RangeParam, UncertaintyOptions

    pipe = _pipeline(scenario)
    params = dict(pipe.parameters)
    for key, entry in jinsha_ranges().items():
        params.setdefault(key, RangeParam.model_validate(entry))
    update: dict[str, object] = {"parameters": params}
    if draws:
        update["options"] = pipe.options.model_copy(update={
            "uncertainty": pipe.options.uncertainty or UncertaintyOptions(draws=draws)})
    return pipe.model_copy(update=update)


def run_demo(out: Path, *, overwrite: bool = False, quiet: bool = True,
             lang: str = "en", report: bool = True, draws: int = 10000) -> DemoResult:
    """Compare the two Jinsha scenarios into ``out`` and add ``out/reproduction.csv``.

    ``out/before``, ``out/after`` and ``out/change`` are the comparison of
    ``pipelines/jinsha_before.yaml`` and ``pipelines/jinsha_after.yaml`` (profile
    ``jinsha-as-published``); the reproduction table sets every published figure of Xu et al.
    beside gepgeo's; the GEP under ``jinsha-as-stated`` (the values the paper prints) is computed
    by the tables-only path. ``lang``: the reports' language (``en`` or ``zh``); ``report``:
    whether the reports (and map styles) are written. ``draws``: draws of the pipelines' price
    ranges (``change/tables/uncertainty_change.csv``; 0: none).
    """
    import json

    from .compare import run_compare
    from .outputs import check_target
    from .run import pipeline_inputs

    # refuse a folder that may not be replaced before computing anything
    check_target(Path(out), [p for s in SCENARIOS for p in pipeline_inputs(_pipeline(s))],
                 overwrite=overwrite)
    stated: dict[str, float] = {}
    for scenario in SCENARIOS:
        tidy = account(_pipeline(scenario, "jinsha-as-stated"))
        stated[scenario] = float(tidy[tidy.service == "gep"].amount.sum())
    tables: dict[str, pd.DataFrame] = {}

    def add_reproduction(tmp: Path, before: RunResult, after: RunResult) -> None:
        rep = reproduction_table({"before": before.tidy, "after": after.tidy})
        rep.to_csv(tmp / "reproduction.csv", index=False, float_format="%.10g")
        (tmp / "as_stated_gep.json").write_text(json.dumps(stated, indent=2) + "\n")
        tables["reproduction"] = rep
        args["reproduction"] = rep

    args: dict[str, object] = {"as_stated_gep": stated}
    def lang_of(pipe: Pipeline) -> Pipeline:
        opts = pipe.options.model_copy(update={"report_lang": lang})
        return pipe.model_copy(update={"options": opts})

    # with the price ranges drawn `draws` times (gepgeo.uncertainty)
    res = run_compare(lang_of(demo_pipeline("before", draws)),
                      lang_of(demo_pipeline("after", draws)), Path(out),
                      overwrite=overwrite, quiet=quiet, extra=add_reproduction,
                      report_args=args, report=report)
    runs = {"before": res.before, "after": res.after}
    rep = tables["reproduction"]
    return DemoResult(Path(out), runs, rep, stated)


def headline_rows(result: DemoResult) -> list[tuple[str, str, str, float, float]]:
    """(scenario, quantity, unit, gepgeo, paper) for the demo's printed summary."""
    pub = published_figures()
    rows = []
    for scenario, res in result.runs.items():
        t = res.tidy
        qsr = float(t[(t.service == "soil") & (t.measure == "soil_retention")].amount.sum())
        gep = float(t[(t.service == "gep")].amount.sum())
        rows.append((scenario, "soil retention", "t a-1", qsr,
                     float(pub[f"T4.{scenario}.qsr_phys"]["paper"])))
        rows.append((scenario, "GEP", "1e4 yuan a-1", gep / 1e4,
                     float(pub[f"T4.{scenario}.gep"]["paper"])))
    return rows
