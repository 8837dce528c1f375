"""Errors and warnings raised by gepgeo.

Every error derives from :class:`GepgeoError` and from the matching built-in exception, so callers
can catch either (``except gepgeo.GepgeoError`` or ``except ValueError``). Messages are one line,
name the file, layer or key at fault, and say how to fix it. The command line turns any
``GepgeoError`` into that one line on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "GepgeoError",
    "ConfigError",
    "ProfileError",
    "UncertaintyError",
    "MissingParameterError",
    "UnitError",
    "InputFileError",
    "RasterError",
    "GridMismatchError",
    "UnmappedCodesError",
    "DomainError",
    "OutputExistsError",
    "OutputError",
    "DiskSpaceError",
    "TerrainError",
    "DeriveError",
    "ProblemsError",
    "Problems",
    "GepgeoWarning",
    "AreaScaleWarning",
    "GridAlignmentWarning",
    "ProfileScopeWarning",
    "brief",
    "shorten",
    "file_problem",
    "one_line",
]

#: longest error message gepgeo prints, characters: a message that quotes a user's value or
#: lists codes is cut there (with an ellipsis), so that a huge input cannot print a huge line
MAX_MESSAGE = 1000

#: longest user value quoted in a message, characters (:func:`brief`)
MAX_VALUE = 80


#: Unicode categories that break a line or are invisible control characters
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a line break or another control character."""
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``), so that a
    name or value from the user's files cannot break a message over several lines."""
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in _CONTROL_CATEGORIES else ch for ch in text)


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when it was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def brief(value: Any, limit: int = MAX_VALUE) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (``…`` when cut).

    The repr of a large container is never built whole: a YAML document can make a value of
    millions of items (or, through aliases, of billions) whose full repr would take minutes
    and gigabytes before being cut.
    """
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        n = len(value)
        if n > 8:
            kind = type(value).__name__
            return f"<{kind} of {n} items>"
        if isinstance(value, dict):
            inner = ", ".join(f"{brief(k, limit)}: {brief(v, limit)}" for k, v in value.items())
            text = "{" + inner + "}"
        else:
            inner = ", ".join(brief(v, limit) for v in value)
            text = ("[" + inner + "]" if isinstance(value, list)
                    else f"{type(value).__name__}({inner})")
        return shorten(text, limit)
    if isinstance(value, (str, bytes)):
        value = value[: limit + 1]    # repr of a slice: never of a megabyte string
    return shorten(repr(value), limit)


def file_problem(path: Path | str) -> str | None:
    """What keeps ``path`` from being read as a file, as a phrase for a message (``does not
    exist``, ``is a folder, not a file``, ``is a symbolic link loop`` ...), or None when it is
    a readable regular file."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (following its links never reaches a file)"
        if exc.errno == errno.ENOENT and p.is_symlink():
            try:
                dest = os.readlink(p)
            except OSError:
                dest = "?"
            return f"is a broken symbolic link (to {dest!r}, which does not exist)"
        if exc.errno == errno.ENOENT:
            return "does not exist"
        if exc.errno == errno.ENAMETOOLONG:
            return "is not a valid path (name too long)"
        if exc.errno == errno.ENOTDIR:
            return "does not exist (a part of its path is a file, not a folder)"
        return f"cannot be accessed ({exc.strerror or exc})"
    import stat

    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, pipe or socket)"
    if not os.access(p, os.R_OK):
        return "cannot be read (permission denied)"
    return None


class GepgeoError(Exception):
    """Root of every error gepgeo raises on purpose (bad input, bad configuration).

    Its message is always one line: line breaks that come with user-supplied names or values
    are shown escaped, and it is at most :data:`MAX_MESSAGE` characters long."""

    def __str__(self) -> str:
        return shorten(one_line(super().__str__()))


class ConfigError(GepgeoError, ValueError):
    """A pipeline file is invalid: unknown key, wrong type, impossible combination."""


class UncertaintyError(ConfigError):
    """A parameter's ``uncertainty:`` range is invalid (unknown distribution, missing or
    inconsistent bounds, no source, outside the parameter's domain), or the uncertainty
    options cannot apply to the run (see docs/METHOD.md, Uncertainty)."""


class ProfileError(GepgeoError, ValueError):
    """A parameter profile is invalid or cannot be found."""


class MissingParameterError(GepgeoError, KeyError):
    """A service needs a parameter that neither the profile nor the pipeline provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return shorten(one_line(str(self.args[0]))) if self.args else ""


class UnitError(GepgeoError, ValueError):
    """A unit is unknown for a parameter, or cannot be converted to the unit the method uses."""


class InputFileError(GepgeoError, OSError):
    """An input file is missing, unreadable, or not of the expected kind."""


class RasterError(GepgeoError, ValueError):
    """A raster is readable but unusable: no CRS, empty, wrong band, bad nodata."""


class GridMismatchError(GepgeoError, ValueError):
    """A layer is not on the land-use grid and cannot (or may not) be aligned to it."""


class UnmappedCodesError(GepgeoError, KeyError):
    """The land-use raster holds codes that the pipeline's mapping does not declare."""

    def __str__(self) -> str:
        return shorten(one_line(str(self.args[0]))) if self.args else ""


class DomainError(GepgeoError, ValueError):
    """A factor value lies outside its domain (e.g. C or P outside [0, 1], negative R)."""


class OutputExistsError(GepgeoError, FileExistsError):
    """The output folder exists already and ``--overwrite`` was not given."""


class OutputError(GepgeoError, OSError):
    """The output cannot be written where asked (read-only or unwritable folder), or the folder
    asked for may not be replaced (not created by gepgeo, holds the run's inputs, is a file)."""


class DiskSpaceError(OutputError):
    """The output's file system has (or had, mid-run) too little free space for the output."""


class TerrainError(GepgeoError, ValueError):
    """A DEM cannot give a slope or an LS factor as asked: a geographic or missing CRS, rotated
    pixels, a bad terrain option (``gepgeo terrain``)."""


class DeriveError(GepgeoError, ValueError):
    """A factor layer cannot be derived as asked (``{derive: {...}}``): an input with the wrong
    number of bands or files, an unknown unit, a constant input outside its domain."""


class ProblemsError(GepgeoError, ValueError):
    """Several independent problems found at once (``gepgeo validate`` and ``gepgeo run``
    report every problem of a pipeline and its profiles, not the first one only).

    Attributes
    ----------
    problems : list of str
        One line per problem (each bounded like any gepgeo message).
    errors : list of GepgeoError
        The errors themselves, in the order found.
    """

    def __init__(self, errors: list[GepgeoError]) -> None:
        self.errors = list(errors)
        self.problems = [str(e) for e in self.errors]
        super().__init__(f"{len(self.problems)} problems: " + "; ".join(self.problems))

    def __str__(self) -> str:  # never quoted (a KeyError would quote it)
        return shorten(one_line(str(self.args[0]))) if self.args else ""


class Problems:
    """Collects the :class:`GepgeoError` of independent checks, to report them all at once.

    Use ``with problems.check(): ...`` around each independent check, then
    :meth:`raise_if_any`: one problem is raised as itself (its own class and message), several
    as one :class:`ProblemsError`.
    """

    def __init__(self) -> None:
        self.errors: list[GepgeoError] = []
        self._seen: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def add(self, exc: GepgeoError) -> None:
        """Record ``exc`` (the problems of a :class:`ProblemsError` one by one); the same
        message is recorded once."""
        for e in (exc.errors if isinstance(exc, ProblemsError) else [exc]):
            text = str(e)
            if text not in self._seen:
                self._seen.add(text)
                self.errors.append(e)

    def check(self) -> _Check:
        """A context that records a :class:`GepgeoError` raised inside it instead of raising."""
        return _Check(self)

    def raise_if_any(self) -> None:
        """Raise the one problem found, or a :class:`ProblemsError` of all of them; when
        every problem is of one class (e.g. :class:`ProfileError`), the ProblemsError is an
        instance of that class too, so that callers catching it still do."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise _problems_class({type(e) for e in self.errors})(self.errors)


_PROBLEM_CLASSES: dict[type, type] = {}


def _problems_class(kinds: set[type]) -> type:
    """:class:`ProblemsError`, or a subclass of it and of the one class of all problems."""
    if len(kinds) != 1:
        return ProblemsError
    kind = next(iter(kinds))
    if kind is ProblemsError or issubclass(kind, ProblemsError):
        return ProblemsError
    if kind not in _PROBLEM_CLASSES:
        try:
            _PROBLEM_CLASSES[kind] = type(f"{kind.__name__}s", (ProblemsError, kind),
                                          {"__str__": ProblemsError.__str__,
                                           "__module__": __name__})
        except TypeError:   # bases whose layouts cannot be combined
            _PROBLEM_CLASSES[kind] = ProblemsError
    return _PROBLEM_CLASSES[kind]


class _Check:
    def __init__(self, problems: Problems) -> None:
        self._problems = problems

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is not None and isinstance(exc, GepgeoError):
            self._problems.add(exc)
            return True
        return False


class GepgeoWarning(UserWarning):
    """Root of gepgeo's warnings: something recoverable that the analyst should know."""


class GridAlignmentWarning(GepgeoWarning):
    """A layer was aligned (resampled) to the land-use grid, or covers only part of it."""


class AreaScaleWarning(GepgeoWarning):
    """The projection's areal scale at the grid differs from 1 by more than 0.5 %."""


class ProfileScopeWarning(GepgeoWarning):
    """A profile's values were declared for an extent the grid lies mostly outside."""
