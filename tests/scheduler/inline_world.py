"""Small worlds written inline in a test: a news-site page, shared hosting, and the CLI call that
must succeed. Everything here is invented (names, addresses, registrars, texts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.net import Sandbox
from tests.support import cli, write_config

SWEEP_TLDS = ("com", "net", "org", "info", "press")


def world_config(path: Path, sb: Sandbox, url: str, *, extra_tlds: tuple[str, ...] = (), level: str = "WARNING",
                 **sections: dict[str, Any]) -> Path:
    """The config file for a small inline world: same-label TLD swaps over SWEEP_TLDS (+ ``extra_tlds``),
    so a cycle takes seconds; ``sections`` add or override keys."""
    discovery = {"tlds": [*SWEEP_TLDS, *extra_tlds], "fuzzers": ["tld-swap"], **sections.pop("discovery", {})}
    return write_config(path, sb, url, log={"level": level}, discovery=discovery, **sections)


HOSTING = {"ns": ["ns1.quillhost.net", "ns2.quillhost.net"],
           "rdap": {"registrar": "Quill Registrar Ltd", "registered": "2025-01-10"}}


def site(name: str, story: str) -> str:
    return (f"<!doctype html><html lang=en><head><title>{name}</title>"
            "<script async src='https://www.googletagmanager.com/gtag/js?id=G-7QW7QW7QW7'></script></head>"
            f"<body class='qx-site'><header><h1>{name}</h1><nav><a href='/a'>Politics</a></nav></header>"
            f"<main><article><h2>{story}</h2><p>{story} The ministry would not comment on the figures our "
            "reporters obtained from three regional offices, which contradict the official statements made "
            "in parliament last month.</p><p>Readers can follow our channel t.me/quill_news for updates "
            "when this address changes.</p></article></main><footer>Quill news network</footer></body></html>")


def ok(config: Path, *args: str) -> Any:
    """Run the CLI; it must exit 0. JSON output comes back parsed."""
    done = cli(config, *args)
    assert done.returncode == 0, (args, done.stderr[-3000:])
    return json.loads(done.stdout) if "json" in args else done.stdout
