"""Watching only after the takedown, through the CLI on the sandbox: the seized site shows nothing of
its own any more, so its replacement cannot be told from a namesake — until an archived copy of the
seized site's page is imported with `hydrawatch archive import`; the next cycle then finds it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.net import Sandbox
from tests.cli.test_archive_reader import write_warc
from tests.scheduler.inline_world import HOSTING, ok, site, world_config
from tests.support import cli, write_config

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

LOST, REPLACEMENT, NAMESAKE = "marten-post.info", "marten-post.press", "marten-post.org"
STORY = "Fishermen lose their quotas overnight"
BAKERY = ("<html lang=en><head><title>Marten Bakery</title></head><body><h1>Marten Bakery</h1><p>Sourdough, rye "
          "and seasonal cakes baked every morning in the old harbour. Open Tuesday to Sunday from seven.</p>"
          "<p>Order a birthday cake two days ahead by phone.</p></body></html>")


def world() -> dict[str, Any]:
    return {
        "world": {"name": "late-start", "campaign": "marten", "seeds": [LOST]},
        "phases": {"after": {"clock": "2025-03-14T12:00:00Z"}},
        "domains": {
            LOST: {"ns": ["ns1.fbi.seized.gov", "ns2.fbi.seized.gov"], "a": ["185.61.9.11"],
                   "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2024-11-02"},
                   "web": {"catch_all": {"builtin": "seizure-banner"}}},
            REPLACEMENT: {**HOSTING, "a": ["185.61.9.12"],
                          "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-03-12"},
                          "web": {"pages": {"/": {"html": site(REPLACEMENT, STORY)}}}},
            NAMESAKE: {"ns": ["ns1.bakehost.example", "ns2.bakehost.example"], "a": ["185.61.20.5"],
                       "rdap": {"registrar": "Other Registrar SA", "registered": "2019-06-01"},
                       "web": {"pages": {"/": {"html": BAKERY}}}},
        },
    }


def test_an_archived_copy_lets_a_late_start_find_the_replacement(make_sandbox: Callable[..., Sandbox],
                                                                 tmp_path: Path) -> None:
    sb = make_sandbox(world(), "after")
    config = world_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}")
    ok(config, "init")
    ok(config, "seed", "add", LOST, "--campaign", "marten")
    first = ok(config, "run", "--once", "--format", "json")
    assert first["new_edges"] == 0, first["clones"]  # the banner is all there is to compare with
    assert {r["domain"]: r["status"] for r in ok(config, "status", "--format", "json")} == {LOST: "seized"}

    saved = tmp_path / "wayback" / "home.html"
    saved.parent.mkdir()
    saved.write_text(site(LOST, STORY), encoding="utf-8")
    saved.with_name("home.html.json").write_text(
        json.dumps({"url": f"https://www.{LOST}/", "date_download": "2025-02-01 10:00:00"}), encoding="utf-8")
    report = ok(config, "archive", "import", str(saved.parent), "--format", "json")
    assert report == {"imported": 1, "already_stored": 0, "domains": [LOST],
                      "oldest": "2025-02-01T10:00:00Z", "newest": "2025-02-01T10:00:00Z"}

    second = ok(config, "run", "--once", "--format", "json")
    edges = {e["to"]: e for e in ok(config, "export", "--format", "json")["edges"]}
    assert set(edges) == {REPLACEMENT}, (sorted(edges), second["clones"])
    assert edges[REPLACEMENT]["from"] == LOST and edges[REPLACEMENT]["relation"] == "replacement"
    kinds = {ev["kind"] for ev in edges[REPLACEMENT]["evidence"]}
    assert "text_similarity" in kinds or any(k.startswith("shared_") for k in kinds), kinds
    assert {r["domain"]: r["status"] for r in ok(config, "status", "--format", "json")}[LOST] == "seized"

    again = ok(config, "archive", "import", str(saved), "--format", "json")
    assert again["imported"] == 0 and again["already_stored"] == 1


def test_archive_import_refuses_pages_it_cannot_place(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = make_sandbox(world(), "after")
    config = write_config(tmp_path / "hydrawatch.toml", sb, f"sqlite:///{tmp_path / 'store.db'}")
    ok(config, "init")
    page = tmp_path / "page.html"
    page.write_text(site(LOST, STORY), encoding="utf-8")
    for args, message in [
        ((str(page),), "no address"),
        ((str(page), "--domain", LOST), "no time"),
        ((str(page), "--domain", LOST, "--at", "2025-02-01"), "not in the store"),
        ((str(tmp_path / "missing.html"), "--domain", LOST, "--at", "2025-02-01"), "cannot read"),
    ]:
        done = cli(config, "archive", "import", *args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    ok(config, "seed", "add", LOST)
    assert ok(config, "archive", "import", str(page), "--domain", LOST, "--at", "20250201",
              "--format", "json")["imported"] == 1
    warc = write_warc(tmp_path / "crawl.warc.gz", [(f"https://{LOST}/about", "200 OK", site(LOST, STORY).encode(),
                                                    "text/html"),
                                                   ("https://elsewhere.org/", "200 OK", b"<p>x</p>", "text/html")], True)
    got = ok(config, "archive", "import", str(warc), "--domain", LOST, "--format", "json")
    assert (got["imported"], got["domains"], got["oldest"]) == (1, [LOST], "2024-08-01T12:30:00Z")
