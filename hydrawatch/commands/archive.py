"""`hydrawatch archive import PATH… [--domain D] [--url U] [--at TIME]`: archived copies of pages as
observations from their time (hydrawatch/archive.py says where address and time come from)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from detect.model import ARCHIVED_HEADER, HttpFetch
from detect.names import InvalidDomain, registrable_domain
from hydrawatch.archive import (
    ArchivedPage,
    ArchiveError,
    is_warc,
    page_files,
    parse_time,
    read_page,
    read_warc,
)
from hydrawatch.commands.views_common import check_format
from hydrawatch.context import CliError, state
from hydrawatch.render import terminal_safe
from hydrawatch.wiring import open_store, utcnow
from scheduler.observe import http_indicators_of
from storage import observations, watchlist


def _read_all(paths: list[Path], domain: str, url: str, at: datetime | None, max_bytes: int,
              now: datetime, err: Console) -> list[ArchivedPage]:
    """Every page, or CliError after naming each bad one: an import is all or nothing."""
    pages: list[ArchivedPage] = []
    bad = 0
    files = list(page_files(paths))
    if not files:
        raise CliError("no page files found (give .html files or folders holding them)")
    for path in files:
        try:
            if is_warc(path):
                pages.extend(read_warc(path, domain=domain, max_bytes=max_bytes, now=now))
            else:
                pages.append(read_page(path, domain=domain, url=url, at=at, max_bytes=max_bytes, now=now))
        except ArchiveError as exc:
            err.print(terminal_safe(str(exc), 300), markup=False)
            bad += 1
    if bad:
        raise CliError(f"nothing imported: {bad} of {len(files)} files cannot be read as archived pages")
    return pages


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
    ) -> None:
        """Import archived pages of watched domains as observations dated when they were archived.

        A domain lost before hydrawatch watched it then has content to compare candidates with. Each
        page's address and time come from a sidecar PAGE.json (news-please: url, date_download), a
        Wayback Machine file name, or --domain/--url/--at; a WARC file's HTML responses carry their own.
        All or nothing; importing twice adds nothing.
        """
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
        config = state(ctx).config
        pages = _read_all(paths, wanted, url, when, config.crawler.max_page_bytes, now, err)
        imported, already = 0, 0
        with open_store(config) as store:
            with store.transaction() as session:
                missing = sorted({p.domain for p in pages if watchlist.get_domain(session, p.domain) is None})
            if missing:
                raise CliError(f"nothing imported: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} "
                               f"not in the store (add with `hydrawatch seed add`)")
            with store.transaction() as session:
                for page in pages:
                    if observations.has_http(session, page.domain, page.url, page.observed_at):
                        already += 1
                        continue
                    fetch = HttpFetch(page.domain, page.url, final_url=page.url, status=200,
                                      headers=(("content-type", "text/html"), (ARCHIVED_HEADER, "1")), body=page.body,
                                      truncated=page.truncated, observed_at=page.observed_at)
                    inds, sketch = http_indicators_of(fetch)
                    observations.record_http(session, fetch, inds, sketch, now=page.observed_at)
                    imported += 1
        domains = sorted({p.domain for p in pages})
        oldest = min(p.observed_at for p in pages).isoformat().replace("+00:00", "Z")
        newest = max(p.observed_at for p in pages).isoformat().replace("+00:00", "Z")
        summary = {"imported": imported, "already_stored": already, "domains": domains,
                   "oldest": oldest, "newest": newest}
        if fmt == "json":
            typer.echo(json.dumps(summary))
            return
        err.print(f"imported {imported} archived page{'s' if imported != 1 else ''} of {', '.join(domains[:3])}"
                  f"{f' and {len(domains) - 3} more domains' if len(domains) > 3 else ''} ({already} already stored), "
                  f"archived {oldest[:10]} … {newest[:10]}", markup=False)

