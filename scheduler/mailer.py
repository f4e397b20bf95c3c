"""SMTP delivery with smtplib (scrapy.mail is deprecated): implicit TLS or STARTTLS, AUTH never in
the clear unless allowed, typed failures."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from detect.errors import HydrawatchError
from scheduler.settings import AlertsSettings


class MailError(HydrawatchError):
    """The server did not accept the message; the text is one line for the outbox."""


def plaintext_auth_refusal(cfg: AlertsSettings) -> str:
    """Why ``cfg`` would send its password unencrypted ("" when it would not)."""
    if not cfg.smtp_username or cfg.smtp_starttls or cfg.smtp_implicit_tls or cfg.allow_plaintext_auth:
        return ""
    return (f"refusing to send the SMTP password unencrypted to {cfg.smtp_host}:{cfg.smtp_port}: set "
            "alerts.smtp_starttls or alerts.smtp_implicit_tls (or alerts.allow_plaintext_auth = true "
            "for a trusted local relay)")


def send(msg: EmailMessage, cfg: AlertsSettings, *, timeout: float = 30.0) -> None:
    """Deliver ``msg``; returns only when the server accepted it for every recipient. The server's
    certificate is verified (``smtp_ca_file`` or the system's CAs) whenever TLS is used."""
    if refusal := plaintext_auth_refusal(cfg):
        raise MailError(refusal)  # before connecting: the mail stays queued, nothing leaves
    try:
        context = ssl.create_default_context(cafile=cfg.smtp_ca_file or None)
        smtp = (smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=timeout, context=context)
                if cfg.smtp_implicit_tls else smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout))
        with smtp:
            smtp.ehlo()
            if cfg.smtp_starttls:
                smtp.starttls(context=context)  # no STARTTLS offered: SMTPNotSupportedError, never AUTH
                smtp.ehlo()
            if cfg.smtp_username:
                smtp.login(cfg.smtp_username, cfg.smtp_password)
            refused = smtp.send_message(msg, from_addr=cfg.mail_from, to_addrs=list(cfg.mail_to))
            if refused:
                raise MailError(f"recipients refused: {', '.join(sorted(refused))}")
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()) from None
