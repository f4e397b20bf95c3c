"""Drive the real cycle (scheduler.cycle.run_cycle on crawler.run's loop) against a small inline
sandbox world and read back what it recorded. Every hostile case shares one healthy domain
(`good.test`) in its batch, so a case that loses the batch shows up as a lost healthy domain."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hydrawatch.config import Config, from_mapping
from sandbox.net import Sandbox
from storage.store import Store
from tests import support
from tests.support import cli_subprocess, config_data, deep_merge

GOOD = "good-news.info"
GOOD_HTML = ("<html><head><title>Good News Daily</title></head><body><h1>Good News</h1>"
             "<p>An ordinary healthy site in every hostile batch.</p>"
             '<a href="https://elsewhere.example/">x</a></body></html>')
NOW = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
SECRET = "hw-secret-7f3a9c"  # SMTP password and serve token: must never leave the process


def site(html: str = GOOD_HTML, **web: Any) -> dict[str, Any]:
    return {"pages": {"/": {"html": html}}, **web}


def domain(ip: str, *, html: str = GOOD_HTML, web: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"a": [ip], "ns": ["ns1.hostile-dns.info"], "txt": ["v=spf1 -all"],
                         "rdap": {"registrar": "Sandbox Registrar", "registered": "2023-01-10"},
                         "web": dict(web) if web is not None else site(html)}
    d.update(kw)
    return d


def world(domains: Mapping[str, Mapping[str, Any]], **phase: Any) -> dict[str, Any]:
    return {"world": {"name": "hostile", "campaign": "hostile", "seeds": [GOOD]},
            "phases": {"one": {"clock": "2024-09-03T12:00:00Z", "nrd_generated": 20, **phase}},
            "domains": {GOOD: domain("185.10.0.1"), **domains}}


def preset(sb: Sandbox) -> dict[str, Any]:
    """Short timeouts, a cheap hunt (tld-swap over .info/.cc), a secret in the config."""
    return {
        "dns": {"timeout": 1.0, "retries": 0},
        "crawler": {"timeout": 4.0, "retries": 0, "max_page_bytes": 1_000_000},
        "rdap": {"timeout": 5.0},
        "discovery": {"tlds": ["info", "cc"], "fuzzers": ["tld-swap"], "max_candidates": 2000},
        # AUTH only over TLS (plain-text AUTH is refused): STARTTLS, the sandbox CA trusted
        "alerts": {"smtp_password": SECRET, "smtp_username": "hw", "smtp_starttls": True, "smtp_ca_file": sb.ca_file},
        "serve": {"token": SECRET},
    }


def config_for(sb: Sandbox, db: Path, **overrides: Any) -> Config:
    """Sandbox endpoints, the SQLite store ``db``, :func:`preset`, then ``overrides`` (merged at every depth)."""
    data = config_data(sb, f"sqlite:///{db}", preset=preset(sb), deep=True, **overrides)
    return from_mapping(data, source="(hostile)")


@dataclass
class Outcome:
    db: Path
    stats: dict[str, Any]
    seconds: float

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute(sql, args))

    def observations(self, name: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT o.kind, o.error_kind, o.error, o.http_status, o.url, o.final_url, o.title, o.cert_sha256, "
               "o.rcode, o.raw FROM observations o JOIN domains d ON d.id = o.domain_id WHERE d.name = ?")
        keys = ("kind", "error_kind", "error", "http_status", "url", "final_url", "title", "cert_sha256",
                "rcode", "raw")
        out = [dict(zip(keys, r)) for r in self.rows(sql + " ORDER BY o.id", name)]
        return [o for o in out if kind is None or o["kind"] == kind]

    def status(self, name: str) -> str | None:
        rows = self.rows("SELECT status FROM domains WHERE name = ?", name)
        return rows[0][0] if rows else None

    def error_kinds(self, name: str, kind: str | None = None) -> set[str]:
        return {o["error_kind"] for o in self.observations(name, kind) if o["error_kind"]}

    def cycle_outcomes(self) -> list[str]:
        """The jobs' outcomes (a hunt's score batches log a record of their own beside its job's row)."""
        return [r[0] for r in self.rows("SELECT outcome FROM cycles WHERE kind <> 'score' ORDER BY id")]

    def dump(self) -> str:
        """Every stored text value (for 'no secret stored' checks)."""
        with sqlite3.connect(self.db) as conn:
            return "\n".join(str(line) for line in conn.iterdump())


def seed_store(conf_db: Path, names: Sequence[str]) -> None:
    """`hydrawatch init` + `seed add` on a SQLite file, in process (what the CLI does, faster)."""
    from storage import watchlist

    store = Store.from_url(f"sqlite:///{conf_db}")
    try:
        store.init()
        with store.transaction() as session:
            watchlist.add_domains(session, names, campaign="hostile", origin="seed", now=NOW)
    finally:
        store.close()


def run_cycle(sb: Sandbox, tmp_path: Path, seeds: Sequence[str], **overrides: Any) -> Outcome:
    """Initialise a fresh SQLite store, watch ``good.test`` + ``seeds``, run one real cycle."""
    import time

    from crawler import run as reactor_run
    from hydrawatch.bundled import load_signatures
    from scheduler.components import Components
    from scheduler.cycle import run_cycle as cycle
    from storage import watchlist

    db = tmp_path / "hostile.db"
    cfg = config_for(sb, db, **overrides)
    store = Store.from_url(cfg.storage.url)
    store.init()
    try:
        with store.transaction() as session:
            watchlist.add_domains(session, [GOOD, *seeds], campaign="hostile", origin="seed", now=NOW)
        parts = Components.from_settings(cfg, store, load_signatures())

        async def main() -> dict[str, Any]:
            try:
                return (await cycle(parts, now=NOW)).stats()
            finally:
                await parts.close()

        started = time.monotonic()
        stats = reactor_run.run(main)
        return Outcome(db=db, stats=stats, seconds=time.monotonic() - started)
    finally:
        store.close()


def assert_batch_intact(out: Outcome) -> None:
    """The cycle finished and the healthy domain of the batch was observed and classified."""
    assert out.cycle_outcomes() == ["ok"], out.cycle_outcomes()
    http = out.observations(GOOD, "http")
    assert any(o["http_status"] == 200 and o["error_kind"] is None and o["title"] == "Good News Daily"
               for o in http), http
    assert out.observations(GOOD, "dns") and out.observations(GOOD, "rdap")
    assert out.status(GOOD) == "active", out.status(GOOD)
    assert SECRET not in out.dump()


def write_config(sb: Sandbox, db: Path, path: Path, **overrides: Any) -> Path:
    """The same config as config_for, as a TOML file for `hydrawatch --config … run --once`."""
    return support.write_config(path, sb, f"sqlite:///{db}", preset=preset(sb), deep=True, **overrides)


def cli(config: Path, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None,
        preexec: Any = None) -> tuple[int, str, str, int]:
    """`hydrawatch --config CONFIG ARGS…` in a subprocess (what the hostile cases measure: peak RSS,
    resource limits): (exit code, stdout, stderr, peak RSS in KiB)."""
    done = cli_subprocess(config, *args, timeout=timeout, env=env, preexec=preexec)
    return done.returncode, done.stdout, done.stderr, done.peak_rss_kib


__all__ = ["GOOD", "NOW", "SECRET", "Outcome", "assert_batch_intact", "cli", "config_for", "deep_merge", "domain",
           "preset", "run_cycle", "seed_store", "site", "world", "write_config"]
