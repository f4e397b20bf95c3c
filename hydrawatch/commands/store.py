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
        if cfg.cluster.enabled:  # the job queue's tables beside the store's (also made by the first worker)
            from hydrawatch.commands.worker import cluster_module

            cluster_module("init").apply_schema(cfg.storage.url)
        Console(stderr=True).print(f"store ready at revision {revision}: {store.engine.url.render_as_string()}",
                                   highlight=False)
