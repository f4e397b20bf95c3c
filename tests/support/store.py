"""A read-only SQL look into a store another process (or the in-process CLI) writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text


class StoreView:
    """Read-only SQL look into a store (a separate engine, short transactions)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def edges(self) -> list[tuple[str, str, str]]:
        return sorted(self.rows("SELECT s.name, d.name, e.relation FROM edges e JOIN domains s ON s.id = e.from_id "
                                "JOIN domains d ON d.id = e.to_id"))

    def cycles(self, kind: str | None = None, outcome: str | None = None) -> int:
        sql = "SELECT count(*) FROM cycles WHERE 1=1"
        if kind:
            sql += " AND kind = :kind"
        if outcome:
            sql += " AND outcome = :outcome"
        return int(self.scalar(sql, kind=kind, outcome=outcome))

    def close(self) -> None:
        self.engine.dispose()
