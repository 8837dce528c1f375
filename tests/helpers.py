"""Helpers the test modules share: small rasters in and out, YAML and manifest files, the command
line in-process and in a fresh interpreter, and checks every output map must pass.

Fixtures stay in ``conftest.py``; this module holds plain functions (``from .helpers import
...``). Like xarray-spatial's ``general_checks.py``, it builds inputs and reads outputs the same
way for every test, so that a test shows only what it is about.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
import yaml
from affine import Affine
from rasterio.coords import BoundingBox
from rasterio.crs import CRS

#: Expected values the tests compare against, shipped with the tests (the repository stands alone)
TEST_DATA = Path(__file__).resolve().parent / "data"


# --- rasters ---------------------------------------------------------------------------------

def make_da(values: np.ndarray, transform: Affine, crs: str, nodata=None, units: str | None = None
            ) -> xr.DataArray:
    """An in-memory raster DataArray with CRS, transform and nodata (rioxarray conventions)."""
    ny, nx = values.shape
    xs = transform.c + transform.a * (np.arange(nx) + 0.5)
    ys = transform.f + transform.e * (np.arange(ny) + 0.5)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs})
    da = da.rio.write_crs(crs).rio.write_transform(transform)
    if nodata is not None:
        da = da.rio.write_nodata(nodata)
    if units:
        da.attrs["units"] = units
    return da


def write_tif(path: Path, values: np.ndarray, transform: Affine, crs: str | None = "EPSG:32648",
              nodata: float | None = None, unit: str | None = None, *,
              scale: float | None = None, block: int | None = None, **options: Any) -> Path:
    """Write a single-band GeoTIFF of ``values`` (in their dtype) and return its path.

    ``unit`` and ``scale`` are the band's unit and scale tags; ``block`` stores the raster in
    square tiles of that side; any other keyword is a GDAL creation option (``compress``,
    ``tiled``, ``blockysize`` ...).
    """
    ny, nx = values.shape
    if block is not None:
        options.update(tiled=True, blockxsize=block, blockysize=block)
    with rasterio.open(path, "w", driver="GTiff", height=ny, width=nx, count=1,
                       dtype=values.dtype, crs=crs, transform=transform, nodata=nodata,
                       **options) as dst:
        dst.write(values, 1)
        if scale is not None:
            dst.scales = (scale,)
        if unit:
            dst.units = (unit,)
    return path


def read_band(path: Path, band: int = 1) -> np.ndarray:
    """The pixels of one band of a raster file."""
    with rasterio.open(path) as src:
        return src.read(band)


def read_map(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """A single-band raster's pixels and its rasterio profile (to write a changed copy)."""
    with rasterio.open(path) as src:
        return src.read(1), src.profile


class RasterInfo(NamedTuple):
    """What a raster file says about itself (band 1 for the per-band items), pixels unread."""

    count: int
    transform: Affine
    crs: CRS | None
    shape: tuple[int, int]
    bounds: BoundingBox
    nodata: float | None
    dtype: str
    unit: str | None
    description: str | None

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]


def raster_info(path: Path) -> RasterInfo:
    """Band count, grid (transform, CRS, shape, bounds), nodata, dtype, unit and description."""
    with rasterio.open(path) as src:
        return RasterInfo(src.count, src.transform, src.crs, src.shape, src.bounds, src.nodata,
                          src.dtypes[0], src.units[0], src.descriptions[0])


def assert_map_on_grid(path: Path, like: Path) -> None:
    """The checks every map gepgeo writes must pass (xarray-spatial's general output checks):
    one float band on the grid of ``like`` (the land-use raster it was computed from: same CRS,
    transform and shape), NaN as its nodata, and a unit and a description."""
    got, want = raster_info(path), raster_info(like)
    assert got.count == 1, (path, got.count)
    assert (got.crs, got.transform, got.shape) == (want.crs, want.transform, want.shape), path
    assert np.issubdtype(np.dtype(got.dtype), np.floating), (path, got.dtype)
    assert got.nodata is not None and np.isnan(got.nodata), (path, got.nodata)
    assert got.unit and got.description, path


# --- files and folders -----------------------------------------------------------------------

def copy_sample(dest: Path) -> Path:
    """Copy the bundled pipelines and Jinsha data into ``dest`` (``pipelines/``, ``data/jinsha/``,
    as they lie beside each other in the repository); return ``dest``."""
    from gepgeo.demo import sample_root

    root = sample_root()
    shutil.copytree(root / "pipelines", dest / "pipelines")
    shutil.copytree(root / "data" / "jinsha", dest / "data" / "jinsha")
    return dest


# libyaml's safe loader and dumper: 10x faster on the hostile test documents (100 000 values)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def read_yaml(path: Path) -> Any:
    """The document of a YAML file (libyaml's safe loader when the wheel has it)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


def write_yaml(path: Path, doc: Any, **dump_options: Any) -> Path:
    """Write ``doc`` as YAML (the safe dumper, libyaml's when the wheel has it, with
    ``dump_options``); return the path."""
    Path(path).write_text(yaml.dump(doc, Dumper=_SAFE_DUMPER, **dump_options), encoding="utf-8")
    return path


@contextmanager
def edited_yaml(path: Path, **dump_options: Any) -> Iterator[Any]:
    """Read a YAML file, hand its document to the ``with`` block to change in place, and write
    it back (``write_yaml``) when the block ends."""
    doc = read_yaml(path)
    yield doc
    write_yaml(path, doc, **dump_options)


def edit_yaml(path: Path, change: Callable[[Any], object], **dump_options: Any) -> Path:
    """Apply ``change`` to the document of a YAML file in place and write it back; return the
    path (a one-line edit: ``edit_yaml(p, lambda d: d.update(name="x"))``)."""
    with edited_yaml(path, **dump_options) as doc:
        change(doc)
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    """The ``manifest.json`` of a run folder (or of a comparison's ``change`` folder)."""
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Replace the ``manifest.json`` of a run folder (to damage or change it)."""
    (folder / "manifest.json").write_text(json.dumps(manifest))


def read_table(folder: Path, name: str, **read_csv_options: Any) -> pd.DataFrame:
    """The table ``tables/<name>.csv`` of a run folder (``pandas.read_csv`` options)."""
    return pd.read_csv(folder / "tables" / f"{name}.csv", **read_csv_options)


def folder_files(folder: Path, pattern: str = "*", *, exclude: tuple[str, ...] = ()
                 ) -> dict[str, bytes]:
    """Every file below ``folder`` matching ``pattern``, by path relative to ``folder``, with its
    bytes (sorted; files named in ``exclude`` left out): two folders are byte-identical when
    these are equal."""
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob(pattern))
            if f.is_file() and f.name not in exclude}


def jinsha_expected() -> list[dict[str, str]]:
    """Every published Jinsha figure with the value the method gives (``tests/data``).

    Columns: ``id, unit, paper, expected_from_preset, agreement, verdict`` (docs/JINSHA.md).
    """
    import csv

    with open(TEST_DATA / "jinsha_expected.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- the command line ------------------------------------------------------------------------

def run_cli(args, capsys) -> tuple[int, str, str]:
    """Run the command line in-process; return (exit status, stdout, stderr)."""
    from gepgeo.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def gepgeo_command(*args: object) -> list[str]:
    """The argument list that runs ``gepgeo ARGS`` in a fresh interpreter (``python -m``)."""
    return [sys.executable, "-m", "gepgeo", *(str(a) for a in args)]


def run_gepgeo(*args: object, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``gepgeo ARGS`` in a fresh interpreter and wait; its output is captured as text."""
    return subprocess.run(gepgeo_command(*args), capture_output=True, text=True, timeout=timeout)


def skip_figure_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports written without building or drawing their figures (each image an empty PNG
    URI): for tests that check which reports are written, not what they show (figures take
    most of a report's time; the report tests draw them)."""
    from gepgeo.report import compare_page, run_page

    for mod in (run_page, compare_page):
        monkeypatch.setattr(mod, "chart", lambda make: None)
        monkeypatch.setattr(mod, "png_uri", lambda fig, **kw: "data:image/png;base64,")
