"""No query's IN (...) list grows with what a site shows: every variable list goes through
storage.inlist.chunks, and a domain with 70,000 indicator values (the page that showed 70,003
tracking ids) or a value 66,000 domains share is still shown — PostgreSQL refuses a statement with
more than 65,535 parameters, SQLite one with more than 32,766. And an observation keeps at most
MAX_PER_KIND values of a kind."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from detect.indicator_kinds import MAX_PER_KIND
from detect.model import HttpFetch
from scheduler.observe import http_indicators_of
from storage import observations, views, watchlist
from storage.inlist import chunks
from storage.models import DomainRow, IndicatorRow, ObservationRow
from storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
MANY = 70_000
CONSTANT_LISTS = {"LIVE_STATUSES", '("pending", "sending")'}  # fixed literals, never grown by input


def test_every_in_list_is_chunked() -> None:
    offenders = []
    for package in ("storage", "scheduler", "hydrawatch"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for arg in re.findall(r"\.(?:not)?in_\(((?:[^()]|\([^()]*\))*)\)", line):
                    if arg.strip() not in {"chunk", *CONSTANT_LISTS}:
                        offenders.append(f"{path.relative_to(ROOT)}:{number}: in_({arg})")
    assert not offenders, "IN lists not built by storage.inlist.chunks:\n" + "\n".join(offenders)


def test_chunks_deduplicate_and_bound() -> None:
    got = list(chunks([3, 1, 3, *range(1200)], size=500))
    assert [len(c) for c in got] == [500, 500, 200] and got[0][:3] == [3, 1, 0]
    assert list(chunks([])) == []


def _domain(session, name: str) -> int:  # type: ignore[no-untyped-def]
    watchlist.add_domains(session, [name], campaign="t", origin="seed", now=NOW)
    return int(session.scalar(select(DomainRow.id).where(DomainRow.name == name)))


def test_domain_detail_with_70000_indicator_values(store: Store) -> None:
    """/api/domains/{name} reads views.domain_detail: its sharers query was one IN list of every value."""
    with store.transaction() as session:
        domain_id = _domain(session, "flood.info")
        session.add(obs := ObservationRow(domain_id=domain_id, kind="http", observed_at=NOW))
        session.flush()
        # rows as a store written before the per-observation cap holds them
        session.execute(insert(IndicatorRow), [
            {"domain_id": domain_id, "observation_id": obs.id, "kind": "ga", "value": f"G-{i:010d}",
             "observed_at": NOW} for i in range(MANY)])
    with store.transaction() as session:
        detail = views.domain_detail(session, "flood.info")
    assert detail is not None and len(detail.indicators) == MANY
    assert all(i.domains == 1 for i in detail.indicators[:10])


def test_pivot_on_a_value_66000_domains_share(store: Store) -> None:
    count = 66_000
    with store.transaction() as session:
        session.execute(insert(DomainRow), [
            {"name": f"d{i}.info", "campaign": "t", "tags": [], "origin": "seed", "first_seen": NOW,
             "last_seen": NOW, "status": "unknown", "status_reason": "", "watched": True} for i in range(count)])
        ids = list(session.scalars(select(DomainRow.id)))
        session.execute(insert(ObservationRow), [
            {"domain_id": d, "kind": "http", "observed_at": NOW, "error": ""} for d in ids])
        obs = list(session.execute(select(ObservationRow.id, ObservationRow.domain_id)))
        session.execute(insert(IndicatorRow), [
            {"domain_id": d, "observation_id": o, "kind": "ga", "value": "G-SHARED0001", "observed_at": NOW}
            for o, d in obs])
    with store.transaction() as session:
        found = views.pivot(session, "ga", "G-SHARED0001")
    assert found is not None and len(found.hits) == count


def test_an_observation_keeps_at_most_max_per_kind_values_of_a_kind(store: Store) -> None:
    body = ("<html><head><title>ids</title></head><body>"
            + "".join(f"<script>gtag('config', 'G-{i:010d}');</script>" for i in range(20_000))
            + "</body></html>").encode()
    fetch = HttpFetch(domain="ids.info", url="https://ids.info/", final_url="https://ids.info/", status=200,
                      headers=(("Content-Type", "text/html"),), body=body, observed_at=NOW)
    inds, sketch = http_indicators_of(fetch)
    assert sum(1 for i in inds if i.kind == "ga") == MAX_PER_KIND
    with store.transaction() as session:
        _domain(session, "ids.info")
        observations.record_http(session, fetch, inds + tuple(inds), sketch, now=NOW)
    with store.transaction() as session:
        stored = session.scalars(select(IndicatorRow.value).where(IndicatorRow.kind == "ga")).all()
    assert 0 < len(stored) <= MAX_PER_KIND
