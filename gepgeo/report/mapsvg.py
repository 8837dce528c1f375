"""The report's maps as inline SVG: the pixels as an embedded 8-bit PNG, everything else drawn
by the browser.

A map panel is the decimated raster (:func:`gepgeo.styles.read_overview`) coloured through a
255-entry palette (:func:`palette_png`; nodata transparent over a grey background), in map
coordinates with a few plain-number ticks, the CRS named under the x axis, and a colour bar
(:func:`map_svg`, :func:`comparison_svg`) or a categorical legend (:func:`land_use_svg`).
Titles, ticks and legends are SVG text in the page's own font, so a Chinese report shows
Chinese labels wherever the browser has a CJK font (matplotlib needs its own).

Drawing a map this way costs a few milliseconds (palette lookup and PNG encoding of at most
``2 × panel`` pixels), against a quarter of a second for a matplotlib figure with the same
content: a comparison report draws 27 map panels. The colour scales are those of the charts
(:func:`gepgeo.report.figures.value_scale`, :func:`~gepgeo.report.figures.diverging_scale`).
"""

from __future__ import annotations

import base64
import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import rasterio
from markupsafe import Markup
from matplotlib.colors import Colormap, Normalize, to_rgb
from matplotlib.ticker import MaxNLocator

from ..i18n import label, t
from ..styles import Overview, read_overview
from .figures import (NODATA_GREY, LandUse, _class_index, _finite_range, crs_labels,
                      diverging_scale, value_scale)
from .format import unit_text

__all__ = ["comparison_svg", "land_use_svg", "map_svg", "palette_png"]

#: panel height (CSS px); panel width follows the maps' aspect ratio (0.4 to 2.5 × the height)
PANEL_H = 320.0
#: margins around a panel (px): left for y tick labels and the y label, bottom for x tick labels
#: and the two-line x label, top for the title
_LEFT, _BOTTOM, _TOP, _SUPTITLE = 78.0, 52.0, 26.0, 24.0
#: colour bar: gap after the panels, width, room right of it for tick labels and the unit
_BAR_GAP, _BAR_W, _BAR_RIGHT = 14.0, 14.0, 86.0
#: the embedded pixels: at most this many times the panel's CSS size (sharper on HiDPI screens)
_OVERSAMPLE = 1.5
_N_COLOURS = 255          # palette entries for values; index 255 is nodata (transparent)
_FONT = 11.0              # px; tick labels one smaller, titles two larger


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float


def _num(v: float) -> str:
    """A coordinate in the SVG, short and exact enough (two decimals of a CSS pixel)."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, *, size: float = _FONT, anchor: str = "middle",
          rotate: bool = False, weight: str = "") -> str:
    attrs = f'x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}"'
    if rotate:
        attrs += f' transform="rotate(-90 {_num(x)} {_num(y)})"'
    if weight:
        attrs += f' font-weight="{weight}"'
    return f"<text {attrs}>{escape(s)}</text>"


def _text_width(s: str, size: float) -> float:
    """Rough width (px) of ``s`` at ``size`` px: wide (CJK) characters a full em, others 0.6."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in s)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def palette_png(index: np.ndarray, colours: Sequence[tuple[float, float, float]]) -> bytes:
    """An 8-bit palette PNG of ``index`` (uint8): value ``i`` drawn in ``colours[i]`` (RGB in
    0–1), 255 transparent."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(index, dtype=np.uint8), mode="P")
    pal = np.zeros((256, 3), dtype=np.uint8)
    rgb = np.asarray(colours, dtype=np.float64).reshape(-1, 3)[:255]
    pal[: len(rgb)] = np.round(rgb * 255.0).astype(np.uint8)
    img.putpalette(pal.ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=255, compress_level=6)
    return buf.getvalue()


def _scale_colours(cmap: Colormap) -> list[tuple[float, float, float]]:
    return [tuple(c[:3]) for c in cmap(np.linspace(0.0, 1.0, _N_COLOURS))]


def _limits(norm: Normalize) -> tuple[float, float]:
    assert norm.vmin is not None and norm.vmax is not None
    return float(norm.vmin), float(norm.vmax)


def _value_index(data: np.ndarray, norm: Normalize) -> np.ndarray:
    """Palette indices of ``data`` on the scale ``norm`` (255 where NaN)."""
    lo, hi = _limits(norm)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (np.asarray(data, dtype=np.float64) - lo) / (hi - lo)
    idx = np.clip(np.floor(f * _N_COLOURS), 0, _N_COLOURS - 1)
    return np.where(np.isfinite(f), idx, 255).astype(np.uint8)


def _decimate(a: np.ndarray, box: _Box) -> np.ndarray:
    """Nearest-neighbour subsample of ``a`` to at most ``_OVERSAMPLE`` × the box's size."""
    ny = min(a.shape[0], max(1, math.ceil(box.h * _OVERSAMPLE)))
    nx = min(a.shape[1], max(1, math.ceil(box.w * _OVERSAMPLE)))
    if (ny, nx) == a.shape:
        return a
    rows = ((np.arange(ny) + 0.5) * a.shape[0] / ny).astype(np.intp)
    cols = ((np.arange(nx) + 0.5) * a.shape[1] / nx).astype(np.intp)
    return a[rows][:, cols]


def _ratio(ovs: Sequence[Overview | None]) -> float:
    """Width / height of the panels: the widest map's, within 0.4 to 2.5."""
    ratios = [abs((o.bounds[2] - o.bounds[0]) / (o.bounds[3] - o.bounds[1]))
              for o in ovs if o is not None and o.bounds[3] != o.bounds[1]]
    return min(2.5, max(0.4, max(ratios) if ratios else 1.0))


def _tick_labels(values: np.ndarray, *, thousands: bool = False) -> list[str]:
    """Plain numbers with as many decimals as the step between ``values`` needs."""
    step = float(np.min(np.diff(values))) if len(values) > 1 else 0.0
    dec = max(0, -math.floor(math.log10(abs(step))) + (1 if step else 0)) if step else 0
    dec = min(dec, 10)
    out = []
    for v in values:
        v = 0.0 if abs(v) < abs(step) * 1e-9 else float(v)
        s = f"{v:,.{dec}f}" if thousands and abs(v) >= 1000 else f"{v:.{dec}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        out.append(s)
    return out


def _ticks(lo: float, hi: float, n: int = 4) -> np.ndarray:
    vals = np.asarray(MaxNLocator(n).tick_values(lo, hi), dtype=np.float64)
    eps = (hi - lo) * 1e-9
    return vals[(vals >= lo - eps) & (vals <= hi + eps)]


def _pixels(box: _Box, data: np.ndarray, colours: Sequence[tuple[float, float, float]]) -> str:
    """The grey nodata background, the embedded pixels and the frame of a panel."""
    png = palette_png(_decimate(data, box), colours)
    return (f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" '
            f'height="{_num(box.h)}" fill="{NODATA_GREY}"/>'
            f'<image x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" '
            f'height="{_num(box.h)}" preserveAspectRatio="none" '
            f'style="image-rendering:pixelated" href="{_uri(png)}"/>'
            f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" '
            f'height="{_num(box.h)}" fill="none" stroke="#444" stroke-width="0.8"/>')


def _axes(box: _Box, ov: Overview, title: str) -> str:
    """Title, map-coordinate ticks and axis labels (the CRS named under the x label)."""
    left, bottom, right, top = ov.bounds
    labels = crs_labels(ov.crs)
    parts = [_text(box.x + box.w / 2, box.y - 8, title, size=_FONT + 1)]
    xs = _ticks(left, right) if right > left else np.array([])
    for v, s in zip(xs, _tick_labels(xs)):
        x = box.x + (v - left) / (right - left) * box.w
        parts.append(f'<line x1="{_num(x)}" y1="{_num(box.y + box.h)}" x2="{_num(x)}" '
                     f'y2="{_num(box.y + box.h + 4)}" stroke="#444" stroke-width="0.8"/>')
        parts.append(_text(x, box.y + box.h + 14, s, size=_FONT - 1))
    ys = _ticks(bottom, top) if top > bottom else np.array([])
    for v, s in zip(ys, _tick_labels(ys)):
        y = box.y + (top - v) / (top - bottom) * box.h
        parts.append(f'<line x1="{_num(box.x - 4)}" y1="{_num(y)}" x2="{_num(box.x)}" '
                     f'y2="{_num(y)}" stroke="#444" stroke-width="0.8"/>')
        parts.append(_text(box.x - 6, y + 3.5, s, size=_FONT - 1, anchor="end"))
    parts.append(_text(box.x + box.w / 2, box.y + box.h + 30, labels.x, size=_FONT - 1))
    parts.append(_text(box.x + box.w / 2, box.y + box.h + 44, labels.name, size=_FONT - 2))
    parts.append(_text(box.x - _LEFT + 12, box.y + box.h / 2, labels.y, size=_FONT - 1,
                       rotate=True))
    return "".join(parts)


def _colour_bar(x: float, box: _Box, cmap: Colormap, norm: Normalize, unit: str) -> str:
    """A vertical colour bar at ``x`` beside the panels ``box`` (85 % of their height)."""
    h = box.h * 0.85
    y0 = box.y + (box.h - h) / 2
    ramp = np.arange(_N_COLOURS - 1, -1, -1, dtype=np.uint8)[:, None]    # top: the maximum
    png = palette_png(ramp, _scale_colours(cmap))
    parts = [f'<image x="{_num(x)}" y="{_num(y0)}" width="{_num(_BAR_W)}" height="{_num(h)}" '
             f'preserveAspectRatio="none" href="{_uri(png)}"/>',
             f'<rect x="{_num(x)}" y="{_num(y0)}" width="{_num(_BAR_W)}" height="{_num(h)}" '
             f'fill="none" stroke="#444" stroke-width="0.8"/>']
    lo, hi = _limits(norm)
    vals = _ticks(lo, hi, 6)
    for v, s in zip(vals, _tick_labels(vals, thousands=max(abs(lo), abs(hi)) >= 1000)):
        y = y0 + (hi - v) / (hi - lo) * h
        parts.append(f'<line x1="{_num(x + _BAR_W)}" y1="{_num(y)}" x2="{_num(x + _BAR_W + 4)}" '
                     f'y2="{_num(y)}" stroke="#444" stroke-width="0.8"/>')
        parts.append(_text(x + _BAR_W + 6, y + 3.5, s, size=_FONT - 1, anchor="start"))
    parts.append(_text(x + _BAR_W + _BAR_RIGHT - 8, box.y + box.h / 2,
                       unit_text(unit) or t("(no unit)"), size=_FONT - 1, rotate=True))
    return "".join(parts)


def _svg(width: float, height: float, title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" '
        f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
        f'aria-label="{escape(title)}" font-family="inherit">'
        f"<title>{escape(title)}</title>{body}</svg>")


def _note(width: float, height: float, title: str, text: str) -> Markup:
    """A panel-sized SVG that says why its map is not drawn."""
    return _svg(width, height, title,
                _text(width / 2, _TOP, title, size=_FONT + 1)
                + _text(width / 2, height / 2, text, size=_FONT))


def _read(path: Path, preview: np.ndarray | None = None) -> Overview | str:
    try:
        return read_overview(path, preview=preview)
    except (OSError, rasterio.errors.RasterioError) as exc:
        return t("cannot read {name}: {exc}", name=path.name, exc=exc)


def _panel_size(ovs: Sequence[Overview | None]) -> tuple[float, float]:
    r = _ratio(ovs)
    return PANEL_H * r, PANEL_H


def map_svg(path: Path, title: str, preview: np.ndarray | None = None) -> Markup:
    """One density map with its colour bar (unit) in map coordinates, as inline SVG
    (``preview``: its decimated pixels, if the run sampled them)."""
    ov = _read(path, preview)
    if isinstance(ov, str):
        return _note(PANEL_H + _LEFT + 40, PANEL_H, title, ov)
    pw, ph = _panel_size([ov])
    box = _Box(_LEFT, _TOP, pw, ph)
    data = np.asarray(ov.data, dtype=np.float64)
    cmap, norm = value_scale([data])
    body = (_pixels(box, _value_index(_decimate(data, box), norm), _scale_colours(cmap))
            + _axes(box, ov, title)
            + _colour_bar(box.x + pw + _BAR_GAP, box, cmap, norm, ov.unit))
    return _svg(box.x + pw + _BAR_GAP + _BAR_W + _BAR_RIGHT, _TOP + ph + _BOTTOM, title, body)


def comparison_svg(title: str, before: Path, after: Path, change: Path,
                   titles: tuple[str, str, str] | None = None) -> Markup:
    """Before and after on one shared colour scale, and the difference (symmetric about 0),
    as inline SVG. ``titles``: the three panels' titles (default: before, after,
    after − before); a series names its years."""
    names = titles or (t("before"), t("after"), t("after − before"))
    ovs: list[Overview | None] = []
    for path in (before, after, change):
        read = _read(path)
        ovs.append(read if isinstance(read, Overview) else None)
    pw, ph = _panel_size(ovs)
    top = _TOP + _SUPTITLE
    step = _LEFT + pw
    boxes = [_Box(_LEFT + i * step, top, pw, ph) for i in range(2)]
    bar1 = boxes[1].x + pw + _BAR_GAP
    boxes.append(_Box(bar1 + _BAR_W + _BAR_RIGHT + _LEFT, top, pw, ph))
    bar2 = boxes[2].x + pw + _BAR_GAP
    width = bar2 + _BAR_W + _BAR_RIGHT
    parts = [_text(width / 2, 18, title, size=_FONT + 2, weight="bold")]
    pair = [o for o in ovs[:2] if o is not None]
    cmap, norm = value_scale([np.asarray(o.data, dtype=np.float64) for o in pair])
    unit = ""
    for box, ov, name, missing in zip(boxes[:2], ovs[:2], names[:2],
                                      (t("map missing"), t("map missing"))):
        if ov is None:
            parts.append(_text(box.x + pw / 2, box.y - 8, name, size=_FONT + 1)
                         + _text(box.x + pw / 2, box.y + ph / 2, missing))
            continue
        unit = unit or ov.unit
        data = np.asarray(ov.data, dtype=np.float64)
        parts.append(_pixels(box, _value_index(_decimate(data, box), norm), _scale_colours(cmap))
                     + _axes(box, ov, name))
    if pair:
        parts.append(_colour_bar(bar1, boxes[0], cmap, norm, unit))
    diff = ovs[2]
    if diff is None:
        parts.append(_text(boxes[2].x + pw / 2, top - 8, names[2], size=_FONT + 1)
                     + _text(boxes[2].x + pw / 2, top + ph / 2, t("difference map missing")))
    else:
        rng = _finite_range([diff.data])
        dcmap, dnorm = diverging_scale(max(abs(rng[0]), abs(rng[1])) if rng else 1.0)
        parts.append(_pixels(boxes[2], _value_index(_decimate(diff.data, boxes[2]), dnorm),
                             _scale_colours(dcmap))
                     + _axes(boxes[2], diff, names[2])
                     + _colour_bar(bar2, boxes[2], dcmap, dnorm, diff.unit or unit))
    return _svg(width, top + ph + _BOTTOM, title, "".join(parts))


def land_use_svg(panels: Sequence[tuple[str, LandUse]], types: Sequence[str],
                 colours: Mapping[str, str], title: str = "") -> Markup:
    """One or more land-use maps with a categorical legend (land type and its codes, then
    nodata), as inline SVG."""
    ovs = [lu.overview for _, lu in panels]
    pw, ph = _panel_size(ovs)
    palette = [to_rgb(colours[lt]) for lt in types]
    parts = []
    x = 0.0
    for name, lu in panels:
        box = _Box(x + _LEFT, _TOP, pw, ph)
        if lu.overview is None:
            parts.append(_text(box.x + pw / 2, box.y - 8, name, size=_FONT + 1)
                         + _text(box.x + pw / 2, box.y + ph / 2, lu.problem))
        else:
            idx = _decimate(_class_index(lu, types), box)
            index = np.where(np.isfinite(idx), np.nan_to_num(idx), 255).astype(np.uint8)
            parts.append(_pixels(box, index, palette)
                         + _axes(box, lu.overview, name))
        x = box.x + pw
    lx = x + 24
    parts.append(_text(lx, _TOP + 4, t("land type (codes)"), size=_FONT, anchor="start",
                       weight="bold"))
    entries = []
    for lt in types:
        codes = sorted({c for _, lu in panels for c in lu.codes_of(lt)})
        entries.append((colours[lt], f"{label(lt, land_type=True)} ({', '.join(map(str, codes))})"))
    entries.append((NODATA_GREY, t("nodata / not classified")))
    longest = max(_text_width(s, _FONT - 1) for _, s in entries + [("", t("land type (codes)"))])
    for i, (colour, text) in enumerate(entries):
        y = _TOP + 16 + i * 18
        parts.append(f'<rect x="{_num(lx)}" y="{_num(y)}" width="16" height="11" '
                     f'fill="{colour}" stroke="#555" stroke-width="0.5"/>'
                     + _text(lx + 22, y + 9.5, text, size=_FONT - 1, anchor="start"))
    width = lx + 30 + longest
    height = max(_TOP + ph + _BOTTOM, _TOP + 24 + len(entries) * 18)
    return _svg(width, height, title or t("land use"), "".join(parts))
