"""The seeded world generator: determinism, loadable worlds, counts, answer-key consistency, and one
replacement page fetched through the sandbox proxy."""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from sandbox.world import World, load_world
from sandbox.worldgen import generate
from sandbox.worldgen.__main__ import main, to_toml
from sandbox.worldgen.replacements import ROUTES

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SEEDS = range(40)
DECOY_CLASSES = {"legit-outlet", "aged", "old-parked", "shared-host", "cms-template", "challenge",
                 "hub-outlink-unrelated", "ct-fan", "nrd-shop", "cctld-no-rdap"}


@cache
def loaded(seed: int) -> tuple[dict, World]:
    gw = generate(seed, NOW)
    return gw.answers, load_world(gw.world)


def test_same_seed_and_now_give_the_same_world() -> None:
    a, b = generate(7, NOW), generate(7, NOW)
    assert a.world == b.world and a.answers == b.answers
    assert to_toml(a.world) == to_toml(b.world)
    assert generate(8, NOW).world != a.world
    assert a.seed == 7 and a.phases == ("before", "takedown")


def test_dates_are_relative_to_now() -> None:
    gw = generate(3, NOW)
    phases = gw.world["phases"]
    assert phases["before"]["clock"] == "2025-05-29T12:00:00Z" and phases["takedown"]["clock"] == "2025-06-01T12:00:00Z"
    t = datetime.fromisoformat(gw.answers["takedown"]["T"])
    assert timedelta(hours=18) <= NOW - t <= timedelta(hours=30)
    view = load_world(gw.world).views["takedown"]
    for rep in gw.answers["replacements"]:
        registered = view.domains[rep["to"]].rdap.registered
        assert t + timedelta(minutes=30) < registered <= NOW - timedelta(minutes=30)
    for seed in gw.answers["seeds"]:
        age = NOW - view.domains[seed].rdap.registered
        assert timedelta(days=89) <= age <= timedelta(days=36 * 31)
        if gw.answers["takedown"]["status"][seed] in ("seized", "suspended"):
            assert view.domains[seed].rdap.updated == t


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_world_loads_and_has_the_drawn_counts(seed: int) -> None:
    answers, world = loaded(seed)
    assert world.phases == ("before", "takedown")
    assert 20 <= len(answers["seeds"]) <= 60 and tuple(answers["seeds"]) == world.seeds
    assert 10 <= len(answers["replacements"]) <= 20
    assert 2 <= len(answers["operators"]) <= 4
    statuses = answers["takedown"]["status"]
    assert set(statuses) == set(answers["seeds"])
    lost = [d for d, s in statuses.items() if s in ("seized", "suspended", "dead")]
    assert len(lost) >= 0.4 * len(statuses)
    assert "active" in statuses.values() and "redirecting" in statuses.values()


def test_every_route_and_decoy_class_shows_up() -> None:
    routes_present = Counter()
    classes: Counter[str] = Counter()
    for seed in SEEDS:
        answers, _ = loaded(seed)
        routes_present.update({r["route"] for r in answers["replacements"]})
        classes.update(d["class"] for d in answers["decoys"])
    for route in ROUTES:
        assert routes_present[route] >= 0.8 * len(SEEDS), (route, routes_present)
    assert DECOY_CLASSES <= set(classes), classes


@pytest.mark.parametrize("seed", SEEDS)
def test_answer_key_is_consistent_with_the_world(seed: int) -> None:
    answers, world = loaded(seed)
    view = world.views["takedown"]
    seeds = set(answers["seeds"])
    tos = [r["to"] for r in answers["replacements"]]
    decoys = [d["domain"] for d in answers["decoys"]]
    assert len(set(tos)) == len(tos) and len(set(decoys)) == len(decoys)
    assert not (set(tos) & set(decoys)) and not (set(tos) & seeds) and not (set(decoys) & seeds)
    for name in tos + decoys:
        state = view.domains[name]
        assert state.resolves and state.a and state.site is not None, name
        assert state.site.catch_all is not None or state.site.pages["/"].status == 200, name
    for rep in answers["replacements"]:
        assert rep["from"] in seeds
        expected = "redirecting" if rep["route"] == "redirect" else None
        status = answers["takedown"]["status"][rep["from"]]
        assert status == expected if expected else status in ("seized", "suspended", "dead")
        assert rep["ties"] and "replacement" in rep["relations"]
        assert isinstance(rep["rdap"], bool)
    used_tlds = {d.rsplit(".", 1)[1] for d in world.views["takedown"].domains}
    assert set(answers["tlds"]) == used_tlds
    assert set(answers["brands_legitimate"]) <= {d["domain"] for d in answers["decoys"] if d["class"] == "legit-outlet"}


@pytest.mark.parametrize("seed", SEEDS)
def test_replacements_are_not_all_verbatim_copies(seed: int) -> None:
    answers, world = loaded(seed)
    before, after = world.views["before"], world.views["takedown"]
    identical = 0
    for rep in answers["replacements"]:
        old = before.domains[rep["from"]].site.pages["/"].body.replace(rep["from"].encode(), rep["to"].encode())
        identical += after.domains[rep["to"]].site.pages["/"].body == old
    assert identical < len(answers["replacements"])
    assert len({r["copy"] for r in answers["replacements"]}) >= 2


def test_routes_are_discoverable_as_described() -> None:
    for seed in range(10):
        answers, world = loaded(seed)
        view = world.views["takedown"]
        hub_pages = [s.site.pages["/"].body for d, s in view.domains.items()
                     if d in answers["seeds"] and s.site and "/" in s.site.pages]
        for rep in answers["replacements"]:
            to, state = rep["to"], view.domains[rep["to"]]
            if rep["route"] == "nrd-only":
                assert to in view.nrd and not any(to in c.names for c in view.certificates)
            if rep["route"] == "ct-only":
                assert to not in view.nrd and any(to in c.names for c in view.certificates)
            if rep["route"] == "hub-outlink":
                assert to not in view.nrd and any(f"https://{to}/".encode() in body for body in hub_pages)
            if rep["route"] == "redirect":
                assert view.domains[rep["from"]].site.pages["/"].location == f"https://{to}/"
            if rep["route"] in ("tld-swap",):
                assert to.split(".")[0] == rep["from"].split(".")[0]
            assert state.site is not None


def test_cli_writes_a_loadable_world_toml(tmp_path: Path) -> None:
    assert main(["5", "--out", str(tmp_path / "w"), "--now", "2025-06-01T12:00:00Z"]) == 0
    data = tomllib.loads((tmp_path / "w" / "world.toml").read_text(encoding="utf-8"))
    assert data == generate(5, NOW).world
    load_world(tmp_path / "w")
    assert (tmp_path / "w" / "answers.json").is_file()


@pytest.mark.sandbox
def test_a_replacement_page_is_served_through_the_proxy() -> None:
    from sandbox.net import Sandbox
    from tests.sandbox.helpers import fetch

    gw = generate(1, NOW)
    rep = gw.answers["replacements"][0]
    with Sandbox.start(gw.world, "takedown") as sb:
        status, _, body = fetch(sb, f"http://{rep['to']}/")
        assert status == 200 and rep["to"].encode() in body
        status, _, _ = fetch(sb, f"http://{gw.answers['decoys'][0]['domain']}/")
        assert status == 200
