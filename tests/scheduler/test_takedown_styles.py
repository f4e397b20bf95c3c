"""Takedowns that do not look like the FBI's: through the real CLI on the sandbox, network sites that are
taken down by a picture-only banner (no seizure name servers), by their host's suspension page, by a
registrar's suspension page under a registry hold, and a site that falls to a German for-sale page.
Then an agency's wordless banner: one seized domain has the seizure name servers, another only points
at the same banner server (its registrar kept the old name servers), a third shows the same picture in
other markup; a fourth shows a page of its own with some other picture.
Each must get its status, and the lost ones must trigger the hunt that finds their replacement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.scheduler.inline_world import HOSTING, ok, site, world_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

BKA_BANNER = ("<html><head><title>Hinweis</title></head><body><img src='/banner.jpg' alt='Die Plattform und der "
              "kriminelle Inhalt wurden beschlagnahmt'></body></html>")
HOST_SUSPENDED = ("<html><head><title>Account Suspended</title></head><body><h1>Account Suspended</h1>"
                  "<p>This Account has been suspended.</p><p>Contact your hosting provider.</p></body></html>")
REGISTRAR_SUSPENDED = ("<html><head><title>quill</title></head><body><p>This domain has been suspended by "
                       "the registrar.</p></body></html>")
EAGLE = ("<html><head><title>Notice</title></head><body style='margin:0'>"
         "<img src='/static/eagle-2025.jpg' width='100%'></body></html>")
HOLIDAY = "<html><head><title>Notice</title></head><body><img src='/closed.gif'></body></html>"
AVIS = "<html><head><title>Avis</title></head><body><img src='/img/b.jpg' alt=''></body></html>"
PICTURE = "GIF89a" + "eagle-banner-pixels;" * 200  # the agency's banner picture (bytes are all that count)
OTHER_PICTURE = "GIF89a" + "closed-for-the-holidays;" * 200


def pictured(html: str, path: str, picture: str) -> dict[str, Any]:
    """A takedown page showing one picture, served from the same site."""
    return {"pages": {"/": {"html": html}, path: {"html": picture, "content_type": "image/gif"}}}


FOR_SALE = ("<html><head><title>Domain kaufen</title></head><body><h1>Diese Domain steht zum Verkauf!</h1>"
            "<p>Jetzt ein Angebot abgeben.</p></body></html>")

SEEDS = {  # seed → (its story, its address, the page it shows in the takedown phase, expected status)
    "quill-courier.info": ("Farm subsidies quietly cut", "185.44.12.21", BKA_BANNER, "seized"),
    "quill-gazette.net": ("Power prices rise again", "185.44.12.22", HOST_SUSPENDED, "suspended"),
    "quill-tribune.org": ("Hospitals close wards", "185.44.12.23", REGISTRAR_SUSPENDED, "suspended"),
    "quill-herald.com": ("Pensions frozen for a year", "185.44.12.24", FOR_SALE, "parked"),
    "quill-ledger.com": ("Bread queues in the north", "185.44.12.25",
                         pictured(EAGLE, "/static/eagle-2025.jpg", PICTURE), "seized"),
    "quill-monitor.net": ("Teachers strike again", "185.44.12.26",
                          pictured(EAGLE, "/static/eagle-2025.jpg", PICTURE), "seized"),
    "quill-sentinel.org": ("Clinics run out of insulin", "185.44.12.28", pictured(AVIS, "/img/b.jpg", PICTURE),
                           "seized"),
    "quill-digest.org": ("Rail fares climb", "185.44.12.27", pictured(HOLIDAY, "/closed.gif", OTHER_PICTURE),
                         "active"),
}
SEIZED_BY_NS = "quill-ledger.com"  # the wordless banner's only other witness is the seizure delegation
# The replacement of the picture-banner site: its label on another TLD, its copy, its host.
REPLACEMENT = "quill-courier.press"


def world() -> dict[str, Any]:
    domains: dict[str, Any] = {}
    takedown: dict[str, Any] = {}
    for name, (story, ip, page, _) in SEEDS.items():
        domains[name] = {**HOSTING, "a": [ip], "web": {"pages": {"/": {"html": site(name, story)}}}}
        takedown[name] = {"web": page if isinstance(page, dict) else {"catch_all": {"html": page}}}
    takedown["quill-tribune.org"]["rdap"] = {"status": ["client hold"], "updated": "2025-03-11T16:00:00Z"}
    takedown[SEIZED_BY_NS]["ns"] = ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"]
    story = SEEDS["quill-courier.info"][0]
    domains[REPLACEMENT] = {**HOSTING, "a": ["185.44.12.31"], "appears": "takedown",
                            "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                            "web": {"pages": {"/": {"html": site(REPLACEMENT, story)}}}}
    return {"world": {"name": "takedown-styles", "campaign": "quill", "seeds": sorted(SEEDS)},
            "phases": {"before": {"clock": "2025-03-10T12:00:00Z"},
                       "takedown": {"clock": "2025-03-13T12:00:00Z", "domains": takedown}},
            "domains": domains}


def test_takedowns_in_other_styles_are_classified_and_hunted(
        make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "before")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}",
                          alerts={"takedowns": True})
    ok(config, "init")
    ok(config, "seed", "add", *SEEDS, "--campaign", "quill")
    ok(config, "run", "--once", "--format", "json")
    statuses = {r["domain"]: r["status"] for r in ok(config, "status", "--format", "json")}
    assert statuses == {name: "active" for name in SEEDS}

    sb.set_phase("takedown")
    ok(config, "run", "--once", "--format", "json")
    rows = {r["domain"]: r for r in ok(config, "status", "--format", "json")}
    assert {name: rows[name]["status"] for name in SEEDS} == {name: want for name, (*_, want) in SEEDS.items()}
    assert f"the takedown page seized {SEIZED_BY_NS} shows" in rows["quill-monitor.net"]["reason"]
    assert f"the banner picture seized {SEIZED_BY_NS} shows" in rows["quill-sentinel.org"]["reason"]

    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert REPLACEMENT in edges, sorted(edges)
    assert edges[REPLACEMENT]["from"] == "quill-courier.info"
    assert edges[REPLACEMENT]["relation"] == "replacement"

    # [alerts] takedowns: one mail per seized or suspended seed (not the parked one), besides the clone's.
    taken_down = sorted(n for n, (*_, want) in SEEDS.items() if want in ("seized", "suspended"))
    mails = sb.wait_for_messages(len(taken_down) + len(edges), timeout=10)
    assert sorted(str(m["X-Hydrawatch-Takedown"]) for m in mails if m["X-Hydrawatch-Takedown"]) == taken_down
    ok(config, "run", "--once", "--format", "json")
    assert len(sb.messages) == len(taken_down) + len(edges)  # nothing twice