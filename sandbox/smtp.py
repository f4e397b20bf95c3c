"""An SMTP server (aiosmtpd) that records every message it accepts and every AUTH it receives; can go
down and come back, and can hold its reply to DATA (the message recorded, the 250 not yet sent: a
client killed then never learns that the server has its mail). It offers STARTTLS when given a TLS context, or speaks TLS from the first byte
(SMTPS, implicit TLS) when ``implicit_tls``; AUTH is accepted even in the clear, so a client that sends
its password unencrypted is seen doing it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sandbox.errors import SandboxStartError


class DataHold:
    """While ``on`` is set, a server sharing it records each message and then holds its reply to DATA;
    ``held`` counts the messages held so far."""

    def __init__(self) -> None:
        self.on = threading.Event()
        self.held = 0


class _Recorder:
    def __init__(self, sink: list[EmailMessage], lock: threading.Lock, hold: DataHold) -> None:
        self.sink = sink
        self.lock = lock
        self.hold = hold

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.sink.append(message)
            holding = self.hold.on.is_set()
            self.hold.held += holding
        while self.hold.on.is_set():
            await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class AuthSeen:
    """One AUTH the server received: the login, and whether the connection was encrypted."""

    login: str
    encrypted: bool


class _AcceptAny:
    def __init__(self, seen: list[AuthSeen], lock: threading.Lock) -> None:
        self.seen = seen
        self.lock = lock

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login = getattr(auth_data, "login", b"") or b""
        # STARTTLS sets session.ssl; an implicit-TLS connection is TLS from its transport's first byte
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        with self.lock:
            self.seen.append(AuthSeen(login.decode("utf-8", "replace") if isinstance(login, bytes) else str(login),
                                      encrypted))
        return AuthResult(success=True)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None,
                 implicit_tls: bool = False, messages: list[EmailMessage] | None = None,
                 auths: list[AuthSeen] | None = None, lock: threading.Lock | None = None,
                 hold: DataHold | None = None) -> None:
        self.host = host
        self.messages: list[EmailMessage] = [] if messages is None else messages
        self.auths: list[AuthSeen] = [] if auths is None else auths
        self.lock = lock or threading.Lock()
        self.hold = hold or DataHold()
        self.port = port or free_port(host)
        self.tls = tls
        self.implicit_tls = implicit_tls
        self._controller: Controller | None = None

    def _make(self) -> Controller:
        tls: dict[str, Any] = {}
        if self.tls is not None:
            tls = {"ssl_context": self.tls} if self.implicit_tls else {"tls_context": self.tls, "require_starttls": False}
        return Controller(_Recorder(self.messages, self.lock, self.hold), hostname=self.host, port=self.port,
                          authenticator=_AcceptAny(self.auths, self.lock), auth_require_tls=False,
                          auth_required=False, ready_timeout=5.0, **tls)

    def start(self) -> None:
        last: Exception | None = None
        for _ in range(20):
            controller = self._make()
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001 - aiosmtpd reports a taken port in several ways
                last = exc
                time.sleep(0.1)
                continue
            self._controller = controller
            return
        raise SandboxStartError(f"sandbox SMTP: cannot listen on {self.host}:{self.port}: {last}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def snapshot(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)
