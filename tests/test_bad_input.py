"""Bad input (issue: clear errors, nothing half-written): every case exits 2 naming the culprit,
or is handled by a documented rule (alignment with a warning, nodata where uncovered)."""

from __future__ import annotations


import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import calculate_default_transform

from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline, validate

from .helpers import edited_yaml, raster_info, read_band, run_cli, write_tif, write_yaml






def _set_layer(sample, path_rel, **extra):
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["parameters"]["rainfall_erosivity_r"] = {"path": path_rel,
                                                     "unit": "MJ mm ha-1 h-1 a-1", **extra}
    return p


def _regrid(sample, dst_crs=None, res=None, shift=(0.0, 0.0), pad=0, name="r_moved.tif",
            value=5823.42):
    """A constant R raster on another grid (CRS, resolution, offset, extent)."""
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    crs = dst_crs or grid.crs
    if dst_crs:
        t, w, h = calculate_default_transform(grid.crs, crs, grid.width, grid.height, *grid.bounds)
    else:
        r = res or grid.transform.a
        t = Affine(r, 0, grid.transform.c - pad * r, 0, -r, grid.transform.f + pad * r)
        w = int(grid.width * grid.transform.a / r) + 2 * pad
        h = int(grid.height * grid.transform.a / r) + 2 * pad
    t = Affine(t.a, 0, t.c + shift[0] * t.a, 0, t.e, t.f + shift[1] * t.e)
    write_tif(sample / "data" / "jinsha" / name, np.full((h, w), value, dtype=np.float32), t,
              crs=str(crs), nodata=-9999.0)
    return f"../data/jinsha/{name}"


def _soil(res):
    return float(res.tidy.query("measure == 'soil_retention'").amount.sum())


@pytest.fixture()
def reference(sample):
    return _soil(run_pipeline(load_pipeline(sample / "pipelines" / "jinsha_after.yaml"),
                              sample / "ref", quiet=True, report=False))


@pytest.mark.parametrize("kind", ["crs", "resolution", "half-pixel"])
def test_layer_on_another_grid_is_aligned_with_a_warning(sample, reference, kind, capsys):
    rel = {"crs": lambda: _regrid(sample, dst_crs="EPSG:4326"),
           "resolution": lambda: _regrid(sample, res=20.0, pad=2),
           "half-pixel": lambda: _regrid(sample, shift=(-0.5, -0.5), pad=1)}[kind]()
    p = _set_layer(sample, rel)
    with pytest.warns(UserWarning, match="bilinear resampling"):
        res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    assert _soil(res) == pytest.approx(reference, rel=1e-6)   # a constant field stays constant
    assert any("bilinear" in w for w in res.manifest["warnings"])
    code, _, err = run_cli(["validate", p, "--strict-grid"], capsys)
    assert code == 2 and "rainfall_erosivity_r" in err and "strict-grid" in err


def test_aligned_larger_layer_is_read_exactly_without_warning(sample, reference, recwarn):
    p = _set_layer(sample, _regrid(sample, pad=7))
    res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    assert _soil(res) == reference
    assert not res.manifest["warnings"]


def test_partial_coverage_is_nodata_and_counted(sample, reference):
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    t, h, w = grid.transform, grid.height, grid.width
    half = Affine(t.a, 0, t.c, 0, t.e, t.f)
    write_tif(sample / "data" / "jinsha" / "r_half.tif",
              np.full((h // 2, w), 5823.42, dtype=np.float32), half, nodata=-9999.0)
    p = _set_layer(sample, "../data/jinsha/r_half.tif")
    with pytest.warns(UserWarning, match="covers only"):
        res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    soil = res.tidy.query("service == 'soil' and measure == 'value'")
    assert soil.excluded_pixels.sum() > 0
    assert 0 < _soil(res) < reference


def test_layer_that_does_not_overlap(sample, capsys):
    p = _set_layer(sample, _regrid(sample, shift=(500.0, 0.0)))
    code, _, err = run_cli(["run", "--no-report", p, "--out", sample / "o"], capsys)
    assert code == 2 and "does not overlap" in err and "r_moved.tif" in err
    assert not (sample / "o").exists()


def test_layer_without_crs(sample, capsys):
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    t, shape = grid.transform, grid.shape
    write_tif(sample / "data" / "jinsha" / "r_nocrs.tif", np.full(shape, 5823.42, np.float32),
              t, crs=None)
    p = _set_layer(sample, "../data/jinsha/r_nocrs.tif")
    code, _, err = run_cli(["run", "--no-report", p, "--out", sample / "o"], capsys)
    assert code == 2 and "r_nocrs.tif" in err and "no CRS" in err


def test_land_use_without_crs(sample, capsys):
    path = sample / "data" / "jinsha" / "landuse_after.tif"
    data, t = read_band(path), raster_info(path).transform
    path.unlink()
    write_tif(path, data, t, crs=None, nodata=0)
    code, _, err = run_cli(["validate", sample / "pipelines" / "jinsha_after.yaml"], capsys)
    assert code == 2 and "landuse_after.tif" in err and "CRS" in err


def test_truncated_geotiff(sample, capsys):
    # a multi-tile raster cut short: the header opens, the tiles do not decode
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    t, shape = grid.transform, grid.shape
    rng = np.random.default_rng(0)
    path = write_tif(sample / "data" / "jinsha" / "r_trunc.tif",
                     rng.uniform(5000, 6000, shape).astype(np.float32), t, block=16,
                     compress="deflate")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    p = _set_layer(sample, "../data/jinsha/r_trunc.tif")
    code, _, err = run_cli(["run", "--no-report", p, "--out", sample / "o"], capsys)
    assert code == 2, err
    assert "r_trunc.tif" in err
    assert "Traceback" not in err
    assert not (sample / "o").exists()
    assert not list(sample.glob(".o.tmp-*"))


def test_nan_and_sentinel_nodata(sample):
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    t, shape = grid.transform, grid.shape
    r = np.full(shape, 5823.42, dtype=np.float32)
    r[:10, :] = np.nan           # NaN is always nodata, declared or not
    r[10:20, :] = -9999.0        # the declared sentinel
    write_tif(sample / "data" / "jinsha" / "r_nd.tif", r, t, nodata=-9999.0)
    p = _set_layer(sample, "../data/jinsha/r_nd.tif")
    res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    lu = read_band(sample / "data" / "jinsha" / "landuse_after.tif")
    expected = int((lu[:20, :] != 0).sum())
    soil = res.tidy.query("service == 'soil' and measure == 'value'")
    assert int(soil.excluded_pixels.sum()) == expected
    # a sentinel declared only in the pipeline
    write_tif(sample / "data" / "jinsha" / "r_nd2.tif", np.where(np.isnan(r), 5823.42, r)
              .astype(np.float32), t, nodata=None)
    p = _set_layer(sample, "../data/jinsha/r_nd2.tif", nodata=-9999.0)
    res = run_pipeline(load_pipeline(p), sample / "out2", quiet=True, report=False)
    soil = res.tidy.query("service == 'soil' and measure == 'value'")
    assert int(soil.excluded_pixels.sum()) == int((lu[10:20, :] != 0).sum())


def test_integer_land_use_nodata_and_all_nodata(sample, capsys):
    path = sample / "data" / "jinsha" / "landuse_after.tif"
    data, t = read_band(path).astype(np.int16), raster_info(path).transform
    data[data == 0] = -1
    path.unlink()
    write_tif(path, data, t, nodata=-1)
    res = run_pipeline(load_pipeline(sample / "pipelines" / "jinsha_after.yaml"), sample / "o1",
                       quiet=True, report=False)
    assert res.manifest["pixel_stats"]["land_use_nodata"] == int((data == -1).sum())
    path.unlink()
    write_tif(path, np.full_like(data, -1), t, nodata=-1)
    code, _, err = run_cli(["run", "--no-report",
                            sample / "pipelines" / "jinsha_after.yaml", "--out",
                            sample / "o2"], capsys)
    assert code == 2 and "no valid pixel" in err
    assert not (sample / "o2").exists()


def test_constant_out_of_domain(sample, capsys):
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["parameters"]["support_practice_p"] = 1.4
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "support_practice_p" in err and "domain" in err


@pytest.mark.parametrize("name", ["forest\n", "dry\tland"])
def test_land_type_name_with_a_control_character(sample, capsys, name):
    """Land-type names become table columns, CSV cells and report rows: one line each."""
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["land_use"]["codes"][3] = name
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "land type" in err and repr(name) in err
    assert len(err.strip().splitlines()) == 1


def test_code_key_with_a_line_break_is_escaped_in_the_error(sample, capsys):
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["land_use"]["codes"]["\n"] = "forest"
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "land_use.codes.\\n" in err
    assert len(err.strip().splitlines()) == 1


def test_compare_refuses_different_price_years(sample, capsys):
    for year, name in ((2010, "v2010"), (2020, "v2020")):
        write_yaml(sample / f"{name}.yaml", {
            "name": name, "kind": "valuation", "price_year": year,
            "parameters": {"water_price": {"value": 2.4, "unit": "yuan m-3", "source": "test"}}})
    for scen, name in (("before", "v2010"), ("after", "v2020")):
        with edited_yaml(sample / "pipelines" / f"jinsha_{scen}.yaml") as doc:
            doc["profile"]["valuation"] = f"../{name}.yaml"
    code, _, err = run_cli(["compare", "--no-report", sample / "pipelines" / "jinsha_before.yaml",
                            sample / "pipelines" / "jinsha_after.yaml", "--out", sample / "c"],
                           capsys)
    assert code == 2 and "2010" in err and "2020" in err
    assert not (sample / "c").exists()


def test_every_error_message_is_one_line():
    """A line break from a user's file name or value is shown escaped, whatever the error."""
    from gepgeo import errors

    for cls in (errors.ConfigError, errors.MissingParameterError, errors.InputFileError,
                errors.UnmappedCodesError, errors.DomainError):
        assert str(cls("layer 'a\nb.tif':\tbad\r")) == "layer 'a\\nb.tif':\\tbad\\r", cls
    assert str(errors.ConfigError("林地 (forest land)")) == "林地 (forest land)"


@pytest.mark.parametrize("kind, words", [
    ("crs", ["another grid", "CRS EPSG:4326, the land use's is EPSG:32648", "bilinear"]),
    ("resolution", ["another grid", "pixel 20 x 20, the land use's is", "bilinear"]),
    ("half-pixel", ["another grid", "same pixel size, pixel edges offset by -0.5 x -0.5 pixels"]),
])
def test_alignment_warnings_say_what_differs(sample, kind, words):
    rel = {"crs": lambda: _regrid(sample, dst_crs="EPSG:4326"),
           "resolution": lambda: _regrid(sample, res=20.0, pad=2),
           "half-pixel": lambda: _regrid(sample, shift=(-0.5, -0.5), pad=1)}[kind]()
    p = _set_layer(sample, rel)
    with pytest.warns(UserWarning) as caught:
        validate(load_pipeline(p))
    msg = " ".join(str(w.message) for w in caught if "rainfall_erosivity_r" in str(w.message))
    for w in words:
        assert w in msg, msg


def test_same_pixel_grid_smaller_extent_is_not_called_another_grid(sample):
    # read exactly (nearest on the same pixel grid), yet the warning said "on another grid"
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    t, h, w = grid.transform, grid.height, grid.width
    part = Affine(t.a, 0, t.c + 3 * t.a, 0, t.e, t.f)          # 3 columns in, 5 rows short
    write_tif(sample / "data" / "jinsha" / "r_part.tif",
              np.full((h - 5, w - 3), 5823.42, dtype=np.float32), part, nodata=-9999.0)
    p = _set_layer(sample, "../data/jinsha/r_part.tif")
    with pytest.warns(UserWarning) as caught:
        res = run_pipeline(load_pipeline(p), sample / "out", quiet=True, report=False)
    msg = [str(w.message) for w in caught if "r_part.tif" in str(w.message)]
    assert len(msg) == 1 and "another grid" not in msg[0] and "resampl" not in msg[0], msg
    outside = h * w - (h - 5) * (w - 3)
    assert f"covers only part of it: {outside} of its {h * w} pixels" in msg[0]
    assert res.manifest["warnings"] == msg


@pytest.mark.parametrize("value", ["1e300", ".inf", "-.inf", ".nan", "300", "-1", "2.5"])
def test_land_use_nodata_outside_the_dtype_is_refused(sample, capsys, value):
    """A uint8 land use cannot hold these: exit 2 naming the key and the range (was an
    OverflowError, exit 1)."""
    p = sample / "pipelines" / "jinsha_after.yaml"
    p.write_text(p.read_text().replace("  codes: {", f"  nodata: {value}\n  codes: {{", 1))
    for cmd in (["validate", p], ["run", p, "--out", sample / "o", "-q"]):
        code, _, err = run_cli(cmd, capsys)
        assert code == 2, err
        assert "land_use.nodata" in err and "uint8" in err and "0 to 255" in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (sample / "o").exists()


def test_layer_nodata_outside_the_dtype_is_refused(sample, capsys):
    """The same for a layer: a uint8 LS raster with ``nodata: 1e300`` (no pixel can equal it)."""
    src = sample / "data" / "jinsha" / "slope_length_steepness_ls.tif"
    ls = np.clip(read_band(src), 0, 255).astype(np.uint8)
    info = raster_info(src)
    transform, crs = info.transform, info.crs
    write_tif(sample / "data" / "jinsha" / "ls_u8.tif", ls, transform, crs=str(crs))
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["parameters"]["slope_length_steepness_ls"] = {"path": "../data/jinsha/ls_u8.tif",
                                                          "nodata": 1e300}
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "parameters.slope_length_steepness_ls.nodata" in err and "uint8" in err


def test_many_unmapped_codes_give_a_bounded_line_that_keeps_its_hint(sample, capsys):
    path = sample / "data" / "jinsha" / "landuse_before.tif"
    with rasterio.open(path, "r+") as src:
        data = src.read(1)
        data[:, :60] = (np.arange(data.shape[0] * 60).reshape(-1, 60) % 150
                        + 100).astype(data.dtype)
        src.write(data, 1)
        src.nodata = None
    code, _, err = run_cli(["validate", sample / "pipelines" / "jinsha_before.yaml"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "and 131 more codes" in err and "set land_use.nodata" in err, err  # 0 and 100..249
    assert len(err) < 1000


def test_error_messages_are_bounded():
    """Whatever a message quotes, it is at most 1000 characters (with an ellipsis)."""
    from gepgeo import errors

    for cls in (errors.ConfigError, errors.MissingParameterError, errors.UnmappedCodesError):
        text = str(cls("bad value " + "x" * 10**6))
        assert len(text) == 1000 and text.endswith("…"), cls
    assert errors.brief(list(range(10**6))) == "<list of 1000000 items>"
    assert len(errors.brief("y" * 10**6)) == 80


def test_layer_that_is_a_symlink_loop_is_named_as_such(sample, capsys):
    d = sample / "data" / "jinsha"
    (d / "loop_a.tif").symlink_to(d / "loop_b.tif")
    (d / "loop_b.tif").symlink_to(d / "loop_a.tif")
    p = _set_layer(sample, "../data/jinsha/loop_a.tif")
    code, _, err = run_cli(["validate", p], capsys)
    assert code == 2 and "loop_a.tif" in err and "symbolic link loop" in err, err
