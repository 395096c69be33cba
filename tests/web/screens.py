"""Helpers for the cross-cutting web tests: what a page shows (visible text, links, forms), a
crawler that follows a role's menu, the app's URL map, and the seed data of two disjoint subtrees
used by the probe matrix and the XSS test."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from sqlalchemy import select

# -- what a page shows -----------------------------------------------------------------------------

_INVISIBLE = {"script", "style", "template", "noscript", "head", "svg"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
         "track", "wbr"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.prose: list[str] = []  # the visible text outside <code>, <kbd>, <samp>, <pre>
        self.title: list[str] = []
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._stack: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._option: dict | None = None
        self._textarea: str | None = None
        self._textarea_text: list[str] = []
        self._hidden_depth = 0

    # visible = not inside script/style/head/..., nor an element with the hidden attribute
    def _invisible(self) -> bool:
        return any(t in _INVISIBLE for t in self._stack) or self._hidden_depth > 0

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag not in _VOID:
            self._stack.append(tag)
            style = a.get("style", "").replace(" ", "").lower()
            if "hidden" in a or "display:none" in style or "d-none" in a.get("class", "").split() or (a.get("aria-hidden") == "true" and tag != "span"):
                self._hidden_depth += 1
                self._stack[-1] = tag + "#hidden"
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if not self._invisible():
            for attr in ("placeholder", "title", "aria-label", "alt"):
                if a.get(attr):
                    self._visible(a[attr])
            if tag == "input" and a.get("type") in ("submit", "button", "reset") and a.get("value"):
                self._visible(a["value"])
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=(a.get("method") or "get").lower(),
                              enctype=a.get("enctype", ""))
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a or kind == "checkbox":
                    self._form.fields.setdefault(a["name"], a.get("value", "on"))
            elif kind == "file":
                self._form.files.append(a["name"])
            elif kind not in ("submit", "button", "image", "reset"):
                self._form.fields[a["name"]] = a.get("value", "")
            if kind == "submit" and a.get("name"):
                self._form.submits[a["name"]] = a.get("value", "")
            self._form.kinds[a["name"]] = kind
        elif tag == "button" and self._form is not None and a.get("name"):
            self._form.submits[a["name"]] = a.get("value", "")
        elif tag == "select" and self._form is not None and a.get("name"):
            self._select, self._select_first = a["name"], None
            self._form.kinds[a["name"]] = "select"
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": []}
        elif tag == "textarea" and self._form is not None and a.get("name"):
            self._textarea, self._textarea_text = a["name"], []
            self._form.kinds[a["name"]] = "textarea"

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if tag == "option" and self._option is not None:
            value = self._option["value"]
            if value is None:
                value = "".join(self._option["text"]).strip()
            if self._select_first is None:
                self._select_first = value
                self._form.fields.setdefault(self._select, value)
            if self._option["selected"]:
                self._form.fields[self._select] = value
            self._form.options.setdefault(self._select, []).append(value)
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._form.fields[self._textarea] = "".join(self._textarea_text)
            self._textarea = None
        elif tag == "form":
            self._form = None
        # pop up to the matching tag (HTML is forgiving about unclosed elements)
        for i in range(len(self._stack) - 1, -1, -1):
            name = self._stack[i]
            if name.split("#")[0] == tag:
                for popped in self._stack[i:]:
                    if popped.endswith("#hidden"):
                        self._hidden_depth -= 1
                del self._stack[i:]
                break

    def handle_data(self, data):
        if "title" in self._stack and "head" in self._stack:
            self.title.append(data)
        if self._option is not None:
            self._option["text"].append(data)
        if self._textarea is not None:
            self._textarea_text.append(data)
        if not self._invisible():
            self._visible(data)

    def _visible(self, text):
        self.text.append(text)
        if not any(t.split("#")[0] in ("code", "kbd", "samp", "pre") for t in self._stack):
            self.prose.append(text)


@dataclass
class Form:
    action: str
    method: str
    enctype: str = ""
    fields: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    submits: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)

    def text_fields(self) -> list[str]:
        return [n for n, k in self.kinds.items() if k in ("text", "textarea", "search", "email", "url", "tel")]


def parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    p.close()
    return p


def visible_text(html: str, *, code: bool = True) -> str:
    """The text a reader sees: tag contents outside script/style/head and hidden elements, plus
    placeholders, titles, alt and button labels; the <title> too (it shows in the tab).
    ``code=False`` leaves out what the page marks as code (<code>, <kbd>, <samp>, <pre>:
    identifiers such as an item code, shown as such)."""
    p = parse(html)
    text = p.title + (p.text if code else p.prose)
    return re.sub(r"\s+", " ", " ".join(text)).strip()


def visible_chunks(html: str, *, code: bool = True) -> list[str]:
    """The visible text as the pieces the markup separates (one text node, one attribute);
    ``code=False`` as in ``visible_text``."""
    p = parse(html)
    return [c for c in (re.sub(r"\s+", " ", x).strip() for x in p.title + (p.text if code else p.prose)) if c]


def forms(html: str) -> list[Form]:
    return parse(html).forms


def links(html: str, base: str) -> list[str]:
    """Same-site links of the page (absolute paths with query), fragments removed."""
    out = []
    for href in parse(html).links:
        href = unescape(href)
        if href.startswith(("javascript:", "mailto:", "tel:", "#", "data:")):
            continue
        full = urljoin(base, href)
        parts = urlsplit(full)
        if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http", "https"):
            continue
        out.append(parts.path + (("?" + parts.query) if parts.query else ""))
    return out


# -- crawling a role's pages -----------------------------------------------------------------------

SKIP_PATHS = ("/static/", "/admin/static/", "/logout", "/language/")
# download/export links produce files, not pages
FILE_HINTS = ("/export", "/download", ".csv", ".xlsx", ".pdf", ".json", "/file", "/evidence/raw")


def crawl(client, start: str = "/", *, limit: int = 80, per_path: int = 2, include_files: bool = False):
    """Breadth-first over the same-site links a signed-in user can follow from the start page.
    Returns ``{url: response}``; at most ``per_path`` query variants of one path (sorting and
    paging links), at most ``limit`` pages."""
    seen: dict = {}
    per: dict = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        path = urlsplit(url).path
        if any(path.startswith(s) for s in SKIP_PATHS):
            continue
        if not include_files and any(h in url for h in FILE_HINTS):
            continue
        if per.get(path, 0) >= per_path:
            continue
        per[path] = per.get(path, 0) + 1
        response = client.get(url)
        seen[url] = response
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        for link in links(response.get_data(as_text=True), url):
            if link not in seen:
                queue.append(link)
    return seen


# -- the URL map ---------------------------------------------------------------------------------

@dataclass
class Route:
    endpoint: str
    rule: str
    methods: set
    arguments: dict  # name -> converter class name ("IntegerConverter", "UnicodeConverter", ...)


def routes(app) -> list[Route]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
        out.append(Route(rule.endpoint, rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, converters))
    return sorted(out, key=lambda r: (r.rule, r.endpoint))


def build_url(app, route: Route, values: dict, query: dict | None = None) -> str:
    with app.test_request_context():
        from flask import url_for
        url = url_for(route.endpoint, **values)
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
    return url


def with_query(url: str, **params) -> str:
    parts = urlsplit(url)
    q = dict(parse_qsl(parts.query))
    q.update({k: str(v) for k, v in params.items()})
    return parts.path + "?" + urlencode(q)


# -- scope arithmetic --------------------------------------------------------------------------------

def all_rows(platform, model):
    from core.db.scope import Actor
    with platform.transaction(Actor.system()) as s:
        return s.scalars(select(model)).all()


def visible_ids(platform, actor, model) -> set:
    """The ids of ``model`` that the data layer lets ``actor`` see."""
    with platform.transaction(actor) as s:
        return set(s.scalars(select(model.id)))


def snapshot(platform) -> dict:
    """Every row of every table, as ``{table: {primary key: row tuple}}``."""
    from core.db.base import Base
    from core.db.scope import Actor
    out = {}
    with platform.transaction(Actor.system()) as s:
        for table in Base.metadata.sorted_tables:
            pk = [c.name for c in table.primary_key.columns]
            rows = s.execute(table.select()).mappings().all()
            out[table.name] = {tuple(r[c] for c in pk): {k: repr(v) for k, v in r.items()} for r in rows}
    return out


def diff(before: dict, after: dict) -> dict:
    """``{table: [(key, 'added'|'changed'|'deleted', row)]}`` between two snapshots."""
    out = {}
    for table in set(before) | set(after):
        a, b = before.get(table, {}), after.get(table, {})
        changes = [(k, "added", b[k]) for k in b.keys() - a.keys()]
        changes += [(k, "deleted", a[k]) for k in a.keys() - b.keys()]
        changes += [(k, "changed", b[k]) for k in a.keys() & b.keys() if a[k] != b[k]]
        if changes:
            out[table] = changes
    return out


# -- seed data in two disjoint subtrees ------------------------------------------------------------

GUANGDONG = ("gd", "gz", "th", "thzx", "thxx", "szs")
HUBEI = ("hb", "ez", "ec", "cg", "cgxx", "yz")


def marker(key: str) -> str:
    return f"标记〔{key}〕"


def seed(world, platform, clock, text=marker) -> dict:
    """Claims in several states, return reasons, evidence rows, background jobs, training projects
    and window extensions under 广州 and under 鄂城, made through the services where they exist
    (rows without a service yet are written as the system would). ``text(key)`` gives the free
    text of each record (distinct markers for the probe matrix, payloads for the XSS test).
    Returns ``{key: (model, id, text)}``: the record that shows the text."""
    from datetime import date

    from core.db.models import Claim, Evidence, JobRecord, TrainingProject, WindowExtension
    from core.db.scope import Actor

    placed: dict = {}
    teachers = world.teachers
    # 广州: a teacher's declarations, one returned with a reason, one half-way up the chain
    clock.set(2019, 6, 1)
    wang = world.svc("wang").claims
    c1 = wang.submit(wang.declare(teachers["wang"].id, "zhuanye.self", {"hours": 50, "kind": "学术会议"}).id)
    world.svc("thzx_admin").claims.return_(c1.id, text("reason-thzx"))
    placed["reason-thzx"] = (Claim, c1.id, text("reason-thzx"))
    c2 = wang.submit(wang.declare(teachers["wang"].id, "zhuanye.self", {"hours": 20, "kind": "学术会议"}).id)
    world.svc("thzx_admin").claims.approve(c2.id)
    li = world.svc("li").claims
    c3 = li.submit(li.declare(teachers["li"].id, "zhuanye.self", {"hours": 12, "kind": "学术会议"}).id)
    world.svc("thxx_admin").claims.return_(c3.id, text("reason-thxx"))
    placed["reason-thxx"] = (Claim, c3.id, text("reason-thxx"))
    zhao = world.svc("zhao").claims
    c4 = zhao.submit(zhao.declare(teachers["zhao"].id, "zhuanye.self", {"hours": 30, "kind": "学术会议"}).id)
    # 鄂城: schools register for their teachers, one returned by the town
    clock.set(2023, 9, 15)
    cg = world.svc("cgxx_admin").claims
    c5 = cg.submit(cg.declare(teachers["chen"].id, "jizhong.training", {"hours": 24, "level": "区级"},
                              period="2022-2023").id)
    world.svc("cg_rev").claims.return_(c5.id, text("reason-cg"))
    placed["reason-cg"] = (Claim, c5.id, text("reason-cg"))
    yz = world.svc("yz_admin").claims
    c6 = yz.submit(yz.declare(teachers["liu"].id, "feijizhong.school", {"hours": 30}, period="2022-2023").id)
    claims = {"thzx": (c1, c2), "thxx": (c3,), "szs": (c4,), "cgxx": (c5,), "yz": (c6,)}

    with platform.transaction(Actor.system()) as s:
        for school, rows in claims.items():
            for claim in rows:
                key = f"file-{claim.id}"
                row = Evidence(claim_id=claim.id, filename=text(key) + ".pdf", content_type="application/pdf",
                               size=10, sha256="0" * 64, stored_as=f"seed/{claim.id}.pdf",
                               scope_path=claim.scope_path, uploaded_by=None)
                s.add(row)
                s.flush()
                placed[key] = (Evidence, row.id, text(key))
        for node in ("thzx", "th", "cgxx", "ec"):
            n = world.nodes[node]
            row = JobRecord(kind="recompute", state="done", total=1, done=1, message=text(f"job-{node}"),
                            scope_path=n.path)
            s.add(row)
            s.flush()
            placed[f"job-{node}"] = (JobRecord, row.id, text(f"job-{node}"))
        for node, jurisdiction, item, period in (("th", "guangzhou", "zhuanye.training", "2019"),
                                                 ("ec", "echeng", "jizhong.training", "2022-2023")):
            n = world.nodes[node]
            project = TrainingProject(code=f"P-{node}", title=text(f"project-{node}"), jurisdiction=jurisdiction,
                                      item_code=item, period_key=period, inputs={"hours": "12"},
                                      organiser_node_id=n.id, state="designed", scope_path=n.path)
            window = WindowExtension(jurisdiction=jurisdiction, stage="declare", period_key=period, node_id=n.id,
                                     scope_path=n.path, closes=date(2030, 1, 1), reason=text(f"window-{node}"))
            s.add_all([project, window])
            s.flush()
            placed[f"project-{node}"] = (TrainingProject, project.id, text(f"project-{node}"))
            placed[f"window-{node}"] = (WindowExtension, window.id, text(f"window-{node}"))
    return placed


def body_text(response) -> str:
    """A response's content as text to search: HTML/JSON/CSV decoded, the XML of an .xlsx/.docx
    (a zip) unpacked, anything else decoded leniently."""
    data = response.get_data()
    if data[:2] == b"PK":
        import io
        import zipfile
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                                 if n.endswith((".xml", ".rels", ".txt", ".csv")))
        except zipfile.BadZipFile:
            pass
    for encoding in ("utf-8", "utf-16", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")
