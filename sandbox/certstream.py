"""A CertStream-compatible websocket server for tests: each client gets the published messages (JSON
objects, or raw text to play a broken server), then heartbeats until it leaves."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any, Self


def certificate(*names: str) -> dict[str, Any]:
    """A ``certificate_update`` message as certstream-server sends it (the fields hydrawatch reads)."""
    return {"message_type": "certificate_update",
            "data": {"update_type": "X509LogEntry", "cert_index": 1, "seen": 1733450000.0,
                     "leaf_cert": {"subject": {"CN": names[0] if names else ""}, "all_domains": list(names)},
                     "source": {"name": "Sandbox log", "url": "ct.sandbox.test/log/"}}}


class CertStreamServer:
    """Serves ``messages`` (dicts are sent as JSON, strings as they are) to every client, on loopback."""

    def __init__(self, messages: Sequence[dict[str, Any] | str], host: str = "127.0.0.1",
                 heartbeat: float = 0.2) -> None:
        self.messages = list(messages)
        self.host, self.port, self.heartbeat = host, 0, heartbeat
        self.clients = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox-certstream", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._client, self.host, 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    async def _client(self, ws: Any) -> None:
        self.clients += 1
        for message in self.messages:
            await ws.send(message if isinstance(message, str) else json.dumps(message))
        while True:
            await asyncio.sleep(self.heartbeat)
            await ws.send(json.dumps({"message_type": "heartbeat", "timestamp": 1733450000.0}))
