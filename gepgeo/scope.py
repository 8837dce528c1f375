"""Where a parameter profile's values hold: its declared scope and extent.

A profile may declare ``scope: site | regional | national`` and an ``extent: [west, south, east,
north]`` in degrees of longitude and latitude (WGS 84). Values back-solved for one site (the
Jinsha profile's cooling energy, which needs 100 times the printed heat absorption, say) are
not transferable: a run whose grid lies mostly outside a profile's extent gets a warning on
screen, in the manifest and at the top of the report. ``scope: site`` requires an extent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from affine import Affine

from .errors import ProfileError

__all__ = [
    "MIN_INSIDE_SHARE",
    "SCOPES",
    "Scope",
    "grid_lonlat_bounds",
    "inside_share",
    "parse_scope",
    "scope_warning",
]

SCOPES = ("site", "regional", "national")

#: A grid with less than this share of its (lon/lat bounding-box) area inside a profile's
#: extent is "outside" it
MIN_INSIDE_SHARE = 0.5


@dataclass(frozen=True)
class Scope:
    """A profile's declared scope.

    Attributes
    ----------
    level : {"site", "regional", "national"}
    extent : (west, south, east, north) or None
        Degrees of longitude / latitude, WGS 84.
    """

    level: str
    extent: tuple[float, float, float, float] | None


def parse_scope(doc: Mapping[str, Any], where: str) -> Scope | None:
    """Read and check ``scope`` and ``extent`` of a profile document (None when undeclared).

    Raises
    ------
    ProfileError
        An unknown scope, a site without an extent, or an extent that is not four numbers
        ``[west, south, east, north]`` with west < east and south < north in degrees.
    """
    level, extent = doc.get("scope"), doc.get("extent")
    if level is None:
        if extent is not None:
            raise ProfileError(f"{where}: extent is given without scope; add scope: "
                               f"{' | '.join(SCOPES)}")
        return None
    if level not in SCOPES:
        raise ProfileError(f"{where}: scope must be one of {', '.join(SCOPES)}, got "
                           f"{str(level)[:40]!r}")
    if extent is None:
        if level == "site":
            raise ProfileError(f"{where}: scope: site needs the site's extent: "
                               "extent: [west, south, east, north] in degrees (WGS 84)")
        return Scope(str(level), None)
    if (not isinstance(extent, Sequence) or isinstance(extent, str) or len(extent) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in extent)):
        raise ProfileError(f"{where}: extent must be [west, south, east, north], four numbers "
                           "in degrees (WGS 84)")
    w, s, e, n = (float(v) for v in extent)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ProfileError(f"{where}: extent [{w:g}, {s:g}, {e:g}, {n:g}] is not [west, south, "
                           "east, north] in degrees with west < east and south < north")
    return Scope(str(level), (w, s, e, n))


def grid_lonlat_bounds(transform: Affine, crs: Any, shape: tuple[int, int]
                       ) -> tuple[float, float, float, float]:
    """The grid's bounding box in degrees (WGS 84), edges densified so curved edges count."""
    from rasterio.warp import transform_bounds

    h, w = shape
    x0, y0 = transform * (0, 0)
    x1, y1 = transform * (w, h)
    left, right = min(x0, x1), max(x0, x1)
    bottom, top = min(y0, y1), max(y0, y1)
    return tuple(transform_bounds(crs, "EPSG:4326", left, bottom, right, top,
                                  densify_pts=21))  # type: ignore[return-value]


def inside_share(bounds: tuple[float, float, float, float],
                 extent: tuple[float, float, float, float]) -> float:
    """Share (0–1) of the box ``bounds`` that lies inside the box ``extent`` (both lon/lat,
    degrees; areas on the sphere between parallels, so high-latitude boxes are not overweighted)."""
    def area(w: float, s: float, e: float, n: float) -> float:
        if e <= w or n <= s:
            return 0.0
        return math.radians(e - w) * (math.sin(math.radians(n)) - math.sin(math.radians(s)))

    whole = area(*bounds)
    if whole <= 0:
        return 1.0 if (extent[0] <= bounds[0] <= extent[2]
                       and extent[1] <= bounds[1] <= extent[3]) else 0.0
    both = area(max(bounds[0], extent[0]), max(bounds[1], extent[1]),
                min(bounds[2], extent[2]), min(bounds[3], extent[3]))
    return both / whole


def scope_warning(profile: str, scope: Scope | None,
                  bounds: tuple[float, float, float, float]) -> str | None:
    """The warning for a run on a grid with lon/lat ``bounds`` under ``profile``, or None.

    Only profiles that declare an extent are checked; the warning names the profile, its scope
    and extent, and how much of the grid lies inside it.
    """
    if scope is None or scope.extent is None:
        return None
    share = inside_share(bounds, scope.extent)
    if share >= MIN_INSIDE_SHARE:
        return None
    w, s, e, n = scope.extent
    gw, gs, ge, gn = bounds
    what = {"site": "values derived for one site (some back-solved from that site's results)",
            "regional": "regional values",
            "national": "national values"}[scope.level]
    return (f"profile {profile!r} holds {what} for the extent [{w:.4f}, {s:.4f}, {e:.4f}, "
            f"{n:.4f}] (lon/lat); only {100 * share:.1f} % of this grid "
            f"([{gw:.4f}, {gs:.4f}, {ge:.4f}, {gn:.4f}]) lies inside it, so its values may not "
            "hold here: use a profile for this landscape or override its values")
