"""The system of record: SQLAlchemy 2.0 models, engines for SQLite (embedded default) and
PostgreSQL (production), scoped sessions, and Alembic migrations (``jijiao db upgrade``)."""
