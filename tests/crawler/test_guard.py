"""The private-address guard and the runner, as pure specifications."""

from __future__ import annotations

import pytest

from crawler.guard import is_forbidden
from crawler.run import run


@pytest.mark.parametrize("ip", [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12:3456::1",
    "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe", "2002:7f00:0001::", "not-an-ip",
])
def test_forbidden_addresses_say_why(ip: str) -> None:
    assert is_forbidden(ip)


@pytest.mark.parametrize("ip", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_pass(ip: str) -> None:
    assert is_forbidden(ip) is None


def test_metadata_address_is_named_link_local() -> None:
    assert "link-local" in (is_forbidden("169.254.169.254") or "")


def test_run_returns_values_and_reraises_errors() -> None:
    async def ok() -> int:
        return 7

    async def boom() -> int:
        raise ValueError("x")

    assert run(ok) == 7
    with pytest.raises(ValueError):
        run(boom)
    assert run(ok) == 7
