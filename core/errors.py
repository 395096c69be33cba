"""Errors raised where bad input is detected, with messages a Chinese school admin can act on.

They are caught once, at the edge (the command line, later the web views and jobs).
"""

from __future__ import annotations


class JijiaoError(Exception):
    """Base of every error the platform reports to a person instead of a traceback."""


class InputError(JijiaoError):
    """A case, claim or field that cannot be assessed as given."""

    def __init__(self, message: str, *, case: str | None = None, claim: int | None = None,
                 field: str | None = None, item: str | None = None):
        self.message = message
        self.case = case
        self.claim = claim
        self.field = field
        self.item = item
        super().__init__(self.describe())

    def located(self, *, case: str | None = None, claim: int | None = None) -> "InputError":
        """The same error with the case name and claim position filled in (where not yet known)."""
        return InputError(self.message, case=self.case or case,
                          claim=self.claim if self.claim is not None else claim,
                          field=self.field, item=self.item)

    def describe(self) -> str:
        where = []
        if self.case:
            where.append(f"案例「{self.case}」")
        if self.claim is not None:
            label = f"第{self.claim + 1}条记录"
            if self.item:
                label += f"（{self.item}）"
            where.append(label)
        elif self.item:
            where.append(f"项目 {self.item}")
        if self.field:
            where.append(f"字段 {self.field}")
        prefix = "，".join(where)
        text = f"{prefix}：{self.message}" if prefix else self.message
        return " ".join(text.split())  # one line, whatever the input held


class PluginDataError(JijiaoError):
    """A plugin data file that cannot be loaded: names the file, the line and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.describe())

    def describe(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


class PluginConflictError(JijiaoError):
    """Two plugins claim the same jurisdiction or catalogue item code."""


class UnknownJurisdictionError(InputError):
    """A jurisdiction code no installed plugin provides."""
