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

from gepgeo.demo import run_demo
from gepgeo.errors import InputFileError
from gepgeo.report import (diverging_scale, fmt_number, pretty_unit, value_scale,
                           write_compare_report, write_report, write_run_report)
from gepgeo.styles import read_overview, style_maps, write_qml

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


class _Refs(HTMLParser):
    """Collects every ``<img src>`` and ``<a href>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
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
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("report") / "demo")


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


@pytest.mark.parametrize("which, at_least", [("before", 13), ("after", 13), ("change", 11)])
def test_images_are_embedded_pngs(pages, which, at_least):
    imgs = _refs(pages[which]).imgs
    assert len(imgs) >= at_least
    assert pages[which].count("<img") == len(imgs)
    for src in imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        w, h = _png_size(data)
        assert w > 100 and h > 100


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
    manifest = json.loads((demo.out / which / "manifest.json").read_text())
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
    manifest = json.loads((demo.out / "before" / "manifest.json").read_text())
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
    m = json.loads((run / "manifest.json").read_text())
    m["inputs"]["land_use"]["path"] = str(tmp_path / "gone.tif")
    (run / "manifest.json").write_text(json.dumps(m))
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
    import rasterio
    from affine import Affine

    path = tmp_path / "big.tif"
    data = np.arange(2000 * 1000, dtype="float32").reshape(1000, 2000)
    data[:10] = np.nan
    with rasterio.open(path, "w", driver="GTiff", height=1000, width=2000, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=float("nan"),
                       transform=Affine(0.001, 0, 100.0, 0, -0.001, 30.0)) as dst:
        dst.write(data, 1)
        dst.units = ("t ha-1 a-1",)
    ov = read_overview(path)
    assert ov.data.shape == (400, 800)
    assert ov.shape == (1000, 2000)
    assert ov.unit == "t ha-1 a-1"
    assert np.isnan(ov.data[0]).all() and np.isfinite(ov.data[10:]).all()
    assert ov.extent == pytest.approx((100.0, 102.0, 29.0, 30.0))
    assert read_overview(path, max_side=5000).data.shape == (1000, 2000)   # never upsampled


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
