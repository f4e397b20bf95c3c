"""Alembic migrations of the hydrawatch store (run by `hydrawatch init`)."""
