"""Alembic migrations of the whole schema. The current head is kept in ``HEAD``."""
