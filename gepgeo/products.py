"""Land-cover product presets: a product's codes, class names and fill codes, with their source.

A preset is one YAML file in ``gepgeo/data/products/`` (docs/PRODUCTS.md lists them). It gives,
for every code of the product's legend, a land-type name (``name``, used as the run's land type),
the class name in English and Chinese, and the ecosystem type the class belongs to (the
crosswalk, :data:`ECOSYSTEM_TYPES`). A pipeline names a preset with ``land_use.product``;
:func:`land_use_codes` turns it into the run's code → land type mapping, the product's own
classes or (``land_types: ecosystem``) the ecosystem types, with the pipeline's renames and
codes on top. :func:`match_products` names the presets whose legend holds a raster's codes
(``gepgeo codes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._yaml import load_yaml_file
from .errors import ConfigError, GepgeoError, brief

__all__ = ["ECOSYSTEM_TYPES", "ProductClass", "Preset", "ProductMatch", "PresetError",
           "product_names", "load_preset", "land_use_codes", "match_products",
           "crosswalk_markdown"]

#: The ecosystem types every preset's classes map to: name → (English, Chinese). After the
#: first level of Ouyang et al. (2015)'s national remote-sensing ecosystem classification
#: (Acta Ecologica Sinica 35(2), 219-226, doi:10.5846/stxb201407281527), with open water kept
#: apart from wetland and desert merged with bare land (docs/PRODUCTS.md, Ecosystem types).
ECOSYSTEM_TYPES: dict[str, tuple[str, str]] = {
    "forest": ("Forest", "森林"),
    "shrub": ("Shrub", "灌丛"),
    "grassland": ("Grassland", "草地"),
    "cropland": ("Cropland", "农田"),
    "wetland": ("Wetland", "湿地"),
    "water": ("Water", "水体"),
    "built_up": ("Built-up", "建设用地"),
    "bare": ("Bare land", "裸地"),
    "snow_ice": ("Snow and ice", "冰川积雪"),
}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PresetError(GepgeoError, ValueError):
    """A shipped product preset is malformed (a packaging fault, not the user's)."""


@dataclass(frozen=True)
class ProductClass:
    """One class of a product's legend.

    Attributes
    ----------
    code : int
        The pixel value.
    name : str
        The land-type name a run uses for it (lower case, ``_``).
    en, zh : str
        The class name in English and Chinese.
    ecosystem : str
        Its ecosystem type (a key of :data:`ECOSYSTEM_TYPES`).
    """

    code: int
    name: str
    en: str
    zh: str
    ecosystem: str


@dataclass(frozen=True)
class Preset:
    """A land-cover product's legend with its version and source."""

    product: str
    name: str
    name_zh: str
    version: str
    source: Mapping[str, str]
    nodata: tuple[int, ...]
    classes: tuple[ProductClass, ...]
    path: Path

    @property
    def codes(self) -> dict[int, ProductClass]:
        """The classes by code."""
        return {c.code: c for c in self.classes}

    @property
    def citation(self) -> str:
        """The source, one line: citation and DOI or URL."""
        ref = self.source.get("doi")
        link = f"doi:{ref}" if ref else self.source.get("url", "")
        return " ".join(f"{self.source.get('citation', '')} {link}".split())


def _products_dir() -> Path:
    return Path(str(resources.files("gepgeo") / "data" / "products"))


def product_names() -> list[str]:
    """The shipped presets, by name, sorted."""
    return sorted(p.stem for p in _products_dir().glob("*.yaml"))


def _unknown(name: object) -> ConfigError:
    return ConfigError(f"land_use.product: unknown product {brief(name)}; known products: "
                       f"{', '.join(product_names())}")


@cache
def load_preset(name: str) -> Preset:
    """The preset of a product, by name (a file stem of ``gepgeo/data/products``).

    Raises
    ------
    ConfigError
        No such product (the message lists the known ones).
    PresetError
        The preset file is malformed.
    """
    if not isinstance(name, str) or name not in product_names():
        raise _unknown(name)
    path = _products_dir() / f"{name}.yaml"
    doc = load_yaml_file(path, "product preset", PresetError, PresetError)
    return _parse(doc, path)


def _parse(doc: Any, path: Path) -> Preset:
    where = f"product preset {path.name}"

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise PresetError(f"{where}: {what}")

    need(isinstance(doc, Mapping), "expected a mapping")
    for key in ("product", "name", "name_zh", "version", "source", "nodata", "classes"):
        need(key in doc, f"missing key {key!r}")
    need(doc["product"] == path.stem, f"product {doc['product']!r} is not the file's name")
    src = doc["source"]
    need(isinstance(src, Mapping) and bool(src.get("citation"))
         and bool(src.get("doi") or src.get("url")), "source needs a citation and a doi or url")
    nodata = doc["nodata"]
    need(isinstance(nodata, list) and all(isinstance(v, int) for v in nodata)
         and len(nodata) <= 1, "nodata: a list of at most one integer code")
    raw = doc["classes"]
    need(isinstance(raw, Mapping) and bool(raw), "classes: a mapping code → class")
    classes = []
    names: set[str] = set()
    for code, c in raw.items():
        need(isinstance(code, int) and not isinstance(code, bool), f"code {code!r}: an integer")
        need(isinstance(c, Mapping) and set(c) == {"name", "en", "zh", "ecosystem"},
             f"code {code}: needs exactly name, en, zh, ecosystem")
        need(isinstance(c["name"], str) and bool(_NAME.match(c["name"])),
             f"code {code}: name {c['name']!r} is not lower_case_with_underscores")
        need(c["name"] not in names, f"code {code}: name {c['name']!r} is given twice")
        need(c["ecosystem"] in ECOSYSTEM_TYPES,
             f"code {code}: ecosystem {c['ecosystem']!r} is not one of "
             f"{', '.join(ECOSYSTEM_TYPES)}")
        need(code not in nodata, f"code {code}: also a nodata code")
        names.add(c["name"])
        classes.append(ProductClass(code=int(code), name=c["name"], en=str(c["en"]),
                                    zh=str(c["zh"]), ecosystem=c["ecosystem"]))
    return Preset(product=doc["product"], name=str(doc["name"]), name_zh=str(doc["name_zh"]),
                  version=str(doc["version"]), source={k: str(v) for k, v in src.items()},
                  nodata=tuple(nodata), classes=tuple(sorted(classes, key=lambda c: c.code)),
                  path=path)


def land_use_codes(product: str, *, land_types: str = "product",
                   rename: Mapping[str, str] | None = None,
                   codes: Mapping[int, str] | None = None) -> dict[int, str]:
    """A run's code → land type mapping from a product preset.

    Parameters
    ----------
    product : str
        The preset's name.
    land_types : {"product", "ecosystem"}
        ``product``: each class is its own land type (the preset's ``name``); ``ecosystem``:
        classes are merged into their ecosystem types (the crosswalk).
    rename : mapping, optional
        Land type → new name, applied to the preset's land types (two classes renamed to one
        name are merged).
    codes : mapping, optional
        Code → land type, applied last: replaces a code's land type or adds a code.

    Raises
    ------
    ConfigError
        Unknown product, or a ``rename`` key that is none of the land types.
    """
    preset = load_preset(product)
    out = {c.code: (c.ecosystem if land_types == "ecosystem" else c.name)
           for c in preset.classes}
    if rename:
        known = set(out.values())
        for old in rename:
            if old not in known:
                raise ConfigError(f"land_use.rename: {brief(old)} is not a land type of product "
                                  f"{product!r} (land_types: {land_types}); its land types: "
                                  f"{', '.join(sorted(known))}")
        out = {k: rename.get(v, v) for k, v in out.items()}
    out.update(codes or {})
    return out


@dataclass(frozen=True)
class ProductMatch:
    """A preset whose legend holds every code of a raster."""

    product: str
    found: int       # the raster's codes that are classes of the product
    classes: int     # the product's classes
    nodata_found: tuple[int, ...]   # the product's fill codes among the raster's values


def match_products(codes: Iterable[float]) -> list[ProductMatch]:
    """The presets whose legend (classes and fill codes) holds every code given, best first:
    most of the product's classes found, then the smallest legend, then by name.

    A few codes (1, 2, 3) are held by several legends: all are returned; none is certain.
    """
    found = {int(c) for c in codes if float(c).is_integer()}
    if not found or any(not float(c).is_integer() for c in codes):
        return []
    out = []
    for name in product_names():
        p = load_preset(name)
        legend = set(p.codes)
        if found <= legend | set(p.nodata):
            out.append(ProductMatch(product=name, found=len(found & legend), classes=len(legend),
                                    nodata_found=tuple(sorted(found & set(p.nodata)))))
    return sorted(out, key=lambda m: (-m.found / m.classes, m.classes, m.product))


def crosswalk_markdown() -> str:
    """The presets and their crosswalks as Markdown tables (docs/PRODUCTS.md holds this text
    between its ``<!-- presets -->`` markers; a test checks it is current)."""
    lines = ["| preset | product | version | codes | fill | source |",
             "|---|---|---|---|---|---|"]
    presets = [load_preset(n) for n in product_names()]
    for p in presets:
        ref = p.source.get("doi")
        link = f"[doi:{ref}](https://doi.org/{ref})" if ref else p.source.get("url", "")
        lines.append(f"| `{p.product}` | {p.name} | {p.version} | {len(p.classes)} | "
                     f"{', '.join(map(str, p.nodata)) or '—'} | {link} |")
    for p in presets:
        lines += ["", f"### `{p.product}`: {p.name}", "",
                  "| code | land type | class | 类别 | ecosystem type |", "|---|---|---|---|---|"]
        lines += [f"| {c.code} | `{c.name}` | {c.en} | {c.zh} | `{c.ecosystem}` |"
                  for c in p.classes]
    return "\n".join(lines) + "\n"
