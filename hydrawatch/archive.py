"""Archived copies of pages, read from local files for `hydrawatch archive import`.

A researcher who starts watching after a takedown has nothing of the lost sites to compare candidates
with. Copies saved earlier (the Wayback Machine's raw `id_` pages, a news-please or PPN dump, a
colleague's crawl) give hydrawatch that content back: each becomes an HTTP observation dated when the
copy was made, so a lost site's profile (built from what it served *before* the loss) has a page.

WARC files (``.warc``, ``.warc.gz``: Webrecorder, ArchiveBox, wget --warc-file, Heritrix) are read
with warcio: every HTML ``response`` record with a 2xx status is a page, its address the record's
``WARC-Target-URI`` and its time the ``WARC-Date`` (the options do not apply; ``--domain`` keeps only
that domain's pages). For single HTML files, where a page's address and time come from, first found wins:
1. a sidecar file ``<page>.json`` (news-please's format: ``url`` and ``date_download``; also
   ``observed_at`` / ``timestamp`` / ``date``);
2. a Wayback Machine address in the file name (``…web.archive.org_web_20240801123000id__rrn.media_….html``)
   or a 14-digit Wayback timestamp in it;
3. the command line (``--domain``, ``--url``, ``--at``).
Files are read here; nothing is fetched. Every problem is one line naming the file. Memory is bounded
whatever the files hold: pages are yielded one at a time, a page is cut at the page cap, a WARC's header
lines and payload decoding are capped (archive_warc.py), a sidecar over MAX_SIDECAR_BYTES is refused,
and one import reads at most its budget of decompressed bytes. Links found in a folder are followed
only when they point inside the given paths.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detect.errors import HydrawatchError
from detect.names import InvalidDomain, registrable_domain

if TYPE_CHECKING:  # warcio is imported by the functions that read archives: `--help` need not load it
    from hydrawatch.archive_warc import Budget

PAGE_SUFFIXES = (".html", ".htm", ".xhtml")
WARC_SUFFIXES = (".warc", ".warc.gz")
_TIME_KEYS = ("observed_at", "date_download", "timestamp", "date")
_URL_KEYS = ("url", "final_url", "source_url")
_WAYBACK_STAMP = re.compile(r"(?<!\d)((?:19|20)\d{12})(?!\d)")
MAX_SIDECAR_BYTES = 1_000_000  # news-please sidecars with the article text are tens of kB
DEFAULT_MAX_TOTAL_BYTES = 2_000_000_000  # decompressed bytes read by one import
_WAYBACK_URL = re.compile(r"web\.archive\.org[/_]web[/_](\d{8,14})[a-z_]*[/_]+(?:https?[:_/]+)?([^/_]+)", re.IGNORECASE)


class ArchiveError(ValueError, HydrawatchError):
    """A page that cannot be imported; the message is one line naming the file."""


@dataclass(frozen=True)
class ArchivedPage:
    path: Path
    domain: str
    url: str
    observed_at: datetime
    body: bytes
    truncated: bool


def parse_time(text: str) -> datetime:
    """ISO 8601 (naive = UTC), a date, news-please's ``2023-09-13 12:35:41``, or a Wayback timestamp
    (``20240801``, ``20240801123000``); ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d{8}|\d{10}|\d{12}|\d{14}", text):
        digits = text.ljust(14, "0")
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text[:40]!r} (ISO 8601, YYYY-MM-DD or a Wayback timestamp)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def page_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The page files among ``paths``: files as given, directories searched for pages and WARCs, sorted.
    Links to folders are not descended into; links to files are listed (``Roots.check`` judges them)."""
    for path in paths:
        if path.is_dir():
            found = []
            for folder, _dirs, names in os.walk(path):  # followlinks=False
                for name in names:
                    p = Path(folder) / name
                    if (p.suffix.lower() in PAGE_SUFFIXES or is_warc(p)) and (p.is_file() or p.is_symlink()):
                        found.append(p)
            yield from sorted(found)
        else:
            yield path


@dataclass(frozen=True)
class Roots:
    """The paths given on the command line: a link found in them must point inside them."""

    given: tuple[Path, ...]
    folders: tuple[Path, ...]

    @classmethod
    def of(cls, paths: Iterable[Path]) -> Roots:
        given = tuple(paths)
        folders = tuple(p.resolve() if p.is_dir() else p.parent.resolve() for p in given)
        return cls(given, folders)

    def check(self, path: Path) -> None:
        """ArchiveError when ``path`` is a link (or under one) leading outside the given paths; a file
        named on the command line is read wherever it is."""
        if path in self.given and not path.is_dir():
            return
        target = path.resolve()
        if not any(target == root or root in target.parents for root in self.folders):
            raise ArchiveError(f"{path}: a link to {target}, outside the given paths; not followed")


def _read_head(path: Path, limit: int, roots: Roots | None) -> bytes:
    """At most ``limit`` bytes of ``path``, after checking it lies under the given roots."""
    if roots is not None:
        roots.check(path)
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _sidecar(path: Path, roots: Roots | None = None) -> dict[str, object]:
    for side in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if side.is_file():
            raw = _read_head(side, MAX_SIDECAR_BYTES + 1, roots)
            if len(raw) > MAX_SIDECAR_BYTES:
                raise ArchiveError(f"{side}: sidecar larger than {MAX_SIDECAR_BYTES} bytes")
            try:
                data = json.loads(raw.decode("utf-8", errors="replace"))
            except RecursionError:
                raise ArchiveError(f"{side}: not readable JSON (nested too deeply)") from None
            except ValueError as exc:
                raise ArchiveError(f"{side}: not readable JSON ({exc})") from None
            if not isinstance(data, dict):
                raise ArchiveError(f"{side}: expected a JSON object")
            return data
    return {}


def _first(data: dict[str, object], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip() and value.strip().upper() != "NULL":
            return value.strip()
    return ""


def read_page(path: Path, *, domain: str = "", url: str = "", at: datetime | None = None,
              max_bytes: int, now: datetime, roots: Roots | None = None, budget: Budget | None = None
              ) -> ArchivedPage:
    """One archived page with its domain, address and time; ArchiveError names what is missing."""
    body = _read_head(path, max_bytes + 1, roots)
    if budget is not None:
        from hydrawatch.archive_warc import LimitExceeded

        try:
            budget.take(len(body))
        except LimitExceeded as exc:
            raise ArchiveError(f"{path}: {exc}") from None
    truncated = len(body) > max_bytes
    body = body[:max_bytes]
    if not body.strip():
        raise ArchiveError(f"{path}: empty file")
    side = _sidecar(path, roots)
    wayback = _WAYBACK_URL.search(path.name)
    page_url = _first(side, _URL_KEYS) or url
    if not page_url and wayback:
        page_url = f"https://{wayback.group(2)}/"
    if not page_url and domain:
        page_url = f"https://{domain}/"
    if not page_url:
        raise ArchiveError(f"{path}: no address (no sidecar .json with a url, no Wayback name; give --domain)")
    try:
        page_domain = registrable_domain(page_url)
    except InvalidDomain as exc:
        raise ArchiveError(f"{path}: address {page_url[:80]!r} has no registrable domain ({exc})") from None
    if domain and page_domain != domain:
        raise ArchiveError(f"{path}: the page is from {page_domain}, not {domain}")
    stamp = _first(side, _TIME_KEYS)
    try:
        when = parse_time(stamp) if stamp else at
        if when is None:
            found = wayback.group(1) if wayback else None
            found = found or (m.group(1) if (m := _WAYBACK_STAMP.search(path.name)) else None)
            when = parse_time(found) if found else None
    except ValueError as exc:
        raise ArchiveError(f"{path}: {exc}") from None
    if when is None:
        raise ArchiveError(f"{path}: no time (no sidecar date, no Wayback timestamp in the name; give --at)")
    if when > now:
        raise ArchiveError(f"{path}: archived at {when:%Y-%m-%d %H:%M} UTC, which is in the future")
    if not page_url.lower().startswith(("http://", "https://")):
        page_url = f"https://{page_url.lstrip('/')}"
    return ArchivedPage(path, page_domain, page_url, when, body, truncated)


def read_warc(path: Path, *, domain: str = "", max_bytes: int, now: datetime) -> list[ArchivedPage]:
    """The HTML pages (2xx responses) a WARC file holds, of ``domain`` only when given (all at once:
    for small files and tests; the import streams them with iter_warc)."""
    return list(iter_warc(path, domain=domain, max_bytes=max_bytes, now=now))


def iter_warc(path: Path, *, domain: str = "", max_bytes: int, now: datetime, roots: Roots | None = None,
              budget: Budget | None = None) -> Iterator[ArchivedPage]:
    """The HTML pages (2xx responses) a WARC file holds, of ``domain`` only when given, one at a time."""
    from warcio.exceptions import ArchiveLoadFailed  # type: ignore[import-untyped]

    from hydrawatch.archive_warc import BoundedArchiveIterator, Budget, LimitExceeded

    if roots is not None:
        roots.check(path)
    budget = budget or Budget(DEFAULT_MAX_TOTAL_BYTES)
    records = pages = 0
    try:
        with path.open("rb") as stream:
            for record in BoundedArchiveIterator(stream, budget):
                records += 1
                page = _warc_page(path, record, domain, max_bytes, now)
                if page is not None:
                    pages += 1
                    yield page
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ArchiveError:
        raise
    except LimitExceeded as exc:
        raise ArchiveError(f"{path}: {exc}") from None
    except (ArchiveLoadFailed, ValueError, EOFError) as exc:
        first = str(exc).splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(f"{path}: not a readable WARC file ({first})") from None
    if not records:
        raise ArchiveError(f"{path}: not a readable WARC file (no records)")
    if not pages:
        raise ArchiveError(f"{path}: no HTML page with a 2xx status{f' of {domain}' if domain else ''} in this WARC")


def _warc_page(path: Path, record: Any, domain: str, max_bytes: int, now: datetime) -> ArchivedPage | None:
    if record.rec_type != "response" or record.http_headers is None:
        return None
    status = record.http_headers.get_statuscode() or ""
    if not status.startswith("2") or "html" not in (record.http_headers.get_header("Content-Type") or "").lower():
        return None
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    try:
        page_domain = registrable_domain(url)
        when = parse_time(record.rec_headers.get_header("WARC-Date") or "")
    except (InvalidDomain, ValueError) as exc:
        raise ArchiveError(f"{path}: record for {url[:80]!r}: {exc}") from None
    if domain and page_domain != domain:
        return None
    if when > now:
        raise ArchiveError(f"{path}: record for {url[:80]!r} dated {when:%Y-%m-%d %H:%M} UTC, in the future")
    from hydrawatch.archive_warc import page_body

    body, truncated = page_body(record, max_bytes)
    return ArchivedPage(path, page_domain, url, when, body, truncated)
