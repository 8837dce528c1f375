"""Memory a run adds above the post-import (and post-JIT) baseline, against the inputs' size.

    python benchmarks/memory.py benchmarks/_data/n4000/pipeline.yaml [--warm PIPELINE]

Imports gepgeo, applies the same process settings as the ``gepgeo`` command, runs a small
warm-up pipeline (loads the compiled kernels: a one-off cost of the process), then samples RSS
every 5 ms during the measured run and prints the peak added and its ratio to the uncompressed
size of the pipeline's rasters.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio

import gepgeo.pipeline
import gepgeo.run
from gepgeo._memory import tune_malloc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pipeline", type=Path)
    ap.add_argument("--warm", type=Path, default=Path("benchmarks/_data/n1000/pipeline.yaml"))
    args = ap.parse_args()
    tune_malloc()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as td:
        gepgeo.run.run_pipeline(gepgeo.pipeline.load_pipeline(args.warm), Path(td) / "w")
        pipe = gepgeo.pipeline.load_pipeline(args.pipeline)
        base = proc.memory_info().rss
        peak = [base]
        stop = [False]

        def sample() -> None:
            while not stop[0]:
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.005)

        th = threading.Thread(target=sample)
        th.start()
        t = time.perf_counter()
        gepgeo.run.run_pipeline(pipe, Path(td) / "out")
        dt = time.perf_counter() - t
        stop[0] = True
        th.join()
    size = 0
    pixels = 0
    for f in args.pipeline.parent.glob("*.tif"):
        with rasterio.open(f) as s:
            size += s.width * s.height * np.dtype(s.dtypes[0]).itemsize
            pixels = s.width * s.height
    added = peak[0] - base
    print(f"{args.pipeline}: {dt:.2f} s, {pixels / dt / 1e6:.1f} Mpixel/s; baseline "
          f"{base / 2**20:.0f} MiB; peak added {added / 2**20:.0f} MiB; inputs uncompressed "
          f"{size / 2**20:.0f} MiB; ratio {added / size:.3f}")


if __name__ == "__main__":
    main()
