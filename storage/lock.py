"""One daemon per store: a file lock beside a SQLite file, an advisory lock on PostgreSQL.

On PostgreSQL the embedded daemon holds the store's advisory lock exclusively and cluster workers hold
it shared: any number of workers run together, never beside an embedded daemon. :func:`advisory` is a
named lock for one piece of work across processes (alert delivery)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Self

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from detect.errors import HydrawatchError
from storage.db import create_private_file


class AlreadyRunning(HydrawatchError):
    """Another hydrawatch daemon holds this store."""

    exit_code = 3


STORE_KEY = "hashtext('hydrawatch:' || current_schema())"


class StoreLock:
    """``shared=True`` is a cluster worker's hold (PostgreSQL only): workers share the store with each
    other, not with an embedded daemon."""

    def __init__(self, engine: Engine, *, shared: bool = False) -> None:
        self._engine = engine
        self._shared = shared
        self._file: IO[str] | None = None
        self._conn: Any = None

    def acquire(self) -> None:
        url = make_url(str(self._engine.url.render_as_string(hide_password=False)))
        if url.get_backend_name() == "sqlite":
            path = Path(f"{url.database or 'memory'}.lock")
            create_private_file(path)
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "?"
                handle.close()
                raise AlreadyRunning(f"another instance is already running on this store (pid {holder} holds {path})") from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            self._file = handle
            return
        conn = self._engine.connect()
        try:
            func = "pg_try_advisory_lock_shared" if self._shared else "pg_try_advisory_lock"
            got = conn.execute(text(f"SELECT {func}({STORE_KEY})")).scalar()
            holders = set() if got else _holders(conn)
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            if "ShareLock" in holders:
                raise AlreadyRunning("cluster workers (`hydrawatch worker`) are running on this PostgreSQL store; "
                                     "stop them before running the embedded daemon here")
            if self._shared:
                raise AlreadyRunning("the embedded daemon (`hydrawatch run`) is running on this PostgreSQL store; "
                                     "stop it before starting cluster workers here")
            raise AlreadyRunning("another instance is already running on this PostgreSQL store (a session holds "
                                 "its advisory lock)")
        self._conn = conn

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            try:
                # the connection goes back to the pool: its session's lock must not go with it
                func = "pg_advisory_unlock_shared" if self._shared else "pg_advisory_unlock"
                self._conn.execute(text(f"SELECT {func}({STORE_KEY})"))
                self._conn.commit()
            except SQLAlchemyError:
                self._conn.invalidate()  # the session is gone, or will be closed with its lock
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holders(conn: Any) -> set[str]:
    """The modes in which other sessions hold the store's advisory lock (ShareLock: cluster workers)."""
    rows = conn.execute(text(
        "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        f"AND objid = (({STORE_KEY})::bigint & 4294967295)::oid AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"))
    return {str(r[0]) for r in rows}


@contextlib.contextmanager
def advisory(engine: Engine, name: str) -> Iterator[bool]:
    """Try the PostgreSQL advisory lock ``name`` (scoped to the store's schema) for the block; yields
    whether it is held here. Another session holding it yields False at once (no waiting). On SQLite
    it yields True: one process works on a SQLite store (StoreLock)."""
    if engine.url.get_backend_name() == "sqlite":
        yield True
        return
    key = "hashtext(:name || ':' || current_schema())"
    with engine.connect() as conn:
        got = bool(conn.execute(text(f"SELECT pg_try_advisory_lock({key})"), {"name": name}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                try:
                    conn.execute(text(f"SELECT pg_advisory_unlock({key})"), {"name": name})
                    conn.commit()
                except SQLAlchemyError:  # the connection is gone, and its session's locks with it
                    pass
