"""A first run's compile on both cores: part of it in a second process.

On a fresh install numba compiles the kernel once (then loads it from its on-disk cache). The
compile runs in one thread, so a command that computes (``run``, ``demo``, ``compare``,
``series``) starts, when the cache lacks the kernel's functions, a second Python process that
compiles into numba's cache :func:`gepgeo.kernel.class_densities` with the generated
per-pixel evaluation of every service (``services_row``, about a fifth of the whole compile),
then the stage that adds the totals (``_accumulate_row``), while this process imports, reads
and checks its inputs and compiles the rest of :func:`gepgeo.kernel.gep_block`. When this
process reaches one of those functions, it waits until the other one has compiled it and
loads it from the cache instead of compiling it. Both processes compile the same functions
for the same argument types with the same options, so the machine code is the same either
way: the results do not depend on which process compiled what.

The second process writes nothing but numba's cache files (atomically, as numba always does),
tells this one on a pipe what it has compiled, and is stopped when this process exits. Set
``GEPGEO_NO_BACKGROUND_COMPILE=1`` to compile everything in the command's own process.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["start", "wait", "ENV_OFF"]

#: environment variable that turns the background compile off
ENV_OFF = "GEPGEO_NO_BACKGROUND_COMPILE"

_proc: subprocess.Popen[bytes] | None = None
#: what the background process has reported compiled (one line each on its stdout)
_done: set[str] = set()
_reported = threading.Condition()
_ENDED = "<ended>"
#: the longest this process waits for one item (the whole compile takes 10-30 s)
_WAIT_S = 300.0


def start() -> bool:
    """Start the background compile when numba's cache lacks the kernel's functions; return
    whether it was started. Never raises: anything unexpected leaves the whole compile to this
    process, as before."""
    global _proc
    if os.environ.get(ENV_OFF, "") not in ("", "0") or _proc is not None:
        return False
    try:
        from . import kernel as K

        if K.class_densities_cached():
            return False
        # the gepgeo this process imports, as a bare package: its __init__ (dask, xarray: 1 s
        # or more) is not needed for compiling
        pkg = str(Path(K.__file__).resolve().parent)
        code = ("import sys, types; p = types.ModuleType('gepgeo'); "
                f"p.__path__ = [{pkg!r}]; sys.modules['gepgeo'] = p; "
                "from gepgeo.warmup import _main; _main()")
        _proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        _done.clear()
        threading.Thread(target=_read_reports, args=(_proc,), daemon=True,
                         name="gepgeo-warmup").start()
    except Exception:  # noqa: BLE001 - an optimisation only: never stop a command
        _proc = None
        return False
    atexit.register(_stop)
    _await_in_cache({K.class_densities: "class_densities", K._services_row: "class_densities",
                     K._accumulate_row: "accumulate_row"})
    return True


def _read_reports(proc: subprocess.Popen[bytes]) -> None:
    """Note each item the background process reports compiled; all of them once it ends."""
    assert proc.stdout is not None
    for line in proc.stdout:
        with _reported:
            _done.add(line.decode(errors="replace").strip())
            _reported.notify_all()
    with _reported:
        _done.add(_ENDED)
        _reported.notify_all()


def _wait_for(item: str, timeout: float = _WAIT_S) -> None:
    """Wait until the background process has compiled ``item``, ended, or ``timeout`` s have
    passed (then whatever it has not cached compiles here, as without it)."""
    with _reported:
        _reported.wait_for(lambda: item in _done or _ENDED in _done, timeout)


class _AwaitedCache:
    """A dispatcher's numba cache whose lookups first wait for the background process to
    compile into it: the kernel's compile here then loads what the other process compiled
    rather than compiling it a second time."""

    def __init__(self, disp: Any, item: str) -> None:
        self._disp = disp
        self._cache = disp._cache
        self._item = item

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        _wait_for(self._item)
        self._disp._cache = self._cache      # once waited, the cache as numba made it
        return self._cache.load_overload(sig, target_context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)


def _await_in_cache(items: dict[Any, str]) -> None:
    for disp, item in items.items():
        if hasattr(disp, "_cache"):
            disp._cache = _AwaitedCache(disp, item)


def wait(timeout: float | None = None) -> int | None:
    """Wait for the background compile (if one was started) to end; its exit code, or None."""
    if _proc is None:
        return None
    try:
        return _proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _stop() -> None:
    if _proc is not None and _proc.poll() is None:
        _proc.terminate()
        try:
            _proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            _proc.kill()


def _main() -> None:
    """The background process: compile into numba's cache, nothing else."""
    from . import kernel as K

    K.class_densities(*K.class_densities_args())
    print("class_densities", flush=True)
    # then the totals' stage, which the kernel's compile there reaches last
    K._accumulate_row.compile(K.accumulate_row_signature())
    print("accumulate_row", flush=True)
