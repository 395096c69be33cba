"""The documents pages in a real browser, desktop and 375 px phone: no script errors, no
horizontal overflow; screenshots under tests/artefacts/ (looked at by a person)."""

from __future__ import annotations

import pytest

from core.documents.issue import DocumentService
from tests.web.conftest import app, client, live_server, page_for, screenshot  # noqa: F401


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_documents_pages(page_for, documents_world, phone):
    w = documents_world
    page = page_for("ec_rev", phone=phone)
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto(f"{page_for.base}/documents/?node={w.nodes['ec'].id}&period=2022-2023")
    assert page.locator("#statistics").is_visible()
    assert "刘老师" in page.inner_text("#statistics")
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    screenshot(page, f"documents_index_{'phone' if phone else 'desktop'}")
    assert [m for m in missing if not m.endswith("/favicon.ico")] == []  # the browser's own favicon probe
    assert not overflow and not [e for e in page.errors if "404" not in e]

    document = DocumentService(w.svc("zsxx_admin")).issue(w.teachers["sun"].id, "registration_form", "2024-2025")
    public = page.context.new_page()
    public.goto(f"{page_for.base}/verify/{document.code}")
    assert "验证通过" in public.inner_text("#verify-state")
    screenshot(public, f"documents_verify_{'phone' if phone else 'desktop'}")
    assert not public.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
