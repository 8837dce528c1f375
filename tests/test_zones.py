"""Zonal accounting: polygons that tile the grid sum to the grid totals; outputs and errors."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from shapely.geometry import box

from gepgeo.demo import sample_root
from gepgeo.errors import InputFileError
from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline


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
def setup(tmp_path):
    root = sample_root()
    shutil.copytree(root / "pipelines", tmp_path / "pipelines")
    shutil.copytree(root / "data" / "jinsha", tmp_path / "data" / "jinsha")
    with rasterio.open(tmp_path / "data" / "jinsha" / "landuse_after.tif") as src:
        bounds, crs = src.bounds, src.crs
    return tmp_path, bounds, crs


def _with_zones(tmp_path, zones):
    p = tmp_path / "pipelines" / "jinsha_after.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["zones"] = zones
    p.write_text(yaml.safe_dump(doc))
    return load_pipeline(p)


@pytest.mark.parametrize("zone_crs", ["EPSG:32648", "EPSG:4326"])
def test_zones_that_tile_the_grid_sum_to_the_grid_total(setup, zone_crs):
    tmp_path, bounds, crs = setup
    polys, names = _tiles(bounds)
    gdf = gpd.GeoDataFrame({"code": [f"P{i}" for i in range(len(polys))], "label": names},
                           geometry=polys, crs=crs).to_crs(zone_crs)
    gdf.to_file(tmp_path / "parcels.gpkg", layer="parcels", driver="GPKG")
    pipe = _with_zones(tmp_path, [{"path": "../parcels.gpkg", "layer": "parcels", "id": "code"}])
    res = run_pipeline(pipe, tmp_path / "out", quiet=True)
    zt = pd.read_csv(tmp_path / "out" / "tables" / "services_by_zone.csv")
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
        run_pipeline(pipe, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


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
        res = run_pipeline(pipe, tmp_path / "out", quiet=True)
    assert any("repaired" in w and "'tie'" in w for w in res.manifest["warnings"])
    zt = pd.read_csv(tmp_path / "out" / "tables" / "services_by_zone.csv")
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
        run_pipeline(pipe, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


def test_zone_layer_outside_the_grid_gives_a_warning(setup):
    from gepgeo.errors import GepgeoWarning

    tmp_path, bounds, crs = setup
    polys, _ = _tiles(bounds, nx=2, ny=1)
    far = [box(*(np.array(p.bounds) + [1e5, 0, 1e5, 0])) for p in polys]
    gpd.GeoDataFrame({"n": ["a", "b"]}, geometry=far, crs=crs).to_file(tmp_path / "far.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../far.geojson", "id": "n"}])
    with pytest.warns(GepgeoWarning, match="no zone overlaps the land-use grid"):
        res = run_pipeline(pipe, tmp_path / "out", quiet=True)
    assert any("no zone overlaps" in w for w in res.manifest["warnings"])
    # one of two zones outside: named
    gpd.GeoDataFrame({"n": ["in", "out"]}, geometry=[polys[0], far[1]],
                     crs=crs).to_file(tmp_path / "half.geojson")
    pipe = _with_zones(tmp_path, [{"path": "../half.geojson", "id": "n"}])
    with pytest.warns(GepgeoWarning, match="1 of 2 zones do not overlap.*'out'"):
        run_pipeline(pipe, tmp_path / "out2", quiet=True)
