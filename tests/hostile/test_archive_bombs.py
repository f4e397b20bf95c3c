"""`hydrawatch archive import` of hostile archives (in a subprocess where its peak memory is measured,
in process otherwise): header-line and
content-encoding bombs, many pages at the page cap, a total cap, deeply nested and oversized sidecars,
links out of the given folders. Each is one clear line (or a bounded import), never a traceback, never
memory in proportion to the bomb, and all or nothing."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import brotli
import pytest

from hydrawatch.config import to_toml
from tests import support
from tests.hostile.harness import cli


def run(conf: Path, *args: str) -> tuple[int, str, str, int]:
    """The CLI in this process, where peak memory is not measured: (exit code, stdout, stderr, 0)."""
    done = support.cli(conf, *args)
    return done.returncode, done.stdout, done.stderr, 0

LOST = "marten-post.info"
PAGE = f"<html><head><title>Marten Post</title></head><body><p>{'Fishermen lose their quotas. ' * 40}</p>"
MB = 1024  # ru_maxrss is in KiB


def config(tmp_path: Path, max_page_bytes: int = 2_000_000) -> Path:
    path = tmp_path / "hydrawatch.toml"
    path.write_text(to_toml({"storage": {"url": f"sqlite:///{tmp_path / 'store.db'}"},
                             "crawler": {"max_page_bytes": max_page_bytes}}), encoding="utf-8")
    assert run(path, "init")[0] == 0
    assert run(path, "seed", "add", LOST)[0] == 0
    return path


def observations(tmp_path: Path) -> int:
    import sqlite3

    with sqlite3.connect(tmp_path / "store.db") as conn:
        return int(conn.execute("select count(*) from observations where kind = 'http'").fetchone()[0])


def warc_record(url: str, body: bytes, *, headers: list[tuple[str, str]] | None = None,
                warc_extra: bytes = b"") -> bytes:
    http = b"HTTP/1.1 200 OK\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in
                                                (headers or [("Content-Type", "text/html")])) + b"\r\n"
    block = http + body
    return (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: " + url.encode() +
            b"\r\nWARC-Date: 2025-02-01T10:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n" +
            warc_extra + f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n")


def small_import(tmp_path: Path) -> int:
    """Peak RSS (KiB) of importing one ordinary page: the baseline every bomb is measured against."""
    base = tmp_path / "base"
    base.mkdir()
    conf = config(base)
    path = base / "one.warc.gz"
    path.write_bytes(gzip.compress(warc_record(f"https://{LOST}/", PAGE.encode())))
    code, _, err, peak = cli(conf, "archive", "import", str(path))
    assert code == 0, err
    return peak


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> int:
    """:func:`small_import`'s peak, measured once per module (per worker) rather than once per bomb."""
    return small_import(tmp_path_factory.mktemp("baseline"))


def one_clear_line(err: str, *words: str) -> None:
    assert "Traceback" not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert lines and all(len(line) < 400 for line in lines), err[-3000:]
    for word in words:
        assert word in err, err[-3000:]


def test_an_unbounded_warc_header_line_is_one_line_in_bounded_memory(tmp_path: Path, baseline: int) -> None:
    conf = config(tmp_path)
    bomb = tmp_path / "header-bomb.warc.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:  # ~400 MB of one header line in a few hundred kB
        out.write(b"WARC/1.0\r\nWARC-Type: response\r\nX-Pad: ")
        chunk = b"A" * (1 << 20)
        for _ in range(400):
            out.write(chunk)
        out.write(b"\r\n\r\n")
    assert bomb.stat().st_size < 1_000_000
    code, _, err, peak = cli(conf, "archive", "import", str(bomb))
    assert code != 0
    one_clear_line(err, str(bomb), "header", "nothing imported")
    assert peak - baseline < 64 * MB, (peak, baseline)
    assert observations(tmp_path) == 0


def test_many_pages_at_the_page_cap_are_written_in_bounded_batches(tmp_path: Path, baseline: int) -> None:
    conf = config(tmp_path, max_page_bytes=2_000_000)
    page = (PAGE + "<p>" + "Lorem ipsum dolor sit amet " * 80_000 + "</p></body></html>").encode()[:2_000_000]
    bomb = tmp_path / "pages.warc.gz"
    bomb.write_bytes(b"".join(gzip.compress(warc_record(f"https://{LOST}/{i}", page)) for i in range(40)))
    assert bomb.stat().st_size < 1_000_000
    code, out, err, peak = cli(conf, "archive", "import", str(bomb), "--format", "json", timeout=600)
    assert code == 0, err[-3000:]
    assert json.loads(out)["imported"] == 40 and observations(tmp_path) == 40
    assert peak - baseline < 48 * MB, (peak, baseline)  # 40 pages held at once would be 80 MB of bodies alone


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_a_content_encoding_bomb_in_a_record_is_cut_at_the_page_cap(tmp_path: Path, encoding: str, baseline: int) -> None:
    conf = config(tmp_path, max_page_bytes=1_000_000)
    size = 512 << 20
    if encoding == "br":
        comp = brotli.Compressor(quality=1)
        payload = comp.process(PAGE.encode()) + b"".join(comp.process(b"a" * (1 << 20)) for _ in range(size >> 20))
        payload += comp.finish()
    else:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        payload = z.compress(PAGE.encode()) + b"".join(z.compress(b"a" * (1 << 20)) for _ in range(size >> 20))
        payload += z.flush()
    bomb = tmp_path / f"{encoding}-bomb.warc.gz"
    bomb.write_bytes(gzip.compress(warc_record(f"https://{LOST}/", payload, headers=[
        ("Content-Type", "text/html"), ("Content-Encoding", encoding)])))
    code, out, err, peak = cli(conf, "archive", "import", str(bomb), "--format", "json", timeout=300)
    assert code == 0, err[-3000:]
    assert json.loads(out)["imported"] == 1
    assert peak - baseline < 64 * MB, (peak, baseline)


def test_a_chunked_body_with_a_huge_chunk_is_read_in_bounded_memory(tmp_path: Path, baseline: int) -> None:
    conf = config(tmp_path, max_page_bytes=1_000_000)
    size = 300 << 20
    head = f"{size:x}\r\n".encode() + PAGE.encode()
    tail = b"\r\n0\r\n\r\n"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    length = len(http) + len(head) + (size - len(PAGE)) + len(tail)
    bomb = tmp_path / "chunked.warc.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as out:  # written in pieces: this process never holds it
        out.write(b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://" + LOST.encode() +
                  b"/\r\nWARC-Date: 2025-02-01T10:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n" +
                  f"Content-Length: {length}\r\n\r\n".encode() + http + head)
        left, piece = size - len(PAGE), b"a" * (1 << 20)
        while left > 0:
            out.write(piece[:left])
            left -= len(piece)
        out.write(tail + b"\r\n\r\n")
    code, out_, err, peak = cli(conf, "archive", "import", str(bomb), "--format", "json", timeout=300)
    assert code == 0, err[-3000:]
    assert json.loads(out_)["imported"] == 1
    assert peak - baseline < 64 * MB, (peak, baseline)


def test_the_total_read_is_capped_and_nothing_is_kept(tmp_path: Path) -> None:
    conf = config(tmp_path)
    path = tmp_path / "big.warc.gz"
    path.write_bytes(b"".join(gzip.compress(warc_record(f"https://{LOST}/{i}", PAGE.encode() * 200))
                              for i in range(10)))
    code, _, err, _ = run(conf, "archive", "import", str(path), "--max-total-bytes", "500000")
    assert code != 0
    one_clear_line(err, "500000", "nothing imported")
    assert observations(tmp_path) == 0
    assert run(conf, "archive", "import", str(path))[0] == 0 and observations(tmp_path) == 10


def saved_page(folder: Path, name: str = "home.html", sidecar: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / name
    page.write_text(PAGE, encoding="utf-8")
    side = sidecar if sidecar is not None else json.dumps({"url": f"https://{LOST}/", "date_download": "2025-02-01"})
    page.with_name(name + ".json").write_text(side, encoding="utf-8")
    return page


@pytest.mark.parametrize("sidecar, words", [
    ("[" * 200_000 + "]" * 200_000, ["home.html.json", "nested"]),
    (json.dumps({"url": f"https://{LOST}/", "date_download": "2025-02-01", "maintext": "x" * 3_000_000}),
     ["home.html.json", "larger than"]),
])
def test_hostile_sidecars_are_one_clear_line(tmp_path: Path, sidecar: str, words: list[str]) -> None:
    conf = config(tmp_path)
    page = saved_page(tmp_path / "saved", sidecar=sidecar)
    code, _, err, _ = run(conf, "archive", "import", str(page.parent))
    assert code != 0
    one_clear_line(err, *words, "nothing imported")
    assert observations(tmp_path) == 0


def test_links_out_of_the_given_folders_are_not_followed(tmp_path: Path) -> None:
    conf = config(tmp_path)
    outside = saved_page(tmp_path / "elsewhere", "private.html")
    saved = tmp_path / "saved"
    saved_page(saved)
    (saved / "stolen.html").symlink_to(outside)
    (saved / "stolen.html.json").symlink_to(outside.with_name("private.html.json"))
    code, _, err, _ = run(conf, "archive", "import", str(saved))
    assert code != 0
    one_clear_line(err, "stolen.html", "outside the given paths", "nothing imported")
    assert observations(tmp_path) == 0
    # a sidecar that links out is refused too, and a link inside the given folder is fine
    (saved / "stolen.html").unlink()
    (saved / "stolen.html.json").unlink()
    (saved / "inner.html").symlink_to(saved / "home.html")
    (saved / "home2.html").write_text(PAGE, encoding="utf-8")
    (saved / "home2.html.json").symlink_to(outside.with_name("private.html.json"))
    code, _, err, _ = run(conf, "archive", "import", str(saved))
    assert code != 0 and "home2.html.json" in err and "outside the given paths" in err, err
    (saved / "home2.html").unlink()
    (saved / "home2.html.json").unlink()
    code, _, err, _ = run(conf, "archive", "import", str(saved), "--at", "2025-02-01", "--domain", LOST)
    assert code == 0, err
