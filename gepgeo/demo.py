"""``gepgeo demo``: the Jinsha reference case on the bundled sample data.

Runs ``pipelines/jinsha_before.yaml`` and ``pipelines/jinsha_after.yaml`` (synthetic grids whose
class areas are those of Xu et al., Table 1) into ``DIR/before`` and ``DIR/after`` and compares
the results with the published figures, which gepgeo ships as ``gepgeo/data/jinsha_published.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .pipeline import load_pipeline
from .run import RunResult, atomic_folder, run_pipeline

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
    """The two runs of the demo."""

    out: Path
    runs: dict[str, RunResult]


def run_demo(out: Path, *, overwrite: bool = False, quiet: bool = True) -> DemoResult:
    """Run both Jinsha scenarios into ``out/before`` and ``out/after`` (atomically)."""
    root = sample_root()
    runs: dict[str, RunResult] = {}
    with atomic_folder(Path(out), overwrite=overwrite) as tmp:
        for scenario in SCENARIOS:
            pipe = load_pipeline(root / "pipelines" / f"jinsha_{scenario}.yaml")
            runs[scenario] = run_pipeline(pipe, tmp / scenario, quiet=quiet)
    for scenario, res in runs.items():
        res.out = Path(out) / scenario
    return DemoResult(Path(out), runs)


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
