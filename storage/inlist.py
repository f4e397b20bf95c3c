"""One way to query by a list of values: in chunks, so no IN (...) list outgrows a backend's limit.

PostgreSQL takes at most 65,535 bind parameters a statement and SQLite 32,766 (older builds 999);
a value list a site can grow (indicators of a page, names of a feed) must never be one statement.
Every IN list over a variable list in storage/ goes through :func:`chunks`
(tests/storage/test_inlist.py keeps it that way).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

IN_CHUNK = 500  # values per IN (...) list: well under every backend's parameter limit


def chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``values`` deduplicated (first occurrence kept) in lists of at most ``size``; nothing for nothing."""
    batch: list[T] = []
    seen: set[T] = set()
    for value in values:
        if value in seen:
            continue
        seen.add(value)
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
