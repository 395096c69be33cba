"""The audit trail: one record per state change, hash-chained.

Each record's hash is ``sha256(prev_hash + canonical(record))`` and records are numbered without
gaps (``seq``); the chain's last link is kept in ``audit_head``, whose row every writer locks, so
concurrent writers never fork the chain. ``verify`` detects an edited, deleted or inserted row.

Someone who can write the database can also rewrite the chain whole (recompute every later hash
and the head). Against that, the head is anchored: with a key kept outside the database
(``JIJIAO_AUDIT_KEY``), every append also writes a checkpoint ``mac = HMAC-SHA256(key,
"seq:hash")`` of the new head, and ``verify`` checks every checkpoint against the chain and the
head against the last checkpoint. Without the key, a rewritten chain is not detected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .db.models import AuditCheckpoint, AuditHead, AuditRecord

GENESIS = "0" * 64
KEY_ENV = "JIJIAO_AUDIT_KEY"
KEY_ID_ENV = "JIJIAO_AUDIT_KEY_ID"
ADOPT_ENV = "JIJIAO_AUDIT_ADOPT"


def audit_key() -> tuple[str, bytes] | None:
    """(key id, key) from the environment, or None when no key is configured."""
    key = os.environ.get(KEY_ENV)
    if not key:
        return None
    key_id = os.environ.get(KEY_ID_ENV) or hashlib.sha256(key.encode()).hexdigest()[:8]
    return key_id[:32], key.encode()


def sign(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


def checkpoint(session: Session, seq: int, hash_: str, *, key=None, at: datetime | None = None) -> bool:
    """Anchor ``seq:hash`` with the configured key (nothing without one). Returns whether written."""
    key = key or audit_key()
    if key is None:
        return False
    key_id, secret = key
    session.execute(insert(AuditCheckpoint).values(seq=seq, hash=hash_, key_id=key_id, mac=sign(secret, seq, hash_),
                                                   at=at or datetime.now(timezone.utc)))
    return True
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
    checkpoint(session, seq, prev, at=rows[-1]["at"])
    return seq


@dataclass
class Verification:
    records: int = 0
    problems: list[str] = field(default_factory=list)
    checkpoints: int = 0  # signed checkpoints checked with the key
    anchored: bool = False  # a key was configured and the head is signed

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, *, batch: int = 10_000, key=None, write_checkpoint: bool = True,
           adopt: bool | None = None) -> Verification:
    """Walk the whole chain in order; report every broken link in Chinese. With the key
    (``JIJIAO_AUDIT_KEY``), also check every signed checkpoint against the chain and the head
    against the last checkpoint, and when all is well anchor the head (a checkpoint). A chain with
    records but no checkpoint of this key is a problem (all checkpoints deleted, or the key is new):
    ``adopt`` (or ``JIJIAO_AUDIT_ADOPT=1``) anchors such a chain once, after the walk found it whole."""
    report = Verification()
    key = key or audit_key()
    if adopt is None:
        adopt = os.environ.get(ADOPT_ENV) == "1"
    signed: dict[int, str] = {}
    if key is not None:
        key_id, secret = key
        for cp in session.execute(select(AuditCheckpoint.seq, AuditCheckpoint.hash, AuditCheckpoint.key_id,
                                         AuditCheckpoint.mac).order_by(AuditCheckpoint.seq)
                                  .execution_options(skip_scope=True)):
            if cp.key_id != key_id:
                continue  # another key's checkpoint: cannot be checked with this one
            if not hmac.compare_digest(cp.mac, sign(secret, cp.seq, cp.hash)):
                report.problems.append(f"第{cp.seq}号记录处的签名检查点与签名不符：检查点被伪造或修改")
                continue
            if signed.get(cp.seq, cp.hash) != cp.hash:
                report.problems.append(f"第{cp.seq}号记录处有两个不同的签名检查点")
            signed[cp.seq] = cp.hash
            report.checkpoints += 1
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
            if row["seq"] in signed and signed[row["seq"]] != row["hash"]:
                report.problems.append(f"第{row['seq']}号记录与签名检查点不符：审计链被改写（哈希被重新计算）")
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
    if key is not None:
        beyond = [s for s in signed if s > expected_seq - 1]
        if beyond:
            report.problems.append(f"签名检查点记到第{max(beyond)}号，审计链只到第{expected_seq - 1}号：末尾记录被删除")
        if head is not None:
            last = max(signed) if signed else None
            report.anchored = last is not None and last == head.seq and signed[last] == head.hash
            if last is not None and not report.anchored and not beyond:
                report.problems.append(f"审计链头（第{head.seq}号）没有签名检查点（最后一个在第{last}号）："
                                       "链头之后的记录被追加，或链头被改动")
            if last is None and head.seq > 0 and not adopt:
                report.problems.append("审计链没有本密钥的签名检查点：检查点被删除，或密钥是新配置的"
                                       f"（确认无误后以 {ADOPT_ENV}=1 运行一次 jijiao audit verify 建立锚点）")
        if report.ok and write_checkpoint and head is not None and head.seq > 0 and not report.anchored:
            checkpoint(session, head.seq, head.hash, key=key)
            report.anchored = True
    return report
