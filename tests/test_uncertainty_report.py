"""The uncertainty in ``report.html`` (gepgeo/report/intervals.py): the GEP interval in a run's
headline with its draws and method, error bars on the service and land-type charts, the
tornado chart of GEP's Sobol' indices with the fixed parameters named below it, the sentence
said when the point estimate lies outside its interval; the change's interval and P(GEP rose)
in a comparison's headline; the same in Chinese; nothing of it without draws.

One small comparison of the Jinsha pair (256 draws, no value maps, so that the reports are
quick), written with its reports by :func:`gepgeo.compare.run_compare` itself: the scenario
reports are the ones the comparison writes once both scenarios are drawn. The numbers expected
are read from the CSV files and formatted here as the report prints them (10⁴ yuan, 2
decimals).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from gepgeo.report import build_compare_report, build_run_report

pytestmark = pytest.mark.filterwarnings("ignore::gepgeo.errors.ProfileScopeWarning")

DRAWS = 256


def _small(pipe):
    """A Jinsha pipeline without value maps (the reports draw two maps, not ten)."""
    opts = pipe.options.model_copy(update={"value_maps": False})
    return pipe.model_copy(update={"options": opts})


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    from gepgeo.compare import run_compare
    from gepgeo.demo import demo_pipeline

    out = tmp_path_factory.mktemp("unc-report") / "cmp"
    run_compare(_small(demo_pipeline("before", DRAWS)), _small(demo_pipeline("after", DRAWS)),
                out)
    return out


@pytest.fixture(scope="module")
def no_draws(tmp_path_factory) -> Path:
    """The before scenario run alone without draws (its ranges are there, not drawn)."""
    from gepgeo.demo import demo_pipeline
    from gepgeo.run import run_pipeline

    out = tmp_path_factory.mktemp("unc-report") / "plain"
    run_pipeline(_small(demo_pipeline("before", 0)), out)
    return out


def _visible(page: str) -> str:
    body = re.sub(r"<style>.*?</style>|<script>.*?</script>", "", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def _section(page: str, anchor: str) -> str | None:
    m = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    return _visible(m.group(1)) if m else None


def _m(yuan: float, signed: bool = False) -> str:
    return f"{yuan / 1e4:+,.2f}" if signed else f"{yuan / 1e4:,.2f}"


def _gep_row(folder: Path, name: str = "uncertainty_by_service.csv") -> pd.Series:
    df = pd.read_csv(folder / "tables" / name)
    return df[(df.service == "gep") & (df.measure == "value")].iloc[0]


def test_run_headline_gives_the_interval_from_the_csv_with_draws_and_method(compared):
    for scenario in ("before", "after"):
        page = (compared / scenario / "report.html").read_text(encoding="utf-8")
        summary = _section(page, "summary")
        assert summary is not None
        g = _gep_row(compared / scenario)
        assert f"{_m(g['p5'])} to {_m(g['p95'])}" in summary            # 90 %: 5–95 %
        assert f"{_m(g['p2.5'])} to {_m(g['p97.5'])}" in summary        # 95 %: 2.5–97.5 %
        assert "GEP 90 % interval (5–95 %)" in summary
        assert "95 % interval (2.5th to 97.5th)" in summary
        assert f"median {_m(g['median'])}, mean {_m(g['mean'])}" in summary
        assert f"From {DRAWS} draws (scrambled Sobol' sampling, seed 1) of 7 uncertain" in summary
        fixed = pd.read_csv(compared / scenario / "tables" / "uncertainty_parameters.csv")
        assert f"{int((fixed.drawn == 'no').sum())} parameters are fixed" in summary


def test_a_point_outside_its_interval_is_said_in_one_sentence(compared):
    """The Jinsha prices sit at the low end of their ranges: GEP's point lies below its
    interval; the headline says so (and does not when the point is inside)."""
    for scenario in ("before", "after"):
        g = _gep_row(compared / scenario)
        summary = _section((compared / scenario / "report.html").read_text("utf-8"), "summary")
        assert summary is not None
        if g["point"] < g["p2.5"]:
            level = "95"
        elif g["point"] < g["p5"]:
            level = "90"
        else:
            level = ""
        said = re.findall(r"The point estimate of GEP \(([\d,.]+)\) lies below its (\d+) % "
                          r"interval", summary)
        assert said == ([(_m(g["point"]), level)] if level else [])
        assert "lies above" not in summary
    assert _gep_row(compared / "before")["point"] < _gep_row(compared / "before")["p5"]


def test_tornado_chart_and_the_fixed_parameters_below_it(compared):
    run = compared / "before"
    page = run.joinpath("report.html").read_text(encoding="utf-8")
    assert '<a href="#uncertainty">' in page                           # in the navigation
    sec = re.search(r'<section id="uncertainty">(.*?)</section>', page, re.S)
    assert sec is not None
    imgs = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', sec.group(1))
    assert imgs == ["Sobol indices of GEP"]
    text = _visible(sec.group(1))
    sens = pd.read_csv(run / "tables" / "sensitivity.csv")
    n = int((sens.output == "gep").sum())
    assert n == 7 and f"{n} of {n} parameters, largest total index first" in text
    # the fixed parameters are named after the chart, each under its reason
    params = pd.read_csv(run / "tables" / "uncertainty_parameters.csv", dtype=str,
                         keep_default_na=False)
    after_chart = text[text.index("largest total index first"):]
    fixed = params[params.drawn == "no"]
    assert len(fixed) > 20
    for reason, rows in fixed.groupby("reason"):
        assert f"{reason}: {', '.join(rows.parameter)}" in after_chart
    for p in params[params.drawn == "yes"].parameter:                  # and the drawn ones
        assert p in after_chart[after_chart.index("Drawn parameters (7)"):]


def test_charts_have_error_bars_and_captions(compared):
    page = (compared / "before" / "report.html").read_text(encoding="utf-8")
    values = _section(page, "values")
    assert values is not None
    assert "Error bars: the 5–95 % interval of each service's value" in values
    assert "Error bars: the 5–95 % interval of each land type's value" in values


def test_service_chart_error_bars_span_the_5_to_95_percent_values(compared):
    from gepgeo.report.figures import value_by_service_figure
    from gepgeo.report.intervals import run_uncertainty
    from gepgeo.report.files import read_manifest

    run = compared / "after"
    unc = run_uncertainty(run, read_manifest(run / "manifest.json"))
    assert unc is not None
    by_service = pd.read_csv(run / "tables" / "gep_by_service.csv")
    ax = value_by_service_figure(by_service, unc.by_service).axes[0]
    (eb,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segs = np.concatenate([np.asarray(s) for s in eb.lines[2][0].get_segments()])
    spans = sorted((round(a, 6), round(b, 6)) for a, b in segs[:, 0].reshape(-1, 2))
    svc = pd.read_csv(run / "tables" / "uncertainty_by_service.csv")
    rows = svc[(svc.measure == "value") & (svc.service != "gep") & (svc.p95 > svc.p5)]
    assert len(rows) >= 5
    assert spans == sorted((round(a / 1e4, 6), round(b / 1e4, 6))
                           for a, b in zip(rows.p5, rows.p95))
    # without intervals: the chart as it was, no error bar
    plain = value_by_service_figure(by_service).axes[0]
    assert not [c for c in plain.containers if isinstance(c, ErrorbarContainer)]
    assert [type(c) for c in plain.containers] == [BarContainer, BarContainer][:1]


def test_land_type_chart_error_bars_stand_on_their_segments(compared):
    from gepgeo.report.figures import value_by_land_type_figure
    from gepgeo.report.files import read_manifest
    from gepgeo.report.intervals import run_uncertainty

    run = compared / "before"
    unc = run_uncertainty(run, read_manifest(run / "manifest.json"))
    assert unc is not None
    by_lt = pd.read_csv(run / "tables" / "gep_by_land_type.csv")
    ax = value_by_land_type_figure(by_lt, {}, unc.by_land_type).axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    lt_rows = by_lt[(by_lt.land_type != "total") & (by_lt.filter(like="_value").abs().sum(axis=1)
                                                   > 0)]
    assert len(bars) == len(lt_rows)
    # the first land type drawn stands on 0: its bars span its own 5–95 % values
    first = lt_rows.land_type.iloc[0]
    table = pd.read_csv(run / "tables" / "uncertainty_by_land_type.csv")
    rows = table[(table.land_type == first) & (table.measure == "value")
                 & (table.service != "gep") & (table.p95 > table.p5)]
    segs = np.asarray([s[:, 1] for s in bars[0].lines[2][0].get_segments()])
    assert sorted(map(tuple, np.round(segs, 6))) == sorted(
        (round(a / 1e4, 6), round(b / 1e4, 6)) for a, b in zip(rows.p5, rows.p95))


def test_tornado_bars_are_the_indices_largest_total_first():
    from gepgeo.report.figures import sensitivity_figure

    sens = pd.DataFrame({"output": "gep", "parameter": ["b", "a[forest]", "c"],
                         "first_order": [0.5, 0.3, -0.01], "total_order": [0.6, 0.35, 0.02]})
    ax = sensitivity_figure(sens).axes[0]
    total, first = (c for c in ax.containers if isinstance(c, BarContainer))
    assert [r.get_width() for r in total] == [0.6, 0.35, 0.02]
    assert [r.get_width() for r in first] == [0.5, 0.3, -0.01]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a [forest]", "c"]


def test_compare_headline_gives_the_change_interval_and_p_rose(compared):
    page = (compared / "change" / "report.html").read_text(encoding="utf-8")
    summary = _section(page, "summary")
    assert summary is not None
    g = _gep_row(compared / "change", "uncertainty_change.csv")
    assert f"{_m(g['p5'], True)} to {_m(g['p95'], True)}" in summary
    assert f"{_m(g['p2.5'], True)} to {_m(g['p97.5'], True)}" in summary
    assert f"P(GEP rose) = {g['p_rose']:.3f}" in summary
    k = int(round(g["p_rose"] * DRAWS))
    assert f"GEP rose in {k:,} of {DRAWS:,} draws" in summary
    assert f"drawn {DRAWS} times, both scenarios from one sample" in summary
    inside = g["p2.5"] <= g["change"] <= g["p97.5"] and g["p5"] <= g["change"] <= g["p95"]
    assert ("The point estimate of the change of GEP" in summary) is (not inside)


def test_chinese_labels(compared):
    run_page = build_run_report(compared / "before", "zh")
    # the sections it adds to (the parameters' notes and the CSV cells stay as written)
    text = " ".join(_section(run_page, s) or "" for s in ("summary", "values", "uncertainty"))
    g = _gep_row(compared / "before")
    for zh in ("GEP 90 % 区间（5–95 %）", f"{_m(g['p5'])} 至 {_m(g['p95'])}",
               f"{_m(g['p2.5'])} 至 {_m(g['p97.5'])}", "扰乱 Sobol' 序列", "不确定性",
               "固定参数", "抽样参数", "误差线", "GEP的点估计", "未给出范围", "均匀分布"):
        assert zh in text, zh
    assert 'alt="GEP 的 Sobol 指数"' in run_page
    for en in ("Uncertainty", "interval", "Error bars", "Fixed parameters", "Drawn parameters",
               "draws", "point estimate", "no range given", "Sobol indices", "common random"):
        assert en not in text, en
    cmp_text = _section(build_compare_report(compared, lang="zh"), "summary") or ""
    p = _gep_row(compared / "change", "uncertainty_change.csv")["p_rose"]
    assert f"GEP 上升的概率 = {p:.3f}" in cmp_text
    assert "变化量 90 % 区间（5–95 %）" in cmp_text
    for en in ("P(GEP rose)", "interval", "common random numbers", "draws"):
        assert en not in cmp_text, en


def test_no_draws_no_uncertainty_in_the_report(no_draws):
    page = (no_draws / "report.html").read_text(encoding="utf-8")
    assert '<section id="uncertainty">' not in page and "#uncertainty" not in page
    text = " ".join(_section(page, s) or "" for s in ("summary", "values"))
    assert "GEP = 68.25" in text
    for word in ("interval", "Sobol", "Error bars", "draws", "point estimate", "Uncertainty"):
        assert word not in text, word
    # the two charts and no tornado (land use and maps are inline SVG)
    assert page.count("<img") == 2 and page.count('<svg class="map"') == 3
    assert not (no_draws / "tables" / "uncertainty_by_service.csv").exists()


def test_the_report_modules_do_not_import_scipy():
    """The report formats the numbers the run computed: no scipy in gepgeo/report (scipy.stats
    costs about a second to import; ``python -X importtime -c "import gepgeo.cli"`` shows no
    scipy.stats)."""
    import gepgeo.report

    for path in Path(gepgeo.report.__file__).parent.glob("*.py"):
        assert not re.search(r"^\s*(from|import) scipy", path.read_text("utf-8"), re.M), path


def test_tornado_names_parameters_in_chinese():
    from gepgeo.i18n import use_lang
    from gepgeo.report.figures import sensitivity_figure

    sens = pd.DataFrame({"output": "gep",
                         "parameter": ["carbon_price", "carbon_sequestration_rate[forest]",
                                       "fertilizer", "no_such_key"],
                         "first_order": [0.5, 0.3, 0.1, 0.0], "total_order": [0.6, 0.35, 0.1, 0.0]})
    with use_lang("zh"):
        ax = sensitivity_figure(sens).axes[0]
    # a group's name and an unknown key stay as given (spaces for "_")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "碳价格", "单位面积固碳速率 [林地]", "fertilizer", "no such key"]
    ax = sensitivity_figure(sens).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == [
        "carbon price", "carbon sequestration rate [forest]"]


def test_change_chart_has_the_change_intervals_as_error_bars(compared):
    from gepgeo.report.figures import change_by_service_figure
    from gepgeo.report.intervals import _quantile_map
    from gepgeo.report.tables import change_rows

    change = change_rows(pd.read_csv(compared / "change" / "tables" / "change_by_service.csv"))
    unc = pd.read_csv(compared / "change" / "tables" / "uncertainty_change.csv")
    iv = _quantile_map(unc, ["service"])
    ax = change_by_service_figure(change, (), iv).axes[1]
    (eb,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segs = np.asarray([s[:, 0] for s in eb.lines[2][0].get_segments()])
    rows = unc[(unc.measure == "value") & (unc.service != "gep") & (unc.p95 > unc.p5)]
    assert len(rows) >= 3
    assert sorted(map(tuple, np.round(segs, 6))) == sorted(
        (round(a / 1e4, 6), round(b / 1e4, 6)) for a, b in zip(rows.p5, rows.p95))
    # no intervals: no error bar
    plain = change_by_service_figure(change).axes[1]
    assert not [c for c in plain.containers if isinstance(c, ErrorbarContainer)]
    page = (compared / "change" / "report.html").read_text(encoding="utf-8")
    assert "Error bars: the 5–95 % interval of each service&#39;s change" in page \
        or "Error bars: the 5–95 % interval of each service's change" in page
