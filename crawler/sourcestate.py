"""What a data source reader may remember between sweeps, and the interface of whoever keeps it.

The crawler never imports the store: the scheduler hands it a :class:`SourceMemory`
(scheduler/source_state.py keeps it in the store's ``source_state`` table; tests may keep it in a dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol


@dataclass(frozen=True)
class SourceMemo:
    """One source's memory: validators of its last answer (conditional GET), the ISO date of the last
    dated file read, a JSON-able cache (CT names per keyword), when it was last written."""

    etag: str = ""
    last_modified: str = ""
    last_date: str = ""
    cache: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    updated_at: datetime | None = None


class SourceMemory(Protocol):
    def recall(self, key: str) -> SourceMemo | None: ...

    def remember(self, key: str, memo: SourceMemo) -> None: ...


class DictMemory:
    """A SourceMemory in a dict (one process, nothing kept): for callers without a store."""

    def __init__(self) -> None:
        self.memos: dict[str, SourceMemo] = {}

    def recall(self, key: str) -> SourceMemo | None:
        return self.memos.get(key)

    def remember(self, key: str, memo: SourceMemo) -> None:
        self.memos[key] = memo
