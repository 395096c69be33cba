"""海南省：中小学教师继续教育学分登记管理办法（2025年1月1日起实施）。

Every claim carries credits and hours; all rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "hainan")
