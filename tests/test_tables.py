"""``gepgeo.tables(ds)``: the tables of the Python API's dataset are the CSV files of a run.

The sample pipeline (and the same with zones) is run by the command line, and computed again
through :func:`gepgeo.compute_services` from the same files, parameters and block size; the
tables of that dataset must be the run's ``tables/*.csv``, file by file and frame by frame.
"""

from __future__ import annotations

import io
import json

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr
import yaml
from shapely.geometry import box

import gepgeo
from gepgeo.pipeline import load_pipeline
from gepgeo.tabulate import FLOAT_FORMAT
from gepgeo.zones import grid_bounds, read_zones, zone_raster

from .conftest import run_cli


def _api_dataset(pipe, chunk, **kw):
    """The dataset of ``pipe`` through the Python API: its land use and layers opened with
    rioxarray, its profile, its codes and ``no_services``, ``chunk`` pixel blocks."""
    def open_(path):
        return rioxarray.open_rasterio(pipe.resolve(path), chunks=chunk).squeeze("band",
                                                                                 drop=True)

    layers = {}
    for key, spec in pipe.parameters.items():
        layers[key] = open_(spec.path)
        if spec.unit:
            layers[key].attrs["units"] = spec.unit
    return gepgeo.compute_services(
        open_(pipe.land_use.path), dict(pipe.land_use.codes), layers,
        profile=pipe.profile.name, scenario=pipe.profile.scenario,
        no_services=pipe.no_services, maps=["gep"], chunks=chunk, **kw)


def _run(pipeline, out, capsys):
    code, _, err = run_cli(["run", pipeline, "--out", out, "-q"], capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest["options"]["chunk_size"], manifest


def _assert_tables_are_the_files(tables, folder):
    """Each table is its CSV file: the same bytes at the files' 10 digits, and the same frame
    read back (the table at full precision within 1e-9)."""
    assert list(tables) == [p.stem for p in sorted(folder.glob("*.csv"), key=_order)]
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        assert frame.to_csv(index=False, float_format=FLOAT_FORMAT) == path.read_text(), name
        written = pd.read_csv(path)
        full = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
        pd.testing.assert_frame_equal(full, written, check_exact=False, rtol=1e-9,
                                      check_dtype=False, obj=name)   # 0.0 is written 0


def _order(path):
    """The files in the manifest's order (gepgeo.tabulate.tables)."""
    return ["services_by_land_type", "land_use", "gep_by_service", "gep_by_land_type",
            "services_by_zone"].index(path.stem)


def test_the_tables_of_the_sample_dataset_are_the_csv_files_of_its_run(sample, capsys):
    p = sample / "pipelines" / "jinsha_before.yaml"
    chunk, manifest = _run(p, sample / "out", capsys)
    ds = _api_dataset(load_pipeline(p), chunk)
    tables = gepgeo.tables(ds)               # lazy: the totals are computed here
    assert list(tables) == ["services_by_land_type", "land_use", "gep_by_service",
                            "gep_by_land_type"]
    assert ["tables/" + n + ".csv" for n in tables] == manifest["tables"]
    _assert_tables_are_the_files(tables, sample / "out" / "tables")
    # the same from a dataset computed beforehand, with the GEP map (dask.compute(ds))
    (done,) = dask.compute(ds)
    assert isinstance(done["totals"].data, np.ndarray)
    again = gepgeo.tables(done)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(again[name], frame, obj=name)
    gep = tables["gep_by_service"].query("service == 'gep'")["amount"].iloc[0]
    assert gep / 1e4 == pytest.approx(68.25, abs=0.005)


def _zone_files(root, crs):
    """Six parcels with two attributes (id ``code``), and four blocks in lon/lat."""
    with rasterio.open(root / "data" / "jinsha" / "landuse_before.tif") as src:
        left, bottom, right, top = src.bounds

    def tiles(nx, ny, pad):
        xs = np.linspace(left - pad, right + pad, nx + 1) + 2.5
        ys = np.linspace(bottom - pad, top + pad, ny + 1) + 2.5
        return [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(nx) for j in range(ny)]

    parcels = tiles(3, 2, 17.5)
    gpd.GeoDataFrame({"code": [f"P{i}" for i in range(6)],
                      "label": [f"parcel {i}" for i in range(6)], "share": np.arange(6) / 4},
                     geometry=parcels, crs=crs).to_file(root / "parcels.gpkg", layer="parcels",
                                                        driver="GPKG")
    gpd.GeoDataFrame({"name": list("abcd")}, geometry=tiles(2, 2, -30.0), crs=crs).to_crs(
        "EPSG:4326").to_file(root / "blocks.geojson", driver="GeoJSON")
    return [{"path": "../parcels.gpkg", "layer": "parcels", "id": "code"},
            {"path": "../blocks.geojson", "name": "blocks"}]


def test_the_tables_of_a_dataset_with_zones_are_the_csv_files_of_its_run(sample, capsys):
    p = sample / "pipelines" / "jinsha_before.yaml"
    with rasterio.open(sample / "data" / "jinsha" / "landuse_before.tif") as src:
        crs, transform, shape = src.crs, src.transform, src.shape
    doc = yaml.safe_load(p.read_text())
    doc["zones"] = _zone_files(sample, crs)
    doc["options"] = {"cog": False}
    p.write_text(yaml.safe_dump(doc))
    chunk, manifest = _run(p, sample / "out", capsys)
    pipe = load_pipeline(p)
    # the zone layers as the Python API reads them, rasterised on the run's blocks
    layers = [read_zones(pipe.resolve(z.path), grid_crs=crs, layer=z.layer, id_field=z.id,
                         name=z.name, grid_bounds=grid_bounds(transform, shape))
              for z in pipe.zones]
    blocks = da.core.normalize_chunks((chunk, chunk), shape)
    ds = _api_dataset(pipe, chunk,
                      zones={zl.name: xr.DataArray(zone_raster(zl, transform, shape, blocks),
                                                   dims=("y", "x")) for zl in layers},
                      zone_counts={zl.name: zl.count for zl in layers})
    tables = gepgeo.tables(ds, zones=layers)
    assert list(tables)[-1] == "services_by_zone"
    assert manifest["tables"] == ["tables/" + n + ".csv" for n in tables] + [
        "tables/zones.gpkg:parcels", "tables/zones.gpkg:blocks"]
    _assert_tables_are_the_files(tables, sample / "out" / "tables")
    assert {"zone_id", "zone_label", "zone_share", "polygon_area_ha"} <= set(
        tables["services_by_zone"].columns)

    # without the zone layers: each zone by its layer and index, with the same rows
    bare = gepgeo.tables(ds)["services_by_zone"]
    full = tables["services_by_zone"]
    assert list(bare.columns[:3]) == ["zone_layer", "zone_id", "rasterised_area_ha"]
    assert list(bare.zone_id[bare.zone_layer == "parcels"].unique()) == list(range(6))
    tidy = list(tables["services_by_land_type"].columns)
    pd.testing.assert_frame_equal(bare[["zone_layer", "rasterised_area_ha", *tidy]],
                                  full[["zone_layer", "rasterised_area_ha", *tidy]])
    with pytest.raises(ValueError, match="zone layers are"):
        gepgeo.tables(ds, zones=layers[:1])


def test_a_dataset_of_quantities_only_has_no_value_table(sample):
    pipe = load_pipeline(sample / "pipelines" / "jinsha_after.yaml")
    ds = _api_dataset(pipe, 256)
    valued = gepgeo.tables(ds)
    ds.attrs["valuation"] = 0          # as a run with `valuation: false` records it
    tables = gepgeo.tables(ds)
    assert list(tables) == ["services_by_land_type", "land_use", "gep_by_service"]
    for name in ("services_by_land_type", "gep_by_service"):
        assert "yuan a-1" not in set(tables[name]["unit"])
        kept = valued[name][valued[name]["unit"] != "yuan a-1"].reset_index(drop=True)
        pd.testing.assert_frame_equal(tables[name], kept)
    pd.testing.assert_frame_equal(tables["land_use"], valued["land_use"])


def test_tables_refuse_a_dataset_not_made_by_gepgeo(sample):
    pipe = load_pipeline(sample / "pipelines" / "jinsha_after.yaml")
    ds = _api_dataset(pipe, 256)
    with pytest.raises(ValueError, match="'modes'"):
        gepgeo.tables(ds.drop_attrs())
    with pytest.raises(ValueError, match="'totals'"):
        gepgeo.tables(ds.drop_vars("totals"))
    with pytest.raises(ValueError, match="no zone_totals"):
        gepgeo.tables(ds, zones=[object()])


def test_the_land_use_table_names_each_land_types_codes(sample):
    """A land type of several codes lists them, in the order of the mapping."""
    pipe = load_pipeline(sample / "pipelines" / "jinsha_after.yaml")
    codes = dict(pipe.land_use.codes)
    codes[5] = "mining"                         # construction counted as mining
    pipe = pipe.model_copy(update={"no_services": ["mining"], "land_use": pipe.land_use.model_copy(
        update={"codes": codes})})
    table = gepgeo.tables(_api_dataset(pipe, 256))["land_use"].set_index("land_type")
    assert table.codes["mining"] == "1,5" and "construction" not in table.index
