"""The config section the store reads: [storage] (see detect/settings.py for how)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detect.settings import SettingsError, Show, key, parse_section, plain, positive

# A file SQLite URL without query or fragment is always valid (the dialect is in the standard library):
# accepted without importing SQLAlchemy (~0.2 s), which commands that never open the store (probe,
# candidates) would otherwise pay for at every start.
_PLAIN_SQLITE = re.compile(r"sqlite:///[^?#]*")


def database_url(name: str, value: str, show: Show) -> None:
    """An unknown backend or a malformed URL fails here, not deep in a command."""
    if _PLAIN_SQLITE.fullmatch(value):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(value).get_dialect()
    except (ArgumentError, ValueError):
        raise SettingsError(f"{name}: not a database URL: {show(name, value)}") from None
    except NoSuchModuleError:
        raise SettingsError(f"{name}: unknown database backend in {show(name, value)} "
                            "(sqlite:///… or postgresql+psycopg://…)") from None


@dataclass(frozen=True)
class StorageSettings:
    url: str = field(default="sqlite:///var/hydrawatch.db", metadata=key(
        "any SQLAlchemy URL; postgresql+psycopg://user@host/db for production", database_url, secret="url"))
    busy_timeout: float = field(default=30.0, metadata=key(
        "seconds a SQLite store waits for another process's write lock before the command fails "
        "(not used with PostgreSQL)", positive))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], show: Show = plain) -> StorageSettings:
        return parse_section(cls, "storage", data, show)
