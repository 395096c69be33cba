"""济宁市某镇：中小学教师继续教育学分登记（依鲁教师发〔2025〕3号、济教字〔2025〕61号）。

教师申请—学校计算—管理员登记—教育行政部门认定。All rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "jining")
