"""Profiles declare where their values hold; a run outside that extent is warned about."""

from __future__ import annotations

import math

import pytest
import rasterio
from affine import Affine

from gepgeo.errors import ProfileError, ProfileScopeWarning
from gepgeo.profiles import load_profile
from gepgeo.scope import Scope, inside_share, scope_warning

from .helpers import read_manifest, run_cli


def _sphere_box(w, s, e, n):
    return math.radians(e - w) * (math.sin(math.radians(n)) - math.sin(math.radians(s)))


def test_inside_share_is_the_share_of_the_box_area():
    assert inside_share((0, 0, 1, 1), (0, 0, 1, 1)) == pytest.approx(1.0)
    assert inside_share((10, 10, 11, 11), (0, 0, 1, 1)) == 0.0
    got = inside_share((0, 0, 2, 2), (1, 1, 3, 3))
    assert got == pytest.approx(_sphere_box(1, 1, 2, 2) / _sphere_box(0, 0, 2, 2), rel=1e-12)
    # a grid much larger than the site holds it but lies mostly outside it
    assert inside_share((100, 20, 110, 30), (106.35, 27.26, 106.39, 27.30)) < 1e-3


def test_scope_warning_only_outside_a_declared_extent():
    site = Scope("site", (106.35, 27.26, 106.39, 27.30))
    assert scope_warning("p", site, (106.36, 27.27, 106.38, 27.29)) is None
    assert scope_warning("p", Scope("national", None), (0, 0, 1, 1)) is None
    msg = scope_warning("p", site, (-113.2, 37.1, -112.8, 37.5))
    assert msg is not None and "'p'" in msg and "0.0 %" in msg and "\n" not in msg


@pytest.mark.parametrize("body, words", [
    ("scope: site\n", "needs the site's extent"),
    ("scope: village\n", "scope must be one of"),
    ("scope: site\nextent: [1, 2, 3]\n", "four numbers"),
    ("scope: site\nextent: [10, 5, 9, 6]\n", "west < east"),
    ("extent: [1, 2, 3, 4]\n", "without scope"),
])
def test_bad_scope_declarations_are_refused(tmp_path, body, words):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nkind: valuation\nprice_year: 2020\n" + body
                 + "parameters:\n  water_price: {value: 2.0, unit: yuan m-3}\n")
    with pytest.raises(ProfileError, match=words):
        load_profile(str(p))


def test_shipped_profiles_declare_their_scope():
    for name, level in [("jinsha-as-published", "site"), ("jinsha-as-stated", "site"),
                        ("ouyang-garze-2010", "regional"), ("forest-review-2026", "national")]:
        scope = load_profile(name).meta["scope"]
        assert scope is not None and scope.level == level, name
    assert load_profile("jinsha-as-stated").meta["scope"].extent == load_profile(
        "jinsha-as-published").meta["scope"].extent


def _move(folder, dx):
    """Shift every raster of ``folder`` by ``dx`` metres east (same CRS, same pixels)."""
    for path in folder.glob("*.tif"):
        with rasterio.open(path, "r+") as dst:
            dst.transform = Affine.translation(dx, 0) * dst.transform


def test_site_profile_on_its_site_gives_no_warning(sample, capsys):
    rc, _, err = run_cli(["run", sample / "pipelines" / "jinsha_before.yaml", "--out",
                          sample / "o", "-q"], capsys)
    assert rc == 0, err
    manifest = read_manifest(sample / "o")
    assert manifest["scope_warnings"] == []
    assert manifest["profiles"][0]["scope"] == "site"
    assert "another landscape" not in (sample / "o" / "report.html").read_text()


def test_site_profile_elsewhere_warns_on_screen_in_manifest_and_report(sample, capsys):
    _move(sample / "data" / "jinsha", 300_000.0)   # 300 km east: still Guizhou's UTM zone
    with pytest.warns(ProfileScopeWarning, match="'jinsha-as-published' .* may not hold here"):
        rc, _, err = run_cli(["run", sample / "pipelines" / "jinsha_before.yaml", "--out",
                              sample / "o", "-q"], capsys)
    assert rc == 0, err
    manifest = read_manifest(sample / "o")
    assert len(manifest["scope_warnings"]) == 1
    assert manifest["scope_warnings"][0] in manifest["warnings"]
    html = (sample / "o" / "report.html").read_text()
    summary = html[html.index('id="summary"'):]
    assert summary.index("Parameters from another landscape") < summary.index("GEP =")
