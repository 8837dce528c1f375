"""The report's reads and writes: manifests, tables and the page itself.

A report is built from its folder's files only. :func:`read_manifest` refuses a manifest that
lacks a key the report needs (:data:`RUN_MANIFEST_KEYS`, :data:`COMPARISON_MANIFEST_KEYS`) with
one :class:`~gepgeo.errors.InputFileError`; :func:`write_text` writes the page to a temporary
file in the same folder and renames it into place, and turns an unwritable folder into one
:class:`~gepgeo.errors.OutputError` (:class:`~gepgeo.errors.DiskSpaceError` when the disk is
full).
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .._files import atomic_write_text
from ..errors import DiskSpaceError, GepgeoError, InputFileError, OutputError

__all__ = [
    "COMPARISON_MANIFEST_KEYS",
    "RUN_MANIFEST_KEYS",
    "count_rows",
    "read_json",
    "read_manifest",
    "read_table",
    "split_layer",
    "write_text",
]

#: Keys without which a run's / a comparison's manifest.json cannot make a report.
RUN_MANIFEST_KEYS = ("gepgeo_version", "grid", "land_use", "inputs", "maps", "tables")
COMPARISON_MANIFEST_KEYS = ("gepgeo_version", "kind", "maps", "tables")


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``,
    with the mode of any other output file (0o644 under the usual umask).

    Raises
    ------
    OutputError
        The folder cannot be written (read-only, no permission, disk full).
    """
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        if isinstance(exc, GepgeoError):
            raise
        raise _unwritable(path, exc) from None


def _unwritable(path: Path, exc: OSError) -> OutputError:
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    cls = DiskSpaceError if full else OutputError
    return cls(f"{str(path)!r}: cannot write it ({exc.strerror or exc})")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``.

    Raises
    ------
    InputFileError
        The file cannot be read, is not JSON, or holds something other than an object.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise InputFileError(f"{str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:          # JSONDecodeError, UnicodeDecodeError
        raise InputFileError(f"{str(path)!r}: not valid JSON ({exc}); the folder is damaged: "
                             "run gepgeo again to rewrite it") from None
    if not isinstance(doc, dict):
        raise InputFileError(f"{str(path)!r}: expected a JSON object, found "
                             f"{type(doc).__name__}; the folder is damaged: run gepgeo again "
                             "to rewrite it")
    return doc


def read_manifest(path: Path, *, comparison: bool = False) -> dict[str, Any]:
    """A manifest.json holding every key a report needs.

    Raises
    ------
    InputFileError
        Unreadable, not a JSON object, or missing a key of :data:`RUN_MANIFEST_KEYS`
        (:data:`COMPARISON_MANIFEST_KEYS` for ``comparison``).
    """
    doc = read_json(path)
    keys = COMPARISON_MANIFEST_KEYS if comparison else RUN_MANIFEST_KEYS
    missing = [k for k in keys if k not in doc]
    if missing:
        what = "comparison" if comparison else "run"
        raise InputFileError(f"{str(path)!r}: not a complete gepgeo {what} manifest (missing "
                             f"{', '.join(missing)}); the folder is damaged: run gepgeo again "
                             "to rewrite it")
    return doc


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """``folder/tables/name`` (a CSV), or None if the folder has no such table."""
    path = folder / "tables" / name
    return pd.read_csv(path) if path.is_file() else None


def count_rows(path: Path) -> int:
    """Data rows of a CSV (lines minus the header), without loading it."""
    n = 0
    last = b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        n += 1
    return max(0, n - 1)


def split_layer(rel: str) -> tuple[str, str]:
    """A manifest's table entry → (file, layer): ``tables/zones.gpkg:parcels`` names the layer
    ``parcels`` of ``tables/zones.gpkg``; a plain file has no layer (``""``)."""
    file_rel, sep, layer = rel.rpartition(":")
    return (file_rel, layer) if sep and "/" not in layer else (rel, "")
