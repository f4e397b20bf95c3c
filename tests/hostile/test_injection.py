"""Injection: a crawled page whose title and body carry HTML/JS, terminal escapes and CR/LF goes
through the real cycle, then out through every surface: the web API and page, the terminal
(`status`, `lineage`), the exports and an alert e-mail. Each must keep it inert."""

from __future__ import annotations

import csv
import io
import json
from email.message import EmailMessage
from pathlib import Path

import httpx
import networkx as nx
import pytest
import stix2

from hydrawatch.cli import main
from hydrawatch.web.app import create_app
from hydrawatch.web.server import start_background
from sandbox.net import Sandbox
from storage.store import Store
from tests.hostile.harness import GOOD, NOW, SECRET, Outcome, assert_batch_intact, run_cycle, write_config
from tests.hostile.worlds import INJECTED_TITLE

NAME = "inject.info"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


@pytest.fixture
def crawled(hsb: Sandbox, tmp_path: Path) -> Outcome:
    """One real cycle over the injecting site, plus a clone edge good-news.info → inject.info whose
    evidence carries the raw hostile title (ESC, BEL, CR/LF: what a header or body value could
    carry), queued for mail."""
    from detect.model import Evidence, Relation
    from storage import lineage, outbox

    out = run_cycle(hsb, tmp_path, [NAME])
    assert_batch_intact(out)
    title = out.observations(NAME, "http")[0]["title"]
    assert title and "<script>" in title  # HTML/JS reaches the store as text (controls are already dropped)
    store = Store.from_url(f"sqlite:///{out.db}")
    try:
        with store.transaction() as session:
            edge_id, _ = lineage.add_edge(session, from_domain=GOOD, to_domain=NAME, relation=Relation.REPLACEMENT,
                                          confidence=0.9, evidence=[Evidence("page_title", INJECTED_TITLE, 0.3, title)],
                                          now=NOW)
            outbox.enqueue(session, edge_id, now=NOW, message_id=f"<edge-{edge_id}.hostile@hydrawatch>")
    finally:
        store.close()
    return out


def _inert(text: str) -> None:
    for ch in RAW_CONTROLS:
        assert ch not in text, repr(text[max(0, text.find(ch) - 80): text.find(ch) + 80])


def test_web_api_and_page(crawled: Outcome) -> None:
    store = Store.from_url(f"sqlite:///{crawled.db}")
    running = start_background(create_app(store.sessions))
    try:
        with httpx.Client(base_url=running.url, timeout=10) as client:
            resp = client.get(f"/api/domains/{NAME}")
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
            _inert(resp.text)  # control characters are \\u-escaped on the wire
            assert "<script>" in resp.json()["last_page"]["title"]  # data stays data, the browser app uses textContent
            for path in (f"/api/lineage/{NAME}", "/api/domains?q=inject"):
                r = client.get(path)
                assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
                _inert(r.text)
            page = client.get("/")
            assert page.status_code == 200 and "<script>alert" not in page.text and "pwned" not in page.text
            assert "content-security-policy" in page.headers and "'unsafe-inline'" not in \
                page.headers["content-security-policy"].split("script-src", 1)[-1].split(";", 1)[0]
    finally:
        running.stop()
        store.close()


def _cli(capsys: pytest.CaptureFixture[str], conf: Path, *args: str) -> str:
    code = main(["--config", str(conf), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    _inert(out)
    _inert(err)
    return out


def test_terminal_and_exports(crawled: Outcome, hsb: Sandbox, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_config(hsb, crawled.db, tmp_path / "hw.toml")
    _cli(capsys, conf, "status")
    _cli(capsys, conf, "status", NAME)
    _cli(capsys, conf, "status", "--format", "json")
    shown = _cli(capsys, conf, "lineage", NAME)
    assert "\\x1b" in shown or "pwned" not in shown  # escapes shown as text, or dropped
    data = json.loads(_cli(capsys, conf, "export", "--format", "json"))
    assert data
    rows = list(csv.reader(io.StringIO(_cli(capsys, conf, "export", "--format", "csv"))))
    for row in rows:  # spreadsheet formula injection: no cell may start a formula
        assert not [c for c in row if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit())], row
        assert all("\r" not in c and "\n" not in c for c in row), row
    graph = nx.parse_graphml(_cli(capsys, conf, "export", "--format", "graphml"))
    assert NAME in graph.nodes
    bundle = stix2.parse(_cli(capsys, conf, "export", "--format", "stix"), allow_custom=True)
    assert bundle.objects
    assert SECRET not in repr(data) + repr(rows)


def test_alert_mail_headers(crawled: Outcome, hsb: Sandbox, tmp_path: Path) -> None:
    from scheduler.deliver import deliver
    from tests.hostile.harness import config_for

    cfg = config_for(hsb, crawled.db)
    store = Store.from_url(cfg.storage.url)
    try:
        report = deliver(store, cfg.alerts, now=NOW)
    finally:
        store.close()
    assert report.sent == 1, report
    # the cycle itself may already have mailed a find of its own (the world's homograph of the healthy
    # site, same template: a network clone): every mail is checked, the injected edge's by its Message-ID
    mails = hsb.wait_for_messages(crawled.stats["alerts_sent"] + 1)
    assert len(mails) == crawled.stats["alerts_sent"] + 1, [m["Subject"] for m in mails]
    for mail in mails:
        assert isinstance(mail, EmailMessage)
        names = {k.lower() for k in mail}
        assert "bcc" not in names and "x-injected" not in names, names
        for key, value in mail.items():
            assert "\r" not in value and "\n" not in value and "\x1b" not in value, (key, value)
    (msg,) = [mail for mail in mails if str(mail["Message-ID"]).endswith(".hostile@hydrawatch>")]
    body = msg.get_content()
    _inert(body)
    assert "Bcc: victim" not in body.split("\n")[0]
    assert SECRET not in msg.as_string()
