"""Chinese is the source language: message ids are the Chinese text itself, and the English
catalogue (``admin/translations/en``) translates them. A missing English string shows Chinese,
never a blank."""

from flask_babel import gettext as _  # noqa: F401
from flask_babel import lazy_gettext as _l  # noqa: F401
from flask_babel import ngettext  # noqa: F401
