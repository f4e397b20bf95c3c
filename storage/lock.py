"""One daemon per store: a file lock beside a SQLite file, an advisory lock on PostgreSQL."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any, Self

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from detect.errors import HydrawatchError
from storage.db import create_private_file


class AlreadyRunning(HydrawatchError):
    """Another hydrawatch daemon holds this store."""

    exit_code = 3


class StoreLock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
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
        got = conn.execute(text("SELECT pg_try_advisory_lock(hashtext('hydrawatch:' || current_schema()))")).scalar()
        conn.commit()
        if not got:
            conn.close()
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
                self._conn.close()
            finally:
                self._conn = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
