"""World files: loading, phase inheritance, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.errors import WorldError
from sandbox.world import load_world


def small(**domain: object) -> dict[str, object]:
    return {"phases": {"one": {"clock": "2024-09-03T12:00:00Z"}, "two": {"clock": "2024-09-06T12:00:00Z"}},
            "domains": {"a.test": {"a": ["185.1.1.1"], **domain}}}


def test_later_phase_inherits_and_overrides_only_what_changed() -> None:
    world = small(rdap={"registered": "2023-01-01", "registrar": "R"}, ns=["ns1.x.net"])
    world["phases"]["two"]["domains"] = {"a.test": {"ns": ["ns1.fbi.seized.gov"]}}  # type: ignore[index]
    w = load_world(world)
    assert w.views["one"].domains["a.test"].ns == ("ns1.x.net",)
    assert w.views["two"].domains["a.test"].ns == ("ns1.fbi.seized.gov",)
    assert w.views["two"].domains["a.test"].a == ("185.1.1.1",)
    assert w.views["two"].domains["a.test"].rdap.registrar == "R"  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "message"), [
    ({"a": ["185.1.1.999"]}, "bad IP address '185.1.1.999'"),
    ({"aaaa": ["185.1.1.1"]}, "is not an IPv6 address"),
    ({"behaviours": ["explode"]}, "unknown behaviour 'explode'"),
    ({"web": {"pages": {"/": "missing.html"}}}, "no folder"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"rdap": {"registered": "2023-01-01", "status": ["on hold"]}}, "unknown RDAP status 'on hold'"),
    ({"appears": "three"}, "appears = 'three' is not a phase"),
])
def test_bad_domain_entries_are_one_line_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(WorldError, match="a.test") as err:
        load_world(small(**change))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_domain_in_a_phase_is_an_error() -> None:
    world = small()
    world["phases"]["two"]["domains"] = {"b.test": {"a": ["185.1.1.2"]}}  # type: ignore[index]
    with pytest.raises(WorldError, match="phase 'two': unknown domain 'b.test'"):
        load_world(world)


def test_missing_page_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "world.toml").write_text(
        '[phases.one]\nclock = "2024-09-03T12:00:00Z"\n[domains."a.test"]\na = ["185.1.1.1"]\n'
        '[domains."a.test".web.pages]\n"/" = "pages/home.html"\n')
    with pytest.raises(WorldError, match="missing page file 'pages/home.html'"):
        load_world(tmp_path)


def test_unknown_world_name_is_an_error() -> None:
    with pytest.raises(WorldError, match="no such world"):
        load_world("no-such-world-here")


def test_doppelganger_world_loads_with_seeds_and_phases() -> None:
    w = load_world("doppelganger-2024")
    assert w.phases == ("before", "seizure")
    assert w.campaign == "doppelganger"
    assert 25 <= len(w.seeds) <= 35
    assert {"washingtonpost.pm", "fox-news.in", "fox-news.top", "rrn.media"} <= set(w.seeds)
    assert w.views["before"].clock.isoformat() == "2024-09-03T12:00:00+00:00"
    assert w.views["seizure"].clock.isoformat() == "2024-09-06T18:00:00+00:00"
