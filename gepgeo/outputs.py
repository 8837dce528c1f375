"""Output folders: what gepgeo may replace, how a finished folder is put in place, free space.

Rules (README, "Exit status"):

* an output folder is written into a temporary folder beside it (``.NAME.tmp-PID-XXXXXXXX``)
  and renamed into place only when complete;
* the final rename never replaces something that appeared while the run was computing (a
  second run into the same ``--out``); with ``--overwrite`` it replaces only a folder that
  gepgeo created (it holds gepgeo's ``manifest.json``, or ``change/manifest.json`` for a
  comparison) and that holds none of the run's inputs; never a file, a symbolic link, the
  current folder or one of its parents;
* a temporary folder left by a killed run is removed by a later run only when it is certainly
  dead: its lock (held by the live run for its whole duration) is free, and either its owner ran
  in this host's process namespace and is gone, or it has not changed for :data:`STALE_AGE_S`;
* before a run, the size of the maps is estimated and compared with the free space at the
  output (:func:`estimate_output`, :func:`check_space`).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _interrupt
from .errors import DiskSpaceError, GepgeoError, OutputError, OutputExistsError

__all__ = ["atomic_folder", "check_target", "is_gepgeo_folder", "remove_stale", "Estimate",
           "estimate_output", "check_space", "LARGE_GRID_PIXELS", "STALE_AGE_S",
           "disk_full_error", "write_failure_error", "native_stderr_captured", "CapturedStderr",
           "human_bytes"]

#: Grids larger than this many pixels need ``--yes`` on the command line (2.5e9 pixels, e.g.
#: 50 000 x 50 000: about 3.5 min on 2 cores and some 45 GB of maps with the default maps). The
#: benchmarks' 40 000² grid (1.6e9 pixels) stays below it.
LARGE_GRID_PIXELS = 2_500_000_000

#: A temporary folder whose owner cannot be checked (another host or container, or a folder
#: without an owner record) is removed only when nothing in it changed for this long, seconds.
STALE_AGE_S = 2 * 86400

#: Lock file inside a live run's temporary folder (removed just before the final rename).
LOCK_NAME = ".gepgeo-run.lock"

#: Bytes per pixel of a float32 density map as written (ZSTD or DEFLATE with the floating-point
#: predictor). Measured: 0.69 on average over the 9 maps of the 1 000² benchmark grid
#: (benchmarks/RESULTS.md, 6.2 MB), 0.8 over the 10 maps of a 1 500² test grid, from 0.03 (a
#: value map constant per land type) to 2.4 (maps of a continuous layer with noise). All-nodata
#: tiles take almost nothing, so a mostly-nodata grid needs far less.
COMPRESSED_BYTES_PER_PIXEL = 1.0

#: Rough throughput of a run per core, pixels per second (README: 12-15 Mpixel/s on 2 cores).
PIXELS_PER_SECOND_PER_CORE = 6.0e6

_ENOSPC = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "free disk space available")


def human_bytes(n: float) -> str:
    """``n`` bytes as text with a binary unit (``1.5 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------------
# what may be replaced
# --------------------------------------------------------------------------------------------

def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def is_gepgeo_folder(folder: Path) -> bool:
    """Whether ``folder`` is an output folder gepgeo wrote: a run folder (``manifest.json`` with
    ``gepgeo_version``), a comparison / demo folder (``change/manifest.json`` of kind
    ``comparison``) or a series folder (``series/manifest.json`` of kind ``series``)."""
    folder = Path(folder)
    run = _read_manifest(folder / "manifest.json")
    if run is not None and "gepgeo_version" in run:
        return True
    change = _read_manifest(folder / "change" / "manifest.json")
    if change is not None and change.get("kind") == "comparison":
        return True
    series = _read_manifest(folder / "series" / "manifest.json")
    return series is not None and series.get("kind") == "series"


def _forms(p: Path) -> set[Path]:
    """The absolute path of ``p`` as written and with every symbolic link resolved."""
    p = Path(p)
    out = {Path(os.path.abspath(p))}
    try:
        out.add(p.resolve())
    except (OSError, RuntimeError):
        pass
    return out


def _inside(path: Path, folder: Path) -> bool:
    return any(a == b or b in a.parents for a in _forms(path) for b in _forms(folder))


def check_target(target: Path, inputs: Iterable[Path] = (), *, overwrite: bool = False) -> None:
    """Refuse an output folder that may not be written or replaced.

    Parameters
    ----------
    target : Path
        The output folder asked for (``--out``).
    inputs : iterable of Path
        Every file the run reads (pipeline, land use, layers, zones, profiles given by path).
    overwrite : bool
        ``--overwrite``: an existing folder may be replaced, if gepgeo may replace it.

    Raises
    ------
    OutputExistsError
        ``target`` exists and ``overwrite`` is false.
    OutputError
        ``target`` exists and may not be replaced: a file or a symbolic link, the current folder
        or one of its parents, a folder gepgeo did not create, or one holding an input.
    """
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return
    why = _why_not_replaceable(target, inputs)
    if not overwrite:
        if why:       # do not suggest --overwrite where it would be refused
            raise OutputExistsError(f"output folder {str(target)!r} exists and {why}; choose "
                                    "another --out")
        raise OutputExistsError(f"output folder {str(target)!r} exists; choose another --out or "
                                "pass --overwrite")
    if why:
        raise OutputError(f"output folder {str(target)!r}: {why}; gepgeo replaces only an output "
                          "folder it created that holds none of the run's inputs; choose "
                          "another --out")


def _why_not_replaceable(target: Path, inputs: Iterable[Path]) -> str | None:
    if target.is_symlink():
        return "is a symbolic link, not a folder gepgeo created"
    if not target.is_dir():
        return "is a file, not a folder (gepgeo never replaces a file)"
    cwd = Path.cwd()
    if _inside(cwd, target):
        return "is the current folder or one of its parents"
    for p in inputs:
        if _inside(Path(p), target):
            return f"holds the input {str(p)!r}"
    if not is_gepgeo_folder(target):
        return ("was not created by gepgeo (no gepgeo manifest.json, nor change/manifest.json "
                "of a comparison)")
    return None


# --------------------------------------------------------------------------------------------
# the final rename
# --------------------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; ``False`` when the system or file system lacks it.

    Raises
    ------
    OSError
        The rename failed for another reason (``EEXIST`` when ``dst`` exists and
        ``RENAME_NOREPLACE`` was asked).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _appeared(target: Path) -> OutputExistsError:
    return OutputExistsError(f"output folder {str(target)!r} appeared while this run was "
                             "computing (another run into the same --out?); it was kept and "
                             "this run's result discarded; choose another --out")


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (atomically where the system can)."""
    try:
        if _renameat2(src, dst, _RENAME_NOREPLACE):
            return
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise _appeared(dst) from None
        raise
    # no renameat2: a folder that appears between this check and the rename is replaced only
    # if it is empty (rename onto a non-empty folder fails), so nothing is lost
    if dst.exists() or dst.is_symlink():
        raise _appeared(dst)
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise _appeared(dst) from None
        raise


@contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    """Serialise the final renames of gepgeo runs into one folder (best effort: an ``flock`` on
    the folder itself, where the file system allows it)."""
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)


def _finish(tmp: Path, target: Path, *, overwrite: bool, inputs: Sequence[Path]) -> None:
    """Put the complete folder ``tmp`` in place as ``target``.

    Without ``overwrite`` an existing ``target`` (one that appeared since the run started) is
    never replaced. With it, ``target`` is checked again (:func:`check_target`) and swapped
    with ``tmp`` atomically where the system can (``RENAME_EXCHANGE``), then the old folder is
    removed.

    Raises
    ------
    OutputExistsError, OutputError
    """
    with _dir_lock(target.parent):
        if not overwrite or not (target.exists() or target.is_symlink()):
            _rename_noreplace(tmp, target)
            return
        check_target(target, inputs, overwrite=True)
        try:
            swapped = _renameat2(tmp, target, _RENAME_EXCHANGE)
        except OSError:
            swapped = False
        if swapped:
            shutil.rmtree(tmp, ignore_errors=True)      # now the previous folder
            return
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# the live run's lock and stale temporary folders
# --------------------------------------------------------------------------------------------

def _host_id() -> str:
    """This host (boot) and PID namespace: processes with the same id see each other's PIDs."""
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id",):
        try:
            parts.append(Path(path).read_text().strip())
        except OSError:
            parts.append("")
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("")
    return "|".join(parts)


def _hold_lock(folder: Path) -> int | None:
    """Create ``folder/LOCK_NAME`` with this run's owner record and hold an exclusive lock on
    it; the open descriptor (``None`` if the file system refuses locks)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    # a cleaner testing the lock holds it (shared) for an instant: retry for up to a second
    for _ in range(100):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:       # no locks on this file system: the owner record and age decide
            break
    record = {"host": _host_id(), "pid": os.getpid(), "started": time.time()}
    os.write(fd, (json.dumps(record) + "\n").encode())
    return fd


def _lock_state(lock: Path) -> bool | None:
    """``True`` when another process holds ``lock``; ``False`` when it is free; ``None`` when
    there is no lock file or locks cannot be tested here."""
    try:
        import fcntl
        fd = os.open(lock, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _last_change(folder: Path) -> float:
    """Newest modification time of ``folder`` and of what is in it (two levels), seconds."""
    newest = 0.0
    stack = [(folder, 0)]
    while stack:
        p, depth = stack.pop()
        try:
            st = p.lstat()
        except OSError:
            continue
        newest = max(newest, st.st_mtime)
        if depth < 2 and p.is_dir() and not p.is_symlink():
            try:
                stack.extend((c, depth + 1) for c in p.iterdir())
            except OSError:
                pass
    return newest


def _is_stale(folder: Path, now: float) -> bool:
    """Whether a temporary folder was certainly left by a run that no longer runs."""
    lock = folder / LOCK_NAME
    if _lock_state(lock):
        return False                                  # its run holds the lock: alive
    owner = _read_manifest(lock)
    old = now - _last_change(folder) > STALE_AGE_S
    if owner is not None and owner.get("host") == _host_id() and isinstance(owner.get("pid"), int):
        # same host and PID namespace, and its lock is free: the PID settles it
        return old or not _pid_alive(owner["pid"])
    # another host or container, or no owner record (a run just starting, or an older
    # gepgeo's folder): its PID means nothing here; only a long silence does
    return old


def remove_stale(target: Path, now: float | None = None) -> list[Path]:
    """Remove gepgeo's temporary folders (``.NAME.tmp-PID-XXXXXXXX``) beside ``target`` that
    were left by killed runs (see :func:`_is_stale`); the folders removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        candidates = list(Path(target).parent.glob(".*.tmp-*"))
    except OSError:
        return removed
    for p in candidates:
        try:
            pid_txt, rand = p.name.rsplit(".tmp-", 1)[1].split("-")
            int(pid_txt)
        except (IndexError, ValueError):
            continue
        if len(rand) != 8 or p.is_symlink() or not p.is_dir():
            continue
        if _is_stale(p, now):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


# --------------------------------------------------------------------------------------------
# the atomic output folder
# --------------------------------------------------------------------------------------------

def _cannot_write(target: Path, exc: OSError) -> OutputError:
    if exc.errno in _ENOSPC:
        return DiskSpaceError(f"output folder {str(target)!r}: the disk is full "
                              f"({exc.strerror}); free some space or choose another --out")
    return OutputError(f"output folder {str(target)!r}: cannot write there "
                       f"({exc.strerror or exc}); choose another --out")


@contextmanager
def atomic_folder(target: Path, *, overwrite: bool = False,
                  inputs: Sequence[Path] = ()) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; rename it to ``target`` on success only.

    An existing ``target`` is kept unless ``overwrite``, and replaced then only if gepgeo may
    replace it (:func:`check_target`: its own folder, holding none of ``inputs``), once the new
    folder is complete. A ``target`` that appears while the run computes is never replaced
    without ``overwrite``. On any error the temporary folder is removed.

    Raises
    ------
    OutputExistsError, OutputError, DiskSpaceError
    """
    target = Path(target)
    if target.name in ("", ".", ".."):
        target = Path(os.path.abspath(target))
    check_target(target, inputs, overwrite=overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        if isinstance(exc, GepgeoError):
            raise
        raise _cannot_write(target, exc) from None
    lock_fd: int | None = None
    try:
        lock_fd = _hold_lock(tmp)
        yield tmp
        _interrupt.check()   # a Ctrl-C swallowed on the way never becomes a finished output
        (tmp / LOCK_NAME).unlink(missing_ok=True)
        _finish(tmp, target, overwrite=overwrite, inputs=inputs)
    except BaseException as exc:
        full = (disk_full_error(exc, target, target.parent, needed=None)
                if isinstance(exc, Exception) and not isinstance(exc, GepgeoError) else None)
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from None
        if isinstance(exc, OSError) and not isinstance(exc, GepgeoError) and (
                exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)):
            raise _cannot_write(target, exc) from None
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


# --------------------------------------------------------------------------------------------
# size and free space
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """What a run will write, estimated before it starts.

    Attributes
    ----------
    shape : (int, int)
        Grid (rows, columns), pixels.
    n_maps : int
        Number of maps written.
    raw_bytes : int
        The maps uncompressed (float32), bytes: an upper bound.
    bytes : int
        The maps as written (compressed, :data:`COMPRESSED_BYTES_PER_PIXEL`), bytes.
    seconds : float
        A rough run time on this machine's cores, s.
    """

    shape: tuple[int, int]
    n_maps: int
    raw_bytes: int
    bytes: int
    seconds: float

    @property
    def pixels(self) -> int:
        return int(self.shape[0]) * int(self.shape[1])

    def summary(self) -> str:
        h, w = self.shape
        return (f"grid {w:,} x {h:,} = {self.pixels:,} pixels; {self.n_maps} map(s) of about "
                f"{human_bytes(self.bytes)} (at most {human_bytes(self.raw_bytes)} "
                f"uncompressed); roughly {_duration(self.seconds)}")


def estimate_output(shape: Sequence[int], n_maps: int, *, codec: str = "zstd",
                    cog: bool = False) -> Estimate:
    """Estimate the size of a run's maps and its time.

    Parameters
    ----------
    shape : (int, int)
        Land-use grid (rows, columns), pixels.
    n_maps : int
        Maps written (float32 each).
    codec : str
        ``none`` stores 4 bytes per pixel; ``zstd`` and ``deflate`` about
        :data:`COMPRESSED_BYTES_PER_PIXEL`.
    cog : bool
        Cloud-Optimized copies: overviews add a third, and one map exists twice while copied.
    """
    h, w = int(shape[0]), int(shape[1])
    pixels = h * w
    raw = 4 * pixels * n_maps
    per_px = 4.0 if codec == "none" else COMPRESSED_BYTES_PER_PIXEL
    size = per_px * pixels * n_maps
    if cog:
        size = size * 4 / 3 + per_px * pixels
        raw = int(raw * 4 / 3 + 4 * pixels)
    cores = max(1, min(os.cpu_count() or 1, 16))
    return Estimate((h, w), n_maps, int(raw), int(size),
                    pixels / (PIXELS_PER_SECOND_PER_CORE * cores))


def free_bytes(folder: Path) -> int | None:
    """Free bytes (for this user) on the file system of ``folder`` or its nearest existing
    parent; ``None`` if that cannot be told."""
    p = Path(os.path.abspath(folder))
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:
        return None


def check_space(est: Estimate, target: Path) -> None:
    """Refuse a run whose maps cannot fit on the output's file system.

    Raises
    ------
    DiskSpaceError
        The estimated maps (:attr:`Estimate.bytes`) exceed the free space at ``target``.
    """
    free = free_bytes(Path(target).parent)
    if free is None or est.bytes <= free:
        return
    h, w = est.shape
    raise DiskSpaceError(
        f"output folder {str(target)!r}: not enough free space: {est.n_maps} map(s) of "
        f"{w:,} x {h:,} pixels need about {human_bytes(est.bytes)} (at most "
        f"{human_bytes(est.raw_bytes)} uncompressed) but {human_bytes(free)} is free there; free "
        "some space, choose another --out, write fewer maps (options.value_maps: false), or "
        "pass --yes if most of the grid is nodata (its maps then take far less)")


# --------------------------------------------------------------------------------------------
# disk full mid-run
# --------------------------------------------------------------------------------------------

def _chain_text(exc: BaseException) -> str:
    seen: set[int] = set()
    parts = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(str(cur))
        if isinstance(cur, OSError) and cur.errno in _ENOSPC:
            parts.append("no space left on device")
        cur = cur.__cause__ or cur.__context__
    return " ".join(parts).lower()


def disk_full_error(exc: BaseException, target: Path, folder: Path, *, needed: int | None,
                    written: int | None = None, captured: str = "") -> DiskSpaceError | None:
    """A :class:`DiskSpaceError` for ``exc`` if it (or what GDAL printed, ``captured``) says the
    disk filled up, else ``None``.

    Parameters
    ----------
    target : Path
        The output folder the user asked for (named in the message).
    folder : Path
        Where the run was writing (its temporary folder), for the free space.
    needed : int, optional
        Estimated bytes the output needs in all.
    written : int, optional
        Bytes written before the disk filled.
    """
    text = _chain_text(exc) + " " + captured.lower()
    if not any(t in text for t in _FULL_TEXTS):
        return None
    free = free_bytes(folder)
    parts = [f"output folder {str(target)!r}: the disk filled up while writing it"]
    if written is not None:
        parts.append(f"{human_bytes(written)} written")
    if needed is not None:
        parts.append(f"about {human_bytes(needed)} needed in all")
    if free is not None:
        parts.append(f"{human_bytes(free)} was free when it failed")
    return DiskSpaceError("; ".join(parts) + "; nothing was written (the partial output was "
                          "removed); free some space or choose another --out")


def write_failure_error(exc: BaseException, target: Path) -> OutputError | None:
    """An :class:`OutputError` if ``exc`` is a failed write of a map (GDAL: "Write failed"),
    else ``None`` (then it is a failed read of an input)."""
    text = _chain_text(exc)
    if "write failed" not in text and "error writing" not in text:
        return None
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return OutputError(f"output folder {str(target)!r}: writing the maps failed ({first}); check "
                        "that the disk is writable and not full, or choose another --out")


def folder_bytes(folder: Path) -> int:
    """Bytes in the files under ``folder``."""
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class CapturedStderr:
    """What native code (GDAL, libtiff) and Python wrote to file descriptor 2 meanwhile."""

    def __init__(self) -> None:
        self.text = ""
        self._data = b""

    def replay(self) -> None:
        """Print what was captured to stderr."""
        if self._data:
            try:
                os.write(2, self._data)
            except OSError:
                pass
            self._data = b""


@contextmanager
def native_stderr_captured(cap: CapturedStderr | None = None) -> Iterator[CapturedStderr]:
    """Divert file descriptor 2 to a temporary file for the block.

    GDAL and libtiff print write errors (e.g. one ``_tiffWriteProc: No space left on device``
    per tile) straight to the process's stderr from the computing threads. What was printed (up
    to 1 MiB) is kept in the yielded object; it is printed again after the block when the block
    succeeds, and kept for the caller (:meth:`CapturedStderr.replay`) when it raises.
    """
    import sys

    cap = CapturedStderr() if cap is None else cap
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield cap
        return
    try:
        sink = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    except OSError:                  # e.g. the temporary folder's disk is full
        sink = open(os.devnull, "w+b")  # noqa: SIM115  (closed in the finally below)
    os.dup2(sink.fileno(), 2)
    ok = False
    try:
        yield cap
        ok = True
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        try:
            sink.seek(0)
            cap._data = sink.read(1 << 20)
        except OSError:
            cap._data = b""
        sink.close()
        cap.text = cap._data.decode("utf-8", "replace")
        if ok:
            cap.replay()
