"""A jurisdiction plugin made of YAML: subclass (or instantiate) ``DeclarativePlugin`` with the
folder that holds ``jurisdiction.yaml``, ``catalogue.yaml``, ``parameters.yaml`` and
``review.yaml``; add ``@hookimpl`` methods only for what data cannot say (a custom calculator).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from .hookspecs import hookimpl
from .plugin_data import PluginData, load_plugin_folder


class DeclarativePlugin:
    """Implements the data hooks from the YAML files in ``folder`` (loaded on first use, so a
    broken file makes this plugin fail to load, not the whole platform)."""

    def __init__(self, folder: str | Path, name: str | None = None):
        self.folder = Path(folder)
        self.name = name or self.folder.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.folder}>"

    @cached_property
    def data(self) -> PluginData:
        return load_plugin_folder(self.folder, self.name)

    @hookimpl
    def jijiao_jurisdictions(self):
        return [self.data.jurisdiction]

    @hookimpl
    def jijiao_catalogue(self):
        return list(self.data.items)

    @hookimpl
    def jijiao_parameters(self):
        return list(self.data.parameters)

    @hookimpl
    def jijiao_review_levels(self):
        return list(self.data.review_levels)

    @hookimpl
    def jijiao_stage_windows(self):
        return list(self.data.stage_windows)

    @hookimpl
    def jijiao_rule_cases(self):
        return list(self.data.case_sources)
