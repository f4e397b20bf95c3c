"""A hunt's scoring in batches (issue 17, scheduler/score_jobs.py): whatever the batches and the order they
run in, the decisions, scores, evidence, edges and alerts are those of one view of the store taken before
any of them, the network as the hunt began (a clone one batch accepts is no evidence in another); a batch
recorded runs no second time; a retried hunt queues only the batches not recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from detect.model import Candidate
from detect.scoring import Discovery, score_candidate
from detect.similarity import minhash_of_text, tlsh_of_skeleton
from hydrawatch.config import Config
from scheduler import score_jobs
from scheduler.components import Components
from scheduler.hunt_report import HuntReport
from storage import candidates as candidate_store
from storage import watchlist
from storage.models import BodyRow, IndicatorRow, ObservationRow, PageRow
from storage.store import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
WORDS = ["nachrichten", "politik", "welt", "europa", "regierung", "wahrheit", "krieg", "frieden", "energie", "preise",
         "bauern", "medien"]


def _text(seed: int, n: int = 200) -> str:
    return " ".join(f"{WORDS[(seed * 7 + i * 5) % len(WORDS)]}{(seed * 13 + i * 3) % 37}" for i in range(n))


def _look(seed: int) -> str:
    tags = ["div", "p", "a", "span", "ul", "li", "section", "article", "h2", "nav"]
    return "".join(f"<{tags[(seed + i * 7) % len(tags)]} class=c{(seed * 3 + i) % 23}>" for i in range(300))


def _site(session: Session, name: str, *, ip: str, ns: str, ga: str, registered: datetime, page: str, look: str,
          origin: str, watched: bool) -> None:
    watchlist.add_domains(session, [name], campaign="bench" if watched else "", origin=origin, now=T0,
                          watched=watched)
    row = watchlist.domain_row(session, name)
    assert row is not None
    row.status, row.status_since = "active", T0
    if session.get(BodyRow, "0" * 64) is None:
        session.add(BodyRow(sha256="0" * 64, body_gz=b"", size=0, first_seen=T0))
    for kind, values, extra in (
            ("dns", {"ip": ip, "ip_prefix": ip.rsplit(".", 1)[0] + ".0/24", "ns": ns}, {"rcode": "NOERROR"}),
            ("http", {"ga": ga, "server": "nginx"} if ga else {"server": "nginx"},
             {"url": f"https://{name}/", "final_url": f"https://{name}/", "http_status": 200, "title": "News"}),
            ("rdap", {"registrar": "Registrar One"}, {"registrar": "Registrar One", "registered_at": registered})):
        obs = ObservationRow(domain_id=row.id, kind=kind, observed_at=T0, last_seen_at=T0, raw={}, **extra)
        session.add(obs)
        session.flush()
        for k, v in values.items():
            session.add(IndicatorRow(domain_id=row.id, observation_id=obs.id, kind=k, value=v, observed_at=T0))
        if kind == "http":
            session.add(PageRow(observation_id=obs.id, domain_id=row.id, body_sha256="0" * 64,
                                minhash=minhash_of_text(page), tlsh=tlsh_of_skeleton(look)))
    session.flush()


NETWORK = [f"net{i}.com" for i in range(6)]
# clone0..2 copy network pages (two operators); "chain.eu" copies only clone0 (its own analytics id, its
# text): it would be a clone if an accepted clone counted as network; strangers and a namesake are not.
CANDIDATES = [Candidate("net0.eu", "lookalike", "tld-swap", "net0.com"), Candidate("stranger1.xyz", "nrd", "feed"),
              Candidate("net1.ru", "lookalike", "tld-swap", "net1.com"), Candidate("chain.eu", "ct", "net0"),
              Candidate("stranger2.xyz", "nrd", "feed"), Candidate("net3.pw", "lookalike", "tld-swap", "net3.com"),
              Candidate("net5.cc", "lookalike", "tld-swap", "net5.com")]


def build(store: Store) -> None:
    with store.transaction() as session:
        for i, name in enumerate(NETWORK):
            op = i % 2
            _site(session, name, ip=f"10.{op}.0.{i + 1}", ns=f"ns1.op{op}host.net", ga=f"G-OP{op}",
                  registered=T0 - timedelta(days=400), page=_text(op) + " " + _text(100 + i, 20), look=_look(op),
                  origin="seed", watched=True)
        for i, c in enumerate(CANDIDATES):
            if c.domain.startswith("stranger"):
                _site(session, c.domain, ip=f"172.16.{i}.1", ns="ns1.bigdns.com", ga="",
                      registered=NOW - timedelta(days=900), page=_text(50 + i), look=_look(50 + i),
                      origin="candidate", watched=False)
            elif c.domain == "chain.eu":
                _site(session, c.domain, ip="172.20.0.9", ns="ns9.otherhost.org", ga="G-CHAIN",
                      registered=NOW - timedelta(days=1), page=_text(0) + " " + _text(300, 20), look=_look(0),
                      origin="candidate", watched=False)
            else:
                op = int(c.seed[3]) % 2
                _site(session, c.domain, ip=f"10.{op}.9.{i + 1}", ns=f"ns1.op{op}host.net",
                      ga="G-CHAIN" if c.domain == "net0.eu" else f"G-OP{op}", registered=NOW - timedelta(days=2),
                      page=_text(op) + " " + _text(200 + i, 20), look=_look(op), origin="candidate", watched=False)
        for c in CANDIDATES:
            candidate_store.upsert(session, c.domain, source=c.source, via=c.via, seed=c.seed, now=T0)


def parts_of(store: Store, config: Config) -> Components:
    return cast(Components, cast(Any, SimpleNamespace(store=store, config=config)))


def decisions(store: Store) -> dict[str, Any]:
    with store.transaction() as session:
        return {
            "candidates": sorted(tuple(r) for r in session.execute(text(
                "SELECT name, score, decision, CAST(evidence AS TEXT) FROM candidates ORDER BY name"))),
            "edges": sorted(tuple(r) for r in session.execute(text(
                "SELECT f.name, t.name, e.relation, e.confidence, CAST(e.evidence AS TEXT) FROM edges e "
                "JOIN domains f ON f.id = e.from_id JOIN domains t ON t.id = e.to_id"))),
            "watched": sorted(r[0] for r in session.execute(text("SELECT name FROM domains WHERE watched"))),
            "alerts": int(session.execute(text("SELECT count(*) FROM alert_outbox")).scalar_one()),
            "records": int(session.execute(text("SELECT count(*) FROM cycles WHERE kind = 'score'")).scalar_one())}


def test_the_payload_written_is_the_payload_checked_and_read_back() -> None:
    pytest.importorskip("procrastinate")
    from scheduler.cluster import _check

    plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, 3)
    assert [len(b.candidates) for b in plan.batches] == [3, 3, 1] and [b.index for b in plan.batches] == [0, 1, 2]
    for batch, payload in zip(plan.batches, score_jobs.payloads(plan, 7, NOW), strict=True):
        assert _check(payload) == "score"
        assert score_jobs.from_payload(payload) == (batch, plan.network, plan.everyone)


@pytest.mark.parametrize("size", [len(CANDIDATES), 3])
def test_any_batches_in_any_order_decide_as_one_view_of_the_store(store: Store, config: Config, size: int) -> None:
    build(store)
    parts = parts_of(store, config)
    everyone = [c.domain for c in CANDIDATES]
    view = score_jobs.read_inputs(parts, NETWORK, everyone)  # the embedded process's one view, before any decision
    expected = {c.domain: score_candidate(view.candidates[c.domain], view.network, view.stats,
                                          Discovery(c.source, c.via, c.seed), view.policy, now=NOW)
                for c in CANDIDATES}
    clones = [c.domain for c in CANDIDATES if expected[c.domain].is_clone]
    assert len(clones) >= 3 and not expected["chain.eu"].is_clone and not expected["stranger1.xyz"].is_clone
    # the test can fail: with net0.eu (a clone) in the network, chain.eu would be one too
    cascade = score_jobs.read_inputs(parts, [*NETWORK, "net0.eu"], everyone)
    assert score_candidate(cascade.candidates["chain.eu"], cascade.network, cascade.stats,
                           Discovery("ct", "net0", ""), cascade.policy, now=NOW).is_clone

    plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, size)
    for batch in reversed(plan.batches):  # the last batch first: the earlier ones run after its promotions
        assert score_jobs.score_batch(parts, parent=5, batch=batch, network=plan.network, everyone=plan.everyone,
                                      now=NOW)
    got = decisions(store)
    assert [(n, s, d) for n, s, d, _e in got["candidates"]] == sorted(
        (n, v.confidence, "clone" if v.is_clone else "rejected") for n, v in expected.items())
    assert {(f, t, rel) for f, t, rel, _c, _e in got["edges"]} == {
        (expected[n].predecessor, n, expected[n].relation.value) for n in clones}  # type: ignore[union-attr]
    assert got["watched"] == sorted([*NETWORK, *clones]) and got["alerts"] == len(clones)
    assert got["records"] == len(plan.batches)
    report = HuntReport()
    score_jobs.collect(parts, 5, plan, report)
    assert report.scored == len(CANDIDATES) and report.new_edges == len(clones)
    assert [c.candidate for c in report.clones] == clones  # in the hunt's order, whatever ran first
    assert [c.confidence for c in report.clones] == [expected[n].confidence for n in clones]


def test_the_same_decisions_and_evidence_from_one_batch_or_three(store: Store, config: Config) -> None:
    build(store)
    parts = parts_of(store, config)
    plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, 3)
    for batch in plan.batches:
        score_jobs.score_batch(parts, parent=5, batch=batch, network=plan.network, everyone=plan.everyone, now=NOW)
    three = decisions(store)
    with store.transaction() as session:  # the same store before scoring: decisions, edges, alerts undone
        session.execute(text("DELETE FROM alert_outbox"))
        session.execute(text("DELETE FROM edges"))
        session.execute(text("DELETE FROM cycles"))
        session.execute(text("UPDATE candidates SET score = NULL, decision = '', evidence = '[]'"))
        session.execute(text("UPDATE domains SET watched = false, origin = 'candidate', campaign = '' "
                             "WHERE origin = 'discovered'"))
    one = score_jobs.plan_scoring(CANDIDATES, NETWORK, len(CANDIDATES))
    score_jobs.score_batch(parts, parent=6, batch=one.batches[0], network=one.network, everyone=one.everyone, now=NOW)
    alone = decisions(store)
    assert {k: v for k, v in alone.items() if k != "records"} == {k: v for k, v in three.items() if k != "records"}
    assert (alone["records"], three["records"]) == (1, 3)


def test_a_recorded_batch_is_not_scored_again(store: Store, config: Config) -> None:
    build(store)
    parts = parts_of(store, config)
    plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, 3)
    assert score_jobs.score_batch(parts, parent=5, batch=plan.batches[0], network=plan.network,
                                  everyone=plan.everyone, now=NOW)
    first = decisions(store)
    assert first["alerts"] >= 1  # batch 0 holds clones: a second run would add their alerts
    assert not score_jobs.score_batch(parts, parent=5, batch=plan.batches[0], network=plan.network,
                                      everyone=plan.everyone, now=NOW + timedelta(minutes=1))
    assert decisions(store) == first
    with pytest.raises(RuntimeError, match=r"no record of score batch\(es\) \[1, 2\]"):
        score_jobs.collect(parts, 5, plan, HuntReport())


@pytest.mark.postgres
def test_a_retried_hunt_queues_only_the_batches_not_recorded(pg_url: str) -> None:
    pytest.importorskip("procrastinate")
    from hydrawatch.config import from_mapping
    from scheduler.cluster import STAGE_TASK, apply_schema

    config = from_mapping({"storage": {"url": pg_url}}, source="(test)")
    store = Store.from_url(pg_url)
    try:
        store.init()
        apply_schema(pg_url)
        build(store)
        parts = parts_of(store, config)
        plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, 3)
        with store.transaction() as session:
            children, ran = score_jobs.queue(session, STAGE_TASK, plan, parent=5, now=NOW, resume=False)
        assert len(children.jobs) == 3 and ran == plan and not children.resumed
        first = children.jobs
        # the first attempt's workers: batch 0 recorded (its job done), batch 1's job failed, batch 2's still queued
        score_jobs.score_batch(parts, parent=5, batch=plan.batches[0], network=plan.network, everyone=plan.everyone,
                               now=NOW)
        with store.transaction() as session:
            session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = :i"), {"i": first[0]})
            session.execute(text("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :i"), {"i": first[1]})
        # the retried hunt planned again after batch 0 promoted its clones: a network with one more member,
        # which its batches must not use
        again = score_jobs.plan_scoring(CANDIDATES, [*NETWORK, "net0.eu"], 3)
        with store.transaction() as session:
            children, ran = score_jobs.queue(session, STAGE_TASK, again, parent=5, now=NOW, resume=True)
        assert children.resumed and (children.done, children.waited) == (1, 1)
        assert ran == plan  # the first attempt's plan: its network
        assert children.jobs[0] == first[2] and len(children.jobs) == 2
        with store.transaction() as session:
            queued = session.execute(text("SELECT id, (args->>'index')::int, args->'network' FROM procrastinate_jobs "
                                          "WHERE args->>'kind' = 'score' ORDER BY id")).all()
        assert [(i, n) for i, n, _ in queued] == [(first[0], 0), (first[1], 1), (first[2], 2), (children.jobs[1], 1)]
        assert all(list(net) == NETWORK for _i, _n, net in queued)
        # the batches not recorded run (as a worker would), and the hunt's report has every batch
        for batch in ran.batches[1:]:
            assert score_jobs.score_batch(parts, parent=5, batch=batch, network=ran.network, everyone=ran.everyone,
                                          now=NOW)
        report = HuntReport()
        score_jobs.collect(parts, 5, ran, report)
        assert report.scored == len(CANDIDATES)
    finally:
        store.close()


@pytest.mark.postgres
def test_two_runs_of_one_batch_at_once_record_it_once(pg_url: str) -> None:
    """A batch job the reaper took for stalled runs twice at once: the second run's transaction waits for
    the first's claim and then finds its record."""
    import threading

    from storage import cycles

    store = Store.from_url(pg_url)
    try:
        store.init()
        outcome: list[bool] = []
        with store.transaction() as first:
            assert cycles.claim(first, score_jobs.SCORE, 5, 0)

            def second() -> None:
                with store.transaction() as session:
                    outcome.append(cycles.claim(session, score_jobs.SCORE, 5, 0))

            other = threading.Thread(target=second)
            other.start()
            other.join(1.0)
            assert other.is_alive() and outcome == []  # waits for the first run's transaction
            cycles.record(first, score_jobs.SCORE, NOW, {"parent": 5, "index": 0, "scored": 1})
        other.join(10)
        assert outcome == [False]
        with store.transaction() as session:
            assert cycles.claim(session, score_jobs.SCORE, 5, 1) and cycles.claim(session, score_jobs.SCORE, 6, 0)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_resumed_hunt_with_one_batch_of_fresh_candidates_takes_up_its_first_attempts_plan(pg_url: str) -> None:
    """The first attempt queued three score jobs; batches 1 and 2 recorded (clones promoted), batch 0's
    worker killed (its job still "doing"). The resumed hunt observed one candidate afresh (fewer than
    [cluster] score_batch): it takes up the first attempt's plan and network rather than scoring that
    candidate in its own job as its batch 0 against the watchlist as it now is (a cascade, and the first
    attempt's batch 0, queued again, would then find index 0 recorded: its candidates never decided)."""
    pytest.importorskip("procrastinate")
    import asyncio
    from types import SimpleNamespace

    import procrastinate

    from hydrawatch.config import from_mapping
    from scheduler import cluster
    from scheduler.hunt import _score_all

    config = from_mapping({"storage": {"url": pg_url}, "cluster": {"enabled": True, "score_batch": 3}},
                          source="(test)")
    store = Store.from_url(pg_url)
    try:
        store.init()
        cluster.apply_schema(pg_url)
        build(store)
        plan = score_jobs.plan_scoring(CANDIDATES, NETWORK, 3)
        base = parts_of(store, config)
        everyone = [c.domain for c in CANDIDATES]
        view = score_jobs.read_inputs(base, NETWORK, everyone)  # one view, before any decision
        expected = {c.domain: score_candidate(view.candidates[c.domain], view.network, view.stats,
                                              Discovery(c.source, c.via, c.seed), view.policy, now=NOW)
                    for c in CANDIDATES}
        with store.transaction() as session:
            children, _ran = score_jobs.queue(session, cluster.STAGE_TASK, plan, parent=5, now=NOW, resume=False)
        for job, batch in zip(children.jobs[1:], plan.batches[1:], strict=True):
            score_jobs.score_batch(base, parent=5, batch=batch, network=plan.network, everyone=plan.everyone, now=NOW)
            with store.transaction() as session:
                session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = :i"), {"i": job})
        with store.transaction() as session:
            session.execute(text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :i"),
                            {"i": children.jobs[0]})
            watched = [r[0] for r in session.execute(text("SELECT name FROM domains WHERE watched ORDER BY id"))]
        assert len(watched) > len(NETWORK)  # batches 1 and 2 promoted clones
        fresh = [plan.batches[1].candidates[0]]  # one candidate the resumed hunt observed again

        async def resumed() -> HuntReport:
            app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=cluster.conninfo(pg_url)))
            async with app.open_async():
                parts = cast(Components, cast(Any, SimpleNamespace(
                    store=store, config=config, progress=score_jobs.NULL,
                    run_score_batches=lambda parent, p, at: cluster.run_scoring(app, parts, p, parent=parent, now=at,
                                                                                resume=True, poll=0.05))))
                report = HuntReport()
                hunt = asyncio.ensure_future(_score_all(parts, list(watched), fresh, now=NOW, cycle_id=5,
                                                        report=report))
                await asyncio.sleep(0)  # the resumed hunt first, then the job its first attempt's worker left
                while not hunt.done():  # a worker: runs the score jobs left (batch 0's, its worker dead)
                    with store.transaction() as session:
                        left = session.execute(text("SELECT id, args FROM procrastinate_jobs WHERE "
                                                    "args->>'kind' = 'score' AND status IN ('todo', 'doing')")).all()
                    for job, args in left:
                        batch, network, names = score_jobs.from_payload(args)
                        score_jobs.score_batch(base, parent=5, batch=batch, network=network, everyone=names, now=NOW)
                        with store.transaction() as session:
                            session.execute(text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = :i"),
                                            {"i": job})
                    await asyncio.sleep(0.05)
                await hunt
                return report

        report = asyncio.run(resumed())
        got = decisions(store)
        assert [(n, s, d) for n, s, d, _e in got["candidates"]] == sorted(
            (n, v.confidence, "clone" if v.is_clone else "rejected") for n, v in expected.items())
        assert report.scored == len(CANDIDATES) and got["records"] == len(plan.batches)
    finally:
        store.close()
