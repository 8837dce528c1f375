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


def test_the_compile_notice_says_which_input_needs_a_variant_of_its_own():
    """The common variant (8/16-bit land use, layers float32 holds exactly, float32 maps) has
    no reason to give; a float64 factor layer or a 32-bit land use is named."""
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    assert compute.variant_reason(np.uint8, (), {"rainfall_erosivity_r": f32}, f32) == ""
    assert compute.variant_reason(np.uint16, (), {"k": np.dtype(np.int16)}, f32) == ""
    why = compute.variant_reason(np.uint8, (), {"rainfall_erosivity_r": f32,
                                                "slope_length_steepness_ls": f64}, f32)
    assert why == "slope_length_steepness_ls stored as float64"
    why = compute.variant_reason(np.int32, (), {}, f64)
    assert "land use stored as int32" in why and "float64 maps" in why
    assert "second land-use nodata" in compute.variant_reason(np.uint8, (255.0,), {}, f32)
    assert "float32" in compute.variant_reason(np.float32, (), {}, f32)
