"""One hostile corpus against every variant of detect/textsafe.py, each asserting what it promises;
then a hostile title, reason and domain name pushed through every output path (CLI JSON and text views,
exports, API JSON and its errors, mail headers and body) to show each path goes through the module."""

from __future__ import annotations

import html as htmlmod
import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from detect import textsafe
from detect.model import Classification, Evidence, Relation, Status
from tests.support.mail import Inbox, smtp_inbox

NOW = datetime(2024, 9, 6, 12, tzinfo=UTC)

# One corpus for every variant: name → text.
CORPUS: dict[str, str] = {
    "c0": "".join(chr(i) for i in range(0x20)) + "end",
    "del_c1": "\x7f" + "".join(chr(i) for i in range(0x80, 0xA0)) + "end",
    "bidi_override": "invoice\u202egpj.exe\u202c and \u2066isolate\u2069 \u2067\u2068x\u2069",
    "bidi_marks": "\u200eleft\u200fright\u061carabic \u202aembed\u202b\u202d",
    "line_separators": "one\u2028two\u2029three",
    "ansi": "\x1b[2J\x1b]0;pwned\x07\x1b[31mRED\x1b[0m \x9b31m C1-CSI",
    "nul": "before\x00after\x00",
    "lone_surrogates": "a\ud800b\udfffc\udbff",
    "nonchars": "x\ufffey\uffff",
    "long": "A" * 200_000,
    "long_escapes": "\x1b" * 100_000,
    "html_injection": "\"><script>alert('x')</script><img src=x onerror=alert(1)>&amp;&#x3c;",
    "quote_injection": "' onmouseover='alert(1)' x=\"",
    "header_injection": "subject\r\nBcc: victim@example.org\r\nX-Injected: yes\r\n\r\nbody",
    "bare_cr_lf": "a\rb\nc\r\n\td",
    "formula": "=HYPERLINK(\"http://evil.example\",\"x\")",
    "readable": "Ελληνικά, עברית, العربية, 日本語 — café ☕",
}
HOSTILE_CHARS = re.compile(f"[\x00-\x1f\x7f-\x9f{textsafe.BIDI}\u2028\u2029\ud800-\udfff\ufffe\uffff]")
BIDI = re.compile(f"[{textsafe.BIDI}]")


def _raw_hostile(text: str, allowed: str = "") -> set[str]:
    return {c for c in HOSTILE_CHARS.findall(text) if c not in allowed}


def _is_clean(text: str) -> bool:
    return not HOSTILE_CHARS.search(text)


def _encodes(text: str) -> None:
    text.encode("utf-8")  # lone surrogates would raise here (a print, a store or a socket would too)


cases = pytest.mark.parametrize("name", list(CORPUS))


@cases
def test_terminal_is_one_bounded_line_with_controls_shown(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.terminal(text, 300)
    assert not _raw_hostile(out, allowed="\t") and len(out) <= 300
    _encodes(out)
    if _is_clean(text) and len(text) <= 300:
        assert out == text  # ordinary text (any script) is shown as it is
    if name == "ansi":
        assert "\\x1b[2J" in out and "\\x9b" in out  # the escape is shown as text, not run or lost


@cases
def test_inert_has_no_control_at_all(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.inert(text)
    assert not _raw_hostile(out)
    _encodes(out)
    assert out == text if _is_clean(text) else "\\x" in out
    cell = textsafe.csv_cell(text)
    assert not _raw_hostile(cell) and not cell.startswith(("=", "+", "-", "@"))


@cases
def test_header_cannot_add_a_header(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.header(text, 200)
    assert not _raw_hostile(out) and len(out) <= 200 and out == out.strip()
    _encodes(out)
    msg = EmailMessage()
    msg["Subject"] = out
    back = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert [k.lower() for k in back] == ["subject"]
    assert str(back["Subject"]) == out or not out


@cases
def test_mail_line_stays_one_line(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.mail_line(text, 500)
    assert not _raw_hostile(out, allowed="\t") and len(out) <= 500
    _encodes(out)
    if _is_clean(text) and len(text) <= 500:
        assert out == text


@cases
def test_plain_keeps_words_and_drops_controls(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.plain(text, 500)
    assert not _raw_hostile(out) and len(out) <= 500 and "  " not in out and out == out.strip()
    _encodes(out)
    if name == "bidi_override":
        assert "invoicegpj.exe" in out  # bidi controls dropped, not turned into word breaks


@cases
def test_html_is_text_in_an_element_or_attribute(name: str) -> None:
    text = CORPUS[name]
    out = textsafe.html(text)
    assert not _raw_hostile(out) and not set("<>\"'") & set(out)
    assert all(m.group(0).endswith(";") for m in re.finditer(r"&[#\w]*;?", out))
    _encodes(out)
    if _is_clean(text):
        assert htmlmod.unescape(out) == text  # escaping only: the text is all there


@cases
def test_json_round_trips_with_nothing_raw(name: str) -> None:
    text = CORPUS[name]
    value = {"title": text, "list": [text]}
    for out in (textsafe.json_dumps(value), textsafe.json_dumps(value, indent=None),
                textsafe.json_escape(json.dumps(value, ensure_ascii=False))):
        assert not _raw_hostile(out, allowed="\n")  # LF only as indentation: inside strings it is \n
        _encodes(out)
        assert json.loads(out) == value  # the same data, lone surrogates included
    if name == "readable":
        assert text in textsafe.json_dumps(value)  # non-ASCII text stays readable


def test_every_variant_is_run_against_the_corpus() -> None:
    public = {n for n, f in inspect.getmembers(textsafe, inspect.isfunction)
              if not n.startswith("_") and f.__module__ == textsafe.__name__}
    tested = {"terminal", "inert", "csv_cell", "header", "mail_line", "plain", "html", "json_dumps", "json_escape"}
    assert public == tested


# ---- every output path goes through the module -------------------------------------------------

TITLE = ("<script>alert('t')</script>\x1b[31m\u202egnp.exe\u202c \u2066x\u2069 \x85\x9b2J one\u2028two\u2029"
         "\x00 \r\nBcc: victim@example.org")
VALUE = TITLE + " \ud800"  # a lone surrogate survives a JSON column (evidence), not a text column
REASON = "banner \u202eDEZIES\u202c\u2028X-Injected: yes\r\n\x9b2J"
SHADY = "shady\u202eofni.\u2028x"  # a stored name the validators never saw (an old store, an import)
GOOD, CLONE = "good-news.info", "clone-news.info"


def _make_store(db: Path, names: tuple[str, ...]) -> Path:
    """A store where hostile text sits in every free-text field: campaign, status reason, evidence."""
    from scheduler.deliver import new_message_id
    from storage import lineage, outbox, watchlist
    from storage.store import Store

    store = Store.from_url(f"sqlite:///{db}")
    try:
        store.init()
        with store.transaction() as session:
            watchlist.add_domains(session, [GOOD, CLONE, *names], campaign=REASON, origin="seed", now=NOW)
            for name in (GOOD, *names):
                watchlist.set_status(session, name, Classification(Status.ACTIVE, "live"), NOW)
                watchlist.set_status(session, name, Classification(Status.SEIZED, REASON), NOW)
                change = watchlist.latest_change_id(session, name)
                assert change is not None
                outbox.enqueue_takedown(session, change, now=NOW, message_id=new_message_id())
            edge, _ = lineage.add_edge(session, from_domain=GOOD, to_domain=CLONE, relation=Relation.REPLACEMENT,
                                       confidence=0.9, evidence=[Evidence("page_title", VALUE, 0.6, VALUE)], now=NOW)
            outbox.enqueue(session, edge, now=NOW, message_id=new_message_id())
    finally:
        store.close()
    return db


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    return _make_store(tmp_path / "hostile.db", ())


def _strings(data: object) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def _json_clean(text: str) -> object:
    assert not _raw_hostile(text, allowed="\n"), sorted(_raw_hostile(text, allowed="\n"))
    _encodes(text)
    return json.loads(text)


def _cli(capsys: pytest.CaptureFixture[str], db: Path, tmp_path: Path, *args: str) -> str:
    from hydrawatch.cli import main
    from hydrawatch.config import to_toml

    conf = tmp_path / "hw.toml"
    conf.write_text(to_toml({"storage": {"url": f"sqlite:///{db}"}}), encoding="utf-8")
    code = main(["--config", str(conf), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("args", [
    ("status", "--format", "json"), ("status", CLONE, "--format", "json"), ("lineage", CLONE, "--format", "json"),
    ("lineage", CLONE, "--format", "json", "--all"), ("alerts", "list", "--format", "json"),
    ("export", "--format", "json"), ("export", "--format", "stix"),
], ids=lambda a: "-".join(x for x in a if x.isalpha()))
def test_cli_json_escapes_what_the_text_views_neutralise(hostile_store: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    data = _json_clean(_cli(capsys, hostile_store, tmp_path, *args))
    if "alerts" not in args:  # the alert list names only domains
        assert any(REASON in text or TITLE in text for text in _strings(data))  # all there, only escaped


@pytest.mark.parametrize("args", [("status",), ("status", CLONE), ("lineage", CLONE), ("lineage", CLONE, "--all"),
                                  ("alerts", "list"), ("export", "--format", "csv"), ("export", "--format", "graphml")],
                         ids=lambda a: "-".join(a))
def test_text_views_and_cell_exports_show_no_raw_control(hostile_store: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    out = _cli(capsys, hostile_store, tmp_path, *args)
    assert not _raw_hostile(out, allowed="\n\r\t")  # line ends are the view's own (CSV rows end in CRLF)
    _encodes(out)


def test_api_json_and_its_errors_escape_hostile_text(hostile_store: Path) -> None:
    from hydrawatch.web.app import create_app
    from hydrawatch.web.server import start_background
    from storage.store import Store

    store = Store.from_url(f"sqlite:///{hostile_store}")
    running = start_background(create_app(store.sessions))
    try:
        with httpx.Client(base_url=running.url, timeout=10) as client:
            for path in (f"/api/domains/{CLONE}", f"/api/lineage/{CLONE}", f"/api/lineage/{GOOD}",
                         "/api/domains?q=news", "/api/export/json", "/api/export/stix"):
                resp = client.get(path)
                assert resp.status_code == 200, path
                _json_clean(resp.text)
            assert REASON in _strings(client.get(f"/api/domains/{GOOD}").json())
            # a 422 repeats the input (without NUL: the API refuses those before parsing, naming the parameter)
            echoed = client.get("/api/domains", params={"since": TITLE.replace("\x00", ""), "limit": REASON})
            assert echoed.status_code == 422
            assert "\\u202e" in echoed.text and REASON in _strings(_json_clean(echoed.text))
            missing = client.get("/api/export/" + "\u202exx")
            assert missing.status_code == 404 and _json_clean(missing.text)
    finally:
        running.stop()
        store.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox(policy.default) as served:
        yield served


def test_mail_headers_and_body_carry_no_raw_control(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    from hydrawatch.config import from_mapping
    from scheduler.deliver import deliver
    from storage.store import Store

    inbox, port = smtp
    hostile_store = _make_store(tmp_path / "mail.db", (SHADY,))
    cfg = from_mapping({"storage": {"url": f"sqlite:///{hostile_store}"},
                        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": port, "mail_to": ["analyst@example.org"],
                                   "takedowns": True, "base_url": "http://127.0.0.1:8080/"}})
    store = Store.from_url(cfg.storage.url)
    try:
        report = deliver(store, cfg.alerts, now=NOW)
    finally:
        store.close()
    assert report.sent == 3, report  # the clone, and the takedowns of good-news.info and of the shady name
    shady = [m for m in inbox.messages if "X-Hydrawatch-Takedown" in m and "shady" in m["X-Hydrawatch-Takedown"]]
    assert len(shady) == 1
    for msg in inbox.messages:
        assert {k.lower() for k in msg} >= {"subject", "from", "to"}
        assert not {k.lower() for k in msg} & {"bcc", "x-injected"}
        for key, value in msg.items():
            assert not _raw_hostile(str(value)), (key, value)
        body = msg.get_payload(decode=True).decode().replace("\r\n", "\n")  # SMTP's line ends
        assert not _raw_hostile(body, allowed="\n\t"), sorted(_raw_hostile(body, allowed="\n\t"))
        assert not any(line.startswith(("Bcc:", "X-Injected:")) for line in body.splitlines())
    bodies = "".join(m.get_payload(decode=True).decode() for m in inbox.messages)
    assert "gnp.exe" in bodies and "DEZIES" in bodies  # the text is there, only made inert

