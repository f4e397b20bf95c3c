"""Reading seed files: one domain a line (# comments) or CSV with a `domain` column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from detect.errors import HydrawatchError
from detect.names import InvalidDomain, registrable_domain


class SeedFileError(HydrawatchError):
    """The file as a whole cannot be read (missing, binary, CSV without a domain column)."""


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class ParsedSeeds:
    domains: tuple[str, ...]
    bad: tuple[BadLine, ...]


def _looks_like_csv(first: str) -> bool:
    return "," in first and "domain" in [c.strip().lower() for c in first.split(",")]


def parse_names(items: list[tuple[int, str]]) -> ParsedSeeds:
    good: dict[str, None] = {}
    bad: list[BadLine] = []
    for lineno, text in items:
        try:
            good[registrable_domain(text)] = None
        except InvalidDomain as exc:
            bad.append(BadLine(lineno, text, str(exc)))
    return ParsedSeeds(tuple(good), tuple(bad))


def parse_text(text: str) -> ParsedSeeds:
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    items: list[tuple[int, str]] = []
    if _looks_like_csv(first):
        reader = csv.DictReader(io.StringIO(text))
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        column = fields["domain"]
        for row in reader:
            value = (row.get(column) or "").strip()
            if value and not value.startswith("#"):
                items.append((reader.line_num, value))
    else:
        for lineno, line in enumerate(lines, 1):
            value = line.split("#", 1)[0].strip()
            if value:
                items.append((lineno, value))
    return parse_names(items)


def read_seed_file(path: Path) -> ParsedSeeds:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeedFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data[:4096]:
        raise SeedFileError(f"{path}: looks binary, expected text or CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeedFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_text(text)
