"""A service declared in this module alone runs through the whole pipeline, to maps and tables.

The service is ``rate[land type] × price`` (honey): two parameters, one quantity and its value,
declared with :mod:`gepgeo.services.declare`. It is added through ``$GEPGEO_SERVICES`` in a
fresh process (services are fixed when gepgeo is imported), which generates its per-pixel code
into a cache folder of its own; no other file of the repository changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

# a service module imports only the declaration vocabulary: it is loaded while gepgeo.services
# is being built
from gepgeo.services.common import given, scalar, times
from gepgeo.services.declare import INF, VALUE_UNITS, Measure, ParameterSpec, Service, Step

REPO = Path(__file__).resolve().parents[1]


@scalar
def hive_yield(rate: float, density: float) -> float:
    """Honey per ha: yield per hive × hives per ha (kg ha⁻¹ a⁻¹)."""
    return rate * density


SERVICE = Service(
    name="honey", title="Honey", category="provisioning", module=__name__,
    parameters=(
        ParameterSpec("honey_per_hive", "y", "kg_per_ha_a", "kg ha-1 a-1", 0, INF,
                      "honey per hive per year (as kg per ha at one hive per ha)"),
        ParameterSpec("hives_per_ha", "n", "dimensionless", "1", 0, INF, "hives per ha",
                      default=1.0),
        ParameterSpec("honey_price", "p_h", "yuan_per_kg", "yuan kg-1", 0, INF, "honey price",
                      price=True),
    ),
    measures=(
        Measure("honey", "honey", "kg a-1", "kg ha-1 a-1", "honey harvested"),
        Measure("honey", "value", *VALUE_UNITS, "market value of honey"),
    ),
    steps=(
        Step("rate", given, ("honey_per_hive",)),
        Step("honey", hive_yield, ("rate", "hives_per_ha")),
        Step("value", times, ("honey", "honey_price")),
    ),
)


def test_declarations_derive_parameters_measures_and_code():
    from gepgeo.codegen import generate, parameter_table
    from gepgeo.services import BUILTIN_SERVICES, Method

    m = Method(BUILTIN_SERVICES + (SERVICE,))
    modes = m.modes(set(), {"water_deficit": "clamp", "valuation": True})
    assert m.required("honey", modes) == ("honey_per_hive", "hives_per_ha", "honey_price")
    assert [m.measures[i].name for i in m.measures_in_use(["honey"], modes)] == ["honey",
                                                                                  "value"]
    assert m.measures[-1].service == "gep" and m.gep == len(m.measures) - 1
    assert "honey_price" in m.price_parameters and m.defaults["hives_per_ha"] == 1.0
    code = generate(m)
    assert "f_tests_test_extension_hive_yield(honey_rate, p_hives_per_ha)" in code
    # a plugin module named like one of gepgeo's (common.times) keeps its own import name
    import types
    other = types.ModuleType("mypkg.common")
    exec("def times(a, b):\n    return 1000.0 * a * b\n", other.__dict__)
    other.times.__module__ = "mypkg.common"
    clone = Service(name="honey2", title="H", category="cultural", module="mypkg.common",
                    parameters=(ParameterSpec("honey2_price", "p", "yuan_per_kg", "yuan kg-1", 0,
                                              INF, "x", price=True),),
                    uses=("honey_per_hive",),
                    measures=(Measure("honey2", "value", *VALUE_UNITS, "x"),),
                    steps=(Step("value", other.times, ("honey_per_hive", "honey2_price")),))
    code2 = generate(Method(BUILTIN_SERVICES + (SERVICE, clone)))
    assert "from mypkg.common import times as f_mypkg_common_times" in code2
    assert "from gepgeo.services.common import times as f_common_times" in code2
    assert "water_value = f_common_times(" in code2
    assert "`honey_per_hive` | honey" in parameter_table(m)
    bad = Service(name="x", title="X", category="cultural", measures=SERVICE.measures[1:],
                  steps=(Step("value", times, ("nowhere", "nothing")),))
    with pytest.raises(ValueError, match="reads 'nowhere'"):
        Method(BUILTIN_SERVICES + (bad,))
    with pytest.raises(ValueError, match="same name: agriculture"):
        Method(BUILTIN_SERVICES + (BUILTIN_SERVICES[0],))
    co2 = Service(name="trees", title="T", category="regulating",
                  measures=(Measure("trees", "co2", "t a-1", "t ha-1 a-1", "x"),
                            Measure("trees", "value", *VALUE_UNITS, "x")),
                  steps=(Step("value", given, ("carbon_price",)),), uses=("carbon_price",))
    with pytest.raises(ValueError, match="same map name: co2"):
        Method(BUILTIN_SERVICES + (co2,))


def test_a_worker_with_other_services_refuses_the_block():
    """A dask worker whose $GEPGEO_SERVICES differs from the client's would lay out the
    accumulators differently: its block task stops with a message saying so."""
    from gepgeo import compute
    from gepgeo.errors import ConfigError

    plan = compute.PassPlan(kernel=None, out_dtype=np.float32, nslot=1, nclass=1,
                            domain_policy="error", layer_names=(), direct=(),
                            lu_extra=(), lu_where="", lay_extra=(),
                            services=("soil", "honey"))
    with pytest.raises(ConfigError, match="same \\$GEPGEO_SERVICES"):
        compute._compute_block(np.zeros((2, 2), np.uint8), np.zeros((2, 1)), nl=0, nzl=0,
                               plan=plan)


def _tif(path: Path, values: np.ndarray, nodata) -> None:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0],
                       width=values.shape[1], count=1, dtype=values.dtype, crs="EPSG:32648",
                       transform=from_origin(500000, 3000000, 30, 30), nodata=nodata,
                       tiled=True, blockxsize=128, blockysize=128) as dst:
        dst.write(values, 1)


def test_a_service_declared_here_runs_to_maps_and_tables(tmp_path):
    rng = np.random.default_rng(7)
    ny, nx = 301, 263                      # several 128-px blocks, sizes not multiples of 128
    lu = rng.choice(np.array([1, 2, 3], dtype=np.uint8), size=(ny, nx))
    lu[:5, :] = 255                        # land-use nodata
    rate = rng.uniform(0.0, 40.0, size=(ny, nx)).astype(np.float32)
    rate[rng.random((ny, nx)) < 0.05] = -9999.0      # the layer's own nodata
    _tif(tmp_path / "lu.tif", lu, 255)
    _tif(tmp_path / "honey.tif", rate, -9999.0)
    pipe = {
        "land_use": {"path": "lu.tif", "codes": {1: "forest", 2: "cropland", 3: "bare"}},
        "no_services": ["bare"],
        "services": ["honey", "carbon"],
        "parameters": {
            "honey_per_hive": {"path": "honey.tif", "unit": "kg ha-1 a-1"},
            "hives_per_ha": {"by_land_type": {"forest": 2.0, "cropland": 0.5}},
            "honey_price": {"value": 60.0, "unit": "yuan kg-1"},
            "carbon_sequestration_rate": {"by_land_type": {"forest": 2.0, "cropland": 0.5},
                                          "unit": "t C ha-1 a-1"},
            "carbon_price": {"value": 100.0, "unit": "yuan t-1 CO2"},
        },
        "maps": ["honey", "honey_value", "gep"],
        "options": {"chunk_size": 128, "report": False},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pipe), encoding="utf-8")
    env = dict(os.environ, GEPGEO_SERVICES=f"{__name__}:SERVICE",
               # the generated kernel's numba cache, kept between test runs as numba keeps the
               # shipped kernel's (named by a hash of the generated code: never stale)
               GEPGEO_CACHE_DIR=str(REPO / "tests" / ".gepgeo-cache"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "gepgeo", "run", "p.yaml", "--out", "out"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    with rasterio.open(out / "maps" / "honey.tif") as src:
        honey = src.read(1, masked=True)
        assert (src.width, src.height, src.crs.to_epsg()) == (nx, ny, 32648)
    density = np.where(lu == 1, 2.0, 0.5) * rate.astype(np.float64)
    valid = (lu != 255) & (lu != 3) & (rate != -9999.0)
    np.testing.assert_allclose(honey[valid].filled(np.nan), density[valid], rtol=1e-6)
    assert honey.mask[(lu != 255) & (lu != 3) & (rate == -9999.0)].all()
    assert (honey[lu == 3] == 0).all()     # supplies nothing: a valid 0
    tidy = pd.read_csv(out / "tables" / "services_by_land_type.csv")
    rows = tidy[(tidy.service == "honey") & (tidy.measure == "honey")].set_index("land_type")
    for code, lt in ((1, "forest"), (2, "cropland")):
        want = density[valid & (lu == code)].sum() * 0.09           # kg a-1, 0.09 ha a pixel
        assert rows.loc[lt, "amount"] == pytest.approx(want, rel=1e-6, abs=0.01)
        assert rows.loc[lt, "excluded_pixels"] == ((lu == code) & (rate == -9999.0)).sum()
    by_service = pd.read_csv(out / "tables" / "gep_by_service.csv")
    values = by_service[by_service.measure == "value"].set_index("service")["amount"]
    assert values["honey"] == pytest.approx(rows["amount"].sum() * 60.0, rel=1e-6, abs=0.01)
    assert values["gep"] == pytest.approx(values["honey"] + values["carbon"], rel=1e-9)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "honey_per_hive" in json.dumps(manifest)
