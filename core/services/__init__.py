"""The service layer: every operation the admin, the command line and background jobs perform.

``Platform`` holds what a process keeps (plugin registry, workflows, database engine);
``platform.services(actor)`` gives the operations of one actor, each in its own transaction on a
session scoped to that actor. Errors are ``JijiaoError``s with Chinese messages.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Callable

from sqlalchemy.orm import Session

from ..db.base import make_engine, session_factory
from ..db.scope import Actor, bind, trust
from ..errors import JijiaoError


class NotFound(JijiaoError):
    """Not there, or not in the actor's scope (the two are not told apart)."""


def insert_unique(session: Session, obj, message: str, field: str | None = None):
    """Add ``obj``; a unique constraint refusing it becomes a clear InputError, and only the
    savepoint is rolled back, never the caller's transaction."""
    from sqlalchemy.exc import IntegrityError
    from ..errors import InputError
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        raise InputError(message, field=field) from None
    return obj


class Platform:
    def __init__(self, url: str | None = None, *, registry=None, workflows=None, engine=None,
                 clock: Callable[[], datetime] | None = None):
        from ..plugins import load_registry
        from ..workflow import WorkflowRegistry
        self.registry = registry or load_registry()
        self.workflows = workflows or WorkflowRegistry()
        self.engine = engine or make_engine(url)
        self.sessions = session_factory(self.engine)
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def today(self) -> date:
        return self.clock().astimezone().date()

    def session(self, actor: Actor) -> Session:
        return bind(self.sessions(), actor)

    @contextmanager
    def transaction(self, actor: Actor, *, _service: bool = False):
        """A transaction on a session bound to ``actor`` (a page session: see core.db.scope)."""
        session = self.session(actor)
        if _service:
            trust(session)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def services(self, actor: Actor, request_id: str | None = None) -> "Services":
        return Services(self, actor, request_id or uuid.uuid4().hex)


class Services:
    """The operations of one actor (and one request id, carried into every audit record)."""

    def __init__(self, platform: Platform, actor: Actor, request_id: str):
        from .claims import ClaimService
        from .org import OrgService
        from .projects import ProjectService
        from .windows import WindowService
        from .assessments import AssessmentService
        self.platform = platform
        self.actor = actor
        self.request_id = request_id
        self.claims = ClaimService(self)
        self.windows = WindowService(self)
        self.projects = ProjectService(self)
        self.org = OrgService(self)
        self.assessments = AssessmentService(self)

    def transaction(self, actor: Actor | None = None):
        """The services' own transaction (a service session, see core.db.scope)."""
        return self.platform.transaction(actor or self.actor, _service=True)

    def audit_entry(self, *, entity_type: str, entity_id: int, trigger: str, from_state, to_state,
                    scope_path: str, reason: str | None = None, detail: dict | None = None) -> dict:
        actor = self.actor
        return {"at": self.platform.clock(), "actor_id": actor.user_id, "actor_name": actor.name,
                "role": actor.role, "node_id": actor.node_id, "entity_type": entity_type,
                "entity_id": entity_id, "trigger": trigger, "from_state": from_state, "to_state": to_state,
                "reason": reason, "request_id": self.request_id, "detail": detail, "scope_path": scope_path}
