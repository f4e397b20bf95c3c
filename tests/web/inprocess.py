"""The app called in-process (no listener) through httpx's ASGI transport, from a chosen client address."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI


def get(app: FastAPI, path: str, *, client: str = "127.0.0.1", cookies: dict[str, str] | None = None,
        **kwargs: Any) -> httpx.Response:
    """One GET to ``app`` as if from ``client``, with ``cookies``; redirects are not followed."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8750", cookies=cookies) as c:
            return await c.get(path, **kwargs)

    return asyncio.run(go())
