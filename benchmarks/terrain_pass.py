"""A run with LS computed from a DEM in the pass (``from_dem``) against the same run given LS.

    python benchmarks/terrain_pass.py [--size 4000] [--repeat 3] [--data DIR]
                                      [--method flowpath|contributing_area|invest]

Uses the inputs of ``bench.py`` (generated into ``--data`` if missing), writes a fractal DEM on
their land-use grid (:func:`terrain.write_dem`) and its LS map with ``gepgeo terrain --grid``;
then times, each in a fresh process after a warm-up run of the same pipeline, the benchmark
pipeline end to end (9 maps + tables, report off) (a) with that LS map as a raster and (b) with
``slope_length_steepness_ls: {from_dem: ...}``. Prints the minimum wall time of each over the
repeats and their ratio (issue 22's target: (b) ≤ 1.3 × (a)), the minimum CPU time of each (all
threads of the run's process) and their ratio, which a shared machine disturbs far less than the
wall times, and the 1-minute load average before and after; and checks that both runs give the
same soil retention total. Targets (issue 22): flowpath ≤ 1.3×, contributing_area ≤ 2×. With
``--maps``, (c) the from_dem run also writing the LS, slope and slope-length (or contributing
area) maps in its pass. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rasterio
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(pipeline: Path, out: Path) -> None:
    """Run ``pipeline`` twice (warm-up, then timed) and print the timed run's wall seconds and
    CPU seconds (all threads of this process)."""
    from gepgeo._memory import tune_malloc
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    tune_malloc()
    pipe = load_pipeline(pipeline)
    run_pipeline(pipe, out / "warm", report=False, check_disk=False)
    t0, c0 = time.perf_counter(), time.process_time()
    run_pipeline(pipe, out / "timed", report=False, check_disk=False)
    print(time.perf_counter() - t0, time.process_time() - c0)


def soil_total(folder: Path) -> float:
    """Σ soil retention over land types, t a⁻¹, from a run folder's tidy table."""
    import pandas as pd

    tidy = pd.read_csv(folder / "tables" / "services_by_land_type.csv")
    sel = tidy[(tidy["service"] == "soil") & (tidy["measure"] == "soil_retention")]
    return float(sel["amount"].sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path, default=HERE / "_data")
    ap.add_argument("--method", choices=("flowpath", "contributing_area", "invest"),
                    default="flowpath")
    ap.add_argument("--maps", action="store_true",
                    help="also time the from_dem run writing LS and its parts as maps")
    ap.add_argument("--child", nargs=2, type=Path, default=None, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        child(*ns.child)
        return 0
    import generate
    from terrain import write_dem

    folder = ns.data / f"n{ns.size}"          # bench.py's layout of its cached inputs
    if not (folder / "pipeline.yaml").exists():
        generate.generate(ns.size, folder)
    lu = folder / "land_use.tif"
    with rasterio.open(lu) as src:
        cell, crs = src.transform.a, src.crs
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        dem = t / "dem.tif"
        write_dem(dem, ns.size, cell)
        with rasterio.open(dem, "r+") as dst, rasterio.open(lu) as src:
            dst.transform, dst.crs = src.transform, crs     # on the land-use grid exactly
        extra = ["--l-max", "1000"] if ns.method == "invest" else []
        subprocess.run([sys.executable, "-m", "gepgeo", "terrain", str(dem), "--out",
                        str(t / "terrain"), "--grid", str(lu), "--method", ns.method, *extra],
                       check=True, capture_output=True)
        base = yaml.safe_load((folder / "pipeline.yaml").read_text())
        base["land_use"]["path"] = str(lu)
        for spec in base["parameters"].values():
            if isinstance(spec, dict) and "path" in spec:
                spec["path"] = str(folder / spec["path"])
        pipes = {}
        for name, ls in (("ls raster", {"path": str(t / "terrain" /
                                                    "slope_length_steepness_ls.tif")}),
                         ("from_dem", {"from_dem": {
                             "path": str(dem), "method": ns.method,
                             **({"l_max": 1000} if ns.method == "invest" else {})}})):
            p = dict(base, parameters=dict(base["parameters"], slope_length_steepness_ls=ls))
            path = t / f"{name.replace(' ', '_')}.yaml"
            path.write_text(yaml.safe_dump(p))
            pipes[name] = path
        if ns.maps:     # (c): the same pass also writes LS and its two parts
            parts = (["slope_deg", "slope_length_m"] if ns.method == "flowpath"
                     else ["slope_deg", "contributing_area_m2"])
            p = yaml.safe_load(pipes["from_dem"].read_text())
            p["maps"] = list(p.get("maps", [])) + ["slope_length_steepness_ls", *parts]
            pipes["+maps"] = t / "from_dem_maps.yaml"
            pipes["+maps"].write_text(yaml.safe_dump(p))
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        totals: dict[str, float] = {}
        load0 = os.getloadavg()[0]
        for r in range(ns.repeat):
            for name, path in pipes.items():
                out = t / f"out-{name.replace(' ', '_')}-{r}"
                res = subprocess.run([sys.executable, __file__, "--child", str(path), str(out)],
                                     check=True, capture_output=True, text=True)
                wall, used = map(float, res.stdout.split()[-2:])
                best[name] = min(best.get(name, wall), wall)
                cpu[name] = min(cpu.get(name, used), used)
                totals[name] = soil_total(out / "timed")
                print(f"  {name:10s} run {r + 1}/{ns.repeat}: {wall:.3f} s, CPU {used:.3f} s",
                      file=sys.stderr)
        load1 = os.getloadavg()[0]
    mpx = ns.size * ns.size / 1e6
    a, b = best["ls raster"], best["from_dem"]
    target = 1.3 if ns.method == "flowpath" else 2.0
    print(json.dumps({"size": ns.size, "method": ns.method, "ls_raster_s": round(a, 3),
                      "from_dem_s": round(b, 3),
                      **({"from_dem_with_maps_s": round(best["+maps"], 3)} if ns.maps else {}),
                      "ratio": round(b / a, 3), "from_dem_mpixel_s": round(mpx / b, 2),
                      "ls_raster_cpu_s": round(cpu["ls raster"], 3),
                      "from_dem_cpu_s": round(cpu["from_dem"], 3),
                      "cpu_ratio": round(cpu["from_dem"] / cpu["ls raster"], 3),
                      "load_1min": [round(load0, 2), round(load1, 2)],
                      "soil_retention_t_a": totals}))
    print(f"{ns.size}²: given LS {a:.2f} s, LS from the DEM in the pass {b:.2f} s: "
          f"{b / a:.2f}× (target ≤ {target}); CPU time {cpu['from_dem'] / cpu['ls raster']:.2f}×; "
          f"same soil retention: {totals['ls raster'] == totals['from_dem']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
