"""冷水江市：中小学教师继续教育学分登记实施细则（试行）与校本培训学分折算办法。

个人研修、集体培训、奖励学分，特殊安排与免修；五年一周期360学分，每年不低于40学分。
All rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "lengshuijiang")
