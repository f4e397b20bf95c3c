"""Alert mail never carries the SMTP password in the clear: against the sandbox's aiosmtpd servers
(plain with STARTTLS offered, and SMTPS), AUTH without TLS is refused before connecting and the alert
stays queued; implicit TLS and STARTTLS deliver, verifying the server's certificate against the sandbox
CA (alerts.smtp_ca_file), the same CA its HTTPS sites use."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hydrawatch.config import AlertsConfig, ConfigError, from_mapping
from sandbox.net import Sandbox
from scheduler.deliver import deliver
from storage import outbox
from storage.store import Store
from tests.scheduler.test_alert_outbox import T0, _edge

pytestmark = pytest.mark.sandbox
PASSWORD = "pl41n-t3xt-n0"


def alerts(sb: Sandbox, port: str, **keys: object) -> AlertsConfig:
    base = {"smtp_host": "127.0.0.1", "smtp_port": sb.ports[port], "mail_to": ["analysts@sandbox.test"],
            "mail_from": "hydrawatch@sandbox.test", "smtp_username": "hydrawatch", "smtp_password": PASSWORD,
            "retry_backoff": 1.0, **keys}
    return from_mapping({"alerts": base}).alerts


def test_auth_over_plain_text_is_refused_and_the_alert_kept(store: Store, sandbox: Sandbox,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    _edge(store, "rrn.media", "rrn.so")
    report = deliver(store, alerts(sandbox, "smtp"), now=T0)
    assert (report.sent, report.failed) == (0, 1)
    assert sandbox.smtp_auths == [] and sandbox.messages == []  # the password never left
    with store.transaction() as session:
        assert outbox.counts(session) == {"pending": 1}
        (queued,) = outbox.queued(session)
    assert "refusing to send the SMTP password unencrypted" in queued.last_error
    assert "alerts.smtp_implicit_tls" in queued.last_error and "\n" not in queued.last_error
    assert PASSWORD not in caplog.text and "refusing to send the SMTP password" in caplog.text
    # the same alert goes out on the next round once TLS is configured
    sent = deliver(store, alerts(sandbox, "smtps", smtp_implicit_tls=True, smtp_ca_file=sandbox.ca_file),
                   now=T0 + timedelta(hours=1))
    assert sent.sent == 1 and len(sandbox.wait_for_messages(1)) == 1


def test_implicit_tls_delivers_with_the_certificate_verified(store: Store, sandbox: Sandbox) -> None:
    _edge(store, "rrn.media", "rrn.so")
    report = deliver(store, alerts(sandbox, "smtps", smtp_implicit_tls=True, smtp_ca_file=sandbox.ca_file), now=T0)
    assert report.sent == 1
    (mail,) = sandbox.wait_for_messages(1)
    assert "rrn.so" in mail["Subject"]
    assert [(a.login, a.encrypted) for a in sandbox.smtp_auths] == [("hydrawatch", True)]


def test_starttls_delivers_and_authenticates_encrypted(store: Store, sandbox: Sandbox) -> None:
    _edge(store, "rrn.media", "rrn.so")
    assert deliver(store, alerts(sandbox, "smtp", smtp_starttls=True, smtp_ca_file=sandbox.ca_file), now=T0).sent == 1
    assert [(a.login, a.encrypted) for a in sandbox.smtp_auths] == [("hydrawatch", True)]


def test_an_untrusted_certificate_is_refused_and_the_alert_kept(store: Store, sandbox: Sandbox) -> None:
    _edge(store, "rrn.media", "rrn.so")
    report = deliver(store, alerts(sandbox, "smtps", smtp_implicit_tls=True), now=T0)  # system CAs only
    assert report.failed == 1 and sandbox.smtp_auths == [] and sandbox.messages == []
    with store.transaction() as session:
        (queued,) = outbox.queued(session)
    assert "CERTIFICATE_VERIFY_FAILED" in queued.last_error


def test_plain_text_auth_only_when_explicitly_allowed(store: Store, sandbox: Sandbox) -> None:
    _edge(store, "rrn.media", "rrn.so")
    assert deliver(store, alerts(sandbox, "smtp", allow_plaintext_auth=True), now=T0).sent == 1
    assert [(a.login, a.encrypted) for a in sandbox.smtp_auths] == [("hydrawatch", False)]


def test_no_auth_needs_no_tls(store: Store, sandbox: Sandbox) -> None:
    _edge(store, "rrn.media", "rrn.so")
    assert deliver(store, alerts(sandbox, "smtp", smtp_username="", smtp_password=""), now=T0).sent == 1


def test_implicit_tls_and_starttls_together_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="alerts.smtp_implicit_tls: cannot be combined"):
        from_mapping({"alerts": {"smtp_implicit_tls": True, "smtp_starttls": True}})

