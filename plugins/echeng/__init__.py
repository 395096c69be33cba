"""鄂州市鄂城区：中小学教师继续教育学时登记（鄂城教师发〔2023〕19号）。

学校依《教师专业发展报告册》代为登记，中心学校审核，区教育局检查组验印。All rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "echeng")
