"""SMTP delivery with smtplib (scrapy.mail is deprecated): STARTTLS, AUTH, typed failures."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

from hydrawatch.config import AlertsConfig


class MailError(Exception):
    """The server did not accept the message; the text is one line for the outbox."""


def send(msg: EmailMessage, cfg: AlertsConfig, *, timeout: float = 30.0) -> None:
    """Deliver ``msg``; returns only when the server accepted it for every recipient."""
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo()
            if cfg.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.smtp_username:
                smtp.login(cfg.smtp_username, cfg.smtp_password)
            refused = smtp.send_message(msg, from_addr=cfg.mail_from, to_addrs=list(cfg.mail_to))
            if refused:
                raise MailError(f"recipients refused: {', '.join(sorted(refused))}")
    except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
        raise MailError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()) from None
