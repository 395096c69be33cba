"""广州市：中小学教师继续教育学时验证（穗教发〔2017〕80号；2019年度验证通知）。

All of 广州's rules are data: see the YAML files beside this module. The summary sheet shows
公需科目、专业科目、总学时 and the 专业科目 hours carried over into the next year.
"""

from pathlib import Path

from jijiao import DeclarativePlugin, SummaryColumn, hookimpl


class Guangzhou(DeclarativePlugin):
    @hookimpl
    def jijiao_summary_columns(self):
        for header, source, fmt, width in (
                ("序号", "seq", "number", 6), ("学校（单位）", "school", "text", 22),
                ("姓名", "name", "text", 10), ("身份证号", "id_number", "text", 22),
                ("任教学科", "subject", "text", 10), ("公需科目学时", "category:gongxu", "number", 12),
                ("专业科目学时", "category:zhuanye", "number", 12), ("总学时", "total", "number", 10),
                ("结转下一年度专业科目学时", "carry_over:zhuanye", "number", 16),
                ("验证是否合格", "passed", "yesno", 12)):
            yield SummaryColumn("guangzhou", header, source, fmt, width)


plugin = Guangzhou(Path(__file__).parent, "guangzhou")
