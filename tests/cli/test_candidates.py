"""`hydrawatch candidates`: the lookalike names for a domain, as text or JSON lines, optionally resolved."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from hydrawatch.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text('[discovery]\ntlds = ["so", "pw", "cc", "pm", "media"]\nfuzzers = ["tld-swap", "omission"]\n')
    return path


def test_text_lists_each_name_with_its_fuzzer_aligned(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(cfg), "candidates", "rrn.media")
    lines = out.splitlines()
    assert code == 0
    assert lines[:4] == [f"{'tld-swap':<13}  rrn.so", f"{'tld-swap':<13}  rrn.pw", f"{'tld-swap':<13}  rrn.cc",
                         f"{'tld-swap':<13}  rrn.pm"]
    assert f"{'omission':<13}  rn.media" in lines
    assert not any(line.endswith(" rrn.media") for line in lines)


def test_jsonl_has_domain_and_fuzzer(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(cfg), "candidates", "https://www.artichoc.io/x", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {"domain": "artichoc.cc", "fuzzer": "tld-swap"} in rows
    assert all(set(r) == {"domain", "fuzzer"} for r in rows)


def test_fuzzers_option_overrides_config_and_unknown_names_fail(cfg: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(cfg), "candidates", "spiegel.de", "--fuzzers", "hyphenation")
    assert code == 0 and {line.split()[0] for line in out.splitlines()} == {"hyphenation"}
    code, _, err = run(capsys, "--config", str(cfg), "candidates", "spiegel.de", "--fuzzers", "nope")
    assert code == 2 and "unknown fuzzer 'nope'" in err and len(err.strip().splitlines()) == 1


def test_bad_domain_and_bad_format_are_one_line_errors(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--config", str(cfg), "candidates", "not a domain")[0] == 2
    code, _, err = run(capsys, "--config", str(cfg), "candidates", "rrn.media", "--format", "xml")
    assert code == 2 and "--format" in err


def test_default_config_uses_every_icann_tld(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hw.toml"
    path.write_text('[discovery]\nfuzzers = ["tld-swap"]\n')
    code, out, _ = run(capsys, "--config", str(path), "candidates", "washingtonpost.com")
    names = {line.split()[1] for line in out.splitlines()}
    assert code == 0 and "washingtonpost.pm" in names and len(names) > 1400


# --registered: a tiny authoritative-looking DNS server on loopback that knows two names.

ZONE = {"rrn.so": {"A": ["192.0.2.10"], "NS": ["ns1.example.net."]},
        "rrn.cc": {"AAAA": ["2001:db8::1"], "NS": ["ns1.example.net."]}}


def _answer(wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    rtype = dns.rdatatype.to_text(question.rdtype)
    if name not in ZONE:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    elif rtype in ZONE[name]:
        reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", rtype, *ZONE[name][rtype]))
    return reply.to_wire()


@pytest.fixture
def nameserver() -> Iterator[str]:
    """Answers UDP on 127.0.0.1:<ephemeral> until the test ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            with contextlib.suppress(dns.exception.DNSException, ValueError, IndexError):
                sock.sendto(_answer(wire), peer)  # a garbage query gets no answer, like a real server

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    sock.close()


def test_loopback_nameserver_answers(nameserver: str) -> None:
    import dns.query

    host, port = nameserver.split(":")
    reply = dns.query.udp(dns.message.make_query("rrn.so", "A"), host, port=int(port), timeout=2)
    assert reply.answer[0][0].to_text() == "192.0.2.10"
    reply = dns.query.udp(dns.message.make_query("rrn.pw", "A"), host, port=int(port), timeout=2)
    assert reply.rcode() == dns.rcode.NXDOMAIN


def test_registered_keeps_only_names_that_resolve(cfg: Path, nameserver: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("crawler.dns")
    text = cfg.read_text() + f'[dns]\nnameservers = ["{nameserver}"]\ntimeout = 1.0\n'
    cfg.write_text(text)
    code, out, err = run(capsys, "--config", str(cfg), "candidates", "rrn.media", "--registered",
                         "--format", "jsonl")
    assert code == 0, err
    rows = sorted((json.loads(line) for line in out.splitlines()), key=lambda r: r["domain"])
    assert [r["domain"] for r in rows] == ["rrn.cc", "rrn.so"]
    so = rows[1]
    assert so["fuzzer"] == "tld-swap" and so["rcode"] == "NOERROR" and so["A"] == ["192.0.2.10"]
    assert so["NS"] == ["ns1.example.net"] and rows[0]["AAAA"] == ["2001:db8::1"]
    code, out, _ = run(capsys, "--config", str(cfg), "candidates", "rrn.media", "--registered")
    assert code == 0 and any(line.startswith("tld-swap") and "rrn.so" in line and "192.0.2.10" in line
                             for line in out.splitlines())


def test_tld_crosses_typo_labels_with_more_suffixes(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the hunt does with the network's TLDs: without --tld typos stay on the domain's own suffix."""
    code, out, _ = run(capsys, "--config", str(cfg), "candidates", "quill-courier.info", "--format", "jsonl")
    alone = {json.loads(line)["domain"] for line in out.splitlines()}
    code2, out2, _ = run(capsys, "--config", str(cfg), "candidates", "quill-courier.info", "--format", "jsonl",
                         "--tld", "net", "--tld", "org")
    crossed = {json.loads(line)["domain"]: json.loads(line)["fuzzer"] for line in out2.splitlines()}
    assert code == code2 == 0
    assert "quil-courier.info" in alone and "quil-courier.net" not in alone
    assert crossed["quil-courier.net"] == crossed["quil-courier.org"] == "omission"
    assert "quill-courier.net" not in crossed  # tld-swap stays over [discovery] tlds
