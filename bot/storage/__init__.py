"""Persistence: sqlmodel tables, engines and Alembic migrations."""
