"""Text of the report's numbers, money, units and names.

Everything here returns plain text (escaped where it is put into the page): table cells
(:func:`fmt_number`), money in 10⁴ yuan (:func:`money`, :data:`MONEY_UNIT`), units with
superscript powers (:func:`pretty_unit`, :func:`unit_text`), map and column names in the report's
language (:func:`name_label`, :func:`column_label`), and the price year (:func:`price_year_text`).

Notes
-----
The language is the one in force (:func:`gepgeo.i18n.lang`): in Chinese, names and units go
through :func:`gepgeo.i18n.label` and :func:`gepgeo.i18n.unit_zh`; the CSV files keep English.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..i18n import label, lang, t, unit_zh

__all__ = [
    "COLUMNS_ZH",
    "LABEL_COLUMNS",
    "MONEY_LABEL",
    "MONEY_UNIT",
    "column_label",
    "fmt_number",
    "fmt_sig",
    "isnan",
    "money",
    "money_label",
    "name_label",
    "per_ha_column",
    "pretty_unit",
    "price_year_text",
    "slug",
    "unit_text",
]

#: Money in charts and headlines: 10⁴ yuan (the unit of the Chinese GEP literature).
MONEY_UNIT = 1.0e4
MONEY_LABEL = "10⁴ yuan a⁻¹"


def isnan(x: Any) -> bool:
    """``x`` is None or a float NaN (an empty cell)."""
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x))


def fmt_number(x: Any) -> str:
    """A table cell: thousands separators, 2 decimals from 1 up, 4 significant digits below.

    Integers (and integral floats) print without decimals; NaN prints empty; other values as
    text.
    """
    if isnan(x):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v == 0:
            return "0"
        if v.is_integer() and abs(v) < 1e15:
            return f"{v:,.0f}"
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
    return str(x)


def fmt_sig(x: Any, sig: int = 6) -> str:
    """``x`` with ``sig`` significant digits, thousands separators, no exponent."""
    if isnan(x):
        return ""
    v = float(x)
    if v == 0 or not math.isfinite(v):
        return fmt_number(v)
    decimals = min(8, max(0, sig - 1 - int(math.floor(math.log10(abs(v))))))
    return f"{v:,.{decimals}f}"


def money_label() -> str:
    """The unit of money in charts and headlines: ``10⁴ yuan a⁻¹`` or ``万元/年``."""
    return t(MONEY_LABEL)


def unit_text(unit: str) -> str:
    """A unit as the report prints it: :func:`pretty_unit`, in Chinese when the report is."""
    pretty = pretty_unit(unit)
    return unit_zh(pretty) if lang() == "zh" else pretty


def money(yuan: float) -> str:
    """Yuan as 10⁴ yuan, 2 decimals."""
    return f"{yuan / MONEY_UNIT:,.2f}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_UNIT_POWER = re.compile(r"^(mm|cm|km|m|ha|a|d|h|s|t|g|kg|MJ|kJ|kWh|yr)(-?\d+)$")
_TEN_POWER = re.compile(r"^1e(\d+)$")


def pretty_unit(unit: str) -> str:
    """``yuan ha-1 a-1`` → ``yuan ha⁻¹ a⁻¹``; ``m3`` → ``m³``; ``1e4`` → ``10⁴``.

    Only powers of known unit symbols are raised, so ``CO2`` stays ``CO2``.
    """
    out = []
    for tok in str(unit).split(" "):
        if m := _UNIT_POWER.match(tok):
            tok = m.group(1) + m.group(2).translate(_SUPERSCRIPT)
        elif m := _TEN_POWER.match(tok):
            tok = "10" + m.group(1).translate(_SUPERSCRIPT)
        out.append(tok)
    return " ".join(out)


def slug(text: str) -> str:
    """``tables/gep_by_service.csv`` → ``tables-gep-by-service-csv`` (an element id)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def name_label(name: str) -> str:
    """``soil_value`` → ``soil value``; ``gep`` → ``GEP`` (in Chinese: ``土壤保持价值``)."""
    if lang() == "zh":
        return label(name)
    if name == "gep":
        return "GEP"
    return name.replace("_", " ").replace("gep", "GEP")


def price_year_text(counts: Sequence[tuple[str, int]]) -> str:
    """``2010``; ``2010 for 8 prices; unknown for 3`` when the prices do not share one year
    (``counts`` from :func:`gepgeo.report.tables.price_year_counts`)."""
    if len(counts) == 1:
        return t("unknown") if counts[0][0] == "unknown" else counts[0][0]
    return t("; ").join(t("{year} for {n} prices", year=t("unknown") if y == "unknown" else y,
                          n=n) for y, n in counts)


# --- table columns ---------------------------------------------------------------------------

#: Columns whose cells are names to translate (services, land types, categories, measures).
LABEL_COLUMNS = ("service", "category", "measure", "land_type", "land type", "before \\ after")


def column_label(col: Any) -> str:
    """A table column's header in the report's language (the CSV keeps the English name)."""
    text = str(col)
    if lang() != "zh":
        return text
    if text in COLUMNS_ZH:
        return COLUMNS_ZH[text]
    for suffix, zh in (("_value_yuan_a-1", "价值（元/年）"), ("_value", "价值")):
        if text.endswith(suffix) and label(text[: -len(suffix)]) != text[: -len(suffix)]:
            return label(text[: -len(suffix)]) + zh
    return label(text, land_type=True)


def per_ha_column(col: str) -> str:
    """Header of a ``<service>_value_per_ha_yuan_ha-1_a-1`` column."""
    svc = col.removesuffix("_value_per_ha_yuan_ha-1_a-1")
    if lang() == "zh":
        return f"{label(svc)}（元/公顷/年）"
    return f"{label(svc)} per ha (yuan ha⁻¹ a⁻¹)"


#: Column headers of the tables shown in the report, in Chinese.
COLUMNS_ZH = {
    "service": "服务", "category": "类别", "measure": "指标", "unit": "单位", "amount": "数量",
    "land_type": "土地类型", "land type": "土地类型", "codes": "编码", "pixels": "像元数",
    "area_ha": "面积（公顷）", "share_pct": "占比（%）", "gep": "GEP（元/年）",
    "share_of_gep_pct": "占 GEP 比例（%）", "rank": "排序", "before": "变化前", "after": "变化后",
    "change": "变化量", "change_pct": "变化率（%）", "area_ha_before": "变化前面积（公顷）",
    "area_ha_after": "变化后面积（公顷）", "zone_layer": "分区图层", "zone_id": "分区编号",
    "gep_yuan_a-1": "GEP（元/年）", "gep_per_ha_yuan_ha-1_a-1": "单位面积 GEP（元/公顷/年）",
    "gep_before_yuan_a-1": "变化前 GEP（元/年）", "gep_after_yuan_a-1": "变化后 GEP（元/年）",
    "change_yuan_a-1": "变化量（元/年）",
    "gep_per_ha_before_yuan_ha-1_a-1": "变化前单位面积 GEP（元/公顷/年）",
    "gep_per_ha_after_yuan_ha-1_a-1": "变化后单位面积 GEP（元/公顷/年）",
    "rasterised_area_ha": "栅格化面积（公顷）", "count": "统计项", "key": "键", "ha": "公顷",
    "excluded_pixels": "剔除像元数", "excluded_ha": "剔除面积（公顷）",
    "parameter": "参数", "kind": "类型", "value / path": "取值 / 路径", "source": "来源",
    "from": "出处", "ref": "文献", "price year": "价格年份", "note": "说明", "name": "名称",
    "path": "路径", "price_year": "价格年份", "scope": "适用范围", "extent": "范围",
    "scenarios": "情景", "option": "选项", "value": "取值", "input": "输入", "bytes": "字节",
    "sha256": "sha256", "verdict": "结论", "tier": "误差等级", "id": "编号",
    "description": "描述", "paper": "论文", "gepgeo": "gepgeo", "rel_diff": "相对差异",
    "reason": "原因", "scenario": "情景", "before \\ after": "变化前 \\ 变化后",
    "jinsha-as-published (this run)": "jinsha-as-published（本次运行）",
    "paper, Table 4": "论文表 4", "area_before_ha": "变化前面积（公顷）",
    "area_after_ha": "变化后面积（公顷）", "gep_per_ha": "单位面积 GEP（元/公顷/年）",
    "value_yuan_a-1": "价值（元/年）", "value_per_ha_yuan_ha-1_a-1": "单位面积价值（元/公顷/年）",
    "area_ha_total": "面积（公顷）", "opening_ha": "期初（公顷）", "closing_ha": "期末（公顷）",
    "additions_ha": "增加（公顷）", "reductions_ha": "减少（公顷）",
    "net_change_ha": "净变化（公顷）",
    # a time series (gepgeo series)
    "year": "年份", "from_year": "起始年份", "to_year": "终止年份",
    "deflator_factor": "平减系数", "constant_amount": "不变价数量",
    "value_from": "起始价值（元/年）", "value_to": "终止价值（元/年）",
    "quantity_effect": "数量效应（元/年）", "price_effect": "价格效应（元/年）",
    "price_index_from": "起始价格指数", "price_index_to": "终止价格指数",
}

# the uncertainty tables (gepgeo.uncertainty): quantiles over the draws, Sobol' indices, ranges
COLUMNS_ZH.update({
    "point": "点估计", "mean": "均值", "sd": "标准差", "p2.5": "2.5 % 分位数",
    "p5": "5 % 分位数", "median": "中位数", "p95": "95 % 分位数", "p97.5": "97.5 % 分位数",
    "p_rose": "上升概率", "zone": "分区", "output": "输出", "first_order": "一阶 Sobol 指数",
    "total_order": "总效应 Sobol 指数", "drawn": "是否抽样", "sample_column": "样本列",
    "dist": "分布", "scale": "尺度", "low": "下限", "high": "上限", "mode": "众数",
})
