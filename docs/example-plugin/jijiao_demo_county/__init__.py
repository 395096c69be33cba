"""示例县（虚构）：第三方地区插件示例，规则全部写在本目录的 YAML 文件中。

Registered under the entry-point group ``jijiao.plugins`` as ``demo_county`` (see pyproject.toml).
"""

from pathlib import Path

from jijiao import DeclarativePlugin


plugin = DeclarativePlugin(Path(__file__).parent, "demo_county")
