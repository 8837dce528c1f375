"""The command line: exit status, one-line messages naming the culprit, help everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio


from .helpers import (edit_yaml, read_yaml, run_cli, run_gepgeo, skip_figure_drawing, write_tif,
                      write_yaml)






def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith("gepgeo ")


@pytest.mark.parametrize("cmd", [[], ["run"], ["demo"], ["validate"], ["profiles"],
                                 ["profiles", "show"]])
def test_help_on_every_command(cmd, capsys):
    code, out, _ = run_cli(cmd + ["--help"], capsys)
    assert code == 0 and "Usage" in out


def test_run_writes_a_run_folder(sample, capsys):
    out_dir = sample / "run"
    code, out, err = run_cli(["run", sample / "pipelines" / "jinsha_after.yaml", "--out", out_dir,
                              "--money-unit", "1e4"], capsys)
    assert code == 0, err
    assert (out_dir / "manifest.json").is_file()
    assert (out_dir / "maps" / "soil_retention.tif").is_file()
    assert (out_dir / "tables" / "services_by_land_type.csv").is_file()
    assert "1,212.56" in out
    # an existing folder is kept unless --overwrite
    code, _, err = run_cli(["run", sample / "pipelines" / "jinsha_after.yaml", "--out", out_dir],
                           capsys)
    assert code == 2 and "--overwrite" in err


def test_no_report_skips_reports_and_styles_and_report_overrides_the_pipeline(sample, capsys,
                                                                            monkeypatch):
    skip_figure_drawing(monkeypatch)       # which reports are written, not what they show
    pipes = sample / "pipelines"
    edit_yaml(pipes / "jinsha_after.yaml",
              lambda d: d.setdefault("options", {}).update(report=False))

    def written(folder):
        return sorted(p.name for p in folder.rglob("*") if p.suffix in (".html", ".qml"))

    code, _, err = run_cli(["run", pipes / "jinsha_after.yaml", "--out", sample / "r1", "-q"],
                           capsys)
    assert code == 0, err
    assert written(sample / "r1") == []                       # options.report: false
    code, _, err = run_cli(["run", "--report", pipes / "jinsha_after.yaml", "--out", sample / "r2",
                            "-q"], capsys)
    assert code == 0, err
    assert "report.html" in written(sample / "r2")            # --report wins over the pipeline
    code, _, err = run_cli(["compare", "--no-report", pipes / "jinsha_before.yaml",
                            pipes / "jinsha_after.yaml", "--out", sample / "c1", "-q"], capsys)
    assert code == 0, err
    assert (sample / "c1" / "change" / "tables" / "change_by_service.csv").is_file()
    assert written(sample / "c1") == []                       # no scenario or change report
    code, _, err = run_cli(["compare", pipes / "jinsha_before.yaml", pipes / "jinsha_after.yaml",
                            "--out", sample / "c2", "-q"], capsys)
    assert code == 0, err
    # one scenario wants a report: the comparison's is written, with both scenario reports it
    # links to
    for scen in ("before", "after", "change"):
        assert (sample / "c2" / scen / "report.html").is_file(), scen


def test_unknown_key_exits_2_naming_it(sample, capsys):
    p = edit_yaml(sample / "pipelines" / "jinsha_before.yaml", lambda d: d.update(colour="red"))
    code, _, err = run_cli(["run", p, "--out", sample / "o"], capsys)
    assert code == 2
    assert "'colour'" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not (sample / "o").exists()


def test_misspelt_parameter_exits_2_with_suggestion(sample, capsys):
    p = edit_yaml(sample / "pipelines" / "jinsha_before.yaml",
                  lambda d: d["parameters"].update(rainfall_erosivity=1.0))
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "'rainfall_erosivity'" in err and "rainfall_erosivity_r" in err


def test_missing_file_exits_2_naming_it(sample, capsys):
    p = edit_yaml(sample / "pipelines" / "jinsha_before.yaml",
                  lambda d: d["parameters"]["rainfall_erosivity_r"].update(path="../data/nope.tif"))
    code, _, err = run_cli(["run", p, "--out", sample / "o"], capsys)
    assert code == 2 and "nope.tif" in err and "does not exist" in err
    assert not (sample / "o").exists()


def test_missing_pipeline_file(tmp_path, capsys):
    code, _, err = run_cli(["validate", tmp_path / "absent.yaml"], capsys)
    assert code == 2 and "absent.yaml" in err


def test_not_a_raster(sample, capsys):
    (sample / "data" / "jinsha" / "rainfall_erosivity_r.tif").write_text("not a tiff")
    code, _, err = run_cli(["validate", sample / "pipelines" / "jinsha_before.yaml"], capsys)
    assert code == 2 and "rainfall_erosivity_r.tif" in err


def test_unmapped_codes_exit_2_listing_codes_and_counts(sample, capsys):
    path = sample / "data" / "jinsha" / "landuse_before.tif"
    with rasterio.open(path, "r+") as src:
        data = src.read(1)
        rows, cols = np.nonzero(data == 1)
        data[rows[:3], cols[:3]] = 9
        data[rows[3:8], cols[3:8]] = 11
        src.write(data, 1)
    pipe = sample / "pipelines" / "jinsha_before.yaml"
    for cmd in (["validate", pipe], ["run", pipe, "--out", sample / "o"]):
        code, _, err = run_cli(cmd, capsys)
        assert code == 2
        assert "9 (3 pixels)" in err and "11 (5 pixels)" in err, err
    assert not (sample / "o").exists()


def test_undeclared_nodata_hint(sample, capsys):
    p = edit_yaml(sample / "pipelines" / "jinsha_before.yaml",
                  lambda d: d["land_use"]["codes"].pop(2))
    path = sample / "data" / "jinsha" / "landuse_before.tif"
    with rasterio.open(path, "r+") as src:
        src.nodata = None
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2
    assert "0 (3263 pixels)" in err and "nodata" in err and "2 (95 pixels)" in err


def test_profile_missing_land_type(sample, capsys):
    p = edit_yaml(sample / "pipelines" / "jinsha_before.yaml",
                  lambda d: d["land_use"]["codes"].update({6: "wetland"}))
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "wetland" in err


def test_profiles_list_and_show(capsys):
    code, out, _ = run_cli(["profiles"], capsys)
    assert code == 0
    for name in ("jinsha-as-published", "jinsha-as-stated", "forest-review-2026",
                 "ouyang-garze-2010"):
        assert name in out
    code, out, _ = run_cli(["profiles", "show", "jinsha-as-published"], capsys)
    assert code == 0 and "soil_n_content" in out and "inferred" in out
    code, _, err = run_cli(["profiles", "show", "jinsha-as-publishd"], capsys)
    assert code == 2 and "did you mean 'jinsha-as-published'" in err


def test_module_entry_point_runs_in_a_fresh_process(sample):
    proc = run_gepgeo("validate", sample / "pipelines" / "jinsha_before.yaml", timeout=300)
    assert proc.returncode == 0, proc.stderr
    bad = edit_yaml(sample / "pipelines" / "jinsha_after.yaml", lambda d: d.update(oops=1))
    proc = run_gepgeo("run", bad, timeout=300)
    assert proc.returncode == 2 and "'oops'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [
    [], ["run"], ["run", "--bogus", "x.yaml"], ["frobnicate"], ["profiles", "show"],
    ["run", "{pipe}", "--workers", "x"], ["run", "{pipe}", "--workers", "0"],
    ["compare", "{pipe}", "{pipe}"],
])
def test_usage_errors_exit_2_with_one_line(sample, capsys, args):
    """Every command-line usage error is bad input: exit 2, one line, no 'internal error'."""
    pipe = str(sample / "pipelines" / "jinsha_before.yaml")
    code, out, err = run_cli([a.replace("{pipe}", pipe) for a in args], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("gepgeo: error: ") and "internal error" not in err
    assert not list(sample.glob("*out*"))


@pytest.mark.parametrize("kind", ["folder", "loop", "dangling"])
def test_pipeline_that_is_not_a_file_says_what_it_is(tmp_path, capsys, kind):
    p = tmp_path / "p.yaml"
    if kind == "folder":
        p.mkdir()
        expected = "is a folder"
    elif kind == "loop":
        p.symlink_to(tmp_path / "q.yaml")
        (tmp_path / "q.yaml").symlink_to(p)
        expected = "symbolic link loop"
    else:
        p.symlink_to(tmp_path / "gone.yaml")
        expected = "broken symbolic link"
    for cmd in ("run", "validate"):
        code, _, err = run_cli([cmd, p], capsys)
        assert code == 2 and expected in err and "does not exist" not in err.split("(")[0], err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("unit", ["0", "-1e4", "nan", "inf"])
def test_money_unit_is_checked_before_anything_is_written(sample, capsys, unit):
    out_dir = sample / "o"
    code, _, err = run_cli(["run", sample / "pipelines" / "jinsha_before.yaml", "--out", out_dir,
                            "--money-unit", unit, "-q"], capsys)
    assert code == 2 and "--money-unit" in err and "internal error" not in err
    assert not out_dir.exists() and not list(sample.glob(".o.tmp-*"))
    code, _, err = run_cli(["compare", sample / "pipelines" / "jinsha_before.yaml",
                            sample / "pipelines" / "jinsha_after.yaml", "--out", out_dir,
                            "--money-unit", unit, "-q"], capsys)
    assert code == 2 and "--money-unit" in err and not out_dir.exists()


def test_user_text_is_printed_literally_and_escaped(sample, capsys):
    """Names and paths from the user are not rich markup, and control characters in them
    (ANSI escape sequences) are shown escaped, never sent to the terminal."""
    p = edit_yaml(sample / "pipelines" / "jinsha_after.yaml",
                  lambda d: d.update(name="[/red] run [bold]x", output=None))
    out_dir = sample / "o[/x] out[v1] \x1b]0;pwned\x07\x1b[2J"
    code, out, err = run_cli(["run", p, "--out", out_dir], capsys)
    assert code == 0, err
    assert out_dir.is_dir()
    assert "[/red] run [bold]x" in out
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "o[/x] out[v1] \\x1b]0;pwned\\x07\\x1b[2J" in err
    # validate echoes the pipeline path; profiles show echoes a user profile's text
    code, out, err = run_cli(["validate", p], capsys)
    assert code == 0, err
    prof = sample / "[red]prof.yaml"
    write_yaml(prof, {
        "name": "[/red] mine", "kind": "valuation", "price_year": 2020,
        "title": "\x1b[31mred[/x]",
        "parameters": {"water_price": {"value": 2.4, "unit": "yuan m-3",
                                       "source": "[link=file:///etc]x[/link]", "note": "[/b]"}}})
    code, out, err = run_cli(["profiles", "show", prof], capsys)
    assert code == 0, err
    assert "[/red] mine" in out and "\x1b" not in out and "\\x1b[31mred[/x]" in out
    assert "[/b]" in out


def test_compare_prints_land_type_names_literally(sample, capsys):
    """Land-type names head the transition table: markup in them is text, not a crash."""
    name = "forest [/x] [bold]"
    for scen in ("before", "after"):
        edit_yaml(sample / "pipelines" / f"jinsha_{scen}.yaml",
                  lambda d: d["land_use"]["codes"].update({3: name}))
    prof = sample / "prof.yaml"
    from gepgeo.profiles import load_profile

    # the profile's tables name 'forest': rename the land type in a copy of the profile too
    doc = read_yaml(load_profile("jinsha-as-published").path)

    def rename(x):
        if isinstance(x, dict):
            return {(name if k == "forest" else k): rename(v) for k, v in x.items()}
        if isinstance(x, list):
            return [name if v == "forest" else rename(v) for v in x]
        return x

    write_yaml(prof, rename(doc), allow_unicode=True)
    for scen in ("before", "after"):
        edit_yaml(sample / "pipelines" / f"jinsha_{scen}.yaml",
                  lambda d: d["profile"].update(name="../prof.yaml"))
    code, out, err = run_cli(["compare", "--no-report", sample / "pipelines" / "jinsha_before.yaml",
                              sample / "pipelines" / "jinsha_after.yaml", "--out", sample / "c"],
                             capsys)
    assert code == 0, err
    assert name in out


def test_wrote_line_is_one_line_for_a_long_path(sample, capsys):
    out_dir = sample / ("a-rather-long-folder-name-" * 6) / ("and-another-one-" * 6)
    assert len(str(out_dir)) > 250
    code, _, err = run_cli(["run", sample / "pipelines" / "jinsha_after.yaml", "--out", out_dir,
                            "-q"], capsys)
    assert code == 0, err
    # (a fresh clone's first run also says, on its own line, that it compiles the kernel)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("gepgeo: compiling")]
    assert lines == [f"wrote {out_dir}"]


def test_malformed_scheduler_address_is_bad_input(sample, capsys):
    code, _, err = run_cli(["run", sample / "pipelines" / "jinsha_after.yaml", "--out",
                            sample / "o", "-q", "--scheduler", "not an address"], capsys)
    assert code == 2 and "scheduler 'not an address'" in err and "internal error" not in err
    assert not (sample / "o").exists()


@pytest.mark.parametrize("address", ["not an address", "tcp://host:notaport", "foo://x"])
def test_a_failed_scheduler_leaves_the_session_as_it_was(sample, capsys, address):
    """A dask Client makes itself the process's default scheduler before it connects: one
    that failed stayed the default, and every later computation in the session (a notebook,
    the test-suite) was sent to it; a half-made Client also hung for 20 s when collected."""
    import gc
    import time

    import dask

    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    before = dask.config.get("scheduler", None)
    code, _, err = run_cli(["run", sample / "pipelines" / "jinsha_after.yaml", "--out",
                            sample / "o", "-q", "--scheduler", address], capsys)
    assert code == 2 and "cannot connect" in err
    assert dask.config.get("scheduler", None) == before
    t0 = time.perf_counter()
    gc.collect()            # the half-made Client's 20 s hang was here (timed alone: a whole
    assert time.perf_counter() - t0 < 10    # run under a loaded machine's timing is no test)
    res = run_pipeline(load_pipeline(sample / "pipelines" / "jinsha_after.yaml"), sample / "p",
                       quiet=True)
    assert res.manifest["engine"] == "threads"


def test_an_output_key_with_escape_sequences_is_printed_escaped(sample, capsys):
    """The pipeline's own ``output:`` key (not only ``--out``) is user text: printed escaped."""
    target = sample / "o[/x] \x1b]0;pwned\x07\x1b[2J"
    p = edit_yaml(sample / "pipelines" / "jinsha_after.yaml",
                  lambda d: d.update(output=str(target)))
    code, out, err = run_cli(["run", p], capsys)
    assert code == 0, err
    assert target.is_dir()
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "o[/x] \\x1b]0;pwned\\x07\\x1b[2J" in err


def test_paths_written_by_codes_and_profiles_template_are_printed_escaped(tmp_path, capsys):
    from affine import Affine

    lu = np.array([[1, 2], [2, 1]], dtype=np.uint8)
    path = write_tif(tmp_path / "lu.tif", lu, Affine(10, 0, 0, 0, -10, 0), nodata=0)
    for args, name in ((["codes", path, "--write"], "c[bold]x\x1b[2J.yaml"),
                       (["profiles", "template", "--land-types", "forest", "--out"],
                        "p[bold]x\x1b[2J.yaml")):
        code, out, err = run_cli([*args, tmp_path / name], capsys)
        assert code == 0, err
        assert (tmp_path / name).is_file()
        assert "\x1b" not in out + err and name.replace("\x1b", "\\x1b") in err


def test_an_unreadable_pipeline_is_one_line_naming_it(sample, capsys, monkeypatch):
    """Permission denied (simulated: the tests may run as root, who reads any file)."""
    p = sample / "pipelines" / "jinsha_after.yaml"
    real = Path.read_text

    def denied(self, *a, **k):
        if self == p:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", denied)
    code, out, err = run_cli(["run", p, "--out", sample / "o"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(p) in lines[0]
    assert "cannot be read (Permission denied)" in lines[0]
    assert not (sample / "o").exists()
