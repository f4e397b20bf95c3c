"""Port-43 WHOIS against the sandbox's WHOIS server, for TLDs without RDAP (.so has none): registration
data marked as WHOIS, answers cached, a spent budget asks nothing, a silent, endless, garbled or
rate-limiting server is one typed record, and the private-address guard applies to bundled servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.rdap import RdapClient
from crawler.run import run
from crawler.settings import RdapSettings
from crawler.whois import WhoisClient, query
from detect.model import WHOIS_MARK, ErrorKind
from sandbox.net import Sandbox

pytestmark = pytest.mark.sandbox

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)


def client(sb: Sandbox, **settings: object) -> RdapClient:
    """RDAP only through "*" (as if no TLD of the world had its own server), WHOIS for the world's TLDs."""
    over = sb.config_overrides()["rdap"]
    rdap = RdapSettings(**{"servers": {"*": over["servers"]["*"]}, "whois_servers": over["whois_servers"],
                           "timeout": 2.0, **settings})  # type: ignore[arg-type]
    return RdapClient.from_settings(rdap, WhoisClient.from_settings(rdap))


def test_a_tld_without_rdap_is_asked_over_port_43_and_marked(sandbox: Sandbox) -> None:
    sandbox.set_phase("seizure")
    rdap = client(sandbox)
    assert rdap.route("rrn.so") == ("whois", "")
    assert rdap.route("rrn.media")[0] == "rdap"  # type: ignore[index]  # .media has RDAP (bootstrap)

    async def main() -> None:
        rec = await rdap.lookup("rrn.so", now=NOW)
        assert rec.error_kind is None, rec.error
        assert rec.source == "whois" and rec.via == WHOIS_MARK
        assert rec.registered is not None and rec.registered.date().isoformat() == "2024-09-05"
        assert rec.registrar == "Domainwerk Rhein GmbH"
        assert "Creation Date:" in rec.raw
        assert await rdap.lookup("RRN.so.", now=NOW) == rec  # cached
        missing = await rdap.lookup("never-registered.so", now=NOW)
        assert (missing.error_kind, missing.error, missing.source) == (ErrorKind.OTHER, "not found", "whois")
        await rdap.lookup("never-registered.so", now=NOW)
        assert rdap.take_counts() == {"whois": 2, "cached": 2}

    run(main)
    assert sandbox.whois_queries == ["rrn.so", "never-registered.so"]
    assert sandbox.rdap_requests == []


def test_whois_off_falls_back_to_rdap_star(sandbox: Sandbox) -> None:
    rdap = client(sandbox, whois=False)
    assert rdap.whois is None and rdap.route("rrn.so") == ("rdap", sandbox.config_overrides()["rdap"]["servers"]["*"])


def test_spent_whois_budget_asks_nothing(sandbox: Sandbox) -> None:
    sandbox.set_phase("seizure")
    rdap = client(sandbox, whois_max_per_minute=1, max_wait=0.0)

    async def main() -> None:
        assert (await rdap.lookup("rrn.so", now=NOW)).error_kind is None
        spent = await rdap.lookup("ukrlm.so", now=NOW)
        assert spent.error_kind is ErrorKind.RATE_LIMITED and "budget is spent" in spent.error

    run(main)
    assert sandbox.whois_queries == ["rrn.so"]


@pytest.mark.parametrize(("behaviour", "kind"), [
    ("whois-silent", ErrorKind.TIMEOUT), ("whois-huge", ErrorKind.TOO_LARGE),
    ("whois-garbage", ErrorKind.MALFORMED), ("whois-limit", ErrorKind.RATE_LIMITED)])
def test_hostile_whois_server_is_one_typed_record(sandbox: Sandbox, behaviour: str, kind: ErrorKind) -> None:
    sandbox.set_phase("seizure")
    sandbox.set_service_behaviour("whois", behaviour)
    rdap = client(sandbox, max_wait=0.0, whois_max_per_minute=6000)

    async def main() -> None:
        rec = await rdap.lookup("rrn.so", now=NOW)
        assert rec.error_kind is kind and rec.registered is None, rec.error
        assert len(rec.raw) <= 256 * 1024
        sandbox.set_service_behaviour("whois", None)
        again = await rdap.lookup("rrn.so", now=NOW)  # a failure is not cached
        if kind is ErrorKind.RATE_LIMITED:  # the server said to wait: not asked again within max_wait
            assert again.error_kind is ErrorKind.RATE_LIMITED and len(sandbox.whois_queries) == 1
        else:
            assert again.error_kind is None and len(sandbox.whois_queries) == 2

    run(main)


def test_guard_refuses_a_private_address_unless_the_server_is_configured(sandbox: Sandbox) -> None:
    port = sandbox.ports["whois"]

    async def main() -> None:
        from crawler.sources import SourceError

        with pytest.raises(SourceError) as blocked:
            await query("127.0.0.1", port, "rrn.so", timeout=2.0, allow_private=False)
        assert blocked.value.kind is ErrorKind.BLOCKED_PRIVATE and "loopback" in str(blocked.value)
        text = await query("127.0.0.1", port, "rrn.so", timeout=2.0, allow_private=True)
        assert text.startswith("No match") or "Domain Name:" in text

    run(main)
    assert sandbox.whois_queries == ["rrn.so"]  # the refused query never reached the server
    # a configured server is trusted (like [rdap] servers); one from the bundled table is guarded
    whois = WhoisClient({"so": f"127.0.0.1:{port}"}, timeout=1.0, max_per_minute=60, max_wait=0)
    assert whois.server_for("rrn.so") == ("127.0.0.1", port, True)
    assert whois.server_for("example.ru") == ("whois.tcinet.ru", 43, False)
    assert whois.server_for("example.ru", bundled=False) is None
