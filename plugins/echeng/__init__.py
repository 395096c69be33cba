"""鄂州市鄂城区：中小学教师继续教育学时登记（鄂城教师发〔2023〕19号）。

学校依《教师专业发展报告册》代为登记，中心学校审核，区教育局检查组验印。All rules are data;
the summary sheet's columns follow the notice's 附件2《中小学教师继续教育学时汇总表》.
"""

from pathlib import Path

from jijiao import DeclarativePlugin, SummaryColumn, hookimpl


class Echeng(DeclarativePlugin):
    @hookimpl
    def jijiao_summary_columns(self):
        # 附件2：序号、学校、证书编号、姓名、任教学科、集中培训学时、非集中培训学时、是否合格
        for header, source, fmt, width in (
                ("序号", "seq", "number", 6), ("学校", "school", "text", 22),
                ("证书编号", "cert_number", "text", 18), ("姓名", "name", "text", 10),
                ("任教学科", "subject", "text", 10), ("集中培训学时", "category:jizhong", "number", 12),
                ("非集中培训学时", "category:feijizhong", "number", 12), ("是否合格", "passed", "yesno", 10)):
            yield SummaryColumn("echeng", header, source, fmt, width)


plugin = Echeng(Path(__file__).parent, "echeng")
