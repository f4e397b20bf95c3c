"""Shared fixtures: a fresh store on SQLite and on the real PostgreSQL, and a config pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydrawatch.config import Config, from_mapping
from sandbox.net import Sandbox
from storage.store import Store
from tests.support.pg import PG_URL, fresh_schema, pg_available

pytest_plugins = ["sandbox.pytest_plugin"]


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    return pg_available()


@pytest.fixture
def pg_url(pg_ok: bool) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not pg_ok:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL} (CI must run the store tests on it)")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def config(store_url: str) -> Config:
    return from_mapping({"storage": {"url": store_url}}, source="(test)")


@pytest.fixture
def sandbox_config(sandbox: Sandbox, store_url: str) -> Config:
    """The config that points every client at the session's sandbox (the sandbox plugin does not
    import hydrawatch: tests/test_import_rules.py)."""
    return from_mapping({**sandbox.config_overrides(), "storage": {"url": store_url}}, source="(sandbox)")


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    s = Store.from_url(config.storage.url)
    s.init()
    yield s
    s.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the Twisted reactor's thread pool: its threads are not daemons and would keep the test
    process alive after the last test."""
    import sys

    if "crawler.run" in sys.modules:
        sys.modules["crawler.run"].shutdown()


# The fast lane (`pytest -m fast`): the pure core's tests and the structural rules, which start no
# server and no subprocess. Marked here by place rather than one by one, so a new pure test joins it.
_FAST = ("tests/detect/", "tests/test_import_rules.py", "tests/test_errors.py",
         "tests/crawler/test_politeness.py", "tests/crawler/test_whois_parse.py",
         "tests/crawler/test_pdns_parse.py", "tests/crawler/test_ctpolicy_unit.py",
         "tests/crawler/test_nrd_unit.py", "tests/crawler/test_dnswire.py", "tests/crawler/test_dnswindow.py",
         "tests/crawler/test_zonefile.py",
         "tests/crawler/test_guard.py", "tests/scheduler/test_zone_settings.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if where.startswith(_FAST):
            item.add_marker(pytest.mark.fast)
