"""Uncertainty (gepgeo.uncertainty): ranges, the exact table model, intervals, Sobol indices and
common random numbers.

The table model's claim is that a draw computed from the pass's sums equals a full run with
that draw's parameters: checked here against real runs (the tables-only path) on small
generated grids of several blocks, for parameters of every service.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine

from gepgeo import uncertainty as U
from gepgeo.errors import UncertaintyError
from gepgeo.parameters import PARAM_INDEX
from gepgeo.pipeline import load_pipeline
from gepgeo.run import account

from .helpers import write_tif, write_yaml

_N = itertools.count()

pytestmark = pytest.mark.filterwarnings("ignore::gepgeo.errors.ProfileScopeWarning")

NY, NX = 150, 133          # 3 x 3 blocks of 64 (sizes not multiples of the block)
LAND_TYPES = {1: "mining", 2: "dryland", 3: "forest", 4: "grassland"}


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """Land use, R, LS and a net water depth (some of it negative: clamped) as rasters."""
    d = tmp_path_factory.mktemp("unc-grid")
    rng = np.random.default_rng(7)
    t = Affine(30.0, 0, 500000.0, 0, -30.0, 3000000.0)
    lu = rng.integers(1, 5, size=(NY, NX)).astype(np.uint8)
    lu[:5, :7] = 0
    write_tif(d / "lu.tif", lu, t, nodata=0)
    write_tif(d / "r.tif", rng.uniform(2000, 6000, (NY, NX)).astype(np.float32), t)
    write_tif(d / "ls.tif", rng.uniform(0.2, 15, (NY, NX)).astype(np.float32), t)
    write_tif(d / "depth.tif", rng.uniform(-80, 600, (NY, NX)).astype(np.float32), t)
    return d


#: ranges on parameters of every service, in every form: absolute, relative (one multiplier
#: for a table), by land type, grouped; uniform, triangular, normal, lognormal
RANGES = {
    "agri_output_value_per_ha": {"dist": "uniform", "low": 0.7, "high": 1.3, "relative": True,
                                 "source": "test"},
    "water_price": {"dist": "uniform", "low": 1.2, "high": 6.11, "source": "test"},
    "dredging_cost": {"dist": "triangular", "low": 10, "high": 40, "source": "test"},
    "n_fertilizer_price": {"dist": "uniform", "low": 0.6, "high": 1.4, "relative": True,
                           "group": "fertilizer", "source": "test"},
    "p_fertilizer_price": {"dist": "uniform", "low": 0.6, "high": 1.4, "relative": True,
                           "group": "fertilizer", "source": "test"},
    "cover_management_c": {"dist": "uniform", "low": 0.5, "high": 1.5, "relative": True,
                           "source": "test"},
    "soil_erodibility_k": {"by_land_type": {
        "forest": {"dist": "uniform", "low": 0.02, "high": 0.05, "source": "test"},
        "dryland": {"dist": "normal", "sd": 0.01, "source": "test"}}},
    "so2_charge": {"dist": "lognormal", "sd": 0.3, "source": "test"},
    "carbon_sequestration_rate": {"by_land_type": {
        "forest": {"dist": "triangular", "low": 0.6, "high": 2.0, "source": "test"}}},
    "carbon_price": {"dist": "uniform", "low": 100, "high": 600, "source": "test"},
    "oxygen_price": {"dist": "uniform", "low": 400, "high": 1200, "source": "test"},
    "heat_absorption": {"dist": "normal", "sd": 0.15, "relative": True, "source": "test"},
    "landscape_equivalent_factor": {"dist": "uniform", "low": 0.5, "high": 1.5,
                                    "relative": True, "source": "test"},
}


def _pipe(grid: Path, params: dict | None = None, ranges: dict | None = None,
          options: dict | None = None, **extra):
    doc = {
        "name": "unc",
        "land_use": {"path": str(grid / "lu.tif"), "codes": LAND_TYPES},
        "no_services": ["mining"],
        "profile": {"name": "jinsha-as-published", "scenario": "after"},
        "parameters": {
            "rainfall_erosivity_r": {"path": str(grid / "r.tif"),
                                     "unit": "MJ mm ha-1 h-1 a-1"},
            "slope_length_steepness_ls": {"path": str(grid / "ls.tif")},
            "water_retention_depth": {"path": str(grid / "depth.tif"), "unit": "mm a-1"},
            **{k: {"uncertainty": v} for k, v in (ranges or {}).items()},
            **(params or {}),
        },
        "options": {"chunk_size": 64, **(options or {})},
        **extra,
    }
    path = write_yaml(grid / f"unc-{next(_N)}.yaml", doc)
    return load_pipeline(path)


@pytest.fixture(scope="module")
def model(grid):
    return U.model_of_pipeline(_pipe(grid, ranges=RANGES))


def test_every_range_is_drawn_and_the_fixed_say_why(model):
    drawn = {d.label for d in model.dims}
    assert drawn == {"agri_output_value_per_ha", "water_price", "dredging_cost",
                     "n_fertilizer_price", "p_fertilizer_price", "cover_management_c",
                     "soil_erodibility_k[dryland]", "soil_erodibility_k[forest]", "so2_charge",
                     "carbon_sequestration_rate[forest]", "carbon_price", "oxygen_price",
                     "heat_absorption", "landscape_equivalent_factor"}
    assert {d.name for d in model.dims if d.spec.group} == {"fertilizer"}
    fixed = {(f["parameter"], f["land_type"]): f["reason"] for f in model.fixed}
    assert fixed[("rainfall_erosivity_r", "")].startswith("a raster layer")
    assert fixed[("soil_erodibility_k", "grassland")] == "no range given"
    assert fixed[("electricity_price", "")] == "no range given"


def _draw_params(model, cols, i):
    """The pipeline parameters (canonical units, by land type) of draw ``i``."""
    t = model.tables_for({k: v[i:i + 1] for k, v in cols.items()}, 1)[:, 0, :]
    out = {}
    for key in {d.key for d in model.dims}:
        row = t[PARAM_INDEX[key]]
        out[key] = {"by_land_type": {lt: float(v) for lt, v in zip(model.plan.land_types, row)
                                     if np.isfinite(v)}}
    return out


def test_a_table_draw_equals_a_full_run_with_its_parameters(grid, model):
    settings = U.Settings(draws=64, seed=3, method="random")
    names = model.names
    cols = model.cols_of(U.sample(names, settings), names)
    out = model.outputs(cols, settings.draws)
    labels = model.labels(out["columns"])
    for i in (0, 17, 63):
        tidy = account(_pipe(grid, params=_draw_params(model, cols, i)))
        vals = tidy[tidy.unit == "yuan a-1"]
        checked = 0
        for c, lt in enumerate(model.plan.land_types):
            if lt == "mining":
                continue
            for j, (svc, meas) in enumerate(labels):
                if svc == "gep":
                    ref = vals[(vals.land_type == lt) & (vals.service != "gep")
                               & (vals.measure == "value")].amount.sum()
                else:
                    ref = vals[(vals.land_type == lt) & (vals.service == svc)
                               & (vals.measure == meas)].amount.sum()
                np.testing.assert_allclose(out["by_land_type"][i, c, j], ref, rtol=1e-9,
                                           atol=1e-6, err_msg=f"draw {i} {lt} {svc}.{meas}")
                checked += 1
        assert checked == 3 * len(labels)
    # the draws moved every service's value
    v = out["by_service"][:, :len(model.values)]
    assert (v.std(axis=0) / np.abs(v.mean(axis=0)) > 1e-3).all()


def test_zero_width_ranges_give_the_point_totals_exactly(grid):
    flat = {"water_price": {"dist": "uniform", "low": 2.4, "high": 2.4, "source": "t"},
            "cover_management_c": {"dist": "uniform", "low": 1, "high": 1, "relative": True,
                                   "source": "t"},
            "soil_erodibility_k": {"by_land_type": {
                "forest": {"dist": "normal", "sd": 0, "source": "t"}}},
            "carbon_price": {"dist": "triangular", "low": 386, "high": 386, "source": "t"},
            "heat_absorption": {"dist": "lognormal", "sd": 0, "relative": True, "source": "t"}}
    m = U.model_of_pipeline(_pipe(grid, ranges=flat))
    res = U.analyse(m, U.Settings(draws=100, sensitivity=False))
    point = m.point_outputs()
    assert (res["outputs"]["by_land_type"] == point["by_land_type"][None]).all()
    svc = res["tables"]["uncertainty_by_service"]
    assert (svc["p2.5"] == svc["point"]).all() and (svc["p97.5"] == svc["point"]).all()
    assert (svc["sd"] == 0).all()


def test_one_uniform_price_gives_the_analytic_quantiles(grid):
    lo, hi = 1.0, 5.0
    m = U.model_of_pipeline(_pipe(grid, ranges={"water_price": {
        "dist": "uniform", "low": lo, "high": hi, "source": "t"}}))
    res = U.analyse(m, U.Settings(draws=2 ** 14, seed=5))
    svc = res["tables"]["uncertainty_by_service"].set_index(["service", "measure"])
    water = svc.loc[("water", "value")]
    per_price = water["point"] / 2.4       # m3 a-1: the value per yuan m-3
    others = svc.loc[("gep", "value"), "point"] - water["point"]
    for q, name in U.QUANTILES:
        exact = per_price * (lo + q * (hi - lo))     # a linear function of a uniform price
        assert water[name] == pytest.approx(exact, rel=2e-4)
        assert svc.loc[("gep", "value"), name] == pytest.approx(others + exact, rel=2e-4)
    assert water["mean"] == pytest.approx(per_price * (lo + hi) / 2, rel=1e-5)
    assert water["sd"] == pytest.approx(per_price * (hi - lo) / 12 ** 0.5, rel=1e-3)
    # only the water price drives anything: its indices are 1 for water and GEP
    sens = res["tables"]["sensitivity"].set_index(["output", "parameter"])
    for out in ("water", "gep"):
        assert sens.loc[(out, "water_price"), "first_order"] == pytest.approx(1, abs=0.02)
        assert sens.loc[(out, "water_price"), "total_order"] == pytest.approx(1, abs=0.02)


def test_sobol_indices_of_an_additive_model_are_its_variance_shares(grid):
    # GEP = a + b·p_w + c·p_C with independent uniform prices: S_i = b_i² var_i / Σ b_j² var_j,
    # and first = total (no interaction)
    r = {"water_price": {"dist": "uniform", "low": 0, "high": 6, "source": "t"},
         "oxygen_price": {"dist": "uniform", "low": 0, "high": 3000, "source": "t"}}
    m = U.model_of_pipeline(_pipe(grid, ranges=r))
    res = U.analyse(m, U.Settings(draws=2 ** 15, seed=2))
    svc = res["tables"]["uncertainty_by_service"].set_index(["service", "measure"])
    bw = svc.loc[("water", "value"), "point"] / 2.4
    bo = svc.loc[("oxygen", "value"), "point"] / 1000.0
    vw, vo = (bw * 6) ** 2 / 12, (bo * 3000) ** 2 / 12
    sens = res["tables"]["sensitivity"].set_index(["output", "parameter"])
    for p, share in (("water_price", vw / (vw + vo)), ("oxygen_price", vo / (vw + vo))):
        assert sens.loc[("gep", p), "first_order"] == pytest.approx(share, abs=0.03)
        assert sens.loc[("gep", p), "total_order"] == pytest.approx(share, abs=0.03)
    assert abs(sens.loc[("water", "oxygen_price"), "total_order"]) < 1e-9


def test_draws_are_seeded_and_the_methods_differ():
    s = U.Settings(draws=100, seed=4)
    assert (U.sample(["a", "b"], s) == U.sample(["a", "b"], s)).all()
    for method in U.METHODS:
        x = U.sample(["a", "b", "c"], U.Settings(draws=64, seed=1, method=method))
        assert x.shape == (64, 3) and (x >= 0).all() and (x < 1).all()
    lhs = U.sample(["a"], U.Settings(draws=50, method="lhs"))[:, 0]
    assert sorted(np.floor(lhs * 50).astype(int)) == list(range(50))   # one per stratum


@pytest.mark.parametrize("raw, message", [
    ({"dist": "beta", "low": 0, "high": 1, "source": "s"}, "dist: expected one of"),
    ({"dist": "uniform", "low": 2, "source": "s"}, "needs high"),
    ({"dist": "uniform", "low": 2, "high": 1, "source": "s"}, "low 2 is above high 1"),
    ({"dist": "uniform", "low": 1, "high": 2}, "source"),
    ({"dist": "uniform", "low": 1, "high": 2, "sd": 1, "source": "s"}, "not sd"),
    ({"dist": "triangular", "low": 1, "high": 2, "mode": 3, "source": "s"}, "mode 3"),
    ({"dist": "normal", "sd": -1, "source": "s"}, "sd: must be 0 or more"),
    ({"dist": "lognormal", "sd": 0.2, "low": 1, "source": "s"}, "not low"),
    ({"dist": "uniform", "low": 1, "high": 2, "source": "s", "spread": 1}, "unknown field"),
])
def test_bad_ranges_are_refused_with_their_key(raw, message):
    with pytest.raises(UncertaintyError, match=message):
        U.parse_range(raw, "parameters.water_price.uncertainty")


def test_ranges_are_checked_against_their_value_and_domain(grid):
    from gepgeo.prepare import prepare

    cases = [
        ({"cover_management_c": {"dist": "uniform", "low": 0.1, "high": 0.2, "source": "s"}},
         "relative: true"),                                  # one absolute range for a table
        ({"water_price": {"dist": "uniform", "low": -1, "high": 2, "source": "s"}},
         "outside the parameter's domain"),
        ({"cover_management_c": {"by_land_type": {
            "forest": {"dist": "uniform", "low": 0.5, "high": 1.5, "source": "s"}}}},
         "outside the parameter's domain"),                  # C ≤ 1
        ({"carbon_price": {"dist": "triangular", "low": 500, "high": 900, "source": "s"}},
         "the mode"),                                        # the value 386 is not inside
        ({"water_price": {"by_land_type": {
            "forest": {"dist": "uniform", "low": 1, "high": 2, "source": "s"}}}},
         "need the value as a table"),
    ]
    for ranges, message in cases:
        with pytest.raises(UncertaintyError, match=message):
            prepare(_pipe(grid, ranges=ranges))
    with pytest.raises(UncertaintyError, match="no level gives it a value"):
        prepare(_pipe(grid, ranges={"runoff_coefficient": {
            "dist": "uniform", "low": 0.1, "high": 0.2, "source": "s"}}))


def test_a_range_that_is_not_exact_on_tables_is_left_fixed_with_its_reason(grid, tmp_path):
    # carbon rates from a raster: carbon and oxygen are evaluated in full per pixel
    rng = np.random.default_rng(1)
    write_tif(tmp_path / "rate.tif", rng.uniform(0, 2, (NY, NX)).astype(np.float32),
              Affine(30.0, 0, 500000.0, 0, -30.0, 3000000.0))
    pipe = _pipe(grid, params={"carbon_sequestration_rate": {
        "path": str(tmp_path / "rate.tif"), "unit": "t C ha-1 a-1"}},
        ranges={"carbon_price": RANGES["carbon_price"], "water_price": RANGES["water_price"]})
    m = U.model_of_pipeline(pipe)
    assert [d.key for d in m.dims] == ["water_price"]
    reason = {f["parameter"]: f["reason"] for f in m.fixed}["carbon_price"]
    assert reason.startswith("range not drawn: read by carbon, which is evaluated in full")
    res = U.analyse(m, U.Settings(draws=256, sensitivity=False))
    svc = res["tables"]["uncertainty_by_service"].set_index(["service", "measure"])
    assert svc.loc[("carbon", "value"), "sd"] == 0
    assert svc.loc[("water", "value"), "sd"] > 0


def test_run_writes_the_tables_and_reruns_are_byte_identical(grid, tmp_path):
    from gepgeo.run import run_pipeline

    pipe = _pipe(grid, ranges={k: RANGES[k] for k in ("water_price", "carbon_price",
                                                      "cover_management_c")},
                 options={"uncertainty": {"draws": 500, "seed": 9, "method": "lhs"}})
    outs = [run_pipeline(pipe, tmp_path / f"run{i}", report=False) for i in (1, 2)]
    names = ["uncertainty_by_service", "uncertainty_by_land_type", "uncertainty_parameters",
             "sensitivity"]
    for name in names:
        a, b = ((o.out / "tables" / f"{name}.csv").read_bytes() for o in outs)
        assert a == b, name
    man = outs[0].manifest
    assert man["uncertainty"]["draws"] == 500 and man["uncertainty"]["method"] == "lhs"
    assert {f"tables/{n}.csv" for n in names} <= set(man["tables"])
    lt = pd.read_csv(outs[0].out / "tables" / "uncertainty_by_land_type.csv")
    assert set(lt.land_type) == {"dryland", "forest", "grassland"}
    assert ((lt["p2.5"] <= lt["median"]) & (lt["median"] <= lt["p97.5"])).all()


def test_common_random_numbers_narrow_the_change_interval(jinsha_demo):
    from gepgeo.demo import demo_pipeline

    models = [U.model_of_pipeline(demo_pipeline(s, 0)) for s in ("before", "after")]
    assert models[0].dims, "the Jinsha pipelines carry ranges"
    s = U.Settings(draws=4000, seed=1, sensitivity=False)
    rb, ra, crn = U.compare(*models, s)
    _, _, ind = U.compare(*models, s, common=False)
    g_crn, g_ind = (t.set_index("service").loc["gep"] for t in (crn, ind))
    assert g_crn["change"] == g_ind["change"]
    # the after GEP is 18 x the before one: most of the change's spread is the after level's,
    # and the shared prices remove the before scenario's part of it
    assert g_crn["p97.5"] - g_crn["p2.5"] < 0.95 * (g_ind["p97.5"] - g_ind["p2.5"])
    sd_b, sd_a = (r["tables"]["uncertainty_by_service"].set_index("service").loc["gep", "sd"]
                  for r in (rb, ra))
    assert g_ind["sd"] ** 2 == pytest.approx(sd_a ** 2 + sd_b ** 2, rel=0.05)   # independent
    assert g_crn["sd"] < sd_a - 0.5 * sd_b        # positively correlated: var(A) + var(B) − 2 cov
    assert g_crn["p_rose"] == 1.0
    # the demo's comparison wrote the change table from the same model
    ch = pd.read_csv(jinsha_demo.out / "change" / "tables" / "uncertainty_change.csv")
    assert ch.set_index("service").loc["gep", "p_rose"] == 1.0


def test_the_jinsha_ranges_are_sourced_and_hold_the_papers_values():
    from gepgeo.demo import demo_pipeline, jinsha_ranges

    ranges = jinsha_ranges()
    assert len(ranges) == 7
    for key, v in ranges.items():
        assert len(v["uncertainty"]["source"]) > 40, key
    for s in ("before", "after"):
        m = U.model_of_pipeline(demo_pipeline(s, 0))
        assert sorted(d.key for d in m.dims) == sorted(ranges)
        for d in m.dims:     # the paper's value lies in its range
            assert d.spec.low <= d.point <= d.spec.high, d.key


def test_zone_intervals_of_tiling_zones_add_up_draw_by_draw(sample):
    import geopandas as gpd
    from shapely.geometry import box

    from gepgeo.run import run_pipeline

    from .helpers import edited_yaml, raster_info

    grid = raster_info(sample / "data" / "jinsha" / "landuse_after.tif")
    left, bottom, right, top = grid.bounds
    mid = (left + right) / 2 + 2.5
    gpd.GeoDataFrame({"code": ["W", "E"]},
                     geometry=[box(left - 10, bottom - 10, mid, top + 10),
                               box(mid, bottom - 10, right + 10, top + 10)],
                     crs=grid.crs).to_file(sample / "halves.gpkg", driver="GPKG")
    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc["zones"] = [{"path": "../halves.gpkg", "id": "code"}]
        doc["options"] = {"uncertainty": {"draws": 256, "sensitivity": False}}
    res = run_pipeline(load_pipeline(p), sample / "out", report=False)
    z = pd.read_csv(sample / "out" / "tables" / "uncertainty_by_zone.csv")
    svc = pd.read_csv(sample / "out" / "tables" / "uncertainty_by_service.csv")
    assert len(z.zone.unique()) == 2
    for (s, m), rows in z.groupby(["service", "measure"]):
        whole = svc[(svc.service == s) & (svc.measure == m)].iloc[0]
        assert rows["point"].sum() == pytest.approx(whole["point"], rel=1e-9)
        assert rows["mean"].sum() == pytest.approx(whole["mean"], rel=1e-9)   # mean is linear
    assert "tables/uncertainty_by_zone.csv" in res.manifest["tables"]


def test_quantiles_equal_numpys_bit_for_bit():
    rng = np.random.default_rng(11)
    q = [qq for qq, _ in U.QUANTILES] + [0.0, 0.999, 1.0]
    for n in (1, 2, 3, 10, 1000, 10001):
        x = rng.normal(1e8, 3e7, size=(n, 5))
        x[:, 1] = 42.0                                  # constant
        x[:, 2] = np.round(x[:, 2], -7)                 # ties
        if n > 2:
            x[1, 3] = np.nan                            # a NaN column
        got = U.quantiles(x, q)
        ref = np.quantile(x, q, axis=0)
        assert np.array_equal(got, ref, equal_nan=True), n


def test_one_evaluation_of_every_service_equals_one_per_linear_service(model):
    # units() evaluates the formulas once when no service reads another's driver parameters;
    # the per-service evaluation (its fallback) must give the same numbers bit for bit
    linear, static, one = model._driver_plan()
    assert one and {si for si, _, _ in linear} == set(np.flatnonzero(model.lin).tolist())
    cols = model.cols_of(U.sample(model.names, U.Settings(draws=300, seed=2)), model.names)
    merged = model.units(cols, 300)
    sub = model.units(cols, 300, measures=model.values[::-1])
    try:
        model._dplan = (linear, static, False)
        separate = model.units(cols, 300)
    finally:
        model._dplan = (linear, static, one)
    assert np.array_equal(merged, separate, equal_nan=True)
    assert np.array_equal(sub, merged[:, :, model.values[::-1]], equal_nan=True)
    # the values only (the Sobol' indices' evaluations) are the same columns as with parts
    full = model.outputs(cols, 300, zones=False)
    vals = model.outputs(cols, 300, zones=False, parts=False)
    nv = len(model.values)
    assert np.array_equal(vals["by_land_type"][..., :nv], full["by_land_type"][..., :nv])
    assert np.array_equal(vals["by_land_type"][..., -1], full["by_land_type"][..., -1])
