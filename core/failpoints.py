"""Failpoints: the crash tests kill the process at a named point (``JIJIAO_FAILPOINT=name``) to
prove that an interrupted operation leaves nothing half-applied. Off unless the variable is set."""

from __future__ import annotations

import os

ENV = "JIJIAO_FAILPOINT"


def hit(name: str) -> None:
    if os.environ.get(ENV) == name:
        os._exit(137)  # like SIGKILL: no cleanup, no rollback handlers, no flush
