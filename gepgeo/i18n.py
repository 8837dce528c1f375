"""The report's languages: English (``en``, the default) and Chinese (``zh``).

Only the report (``report.html``) is translated: the CSV tables, the manifest and the maps keep
their machine-readable English names. Text is translated by looking the English phrase up in
:data:`ZH` (a phrase not there stays English, so a new sentence is never lost, only untranslated);
service, land-type, category and measure names by :func:`label`; units by :func:`unit_zh`.

The language in force is a context variable set by :func:`use_lang` around the building of one
report, so the report code calls :func:`t` without passing the language down every function.

Charts are drawn with matplotlib: Chinese labels need a font with CJK glyphs. :func:`cjk_font`
looks for one (Noto Sans CJK, Source Han Sans, WenQuanYi, ...); without one the charts keep
English labels (:func:`chart_lang`) and the report says so once.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache, lru_cache

__all__ = [
    "LANGS",
    "chart_lang",
    "cjk_font",
    "html_lang",
    "label",
    "lang",
    "parameter_label",
    "t",
    "unit_zh",
    "use_lang",
]

#: Report languages.
LANGS = ("en", "zh")

_LANG: ContextVar[str] = ContextVar("gepgeo_report_lang", default="en")
_CHART_EN: ContextVar[bool] = ContextVar("gepgeo_report_chart_en", default=False)


@contextlib.contextmanager
def use_lang(code: str) -> Iterator[None]:
    """Build what follows in language ``code`` (``en`` or ``zh``)."""
    if code not in LANGS:
        raise ValueError(f"report language must be one of {', '.join(LANGS)}, got {code!r}")
    token = _LANG.set(code)
    try:
        yield
    finally:
        _LANG.reset(token)


@contextlib.contextmanager
def charts() -> Iterator[None]:
    """Text made inside is drawn in a chart: English when no CJK font is installed."""
    token = _CHART_EN.set(chart_lang() == "en")
    try:
        yield
    finally:
        _CHART_EN.reset(token)


def lang() -> str:
    """The language in force (``en`` or ``zh``); English inside :func:`charts` without a CJK
    font."""
    return "en" if _CHART_EN.get() else _LANG.get()


def html_lang() -> str:
    """The ``<html lang>`` value of the language in force."""
    return {"en": "en", "zh": "zh-CN"}[_LANG.get()]


def t(text: str, **kw: object) -> str:
    """``text`` in the language in force, with ``{name}`` fields filled from ``kw``."""
    out = ZH.get(text, text) if lang() == "zh" else text
    return out.format(**kw) if kw else out


# --- names -----------------------------------------------------------------------------------

LABELS_ZH: dict[str, str] = {
    # services, categories, totals
    "agriculture": "农产品", "water": "水源涵养", "soil": "土壤保持", "air": "空气净化",
    "carbon": "固碳", "oxygen": "释氧", "climate": "气候调节", "landscape": "景观价值",
    "gep": "GEP", "GEP": "GEP", "subtotal": "小计", "total": "合计",
    "provisioning": "物质产品", "regulating": "调节服务", "cultural": "文化服务",
    # measures
    "value": "价值", "productive_area": "生产面积", "product_mass": "产品产量",
    "water_conservation": "水源涵养量", "soil_retention": "土壤保持量",
    "sediment_volume": "减少泥沙淤积量", "n_fertilizer": "保持氮量", "p_fertilizer": "保持磷量",
    "k_fertilizer": "保持钾量", "sediment_value": "减少泥沙淤积价值",
    "n_fertilizer_value": "减少氮面源污染价值", "p_fertilizer_value": "减少磷面源污染价值",
    "k_fertilizer_value": "减少钾面源污染价值", "so2": "二氧化硫吸收量", "nox": "氮氧化物吸收量",
    "dust": "滞尘量", "so2_value": "二氧化硫净化价值", "nox_value": "氮氧化物净化价值",
    "dust_value": "滞尘价值", "co2": "二氧化碳固定量", "o2": "释氧量",
    "cooling_energy": "降温节能量",
    # land types (common names; others stay as given)
    "forest": "林地", "woodland": "林地", "grassland": "草地", "grass": "草地",
    "dryland": "旱地", "cropland": "耕地", "farmland": "耕地", "paddy": "水田",
    "mining": "采矿用地", "mine": "采矿用地", "construction": "建设用地", "built_up": "建设用地",
    "urban": "城镇用地", "wetland": "湿地", "shrub": "灌木林地", "shrubland": "灌木林地",
    "bare": "裸地", "barren": "裸地", "unused": "未利用地", "garden": "园地", "orchard": "园地",
    "road": "交通用地", "snow": "冰雪",
}
#: ``water`` is both a service and a land type; as a land type it is 水域.
LAND_TYPES_ZH = {**LABELS_ZH, "water": "水域", "open_water": "水域", "river": "河流"}


#: Measures named like their service (``carbon``: the service 固碳, the quantity 固碳量).
MEASURES_ZH = {"carbon": "固碳量", "value": "价值"}


@cache
def _product_land_types_zh() -> dict[str, str]:
    """Chinese names of the land types that product presets give (the ecosystem types, then
    each preset's classes; the first name given wins)."""
    from .products import ECOSYSTEM_TYPES, load_preset, product_names

    out = {k: zh for k, (_, zh) in ECOSYSTEM_TYPES.items()}
    for name in product_names():
        for c in load_preset(name).classes:
            out.setdefault(c.name, c.zh)
    return out


def label(name: object, *, land_type: bool = False, measure: bool = False) -> str:
    """A service, category, measure or (``land_type``) land-type name in the language in force.

    Unknown names stay as given; in English ``gep`` is ``GEP`` and ``_`` a space.
    """
    text = str(name)
    if lang() == "zh":
        table = LAND_TYPES_ZH if land_type else LABELS_ZH
        key = text.lower()
        if measure and key in MEASURES_ZH:
            return MEASURES_ZH[key]
        if key in table:
            return table[key]
        if land_type and key in _product_land_types_zh():
            return _product_land_types_zh()[key]
        if key.endswith("_value") and key[: -len("_value")] in LABELS_ZH:
            return LABELS_ZH[key[: -len("_value")]] + "价值"
        return text
    if text == "gep":
        return "GEP"
    return text


_UNIT_ZH = {"yuan": "元", "ha": "公顷", "a": "年", "t": "吨", "kg": "千克", "g": "克",
            "m": "米", "mm": "毫米", "km": "千米", "d": "天", "h": "小时", "kWh": "千瓦时",
            "MJ": "兆焦", "10⁴": "万"}
_SUPERS = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"


def unit_zh(unit: str) -> str:
    """A pretty unit (``yuan ha⁻¹ a⁻¹``) in Chinese (``元 公顷⁻¹ 年⁻¹``); ``10⁴ yuan`` → ``万元``.

    Tokens not known (``CO2``, ``SO2``) stay as given.
    """
    out = []
    unit = unit.replace("10⁴ yuan", "万元")
    for tok in unit.split(" "):
        m = re.match(rf"^(.*?)([{_SUPERS}]*)$", tok)
        base, power = (m.group(1), m.group(2)) if m else (tok, "")
        out.append(_UNIT_ZH.get(base, base) + power)
    return " ".join(out)


# --- fonts -----------------------------------------------------------------------------------

#: Font families with Chinese glyphs, in order of preference.
#: Chinese names of the method's parameters (the keys of profiles and pipelines), as the
#: report's charts name them (:func:`parameter_label`); the usual terms of Chinese GEP
#: accounts. A key not here is shown as in English.
PARAMETERS_ZH: dict[str, str] = {
    "agri_output_value_per_ha": "单位面积农业产值", "crop_yield": "作物单产",
    "crop_price": "作物价格", "precipitation": "降水量", "runoff_coefficient": "径流系数",
    "runoff": "地表径流量", "evapotranspiration": "蒸散发量",
    "water_retention_depth": "水源涵养深度", "water_price": "水价",
    "rainfall_erosivity_r": "降雨侵蚀力因子 R", "soil_erodibility_k": "土壤可蚀性因子 K",
    "slope_length_steepness_ls": "坡长坡度因子 LS", "cover_management_c": "植被覆盖与管理因子 C",
    "support_practice_p": "水土保持措施因子 P", "lambda_over_rho": "泥沙淤积系数与土壤容重之比",
    "sediment_deposition_coefficient_lambda": "泥沙淤积系数", "soil_bulk_density_rho": "土壤容重",
    "dredging_cost": "清淤成本", "soil_n_content": "土壤全氮含量",
    "soil_p_content": "土壤全磷含量", "soil_k_content": "土壤全钾含量",
    "n_to_fertilizer_factor": "氮折肥系数", "p_to_fertilizer_factor": "磷折肥系数",
    "k_to_fertilizer_factor": "钾折肥系数", "n_fertilizer_price": "氮肥价格",
    "p_fertilizer_price": "磷肥价格", "k_fertilizer_price": "钾肥价格",
    "so2_uptake_rate": "单位面积二氧化硫吸收量", "nox_uptake_rate": "单位面积氮氧化物吸收量",
    "dust_uptake_rate": "单位面积滞尘量", "air_rate_multiplier": "空气净化量调整系数",
    "so2_charge": "二氧化硫治理成本", "nox_charge": "氮氧化物治理成本",
    "dust_charge": "粉尘治理成本", "carbon_sequestration_rate": "单位面积固碳速率",
    "forest_soil_carbon_beta": "森林土壤固碳系数", "co2_per_c": "二氧化碳与碳质量比",
    "carbon_price": "碳价格", "o2_per_co2": "氧气与二氧化碳质量比",
    "oxygen_price": "工业制氧价格", "heat_absorption": "单位面积吸热量",
    "ac_days": "空调开放天数", "ac_energy_efficiency_ratio": "空调能效比",
    "electricity_price": "电价", "landscape_equivalent_factor": "景观价值当量因子",
    "equivalent_value_coefficient": "当量因子价值系数", "grain_price": "粮食价格",
    "grain_yield": "粮食单产", "grain_output_value_per_ha": "单位面积粮食产值",
}


def parameter_label(key: object) -> str:
    """A parameter key in the language in force: its Chinese name (:data:`PARAMETERS_ZH`),
    or in English (and for a key without one) the key with spaces for ``_``."""
    text = str(key)
    if lang() == "zh" and text in PARAMETERS_ZH:
        return PARAMETERS_ZH[text]
    return text.replace("_", " ")


CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans SC",
                "Source Han Sans SC", "Source Han Sans CN", "Source Han Sans",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Serif CJK SC",
                "AR PL UMing CN", "SimHei", "Microsoft YaHei", "PingFang SC")
_CJK_FILE = re.compile(r"(NotoSansCJK|NotoSerifCJK|NotoSansSC|SourceHanSans|wqy|WenQuanYi|"
                       r"uming|simhei|msyh|PingFang)", re.IGNORECASE)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with CJK glyphs that matplotlib can use, or None.

    Fonts installed after matplotlib built its font cache are found by file name and added.
    """
    from matplotlib import font_manager

    fm = font_manager.fontManager
    have = {f.name for f in fm.ttflist}
    for fam in CJK_FAMILIES:
        if fam in have:
            return fam
    try:
        files = font_manager.findSystemFonts()
    except (OSError, RuntimeError, ValueError):  # pragma: no cover - no fc-list
        files = []
    for path in sorted(files):
        if _CJK_FILE.search(path):
            try:
                fm.addfont(path)
            except (OSError, RuntimeError, ValueError):  # pragma: no cover - unreadable font
                continue
    have = {f.name for f in fm.ttflist}
    for fam in CJK_FAMILIES:
        if fam in have:
            return fam
    return None


def chart_lang() -> str:
    """The language of chart labels: the report's, but English when Chinese has no font."""
    code = _LANG.get()
    return "zh" if code == "zh" and cjk_font() is not None else "en"


# --- phrases ---------------------------------------------------------------------------------

ZH: dict[str, str] = {
    # units and money
    "10⁴ yuan a⁻¹": "万元/年",
    "× 10⁴ yuan a⁻¹": "万元/年",
    "m": "米", "ft": "英尺",
    # page, navigation, sections
    "Summary": "概要", "Land use": "土地利用", "Maps": "地图", "Values": "价值",
    "Pixels": "像元", "Zones": "分区", "Tables": "表格", "Parameters": "参数",
    "Change": "变化", "Reproduction": "复现",
    "Value by service and land type": "按服务和土地类型的价值",
    "Pixel counts, exclusions and warnings": "像元统计、剔除与警告",
    "Parameters and provenance": "参数及来源",
    "Land use before and after": "变化前后的土地利用",
    "Maps: before, after and difference": "地图：变化前、变化后及差值",
    "Change by service": "按服务的变化",
    "Change by zone": "按分区的变化",
    "Reproduction of Xu et al.": "Xu 等论文结果复现",
    "gepgeo report: {name}": "gepgeo 报告：{name}",
    "gepgeo comparison: {names}": "gepgeo 对比：{names}",
    "GEP account: {name}": "生态系统生产总值（GEP）核算：{name}",
    "GEP comparison: {names}": "GEP 对比：{names}",
    "scenario {s} · ": "情景 {s} · ",
    "profile {p} · {n} services · gepgeo {v}": "参数集 {p} · {n} 项服务 · gepgeo {v}",
    "before and after · aligned to the before grid: {alignment} · gepgeo {v}":
        "变化前与变化后 · 对齐到变化前的栅格：{alignment} · gepgeo {v}",
    "none": "无",
    "Written by gepgeo {version} from the files of this folder. Maps are decimated to at most "
    "{side} pixels a side for display; the GeoTIFFs hold the full resolution.":
        "由 gepgeo {version} 根据本文件夹中的文件生成。地图为显示而抽稀至每边最多 {side} 个像元；"
        "GeoTIFF 文件保留完整分辨率。",
    # headline
    "GEP, {unit} ({yuan} yuan a⁻¹)": "GEP，{unit}（{yuan} 元/年）",
    "price year": "价格年份",
    "ha classified": "已分类面积（公顷）",
    "grid rows × columns": "栅格行数 × 列数",
    "GEP = <strong>{gep} {money}</strong> at prices of year <strong>{yrs}</strong> "
    "(price year: {yrs}).": "GEP = <strong>{gep} {money}</strong>，按 <strong>{yrs}</strong> "
                            "年价格计算（价格年份：{yrs}）。",
    "unknown": "未知", "; ": "；",
    "{year} for {n} prices": "{n} 项价格为 {year}",
    "Parameters from another landscape.": "参数来自其他地区。",
    "The charts are labelled in English: no font with Chinese characters is installed for "
    "matplotlib (e.g. Debian's fonts-noto-cjk).":
        "图表标注为英文：本机没有可供 matplotlib 使用的中文字体（例如 Debian 的 fonts-noto-cjk）。",
    "GEP before, {unit}": "变化前 GEP，{unit}",
    "GEP after, {unit}": "变化后 GEP，{unit}",
    "change, {unit}": "变化量，{unit}",
    "GEP went from <strong>{b}</strong> to <strong>{a}</strong> {money}, a change of "
    "<strong>{d}</strong> {money}.":
        "GEP 从 <strong>{b}</strong> {money} 变为 <strong>{a}</strong> {money}，变化 "
        "<strong>{d}</strong> {money}。",
    "Price year: before {yb}, after {ya}.": "价格年份：变化前 {yb}，变化后 {ya}。",
    "Scenario reports: {b} · {a}.": "各情景报告：{b} · {a}。",
    # charts and maps
    "land use": "土地利用", "land-use map": "土地利用图", "maps": "地图",
    "nearest": "最近邻", "bilinear": "双线性", "average": "平均",
    "land use before and after": "变化前后的土地利用",
    "land type (codes)": "土地类型（编码）", "land type": "土地类型",
    "nodata / not classified": "无数据 / 未分类",
    "value ({unit})": "价值（{unit}）",
    "Value by service": "各服务价值",
    "Value by land type, per service": "各服务按土地类型的价值",
    "Value before and after": "变化前后的价值",
    "change, after − before ({unit})": "变化量，变化后 − 变化前（{unit}）",
    "value by service": "各服务价值", "value by land type": "按土地类型的价值",
    "change by service": "按服务的变化",
    "before": "变化前", "after": "变化后", "after − before": "变化后 − 变化前",
    "map missing": "缺少地图", "difference map missing": "缺少差值图",
    "easting ({unit})": "东坐标（{unit}）", "northing ({unit})": "北坐标（{unit}）",
    "longitude (°)": "经度（°）", "latitude (°)": "纬度（°）",
    "no CRS": "无坐标系", "(no unit)": "（无单位）",
    "cannot read {name}: {exc}": "无法读取 {name}：{exc}",
    "map of {what}": "{what}地图",
    "{what} before, after and change": "{what}：变化前、变化后及变化量",
    "difference map: ": "差值图：",
    "Densities per hectare; each map has its own colour scale; grey is nodata.":
        "每公顷密度；每幅地图使用各自的色标；灰色为无数据。",
    "Before and after share one colour scale per row; the difference (after − before, on the "
    "before grid) is red for losses and blue for gains, symmetric about 0; grey is nodata.":
        "每行中变化前与变化后使用同一色标；差值（变化后 − 变化前，在变化前的栅格上）红色表示减少、"
        "蓝色表示增加，以 0 为中心对称；灰色为无数据。",
    # land use
    "the manifest names no land-use raster": "清单中没有土地利用栅格",
    "the land-use raster {path} is not there any more": "土地利用栅格 {path} 已不存在",
    "cannot read the land-use raster {path}: {exc}": "无法读取土地利用栅格 {path}：{exc}",
    # per hectare
    "Value per hectare by land type": "各土地类型的单位面积价值",
    "GEP and each service's value of a land type divided by its area: yuan ha⁻¹ a⁻¹ beside the "
    "totals (from {link}).": "各土地类型的 GEP 及各服务价值除以其面积，单位为元/公顷/年，"
                             "与总量并列（数据来自 {link}）。",
    "GEP per hectare by land type": "各土地类型的单位面积 GEP",
    "GEP of each land type over its area in each scenario (yuan ha⁻¹ a⁻¹), beside the totals.":
        "各情景中各土地类型的 GEP 除以其面积（元/公顷/年），与总量并列。",
    # pixels
    "land-use nodata (outside the account)": "土地利用无数据（不计入核算）",
    "land-use codes the pipeline does not declare": "流程文件未声明的土地利用编码",
    "out of domain: {layer} (value outside its valid range)":
        "超出定义域：{layer}（取值超出有效范围）",
    "water: P − R − ET < 0 clamped to 0 (policy: {policy})":
        "水源涵养：P − R − ET < 0 截断为 0（策略：{policy}）",
    "water: negative P − R − ET kept (policy: {policy})":
        "水源涵养：保留负的 P − R − ET（策略：{policy}）",
    "Counts over the whole grid from the run's single pass (manifest <code>pixel_stats</code> "
    "and <code>water_deficit</code>)": "整个栅格的统计，来自本次运行的单次遍历（清单中的 "
                                       "<code>pixel_stats</code> 与 <code>water_deficit</code>）",
    "; one pixel is {ha} ha.": "；每个像元 {ha} 公顷。", ".": "。",
    "Pixels excluded per service": "各服务剔除的像元",
    "Pixels of a classified land type left out of a service because a layer it needs is nodata "
    "there (from {link}, summed over land types).":
        "已分类土地类型中因所需图层在该处为无数据而未计入某服务的像元（数据来自 {link}，"
        "按土地类型求和）。",
    "Warnings": "警告", "None.": "无。",
    "GEP map and table GEP": "GEP 地图与表格 GEP",
    "No service left out any classified pixel: the GEP map is valid on the whole classified "
    "area{area}, so Σ(GEP map × pixel area) equals the table GEP.":
        "没有任何服务剔除已分类像元：GEP 地图在整个已分类区域{area}内有效，"
        "因此 Σ(GEP 地图 × 像元面积) 等于表格中的 GEP。",
    " ({ha} ha)": "（{ha} 公顷）",
    "Some pixels are excluded from some services, so the GEP map (nodata where any service is) "
    "covers less than the classified area; the GEP map could not be read to measure by how much.":
        "部分像元被某些服务剔除，因此 GEP 地图（任一服务为无数据处即为无数据）"
        "覆盖的面积小于已分类面积；无法读取 GEP 地图以度量差额。",
    "The GEP map is nodata wherever any service is, so it covers {ha} ha of the {lu} ha "
    "classified: <strong>{gap} ha</strong> where some service is nodata. Σ(GEP map × pixel area) "
    "= {total} {money} against the table GEP of {gep} {money} (the table counts each service "
    "wherever that service is valid).":
        "任一服务为无数据处 GEP 地图即为无数据，因此它覆盖已分类的 {lu} 公顷中的 {ha} 公顷："
        "<strong>{gap} 公顷</strong>处有服务为无数据。Σ(GEP 地图 × 像元面积) = {total} {money}，"
        "表格 GEP 为 {gep} {money}（表格在每项服务有效处计入该服务）。",
    # parameters
    "Profiles": "参数集", "Options": "选项", "Inputs": "输入", "Versions: ": "版本：",
    "No profile: every parameter comes from the pipeline.": "无参数集：所有参数均来自流程文件。",
    "Resolved parameters ({n})": "解析后的参数（{n}）",
    "Every parameter the run used, in the unit the method uses; <em>from</em> is the profile or "
    "the pipeline that set it.":
        "本次运行使用的全部参数，单位为方法所用单位；<em>出处</em>为设定该参数的参数集或流程文件。",
    "Given but not used: {names}.": "已给出但未使用：{names}。",
    "Form used: {note}.": "采用的形式：{note}。",
    "constant": "常数", "table": "按土地类型的表", "raster": "栅格",
    # zones
    "Totals per zone, summed over land types; area is the zone's valid land-use pixels "
    "(pixel-centre rule); GEP per ha is GEP over that area, and each service's value per ha "
    "stands beside its total. Every measure per zone and land type: {link}.":
        "各分区的合计（按土地类型求和）；面积为分区内有效土地利用像元的面积（像元中心规则）；"
        "单位面积 GEP 为 GEP 除以该面积，各服务的单位面积价值列于其总量旁。"
        "各分区、各土地类型的全部指标：{link}。",
    "GEP per zone in each scenario (each rasterised on its own grid), summed over land types; "
    "every service and measure: {link}.":
        "各情景中各分区的 GEP（各自在本情景的栅格上栅格化），按土地类型求和；"
        "全部服务与指标：{link}。",
    "the zones": "分区表", "the table": "表格",
    # tables
    "show {what} ({n} rows)": "显示{what}（{n} 行）",
    ", layer {layer}": "，图层 {layer}",
    "(not shown here)": "（此处不显示）",
    "{n} rows": "{n} 行",
    "{file} is missing from this folder.": "本文件夹中缺少 {file}。",
    "{file} is missing.": "缺少 {file}。",
    "The first {k} of {n} rows; the CSV has them all.":
        "仅显示 {n} 行中的前 {k} 行；CSV 文件包含全部数据。",
    "gep by service": "各服务 GEP", "gep by land type": "各土地类型 GEP",
    "services by land type": "各土地类型的服务", "services by zone": "各分区的服务",
    "Change by service and measure": "按服务和指标的变化",
    "Change by land type": "按土地类型的变化",
    "Land-use transition matrix (ha; before in rows, after in columns)":
        "土地利用转移矩阵（公顷；行为变化前，列为变化后）",
    "Extent account (SEEA-EA, ha)": "面积账户（SEEA-EA，公顷）",
    "Change by zone, service and measure": "按分区、服务和指标的变化",
    "In the method's service order, each category's subtotal after its services and GEP last; a "
    "change within 10⁻⁹ of the larger of before and after (rounding noise) is shown as 0. The "
    "CSV holds the numbers as computed.":
        "按方法中的服务顺序排列，各类别小计列于其服务之后，GEP 列于最后；"
        "变化量不超过变化前后较大值的 10⁻⁹（舍入误差）时显示为 0。"
        "CSV 文件保存计算所得的原始数值。",
    # reproduction
    "{n} published figures beside gepgeo's ({link}). Agreement {summary}. {n_nr} figures are "
    "NOT-REPRODUCIBLE: the paper disagrees with itself there; the reason is given on each row.":
        "{n} 个已发表数值与 gepgeo 的结果并列（{link}）。一致程度 {summary}。{n_nr} 个数值为 "
        "NOT-REPRODUCIBLE（不可复现）：论文在这些地方前后不一致；每行给出原因。",
    "Verdicts by tier": "按误差等级的结论", "All figures": "全部数值",
    "GEP under the two Jinsha profiles": "两个金沙参数集下的 GEP",
    "{unit}. <em>jinsha-as-published</em> holds the values that reproduce the paper's Table 4; "
    "<em>jinsha-as-stated</em> the values the paper prints (N and P contents, air rates).":
        "{unit}。<em>jinsha-as-published</em> 包含能复现论文表 4 的参数值；"
        "<em>jinsha-as-stated</em> 为论文中印出的参数值（氮、磷含量，空气净化速率）。",
    # time series (gepgeo series)
    "gepgeo series: {a}–{b}": "gepgeo 时间序列：{a}–{b}",
    "GEP series: {a}–{b}": "GEP 时间序列：{a}–{b}",
    "{n} years · price basis: {basis} · gepgeo {v}": "{n} 个年份 · 价格基准：{basis} · gepgeo {v}",
    "deflator: {name}": "价格平减指数：{name}",
    "GEP by year": "逐年 GEP", "Decomposition": "变化分解",
    "GEP {year}, {unit}": "{year} 年 GEP，{unit}",
    "GEP {year} at {basis}, {unit}": "{year} 年 GEP（{basis}），{unit}",
    "Years: {years}. Each year is its own run on its own grid; the change maps are on the first "
    "year's grid.": "年份：{years}。每年单独运行于其自身网格；变化图位于第一年的网格上。",
    "Reports of each year:": "各年份报告：",
    "GEP by year, stacked by service": "逐年 GEP（按服务堆叠）",
    "GEP by year, current prices": "逐年 GEP，现价",
    "GEP by year, at {year} prices": "逐年 GEP，{year} 年不变价",
    "GEP by year, service and measure": "逐年 GEP（按服务与指标）",
    "Land use by year": "逐年土地利用",
    "Land-use shares by year": "逐年土地利用构成", "land-use shares by year": "逐年土地利用构成",
    "share of the valid area (%)": "占有效面积比例（%）",
    "Change of GEP, first to last year": "GEP 变化（首年至末年）",
    "{a} and {b} on one colour scale, and the difference ({b} − {a}, on the {a} grid): red for "
    "losses, blue for gains, symmetric about 0; grey is nodata.":
        "{a} 年与 {b} 年使用同一色标，以及差值（{b} − {a}，位于 {a} 年网格）："
        "红色为减少，蓝色为增加，以 0 为中心对称；灰色为无数据。",
    "GEP first and last year and change": "首年与末年 GEP 及其变化",
    "No change map.": "无变化图。",
    "Change split into quantity and price effects": "变化分解为数量效应与价格效应",
    "Change of GEP: quantity and price effects": "GEP 变化：数量效应与价格效应",
    "change of GEP: quantity and price effects": "GEP 变化：数量效应与价格效应",
    "quantity effect": "数量效应", "price effect": "价格效应", "change": "变化",
    "Land-use transition matrix {a} → {b} (ha)": "土地利用转移矩阵 {a} → {b}（公顷）",
    "Extent account {a} → {b} (SEEA-EA, ha)": "面积账户 {a} → {b}（SEEA-EA，公顷）",
    "The change of each service's value split into a quantity effect (the change at constant "
    "prices) and a price effect (the change of the price level of its prices, by the deflator): "
    "{formula}. The price effect holds no change of real unit prices between the years' "
    "profiles.":
        "各服务价值的变化分解为数量效应（不变价下的变化）与价格效应（按平减指数计的价格水平变化）："
        "{formula}。各年参数集之间实际单价的变化不计入价格效应。",
}

# --- the uncertainty of a run or a comparison (gepgeo/report/intervals.py) ---------------------
ZH.update({
    "Uncertainty": "不确定性",
    "{lo} to {hi}": "{lo} 至 {hi}",
    "{k} of {n}": "{k} / {n} 次",
    "GEP 90 % interval (5–95 %), {unit}": "GEP 90 % 区间（5–95 %），{unit}",
    "Uncertainty: GEP's 90 % interval (5th to 95th percentile of the draws) is "
    "<strong>{i90}</strong> and its 95 % interval (2.5th to 97.5th) <strong>{i95}</strong> "
    "{money}; median {median}, mean {mean}. From {n} draws ({method} sampling, seed {seed}) of "
    "{k} uncertain parameters on the run's tables; {f} parameters are fixed ({link}).":
        "不确定性：GEP 的 90 % 区间（抽样结果的第 5 至第 95 百分位数）为 <strong>{i90}</strong>，"
        "95 % 区间（第 2.5 至第 97.5 百分位数）为 <strong>{i95}</strong> {money}；中位数 {median}，"
        "均值 {mean}。基于本次运行的汇总表，对 {k} 个不确定参数抽样 {n} 次（{method}抽样，种子 "
        "{seed}）；另有 {f} 个参数固定（{link}）。",
    "see Uncertainty": "见“不确定性”",
    "the change of GEP": "GEP 变化量",
    "the drawn parameters in each scenario's report": "各情景报告中的抽样参数",
    "the drawn parameters under Uncertainty": "“不确定性”一节中的抽样参数",
    "The point estimate of {what} ({point}) lies below its {level} % interval: the run's own "
    "parameter values give a lower value than {share} % of the draws, because the ranges drawn "
    "are not centred on those values but reach mostly above them ({see}).":
        "{what}的点估计（{point}）低于其 {level} % 区间：按本次运行自身的参数取值算得的结果低于 "
        "{share} % 的抽样结果，因为抽样范围并不以这些取值为中心，而是主要位于其上方（{see}）。",
    "The point estimate of {what} ({point}) lies above its {level} % interval: the run's own "
    "parameter values give a higher value than {share} % of the draws, because the ranges drawn "
    "are not centred on those values but reach mostly below them ({see}).":
        "{what}的点估计（{point}）高于其 {level} % 区间：按本次运行自身的参数取值算得的结果高于 "
        "{share} % 的抽样结果，因为抽样范围并不以这些取值为中心，而是主要位于其下方（{see}）。",
    "scrambled Sobol'": "扰乱 Sobol' 序列", "Latin hypercube": "拉丁超立方", "random": "随机",
    "multiplier": "乘数", "canonical": "标准单位",
    "Drawn from one sample with the other scenario of its comparison (common random numbers): "
    "see {link}.": "与对比中的另一情景使用同一样本抽样（公共随机数）：见{link}。",
    "uniform": "均匀分布", "triangular": "三角分布", "normal": "正态分布",
    "lognormal": "对数正态分布",
    "Error bars: the 5–95 % interval of each service's value over the draws; the labels give "
    "the point value and [5 %–95 %] ({link}).":
        "误差线：各服务价值在抽样中的 5–95 % 区间；标注为点估计及 [5 %–95 %]（{link}）。",
    "Error bars: the 5–95 % interval of each service's change over the draws, both scenarios "
    "drawn from one sample ({link}).":
        "误差线：各服务价值变化量在抽样中的 5–95 % 区间，两情景使用同一样本抽样（{link}）。",
    "Error bars: the 5–95 % interval of each land type's value over the draws, beside its "
    "segment and measured from the segment's base ({link}).":
        "误差线：各土地类型价值在抽样中的 5–95 % 区间，画在其色块旁，自色块底部起算（{link}）。",
    "Every drawn parameter's value is taken from its range in each draw, and the draw's totals "
    "follow exactly from the run's sums by table arithmetic (docs/METHOD.md § 10). Intervals of "
    "every value: {svc}, {lt}.":
        "每次抽样从各抽样参数的范围中取值，该次抽样的总量由本次运行的汇总量通过表格运算精确得出"
        "（docs/METHOD.md 第 10 节）。各项价值的区间：{svc}、{lt}。",
    "First-order index: the share of GEP's variance due to the parameter alone; total index: "
    "with its interactions with the others (estimates on the table model, so values a little "
    "outside 0–1 are sampling noise). {k} of {n} parameters, largest total index first; every "
    "output in {link}.":
        "一阶指数：仅由该参数引起的 GEP 方差占比；总效应指数：含其与其他参数的交互作用（基于表格"
        "模型的估计值，略超出 0–1 的数值为抽样误差）。显示 {n} 个参数中的 {k} 个，按总效应指数从大"
        "到小排列；所有输出见 {link}。",
    "Sobol indices of GEP": "GEP 的 Sobol 指数",
    "No Sobol indices: the run was drawn with options.uncertainty.sensitivity off.":
        "无 Sobol 指数：本次运行抽样时关闭了 options.uncertainty.sensitivity。",
    "No parameter carries a range: every value is fixed, and each interval is its point value.":
        "没有参数带有范围：所有取值均固定，各区间即为点估计。",
    "Fixed parameters ({n})": "固定参数（{n}）",
    "Not drawn, with the reason ({link}):": "未抽样的参数及原因（{link}）：",
    "no range given": "未给出范围",
    "a raster layer: error fields on rasters are not drawn": "栅格图层：不对栅格的误差场抽样",
    "Drawn parameters ({n})": "抽样参数（{n}）",
    "Bounds and mode in the scale given (a multiplier of the value, or its unit); the source of "
    "each range.": "上下限与众数按给定尺度（取值的乘数，或其单位）；并列出各范围的来源。",
    # charts
    "total index": "总效应指数", "first-order index": "一阶指数",
    "Sobol index of GEP (share of its variance)": "GEP 的 Sobol 指数（方差占比）",
    "What drives the uncertainty of GEP": "GEP 不确定性的来源",
    # a comparison
    "change, 90 % interval (5–95 %), {unit}": "变化量 90 % 区间（5–95 %），{unit}",
    "P(GEP rose)": "GEP 上升的概率",
    "With the uncertain parameters drawn {n} times, both scenarios from one sample (common "
    "random numbers: a parameter they share takes the same value in a draw), the change's 90 % "
    "interval (5th to 95th percentile) is <strong>{i90}</strong> and its 95 % interval (2.5th to "
    "97.5th) <strong>{i95}</strong> {money}. <strong>P(GEP rose) = {p}</strong>: GEP rose in {k} "
    "draws ({link}).":
        "不确定参数抽样 {n} 次，两个情景使用同一样本（公共随机数：两者共有的参数在同一次抽样中取"
        "相同值），变化量的 90 % 区间（第 5 至第 95 百分位数）为 <strong>{i90}</strong>，95 % 区间"
        "（第 2.5 至第 97.5 百分位数）为 <strong>{i95}</strong> {money}。<strong>GEP 上升的概率 = "
        "{p}</strong>：GEP 上升的抽样为 {k}（{link}）。",
    # table titles
    "uncertainty by service": "各服务价值的不确定性", "uncertainty by land type":
        "各土地类型价值的不确定性", "uncertainty by zone": "各分区价值的不确定性",
    "uncertainty parameters": "不确定性参数", "sensitivity": "敏感性（Sobol 指数）",
    "Change with its interval over the draws (common random numbers) and P(rose)":
        "变化量及其抽样区间（公共随机数）与上升概率",
})
