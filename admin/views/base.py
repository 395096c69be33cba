"""What every page shares: who may open it, the request's scoped session and services, and how a
refusal from the services reaches the user.

* ``RoleView`` (plain pages) and ``ScopedModelView`` (Flask-Admin CRUD) are accessible only to
  the roles they name; a page never decides scope itself: ``db()`` is the session bound to the
  signed-in actor, so every list, count, detail, edit, export and dropdown sees only the actor's
  subtree.
* ``call(fn, ...)`` runs a service call and turns a ``JijiaoError`` into a flashed message worded
  by the services, returning ``None``.
"""

from __future__ import annotations

import warnings

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView

from flask_admin.contrib.sqla import ModelView
from flask_wtf import FlaskForm

from core.errors import JijiaoError

ALL_ROLES = ("teacher", "school_admin", "reviewer", "organiser", "platform_admin", "auditor")
REVIEW_ROLES = ("school_admin", "reviewer")
ADMIN_ROLES = ("school_admin", "reviewer", "organiser", "platform_admin")


def platform():
    return current_app.extensions["jijiao"]


def db():
    """The request's session, bound to the signed-in actor (created on first use)."""
    if g.get("actor") is None:
        abort(403)
    if "db" not in g:
        g.db = platform().session(g.actor)
    return g.db


def services():
    if g.get("actor") is None:
        abort(403)
    if "services" not in g:
        g.services = platform().services(g.actor, g.get("request_id"))
    return g.services


class _RequestSession:
    """The request's session, looked up on every use, for Flask-Admin's model views. (A bare
    ``LocalProxy(db)`` cannot be built into a view at start-up: Flask-Admin probes it with
    ``hasattr(session, "session")`` outside any request.)"""

    def __getattr__(self, name):
        if name == "session" or name.startswith("_"):
            raise AttributeError(name)
        return getattr(db(), name)


request_session = _RequestSession()


def end_reads() -> None:
    """End the request session's transaction before a service writes in its own: on SQLite every
    transaction holds the database's write lock from its start, so a page that has read through
    ``db()`` would otherwise make the service wait for the page's own lock."""
    session = g.get("db")
    if session is not None and session.in_transaction():
        session.commit()


def call(fn, *args, success: str | None = None, **kwargs):
    """Run a service call; a refusal is flashed as the services word it."""
    end_reads()
    try:
        result = fn(*args, **kwargs)
    except JijiaoError as exc:
        flash(getattr(exc, "message", None) or str(exc), "error")
        return None
    if success:
        flash(success, "success")
    return result


class _Access:
    roles: tuple[str, ...] = ()

    def is_accessible(self):
        actor = g.get("actor")
        return actor is not None and actor.role in self.roles

    def is_visible(self):
        return self.is_accessible()

    def inaccessible_callback(self, name, **kwargs):
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        abort(403)


class RoleView(_Access, BaseView):
    """A plain page for the named roles."""


class ScopedModelView(_Access, ModelView):
    """A Flask-Admin model view on the request's scoped session.

    Defaults fit tables of millions of rows: no ``COUNT(*)`` per page (``simple_list_pager``),
    sorting only where a view names indexed columns, no export unless a view asks for it, CSRF on
    every form (Flask-WTF), and nothing created, edited or deleted unless the view says so.
    """

    form_base_class = FlaskForm
    simple_list_pager = True
    page_size = 50
    can_set_page_size = False
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    column_display_all_relations = False
    column_sortable_list: list = []
    column_searchable_list: list = []

    def __init__(self, model, name=None, **kwargs):
        # Flask-Admin 2.x warns that a session (not a Flask-SQLAlchemy object) is passed: ours is
        # the request's scoped session, on purpose.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Passing a session object directly", category=DeprecationWarning)
            super().__init__(model, request_session, name=name, **kwargs)


class HomeView(AdminIndexView):
    """The start page sends each role to where its work is."""

    def is_accessible(self):
        return g.get("actor") is not None

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    def is_visible(self):
        return False
