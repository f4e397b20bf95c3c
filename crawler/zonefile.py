"""Zone files (ICANN CZDS layout) and their day-to-day difference, with bounded memory.

A CZDS zone file is a gzip text file of one record a line, ``owner TTL class type rdata``, tab-separated,
lower case: the TLD's SOA and NS, then every delegation (``example.net. 172800 in ns ns1.host.``), DS
records, glue addresses, DNSSEC signatures. The registered names are the owners of NS records under the
TLD. Today's names minus yesterday's are the new registrations (and the re-delegated ones).

Memory stays bounded whatever the zone's size (``.com`` has 1.6·10⁸ names): each day's names are sorted
externally (runs of ``RUN_NAMES`` names sorted in memory, written to disk, merged) into one compact
sorted file of distinct names, and two such files are merged in one pass to give the added names.
An in-memory set of yesterday's names would cost ~60 bytes a name (bench/zonediff.py measures both).

A file that is not a zone file (truncated or corrupt gzip, UTF-16 or binary, over the size cap) raises
:class:`ZoneFileError`, which says why and where; the caller reports it and keeps the previous state.
"""

from __future__ import annotations

import gzip
import heapq
import os
import re
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detect.errors import HydrawatchError
from detect.model import ErrorKind

RUN_NAMES = 1_000_000
"""Names sorted in memory at once (about 60 MB of bytes objects); each run is one temporary file."""
MAX_LINE = 65_536
"""A longer line is not a zone record (a DNSKEY or RRSIG line is a few hundred bytes)."""
BAD_LINES_TOLERATED = 1000
"""Unreadable lines tolerated before the share rule applies (a few odd records are no reason to stop)."""
BAD_SHARE = 0.01
"""Past ``BAD_LINES_TOLERATED``, a file with more than this share of unreadable lines is not a zone file."""
_CLASSES = frozenset({b"in", b"ch", b"hs", b"cs"})
_TYPES = frozenset({
    b"a", b"aaaa", b"afsdb", b"apl", b"caa", b"cdnskey", b"cds", b"cert", b"cname", b"csync", b"dhcid", b"dlv",
    b"dname", b"dnskey", b"ds", b"eui48", b"eui64", b"hinfo", b"https", b"ipseckey", b"key", b"kx", b"loc",
    b"mx", b"naptr", b"ns", b"nsec", b"nsec3", b"nsec3param", b"openpgpkey", b"ptr", b"rp", b"rrsig", b"sig",
    b"smimea", b"soa", b"spf", b"srv", b"sshfp", b"svcb", b"ta", b"tkey", b"tlsa", b"tsig", b"txt", b"uri",
    b"zonemd"})
"""Record types a zone file may hold (and ``typeNNN``, RFC 3597); any other word there is no record."""
_NAME = re.compile(rb"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$")


class ZoneFileError(HydrawatchError):
    """A zone file that cannot be read as one; ``kind`` says how (decode, too_large, malformed)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class ZoneStats:
    """Counts for one read of a zone file (mutable on purpose: filled while streaming)."""

    lines: int = 0
    records: int = 0       # NS records of names under the TLD (duplicates included)
    bad: int = 0           # lines that are not a zone record
    names: int = 0         # distinct names (after the sort)


def _record_type(fields: list[bytes]) -> tuple[bytes, bytes] | None:
    """(owner, type) of a split record line; TTL and class may be missing or in either order (RFC 1035)."""
    for i in (1, 2, 3):
        if i >= len(fields):
            return None
        token = fields[i].lower()
        if token.isdigit() or token in _CLASSES:
            continue
        if token in _TYPES or (token.startswith(b"type") and token[4:].isdigit()):
            return fields[0], token
        return None
    return None


def ns_owners(lines: Iterable[bytes], tld: str, stats: ZoneStats | None = None) -> Iterator[bytes]:
    """The owner names (lower case, no final dot, ASCII bytes) of the NS records strictly under ``tld``,
    in file order with duplicates. Raises ZoneFileError when the lines are plainly not a zone file."""
    stats = stats if stats is not None else ZoneStats()
    suffix = b"." + tld.strip(".").lower().encode("ascii")
    last = b""  # the previous accepted owner: a delegation's NS records come together
    for line in lines:
        stats.lines += 1
        fields = line.split()
        if len(fields) >= 5 and fields[3] == b"ns" and fields[2] == b"in" and fields[1].isdigit():
            owner = fields[0]  # the CZDS layout: owner TTL in ns target (lower case)
        elif not fields or fields[0].startswith((b";", b"$")):
            continue
        else:
            record = _record_type(fields) if len(line) <= MAX_LINE else None
            if record is None or not line.isascii():
                stats.bad += 1
                if b"\x00" in line:
                    raise ZoneFileError(ErrorKind.DECODE, "NUL bytes: not an ASCII zone file (UTF-16? binary?)")
                if stats.bad > BAD_LINES_TOLERATED and stats.bad > BAD_SHARE * stats.lines:
                    raise ZoneFileError(ErrorKind.MALFORMED, f"{stats.bad} of the first {stats.lines} lines "
                                                             "are not zone records: not a zone file")
                continue
            owner, kind = record
            if kind != b"ns":
                continue
        owner = owner.lower().rstrip(b".")
        if owner == last or (owner.endswith(suffix) and len(owner) > len(suffix) and _NAME.match(owner)):
            stats.records += 1
            last = owner
            yield owner


class _Reader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _Capped:
    """A binary reader that raises ZoneFileError once more than ``limit`` bytes were read (0 = no cap)."""

    def __init__(self, raw: _Reader, limit: int, what: str) -> None:
        self.raw, self.limit, self.what, self.total = raw, limit, what, 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.raw.read(n)
        self.total += len(data)
        if self.limit and self.total > self.limit:
            raise ZoneFileError(ErrorKind.TOO_LARGE, f"{self.what} over zone_max_bytes ({self.limit} bytes)")
        return data


def read_lines(path: Path, max_bytes: int = 0) -> Iterator[bytes]:
    """The lines of a zone file, gzip or plain (told by its first bytes), with the size cap applied to the
    file and to what it decompresses to (a gzip bomb stops at the cap). Truncated or corrupt gzip raises
    ZoneFileError."""
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = _Capped(raw, max_bytes, "file")
        if gz:
            packed = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[call-overload]  # a reader
            stream = _Capped(packed, max_bytes, "decompressed zone")
        try:
            yield from _split_lines(stream)
        except EOFError:
            raise ZoneFileError(ErrorKind.DECODE, "gzip stream ends early: the file is truncated") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise ZoneFileError(ErrorKind.DECODE, f"corrupt gzip data: {exc}") from None


def _split_lines(stream: _Reader, chunk: int = 1 << 20) -> Iterator[bytes]:
    rest = b""
    while data := stream.read(chunk):
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        if len(rest) > MAX_LINE:  # an endless line: keep what a line may hold, the rest is no record
            rest = rest[:MAX_LINE + 1]
        yield from lines
    if rest:
        yield rest


# -- sorted name files ----------------------------------------------------------------------------------
def _write_run(names: list[bytes], directory: Path) -> Path:
    names.sort()
    fd, name = tempfile.mkstemp(prefix="run-", suffix=".names", dir=directory)
    with os.fdopen(fd, "wb", buffering=1 << 20) as out:
        previous = None
        for n in names:
            if n != previous:
                out.write(n + b"\n")
                previous = n
    return Path(name)


def _read_names(path: Path) -> Iterator[bytes]:
    with path.open("rb", buffering=1 << 20) as handle:
        for line in handle:
            yield line[:-1]


def sort_names(names: Iterable[bytes], dest: Path, *, run_names: int = RUN_NAMES) -> int:
    """Write the distinct ``names`` to ``dest``, sorted, one a line; returns how many. Memory: one run.
    ``dest`` appears only when complete (written beside it, then renamed)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zone-sort-", dir=dest.parent) as tmp:
        work = Path(tmp)
        runs: list[Path] = []
        batch: list[bytes] = []
        for name in names:
            batch.append(name)
            if len(batch) >= run_names:
                runs.append(_write_run(batch, work))
                batch = []
        runs.append(_write_run(batch, work))
        count = 0
        partial = work / "merged.names"
        with partial.open("wb", buffering=1 << 20) as out:
            previous = None
            for n in heapq.merge(*(_read_names(r) for r in runs)):
                if n != previous:
                    out.write(n + b"\n")
                    previous = n
                    count += 1
        os.replace(partial, dest)
    return count


def added_names(old: Iterable[bytes], new: Iterable[bytes]) -> Iterator[bytes]:
    """The names of sorted, distinct ``new`` that are not in sorted, distinct ``old``: one merge pass."""
    olds = iter(old)
    current = next(olds, None)
    for name in new:
        while current is not None and current < name:
            current = next(olds, None)
        if current != name:
            yield name


def diff_files(old: Path, new: Path, dest: Path) -> int:
    """Write the names of sorted file ``new`` missing from sorted file ``old`` to ``dest``; returns how many."""
    count = 0
    partial = dest.with_name(dest.name + ".part")
    with partial.open("wb", buffering=1 << 20) as out:
        for name in added_names(_read_names(old), _read_names(new)):
            out.write(name + b"\n")
            count += 1
    os.replace(partial, dest)
    return count


def read_sorted(path: Path) -> Iterator[str]:
    """The names of a sorted name file, as text."""
    for name in _read_names(path):
        yield name.decode("ascii")
