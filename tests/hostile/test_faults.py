"""Faults of the machine under the daemon: a locked SQLite store, a full disk, a broken config, a
PostgreSQL restart. (SIGKILL mid-cycle and SMTP down for N cycles: tests/daemon/.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hydrawatch.cli import main
from sandbox.net import Sandbox
from tests import support
from tests.hostile.harness import GOOD, NOW, cli, seed_store, write_config

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO cycles (kind, started_at, outcome, stats) VALUES ('intruder', '2024-01-01', 'x', '{}')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _run(conf: Path, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (the disk-full case needs its own, for the file-size limit)."""
    done = support.cli(conf, *args)
    return done.returncode, done.stdout, done.stderr


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def _one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err[-3000:]
    return lines[-1]


def test_sqlite_store_locked_by_another_process(hsb: Sandbox, tmp_path: Path) -> None:
    """Another process holds an exclusive write transaction: the cycle waits (the store's busy timeout,
    `storage.busy_timeout`, 5 s here, 30 s by default), then fails with one clear line; the store is
    intact and the next cycle works."""
    db = tmp_path / "locked.db"
    seed_store(db, [GOOD])
    conf = write_config(hsb, db, tmp_path / "hw.toml", storage={"busy_timeout": 5})
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        code, _, err = _run(conf, "run", "--once")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert code != 0
    line = _one_line_error(err)
    assert "locked" in line.lower(), line
    assert 5 <= waited < 25, waited  # it waited for the lock, as long as storage.busy_timeout says, then gave up
    assert _integrity(db) == "ok"
    code, _, err = _run(conf, "run", "--once")
    assert code == 0, err[-2000:]


def _limit_file_size(limit: int) -> None:
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write(), not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


_ROOM = 64 * 1024


def test_disk_full_sqlite_store(hsb: Sandbox, tmp_path: Path) -> None:
    """Writes fail with EFBIG (RLIMIT_FSIZE, as on a full disk): a clear one-line error, no corruption,
    and the next cycle with room again works."""
    db = tmp_path / "full.db"
    seed_store(db, [GOOD, "malformed.info", "nested.info"])
    conf = write_config(hsb, db, tmp_path / "hw.toml")
    # the store runs in WAL mode: a cycle's writes go to full.db-wal, which starts empty, so a limit relative
    # to the database file's size let a cycle that writes little (batched writes: ~190 KB here) through.
    # 64 KiB a file: the WAL fills up within the cycle, and no page of the database file past 64 KiB can be
    # checkpointed, as on a disk with no room left
    assert db.stat().st_size > _ROOM
    code, _, err, _ = cli(conf, "run", "--once", preexec=lambda: _limit_file_size(_ROOM))
    assert code != 0
    line = _one_line_error(err)
    assert "full" in line.lower() or "disk" in line.lower() or "i/o" in line.lower(), line
    assert _integrity(db) == "ok"
    code, _, err = _run(conf, "run", "--once")
    assert code == 0, err[-2000:]
    assert _integrity(db) == "ok"


@pytest.mark.parametrize(("body", "key"), [
    ('[crawler]\ntimeout = "soon"\n', "crawler.timeout"),
    ("[crawler]\nmax_redirect = 3\n", "crawler.max_redirect"),
    ('[storage]\nurl = "nosuch://x"\n', "storage.url"),
    ("[crawler\ntimeout = 3\n", "line 3"),
])
def test_broken_config_at_reload(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, key: str) -> None:
    """The config was edited between runs and is now broken: the CLI refuses with one line naming the
    key (or the TOML line), exit 2, before touching the store."""
    path = tmp_path / "broken.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "never.db"}"\n' + body
                    if not body.startswith("[storage]") else body, encoding="utf-8")
    code = main(["--config", str(path), "run", "--once"])
    _, err = capsys.readouterr()
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0], err
    assert not (tmp_path / "never.db").exists()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.serial  # restarts the PostgreSQL server under every other test's feet
def test_postgresql_restarted_mid_run(hsb: Sandbox, tmp_path: Path, pg_url: str) -> None:
    """`pg_ctlcluster … restart` while a cycle runs (it is crawling a 1 byte/s site): that cycle may
    fail, the next one reconnects, and everything recorded before the restart is still there."""
    from crawler import run as reactor_run
    from hydrawatch.bundled import load_signatures
    from hydrawatch.config import from_mapping
    from scheduler.components import Components
    from scheduler.cycle import run_cycle as cycle
    from storage import watchlist
    from storage.store import Store
    from tests.hostile.harness import config_for, deep_merge

    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        pytest.skip("no local PostgreSQL cluster to restart (pg_ctlcluster)")
    cfg = config_for(hsb, tmp_path / "unused.db", crawler={"timeout": 3.0})
    cfg = from_mapping(deep_merge({"storage": {"url": pg_url}}, {k: v for k, v in _sections(cfg).items()}),
                       source="(hostile)")
    store = Store.from_url(cfg.storage.url)
    store.init()
    with store.transaction() as session:
        watchlist.add_domains(session, [GOOD, "drip.info"], campaign="hostile", origin="seed", now=NOW)

    def restart() -> None:
        time.sleep(1.0)
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
                       check=True, capture_output=True, timeout=60)

    restarter = threading.Thread(target=restart)
    outcomes: list[str] = []
    try:
        for i in range(2):
            parts = Components.from_settings(cfg, store, load_signatures())

            async def once(parts: Components = parts, when: datetime = NOW + timedelta(minutes=10 * i)) -> None:
                try:
                    await cycle(parts, now=when)  # two rounds: recording one round twice changes nothing
                finally:
                    await parts.close()

            if i == 0:
                restarter.start()
            try:
                reactor_run.run(once)
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and asserted on below
                outcomes.append(f"failed: {type(exc).__name__}")
            if i == 0:
                restarter.join()
        assert outcomes[-1] == "ok", outcomes
        from sqlalchemy import text

        with store.engine.connect() as conn:
            dns = conn.execute(text("SELECT sum(1 + o.repeats) FROM observations o JOIN domains d ON d.id = o.domain_id "
                                    "WHERE d.name = :n AND o.kind = 'dns'"), {"n": GOOD}).scalar_one()
            cycles = conn.execute(text("SELECT outcome FROM cycles ORDER BY id")).scalars().all()
        assert dns >= 2, dns  # the first cycle's probe (before the restart) and the second's (a row or a stamp)
        assert cycles[-1] == "ok", cycles
    finally:
        store.close()


def _sections(cfg: object) -> dict[str, object]:
    """The non-storage sections of a Config as plain mappings."""
    import dataclasses

    out = dataclasses.asdict(cfg)  # type: ignore[call-overload]
    out.pop("storage", None)
    return {k: v for k, v in out.items() if isinstance(v, dict)}
