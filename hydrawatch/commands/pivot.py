"""`hydrawatch pivot KIND VALUE`: every domain that ever showed an indicator, with first/last seen."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hydrawatch.commands.views_common import check_format
from hydrawatch.context import CliError, state
from hydrawatch.render import dumps, iso, terminal_safe


def register(app: typer.Typer) -> None:
    @app.command("pivot")
    def pivot_cmd(
        ctx: typer.Context,
        kind: Annotated[str, typer.Argument(help="indicator kind: ga, ns, ip, favicon_mmh3, cert_san …")],
        value: Annotated[str, typer.Argument(help="the exact value")],
        fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    ) -> None:
        """List every domain that ever shared an indicator, with when it was first and last seen there."""
        from hydrawatch.present import pivot_json
        from hydrawatch.wiring import open_store
        from storage import views

        check_format(fmt, ("text", "json"))
        with open_store(state(ctx).config) as store, store.transaction() as session:
            found = views.pivot(session, kind, value)
            kinds = views.indicator_kinds(session) if found is None else []
        if found is None:
            known = ", ".join(k for k, _ in kinds) or "none yet"
            raise CliError(f"no domain ever had indicator {terminal_safe(kind, 40)}={terminal_safe(value, 120)} "
                           f"(kinds in the store: {known})")
        if fmt == "json":
            typer.echo(dumps(pivot_json(found)))
            return
        table = Table("domain", "status", "campaign", "first seen", "last seen", "seen",
                      title=Text(f"{len(found.hits)} domains with {terminal_safe(kind, 40)} = "
                                 f"{terminal_safe(value, 120)}"))
        for hit in found.hits:
            table.add_row(Text(hit.domain.name), Text(hit.domain.status), Text(terminal_safe(hit.domain.campaign, 40)),
                          iso(hit.first_seen), iso(hit.last_seen), str(hit.observations))
        Console(highlight=False).print(table)
