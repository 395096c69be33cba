"""Chinese is the source language: message ids are the Chinese text itself, and the English
catalogue (``admin/translations/en``) translates them. A missing English string shows Chinese,
never a blank."""

from flask_babel import gettext as _  # noqa: F401
from flask_babel import lazy_gettext as _l  # noqa: F401
from flask_babel import ngettext  # noqa: F401


def jj_datetime(value, pattern: str = "yyyy-MM-dd HH:mm") -> str:
    """A time as the user reads it: in Asia/Shanghai (the app's timezone), ``2019-06-02 00:30``.
    A naive datetime is taken as UTC (SQLite returns stored times without their zone). In
    templates: ``{{ claim.updated_at|jj_datetime }}``, ``{{ x|jj_datetime('yyyy-MM-dd HH:mm:ss') }}``."""
    if value is None or value == "":
        return ""
    from datetime import timezone as _tz
    from flask_babel import format_datetime
    if getattr(value, "tzinfo", None) is None:
        value = value.replace(tzinfo=_tz.utc)
    return format_datetime(value, pattern)


def jj_date(value, pattern: str = "yyyy-MM-dd") -> str:
    """A date (or the Shanghai date of a datetime): ``{{ claim.on_date|jj_date }}``."""
    if value is None or value == "":
        return ""
    from datetime import datetime as _dt
    if isinstance(value, _dt):
        return jj_datetime(value, pattern)
    from flask_babel import format_date
    return format_date(value, pattern)
