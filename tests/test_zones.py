"""Zonal accounting: polygons that tile the grid sum to the grid totals; outputs and errors."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from gepgeo.errors import InputFileError
from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline

from .helpers import (edited_yaml, folder_files, raster_info, read_manifest, read_table,
                      skip_figure_drawing)


def _tiles(bounds, nx=3, ny=2, pad=17.5):
    """nx × ny rectangles tiling the raster bounds (plus a margin); edges off pixel centres."""
    left, bottom, right, top = bounds
    xs = np.linspace(left - pad, right + pad, nx + 1) + 2.5
    ys = np.linspace(bottom - pad, top + pad, ny + 1) + 2.5
    polys, names = [], []
    for i in range(nx):
        for j in range(ny):
            polys.append(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
            names.append(f"parcel {i}-{j}")
    return polys, names


@pytest.fixture()
def setup(sample):
    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    return sample, grid.bounds, grid.crs


def _with_zones(tmp_path, zones):
    p = tmp_path / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["zones"] = zones
    return load_pipeline(p)


@pytest.mark.parametrize("zone_crs", ["EPSG:32648", "EPSG:4326"])
def test_zones_that_tile_the_grid_sum_to_the_grid_total(setup, zone_crs):
    tmp_path, bounds, crs = setup
    polys, names = _tiles(bounds)
    gdf = gpd.GeoDataFrame({"code": [f"P{i}" for i in range(len(polys))], "label": names},
                           geometry=polys, crs=crs).to_crs(zone_crs)
    gdf.to_file(tmp_path / "parcels.gpkg", layer="parcels", driver="GPKG")
    pipe = _with_zones(tmp_path, [{"path": "../parcels.gpkg", "layer": "parcels", "id": "code"}])
    res = run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    zt = read_table(tmp_path / "out", "services_by_zone")
    assert {"zone_layer", "zone_id", "zone_label", "polygon_area_ha", "rasterised_area_ha",
            "service", "land_type", "measure", "amount"} <= set(zt.columns)
    assert zt.zone_id.nunique() == 6
    grid = res.tidy.groupby(["service", "measure"]).amount.sum()
    zones = zt.groupby(["service", "measure"]).amount.sum()
    for key, total in grid.items():
        assert zones[key] == pytest.approx(total, rel=1e-9, abs=1e-9), key
    # each zone's rasterised area is close to its polygon area inside the site's valid pixels
    areas = zt.groupby("zone_id")[["polygon_area_ha", "rasterised_area_ha"]].first()
    assert areas.rasterised_area_ha.sum() == pytest.approx(77.37)
    assert (areas.rasterised_area_ha <= areas.polygon_area_ha * 1.01).all()
    g = gpd.read_file(tmp_path / "out" / "tables" / "zones.gpkg", layer="parcels")
    assert {"gep", "soil_value", "polygon_area_ha", "zone_id", "label"} <= set(g.columns)
    assert g.gep.sum() == pytest.approx(res.tidy.query("service == 'gep'").amount.sum(), rel=1e-9)


def test_missing_zone_attribute(setup):
    tmp_path, bounds, crs = setup
    polys, names = _tiles(bounds)
    gpd.GeoDataFrame({"label": names}, geometry=polys, crs=crs).to_file(tmp_path / "z.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../z.geojson", "id": "parcel_no"}])
    with pytest.raises(InputFileError, match="parcel_no"):
        run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    assert not (tmp_path / "out").exists()


def _zone_file(tmp_path, bounds, crs, name="parcels.gpkg", prefix="P"):
    polys, names = _tiles(bounds)
    gdf = gpd.GeoDataFrame({"code": [f"{prefix}{i}" for i in range(len(polys))], "label": names},
                           geometry=polys, crs=crs)
    gdf.to_file(tmp_path / name, layer="park", driver="GPKG")
    return {"path": f"../{name}", "layer": "park", "id": "code"}


def test_run_report_shows_zone_totals(setup):
    # the report said "tables/zones.gpkg:park is missing from this folder" and showed no zone
    from gepgeo.report import fmt_number

    tmp_path, bounds, crs = setup
    pipe = _with_zones(tmp_path, [_zone_file(tmp_path, bounds, crs)])
    res = run_pipeline(pipe, tmp_path / "out", quiet=True)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "missing from this folder" not in html
    assert 'id="zones"' in html
    zt = read_table(tmp_path / "out", "services_by_zone")
    gep = zt[zt.service == "gep"].groupby("zone_id").amount.sum()
    area = zt.groupby("zone_id").rasterised_area_ha.first()
    zones_html = html.split('id="zones"')[1].split("</section>")[0]
    for zid, value in gep.items():
        assert f">{zid}<" in zones_html
        assert fmt_number(value) in zones_html, zid
        if area[zid] > 0:
            assert fmt_number(value / area[zid]) in zones_html, zid
    assert gep.sum() == pytest.approx(res.tidy.query("service == 'gep'").amount.sum(), rel=1e-9)


def _pair_with_zones(tmp_path, before_zones, after_zones):
    paths = []
    for scen, zones in (("before", before_zones), ("after", after_zones)):
        p = tmp_path / "pipelines" / f"jinsha_{scen}.yaml"
        with edited_yaml(p) as doc:
            doc["zones"] = zones
            doc["options"] = {"cog": False}
        paths.append(load_pipeline(p))
    return paths


def test_compare_writes_change_by_zone(setup, monkeypatch):
    from gepgeo.compare import run_compare

    skip_figure_drawing(monkeypatch)       # the reports' zone sections, not their figures

    tmp_path, bounds, crs = setup
    z = [_zone_file(tmp_path, bounds, crs)]
    res = run_compare(*_pair_with_zones(tmp_path, z, z), tmp_path / "cmp")
    out = tmp_path / "cmp"
    cz = read_table(out / "change", "change_by_zone", dtype={"zone_id": str})
    assert {"zone_layer", "zone_id", "service", "measure", "unit", "before", "after", "change",
            "change_pct", "area_ha_before", "area_ha_after"} <= set(cz.columns)
    per_run = {s: read_table(out / s, "services_by_zone", dtype={"zone_id": str})
               for s in ("before", "after")}
    gep = cz[cz.service == "gep"].set_index("zone_id")
    assert sorted(gep.index) == [f"P{i}" for i in range(6)]
    for s, rows in per_run.items():
        want = rows[rows.service == "gep"].groupby("zone_id").amount.sum()
        for zid, v in want.items():
            assert gep.loc[zid, s] == pytest.approx(v, rel=1e-9, abs=1e-9)  # CSVs: 10 digits
    np.testing.assert_allclose(gep.change, gep.after - gep.before, rtol=1e-9)
    # the zones tile the grid: their changes sum to the comparison's
    svc = res.change_by_service
    total = float(svc[svc.service == "gep"].change.sum())
    assert gep.change.sum() == pytest.approx(total, rel=1e-9)
    soil = cz[(cz.service == "soil") & (cz.measure == "soil_retention")]
    t = svc[(svc.service == "soil") & (svc.measure == "soil_retention")].change.sum()
    assert soil.change.sum() == pytest.approx(t, rel=1e-9)
    manifest = read_manifest(out / "change")
    assert "tables/change_by_zone.csv" in manifest["tables"]
    html = (out / "change" / "report.html").read_text()
    assert 'id="zones"' in html and "missing from this folder" not in html
    for s in ("before", "after"):
        assert "missing from this folder" not in (out / s / "report.html").read_text()


def test_compare_with_different_zones_writes_no_change_by_zone(setup, monkeypatch):
    from gepgeo.compare import run_compare

    skip_figure_drawing(monkeypatch)       # the reports' zone sections, not their figures

    tmp_path, bounds, crs = setup
    zb = [_zone_file(tmp_path, bounds, crs)]
    za = [_zone_file(tmp_path, bounds, crs, name="other.gpkg", prefix="Q")]
    run_compare(*_pair_with_zones(tmp_path, zb, za), tmp_path / "cmp")
    change = tmp_path / "cmp" / "change"
    assert not (change / "tables" / "change_by_zone.csv").exists()
    manifest = read_manifest(change)
    assert "zones differ" in manifest["zones"]
    assert "zones differ" in (change / "report.html").read_text()


def test_zone_outputs_of_reruns_are_byte_identical(setup):
    # zones.gpkg recorded the time it was written
    tmp_path, bounds, crs = setup
    pipe = _with_zones(tmp_path, [_zone_file(tmp_path, bounds, crs)])
    files = []
    for name in ("a", "b"):
        out = run_pipeline(pipe, tmp_path / name / "out", quiet=True).out
        files.append(folder_files(out, exclude=("manifest.json",)))
        time.sleep(1.1)        # GeoPackage times have a resolution of a millisecond or more
    assert "tables/zones.gpkg" in files[0] and sorted(files[0]) == sorted(files[1])
    for rel, data in files[0].items():
        assert data == files[1][rel], rel


def test_self_intersecting_polygon_is_repaired_with_a_warning(setup):
    """A bow tie (self-intersecting ring) had polygon area 0 ha (its two lobes counted with
    opposite signs) beside a real rasterised area: it is repaired and named in a warning."""
    from shapely.geometry import Polygon

    from gepgeo.errors import GepgeoWarning

    tmp_path, bounds, crs = setup
    left, bottom, right, top = bounds
    cx, cy = (left + right) / 2, (bottom + top) / 2
    w, h = (right - left) / 3, (top - bottom) / 3
    bowtie = Polygon([(cx - w, cy - h), (cx + w, cy + h), (cx + w, cy - h), (cx - w, cy + h)])
    assert not bowtie.is_valid
    gpd.GeoDataFrame({"code": ["tie"]}, geometry=[bowtie],
                     crs=crs).to_file(tmp_path / "z.gpkg", driver="GPKG")
    pipe = _with_zones(tmp_path, [{"path": "../z.gpkg", "id": "code"}])
    with pytest.warns(GepgeoWarning, match="not valid and were repaired.*tie"):
        res = run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    assert any("repaired" in w and "'tie'" in w for w in res.manifest["warnings"])
    zt = read_table(tmp_path / "out", "services_by_zone")
    tie = zt[zt.zone_id == "tie"].iloc[0]
    # two triangles of w × h each (planar; the geodesic area differs by the UTM scale)
    assert tie.polygon_area_ha == pytest.approx(2 * w * h / 1e4, rel=0.01)
    assert tie.rasterised_area_ha == pytest.approx(tie.polygon_area_ha, rel=0.1)


def test_repeated_zone_ids_are_refused(setup):
    """Tables are keyed by zone id: two zones sharing one would read as one."""
    tmp_path, bounds, crs = setup
    polys, _ = _tiles(bounds)
    gpd.GeoDataFrame({"parcel_no": [1, 2, 3, 7, 5, 7]}, geometry=polys,
                     crs=crs).to_file(tmp_path / "z.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../z.geojson", "id": "parcel_no"}])
    with pytest.raises(InputFileError, match=r"zone id 7 .*features 3 and 5.*unique"):
        run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    assert not (tmp_path / "out").exists()


def test_zone_layer_outside_the_grid_gives_a_warning(setup):
    from gepgeo.errors import GepgeoWarning

    tmp_path, bounds, crs = setup
    polys, _ = _tiles(bounds, nx=2, ny=1)
    far = [box(*(np.array(p.bounds) + [1e5, 0, 1e5, 0])) for p in polys]
    gpd.GeoDataFrame({"n": ["a", "b"]}, geometry=far, crs=crs).to_file(tmp_path / "far.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../far.geojson", "id": "n"}])
    with pytest.warns(GepgeoWarning, match="no zone overlaps the land-use grid"):
        res = run_pipeline(pipe, tmp_path / "out", quiet=True, report=False)
    assert any("no zone overlaps" in w for w in res.manifest["warnings"])
    # one of two zones outside: named
    gpd.GeoDataFrame({"n": ["in", "out"]}, geometry=[polys[0], far[1]],
                     crs=crs).to_file(tmp_path / "half.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../half.geojson", "id": "n"}])
    with pytest.warns(GepgeoWarning, match="1 of 2 zones do not overlap.*'out'"):
        run_pipeline(pipe, tmp_path / "out2", quiet=True, report=False)
