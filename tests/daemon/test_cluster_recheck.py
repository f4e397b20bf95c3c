"""A round's banner re-check as jobs (issue 17, scheduler/recheck_jobs.py): a seizure banner first seen in
one batch of a round makes a domain of another batch, classified active by its own batch before the banner
was known, seized — the re-check's ``recheck`` jobs, shared by the workers, find it, as the embedded
process's re-check does: the same status changes, statuses and takedown mails, one hunt per takedown.

The order is forced, not hoped for: every site of the world is on one address, more sites than a crawl
batch holds, so the round's crawl batches carry that host's procrastinate lock and run one after another in
their order (scheduler/cluster_plan.py); the domain that shows the banner without any seizure sign of its
own (``aaa…``) is in the first batch, the one the agency seized (``zzz…``, its name servers a seizure
sign) in the last. (Without the re-check jobs the first domain stays active in cluster mode: the test
fails on the statuses.)"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.daemon.conftest import prepare
from tests.daemon.test_cluster import QUIET, Worker, both_once, last_cycle, mails_to, started, statuses

pytest.importorskip("procrastinate")

pytestmark = [pytest.mark.sandbox, pytest.mark.postgres]

HOSTING = {"ns": ["ns1.quillhost.net", "ns2.quillhost.net"], "a": ["185.44.12.20"]}
SHOWS = "aaaherald.info"    # batch 0: serves the agency's banner, nothing else says it was seized
SEIZED = "zzzcourier.info"  # last batch: seized (the agency's name servers), serves the banner
OTHERS = [f"mmmnews{i}.info" for i in range(6)]
BANNER = ("<html><head><title>Notice</title></head><body><img src='https://banners.agency.example/eagle.jpg'>"
          "<p>{domain}</p></body></html>")  # wordless: only a seized domain's showing it makes it a seizure


def _world() -> dict[str, Any]:
    def site(name: str) -> dict[str, Any]:
        page = (f"<!doctype html><html><head><title>{name}</title></head><body><h1>{name}</h1>"
                f"<p>{name} brings the news of the day, the region and the world, every day.</p></body></html>")
        return {**HOSTING, "web": {"pages": {"/": {"html": page}}, "https": False}}

    def banner(name: str) -> dict[str, Any]:
        return {"web": {"pages": {"/": {"html": BANNER.format(domain=name)}}, "https": False}}

    names = sorted([SHOWS, SEIZED, *OTHERS])
    return {"world": {"name": "banner-recheck", "campaign": "quill", "seeds": names},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "seizure": {"clock": "2025-03-12T12:00:00Z", "domains": {
                           SHOWS: banner(SHOWS),
                           SEIZED: {**banner(SEIZED), "ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"]}}}},
            "domains": {d: site(d) for d in names}}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_banner_first_seen_in_one_batch_seizes_a_domain_another_batch_found_active(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path, pg_url: str, other_pg_url: str) -> None:
    sb = make_sandbox(_world(), "before")
    common: dict[str, Any] = {"schedule": QUIET, "discovery": {"tlds": ["info"], "fuzzers": ["tld-swap"]},
                              "rdap": {"cache_hours": 0}, "crawler": {"host_delay": 0.2}}
    (tmp_path / "embedded").mkdir()
    (tmp_path / "cluster").mkdir()
    # batches of 2: the embedded process runs them in the same order, then its re-check in the round's job
    embedded = prepare(sb, other_pg_url, tmp_path / "embedded", cluster={"observe_batch": 2},
                       alerts={"mail_to": ["embedded@sandbox.test"], "takedowns": True}, **common)
    clustered = prepare(sb, pg_url, tmp_path / "cluster", alerts={"mail_to": ["cluster@sandbox.test"], "takedowns": True},
                        cluster={"enabled": True, "periodic": False, "observe_batch": 2, "poll_seconds": 0.2}, **common)
    workers = [Worker(clustered.config, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        for w in workers:
            started(w)
        alone, shared = both_once(embedded.config, clustered.config)  # every site active, its address stored
        assert alone == shared and set(statuses(clustered.config).values()) == {"active"}, (alone, shared)
        sb.set_phase("seizure")
        alone, shared = both_once(embedded.config, clustered.config)
        differ = {k: (shared.get(k), alone.get(k)) for k in set(shared) | set(alone) if shared.get(k) != alone.get(k)}
        assert not differ, json.dumps(differ, indent=1)
        assert shared["status_changes"] == [(SHOWS, "active", "seized"), (SEIZED, "active", "seized")]
        assert sorted(shared["lost"]) == [SHOWS, SEIZED]
        assert statuses(clustered.config) == statuses(embedded.config)
        cycle = last_cycle(clustered)
        v = clustered.view
        # the round's batches ran one after another, the banner's domain first: its batch found it active
        batches = {r[0]["index"]: r[0] for r in v.rows(
            "SELECT stats FROM cycles WHERE kind = 'batch' AND outcome = 'ok' AND (stats->>'parent')::int = :c "
            "AND stats->>'round' = 'watched'", c=cycle)}
        first = next(i for i, b in batches.items() if any(c["domain"] == SEIZED for c in b["status_changes"]))
        assert not any(c["domain"] == SHOWS for b in batches.values() for c in b["status_changes"]), batches
        assert first == max(batches), batches
        # the re-check: recheck jobs (every domain of the round, in batches of 2), each recorded once, on ≥ 2
        # workers; the one that held the banner's domain seized it
        rechecks = [r[0] for r in v.rows("SELECT stats FROM cycles WHERE kind = 'recheck:watched' "
                                         "AND (stats->>'parent')::int = :c ORDER BY id", c=cycle)]
        assert sorted(r["index"] for r in rechecks) == list(range(4)), rechecks
        assert sum(r["checked"] for r in rechecks) == 8
        assert [c["domain"] for r in rechecks for c in r["status_changes"]] == [SHOWS], rechecks
        assert len({r["worker"] for r in rechecks}) >= 2, rechecks
        jobs = v.rows("SELECT status FROM procrastinate_jobs WHERE args->>'kind' = 'recheck' "
                      "AND (args->>'parent')::int = :c", c=cycle)
        assert [s for (s,) in jobs] == ["succeeded"] * 4, jobs
        # one hunt per takedown: hunted inline by the round's job; the hunts the batch and the re-check
        # queued with the status changes cancelled
        hunts = v.rows("SELECT args->'domains'->>0, status FROM procrastinate_jobs WHERE args->>'kind' = 'hunt'")
        assert sorted(hunts) == [(SHOWS, "cancelled"), (SEIZED, "cancelled")], hunts
        assert v.cycles("hunt") == 0
        # one takedown mail each, in both modes
        sb.wait_for_messages(4, timeout=30)
        ours, theirs = mails_to(sb, "cluster@"), mails_to(sb, "embedded@")
        assert sorted(str(m["Subject"]) for m in ours) == sorted(str(m["Subject"]) for m in theirs)
        assert len(ours) == 2 and all(any(d in str(m["Subject"]) for m in ours) for d in (SHOWS, SEIZED)), \
            [str(m["Subject"]) for m in ours]
    finally:
        for w in workers:
            w.signal(signal.SIGTERM)
        for w in workers:
            assert w.wait(30) == 0, w.log[-3000:]
        clustered.view.close()
        embedded.view.close()
