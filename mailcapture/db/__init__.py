"""Persistence: SQLAlchemy models, engine/session handling and alembic migrations."""
