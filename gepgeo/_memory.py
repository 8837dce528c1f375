"""Process-wide memory settings for the ``gepgeo`` command (not applied on import).

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which
buffers of several MiB (per-block map and layer buffers, GDAL's) come from the heap and stay in
the process when freed. A fixed 2 MiB threshold keeps those mmapped and returned on free, while
the 1 MiB per-layer block reads stay on the (fast) heap. Measured at 4000² with 5 float32
layers (benchmarks/memory.py): RSS added 66-73 MiB instead of 82-114 MiB, same throughput; a
512 KiB threshold saved no more and cost ~20 % throughput in page faults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc(mmap_threshold: int = 2 * 1024 * 1024,
                trim_threshold: int = 4 * 1024 * 1024) -> bool:
    """Fix glibc's mmap and trim thresholds; return False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok1 = libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        ok2 = libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    except (OSError, AttributeError):
        return False
    return bool(ok1 and ok2)
