"""A round's banner re-check in batches (issue 17, scheduler/recheck_jobs.py): the batches, whatever their
order, record the status changes, statuses and takedown mails of the embedded process's one re-check; a
batch recorded runs no second time; the job's payload is the one the workers check and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from detect import fingerprints
from detect.model import DnsResult, HttpFetch, Rcode, Status
from hydrawatch.bundled import load_signatures
from hydrawatch.config import Config, from_mapping
from scheduler import recheck_jobs
from scheduler.components import Components
from scheduler.observe import ObserveReport, recheck_banners, takedown_pages
from storage import observations, watchlist
from storage.observations import DnsWrite, HttpWrite, PageSketch
from storage.store import Store
from storage.values import StatusChange

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=2)
BANNER = ("<html><head><title>Notice</title></head><body><img src='https://banners.agency.example/eagle.jpg'>"
          "<p>{domain}</p></body></html>")
SEIZED = "zzzcourier.info"
SHOWS = ["aaaherald.info", "mmmgazette.info"]  # serve the banner; nothing else says they were seized
NEWS = ["bbbnews.info", "cccdaily.info", "dddpost.info"]
ROUND = sorted([SEIZED, *SHOWS, *NEWS])


def _page(name: str) -> str:
    if name == SEIZED or name in SHOWS:
        return BANNER.format(domain=name)
    return (f"<html><head><title>{name}</title></head><body><h1>{name}</h1><p>{name} brings the news of the day, "
            f"the region and the world.</p></body></html>")


def _world(store: Store) -> None:
    """Every domain active with its page crawled in the round (``NOW``); SEIZED found seized in it."""
    with store.transaction() as session:
        watchlist.add_domains(session, ROUND, campaign="quill", origin="seed", now=T0)
        dns = [DnsWrite(n, r := DnsResult(n, Rcode.NOERROR, {"A": ("185.44.12.20",), "NS": (
            "ns1.fbi.seized.gov" if n == SEIZED else "ns1.quillhost.net",)}), tuple(fingerprints.dns_indicators(r)))
               for n in ROUND]
        observations.record_dns_batch(session, dns, now=NOW)
        http = []
        for n in ROUND:
            fetch = HttpFetch(domain=n, url=f"http://{n}/", final_url=f"http://{n}/", status=200,
                              headers=(("content-type", "text/html"),), body=_page(n).encode(), ip="185.44.12.20",
                              observed_at=NOW)
            made = fingerprints.fetch_print(fetch)
            http.append(HttpWrite(fetch, made.indicators, PageSketch(made.title, made.minhash, made.tlsh)))
        observations.record_http_batch(session, http, now=NOW)
        session.execute(text("UPDATE domains SET status = 'active', status_since = :t"), {"t": T0})
        session.execute(text("UPDATE domains SET status = 'seized', status_since = :t WHERE name = :n"),
                        {"t": NOW, "n": SEIZED})


def _parts(store: Store, config: Config) -> Components:
    return Components.from_settings(config, store, load_signatures())


def _seen(store: Store) -> dict[str, Any]:
    with store.transaction() as session:
        return {"statuses": sorted(tuple(r) for r in session.execute(text("SELECT name, status FROM domains"))),
                "changes": sorted(tuple(r) for r in session.execute(text(
                    "SELECT d.name, c.previous, c.status FROM status_changes c JOIN domains d ON d.id = c.domain_id"))),
                "takedowns": int(session.execute(text("SELECT count(*) FROM takedown_outbox")).scalar_one())}


def _round_report() -> ObserveReport:
    """The round's own report: it found SEIZED seized (what makes a re-check due)."""
    return ObserveReport(changes=[(SEIZED, StatusChange(status=Status.SEIZED, reason="name servers", since=NOW,
                                                        previous=Status.ACTIVE))])


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1]])
def test_the_batches_in_any_order_record_what_one_embedded_recheck_records(store: Store, config: Config,
                                                                           tmp_path: Path, order: list[int]) -> None:
    embedded_config = from_mapping({"storage": {"url": f"sqlite:///{tmp_path / 'embedded.db'}"},
                                    "alerts": {"takedowns": True}}, source="(test)")
    config = from_mapping({"storage": {"url": config.storage.url}, "alerts": {"takedowns": True}}, source="(test)")
    alone = Store.from_url(embedded_config.storage.url)
    alone.init()
    try:
        _world(alone)
        with alone.transaction() as session:
            before = takedown_pages(session, before=NOW)  # the banners known before the round: none
        assert before == {}
        report = _round_report()
        recheck_banners(_parts(alone, embedded_config), ROUND, before, NOW, report)
        expected = _seen(alone)
        assert [(d, c.status) for d, c in report.changes[1:]] == [(d, "seized") for d in SHOWS]
    finally:
        alone.close()
    assert ("aaaherald.info", "seized") in expected["statuses"] and expected["takedowns"] == 2

    _world(store)
    parts = _parts(store, config)
    with store.transaction() as session:
        banners = takedown_pages(session)
    assert banners and set(banners.values()) == {SEIZED}
    batches = recheck_jobs.plan_rechecks(ROUND, 2)
    assert batches == [ROUND[0:2], ROUND[2:4], ROUND[4:]]
    for index in order:
        assert recheck_jobs.recheck_batch(parts, parent=5, round_name="watched", index=index, domains=batches[index],
                                          banners=banners, now=NOW, hunts=[index + 100])
    assert _seen(store) == expected
    found, hunts = recheck_jobs.collect(parts, parent=5, round_name="watched", count=len(batches), now=NOW)
    assert [(d, c.previous, c.status) for d, c in found.changes] == [(d, "active", "seized") for d in SHOWS]
    assert hunts == [100, 101, 102]
    # a batch run again finds its record: nothing re-classified, nothing recorded twice
    assert not recheck_jobs.recheck_batch(parts, parent=5, round_name="watched", index=0, domains=batches[0],
                                          banners=banners, now=NOW)
    assert _seen(store) == expected
    with store.transaction() as session:
        records = session.execute(text("SELECT count(*) FROM cycles WHERE kind = 'recheck:watched'")).scalar_one()
    assert records == len(batches)
    # another round of the same job keeps records of its own
    with pytest.raises(RuntimeError, match="re-check batch"):
        recheck_jobs.collect(parts, parent=5, round_name="sweep", count=1, now=NOW)


@pytest.mark.fast
def test_the_payload_written_is_the_payload_checked_and_read_back() -> None:
    pytest.importorskip("procrastinate")
    from scheduler.cluster import MalformedJob, _check

    banners = {"k1": SEIZED, "picture:ab": SEIZED}
    batches = recheck_jobs.plan_rechecks(ROUND, 4)
    assert batches == [ROUND[:4], ROUND[4:]]
    assert recheck_jobs.plan_rechecks(ROUND, 5000) == [ROUND]
    for batch, payload in zip(batches, recheck_jobs.payloads(batches, banners, parent=3, round_name="lost", now=NOW),
                              strict=True):
        assert _check(payload) == "recheck"
        assert recheck_jobs.from_payload(payload) == (batch, banners)
    good = recheck_jobs.payloads(batches, banners, parent=3, round_name="lost", now=NOW)[0]
    for bad in ({"round": "other"}, {"banners": [["k1"]]}, {"banners": "k1"}, {"domains": []}, {"index": -1},
                {"at": "2026-11-03T00:00:00"}, {"extra": 1}):
        with pytest.raises(MalformedJob):
            _check({**good, **bad})
    with pytest.raises(MalformedJob):
        _check({k: v for k, v in good.items() if k != "banners"})
