"""pytest fixtures for tests that talk to the sandbox internet.

- `sandbox_world` (session): doppelganger-2024 in proxy mode, started once.
- `sandbox` (function): the same sandbox, reset to phase "before" with no hostile behaviours switched
  on and no recorded mail, before each test.
- `make_sandbox` (function): factory for a private sandbox of an inline world (dict) or a folder,
  stopped after the test: ``make_sandbox({...}, "before", mode="proxy")``.

The hydrawatch Config pointing at `sandbox` (`sandbox_config`) lives in tests/conftest.py: the sandbox
imports nothing of hydrawatch's but its config writer (tests/test_import_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox


@pytest.fixture(scope="session")
def sandbox_world() -> Iterator[Sandbox]:
    with Sandbox.start("doppelganger-2024", "before") as sb:
        yield sb


@pytest.fixture
def sandbox(sandbox_world: Sandbox) -> Iterator[Sandbox]:
    sandbox_world.reset("before")
    yield sandbox_world
    sandbox_world.reset("before")


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def factory(world: Mapping[str, Any] | str | Path, phase: str | None = None, **kwargs: Any) -> Sandbox:
        sb = Sandbox.start(world, phase, **kwargs)
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()

