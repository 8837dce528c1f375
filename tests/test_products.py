"""Land-cover product presets (``land_use.product``): legends, crosswalk, runs, ``gepgeo codes``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from gepgeo.errors import ConfigError
from gepgeo.pipeline import load_pipeline, parse_pipeline
from gepgeo.products import (
    ECOSYSTEM_TYPES,
    crosswalk_markdown,
    land_use_codes,
    load_preset,
    match_products,
    product_names,
)
from gepgeo.run import account

from .helpers import read_yaml, run_cli, write_tif, write_yaml

ROOT = Path(__file__).resolve().parents[1]

#: the presets the issue asks for, and the size of each legend as its documentation gives it
LEGEND_SIZES = {"clcd": 9, "esa_worldcover_2020": 11, "esa_worldcover_2021": 11,
                "globeland30": 10, "modis_igbp": 17, "nlcd": 16, "gbt21010_level1": 12,
                "cnlucc_level1": 6, "cnlucc_level2": 25}

#: Jinsha's codes (1 mining, 2 dryland, 3 forest, 4 grassland, 5 construction) as the WorldCover
#: classes that stand for them, and the renames that give back the Jinsha profile's land types
JINSHA_TO_WORLDCOVER = {1: 60, 2: 40, 3: 10, 4: 30, 5: 50}
RENAME = {"bare_sparse": "mining", "cropland": "dryland", "tree_cover": "forest",
          "built_up": "construction"}
ABSENT = ["shrubland", "snow_ice", "permanent_water", "herbaceous_wetland", "mangroves",
          "moss_lichen"]


def test_every_preset_loads_with_source_version_and_a_complete_crosswalk():
    assert set(LEGEND_SIZES) <= set(product_names())
    for name in product_names():
        p = load_preset(name)
        assert p.product == name and p.version.strip() and p.name.strip() and p.name_zh.strip()
        assert p.source["citation"].strip()
        assert p.source.get("doi") or p.source.get("url")
        codes = [c.code for c in p.classes]
        assert len(codes) == len(set(codes)) == LEGEND_SIZES.get(name, len(codes))
        for c in p.classes:
            assert c.ecosystem in ECOSYSTEM_TYPES, (name, c.code)
            assert c.en.strip() and re.search(r"[\u4e00-\u9fff]", c.zh), (name, c.code)
        assert not set(p.nodata) & set(codes)
        # the file says which document its code list was checked against
        assert "checked against" in p.path.read_text(encoding="utf-8")


def test_legends_hold_the_documented_codes():
    """Spot checks of the legends against their documents (see each preset's header)."""
    assert list(load_preset("esa_worldcover_2021").codes) == [10, 20, 30, 40, 50, 60, 70, 80, 90,
                                                              95, 100]
    assert load_preset("esa_worldcover_2020").nodata == (0,)
    assert list(load_preset("modis_igbp").codes) == list(range(1, 18))
    assert load_preset("modis_igbp").nodata == (255,)
    assert list(load_preset("nlcd").codes) == [11, 12, 21, 22, 23, 24, 31, 41, 42, 43, 52, 71,
                                               81, 82, 90, 95]
    assert list(load_preset("globeland30").codes) == list(range(10, 101, 10))
    assert list(load_preset("gbt21010_level1").codes) == list(range(1, 13))
    assert list(load_preset("cnlucc_level2").codes) == [11, 12, 21, 22, 23, 24, 31, 32, 33, 41,
                                                        42, 43, 44, 45, 46, 51, 52, 53, 61, 62,
                                                        63, 64, 65, 66, 67]
    assert load_preset("clcd").codes[8].en == "Impervious"


def test_docs_show_the_presets_and_crosswalks_as_shipped():
    text = (ROOT / "docs" / "PRODUCTS.md").read_text(encoding="utf-8")
    inside = text.split("<!-- presets -->")[1]
    assert inside.strip() == crosswalk_markdown().strip(), (
        "docs/PRODUCTS.md is stale: paste gepgeo.products.crosswalk_markdown() between its "
        "<!-- presets --> markers")


def test_codes_from_a_product_with_renames_overrides_and_ecosystem_types():
    assert land_use_codes("clcd") == {1: "cropland", 2: "forest", 3: "shrub", 4: "grassland",
                                      5: "water", 6: "snow_ice", 7: "barren", 8: "impervious",
                                      9: "wetland"}
    eco = land_use_codes("modis_igbp", land_types="ecosystem")
    assert {eco[c] for c in (1, 2, 3, 4, 5, 8)} == {"forest"} and eco[14] == "cropland"
    pipe = parse_pipeline({"land_use": {
        "path": "x.tif", "product": "esa_worldcover_2021", "land_types": "ecosystem",
        "rename": {"bare": "desert"}, "codes": {95: "mangrove_forest", 0: "unmapped", 200: "sea"}}})
    lu = pipe.land_use
    assert lu.codes[60] == "desert" and lu.codes[95] == "mangrove_forest"
    assert lu.codes[200] == "sea" and lu.codes[0] == "unmapped" and lu.codes[90] == "wetland"
    assert lu.nodata is None        # the fill code is mapped: it is not made nodata
    plain = parse_pipeline({"land_use": {"path": "x.tif", "product": "modis_igbp"}}).land_use
    assert plain.nodata == 255 and plain.codes[13] == "urban_built_up"
    mine = parse_pipeline({"land_use": {"path": "x.tif", "product": "modis_igbp",
                                        "nodata": 254}}).land_use
    assert mine.nodata == 254
    # a validated pipeline validates again to the same mapping (the manifest, compare)
    assert parse_pipeline(pipe.model_dump()).land_use == lu


@pytest.mark.parametrize("land_use, words", [
    ({"product": "corine"}, ["unknown product 'corine'", "clcd", "esa_worldcover_2021", "nlcd"]),
    ({"product": "clcd", "rename": {"trees": "x"}}, ["rename", "'trees'", "forest"]),
    ({"product": "clcd", "land_types": "biome"}, ["land_types", "'biome'", "ecosystem"]),
    ({"land_types": "ecosystem", "codes": {1: "a"}}, ["land_types", "product"]),
    ({"product": "clcd", "codes": {"x": "a"}}, ["codes", "'x'", "whole-number"]),
])
def test_bad_product_settings_are_one_line_errors(land_use, words):
    with pytest.raises(ConfigError) as exc:
        parse_pipeline({"land_use": {"path": "x.tif", **land_use}})
    msg = str(exc.value)
    assert len(msg.splitlines()) == 1 and "land_use" in msg
    for w in words:
        assert w in msg


def test_cli_unknown_product_exits_2_listing_the_products(sample, capsys):
    doc = read_yaml(sample / "pipelines" / "jinsha_before.yaml")
    doc["land_use"] = {"path": doc["land_use"]["path"], "product": "clc"}
    path = write_yaml(sample / "pipelines" / "bad.yaml", doc)
    rc, _, err = run_cli(["validate", path], capsys)
    assert rc == 2
    assert "unknown product 'clc'" in err and "known products: clcd," in err


def _worldcover_sample(sample: Path) -> Path:
    """Jinsha's before land use recoded to WorldCover codes, with its nodata pixels as the
    product's fill code 0 and no nodata declared by the file (the preset must supply it)."""
    with rasterio.open(sample / "data" / "jinsha" / "landuse_before.tif") as src:
        lu, t, crs, nd = src.read(1), src.transform, src.crs, src.nodata
    out = np.zeros_like(lu)
    for a, b in JINSHA_TO_WORLDCOVER.items():
        out[lu == a] = b
    assert nd == 0 and (lu == 0).any()
    return write_tif(sample / "data" / "jinsha" / "worldcover.tif", out, t, crs.to_string())


def _accounts(sample: Path, land_use: dict, no_services: list[str], name: str) -> pd.DataFrame:
    doc = read_yaml(sample / "pipelines" / "jinsha_before.yaml")
    doc["land_use"] = {"path": "../data/jinsha/worldcover.tif", **land_use}
    doc["no_services"] = no_services
    doc["options"] = {"chunk_size": 64}        # 110 x 100 pixels: 2 x 2 blocks, partial ones
    tidy = account(load_pipeline(write_yaml(sample / "pipelines" / f"{name}.yaml", doc)))
    return tidy.sort_values(list(tidy.columns[:-1])).reset_index(drop=True)


def test_a_run_with_a_product_equals_the_explicit_mapping_and_the_original_codes(sample):
    _worldcover_sample(sample)
    preset = _accounts(sample, {"product": "esa_worldcover_2021", "rename": RENAME},
                       ["mining", "construction", *ABSENT], "preset")
    codes = {c.code: RENAME.get(c.name, c.name) for c in load_preset("esa_worldcover_2021").classes}
    explicit = _accounts(sample, {"codes": codes, "nodata": 0},
                         ["mining", "construction", *ABSENT], "explicit")
    pd.testing.assert_frame_equal(preset, explicit)
    # the same landscape under its own codes (the bundled Jinsha pipeline): the same amounts
    doc = read_yaml(sample / "pipelines" / "jinsha_before.yaml")
    doc["options"] = {"chunk_size": 64}
    jinsha = account(load_pipeline(write_yaml(sample / "pipelines" / "j.yaml", doc)))
    key = ["service", "measure", "land_type"]
    key = [k for k in key if k in jinsha.columns]
    got = preset[preset.land_type.isin(set(jinsha.land_type))]
    merged = got.merge(jinsha, on=[c for c in jinsha.columns if c != "amount"],
                       suffixes=("", "_jinsha"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    np.testing.assert_allclose(merged.amount, merged.amount_jinsha, rtol=1e-12, atol=0)
    # ecosystem types, renamed to the Jinsha profile's names: the same amounts again
    eco = _accounts(sample, {"product": "esa_worldcover_2021", "land_types": "ecosystem",
                             "rename": {"bare": "mining", "cropland": "dryland",
                                        "built_up": "construction"}},
                    ["mining", "construction", "shrub", "wetland", "water", "snow_ice"], "eco")
    got = eco[eco.land_type.isin(set(jinsha.land_type))].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got, preset[preset.land_type.isin(set(jinsha.land_type))].reset_index(drop=True))


def test_codes_cli_names_the_product(tmp_path, capsys):
    from affine import Affine

    lu = np.array([[10, 30, 40], [50, 60, 0], [10, 10, 95]], dtype=np.uint8)
    path = write_tif(tmp_path / "wc.tif", lu, Affine(10, 0, 500_000, 0, -10, 3_000_000),
                     nodata=0)
    rc, out, err = run_cli(["codes", path, "--write", tmp_path / "block.yaml"], capsys)
    assert rc == 0, err
    line = next(x for x in out.splitlines() if x.startswith("codes match products:"))
    assert "esa_worldcover_2020 (6 of its 11 classes)" in line
    assert "esa_worldcover_2021 (6 of its 11 classes)" in line
    assert "clcd" not in line and "modis_igbp" not in line
    block = (tmp_path / "block.yaml").read_text(encoding="utf-8")
    assert "product: esa_worldcover_2020" in block
    absent = next(x for x in block.splitlines() if "absent here" in x).split(": ")[-1]
    assert absent.split(", ") == ["shrubland", "snow_ice", "permanent_water",
                                  "herbaceous_wetland", "moss_lichen"]
    assert read_yaml(tmp_path / "block.yaml")["land_use"]["codes"][95] == "code_95"


def test_matching_ranks_the_full_legend_first_and_refuses_foreign_codes():
    m = match_products(range(1, 10))
    assert m[0].product == "clcd" and m[0].found == 9
    assert {x.product for x in m} == {"clcd", "gbt21010_level1", "modis_igbp"}
    assert match_products([11, 21, 95, 255]) == []            # 255: no NLCD code
    m = match_products([1, 12, 17, 255])
    assert [x.product for x in m] == ["modis_igbp"] and m[0].nodata_found == (255,)
    assert match_products([1.5, 2]) == []


def test_readme_example_is_a_valid_land_use_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sec = text.split("### Land-cover products", 1)[1]
    block = sec.split("```yaml", 1)[1].split("```", 1)[0]
    import yaml

    doc = yaml.safe_load(block)
    lu = parse_pipeline(doc).land_use
    assert lu.codes[10] == "forest" and lu.codes[40] == "farmland" and lu.nodata == 0
    assert set(doc["no_services"]) <= set(lu.codes.values())


def test_chinese_report_labels_of_preset_land_types():
    from gepgeo.i18n import label, use_lang

    with use_lang("zh"):
        assert label("tree_cover", land_type=True) == "树木覆盖"
        assert label("snow_ice", land_type=True) == "冰川积雪"       # the ecosystem type's
        assert label("forest", land_type=True) == "林地"             # the table's own wins
    assert label("tree_cover", land_type=True) == "tree_cover"
