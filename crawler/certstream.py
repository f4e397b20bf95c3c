"""A live certificate-transparency stream from a CertStream-compatible websocket server.

The public CertStream service is gone; operators run their own (certstream-server-go, the original
certstream-server). Both send JSON messages: ``certificate_update`` with ``data.leaf_cert.all_domains``
(the full stream) or ``dns_entries`` with ``data`` a list of names (``/domains-only``); heartbeats and
anything else are ignored. A sweep listens for ``seconds`` and yields every valid name seen (wildcards
dropped); the caller screens them against the network's labels, as it does an NRD feed. A connection
that fails or drops ends the listening with a typed :class:`StreamStats` error, never an exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from crawler.feeds import parse_line
from detect.model import ErrorKind

USER_AGENT = "hydrawatch/0.1 (+research; certstream)"


@dataclass
class StreamStats:
    """What one listening did (mutable: filled while streaming)."""

    url: str
    messages: int = 0           # JSON messages received (heartbeats included)
    certificates: int = 0       # certificate or dns_entries messages
    names: int = 0
    garbage: int = 0            # messages that were not JSON objects
    error_kind: ErrorKind | None = None
    error: str = ""

    def note(self) -> str:
        line = f"certstream {self.url}: {self.certificates} certificates, {self.names} names"
        return line + (f", {self.garbage} unreadable messages" if self.garbage else "")


def names_in(message: object) -> Iterator[str] | None:
    """The names of one decoded message, or None if it carries no certificate (pure)."""
    if not isinstance(message, dict):
        return None
    kind, data = message.get("message_type"), message.get("data")
    if kind == "dns_entries" and isinstance(data, list):
        raw: object = data
    elif kind == "certificate_update" and isinstance(data, dict):
        leaf = data.get("leaf_cert")
        raw = leaf.get("all_domains") if isinstance(leaf, dict) else None
    else:
        return None
    if not isinstance(raw, list):
        return iter(())
    return (n for n in (parse_line(str(v).removeprefix("*.")) for v in raw if isinstance(v, str)) if n)


async def listen(url: str, seconds: float, stats: StreamStats, *, open_timeout: float = 10.0,
                 max_message: int = 1 << 20) -> AsyncIterator[str]:
    """Every valid name in the certificates the server streams during ``seconds``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        async with connect(url, open_timeout=open_timeout, max_size=max_message, proxy=None,
                           user_agent_header=USER_AGENT) as ws:
            while (left := deadline - loop.time()) > 0:
                try:
                    frame = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                stats.messages += 1
                try:
                    names = names_in(json.loads(frame))
                except ValueError:
                    stats.garbage += 1
                    continue
                if names is None:
                    continue
                stats.certificates += 1
                for name in names:
                    stats.names += 1
                    yield name
    except TimeoutError:
        stats.error_kind, stats.error = ErrorKind.TIMEOUT, f"{url}: no websocket within {open_timeout:g}s"
    except (OSError, WebSocketException) as exc:
        stats.error_kind = ErrorKind.CONNECTION
        stats.error = f"{url}: {type(exc).__name__}: {exc}"[:300]
