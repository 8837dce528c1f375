"""Time a first ``gepgeo demo`` with numba's cache empty, and which functions compile how long.

    python benchmarks/first_run.py [--out DIR]

Runs the demo in this process with ``NUMBA_CACHE_DIR`` set to a fresh temporary folder (so every
kernel compiles), records numba's compile events and prints the wall time and the compile time
per function (nested: a function's time includes what it compiles of its callees). Run it on a
quiet machine, twice, and against the commit you compare with (``PYTHONPATH=<checkout>``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="demo output folder (default: a temporary one)")
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")   # before numba is imported
        from numba.core import event

        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        c0 = time.process_time()
        with event.install_recorder("numba:compile") as rec:
            from gepgeo import cli
            try:
                cli.main(["demo", "--out", ns.out or os.path.join(tmp, "demo")])
            except SystemExit:
                pass
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        from gepgeo import warmup

        warmup.wait()       # the background compile (if any) has ended long before
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_bg = kids.ru_utime + kids.ru_stime
    open_: dict[str, list[float]] = {}
    total: dict[str, float] = {}
    for ts, ev in rec.buffer:
        disp = (ev.data or {}).get("dispatcher")
        if disp is None:
            continue
        name = disp.py_func.__qualname__
        if ev.is_start:
            open_.setdefault(name, []).append(ts)
        elif open_.get(name):
            total[name] = total.get(name, 0.0) + ts - open_[name].pop()
    for name, sec in sorted(total.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{sec:7.2f} s  {name}", file=sys.stderr)
    print(f"first gepgeo demo, numba cache empty: {wall:.1f} s wall, {cpu:.1f} s CPU in the "
          f"demo's process, {cpu_bg:.1f} s CPU in the background compile (load average "
          f"{load0:.2f} before, {os.getloadavg()[0]:.2f} after)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
