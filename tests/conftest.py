"""Shared fixtures and helpers for the test-suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

REPO = Path(__file__).resolve().parents[1]

# --- how hard the property-based (hypothesis) tests search ----------------------------------
# The default run draws a fifth of the examples (at least 10) so that the README's test command
# stays short; HYPOTHESIS_PROFILE=exhaustive draws every test's full count (CI runs it after the
# default run, README "Testing"). Each property test states its full count: examples(60).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("exhaustive", _hyp_settings())
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
_hyp_settings.load_profile(PROFILE)        # an unknown name is an error, not a silent default
EXHAUSTIVE = PROFILE == "exhaustive"


def examples(full: int) -> int:
    """The number of examples a property test draws: ``full`` in the exhaustive profile, else
    a fifth of it (at least 10, at most ``full``)."""
    return full if EXHAUSTIVE else min(full, max(10, full // 5))
#: Expected values the tests compare against, shipped with the tests (the repository stands alone)
TEST_DATA = Path(__file__).resolve().parent / "data"


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
              nodata=None, unit: str | None = None) -> Path:
    """Write a small single-band GeoTIFF."""
    ny, nx = values.shape
    with rasterio.open(path, "w", driver="GTiff", height=ny, width=nx, count=1,
                       dtype=values.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(values, 1)
        if unit:
            dst.units = (unit,)
    return path


def run_cli(args, capsys) -> tuple[int, str, str]:
    """Run the command line in-process; return (exit status, stdout, stderr)."""
    from gepgeo.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    """A copy of the bundled pipelines and Jinsha data that a test may edit."""
    import shutil

    from gepgeo.demo import sample_root

    root = sample_root()
    shutil.copytree(root / "pipelines", tmp_path / "pipelines")
    shutil.copytree(root / "data" / "jinsha", tmp_path / "data" / "jinsha")
    return tmp_path


@pytest.fixture(scope="session")
def jinsha_demo(tmp_path_factory):
    """``gepgeo demo`` of the bundled Jinsha pair, run once per session (:func:`run_demo`).

    Read-only: a test that writes into it works on a copy (``shutil.copytree(demo.out, ...)``).
    """
    from gepgeo.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("jinsha-demo") / "demo")


def jinsha_expected() -> list[dict[str, str]]:
    """Every published Jinsha figure with the value the method gives (``tests/data``).

    Columns: ``id, unit, paper, expected_from_preset, agreement, verdict`` (docs/JINSHA.md).
    """
    import csv

    with open(TEST_DATA / "jinsha_expected.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
