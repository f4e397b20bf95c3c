"""A store that grows with change (issue 17 item 1), on SQLite and PostgreSQL: a repeated DNS answer
stamps the latest row instead of adding one, a new answer is a new row, and every history reader —
latest answer, status timeline, indicator first/last seen and counts, the last look before a loss —
answers as if every round had been written. Page bodies are kept once per SHA-256; a batch is one
transaction, so an interrupted round keeps the batches committed before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from detect.fingerprints import dns_indicators
from detect.model import Classification, DnsResult, HttpFetch, Rcode, Status
from storage import migrate, observations, views, watchlist
from storage.models import BodyRow, IndicatorRow, ObservationRow, PageRow, UtcDateTime
from storage.observations import DnsWrite, PageSketch
from storage.store import Store

T0 = datetime(2024, 9, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)


def _answer(name: str, *addresses: str, ns: str = "ns1.host.ltd") -> DnsResult:
    return DnsResult(name=name, rcode=Rcode.NOERROR, records={"A": addresses, "NS": (ns,)})


def _round(store: Store, answers: list[DnsResult], when: datetime) -> observations.DnsWritten:
    with store.transaction() as session:
        return observations.record_dns_batch(
            session, [DnsWrite(a.name, a, dns_indicators(a)) for a in answers], now=when)


def _dns_rows(store: Store, name: str) -> list[ObservationRow]:
    with store.transaction() as session:
        return list(session.scalars(select(ObservationRow).where(ObservationRow.kind == "dns",
                                                                 ObservationRow.domain_id == _id(session, name))
                                    .order_by(ObservationRow.id)))


def _id(session, name: str) -> int:  # type: ignore[no-untyped-def]
    from storage.watchlist import domain_row

    row = domain_row(session, name)
    assert row is not None
    return row.id


@pytest.fixture
def two(store: Store) -> Store:
    with store.transaction() as session:
        watchlist.add_domains(session, ["a.ltd", "b.pm"], campaign="t", origin="seed", now=T0)
    return store


def test_a_repeated_answer_stamps_the_latest_row_and_a_new_one_adds_a_row(two: Store) -> None:
    for i in range(4):
        done = _round(two, [_answer("a.ltd", "192.0.2.1"), _answer("b.pm", "192.0.2.9")], T0 + i * STEP)
        assert (done.written, done.stamped) == ((2, 0) if i == 0 else (0, 2))
    rows = _dns_rows(two, "a.ltd")
    assert len(rows) == 1
    assert (rows[0].observed_at, rows[0].prev_seen_at, rows[0].last_seen_at, rows[0].repeats) == (
        T0, T0 + 2 * STEP, T0 + 3 * STEP, 3)
    # the same values in another order are the same answer; another address is not
    assert _round(two, [_answer("a.ltd", "192.0.2.1")], T0 + 4 * STEP).stamped == 1
    assert _round(two, [_answer("a.ltd", "192.0.2.2", "192.0.2.1")], T0 + 5 * STEP).written == 1
    assert _round(two, [_answer("a.ltd", "192.0.2.1", "192.0.2.2")], T0 + 6 * STEP).stamped == 1
    rows = _dns_rows(two, "a.ltd")
    assert [(r.observed_at, r.last_seen_at, r.repeats) for r in rows] == [
        (T0, T0 + 4 * STEP, 4), (T0 + 5 * STEP, T0 + 6 * STEP, 1)]
    with two.transaction() as session:
        latest = observations.latest_dns(session, "a.ltd")
        indicators = session.scalar(select(func.count()).select_from(IndicatorRow)
                                    .where(IndicatorRow.domain_id == _id(session, "a.ltd")))
        probed = watchlist.domain_row(session, "a.ltd")
    assert latest is not None and set(latest.get("A")) == {"192.0.2.1", "192.0.2.2"}
    assert latest.observed_at == T0 + 6 * STEP  # the answer as last seen
    assert probed is not None and probed.last_probed == T0 + 6 * STEP
    # indicators are written with each new answer only: ip, ip_prefix, ns, ns_domain, then two ips more
    assert indicators == 4 + 5


def test_recording_one_round_twice_changes_nothing(two: Store) -> None:
    _round(two, [_answer("a.ltd", "192.0.2.1")], T0)
    _round(two, [_answer("a.ltd", "192.0.2.1")], T0 + STEP)
    again = _round(two, [_answer("a.ltd", "192.0.2.1")], T0 + STEP)
    assert (again.written, again.stamped) == (0, 0)
    [row] = _dns_rows(two, "a.ltd")
    assert (row.prev_seen_at, row.last_seen_at, row.repeats) == (T0, T0 + STEP, 1)


def test_indicator_views_count_every_look_and_the_last_one(two: Store) -> None:
    """What /api/domains/{name} and /api/pivot show is what one row a round would have shown."""
    for i in range(5):
        _round(two, [_answer("a.ltd", "192.0.2.1"), _answer("b.pm", "192.0.2.1" if i >= 3 else "192.0.2.9")],
               T0 + i * STEP)
    with two.transaction() as session:
        detail = views.domain_detail(session, "a.ltd")
        hit = views.pivot(session, "ip", "192.0.2.1")
    assert detail is not None
    ip = next(i for i in detail.indicators if i.kind == "ip")
    assert (ip.first_seen, ip.last_seen, ip.observations, ip.domains) == (T0, T0 + 4 * STEP, 5, 2)
    assert hit is not None
    assert [(h.domain.name, h.first_seen, h.last_seen, h.observations) for h in hit.hits] == [
        ("a.ltd", T0, T0 + 4 * STEP, 5), ("b.pm", T0 + 3 * STEP, T0 + 4 * STEP, 2)]


def test_a_status_change_starts_a_new_row_so_the_last_look_before_a_loss_stays_exact(two: Store) -> None:
    """Seized by banner with the DNS answer unchanged: the look before the seizure is still known."""
    same = _answer("a.ltd", "192.0.2.1")
    for i in range(3):
        _round(two, [same], T0 + i * STEP)
        with two.transaction() as session:
            watchlist.set_status(session, "a.ltd", Classification(Status.ACTIVE, "200"), T0 + i * STEP)
    seized_at = T0 + 3 * STEP
    _round(two, [same], seized_at)  # the round that sees the banner: DNS first, then the verdict
    with two.transaction() as session:
        watchlist.set_status(session, "a.ltd", Classification(Status.SEIZED, "banner"), seized_at)
    for i in range(4, 7):
        _round(two, [same], T0 + i * STEP)
    rows = _dns_rows(two, "a.ltd")
    assert [(r.observed_at, r.last_seen_at) for r in rows] == [(T0, seized_at), (T0 + 4 * STEP, T0 + 6 * STEP)]
    with two.transaction() as session:
        assert observations.last_observed_before(session, "a.ltd", seized_at) == T0 + 2 * STEP
        assert observations.last_observed_before(session, "a.ltd", T0 + 5 * STEP) == T0 + 4 * STEP
        assert observations.last_observed_before(session, "a.ltd", T0) is None
        before = observations.latest_indicators(session, "a.ltd", before=seized_at)
        history = watchlist.status_history(session, "a.ltd")
    assert {i.value for i in before if i.kind == "ip"} == {"192.0.2.1"}
    assert [(c.status, c.since) for c in history] == [("active", T0), ("seized", seized_at)]


def test_an_interrupted_round_keeps_the_batches_committed_before(two: Store) -> None:
    _round(two, [_answer("a.ltd", "192.0.2.1")], T0)
    with pytest.raises(KeyError, match="gone.ltd"):  # the second batch fails: all of it is rolled back
        _round(two, [_answer("b.pm", "192.0.2.9"), _answer("gone.ltd", "192.0.2.3")], T0)
    with two.transaction() as session:
        assert observations.latest_dns(session, "a.ltd") is not None
        assert observations.latest_dns(session, "b.pm") is None


def _fetch(domain: str, body: bytes) -> HttpFetch:
    return HttpFetch(domain=domain, url=f"https://{domain}/", final_url=f"https://{domain}/", status=200,
                     body=body, headers=(("content-type", "text/html"),))


def test_a_page_body_is_kept_once_however_many_pages_show_it(two: Store) -> None:
    body = b"<html><title>Der Spiegel</title>" + b"x" * 5000 + b"</html>"
    with two.transaction() as session:
        for i, domain in enumerate(["a.ltd", "b.pm", "a.ltd"]):
            observations.record_http(session, _fetch(domain, body), (), PageSketch(), now=T0 + i * STEP)
        observations.record_http(session, _fetch("b.pm", b"other"), (), PageSketch(), now=T0 + 3 * STEP)
    with two.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BodyRow)) == 2
        assert session.scalar(select(func.count()).select_from(PageRow)) == 4
        [a] = observations.latest_http(session, "a.ltd", with_body=True)
        [b] = observations.latest_http(session, "b.pm", with_body=True)
    assert (a.body, b.body) == (body, b"other")


def test_a_crawl_batch_writes_what_one_fetch_at_a_time_writes(two: Store) -> None:
    from detect.model import Indicator
    from storage.observations import HttpWrite

    body = b"<html><title>Der Spiegel</title>" + b"y" * 3000 + b"</html>"
    fetches = [_fetch("a.ltd", body), _fetch("b.pm", body), _fetch("b.pm", b"")]
    sketches = [PageSketch(title="Der Spiegel", minhash=b"m1", tlsh="T1"), PageSketch(), PageSketch()]
    inds = [(Indicator("ip", "192.0.2.1"), Indicator("ip", "192.0.2.1"), Indicator("ga", "UA-1-1")), (), ()]

    def rows(store: Store) -> list[tuple[object, ...]]:
        with store.transaction() as session:
            obs = [(r.kind, r.url, r.title, r.http_status, r.raw) for r in
                   session.scalars(select(ObservationRow).where(ObservationRow.kind == "http").order_by(ObservationRow.id))]
            pages = [(p.body_sha256, p.minhash, p.tlsh) for p in session.scalars(select(PageRow).order_by(PageRow.observation_id))]
            indicators = [(i.kind, i.value) for i in session.scalars(select(IndicatorRow).order_by(IndicatorRow.id))]
            bodies = session.scalar(select(func.count()).select_from(BodyRow))
            crawled = [watchlist.domain_row(session, d).last_crawled for d in ("a.ltd", "b.pm")]  # type: ignore[union-attr]
        return [tuple(obs), tuple(pages), tuple(indicators), (bodies,), tuple(crawled)]

    with two.transaction() as session:
        ids = observations.record_http_batch(
            session, [HttpWrite(f, i, s) for f, i, s in zip(fetches, inds, sketches)], now=T0 + STEP)
    assert len(ids) == 3 and ids == sorted(ids)
    batched = rows(two)
    with two.transaction() as session:
        session.execute(sa.delete(IndicatorRow))
        session.execute(sa.delete(PageRow))
        session.execute(sa.delete(ObservationRow))
        session.execute(sa.delete(BodyRow))
        for domain in ("a.ltd", "b.pm"):
            watchlist.domain_row(session, domain).last_crawled = None  # type: ignore[union-attr]
    with two.transaction() as session:
        for f, i, s in zip(fetches, inds, sketches):
            observations.record_http(session, f, i, s, now=T0 + STEP)
    assert rows(two) == batched
    assert batched[3] == (1,) and batched[4] == (T0 + STEP, T0 + STEP)
    assert batched[2] == (("ip", "192.0.2.1"), ("ga", "UA-1-1"))


def test_an_archived_copy_older_than_the_last_crawl_does_not_move_last_crawled_back(two: Store) -> None:
    with two.transaction() as session:
        observations.record_http(session, _fetch("a.ltd", b"new"), (), PageSketch(), now=T0 + 2 * STEP)
        row = watchlist.domain_row(session, "a.ltd")
        assert row is not None and row.last_crawled == T0 + 2 * STEP
        observations.record_http(session, _fetch("a.ltd", b"old"), (), PageSketch(), now=T0)
        assert row.last_crawled == T0 + 2 * STEP
        observations.record_http(session, _fetch("a.ltd", b"newer"), (), PageSketch(), now=T0 + 3 * STEP)
        assert row.last_crawled == T0 + 3 * STEP  # the session's own row object sees the write


def test_a_crawl_batch_naming_a_domain_not_in_the_store_writes_nothing(two: Store) -> None:
    from storage.observations import HttpWrite

    with pytest.raises(KeyError, match="gone.ltd"), two.transaction() as session:
        observations.record_http_batch(session, [HttpWrite(_fetch("a.ltd", b"x")), HttpWrite(_fetch("gone.ltd", b"y"))],
                                       now=T0)
    with two.transaction() as session:
        assert observations.latest_http(session, "a.ltd") == []


def test_the_migration_moves_existing_bodies_and_keeps_old_rows_as_one_look_each(config) -> None:  # type: ignore[no-untyped-def]
    import gzip

    store = Store.from_url(config.storage.url)
    try:
        migrate.upgrade(store.engine, "0004")
        body = b"<html>kept</html>"
        with store.transaction() as session:
            watchlist.add_domains(session, ["a.ltd"], campaign="", origin="seed", now=T0)
        when = sa.column("observed_at", UtcDateTime())
        old_obs = sa.table("observations", sa.column("id"), sa.column("domain_id"), sa.column("kind"), when,
                           sa.column("error"), sa.column("raw"))
        old_pages = sa.table("pages", sa.column("observation_id"), sa.column("domain_id"),
                             sa.column("body_gz", sa.LargeBinary()), sa.column("truncated"))
        with store.engine.begin() as conn:
            for oid in (1, 2):
                conn.execute(old_obs.insert().values(id=oid, domain_id=1, kind="http", observed_at=T0 + oid * STEP,
                                                     error="", raw="{}"))
                conn.execute(old_pages.insert().values(observation_id=oid, domain_id=1, body_gz=gzip.compress(body),
                                                       truncated=False))
        migrate.upgrade(store.engine)
        with store.transaction() as session:
            assert session.scalar(select(func.count()).select_from(BodyRow)) == 1
            [fetch] = observations.latest_http(session, "a.ltd", with_body=True)
            rows = session.execute(select(ObservationRow.observed_at, ObservationRow.last_seen_at,
                                          ObservationRow.repeats).order_by(ObservationRow.id)).all()
        assert fetch.body == body
        assert [tuple(r) for r in rows] == [(T0 + STEP, T0 + STEP, 0), (T0 + 2 * STEP, T0 + 2 * STEP, 0)]
    finally:
        store.close()
