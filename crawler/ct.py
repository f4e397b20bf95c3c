"""Certificate-transparency search against a crt.sh-compatible JSON endpoint.

``url_template`` holds ``{query}``, replaced by a LIKE pattern ``%25<keyword>%25`` (crt.sh's
``?q=%25keyword%25&output=json``). Each row's ``name_value`` holds newline-separated names, maybe
wildcards (``*.x`` → ``x``); ``common_name`` is taken too. Garbage answers are typed errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from crawler.sources import SourceError, get
from detect.model import ErrorKind

_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


@dataclass(frozen=True)
class CtResult:
    keyword: str
    names: tuple[str, ...] = ()
    error_kind: ErrorKind | None = None
    error: str = ""
    recent: bool = False        # a generic keyword's answer: recent certificates only


def ct_url(url_template: str, keyword: str) -> str:
    return url_template.replace("{query}", "%25" + quote(keyword.strip(), safe="") + "%25")


def names_from(rows: object) -> tuple[str, ...]:
    """Sorted distinct host names from crt.sh JSON rows (pure)."""
    return tuple(sorted({name for _, name in _row_names(_rows(rows))}))


def recent_names_from(rows: object, since: datetime, cap: int) -> tuple[str, ...]:
    """Sorted distinct host names of the certificates logged at ``since`` or later (crt.sh's
    ``entry_timestamp``, else ``not_before``; naive times are UTC), at most ``cap`` of them, the most
    recently logged first (pure). A row with no readable time is left out: it cannot be shown recent."""
    dated: list[tuple[datetime, int, str]] = []
    for i, (row, name) in enumerate(_row_names(_rows(rows))):
        when = _logged(row)
        if when is not None and when >= since:
            dated.append((when, -i, name))
    kept: set[str] = set()
    for _, _, name in sorted(dated, reverse=True):
        if len(kept) >= cap:
            break
        kept.add(name)
    return tuple(sorted(kept))


def _rows(rows: object) -> list[object]:
    if not isinstance(rows, list):
        # bad data from the server, not a programming error: callers handle ValueError
        raise ValueError("CT answer is not a JSON list")  # noqa: TRY004
    return rows


def _row_names(rows: list[object]) -> Iterator[tuple[dict[str, object], str]]:
    for row in rows:
        if not isinstance(row, dict):
            continue
        for field in ("name_value", "common_name"):
            value = row.get(field)
            if not isinstance(value, str):
                continue
            for name in value.splitlines():
                name = name.strip().lower().rstrip(".")
                name = name.removeprefix("*.")
                if _NAME.match(name):
                    yield row, name


def _logged(row: dict[str, object]) -> datetime | None:
    for field in ("entry_timestamp", "not_before"):
        value = row.get(field)
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))  # noqa: FURB162
            except ValueError:
                continue
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


async def ct_search(url_template: str, keyword: str, *, timeout: float = 60.0,
                    max_bytes: int = 50_000_000) -> CtResult:
    """Names in certificates matching %keyword%; a failing source is a typed CtResult, not a crash."""
    url = ct_url(url_template, keyword)
    try:
        resp = await get(url, timeout=timeout, max_bytes=max_bytes)
    except SourceError as exc:
        return CtResult(keyword, error_kind=exc.kind, error=str(exc))
    if resp.status != 200:
        return CtResult(keyword, error_kind=ErrorKind.HTTP, error=f"HTTP {resp.status} from {url}")
    try:
        return CtResult(keyword, names=names_from(json.loads(resp.body.decode("utf-8", "replace") or "[]")))
    except ValueError as exc:
        return CtResult(keyword, error_kind=ErrorKind.MALFORMED, error=f"{url}: {exc}"[:300])
