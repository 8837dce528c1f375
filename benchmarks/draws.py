"""What 10 000 uncertainty draws add to an end-to-end run (issue 24's target: at most 10 % at
4 000²), warm and cold, optionally for several gepgeo source trees in the same time window.

    python benchmarks/draws.py [--size 4000] [--repeat 5] [--tree DIR ...]

Each repeat runs, in fresh processes and interleaved (so that a change in the machine's load
hits every variant alike), ``bench.py``'s ``gepgeo``, ``gepgeo-draws`` (10 000 draws of eight
prices, intervals and Sobol' indices) and ``gepgeo-draws-nosens`` (intervals only), each after
a warm-up on the 600² grid, as ``bench.py`` times them; then a cold ``gepgeo-draws`` run (a
fresh process, no warm-up: imports included). It prints the minimum over the repeats of each
wall time, the ratios to ``gepgeo`` and the manifest's ``uncertainty_s`` (the table model, the
draws, their tables, the Sobol' indices). ``--tree DIR`` runs the variants with
``PYTHONPATH=DIR`` (a checkout's root, holding ``gepgeo/``); several trees are interleaved too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import RESULT_TAG, WARMUP_SIZE, ensure_inputs  # noqa: E402

VARIANTS = ("gepgeo", "gepgeo-draws", "gepgeo-draws-nosens")

COLD = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
sys.path.insert(0, {here!r})
import bench
res = bench.run_gepgeo_draws(Path({folder!r}), Path({out!r}), None)
import gepgeo
print({tag!r} + json.dumps({{"seconds": time.perf_counter() - t0, "gepgeo": gepgeo.__file__,
                            "uncertainty_s": res["extra"]["timings"]["uncertainty_s"],
                            "scipy_stats": "scipy.stats" in sys.modules}}))
"""


def _env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def _result(proc: subprocess.CompletedProcess[str]) -> dict:
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(lines[-1][len(RESULT_TAG):])


def warm(variant: str, folder: Path, warmup: Path, out: Path, tree: Path | None) -> dict:
    """One ``bench.py --variant`` run: warm-up on 600², then the timed run."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, str(HERE / "bench.py"), "--variant", variant, "--folder", str(folder),
           "--warmup", str(warmup), "--out", str(out)]
    res = _result(subprocess.run(cmd, capture_output=True, text=True, env=_env(tree)))
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": res["seconds"], "others": res["others_cores"],
            "uncertainty_s": res.get("extra", {}).get("timings", {}).get("uncertainty_s")}


def cold(folder: Path, out: Path, tree: Path | None) -> dict:
    """A fresh process running ``gepgeo-draws`` once, imports included."""
    shutil.rmtree(out, ignore_errors=True)
    code = COLD.format(here=str(HERE), folder=str(folder), out=str(out), tag=RESULT_TAG)
    t0 = time.perf_counter()
    # run from the output's parent: `python -c` puts the working directory first on sys.path,
    # and a checkout's root there would shadow PYTHONPATH's gepgeo
    out.parent.mkdir(parents=True, exist_ok=True)
    res = _result(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env=_env(tree), cwd=out.parent))
    res["process_s"] = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tree", type=Path, nargs="*", default=[],
                    help="gepgeo source trees to compare (PYTHONPATH); default: the installed")
    ap.add_argument("--data", type=Path, default=HERE / "_data")
    ap.add_argument("--out", type=Path, default=HERE / "_out" / "draws")
    args = ap.parse_args(argv)
    folder = ensure_inputs(args.size, args.data.resolve())
    warmup = ensure_inputs(WARMUP_SIZE, args.data.resolve())
    trees: list[Path | None] = [t.resolve() for t in args.tree] or [None]
    runs: dict[tuple[str, str], list[dict]] = {}
    for i in range(args.repeat):
        for tree in trees:
            label = str(tree) if tree else "installed"
            for v in VARIANTS:
                r = warm(v, folder, warmup, args.out / v, tree)
                runs.setdefault((label, v), []).append(r)
                print(f"  {i + 1}/{args.repeat} {label} {v:<20} {r['seconds']:7.3f} s"
                      + (f", uncertainty_s {r['uncertainty_s']:.3f}" if r["uncertainty_s"]
                         else "") + f", others busy {r['others']:.1f} cores", flush=True)
            r = cold(folder, args.out / "cold", tree)
            runs.setdefault((label, "cold"), []).append(r)
            print(f"  {i + 1}/{args.repeat} {label} {'cold gepgeo-draws':<20} "
                  f"{r['seconds']:7.3f} s, uncertainty_s {r['uncertainty_s']:.3f}, "
                  f"scipy.stats imported: {r['scipy_stats']} ({r['gepgeo']})", flush=True)
    print(f"\n{args.size}², minimum of {args.repeat} interleaved repeats "
          f"(load average now {os.getloadavg()[0]:.1f}):")
    for tree in trees:
        label = str(tree) if tree else "installed"
        best = {v: min(r["seconds"] for r in runs[(label, v)]) for v in VARIANTS}
        unc = {v: min(r["uncertainty_s"] for r in runs[(label, v)])
               for v in VARIANTS[1:]}
        c = runs[(label, "cold")]
        cold_unc = float(np.min([r["uncertainty_s"] for r in c]))
        print(f"{label}:")
        added = 100 * (best["gepgeo-draws"] / best["gepgeo"] - 1)
        print(f"  run {best['gepgeo']:.3f} s; with draws and Sobol' indices "
              f"{best['gepgeo-draws']:.3f} s ({added:+.1f} %"
              f", uncertainty_s {unc['gepgeo-draws']:.3f} s = "
              f"{100 * unc['gepgeo-draws'] / best['gepgeo']:.1f} % of the run); intervals only "
              f"{best['gepgeo-draws-nosens']:.3f} s "
              f"({100 * (best['gepgeo-draws-nosens'] / best['gepgeo'] - 1):+.1f} %, uncertainty_s "
              f"{unc['gepgeo-draws-nosens']:.3f} s = "
              f"{100 * unc['gepgeo-draws-nosens'] / best['gepgeo']:.1f} %)")
        print(f"  cold (fresh process, imports included): uncertainty_s {cold_unc:.3f} s = "
              f"{100 * cold_unc / best['gepgeo']:.1f} % of the warm run; scipy.stats imported: "
              f"{c[0]['scipy_stats']}")


if __name__ == "__main__":
    main()
