"""Speed work changes no result: every page of the golden corpus fingerprints and parses exactly as frozen
in tests/detect/golden/fingerprints.json (see tests/detect/golden_pages.py for the corpus and how to
regenerate it when a result is meant to change)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tests.detect.golden_pages import GOLDEN, compute


@cache
def frozen() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


@cache
def now() -> dict[str, dict[str, Any]]:
    return compute()


def test_the_corpus_is_the_frozen_one() -> None:
    assert sorted(now()) == sorted(frozen())
    assert len(frozen()) > 800
    assert {key.split(":", 1)[0] for key in frozen()} == {
        "file", "doppelganger-2024", "generated-3", "generated-11", "generated-24", "hostile"}


@pytest.mark.parametrize("part", ["fingerprint", "parsed", "signals"])
def test_every_page_gives_its_frozen_result(part: str) -> None:
    changed = [key for key, rec in now().items()
               if key in frozen() and (rec["body_sha256"] != frozen()[key]["body_sha256"]
                                       or rec[part] != frozen()[key][part])]
    first = changed[0] if changed else ""
    assert not changed, (f"{len(changed)} pages changed their {part}, first {first}: "
                         f"{frozen()[first][part]} → {now()[first][part]}")


def test_the_golden_corpus_is_not_trivial() -> None:
    """The frozen results exercise what they guard: ids, outlinks, MinHash, TLSH and empty pages."""
    fps = [rec["fingerprint"] for rec in frozen().values()]
    assert sum(1 for fp in fps if fp["minhash_sha256"]) > 300
    assert sum(1 for fp in fps if fp["tlsh"]) > 500
    assert sum(1 for fp in fps if fp["outlinks"]) > 100
    kinds = {kind for fp in fps for kind, _value in fp["indicators"]}
    assert {"ga", "wp_theme", "social", "script_src", "dom_hash", "title", "canonical_host", "matomo",
            "site_verification", "generator", "og_locale", "yandex_metrica", "placeholder"} <= kinds
    assert any(rec["signals"]["client_redirect"][0] for rec in frozen().values())
    assert any(rec["signals"]["takedown_page_key"] for rec in frozen().values())
