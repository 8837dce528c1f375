"""Ctrl-C that cannot be lost.

Python turns SIGINT into ``KeyboardInterrupt`` in the main thread, wherever it is running.
When that is a callback from native code (llvmlite's object-cache hook while numba compiles
the kernel, a ctypes callback), the exception is printed as "Exception ignored" and dropped,
and the run would go on to finish and exit 0. The handler installed here also *records* the
interrupt, and :func:`check` raises it again at the points where a run commits to something
(after the compile, before the output folder is put in place).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["check", "install", "requested"]

_requested = threading.Event()


def _on_sigint(signum: int, frame: Any) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT to the recording handler (main thread only).

    Replaces Python's default handler and an inherited ignore (a background job started by a
    non-interactive shell ignores SIGINT; ``kill -INT`` must still stop the run); a handler
    installed by someone else (gepgeo used as a library) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, signal.SIG_IGN,
                                           signal.SIG_DFL):
        signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    """Whether Ctrl-C arrived since the process started."""
    return _requested.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C arrived, even if its first raise was swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt
