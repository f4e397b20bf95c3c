"""`hydrawatch init`: create or migrate the store."""

from __future__ import annotations

import typer
from rich.console import Console

from hydrawatch.context import state


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(ctx: typer.Context) -> None:
        """Create the store, or upgrade it to the current schema (safe to repeat)."""
        from hydrawatch.wiring import open_store

        cfg = state(ctx).config
        with open_store(cfg, check=False) as store:
            revision = store.init()
        Console(stderr=True).print(f"store ready at revision {revision}: {store.engine.url.render_as_string()}",
                                   highlight=False)
