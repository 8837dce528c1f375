"""``gepgeo compare``: the Jinsha pair against the published figures, and a pair on different
grids (a fraction of a pixel apart, another CRS)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform, reproject

from gepgeo.compare import run_compare
from gepgeo.demo import sample_root
from gepgeo.pipeline import load_pipeline
from gepgeo.reproduction import figure

from .helpers import (assert_map_on_grid, copy_sample, folder_files, jinsha_expected, raster_info,
                      read_band, read_map, read_table, read_yaml, run_cli, write_tif,
                      write_yaml)


@pytest.fixture(scope="module")
def jinsha(tmp_path_factory):
    root = sample_root() / "pipelines"
    out = tmp_path_factory.mktemp("cmp") / "out"
    return run_compare(load_pipeline(root / "jinsha_before.yaml"),
                       load_pipeline(root / "jinsha_after.yaml"), out,
                       report=False)


@pytest.fixture(scope="module")
def expected():
    return {r["id"]: r for r in jinsha_expected()}


def test_layout(jinsha):
    out = jinsha.out
    for sub in ("before", "after"):
        assert (out / sub / "manifest.json").is_file()
    for name in ("change_by_service", "change_by_land_type", "transition_matrix", "extent_account"):
        assert (out / "change" / "tables" / f"{name}.csv").is_file()
    assert (out / "change" / "maps" / "gep_change.tif").is_file()
    assert (out / "change" / "maps" / "soil_value_change.tif").is_file()
    assert not list(out.parent.glob(".*tmp*"))


def test_table1_rows(jinsha, expected):
    tables = {"before": jinsha.before.tidy, "after": jinsha.after.tidy}
    rows = [r for k, r in expected.items() if k.startswith("T1.")]
    assert len(rows) == 14
    for r in rows:
        assert figure(r["id"], r["unit"], tables) == pytest.approx(float(r["expected_from_preset"]),
                                                                   rel=1e-6, abs=1e-9), r["id"]
    ext = jinsha.extent.set_index("land_type")
    assert ext.loc["dryland", "opening_ha"] == pytest.approx(0.95)
    assert ext.loc["dryland", "closing_ha"] == pytest.approx(41.42)
    assert ext.loc["mining", "net_change_ha"] == pytest.approx(-70.91)
    assert ext.loc["total", "net_change_ha"] == 0.0
    tm = jinsha.transition
    assert tm.values.sum() == pytest.approx(77.37)
    assert tm.sum(axis=1)["forest"] == pytest.approx(2.57)


def test_table4_before_after_and_change(jinsha, expected):
    svc = jinsha.change_by_service
    from gepgeo.reproduction import _T4

    n = 0
    for item, (service, measure) in _T4.items():
        rb, ra = expected[f"T4.before.{item}"], expected[f"T4.after.{item}"]
        scale = 1e4 if rb["unit"].startswith("1e4") else 1.0
        if service == "gep":
            row = svc[(svc.service == "gep")].iloc[0]
        else:
            row = svc[(svc.service == service) & (svc.measure == measure)].iloc[0]
        eb, ea = float(rb["expected_from_preset"]), float(ra["expected_from_preset"])
        assert row.before / scale == pytest.approx(eb, rel=1e-6), item
        assert row.after / scale == pytest.approx(ea, rel=1e-6), item
        assert row.change / scale == pytest.approx(ea - eb, rel=1e-6, abs=1e-9), item
        n += 1
    assert n == 26


def test_difference_map_equals_map_difference(jinsha):
    d = jinsha.out / "change" / "maps" / "gep_change.tif"
    b, a = (jinsha.out / s / "maps" / "gep.tif" for s in ("before", "after"))
    np.testing.assert_array_equal(read_band(d), read_band(a) - read_band(b))
    assert raster_info(d).unit == "yuan ha-1 a-1"


def _shifted_copy(tmp_path, dst_crs, shift):
    """The Jinsha *before* pipeline, re-gridded: land use warped (nearest) to ``dst_crs`` with its
    origin shifted by ``shift`` pixels; constant R and LS rasters on the new grid."""
    d = copy_sample(tmp_path) / "data" / "jinsha"
    with rasterio.open(d / "landuse_before.tif") as src:
        t, w, h = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds)
        t = Affine(t.a, t.b, t.c + shift * t.a, t.d, t.e, t.f + shift * t.e)
        lu = np.zeros((h + 2, w + 2), dtype=np.uint8)
        reproject(rasterio.band(src, 1), lu, dst_transform=t, dst_crs=dst_crs,
                  resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)
    write_tif(d / "landuse_moved.tif", lu, t, crs=dst_crs, nodata=0)
    for name, value in (("rainfall_erosivity_r", 5823.42), ("slope_length_steepness_ls", 11.23)):
        write_tif(d / f"{name}_moved.tif", np.full(lu.shape, value, dtype=np.float32), t,
                  crs=dst_crs, nodata=-9999, unit="MJ mm ha-1 h-1 a-1" if name.startswith("rain")
                  else "1")
    p = tmp_path / "pipelines" / "moved.yaml"
    doc = read_yaml(tmp_path / "pipelines" / "jinsha_before.yaml")
    doc["land_use"]["path"] = "../data/jinsha/landuse_moved.tif"
    for name in ("rainfall_erosivity_r", "slope_length_steepness_ls"):
        doc["parameters"][name]["path"] = f"../data/jinsha/{name}_moved.tif"
    write_yaml(p, doc)
    return tmp_path / "pipelines" / "jinsha_before.yaml", p


@pytest.mark.parametrize("dst_crs, shift", [("EPSG:32648", 0.37), ("EPSG:4326", 0.0),
                                            ("EPSG:3857", 0.5)])
def test_pair_on_different_grids(tmp_path, dst_crs, shift):
    before, moved = _shifted_copy(tmp_path, dst_crs, shift)
    res = run_compare(load_pipeline(before), load_pipeline(moved), tmp_path / "out",
                      report=dst_crs == "EPSG:4326")   # the report once, on the geographic grid
    out = tmp_path / "out"
    with rasterio.open(tmp_path / "data" / "jinsha" / "landuse_before.tif") as ref, \
         rasterio.open(tmp_path / "data" / "jinsha" / "landuse_moved.tif") as mv, \
         WarpedVRT(mv, crs=ref.crs, transform=ref.transform, width=ref.width, height=ref.height,
                   resampling=Resampling.nearest, src_nodata=0, nodata=0) as vrt, \
         rasterio.open(out / "change" / "maps" / "gep_change.tif") as d:
        lb, la, diff = ref.read(1), vrt.read(1), d.read(1)
    same = (lb == la) & (lb != 0)
    assert same.sum() > 0.8 * (lb != 0).sum()
    assert np.all(diff[same] == 0.0)
    # the change map is on the before grid, whatever the after grid
    assert_map_on_grid(out / "change" / "maps" / "gep_change.tif",
                       tmp_path / "data" / "jinsha" / "landuse_before.tif")
    # the transition matrix is on the before grid and mostly diagonal
    tm = res.transition.drop(index="(nodata)", columns="(nodata)", errors="ignore")
    assert np.trace(tm.values) > 0.8 * tm.values.sum()


def test_grids_that_do_not_overlap(tmp_path):
    before, moved = _shifted_copy(tmp_path, "EPSG:32648", 0.0)
    d = tmp_path / "data" / "jinsha"
    data, prof = read_map(d / "landuse_before.tif")         # the same land use, 50 km away
    t = prof["transform"]
    prof.update(transform=Affine(t.a, t.b, t.c + 50_000, t.d, t.e, t.f))
    for name in ("landuse_moved.tif",):
        (d / name).unlink()
        with rasterio.open(d / name, "w", **prof) as dst:
            dst.write(data, 1)
    for name in ("rainfall_erosivity_r_moved.tif", "slope_length_steepness_ls_moved.tif"):
        arr, p2 = read_map(d / name)
        p2.update(transform=prof["transform"], width=data.shape[1], height=data.shape[0])
        (d / name).unlink()
        with rasterio.open(d / name, "w", **p2) as dst:
            dst.write(np.resize(arr, data.shape), 1)
    from gepgeo.errors import GridMismatchError

    with pytest.raises(GridMismatchError, match="overlap"):
        run_compare(load_pipeline(before), load_pipeline(moved), tmp_path / "out", report=False)
    assert not (tmp_path / "out").exists()


# --- generated pairs on grids of several blocks (issue 18, items 1 and 2) -----------------

def _change_sums(out):
    """Per change map: (Σ change density × pixel area, table change, float32 bound).

    The maps are float32: each value of the before, after and change maps is rounded to 2⁻²⁴
    of itself, so Σ(map × area) can differ from the float64 table by at most the sum of those
    roundings (the bound); a lost block differs by the block's whole value.
    """
    svc = read_table(out / "change", "change_by_service")
    got = {}
    for f in sorted((out / "change" / "maps").glob("*_change.tif")):
        name = f.name[: -len("_change.tif")]
        t = raster_info(f).transform
        area = abs(t.a * t.e) / 1e4                                     # ha per pixel
        diff = read_band(f).astype(np.float64)
        b, a = (read_band(out / s / "maps" / f"{name}.tif") for s in ("before", "after"))
        mags = np.abs(diff) + np.abs(b.astype(np.float64)) + np.abs(a.astype(np.float64))
        rows = (svc[svc.service == "gep"] if name == "gep"
                else svc[(svc.service == name[: -len("_value")]) & (svc.measure == "value")])
        assert len(rows) == 1, name
        got[name] = (np.nansum(diff) * area, float(rows.change.iloc[0]),
                     2.0 ** -24 * np.nansum(mags) * area)
    return got


@pytest.fixture(scope="module")
def big_pair(tmp_path_factory):
    """A generated 1300 × 1100 pair compared twice, into folders of different names, each run
    from its own working directory with a relative ``--out`` (no reports: the Jinsha reruns
    below check that reports, too, are byte-identical)."""
    import contextlib

    from .pairs import make_pair

    root = tmp_path_factory.mktemp("bigpair")
    before, after = make_pair(root / "data", (1300, 1100))
    outs = []
    for parent, name in (("runs-A", "first"), ("runs-B", "second")):
        (root / parent).mkdir()
        with contextlib.chdir(root / parent):
            run_compare(load_pipeline(before), load_pipeline(after), Path(name), report=False)
        outs.append(root / parent / name)
    return outs


@pytest.mark.parametrize("shape", [(1300, 1100), (2100, 700)])
def test_change_maps_sum_to_the_change_table(tmp_path, big_pair, shape):
    # a writer created with 1024-px blocks and fed 512-px windows lost whole blocks of every
    # change map on grids over 512 px on both sides (20.3 M instead of 27.4 M on real data)
    from .pairs import make_pair

    if shape == (1300, 1100):
        out = big_pair[0]
    else:
        before, after = make_pair(tmp_path / "data", shape)
        out = tmp_path / "out"
        run_compare(load_pipeline(before), load_pipeline(after), out, report=False)
    sums = _change_sums(out)
    assert len(sums) == 9           # GEP and the eight services
    for name, (mapped, table, bound) in sums.items():
        assert table != 0.0, name
        assert abs(mapped - table) <= max(1e-6 * abs(table), bound), (name, mapped, table)
    mapped, table, _ = sums["gep"]
    assert mapped == pytest.approx(table, rel=1e-6)
    d = out / "change" / "maps" / "gep_change.tif"
    b, a = (out / s / "maps" / "gep.tif" for s in ("before", "after"))
    np.testing.assert_array_equal(read_band(d), read_band(a) - read_band(b))


def _assert_reruns_identical(first, second, runs_dirs):
    fa, fb = folder_files(first), folder_files(second)
    assert sorted(fa) == sorted(fb)
    assert any(k.endswith("_change.tif") for k in fa)
    for rel, data in fa.items():
        if rel.endswith("manifest.json"):
            ma, mb = json.loads(data), json.loads(fb[rel])
            for m in (ma, mb):
                m.pop("timings_s")
                m.pop("output", None)
            assert ma == mb, rel
        else:
            assert data == fb[rel], rel
        # no output records the temporary folder, nor where the output folder lies
        for other in (fa, fb):
            blob = other[rel]
            assert b".tmp-" not in blob, rel
            for d in runs_dirs:
                assert d.encode() not in blob, (rel, d)


def test_generated_pair_reruns_into_other_folders_are_byte_identical(big_pair):
    _assert_reruns_identical(big_pair[0], big_pair[1], ["runs-A", "runs-B"])


def test_jinsha_reruns_into_other_folders_are_byte_identical(tmp_path, monkeypatch, capsys):
    outs = []
    for parent, name in (("runs-A", "demo"), ("runs-B", "elsewhere")):
        (tmp_path / parent).mkdir()
        monkeypatch.chdir(tmp_path / parent)
        code, _, err = run_cli(["demo", "--out", name, "-q"], capsys)
        assert code == 0, err
        outs.append(tmp_path / parent / name)
    _assert_reruns_identical(outs[0], outs[1], ["runs-A", "runs-B"])
    maps = sorted(outs[0].glob("*/maps/*.tif"))     # every map has its QGIS style beside it
    assert len(maps) >= 10 + 10 + 9
    assert all(p.with_suffix(".qml").is_file() for p in maps)
    assert all((outs[0] / s / "report.html").is_file() for s in ("before", "after", "change"))


def test_a_south_up_scenario_is_compared_not_refused(tmp_path):
    """A scenario whose rows run south to north (positive pixel height) over the same area:
    rasterio gives its bounds with bottom > top, which made the overlap test refuse it as
    "does not overlap". The same land use flipped onto such a grid changes nothing."""
    before, moved = _shifted_copy(tmp_path, "EPSG:32648", 0.0)
    d = tmp_path / "data" / "jinsha"
    for name in ("landuse_moved", "rainfall_erosivity_r_moved", "slope_length_steepness_ls_moved"):
        with rasterio.open(d / f"{name}.tif") as src:
            prof, data, t = src.profile, src.read(1), src.transform
        flipped = Affine(t.a, t.b, t.c, t.d, -t.e, t.f + t.e * data.shape[0])   # south-up
        prof.update(transform=flipped)
        (d / f"{name}.tif").unlink()
        with rasterio.open(d / f"{name}.tif", "w", **prof) as dst:
            dst.write(data[::-1], 1)
    with rasterio.open(d / "landuse_moved.tif") as src:
        assert src.transform.e > 0 and src.bounds.bottom > src.bounds.top
    res = run_compare(load_pipeline(before), load_pipeline(moved), tmp_path / "out", report=False)
    diff = read_band(tmp_path / "out" / "change" / "maps" / "gep_change.tif")
    assert np.isfinite(diff).sum() > 0
    assert np.all(diff[np.isfinite(diff)] == 0.0)
    tm = res.transition         # same land on both grids: every hectare stays its land type
    types = [c for c in tm.columns if c in tm.index]
    assert len(types) >= 3
    stayed = sum(float(tm.loc[lt, lt]) for lt in types)
    assert stayed > 0 and float(tm.loc[types, types].to_numpy().sum()) == pytest.approx(stayed)


def test_a_south_up_layer_is_read_not_refused(tmp_path):
    """The sibling in the layers' alignment: a factor layer with south-up rows over the land
    use's area was refused as "does not overlap"; read on the land-use grid, its flipped
    values give the same accounts as the original layer."""
    from gepgeo.run import account

    copy_sample(tmp_path)
    pipe = tmp_path / "pipelines" / "jinsha_after.yaml"
    doc = read_yaml(pipe)
    src_path = tmp_path / "pipelines" / doc["parameters"]["rainfall_erosivity_r"]["path"]
    ref = account(load_pipeline(pipe))
    rng = np.random.default_rng(5)
    with rasterio.open(src_path) as src:
        prof, t = src.profile, src.transform
        data = rng.uniform(3000, 8000, size=(src.height, src.width)).astype(np.float32)
    prof.update(dtype="float32", nodata=-9999.0)
    with rasterio.open(src_path, "w", **prof) as dst:     # north-up, varying values
        dst.write(data, 1)
    north = account(load_pipeline(pipe))
    flipped = Affine(t.a, t.b, t.c, t.d, -t.e, t.f + t.e * data.shape[0])
    prof.update(transform=flipped)
    with rasterio.open(src_path, "w", **prof) as dst:     # the same values, south-up
        dst.write(data[::-1], 1)
    south = account(load_pipeline(pipe))
    soil = "service == 'soil' and measure == 'soil_retention'"
    assert north.query(soil).amount.sum() != pytest.approx(ref.query(soil).amount.sum())
    assert south.query(soil).amount.sum() == pytest.approx(north.query(soil).amount.sum(),
                                                            rel=1e-12)
