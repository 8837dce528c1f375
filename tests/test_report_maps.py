"""The report's maps (inline SVG, :mod:`gepgeo.report.mapsvg`): the pixels drawn are the
raster's, on the colour scale the colour bar states, nodata transparent; axes in the map's CRS."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from affine import Affine
from PIL import Image

from gepgeo.report.figures import LandUse
from gepgeo.report.mapsvg import comparison_svg, land_use_svg, map_svg
from gepgeo.styles import read_overview

from .helpers import write_tif


def _images(svg: str) -> list[Image.Image]:
    """Every embedded PNG of an SVG, decoded."""
    return [Image.open(io.BytesIO(base64.b64decode(h)))
            for h in re.findall(r'<image [^>]*href="data:image/png;base64,([^"]+)"', svg)]


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", svg)


def _ticks(svg: str) -> list[float]:
    return [float(s.replace(",", "")) for s in _texts(svg)
            if re.fullmatch(r"-?[\d,]+(\.\d+)?", s)]


@pytest.mark.parametrize("crs, res, x0, y0", [("EPSG:32648", 30.0, 500000.0, 3100000.0),
                                                ("EPSG:4326", 0.001, 105.0, 30.0)])
def test_a_map_shows_its_pixels_on_the_stated_scale(tmp_path, crs, res, x0, y0):
    rng = np.random.default_rng(3)
    ny, nx = 150, 230                                   # smaller than the panel: drawn 1:1
    data = rng.uniform(5.0, 2500.0, (ny, nx)).astype(np.float32)   # one sign: viridis
    data[rng.random((ny, nx)) < 0.1] = -9999.0
    path = write_tif(tmp_path / "m.tif", data, Affine(res, 0, x0, 0, -res, y0), crs=crs,
                     nodata=-9999.0, unit="t ha-1 a-1")
    svg = str(map_svg(path, "soil retention"))
    pixels, bar = _images(svg)
    assert pixels.mode == "P" and pixels.size == (nx, ny)
    idx = np.asarray(pixels)
    ok = data != -9999.0
    assert (idx[~ok] == 255).all() and (idx[ok] < 255).all()     # nodata: transparent
    assert pixels.info["transparency"] == 255
    # the colour of a pixel is its value's place between the scale's ends (independent: the
    # scale is the data's range as the figures module documents it)
    lo, hi = float(data[ok].min()), float(data[ok].max())
    want = np.clip(np.floor((data[ok].astype(np.float64) - lo) / (hi - lo) * 255), 0, 254)
    assert np.array_equal(idx[ok], want.astype(np.uint8))
    pal = np.asarray(pixels.getpalette()[: 3 * 255]).reshape(255, 3)
    assert tuple(pal[0]) == (68, 1, 84) and tuple(pal[254]) == (253, 231, 37)    # viridis
    # the colour bar runs from the maximum (top) to the minimum and its ticks lie in between
    assert bar.size == (1, 255) and np.asarray(bar)[0, 0] == 254 and np.asarray(bar)[-1, 0] == 0
    texts = _texts(svg)
    assert "soil retention" in texts and "t ha⁻¹ a⁻¹" in texts
    geographic = crs == "EPSG:4326"
    assert ("longitude (°)" in texts) == geographic and ("easting (m)" in texts) != geographic
    assert any("EPSG:" + crs.split(":")[1] in s for s in texts)
    left, right, bottom, top = x0, x0 + nx * res, y0 - ny * res, y0
    numbers = _ticks(svg)
    on_axes = [v for v in numbers if left <= v <= right or bottom <= v <= top]
    on_bar = [v for v in numbers if lo <= v <= hi]
    assert len(on_axes) >= 4 and len(on_bar) >= 3
    assert "2,000" in texts                          # colour-bar ticks of thousands grouped


def test_a_large_map_is_decimated_not_resampled(tmp_path):
    """A map larger than the panel is drawn from every k-th pixel (nearest), never blended:
    each drawn index is the index of a pixel of the raster."""
    ny, nx = 1700, 900
    data = (np.arange(ny * nx) % 7).reshape(ny, nx).astype(np.float32)
    path = write_tif(tmp_path / "big.tif", data, Affine(30, 0, 0, 0, -30, 0), crs="EPSG:32648",
                     nodata=-9999.0)
    pixels = _images(str(map_svg(path, "big")))[0]
    w, h = pixels.size
    assert h < ny and w < nx and h <= 1.5 * 320 + 1
    assert set(np.unique(np.asarray(pixels))) <= {int(v / 6 * 255) if v < 6 else 254
                                                  for v in range(7)}
    assert abs(w / h - read_overview(path).data.shape[1] / read_overview(path).data.shape[0]) \
        < 0.05


def test_comparison_shares_one_scale_and_centres_the_difference(tmp_path):
    t = Affine(30, 0, 500000, 0, -30, 3100000)
    before = np.full((40, 50), 10.0, dtype=np.float32)
    after = before.copy()
    after[:, 25:] = 30.0
    paths = [write_tif(tmp_path / f"{n}.tif", a, t, crs="EPSG:32648", nodata=-9999.0,
                       unit="yuan ha-1 a-1")
             for n, a in (("b", before), ("a", after), ("d", after - before))]
    svg = str(comparison_svg("GEP", *paths))
    b, bar1, a, d, bar2 = (_images(svg)[i] for i in (0, 2, 1, 3, 4))
    assert (np.asarray(b) == 0).all()                              # 10: the shared minimum
    assert (np.asarray(a)[:, :25] == 0).all() and (np.asarray(a)[:, 25:] == 254).all()
    diff = np.asarray(d)
    assert (diff[:, :25] == 127).all() and (diff[:, 25:] == 254).all()   # 0 mid-scale, +20 top
    assert bar1.size == bar2.size == (1, 255)
    assert "after − before" in _texts(svg)


def test_land_use_legend_names_every_type_with_its_codes(tmp_path):
    lu = np.array([[1, 2, 2], [3, 0, 1]], dtype=np.uint8)
    path = write_tif(tmp_path / "lu.tif", lu, Affine(30, 0, 0, 0, -30, 60), crs="EPSG:32648",
                     nodata=0)
    land = LandUse({1: "forest", 2: "cropland", 3: "forest"}, ["forest", "cropland"],
                   {"forest": "#1f77b4", "cropland": "#d62728"}, read_overview(path), path,
                   nodata=[0.0])
    svg = str(land_use_svg([("land use", land)], land.types, land.colours))
    idx = np.asarray(_images(svg)[0])
    assert idx.tolist() == [[0, 1, 1], [0, 255, 0]]
    texts = _texts(svg)
    assert "forest (1, 3)" in texts and "cropland (2)" in texts
    assert any("nodata" in s for s in texts)


def test_an_unreadable_map_says_so(tmp_path):
    bad = tmp_path / "gep.tif"
    bad.write_bytes(b"not a tiff")
    svg = str(map_svg(bad, "GEP"))
    assert "<image" not in svg and any("cannot read gep.tif" in s for s in _texts(svg))
