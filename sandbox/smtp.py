"""An SMTP server (aiosmtpd) that records every message it accepts; can go down and come back."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sandbox.errors import SandboxStartError


class _Recorder:
    def __init__(self, sink: list[EmailMessage], lock: threading.Lock) -> None:
        self.sink = sink
        self.lock = lock

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.sink.append(message)
        return "250 Message accepted for delivery"


def _accept_any(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=True)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.port = port or free_port(host)
        self._controller: Controller | None = None

    def _make(self) -> Controller:
        return Controller(_Recorder(self.messages, self.lock), hostname=self.host, port=self.port,
                          authenticator=_accept_any, auth_require_tls=False, auth_required=False,
                          ready_timeout=5.0)

    def start(self) -> None:
        last: Exception | None = None
        for _ in range(20):
            controller = self._make()
            try:
                controller.start()
            except Exception as exc:  # aiosmtpd reports a taken port in several ways
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
