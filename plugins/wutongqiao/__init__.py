"""乐山市五通桥区：中小学教师继续教育学时登记（五教发中心〔2022〕1号）。

Everything is data except 学习强国, whose quarters-and-total rule data cannot say.
"""

from decimal import Decimal
from pathlib import Path

from jijiao import Calculator, DeclarativePlugin, SummaryColumn, hookimpl


def xuexiqiangguo(inputs, params, context) -> Decimal:
    """除去成长总积分基数后，每季度不低于 quarter_min 分记 quarter_hours 学时，最高 max_hours；
    成长总积分达到 total_for_max 分以上者记 max_hours。"""
    rule = params["xuexiqiangguo"]
    reading = params.get("xuexiqiangguo_total_reading", "full")  # see jurisdiction.yaml readings
    if reading not in ("full", "ceiling"):
        raise ValueError(f"xuexiqiangguo_total_reading 应为 full 或 ceiling，而不是 {reading!r}")
    if reading == "full" and inputs.get("total_points") is not None and inputs["total_points"] >= rule["total_for_max"]:
        return Decimal(rule["max_hours"])
    quarters = sum(1 for points in inputs["quarter_points"] if points >= rule["quarter_min"])
    return min(Decimal(rule["quarter_hours"]) * quarters, Decimal(rule["max_hours"]))


class Wutongqiao(DeclarativePlugin):
    @hookimpl
    def jijiao_calculators(self):
        yield Calculator("wutongqiao.xuexiqiangguo", xuexiqiangguo, "学习强国季度积分折算学时")

    @hookimpl
    def jijiao_summary_columns(self):
        # 附件2《乐山市教师继续教育学时汇总表》：规范性培训学时、总学时与等次（合格/不合格）
        for header, source, fmt, width in (
                ("序号", "seq", "number", 6), ("学校", "school", "text", 22), ("姓名", "name", "text", 10),
                ("身份证号", "id_number", "text", 22), ("任教学科", "subject", "text", 10),
                ("规范性培训学时", "category:guifan", "number", 14), ("其他学时", "category:qita", "number", 10),
                ("总学时", "total", "number", 10), ("等次", "passed", "grade", 10)):
            yield SummaryColumn("wutongqiao", header, source, fmt, width)


plugin = Wutongqiao(Path(__file__).parent, "wutongqiao")
