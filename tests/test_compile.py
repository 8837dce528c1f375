"""The fused kernel is compiled (or loaded from numba's cache) before the pass, in the calling
thread, for exactly the argument types the pass then uses."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

import gepgeo
from gepgeo import compute
from gepgeo import kernel as K

from .helpers import make_da

CODES = {1: "forest", 2: "dryland", 3: "mine"}


@pytest.mark.parametrize("lu_dtype, maps", [(np.uint8, "default"), (np.float32, [])])
def test_building_the_dataset_compiles_what_the_pass_runs(lu_dtype, maps):
    # two of the variants the rest of the suite compiles anyway (each costs ~20 s once)
    rng = np.random.default_rng(1)
    lu = rng.integers(0, 4, size=(70, 90)).astype(lu_dtype)
    t = Affine(30, 0, 500_000, 0, -30, 3_000_000)
    r = rng.uniform(100, 5000, size=lu.shape).astype(np.float32)
    notices = []
    compute.set_compile_notice(notices.append)
    try:
        ds = gepgeo.compute_services(
            make_da(lu, t, "EPSG:32648", nodata=0), CODES,
            {"rainfall_erosivity_r": make_da(r, t, "EPSG:32648")},
            profile="jinsha-as-published", scenario="after", no_services=["mine"], maps=maps,
            chunks=32)
        n = len(K.gep_block.overloads)
        assert n >= 1
        ds.compute()                       # 9 blocks, some of them edge blocks
        assert len(K.gep_block.overloads) == n    # nothing compiled during the pass
    finally:
        compute.set_compile_notice(None)
    assert all("compiling the computing kernel" in m and "\n" not in m for m in notices)


def test_tables_only_passes_share_the_command_line_variant():
    """No map buffer is written without maps: its type is the command line's (float32), so a
    tables-only pass (the demo's as-stated totals) needs no kernel of its own."""
    rng = np.random.default_rng(2)
    lu = rng.integers(1, 4, size=(40, 40)).astype(np.uint8)
    da_ = make_da(lu, Affine(30, 0, 0, 0, -30, 0), "EPSG:32648", nodata=0)
    kw = dict(profile="jinsha-as-published", scenario="after", no_services=["mine"])
    a = gepgeo.compute_services(da_, CODES, {}, maps=[], dtype=np.float64, **kw)
    b = gepgeo.compute_services(da_, CODES, {}, maps=[], dtype=np.float32, **kw)
    n = len(K.gep_block.overloads)
    np.testing.assert_array_equal(a["totals"].values, b["totals"].values)
    assert len(K.gep_block.overloads) == n


def test_the_compile_notice_names_only_what_needs_a_variant_of_its_own():
    """Every land-use and layer data type shares one compiled kernel; only float64 maps (an
    API option) need another, and the notice says so."""
    assert compute.variant_reason(np.float32) == ""
    assert compute.variant_reason(np.float64) == "float64 maps"


@pytest.mark.parametrize("lu_dtype, lu_nodata, lay_dtypes", [
    (np.uint16, 0, (np.float64, np.float32)),          # a Float64 LS raster
    (np.int16, -1, (np.int32, np.uint8)),              # signed codes, 32-bit integer layer
    (np.float32, -3.4028235e38, (np.float64,)),        # float land use, float64 only
    (np.int32, 0, ()),                                 # no layer at all
])
def test_other_input_data_types_compile_nothing_more(lu_dtype, lu_nodata, lay_dtypes):
    """Issue 21: a new combination of input data types (a Float64 LS, a signed or float land
    use, 32-bit integer layers) runs on the kernel compiled for the common one (uint8 land use,
    float32 layers), and gives the numbers the common one gives on the same values."""
    rng = np.random.default_rng(3)
    t = Affine(30, 0, 500_000, 0, -30, 3_000_000)
    codes = rng.integers(0, 4, size=(50, 70))
    keys = ("rainfall_erosivity_r", "slope_length_steepness_ls")
    vals = [rng.integers(1, 200, size=codes.shape) for _ in keys]
    kw = dict(profile="jinsha-as-published", scenario="after", no_services=["mine"],
              maps="default", chunks=32)

    def run(lu, lay):
        ds = gepgeo.compute_services(
            make_da(lu, t, "EPSG:32648", nodata=lu_nd), CODES,
            {k: make_da(v, t, "EPSG:32648") for k, v in zip(keys, lay)}, **kw)
        return ds.compute()

    lu_nd = 0
    common = run(codes.astype(np.uint8), [v.astype(np.float32) for v in vals[:len(lay_dtypes)]])
    n = len(K.gep_block.overloads)
    lu = codes.astype(lu_dtype)
    lu[codes == 0] = lu_nodata
    lu_nd = lu_nodata
    other = run(lu, [v.astype(d) for v, d in zip(vals, lay_dtypes)])
    assert len(K.gep_block.overloads) == n          # nothing compiled for these types
    np.testing.assert_array_equal(other["totals"].values, common["totals"].values)
    for name in common.data_vars:
        np.testing.assert_array_equal(other[name].values, common[name].values, err_msg=name)
