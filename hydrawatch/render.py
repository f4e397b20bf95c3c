"""Output for people and programs: terminal-safe text, JSON, and escaping of hostile crawled text."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime
from typing import Any

from detect import textsafe

# Crawled text made inert for a terminal (one line, controls and bidi shown as \xNN, bounded).
terminal_safe = textsafe.terminal


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """JSON for people and programs: controls, bidi and line separators escaped (detect.textsafe)."""
    return textsafe.json_dumps(to_jsonable(value), indent=indent)
