"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from email.policy import Policy, compat32
from typing import Any


class Inbox:
    """aiosmtpd handler: every message accepted, parsed with ``policy``, kept in ``messages``."""

    def __init__(self, policy: Policy = compat32) -> None:
        self.policy = policy
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=self.policy))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_inbox(policy: Policy = compat32, port: int | None = None) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 (on ``port``, else a free one) for the ``with`` block: (its inbox, its port)."""
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(policy), port or free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()
