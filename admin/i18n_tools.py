"""The English catalogue of the web platform: extract, merge, compile, check.

Chinese is the source language (the msgids are the Chinese text), so the only catalogue is
``admin/translations/en/LC_MESSAGES/messages.po``. After adding pages (or merging branches)::

    python -m admin.i18n_tools update    # re-extract admin/ (babel.cfg), merge into en, compile .mo
    python -m admin.i18n_tools missing   # the msgids still without English (exit 1 if any)
    python -m admin.i18n_tools check     # missing English or a stale .mo → exit 1 (CI)
    python -m admin.i18n_tools compile   # only compile the .po into the .mo

Fill the English of the msgids that ``update`` lists as missing in the .po, then run ``update``
(or ``compile``) again and commit both the .po and the .mo. Merging never uses fuzzy matching (two
Chinese sentences that look alike are not translations of each other), and a msgid that
disappears is kept as obsolete (``#~``) and brought back with its English if it reappears.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ADMIN = Path(__file__).parent
ROOT = ADMIN.parent
CONFIG = ROOT / "babel.cfg"
TRANSLATIONS = ADMIN / "translations"
LOCALE = "en"
PO = TRANSLATIONS / LOCALE / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
POT = TRANSLATIONS / "messages.pot"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2), "lazy_ngettext": (1, 2)}
PROJECT = "jijiao"
HEADER = ("# English for the jijiao web platform. The msgids are the Chinese text of admin/.\n"
          "# Maintained with: python -m admin.i18n_tools update (see admin/i18n_tools.py).")


def extract() -> Catalog:
    """Every message of ``admin/`` (Python and Jinja2 templates), as a template catalogue."""
    with open(CONFIG, encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(CONFIG))
    template = Catalog(project=PROJECT, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ADMIN), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def read(path: Path = PO) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=LOCALE)


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _ids(catalog: Catalog) -> set:
    return {m.id for m in catalog if m.id}


def missing(catalog: Catalog | None = None, template: Catalog | None = None) -> list:
    """The extracted msgids that the English catalogue lacks or leaves untranslated."""
    catalog = catalog or read()
    template = template or extract()
    out = []
    for message in template:
        if not message.id:
            continue
        have = catalog.get(message.id, message.context)
        if have is None or not _translated(have) or have.fuzzy:
            out.append(message.id)
    return out


def _translated(message) -> bool:
    if isinstance(message.string, (list, tuple)):
        return all(message.string)
    return bool(message.string)


def update() -> list:
    """Extract, merge into the English .po, write the .pot, .po and .mo; return what is missing."""
    template = extract()
    TRANSLATIONS.mkdir(parents=True, exist_ok=True)
    with open(POT, "wb") as f:
        write_po(f, template, omit_header=False, sort_output=True, include_lineno=False, width=100)
    if PO.exists():
        catalog = read()
        # Bring back messages made obsolete by an earlier run if they are used again.
        for key, message in list(catalog.obsolete.items()):
            if message.id in template:
                catalog[message.id] = message
                del catalog.obsolete[key]
    else:
        PO.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=LOCALE, project=PROJECT, charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.fuzzy = False
    catalog.header_comment = HEADER
    catalog.version = "1"
    catalog.last_translator = catalog.language_team = "jijiao"
    catalog.msgid_bugs_address = ""
    _write(catalog)
    return missing(catalog, template)


def _write(catalog: Catalog) -> None:
    with open(PO, "wb") as f:
        write_po(f, catalog, sort_output=True, include_lineno=False, width=100, include_previous=False)
    compile_()


def compile_() -> None:
    MO.write_bytes(mo_bytes(read()))


def mo_is_current() -> bool:
    return MO.exists() and MO.read_bytes() == mo_bytes(read())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "update"
    if command == "update":
        left = update()
        print(f"已更新 {PO.relative_to(ROOT)}（{len(_ids(read()))} 条），缺少英文 {len(left)} 条")
        for msgid in left:
            print("  " + msgid.replace("\n", "\\n"))
        return 0
    if command == "compile":
        compile_()
        return 0
    if command in ("missing", "check"):
        left = missing()
        for msgid in left:
            print("缺少英文: " + msgid.replace("\n", "\\n"))
        stale = command == "check" and not mo_is_current()
        if stale:
            print(f"{MO.relative_to(ROOT)} 与 .po 不一致：请运行 python -m admin.i18n_tools compile")
        return 1 if left or stale else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
