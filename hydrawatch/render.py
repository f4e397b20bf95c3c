"""Output for people and programs: terminal-safe text, JSON, and escaping of hostile crawled text."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from datetime import datetime, timezone
from typing import Any

# C0/C1 controls (ESC starts terminal escape sequences), DEL, and bidi overrides.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, limit: int = 300) -> str:
    """Crawled text made inert for a terminal: control characters shown as \\xNN, length bounded."""
    out = _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r", "\\r").replace("\n", " "))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    return json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False, sort_keys=False)
