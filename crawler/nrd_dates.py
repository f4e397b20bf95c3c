"""Dated feed addresses (pure): ``{date}``, ``{date:FORMAT}`` and ``{date_base64:FORMAT}`` in a feed's
path or URL, and which days a dated feed is read for. Imported by the config check, so it stays light."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

_FIELD = re.compile(r"\{(date|date_base64)(?::([^{}]*))?\}")


def is_dated(template: str) -> bool:
    return bool(_FIELD.search(template))


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a feed address hydrawatch can fill in (an unknown ``{…}`` field), or None."""
    rest = _FIELD.sub("", template)
    if "{" in rest or "}" in rest:
        return "unknown {field}; known: {date}, {date:FORMAT}, {date_base64:FORMAT}"
    return None


def expand(template: str, day: date) -> str:
    """The address of ``day``'s file (pure)."""
    def field_value(match: re.Match[str]) -> str:
        kind, fmt = match.group(1), match.group(2)
        text = day.strftime(fmt) if fmt else day.isoformat()
        return base64.b64encode(text.encode()).decode() if kind == "date_base64" else text
    return _FIELD.sub(field_value, template)


def days_to_read(today: date, last_read: date | None, max_days: int) -> list[date]:
    """Oldest first: from the last day read (checked again) to today, else yesterday and today; at most
    the ``max_days`` most recent (pure)."""
    first = last_read if last_read is not None and last_read <= today else today - timedelta(days=1)
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    return days[-max(1, max_days):]
