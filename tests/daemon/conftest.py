"""Fixtures for the daemon tests: a prepared store and config file for the real `hydrawatch run`."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from detect.names import split
from sandbox.net import Sandbox
from sandbox.world import packaged_world
from storage import watchlist
from storage.store import Store
from tests.support import DaemonProcess, StoreView, write_config
from tests.support.pg import PG_URL, fresh_schema


@dataclass
class Setup:
    sandbox: Sandbox
    config: Path
    url: str
    view: StoreView
    tmp: Path

    def daemon(self, *extra: str, log: str = "daemon.log") -> DaemonProcess:
        return DaemonProcess(self.config, self.tmp / log, *extra)


# Suffixes the daemon tests sweep besides the world's own: discovery over every ICANN TLD is the
# doppelganger-world and demo tests' job; here it would only make each cycle slower to wait for.
COMMON_TLDS = ("com", "net", "org", "info", "io", "co", "me", "ru", "de", "fr", "uk", "us", "xyz", "top",
               "site", "online", "news", "press", "live", "pro")


# The doppelganger world's candidates are tld-swaps, CT and NRD names, outlinks and shared hosts: none of
# its names is a typo of another, so the typo fuzzers' ~4,000-9,000 names a label (over the network's
# suffixes) all get NXDOMAIN, and a cycle resolves and observes the same candidates without them
# (README, suite time). A test on that world whose point is alerts or the cluster's bookkeeping rather than
# a sweep's length sweeps tld-swap only; a test that must kill a process mid-sweep or mid-hunt keeps every
# fuzzer, so that the sweep lasts long enough to be killed in. The doppelganger-world and demo tests sweep
# with every fuzzer, as does the routes world (it has a typo replacement).
QUICK_SWEEP: dict[str, Any] = {"fuzzers": ["tld-swap"]}


def world_tlds(sandbox: Sandbox) -> list[str]:
    """Every suffix the world's domains use (any phase), plus COMMON_TLDS."""
    seen = {split(d).suffix for view in sandbox.world.views.values() for d in view.domains}
    return sorted(seen | set(COMMON_TLDS))


def prepare(sandbox: Sandbox, url: str, tmp: Path, seeds: bool = True, **sections: dict[str, Any]) -> Setup:
    """Initialise the store at ``url``, watch the world's seeds, write the daemon's config file
    (discovery over the world's suffixes and COMMON_TLDS unless ``sections`` says otherwise)."""
    sections = {**sections, "discovery": {"tlds": world_tlds(sandbox), **sections.get("discovery", {})}}
    store = Store.from_url(url)
    try:
        store.init()
        if seeds:
            with store.transaction() as session:
                watchlist.add_domains(session, sandbox.seeds, campaign=sandbox.campaign, origin="seed",
                                      now=datetime.now(UTC))
    finally:
        store.close()
    config = write_config(tmp / "hydrawatch.toml", sandbox, url, **sections)
    return Setup(sandbox, config, url, StoreView(url), tmp)


@pytest.fixture
def setup(sandbox: Sandbox, tmp_path: Path) -> Iterator[Setup]:
    s = prepare(sandbox, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    yield s
    s.view.close()


@dataclass(frozen=True)
class Answers:
    replacements: frozenset[tuple[str, str, str]]  # (from, to, relation) that must be found
    optional: frozenset[str]  # network sites that may be reported (as clones of anything)
    decoys: frozenset[str]  # never a clone

    def check_edges(self, edges: list[tuple[str, str, str]]) -> None:
        assert self.replacements <= set(edges), sorted(self.replacements - set(edges))
        extra = set(edges) - self.replacements
        assert {to for _, to, _ in extra} <= self.optional, sorted(extra)
        assert not {to for _, to, _ in edges} & self.decoys


@pytest.fixture(scope="session")
def answers() -> Answers:
    data = tomllib.loads((packaged_world("doppelganger-2024") / "answers.toml").read_text(encoding="utf-8"))
    return Answers(frozenset((r["from"], r["to"], r["relation"]) for r in data["phases"]["seizure"]["replacements"]),
                   frozenset(data["optional"]), frozenset(data["decoys"]))


@pytest.fixture
def other_pg_url(pg_ok: bool) -> Iterator[str]:
    """A second fresh schema (the embedded twin of a cluster store: the cluster tests compare the two)."""
    if not pg_ok:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    with fresh_schema() as url:
        yield url
