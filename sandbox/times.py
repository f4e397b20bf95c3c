"""A world's times: a TOML date or time, or an ISO 8601 text, read as an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.errors import WorldError


def parse_time(value: Any, where: str) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC); WorldError naming ``where`` otherwise."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if hasattr(value, "isoformat") and not isinstance(value, str):  # a TOML date
        return datetime.fromisoformat(value.isoformat()).replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        raise WorldError(f"{where}: expected a date or UTC time such as 2024-09-03T12:00:00Z, got {value!r}")
    try:
        # the replace also takes a date with a Z ("2024-01-01Z"), which fromisoformat refuses
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # noqa: FURB162
    except ValueError:
        raise WorldError(f"{where}: not a date or time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
