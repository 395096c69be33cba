"""The audit trail: one record per state change, hash-chained.

Each record's hash is ``sha256(prev_hash + canonical(record))`` and records are numbered without
gaps (``seq``); the chain's last link is kept in ``audit_head``, whose row every writer locks, so
concurrent writers never fork the chain. ``verify`` detects an edited, deleted or inserted row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .db.models import AuditHead, AuditRecord

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor_id", "actor_name", "role", "node_id", "entity_type", "entity_id", "trigger",
          "from_state", "to_state", "reason", "request_id", "detail", "scope_path")


def _at(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str).encode


def canonical(row: dict) -> str:
    """The row's fields in FIELDS order as a compact JSON array (``at`` as naive UTC ISO text)."""
    return _dumps([_at(row["at"]) if k == "at" else row.get(k) for k in FIELDS])


def link(prev_hash: str, row: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def append(session: Session, entries: list[dict]) -> int:
    """Chain and insert ``entries`` (dicts of AuditRecord fields without seq/hashes) in order, in
    the caller's transaction. Returns the last seq."""
    if not entries:
        return 0
    from .services.bulkload import bulk_insert
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
                           .with_for_update().execution_options(skip_scope=True)).one()
    seq, prev = head.seq, head.hash
    rows = []
    for entry in entries:
        seq += 1
        row = dict(entry)
        row["seq"] = seq
        row["at"] = row["at"].astimezone(timezone.utc) if row["at"].tzinfo else row["at"].replace(tzinfo=timezone.utc)
        row["prev_hash"] = prev
        row["hash"] = prev = link(prev, row)
        rows.append(row)
    if len(rows) > 100:
        bulk_insert(session, AuditRecord, rows, ["seq", *[f for f in FIELDS if f != "seq"], "prev_hash", "hash"])
    else:
        session.execute(insert(AuditRecord), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev)
                    .execution_options(skip_scope=True))
    return seq


@dataclass
class Verification:
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, *, batch: int = 10_000) -> Verification:
    """Walk the whole chain in order; report every broken link in Chinese."""
    report = Verification()
    expected_seq, prev = 1, GENESIS
    last_id = 0
    columns = [getattr(AuditRecord, f) for f in FIELDS] + [AuditRecord.prev_hash, AuditRecord.hash, AuditRecord.id]
    while True:
        rows = session.execute(select(*columns).where(AuditRecord.seq >= expected_seq)
                               .order_by(AuditRecord.seq).limit(batch)
                               .execution_options(skip_scope=True)).mappings().all()
        if not rows:
            break
        for row in rows:
            row = dict(row)
            if row["seq"] != expected_seq:
                report.problems.append(f"第{expected_seq}号记录缺失（下一条为第{row['seq']}号）：记录被删除")
                expected_seq = row["seq"]
            if row["prev_hash"] != prev:
                report.problems.append(f"第{row['seq']}号记录的前一链接不符：此前的记录被删除或插入")
            if link(row["prev_hash"], row) != row["hash"]:
                report.problems.append(f"第{row['seq']}号记录的内容与其哈希不符：记录被修改")
            prev = row["hash"]
            expected_seq += 1
            report.records += 1
            last_id = row["id"]
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
                           .execution_options(skip_scope=True)).one_or_none()
    if head is None:
        report.problems.append("审计链头缺失")
    elif head.seq != expected_seq - 1 or head.hash != prev:
        report.problems.append(f"审计链头（第{head.seq}号）与最后一条记录（第{expected_seq - 1}号）不符：末尾记录被删除或追加")
    del last_id
    return report
