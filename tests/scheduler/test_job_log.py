"""Every job is one row of the cycle log (scheduler/cycle.py ``_job``), whatever fails: its preparation
too (the store's statistics, the similarity index's refresh), which ran before the guarded part and left
the row ``running`` when it raised."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from scheduler import cycle
from scheduler.cycle import CycleReport
from storage import cycles
from storage.store import Store

NOW = datetime(2024, 9, 4, 12, 0, tzinfo=UTC)


class _Pages:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def refresh(self, store: Store) -> int:
        if self.error is not None:
            raise self.error
        return 0


def _parts(store: Store, error: Exception | None) -> Any:
    return SimpleNamespace(store=store, pages=_Pages(error), rdap=SimpleNamespace(take_counts=dict))


@pytest.mark.parametrize("error", [None, OperationalError("SELECT", {}, Exception("server closed the connection")),
                                   RuntimeError("index corrupt")])
def test_a_job_whose_preparation_fails_is_logged_failed_not_left_running(store: Store, error: Exception | None) -> None:
    ran: list[int] = []

    async def body(report: CycleReport) -> None:
        ran.append(report.cycle_id)

    job = cycle._job(_parts(store, error), "probe", NOW, body, {"job": 7})
    if error is None:
        asyncio.run(job)
    else:
        with pytest.raises(type(error)):
            asyncio.run(job)
    with store.transaction() as session:
        (row,) = cycles.recent(session)
    assert row["kind"] == "probe" and row["finished_at"] is not None and row["stats"]["job"] == 7
    assert row["outcome"] == ("ok" if error is None else "failed")
    assert ran == ([row["id"]] if error is None else [])
