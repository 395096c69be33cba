"""The WSGI entry point for any production server and any number of workers:

    waitress-serve --port 8001 --call admin.wsgi:create   # or: gunicorn -w 4 'admin.wsgi:create()'

Every worker is stateless: sign-in state lives in a signed cookie checked against the database on
every request (``session_version``), jobs go through Redis (``JIJIAO_REDIS_URL``), files under
``JIJIAO_INSTANCE``; all workers must share ``JIJIAO_SECRET_KEY`` and ``JIJIAO_DATABASE_URL``.
"""

from __future__ import annotations


def create():
    from . import create_app
    return create_app()
