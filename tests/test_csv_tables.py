"""Tables by land type from a CSV file: ``by_land_type: {csv: FILE, column: NAME}``."""

from __future__ import annotations

import pytest

from gepgeo.errors import ConfigError
from gepgeo.pipeline import load_pipeline
from gepgeo.profiles import load_profile
from gepgeo.run import run_pipeline

from .helpers import edited_yaml, read_manifest, read_yaml, run_cli, write_yaml

CSV = ("\ufeffland_type,cover_c,碳汇速率\n"        # Excel's byte-order mark, a Chinese header
       "dryland,0.13,0.047\n"
       "forest,0.001,1.17\n"
       "grassland,0.04,\n")                        # a blank cell: grassland left out


def _pipeline(sample, override):
    doc = read_yaml(sample / "pipelines" / "jinsha_before.yaml")
    doc["profile"]["overrides"] = override
    return write_yaml(sample / "pipelines" / "with_csv.yaml", doc, allow_unicode=True)


def test_pipeline_table_from_csv_equals_the_inline_table(sample):
    (sample / "pipelines" / "params.csv").write_text(CSV, encoding="utf-8")
    pipe = load_pipeline(_pipeline(sample, {"cover_management_c": {
        "by_land_type": {"csv": "params.csv", "column": "cover_c"}}}))
    table = pipe.profile.overrides["cover_management_c"].by_land_type
    assert table == {"dryland": 0.13, "forest": 0.001, "grassland": 0.04}
    pipe2 = load_pipeline(_pipeline(sample, {"carbon_sequestration_rate": {
        "by_land_type": {"csv": "params.csv", "column": "碳汇速率"}, "unit": "t C ha-1 a-1"}}))
    assert pipe2.profile.overrides["carbon_sequestration_rate"].by_land_type == {
        "dryland": 0.047, "forest": 1.17}


def test_csv_override_gives_the_same_account_as_the_profile_values(sample, tmp_path):
    """The Jinsha profile's own C table, given again from a CSV: the tables are unchanged."""
    (sample / "pipelines" / "params.csv").write_text(CSV, encoding="utf-8")
    base = run_pipeline(load_pipeline(sample / "pipelines" / "jinsha_before.yaml"),
                        tmp_path / "a", quiet=True, report=False)
    csvrun = run_pipeline(load_pipeline(_pipeline(sample, {"cover_management_c": {
        "by_land_type": {"csv": "params.csv", "column": "cover_c"}}})), tmp_path / "b",
        quiet=True, report=False)
    assert csvrun.tidy.amount.tolist() == base.tidy.amount.tolist()


def test_profile_table_from_csv(tmp_path):
    (tmp_path / "rates.csv").write_text("lt,rate\nforest,2.5\nshrub,0.75\n")
    (tmp_path / "p.yaml").write_text(
        "name: p\nkind: valuation\nprice_year: 2020\nland_types: [forest, shrub]\n"
        "parameters:\n  carbon_sequestration_rate:\n"
        "    by_land_type: {csv: rates.csv, column: rate}\n    unit: t C ha-1 a-1\n")
    prof = load_profile(str(tmp_path / "p.yaml"))
    assert prof.parameters()["carbon_sequestration_rate"].value == {"forest": 2.5, "shrub": 0.75}


@pytest.mark.parametrize("text, column, words", [
    ("lt,a\nforest,1\n", "b", "has no column 'b' (columns: a)"),
    ("lt,a\nforest,x1\n", "a", "row 2, column 'a': 'x1' is not a number"),
    ("lt,a\nforest,1\nforest,2\n", "a", "lists land type 'forest' twice"),
    ("lt,a\nforest,inf\n", "a", "not a finite number"),
    ("lt,a\n", "a", "needs a header row"),
    ("lt,a\nforest,\n", "a", "has no values"),
])
def test_bad_csv_tables_are_refused_naming_file_row_and_column(sample, text, column, words):
    (sample / "pipelines" / "params.csv").write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_pipeline(_pipeline(sample, {"cover_management_c": {
            "by_land_type": {"csv": "params.csv", "column": column}}}))


def test_missing_csv_file_is_named(sample):
    with pytest.raises(ConfigError, match="profile.overrides.cover_management_c.by_land_type: "
                                          "CSV file .*nope.csv' does not exist"):
        load_pipeline(_pipeline(sample, {"cover_management_c": {
            "by_land_type": {"csv": "nope.csv", "column": "c"}}}))


def test_csv_tables_and_user_profiles_are_inputs(sample, capsys):
    """A CSV table and a profile given by path are inputs like the rasters: checksummed in the
    manifest, and a gepgeo folder that holds one is never replaced by --overwrite."""
    import hashlib

    out = sample / "run"
    code, _, err = run_cli(["run", "--no-report",
                            sample / "pipelines" / "jinsha_before.yaml", "--out", out,
                            "-q"], capsys)
    assert code == 0, err
    (out / "params.csv").write_text(CSV, encoding="utf-8")     # kept in an old run folder
    p = _pipeline(sample, {"cover_management_c": {
        "by_land_type": {"csv": "../run/params.csv", "column": "cover_c"}}})
    code, _, err = run_cli(["run", "--no-report", p, "--out", out, "--overwrite", "-q"], capsys)
    assert code == 2 and "params.csv" in err, err
    assert (out / "params.csv").read_text(encoding="utf-8") == CSV
    # elsewhere, the run records the CSV and a user profile with their checksums
    (sample / "pipelines" / "params.csv").write_text(CSV, encoding="utf-8")
    prof = sample / "pipelines" / "mine.yaml"
    prof.write_text("name: mine\nkind: valuation\nprice_year: 2020\nextends: jinsha-as-published\n"
                    "scenarios:\n  before:\n    water_price: {value: 3.0, unit: yuan m-3}\n")
    with edited_yaml(p) as doc:
        doc["profile"]["name"] = "mine.yaml"
        doc["profile"]["overrides"]["cover_management_c"]["by_land_type"]["csv"] = "params.csv"
    code, _, err = run_cli(["run", "--no-report", p, "--out", sample / "run2", "-q"], capsys)
    assert code == 0, err
    inputs = read_manifest(sample / "run2")["inputs"]
    by_path = {v["path"]: v for v in inputs.values()}
    for f in (sample / "pipelines" / "params.csv", prof):
        assert by_path[str(f)]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
