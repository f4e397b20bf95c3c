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
from scheduler.sweep_sources import (
    SOURCES,
    SourceInputs,
    SourcePlan,
    merge_sources,
    plan_sources,
    sweep_source,
)
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


@pytest.mark.sandbox
def test_the_names_from_the_store_in_slices_merge_to_what_one_resolve_finds(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    """Hub links and similar pages resolved in slices (cluster mode: `names:<k>` jobs, any worker, any
    order) and merged as the sweep's first sources give what one resolve over them gave: the same names,
    discoveries, answers and counts, a name met in two slices merged with the better discovery, a watched
    name never asked, a name that does not resolve left out."""
    sb = make_sandbox(ROUTES, "seizure")
    seed = "libertywire.press"
    names = [Candidate("lw-today.site", "similar", f"{seed} (text overlap 0.90)", seed),
             Candidate("no-such-site-hw.site", "outlink", f"{seed} links to it", seed),
             Candidate(seed, "outlink", "a watched name", seed),
             Candidate("eurotruth-news.xyz", "similar", f"{seed} (text overlap 0.70)", seed),
             Candidate("lw-today.site", "redirect", f"{seed} redirects to it", seed),  # in the next slice: merged
             Candidate("eurotruth-news.xyz", "lookalike", "tld-swap", seed)]
    whole_parts, split_parts = _parts(sb, f"sqlite:///{tmp_path / 'a.db'}"), _parts(sb, f"sqlite:///{tmp_path / 'b.db'}")
    skip = set(sb.seeds).__contains__

    async def main() -> tuple[dict[str, Resolved], HuntReport, dict[str, Resolved], HuntReport, list[str]]:
        whole, one = {}, HuntReport()
        await resolve(whole_parts, names, skip=skip, wildcards=Wildcards(whole_parts, salt=NOW.isoformat()),
                      report=one, into=whole)
        plan = plan_sources(split_parts, [], [], names=names, per_slice=2)
        for source in reversed(plan.sources):  # as workers would: in any order
            assert await sweep_source(split_parts, sweep=9, source=source, inputs=plan.inputs, now=NOW,
                                      names=plan.names_of(source))
        merged, parted = {}, HuntReport()
        merge_sources(split_parts, sweep=9, plan=plan, skip=skip, report=parted, into=merged, names=True)
        return whole, one, merged, parted, list(plan.sources)

    try:
        whole, one, merged, parted, planned = reactor_run.run(main)
    finally:
        for parts in (whole_parts, split_parts):
            reactor_run.run(parts.close)
            parts.store.close()
    assert planned[:3] == ["names:0", "names:1", "names:2"] and "names:3" not in planned
    assert sorted(whole) == ["eurotruth-news.xyz", "lw-today.site"]
    assert whole["lw-today.site"].candidate.source == "redirect"  # the better of its two discoveries
    assert whole["eurotruth-news.xyz"].candidate.source == "similar"
    assert merged == whole  # the same names, each with the same discovery and answer
    assert (parted.generated, parted.resolved) == (one.generated, one.resolved) == (6, 2)


def test_a_sweep_plans_its_store_names_first_and_each_slices_job_carries_its_candidates() -> None:
    from scheduler.cluster import MalformedJob, _check

    cfg = from_mapping({"discovery": {"nrd_feeds": ["https://feeds.example/nrd.txt"]}})
    names = [Candidate(f"n{i}.ltd", "outlink", "a.ltd links to it", "a.ltd") for i in range(5)]
    plan = plan_sources(cast(Components, cast(Any, SimpleNamespace(config=cfg))), [], [], names=names, per_slice=2)
    assert plan.sources == ("names:0", "names:1", "names:2", "nrd")
    assert [len(plan.names_of(s)) for s in plan.sources] == [2, 2, 1, 0]
    one = plan_sources(cast(Components, cast(Any, SimpleNamespace(config=cfg))), [], [], names=names)
    assert one.sources == ("names:0", "nrd") and one.names_of("names:0") == tuple(names)  # embedded: one slice
    assert plan_sources(cast(Components, cast(Any, SimpleNamespace(config=cfg))), [], []).sources == ("nrd",)
    # a slice's number does not depend on how many slices come before the configured sources
    assert [plan.index(s) for s in plan.sources] == [10_000, 10_001, 10_002, 0] and one.index("nrd") == 0
    jobs = [{"kind": "source", "sweep": 7, "index": plan.index(s), "source": s, **plan.payload(s),
             "at": NOW.isoformat()} for s in plan.sources]
    assert jobs[2]["candidates"] == [["n4.ltd", "outlink", "a.ltd links to it", "a.ltd"]] and "candidates" not in jobs[3]
    assert [_check(j) for j in jobs] == ["source"] * 4
    for bad in ({**jobs[0], "candidates": []}, {k: v for k, v in jobs[0].items() if k != "candidates"},
                {**jobs[3], "candidates": jobs[0]["candidates"]}, {**jobs[0], "candidates": [["", "x", "", ""]]},
                {**jobs[0], "source": "names:01"}, {**jobs[0], "source": "names:x"},
                {**jobs[0], "index": 0}, {**jobs[3], "index": 10_000}):  # a number not the source's
        with pytest.raises(MalformedJob):
            _check(bad)


def test_a_resumed_sweep_knows_which_names_no_recorded_slice_was_asked(store: Store) -> None:
    """A killed attempt recorded slice names:0 of its names; the retried one reads other names from the
    store (a name deferred meanwhile comes first), so its slice 0 is not the recorded one and is not run
    again (recorded under that name): the names only its plan gave slice 0 were asked by no slice. The
    sweep then leaves such a deferred name deferred instead of marking it unresolved."""
    from scheduler.sweep_sources import names_digest, unasked

    def cand(name: str) -> Candidate:
        return Candidate(name, "outlink", "a.ltd links to it", "a.ltd")

    parts = cast(Components, cast(Any, SimpleNamespace(store=store, config=from_mapping({}))))
    first = plan_sources(parts, [], [], names=[cand("b.ltd"), cand("c.ltd"), cand("d.ltd")], per_slice=2)
    for source in first.sources:
        got = sweep_sources.SourceRecord(found=[], generated=2, wildcards=[],
                                         report={"asked": names_digest(first.names_of(source))})
        with store.transaction() as session:
            sweep_sources.record(session, 5, source, got, worker="w", now=NOW)
    assert unasked(parts, sweep=5, plan=first) == set()  # every slice recorded as planned
    again = plan_sources(parts, [], [], names=[cand("new.ltd"), cand("b.ltd"), cand("c.ltd"), cand("d.ltd")],
                         per_slice=2)
    # slice 0 is now new.ltd and b.ltd (recorded: b.ltd and c.ltd), slice 1 c.ltd and d.ltd (recorded: d.ltd)
    assert unasked(parts, sweep=5, plan=again) == {"new.ltd", "b.ltd", "c.ltd", "d.ltd"}
    same = plan_sources(parts, [], [], names=[cand("c.ltd"), cand("b.ltd"), cand("d.ltd")], per_slice=2)
    assert unasked(parts, sweep=5, plan=same) == set()  # the same names in a slice, in another order


def test_a_resumed_sweep_asks_again_the_names_of_slices_recorded_with_other_names(store: Store) -> None:
    """The killed first attempt recorded names:0 and names:1 with its names; the retry's store gives a new
    deferred name first, so both slices now hold other names and are not run again (recorded). Their
    names go in slices of their own, numbered after every recorded slice and after every other source;
    once those are recorded, every name was asked."""
    from scheduler.sweep_sources import names_digest, resumed_names, unasked

    def cand(name: str) -> Candidate:
        return Candidate(name, "outlink", "a.ltd links to it", "a.ltd")

    def record(plan: SourcePlan, source: str) -> None:
        got = sweep_sources.SourceRecord(found=[], generated=0, wildcards=[],
                                         report={"asked": names_digest(plan.names_of(source))})
        with store.transaction() as session:
            sweep_sources.record(session, 6, source, got, worker="w", now=NOW)

    cfg = from_mapping({"discovery": {"nrd_feeds": ["https://feeds.example/nrd.txt"]}})
    parts = cast(Components, cast(Any, SimpleNamespace(store=store, config=cfg)))
    first = plan_sources(parts, [], [], names=[cand("b.ltd"), cand("c.ltd"), cand("d.ltd")], per_slice=2)
    assert resumed_names(parts, sweep=6, plan=first, per_slice=2) == first  # nothing recorded yet
    for source in first.sources:
        if source != "nrd":
            record(first, source)
    again = plan_sources(parts, [], [], names=[cand("new.ltd"), cand("b.ltd"), cand("c.ltd"), cand("d.ltd")],
                         per_slice=2)
    resumed = resumed_names(parts, sweep=6, plan=again, per_slice=3)
    assert resumed.sources == ("names:0", "names:1", "nrd", "names:2", "names:3")
    assert [c.domain for c in resumed.names_of("names:2")] == ["new.ltd", "b.ltd", "c.ltd"]
    assert [c.domain for c in resumed.names_of("names:3")] == ["d.ltd"]
    assert resumed.index("nrd") == again.index("nrd") == 0 and resumed.index("names:3") == 10_003
    assert unasked(parts, sweep=6, plan=resumed) == {"new.ltd", "b.ltd", "c.ltd", "d.ltd"}
    for source in ("names:2", "names:3"):
        record(resumed, source)
    assert unasked(parts, sweep=6, plan=resumed) == set()
    assert resumed.again == {"names:0", "names:1"}
    assert resumed_names(parts, sweep=6, plan=resumed, per_slice=3) is resumed  # not asked a third time


def test_a_slice_of_the_first_attempt_still_running_at_the_retry_has_its_names_asked_again(store: Store) -> None:
    """The killed first attempt's slice names:0 was still running when the retry began (not recorded, so
    the retry's plan keeps it, and its run waits for it): it records the first attempt's names, not the
    retry's. The retry finds that once its sources ran, and asks that slice's names (a name deferred
    meanwhile among them) again in a slice of its own, in a second run; then every name was asked. A
    sweep whose slices all record what it gave them runs once."""
    from scheduler.sweep_sources import ask_sources, names_digest, unasked

    def cand(name: str) -> Candidate:
        return Candidate(name, "outlink", "a.ltd links to it", "a.ltd")

    def record(source: str, names: tuple[Candidate, ...]) -> None:
        got = sweep_sources.SourceRecord(found=[], generated=0, wildcards=[], report={"asked": names_digest(names)})
        with store.transaction() as session:
            sweep_sources.record(session, 7, source, got, worker="w", now=NOW)

    cfg = from_mapping({"discovery": {"nrd_feeds": ["https://feeds.example/nrd.txt"]}})
    parts = cast(Components, cast(Any, SimpleNamespace(store=store, config=cfg)))
    first = plan_sources(parts, [], [], names=[cand("b.ltd"), cand("c.ltd"), cand("d.ltd")], per_slice=2)
    retry = plan_sources(parts, [], [], names=[cand("new.ltd"), cand("b.ltd"), cand("c.ltd"), cand("d.ltd")],
                         per_slice=2)
    runs: list[tuple[str, ...]] = []

    async def run(plan: SourcePlan) -> None:  # as run_sweep: what is recorded is skipped, the rest runs
        runs.append(plan.sources)
        with store.transaction() as session:
            done = {d.source for d in sweep_sources.sources_of(session, 7)}
        for source in plan.sources:
            if source not in done:  # names:0 is the first attempt's job, waited for: it records its names
                record(source, first.names_of(source) if source == "names:0" and len(runs) == 1
                       else plan.names_of(source))

    asked = reactor_run.run(lambda: ask_sources(parts, sweep=7, plan=retry, per_slice=2, run=run))
    assert runs == [("names:0", "names:1", "nrd"), ("names:0", "names:1", "nrd", "names:2")]
    assert [c.domain for c in asked.names_of("names:2")] == ["new.ltd", "b.ltd"]  # the retry's slice 0
    assert asked.again == {"names:0"}
    assert unasked(parts, sweep=7, plan=asked) == set()
    runs.clear()
    again = plan_sources(parts, [], [], names=[cand("x.ltd")], per_slice=2)
    assert reactor_run.run(lambda: ask_sources(parts, sweep=8, plan=again, per_slice=2, run=run)) is again
    assert len(runs) == 1
