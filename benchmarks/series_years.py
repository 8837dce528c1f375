"""Would ``gepgeo series`` gain from running its years at the same time?

Times the per-year runs of the three-year sample (``pipelines/jinsha_series_*.yaml``) one after
another, as ``gepgeo series`` does, against the same runs on a thread pool of ``--threads``
threads (each run still its own single pass on dask's threaded scheduler). Variants are
interleaved and repeated; the minimum and the median of each are printed, with the load average.
Not a test; nothing here runs in CI. Results: docs/PERFORMANCE.md, "Years of a series".

    python benchmarks/series_years.py --repeat 8            # without the reports
    python benchmarks/series_years.py --repeat 4 --report   # with each year's report.html
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gepgeo.pipeline import load_pipeline
from gepgeo.run import run_pipeline

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--report", action="store_true", help="write each year's report.html")
    args = ap.parse_args()
    pipes = [load_pipeline(ROOT / "pipelines" / f"jinsha_series_{y}.yaml")
             for y in (2015, 2019, 2023)]
    out = Path(tempfile.mkdtemp(prefix="gepgeo-series-years-"))
    try:
        run_pipeline(pipes[0], out / "warm-up", report=args.report)   # imports, numba cache

        def one(i: int, tag: str) -> None:
            run_pipeline(pipes[i], out / f"{tag}-{i}", report=args.report)

        def sequential(tag: str) -> None:
            for i in range(len(pipes)):
                one(i, tag)

        def threaded(tag: str) -> None:
            with ThreadPoolExecutor(args.threads) as ex:
                list(ex.map(lambda i: one(i, tag), range(len(pipes))))

        times: dict[str, list[float]] = {"sequential": [], "threaded": []}
        for k in range(args.repeat):
            for name, f in (("sequential", sequential), ("threaded", threaded)):
                t = time.perf_counter()
                f(f"{name}{k}")
                times[name].append(time.perf_counter() - t)
        print(f"3 years, report={args.report}, {os.cpu_count()} cores, load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for name, ts in times.items():
            print(f"{name:>10}: min {min(ts):.3f} s, median {statistics.median(ts):.3f} s "
                  f"({', '.join(f'{t:.2f}' for t in ts)})")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
