"""``report.html`` of run and comparison folders, and the QGIS styles of the maps, on the Jinsha
demo: self-contained pages whose images are real PNGs, the headline, the price year, working CSV
links, the reproduction section; QML that parses and carries the maps' minimum and maximum.

The browser test (real Chromium, headless) runs only with ``GEPGEO_BROWSER_TESTS=1``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from gepgeo.errors import InputFileError
from gepgeo.report import (diverging_scale, fmt_number, pretty_unit, value_scale,
                           write_compare_report, write_report, write_run_report)
from gepgeo.styles import read_overview, style_maps, write_qml

from .helpers import (assert_map_on_grid, edited_yaml, raster_info, read_band, read_manifest,
                      read_table, run_cli, write_manifest, write_tif, write_yaml)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


class _Refs(HTMLParser):
    """Collects every ``<img src>``, ``<a href>``, inline SVG map (``<svg class="map">``) and
    image embedded in an SVG (``<image href>``) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.hrefs: list[str] = []
        self.svgs = 0
        self.svg_images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        if tag == "svg" and a.get("class") == "map":
            self.svgs += 1
        if tag == "image":
            self.svg_images.append(a.get("href") or "")
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"] or "")


def _refs(text: str) -> _Refs:
    p = _Refs()
    p.feed(text)
    return p


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def demo(jinsha_demo, tmp_path_factory):
    """A copy of the session's Jinsha demo (the reports below are rewritten in place)."""
    import dataclasses

    out = tmp_path_factory.mktemp("report") / "demo"
    shutil.copytree(jinsha_demo.out, out)
    return dataclasses.replace(jinsha_demo, out=out)


@pytest.fixture(scope="module")
def reports(demo) -> dict[str, Path]:
    out = {s: write_run_report(demo.out / s) for s in ("before", "after")}
    out["change"] = write_compare_report(demo.out, demo.reproduction, demo.as_stated_gep)
    return out


@pytest.fixture(scope="module")
def pages(reports) -> dict[str, str]:
    return {k: p.read_text(encoding="utf-8") for k, p in reports.items()}


def test_reports_written_in_place(demo, reports):
    assert reports["before"] == demo.out / "before" / "report.html"
    assert reports["after"] == demo.out / "after" / "report.html"
    assert reports["change"] == demo.out / "change" / "report.html"
    for p in reports.values():
        assert p.is_file() and p.stat().st_size > 10_000
        assert not [q for q in p.parent.iterdir() if q.name.endswith(".tmp")], "temp file left"


@pytest.mark.parametrize("which", ["before", "after", "change"])
def test_self_contained(pages, which):
    text = pages[which]
    for bad in ('src="http', "src='http", 'href="http', "href='http", 'src="//', "url(http",
                "@import", "<link"):
        assert bad not in text, f"{which}: external resource {bad!r}"


@pytest.mark.parametrize("which, charts, maps", [("before", 2, 11), ("after", 2, 11),
                                                 ("change", 1, 10)])
def test_images_are_embedded_pngs(pages, which, charts, maps):
    """Charts are PNG images; the land use and every map are inline SVGs whose pixels (and
    colour bars) are embedded PNGs: nothing outside the page."""
    refs = _refs(pages[which])
    assert len(refs.imgs) >= charts
    assert pages[which].count("<img") == len(refs.imgs)
    for src in refs.imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        w, h = _png_size(data)
        assert w > 100 and h > 100
    assert refs.svgs >= maps
    assert pages[which].count("<svg") == refs.svgs
    panels = 0
    for src in refs.svg_images:
        assert src.startswith("data:image/png;base64,"), src[:60]
        w, h = _png_size(base64.b64decode(src.split(",", 1)[1], validate=True))
        panels += w > 20 and h > 20                 # a map's pixels, not a 1-px colour bar
    assert panels >= maps


@pytest.mark.parametrize("which", ["before", "after", "change"])
def test_every_link_resolves(reports, pages, which):
    hrefs = _refs(pages[which]).hrefs
    local = [h for h in hrefs if not h.startswith("#")]
    assert any(h.endswith(".csv") for h in local)
    for h in local:
        assert not re.match(r"^[a-z]+:", h), f"absolute link {h}"
        assert (reports[which].parent / h).is_file(), f"{which}: broken link {h}"
    for h in hrefs:
        if h.startswith("#") and len(h) > 1:
            assert f'id="{h[1:]}"' in pages[which], f"{which}: no anchor {h}"


@pytest.mark.parametrize("which", ["before", "after"])
def test_every_run_table_linked(demo, pages, which):
    manifest = read_manifest(demo.out / which)
    hrefs = set(_refs(pages[which]).hrefs)
    for rel in manifest["tables"]:
        assert rel in hrefs
    for rel in manifest["maps"].values():
        assert rel in hrefs


@pytest.mark.parametrize("which", ["before", "after"])
def test_run_headline_and_price_year(demo, pages, which):
    tidy = demo.runs[which].tidy
    gep = float(tidy[tidy.service == "gep"].amount.sum())
    text = pages[which]
    assert f"{gep / 1e4:,.2f}" in text
    assert {"before": "68.25", "after": "1,212.56"}[which] in text
    assert re.search(r"price year.{0,300}unknown", text, re.S | re.I)


def test_run_report_sections(demo, pages):
    manifest = read_manifest(demo.out / "before")
    text = pages["before"]
    stats = manifest["pixel_stats"]
    assert f">{stats['land_use_nodata']:,}<" in text
    for key in stats:
        assert html.escape(key) in text
    assert "water_deficit.clamped_pixels" in text
    assert "Pixels excluded per service" in text
    for w in manifest["warnings"]:
        assert html.escape(w) in text
    for name, rec in manifest["parameters"].items():
        assert f"<td>{name}</td>" in text
        if rec.get("ref"):
            assert html.escape(rec["ref"]) in text
    assert "jinsha-as-published" in text
    for land_type in manifest["land_use"]["codes"].values():
        assert land_type in text
    assert "10⁴ yuan a⁻¹" in text


def test_compare_report_headline(demo, pages):
    text = pages["change"]
    assert "68.25" in text and "1,212.56" in text and "+1,144.31" in text
    assert re.search(r"price year.{0,300}unknown", text, re.S | re.I)
    for name in ("change_by_service", "change_by_land_type", "transition_matrix",
                 "extent_account"):
        assert f'href="tables/{name}.csv"' in text


def test_compare_report_reproduction(demo, pages):
    text = pages["change"]
    rep = demo.reproduction
    assert len(rep) == 187
    ids = re.findall(r'data-rep-id="([^"]+)"', text)
    assert len(ids) == 187
    assert set(ids) == set(rep["id"])
    nr = rep[rep.verdict == "NOT-REPRODUCIBLE"]
    assert len(nr) > 0
    for reason in nr["reason"]:
        assert html.escape(reason) in text
    assert text.count('class="verdict-nr"') == len(nr)
    assert "Reproduction of Xu et al." in text


def test_compare_report_as_stated(demo, pages):
    text = pages["change"]
    stated = {k: f"{v / 1e4:,.2f}" for k, v in demo.as_stated_gep.items()}
    assert stated == {"before": "30.68", "after": "499.92"}
    table = text.split("GEP under the two Jinsha profiles", 1)[1].split("</table>", 1)[0]
    for value in ("30.68", "499.92", "68.25", "1,212.56"):
        assert f">{value}<" in table


def test_compare_without_reproduction(demo, tmp_path):
    out = tmp_path / "cmp"
    shutil.copytree(demo.out, out)
    for s in ("before", "after", "change"):
        (out / s / "report.html").unlink(missing_ok=True)
    path = write_compare_report(out)
    text = path.read_text(encoding="utf-8")
    assert "Reproduction of Xu et al." not in text
    assert (out / "before" / "report.html").is_file()   # written because it was missing
    assert (out / "after" / "report.html").is_file()


def test_write_report_dispatch(demo, tmp_path, monkeypatch):
    import gepgeo.report as R

    calls = []
    monkeypatch.setattr(R, "write_run_report",
                        lambda d: calls.append(("run", Path(d))) or Path(d) / "report.html")
    monkeypatch.setattr(R, "write_compare_report",
                        lambda d, rep=None, stated=None: calls.append(
                            ("compare", Path(d), None if rep is None else len(rep), stated))
                        or Path(d) / "change" / "report.html")
    out = demo.out
    expected = [out / "before" / "report.html", out / "after" / "report.html",
                out / "change" / "report.html"]
    stated = json.loads((out / "as_stated_gep.json").read_text())   # written by the demo
    assert set(stated) == {"before", "after"}
    assert write_report(out) == expected
    assert calls == [("run", out / "before"), ("run", out / "after"),
                     ("compare", out, 187, stated)]
    calls.clear()
    assert write_report(out / "change") == expected          # the change folder: same thing
    assert calls[-1] == ("compare", out, 187, stated)
    calls.clear()
    assert write_report(out / "before") == [out / "before" / "report.html"]
    assert calls == [("run", out / "before")]
    calls.clear()
    stub = tmp_path / "stub"                                 # as-stated totals from a JSON file
    for rel in ("before/manifest.json", "after/manifest.json", "change/manifest.json",
                "reproduction.csv"):
        (stub / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / rel, stub / rel)
    (stub / "as_stated_gep.json").write_text(json.dumps(demo.as_stated_gep))
    write_report(stub)
    assert calls[-1] == ("compare", stub, 187, demo.as_stated_gep)
    with pytest.raises(InputFileError):
        write_report(tmp_path / "empty")


def test_missing_land_use_raster_is_reported(demo, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo.out / "before", run)
    m = read_manifest(run)
    m["inputs"]["land_use"]["path"] = str(tmp_path / "gone.tif")
    write_manifest(run, m)
    text = write_run_report(run).read_text(encoding="utf-8")
    assert "is not there any more" in text
    assert "68.25" in text


def test_scales_and_formatting():
    a = np.array([[0.0, 5.0], [np.nan, 2.0]])
    b = np.array([[1.0, 9.0]])
    _, norm = value_scale([a, b])
    assert (norm.vmin, norm.vmax) == (0.0, 9.0)
    _, norm = value_scale([np.array([-2.0, 1.0])])
    assert (norm.vmin, norm.vmax) == (-2.0, 2.0)
    _, norm = diverging_scale(4.5)
    assert (norm.vmin, norm.vmax) == (-4.5, 4.5)
    assert pretty_unit("yuan ha-1 a-1") == "yuan ha⁻¹ a⁻¹"
    assert pretty_unit("m3 a-1") == "m³ a⁻¹"
    assert pretty_unit("yuan t-1 CO2") == "yuan t⁻¹ CO2"
    assert pretty_unit("1e4 yuan") == "10⁴ yuan"
    assert fmt_number(682516.6512) == "682,516.65"
    assert fmt_number(7091) == "7,091"
    assert fmt_number(0.000123456) == "0.0001235"
    assert fmt_number(float("nan")) == ""


def test_read_overview_decimates(tmp_path):
    from affine import Affine

    path = tmp_path / "big.tif"
    data = np.arange(2000 * 1000, dtype="float32").reshape(1000, 2000)
    data[:10] = np.nan
    write_tif(path, data, Affine(0.001, 0, 100.0, 0, -0.001, 30.0), crs="EPSG:4326",
              nodata=float("nan"), unit="t ha-1 a-1")
    ov = read_overview(path)
    assert ov.data.shape == (400, 800)
    assert ov.shape == (1000, 2000)
    assert ov.unit == "t ha-1 a-1"
    assert np.isnan(ov.data[0]).all() and np.isfinite(ov.data[10:]).all()
    assert ov.extent == pytest.approx((100.0, 102.0, 29.0, 30.0))
    assert read_overview(path, max_side=5000).data.shape == (1000, 2000)   # never upsampled


def test_land_use_nodata_is_not_drawn_as_a_land_type_of_the_same_code(tmp_path):
    """Where the mapping also names the nodata value (255 here), the run counts those pixels
    as nodata; the report's land-use map leaves them undrawn too."""
    from affine import Affine

    from gepgeo.report.figures import _class_index, read_land_use

    data = np.array([[1, 2, 255], [255, 2, 1]], dtype=np.uint8)
    write_tif(tmp_path / "lu.tif", data, Affine(30, 0, 500_000, 0, -30, 3_000_000), nodata=255)
    manifest = {"land_use": {"codes": {"1": "forest", "2": "cropland", "255": "other"},
                             "nodata": [255.0]},
                "inputs": {"land_use": {"path": str(tmp_path / "lu.tif")}}}
    lu = read_land_use(tmp_path, manifest)
    idx = _class_index(lu, lu.types)
    np.testing.assert_array_equal(np.isnan(idx), data == 255)
    assert idx[0, 0] == lu.types.index("forest") and idx[0, 1] == lu.types.index("cropland")


def test_read_overview_draws_south_up_rasters_north_up(tmp_path):
    """Rows stored south to north (positive pixel height) are drawn north-up, with the bounds
    bottom <= top (rasterio's are bottom > top there): the same picture as north-up storage."""
    from affine import Affine

    data = np.arange(30 * 40, dtype="float32").reshape(30, 40)
    write_tif(tmp_path / "n.tif", data, Affine(30, 0, 500_000, 0, -30, 3_000_900))
    write_tif(tmp_path / "s.tif", data[::-1], Affine(30, 0, 500_000, 0, 30, 3_000_000))
    north, south = read_overview(tmp_path / "n.tif"), read_overview(tmp_path / "s.tif")
    np.testing.assert_array_equal(south.data, north.data)
    assert south.extent == north.extent == pytest.approx((500_000, 501_200, 3_000_000, 3_000_900))


@pytest.mark.parametrize("n_src", [1, 2, 5, 799, 801, 1100, 1300, 2100, 25280, 42304, 31920])
def test_nearest_indices_are_gdals(n_src):
    """The source rows and columns the writer samples are those of GDAL's decimated read,
    including sizes where GDAL's running sum of the column increment rounds down."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile

    from gepgeo.styles import nearest_cols, nearest_rows

    for n_out in sorted({1, 2, 3, max(1, n_src // 3), max(1, n_src - 1), min(800, n_src),
                         n_src}):
        if n_out > n_src:
            continue
        for axis in (0, 1):
            shape = (n_src, 1) if axis == 0 else (1, n_src)
            with MemoryFile() as mf:
                with mf.open(driver="GTiff", height=shape[0], width=shape[1], count=1,
                             dtype="int32", transform=rasterio.Affine(1, 0, 0, 0, -1, 9)) as ds:
                    ds.write(np.arange(n_src, dtype="int32").reshape(shape), 1)
                with mf.open() as ds:
                    out = (n_out, 1) if axis == 0 else (1, n_out)
                    got = ds.read(1, out_shape=out, resampling=Resampling.nearest).ravel()
                want = nearest_rows(n_src, n_out) if axis == 0 else nearest_cols(n_src, n_out)
                assert np.array_equal(got, want), (axis, n_src, n_out)


@pytest.mark.parametrize("shape,block", [((1300, 1100), 256), ((2100, 700), 512),
                                         ((801, 799), 256), ((801, 799), 100), ((5, 3), 16),
                                         ((1601, 3), 512), ((37, 2411), 32)])
def test_writer_preview_is_read_overview(tmp_path, shape, block):
    """The decimated map the writer samples equals read_overview's read of the file, bit for
    bit (NaN where nodata), whatever the order the blocks arrive in."""
    from affine import Affine

    from gepgeo.io import GeoTiffBlockWriter
    from gepgeo.styles import MAX_SIDE

    h, w = shape
    rng = np.random.default_rng(h * 7 + w)
    data = rng.normal(100, 30, shape).astype("float32")
    data[rng.random(shape) < 0.2] = np.nan
    data[: h // 3, : w // 4] = np.nan
    path = tmp_path / "m.tif"
    writer = GeoTiffBlockWriter(path, shape, Affine(30, 0, 5e5, 0, -30, 3.1e6), "EPSG:32648",
                                description="m", unit="yuan ha-1 a-1", block=block,
                                preview=MAX_SIDE)
    blocks = [(r, c) for r in range(0, h, block) for c in range(0, w, block)]
    for r, c in [blocks[i] for i in rng.permutation(len(blocks))]:
        assert writer.preview is None or len(blocks) == 1
        rows, cols = slice(r, min(r + block, h)), slice(c, min(c + block, w))
        writer[rows, cols] = data[rows, cols]
    writer.close()
    preview = writer.preview
    assert preview is not None
    read = read_overview(path)
    assert preview.shape == read.data.shape
    given = read_overview(path, preview=preview)
    assert given.data.dtype == read.data.dtype == np.float64
    assert np.array_equal(given.data.view(np.uint64), read.data.view(np.uint64))
    assert np.isnan(read.data).any() and np.isfinite(read.data).any()
    assert (given.bounds, given.unit, given.shape) == (read.bounds, read.unit, read.shape)


def test_run_report_uses_previews(tmp_path, monkeypatch):
    """A run hands the maps it sampled to the styles and the report: no map is decoded again
    (only the land-use raster is read), and the folder is the same as one styled and
    reported from its files."""
    import gepgeo.styles as S
    from gepgeo.demo import _pipeline
    from gepgeo.run import run_pipeline

    reads = []
    original = S.read_overview

    def counting(path, **kw):
        if kw.get("preview") is None:
            reads.append(Path(path).name)
        return original(path, **kw)

    monkeypatch.setattr(S, "read_overview", counting)
    monkeypatch.setattr("gepgeo.report.figures.read_overview", counting)
    again = tmp_path / "again"
    pipe = _pipeline("before")
    pipe = pipe.model_copy(update={"options": pipe.options.model_copy(update={"cog": False})})
    run_pipeline(pipe, out=again)
    maps = {p.name for p in (again / "maps").glob("*.tif")}
    assert maps and not maps & set(reads), reads
    monkeypatch.undo()
    qml = {p.name: p.read_bytes() for p in (again / "maps").glob("*.qml")}
    report = (again / "report.html").read_bytes()
    style_maps(again)
    write_run_report(again)
    assert qml == {p.name: p.read_bytes() for p in (again / "maps").glob("*.qml")}
    assert report == (again / "report.html").read_bytes()


# --- QGIS styles ---------------------------------------------------------------------------

def _qml(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis"
    assert root.get("version") == "3.28"
    assert root.get("styleCategories") == "AllStyleCategories"
    return root


@pytest.mark.parametrize("which", ["before", "change"])
def test_style_maps(demo, which):
    folder = demo.out / which
    written = style_maps(folder)
    tifs = sorted((folder / "maps").glob("*.tif"))
    assert [p.with_suffix(".tif") for p in written] == tifs
    for qml, tif in zip(written, tifs):
        root = _qml(qml)
        rr = root.find("./pipe/rasterrenderer")
        assert rr is not None and rr.get("type") == "singlebandpseudocolor"
        assert rr.get("band") == "1"
        crs = rr.find("./rastershader/colorrampshader")
        assert crs is not None
        items = crs.findall("item")
        assert len(items) == 5
        ov = read_overview(tif)           # the demo maps are small: this is the full raster
        lo, hi = float(np.nanmin(ov.data)), float(np.nanmax(ov.data))
        vmin, vmax = float(crs.get("minimumValue")), float(crs.get("maximumValue"))
        if which == "change":
            m = max(abs(lo), abs(hi))
            assert (vmin, vmax) == pytest.approx((-m, m))
            assert float(items[2].get("value")) == pytest.approx(0.0, abs=1e-9)
        else:
            assert (vmin, vmax) == pytest.approx((lo, hi))
        assert float(rr.get("classificationMin")) == vmin
        assert float(rr.get("classificationMax")) == vmax
        values = [float(i.get("value")) for i in items]
        assert values == sorted(values) and values[0] == vmin and values[-1] == vmax
        assert all(i.get("label").endswith(ov.unit) for i in items)
        assert all(re.fullmatch(r"#[0-9a-f]{6}", i.get("color")) for i in items)


def test_write_qml_arguments(tmp_path):
    tif = tmp_path / "x.tif"
    path = write_qml(tif, vmin=-3.5, vmax=3.5, unit="yuan ha-1 a-1", diverging=True)
    assert path == tmp_path / "x.qml"
    crs = _qml(path).find("./pipe/rasterrenderer/rastershader/colorrampshader")
    assert (crs.get("minimumValue"), crs.get("maximumValue")) == ("-3.5", "3.5")
    assert crs.findall("item")[0].get("label") == "-3.5 yuan ha-1 a-1"
    with pytest.raises(ValueError):
        write_qml(tif, vmin=2.0, vmax=1.0, unit="")
    with pytest.raises(ValueError):
        write_qml(tif, vmin=float("nan"), vmax=1.0, unit="")


# --- a real browser ------------------------------------------------------------------------

BROWSER = pytest.mark.skipif(
    os.environ.get("GEPGEO_BROWSER_TESTS") != "1",
    reason="browser test: set GEPGEO_BROWSER_TESTS=1 (needs Debian's chromium at "
           "/usr/bin/chromium)")


def _chromium(user_data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(f"GEPGEO_BROWSER_TESTS=1 but {CHROMIUM} is missing (apt-get install chromium)")
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={user_data}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@BROWSER
def test_browser_renders_compare_report(reports, tmp_path):
    page = reports["change"].resolve().as_uri()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "change_report.png"
    shot.unlink(missing_ok=True)

    res = _chromium(tmp_path / "ud1", "--hide-scrollbars", f"--screenshot={shot}",
                    "--window-size=1400,3000", page)
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (1400, 3000)
    assert len(data) > 50_000, "screenshot suspiciously small (blank page?)"

    res = _chromium(tmp_path / "ud2", "--enable-logging=stderr", "--v=0",
                    "--virtual-time-budget=5000", "--dump-dom", page)
    assert res.returncode == 0, res.stderr[-2000:]
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body is not None
    assert 'data-images-ok="true"' in body.group(0), body.group(0)
    count = re.search(r'data-images-count="(\d+)"', body.group(0))
    assert count is not None and int(count.group(1)) >= 11
    maps = re.search(r'data-maps-count="(\d+)"', body.group(0))
    assert maps is not None and int(maps.group(1)) >= 10      # land use and 9 change maps
    console = [line for line in res.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, "\n".join(console)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_output_file_gets_the_same_mode(sample, umask):
    """QML styles were 0600 (tempfile.mkstemp) and report.html always 0644 whatever the umask,
    while maps, tables and the manifest follow the umask: every file is now 0666 & ~umask."""
    from gepgeo.pipeline import load_pipeline
    from gepgeo.run import run_pipeline

    old = os.umask(umask)
    try:
        out = run_pipeline(load_pipeline(sample / "pipelines" / "jinsha_after.yaml"),
                           sample / "o", quiet=True).out
    finally:
        os.umask(old)
    modes = {str(f.relative_to(out)): f.stat().st_mode & 0o777
             for f in out.rglob("*") if f.is_file()}
    assert any(k.endswith(".qml") for k in modes) and "report.html" in modes
    assert {k: oct(m) for k, m in modes.items() if m != 0o666 & ~umask} == {}


# --- issue 21: a report a director can read ---------------------------------------------------

ALBERS_WKT = (  # NLCD's Albers as its GeoTIFFs carry it: no EPSG code anywhere in the WKT
    'PROJCS["Albers_Conical_Equal_Area",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",'
    '6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Albers_Conic_Equal_Area"],PARAMETER["latitude_of_center",23],'
    'PARAMETER["longitude_of_center",-96],PARAMETER["standard_parallel_1",29.5],'
    'PARAMETER["standard_parallel_2",45.5],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["meters",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


def _section_html(text: str, anchor: str) -> str:
    return text.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _cells(table_html: str, col: int) -> list[str]:
    """Text of column ``col`` of each body row of an HTML table."""
    body = table_html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[col]))
            for r in rows]


def test_per_hectare_beside_totals_by_land_type(demo, pages):
    """Each land type's GEP and service values per hectare (yuan ha⁻¹ a⁻¹) stand beside the
    totals in the run report, and GEP per ha of each land type in each scenario in the
    comparison's."""
    for which in ("before", "after"):
        lt = read_table(demo.out / which, "gep_by_land_type")
        values = _section_html(pages[which], "values")
        assert "Value per hectare by land type" in values
        assert "GEP per ha (yuan ha⁻¹ a⁻¹)" in values
        assert "soil per ha (yuan ha⁻¹ a⁻¹)" in values
        for _, row in lt.iterrows():
            if row["area_ha"] > 0 and row["gep"] > 0:
                assert fmt_number(row["gep"] / row["area_ha"]) in values, row["land_type"]
                assert fmt_number(row["soil_value"] / row["area_ha"]) in values, row["land_type"]
    change = read_table(demo.out / "change", "change_by_land_type")
    gep = change[(change.service == "gep") & (change.measure == "value")]
    part = _section_html(pages["change"], "change")
    assert "GEP per hectare by land type" in part
    for _, row in gep.iterrows():
        for s in ("before", "after"):
            if row[f"area_ha_{s}"] > 0 and row[s] > 0:
                assert fmt_number(row[s] / row[f"area_ha_{s}"]) in part, (row["land_type"], s)


def test_zone_totals_give_each_service_per_hectare():
    import pandas as pd

    from gepgeo.report import zone_totals

    rows = []
    for zid, area, soil, water in (("a", 10.0, 50.0, 30.0), ("b", 0.0, 0.0, 0.0)):
        for lt, share in (("forest", 0.25), ("grassland", 0.75)):
            for svc, v in (("soil", soil), ("water", water), ("gep", soil + water)):
                rows.append({"zone_layer": "park", "zone_id": zid, "service": svc,
                             "land_type": lt, "measure": "value", "amount": v * share,
                             "rasterised_area_ha": area})
    table = zone_totals(pd.DataFrame(rows)).set_index("zone_id")
    assert table.loc["a", "soil_value_per_ha_yuan_ha-1_a-1"] == pytest.approx(5.0)
    assert table.loc["a", "water_value_per_ha_yuan_ha-1_a-1"] == pytest.approx(3.0)
    assert table.loc["a", "gep_per_ha_yuan_ha-1_a-1"] == pytest.approx(8.0)
    assert np.isnan(table.loc["b", "soil_value_per_ha_yuan_ha-1_a-1"])   # no area: empty


def test_change_rows_service_order_subtotals_and_noise():
    import pandas as pd

    from gepgeo.report import change_rows

    def row(service, category, measure, before, after):
        change = after - before
        return {"service": service, "category": category, "measure": measure, "unit": "u",
                "before": before, "after": after, "change": change,
                "change_pct": 100 * change / before if before else np.nan}

    noisy_after = 1234.5678 + 1234.5678 * 4e-13           # an fsum in another order
    df = pd.DataFrame([
        row("agriculture", "provisioning", "value", 10.0, 12.0),
        row("air", "regulating", "value", 1.0, 2.0),
        row("air", "regulating", "so2", 1.0, 1.5),
        row("gep", "total", "value", 1245.5678, noisy_after + 14.0),
        row("landscape", "cultural", "value", 1.0, 1.0),
        row("soil", "regulating", "value", 1234.5678, noisy_after),
        row("subtotal", "cultural", "value", 1.0, 1.0),
        row("subtotal", "provisioning", "value", 10.0, 12.0),
        row("subtotal", "regulating", "value", 1235.5678, noisy_after + 2.0),
        row("water", "regulating", "value", 0.0, 0.0),
    ])
    assert df.loc[5, "change"] != 0                       # the noise is there in the CSV
    out = change_rows(df)
    assert list(zip(out.service, out.category, out.measure)) == [
        ("agriculture", "provisioning", "value"), ("subtotal", "provisioning", "value"),
        ("water", "regulating", "value"), ("soil", "regulating", "value"),
        ("air", "regulating", "so2"), ("air", "regulating", "value"),
        ("subtotal", "regulating", "value"), ("landscape", "cultural", "value"),
        ("subtotal", "cultural", "value"), ("gep", "total", "value")]
    soil = out[out.service == "soil"].iloc[0]
    assert soil["change"] == 0 and soil["change_pct"] == 0
    assert out[out.service == "gep"].iloc[0]["change"] == pytest.approx(3.0)    # real change kept
    assert out[out.service == "agriculture"].iloc[0]["change"] == 2.0


def test_compare_report_change_table_in_service_order(demo, pages):
    from gepgeo.services import SERVICES

    block = pages["change"].split('id="tables-change-by-service-csv"', 1)[1].split("</table>")[0]
    services = _cells(block, 0)
    categories = _cells(block, 1)
    order = list(dict.fromkeys(services))
    expected = []
    for i, sv in enumerate(SERVICES):
        expected.append(sv.name)
        if i + 1 == len(SERVICES) or SERVICES[i + 1].category != sv.category:
            expected.append("subtotal")
    expected.append("gep")
    assert [s for s in order if s != "subtotal"] == [s for s in expected if s != "subtotal"]
    # each subtotal right after the last service of its category
    seq = [(s, c) for s, c in zip(services, categories)]
    for i, (s, c) in enumerate(seq):
        if s == "subtotal":
            prev = seq[i - 1]
            assert prev[0] != "subtotal" and prev[1] == c, (i, s, c, prev)


def test_price_year_headline_counts_unknown_prices(demo, tmp_path):
    """Prices from a profile of 2010 and prices of unknown year: the headline says both."""
    run = tmp_path / "run"
    shutil.copytree(demo.out / "before", run)
    m = read_manifest(run)
    prices = [k for k, r in m["parameters"].items() if r.get("unit", "").startswith("yuan")]
    assert len(prices) >= 4
    dated = prices[: len(prices) // 2]
    for k in dated:
        m["parameters"][k]["price_year"] = 2010
    for k in prices[len(prices) // 2:]:
        m["parameters"][k].pop("price_year", None)       # e.g. a price set in the pipeline
    m["profiles"][0]["price_year"] = 2010
    write_manifest(run, m)
    text = write_run_report(run).read_text(encoding="utf-8")
    summary = _section_html(text, "summary")
    n, u = len(dated), len(prices) - len(dated)
    assert f"2010 for {n} prices; unknown for {u} prices" in summary
    for k in prices:                                      # all known: just the year
        m["parameters"][k]["price_year"] = 2010
    write_manifest(run, m)
    summary = _section_html(write_run_report(run).read_text(encoding="utf-8"), "summary")
    assert "<strong>2010</strong>" in summary and "unknown" not in summary


def test_report_needs_no_crs_identification(demo, tmp_path, monkeypatch):
    """A CRS lookup took 2.8 s per map on an NLCD Albers grid (a WKT without an EPSG code):
    the report no longer searches the PROJ database, and names the CRS as the file does."""
    import pyproj
    import rasterio
    from rasterio.crs import CRS as RioCRS

    run = tmp_path / "run"
    shutil.copytree(demo.out / "before", run)
    m = read_manifest(run)
    lu = tmp_path / "landuse_albers.tif"
    shutil.copy(m["inputs"]["land_use"]["path"], lu)
    m["inputs"]["land_use"]["path"] = str(lu)
    write_manifest(run, m)
    for tif in [lu, *sorted((run / "maps").glob("*.tif"))]:
        with rasterio.open(tif, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dst:
            dst.crs = RioCRS.from_wkt(ALBERS_WKT)

    def searched(*_a, **_k):
        raise AssertionError("the report searched the PROJ database for the CRS")

    for name in ("to_epsg", "to_authority", "list_authority"):   # pyproj's identification
        monkeypatch.setattr(pyproj.CRS, name, searched)
    text = write_run_report(run).read_text(encoding="utf-8")
    assert text.count("<img") + text.count('<svg class="map"') >= 13
    maps = re.findall(r'<svg class="map".*?</svg>', text, flags=re.S)
    assert len(maps) >= 11 and all("Albers_Conical_Equal_Area" in m for m in maps)   # as the file


# --- Chinese ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zh(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zh") / "demo"
    shutil.copytree(demo.out, out)
    write_report(out, lang="zh")
    return out


def _visible_text(page: str) -> str:
    """The text a reader sees, up to the sections that quote their sources (profiles' notes and
    references, the paper's reasons): no tags, scripts, image data or link targets."""
    body = page.split("<body", 1)[1]
    for quoted in ('<section id="parameters">', '<section id="reproduction">'):
        body = body.split(quoted, 1)[0]
    body = re.sub(r"<script>.*?</script>", "", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.parametrize("which", ["before", "after", "change"])
def test_chinese_report(zh, which):
    from gepgeo.i18n import cjk_font

    path = zh / which / "report.html"
    page = path.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    text = _visible_text(page)
    last = "参数及来源" if which != "change" else "Xu 等论文结果复现"
    for heading in ("概要", "地图", "表格", last):
        assert f">{heading}<" in page
    for english in ("Summary", "Maps", "Tables", "Land use", "price year", "10⁴ yuan",
                    "Value by service", "Warnings", "Parameters and provenance", "rows"):
        assert english not in text, english
    assert "万元/年" in text
    for zh_land_type in ("采矿用地", "旱地", "林地", "草地", "建设用地"):
        assert zh_land_type in text
    for zh_service in ("土壤保持", "水源涵养", "固碳", "气候调节"):
        assert zh_service in text
    second = "<th>土地类型</th>" if which != "change" else "<th>变化量</th>"
    for header in ("<th>服务</th>", second):
        assert header in page
    assert "元 年⁻¹" in text                     # units in the tables (yuan a-1)
    if cjk_font() is not None:
        assert "图表标注为英文" not in text          # the charts are in Chinese too
    # the CSV files stay machine-readable English
    for csv in (zh / which / "tables").glob("*.csv"):
        assert csv.read_bytes().decode("ascii")


def test_chinese_from_pipeline_option_and_cli(demo, tmp_path, capsys):
    """``options.report_lang: zh`` (recorded in the manifest) makes ``gepgeo report`` write
    Chinese; ``--lang en`` overrides it; an unknown language is a one-line usage error."""
    run = tmp_path / "run"
    shutil.copytree(demo.out / "before", run)
    m = read_manifest(run)
    assert m["options"]["report_lang"] == "en"
    m["options"]["report_lang"] = "zh"
    write_manifest(run, m)
    code, _, _ = run_cli(["report", run], capsys)
    assert code == 0
    assert '<html lang="zh-CN">' in (run / "report.html").read_text(encoding="utf-8")
    code, _, _ = run_cli(["report", run, "--lang", "en"], capsys)
    assert code == 0
    assert '<html lang="en">' in (run / "report.html").read_text(encoding="utf-8")
    code, _, err = run_cli(["report", run, "--lang", "fr"], capsys)
    assert code == 2 and "--lang" in err and len(err.strip().splitlines()) == 1


def test_pipeline_report_lang_option(sample):
    from gepgeo.errors import GepgeoError
    from gepgeo.pipeline import load_pipeline

    p = sample / "pipelines" / "jinsha_after.yaml"
    with edited_yaml(p) as doc:
        doc.setdefault("options", {})["report_lang"] = "zh"
    assert load_pipeline(p).options.report_lang == "zh"
    with edited_yaml(p) as doc:
        doc["options"]["report_lang"] = "fr"
    with pytest.raises(GepgeoError, match="report_lang"):
        load_pipeline(p)


def test_chinese_without_cjk_font_falls_back(demo, tmp_path, monkeypatch):
    """No CJK font for matplotlib: the page is Chinese, the charts English, and one note says so."""
    import gepgeo.i18n as I

    monkeypatch.setattr(I, "cjk_font", lambda: None)
    with I.use_lang("zh"):
        assert I.chart_lang() == "en"
        with I.charts():
            assert I.t("Value by service") == "Value by service"
            assert I.label("forest", land_type=True) == "forest"
        assert I.t("Value by service") == "各服务价值"
    run = tmp_path / "run"
    shutil.copytree(demo.out / "before", run)
    text = write_run_report(run, lang="zh").read_text(encoding="utf-8")
    assert text.count("图表标注为英文") == 1
    assert '<html lang="zh-CN">' in text


def test_labels_and_units_in_chinese():
    from gepgeo.i18n import label, unit_zh, use_lang

    with use_lang("zh"):
        assert label("water", land_type=True) == "水域" and label("water") == "水源涵养"
        assert label("shrub", land_type=True) == "灌木林地"
        assert label("Dryland", land_type=True) == "旱地"
        assert label("my_odd_class", land_type=True) == "my_odd_class"    # unknown: as given
        assert label("soil_value") == "土壤保持价值"
    assert label("soil") == "soil"                                        # English by default
    assert unit_zh("yuan ha⁻¹ a⁻¹") == "元 公顷⁻¹ 年⁻¹"
    assert unit_zh("10⁴ yuan") == "万元"
    assert unit_zh("t CO2 a⁻¹") == "吨 CO2 年⁻¹"


#: Added to a copy of the Chinese report for the browser test: draws characters of the page's
#: own headings on a canvas in the page's font and compares the bitmaps. Distinct characters
#: drawn with real glyphs differ from each other; a missing glyph is drawn as the same box
#: (tofu) whatever the character, like two unassigned code points (the control pair).
GLYPH_CHECK_JS = """
<script>
window.addEventListener("load", function () {
  var font = getComputedStyle(document.querySelector("h2")).fontFamily;
  function bitmap(ch) {
    var c = document.createElement("canvas"); c.width = 64; c.height = 64;
    var g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, 64, 64);
    g.fillStyle = "#000"; g.font = "40px " + font; g.textBaseline = "top";
    g.fillText(ch, 8, 8);
    var d = g.getImageData(0, 0, 64, 64).data, s = [], ink = 0;
    for (var i = 0; i < d.length; i += 4) { var v = d[i] < 128 ? 1 : 0; ink += v; s.push(v); }
    return {key: s.join(""), ink: ink, width: g.measureText(ch).width};
  }
  var text = Array.prototype.map.call(document.querySelectorAll("h1, h2, nav a, th"),
                                      function (e) { return e.textContent; }).join("");
  var chars = Array.from(new Set(Array.from(text).filter(function (ch) {
    return /[\\u4e00-\\u9fff]/.test(ch); }))).slice(0, 40);
  var tofu = bitmap("\\u0378"), tofu2 = bitmap("\\u0379");
  var seen = {}, bad = [];
  chars.forEach(function (ch) {
    var b = bitmap(ch);
    if (b.ink === 0 || b.key === tofu.key || seen[b.key]) bad.push(ch);
    seen[b.key] = ch;
  });
  var control = tofu.key === tofu2.key ? "tofu-detected" : "no-tofu-control";
  document.body.setAttribute("data-glyphs", chars.length + ":" + bad.join("") + ":" + control);
});
</script>
"""


@BROWSER
def test_browser_draws_the_chinese_report(zh, tmp_path):
    """Headless Chromium renders the Chinese report with real glyphs (no missing-glyph boxes)."""
    page = (zh / "change" / "report.html").read_text(encoding="utf-8")
    probe = zh / "change" / "report-glyphs.html"
    probe.write_text(page.replace("</body>", GLYPH_CHECK_JS + "</body>"), encoding="utf-8")
    res = _chromium(tmp_path / "ud", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body is not None
    found = re.search(r'data-glyphs="(\d+):([^":]*):([a-z-]+)"', body.group(0))
    assert found is not None, body.group(0)
    n, missing, control = int(found.group(1)), found.group(2), found.group(3)
    assert n >= 20, "too few Chinese characters in the headings to check"
    assert control == "tofu-detected", "the check cannot tell a missing glyph"
    assert missing == "", (f"drawn as missing-glyph boxes: {missing} (install a CJK font, e.g. "
                           "apt-get install fonts-noto-cjk)")
    assert 'data-images-ok="true"' in body.group(0)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "change_report_zh.png"
    shot.unlink(missing_ok=True)
    res = _chromium(tmp_path / "ud2", "--hide-scrollbars", f"--screenshot={shot}",
                    "--window-size=1400,2000", (zh / "change" / "report.html").as_uri())
    assert res.returncode == 0 and shot.is_file()


@pytest.mark.parametrize("crs, res", [("EPSG:32648", 10.0), ("EPSG:4326", 1e-4)])
def test_the_gep_map_coverage_comes_from_the_pass_and_equals_the_map(tmp_path, crs, res):
    """The report's "GEP map and table GEP" figures (hectares where the GEP map has data and
    Σ(GEP map × pixel area)) are summed by the pass (manifest ``gep_map``), not by reading the
    map again: they equal the map's own, on a grid of several uneven blocks with factor-layer
    holes (some services nodata), projected and geographic."""
    from affine import Affine

    from gepgeo.area import row_areas_ha
    from gepgeo.pipeline import load_pipeline
    from gepgeo.report.tables import map_coverage as _map_coverage
    from gepgeo.run import run_pipeline

    rng = np.random.default_rng(7)
    ny, nx = 300, 230
    t = Affine(res, 0, 600000 if res > 1 else 105.0, 0, -res, 3000000 if res > 1 else 30.0)
    lu = rng.integers(0, 4, (ny, nx)).astype(np.uint8)
    r = (5000 + rng.normal(0, 50, (ny, nx))).astype(np.float32)
    r[rng.random((ny, nx)) < 0.1] = -9999.0
    write_tif(tmp_path / "lu.tif", lu, t, crs=crs, nodata=0)
    write_tif(tmp_path / "r.tif", r, t, crs=crs, nodata=-9999.0, unit="MJ mm ha-1 h-1 a-1")
    doc = {"land_use": {"path": "lu.tif", "codes": {1: "dryland", 2: "forest", 3: "mine"}},
           "no_services": ["mine"],
           "profile": {"name": "jinsha-as-published", "scenario": "after"},
           "parameters": {"rainfall_erosivity_r": {"path": "r.tif"}},
           "maps": ["gep"], "options": {"chunk_size": 64}}
    res_ = run_pipeline(load_pipeline(write_yaml(tmp_path / "p.yaml", doc)), tmp_path / "out",
                        quiet=True)
    rec = read_manifest(res_.out)["gep_map"]
    ha, total = _map_coverage(res_.out / "maps" / "gep.tif", "planar")
    assert rec["valid_ha"] == pytest.approx(ha, rel=1e-9)
    assert rec["value"] == pytest.approx(total, rel=1e-6)     # the map is float32
    gep = read_band(res_.out / "maps" / "gep.tif").astype(np.float64)
    grid = raster_info(res_.out / "maps" / "gep.tif")
    rows = row_areas_ha(grid.transform, grid.crs, grid.shape, mode="planar")
    assert_map_on_grid(res_.out / "maps" / "gep.tif", tmp_path / "lu.tif")
    ok = np.isfinite(gep)
    assert 0 < ok.sum() < (lu > 0).sum()                      # holes leave GEP nodata
    assert rec["value"] == pytest.approx(float((gep * rows[:, None])[ok].sum()), rel=1e-6)
    html_text = (res_.out / "report.html").read_text()
    assert fmt_number(rec["valid_ha"]) in html_text
