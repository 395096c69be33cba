"""广州市：中小学教师继续教育学时验证（穗教发〔2017〕80号；2019年度验证通知）。

All of 广州's rules are data: see the YAML files beside this module.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "guangzhou")
