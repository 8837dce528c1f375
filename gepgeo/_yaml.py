"""Reading gepgeo's YAML files (pipelines, profiles) safely and strictly.

* Safe: PyYAML's safe loader (libyaml's ``CSafeLoader`` when the wheel has it, 10× faster):
  no ``!!python`` tags.
* Bounded: a file larger than :data:`MAX_YAML_BYTES` is refused before it is read, and anchors
  and aliases (``&a`` / ``*a``) are refused, so that no small file can expand into a huge value
  (the "billion laughs" document: nine nested aliases make 10⁹ strings).
* Strict: a key repeated in one mapping is an error naming the key and both lines (YAML
  loaders otherwise keep the last one silently, e.g. a second ``parameters:`` block).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from .errors import brief, file_problem

__all__ = ["MAX_YAML_BYTES", "YamlRefused", "load_yaml_file", "load_yaml_text", "number_hint"]

#: largest pipeline or profile file read, bytes (2 MiB: some 100 000 land-use codes, read in
#: 2-4 s; a pipeline lists codes and parameters, the data live in rasters)
MAX_YAML_BYTES = 2 * 2**20

_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(Exception):
    """A YAML document gepgeo will not load; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


class _StrictLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, refusing aliases, merge keys and repeated keys."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # a node reached a second time is the target of an alias (*name): the composer shares
        # the anchored node between its uses, so this is where an alias shows, whatever loader
        if node in self.constructed_objects or node in self.recursive_objects:
            raise YamlRefused("YAML anchors and aliases (&name, *name) are not accepted; write "
                              f"the value out in full (the value anchored at line {_line(node)} "
                              "is used again)", _line(node))
        return super().construct_object(node, deep=deep)

    def flatten_mapping(self, node: Any) -> None:
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                raise YamlRefused(f"line {_line(key_node)}: YAML merge keys (<<) are not "
                                  "accepted; write the keys out in full", _line(key_node))

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # raises PyYAML's own error
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise YamlRefused(f"line {_line(key_node)}: a mapping key must be a plain value, "
                                  f"not a list or a mapping", _line(key_node))
            if key in mapping:
                raise YamlRefused(
                    f"key {brief(key)} is given twice in one mapping (lines "
                    f"{first_line[key]} and {_line(key_node)}); YAML would silently keep only "
                    "the last one: merge them into one", _line(key_node))
            first_line[key] = _line(key_node)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def load_yaml_text(text: str) -> Any:
    """Parse ``text`` with the strict loader.

    Raises
    ------
    YamlRefused
        Aliases, merge keys or a repeated key.
    yaml.YAMLError
        Malformed YAML.
    """
    return yaml.load(text, Loader=_StrictLoader)   # a safe loader (SafeLoader's subclass)


def load_yaml_file(path: Path, what: str, error: type[Exception],
                   content_error: type[Exception] | None = None) -> Any:
    """Read and parse the YAML file ``path``; every problem raises one line naming ``what``
    (e.g. ``pipeline file``) and the path.

    Parameters
    ----------
    path : Path
    what : str
        How the file is named in messages.
    error : type
        Raised when the file cannot be read (a :class:`gepgeo.errors.GepgeoError`).
    content_error : type, optional
        Raised when its content is not acceptable YAML (default ``error``).
    """
    content_error = content_error or error
    where = f"{what} {str(path)!r}"
    problem = file_problem(path)
    if problem is not None:
        raise error(f"{where} {problem}")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise error(f"{where} is {size / 2**20:,.1f} MiB; gepgeo reads {what}s of at most "
                    f"{MAX_YAML_BYTES / 2**20:g} MiB (they hold codes and parameters; data "
                    "belong in raster layers)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise error(f"{where} cannot be read ({exc.strerror or exc})") from None
    try:
        return load_yaml_text(text)
    except YamlRefused as exc:
        raise content_error(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem_txt = getattr(exc, "problem", None) or "invalid YAML"
        raise content_error(f"{path}: not valid YAML{at}: {problem_txt}") from None


def number_hint(raw: Any) -> str:
    """A hint for a number that YAML read as text (``1e3``: YAML 1.1 needs a dot and a signed
    exponent), else ``""``."""
    if not isinstance(raw, str):
        return ""
    try:
        x = float(raw.strip())
    except ValueError:
        return ""
    if not math.isfinite(x):
        return ""
    return (f"; YAML 1.1 reads {brief(raw)} as text, not as a number: write it with a decimal "
            f"point and a signed exponent, {_yaml11_float(raw.strip())}")


def _yaml11_float(text: str) -> str:
    """A number's text spelt so that YAML 1.1 reads a float (``1e3`` → ``1.0e+3``)."""
    low = text.lower()
    if "e" not in low:
        return text if "." in text else text + ".0"
    mantissa, exponent = low.split("e", 1)
    if "." not in mantissa:
        mantissa += ".0"
    if exponent[:1] not in ("+", "-"):
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}"
