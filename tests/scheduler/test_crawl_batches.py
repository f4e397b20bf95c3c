"""A crawl round's batches never split one host's sites (issue 17): two workers crawl two batches at
once, and the crawler's politeness per host holds only inside one process. Domains whose last DNS answers
share any address, directly or through others, are one host (scheduler/host_groups.py) and travel together, whole; only a host with more sites than a batch holds is
split, into batches of its own, each marked with that host so that cluster mode runs them one after
another (tests/daemon/test_cluster_hosts.py). A probe round keeps the watchlist's order."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detect.model import DnsResult, Rcode
from hydrawatch.bundled import load_signatures
from hydrawatch.config import from_mapping
from scheduler.components import Components
from scheduler.host_groups import address_order, host_keys
from scheduler.rounds import oversized_hosts, pack_host_groups, plan_batches, plan_round
from storage import observations, watchlist
from storage.store import Store

NOW = datetime(2024, 9, 6, 12, 0, tzinfo=UTC)


def groups_of(host: dict[str, str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, address in host.items():
        if address:
            found.setdefault(address, set()).add(name)
    return found


def split_hosts(batches: list[list[str]], host: dict[str, str]) -> set[str]:
    """The addresses whose sites are in more than one batch."""
    seen: dict[str, set[int]] = {}
    for i, batch in enumerate(batches):
        for name in batch:
            if host[name]:
                seen.setdefault(host[name], set()).add(i)
    return {address for address, where in seen.items() if len(where) > 1}


@pytest.mark.fast
def test_a_host_group_that_a_plain_cut_would_split_stays_in_one_batch() -> None:
    """Sorted by address and cut every 4, the old plan put two of 10.0.0.2's three sites in the first
    batch and the third in the second."""
    host = {"a.test": "10.0.0.1", "b.test": "10.0.0.1", "c.test": "10.0.0.2", "d.test": "10.0.0.2",
            "e.test": "10.0.0.2", "f.test": "10.0.0.3", "g.test": "10.0.0.3", "h.test": ""}
    ordered = sorted(host, key=lambda d: (host[d], d))
    assert split_hosts([ordered[i:i + 4] for i in range(0, len(ordered), 4)], host)  # the old cut splits
    batches = pack_host_groups(host, 4)
    assert split_hosts(batches, host) == set()
    assert all(len(b) <= 4 for b in batches)
    assert sorted(n for b in batches for n in b) == sorted(host)
    assert len(batches) == 2  # 3 + 1 (the address-less site) and 2 + 2: as few batches as a plain cut


@pytest.mark.fast
def test_random_rounds_keep_every_group_whole_within_the_batch_size() -> None:
    rng = random.Random(17)
    for _ in range(200):
        size = rng.randint(2, 12)
        host = {f"s{i}.test": rng.choice(["", *(f"10.0.0.{k}" for k in range(rng.randint(1, 15)))])
                for i in range(rng.randint(1, 80))}
        batches = pack_host_groups(host, size)
        assert sorted(n for b in batches for n in b) == sorted(host)  # every domain once
        assert all(0 < len(b) <= size for b in batches)
        big = {address for address, names in groups_of(host).items() if len(names) > size}
        assert split_hosts(batches, host) <= big  # only groups larger than a batch are split …
        for address in big:  # … into full batches of their own, and at most one remainder shared with others
            mine = [b for b in batches if address in {host[n] for n in b}]
            assert len(mine) == -(-len(groups_of(host)[address]) // size)
            assert sum({host[n] for n in b} != {address} for b in mine) <= 1
        # first fit: no batch that another could have taken whole, so at most about twice a plain cut's
        assert len(batches) <= 2 * -(-len(host) // size) + len(big) + 1


@pytest.mark.fast
def test_a_host_with_more_sites_than_a_batch_fills_batches_of_its_own() -> None:
    host = {f"p{i:02}.test": "192.0.2.9" for i in range(7)} | {"x.test": "192.0.2.1", "y.test": "192.0.2.1"}
    batches = pack_host_groups(host, 3)
    # the remainder of the big host is a batch with room: a whole group joins it (each batch by address)
    assert batches == [["p00.test", "p01.test", "p02.test"], ["p03.test", "p04.test", "p05.test"],
                       ["x.test", "y.test", "p06.test"]]
    assert split_hosts(batches, host) == {"192.0.2.9"}
    # every batch with the big host's sites is marked with it: the cluster crawls them one after another
    assert oversized_hosts(batches, host, 3) == ["192.0.2.9"] * 3
    assert oversized_hosts(batches, host, 7) == ["", "", ""]


def test_plan_batches_groups_a_crawl_by_the_last_dns_answer_and_keeps_a_probes_order(tmp_path: Path) -> None:
    cfg = from_mapping({"storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"}, "cluster": {"observe_batch": 3}},
                       source="(test)")
    store = Store.from_url(cfg.storage.url)
    store.init()
    # the watchlist's order interleaves two hosts; the last answers decide, an older one does not
    names = ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"]
    address = {"a.test": "10.1.1.1", "b.test": "10.2.2.2", "c.test": "10.1.1.1", "d.test": "10.2.2.2",
               "e.test": "10.2.2.2", "f.test": "10.1.1.1"}
    try:
        with store.transaction() as session:
            watchlist.add_domains(session, names, campaign="t", origin="seed", now=NOW)
            observations.record_dns(session, "f.test", DnsResult("f.test", Rcode.NOERROR, {"A": ("10.2.2.2",)}),
                                    [], now=NOW.replace(hour=1))
            for i, name in enumerate(names):
                # a second address of each site's own: the one it shares decides its host
                answer = {"A": (f"10.9.9.{i}", address[name])}
                observations.record_dns(session, name, DnsResult(name, Rcode.NOERROR, answer), [], now=NOW)
        parts = Components.from_settings(cfg, store, load_signatures())
        crawl = plan_batches(parts, names, crawl=True)
        assert sorted(map(sorted, crawl)) == [["a.test", "c.test", "f.test"], ["b.test", "d.test", "e.test"]]
        assert plan_batches(parts, names, crawl=False) == [names[:3], names[3:]]
        assert plan_round(parts, names, crawl=True).serial == ["", ""]  # no host over a batch: nothing serial
        big = plan_round(parts, names, crawl=True, hosts=dict.fromkeys(names, "answer 9"))
        assert big.serial == ["answer 9", "answer 9"] and sorted(n for b in big.batches for n in b) == sorted(names)
        # a hunt's candidates: their resolve's answer stands for the host, before any stored answer
        hinted = plan_batches(parts, ["x.test", "y.test", "z.test", "a.test"], crawl=True,
                              hosts={"x.test": "answer 1", "y.test": "answer 2", "z.test": "answer 1", "a.test": "answer 2"})
        assert sorted(map(sorted, hinted)) == [["a.test", "y.test"], ["x.test", "z.test"]]
        with store.transaction() as session:  # f.test moves onto {10.1.1.1, 10.2.2.2}: one host of all six
            observations.record_dns(session, "f.test", DnsResult("f.test", Rcode.NOERROR,
                                                                 {"A": ("10.2.2.2", "10.1.1.1")}), [], now=NOW.replace(hour=13))
        joined = plan_round(parts, names, crawl=True)
        assert joined.serial == ["10.1.1.1", "10.1.1.1"] and sorted(n for b in joined.batches for n in b) == names
    finally:
        store.close()


@pytest.mark.fast
def test_sites_that_share_any_address_are_one_host_named_by_its_lowest_address() -> None:
    # {A, B} and {B, C}: one host through B, though their lowest addresses differ
    assert host_keys({"one.test": ["10.0.0.2", "10.0.0.1"], "two.test": ["10.0.0.3", "10.0.0.2"]}) == {
        "one.test": "10.0.0.1", "two.test": "10.0.0.1"}
    # a chain joins transitively; numeric order (10.0.0.9 below 10.0.0.10), IPv4 before IPv6
    chain = {"a.test": ["10.0.0.10", "2001:db8::1"], "b.test": ["2001:db8::1", "10.0.0.30"],
             "c.test": ["10.0.0.30", "10.0.0.9"], "d.test": ["10.0.0.11"], "e.test": [], "f.test": ["2001:db8::2"]}
    assert host_keys(chain) == {"a.test": "10.0.0.9", "b.test": "10.0.0.9", "c.test": "10.0.0.9",
                                "d.test": "10.0.0.11", "e.test": "", "f.test": "2001:db8::2"}
    # a hunt's hint (an answer fingerprint) is a token like an address
    assert host_keys({"x.test": ["answer 1"], "y.test": ["answer 1"], "z.test": ["answer 2"]}) == {
        "x.test": "answer 1", "y.test": "answer 1", "z.test": "answer 2"}


@pytest.mark.fast
def test_host_keys_do_not_depend_on_the_order_of_sites_or_addresses() -> None:
    """A resumed cluster job re-plans its round: the same answers must give the same hosts and batches."""
    rng = random.Random(17)
    for _ in range(200):
        pool = [f"10.0.{rng.randint(0, 3)}.{rng.randint(0, 20)}" for _ in range(rng.randint(1, 30))]
        answers = {f"s{i}.test": rng.sample(pool, rng.randint(0, min(3, len(pool)))) for i in range(rng.randint(1, 40))}
        keys = host_keys(answers)
        shuffled = list(answers.items())
        rng.shuffle(shuffled)
        again = host_keys({name: sorted(tokens, reverse=True) for name, tokens in shuffled})
        assert again == keys
        assert pack_host_groups(again, 5) == pack_host_groups(keys, 5)
        # a key is an address of the group, the lowest of all its sites' addresses; sites sharing one share a key
        for name, tokens in answers.items():
            assert (keys[name] == "") == (not tokens)
            for other, theirs in answers.items():
                if set(tokens) & set(theirs):
                    assert keys[name] == keys[other]
        for key in set(keys.values()) - {""}:
            members = [t for n, ts in answers.items() if keys[n] == key for t in ts]
            assert key == min(members, key=address_order)
