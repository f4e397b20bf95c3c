"""`hydrawatch status [DOMAIN]`: current status of watched domains."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hydrawatch.commands.views_common import parse_status
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, iso, terminal_safe


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        domain: Annotated[str | None, typer.Argument(help="one domain (default: all)")] = None,
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
        campaign: Annotated[str | None, typer.Option(help="only this campaign")] = None,
        only: Annotated[str | None, typer.Option("--status", help="only this status: active, seized, suspended, parked, redirecting, dead or unknown")] = None,
        origin: Annotated[str | None, typer.Option(help="seed or discovered")] = None,
        since: Annotated[datetime | None, typer.Option(help="status changed at or after (UTC)")] = None,
    ) -> None:
        """Show the current status of watched domains."""
        from hydrawatch.wiring import open_store
        from storage import watchlist

        if fmt not in ("text", "json"):
            raise CliError(f"--format must be text or json, not {fmt!r}", 2)
        wanted = parse_status(only) if only is not None else None
        with open_store(state(ctx).config) as store, store.transaction() as session:
            if domain:
                from detect.names import InvalidDomain, registrable_domain

                try:
                    name = registrable_domain(domain)
                except InvalidDomain as exc:
                    raise CliError(f"{domain!r}: {exc}", 2) from None
                one = watchlist.get_domain(session, name)
                if one is None:
                    raise CliError(f"{name} is not in the store")
                rows = [one]
            else:
                rows = watchlist.list_domains(session, campaign=campaign, status=wanted, origin=origin, watched_only=True,
                                              changed_since=since.replace(tzinfo=UTC) if since else None)
            history = {d.name: watchlist.status_history(session, d.name) for d in rows} if domain else {}
        if fmt == "json":
            out = []
            for d in rows:
                item = {"domain": d.name, "status": d.status, "reason": d.status_reason, "campaign": d.campaign,
                        "origin": d.origin, "since": iso(d.status_since), "first_seen": iso(d.first_seen),
                        "last_seen": iso(d.last_seen)}
                if domain:
                    item["status_history"] = [{"status": h.status, "since": iso(h.since), "reason": h.reason}
                                              for h in history[d.name]]
                out.append(item)
            typer.echo(dumps(out))
            return
        table = Table("domain", "status", "since", "campaign", "origin", "reason", title=f"{len(rows)} domains")
        for d in rows:
            # Text(): crawled reasons may contain Rich markup ("[red]…") that must print as typed.
            table.add_row(Text(d.name), Text(d.status), iso(d.status_since) or "",
                          Text(terminal_safe(d.campaign, 40)), Text(d.origin), Text(terminal_safe(d.status_reason, 80)))
        Console(highlight=False).print(table)
