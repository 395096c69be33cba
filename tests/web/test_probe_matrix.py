"""The probe matrix: every endpoint of the app's URL map × every role × records outside the
user's scope, by URL argument, by ``?id=`` and by form field → no 500, no foreign record's data
in any response, no foreign row changed. Discovered from the URL map and the pages' own forms,
so it covers every page added later without naming it.

Also: an anonymous visitor is sent to sign in from every non-public endpoint; every
state-changing POST without a CSRF token or with a forged one is refused (400) and changes
nothing; every Flask-Admin view restricts ``is_accessible``."""

from __future__ import annotations

import re
from itertools import islice
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core.db.models import (AssessmentResult, AuditRecord, Claim, Evidence, JobRecord, OrgNode,
                            RoleAssignment, SchoolPeriodFact, Teacher, TrainingProject, User,
                            WindowExtension)
from core.db.scope import Actor

from . import screens
from .conftest import Client, csrf_of

# One user per role and level, in both provinces.
USERS = ("wang", "thzx_admin", "th_rev", "gz_rev", "admin", "auditor", "cgxx_admin", "ec_rev")
PUBLIC = {"auth.login", "auth.set_language", "health", "verify.page"}
# Never probed by POST: signing in as someone else or out would change who the client is
# (covered by test_sign_in.py).
NO_POST = {"auth.login", "auth.logout"}
SCOPED = (Claim, Teacher, Evidence, TrainingProject, JobRecord, AuditRecord, WindowExtension,
          AssessmentResult, SchoolPeriodFact, OrgNode)
# A URL argument or form field name → the table its ids come from.
ARG_MODELS = [
    (r"claim", Claim), (r"teacher", Teacher), (r"evidence|file|attachment", Evidence),
    (r"project", TrainingProject), (r"job", JobRecord), (r"audit|seq", AuditRecord),
    (r"window|extension", WindowExtension), (r"result|assessment", AssessmentResult),
    (r"node|school|org|parent|district|unit", OrgNode), (r"user|account|assignment", User),
]
ID_FIELD = re.compile(r"(^|_)(id|ids|rowid|pk)$|_id(s)?$|^(claim|teacher|node|user|project|job|evidence)s?$")
PER_ARG = 3  # foreign ids tried per argument (a sample across the tables)


def model_for(name: str):
    for pattern, model in ARG_MODELS:
        if re.search(pattern, name.lower()):
            return model
    return None


class Scope:
    """What one user may see, computed through the data layer (never re-implemented here)."""

    def __init__(self, platform, world, username, placed):
        self.username = username
        self.actor = actor = world.actors[username]
        self.visible = {m: screens.visible_ids(platform, actor, m) for m in SCOPED}
        with platform.transaction(Actor.system()) as s:
            self.all = {m: set(s.scalars(select(m.id))) for m in (*SCOPED, User)}
            node_paths = dict(s.execute(select(OrgNode.id, OrgNode.path)).all())
            own = s.get(OrgNode, actor.node_id)
            ancestors = set(own.ancestor_ids)
            user_nodes: dict = {}
            for uid, nid in s.execute(select(RoleAssignment.user_id, RoleAssignment.node_id)):
                user_nodes.setdefault(uid, []).append(node_paths[nid])
            users = s.execute(select(User.id, User.username, User.display_name)).all()
            nodes = s.execute(select(OrgNode.id, OrgNode.kind, OrgNode.name)).all()
            teachers = s.execute(select(Teacher.id, Teacher.name)).all()
        self.visible[User] = {uid for uid, paths in user_nodes.items()
                              if actor.role != "teacher" and all(p.startswith(actor.node_path) for p in paths)}
        self.visible[User].add(actor.user_id)
        self.foreign = {m: sorted(self.all[m] - self.visible[m]) for m in self.all}
        # Text that must never show: foreign teachers, schools and towns (not one's own
        # ancestors), other users' names outside the subtree, the seeded records one cannot see.
        markers = {name for tid, name in teachers if tid not in self.visible[Teacher]}
        markers |= {name for nid, kind, name in nodes if kind in ("school", "town")
                    and nid not in self.visible[OrgNode] and nid not in ancestors}
        markers |= {u for uid, u, _ in users if "_" in u and uid not in self.visible[User]}
        for model, rid, text in placed.values():
            if rid not in self.visible.get(model, set()):
                markers.add(text)
        # users above one's node (a reviewer approving one's claim) may legitimately appear
        above = {uid for uid, paths in user_nodes.items() if any(actor.node_path.startswith(p) for p in paths)}
        markers -= {u for uid, u, _ in users if uid in above}
        self.markers = sorted(markers)
        self.subtree = actor.node_path

    def ids_for(self, name: str, *, foreign: bool = True, n: int = PER_ARG) -> list[int]:
        pool = self.foreign if foreign else {m: sorted(v) for m, v in self.visible.items()}
        model = model_for(name)
        if model is not None:
            return _spread(pool.get(model, []), n)
        # an unnamed id: a sample across every table
        ids: list = []
        for m in (Claim, Teacher, Evidence, OrgNode, JobRecord, TrainingProject, User):
            ids += [i for i in _spread(pool.get(m, []), 2) if i not in ids]
        return ids[: n * 2]

    def leaks(self, text: str) -> list[str]:
        return [m for m in self.markers if m in text]

    def allowed_change(self, table: str, key, row: dict) -> bool:
        """A row changed by this user's probes: only its own sign-in data, the audit chain's head,
        or rows inside its own scope."""
        actor = self.actor
        if table in ("audit_head", "audit_checkpoints"):
            return True
        if table == "users":
            return key == (actor.user_id,)
        if table == "audit_records":
            if row.get("entity_type") == "'user'" and row.get("entity_id") == repr(actor.user_id):
                return True
        if actor.role == "auditor":
            return False
        if actor.role == "teacher" and "teacher_id" in row:
            return row["teacher_id"] == repr(actor.teacher_id)
        path = row.get("scope_path") or row.get("path")
        return path is not None and eval(path).startswith(self.subtree)  # repr of a str


def _spread(values: list, n: int) -> list:
    """``n`` values spread over a sorted list (first, last and between)."""
    values = sorted(values)
    if len(values) <= n:
        return values
    if n == 1:
        return values[-1:]
    step = (len(values) - 1) / (n - 1)
    return sorted({values[round(i * step)] for i in range(n)})


def _view_model(app, endpoint: str):
    admin = app.extensions["jijiao_admin"]
    for view in admin._views:
        if endpoint.startswith(view.endpoint + "."):
            return getattr(view, "model", None)
    return None


def _urls(app, route, scope: Scope, *, foreign: bool) -> list[str]:
    """URLs of ``route`` with its arguments filled by foreign (or in-scope) ids; an argument-less
    view of a model also gets ``?id=``."""
    urls = []
    if not route.arguments:
        urls.append(screens.build_url(app, route, {}))
        model = _view_model(app, route.endpoint)
        if model is not None:
            ids = _spread((scope.foreign if foreign else {m: sorted(v) for m, v in scope.visible.items()})
                          .get(model, []), PER_ARG)
            urls += [screens.build_url(app, route, {}, {"id": i}) for i in ids]
        return urls
    inside = {name: (scope.ids_for(name, foreign=False, n=1) or [1])[0] for name in route.arguments}
    for name in route.arguments:
        values = scope.ids_for(name, foreign=foreign) if foreign else [inside[name]]
        for value in values:
            args = dict(inside, **{name: value})
            args = {k: (v if route.arguments[k] == "IntegerConverter" else str(v)) for k, v in args.items()}
            try:
                urls.append(screens.build_url(app, route, args))
            except Exception:  # noqa: BLE001 - a converter refusing the value: nothing to probe
                continue
    return list(dict.fromkeys(urls))


def _form_data(form: screens.Form, scope: Scope, foreign_id: int) -> dict:
    data = {k: v for k, v in form.fields.items() if k != "csrf_token"}
    data.update(form.submits)
    names = set(data) | set(form.files)
    for name in names | {"id", "rowid", "ids", "claim_id", "teacher_id", "node_id", "user_id"}:
        if ID_FIELD.search(name) or name in ("rowid", "id"):
            ids = scope.ids_for(name) or [foreign_id]
            data[name] = str(ids[foreign_id % len(ids)]) if name not in ("rowid", "ids") else \
                [str(i) for i in ids]
    return data


class Probe:
    def __init__(self, app, platform, world, username, placed):
        self.app = app
        self.platform = platform
        self.username = username
        self.scope = Scope(platform, world, username, placed)
        self.client = self._login()
        self.count = 0
        self.reached = 0
        self.problems: list[str] = []
        self.relogins = 0

    def _login(self) -> Client:
        c = Client(self.app)
        r = c.login(self.username)
        assert r.status_code == 302, f"{self.username} cannot sign in"
        return c

    def check(self, method: str, url: str, response, *, allow_refusal=True):
        self.count += 1
        text = screens.body_text(response)
        where = f"{self.username} {method} {url} → {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"{where}: server error")
        leaks = self.scope.leaks(text) + self.scope.leaks(response.headers.get("Location", ""))
        if leaks:
            self.problems.append(f"{where}: shows {leaks[:3]}")
        if response.status_code == 200:
            self.reached += 1
        final = getattr(response, "request", None)
        if method == "POST" and final is not None and final.path.startswith("/login"):
            self.client = self._login()  # a probe ended the session: continue signed in
            self.relogins += 1

    def missing(self, route):
        """The answer for ids that exist nowhere: a foreign record must get the same (a 404 that
        does not tell "not yours" from "not there")."""
        ints = [n for n, conv in route.arguments.items() if conv == "IntegerConverter"]
        if not ints:
            return None
        inside = {name: (self.scope.ids_for(name, foreign=False, n=1) or [1])[0] for name in route.arguments}
        args = {k: (v if route.arguments[k] == "IntegerConverter" else str(v)) for k, v in inside.items()}
        args.update({n: 987654 for n in ints})
        try:
            url = screens.build_url(self.app, route, args)
        except Exception:  # noqa: BLE001
            return None
        return self.client.get(url)

    def same_as_missing(self, url, response, missing):
        if missing is None or response.status_code == 200 and missing.status_code == 200:
            return
        if response.status_code != missing.status_code:
            self.problems.append(f"{self.username} GET {url} → {response.status_code}, but a missing id → "
                                 f"{missing.status_code}: tells a foreign record from a missing one")
        elif response.status_code >= 400:
            def norm(r):
                return re.sub(r"\d+", "#", screens.visible_text(screens.body_text(r)))
            if norm(response) != norm(missing):
                self.problems.append(f"{self.username} GET {url}: the refusal differs from a missing id's")

    def token(self) -> str:
        return csrf_of(self.client.get("/account/password/").get_data(as_text=True))

    def run(self, routes):
        app = self.app
        for route in routes:
            if "GET" in route.methods:
                missing = self.missing(route)
                for url in _urls(app, route, self.scope, foreign=True):
                    response = self.client.get(url)
                    self.check("GET", url, response)
                    self.same_as_missing(url, response, missing)
                for url in _urls(app, route, self.scope, foreign=False):
                    self.check("GET", url, self.client.get(url))
            if "POST" in route.methods and route.endpoint not in NO_POST:
                self.post(route)

    def post(self, route):
        app = self.app
        inside = _urls(app, route, self.scope, foreign=False)
        foreign = _urls(app, route, self.scope, foreign=True)
        forms = [screens.Form(action="", method="post")]
        if "GET" in route.methods:
            for url in inside[:1]:
                page = self.client.get(url)
                if page.status_code == 200 and page.mimetype == "text/html":
                    for form in screens.forms(page.get_data(as_text=True)):
                        target = urlsplit(form.action).path if form.action else urlsplit(url).path
                        if form.method == "post" and target == urlsplit(url).path:
                            forms.append(form)
        token = self.token()
        for form in forms:
            for i, url in enumerate(list(dict.fromkeys(foreign + inside[:1]))):
                data = _form_data(form, self.scope, i)
                data["csrf_token"] = token
                response = self.client.http.post(url, data=data, follow_redirects=True)
                self.check("POST", url, response)


@pytest.fixture
def seeded(world, platform, clock):
    return screens.seed(world, platform, clock)


def test_probe_matrix_no_leaks_no_writes_outside_scope(app, platform, world, seeded, capsys):
    routes = screens.routes(app)
    total = 0
    reached = 0
    problems = []
    for username in USERS:
        before = screens.snapshot(platform)
        probe = Probe(app, platform, world, username, seeded)
        assert probe.scope.markers, f"{username}: nothing outside the scope to look for"
        probe.run(routes)
        after = screens.snapshot(platform)
        for table, changes in screens.diff(before, after).items():
            for key, kind, row in changes:
                if not probe.scope.allowed_change(table, key, row):
                    problems.append(f"{username}: {table} {key} {kind} outside the scope")
        assert probe.client.get("/").status_code == 200, f"{username} was signed out by a probe"
        total += probe.count
        reached += probe.reached
        problems += probe.problems
    with capsys.disabled():
        print(f"\nprobes: {total} ({len(routes)} endpoints × {len(USERS)} users, {reached} answered 200)")
    assert not problems, "\n".join(problems[:40])
    assert reached > len(USERS), "the probes never reached a page"


def test_anonymous_visitor_is_sent_to_sign_in_from_every_endpoint(app, platform, world, seeded, capsys):
    scope = Scope(platform, world, "admin", seeded)
    http = app.test_client()
    token = csrf_of(http.get("/login").get_data(as_text=True))
    before = screens.snapshot(platform)
    count = 0
    problems = []
    for route in screens.routes(app):
        if route.endpoint in PUBLIC:
            continue
        for url in _urls(app, route, scope, foreign=False) + _urls(app, route, scope, foreign=True)[:2]:
            if "GET" in route.methods:
                r = http.get(url)
                count += 1
                if not (r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"):
                    problems.append(f"GET {url} → {r.status_code} {r.headers.get('Location')}")
            if "POST" in route.methods:
                r = http.post(url, data={"csrf_token": token, "id": "1"})
                count += 1
                if not (r.status_code in (302, 303) and urlsplit(r.headers["Location"]).path == "/login"
                        or r.status_code in (400, 403, 405)):
                    problems.append(f"POST {url} → {r.status_code}")
    assert screens.diff(before, screens.snapshot(platform)) == {}
    with capsys.disabled():
        print(f"\nanonymous probes: {count}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("username", ["wang", "thzx_admin", "admin"])
def test_posts_without_or_with_a_forged_csrf_token_change_nothing(app, platform, world, seeded, username):
    c = Client(app)
    assert c.login(username).status_code == 302
    scope = Scope(platform, world, username, seeded)
    before = screens.snapshot(platform)
    problems = []
    count = 0
    for route in screens.routes(app):
        if "POST" not in route.methods:
            continue
        urls = _urls(app, route, scope, foreign=False)
        forms = [screens.Form(action="", method="post")]
        if "GET" in route.methods and urls:
            page = c.get(urls[0])
            if page.status_code == 200 and page.mimetype == "text/html":
                forms += [f for f in screens.forms(page.get_data(as_text=True)) if f.method == "post"]
        for url in urls:
            for form in forms:
                data = {k: v for k, v in form.fields.items() if k != "csrf_token"}
                data.update(form.submits)
                for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf_of(
                        Client(app).get("/login").get_data(as_text=True))}):
                    r = c.http.post(url, data=dict(data, **bad))
                    count += 1
                    if r.status_code != 400:
                        problems.append(f"POST {url} {sorted(bad)} → {r.status_code}")
    assert count > 0
    assert not problems, "\n".join(problems)
    assert screens.diff(before, screens.snapshot(platform)) == {}
    assert c.get("/").status_code == 200


def test_every_admin_view_restricts_access(app, world):
    """``is_accessible`` on every Flask-Admin view, the index included: anonymous → sign-in,
    a role the view does not serve → 403, a role it serves → 200."""
    from flask import url_for
    from flask_admin import BaseView
    admin = app.extensions["jijiao_admin"]
    by_role: dict = {}
    for username, actor in world.actors.items():
        by_role.setdefault(actor.role, username)
    problems = []
    clients: dict = {}

    def client(username):
        if username not in clients:
            clients[username] = Client(app)
            assert clients[username].login(username).status_code == 302
        return clients[username]

    for view in admin._views:
        if type(view).is_accessible is BaseView.is_accessible:
            problems.append(f"{view.endpoint}: is_accessible is not restricted")
            continue
        with app.test_request_context():
            url = url_for(f"{view.endpoint}.{view._default_view}")
        r = app.test_client().get(url)
        if not (r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"):
            problems.append(f"{view.endpoint}: anonymous → {r.status_code}")
        roles = getattr(view, "roles", None)
        if roles is None:
            continue
        for role, username in by_role.items():
            r = client(username).get(url)
            expected = {200} if role in roles else {403}
            if role in roles and r.status_code in (302, 303):
                expected.add(r.status_code)  # a view may send its role on to its first page
            if r.status_code not in expected:
                problems.append(f"{view.endpoint} as {role} ({username}) → {r.status_code}")
    assert not problems, "\n".join(problems)


def test_the_matrix_finds_a_planted_leak_and_a_planted_write(app, platform, world, seeded):
    """The matrix itself is tested: a page that reads and writes with the system's session (no
    scope) is caught by URL and by form field."""
    from flask import request

    from core.db.scope import Actor as A

    @app.route("/planted/<int:claim_id>", methods=["GET", "POST"], endpoint="planted.claim")
    def planted(claim_id):
        with platform.transaction(A.system()) as s:
            claim = s.get(Claim, claim_id)
            if claim is None:
                return "none", 404
            if request.method == "POST":
                claim.reason = "changed"
            return f"<p>{claim.teacher.name} {claim.reason}</p>"

    @app.route("/planted-form", methods=["GET", "POST"], endpoint="planted.form")
    def planted_form():
        if request.method == "POST":
            with platform.transaction(A.system()) as s:
                teacher = s.get(Teacher, int(request.form["teacher_id"]))
                teacher.subject = "changed"
                return f"<p>{teacher.name}</p>"
        return '<form method="post"><input name="teacher_id" value="1"></form>'

    @app.route("/planted-job/<int:job_id>", endpoint="planted.job")
    def planted_job(job_id):
        from flask import abort, g
        with platform.transaction(g.actor) as s:
            if s.get(JobRecord, job_id) is not None:
                return "ok"
        with platform.transaction(A.system()) as s:
            exists = s.get(JobRecord, job_id) is not None
        abort(403 if exists else 404)

    probe = Probe(app, platform, world, "thzx_admin", seeded)
    before = screens.snapshot(platform)
    probe.run([r for r in screens.routes(app) if r.endpoint.startswith("planted.")])
    changes = [(t, k) for t, rows in screens.diff(before, screens.snapshot(platform)).items()
               for k, kind, row in rows if not probe.scope.allowed_change(t, k, row)]
    assert any("GET /planted/" in p and "shows" in p for p in probe.problems), probe.problems
    assert any("POST /planted-form" in p and "shows" in p for p in probe.problems), probe.problems
    assert {t for t, k in changes} == {"claims", "teachers"}
    assert any("GET /planted-job/" in p and "tells a foreign record from a missing one" in p
               for p in probe.problems), probe.problems


def test_the_access_check_finds_an_open_view(app, world):
    from flask_admin import BaseView, expose

    class Open(BaseView):
        @expose("/")
        def index(self):
            return "open"

    app.extensions["jijiao_admin"].add_view(Open(name="open", endpoint="planted_open", url="/planted-open"))
    with pytest.raises(AssertionError, match="planted_open: is_accessible is not restricted"):
        test_every_admin_view_restricts_access(app, world)


# Fields a form must never offer: a record's state, computed amounts (an input such as a
# project's designed hours is not one), where it sits in the tree,
# its review position, and anything of the audit trail.
NEVER_EDITABLE = re.compile(r"^(state|amount_milli|total_milli|scope_path|review_chain|"
                            r"reviewer_node_id|home_school_id|registered_at|explanation|created_by|created_at|"
                            r"updated_at|seq|hash|prev_hash|actor_id|actor_name|passed)$")


def test_no_form_edits_state_amounts_tree_position_or_audit(app, world, seeded):
    """State, amounts, teacher, school and audit rows are never editable form fields: no page's
    form has such a field, no model view offers one, and no view edits audit rows."""
    from core.db.models import AuditCheckpoint, AuditHead
    problems = []
    for username in USERS:
        c = Client(app)
        assert c.login(username).status_code == 302
        for url, response in screens.crawl(c, "/", limit=60).items():
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            for form in screens.forms(response.get_data(as_text=True)):
                if form.method != "post":
                    continue
                for name, kind in form.kinds.items():
                    if NEVER_EDITABLE.match(name) and kind != "hidden":
                        problems.append(f"{username} {url}: form field {name!r} ({kind})")
    for view in app.extensions["jijiao_admin"]._views:
        model = getattr(view, "model", None)
        if model is None:
            continue
        if model in (AuditRecord, AuditHead, AuditCheckpoint) and (view.can_create or view.can_edit or view.can_delete):
            problems.append(f"{view.endpoint}: audit rows editable")
        for kind, allowed in (("create", view.can_create), ("edit", view.can_edit)):
            if not allowed:
                continue
            with app.test_request_context():
                form_class = view.get_create_form() if kind == "create" else view.get_edit_form()
            for name in dir(form_class):
                if NEVER_EDITABLE.match(name) or (kind == "edit" and name in ("teacher", "teacher_id", "home_school")):
                    problems.append(f"{view.endpoint}: {kind} form has {name!r}")
    assert not problems, "\n".join(problems)


def test_the_form_check_finds_an_editable_state(app, world, seeded):
    from admin.views.base import ScopedModelView

    class Claims(ScopedModelView):
        roles = ("school_admin",)
        can_edit = True
        form_columns = ("state", "reason")

    app.extensions["jijiao_admin"].add_view(Claims(Claim, name="planted", endpoint="planted_claims",
                                                   url="/planted-claims"))
    with pytest.raises(AssertionError, match="planted_claims: edit form has 'state'"):
        test_no_form_edits_state_amounts_tree_position_or_audit(app, world, seeded)
