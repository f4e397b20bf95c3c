"""Fixtures of the hostile suite: one sandbox of the hostile world (proxy mode) for the session, and
the counting trap its SSRF redirects point at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.net import Sandbox
from tests.hostile.trap import Trap
from tests.hostile.worlds import hostile_world


@pytest.fixture(scope="session")
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.close()


@pytest.fixture(scope="session")
def hostile_world_sb(trap: Trap) -> Iterator[Sandbox]:
    with Sandbox.start(hostile_world(trap.port), "one") as sb:
        yield sb


@pytest.fixture
def hsb(hostile_world_sb: Sandbox) -> Iterator[Sandbox]:
    """The hostile sandbox, reset (no run-time behaviours, empty proxy log, no mail) around each test."""
    hostile_world_sb.reset("one")
    yield hostile_world_sb
    hostile_world_sb.reset("one")
