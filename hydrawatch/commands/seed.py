"""`hydrawatch seed add|import`: put domains on the watchlist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hydrawatch.context import CliError, state
from hydrawatch.render import terminal_safe

if TYPE_CHECKING:
    from hydrawatch.seeds import ParsedSeeds

CampaignOpt = Annotated[str, typer.Option("--campaign", help="campaign name recorded with each domain")]


def _store(ctx: typer.Context, parsed: ParsedSeeds, campaign: str) -> None:
    from hydrawatch.wiring import open_store, utcnow
    from storage import watchlist

    err = Console(stderr=True, highlight=False)
    for bad in parsed.bad:
        err.print(f"line {bad.line}: {terminal_safe(bad.text, 80)!s}: {bad.reason}", markup=False)
    if not parsed.domains:
        raise CliError(f"no valid domain given ({len(parsed.bad)} rejected)")
    with open_store(state(ctx).config) as store, store.transaction() as session:
        result = watchlist.add_domains(session, parsed.domains, campaign=campaign, origin="seed", now=utcnow())
    err.print(f"added {len(result.added)}, already watched {len(result.existing)}, rejected {len(parsed.bad)}")


def register(app: typer.Typer) -> None:
    seed = typer.Typer(help="Add domains to the watchlist.", no_args_is_help=True)
    app.add_typer(seed, name="seed")

    @seed.command("add")
    def add(ctx: typer.Context, domains: Annotated[list[str], typer.Argument(help="domains or URLs")],
            campaign: CampaignOpt = "") -> None:
        """Add DOMAIN… to the watchlist."""
        from hydrawatch.seeds import parse_names

        _store(ctx, parse_names([(i, d) for i, d in enumerate(domains, 1)]), campaign)

    @seed.command("import")
    def import_(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="text (one a line) or CSV")],
                campaign: CampaignOpt = "") -> None:
        """Import FILE: one domain a line (# comments), or CSV with a `domain` column. All or nothing."""
        from hydrawatch.seeds import SeedFileError, read_seed_file

        try:
            parsed = read_seed_file(file)
        except SeedFileError as exc:
            raise CliError(str(exc)) from None
        _store(ctx, parsed, campaign)
