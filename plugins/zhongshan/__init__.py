"""中山市：中小学教师继续教育学分（学时）登记（中山市中小学教师继续教育学分管理办法）。

镇区培训、校本培训由培训基地和学校登记，个人申报经学校、市中心审核，缴费后认定，
登记表带防伪码。All rules are data.
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "zhongshan")
