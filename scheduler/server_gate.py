"""Registry politeness across the cluster (issue 17): one caller per RDAP or WHOIS server, one budget,
one Retry-After.

Each worker paces every registry server with its own budget (crawler/politeness.py); N workers would ask
one server N times as often, and at once. WHOIS servers (port 43) ban by address, so they need it as much
as RDAP servers do. In cluster mode a worker's RdapClient and WhoisClient each hold a gate of their kind
around each request: a PostgreSQL advisory lock keyed by the kind, the store's schema and the server
(host:port), taken in a transaction on a small pool of the worker's own connections, so a request to a
server waits until no other worker (and no other task of this one) is asking it. The lock is a
transaction's: it is released when the request ends, and by PostgreSQL itself when a worker dies or loses
its connection.

Holding the lock, the gate reads the server's row in its kind's pace table (``rdap_pace``,
``whois_pace``: created here, in the store's schema, when a gate opens; cluster-only state like
procrastinate's tables, so no migration and nothing in a SQLite store): ``next_allowed_at``, the earliest
start of the next request to it by any worker. It waits until then (still holding the lock: the others
would have to wait anyway), or refuses with :class:`crawler.rdap.ServerPaused` when that is more than
``max_wait`` away, and moves it on by ``60 / per_minute`` seconds before the request goes; a pause the
server asked for (:meth:`Turn.pause`: an RDAP 429/503's Retry-After, a WHOIS "query limit exceeded")
moves it to the deadline, in the same transaction. Times are PostgreSQL's clock, so the workers' clocks
need not agree. The cluster pace has no burst: one request every ``60 / per_minute`` seconds per server,
whatever the number of workers. A request whose worker dies mid-request is not counted (its transaction,
the move included, is rolled back with the lock).

Every wait is bounded, so a gate never holds a lookup for ever (a script once hung for an hour behind
the gate, bench/RESULTS.md; not reproduced): a worker waits at most ``max_wait`` for a pool connection
and at most ``max_wait`` for the server's lock (PostgreSQL's ``lock_timeout`` on the lock's transaction,
so an advisory lock held by a stuck session cannot block it), and at most ``max_wait`` for the server's
pace; past any of them the lookup is not made (:class:`crawler.rdap.ServerPaused`, reported
``rate_limited``) with one warning line naming the server and what it waited for. The gate's
connections use TCP keepalives, so a database that vanished mid-turn is noticed in about a minute
instead of never.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from crawler.politeness import MAX_BLOCK
from crawler.rdap import ServerPaused

log = logging.getLogger(__name__)

KINDS = ("rdap", "whois")  # a gate's kind names its lock keys and its pace table ({kind}_pace)
# the lock's wait bounded by max_wait (a transaction's setting: gone with the turn)
LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('hydrawatch:{kind}:' || current_schema() || ':' || %s, 0))"
TABLE = "CREATE TABLE IF NOT EXISTS {kind}_pace (host text PRIMARY KEY, next_allowed_at timestamptz NOT NULL)"
TABLE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('hydrawatch:{kind}-pace:' || current_schema(), 0))"
WAIT = ("SELECT GREATEST(0, EXTRACT(EPOCH FROM next_allowed_at - clock_timestamp()))::float8 "
        "FROM {kind}_pace WHERE host = %s")
# the request starts now: the next one, by any worker, not before now + the interval (nor before a pause)
TAKE = ("INSERT INTO {kind}_pace (host, next_allowed_at) VALUES (%(host)s, clock_timestamp() + %(s)s * interval '1 second') "
        "ON CONFLICT (host) DO UPDATE SET next_allowed_at = GREATEST({kind}_pace.next_allowed_at, EXCLUDED.next_allowed_at)")
CONNECTIONS = 4  # servers this worker may be asking (or waiting for) at once; the others wait for a connection
WAIT_SECONDS = 600.0  # for one of those connections, at most (and at most max_wait)
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


class Turn:
    """One request's turn at a server; :meth:`pause` records the server's Retry-After for every worker."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def pause(self, seconds: float) -> None:
        self.seconds = max(self.seconds or 0.0, min(max(0.0, seconds), MAX_BLOCK))  # beyond a day is a day


class ServerGate:
    """``async with gate(host) as turn:`` — this worker's turn to ask ``host`` (a ``kind`` server:
    "rdap" or "whois"): no other worker asks it meanwhile, and the cluster's pace for it (``per_minute``,
    the pauses it asked for) is kept. The kinds are apart: an RDAP and a WHOIS server on one host are two
    servers with two paces."""

    def __init__(self, conninfo: str, *, kind: str = "rdap", per_minute: float = 60, max_wait: float = 300.0,
                 connections: int = CONNECTIONS) -> None:
        if kind not in KINDS:  # it becomes a table name: only the known ones
            raise ValueError(f"unknown server gate kind {kind!r}; known: {', '.join(KINDS)}")
        self.kind = kind
        self.interval = 60.0 / per_minute
        self.max_wait = max_wait
        self._sql = {name: sql.replace("{kind}", kind) for name, sql in
                     (("lock", LOCK), ("table", TABLE), ("table_lock", TABLE_LOCK), ("wait", WAIT), ("take", TAKE),
                      ("lock_timeout", LOCK_TIMEOUT))}
        self._conninfo = conninfo
        self._pool = AsyncConnectionPool(conninfo, min_size=0, max_size=connections, open=False,
                                         timeout=min(WAIT_SECONDS, max(1.0, max_wait)), kwargs=dict(KEEPALIVES),
                                         name=f"hydrawatch-{kind}-gate")
        self._local: dict[str, asyncio.Lock] = {}  # one of this process's tasks per server asks PostgreSQL

    async def open(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._conninfo, connect_timeout=10) as conn:
            await conn.execute(self._sql["table_lock"])  # concurrent CREATE TABLE IF NOT EXISTS may collide
            await conn.execute(self._sql["table"])
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def __call__(self, host: str) -> AsyncIterator[Turn]:
        local = self._local.setdefault(host, asyncio.Lock())
        async with local, self._connection(host) as conn:
            # a transaction's lock: committed (released) when the request is over, rolled back on an error
            await conn.execute(self._sql["lock_timeout"], [f"{max(1, int(self.max_wait * 1000))}ms"])
            try:
                await conn.execute(self._sql["lock"], [host])
            except errors.LockNotAvailable:
                log.warning("%s gate for %s: no turn within %.0f s (another worker holds the server's lock; "
                            "rdap.max_wait): not asked", self.kind.upper(), host, self.max_wait)
                raise ServerPaused(self.max_wait) from None
            row = await (await conn.execute(self._sql["wait"], [host])).fetchone()
            wait = float(row[0]) if row else 0.0
            if wait > self.max_wait:
                log.info("%s gate for %s: the cluster's pace closes it for %.0f s more (over rdap.max_wait): "
                         "not asked", self.kind.upper(), host, wait)
                raise ServerPaused(wait)
            if wait > 0:
                await asyncio.sleep(wait)
            await conn.execute(self._sql["take"], {"host": host, "s": self.interval})
            turn = Turn()
            try:
                yield turn
            finally:
                # committed even when the request failed (it was made: it counts), before the lock goes
                try:
                    if turn.seconds is not None:
                        await conn.execute(self._sql["take"], {"host": host, "s": turn.seconds})
                    await conn.commit()
                except psycopg.Error as exc:  # the connection is gone: so are the lock and this turn
                    log.warning("%s pace for %s not recorded: %s", self.kind.upper(), host, exc)

    @asynccontextmanager
    async def _connection(self, host: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """One of the gate's connections, waited for at most the pool's timeout (then ServerPaused)."""
        try:
            conn = await self._pool.getconn()
        except PoolTimeout:
            log.warning("%s gate for %s: no free gate connection within %.0f s (this worker's %d are all "
                        "waiting or asking): not asked", self.kind.upper(), host, self._pool.timeout,
                        self._pool.max_size)
            raise ServerPaused(self._pool.timeout) from None
        try:
            yield conn
        finally:
            await self._pool.putconn(conn)
