"""Fetch a TLD's zone file and absorb it into the zone's state (crawler/zonestate.py).

A zone comes from a URL (the ICANN CZDS download API, ``https://czds-api.icann.org/czds/downloads/net.zone``,
answers with the day's ``.txt.gz`` to an ``Authorization: Bearer`` token) or a local path (a file another
tool downloads). ICANN's terms allow one download of a zone a day; a zone read less than
``refresh_hours`` ago is not fetched again, and a local file is read again only when its size or
modification time changed. A file that cannot be read (truncated or corrupt gzip, wrong encoding, over
``max_bytes``) raises ZoneFileError and leaves the state as it was; a failed download raises
crawler.sources.SourceError.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from crawler.sources import SourceError, stream
from crawler.zonestate import ZoneRead, ZoneSpec, ZoneState
from detect.model import ErrorKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZoneLimits:
    """How a zone is fetched: bytes (compressed or not) and seconds of silence allowed, the bearer token
    (sent over https, or to a loopback test server), hours before a zone is read again."""

    max_bytes: int
    timeout: float
    token: str = ""
    refresh_hours: float = 24.0


def sends_token(url: str) -> bool:
    """The token goes over https, or to a server on this machine (the sandbox); never over plain http."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def download(url: str, dest: Path, limits: ZoneLimits) -> int:
    """Stream ``url`` into ``dest`` (complete or absent); returns its size. Raises SourceError."""
    headers = {"Authorization": f"Bearer {limits.token}"} if limits.token and sends_token(url) else {}
    if limits.token and not headers:
        log.warning("zone %s: not sending the bearer token over plain http", url)
    partial = dest.with_name(dest.name + ".part")
    size = 0
    try:
        with partial.open("wb") as out:
            async for chunk in stream(url, timeout=limits.timeout, max_bytes=limits.max_bytes, headers=headers):
                await asyncio.to_thread(out.write, chunk)
                size += len(chunk)
    except SourceError:
        partial.unlink(missing_ok=True)
        raise
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SourceError(ErrorKind.OTHER, f"{url}: cannot write the zone file: {exc}") from None
    os.replace(partial, dest)
    return size


async def read_zone(spec: ZoneSpec, state_dir: Path, limits: ZoneLimits, now: datetime) -> ZoneRead | None:
    """Fetch and absorb ``spec`` if it is due; else the difference still to screen, if any (or None).
    Raises SourceError (download) or ZoneFileError (the file), the state unchanged."""
    state = ZoneState(state_dir, spec)
    if not state.due(now, limits.refresh_hours):
        return state.pending()
    if spec.url:
        state_dir.mkdir(parents=True, exist_ok=True)
        await download(spec.url, state.download, limits)
        source = state.download
    else:
        source = Path(spec.path)
    try:
        return await asyncio.to_thread(state.absorb, source, limits.max_bytes, now)
    finally:
        if spec.url:
            state.download.unlink(missing_ok=True)
