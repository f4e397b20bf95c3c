"""``[world] wildcard_tlds``: every undeclared name under such a suffix answers A with the parking address
and serves a parked page, as registries with wildcard DNS do; declared names answer as declared."""

from __future__ import annotations

from collections.abc import Callable

import dns.rcode
import pytest

from sandbox.errors import WorldError
from sandbox.net import Sandbox
from sandbox.world import WILDCARD_IP, load_world
from tests.sandbox.helpers import fetch, query, values

pytestmark = pytest.mark.sandbox

WORLD = {
    "world": {"name": "wildcards", "wildcard_tlds": ["ws"]},
    "phases": {"now": {"clock": "2025-03-13T12:00:00Z"}},
    "domains": {"real-news.ws": {"a": ["185.44.12.40"], "web": {"pages": {"/": {"html": "<h1>real</h1>"}}}},
                "other.com": {"a": ["185.44.12.41"]}},
}


def test_undeclared_names_under_a_wildcard_tld_answer_the_parking_address(
        make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(WORLD, "now")
    for name in ("qz7x0k3v9w.ws", "anything-at-all.ws", "www.typo.ws"):
        r = query(sb, name, "A")
        assert r.rcode() == dns.rcode.NOERROR and values(r, "A") == [WILDCARD_IP], name
    assert values(query(sb, "real-news.ws", "A"), "A") == ["185.44.12.40"]
    assert query(sb, "nowhere.com", "A").rcode() == dns.rcode.NXDOMAIN  # only the wildcard TLDs
    status, _, body = fetch(sb, "http://qz7x0k3v9w.ws/")
    assert status == 200 and b"may be for sale" in body
    assert b"real" in fetch(sb, "http://real-news.ws/")[2]


def test_wildcard_tlds_must_be_a_list_of_suffixes() -> None:
    with pytest.raises(WorldError, match="wildcard_tlds"):
        load_world({**WORLD, "world": {"wildcard_tlds": "ws"}})
    with pytest.raises(WorldError, match="wildcard_tlds"):
        load_world({**WORLD, "world": {"wildcard_tlds": ["w s"]}})
