"""`hydrawatch probe`: text and jsonl output, --file, stdin, bad lines, against a loopback DNS server."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydrawatch.cli import main
from hydrawatch.commands.probe import probe_name
from hydrawatch.config import Config
from sandbox.net import Sandbox
from tests.crawler import nanodns
from tests.crawler.nanodns import NanoServer


@pytest.fixture
def server() -> Iterator[NanoServer]:
    with NanoServer(nanodns.answers_everything()) as s:
        yield s


@pytest.fixture
def config_file(tmp_path: Path, server: NanoServer) -> Path:
    path = tmp_path / "hydrawatch.toml"
    path.write_text(f'[dns]\nnameservers = ["{server.address}"]\ntimeout = 0.5\nretries = 0\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_one_aligned_line_per_name(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(config_file), "probe", "example.test", "gone.test",
                         "--types", "A,MX")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    by_name = {line.split()[0]: line for line in lines}
    assert by_name["example.test"].split()[1] == "NOERROR"
    assert "A=192.0.2.1,192.0.2.2" in by_name["example.test"] or "A=192.0.2.2,192.0.2.1" in by_name["example.test"]
    assert "MX=10 mx.example.net" in by_name["example.test"]
    assert by_name["gone.test"].split()[1] == "NXDOMAIN"
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # rcode column aligned


def test_jsonl_output_has_every_asked_type(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(config_file), "probe", "www.example.test", "gone.test",
                         "--format", "jsonl")
    assert code == 0, err
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    www = rows["www.example.test"]
    assert www["rcode"] == "NOERROR"
    assert www["CNAME"] == ["example.test"]
    assert sorted(www["A"]) == ["192.0.2.1", "192.0.2.2"]
    assert set(www) >= {"name", "rcode", "A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME", "error"}
    assert rows["gone.test"] == {"name": "gone.test", "rcode": "NXDOMAIN", "A": [], "AAAA": [], "NS": [],
                                 "MX": [], "SOA": [], "TXT": [], "CNAME": [], "error": ""}


def test_file_input_skips_bad_lines_with_one_stderr_line_each(
        config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# candidates\nexample.test\n\nbad..name\nhttps://WWW.Example.TEST/path\n-x-.test\ngone.test\n")
    code, out, err = run(capsys, "--config", str(config_file), "probe", "--file", str(names), "--types", "A",
                         "--format", "jsonl")
    assert code == 0
    assert sorted(json.loads(line)["name"] for line in out.splitlines()) == [
        "example.test", "gone.test", "www.example.test"]
    bad = err.strip().splitlines()
    assert len(bad) == 2
    assert ":4:" in bad[0] and "bad..name" in bad[0]
    assert ":6:" in bad[1] and "-x-.test" in bad[1]


def test_stdin_is_read_with_a_dash(config_file: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("example.test\ngone.test\n"))
    code, out, _ = run(capsys, "--config", str(config_file), "probe", "--file", "-", "--types", "A")
    assert code == 0
    assert sorted(line.split()[1] for line in out.splitlines()) == ["NOERROR", "NXDOMAIN"]


def test_the_installed_command_reads_stdin(config_file: Path) -> None:
    exe = Path(sys.executable).with_name("hydrawatch")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    out = subprocess.run([str(exe), "--config", str(config_file), "probe", "-f", "-", "--types", "A",
                          "--format", "jsonl"], input="example.test\nnot a name\n", capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["rcode"] for line in out.stdout.splitlines()] == ["NOERROR"]
    assert "stdin:2" in out.stderr


def test_usage_errors_exit_2(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--config", str(config_file), "probe")[0] == 2
    assert run(capsys, "--config", str(config_file), "probe", "x.test", "--format", "xml")[0] == 2
    code, _, err = run(capsys, "--config", str(config_file), "probe", "x.test", "--types", "A,NOPE")
    assert code == 2 and "NOPE" in err
    code, _, err = run(capsys, "--config", str(config_file), "probe", "--file", "/nonexistent/names.txt")
    assert code == 1 and "names.txt" in err


def test_probe_name_keeps_subdomains_and_normalises() -> None:
    assert probe_name("_dmarc.Example.TEST") == "_dmarc.example.test"
    assert probe_name("http://www.example.test:8080/x") == "www.example.test"
    assert probe_name("bücher.example") == "xn--bcher-kva.example"
    for bad in ("1.2.3.4", "a..b", "-a.test", "x" * 64 + ".test"):
        with pytest.raises(ValueError):
            probe_name(bad)


def test_probe_file_asks_a_dead_name_one_question_whatever_the_types(
        config_file: Path, server: NanoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One NXDOMAIN answers every type of a name (issue 16 item 1): the other six are never asked."""
    from detect.model import RECORD_TYPES

    names = tmp_path / "names.txt"
    names.write_text("gone.test\nlost.test\nexample.test\nvanished.test\n")
    code, out, err = run(capsys, "--config", str(config_file), "probe", "--file", str(names), "--format", "jsonl")
    assert code == 0, err
    rcodes = {row["name"]: row["rcode"] for row in map(json.loads, out.splitlines())}
    assert rcodes == {"gone.test": "NXDOMAIN", "lost.test": "NXDOMAIN", "vanished.test": "NXDOMAIN",
                      "example.test": "NOERROR"}
    asked: dict[str, list[str]] = {}
    for name, rtype, _ in server.queries:
        asked.setdefault(name, []).append(rtype)
    for dead in ("gone.test", "lost.test", "vanished.test"):
        assert asked[dead] == [RECORD_TYPES[0]]
    assert sorted(asked["example.test"]) == sorted(RECORD_TYPES)


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_probe_file_prints_what_the_asyncio_prober_finds_on_the_sandbox_world(
        fmt: str, sandbox: Sandbox, sandbox_config: Config, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The command line's synchronous sweep (crawler/dnsfast.py) prints, line for line, what the
    prober's asyncio path finds rendered by as_json/as_text: every name of doppelganger-2024, its www
    and mail hosts, and names that do not exist."""
    import asyncio

    from crawler.dns import Prober
    from detect.model import RECORD_TYPES
    from hydrawatch.commands.probe import as_json, as_text

    domains = sorted({d for view in sandbox.world.views.values() for d in view.domains})
    names = [*domains, *(f"www.{d}" for d in domains), *(f"mail.{d}" for d in domains),
             *(f"nothing-{i}.{d}" for i, d in enumerate(domains))]
    listing = tmp_path / "names.txt"
    listing.write_text("\n".join(names) + "\n")
    config = tmp_path / "hydrawatch.toml"
    config.write_text(f'[dns]\nnameservers = {json.dumps(sandbox_config.dns.nameservers)}\n')
    code, out, err = run(capsys, "--config", str(config), "probe", "--file", str(listing), "--format", fmt)
    assert code == 0, err

    async def reference() -> list[str]:
        prober = Prober.from_settings(sandbox_config.dns)
        try:
            return [as_json(r, list(RECORD_TYPES)) if fmt == "jsonl" else as_text(r, list(RECORD_TYPES), 32)
                    async for r in prober.probe(names)]
        finally:
            await prober.close()

    expected = asyncio.run(reference())
    assert sorted(map(_unshuffled, out.splitlines())) == sorted(map(_unshuffled, expected))
    assert len(expected) == len(names) and any("NOERROR" in line for line in expected)
    assert any("NXDOMAIN" in line for line in expected)


def _unshuffled(line: str) -> str:
    """A probe line with each type's values in sorted order (the sandbox shuffles RRsets per answer)."""
    if line.startswith("{"):
        row = json.loads(line)
        return json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in row.items()})
    return re.sub(r"(?<= )([A-Z]+)=(.*?)(?= [A-Z]+=|$)",
                  lambda m: f"{m[1]}=" + ",".join(sorted(m[2].split(","))), line)
