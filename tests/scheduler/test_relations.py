"""The two relations other than `replacement`, through the CLI on the sandbox with the real clock and
no takedown at all: a live copy of a live network site is its `mirror`; a new site with its own name
and its own writing, run by the same hands (the network's analytics account and hosting) and linked
from a network site, is `network`. A namesake of a network site that shares nothing is not reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

COPIED, HUB = "osprey-times.info", "osprey-review.net"
MIRROR, SIBLING, NAMESAKE = "osprey-times.press", "harbour-voice.org", "osprey-times.com"
SHOP = ("<html lang=en><head><title>Osprey Times watches</title></head><body><h1>Osprey Times</h1>"
        "<p>Swiss-made diving watches since 1987. Free engraving on every order, two-year warranty.</p>"
        "<p>Visit our showroom in Lucerne.</p></body></html>")


def _hub(links: str) -> str:
    return site(HUB, "Our partner outlets this week").replace(
        "</article>", f"<ul class='partners'>{links}</ul></article>")


def world() -> dict[str, Any]:
    partner = f"<li><a href='https://{COPIED}/'>Osprey Times</a></li>"
    sibling = site(SIBLING, "Dockworkers strike over unpaid wages").replace(
        "Quill news network", "Harbour Voice, independent since this spring").replace(
        "The ministry would not comment on the figures our reporters obtained from three regional offices, "
        "which contradict the official statements made in parliament last month.",
        "Cranes stood still in the port for a third day as the union accused the operator of hiding its "
        "accounts from the labour inspectors.")
    return {
        "world": {"name": "relations", "campaign": "osprey", "seeds": [COPIED, HUB]},
        "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                   "growth": {"clock": "2025-04-02T12:00:00Z", "domains": {HUB: {"web": {"pages": {"/": {
                       "html": _hub(partner + f"<li><a href='https://{SIBLING}/'>Harbour Voice</a></li>")}}}}}}},
        "domains": {
            COPIED: {**HOSTING, "a": ["185.61.6.11"],
                     "web": {"pages": {"/": {"html": site(COPIED, "Ferry prices rise again")}}}},
            HUB: {**HOSTING, "a": ["185.61.6.12"], "web": {"pages": {"/": {"html": _hub(partner)}}}},
            MIRROR: {**HOSTING, "a": ["185.61.6.13"], "appears": "growth",
                     "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-04-01"},
                     "web": {"pages": {"/": {"html": site(COPIED, "Ferry prices rise again")}}}},
            SIBLING: {**HOSTING, "a": ["185.61.6.14"], "appears": "growth",
                      "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-30"},
                      "web": {"pages": {"/": {"html": sibling}}}},
            NAMESAKE: {"ns": ["ns1.watchhost.example", "ns2.watchhost.example"], "a": ["185.99.3.7"],
                       "rdap": {"registrar": "Other Registrar SA", "registered": "2016-02-11"},
                       "web": {"pages": {"/": {"html": SHOP}}}},
        },
    }


def test_a_live_copy_is_a_mirror_and_a_linked_sibling_is_network(make_sandbox: Callable[..., Sandbox],
                                                                  tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}")
    ok(config, "init")
    ok(config, "seed", "add", COPIED, HUB, "--campaign", "osprey")
    first = ok(config, "run", "--once", "--format", "json")
    assert first["new_edges"] == 0, first["clones"]

    sb.set_phase("growth")
    second = ok(config, "run", "--once", "--format", "json")
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert set(edges) == {MIRROR, SIBLING}, (sorted(edges), second["clones"])
    assert (edges[MIRROR]["from"], edges[MIRROR]["relation"]) == (COPIED, "mirror")
    assert edges[SIBLING]["relation"] == "network" and edges[SIBLING]["from"] in (COPIED, HUB)
    statuses = {r["domain"]: r["status"] for r in ok(config, "status", "--format", "json")}
    assert statuses[COPIED] == statuses[HUB] == "active"
    assert {d["domain"]: d["origin"] for d in ok(config, "export", "--format", "json")["domains"]
            if d["domain"] in edges} == {MIRROR: "discovered", SIBLING: "discovered"}
