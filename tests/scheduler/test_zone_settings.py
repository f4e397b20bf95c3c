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
    ({"tld": "x" * 28, "path": "/z"}, r"zone_files\[0\]\.tld: longer than 27 characters"),
])
def test_a_bad_zone_entry_is_one_line_naming_it(entry: dict[str, str], words: str) -> None:
    with pytest.raises(cfgmod.ConfigError, match=words):
        cfgmod.from_mapping({"discovery": {"zone_files": [entry]}})


def test_a_zone_listed_twice_is_refused() -> None:
    """Each zone keeps one state (<tld>.names, …) and is one sweep source: two entries would share both."""
    with pytest.raises(cfgmod.ConfigError, match=r"zone_files\[1\]\.tld: 'net' is listed twice"):
        cfgmod.from_mapping({"discovery": {"zone_files": [{"tld": "net", "url": "https://x/net.zone"},
                                                          {"tld": ".NET", "path": "/z/net.txt.gz"}]}})
    longest = "xn--vermgensberatung-pwb"  # the longest TLD delegated today
    assert cfgmod.from_mapping({"discovery": {"zone_files": [{"tld": longest, "path": "/z"}]}})


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

    # one lock a zone: two zones' jobs run at once on two zone workers, one zone's jobs one at a time
    assert route({"kind": "source", "source": "zone:net", "sweep": 3}) == (ZONE_QUEUE, "hydrawatch:zone:net")
    assert route({"kind": "source", "source": "zone:org", "sweep": 3}) == (ZONE_QUEUE, "hydrawatch:zone:org")
    # a job queued before the split (every zone in one): the lock it always had
    assert route({"kind": "source", "source": "zone", "sweep": 3}) == (ZONE_QUEUE, ZONE_LOCK)
    assert [route({"kind": "source", "source": s}) for s in ("ct", "nrd", "certstream", "pdns")] == [None] * 4
    assert route({"kind": "sweep_part", "source": "zone:net"}) is None
    assert queues(True) is None  # every queue, the zones queue included
    assert queues(False) == list(OTHER_QUEUES) and ZONE_QUEUE not in OTHER_QUEUES


def test_each_zone_is_a_sweep_source_of_its_own_at_the_zones_place(tmp_path: Path) -> None:
    """A sweep plans one source a configured zone, in the config's order, between NRD and CertStream (where
    the single zone source was): one resolving the sources in turn meets them in that order."""
    from types import SimpleNamespace

    from scheduler.sweep_sources import kind_of, plan_sources

    c = cfgmod.from_mapping({"discovery": {
        "nrd_feeds": ["https://feeds.example/nrd.txt"], "certstream_url": "wss://certstream.example/",
        "zone_files": [{"tld": "org", "url": "https://x/org.zone"}, {"tld": "net", "path": "/z/net.txt.gz"}]}})
    plan = plan_sources(SimpleNamespace(config=c), [], [])  # type: ignore[arg-type]  # reads only the config
    assert plan.sources == ("nrd", "zone:org", "zone:net", "certstream")
    assert [plan.index(s) for s in plan.sources] == [0, 1, 2, 3]
    assert [kind_of(s) for s in plan.sources] == ["nrd", "zone", "zone", "certstream"]


def test_a_names_slice_larger_than_a_worker_accepts_is_refused_at_config_load() -> None:
    """[cluster] sweep_names above what a worker takes in one job (MAX_SLICE_NAMES) would queue jobs every
    worker refuses as malformed: refused at load, one line naming the key."""
    from scheduler.settings import MAX_SLICE_NAMES

    assert cfgmod.from_mapping({"cluster": {"sweep_names": MAX_SLICE_NAMES}}).cluster.sweep_names == MAX_SLICE_NAMES
    for bad in (0, MAX_SLICE_NAMES + 1):
        with pytest.raises(cfgmod.ConfigError, match="cluster.sweep_names"):
            cfgmod.from_mapping({"cluster": {"sweep_names": bad}})
