"""Cluster mode's pure parts: [schedule] intervals as cron lines, and which job payloads are accepted."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

pytest.importorskip("procrastinate")

from scheduler.cluster import _LOSS_SINK, STAGES, MalformedJob, _check, _on_loss, conninfo, cron_for


@pytest.mark.parametrize(("seconds", "cron"), [
    (1, "* * * * * */1"), (2, "* * * * * */2"), (7, "* * * * * */6"), (59, "* * * * * */30"),
    (60, "*/1 * * * *"), (90, "*/1 * * * *"), (600, "*/10 * * * *"), (3599, "*/30 * * * *"),
    (3600, "0 */1 * * *"), (21600, "0 */6 * * *"), (36000, "0 */8 * * *"), (86400, "0 0 * * *"),
    (604800, "0 0 * * *"),
])
def test_intervals_become_cron_lines_never_slower_than_asked(seconds: int, cron: str) -> None:
    assert cron_for(seconds) == cron


def test_every_scheduled_stage_and_the_full_cycle_are_jobs() -> None:
    assert set(STAGES) == {"probe", "crawl", "discovery", "alerts", "cycle", "hunt", "observe", "sweep_part", "source",
                           "score", "recheck"}
    assert {kind for kind, (_job, lock, _key) in STAGES.items() if lock == "hydrawatch:work"} == {
        "probe", "crawl", "discovery", "cycle", "hunt"}
    assert STAGES["observe"][1] == ""  # a round's batches take no lock: every worker takes some
    assert STAGES["sweep_part"][1] == ""  # nor a sweep's parts
    assert STAGES["source"][1] == ""  # nor its sources
    assert STAGES["score"][1] == ""  # nor a hunt's score batches
    assert STAGES["recheck"][1] == ""  # nor a round's banner re-check batches


BATCH = {"kind": "observe", "domains": ["a.ltd"], "crawl": False, "parent": 7, "index": 0, "at": "2024-09-03T12:00:00+00:00"}
PART = {"kind": "sweep_part", "sweep": 7, "index": 1, "gone": ["a.ltd"], "live": [], "tlds": ["ltd", "pm"],
        "at": "2024-09-03T12:00:00+00:00"}
# as run_sweep writes it: SourceInputs.payload("pdns") of a network of one domain
SOURCE = {"kind": "source", "sweep": 7, "index": 4, "source": "pdns", "names": ["a.ltd"], "labels": ["a"],
          "infra": [["ip", "192.0.2.1"], ["ns", "ns1.host.ltd"]], "asked": [["ip", "192.0.2.1", "a.ltd"]],
          "at": "2024-09-03T12:00:00+00:00"}
# as scheduler/score_jobs.py writes it: batch 1 of hunt 7's scoring, one candidate of two, a network of two
SCORE = {"kind": "score", "parent": 7, "index": 1, "candidates": [["b.pm", "lookalike", "tld-swap", "b.ltd"]],
         "network": ["a.ltd", "b.ltd"], "everyone": ["a.pm", "b.pm"], "at": "2024-09-03T12:00:00+00:00"}


@pytest.mark.parametrize("payload", [
    {}, {"kind": "rm -rf"}, {"kind": ["probe"]}, {"kind": "probe", "extra": 1}, {"kind": "probe", "timestamp": "x"},
    {"kind": "probe", "domains": ["a.ltd"]}, {"kind": "hunt"}, {"kind": "hunt", "domains": []},
    {"kind": "hunt", "domains": "a.ltd"}, {"kind": "hunt", "domains": [1]}, {"kind": "hunt", "domains": ["x" * 254]},
    {"kind": "observe", "domains": ["a.ltd"]}, {**BATCH, "crawl": "yes"}, {**BATCH, "parent": -1},
    {**BATCH, "index": True}, {**BATCH, "at": "yesterday"}, {**BATCH, "at": "2024-09-03T12:00:00"},
    {**BATCH, "domains": []}, {**BATCH, "extra": 1}, {"kind": "hunt", "domains": ["a.ltd"], "crawl": False},
    {**BATCH, "round": "all"}, {**BATCH, "round": None}, {k: v for k, v in {**BATCH, "round": "lost"}.items() if k != "at"},
    {"kind": "sweep_part", "sweep": 7}, {**PART, "sweep": -1}, {**PART, "index": "1"}, {**PART, "gone": "a.ltd"},
    {**PART, "live": [3]}, {**PART, "tlds": None}, {**PART, "at": "2024-09-03"}, {**PART, "domains": ["a.ltd"]},
    {"kind": "source", "sweep": 7}, {**SOURCE, "source": "rm -rf"}, {**SOURCE, "index": 10_001},  # beyond any plan
    {**SOURCE, "sweep": -1}, {**SOURCE, "index": True}, {**SOURCE, "names": "a.ltd"}, {**SOURCE, "labels": [1]},
    {**SOURCE, "infra": [["ip"]]}, {**SOURCE, "infra": [["ip", 1]]}, {**SOURCE, "asked": [["ip", "192.0.2.1"]]},
    {**SOURCE, "asked": "x"}, {**SOURCE, "at": "2024-09-03T12:00:00"}, {**SOURCE, "extra": 1},
    {k: v for k, v in SOURCE.items() if k != "asked"},
    {"kind": "score", "parent": 7}, {**SCORE, "parent": -1}, {**SCORE, "index": "1"}, {**SCORE, "candidates": []},
    {**SCORE, "candidates": [["b.pm", "lookalike", "tld-swap"]]}, {**SCORE, "candidates": [["b.pm", 1, "", ""]]},
    {**SCORE, "candidates": "b.pm"}, {**SCORE, "candidates": [["c.pm", "lookalike", "", ""]]},  # not among everyone
    {**SCORE, "candidates": [["", "lookalike", "", ""]], "everyone": [""]}, {**SCORE, "network": "a.ltd"},
    {**SCORE, "network": [None]}, {**SCORE, "everyone": ["x" * 254]}, {**SCORE, "at": "2024-09-03T12:00:00"},
    {**SCORE, "extra": 1}, {k: v for k, v in SCORE.items() if k != "everyone"},
])
def test_a_payload_hydrawatch_did_not_write_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(MalformedJob, match="not a hydrawatch job payload"):
        _check(payload)


def test_the_payloads_hydrawatch_writes_are_accepted() -> None:
    assert _check({"kind": "probe", "timestamp": 1796524275}) == "probe"
    assert _check({"kind": "cycle"}) == "cycle"
    assert _check({"kind": "hunt", "domains": ["a.ltd"]}) == "hunt"
    assert _check(BATCH) == "observe"  # a watchlist round's batch (queued before batches named their round)
    assert all(_check({**BATCH, "round": r}) == "observe" for r in ("watched", "lost", "sweep"))
    assert _check(PART) == "sweep_part"
    assert _check(SOURCE) == "source"
    assert _check(SCORE) == "score"


def test_each_source_job_carries_what_its_source_reads() -> None:
    from detect.model import Indicator
    from scheduler.sweep_sources import SOURCES, SourceInputs

    ip, ns = Indicator("ip", "192.0.2.1"), Indicator("ns", "ns1.host.ltd")
    inputs = SourceInputs(("a.ltd",), ("a",), (ip, ns), ((ip, "a.ltd"),))
    assert SourceInputs.from_payload(inputs.payload("pdns")) == inputs  # pDNS reads everything
    assert SourceInputs.from_payload(inputs.payload("ct")) == SourceInputs(("a.ltd",), (), (), ())
    for screened in ("nrd", "zone", "certstream"):  # the name screen: labels and infrastructure
        assert SourceInputs.from_payload(inputs.payload(screened)) == SourceInputs((), ("a",), (ip, ns), ())
    assert inputs.payload("zone:net") == inputs.payload("zone")
    for index, name in enumerate([*SOURCES, "zone:net", "zone:co.uk", "zone:xn--p1ai"]):
        job = {"kind": "source", "sweep": 7, "index": index, "source": name, **inputs.payload(name),
               "at": "2024-09-03T12:00:00+00:00"}
        assert _check(job) == "source"
    for name in ("zone:", "zone:NET", "zone:a..b", "zone:" + "x" * 28, "zones", "zone:net;drop", 3):
        job = {"kind": "source", "sweep": 7, "index": 0, "source": name, **inputs.payload("ct"),
               "at": "2024-09-03T12:00:00+00:00"}
        with pytest.raises(MalformedJob, match="not a hydrawatch job payload"):
            _check(job)


def test_the_queue_lives_beside_the_store() -> None:
    url = "postgresql+psycopg://hw:s3cret@db.example:5433/hydrawatch?options=-csearch_path%3Dhw"
    assert conninfo(url) == "postgresql://hw:s3cret@db.example:5433/hydrawatch?options=-csearch_path%3Dhw"


def test_jobs_running_at_once_in_one_worker_each_queue_their_own_losses_hunts() -> None:
    """A worker runs a round's batches side by side (each a procrastinate job in its own asyncio task):
    a loss goes to the sink of the job that saw it, before and after another job ended (the shared
    Components once held one sink, set by whichever job started last and cleared by whichever ended
    first, so a batch's hunt could be logged by another batch after it had finished, never cancelled)."""
    sinks: dict[str, list[str]] = {"a": [], "b": []}
    session: Any = None

    async def job(name: str, steps: list[float]) -> None:
        _LOSS_SINK.set(lambda _s, domain: sinks[name].append(domain))
        for i, pause in enumerate(steps):
            await asyncio.sleep(pause)
            _on_loss(session, f"{name}{i}.ltd")

    async def main() -> None:
        # "b" starts last and ends first; "a" records losses before, during and after "b"
        await asyncio.gather(asyncio.create_task(job("a", [0, 0.02, 0.06])), asyncio.create_task(job("b", [0.01, 0.01])))
        _on_loss(session, "outside.ltd")  # no job: no sink

    asyncio.run(main())
    assert sinks == {"a": ["a0.ltd", "a1.ltd", "a2.ltd"], "b": ["b0.ltd", "b1.ltd"]}


@pytest.mark.parametrize(("periodic", "registered"), [
    (True, {"probe", "crawl", "discovery", "alerts", "reap"}),
    (False, {"reap"}),  # cycles come from `run --once` only; a dead worker's jobs are still queued again
])
def test_periodic_false_queues_no_stage_on_a_schedule_but_still_reaps(periodic: bool, registered: set[str]) -> None:
    from hydrawatch.config import from_mapping
    from scheduler.cluster import build_app

    cfg = from_mapping({"storage": {"url": "postgresql+psycopg://127.0.0.1/test"},
                        "cluster": {"enabled": True, "periodic": periodic}})
    app = build_app(cfg, cast(Any, SimpleNamespace()))  # the tasks only close over the worker's Components
    assert {task.periodic_id for task in app.periodic_registry.periodic_tasks.values()} == registered


def test_a_dns_budget_is_shared_equally_among_the_live_workers_never_above_each_ones_concurrency() -> None:
    from scheduler.cluster_plan import dns_share

    assert dns_share(0, 3, 512) == 512  # no budget: each worker its own [dns] concurrency
    assert dns_share(300, 3, 512) == 100
    assert dns_share(300, 0, 512) == 300  # no heartbeat seen yet (the first job of the first worker)
    assert dns_share(4096, 2, 512) == 512  # never above [dns] concurrency
    assert dns_share(2, 5, 512) == 1  # at least one question


def test_a_worker_s_prober_narrows_its_open_engine_to_its_share() -> None:
    import asyncio

    from crawler.dns import Prober
    from crawler.settings import Nameserver

    async def main() -> tuple[int, float, int]:
        prober = Prober([Nameserver("127.0.0.1", 53)], concurrency=512)
        engine = await prober._open()
        try:
            prober.limit(100)
            return engine.concurrency, engine.window.ceiling, prober.new_engine().concurrency
        finally:
            engine.close()

    assert asyncio.run(main()) == (100, 100.0, 100)
