"""Checking the whole audit chain from the audit log page (auditor and platform admin).

``core.audit.verify`` walks the whole chain, whatever the actor's scope (a chain is whole or it is
not), and reads the signed checkpoints: it needs ``skip_scope``, so it runs in a service session
(``Services.transaction``). Only the roles that see the audit log may run it. The auditor writes
nothing, so for the auditor the check only reads; for a platform admin a whole chain whose head is
not yet signed is anchored with a new checkpoint (with ``JIJIAO_AUDIT_KEY``), as the command line
``jijiao audit verify`` does. Attach where used: ``AuditCheckService(services())``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..audit import audit_key, verify
from ..errors import InputError

VERIFY_ROLES = ("auditor", "platform_admin", "system")


@dataclass
class ChainCheck:
    """What ``verify`` reported, for a page: ``keyed`` says whether a key was configured (without
    one, a chain rewritten whole cannot be detected)."""

    records: int = 0
    problems: list[str] = field(default_factory=list)
    checkpoints: int = 0
    anchored: bool = False
    keyed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditCheckService:
    def __init__(self, services):
        self.s = services

    def verify(self) -> ChainCheck:
        actor = self.s.actor
        if actor.role not in VERIFY_ROLES:
            raise InputError("只有审计员或平台管理员可以校验审计链")
        with self.s.transaction() as session:
            report = verify(session, write_checkpoint=not actor.read_only, adopt=False)
        return ChainCheck(records=report.records, problems=list(report.problems), checkpoints=report.checkpoints,
                          anchored=report.anchored, keyed=audit_key() is not None)
