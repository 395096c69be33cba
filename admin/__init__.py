"""The admin platform in the browser (Flask + Flask-Admin, Chinese first)."""

from .app import create_app  # noqa: F401
