"""A sweep's network-bound sources on their own (issue 17): each records once what resolved, with its
cursors advanced in the same transaction; merged in SOURCES order they give exactly what the sweep's one
resolve after the other gave (the routes world's CT, NRD and pDNS routes on the sandbox)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from crawler import run as reactor_run
from crawler.sourcestate import SourceMemo
from detect.hunt_order import better
from detect.model import Candidate, Indicator
from detect.names import split
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from sandbox.net import Sandbox
from scheduler import hunt_sources as sources
from scheduler.components import Components
from scheduler.hunt_pdns import pdns_asked
from scheduler.hunt_report import HuntReport
from scheduler.hunt_resolve import Resolved, Wildcards, resolve
from scheduler.name_screen import NameScreen
from scheduler.source_state import PendingMemory
from scheduler.sweep_parts import consume
from scheduler.sweep_sources import SOURCES, SourceInputs, SourcePlan, merge_sources, sweep_source
from storage import source_state, sweep_sources, watchlist
from storage.store import Store

NOW = datetime(2026, 12, 6, tzinfo=UTC)
ROUTES = Path(__file__).resolve().parents[1] / "worlds" / "routes"


def _record(store: Store, sweep: int, source: str, found: list[tuple[str, str, str]], *, memo_date: str = "",
            errors: tuple[str, ...] = ()) -> bool:
    memos = [source_state.SourceStateValue(key=f"nrd-feed {source}", last_date=memo_date, updated_at=NOW)] if memo_date else []
    got = sweep_sources.SourceRecord(
        found=[sweep_sources.SourceFound(source, n, by, via, "", f"fp-{n}") for n, by, via in found],
        generated=len(found) + 10, wildcards=[], memos=memos,
        report={"source_errors": list(errors), "source_notes": [f"{source}: note"], "truncated": 1})
    with store.transaction() as session:
        return sweep_sources.record(session, sweep, source, got, worker="w", now=NOW)


def test_a_source_recorded_twice_keeps_its_first_record_and_its_first_cursor(store: Store) -> None:
    assert _record(store, 4, "nrd", [("a.ltd", "nrd", "feed")], memo_date="2026-12-01")
    # a second run (a retry, a stalled job queued again): nothing recorded, the cursor not moved on
    assert not _record(store, 4, "nrd", [("b.ltd", "nrd", "feed")], memo_date="2026-12-05")
    with store.transaction() as session:
        assert [f.name for f in sweep_sources.found_of(session, 4, "nrd")] == ["a.ltd"]
        state = source_state.load(session, "nrd-feed nrd")
        assert state is not None and state.last_date == "2026-12-01"


def test_a_sources_cursor_waits_for_its_record(store: Store) -> None:
    memory = PendingMemory(store)
    memory.remember("nrd-feed x", SourceMemo(last_date="2026-12-02"))
    assert memory.recall("nrd-feed x") is not None  # the source itself sees it at once
    with store.transaction() as session:
        assert source_state.load(session, "nrd-feed x") is None  # the store does not, until recorded
    got = sweep_sources.SourceRecord(found=[], generated=0, wildcards=[], report={}, memos=memory.pending())
    with store.transaction() as session:
        assert sweep_sources.record(session, 1, "nrd", got, worker="w", now=NOW)
    with store.transaction() as session:
        state = source_state.load(session, "nrd-feed x")
        assert state is not None and state.last_date == "2026-12-02"


def test_sources_merge_in_their_order_after_what_the_sweep_found(store: Store) -> None:
    _record(store, 3, "pdns", [("x.ltd", "pdns", "pDNS ip 192.0.2.1")], errors=("pdns 192.0.2.9: timeout",))
    _record(store, 3, "ct", [("x.ltd", "ct", "keyword"), ("skip.ltd", "ct", "keyword")])
    _record(store, 3, "nrd", [("x.ltd", "nrd", "feed"), ("y.ltd", "nrd", "feed")])
    seen = Candidate("x.ltd", "similar", "a.ltd (text Jaccard 0.90)", "a.ltd")
    found = {"x.ltd": Resolved(seen, "fp-earlier")}
    report = HuntReport(generated=5, resolved=1)
    parts = cast(Components, cast(Any, SimpleNamespace(store=store)))
    merge_sources(parts, sweep=3, plan=SourcePlan(("ct", "nrd", "pdns"), SourceInputs((), (), (), ())),
                  skip={"skip.ltd"}.__contains__, report=report, into=found)
    want = better(better(better(seen, Candidate("x.ltd", "ct", "keyword")), Candidate("x.ltd", "nrd", "feed")),
                  Candidate("x.ltd", "pdns", "pDNS ip 192.0.2.1"))
    assert found["x.ltd"] == Resolved(want, "fp-earlier") and found["y.ltd"].fingerprint == "fp-y.ltd"
    assert "skip.ltd" not in found
    assert (report.generated, report.resolved, report.truncated) == (5 + 12 + 12 + 11, 2, 3)
    assert report.source_notes == ["ct: note", "nrd: note", "pdns: note"]  # SOURCES order, not recording order
    assert report.source_errors == ["pdns 192.0.2.9: timeout"]
    with pytest.raises(RuntimeError, match="not recorded"):
        merge_sources(parts, sweep=3, plan=SourcePlan(("ct", "zone"), SourceInputs((), (), (), ())),
                      skip=lambda _n: False, report=HuntReport(), into={})
    consume(parts, sweep=3, now=NOW)
    with store.transaction() as session:  # the names consumed, the markers kept
        assert sweep_sources.found_of(session, 3, "ct") == [] and len(sweep_sources.sources_of(session, 3)) == 3


def _parts(sb: Sandbox, url: str) -> Components:
    over = sb.config_overrides()
    cfg = from_mapping({**over, "storage": {"url": url},
                        "discovery": {**over["discovery"], **sb.pdns_settings(), "pdns_max_per_query": 50}},
                       source="(test)")
    store = Store.from_url(cfg.storage.url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, sb.seeds, campaign=sb.campaign, origin="seed", now=NOW)
    return Components.from_settings(cfg, store, load_signatures())


@pytest.mark.sandbox
def test_sources_on_their_own_merge_to_what_one_resolve_after_the_other_finds(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(ROUTES, "seizure")
    # the dead site's address and name servers: the NRD feed's replacement and pDNS's names sit on them
    infra = (Indicator("ip", "91.215.85.23"), Indicator("ns", "ns1.hostzona.net"), Indicator("ns", "ns2.hostzona.net"))
    names = tuple(sorted(sb.seeds))
    inputs = SourceInputs(names, tuple(sorted({split(d).label for d in names})), infra,
                          tuple((i, "libertywire.press") for i in infra))
    # two stores: each source's memory (ETags) is its own
    whole_parts, split_parts = _parts(sb, f"sqlite:///{tmp_path / 'a.db'}"), _parts(sb, f"sqlite:///{tmp_path / 'b.db'}")
    skip = set(names).__contains__

    async def main() -> tuple[dict[str, Resolved], HuntReport, dict[str, Resolved], HuntReport, list[bool]]:
        parts = whole_parts
        whole, one, wildcards = {}, HuntReport(), Wildcards(parts, salt=NOW.isoformat())

        async def run(cands: Any) -> None:
            await resolve(parts, cands, skip=skip, wildcards=wildcards, report=one, into=whole)

        # as the sweep resolved them in its own job before: one after the other, one screen
        await run(await sources.ct_candidates(parts, names, one, now=NOW))
        screen = NameScreen.for_hunt(parts, inputs.labels, infra)
        await run(sources.nrd_candidates(parts, inputs.labels, frozenset(infra), one, screen, now=NOW))
        await run(pdns_asked(parts, inputs.asked, set(names), infra, screen, one))
        plan = SourcePlan(("ct", "nrd", "pdns"), inputs)
        ran = [await sweep_source(split_parts, sweep=8, source=s, inputs=inputs, now=NOW)
               for s in reversed(plan.sources)]  # as workers would: in any order
        ran.append(await sweep_source(split_parts, sweep=8, source="ct", inputs=inputs, now=NOW))  # again: nothing
        merged, parted = {}, HuntReport()
        merge_sources(split_parts, sweep=8, plan=plan, skip=skip, report=parted, into=merged)
        return whole, one, merged, parted, ran

    try:
        whole, one, merged, parted, ran = reactor_run.run(main)
        with split_parts.store.transaction() as session:  # the NRD feed's validators, kept with its record
            assert f"nrd {split_parts.config.discovery.nrd_feeds[0]}" in _keys(session)
    finally:
        for parts in (whole_parts, split_parts):
            reactor_run.run(parts.close)
            parts.store.close()
    assert ran == [True, True, True, False]
    assert {"lw-today.site", "eurotruth-news.xyz"} <= set(whole), sorted(whole)
    assert merged == whole  # the same names, each with the same discovery and answer
    assert (parted.generated, parted.resolved, parted.truncated) == (one.generated, one.resolved, one.truncated)
    assert parted.source_notes == one.source_notes and parted.source_errors == one.source_errors
    assert set(SOURCES) >= {"ct", "nrd", "pdns"}


def _keys(session: Any) -> list[str]:
    from storage.models import SourceStateRow

    return [row.key for row in session.query(SourceStateRow)]
