"""Throughput and peak memory of ``gepgeo terrain`` (flow-path or contributing-area LS, both
block by block) on a generated DEM.

    python benchmarks/terrain.py [--size 4000] [--cell 30] [--block 1024] [--threads N]
                                 [--method flowpath|contributing_area]

Writes a fractal-relief float32 DEM of ``size`` × ``size`` pixels (UTM 48N, ``cell`` m) into a
temporary folder; then, in a fresh process, runs the terrain command once on a small DEM
(numba's cache) and once timed, and prints Mpixel/s of the timed run and that process's peak
RSS (``VmHWM``: imports, warm-up and run). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window


def write_dem(path: Path, size: int, cell: float, seed: int = 0) -> None:
    """A fractal DEM written in 1024-row strips (sums of octaves of smooth noise)."""
    rng = np.random.default_rng(seed)
    transform = Affine(cell, 0.0, 500000.0, 0.0, -cell, 3000000.0 + size * cell)
    octaves = [(rng.normal(size=(size // s + 2, size // s + 2)), s, 40.0 * s / 256)
               for s in (256, 64, 16, 4)]
    with rasterio.open(path, "w", driver="GTiff", height=size, width=size, count=1,
                       dtype="float32", crs="EPSG:32648", transform=transform, tiled=True,
                       blockxsize=512, blockysize=512, compress="zstd", nodata=-9999.0,
                       BIGTIFF="IF_SAFER") as ds:
        for r0 in range(0, size, 1024):
            rows = np.arange(r0, min(size, r0 + 1024))
            cols = np.arange(size)
            z = np.full((rows.size, size), 1000.0) - rows[:, None] * 0.05
            for grid, s, amp in octaves:
                fr, fc = rows / s, cols / s
                i, j = fr.astype(int), fc.astype(int)
                wr, wc = (fr - i)[:, None], (fc - j)[None, :]
                g = grid
                z += amp * ((1 - wr) * ((1 - wc) * g[i][:, j] + wc * g[i][:, j + 1])
                            + wr * ((1 - wc) * g[i + 1][:, j] + wc * g[i + 1][:, j + 1]))
            ds.write(z.astype(np.float32), 1, window=Window(0, r0, size, rows.size))


def timed_run(dem: Path, out: Path, block: int, threads: int | None,
              method: str = "flowpath") -> tuple[float, float]:
    """Run the terrain command on ``dem`` in this (fresh) process after a warm-up on a small
    DEM; (wall seconds of the timed run, peak RSS of the process in MiB)."""
    from gepgeo._memory import tune_malloc
    from gepgeo.terrain.write import write_terrain

    tune_malloc()                    # as the gepgeo command does
    small = out.parent / "small.tif"
    write_dem(small, 64, 30.0)
    write_terrain(small, out.parent / "warm", block=32, method=method)   # compile / load cache
    t0 = time.perf_counter()
    write_terrain(dem, out, block=block, threads=threads, method=method)
    return time.perf_counter() - t0, peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak RSS, MiB: VmHWM, which exec resets (``ru_maxrss`` keeps the peak of
    the process before exec: the parent that generated the DEM), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--cell", type=float, default=30.0)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--method", choices=("flowpath", "contributing_area"), default="flowpath")
    ap.add_argument("--run", type=Path, default=None, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.run is not None:           # the child: time the command alone, print wall and RSS
        wall, rss = timed_run(ns.run, ns.run.parent / "out", ns.block, ns.threads, ns.method)
        print(f"{wall} {rss}")
        return 0
    from gepgeo.terrain.tiled import FlowpathOptions, halo_cells

    with tempfile.TemporaryDirectory() as tmp:
        dem = Path(tmp) / "dem.tif"
        write_dem(dem, ns.size, ns.cell)
        cmd = [sys.executable, __file__, "--run", str(dem), "--block", str(ns.block),
               "--method", ns.method]
        if ns.threads:
            cmd += ["--threads", str(ns.threads)]
        wall, rss = map(float, subprocess.run(cmd, check=True, capture_output=True,
                                              text=True).stdout.split()[-2:])
    mpx = ns.size * ns.size / 1e6
    halo = (halo_cells(FlowpathOptions(), ns.cell, ns.cell) if ns.method == "flowpath"
            else 1)
    print(f"terrain {ns.method} {ns.size}² ({mpx:.1f} Mpixel), cell {ns.cell:g} m, block "
          f"{ns.block}, halo {halo}, threads {ns.threads or os.cpu_count()}: {wall:.2f} s, "
          f"{mpx / wall:.2f} Mpixel/s, peak RSS of the terrain process {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
