"""A SQLite store is private from its creation: its folders 0700, the database, its WAL/SHM files and
the daemon's lock file 0600, whatever the umask (here the usual 022)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from storage.db import make_engine
from storage.lock import StoreLock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_store_and_its_folders_are_private(tmp_path: Path) -> None:
    db = tmp_path / "srv" / "hydrawatch" / "store.db"
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('observation')"))
        lock = StoreLock(engine)
        lock.acquire()
        try:
            files = [db, db.with_name("store.db-wal"), db.with_name("store.db-shm"), db.with_name("store.db.lock")]
            present = [f for f in files if f.exists()]
            assert db in present and db.with_name("store.db.lock") in present, present
            assert {f.name: _mode(f) for f in present} == {f.name: 0o600 for f in present}
            assert _mode(db.parent) == 0o700 and _mode(db.parent.parent) == 0o700
        finally:
            lock.release()
            engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    engine = make_engine(f"sqlite:///{shared / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    engine.dispose()
    assert _mode(shared) == 0o755 and _mode(shared / "store.db") == 0o600
