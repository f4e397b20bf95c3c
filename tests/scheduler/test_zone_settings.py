"""[discovery] zone settings: each zone entry is checked and a mistake names its key; the token is a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydrawatch import config as cfgmod
from scheduler.zone_source import zone_specs

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("entry, words", [
    ({"tld": "net"}, r"zone_files\[0\]: give exactly one of url and path"),
    ({"tld": "net", "url": "https://x/net.zone", "path": "/z"}, "exactly one"),
    ({"url": "https://x/net.zone"}, r"zone_files\[0\]\.tld: expected a TLD"),
    ({"tld": "n et", "path": "/z"}, "expected a TLD"),
    ({"tld": "net", "url": "ftp://x/net.zone"}, r"zone_files\[0\]\.url: not a valid http/https URL"),
    ({"tld": "net", "path": "/z", "token": "t"}, "unknown key 'token'"),
])
def test_a_bad_zone_entry_is_one_line_naming_it(entry: dict[str, str], words: str) -> None:
    with pytest.raises(cfgmod.ConfigError, match=words):
        cfgmod.from_mapping({"discovery": {"zone_files": [entry]}})


def test_zone_entries_become_specs_with_normalised_tlds() -> None:
    c = cfgmod.from_mapping({"discovery": {"zone_files": [{"tld": ".NET.", "url": "https://x/net.zone"},
                                                          {"tld": "online", "path": "/z/online.txt.gz"}]}})
    assert [(s.tld, s.source) for s in zone_specs(c.discovery)] == [("net", "https://x/net.zone"),
                                                                   ("online", "/z/online.txt.gz")]


def test_the_zone_token_is_read_raw_and_never_shown(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[discovery]\n", encoding="utf-8")
    c = cfgmod.load(tmp_path / "c.toml", environ={"HYDRAWATCH_DISCOVERY__ZONE_TOKEN": "12345"})
    assert c.discovery.zone_token == "12345"  # raw: not read as the TOML integer 12345
    assert "12345" in cfgmod.secret_values(c)
    assert "12345" not in cfgmod.redactor(c)("token 12345 refused")


def test_zone_worker_defaults_on_and_is_checked_like_any_cluster_key(tmp_path: Path) -> None:
    """[cluster] zone_worker: true by default (one machine, or a shared zone_state_dir, works unchanged),
    false through the file or the environment; a wrong type or a bound that is not positive names its key."""
    c = cfgmod.from_mapping({})
    assert c.cluster.zone_worker is True and c.cluster.zone_wait_seconds == 300.0
    assert cfgmod.from_mapping({"cluster": {"zone_worker": False, "zone_wait_seconds": 2}}).cluster.zone_worker is False
    (tmp_path / "c.toml").write_text("[cluster]\nzone_worker = true\n", encoding="utf-8")
    assert cfgmod.load(tmp_path / "c.toml", environ={"HYDRAWATCH_CLUSTER__ZONE_WORKER": "false"}).cluster.zone_worker is False
    with pytest.raises(cfgmod.ConfigError, match="cluster.zone_worker"):
        cfgmod.from_mapping({"cluster": {"zone_worker": "yes"}})
    with pytest.raises(cfgmod.ConfigError, match="cluster.zone_wait_seconds"):
        cfgmod.from_mapping({"cluster": {"zone_wait_seconds": 0}})


def test_only_the_zone_source_goes_to_the_zones_queue_and_only_zone_workers_take_it() -> None:
    pytest.importorskip("procrastinate")
    from scheduler.cluster_zones import OTHER_QUEUES, ZONE_LOCK, ZONE_QUEUE, queues, route

    assert route({"kind": "source", "source": "zone", "sweep": 3}) == (ZONE_QUEUE, ZONE_LOCK)
    assert [route({"kind": "source", "source": s}) for s in ("ct", "nrd", "certstream", "pdns")] == [None] * 4
    assert route({"kind": "sweep_part", "source": "zone"}) is None
    assert queues(True) is None  # every queue, the zones queue included
    assert queues(False) == list(OTHER_QUEUES) and ZONE_QUEUE not in OTHER_QUEUES
