"""The SQL store (SQLAlchemy 2 + Alembic). ORM rows never leave this package: functions take an
explicit Session and return plain values from detect.model or the small dataclasses defined here."""
