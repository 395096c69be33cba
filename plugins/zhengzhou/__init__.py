"""郑州市：中小学幼儿园教师继续教育学时登记（郑教明电〔2017〕139号）。

教师个人五年周期（自上一周期证书发证日起）；"谁设计、谁登记"。All rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "zhengzhou")
