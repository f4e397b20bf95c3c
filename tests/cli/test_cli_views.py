"""`lineage`, `pivot`, `export` and `status` as a researcher runs them; hostile text stays inert."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import networkx as nx
import pytest
import stix2

from hydrawatch.cli import main
from storage.store import Store
from tests.storage.world import HOSTILE_VALUE, fill


@pytest.fixture
def cfg_file(tmp_path: Path, store: Store, store_url: str) -> Path:
    with store.transaction() as session:
        fill(session)
    path = tmp_path / "hw.toml"
    path.write_text(f'[storage]\nurl = "{store_url}"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(cfg), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_lineage_text_shows_tree_evidence_and_timeline(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cfg_file, "lineage", "b.pm")
    assert code == 0
    assert "predecessors (1)" in out and "successors (1)" in out
    assert "← replacement 0.93 a.ltd" in out and "→ replacement 0.87 c.so" in out
    assert "infrastructure 0.20 · decided" in out and "+0.20  same name server ns1.host.example" in out
    assert "label kept, TLD .ltd → .pm" in out  # a kind this version does not know: grouped as other
    assert "shared_analytics_id = G-SHARED1" not in out  # the stored items only with --all
    assert "timeline" in out and "a.ltd  active → seized  NS ns1.fbi.seized.gov" in out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out  # the hostile evidence, made visible
    code, every, _ = run(capsys, cfg_file, "lineage", "b.pm", "--all")
    assert code == 0
    assert "shared_analytics_id = G-SHARED1  (+0.40)" in every and "same_label_tld_swap = a  (+0.35)" in every
    assert "\x1b" not in every and "\x07" not in every


def test_lineage_json_is_the_api_shape(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cfg_file, "lineage", "A.LTD", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["domain"] == "a.ltd"
    assert {m["domain"] for m in doc["members"]} == {"a.ltd", "b.pm", "c.so", "n.info"}
    assert next(e for e in doc["edges"] if e["to"] == "b.pm")["evidence"][2]["value"] == HOSTILE_VALUE
    assert doc["timeline"][0]["event"] == "status"


def test_lineage_of_unknown_domain_is_one_line_exit_1(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, cfg_file, "lineage", "ghost.ltd")
    assert code == 1 and out == "" and err.strip() == "hydrawatch: ghost.ltd is not in the store"
    code, _, err = run(capsys, cfg_file, "lineage", "not a domain")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_pivot_lists_domains_with_first_and_last_seen(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cfg_file, "pivot", "ga", "G-SHARED1", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and [d["domain"] for d in doc["domains"]] == ["b.pm", "c.so"]
    assert doc["domains"][1]["indicator_last_seen"] == "2024-11-08T00:00:00Z"
    code, out, _ = run(capsys, cfg_file, "pivot", "ns", "ns1.host.example")
    assert code == 0 and "a.ltd" in out and "b.pm" in out and "2 domains" in out


def test_pivot_on_unknown_indicator_is_one_line(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, cfg_file, "pivot", "ga", "G-\x1b[31mNEVER")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "no domain ever had indicator ga=" in err and "\x1b" not in err and "kinds in the store: ga, ns" in err


def test_export_json_to_stdout_and_stix_to_file(cfg_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cfg_file, "export", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and list(doc) == ["generated_at", "domains", "edges"] and len(doc["domains"]) == 5
    target = tmp_path / "bundle.json"
    code, out, err = run(capsys, cfg_file, "export", "--format", "stix", "-o", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert stix2.parse(target.read_text(), allow_custom=True).type == "bundle"
    graphml = tmp_path / "g.graphml"
    assert run(capsys, cfg_file, "export", "--format", "graphml", "-o", str(graphml))[0] == 0
    assert nx.read_graphml(graphml).number_of_edges() == 3
    code, out, _ = run(capsys, cfg_file, "export", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("record,domain,status")


def test_export_rejects_unknown_format(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, cfg_file, "export", "--format", "yaml")
    assert code == 2 and out == "" and "json, csv, graphml, stix" in err


def test_status_keeps_its_filters_and_history(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cfg_file, "status", "--status", "seized", "--origin", "discovered",
                       "--format", "json")
    assert code == 0 and [d["domain"] for d in json.loads(out)] == ["b.pm"]
    code, out, _ = run(capsys, cfg_file, "status", "--since", "2024-10-01", "--format", "json")
    assert {d["domain"] for d in json.loads(out)} == {"b.pm", "c.so"}



@pytest.mark.parametrize("typo", ["siezed", "Seized", "", "\x1b[31mred"])
def test_status_filter_typo_is_one_line_exit_2_naming_the_statuses(cfg_file: Path, typo: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, cfg_file, "status", "--status", typo)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "\x1b" not in err
    assert err.startswith("hydrawatch: --status must be one of active, seized, suspended, parked, redirecting, "
                          "dead, unknown, not ")


def test_status_text_does_not_interpret_markup_or_escapes(cfg_file: Path, store: Store,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime

    from detect.model import Classification, Status
    from storage import watchlist

    with store.transaction() as session:
        watchlist.set_status(session, "lone.fun", Classification(Status.PARKED, "[red]x[/red] \x1b]0;pwned\x07"),
                             datetime(2025, 1, 1, tzinfo=UTC))
    code, out, _ = run(capsys, cfg_file, "status")
    assert code == 0 and "[red]x[/red]" in out and "\x1b" not in out and "\x07" not in out


def test_serve_refuses_a_wide_bind_without_a_token(cfg_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, cfg_file, "serve", "--host", "0.0.0.0", "--port", "0")
    assert code == 2 and "serve.token" in err and len(err.strip().splitlines()) == 1
