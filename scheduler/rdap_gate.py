"""One RDAP caller per server across the cluster (issue 17).

Each worker paces every RDAP server with its own budget (crawler/politeness.py); N workers would ask
one server N times as often, and at once. In cluster mode a worker's RdapClient holds this gate around
each request: a PostgreSQL advisory lock keyed by the server's host (host:port) and the store's schema,
taken in a transaction on a small pool of the worker's own connections, so a request to a server waits
until no other worker (and no other task of this one) is asking it. The lock is a transaction's: it is
released when the request ends, and by PostgreSQL itself when a worker dies or loses its connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('hydrawatch:rdap:' || current_schema() || ':' || %s, 0))"
CONNECTIONS = 4  # servers this worker may be asking (or waiting for) at once; the others wait for a connection
WAIT_SECONDS = 600.0  # for one of those connections


class ServerGate:
    """``async with gate(host):`` — this worker's turn to ask ``host``; no other worker asks it meanwhile."""

    def __init__(self, conninfo: str, *, connections: int = CONNECTIONS) -> None:
        self._pool = AsyncConnectionPool(conninfo, min_size=0, max_size=connections, open=False,
                                         timeout=WAIT_SECONDS, name="hydrawatch-rdap-gate")
        self._local: dict[str, asyncio.Lock] = {}  # one of this process's tasks per server asks PostgreSQL

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def __call__(self, host: str) -> AsyncIterator[None]:
        local = self._local.setdefault(host, asyncio.Lock())
        async with local, self._pool.connection() as conn:
            # a transaction's lock: committed (released) when the request is over, rolled back on an error
            await conn.execute(LOCK, [host])
            yield
