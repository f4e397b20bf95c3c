"""`hydrawatch archive import PATH… [--domain D] [--url U] [--at TIME]`: archived copies of pages as
observations from their time (hydrawatch/archive.py says where address and time come from)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hydrawatch.archive import DEFAULT_MAX_TOTAL_BYTES, ArchivedPage, ArchiveError
from hydrawatch.commands.views_common import check_format
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, terminal_safe

if TYPE_CHECKING:  # the import's body loads the store, warcio and the fingerprinters; `--help` does not
    from sqlalchemy.orm import Session

    from hydrawatch.archive import Roots
    from hydrawatch.archive_warc import Budget

BATCH_PAGES = 16  # pages written between flushes …
BATCH_BYTES = 16_000_000  # … or page bytes, whichever comes first: the session never holds more


@dataclass
class _Tally:
    imported: int = 0
    already: int = 0
    bad: int = 0
    domains: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    oldest: datetime | None = None
    newest: datetime | None = None

    def saw(self, page: ArchivedPage) -> None:
        self.domains.add(page.domain)
        self.oldest = min(self.oldest or page.observed_at, page.observed_at)
        self.newest = max(self.newest or page.observed_at, page.observed_at)


def _pages(path: Path, roots: Roots, budget: Budget, domain: str, url: str, at: datetime | None,
           max_bytes: int, now: datetime) -> Iterator[ArchivedPage]:
    from hydrawatch.archive import is_warc, iter_warc, read_page

    if is_warc(path):
        yield from iter_warc(path, domain=domain, max_bytes=max_bytes, now=now, roots=roots, budget=budget)
    else:
        yield read_page(path, domain=domain, url=url, at=at, max_bytes=max_bytes, now=now, roots=roots, budget=budget)


def _import_all(session: Session, files: list[Path], roots: Roots, budget: Budget, domain: str, url: str,
                at: datetime | None, max_bytes: int, now: datetime, err: Console) -> _Tally:
    """Every page of every file, streamed into ``session`` in bounded batches (flushed, then let go), so
    memory stays bounded whatever the files hold; the caller's transaction commits only when no file was
    bad and every domain is watched (CliError otherwise, after naming each bad file): all or nothing."""
    from detect.model import ARCHIVED_HEADER, HttpFetch
    from scheduler.observe import http_indicators_of
    from storage import observations, watchlist

    tally = _Tally()
    watched: dict[str, bool] = {}
    batch_pages = batch_bytes = 0
    for path in files:
        try:
            for page in _pages(path, roots, budget, domain, url, at, max_bytes, now):
                tally.saw(page)
                if page.domain not in watched:
                    watched[page.domain] = watchlist.get_domain(session, page.domain) is not None
                if not watched[page.domain]:
                    tally.missing.add(page.domain)
                    continue
                if tally.bad or tally.missing:
                    continue  # nothing will be kept: read on only to name every bad file
                if observations.has_http(session, page.domain, page.url, page.observed_at):
                    tally.already += 1
                    continue
                fetch = HttpFetch(page.domain, page.url, final_url=page.url, status=200,
                                  headers=(("content-type", "text/html"), (ARCHIVED_HEADER, "1")), body=page.body,
                                  truncated=page.truncated, observed_at=page.observed_at)
                inds, sketch = http_indicators_of(fetch)
                observations.record_http(session, fetch, inds, sketch, now=page.observed_at)
                tally.imported += 1
                batch_pages, batch_bytes = batch_pages + 1, batch_bytes + len(page.body)
                if batch_pages >= BATCH_PAGES or batch_bytes >= BATCH_BYTES:
                    session.flush()
                    session.expunge_all()
                    batch_pages = batch_bytes = 0
        except ArchiveError as exc:
            err.print(terminal_safe(str(exc), 300), markup=False)
            tally.bad += 1
    if tally.bad:
        raise CliError(f"nothing imported: {tally.bad} of {len(files)} files cannot be read as archived pages")
    if tally.missing:
        missing = sorted(tally.missing)
        raise CliError(f"nothing imported: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} "
                       f"not in the store (add with `hydrawatch seed add`)")
    return tally


def register(app: typer.Typer) -> None:
    archive = typer.Typer(help="Archived copies of pages: the content of sites lost before you watched them.",
                          no_args_is_help=True)
    app.add_typer(archive, name="archive")

    @archive.command("import")
    def import_(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help="page files (.html), WARC files, or folders of them")],
        domain: Annotated[str, typer.Option("--domain", help="the pages' domain, when no sidecar names it")] = "",
        url: Annotated[str, typer.Option("--url", help="the pages' address, when no sidecar names it")] = "",
        at: Annotated[str, typer.Option("--at", help="when the copies were made (ISO 8601, YYYY-MM-DD or a "
                                                     "Wayback timestamp), when no sidecar says")] = "",
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
        max_total: Annotated[int, typer.Option(
            "--max-total-bytes", help="decompressed bytes this import may read from all the files; beyond it "
                                      "nothing is imported")] = DEFAULT_MAX_TOTAL_BYTES,
    ) -> None:
        """Import archived pages of watched domains as observations dated when they were archived.

        A domain lost before hydrawatch watched it then has content to compare candidates with. Each
        page's address and time come from a sidecar PAGE.json (news-please: url, date_download), a
        Wayback Machine file name, or --domain/--url/--at; a WARC file's HTML responses carry their own.
        All or nothing; importing twice adds nothing.
        """
        from detect.names import InvalidDomain, registrable_domain
        from hydrawatch.archive import Roots, page_files, parse_time
        from hydrawatch.archive_warc import Budget
        from hydrawatch.wiring import open_store, utcnow

        check_format(fmt, ("text", "json"))
        err = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message, never wrapped
        now = utcnow()
        try:
            when = parse_time(at) if at else None
            wanted = registrable_domain(domain) if domain else ""
        except InvalidDomain as exc:
            raise CliError(f"--domain {terminal_safe(domain, 80)!s}: {exc}") from None
        except ValueError as exc:
            raise CliError(f"--at: {exc}") from None
        if max_total <= 0:
            raise CliError("--max-total-bytes must be greater than 0", 2)
        config = state(ctx).config
        files = list(page_files(paths))
        if not files:
            raise CliError("no page files found (give .html files or folders holding them)")
        roots, budget = Roots.of(paths), Budget(max_total)
        with open_store(config) as store, store.transaction() as session:
            tally = _import_all(session, files, roots, budget, wanted, url, when, config.crawler.max_page_bytes,
                                now, err)
        assert tally.oldest is not None and tally.newest is not None
        domains = sorted(tally.domains)
        imported, already = tally.imported, tally.already
        oldest = tally.oldest.isoformat().replace("+00:00", "Z")
        newest = tally.newest.isoformat().replace("+00:00", "Z")
        summary = {"imported": imported, "already_stored": already, "domains": domains,
                   "oldest": oldest, "newest": newest}
        if fmt == "json":
            typer.echo(dumps(summary, indent=None))
            return
        err.print(f"imported {imported} archived page{'s' if imported != 1 else ''} of {', '.join(domains[:3])}"
                  f"{f' and {len(domains) - 3} more domains' if len(domains) > 3 else ''} ({already} already stored), "
                  f"archived {oldest[:10]} … {newest[:10]}", markup=False)

