"""Tables by land type kept in a CSV file, the way analysts keep them.

In a pipeline or a profile, ``by_land_type: {csv: params.csv, column: carbon_rate}`` stands for
the table read from column ``carbon_rate`` of ``params.csv``, whose first column names the land
type and whose first row holds the column names. Relative paths are relative to the YAML file.
Blank cells are left out of the table (that land type gets no value from it); anything else
that is not a number is an error naming the file, row and column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, GepgeoError, Problems

__all__ = ["MAX_CSV_BYTES", "expand_csv_tables", "read_land_type_column"]

#: A land-type table has a handful of rows; a larger file is not one
MAX_CSV_BYTES = 4 * 1024 * 1024

_REF_KEYS = {"csv", "column"}


def read_land_type_column(path: Path, column: str, *, where: str) -> dict[str, float]:
    """Read one column of a land-type CSV as ``{land type: value}``.

    Parameters
    ----------
    path : Path
        CSV file (UTF-8, with or without a byte-order mark); first column: land type.
    column : str
        Header of the column to read.
    where : str
        Where the reference was found, for messages (``parameters.carbon_sequestration_rate``).

    Raises
    ------
    ConfigError
        Missing or unreadable file, unknown column, a land type listed twice, a cell that is
        not a finite number.
    """
    if not path.is_file():
        raise ConfigError(f"{where}: CSV file {str(path)!r} does not exist")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ConfigError(f"{where}: CSV file {str(path)!r} is larger than "
                          f"{MAX_CSV_BYTES // 2**20} MiB; a table by land type is a few rows")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{where}: CSV file {str(path)!r} cannot be read ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ConfigError(f"{where}: CSV file {str(path)!r} needs a header row and one row per "
                          "land type")
    header = [c.strip() for c in rows[0]]
    if column not in header[1:]:
        raise ConfigError(f"{where}: CSV file {str(path)!r} has no column {column[:60]!r} "
                          f"(columns: {', '.join(h[:40] for h in header[1:][:30])})")
    j = header.index(column)
    table: dict[str, float] = {}
    for i, row in enumerate(rows[1:], start=2):
        lt = row[0].strip() if row else ""
        if not lt:
            raise ConfigError(f"{where}: {path.name} row {i}: the first column (land type) is "
                              "empty")
        if lt in table:
            raise ConfigError(f"{where}: {path.name} lists land type {lt[:40]!r} twice")
        cell = row[j].strip() if j < len(row) else ""
        if not cell:
            continue
        try:
            value = float(cell)
        except ValueError:
            raise ConfigError(f"{where}: {path.name} row {i}, column {column[:40]!r}: "
                              f"{cell[:40]!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {path.name} row {i}, column {column[:40]!r}: "
                              f"{cell[:40]!r} is not a finite number")
        table[lt] = value
    if not table:
        raise ConfigError(f"{where}: column {column[:40]!r} of {path.name} has no values")
    return table


def _is_ref(table: Any) -> bool:
    return isinstance(table, Mapping) and "csv" in table


def expand_csv_tables(params: Any, base: Path, *, where: str,
                      problems: Problems | None = None) -> list[Path]:
    """Replace, in place, every ``by_land_type: {csv:, column:}`` of a ``parameters`` mapping
    (key -> entry) with the table read from the CSV file (relative to ``base``).

    Anything that is not such a reference is left for the schema to check. With ``problems``,
    a reference that cannot be read is recorded there and its key removed from ``params``
    (every bad reference is reported, not the first only); without, the first one raises.
    Returns the CSV files read: they are inputs of the run (checksummed in the manifest, and
    never inside a folder an ``--overwrite`` may replace).
    """
    read: list[Path] = []
    if not isinstance(params, MutableMapping):
        return read
    for key, entry in list(params.items()):
        if not isinstance(entry, MutableMapping):
            continue
        table = entry.get("by_land_type")
        if not _is_ref(table):
            continue
        assert isinstance(table, Mapping)
        try:
            at = f"{where}.{key}.by_land_type"
            extra = set(table) - _REF_KEYS
            if (extra or not isinstance(table.get("column"), str)
                    or not isinstance(table["csv"], str)):
                raise ConfigError(f"{at}: a CSV table is {{csv: FILE, column: NAME}} (both text)")
            path = Path(table["csv"]).expanduser()
            path = path if path.is_absolute() else base / path
            entry["by_land_type"] = read_land_type_column(path, table["column"], where=at)
            read.append(path)
        except GepgeoError as exc:
            if problems is None:
                raise
            problems.add(exc)
            del params[key]
    return read
